import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { checkEvent, nextDeadline, signingMachine } from '../src/index.js';
import {
  accept,
  assertCommitmentsSingleUse,
  effects,
  hex,
  lastSession,
  NAMES,
  refused,
  signingInput,
  simulate,
  startSigning,
} from './helpers.js';

const approve = (member: string, c: number, at: number) =>
  ({ type: 'sign.approve', member, commitment: hex(c), at }) as const;
const share = (member: string, sessionId: string, at: number, valid = true) =>
  ({ type: 'round2.share', member, sessionId, valid, at }) as const;

describe('signing ceremony: happy paths', () => {
  it('completes 2-of-3 with the first two approvers and records the outbox in order', () => {
    const actor = startSigning(signingInput(3, 2));
    expect(actor.getSnapshot().value).toBe('requested');
    expect(effects(actor).map((e) => e.kind)).toEqual(['notify']);

    accept(actor, approve('carol', 1, 1_100));
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    accept(actor, approve('alice', 2, 1_200));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });

    const s = lastSession(actor);
    expect(s).toMatchObject({
      id: 'cer-1/s1',
      participants: ['carol', 'alice'],
      commitments: { carol: hex(1), alice: hex(2) },
      startedAt: 1_200,
      deadline: 6_200,
    });
    expect(actor.getSnapshot().context.freshCommitments).toEqual({});
    expect(nextDeadline(actor.getSnapshot())).toBe(6_200);

    accept(actor, share('alice', s.id, 1_300));
    accept(actor, share('carol', s.id, 1_400));
    expect(actor.getSnapshot().value).toEqual({ signing: 'aggregating' });
    expect(nextDeadline(actor.getSnapshot())).toBeNull();
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s.id,
      ok: true,
      culprits: [],
      at: 1_500,
    });

    const snap = actor.getSnapshot();
    expect(snap.value).toBe('completed');
    expect(snap.status).toBe('done');
    expect(snap.output).toEqual({
      status: 'completed',
      sessionId: 'cer-1/s1',
      signers: ['carol', 'alice'],
      at: 1_500,
    });
    expect(snap.context.outbox.map((e) => [e.seq, e.kind])).toEqual([
      [1, 'notify'],
      [2, 'startSession'],
      [3, 'aggregate'],
      [4, 'complete'],
      [5, 'close'],
    ]);
    expect(nextDeadline(snap)).toBeNull();
  });

  it('signs two phases: after phase 1 every approver recommits, phase 2 runs its own session', () => {
    const actor = startSigning(signingInput(3, 2, { phases: 2 }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, approve('carol', 3, 1_250));
    const s1 = lastSession(actor);
    expect(s1).toMatchObject({ phase: 1, participants: ['alice', 'bob'] });
    accept(actor, share('alice', s1.id, 1_300));
    accept(actor, share('bob', s1.id, 1_310));
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s1.id,
      ok: true,
      culprits: [],
      at: 1_320,
    });
    let snap = actor.getSnapshot();
    expect(snap.value).toEqual({ signing: 'awaitingCommitments' });
    expect(snap.context.phase).toBe(2);
    // carol's unused phase-1 commitment was for phase-1 jobs: dropped.
    expect(snap.context.freshCommitments).toEqual({});
    expect(snap.context.outbox.at(-1)).toMatchObject({
      kind: 'phaseComplete',
      phase: 1,
      recommit: ['alice', 'bob', 'carol'],
    });
    refused(
      actor,
      { type: 'sign.recommit', member: 'alice', commitment: hex(1), at: 1_330 },
      'COMMITMENT_REUSED',
    );
    accept(actor, { type: 'sign.recommit', member: 'carol', commitment: hex(13), at: 1_340 });
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(11), at: 1_350 });
    const s2 = lastSession(actor);
    expect(s2).toMatchObject({ phase: 2, index: 2, participants: ['alice', 'carol'] });
    accept(actor, share('alice', s2.id, 1_400));
    accept(actor, share('carol', s2.id, 1_410));
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s2.id,
      ok: true,
      culprits: [],
      at: 1_420,
    });
    snap = actor.getSnapshot();
    expect(snap.value).toBe('completed');
    expect(snap.output).toMatchObject({ status: 'completed', sessionId: s2.id });
    assertCommitmentsSingleUse(actor);
  });

  it('completes 3-of-5 and lets a late approver join the pool without disturbing the session', () => {
    const { actor, performed } = simulate({ n: 5, t: 3, behaviours: [] });
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('completed');
    expect(snap.context.sessions).toHaveLength(1);
    expect(snap.context.outcome).toMatchObject({ signers: ['alice', 'bob', 'carol'] });
    expect(performed.filter((e) => e.kind === 'startSession')).toHaveLength(1);
    expect(snap.context.culprits).toEqual([]);
  });
});

