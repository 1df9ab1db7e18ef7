// Replacing a key share after a lifecycle ceremony (docs/lifecycle.md), atomically:
//   1. before confirming, the new share is written encrypted to shares/.<group>.key.pending-<ceremony>
//      (the live share is untouched; the coordinator may still abort);
//   2. once every confirmation verified, the old share is hard-linked to
//      shares/.<group>.key.epoch-<n>.bak, the pending file is renamed over shares/<group>.key, the
//      directory is fsynced, and only then is the backup removed.
// A crash leaves either the old share in place (pending file beside it) or the new one (backup
// beside it); `recoverShares` finishes or discards a pending swap by the ceremony's outcome.
// Dot-files are not shares: `Home.listShares` skips them. Two processes of one member (an agent
// beside `conclave keygen`) may both come to put one staged share in place: each step 2 runs under
// the group's swap lock (`.share-swap-<group>.lock` in the home), and finds a staged file the other
// already put in place done, not failed.
import { constants as fsConstants } from 'node:fs';
import { link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ed25519 as frost, type KeyPackage } from '@conclave/frost';
import { ClientError, errnoCode } from './errors.js';
import { acquireFileLock } from './file-lock.js';
import { ShareMetadataSchema, type Home, type ShareMetadata } from './home.js';
import { writeKeystore, type ScryptParams } from './keystore.js';

const PENDING = /^\.([a-z0-9][a-z0-9_-]{0,31})\.key\.pending-([A-Za-z0-9_-]{8,64})$/;

export function pendingSharePath(home: Home, group: string, ceremonyId: string): string {
  return join(dirname(home.sharePath(group)), `.${group}.key.pending-${ceremonyId}`);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsConstants.O_RDONLY).catch(() => undefined);
  try {
    await fh?.sync();
  } catch {
    // some filesystems cannot fsync a directory; rename is still atomic there
  } finally {
    await fh?.close();
  }
}

/** Step 1: the new share, encrypted, beside the live one. Returns the pending file's path. */
export async function stageShare(
  home: Home,
  keyPackage: KeyPackage,
  metadata: ShareMetadata,
  passphrase: string,
  kdfParams?: ScryptParams,
): Promise<string> {
  const checked = ShareMetadataSchema.parse(metadata);
  const path = pendingSharePath(home, checked.group, checked.ceremonyId);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const secret = frost.encode.bytes('KeyPackage', keyPackage);
  try {
    await writeKeystore(
      path,
      { secret, metadata: checked },
      passphrase,
      kdfParams === undefined
        ? { overwrite: true, ...home.keystoreWriteOptions }
        : { overwrite: true, kdfParams },
    );
  } finally {
    secret.fill(0);
  }
  return path;
}

/** How long step 2 waits for another process of this member putting a share of the group in place. */
const SWAP_LOCK_WAIT_MS = 30_000;

