// Random event streams: the runner's checkEvent and the machine's guards must agree exactly, and a
// refused event must leave the snapshot untouched (THREATS C.45).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KeyEvent, SigningEvent } from '../src/index.js';
import { checkEvent } from '../src/index.js';
import {
  assertCommitmentsSingleUse,
  hex,
  keyInput,
  NAMES,
  numRuns,
  signingInput,
  startKey,
  startSigning,
} from './helpers.js';

const who = fc.constantFrom(...NAMES.slice(0, 5), 'mallory');
const at = fc.integer({ min: 1_000, max: 20_000 });
const commitment = fc.integer({ min: 1, max: 12 }).map((n) => hex(n));
const sessionId = fc.integer({ min: 1, max: 4 }).map((n) => `cer-1/s${n}`);

const signingEvent: fc.Arbitrary<SigningEvent> = fc.oneof(
  fc.record({ type: fc.constant('sign.approve' as const), member: who, commitment, at }),
  fc.record({ type: fc.constant('sign.approve' as const), member: who, commitment, at }),
  fc.record({
    type: fc.constant('sign.reject' as const),
    member: who,
    reason: fc.constant('no'),
    at,
  }),
  fc.record({ type: fc.constant('sign.recommit' as const), member: who, commitment, at }),
  fc.record({
    type: fc.constant('round2.share' as const),
    member: who,
    sessionId,
    valid: fc.boolean(),
    at,
  }),
  fc.record({
    type: fc.constant('round2.share' as const),
    member: who,
    sessionId,
    valid: fc.constant(true),
    at,
  }),
  fc.record({
    type: fc.constant('session.aggregated' as const),
    sessionId,
    ok: fc.boolean(),
    culprits: fc.subarray([...NAMES.slice(0, 5)], { maxLength: 2 }),
    at,
  }),
  fc.record({ type: fc.constant('deadline.reached' as const), at }),
  fc.record({ type: fc.constant('member.revoked' as const), member: who, at }),
  fc.record({
    type: fc.constant('outbox.flushed' as const),
    upTo: fc.integer({ min: 0, max: 30 }),
  }),
);

const keyEvent: fc.Arbitrary<KeyEvent> = fc.oneof(
  fc.record({ type: fc.constant('dkg.round1' as const), member: who, packageHash: commitment, at }),
  fc.record({
    type: fc.constant('dkg.round2' as const),
    member: who,
    recipients: fc.subarray([...NAMES.slice(0, 4)], { minLength: 1 }),
    at,
  }),
  fc.record({
    type: fc.constant('dkg.confirm' as const),
    member: who,
    transcriptHash: fc.constantFrom(hex(1), hex(2)),
    groupPublicKey: fc.constant(hex(3)),
    at,
  }),
  fc.record({
    type: fc.constant('dkg.fail' as const),
    member: who,
    culprit: who,
    reason: fc.constant('bad'),
    at,
  }),
  fc.record({ type: fc.constant('deadline.reached' as const), at }),
  fc.record({
    type: fc.constant('outbox.flushed' as const),
    upTo: fc.integer({ min: 0, max: 30 }),
  }),
);

describe('checkEvent agrees with the machine on random event streams', () => {
  it('signing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.array(signingEvent, { maxLength: 60 }),
        (t, events) => {
          const actor = startSigning(signingInput(5, t, { approvalDeadline: 15_000 }));
          for (const e of events) {
            const before = actor.getSnapshot();
            const verdict = checkEvent(before, e);
            expect(verdict.ok).toBe(before.can(e));
            actor.send(e);
            if (!verdict.ok) expect(actor.getSnapshot()).toBe(before);
            else expect(actor.getSnapshot()).not.toBe(before);
            assertCommitmentsSingleUse(actor);
            if (actor.getSnapshot().status !== 'active') break;
          }
        },
      ),
      { numRuns: numRuns() },
    );
  });

  it('key', () => {
    fc.assert(
      fc.property(fc.array(keyEvent, { maxLength: 60 }), (events) => {
        const actor = startKey(keyInput(4, 3));
        for (const e of events) {
          const before = actor.getSnapshot();
          const verdict = checkEvent(before, e);
          expect(verdict.ok).toBe(before.can(e));
          actor.send(e);
          if (!verdict.ok) expect(actor.getSnapshot()).toBe(before);
          else expect(actor.getSnapshot()).not.toBe(before);
          if (actor.getSnapshot().status !== 'active') break;
        }
      }),
      { numRuns: numRuns() },
    );
  });
});
