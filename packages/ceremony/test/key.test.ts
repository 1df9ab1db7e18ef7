import { describe, expect, it } from 'vitest';
import type { Actor } from 'xstate';
import type { KeyMachine } from '../src/index.js';
import { nextDeadline } from '../src/index.js';
import { accept, hex, keyInput, NAMES, refused, startKey } from './helpers.js';

/** `member`'s dkg.fail naming `culprit` is accepted and aborts the ceremony (CULPRIT_REPORTED). */
function reportsCulprit(
  actor: Actor<KeyMachine>,
  member: string,
  culprit: string,
  reason: string,
  at: number,
) {
  accept(actor, { type: 'dkg.fail', member, culprit, reason, at });
  const snap = actor.getSnapshot();
  expect(snap.value).toBe('aborted');
  expect(snap.output).toEqual({
    status: 'aborted',
    code: 'CULPRIT_REPORTED',
    culprit,
    reportedBy: member,
    reason,
    at,
  });
  return snap;
}

const members = (n: number) => NAMES.slice(0, n);

function throughRound2(n: number, t: number): Actor<KeyMachine> {
  const actor = startKey(keyInput(n, t));
  members(n).forEach((m, i) =>
    accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(100 + i), at: 1_100 + i }),
  );
  for (const m of members(n)) {
    accept(actor, {
      type: 'dkg.round2',
      member: m,
      recipients: members(n).filter((x) => x !== m),
      at: 1_200,
    });
  }
  return actor;
}

