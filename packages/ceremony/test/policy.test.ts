// The policy's approval rule in the signing machine (docs/policy.md): a session opens only once the
// policy's quorum and required roles are among the approvers, still with exactly t signers; an
// unreachable policy rejects, an expired window names what was missing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  checkEvent,
  persist,
  policyGap,
  restore,
  signingMachine,
  type SigningInput,
} from '../src/index.js';
import {
  accept,
  effects,
  hex,
  lastSession,
  NAMES,
  numRuns,
  signingInput,
  startSigning,
} from './helpers.js';

const approve = (member: string, c: number, at: number) =>
  ({ type: 'sign.approve', member, commitment: hex(c), at }) as const;
const reject = (member: string, at: number) =>
  ({ type: 'sign.reject', member, reason: 'no', at }) as const;

const roles = { alice: ['lead'], bob: ['lead'], carol: ['security'], dave: ['lead', 'security'] };

const input = (over: Partial<SigningInput> = {}): SigningInput =>
  signingInput(5, 2, { group: { members: NAMES.slice(0, 5), threshold: 2, roles }, ...over });

describe('signing policy: quorum', () => {
  it('waits for the policy quorum above the threshold, then opens a session of exactly t', () => {
    const actor = startSigning(input({ policy: { quorum: 3, requiredRoles: [] } }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    // t = 2 fresh approvers, but the policy wants 3 approvals: no session yet.
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    expect(policyGap(actor.getSnapshot().context)).toEqual({
      missingApprovals: 1,
      missingRoles: [],
    });
    accept(actor, approve('erin', 3, 1_300));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
    const s = lastSession(actor);
    expect(s.participants).toEqual(['alice', 'bob']);
    expect(effects(actor).filter((e) => e.kind === 'startSession')).toHaveLength(1);
  });

  it('a quorum below the threshold changes nothing: t approvals still open the session', () => {
    const actor = startSigning(signingInput(3, 3, { policy: { quorum: 2, requiredRoles: [] } }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    accept(actor, approve('carol', 3, 1_300));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
  });

  it('expires naming the missing approvals when the quorum never comes (quorum below policy)', () => {
    const actor = startSigning(
      input({ policy: { quorum: 4, requiredRoles: [] }, approvalDeadline: 10_000 }),
    );
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, { type: 'deadline.reached', at: 10_000 });
    expect(actor.getSnapshot().value).toBe('expired');
    expect(actor.getSnapshot().output).toEqual({
      status: 'expired',
      at: 10_000,
      policy: { missingApprovals: 2, missingRoles: [] },
    });
  });

  it('is rejected once rejections leave too few members for the quorum', () => {
    const actor = startSigning(input({ policy: { quorum: 4, requiredRoles: [] } }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, reject('bob', 1_200));
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    accept(actor, reject('carol', 1_300));
    // 5 members − 2 rejections = 3 < quorum 4 (t = 2 is still reachable).
    expect(actor.getSnapshot().value).toBe('rejected');
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'rejected',
      rejectedBy: ['bob', 'carol'],
      policy: { missingApprovals: 3 },
    });
  });

  it('the default policy (no input) behaves as before: t approvals, outcomes without a policy gap', () => {
    const actor = startSigning(signingInput(3, 2, { approvalDeadline: 5_000 }));
    expect(actor.getSnapshot().context.policy).toEqual({ quorum: 2, requiredRoles: [] });
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, { type: 'deadline.reached', at: 5_000 });
    expect(actor.getSnapshot().output).toEqual({ status: 'expired', at: 5_000 });
  });
});

describe('signing policy: required roles', () => {
  const securityRule = { quorum: 2, requiredRoles: [{ role: 'security', count: 1 }] };

  it('does not open a session until a `security` approver is among the approvals', () => {
    const actor = startSigning(input({ policy: securityRule }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    expect(policyGap(actor.getSnapshot().context)).toEqual({
      missingApprovals: 0,
      missingRoles: [{ role: 'security', count: 1 }],
    });
    accept(actor, approve('carol', 3, 1_300));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
    // Exactly t signers, earliest approvers first: the security approver approved, it need not sign.
    expect(lastSession(actor).participants).toEqual(['alice', 'bob']);
  });

  it('counts a member holding several roles for each of them', () => {
    const actor = startSigning(
      input({
        policy: {
          quorum: 2,
          requiredRoles: [
            { role: 'security', count: 1 },
            { role: 'lead', count: 2 },
          ],
        },
      }),
    );
    accept(actor, approve('dave', 1, 1_100));
    accept(actor, approve('erin', 2, 1_200));
    expect(policyGap(actor.getSnapshot().context).missingRoles).toEqual([
      { role: 'lead', count: 1 },
    ]);
    accept(actor, approve('alice', 3, 1_300));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
  });

  it('expires naming the missing role (POLICY_ROLE_MISSING at the coordinator)', () => {
    const actor = startSigning(input({ policy: securityRule, approvalDeadline: 9_000 }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, { type: 'deadline.reached', at: 9_000 });
    expect(actor.getSnapshot().output).toEqual({
      status: 'expired',
      at: 9_000,
      policy: { missingApprovals: 0, missingRoles: [{ role: 'security', count: 1 }] },
    });
  });

  it('is rejected when every holder of a required role rejected', () => {
    const actor = startSigning(input({ policy: securityRule }));
    accept(actor, reject('carol', 1_100));
    expect(actor.getSnapshot().value).toBe('collectingApprovals');
    accept(actor, reject('dave', 1_200));
    expect(actor.getSnapshot().value).toBe('rejected');
    expect(actor.getSnapshot().output).toMatchObject({
      policy: { missingRoles: [{ role: 'security', count: 1 }] },
    });
  });

  it('a revoked approver no longer counts for the role; the session waits for another', () => {
    const actor = startSigning(input({ policy: securityRule }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('carol', 2, 1_200));
    // alice and carol are in session 1; revoking carol (the security approver) abandons it.
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
    accept(actor, { type: 'member.revoked', member: 'carol', at: 1_300 });
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    expect(policyGap(actor.getSnapshot().context).missingRoles).toEqual([
      { role: 'security', count: 1 },
    ]);
    accept(actor, approve('bob', 3, 1_400));
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(4), at: 1_500 });
    // t fresh approvers (bob, alice) but no security approver left among the approvals.
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    accept(actor, approve('dave', 5, 1_600));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
  });

  it('an approver excluded for a timeout still counts: its approval was given', () => {
    const actor = startSigning(input({ policy: securityRule }));
    accept(actor, approve('carol', 1, 1_100));
    accept(actor, approve('alice', 2, 1_200));
    const s1 = lastSession(actor);
    accept(actor, {
      type: 'round2.share',
      member: 'alice',
      sessionId: s1.id,
      valid: true,
      at: 1_300,
    });
    accept(actor, { type: 'deadline.reached', at: s1.deadline });
    // carol timed out and is excluded, but her approval stands: bob + a recommitting alice sign.
    accept(actor, approve('bob', 3, s1.deadline + 10));
    accept(actor, {
      type: 'sign.recommit',
      member: 'alice',
      commitment: hex(4),
      at: s1.deadline + 20,
    });
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
    expect(lastSession(actor).participants).toEqual(['alice', 'bob']);
  });
});

describe('signing policy: revocation after an exclusion', () => {
  // B.30: a revoked identity no longer speaks for anyone, whatever it was excluded for before.
  it('a member excluded for a timeout, then revoked, no longer counts toward the quorum', () => {
    const actor = startSigning(input({ policy: { quorum: 3, requiredRoles: [] } }));
    accept(actor, approve('alice', 1, 1_100));
    accept(actor, approve('bob', 2, 1_200));
    accept(actor, approve('erin', 3, 1_300));
    const s1 = lastSession(actor);
    expect(s1.participants).toEqual(['alice', 'bob']);
    accept(actor, {
      type: 'round2.share',
      member: 'alice',
      sessionId: s1.id,
      valid: true,
      at: 1_400,
    });
    accept(actor, { type: 'deadline.reached', at: s1.deadline });
    expect(actor.getSnapshot().context.excluded).toMatchObject([
      { member: 'bob', reason: 'timeout' },
    ]);
    accept(actor, { type: 'member.revoked', member: 'bob', at: s1.deadline + 10 });
    expect(policyGap(actor.getSnapshot().context)).toEqual({
      missingApprovals: 1,
      missingRoles: [],
    });
    accept(actor, {
      type: 'sign.recommit',
      member: 'alice',
      commitment: hex(4),
      at: s1.deadline + 20,
    });
    // alice and erin hold fresh commitments (t = 2), but only 2 approvals still count.
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    accept(actor, approve('carol', 5, s1.deadline + 30));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
  });

  it('a role holder excluded for a bad share, then revoked, no longer meets the role', () => {
    const actor = startSigning(
      input({ policy: { quorum: 2, requiredRoles: [{ role: 'security', count: 1 }] } }),
    );
    accept(actor, approve('carol', 1, 1_100));
    accept(actor, approve('alice', 2, 1_200));
    const s1 = lastSession(actor);
    accept(actor, {
      type: 'round2.share',
      member: 'carol',
      sessionId: s1.id,
      valid: false,
      at: 1_300,
    });
    expect(actor.getSnapshot().context.excluded).toMatchObject([
      { member: 'carol', reason: 'invalid_share' },
    ]);
    accept(actor, { type: 'member.revoked', member: 'carol', at: 1_400 });
    expect(policyGap(actor.getSnapshot().context).missingRoles).toEqual([
      { role: 'security', count: 1 },
    ]);
    accept(actor, approve('bob', 3, 1_500));
    accept(actor, { type: 'sign.recommit', member: 'alice', commitment: hex(4), at: 1_600 });
    // t fresh approvers (alice, bob), but the only security approver is revoked.
    expect(actor.getSnapshot().value).toEqual({ signing: 'awaitingCommitments' });
    accept(actor, approve('dave', 5, 1_700));
    expect(actor.getSnapshot().value).toEqual({ signing: 'inSession' });
  });
});

describe('signing policy: input and persistence', () => {
  it('refuses a quorum larger than the group', () => {
    const actor = createActor(signingMachine, {
      input: signingInput(3, 2, { policy: { quorum: 4, requiredRoles: [] } }),
    });
    // Without an error listener xstate rethrows the input error as an uncaught exception.
    actor.subscribe({ error: () => undefined });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
  });

  it('survives persist → restore with the policy in the context', () => {
    const actor = startSigning(input({ policy: { quorum: 3, requiredRoles: [] } }));
    accept(actor, approve('alice', 1, 1_100));
    const restored = restore(signingMachine, persist(actor));
    expect(restored.getSnapshot().context.policy).toEqual({ quorum: 3, requiredRoles: [] });
    restored.send(approve('bob', 2, 1_200));
    expect(restored.getSnapshot().value).toBe('collectingApprovals');
  });

  it('a snapshot from before policies (no policy in context) runs with the default rule', () => {
    const actor = startSigning(signingInput(3, 2));
    const json = JSON.parse(persist(actor)) as { context: Record<string, unknown> };
    delete json.context['policy'];
    const restored = restore(signingMachine, JSON.stringify(json));
    restored.send(approve('alice', 1, 1_100));
    restored.send(approve('bob', 2, 1_200));
    expect(restored.getSnapshot().value).toEqual({ signing: 'inSession' });
  });

  it('property: a session never opens before the policy is met, and always has exactly t signers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 14 }),
        fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        (n0, t0, q0, order, isSecurity) => {
          const n = Math.max(n0, 2);
          const t = Math.min(t0, n);
          const quorum = Math.min(Math.max(q0, 2), n);
          const members = NAMES.slice(0, n);
          const roleMap = Object.fromEntries(
            members.filter((_, i) => isSecurity[i] === true).map((m) => [m, ['security']]),
          );
          const requiredRoles =
            Object.keys(roleMap).length > 0 ? [{ role: 'security', count: 1 }] : [];
          const actor = startSigning({
            ...signingInput(n, t),
            group: { members, threshold: t, roles: roleMap },
            policy: { quorum, requiredRoles },
          });
          let c = 1;
          for (const i of order) {
            const m = members[i % n]!;
            const event = approve(m, c++, 1_000 + c);
            if (!checkEvent(actor.getSnapshot(), event).ok) continue;
            const before = actor.getSnapshot().context;
            actor.send(event);
            const after = actor.getSnapshot().context;
            if (after.sessions.length > before.sessions.length) {
              const approvers = after.approvals.map((a) => a.member);
              expect(approvers.length).toBeGreaterThanOrEqual(Math.max(t, quorum));
              if (requiredRoles.length > 0) {
                expect(approvers.some((a) => roleMap[a] !== undefined)).toBe(true);
              }
              expect(after.sessions.at(-1)!.participants).toHaveLength(t);
            }
          }
        },
      ),
      { numRuns: numRuns() },
    );
  });
});
