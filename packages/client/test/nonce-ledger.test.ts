import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientError, NONCE_LEDGER_FILENAME, openNonceLedger } from '../src/index.js';
import type { ClientErrorCode, NonceLedger } from '../src/index.js';

const NUM_RUNS = Number(process.env['FC_NUM_RUNS'] ?? 50);
const PKG_A = 'aa'.repeat(32);
const PKG_B = 'bb'.repeat(32);
const SHARE = 'cd'.repeat(32);

let dir: string;
let path: string;
const open: NonceLedger[] = [];

async function openLedger(): Promise<NonceLedger> {
  const l = await openNonceLedger(path);
  open.push(l);
  return l;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conclave-ledger-'));
  path = join(dir, NONCE_LEDGER_FILENAME);
});
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(fn: () => Promise<unknown>): Promise<ClientErrorCode> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError);
    return (err as ClientError).code;
  }
  throw new Error('expected a ClientError, but the call succeeded');
}

/** A ledger file with: epoch 1 → reserve c1, consume c1 (A), share c1, reserve c2. */
async function populated(): Promise<Buffer> {
  const l = await openLedger();
  await l.reserve('c1', { ceremonyId: 'cer_1' });
  await l.consume('c1', PKG_A);
  await l.recordShare('c1', PKG_A, SHARE);
  await l.reserve('c2', { ceremonyId: 'cer_2' });
  await l.close();
  return readFile(path);
}

