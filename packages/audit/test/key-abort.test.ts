// Who an aborted DKG blamed, re-judged from its transcript against a coordinator that signs
// dkg.abort as it likes (it holds the coordinator key, not the members'): each honest ending
// verifies and says what its culprits rest on; each way of naming the wrong member fails
// OUTCOME_UNPROVEN; a key ceremony ends with one final envelope, last (UNEXPECTED_MESSAGE).
import { bytesToHex, generateIdentityKey } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { verifyCeremonyBundle, type TranscriptEntry } from '../src/index.js';
import {
  abortedKeyBundle,
  abortedLifecycleBundle,
  abortedRepairBundle,
  forgedPackage,
  lifecycleBundle,
  type AbortScript,
  type LifecycleAbortScript,
  type RepairAbortScript,
} from './bundle-fixture.js';

const verify = (script: AbortScript) => {
  const c = abortedKeyBundle(script);
  return verifyCeremonyBundle(c.bundle, c.trust);
};
const failed = (r: ReturnType<typeof verifyCeremonyBundle>) =>
  r.checks.filter((c) => !c.ok).map((c) => c.code);
const blame = (r: ReturnType<typeof verifyCeremonyBundle>) =>
  Object.fromEntries((r.keyCulprits ?? []).map((k) => [k.member, k.basis]));

const ALL = ['alice', 'bob', 'carol'];
const deadline = (culprits: string[]) => ({ code: 'DEADLINE_EXCEEDED', culprits });

describe('aborted key ceremonies: honest endings verify, with what each culprit rests on', () => {
  it('round 1 timed out: the member without a round-1 package', () => {
    const r = verify({ round1: ['alice', 'bob'], abort: deadline(['carol']) });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ carol: expect.stringMatching(/sent no round-1 message/) });
  });

  it('round 2 timed out: the dealer that owed boxes', () => {
    const r = verify({ round2: ['alice', 'bob'], abort: deadline(['carol']) });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ carol: expect.stringMatching(/round-2/) });
  });

  it('confirmation timed out: the member that did not confirm', () => {
    const r = verify({
      round2: ALL,
      confirms: { alice: 'relayed', bob: 'relayed' },
      abort: deadline(['carol']),
    });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ carol: expect.stringMatching(/round-3/) });
  });

  it('before protocol 4, a member named a dealer in its dkg.fail: named by it, not proven', () => {
    const r = verify({
      beforeProtocol4: true,
      round2: ALL,
      fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
      abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
    });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ carol: expect.stringMatching(/named by bob .*not proven/) });
  });

  it('a complaint whose evidence opens the box to a bad share: proven', () => {
    const r = verify({
      round2: ALL,
      badShare: { from: 'carol', to: 'bob' },
      fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE', evidence: 'genuine' },
      abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
    });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({
      carol: expect.stringMatching(/^proven by bob's signed dkg\.fail .*fails vss_verify/),
    });
  });

  it('a member that cannot attribute a failure names itself: nobody is blamed', () => {
    const r = verify({
      round2: ALL,
      fail: { from: 'bob', culprit: 'bob', code: 'INCONSISTENT_VIEW' },
      abort: { code: 'INCONSISTENT_VIEW', culprits: [] },
    });
    expect(failed(r)).toEqual([]);
    expect(r.keyCulprits).toEqual([]);
  });

  it('a member refusing the start in round 1 names itself: nobody is blamed, its reason is shown', () => {
    const r = verify({
      round1: ['alice'],
      fail: { from: 'bob', culprit: 'bob', code: 'INCONSISTENT_VIEW' },
      abort: { code: 'INCONSISTENT_VIEW', culprits: [] },
    });
    expect(failed(r)).toEqual([]);
    expect(r.keyCulprits).toEqual([]);
    expect(r.checks.map((c) => c.detail).join('\n')).toMatch(
      /bob ended it naming itself.*"the share does not verify"\); nobody is blamed/,
    );
  });

  it('in round 1, naming another member (nothing is relayed yet) fails OUTCOME_UNPROVEN', () => {
    const r = verify({
      round1: ['alice'],
      fail: { from: 'bob', culprit: 'alice', code: 'INVALID_PROOF_OF_KNOWLEDGE' },
      abort: { code: 'INVALID_PROOF_OF_KNOWLEDGE', culprits: ['alice'] },
    });
    expect(failed(r)).toEqual(['OUTCOME_UNPROVEN']);
    expect(r.checks.find((c) => !c.ok)?.detail).toMatch(/nothing is relayed before round 1/);
  });

  it('a confirmation of another view than the relayed one: that member', () => {
    const r = verify({
      round2: ALL,
      confirms: { alice: 'relayed', bob: 'relayed', carol: 'other' },
      abort: { code: 'CONFIRMATION_MISMATCH', culprits: ['carol'] },
    });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({
      carol: expect.stringMatching(/differs from the relay the coordinator recorded/),
    });
  });

  it('a two-member tie is judged against the relayed view, not by majority', () => {
    const r = verify({
      round2: ALL,
      confirms: { alice: 'relayed', carol: 'other' },
      abort: { code: 'CONFIRMATION_MISMATCH', culprits: ['carol'] },
    });
    expect(failed(r)).toEqual([]);
  });

  it('members agreeing on a view nobody relayed, or a cancellation: nobody named, nothing to judge', () => {
    for (const script of [
      {
        round2: ALL,
        confirms: { alice: 'other', bob: 'other', carol: 'other' },
        abort: { code: 'CONFIRMATION_MISMATCH', culprits: [] },
      },
      { round1: ['alice'], abort: { code: 'CEREMONY_CLOSED', culprits: [] } },
    ] as const) {
      const r = verify(script);
      expect(failed(r)).toEqual([]);
      expect(r.keyCulprits).toEqual([]);
    }
  });
});

