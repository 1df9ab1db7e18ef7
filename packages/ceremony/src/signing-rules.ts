// The signing ceremony's rules as pure functions over its context: what is acceptable in which phase,
// and how each accepted event changes the context. The machine (signing-machine.ts) only wires them up.
import type { CheckResult } from './check.js';
import { accept, refuse } from './check.js';
import type { OutboxState } from './outbox.js';
import { checkFlush, drain, emit } from './outbox.js';
import { z } from 'zod';
import type { Group, RoleRequirement, SigningEvent, SigningPolicy } from './schemas.js';
import { SigningEventSchema } from './schemas.js';

/**
 * Why a member was excluded. `declined`: it refused a session's package (`round2.decline`) and
 * said why; like `revoked`, never a culprit.
 */
export type ExclusionReason = 'timeout' | 'invalid_share' | 'revoked' | 'declined';

export interface Approval {
  readonly member: string;
  readonly at: number;
}
export interface Rejection {
  readonly member: string;
  readonly reason: string;
  readonly at: number;
}
export interface Exclusion {
  readonly member: string;
  readonly reason: ExclusionReason;
  /** The session the member failed in; null for a revocation outside a session. */
  readonly sessionId: string | null;
  readonly at: number;
  /** `declined`: the code and reason the member gave. */
  readonly detail?: string;
}

export type SessionStatus = 'open' | 'aggregating' | 'succeeded' | 'abandoned';

export interface SigningSession {
  readonly id: string;
  /** 1-based. */
  readonly index: number;
  /** Which phase's jobs this session signs (1, or 2 for formats that chain). */
  readonly phase: number;
  readonly participants: readonly string[];
  /** member → commitment; every commitment here is spent and never used again. */
  readonly commitments: Readonly<Record<string, string>>;
  readonly startedAt: number;
  /** Absolute time at which missing shares count as timeouts. */
  readonly deadline: number;
  /** Members whose share arrived and verified. */
  readonly shares: readonly string[];
  readonly status: SessionStatus;
  readonly endedAt: number | null;
  readonly endReason: ExclusionReason | 'aggregate_invalid' | null;
}

export type SigningAbortCode = 'INSUFFICIENT_HONEST_SIGNERS' | 'AGGREGATE_INVALID';

/** What the policy still waits for: approvals short of its quorum, roles short among approvers. */
export interface PolicyGap {
  readonly missingApprovals: number;
  readonly missingRoles: readonly RoleRequirement[];
}

export type SigningOutcome =
  | {
      readonly status: 'completed';
      readonly sessionId: string;
      readonly signers: readonly string[];
      readonly at: number;
    }
  | {
      readonly status: 'rejected';
      readonly rejectedBy: readonly string[];
      readonly at: number;
      /** Set when the policy (quorum or roles) can no longer be met. */
      readonly policy?: PolicyGap;
    }
  | {
      readonly status: 'expired';
      readonly at: number;
      /** Set when the window closed with the policy's approvals still missing. */
      readonly policy?: PolicyGap;
    }
  | {
      readonly status: 'cancelled';
      readonly by: string;
      readonly reason: string;
      readonly at: number;
    }
  | {
      readonly status: 'aborted';
      readonly code: SigningAbortCode;
      readonly culprits: readonly string[];
      readonly at: number;
    };