/** Runs `fn` holding the swap lock of `group` in `home` (one step 2 at a time per group). */
async function withSwapLock<T>(home: Home, group: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireFileLock(join(home.dir, `.share-swap-${group}.lock`), {
    busyCode: 'TIMEOUT',
    ioCode: 'KEYSTORE_IO_ERROR',
    waitMs: SWAP_LOCK_WAIT_MS,
    what: `the share of ${group} being put in place`,
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Whether the staged file at `pendingPath` is gone because another process of this member already
 * put it in place: the live share's header names its ceremony. (Read under the swap lock, after
 * that process let go; the header decides only this, not which share is trusted.) Someone who can
 * write the home could delete the staged file and edit that header, and so turn this swap's
 * KEYSTORE_IO_ERROR into a success that left the old share live; deleting the staged file alone
 * already loses the new share, so the header adds nothing to what such a writer can do.
 */
async function alreadyInPlace(home: Home, group: string, pendingPath: string): Promise<boolean> {
  try {
    await stat(pendingPath);
    return false;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') return false;
  }
  const ceremonyId = PENDING.exec(basename(pendingPath))?.[2];
  const live = await home.shareMetadata(group).catch(() => undefined);
  return ceremonyId !== undefined && live?.ceremonyId === ceremonyId;
}

/** Step 2: the pending share becomes the share; the old one is kept as a backup until it is. */
export function promoteShare(
  home: Home,
  group: string,
  pendingPath: string,
  previousEpoch: number | undefined,
): Promise<string> {
  return withSwapLock(home, group, async () => {
    if (await alreadyInPlace(home, group, pendingPath)) return home.sharePath(group);
    return swapIn(home, group, pendingPath, previousEpoch);
  });
}

async function swapIn(
  home: Home,
  group: string,
  pendingPath: string,
  previousEpoch: number | undefined,
): Promise<string> {
  const live = home.sharePath(group);
  const dir = dirname(live);
  const backup = join(dir, `.${group}.key.epoch-${previousEpoch ?? 'unknown'}.bak`);
  let backedUp = false;
  try {
    await unlink(backup).catch(() => undefined);
    try {
      await link(live, backup);
      backedUp = true;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err; // no old share: a new member, a lost share
    }
    await rename(pendingPath, live);
    await fsyncDir(dir);
  } catch (err) {
    throw new ClientError(
      'KEYSTORE_IO_ERROR',
      `could not replace the share of ${group} (${errnoCode(err) ?? 'unknown error'}); ` +
        `the old share is ${backedUp ? `kept at ${backup}` : `still at ${live}`}`,
      { cause: err },
    );
  }
  // The new share is in place: a backup that cannot be removed now is no failure of the swap
  // (recoverShares removes backups of epochs older than the live share's).
  if (backedUp) {
    await unlink(backup).catch(() => undefined);
    await fsyncDir(dir);
  }
  return live;
}

const BACKUP = /^\.([a-z0-9][a-z0-9_-]{0,31})\.key\.epoch-(\d{1,10})\.bak$/;

/**
 * Removes the backups a crash left between a swap's rename and its unlink: each
 * `.<group>.key.epoch-<n>.bak` whose group's live share (opened with the passphrase, so its epoch
 * is authenticated) is of a later epoch. Kept, the old share would outlive the refresh meant to
 * make it useless. A backup of an unknown epoch, or of a group whose share does not open, stays.
 */
async function removeStaleBackups(
  home: Home,
  passphrase: string,
  log?: (line: string) => void,
): Promise<void> {
  const dir = join(home.dir, 'shares');
  const names = await readdir(dir).catch(() => [] as string[]);
  const epochs = new Map<string, number | undefined>();
  for (const name of names) {
    const m = BACKUP.exec(name);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const group = m[1];
    if (!epochs.has(group)) epochs.set(group, await liveEpoch(home, group, passphrase));
    const live = epochs.get(group);
    if (live === undefined || live <= Number(m[2])) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    log?.(
      `${group}: removed the backup of its epoch-${m[2]} share (the share is at epoch ${live})`,
    );
  }
}

/**
 * A key ceremony's first share of `group` (a DKG): the staged file becomes the share, never over
 * one already there (KEYSTORE_EXISTS: a group this member holds a share of is not made again).
 */
export function promoteNewShare(home: Home, group: string, pendingPath: string): Promise<string> {
  return withSwapLock(home, group, async () => {
    if (await alreadyInPlace(home, group, pendingPath)) return home.sharePath(group);
    return linkIn(home, group, pendingPath);
  });
}

async function linkIn(home: Home, group: string, pendingPath: string): Promise<string> {
  const live = home.sharePath(group);
  try {
    await link(pendingPath, live);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' && (await sameFile(pendingPath, live))) {
      // A crash came between the link and the unlink: the share is in place already, and the
      // staged name is a second link to it, to be removed (or it would outlive a later refresh).
      await unlink(pendingPath).catch(() => undefined);
      await fsyncDir(dirname(live));
      return live;
    }
    if (errnoCode(err) === 'EEXIST') {
      throw new ClientError(
        'KEYSTORE_EXISTS',
        `a share of ${group} is already at ${live}; the new one stays at ${pendingPath}`,
      );
    }
    throw new ClientError(
      'KEYSTORE_IO_ERROR',
      `could not save the share of ${group} (${errnoCode(err) ?? 'unknown error'}); it stays at ${pendingPath}`,
      { cause: err },
    );
  }
  await fsyncDir(dirname(live));
  await unlink(pendingPath).catch(() => undefined);
  await fsyncDir(dirname(live));
  return live;
}

/** Whether two paths are links to one file (same device and inode). */
async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** An aborted ceremony: the staged share is deleted (it never became valid). */
export async function discardStagedShare(pendingPath: string): Promise<void> {
  await unlink(pendingPath).catch(() => undefined);
}

export interface PendingShare {
  readonly group: string;
  readonly ceremonyId: string;
  readonly path: string;
}

export async function listPendingShares(home: Home): Promise<PendingShare[]> {
  const dir = join(home.dir, 'shares');
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: PendingShare[] = [];
  for (const name of names) {
    const m = PENDING.exec(name);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      out.push({ group: m[1], ceremonyId: m[2], path: join(dir, name) });
    }
  }
  return out;
}

