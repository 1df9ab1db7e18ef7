import { spawnSync } from 'node:child_process';
import {
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireFileLock, type FileLockOptions } from '../src/file-lock.js';
import { ClientError } from '../src/index.js';

let dir: string;
let lockPath: string;
const opts: FileLockOptions = { busyCode: 'NONCE_LEDGER_LOCKED', what: 'the test file' };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conclave-lock-'));
  lockPath = join(dir, 'thing.lock');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A pid that existed a moment ago and no longer does. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  expect(pid).toBeGreaterThan(0);
  return pid;
}

async function refusal(p: Promise<unknown>): Promise<ClientError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

describe('file lock', () => {
  it('appears whole (pid, token, host) and release removes it', async () => {
    const lock = await acquireFileLock(lockPath, opts);
    const [pid, token, host, end] = (await readFile(lockPath, 'utf8')).split('\n');
    expect({ pid, host, end }).toEqual({ pid: String(process.pid), host: hostname(), end: '' });
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses while a live process holds it, naming the process and the file', async () => {
    await acquireFileLock(lockPath, opts);
    const err = await refusal(acquireFileLock(lockPath, opts));
    expect(err.code).toBe('NONCE_LEDGER_LOCKED');
    expect(err.message).toContain(`process ${process.pid} (this process)`);
    expect(err.message).toContain(lockPath);
  });

  it('refuses, instead of spinning for ever, when the lock path is something that is no lock (a dangling link)', async () => {
    await symlink(join(dir, 'nowhere'), lockPath);
    const err = await refusal(acquireFileLock(lockPath, opts));
    expect(err.code).toBe('NONCE_LEDGER_LOCKED');
    expect(err.message).toContain('cannot be read as a lock');
    expect(err.message).toContain(lockPath);
    // With a wait, it pauses between attempts until the deadline, then refuses the same way.
    const waited = await refusal(acquireFileLock(lockPath, { ...opts, waitMs: 200 }));
    expect(waited.message).toContain('cannot be read as a lock');
    // Once it is deleted, as the message says, the lock is taken.
    await unlink(lockPath);
    await (await acquireFileLock(lockPath, opts)).release();
  });

  it('waits up to waitMs for a live holder, then takes it once it is released', async () => {
    const held = await acquireFileLock(lockPath, opts);
    const waiting = acquireFileLock(lockPath, { ...opts, waitMs: 5_000 });
    await new Promise((r) => setTimeout(r, 50));
    await held.release();
    const lock = await waiting;
    expect(await readFile(lockPath, 'utf8')).toMatch(new RegExp(`^${process.pid}\\n`));
    await lock.release();
  });

  it('never takes over a lock taken on another host (a home on a network file system), and names the host', async () => {
    await writeFile(lockPath, `${deadPid()}\n00000000-0000-4000-8000-000000000000\nbuild-7\n`);
    const err = await refusal(acquireFileLock(lockPath, opts));
    expect(err.code).toBe('NONCE_LEDGER_LOCKED');
    expect(err.message).toContain('on build-7');
    expect(err.message).toContain(`delete ${lockPath}`);
    expect(await readdir(dir)).toEqual(['thing.lock']);
  });

  it('takes over the lock of a dead process', async () => {
    await writeFile(lockPath, `${deadPid()}\n`);
    const lock = await acquireFileLock(lockPath, opts);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over a lock naming no process (empty, garbage) once it is old, not while it may be being written', async () => {
    for (const content of ['', 'not a pid\n']) {
      await writeFile(lockPath, content);
      const err = await refusal(acquireFileLock(lockPath, opts));
      expect(err.code).toBe('NONCE_LEDGER_LOCKED');
      expect(err.message).toContain('being locked by another process');
      const old = new Date(Date.now() - 60_000);
      await utimes(lockPath, old, old);
      const lock = await acquireFileLock(lockPath, opts);
      await lock.release();
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it("takes over a lock naming this process's pid with a token it does not hold (a container restarted under the same pid)", async () => {
    await writeFile(lockPath, `${process.pid}\n00000000-0000-4000-8000-000000000000\n`);
    const lock = await acquireFileLock(lockPath, opts);
    expect(await readFile(lockPath, 'utf8')).not.toContain('00000000-0000');
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses when a takeover guard was left by a process that died, naming both files', async () => {
    await writeFile(lockPath, `${deadPid()}\n`);
    await writeFile(`${lockPath}.takeover`, `${deadPid()}\n`);
    const err = await refusal(acquireFileLock(lockPath, opts));
    expect(err.code).toBe('NONCE_LEDGER_LOCKED');
    expect(err.message).toContain(`${lockPath}.takeover`);
    expect(err.message).toContain('delete both files');
    // It changed nothing: the stale lock and the guard are still there for a person to look at.
    expect((await readdir(dir)).sort()).toEqual(['thing.lock', 'thing.lock.takeover']);
  });

  it('waits for a live takeover in progress instead of removing the lock under it', async () => {
    await writeFile(lockPath, `${deadPid()}\n`);
    // pid 1 always exists: another live process is taking the lock over.
    await writeFile(`${lockPath}.takeover`, '1\n');
    const err = await refusal(acquireFileLock(lockPath, opts));
    expect(err.code).toBe('NONCE_LEDGER_LOCKED');
    expect(err.message).toContain('being taken over');
    expect(err.message).toContain(`delete ${lockPath}.takeover`);
    expect((await readdir(dir)).sort()).toEqual(['thing.lock', 'thing.lock.takeover']);
    // Once the guard goes, the takeover goes through.
    await unlink(`${lockPath}.takeover`);
    const lock = await acquireFileLock(lockPath, opts);
    await lock.release();
  });

  it('release leaves alone a lock that is no longer its own', async () => {
    const lock = await acquireFileLock(lockPath, opts);
    await unlink(lockPath); // a person deleted it by hand…
    const other = await acquireFileLock(lockPath, opts); // …and another holder took it
    const theirs = await readFile(lockPath, 'utf8');
    await lock.release();
    expect(await readFile(lockPath, 'utf8')).toBe(theirs);
    await other.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('lets exactly one of many concurrent takeovers of a dead lock win', async () => {
    const dead = deadPid();
    for (let round = 0; round < 30; round++) {
      await writeFile(lockPath, `${dead}\n`);
      const tries = await Promise.allSettled(
        Array.from({ length: 8 }, () => acquireFileLock(lockPath, opts)),
      );
      const won = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
      expect({ round, won: won.length }).toEqual({ round, won: 1 });
      for (const t of tries) {
        if (t.status === 'rejected')
          expect((t.reason as ClientError).code).toBe('NONCE_LEDGER_LOCKED');
      }
      for (const l of won) await l.release();
      expect(await readdir(dir)).toEqual([]);
    }
  });

  it('refuses with the io code when the directory is gone', async () => {
    const err = await refusal(
      acquireFileLock(join(dir, 'missing', 'x.lock'), { ...opts, ioCode: 'NONCE_LEDGER_IO_ERROR' }),
    );
    expect(err.code).toBe('NONCE_LEDGER_IO_ERROR');
    expect(err.message).toContain('ENOENT');
  });
});