describe('key ceremony (DKG)', () => {
  it('runs round 1, round 2 and confirmation to an active group (3-of-5)', () => {
    const actor = startKey(keyInput(5, 3));
    expect(actor.getSnapshot().value).toBe('waitingForRound1');
    expect(nextDeadline(actor.getSnapshot())).toBe(11_000);
    members(5).forEach((m, i) =>
      accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(100 + i), at: 1_100 + i }),
    );
    expect(actor.getSnapshot().value).toBe('waitingForRound2');
    expect(nextDeadline(actor.getSnapshot())).toBe(1_104 + 10_000);
    expect(actor.getSnapshot().context.outbox.at(-1)).toMatchObject({ kind: 'broadcastRound1' });

    // Envelopes may be relayed in pieces; the machine tracks every sender → recipient pair.
    accept(actor, { type: 'dkg.round2', member: 'alice', recipients: ['bob', 'carol'], at: 1_200 });
    refused(
      actor,
      { type: 'dkg.round2', member: 'alice', recipients: ['carol'], at: 1_201 },
      'DUPLICATE',
    );
    refused(
      actor,
      { type: 'dkg.round2', member: 'alice', recipients: ['alice'], at: 1_201 },
      'INVALID_RECIPIENT',
    );
    refused(
      actor,
      { type: 'dkg.round2', member: 'alice', recipients: ['mallory'], at: 1_201 },
      'NOT_A_MEMBER',
    );
    accept(actor, { type: 'dkg.round2', member: 'alice', recipients: ['dave', 'erin'], at: 1_202 });
    for (const m of members(5).slice(1)) {
      accept(actor, {
        type: 'dkg.round2',
        member: m,
        recipients: members(5).filter((x) => x !== m),
        at: 1_300,
      });
    }
    expect(actor.getSnapshot().value).toBe('waitingForConfirmations');
    refused(
      actor,
      { type: 'dkg.round2', member: 'bob', recipients: ['alice'], at: 1_301 },
      'DUPLICATE',
    );

    for (const m of members(5)) {
      accept(actor, {
        type: 'dkg.confirm',
        member: m,
        transcriptHash: hex(7),
        groupPublicKey: hex(8),
        at: 1_400,
      });
    }
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('completed');
    expect(snap.output).toEqual({
      status: 'completed',
      transcriptHash: hex(7),
      groupPublicKey: hex(8),
      at: 1_400,
    });
    expect(snap.context.outbox.map((e) => e.kind)).toEqual([
      'notify',
      'broadcastRound1',
      ...Array.from({ length: 6 }, () => 'deliverRound2'),
      'requestConfirmation',
      'activateGroup',
    ]);
    expect(nextDeadline(snap)).toBeNull();
  });

  it('aborts CONFIRMATION_MISMATCH naming the members outside the majority view', () => {
    const actor = throughRound2(5, 3);
    for (const m of ['alice', 'bob', 'carol', 'dave']) {
      accept(actor, {
        type: 'dkg.confirm',
        member: m,
        transcriptHash: hex(7),
        groupPublicKey: hex(8),
        at: 1_400,
      });
    }
    accept(actor, {
      type: 'dkg.confirm',
      member: 'erin',
      transcriptHash: hex(9),
      groupPublicKey: hex(8),
      at: 1_401,
    });
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('aborted');
    expect(snap.output).toMatchObject({
      status: 'aborted',
      code: 'CONFIRMATION_MISMATCH',
      disagreeing: ['erin'],
    });
    expect(snap.context.outbox.at(-1)).toMatchObject({ kind: 'abort', to: members(5) });
  });

  it('names everybody when no view has a unique majority', () => {
    const actor = throughRound2(2, 2);
    accept(actor, {
      type: 'dkg.confirm',
      member: 'alice',
      transcriptHash: hex(1),
      groupPublicKey: hex(8),
      at: 1_400,
    });
    accept(actor, {
      type: 'dkg.confirm',
      member: 'bob',
      transcriptHash: hex(1),
      groupPublicKey: hex(9),
      at: 1_401,
    });
    expect(actor.getSnapshot().output).toMatchObject({
      code: 'CONFIRMATION_MISMATCH',
      disagreeing: ['alice', 'bob'],
    });
  });

  it.each([
    ['only the member off the relayed view, even in a two-member tie', [true, false], ['bob']],
    ['nobody when no member holds the relayed view', [false, false], []],
  ] as const)('judged against the relayed view, names %s', (_, relayed, disagreeing) => {
    const actor = throughRound2(2, 2);
    ['alice', 'bob'].forEach((member, i) =>
      accept(actor, {
        type: 'dkg.confirm',
        member,
        transcriptHash: hex(1),
        groupPublicKey: hex(8 + i),
        relayed: relayed[i]!,
        at: 1_400 + i,
      }),
    );
    const snap = actor.getSnapshot();
    expect(snap.output).toMatchObject({ code: 'CONFIRMATION_MISMATCH', disagreeing });
    expect(snap.context.confirmations.map((x) => x.relayed)).toEqual(relayed);
  });

  it('falls back to the majority when a confirmation was not judged (an older snapshot)', () => {
    const actor = throughRound2(3, 2);
    const confirm = (member: string, view: number, relayed?: boolean) =>
      accept(actor, {
        type: 'dkg.confirm',
        member,
        transcriptHash: hex(view),
        groupPublicKey: hex(8),
        ...(relayed === undefined ? {} : { relayed }),
        at: 1_400,
      });
    confirm('alice', 1, true);
    confirm('bob', 2);
    confirm('carol', 2, false);
    expect(actor.getSnapshot().output).toMatchObject({ disagreeing: ['alice'] });
  });

  it('aborts with the culprit named when a member reports a bad share', () => {
    const actor = startKey(keyInput(3, 2));
    for (const [i, m] of members(3).entries()) {
      accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(100 + i), at: 1_100 });
    }
    refused(
      actor,
      { type: 'dkg.fail', member: 'alice', culprit: 'mallory', reason: 'x', at: 1_150 },
      'NOT_A_MEMBER',
    );
    accept(actor, { type: 'dkg.round2', member: 'bob', recipients: ['alice', 'carol'], at: 1_200 });
    reportsCulprit(actor, 'alice', 'bob', 'vss_verify failed', 1_300);
    // Nothing from an aborted DKG is reused: it takes no further events.
    refused(
      actor,
      { type: 'dkg.round2', member: 'alice', recipients: ['bob'], at: 1_400 },
      'UNEXPECTED_MESSAGE',
    );
  });

  it('in round 1 a member may only name itself: it refuses the start, and the ceremony ends at once', () => {
    const actor = startKey(keyInput(3, 2));
    accept(actor, { type: 'dkg.round1', member: 'alice', packageHash: hex(1), at: 1_100 });
    // Naming another is a complaint about something nobody has relayed yet.
    refused(
      actor,
      { type: 'dkg.fail', member: 'bob', culprit: 'alice', reason: 'x', at: 1_150 },
      'UNEXPECTED_MESSAGE',
    );
    refused(
      actor,
      { type: 'dkg.fail', member: 'mallory', culprit: 'mallory', reason: 'x', at: 1_150 },
      'NOT_A_MEMBER',
    );
    expect(actor.getSnapshot().value).toBe('waitingForRound1');
    const snap = reportsCulprit(actor, 'bob', 'bob', 'start refused: the roster differs', 1_200);
    // The deadline no longer runs: nobody is named for a round the refusal ended.
    expect(nextDeadline(snap)).toBeNull();
    refused(
      actor,
      { type: 'dkg.round1', member: 'carol', packageHash: hex(3), at: 1_300 },
      'UNEXPECTED_MESSAGE',
    );
  });

  it('aborts TIMEOUT naming the members missing at the deadline', () => {
    const actor = startKey(keyInput(3, 2));
    accept(actor, { type: 'dkg.round1', member: 'alice', packageHash: hex(1), at: 1_100 });
    const due = nextDeadline(actor.getSnapshot());
    expect(due).toBe(11_000);
    refused(actor, { type: 'deadline.reached', at: 10_999 }, 'DEADLINE_NOT_REACHED');
    accept(actor, { type: 'deadline.reached', at: 11_000 });
    expect(actor.getSnapshot().output).toEqual({
      status: 'aborted',
      code: 'TIMEOUT',
      round: 1,
      missing: ['bob', 'carol'],
      at: 11_000,
    });
  });

  it('a timeout in the confirmation round reports a mismatch seen so far', () => {
    const actor = throughRound2(3, 2);
    accept(actor, {
      type: 'dkg.confirm',
      member: 'alice',
      transcriptHash: hex(1),
      groupPublicKey: hex(8),
      at: 1_400,
    });
    accept(actor, {
      type: 'dkg.confirm',
      member: 'bob',
      transcriptHash: hex(2),
      groupPublicKey: hex(8),
      at: 1_400,
    });
    accept(actor, { type: 'deadline.reached', at: 50_000 });
    expect(actor.getSnapshot().output).toMatchObject({ code: 'CONFIRMATION_MISMATCH' });
  });

  it('refuses out-of-order, duplicate and reused round-1 packages', () => {
    const actor = startKey(keyInput(3, 2, { priorPackageHashes: [hex(66)] }));
    refused(
      actor,
      { type: 'dkg.round2', member: 'alice', recipients: ['bob'], at: 1_100 },
      'UNEXPECTED_MESSAGE',
    );
    refused(
      actor,
      {
        type: 'dkg.confirm',
        member: 'alice',
        transcriptHash: hex(1),
        groupPublicKey: hex(2),
        at: 1_100,
      },
      'UNEXPECTED_MESSAGE',
    );
    refused(
      actor,
      { type: 'dkg.fail', member: 'alice', culprit: 'bob', reason: 'x', at: 1_100 },
      'UNEXPECTED_MESSAGE',
    );
    refused(
      actor,
      { type: 'dkg.round1', member: 'alice', packageHash: hex(66), at: 1_100 },
      'COMMITMENT_REUSED',
    );
    accept(actor, { type: 'dkg.round1', member: 'alice', packageHash: hex(1), at: 1_100 });
    refused(
      actor,
      { type: 'dkg.round1', member: 'alice', packageHash: hex(2), at: 1_100 },
      'DUPLICATE',
    );
    refused(
      actor,
      { type: 'dkg.round1', member: 'bob', packageHash: hex(1), at: 1_100 },
      'COMMITMENT_REUSED',
    );
    refused(
      actor,
      { type: 'dkg.round1', member: 'mallory', packageHash: hex(3), at: 1_100 },
      'NOT_A_MEMBER',
    );
    refused(
      actor,
      { type: 'dkg.round1', member: 'bob', packageHash: 'XYZ', at: 1_100 } as never,
      'INVALID_EVENT',
    );
  });

  it('aborts on cancellation and on revocation of a member', () => {
    const a = startKey(keyInput(3, 2, { kind: 'refresh' }));
    expect(a.getSnapshot().context.kind).toBe('refresh');
    accept(a, { type: 'ceremony.cancel', by: 'admin', reason: 'typo in group', at: 1_100 });
    expect(a.getSnapshot().output).toMatchObject({ code: 'CANCELLED' });
    const b = throughRound2(3, 2);
    accept(b, { type: 'member.revoked', member: 'carol', at: 1_500 });
    expect(b.getSnapshot().output).toMatchObject({ code: 'MEMBER_REVOKED', member: 'carol' });
  });
});