/**
 * The epoch of the live share being replaced, for its backup's name: read from the share opened
 * with the passphrase, never from its header, which anyone who can write the home could edit
 * (and so name, or unlink, another epoch's backup). No share: undefined. A share that does not
 * open is about to be replaced by the completed ceremony's: its backup is named `epoch-unknown`
 * and the reason logged.
 */
async function liveEpoch(
  home: Home,
  group: string,
  passphrase: string,
  log?: (line: string) => void,
): Promise<number | undefined> {
  if (!(await home.listShares()).includes(group)) return undefined;
  try {
    return (await home.loadShare(group, passphrase)).metadata.epoch ?? 0;
  } catch (err) {
    const code = err instanceof ClientError ? err.code : 'UNKNOWN';
    log?.(`${group}: the share being replaced did not open (${code}); its epoch is unknown`);
    return undefined;
  }
}

/**
 * Finishes swaps a crash interrupted: `outcome(ceremonyId, pending)` says how the ceremony ended
 * ('completed' promotes the staged share over the live one, 'created' makes a DKG's staged share
 * the first of its group, 'aborted' deletes it, 'open' leaves it). It must answer
 * from signed evidence only (lifecycle.ts provenOutcome: a sealed dkg.complete whose confirmations
 * verify, or a sealed dkg.abort), never from the unsigned ceremony.status: the staged file may be
 * this member's only share of the new epoch. `passphrase` opens the live share for its
 * (authenticated) epoch.
 */
export async function recoverShares(
  home: Home,
  passphrase: string,
  outcome: (
    ceremonyId: string,
    pending: PendingShare,
  ) => Promise<'completed' | 'created' | 'aborted' | 'open'>,
  log?: (line: string) => void,
): Promise<void> {
  for (const p of await listPendingShares(home)) {
    const state = await outcome(p.ceremonyId, p).catch(() => 'open' as const);
    if (state === 'created') {
      // A DKG's first share of the group: never over one already there (that one stays, and so
      // does the staged file, for a person to look at).
      try {
        await promoteNewShare(home, p.group, p.path);
        log?.(`${p.group}: saved the share of key ceremony ${p.ceremonyId} (it completed)`);
      } catch (err) {
        log?.(`${p.group}: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else if (state === 'completed') {
      // A swap that fails (the swap lock held by a process that never lets go, an I/O error)
      // leaves this staged share for the next recovery, and the others still get theirs.
      try {
        const previous = await liveEpoch(home, p.group, passphrase, log);
        await promoteShare(home, p.group, p.path, previous);
        log?.(`${p.group}: finished replacing the share (key ceremony ${p.ceremonyId} completed)`);
      } catch (err) {
        log?.(`${p.group}: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else if (state === 'aborted') {
      await discardStagedShare(p.path);
      log?.(`${p.group}: removed a share staged by aborted key ceremony ${p.ceremonyId}`);
    }
  }
  await removeStaleBackups(home, passphrase, log);
}