describe('aborted key ceremonies: culprits the transcript does not back fail OUTCOME_UNPROVEN', () => {
  const cases: [string, AbortScript][] = [
    [
      'a timeout naming a member that sent its round-1 package',
      { round1: ['alice', 'bob'], abort: deadline(['alice']) },
    ],
    [
      'a timeout naming only some of the missing (and one that sent)',
      { round1: ['alice'], abort: deadline(['alice', 'bob']) },
    ],
    [
      'a round-2 timeout naming a dealer that delivered',
      { round2: ['alice', 'bob'], abort: deadline(['bob']) },
    ],
    [
      'a confirmation timeout while the confirmations disagree',
      {
        round2: ALL,
        confirms: { alice: 'relayed', bob: 'other' },
        abort: deadline(['carol']),
      },
    ],
    [
      'a mismatch naming a member that confirmed the relayed view',
      {
        round2: ALL,
        confirms: { alice: 'relayed', bob: 'relayed', carol: 'other' },
        abort: { code: 'CONFIRMATION_MISMATCH', culprits: ['alice'] },
      },
    ],
    [
      'a two-member tie blaming both (the old majority rule)',
      {
        round2: ALL,
        confirms: { alice: 'relayed', carol: 'other' },
        abort: { code: 'CONFIRMATION_MISMATCH', culprits: ['alice', 'carol'] },
      },
    ],
    [
      'a complaint about carol turned into blame of alice',
      {
        round2: ALL,
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['alice'] },
      },
    ],
    [
      'a complaint whose code the abort changes',
      {
        round2: ALL,
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'DECRYPTION_FAILED', culprits: ['carol'] },
      },
    ],
    [
      'a self-report turned into blame of the reporter',
      {
        round2: ALL,
        fail: { from: 'bob', culprit: 'bob', code: 'INCONSISTENT_VIEW' },
        abort: { code: 'INCONSISTENT_VIEW', culprits: ['bob'] },
      },
    ],
    [
      'a complaint sent during round 1 (nothing was relayed yet)',
      {
        round1: ['alice', 'bob'],
        fail: { from: 'bob', culprit: 'alice', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['alice'] },
      },
    ],
    [
      'a DKG complaint about another member before round 2 is complete (no share delivered)',
      {
        round2: ['alice', 'bob'],
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
      },
    ],
    [
      'a bad-proof accusation against a round-1 package the coordinator recorded (and verified)',
      {
        round2: ALL,
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_PROOF_OF_KNOWLEDGE' },
        abort: { code: 'INVALID_PROOF_OF_KNOWLEDGE', culprits: ['carol'] },
      },
    ],
    [
      'a complaint about another member without evidence, in a ceremony of protocol 4',
      {
        round2: ALL,
        badShare: { from: 'carol', to: 'bob' },
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
      },
    ],
    [
      'the same, with the accuser shown a dkg.start naming no version, recorded first',
      {
        versionlessStartFor: 'bob',
        round2: ALL,
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
      },
    ],
    [
      'the same, with no recorded dkg.start naming a version (the accused dealer’s round 1 does)',
      {
        versionlessStarts: true,
        round2: ALL,
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
      },
    ],
    [
      'a complaint whose own evidence shows the share is sound (a false accusation)',
      {
        round2: ALL,
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE', evidence: 'genuine' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
      },
    ],
    [
      'a proven complaint under a code that misreports it',
      {
        round2: ALL,
        badShare: { from: 'carol', to: 'bob' },
        fail: { from: 'bob', culprit: 'carol', code: 'CONFIRMATION_MISMATCH', evidence: 'genuine' },
        abort: { code: 'CONFIRMATION_MISMATCH', culprits: ['carol'] },
      },
    ],
    [
      'a complaint whose evidence proves nothing (a changed proof)',
      {
        round2: ALL,
        badShare: { from: 'carol', to: 'bob' },
        fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE', evidence: 'forged' },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
      },
    ],
    [
      'a cancellation naming a culprit',
      { round1: ['alice'], abort: { code: 'CEREMONY_CLOSED', culprits: ['bob'] } },
    ],
  ];
  for (const [name, script] of cases) {
    it(name, () => {
      const r = verify(script);
      expect(failed(r)).toEqual(['OUTCOME_UNPROVEN']);
      expect(r.keyCulprits).toBeUndefined();
    });
  }
});

