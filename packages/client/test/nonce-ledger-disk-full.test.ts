// The nonce ledger on a really full disk (a tmpfs of its own: test/support.ts mountTmpfs), THREATS
// A.1–A.4 and D.49: a write that fails refuses the call (nothing it guards may leave), and once
// space is freed the same ledger object recovers in place, in a new epoch, so no nonce made before
// the failure can sign. The file stays valid throughout: it opens cleanly afterwards.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fillFs, mountTmpfs, type TestFs } from '../../../test/support.js';
import { openNonceLedger } from '../src/nonce-ledger.js';

const PKG = 'ab'.repeat(32);
const mounts: TestFs[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) m.close();
});

describe('nonce ledger on a full disk', () => {
  it('refuses a write the disk cannot take, then recovers in process, in a new epoch where older commitments are stale', async () => {
    const fs = await mountTmpfs('1m');
    mounts.push(fs);
    const path = join(fs.view, 'nonce-ledger.jsonl');
    const ledger = await openNonceLedger(path);
    const epoch = ledger.epoch;
    await ledger.reserve('c1', { ceremonyId: 'cer_1' });
    const filler = join(fs.view, 'filler');
    expect(fillFs(filler)).toBeGreaterThan(0);

    // The ledger's last page may still hold a few records; the first that needs a new page is
    // refused with the reason, and nothing of it counts.
    let failed: string | undefined;
    for (let i = 0; i < 200 && failed === undefined; i++) {
      await ledger.reserve(`p${i}`).catch((e: unknown) => {
        expect(e).toMatchObject({
          code: 'NONCE_LEDGER_IO_ERROR',
          message: expect.stringMatching(/\(ENOSPC\)/),
        });
        failed = `p${i}`;
      });
    }
    expect(failed).toBeDefined();
    expect(ledger.get(failed!)).toBeUndefined();
    expect(ledger.get('c1')?.state).toBe('reserved');

    unlinkSync(filler);
    await ledger.reserve('c3', { ceremonyId: 'cer_3' });
    expect(ledger.epoch).toBe(epoch + 1);
    // c1's nonce may still be in this process's memory: it cannot sign after the failure.
    await expect(ledger.consume('c1', PKG)).rejects.toMatchObject({ code: 'NONCE_STALE_EPOCH' });
    await expect(ledger.consume('c3', PKG)).resolves.toMatchObject({ firstUse: true });
    await ledger.close();

    // What is on disk is a valid ledger: no torn line left in the middle.
    const again = await openNonceLedger(path);
    try {
      expect(again.recovery).toBeNull();
      expect(again.get('c1')?.state).toBe('reserved');
      expect(again.get('c3')?.state).toBe('consumed');
      expect(again.get(failed!)).toBeUndefined();
      expect(again.epoch).toBe(epoch + 2);
    } finally {
      await again.close();
    }
  });
});
