// One process at a time per member home: the lock files of the nonce ledger and of the policy pins.
//
// A lock is a file holding its owner's pid and a random token. It appears whole or not at all: the
// content is written to a private file first and link(2)ed into place, which fails with EEXIST while
// anyone holds the lock. The lock of a process that died (its pid no longer exists) is taken over,
// but only under a second lock, the takeover guard, and only after reading it again under that
// guard: without the guard, two processes that both saw the same dead owner could each remove the
// lock, the second removing the one the first had just made, and both would go on as its owner
// (two writers appending to one nonce ledger). Nobody else removes a lock whose owner is dead, so
// what the guard's holder read is still there when it removes it.
//
// A process that dies inside the guard (a few file operations) leaves the guard behind; the next
// takeover then refuses with the file to delete, instead of guessing.
import { randomUUID } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { ClientError, errnoCode, type ClientErrorCode } from './errors.js';
import { pidAlive } from './fs-durable.js';

export interface FileLockOptions {
  /** Wait this long for a live owner to let go; 0 (the default) refuses at once. */
  readonly waitMs?: number;
  /** The code of the refusal when a live process holds the lock. */
  readonly busyCode: ClientErrorCode;
  /** The code of a failed file operation; without it the system's error is thrown as it is. */
  readonly ioCode?: ClientErrorCode;
  /** What the lock protects, for messages ("nonce ledger /home/x/nonce-ledger.jsonl"). */
  readonly what: string;
}

/** A held lock. release() removes it, if it is still this holder's. */
export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

/** The pid a lock file names, or undefined if it names none (empty, garbage). */
function ownerOf(content: string): number | undefined {
  const pid = Number.parseInt(content, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** The content of `path`, or undefined if there is no such file. */
async function contentOf(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Link `source` to `target`; false if `target` exists. */
async function linkIfAbsent(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
}

function ioError(opts: FileLockOptions, lockPath: string, err: unknown): unknown {
  if (err instanceof ClientError || opts.ioCode === undefined) return err;
  return new ClientError(
    opts.ioCode,
    `could not lock ${opts.what} (${lockPath}: ${errnoCode(err) ?? 'unknown error'})`,
    { cause: err },
  );
}

/**
 * Removes the lock at `lockPath` if, read again under the takeover guard, its owner is dead.
 * Returns 'retry' to try for the lock again, or 'busy' if another process is taking it over now.
 */
async function takeOver(
  lockPath: string,
  mine: string,
  opts: FileLockOptions,
): Promise<'retry' | 'busy'> {
  const guard = `${lockPath}.takeover`;
  if (!(await linkIfAbsent(mine, guard))) {
    const content = await contentOf(guard);
    if (content === undefined) return 'retry';
    const owner = ownerOf(content);
    if (owner !== undefined && pidAlive(owner)) return 'busy';
    throw new ClientError(
      opts.busyCode,
      `${opts.what} is locked by a process that died (${lockPath}), and another that died while ` +
        `taking that lock over left ${guard} behind; if no conclave process runs for this home, ` +
        `delete both files and try again`,
    );
  }
  try {
    const content = await contentOf(lockPath);
    if (content === undefined) return 'retry';
    const owner = ownerOf(content);
    if (owner === undefined || !pidAlive(owner)) await unlink(lockPath);
    return 'retry';
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/**
 * Takes the lock at `lockPath` for this process: refuses (or waits up to `waitMs`) while a live
 * process holds it, and takes over the lock of a process that died.
 */
export async function acquireFileLock(lockPath: string, opts: FileLockOptions): Promise<FileLock> {
  const token = `${process.pid}\n${randomUUID()}\n`;
  const mine = `${lockPath}.${process.pid}.${randomUUID()}`;
  const deadline = Date.now() + (opts.waitMs ?? 0);
  try {
    await writeFile(mine, token, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw ioError(opts, lockPath, err);
  }
  try {
    for (;;) {
      if (await linkIfAbsent(mine, lockPath)) break;
      const content = await contentOf(lockPath);
      if (content === undefined) continue; // released between the two calls
      const owner = ownerOf(content);
      const live = owner !== undefined && pidAlive(owner);
      if (!live && (await takeOver(lockPath, mine, opts)) === 'retry') continue;
      if (Date.now() >= deadline) {
        throw new ClientError(
          opts.busyCode,
          live
            ? `${opts.what} is in use by process ${owner}${owner === process.pid ? ' (this process)' : ''}; ` +
                `stop it first (only one client may use a member home at a time); if no such process runs, delete ${lockPath}`
            : `${opts.what} is being taken over from a process that died (${lockPath}); try again`,
        );
      }
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 20)));
    }
  } catch (err) {
    throw ioError(opts, lockPath, err);
  } finally {
    await unlink(mine).catch(() => undefined);
  }
  return {
    path: lockPath,
    async release(): Promise<void> {
      // Only our own: if someone deleted it by hand and another process took it, it is theirs.
      if ((await contentOf(lockPath).catch(() => undefined)) === token) {
        await unlink(lockPath).catch(() => undefined);
      }
    },
  };
}