interface EffectBase {
  readonly seq: number;
}
export type SigningEffect =
  | (EffectBase & {
      readonly kind: 'notify';
      readonly topic: 'approval.requested';
      readonly to: readonly string[];
      readonly statementDigest: string;
      readonly approvalDeadline: number;
    })
  | (EffectBase & {
      readonly kind: 'startSession';
      readonly sessionId: string;
      readonly phase: number;
      readonly participants: readonly string[];
      readonly commitments: Readonly<Record<string, string>>;
      readonly deadline: number;
    })
  | (EffectBase & {
      readonly kind: 'abandonSession';
      readonly sessionId: string;
      readonly reason: ExclusionReason | 'aggregate_invalid';
      /** Excluded because of this session. */
      readonly culprits: readonly string[];
      /** Participants still in good standing: their nonces are spent, they must commit afresh. */
      readonly recommit: readonly string[];
    })
  | (EffectBase & { readonly kind: 'aggregate'; readonly sessionId: string })
  | (EffectBase & {
      /** A phase's session succeeded and another phase follows: every approver commits again. */
      readonly kind: 'phaseComplete';
      readonly sessionId: string;
      readonly phase: number;
      readonly recommit: readonly string[];
    })
  | (EffectBase & {
      readonly kind: 'complete';
      readonly sessionId: string;
      readonly signers: readonly string[];
    })
  | (EffectBase & { readonly kind: 'close'; readonly outcome: SigningOutcome });

export interface SigningContext extends OutboxState<SigningEffect> {
  readonly ceremony: 'signing';
  readonly ceremonyId: string;
  readonly group: Group;
  readonly statementDigest: string;
  readonly createdAt: number;
  readonly approvalDeadline: number;
  readonly sessionTimeoutMs: number;
  /** How many phases the ceremony signs (2 when a format chains on another's signature). */
  readonly phases: number;
  /** The phase now being signed, 1-based. */
  readonly phase: number;
  /**
   * The policy's approval rule (docs/policy.md). Absent in snapshots made before policies: the
   * default, quorum = threshold and no roles.
   */
  readonly policy?: SigningPolicy;
  /** The latest `at` seen (the runner's clock). */
  readonly now: number;
  /** In arrival order; the order decides who is picked for a session. */
  readonly approvals: readonly Approval[];
  readonly rejections: readonly Rejection[];
  /** member → an unused commitment. A commitment leaves this map when a session spends it. */
  readonly freshCommitments: Readonly<Record<string, string>>;
  /** Every commitment ever received, to refuse a repeat (A.1, A.6). */
  readonly seenCommitments: readonly string[];
  readonly excluded: readonly Exclusion[];
  /** Members excluded for a timeout or an invalid share, in the order they were caught. */
  readonly culprits: readonly string[];
  readonly sessions: readonly SigningSession[];
  readonly outcome: SigningOutcome | null;
}

/** Where in the chart the ceremony is; every guard and checkEvent reason from it. */
export type SigningPhase =
  | 'requested'
  | 'collectingApprovals'
  | 'awaitingCommitments'
  | 'inSession'
  | 'aggregating'
  | 'closed';

// ---------------------------------------------------------------------------------------------
// Selectors

const has = (record: Readonly<Record<string, string>>, key: string): boolean =>
  Object.hasOwn(record, key);

export const isMember = (c: SigningContext, m: string): boolean => c.group.members.includes(m);
export const isExcluded = (c: SigningContext, m: string): boolean =>
  c.excluded.some((e) => e.member === m);
export const hasApproved = (c: SigningContext, m: string): boolean =>
  c.approvals.some((a) => a.member === m);
export const hasRejected = (c: SigningContext, m: string): boolean =>
  c.rejections.some((r) => r.member === m);

/** Non-excluded approvers holding an unused commitment, in approval order. */
export const freshApprovers = (c: SigningContext): string[] =>
  c.approvals.map((a) => a.member).filter((m) => !isExcluded(c, m) && has(c.freshCommitments, m));

/** The open or aggregating session, if any. */
export const currentSession = (c: SigningContext): SigningSession | null => {
  const last = c.sessions.at(-1);
  return last !== undefined && (last.status === 'open' || last.status === 'aggregating')
    ? last
    : null;
};

const isRevoked = (c: SigningContext, m: string): boolean =>
  c.excluded.some((e) => e.member === m && e.reason === 'revoked');

const rolesOf = (c: SigningContext, m: string): readonly string[] =>
  Object.hasOwn(c.group.roles, m) ? (c.group.roles[m] ?? []) : [];