// Protocol 5: a lifecycle complaint about another member's box (a refresh or reshare sub-share)
// carries the evidence that opens it, judged again here; before it, such a complaint was its
// sender's word. The version is signed into key.start (coordinator) and each key.round1 (dealer).
describe('aborted lifecycle ceremonies: a complaint about a sub-share', () => {
  const verifyLifecycle = (script: LifecycleAbortScript) => {
    const c = abortedLifecycleBundle(script);
    return verifyCeremonyBundle(c.bundle, c.trust);
  };
  const complaint = (evidence?: 'genuine' | 'forged') => ({
    from: 'bob',
    culprit: 'carol',
    code: 'INVALID_SECRET_SHARE',
    ...(evidence === undefined ? {} : { evidence }),
  });
  const badShare = { from: 'carol', to: 'bob' };
  const abort = { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] };

  it.each(['refresh', 'reshare'] as const)(
    '%s: a complaint whose evidence opens the box to a bad sub-share: proven',
    (kind) => {
      const culprit = kind === 'reshare' ? 'alice' : 'carol';
      const r = verifyLifecycle({
        kind,
        badShare: { from: culprit, to: 'bob' },
        fail: { ...complaint('genuine'), culprit },
        abort: { code: 'INVALID_SECRET_SHARE', culprits: [culprit] },
      });
      expect(failed(r)).toEqual([]);
      expect(blame(r)).toEqual({
        [culprit]: expect.stringMatching(
          new RegExp(
            `^proven by bob's signed dkg\\.fail .*${culprit} signed to bob.*fails vss_verify`,
          ),
        ),
      });
    },
  );

  it('before protocol 5 (no version anywhere), a complaint without evidence: named by it, not proven', () => {
    const r = verifyLifecycle({ beforeProtocol5: true, badShare, fail: complaint(), abort });
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ carol: expect.stringMatching(/^named by bob .*not proven/) });
  });

  it('before protocol 5, evidence a complaint carried is not judged (the coordinator then ignored it): named by it, not proven', () => {
    for (const evidence of ['genuine', 'forged'] as const) {
      const r = verifyLifecycle({ beforeProtocol5: true, fail: complaint(evidence), abort });
      expect(failed(r)).toEqual([]);
      expect(blame(r)).toEqual({ carol: expect.stringMatching(/^named by bob .*not proven/) });
    }
  });

  const unevidenced =
    /a ceremony of protocol 5 takes no complaint about another member without the evidence/;
  const cases: [string, LifecycleAbortScript, RegExp][] = [
    [
      'a complaint about another member without evidence, in a ceremony of protocol 5',
      { badShare, fail: complaint(), abort },
      unevidenced,
    ],
    [
      'the same, where only key.start names protocol 5',
      { versionlessRound1: true, badShare, fail: complaint(), abort },
      unevidenced,
    ],
    [
      'the same, where no key.start names a version but the dealers’ signed key.round1 do',
      { versionlessStarts: true, badShare, fail: complaint(), abort },
      unevidenced,
    ],
    [
      'a complaint whose evidence proves nothing (its response replaced by its challenge)',
      { badShare, fail: complaint('forged'), abort },
      /its evidence proves nothing: the complaint’s proof does not verify/,
    ],
    [
      'a complaint whose own evidence shows the sub-share is sound (a false accusation)',
      { fail: complaint('genuine'), abort },
      /the sub-share carol sent bob matches carol's commitment: the accusation is false/,
    ],
    [
      'a proven complaint turned into blame of another member',
      { badShare, fail: complaint('genuine'), abort: { ...abort, culprits: ['alice'] } },
      /names alice, but bob's signed dkg\.fail .* names carol/,
    ],
    [
      'a proven complaint under a code that misreports it',
      {
        badShare,
        fail: { ...complaint('genuine'), code: 'CONFIRMATION_MISMATCH' },
        abort: { code: 'CONFIRMATION_MISMATCH', culprits: ['carol'] },
      },
      /a complaint about a box does not say CONFIRMATION_MISMATCH/,
    ],
    [
      // A coordinator colluding with bob records a key.start whose public key package (its word
      // alone) gives carol another verifying share: her package no longer "fits" it. Her
      // sub-share still matches the package she signed, and that is all a complaint is judged by.
      'a false accusation under a recorded key.start with a made-up public key package',
      {
        fail: complaint('genuine'),
        abort,
        recordedStart: (start) => ({
          ...start,
          publicKeyPackage: forgedPackage(start['publicKeyPackage'] as string),
        }),
      },
      /the sub-share carol sent bob matches carol's commitment: the accusation is false/,
    ],
    [
      // The same coordinator lists other identity keys for bob and carol in key.start: the judge
      // takes the registry's keys that verified their messages, so bob's evidence is judged as his.
      'a false accusation under a recorded key.start that lists other identity keys',
      {
        fail: complaint('genuine'),
        abort,
        recordedStart: (start) => {
          const other: Record<string, string> = {
            bob: bytesToHex(generateIdentityKey().publicKey),
            carol: bytesToHex(generateIdentityKey().publicKey),
          };
          const rekey = (list: unknown) =>
            (list as { member: string; identityKey: string }[]).map((p) =>
              other[p.member] === undefined ? p : { ...p, identityKey: other[p.member]! },
            );
          return {
            ...start,
            previous: rekey(start['previous']),
            participants: rekey(start['participants']),
          };
        },
      },
      /the accusation is false/,
    ],
  ];
  it('KEY_CEREMONY_UNAUTHORIZED: a refresh key.start whose committee lists another identity key than the previous roster (a dealer would seal to it)', () => {
    const r = verifyLifecycle({
      fail: complaint('genuine'),
      abort,
      recordedStart: (start) => ({
        ...start,
        participants: (start['participants'] as { member: string; identityKey: string }[]).map(
          (p) =>
            p.member === 'bob'
              ? { ...p, identityKey: bytesToHex(generateIdentityKey().publicKey) }
              : p,
        ),
      }),
    });
    expect(failed(r)).toContain('KEY_CEREMONY_UNAUTHORIZED');
    expect(r.checks.find((x) => x.code === 'KEY_CEREMONY_UNAUTHORIZED')?.detail).toMatch(
      /a refresh keeps the roster \(with its identity keys\)/,
    );
  });

  for (const [name, script, why] of cases) {
    it(`OUTCOME_UNPROVEN: ${name}`, () => {
      const r = verifyLifecycle(script);
      expect(failed(r)).toEqual(['OUTCOME_UNPROVEN']);
      expect(r.checks.find((x) => !x.ok)?.detail).toMatch(why);
      expect(r.keyCulprits).toBeUndefined();
    });
  }
});

