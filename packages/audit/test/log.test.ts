// verifyLog: the whole log against its signed checkpoints, and a tamper corpus — every mutation,
// deletion, reordering and truncation of the leaves or checkpoints is detected (counted).
import { generateIdentityKey } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  encodeLeaf,
  leafFor,
  transcriptDigest,
  verifyLog,
  type TranscriptEntry,
} from '../src/index.js';
import { MemLog } from './helpers.js';

function checkpointsEvery(log: MemLog, step: number): string[] {
  const out: string[] = [];
  for (let s = step; s <= log.leaves.length; s += step) out.push(log.checkpoint(s));
  if (log.leaves.length % step !== 0) out.push(log.checkpoint());
  return out;
}

const failed = (r: ReturnType<typeof verifyLog>): string[] =>
  r.checks.filter((c) => !c.ok).map((c) => c.code ?? '');

describe('verifyLog', () => {
  it('accepts an honest log with checkpoints at many sizes', () => {
    const log = new MemLog().grow(37);
    const r = verifyLog({
      leaves: log.leaves,
      checkpoints: checkpointsEvery(log, 5),
      logKey: log.verifier,
    });
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.size).toBe(37);
    expect(r.root).toBe(Buffer.from(log.root()).toString('base64'));
  });

  it('accepts --from a trusted earlier checkpoint, and catches a log that does not extend it', () => {
    const log = new MemLog().grow(20);
    const from = log.checkpoint(12);
    expect(
      verifyLog({ leaves: log.leaves, checkpoints: [log.checkpoint()], logKey: log.verifier, from })
        .ok,
    ).toBe(true);
    const forked = new MemLog(log.origin, log.key).grow(11);
    forked.appendLeaf(500);
    forked.grow(8);
    const r = verifyLog({
      leaves: forked.leaves,
      checkpoints: [forked.checkpoint()],
      logKey: forked.verifier,
      from,
    });
    expect(failed(r)).toEqual(['LOG_FORK_DETECTED']);
    const short = verifyLog({
      leaves: log.leaves.slice(0, 10),
      checkpoints: [log.checkpoint(10)],
      logKey: log.verifier,
      from,
    });
    expect(failed(short)).toEqual(['LOG_ROLLBACK']);
  });

  it('fails without any checkpoint signed by the log key: NOTE_UNVERIFIED', () => {
    const log = new MemLog().grow(3);
    const other = new MemLog(log.origin, generateIdentityKey()).grow(3);
    expect(
      failed(verifyLog({ leaves: log.leaves, checkpoints: [], logKey: log.verifier })),
    ).toEqual(['NOTE_UNVERIFIED']);
    expect(
      failed(
        verifyLog({ leaves: log.leaves, checkpoints: [other.checkpoint()], logKey: log.verifier }),
      ),
    ).toContain('NOTE_UNVERIFIED');
  });

  it('fails when leaves were appended after the newest checkpoint: LOG_SIZE_MISMATCH', () => {
    const log = new MemLog().grow(6);
    const cps = [log.checkpoint()];
    log.grow(2);
    expect(
      failed(verifyLog({ leaves: log.leaves, checkpoints: cps, logKey: log.verifier })),
    ).toEqual(['LOG_SIZE_MISMATCH']);
  });

  it('recomputes transcript digests and names the ceremony whose transcript changed', () => {
    const entries = (n: number, tag: string): TranscriptEntry[] =>
      Array.from({ length: n }, (_, i) => ({
        idx: i,
        direction: 'in' as const,
        sender: 'alice',
        recipient: null,
        at: 1000 + i,
        envelope: {
          type: 'envelope' as const,
          ceremonyId: `cer-${tag}-0000`,
          round: '4',
          seq: i,
          sender: 'alice',
          body: { type: 'ceremony.cancel' as const, reason: `r${i}` },
          signature: '00'.repeat(64),
        },
      }));
    const transcripts = new Map([
      ['cer-a-0000', entries(3, 'a')],
      ['cer-b-0000', entries(2, 'b')],
    ]);
    const log = new MemLog();
    for (const [id, t] of transcripts) {
      log.leaves.push(
        encodeLeaf(
          leafFor({
            ceremonyId: id,
            kind: 'sign',
            group: 'g',
            outcome: 'completed',
            at: 1,
            transcript: t,
          }),
        ),
      );
    }
    const base = { leaves: log.leaves, checkpoints: [log.checkpoint()], logKey: log.verifier };
    expect(
      verifyLog({ ...base, transcriptOf: (leaf) => transcripts.get(leaf.ceremonyId) }).ok,
    ).toBe(true);
    const changed = transcripts
      .get('cer-b-0000')!
      .map((e, i) => (i === 1 ? { ...e, at: e.at + 1 } : e));
    expect(transcriptDigest(changed)).not.toBe(transcriptDigest(transcripts.get('cer-b-0000')!));
    const r = verifyLog({
      ...base,
      transcriptOf: (leaf) =>
        leaf.ceremonyId === 'cer-b-0000' ? changed : transcripts.get(leaf.ceremonyId),
    });
    expect(failed(r)).toEqual(['LOG_LEAF_MISMATCH']);
    expect(r.badCeremonies).toEqual(['cer-b-0000']);
    expect(r.badLeaves).toEqual([1]);
  });

  // z.ts: a transcript the coordinator serves is hostile input like any other. Each entry is parsed
  // with the transcript entry schema; one that does not parse fails its leaf, and nothing throws
  // (a throw reached `conclave log verify` as INTERNAL).
  it('a malformed transcript entry fails its leaf (LOG_LEAF_MISMATCH) instead of throwing', () => {
    const log = new MemLog().grow(1);
    // A leaf covering one entry: the entry count matches, so the entry itself must be read.
    log.leaves.push(
      encodeLeaf({
        format: 'conclave-log-leaf/v1',
        ceremonyId: 'c_aaaaaaaaaaaaaaaa',
        kind: 'sign',
        group: 'release',
        outcome: 'completed',
        entries: 1,
        transcript: '00'.repeat(32),
        at: 1,
      }),
    );
    const base = { leaves: log.leaves, checkpoints: [log.checkpoint()], logKey: log.verifier };
    for (const bad of [null, { idx: 0 }, 'entry', { idx: 0, envelope: null }]) {
      const r = verifyLog({
        ...base,
        transcriptOf: (leaf) => (leaf.ceremonyId === 'c_aaaaaaaaaaaaaaaa' ? [bad] : []),
      });
      expect(failed(r)).toEqual(['LOG_LEAF_MISMATCH']);
      expect(r.badCeremonies).toEqual(['c_aaaaaaaaaaaaaaaa']);
      expect(r.badLeaves).toEqual([1]);
      expect(r.checks.find((c) => !c.ok)?.detail).toMatch(/not transcript entries/);
    }
  });

  it('tamper corpus: every mutation, deletion, swap and truncation of leaves is detected', () => {
    const log = new MemLog().grow(24);
    const checkpoints = checkpointsEvery(log, 4);
    const verify = (leaves: Uint8Array[]) =>
      verifyLog({ leaves, checkpoints, logKey: log.verifier });
    expect(verify(log.leaves).ok).toBe(true);
    let cases = 0;
    let detected = 0;
    const tryCase = (leaves: Uint8Array[]) => {
      cases += 1;
      if (!verify(leaves).ok) detected += 1;
    };
    const n = log.leaves.length;
    for (let i = 0; i < n; i++) {
      // Mutate one byte of leaf i (three positions), delete it, swap it with its neighbour.
      const leaf = log.leaves[i] as Uint8Array;
      for (const pos of [0, Math.floor(leaf.length / 2), leaf.length - 1]) {
        const copy = log.leaves.map((l) => l);
        const m = Uint8Array.from(leaf);
        m[pos] = (m[pos] as number) ^ 0x01;
        copy[i] = m;
        tryCase(copy);
      }
      tryCase(log.leaves.filter((_, j) => j !== i));
      if (i + 1 < n) {
        const swapped = log.leaves.map((l) => l);
        [swapped[i], swapped[i + 1]] = [swapped[i + 1] as Uint8Array, swapped[i] as Uint8Array];
        tryCase(swapped);
      }
      // Truncate to i leaves, and rewrite leaf i keeping it well formed (a "re-hashed" leaf).
      tryCase(log.leaves.slice(0, i));
      const rewritten = log.leaves.map((l) => l);
      rewritten[i] = encodeLeaf(
        leafFor({
          ceremonyId: `forged-${i}-000`,
          kind: 'sign',
          group: 'release',
          outcome: 'completed',
          at: 1,
          transcript: [],
        }),
      );
      tryCase(rewritten);
    }
    expect(cases).toBe(n * 3 + n + (n - 1) + n + n);
    expect(detected).toBe(cases);
  });

  it('verifies 10k leaves quickly (timing printed)', () => {
    const log = new MemLog().grow(10_000);
    const checkpoints = [log.checkpoint(5_000), log.checkpoint()];
    const t0 = performance.now();
    const r = verifyLog({ leaves: log.leaves, checkpoints, logKey: log.verifier });
    const ms = performance.now() - t0;
    expect(r.ok).toBe(true);
    console.log(`verifyLog: 10000 leaves, 2 checkpoints in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5_000);
  });
});
