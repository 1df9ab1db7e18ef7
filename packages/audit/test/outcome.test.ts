// How a signing ceremony ended, against a coordinator that records outcomes and signs final
// envelopes as it likes (it holds the coordinator key, not the members'): exactly one final
// envelope, last; each recorded state backed by the signed envelopes it needs; a member who
// declined a session (signed round2.decline) is never a culprit. Each rule asserts its code.
import {
  bytesToHex,
  newCeremonyId,
  requestDigest,
  sealEnvelope,
  type SignRequest,
} from '@conclave/protocol';
import { buildStatement, statementDigest } from '@conclave/release';
import { describe, expect, it } from 'vitest';
import { verifyCeremonyBundle, type TranscriptEntry } from '../src/index.js';
import {
  corruptShare,
  framedBundle,
  secondCompleteBundle,
  sharesThenAbort,
  signingBundle,
} from './bundle-fixture.js';

type Case = ReturnType<typeof signingBundle>;
const failed = (r: ReturnType<typeof verifyCeremonyBundle>) =>
  r.checks.filter((c) => !c.ok).map((c) => c.code);
const check = (r: ReturnType<typeof verifyCeremonyBundle>, name: string) =>
  r.checks.find((c) => c.name === name);
const entries = (c: Case) => c.bundle.transcript as TranscriptEntry[];
const last = (c: Case) => entries(c).at(-1)!;

/** The request digest sign.reject must name (the one approvals name). */
const digestOf = (c: Case) =>
  bytesToHex(
    requestDigest(c.bundle.ceremonyId, entries(c)[0]!.envelope.body as unknown as SignRequest),
  );

/** Ends the ceremony after the request with `steps`, then a coordinator-signed sign.aborted. */
function ended(
  steps: readonly [sender: string, body: Record<string, unknown>][],
  aborted: { reason: string; code: string; culprits?: string[] },
  recorded: { state: string; culprits?: string[] },
): Case {
  const c = signingBundle();
  c.truncate(1);
  for (const [sender, body] of steps) c.append(sender, null, body);
  c.bundle.recorded = { state: recorded.state, culprits: recorded.culprits ?? [] };
  c.append('coordinator', '*', {
    type: 'sign.aborted',
    message: 'ended',
    culprits: [],
    ...aborted,
  });
  return c;
}

const reject = (c: Case | string, reason = 'not this build') => ({
  type: 'sign.reject',
  requestDigest: typeof c === 'string' ? c : digestOf(c),
  reason,
});

describe('one final envelope, last (finding: an extra sign.complete)', () => {
  it('a second sign.complete after the real one, naming another key, statement and approvers: UNEXPECTED_MESSAGE', () => {
    const c = secondCompleteBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['UNEXPECTED_MESSAGE', 'OUTCOME_UNPROVEN']);
    expect(check(r, 'one final message, last')?.detail).toMatch(/2 final envelopes/);
    // Nothing the coordinator's second word says reaches the report.
    expect(r.statementDigest).toBeUndefined();
    expect(r.signatures).not.toHaveProperty('mallory');
  });

  it('an entry after the final envelope: UNEXPECTED_MESSAGE', () => {
    const c = signingBundle();
    c.append('carol', null, reject(c));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([
      'UNEXPECTED_MESSAGE',
      'OUTCOME_UNPROVEN',
    ]);
  });

  it('an honest bundle reports the verified group key, statement digest and policy', () => {
    const c = signingBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    const complete = last(c).envelope.body as { statementDigest: string };
    const epoch = c.bundle.group!.epochs[0]!;
    expect(r.groupPublicKey).toBe(epoch.groupPublicKey);
    expect(r.statementDigest).toBe(complete.statementDigest);
    expect(r.policyId).toBe('default');
    // …and the statement digest is the one of the statement rebuilt from the request.
    const request = entries(c)[0]!.envelope.body as unknown as SignRequest;
    const rebuilt = statementDigest(
      buildStatement(request.release, {
        ceremonyId: c.bundle.ceremonyId,
        group: 'release',
        groupPublicKey: epoch.groupPublicKey,
        requester: 'alice',
        approvers: epoch.members.map((m) => ({ member: m.member, identityKey: m.identityKey })),
        policyId: 'default',
        issuedAt: (entries(c)[4]!.envelope.body as { issuedAt: number }).issuedAt,
      }),
    );
    expect(r.statementDigest).toBe(rebuilt);
  });
});

