// Bundles the `conclave` CLI into apps/cli/dist with esbuild, so that a command starts in about
// 0.4 s instead of the 1.4 s it takes to load some 450 TypeScript and ESM files through tsx's module
// hooks (every member, agent and coordinator process, the demo and the end-to-end tests pay this at
// every start). Run by `pnpm install` (the root `prepare` script), `pnpm build` and the tests' global
// setup; bin/conclave.mjs runs the bundle only while every file it was built from is unchanged
// (inputs.json), and otherwise runs the sources through tsx, so an edit is never shadowed by an old
// bundle.
//
//   dist/conclave.mjs            src/main.ts and everything it imports, except better-sqlite3
//                                (native; loaded from node_modules as before)
//   dist/crypto-pool-worker.mjs  the coordinator's crypto worker thread (crypto-pool.ts loads the
//                                .mjs beside the bundle, the .ts beside itself when run from source)
//   dist/inputs.json             size and mtime of every input file, written last
//
// Files are written to a temporary directory and renamed into place, so processes starting while
// a build runs see either the old files or the new ones.
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(CLI_DIR, '../..');
const DIST = join(CLI_DIR, 'dist');
const OUTPUTS = ['conclave.mjs', 'crypto-pool-worker.mjs'];

/** Builds the bundle; returns the number of input files and the time taken. */
export async function buildCli({ quiet = false } = {}) {
  const started = performance.now();
  mkdirSync(DIST, { recursive: true });
  const tmp = mkdtempSync(join(CLI_DIR, '.dist-'));
  try {
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: {
        conclave: 'apps/cli/src/main.ts',
        'crypto-pool-worker': 'apps/coordinator/src/crypto-pool-worker.ts',
      },
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['better-sqlite3'],
      // CommonJS dependencies bundled into an ES module still call require().
      banner: {
        js: "import { createRequire as __conclaveRequire } from 'node:module'; const require = __conclaveRequire(import.meta.url);",
      },
      legalComments: 'linked',
      metafile: true,
      logLevel: 'warning',
    });
    const inputs = Object.keys(result.metafile.inputs)
      .sort()
      .map((path) => {
        const st = statSync(join(ROOT, path));
        return [path, st.size, st.mtimeMs];
      });
    writeFileSync(join(tmp, 'inputs.json'), `${JSON.stringify({ version: 1, inputs })}\n`);
    rmSync(join(DIST, 'inputs.json'), { force: true });
    for (const f of [...OUTPUTS, ...OUTPUTS.map((o) => `${o}.LEGAL.txt`)]) {
      try {
        renameSync(join(tmp, f), join(DIST, f));
      } catch (e) {
        if (e.code !== 'ENOENT' || !f.endsWith('.LEGAL.txt')) throw e;
      }
    }
    renameSync(join(tmp, 'inputs.json'), join(DIST, 'inputs.json'));
    const ms = Math.round(performance.now() - started);
    if (!quiet) {
      process.stderr.write(
        `conclave: bundled ${inputs.length} files into ${relative(ROOT, DIST)} in ${ms} ms\n`,
      );
    }
    return { inputs: inputs.length, ms };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildCli();
}
