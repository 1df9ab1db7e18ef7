import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Behaviour } from './helpers.js';
import { NAMES, numRuns, simulate } from './helpers.js';

const BEHAVIOURS: readonly Behaviour[] = [
  'honest',
  'timeout',
  'invalid',
  'declines',
  'aggCulprit',
  'absent',
  'rejects',
];

const scenario = fc.integer({ min: 2, max: 10 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    t: fc.integer({ min: 2, max: n }),
    behaviours: fc.array(fc.constantFrom(...BEHAVIOURS), { minLength: n, maxLength: n }),
    order: fc.shuffledSubarray(
      Array.from({ length: n }, (_, i) => i),
      { minLength: n, maxLength: n },
    ),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
  }),
);

describe('signing ceremony: ROAST properties', () => {
  it('completes iff ≥ t honest responsive approvers; never reuses a commitment; ≤ n−t+1 sessions', () => {
    fc.assert(
      fc.property(scenario, ({ n, t, behaviours, order, picks }) => {
        let k = 0;
        const pick = (len: number): number => (picks[k++ % picks.length] ?? 0) % len;
        const { actor } = simulate({ n, t, behaviours, order, pick });
        const snap = actor.getSnapshot();
        const ctx = snap.context;
        const honest = NAMES.slice(0, n).filter((_, i) => behaviours[i] === 'honest');

        // completion iff at least t honest responsive approvers
        expect(snap.value === 'completed').toBe(honest.length >= t);
        if (snap.output?.status === 'completed') {
          expect(snap.output.signers).toHaveLength(t);
          for (const s of snap.output.signers) expect(honest).toContain(s);
        } else {
          expect(['aborted', 'rejected', 'expired']).toContain(snap.value);
          const silent = behaviours.some((b) => b === 'absent' || b === 'rejects');
          if (!silent) {
            expect(snap.output).toMatchObject({
              status: 'aborted',
              code: 'INSUFFICIENT_HONEST_SIGNERS',
            });
          }
        }

        // a commitment is spent at most once, across every session
        const used = ctx.sessions.flatMap((s) => Object.values(s.commitments));
        expect(new Set(used).size).toBe(used.length);
        for (const s of ctx.sessions) expect(s.participants).toHaveLength(t);

        // at most n−t+1 sessions; honest members are never blamed, nor those who declined
        expect(ctx.sessions.length).toBeLessThanOrEqual(n - t + 1);
        for (const c of ctx.culprits) expect(honest).not.toContain(c);
        const declined = NAMES.slice(0, n).filter((_, i) => behaviours[i] === 'declines');
        for (const c of ctx.culprits) expect(declined).not.toContain(c);
        for (const x of ctx.excluded.filter((e) => e.reason === 'declined')) {
          expect(declined).toContain(x.member);
          expect(x.detail).toBe('SIGNING_REFUSED: not under my policy');
        }
      }),
      { numRuns: numRuns() },
    );
  });
});