/** Approvals the policy needs: its quorum, never fewer than the key's threshold. */
export const policyQuorum = (c: SigningContext): number =>
  Math.max(c.group.threshold, c.policy?.quorum ?? 0);

/**
 * Approvers the policy counts: everyone who approved and was not revoked since. An approver later
 * excluded for a timeout, a bad share or a declined package still approved (a person's decision:
 * its signer refused a package, not the request); a revoked identity no longer speaks for anyone
 * (B.30).
 */
export const countedApprovers = (c: SigningContext): string[] =>
  c.approvals.map((a) => a.member).filter((m) => !isRevoked(c, m));

const gapAmong = (c: SigningContext, members: readonly string[]): PolicyGap => ({
  missingApprovals: Math.max(0, policyQuorum(c) - members.length),
  missingRoles: (c.policy?.requiredRoles ?? [])
    .map((r) => ({
      role: r.role,
      count: r.count - members.filter((m) => rolesOf(c, m).includes(r.role)).length,
    }))
    .filter((r) => r.count > 0),
});

/** What the policy still waits for among the approvals so far. */
export const policyGap = (c: SigningContext): PolicyGap => gapAmong(c, countedApprovers(c));

const noGap = (g: PolicyGap): boolean => g.missingApprovals === 0 && g.missingRoles.length === 0;

/** The policy's approvals are in: quorum reached and every required role among the approvers. */
export const policySatisfied = (c: SigningContext): boolean => noGap(policyGap(c));

/**
 * Even if every member who has not rejected (and is not revoked) approved, the policy's quorum or
 * one of its roles could not be met.
 */
export const policyImpossible = (c: SigningContext): boolean =>
  !noGap(
    gapAmong(
      c,
      c.group.members.filter((m) => !isRevoked(c, m) && !hasRejected(c, m)),
    ),
  );

/**
 * A session opens once the policy's approvals are in and at least t approvers hold a fresh
 * commitment; it still takes exactly t of them.
 */
export const canOpenSession = (c: SigningContext): boolean =>
  freshApprovers(c).length >= c.group.threshold && policySatisfied(c);

/** Fewer than t members are still in good standing: nobody can ever sign. */
export const tooFewHonestMembers = (c: SigningContext): boolean =>
  c.group.members.filter((m) => !isExcluded(c, m)).length < c.group.threshold;

/** Even if every member who has not rejected approved, t could not be reached. */
export const approvalsImpossible = (c: SigningContext): boolean =>
  c.group.members.filter((m) => !isExcluded(c, m) && !hasRejected(c, m)).length <
    c.group.threshold || policyImpossible(c);

/**
 * Until when the ceremony waits for approvals or fresh commitments. After an abandoned session
 * the survivors get one session timeout to recommit even if the approval deadline has passed.
 */
export const commitDeadline = (c: SigningContext): number => {
  const last = c.sessions.at(-1);
  const graceFrom = last?.endedAt ?? null;
  return graceFrom === null
    ? c.approvalDeadline
    : Math.max(c.approvalDeadline, graceFrom + c.sessionTimeoutMs);
};

export const commitWindowClosed = (c: SigningContext): boolean => c.now >= commitDeadline(c);

/** The next absolute time the runner must arm, or null when nothing is timed. */
export const signingDeadline = (phase: SigningPhase, c: SigningContext): number | null => {
  switch (phase) {
    case 'inSession':
      return currentSession(c)?.deadline ?? null;
    case 'requested':
    case 'collectingApprovals':
    case 'awaitingCommitments':
      return commitDeadline(c);
    case 'aggregating':
    case 'closed':
      return null;
  }
};

// ---------------------------------------------------------------------------------------------
// Acceptance: one function decides, for the guards and for checkEvent alike.

