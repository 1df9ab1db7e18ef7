// verifyCeremonyBundle against an adversarial coordinator: it holds the coordinator, admin and log
// keys (it may re-seal its own envelopes, re-log and re-sign checkpoints), but not the members'.
// Each rejection rule asserts its check's code.
import { describe, expect, it } from 'vitest';
import { verifyCeremonyBundle } from '../src/index.js';
import { signingBundle } from './bundle-fixture.js';

const failed = (r: ReturnType<typeof verifyCeremonyBundle>) =>
  r.checks.filter((c) => !c.ok).map((c) => c.code);
const bodyOf = (b: { transcript: unknown[] }, i: number) =>
  (b.transcript[i] as { envelope: { body: Record<string, unknown> } }).envelope.body;
const indexOf = (b: { transcript: unknown[] }, type: string) =>
  b.transcript.findIndex((_, i) => bodyOf(b, i)['type'] === type);

describe('verifyCeremonyBundle', () => {
  it('accepts an honest bundle under pinned keys', () => {
    const c = signingBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.approvers).toEqual(['alice', 'bob', 'carol']);
  });

  it('sign.complete naming signers other than the session that made the signature: INCORRECT_NUMBER_OF_COMMITMENTS', () => {
    const c = signingBundle();
    const i = indexOf(c.bundle, 'sign.complete');
    // alice and bob signed; the coordinator's record credits (or blames) carol instead of bob.
    c.reseal(i, { ...bodyOf(c.bundle, i), signers: ['alice', 'carol'] });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([
      'INCORRECT_NUMBER_OF_COMMITMENTS',
    ]);
  });
});