describe('dkg.fail: who may be named', () => {
  // The client reports a failure it cannot pin on a member (a coordinator fault, an unattributed
  // check) as its own view: culprit = itself (client failCulprit). That report must abort the
  // ceremony at once and blame nobody; refusing it left the ceremony to time out and then named
  // the honest reporter among the missing.
  it('accepts a self-report as an unattributed failure and aborts at once', () => {
    const actor = startKey(keyInput(3, 2));
    for (const [i, m] of members(3).entries()) {
      accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(100 + i), at: 1_100 });
    }
    accept(actor, {
      type: 'dkg.fail',
      member: 'alice',
      culprit: 'alice',
      reason: 'round-1 packages do not match the roster',
      at: 1_150,
    });
    expect(actor.getSnapshot().value).toBe('aborted');
    expect(actor.getSnapshot().output).toMatchObject({
      code: 'CULPRIT_REPORTED',
      culprit: 'alice',
      reportedBy: 'alice',
    });
  });

  // Only a dealer sent anything to verify: naming a member that deals nothing (the repaired
  // member, a new committee member of a reshare) would blame someone who cannot have cheated.
  it('refuses a culprit that deals nothing in this ceremony (NOT_A_MEMBER)', () => {
    const actor = startKey(
      keyInput(5, 3, {
        ceremonyId: 'repair-2',
        kind: 'repair',
        group: { members: ['alice', 'bob', 'carol', 'erin'], threshold: 3 },
        dealers: ['alice', 'bob', 'carol'],
        recipients: ['erin'],
        confirmers: ['alice', 'bob', 'carol', 'erin'],
      }),
    );
    ['alice', 'bob', 'carol'].forEach((m, i) =>
      accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(300 + i), at: 1_100 }),
    );
    refused(
      actor,
      { type: 'dkg.fail', member: 'alice', culprit: 'erin', reason: 'x', at: 1_150 },
      'NOT_A_MEMBER',
    );
    accept(actor, { type: 'dkg.fail', member: 'erin', culprit: 'bob', reason: 'x', at: 1_150 });
    expect(actor.getSnapshot().output).toMatchObject({ culprit: 'bob', reportedBy: 'erin' });
  });
});