const member = (c: SigningContext, m: string): CheckResult | null => {
  if (!isMember(c, m)) return refuse('NOT_A_MEMBER', `${m} is not a member of this group`);
  if (isExcluded(c, m)) return refuse('EXCLUDED', `${m} is excluded from this ceremony`);
  return null;
};

const freshCommitment = (c: SigningContext, commitment: string): CheckResult | null =>
  c.seenCommitments.includes(commitment)
    ? refuse('COMMITMENT_REUSED', 'this commitment was already used in this ceremony')
    : null;

export function checkSigning(phase: SigningPhase, c: SigningContext, e: SigningEvent): CheckResult {
  if (phase === 'closed') return refuse('UNEXPECTED_MESSAGE', 'the ceremony is closed');
  const signing =
    phase === 'awaitingCommitments' || phase === 'inSession' || phase === 'aggregating';
  switch (e.type) {
    case 'outbox.flushed':
      return checkFlush(c, e.upTo);
    case 'ceremony.cancel':
      return accept;
    case 'member.revoked':
      // A member excluded for a timeout or a bad share is still counted as an approver: its
      // revocation must be recorded too, or its approval keeps counting (B.30).
      if (!isMember(c, e.member)) return member(c, e.member) ?? accept;
      return isRevoked(c, e.member)
        ? refuse('EXCLUDED', `${e.member} is already revoked in this ceremony`)
        : accept;
    case 'sign.approve':
      if (!isMember(c, e.member)) return member(c, e.member) ?? accept;
      if (hasApproved(c, e.member) || hasRejected(c, e.member))
        return refuse('DUPLICATE', `${e.member} has already answered`);
      return member(c, e.member) ?? freshCommitment(c, e.commitment) ?? accept;
    case 'sign.reject':
      if (!isMember(c, e.member)) return member(c, e.member) ?? accept;
      if (hasApproved(c, e.member) || hasRejected(c, e.member))
        return refuse('DUPLICATE', `${e.member} has already answered`);
      return member(c, e.member) ?? accept;
    case 'sign.recommit': {
      const bad = member(c, e.member);
      if (bad !== null) return bad;
      if (!signing) return refuse('UNEXPECTED_MESSAGE', 'no session has spent a commitment yet');
      if (!hasApproved(c, e.member))
        return refuse('NOT_AN_APPROVER', `${e.member} has not approved`);
      if (has(c.freshCommitments, e.member))
        return refuse('DUPLICATE', `${e.member} still holds an unused commitment`);
      return freshCommitment(c, e.commitment) ?? accept;
    }
    case 'round2.share':
    case 'round2.decline': {
      if (!isMember(c, e.member)) return member(c, e.member) ?? accept;
      const session = c.sessions.find((s) => s.id === e.sessionId);
      if (session === undefined) {
        return c.sessions.length === 0
          ? refuse('UNEXPECTED_MESSAGE', 'no signing session has started')
          : refuse('UNKNOWN_SESSION', `no session ${e.sessionId}`);
      }
      if (session.status === 'abandoned' || session.status === 'succeeded')
        return refuse('STALE_SESSION', `session ${e.sessionId} is over`);
      if (!session.participants.includes(e.member))
        return refuse('NOT_IN_SESSION', `${e.member} is not in session ${e.sessionId}`);
      if (session.shares.includes(e.member) || session.status === 'aggregating')
        return refuse('DUPLICATE', `${e.member} already sent a share for ${e.sessionId}`);
      return (
        member(c, e.member) ??
        (phase === 'inSession' ? accept : refuse('UNEXPECTED_MESSAGE', 'no open session'))
      );
    }
    case 'session.aggregated': {
      const session = c.sessions.find((s) => s.id === e.sessionId);
      if (session === undefined) {
        return c.sessions.length === 0
          ? refuse('UNEXPECTED_MESSAGE', 'no signing session has started')
          : refuse('UNKNOWN_SESSION', `no session ${e.sessionId}`);
      }
      if (session.status !== 'aggregating')
        return session.status === 'open'
          ? refuse('UNEXPECTED_MESSAGE', `session ${e.sessionId} still awaits shares`)
          : refuse('STALE_SESSION', `session ${e.sessionId} is over`);
      if (e.ok && e.culprits.length > 0)
        return refuse('INVALID_EVENT', 'a successful aggregation names no culprits');
      const outsider = e.culprits.find((m) => !session.participants.includes(m));
      if (outsider !== undefined)
        return refuse('NOT_IN_SESSION', `${outsider} is not in session ${e.sessionId}`);
      return accept;
    }
    case 'deadline.reached': {
      const due = signingDeadline(phase, c);
      if (due === null) return refuse('UNEXPECTED_MESSAGE', 'no deadline is armed');
      return e.at >= due
        ? accept
        : refuse('DEADLINE_NOT_REACHED', `deadline is ${due}, fired at ${e.at}`);
    }
  }
}

