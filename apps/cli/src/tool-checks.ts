/**
 * The demo's last step: every signature file `conclave fetch` wrote, checked twice — natively
 * (`verifySignature`, what `conclave verify` runs) and with the verifier its users already have,
 * when that tool is installed here. A missing tool is reported as skipped, never as passed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_FILES, SIGNIFY_SIG_FILE, verifySignature } from '@conclave/release';
import { childEnv } from './child-env.js';

export interface FormatCheck {
  readonly format: string;
  readonly file: string;
  /** What `conclave verify` says. */
  readonly native: boolean;
  readonly nativeDetail: string;
  /** The real tool's verdict, or 'skipped' when it is not installed here. */
  readonly tool: {
    readonly name: string;
    readonly ok: boolean | 'skipped';
    readonly detail: string;
  };
}

function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe', env: childEnv() });
    return true;
  } catch {
    return false;
  }
}

function run(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; input?: Buffer; env?: NodeJS.ProcessEnv },
): FormatCheck['tool'] {
  if (!installed(cmd)) return { name, ok: 'skipped', detail: `${cmd} is not installed` };
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    // The user's environment (GNUPGHOME, PATH), without the CLI's secrets.
    env: childEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  const out = `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`.trim().split('\n')[0];
  return { name, ok: r.status === 0, detail: out ?? '' };
}

/** The principal of the first allowed_signers line. */
function principalOf(dir: string): string {
  return readFileSync(join(dir, KEY_FILES['allowed-signers']), 'utf8').split(/\s/)[0] ?? '';
}

/**
 * Checks every signature in `formats` (format → files, from `conclave fetch --json`) over
 * `artifactName`, which must sit in `dir` beside them.
 */
export function checkFormats(
  dir: string,
  artifactName: string,
  formats: Readonly<Record<string, readonly string[]>>,
): FormatCheck[] {
  const artifact = readFileSync(join(dir, artifactName));
  const out: FormatCheck[] = [];
  for (const [format, files] of Object.entries(formats)) {
    for (const file of files) {
      const name = file.split('/').pop() ?? file;
      const keyFile =
        format === 'sshsig' || format === 'git'
          ? KEY_FILES['allowed-signers']
          : format === 'minisign'
            ? KEY_FILES.minisign
            : format === 'signify'
              ? KEY_FILES.signify
              : format === 'openpgp'
                ? KEY_FILES.openpgp
                : KEY_FILES.pem;
      const verdict = verifySignature({
        key: readFileSync(join(dir, keyFile)),
        signature: readFileSync(file),
        artifact,
        artifactName,
      });
      const native = verdict.ok;
      const nativeDetail = verdict.ok ? verdict.detail : `${verdict.code}: ${verdict.reason}`;
      let tool: FormatCheck['tool'];
      switch (format) {
        case 'sshsig':
          tool = run(
            'ssh-keygen -Y verify',
            'ssh-keygen',
            [
              '-Y',
              'verify',
              '-f',
              KEY_FILES['allowed-signers'],
              '-I',
              principalOf(dir),
              '-n',
              'file',
              '-s',
              name,
            ],
            { cwd: dir, input: artifact },
          );
          break;
        case 'minisign':
          tool = run(
            'minisign -V -H',
            'minisign',
            ['-V', '-H', '-p', KEY_FILES.minisign, '-m', artifactName, '-x', name],
            { cwd: dir },
          );
          break;
        case 'signify':
          tool = run(
            'signify-openbsd -C',
            'signify-openbsd',
            ['-C', '-p', KEY_FILES.signify, '-x', SIGNIFY_SIG_FILE, artifactName],
            { cwd: dir },
          );
          break;
        case 'openpgp':
          tool = run(
            'gpgv',
            'gpgv',
            ['--keyring', join(dir, KEY_FILES.openpgpBinary), name, artifactName],
            { cwd: dir },
          );
          break;
        case 'raw':
          tool = run(
            'openssl pkeyutl',
            'openssl',
            [
              'pkeyutl',
              '-verify',
              '-pubin',
              '-inkey',
              KEY_FILES.pem,
              '-rawin',
              '-in',
              artifactName,
              '-sigfile',
              name,
            ],
            { cwd: dir },
          );
          break;
        default:
          // DSSE, Sigstore bundles and JWS are read by libraries (@sigstore/verify, jose), not
          // command-line tools: the test suite runs those; here the native check stands alone.
          tool = {
            name: 'library (see test/interop)',
            ok: 'skipped',
            detail: 'no command-line verifier',
          };
      }
      out.push({ format, file, native, nativeDetail, tool });
    }
  }
  return out;
}