// A repair (alice and bob rebuild carol's share): each helper's delta to the other travels in its
// key.round1, each helper's σ to carol in its key.round2. A box is judged only for holding a
// canonical scalar: a scalar's value shows only in the sum, which names nobody.
describe('aborted lifecycle ceremonies: a complaint about a repair delta or σ', () => {
  const repair = (script: RepairAbortScript) => {
    const c = abortedRepairBundle(script);
    return { c, r: verifyCeremonyBundle(c.bundle, c.trust) };
  };
  const entries = (c: ReturnType<typeof abortedRepairBundle>) =>
    c.bundle.transcript as TranscriptEntry[];
  const types = (c: ReturnType<typeof abortedRepairBundle>) =>
    entries(c).map((e) => e.envelope.body.type);
  const fail = (from: string, culprit: string, evidence?: 'genuine') => ({
    from,
    culprit,
    code: 'INVALID_SECRET_SHARE',
    ...(evidence === undefined ? {} : { evidence }),
  });
  const abort = (culprit: string) => ({ code: 'INVALID_SECRET_SHARE', culprits: [culprit] });
  const noScalar = (accuser: string) =>
    new RegExp(`^proven by ${accuser}'s signed dkg\\.fail .*holds no canonical scalar`);

  it("a helper's complaint whose evidence opens the other's delta box (key.round1) to no scalar: proven", () => {
    const { c, r } = repair({
      badBox: { from: 'alice', to: 'bob' },
      fail: fail('bob', 'alice', 'genuine'),
      abort: abort('alice'),
    });
    // Round 2 never happened: the box is alice's key.round1 to bob, relayed to him, and bob's
    // complaint follows the relay.
    expect(types(c)).not.toContain('key.round2');
    const round1 = entries(c).find(
      (e) => e.sender === 'alice' && e.envelope.body.type === 'key.round1',
    );
    expect(round1?.envelope.body).toMatchObject({ boxes: [{ recipient: 'bob' }] });
    const relay = entries(c).find(
      (e) => e.recipient === 'bob' && e.envelope.body.type === 'key.round1.all',
    );
    expect(relay?.envelope.body).toMatchObject({ boxes: [{ sender: 'alice' }] });
    expect(types(c).indexOf('dkg.fail')).toBe(types(c).lastIndexOf('key.round1.all') + 1);
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ alice: expect.stringMatching(noScalar('bob')) });
  });

  it("carol's complaint whose evidence opens a helper's σ box (key.round2) to no scalar: proven", () => {
    const { c, r } = repair({
      badBox: { from: 'bob', to: 'carol' },
      fail: fail('carol', 'bob', 'genuine'),
      abort: abort('bob'),
    });
    expect(types(c)).toContain('key.round2.deliver');
    expect(failed(r)).toEqual([]);
    expect(blame(r)).toEqual({ bob: expect.stringMatching(noScalar('carol')) });
  });

  const cases: [string, RepairAbortScript, RegExp][] = [
    [
      "carol's complaint whose evidence opens a σ of the wrong value (a scalar)",
      { wrongSigma: 'alice', fail: fail('carol', 'alice', 'genuine'), abort: abort('alice') },
      /the box alice sent carol opens and holds a scalar.*the accusation cannot be proven/,
    ],
    [
      "carol's complaint whose evidence opens her genuine σ",
      { fail: fail('carol', 'alice', 'genuine'), abort: abort('alice') },
      /the box alice sent carol opens and holds a scalar.*the accusation cannot be proven/,
    ],
    [
      "a helper's complaint whose evidence opens a genuine delta",
      { fail: fail('bob', 'alice', 'genuine'), abort: abort('alice') },
      /the box alice sent bob opens and holds a scalar.*the accusation cannot be proven/,
    ],
    [
      "carol's complaint without evidence, in a repair of protocol 5",
      {
        badBox: { from: 'alice', to: 'carol' },
        fail: fail('carol', 'alice'),
        abort: abort('alice'),
      },
      /a ceremony of protocol 5 takes no complaint about another member without the evidence/,
    ],
  ];
  for (const [name, script, why] of cases) {
    it(`OUTCOME_UNPROVEN: ${name}`, () => {
      const { r } = repair(script);
      expect(failed(r)).toEqual(['OUTCOME_UNPROVEN']);
      expect(r.checks.find((x) => !x.ok)?.detail).toMatch(why);
      expect(r.keyCulprits).toBeUndefined();
    });
  }
});

