/**
 * Files the CLI writes for people to publish (signatures, key files, proofs, manifests, bundles)
 * and secret files it reads (the admin key, the auditor token).
 *
 * Outputs often go to shared directories (a release `dist/`, a CI workspace), where a co-user may
 * have planted a symlink, and a crash half-way must not leave a truncated signature behind. So a
 * file is written to a temporary file in the same directory (opened exclusively, never through a
 * link), synced, and only then put in place: linked to a new name (which fails if anything is
 * there, even a file that appeared since the check), or renamed over an old file where the command
 * replaces files. A symlink at the target is refused either way.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CliError } from './errors.js';

export interface OutputOptions {
  /** Replace an existing regular file. Without it an existing target is OUTPUT_EXISTS. */
  readonly overwrite?: boolean;
  /** Mode 0600 (a secret) instead of 0644 (public: signatures, keys, proofs). */
  readonly secret?: boolean;
  /** What to do instead when the target exists (OUTPUT_EXISTS): the end of its message. */
  readonly instead?: string;
}

const DEFAULT_INSTEAD = 'remove it or give another path';

/**
 * Refuses a target that is a symlink (always), that is not a regular file (always) or that exists
 * (unless `overwrite`). Run over every target of a command before the first write, so a refusal
 * leaves nothing half-written.
 */
export async function checkOutput(path: string, o: OutputOptions = {}): Promise<void> {
  const st = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (st === undefined) return;
  if (st.isSymbolicLink()) {
    throw new CliError(
      'OUTPUT_IS_SYMLINK',
      `${path} is a symbolic link; refusing to write through it (someone who can write the directory may have planted it): remove it, or choose another directory`,
      2,
    );
  }
  if (!st.isFile()) {
    throw new CliError(
      'OUTPUT_EXISTS',
      `${path} exists and is not a regular file; refusing to replace it: ${o.instead ?? DEFAULT_INSTEAD}`,
      2,
    );
  }
  if (o.overwrite !== true) {
    throw new CliError(
      'OUTPUT_EXISTS',
      `${path} exists already; nothing was replaced: ${o.instead ?? DEFAULT_INSTEAD}`,
      2,
    );
  }
}

/** OUTPUT_COLLISION when two outputs of one command have the same path (nothing is written). */
export function checkDistinctOutputs(paths: readonly string[]): void {
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) {
      throw new CliError(
        'OUTPUT_COLLISION',
        `two files of this command would both be written to ${p} (an artifact is named like another output file); nothing was written: request the release again with the artifact renamed`,
      );
    }
    seen.add(p);
  }
}

/** Link errors that mean "this file system has no hard links", not "the target is there". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** Writes `bytes` to `path` atomically and safely (see the top of this file). */
export async function writeOutput(
  path: string,
  bytes: Uint8Array | string,
  o: OutputOptions = {},
): Promise<void> {
  await checkOutput(path, o);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx': O_CREAT|O_EXCL, which also refuses a symlink at the temporary name.
    const fh = await open(tmp, 'wx', o.secret === true ? 0o600 : 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await place(tmp, path, o);
    await syncDir(dir);
  } catch (e) {
    throw namingPath(e, path);
  } finally {
    // After a link the temporary name is left over; after a rename (or a failure) it is gone or
    // must go.
    await unlink(tmp).catch(() => undefined);
  }
}

/** Puts the written temporary file at `path`: a new name (link) or over the old file (rename). */
async function place(tmp: string, path: string, o: OutputOptions): Promise<void> {
  if (o.overwrite === true) {
    // rename replaces a symlink planted since the check itself, never the file it points at.
    await checkOutput(path, o);
    await rename(tmp, path);
    return;
  }
  try {
    await link(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') await checkOutput(path, o); // says what is there now
    if (code === undefined || !NO_HARD_LINKS.has(code)) throw e;
    await checkOutput(path, o);
    await rename(tmp, path);
  }
}

/** The new directory entry survives a crash too (best effort: not every platform can). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows and some file systems cannot open or sync a directory: the file is complete anyway.
  }
}

/** A write error (ENOSPC from a write has no path) names the file the user asked for. */
function namingPath(e: unknown, path: string): unknown {
  if (e instanceof Error && 'code' in e && !(e instanceof CliError)) {
    return Object.assign(e, { path });
  }
  return e;
}

/**
 * A secret file (the admin key, the auditor token): refused while group or others can read or
 * write it, as the keystore refuses a loose share (KEYSTORE_LOOSE_PERMISSIONS). The mode is checked
 * on the opened file, so the file read is the file checked.
 */
export async function readSecretFile(path: string, what: string, exitCode = 1): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
      throw new CliError(
        'KEYSTORE_LOOSE_PERMISSIONS',
        `${what} ${path} is readable by other users (mode ${mode}); run \`chmod 600 ${path}\` and try again`,
        exitCode,
      );
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