describe('nonce ledger', () => {
  it('consumes a reserved commitment once (firstUse), then replays idempotently', async () => {
    const l = await openLedger();
    expect(l.epoch).toBe(1);
    await l.reserve('c1', { ceremonyId: 'cer_1' });
    expect(l.get('c1')).toMatchObject({
      state: 'reserved',
      epoch: 1,
      meta: { ceremonyId: 'cer_1' },
    });
    expect(await l.consume('c1', PKG_A)).toEqual({ firstUse: true });
    // Replay before the share was recorded: no share to return, so the caller must refuse.
    expect(await l.consume('c1', PKG_A)).toEqual({ firstUse: false });
    await l.recordShare('c1', PKG_A, SHARE);
    await l.recordShare('c1', PKG_A, SHARE); // idempotent
    expect(await l.consume('c1', PKG_A)).toEqual({ firstUse: false, cachedShare: SHARE });
    expect(l.get('c1')).toMatchObject({ state: 'consumed', packageHash: PKG_A, share: SHARE });
  });

  it('creates the file with mode 0600, one fsynced line per record, and a lock while open', async () => {
    const l = await openLedger();
    await l.reserve('c1');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual([
      NONCE_LEDGER_FILENAME,
      `${NONCE_LEDGER_FILENAME}.lock`,
    ]);
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3); // header, epoch, reserve
    for (const line of lines) expect(line).toMatch(/^[0-9a-f]{64} \{.*\}$/);
    await l.close();
    expect(await readdir(dir)).toEqual([NONCE_LEDGER_FILENAME]);
  });

  it('serialises concurrent consumes: exactly one first use', async () => {
    const l = await openLedger();
    await l.reserve('c1');
    const results = await Promise.allSettled([
      l.consume('c1', PKG_A),
      l.consume('c1', PKG_B),
      l.consume('c1', PKG_A),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: { firstUse: true } });
    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: { code: 'NONCE_ALREADY_USED' },
    });
    expect(results[2]).toEqual({ status: 'fulfilled', value: { firstUse: false } });
  });

  it('survives reopen: consumed stays consumed, the cached share is kept, the epoch advances', async () => {
    await populated();
    const l = await openLedger();
    expect(l.epoch).toBe(2);
    expect(l.recovery).toBeNull();
    expect(await l.consume('c1', PKG_A)).toEqual({ firstUse: false, cachedShare: SHARE });
    expect(await codeOf(() => l.consume('c1', PKG_B))).toBe('NONCE_ALREADY_USED');
    await l.close();
    const again = await openLedger();
    expect(again.epoch).toBe(3);
  });

  describe('reserveAll (a bundle: one commitment per job, one write and one fsync)', () => {
    const lineCount = async () => (await readFile(path, 'utf8')).split('\n').length - 1;

    it('reserves every commitment of the bundle, one chained line each, kept across a reopen', async () => {
      const l = await openLedger();
      const before = await lineCount();
      await l.reserveAll(['b1', 'b2', 'b3'], { ceremonyId: 'cer_1' });
      expect(await lineCount()).toBe(before + 3);
      for (const id of ['b1', 'b2', 'b3']) {
        expect(l.get(id)).toMatchObject({
          state: 'reserved',
          epoch: 1,
          meta: { ceremonyId: 'cer_1' },
        });
      }
      await l.close();
      const again = await openLedger(); // every line's chain verifies
      expect(again.recovery).toBeNull();
      for (const id of ['b1', 'b2', 'b3']) {
        expect(again.get(id)).toMatchObject({ state: 'reserved', epoch: 1 });
      }
      // Known after the restart, so never reused: but their nonces are gone (A.5).
      expect(await codeOf(() => again.consume('b2', PKG_A))).toBe('NONCE_STALE_EPOCH');
    });

    it('refuses the whole bundle when one commitment repeats, and writes nothing', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      const before = await lineCount();
      expect(await codeOf(() => l.reserveAll(['n1', 'c1']))).toBe('NONCE_ALREADY_RESERVED');
      expect(await codeOf(() => l.reserveAll(['n2', 'n2']))).toBe('NONCE_ALREADY_RESERVED');
      await l.consume('c1', PKG_A);
      const afterConsume = await lineCount();
      expect(afterConsume).toBe(before + 1);
      expect(await codeOf(() => l.reserveAll(['n3', 'c1']))).toBe('NONCE_ALREADY_USED');
      expect(await lineCount()).toBe(afterConsume);
      for (const id of ['n1', 'n2', 'n3']) expect(l.get(id)).toBeUndefined();
    });

    it('refuses an empty bundle and one larger than MAX_JOBS (INVALID_ARGUMENT)', async () => {
      const l = await openLedger();
      expect(await codeOf(() => l.reserveAll([]))).toBe('INVALID_ARGUMENT');
      const many = Array.from({ length: 65 }, (_, i) => `m${i}`);
      expect(await codeOf(() => l.reserveAll(many))).toBe('INVALID_ARGUMENT');
      expect(l.get('m0')).toBeUndefined();
    });

    it('a bundle torn mid-write keeps its complete lines and drops the torn one', async () => {
      const l = await openLedger();
      await l.reserveAll(['t1', 't2', 't3']);
      await l.close();
      const full = await readFile(path);
      await writeFile(path, full.subarray(0, full.length - 20)); // the crash tore the last line
      const again = await openLedger();
      expect(again.recovery).toMatchObject({ completedLastLine: false });
      expect(again.get('t1')).toMatchObject({ state: 'reserved' });
      expect(again.get('t2')).toMatchObject({ state: 'reserved' });
      expect(again.get('t3')).toBeUndefined();
    });
  });

  it('recovers a torn last line by dropping it', async () => {
    const good = await populated();
    await appendFile(path, good.subarray(0, 40)); // half of some record, no newline
    const l = await openLedger();
    expect(l.recovery).toEqual({ droppedBytes: 40, completedLastLine: false });
    expect(l.get('c1')).toMatchObject({ state: 'consumed', share: SHARE });
    await l.reserve('c3');
    await l.close();
    const again = await openLedger();
    expect(again.recovery).toBeNull();
    expect(again.get('c3')).toMatchObject({ state: 'reserved', epoch: 2 });
  });

  it('recovers a consume torn mid-write: the commitment is unconsumed, but stale after the restart', async () => {
    const l = await openLedger();
    await l.reserve('c1');
    const before = await readFile(path);
    await l.consume('c1', PKG_A);
    await l.close();
    const after = await readFile(path);
    // Simulate a crash during the consume's write: only part of the line reached the disk.
    await writeFile(path, after.subarray(0, before.length + 50));
    const r = await openLedger();
    expect(r.recovery?.droppedBytes).toBe(50);
    expect(r.get('c1')).toMatchObject({ state: 'reserved' });
    // The nonce died with the process: the member must commit again.
    expect(await codeOf(() => r.consume('c1', PKG_B))).toBe('NONCE_STALE_EPOCH');
  });

  it('keeps a complete last record that only lacks its newline', async () => {
    const good = await populated();
    await writeFile(path, good.subarray(0, good.length - 1));
    const l = await openLedger();
    expect(l.recovery).toEqual({ droppedBytes: 0, completedLastLine: true });
    expect(l.get('c2')).toMatchObject({ state: 'reserved' });
  });

  describe('rejection rules', () => {
    it('reject consuming a commitment used for a different package (NONCE_ALREADY_USED)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      await l.consume('c1', PKG_A);
      expect(await codeOf(() => l.consume('c1', PKG_B))).toBe('NONCE_ALREADY_USED');
      expect(await codeOf(() => l.recordShare('c1', PKG_B, SHARE))).toBe('NONCE_ALREADY_USED');
      expect(l.get('c1')?.packageHash).toBe(PKG_A);
    });

    it('reject a different share for the same package (NONCE_ALREADY_USED)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      await l.consume('c1', PKG_A);
      await l.recordShare('c1', PKG_A, SHARE);
      expect(await codeOf(() => l.recordShare('c1', PKG_A, 'ef'.repeat(32)))).toBe(
        'NONCE_ALREADY_USED',
      );
    });

    it('reject re-reserving a consumed commitment (NONCE_ALREADY_USED)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      await l.consume('c1', PKG_A);
      expect(await codeOf(() => l.reserve('c1'))).toBe('NONCE_ALREADY_USED');
    });

    it('reject a commitment that was never reserved (NONCE_UNKNOWN)', async () => {
      const l = await openLedger();
      expect(await codeOf(() => l.consume('nope', PKG_A))).toBe('NONCE_UNKNOWN');
      expect(await codeOf(() => l.recordShare('nope', PKG_A, SHARE))).toBe('NONCE_UNKNOWN');
      expect(await codeOf(() => l.abandon('nope'))).toBe('NONCE_UNKNOWN');
    });

    it('reject a duplicate reservation (NONCE_ALREADY_RESERVED)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      expect(await codeOf(() => l.reserve('c1'))).toBe('NONCE_ALREADY_RESERVED');
    });

    it('reject an abandoned commitment (NONCE_ABANDONED)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      await l.abandon('c1', 'ceremony aborted');
      expect(await codeOf(() => l.consume('c1', PKG_A))).toBe('NONCE_ABANDONED');
    });

    it('reject a reservation from an earlier epoch (NONCE_STALE_EPOCH)', async () => {
      await populated();
      const l = await openLedger();
      expect(await codeOf(() => l.consume('c2', PKG_B))).toBe('NONCE_STALE_EPOCH');
    });

    it('reject recording a share before consume (NONCE_NOT_CONSUMED)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      expect(await codeOf(() => l.recordShare('c1', PKG_A, SHARE))).toBe('NONCE_NOT_CONSUMED');
    });

    it('reject a second open while the ledger is in use (NONCE_LEDGER_LOCKED)', async () => {
      await openLedger();
      expect(await codeOf(() => openNonceLedger(path))).toBe('NONCE_LEDGER_LOCKED');
    });

    it('take over a stale lock left by a dead process', async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      expect(dead).toBeGreaterThan(0);
      await writeFile(`${path}.lock`, `${dead}\n`);
      const l = await openLedger();
      expect(l.epoch).toBe(1);
    });

    it('let exactly one of many concurrent opens take over a stale lock (the others: NONCE_LEDGER_LOCKED)', async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      for (let round = 0; round < 20; round++) {
        await writeFile(`${path}.lock`, `${dead}\n`);
        const tries = await Promise.allSettled(
          Array.from({ length: 8 }, () => openNonceLedger(path)),
        );
        const won = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
        const lost = tries.flatMap((t) =>
          t.status === 'rejected' ? [(t.reason as ClientError).code] : [],
        );
        expect({ round, won: won.length }).toEqual({ round, won: 1 });
        expect(new Set(lost)).toEqual(new Set(['NONCE_LEDGER_LOCKED']));
        for (const l of won) await l.close();
        // Released whole: no lock, no takeover guard, no temporary file left behind.
        expect(await readdir(dir)).toEqual([NONCE_LEDGER_FILENAME]);
      }
    });

    it('let exactly one of many concurrent opens of a free ledger win (none sees a half-written lock as stale)', async () => {
      for (let round = 0; round < 20; round++) {
        const tries = await Promise.allSettled(
          Array.from({ length: 8 }, () => openNonceLedger(path)),
        );
        const won = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
        expect({ round, won: won.length }).toEqual({ round, won: 1 });
        for (const l of won) await l.close();
      }
      // Every open that won started one epoch, and the ledger still reads whole.
      const l = await openLedger();
      expect(l.epoch).toBe(21);
    });

    it('reject use after close (NONCE_LEDGER_CLOSED)', async () => {
      const l = await openLedger();
      await l.close();
      expect(await codeOf(() => l.reserve('c1'))).toBe('NONCE_LEDGER_CLOSED');
    });

    it('reject malformed arguments (INVALID_ARGUMENT)', async () => {
      const l = await openLedger();
      await l.reserve('c1');
      const cases: Array<() => Promise<unknown>> = [
        () => l.reserve(''),
        () => l.reserve('has space'),
        () => l.reserve('c9', { bad: Number.NaN } as Record<string, unknown>),
        () => l.consume('c1', 'AA'.repeat(32)),
        () => l.consume('c1', 'aa'),
        () => l.recordShare('c1', PKG_A, 'xyz'),
      ];
      for (const c of cases) expect(await codeOf(async () => c())).toBe('INVALID_ARGUMENT');
      expect(l.get('c1')?.state).toBe('reserved');
    });

    it('reject a ledger damaged in the middle (NONCE_LEDGER_CORRUPT)', async () => {
      const good = await populated();
      const lines = good.toString('utf8').split('\n');
      // Flip one character inside the consume record (line 4).
      const line = lines[3] ?? '';
      lines[3] = line.replace('"consume"', '"consumf"');
      await writeFile(path, lines.join('\n'));
      expect(await codeOf(() => openNonceLedger(path))).toBe('NONCE_LEDGER_CORRUPT');
      // The failed open released its lock.
      expect(await readdir(dir)).toEqual([NONCE_LEDGER_FILENAME]);
    });

    it('reject a ledger with a line removed from the middle (NONCE_LEDGER_CORRUPT, hash chain)', async () => {
      const good = await populated();
      const lines = good.toString('utf8').split('\n');
      lines.splice(3, 1); // drop the consume of c1: it must not be silently forgotten
      await writeFile(path, lines.join('\n'));
      expect(await codeOf(() => openNonceLedger(path))).toBe('NONCE_LEDGER_CORRUPT');
    });

    it('reject a last record followed by junk instead of its newline (NONCE_LEDGER_CORRUPT)', async () => {
      const good = Buffer.from(await populated());
      good[good.length - 1] = 0x20;
      await writeFile(path, good);
      expect(await codeOf(() => openNonceLedger(path))).toBe('NONCE_LEDGER_CORRUPT');
    });

    it('reject any single changed byte in a ledger (property: NONCE_LEDGER_CORRUPT)', async () => {
      const good = await populated();
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: good.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          async (pos, mask) => {
            const bad = Buffer.from(good);
            bad[pos] = (bad[pos] ?? 0) ^ mask;
            await writeFile(path, bad);
            expect(await codeOf(() => openNonceLedger(path))).toBe('NONCE_LEDGER_CORRUPT');
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });
  });
});
