// A member home on a file system without hard links (FAT, exFAT, some FUSE and SMB mounts: link(2)
// fails with EPERM or ENOTSUP) still locks: the lock is created with O_EXCL and written after.
import type * as FsPromises from 'node:fs/promises';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireFileLock } from '../src/file-lock.js';
import { NONCE_LEDGER_FILENAME, openNonceLedger } from '../src/index.js';

const linkErrors = vi.hoisted(() => ({ code: 'EPERM', calls: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  return {
    ...real,
    link: async () => {
      linkErrors.calls += 1;
      throw Object.assign(new Error(`${linkErrors.code}: operation not permitted, link`), {
        code: linkErrors.code,
      });
    },
  };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conclave-nolink-'));
  linkErrors.calls = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file lock without hard links', () => {
  for (const code of ['EPERM', 'ENOTSUP']) {
    it(`locks with O_EXCL when link() fails with ${code}, one holder at a time`, async () => {
      linkErrors.code = code;
      const lockPath = join(dir, 'x.lock');
      const opts = { busyCode: 'NONCE_LEDGER_LOCKED', what: 'the test file' } as const;
      const lock = await acquireFileLock(lockPath, opts);
      expect(linkErrors.calls).toBeGreaterThan(0);
      expect(await readFile(lockPath, 'utf8')).toMatch(new RegExp(`^${process.pid}\\n`));
      await expect(acquireFileLock(lockPath, opts)).rejects.toMatchObject({
        code: 'NONCE_LEDGER_LOCKED',
      });
      await lock.release();
      expect(await readdir(dir)).toEqual([]);
    });
  }

  it('opens the nonce ledger there', async () => {
    const path = join(dir, NONCE_LEDGER_FILENAME);
    const ledger = await openNonceLedger(path);
    await ledger.reserve('c1');
    await ledger.close();
    expect(await readdir(dir)).toEqual([NONCE_LEDGER_FILENAME]);
  });
});