/** Parses, then checks: the guards and checkEvent both go through here. */
export function checkSigningEvent(
  phase: SigningPhase,
  c: SigningContext,
  raw: unknown,
): CheckResult {
  const parsed = SigningEventSchema.safeParse(raw);
  if (!parsed.success) return refuse('INVALID_EVENT', z.prettifyError(parsed.error));
  return checkSigning(phase, c, parsed.data);
}

// ---------------------------------------------------------------------------------------------
// Context updates. Each takes the context and an already-accepted event.

type Patch = Partial<SigningContext>;
type Ev<T extends SigningEvent['type']> = Extract<SigningEvent, { type: T }>;

const tick = (c: SigningContext, at: number): number => Math.max(c.now, at);

const without = (record: Readonly<Record<string, string>>, keys: readonly string[]) =>
  Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));

const replaceLast = (
  sessions: readonly SigningSession[],
  update: (s: SigningSession) => SigningSession,
): SigningSession[] => sessions.map((s, i) => (i === sessions.length - 1 ? update(s) : s));

export const initialSigningEffects = (
  c: Pick<SigningContext, 'group' | 'statementDigest' | 'approvalDeadline'>,
) =>
  ({
    kind: 'notify',
    topic: 'approval.requested',
    to: c.group.members,
    statementDigest: c.statementDigest,
    approvalDeadline: c.approvalDeadline,
  }) as const;

export const recordApproval = (c: SigningContext, e: Ev<'sign.approve'>): Patch => ({
  now: tick(c, e.at),
  approvals: [...c.approvals, { member: e.member, at: e.at }],
  freshCommitments: { ...c.freshCommitments, [e.member]: e.commitment },
  seenCommitments: [...c.seenCommitments, e.commitment],
});

export const recordRejection = (c: SigningContext, e: Ev<'sign.reject'>): Patch => ({
  now: tick(c, e.at),
  rejections: [...c.rejections, { member: e.member, reason: e.reason, at: e.at }],
});

export const recordRecommit = (c: SigningContext, e: Ev<'sign.recommit'>): Patch => ({
  now: tick(c, e.at),
  freshCommitments: { ...c.freshCommitments, [e.member]: e.commitment },
  seenCommitments: [...c.seenCommitments, e.commitment],
});

export const observeTime = (c: SigningContext, at: number): Patch => ({ now: tick(c, at) });

/** Spends exactly t fresh commitments, earliest approvers first. */
export const openSession = (c: SigningContext): Patch => {
  const participants = freshApprovers(c).slice(0, c.group.threshold);
  const commitments = Object.fromEntries(participants.map((m) => [m, c.freshCommitments[m] ?? '']));
  const index = c.sessions.length + 1;
  const id = `${c.ceremonyId}/s${index}`;
  const deadline = c.now + c.sessionTimeoutMs;
  const session: SigningSession = {
    id,
    index,
    phase: c.phase,
    participants,
    commitments,
    startedAt: c.now,
    deadline,
    shares: [],
    status: 'open',
    endedAt: null,
    endReason: null,
  };
  return {
    sessions: [...c.sessions, session],
    freshCommitments: without(c.freshCommitments, participants),
    ...emit<SigningEffect, SigningContext>(c, {
      kind: 'startSession',
      sessionId: id,
      phase: c.phase,
      participants,
      commitments,
      deadline,
    }),
  };
};

