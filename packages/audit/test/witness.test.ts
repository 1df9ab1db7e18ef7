// The member-side witness: cosign a checkpoint only if the log proves it extends the last one seen.
import { generateIdentityKey } from '@conclave/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LogMisbehaviour,
  cosignatureVerifier,
  openNote,
  parseNote,
  witnessCheckpoint,
  type WitnessInput,
} from '../src/index.js';
import { MemLog, numRuns } from './helpers.js';

const witness = { name: 'conclave.member/alice', key: generateIdentityKey() };
const NOW = 1_750_000_000_000;

function run(log: MemLog, input: Partial<WitnessInput> & { next: string }) {
  return witnessCheckpoint({
    consistencyProof: [],
    coordinatorKey: log.verifier,
    witness,
    now: NOW,
    ...input,
  });
}

describe('witnessCheckpoint', () => {
  it('cosigns the first checkpoint it sees (trust on first use)', () => {
    const log = new MemLog().grow(3);
    const r = run(log, { next: log.checkpoint() });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.cosignature.timestamp).toBe(Math.floor(NOW / 1000));
    const cosigned = log.checkpoint() + r.value.line;
    const opened = openNote(cosigned, [
      log.verifier,
      cosignatureVerifier(witness.name, witness.key.publicKey),
    ]);
    expect(opened.verified).toHaveLength(2);
  });

  it('cosigns a checkpoint that provably extends the last one (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 }), (a, b) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        const log = new MemLog().grow(n);
        const r = run(log, {
          lastSeen: log.checkpoint(m),
          next: log.checkpoint(n),
          consistencyProof: log.consistency(m, n),
        });
        expect(r.ok).toBe(true);
      }),
      { numRuns },
    );
  });

  it('catches a rewritten history: LOG_FORK_DETECTED with both checkpoints as evidence (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 30 }),
        fc.nat(),
        (m, extra, pick) => {
          const log = new MemLog().grow(m + extra);
          const seen = log.checkpoint(m);
          // The coordinator rewrites one of the first m leaves and re-signs.
          const i = pick % m;
          const leaf = Uint8Array.from(log.leaves[i] as Uint8Array);
          leaf[leaf.length - 2] = (leaf[leaf.length - 2] as number) ^ 1;
          log.leaves[i] = leaf;
          const r = run(log, {
            lastSeen: seen,
            next: log.checkpoint(),
            consistencyProof: log.consistency(m),
          });
          expect(r.ok).toBe(false);
          if (r.ok) return;
          expect(r.error.code).toBe('LOG_FORK_DETECTED');
          expect(r.error).toBeInstanceOf(LogMisbehaviour);
          expect((r.error as LogMisbehaviour).lastSeen).toBe(parseNote(seen).text);
        },
      ),
      { numRuns },
    );
  });

  it('refuses a smaller tree than the one seen: LOG_ROLLBACK', () => {
    const log = new MemLog().grow(8);
    const r = run(log, { lastSeen: log.checkpoint(8), next: log.checkpoint(5) });
    expect(r.ok || r.error.code).toBe('LOG_ROLLBACK');
  });

  it('refuses two different trees of one size: LOG_FORK_DETECTED', () => {
    const a = new MemLog().grow(4);
    const b = new MemLog(a.origin, a.key).grow(3);
    b.appendLeaf(99);
    const r = run(a, { lastSeen: a.checkpoint(), next: b.checkpoint() });
    expect(r.ok || r.error.code).toBe('LOG_FORK_DETECTED');
  });

  it('refuses a missing or wrong consistency proof: LOG_FORK_DETECTED', () => {
    const log = new MemLog().grow(9);
    const seen = log.checkpoint(5);
    expect(run(log, { lastSeen: seen, next: log.checkpoint(), consistencyProof: [] }).ok).toBe(
      false,
    );
    const wrong = log.consistency(4);
    const r = run(log, { lastSeen: seen, next: log.checkpoint(), consistencyProof: wrong });
    expect(r.ok || r.error.code).toBe('LOG_FORK_DETECTED');
  });

  it('refuses a checkpoint of another log: CHECKPOINT_ORIGIN_MISMATCH', () => {
    const log = new MemLog().grow(2);
    const other = new MemLog('other.example/log').grow(2);
    const r = run(log, { lastSeen: other.checkpoint(), next: log.checkpoint() });
    expect(r.ok || r.error.code).toBe('CHECKPOINT_ORIGIN_MISMATCH');
  });

  it('refuses a checkpoint not signed by the pinned log key: NOTE_UNVERIFIED', () => {
    const log = new MemLog().grow(2);
    const impostor = new MemLog(log.origin).grow(2);
    const r = run(log, { next: impostor.checkpoint() });
    expect(r.ok || r.error.code).toBe('NOTE_UNVERIFIED');
  });

  it('refuses a forged checkpoint: NOTE_BAD_SIGNATURE', () => {
    const log = new MemLog().grow(2);
    const r = run(log, { next: log.checkpoint().replace('\n2\n', '\n3\n') });
    expect(r.ok || r.error.code).toBe('NOTE_BAD_SIGNATURE');
  });

  it('refuses garbage: NOTE_MALFORMED', () => {
    const log = new MemLog().grow(2);
    const r = run(log, { next: 'not a note' });
    expect(r.ok || r.error.code).toBe('NOTE_MALFORMED');
  });
});