describe('signing ceremony: ROAST robustness', () => {
  it('drops a signer that times out after committing and completes without it', () => {
    const actor = startSigning(signingInput(3, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, approve('carol', 3, 1_300)); // joins the pool while s1 runs
    const s1 = lastSession(actor);
    expect(s1.participants).toEqual(['alice', 'bob']);
    accept(actor, share('alice', s1.id, 1_400));

    refused(actor, { type: 'deadline.reached', at: s1.deadline - 1 }, 'DEADLINE_NOT_REACHED');
    accept(actor, { type: 'deadline.reached', at: s1.deadline });

    const ctx = actor.getSnapshot().context;
    expect(ctx.excluded).toEqual([
      { member: 'bob', reason: 'timeout', sessionId: s1.id, at: s1.deadline },
    ]);
    expect(ctx.culprits).toEqual(['bob']);
    expect(effects(actor).at(-1)).toMatchObject({
      kind: 'abandonSession',
      sessionId: s1.id,
      reason: 'timeout',
      culprits: ['bob'],
      recommit: ['alice'],
    });
    // alice's commitment is spent: no session until she commits afresh.
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    refused(
      actor,
      { type: 'sign.recommit', member: 'alice', commitment: hex(1), at: 6_400 },
      'COMMITMENT_REUSED',
    );
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(4), at: 6_500 });

    const s2 = lastSession(actor);
    expect(s2.id).toBe('cer-1/s2');
    expect(s2.participants).toEqual(['alice', 'carol']);
    expect(s2.commitments).toEqual({ alice: hex(4), carol: hex(3) });
    refused(actor, share('alice', s1.id, 6_600), 'STALE_SESSION');
    refused(actor, share('bob', s2.id, 6_600), 'NOT_IN_SESSION');
    refused(actor, approve('bob', 6, 6_600), 'DUPLICATE');
    accept(actor, share('carol', s2.id, 6_700));
    accept(actor, share('alice', s2.id, 6_800));
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s2.id,
      ok: true,
      culprits: [],
      at: 6_900,
    });
    expect(actor.getSnapshot().value).toBe('completed');
    assertCommitmentsSingleUse(actor);
  });

  it('names a corrupted share as culprit, excludes it and still completes', () => {
    const actor = startSigning(signingInput(3, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    const s1 = lastSession(actor);
    accept(actor, share('bob', s1.id, 1_300, false));
    expect(actor.getSnapshot().context.excluded).toEqual([
      { member: 'bob', reason: 'invalid_share', sessionId: s1.id, at: 1_300 },
    ]);
    expect(actor.getSnapshot().context.culprits).toEqual(['bob']);
    accept(actor, approve('carol', 3, 1_400));
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(5), at: 1_500 });
    const s2 = lastSession(actor);
    expect(s2.participants).toEqual(['alice', 'carol']);
    accept(actor, share('alice', s2.id, 1_600));
    accept(actor, share('carol', s2.id, 1_700));
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s2.id,
      ok: true,
      culprits: [],
      at: 1_800,
    });
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'completed',
      signers: ['alice', 'carol'],
    });
    expect(actor.getSnapshot().context.culprits).toEqual(['bob']);
  });

  it('excludes culprits named by the aggregator and opens a new session', () => {
    const { actor } = simulate({
      n: 4,
      t: 2,
      behaviours: ['aggCulprit', 'honest', 'honest', 'honest'],
    });
    const ctx = actor.getSnapshot().context;
    expect(actor.getSnapshot().value).toBe('completed');
    expect(ctx.excluded).toMatchObject([{ member: 'alice', reason: 'invalid_share' }]);
    expect(ctx.sessions.map((s) => s.status)).toEqual(['abandoned', 'succeeded']);
  });

  it('aborts AGGREGATE_INVALID when all shares verified but the aggregate does not', () => {
    const actor = startSigning(signingInput(2, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    const s = lastSession(actor);
    accept(actor, share('alice', s.id, 1_300));
    accept(actor, share('bob', s.id, 1_300));
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s.id,
      ok: false,
      culprits: [],
      at: 1_400,
    });
    expect(actor.getSnapshot().value).toBe('aborted');
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'aborted',
      code: 'AGGREGATE_INVALID',
    });
  });

  it.each([
    [3, 2],
    [5, 3],
    [7, 4],
  ])('%i members, t=%i: n−t disruptive signers → completes within n−t+1 sessions', (n, t) => {
    const bad = n - t;
    const behaviours = Array.from({ length: n }, (_, i) =>
      i < bad ? (i % 2 === 0 ? 'invalid' : 'timeout') : 'honest',
    ) as ('invalid' | 'timeout' | 'honest')[];
    const { actor } = simulate({ n, t, behaviours });
    const ctx = actor.getSnapshot().context;
    expect(actor.getSnapshot().value).toBe('completed');
    expect(ctx.sessions.length).toBeLessThanOrEqual(n - t + 1);
    expect(ctx.sessions.length).toBeGreaterThan(1);
    const faulty = NAMES.slice(0, n).filter((_, i) => behaviours[i] !== 'honest');
    expect([...ctx.culprits].sort()).toEqual([...faulty].sort());
    assertCommitmentsSingleUse(actor);
  });

  it.each([
    [3, 2],
    [5, 3],
  ])('%i members, t=%i: n−t+1 disruptive signers → INSUFFICIENT_HONEST_SIGNERS', (n, t) => {
    const bad = n - t + 1;
    const behaviours = Array.from({ length: n }, (_, i) =>
      i < bad ? (i % 2 === 0 ? 'timeout' : 'invalid') : 'honest',
    ) as ('invalid' | 'timeout' | 'honest')[];
    const { actor } = simulate({ n, t, behaviours });
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('aborted');
    expect(snap.output).toMatchObject({ status: 'aborted', code: 'INSUFFICIENT_HONEST_SIGNERS' });
    if (snap.output?.status !== 'aborted') throw new Error('unreachable');
    expect(snap.output.culprits).toHaveLength(bad);
    expect(snap.context.sessions.length).toBeLessThanOrEqual(n - t + 1);
  });

  it('abandons the session at once when a signer declines, excluding it without blame', () => {
    const actor = startSigning(signingInput(3, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    const s1 = lastSession(actor);
    const decline = (member: string, sessionId: string, at: number) =>
      ({
        type: 'round2.decline',
        member,
        sessionId,
        detail: 'SIGNING_REFUSED: keyCreatedAt differs from the pinned one',
        at,
      }) as const;
    // Only a participant of the open session who has not sent a share may decline it.
    refused(actor, decline('carol', s1.id, 1_250), 'NOT_IN_SESSION');
    refused(actor, decline('bob', 'cer-1/s9', 1_250), 'UNKNOWN_SESSION');
    accept(actor, share('alice', s1.id, 1_260));
    refused(actor, decline('alice', s1.id, 1_270), 'DUPLICATE');
    accept(actor, decline('bob', s1.id, 1_300));
    const ctx = actor.getSnapshot().context;
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    expect(ctx.excluded).toEqual([
      {
        member: 'bob',
        reason: 'declined',
        sessionId: s1.id,
        at: 1_300,
        detail: 'SIGNING_REFUSED: keyCreatedAt differs from the pinned one',
      },
    ]);
    expect(ctx.culprits).toEqual([]);
    expect(ctx.sessions[0]).toMatchObject({ status: 'abandoned', endReason: 'declined' });
    expect(ctx.outbox.at(-1)).toMatchObject({
      kind: 'abandonSession',
      reason: 'declined',
      culprits: [],
      recommit: ['alice'],
    });
    // The session is over: a late decline of it, or any word from bob, is refused.
    refused(actor, decline('bob', s1.id, 1_310), 'STALE_SESSION');
    refused(
      actor,
      { type: 'sign.recommit', member: 'bob', commitment: hex(9), at: 1_320 },
      'EXCLUDED',
    );
    accept(actor, approve('carol', 3, 1_400));
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(5), at: 1_500 });
    const s2 = lastSession(actor);
    expect(s2.participants).toEqual(['alice', 'carol']);
    accept(actor, share('alice', s2.id, 1_600));
    accept(actor, share('carol', s2.id, 1_700));
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s2.id,
      ok: true,
      culprits: [],
      at: 1_800,
    });
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'completed',
      signers: ['alice', 'carol'],
    });
  });

  it('abandons the session when a participant is revoked, without naming it a culprit', () => {
    const actor = startSigning(signingInput(3, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, approve('carol', 3, 1_250));
    const s1 = lastSession(actor);
    accept(actor, { type: 'member.revoked', member: 'bob', at: 1_300 });
    const ctx = actor.getSnapshot().context;
    expect(ctx.excluded).toMatchObject([{ member: 'bob', reason: 'revoked', sessionId: s1.id }]);
    expect(ctx.culprits).toEqual([]);
    refused(actor, { type: 'member.revoked', member: 'bob', at: 1_310 }, 'EXCLUDED');
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(9), at: 1_400 });
    expect(lastSession(actor).participants).toEqual(['alice', 'carol']);
    accept(actor, { type: 'member.revoked', member: 'carol', at: 1_500 });
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'aborted',
      code: 'INSUFFICIENT_HONEST_SIGNERS',
    });
  });
});