describe('each recorded state needs its signed evidence (finding: outcome not backed)', () => {
  it('recorded rejected with a final sign.aborted that says failed (x.ts case B): OUTCOME_UNPROVEN', () => {
    const c = signingBundle();
    const complete = last(c);
    entries(c).pop();
    c.append('coordinator', '*', {
      type: 'sign.aborted',
      reason: 'failed',
      code: 'INSUFFICIENT_HONEST_SIGNERS',
      message: 'invalid shares',
      culprits: [],
    });
    expect(last(c).idx).toBe(complete.idx);
    c.bundle.recorded = { state: 'rejected', culprits: [] };
    c.relog();
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('rejected with no member-signed rejection: OUTCOME_UNPROVEN', () => {
    const c = ended([], { reason: 'rejected', code: 'CEREMONY_CLOSED' }, { state: 'rejected' });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['OUTCOME_UNPROVEN']);
    expect(check(r, 'outcome')?.detail).toMatch(/only 0 member-signed rejections/);
  });

  it('rejected after one rejection, when two members could still reach t = 2: OUTCOME_UNPROVEN', () => {
    const c = signingBundle();
    const digest = digestOf(c);
    const d = ended(
      [['carol', reject(digest)]],
      { reason: 'rejected', code: 'CEREMONY_CLOSED' },
      {
        state: 'rejected',
      },
    );
    expect(failed(verifyCeremonyBundle(d.bundle, d.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('rejected after two member-signed rejections of this request (t = 2 of 3 impossible): verified', () => {
    const c = signingBundle();
    c.truncate(1);
    c.append('bob', null, reject(c));
    c.append('carol', null, reject(c));
    c.bundle.recorded = { state: 'rejected', culprits: [] };
    c.append('coordinator', '*', {
      type: 'sign.aborted',
      reason: 'rejected',
      code: 'CEREMONY_CLOSED',
      message: 'too many members rejected the request',
      culprits: [],
    });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(check(r, 'outcome')?.detail).toMatch(/2 member-signed rejections \(bob, carol\)/);
  });

  it('rejected for the policy after a revocation, with no rejection (its only role holder revoked): verified, under the stated policy', () => {
    const c = signingBundle();
    const t0 = entries(c)[0]!.at;
    const d = ended([], { reason: 'rejected', code: 'POLICY_ROLE_MISSING' }, { state: 'rejected' });
    const scopeId = newCeremonyId();
    d.bundle.registry.push({
      scopeId,
      at: t0 + 1,
      envelope: sealEnvelope(d.admin, {
        ceremonyId: scopeId,
        round: '0',
        seq: (t0 + 1) * 1000,
        sender: 'admin',
        body: { type: 'admin.member.revoke', member: 'carol', reason: 'left the team' },
      }),
    });
    const r = verifyCeremonyBundle(d.bundle, d.trust);
    expect(failed(r)).toEqual([]);
    expect(check(r, 'outcome')?.detail ?? '').toMatch(/revocation of carol/);
    // Without the revocation the same ending is unproven.
    const e = ended([], { reason: 'rejected', code: 'POLICY_ROLE_MISSING' }, { state: 'rejected' });
    expect(failed(verifyCeremonyBundle(e.bundle, e.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('a rejection naming another request does not count: OUTCOME_UNPROVEN', () => {
    const c = signingBundle();
    c.truncate(1);
    c.append('bob', null, reject(c));
    c.append('carol', null, reject('ab'.repeat(32)));
    c.bundle.recorded = { state: 'rejected', culprits: [] };
    c.append('coordinator', '*', {
      type: 'sign.aborted',
      reason: 'rejected',
      code: 'CEREMONY_CLOSED',
      message: 'too many members rejected the request',
      culprits: [],
    });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('cancelled by the requester’s signed ceremony.cancel: verified; by another member: OUTCOME_UNPROVEN', () => {
    const cancel = { type: 'ceremony.cancel', reason: 'wrong artifact' };
    const aborted = { reason: 'cancelled', code: 'CEREMONY_CLOSED' };
    const ok = ended([['alice', cancel]], aborted, { state: 'cancelled' });
    const r = verifyCeremonyBundle(ok.bundle, ok.trust);
    expect(failed(r)).toEqual([]);
    expect(check(r, 'outcome')?.detail).toMatch(/requester alice/);
    const admin = ended([['admin', cancel]], aborted, { state: 'cancelled' });
    expect(failed(verifyCeremonyBundle(admin.bundle, admin.trust))).toEqual([]);
    const bob = ended([['bob', cancel]], aborted, { state: 'cancelled' });
    expect(failed(verifyCeremonyBundle(bob.bundle, bob.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('cancelled with no signed ceremony.cancel: OUTCOME_UNPROVEN, unless the coordinator says it cancelled (POLICY_SUPERSEDED)', () => {
    const none = ended(
      [],
      { reason: 'cancelled', code: 'CEREMONY_CLOSED' },
      { state: 'cancelled' },
    );
    expect(failed(verifyCeremonyBundle(none.bundle, none.trust))).toEqual(['OUTCOME_UNPROVEN']);
    const superseded = ended(
      [],
      { reason: 'cancelled', code: 'POLICY_SUPERSEDED' },
      { state: 'cancelled' },
    );
    const r = verifyCeremonyBundle(superseded.bundle, superseded.trust);
    expect(failed(r)).toEqual([]);
    expect(check(r, 'outcome')?.detail).toMatch(/coordinator itself.*no member cancelled it/);
  });

  it('expired needs a sign.aborted saying expired: verified; one saying rejected: OUTCOME_UNPROVEN', () => {
    const ok = ended([], { reason: 'expired', code: 'DEADLINE_EXCEEDED' }, { state: 'expired' });
    expect(failed(verifyCeremonyBundle(ok.bundle, ok.trust))).toEqual([]);
    const bad = ended([], { reason: 'rejected', code: 'CEREMONY_CLOSED' }, { state: 'expired' });
    expect(failed(verifyCeremonyBundle(bad.bundle, bad.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('aborted for INSUFFICIENT_HONEST_SIGNERS while t members stood: OUTCOME_UNPROVEN', () => {
    const c = ended(
      [],
      { reason: 'failed', code: 'INSUFFICIENT_HONEST_SIGNERS' },
      { state: 'aborted' },
    );
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('a final sign.aborted naming other culprits than the recorded ones: OUTCOME_UNPROVEN', () => {
    const c = ended(
      [],
      { reason: 'failed', code: 'INSUFFICIENT_HONEST_SIGNERS', culprits: ['carol'] },
      { state: 'aborted' },
    );
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });

  it('a recorded state that is not final: OUTCOME_UNPROVEN', () => {
    const c = ended([], { reason: 'expired', code: 'DEADLINE_EXCEEDED' }, { state: 'signing' });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['OUTCOME_UNPROVEN']);
  });
});

describe('round2.decline: a signer who declined is excluded, never a culprit', () => {
  /** Session 1 (alice, bob): alice's share, then bob's signed decline; the ceremony then expires. */
  function declinedSession(recordedCulprits: string[]): Case {
    const c = signingBundle();
    c.truncate(7); // request, 3 approvals, 2 packages, alice's share
    c.append('bob', null, {
      type: 'round2.decline',
      session: 1,
      code: 'SIGNING_REFUSED',
      reason: 'keyCreatedAt differs from the pinned one',
    });
    c.bundle.recorded = { state: 'expired', culprits: recordedCulprits };
    c.append('coordinator', '*', {
      type: 'sign.aborted',
      reason: 'expired',
      code: 'DEADLINE_EXCEEDED',
      message: 'the approval window closed',
      culprits: [],
    });
    return c;
  }

  it('lists the decline and blames nobody', () => {
    const c = declinedSession([]);
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.declines).toEqual([
      {
        member: 'bob',
        session: 1,
        code: 'SIGNING_REFUSED',
        reason: 'keyCreatedAt differs from the pinned one',
      },
    ]);
    expect(r.culprits).toEqual([]);
  });

  it('a decliner recorded as a culprit (as if it had timed out): INVALID_SIGNATURE_SHARE', () => {
    const c = declinedSession(['bob']);
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['INVALID_SIGNATURE_SHARE']);
    expect(check(r, 'shares verified and culprits match')?.detail).toMatch(
      /bob declined the package/,
    );
  });

  it('a signer silent in its session may still be recorded (a timeout), a decline of another session does not excuse it', () => {
    const c = signingBundle();
    c.truncate(7);
    c.bundle.recorded = { state: 'expired', culprits: ['bob'] };
    c.append('bob', null, {
      type: 'round2.decline',
      session: 2,
      code: 'SIGNING_REFUSED',
      reason: 'no such session',
    });
    c.append('coordinator', '*', {
      type: 'sign.aborted',
      reason: 'expired',
      code: 'DEADLINE_EXCEEDED',
      message: 'the approval window closed',
      culprits: [],
    });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.declines).toEqual([]);
  });
});

describe('the culprit check says whose public key package it used (7a)', () => {
  const framed = framedBundle;

  it('before protocol 3, without a pinned package the culprits stand, and the check says they rest on the coordinator’s package', () => {
    const c = framed({ beforeProtocol3: true });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.culprits).toEqual(['alice', 'bob']);
    expect(r.keyPackage).toBe('bundle');
    expect(r.keyPackageSigned).toBe(false);
    expect(check(r, 'shares verified and culprits match')?.detail).toMatch(
      /under the coordinator-supplied public key package/,
    );
    expect(check(r, 'sessions signed under the epoch’s key package')?.detail).toMatch(
      /before protocol 3/,
    );
  });

  it('with the package of a member’s share pinned: INCONSISTENT_KEY_PACKAGE, nobody blamed', () => {
    const c = framed({ beforeProtocol3: true });
    // The package the members really hold (what their share files carry): the dealt one.
    const r = verifyCeremonyBundle(c.bundle, {
      ...c.trust,
      publicKeyPackage: { epoch: 1, hex: c.original },
    });
    expect(failed(r)).toEqual(['INCONSISTENT_KEY_PACKAGE']);
    expect(r.culprits).toEqual([]);
    const honest = signingBundle();
    const ok = verifyCeremonyBundle(honest.bundle, {
      ...honest.trust,
      publicKeyPackage: { epoch: 1, hex: honest.bundle.group!.epochs[0]!.publicKeyPackage },
    });
    expect(failed(ok)).toEqual([]);
    expect(ok.keyPackage).toBe('pinned');
  });
});

// Protocol 3: sign.package names H(the public key package the session signs under), and each
// share names, signed by its sender, the one it was made under. A coordinator can no longer
// judge honest shares under verifying shares of its choosing (a made-up package, or another epoch's).
describe('the public key package each signer signed under (protocol 3)', () => {
  it('an honest bundle: every session and share names the epoch’s package, and the report says so', () => {
    const c = signingBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.keyPackageSigned).toBe(true);
    expect(check(r, 'sessions signed under the epoch’s key package')?.detail).toMatch(
      /every session \(1\) names public key package [0-9a-f]{16}…, epoch 1's/,
    );
  });

  it('invalid shares are proven under the package their senders signed', () => {
    const c = sharesThenAbort(
      [
        ['alice', corruptShare],
        ['bob', corruptShare],
      ],
      ['alice', 'bob'],
    );
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.culprits).toEqual(['alice', 'bob']);
    expect(r.keyPackage).toBe('bundle');
    expect(r.keyPackageSigned).toBe(true);
    expect(check(r, 'shares verified and culprits match')?.detail).toMatch(
      /whose hash each share’s sender signed with it/,
    );
  });

  it('a made-up package consistent with the group key: INCONSISTENT_KEY_PACKAGE, nobody blamed', () => {
    // What the framed bundle shows an auditor before protocol 3 as alice's and bob's fault.
    const c = framedBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toContain('INCONSISTENT_KEY_PACKAGE');
    expect(r.ok).toBe(false);
    expect(r.culprits).toEqual([]);
    expect(check(r, 'sessions signed under the epoch’s key package')?.detail).toMatch(
      /session 1 signed under public key package [0-9a-f]{16}…, not epoch 1.s .*nobody of it is blamed/,
    );
  });

  it('a later epoch dated before the ceremony (refresh shares the signers did not hold): INCONSISTENT_KEY_PACKAGE, nobody judged', () => {
    // The coordinator lists a second epoch of the same group key, recorded as in effect when the
    // ceremony opened, under which alice's and bob's genuine shares fail.
    const c = framedBundle();
    const epochs = c.bundle.group!.epochs;
    const forged = epochs[0]!;
    epochs[0] = { ...forged, publicKeyPackage: c.original };
    epochs.push({ ...forged, epoch: 2, at: forged.at + 100 });
    c.relog();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toContain('INCONSISTENT_KEY_PACKAGE');
    expect(r.culprits).toEqual([]);
    expect(check(r, 'sessions signed under the epoch’s key package')?.detail).toMatch(
      /not epoch 2's/,
    );
    // The same bundle without the later epoch: epoch 1 is the one the signers named.
    epochs.pop();
    c.relog();
    const honestEpoch = verifyCeremonyBundle(c.bundle, c.trust);
    expect(check(honestEpoch, 'sessions signed under the epoch’s key package')?.ok).toBe(true);
  });

  it('the package’s name stripped from the recorded packages: the named shares are not judged, nobody blamed', () => {
    const c = framedBundle();
    entries(c).forEach((e, i) => {
      if (e.envelope.body.type !== 'sign.package') return;
      const { publicKeyPackage: _, ...stripped } = e.envelope.body as Record<string, unknown>;
      c.reseal(i, stripped);
    });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toContain('INCONSISTENT_VIEW');
    expect(r.culprits).toEqual([]);
    expect(check(r, 'shares verified and culprits match')?.ok).toBe(false);
  });

  it('a share whose acknowledgement does not verify is not a timeout: a culprit recorded for it is unproven', () => {
    const c = sharesThenAbort(
      [
        ['alice', () => undefined],
        ['bob', (b) => ((b['ack'] as { signature: string }).signature = '00'.repeat(64))],
      ],
      ['bob'],
    );
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toContain('INCONSISTENT_VIEW');
    expect(check(r, 'shares verified and culprits match')?.ok).toBe(false);
  });

  it('a share made under another package than its session names: INCONSISTENT_VIEW, its sender not judged', () => {
    for (const edit of [
      (b: Record<string, unknown>) => (b['publicKeyPackage'] = 'ee'.repeat(32)),
      (b: Record<string, unknown>) => delete b['publicKeyPackage'],
    ]) {
      const c = sharesThenAbort(
        [
          ['alice', () => undefined],
          ['bob', (b) => (corruptShare(b), edit(b))],
        ],
        ['bob'],
      );
      const r = verifyCeremonyBundle(c.bundle, c.trust);
      expect(failed(r)).toContain('INCONSISTENT_VIEW');
      expect(r.culprits).toEqual([]);
      expect(check(r, 'acknowledgements name the same packages')?.detail).toMatch(
        /bob signed its share under .*not the one the session's package names/,
      );
      // bob's share is in the transcript: neither judged nor a timeout, so the recorded culprit
      // has no proof.
      expect(check(r, 'shares verified and culprits match')?.ok).toBe(false);
    }
  });
});