export const recordShare = (c: SigningContext, e: Ev<'round2.share'>): Patch => ({
  now: tick(c, e.at),
  sessions: replaceLast(c.sessions, (s) => ({ ...s, shares: [...s.shares, e.member] })),
});

export const allSharesIn = (c: SigningContext): boolean => {
  const s = currentSession(c);
  return s !== null && s.status === 'open' && s.shares.length === s.participants.length;
};

export const requestAggregation = (c: SigningContext): Patch => {
  const s = currentSession(c);
  if (s === null) return {};
  return {
    sessions: replaceLast(c.sessions, (x) => ({ ...x, status: 'aggregating' })),
    ...emit<SigningEffect, SigningContext>(c, { kind: 'aggregate', sessionId: s.id }),
  };
};

/**
 * Excludes `culprits` for `reason`, abandons the current session and tells its surviving
 * participants to commit afresh.
 */
export const abandonSession = (
  c: SigningContext,
  culprits: readonly string[],
  reason: ExclusionReason | 'aggregate_invalid',
  at: number,
  detail?: string,
): Patch => {
  const s = currentSession(c);
  if (s === null) return {};
  const now = tick(c, at);
  const exclusionReason: ExclusionReason =
    reason === 'aggregate_invalid' ? 'invalid_share' : reason;
  const newlyExcluded = culprits.filter((m) => !isExcluded(c, m));
  const excluded = [
    ...c.excluded,
    ...newlyExcluded.map((m) => ({
      member: m,
      reason: exclusionReason,
      sessionId: s.id,
      at: now,
      ...(detail === undefined ? {} : { detail }),
    })),
  ];
  const blamed =
    exclusionReason === 'revoked' || exclusionReason === 'declined' ? [] : newlyExcluded;
  const recommit = s.participants.filter((m) => !excluded.some((x) => x.member === m));
  return {
    now,
    excluded,
    culprits: [...c.culprits, ...blamed],
    freshCommitments: without(c.freshCommitments, newlyExcluded),
    sessions: replaceLast(c.sessions, (x) => ({
      ...x,
      status: 'abandoned',
      endedAt: now,
      endReason: reason,
    })),
    ...emit<SigningEffect, SigningContext>(c, {
      kind: 'abandonSession',
      sessionId: s.id,
      reason,
      culprits: blamed,
      recommit,
    }),
  };
};

export const timedOutParticipants = (c: SigningContext): string[] => {
  const s = currentSession(c);
  return s === null ? [] : s.participants.filter((m) => !s.shares.includes(m));
};

export const revokesParticipant = (c: SigningContext, m: string): boolean =>
  currentSession(c)?.participants.includes(m) ?? false;

/**
 * Adds a `revoked` exclusion, also for a member already excluded for a timeout or a bad share (it
 * then has two entries: the failure stays on record, and its approval stops counting).
 */
export const recordRevocation = (c: SigningContext, e: Ev<'member.revoked'>): Patch => {
  const now = tick(c, e.at);
  return {
    now,
    excluded: [...c.excluded, { member: e.member, reason: 'revoked', sessionId: null, at: now }],
    freshCommitments: without(c.freshCommitments, [e.member]),
  };
};

const close = (c: SigningContext, outcome: SigningOutcome): Patch => ({
  outcome,
  ...emit<SigningEffect, SigningContext>(c, { kind: 'close', outcome }),
});

/** More phases to sign after this session's (e.g. minisign's global signatures). */
export const morePhases = (c: SigningContext): boolean => c.phase < c.phases;