describe('signing ceremony: rejection, expiry, cancellation', () => {
  it('is rejected as soon as t approvals become impossible', () => {
    const actor = startSigning(signingInput(5, 3));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, { type: 'sign.reject', member: 'bob', reason: 'wrong version', at: 1_200 });
    accept(actor, { type: 'sign.reject', member: 'carol', reason: 'not reviewed', at: 1_300 });
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    accept(actor, { type: 'sign.reject', member: 'dave', reason: 'no', at: 1_400 });
    expect(actor.getSnapshot().value).toBe('rejected');
    expect(actor.getSnapshot().output).toEqual({
      status: 'rejected',
      rejectedBy: ['bob', 'carol', 'dave'],
      at: 1_400,
    });
    expect(effects(actor).at(-1)).toMatchObject({ kind: 'close', outcome: { status: 'rejected' } });
  });

  it('expires when the runner fires the approval deadline', () => {
    const actor = startSigning(signingInput(3, 2, { approvalDeadline: 60_000 }));
    expect(nextDeadline(actor.getSnapshot())).toBe(60_000);
    accept(actor, approve('alice', 1, 1_100));
    refused(actor, { type: 'deadline.reached', at: 59_999 }, 'DEADLINE_NOT_REACHED');
    accept(actor, { type: 'deadline.reached', at: 60_001 });
    expect(actor.getSnapshot().value).toBe('expired');
    expect(actor.getSnapshot().output).toEqual({ status: 'expired', at: 60_001 });
  });

  it('gives survivors of an abandoned session one session timeout to recommit, then expires', () => {
    const actor = startSigning(
      signingInput(3, 2, { approvalDeadline: 5_000, sessionTimeoutMs: 2_000 }),
    );
    accept(actor, approve('alice', 1, 4_000));
    accept(actor, approve('bob', 2, 4_100));
    const s1 = lastSession(actor);
    accept(actor, share('alice', s1.id, 4_200));
    accept(actor, { type: 'deadline.reached', at: s1.deadline }); // 6_100, past approval deadline
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    expect(nextDeadline(actor.getSnapshot())).toBe(8_100);
    accept(actor, { type: 'deadline.reached', at: 8_100 });
    expect(actor.getSnapshot().value).toBe('expired');
  });

  it('is cancelled from any open state and abandons the running session', () => {
    const actor = startSigning(signingInput(3, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, { type: 'ceremony.cancel', by: 'admin', reason: 'wrong artifact', at: 1_300 });
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('cancelled');
    expect(snap.context.sessions.at(-1)?.status).toBe('abandoned');
    expect(snap.output).toEqual({
      status: 'cancelled',
      by: 'admin',
      reason: 'wrong artifact',
      at: 1_300,
    });
  });
});