describe('a key the coordinator refused to activate', () => {
  const agreed = {
    round2: ALL,
    confirms: { alice: 'other', bob: 'other', carol: 'other' },
    abort: { code: 'CONFIRMATION_MISMATCH', culprits: [] },
  } as const;

  it('every member confirmed one view: recorded completed, ended by a dkg.abort naming nobody', () => {
    const r = verify({ ...agreed, state: 'completed' });
    expect(failed(r)).toEqual([]);
    expect(r.checks.find((c) => c.name === 'outcome')?.detail).toMatch(/refused to activate/);
  });

  it('recorded completed while the confirmations disagree, or one is missing: LOG_LEAF_MISMATCH', () => {
    const split = verify({
      ...agreed,
      confirms: { alice: 'relayed', bob: 'other', carol: 'other' },
      state: 'completed',
    });
    expect(failed(split)).toContain('LOG_LEAF_MISMATCH');
    const short = verify({
      ...agreed,
      confirms: { alice: 'other', bob: 'other' },
      state: 'completed',
    });
    expect(failed(short)).toEqual(['LOG_LEAF_MISMATCH']);
  });
});

describe('member messages the ceremony would refuse', () => {
  it("a repair's lost member sending a round-1 message (it deals nothing): OUTCOME_UNPROVEN", () => {
    const c = lifecycleBundle('repair');
    c.remove(c.bundle.transcript.length - 1); // its dkg.complete
    c.append('carol', null, { type: 'key.round1', boxes: [] });
    c.append('coordinator', '*', {
      type: 'dkg.abort',
      code: 'DEADLINE_EXCEEDED',
      message: 'round 3 deadline passed',
      culprits: [],
    });
    c.bundle.recorded = { state: 'aborted', culprits: [] };
    c.relog();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['OUTCOME_UNPROVEN']);
    expect(r.checks.find((x) => !x.ok)?.detail).toMatch(
      /carol sent a key\.round1 but is not a dealer/,
    );
  });
});

describe('key ceremonies end once', () => {
  const timedOut = () => abortedKeyBundle({ round1: ['alice', 'bob'], abort: deadline(['carol']) });

  it('a second dkg.abort after the first: UNEXPECTED_MESSAGE', () => {
    const c = timedOut();
    // The coordinator signs another ending that blames alice instead.
    c.append('coordinator', '*', {
      type: 'dkg.abort',
      code: 'DEADLINE_EXCEEDED',
      message: 'round 1 deadline passed',
      culprits: ['alice'],
    });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['UNEXPECTED_MESSAGE']);
    expect(r.keyCulprits).toBeUndefined();
  });

  it('an entry after the dkg.abort: UNEXPECTED_MESSAGE', () => {
    const c = timedOut();
    c.append('bob', null, {
      type: 'dkg.fail',
      culprit: 'alice',
      code: 'INVALID_SECRET_SHARE',
      reason: 'late',
    });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['UNEXPECTED_MESSAGE']);
  });
});