/**
 * The current phase's session succeeded and another phase follows: the session is done, every
 * commitment still held was made for the finished phase's jobs and is dropped, and every approver
 * in good standing is asked to commit for the next phase. The ROAST loop runs again from there.
 */
export const advancePhase = (c: SigningContext, e: Ev<'session.aggregated'>): Patch => {
  const now = tick(c, e.at);
  const s = currentSession(c);
  if (s === null) return {};
  const recommit = c.approvals.map((a) => a.member).filter((m) => !isExcluded(c, m));
  return {
    now,
    phase: c.phase + 1,
    freshCommitments: {},
    sessions: replaceLast(c.sessions, (x) => ({ ...x, status: 'succeeded', endedAt: now })),
    ...emit<SigningEffect, SigningContext>(c, {
      kind: 'phaseComplete',
      sessionId: s.id,
      phase: c.phase,
      recommit,
    }),
  };
};

export const complete = (c: SigningContext, e: Ev<'session.aggregated'>): Patch => {
  const now = tick(c, e.at);
  const s = currentSession(c);
  if (s === null) return {};
  const outcome: SigningOutcome = {
    status: 'completed',
    sessionId: s.id,
    signers: s.participants,
    at: now,
  };
  return {
    now,
    outcome,
    sessions: replaceLast(c.sessions, (x) => ({
      ...x,
      status: 'succeeded',
      endedAt: now,
    })),
    ...emit<SigningEffect, SigningContext>(
      c,
      { kind: 'complete', sessionId: s.id, signers: s.participants },
      { kind: 'close', outcome },
    ),
  };
};

/** The policy asks more than the key does: a quorum above the threshold, or roles. */
export const policyIsStrict = (c: SigningContext): boolean =>
  policyQuorum(c) > c.group.threshold || (c.policy?.requiredRoles.length ?? 0) > 0;

/**
 * Outcomes name the policy gap only under a strict policy: under the default one, a ceremony short
 * of t approvals ends exactly as before policies existed.
 */
export const closeRejected = (c: SigningContext): Patch => {
  const rejectedBy = c.rejections.map((r) => r.member);
  const gap = policyGap(c);
  return close(
    c,
    policyIsStrict(c) && policyImpossible(c) && !noGap(gap)
      ? { status: 'rejected', rejectedBy, at: c.now, policy: gap }
      : { status: 'rejected', rejectedBy, at: c.now },
  );
};

export const closeExpired = (c: SigningContext, at: number): Patch => {
  const now = tick(c, at);
  const gap = policyGap(c);
  return {
    now,
    ...close(
      { ...c, now },
      !policyIsStrict(c) || noGap(gap)
        ? { status: 'expired', at: now }
        : { status: 'expired', at: now, policy: gap },
    ),
  };
};

export const closeCancelled = (c: SigningContext, e: Ev<'ceremony.cancel'>): Patch => {
  const now = tick(c, e.at);
  const s = currentSession(c);
  const sessions =
    s === null
      ? c.sessions
      : replaceLast(c.sessions, (x) => ({ ...x, status: 'abandoned', endedAt: now }));
  return {
    now,
    sessions,
    ...close(c, { status: 'cancelled', by: e.by, reason: e.reason, at: now }),
  };
};

export const abort = (c: SigningContext, code: SigningAbortCode, at: number): Patch => {
  const now = tick(c, at);
  const s = currentSession(c);
  const sessions =
    s === null
      ? c.sessions
      : replaceLast(c.sessions, (x) => ({
          ...x,
          status: 'abandoned',
          endedAt: now,
          endReason: 'aggregate_invalid',
        }));
  return { now, sessions, ...close(c, { status: 'aborted', code, culprits: c.culprits, at: now }) };
};

export const drainSigningOutbox = (c: SigningContext, upTo: number): Patch => ({
  outbox: drain(c.outbox, upTo),
});