describe('signing ceremony: out-of-order and unexpected events make no transition', () => {
  it('refuses each with its code', () => {
    const actor = startSigning(signingInput(3, 2));
    refused(actor, share('alice', 'cer-1/s1', 1_050), 'UNEXPECTED_MESSAGE');
    refused(
      actor,
      { type: 'sign.recommit', member: 'alice', commitment: hex(7), at: 1_050 },
      'UNEXPECTED_MESSAGE',
    );
    refused(
      actor,
      { type: 'session.aggregated', sessionId: 'cer-1/s1', ok: true, culprits: [], at: 1_050 },
      'UNEXPECTED_MESSAGE',
    );
    refused(actor, approve('mallory', 1, 1_050), 'NOT_A_MEMBER');
    refused(actor, { type: 'outbox.flushed', upTo: 2 }, 'UNEXPECTED_MESSAGE');

    accept(actor, approve('alice', 1, 1_100));
    refused(actor, approve('alice', 2, 1_150), 'DUPLICATE');
    refused(
      actor,
      { type: 'sign.reject', member: 'alice', reason: 'changed my mind', at: 1_150 },
      'DUPLICATE',
    );
    refused(actor, approve('bob', 1, 1_150), 'COMMITMENT_REUSED');
    accept(actor, approve('bob', 2, 1_200));
    const s = lastSession(actor);
    refused(actor, share('carol', s.id, 1_250), 'NOT_IN_SESSION');
    refused(actor, share('alice', 'cer-1/s9', 1_250), 'UNKNOWN_SESSION');
    refused(
      actor,
      { type: 'sign.recommit', member: 'carol', commitment: hex(8), at: 1_250 },
      'NOT_AN_APPROVER',
    );
    accept(actor, share('alice', s.id, 1_300));
    refused(actor, share('alice', s.id, 1_310), 'DUPLICATE');
    refused(
      actor,
      { type: 'session.aggregated', sessionId: s.id, ok: true, culprits: [], at: 1_320 },
      'UNEXPECTED_MESSAGE',
    );
    refused(
      actor,
      { type: 'round2.share', member: 'bob', sessionId: s.id, valid: true, at: -1 } as never,
      'INVALID_EVENT',
    );
    refused(
      actor,
      { type: 'sign.approve', member: '__proto__', commitment: hex(3), at: 1 } as never,
      'INVALID_EVENT',
    );
    refused(
      actor,
      {
        type: 'round2.share',
        member: 'bob',
        sessionId: s.id,
        valid: true,
        at: 1_330,
        extra: 1,
      } as never,
      'INVALID_EVENT',
    );
    accept(actor, share('bob', s.id, 1_400));
    refused(actor, { type: 'deadline.reached', at: 99_999_999 }, 'UNEXPECTED_MESSAGE');
    refused(
      actor,
      { type: 'session.aggregated', sessionId: s.id, ok: true, culprits: ['alice'], at: 1_450 },
      'INVALID_EVENT',
    );
    refused(
      actor,
      { type: 'session.aggregated', sessionId: s.id, ok: false, culprits: ['carol'], at: 1_450 },
      'NOT_IN_SESSION',
    );
    accept(actor, {
      type: 'session.aggregated',
      sessionId: s.id,
      ok: true,
      culprits: [],
      at: 1_500,
    });

    // After a final state nothing is accepted.
    refused(actor, share('alice', s.id, 1_600), 'UNEXPECTED_MESSAGE');
    refused(actor, approve('carol', 3, 1_600), 'UNEXPECTED_MESSAGE');
    refused(
      actor,
      { type: 'ceremony.cancel', by: 'admin', reason: 'late', at: 1_600 },
      'UNEXPECTED_MESSAGE',
    );
  });

  it('drains the outbox only forward', () => {
    const actor = startSigning(signingInput(3, 2));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    expect(effects(actor).map((e) => e.seq)).toEqual([1, 2]);
    accept(actor, { type: 'outbox.flushed', upTo: 1 });
    expect(effects(actor).map((e) => e.seq)).toEqual([2]);
    refused(actor, { type: 'outbox.flushed', upTo: 1 }, 'DUPLICATE');
    accept(actor, { type: 'outbox.flushed', upTo: 2 });
    expect(effects(actor)).toEqual([]);
    expect(actor.getSnapshot().context.nextSeq).toBe(3);
  });

  it('agrees with the machine: a refused event is exactly one the guards ignore', () => {
    const actor = createActor(signingMachine, { input: signingInput(3, 2) }).start();
    const probe = share('alice', 'cer-1/s1', 1_100);
    expect(checkEvent(actor.getSnapshot(), probe)).toMatchObject({ ok: false });
    expect(actor.getSnapshot().can(probe)).toBe(false);
    const fine = approve('alice', 1, 1_100);
    expect(checkEvent(actor.getSnapshot(), fine)).toEqual({ ok: true });
    expect(actor.getSnapshot().can(fine)).toBe(true);
  });

  it('refuses invalid input at creation', () => {
    const actor = createActor(signingMachine, {
      input: signingInput(3, 4),
    });
    actor.subscribe({ error: () => undefined });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
  });
});
