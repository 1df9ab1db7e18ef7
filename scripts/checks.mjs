// The static checks `pnpm test` runs before the tests: typecheck, lint and format, at the same time
// (each is single-threaded; together they take about half as long on two cores). Each one's output
// is printed whole when it ends, under its name; the exit code is non-zero if any failed.
import { spawn } from 'node:child_process';

const CHECKS = [
  ['typecheck', 'tsc', ['-p', 'tsconfig.json', '--noEmit']],
  ['lint', 'eslint', ['--max-warnings', '0', '.']],
  ['format:check', 'prettier', ['--check', '.']],
];

function run([name, bin, args]) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(`node_modules/.bin/${bin}`, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const done = (code) => {
      const s = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `\n> ${name} (${bin} ${args.join(' ')}): ${code === 0 ? 'ok' : 'FAILED'} in ${s} s\n`,
      );
      if (out.trim() !== '') process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
      resolve(code === 0);
    };
    child.on('error', (e) => {
      out += `${e.message}\n`;
      done(1);
    });
    child.on('close', (code) => done(code ?? 1));
  });
}

const results = await Promise.all(CHECKS.map(run));
const failed = CHECKS.filter((_, i) => !results[i]).map(([name]) => name);
if (failed.length > 0) {
  process.stdout.write(
    `\nchecks failed: ${failed.join(', ')} (run pnpm run ${failed[0]} to see it alone)\n`,
  );
  process.exit(1);
}
