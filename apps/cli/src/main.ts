/** `conclave` command-line entry. Every command has --help and --json. */
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { runDemo } from './demo.js';
import { CliError } from './errors.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
};

export function buildProgram(): Command {
  const program = new Command('conclave')
    .description(
      'Threshold signing for software releases: a quorum of team leads signs, ordinary tools verify.',
    )
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('demo')
    .description(
      'Make a t-of-n group key by DKG and sign and verify a sample release. For now every member runs in this process; the coordinator version comes with the ceremony issue.',
    )
    .option(
      '--out <dir>',
      'where to write the artifact, signature and public key',
      join(process.env.INIT_CWD ?? process.cwd(), '.conclave-demo'),
    )
    .option('--threshold <t>', 'approvals needed', int, 3)
    .option('--signers <n>', 'members holding a share', int, 5)
    .option('--json', 'print one JSON document on stdout', false)
    .action((opts: { out: string; threshold: number; signers: number; json: boolean }) => {
      const result = runDemo({
        ...opts,
        progress: (line) => {
          if (!opts.json) process.stdout.write(line + '\n');
          else process.stderr.write(line + '\n');
        },
      });
      if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else {
        process.stdout.write(
          `\n${result.ok ? 'OK' : 'FAILED'}: ${result.threshold}-of-${result.signers.length} signature on ${result.artifact}\n` +
            `  group key (Ed25519): ${result.groupPublicKey}\n  public key: ${result.publicKeys.pem}\n  signature:  ${result.signatures.raw}\n` +
            `  verify yourself: openssl pkeyutl -verify -pubin -inkey ${result.publicKeys.pem} -rawin -in ${result.artifact} -sigfile ${result.signatures.raw}\n` +
            `  (mode: in-process — all members ran in this process; timings ms: ${JSON.stringify(result.timingsMs)})\n`,
        );
      }
      if (!result.ok) process.exitCode = 1;
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (e) {
    const code = e instanceof CliError ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    if (json) process.stdout.write(JSON.stringify({ ok: false, error: { code, message } }) + '\n');
    else process.stderr.write(`conclave: ${code}: ${message}\n`);
    process.exitCode = e instanceof CliError ? e.exitCode : 2;
  }
}

if (process.argv[1] && /main\.ts$|conclave(\.mjs)?$/.test(process.argv[1])) {
  await main(process.argv.slice(2));
}
