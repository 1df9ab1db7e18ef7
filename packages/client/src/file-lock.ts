// One process at a time per member home: the lock files of the nonce ledger and of the policy pins.
//
// A lock is a file holding its owner's pid and a random token. It appears whole or not at all: the
// content is written to a private file first and link(2)ed into place, which fails with EEXIST while
// anyone holds the lock (on a file system without hard links, FAT or some FUSE mounts, it is
// created with O_EXCL and written after). The lock of a process that died (its pid no longer
// exists) is taken over, but only under a second lock, the takeover guard, and only after reading
// it again under that guard: without the guard, two processes that both saw the same dead owner
// could each remove the lock, the second removing the one the first had just made, and both would
// go on as its owner (two writers appending to one nonce ledger). Nobody else removes a lock whose
// owner is dead, so what the guard's holder read is still there when it removes it.
//
// Who is dead: a pid that does not exist on this host; this process's own pid with a token it does
// not hold (a container restarted its agent under the same pid); a lock naming no pid (empty: an
// older client, or the O_EXCL fallback, between creating and writing it) once it is FRESH_MS old.
// A lock taken on another host (a home on a network file system) is never judged from here: its
// pid means nothing on this one.
//
// A process that dies inside the guard (a few file operations) leaves the guard behind; the next
// takeover then refuses with the files to delete, instead of guessing.
import { randomUUID } from 'node:crypto';
import { link, open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ClientError, errnoCode, type ClientErrorCode } from './errors.js';
import { pidAlive } from './fs-durable.js';

/** A lock naming no pid is being written for this long, then it is junk. */
const FRESH_MS = 5_000;

/** Attempts right after a lock went away, before the attempts pause and watch the deadline. */
const QUICK_RETRIES = 8;

/** The tokens of the locks this process holds or is placing. */
const held = new Set<string>();

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

/** The content of `path`, or undefined if there is no such file. */
async function contentOf(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Who holds the lock file at `path`: undefined if there is none. */
async function holderOf(
  path: string,
): Promise<{ live: boolean; pid?: number; host?: string } | undefined> {
  const content = await contentOf(path);
  if (content === undefined) return undefined;
  const pid = Number.parseInt(content, 10);
  const host = content.split('\n')[2];
  if (host !== undefined && host !== '' && host !== hostname()) return { live: true, pid, host };
  if (!(Number.isSafeInteger(pid) && pid > 0)) {
    let age: number;
    try {
      age = Date.now() - (await stat(path)).mtimeMs;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    return { live: age < FRESH_MS };
  }
  if (pid === process.pid) return { live: held.has(content), pid };
  return { live: pidAlive(pid), pid };
}

/** Puts `token` at `target` unless something is there; false if something is. */
async function place(mine: string, token: string, target: string): Promise<boolean> {
  try {
    await link(mine, target);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
  }
  // No hard links here: O_EXCL, then the content (a reader meanwhile sees an empty, fresh lock).
  let fh;
  try {
    fh = await open(target, 'wx', 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(token);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
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
  token: string,
  opts: FileLockOptions,
): Promise<'retry' | 'busy'> {
  const guard = `${lockPath}.takeover`;
  if (!(await place(mine, token, guard))) {
    const owner = await holderOf(guard);
    if (owner === undefined) return 'retry';
    if (owner.live) return 'busy';
    throw new ClientError(
      opts.busyCode,
      `${opts.what} is locked by a process that died (${lockPath}), and another that died while ` +
        `taking that lock over left ${guard} behind; if no conclave process runs for this home, ` +
        `delete both files and try again`,
    );
  }
  try {
    const owner = await holderOf(lockPath);
    if (owner !== undefined && !owner.live) await unlink(lockPath);
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
  const token = `${process.pid}\n${randomUUID()}\n${hostname()}\n`;
  const mine = `${lockPath}.${process.pid}.${randomUUID()}`;
  const deadline = Date.now() + (opts.waitMs ?? 0);
  // Held from before it can appear at lockPath: a concurrent call in this process that reads it
  // must see a live owner, not this pid with an unknown token.
  held.add(token);
  let acquired = false;
  try {
    await writeFile(mine, token, { mode: 0o600, flag: 'wx' });
    // Tries again at once after a lock went away (released between place and read, or a dead
    // owner's just removed), a few times; past that something is there that is no lock and never
    // goes (a dangling symbolic link: link(2) says EEXIST, reading it ENOENT), and spinning on it
    // would hold the event loop for ever.
    let quick = 0;
    for (;;) {
      if (await place(mine, token, lockPath)) break;
      const owner = await holderOf(lockPath);
      const gone =
        owner === undefined ||
        (!owner.live && (await takeOver(lockPath, mine, token, opts)) === 'retry');
      if (gone && ++quick <= QUICK_RETRIES) continue;
      if (Date.now() >= deadline) {
        if (owner === undefined) {
          throw new ClientError(
            opts.busyCode,
            `${opts.what}: ${lockPath} is there but cannot be read as a lock (a dangling link?); ` +
              `if no conclave process runs for this home, delete it`,
          );
        }
        throw new ClientError(
          opts.busyCode,
          !owner.live
            ? `${opts.what} is being taken over from a process that died (${lockPath}); try again ` +
                `(if this persists and no conclave process runs for this home, delete ${lockPath}.takeover)`
            : owner.pid === undefined
              ? `${opts.what} is being locked by another process (${lockPath}); try again`
              : `${opts.what} is in use by process ${owner.pid}${owner.host !== undefined ? ` on ${owner.host}` : owner.pid === process.pid ? ' (this process)' : ''}; ` +
                `stop it first (only one client may use a member home at a time); if no such process runs, delete ${lockPath}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 20)));
    }
    acquired = true;
  } catch (err) {
    throw ioError(opts, lockPath, err);
  } finally {
    if (!acquired) held.delete(token);
    await unlink(mine).catch(() => undefined);
  }
  return {
    path: lockPath,
    async release(): Promise<void> {
      // Only our own: if someone deleted it by hand and another process took it, it is theirs.
      if ((await contentOf(lockPath).catch(() => undefined)) === token) {
        await unlink(lockPath).catch(() => undefined);
      }
      held.delete(token);
    },
  };
}
