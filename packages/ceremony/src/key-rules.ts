// The key ceremony's rules as pure functions. DKG: every member deals, receives and confirms.
// Lifecycle ceremonies give the roles to subsets: refresh/reshare dealers are ≥ t old holders, the
// recipients and confirmers are the new committee; a repair's helpers deal, the repaired member
// receives, and helpers and repaired member all confirm (docs/lifecycle.md).
import type { CheckResult } from './check.js';
import { accept, refuse } from './check.js';
import type { OutboxState } from './outbox.js';
import { checkFlush, drain, emit } from './outbox.js';
import { z } from 'zod';
import type { Group, KeyCeremonyKind, KeyEvent } from './schemas.js';
import { KeyEventSchema } from './schemas.js';

export type KeyPhase = 'round1' | 'round2' | 'confirmation' | 'closed';

export interface Confirmation {
  readonly member: string;
  readonly transcriptHash: string;
  readonly groupPublicKey: string;
  readonly at: number;
  /**
   * Whether this view is the one the coordinator relayed (its own hash of the round-1 packages it
   * broadcast, and the group key they make), as the runner computed it. Absent where the runner
   * does not judge (lifecycle ceremonies, snapshots from before it did).
   */
  readonly relayed?: boolean;
}

/** One distinct (transcriptHash, groupPublicKey) pair and who confirmed it. */
export interface ConfirmationView {
  readonly transcriptHash: string;
  readonly groupPublicKey: string;
  readonly members: readonly string[];
}

export type KeyAbortCode =
  'CONFIRMATION_MISMATCH' | 'CULPRIT_REPORTED' | 'TIMEOUT' | 'CANCELLED' | 'MEMBER_REVOKED';

export type KeyOutcome =
  | {
      readonly status: 'completed';
      readonly transcriptHash: string;
      readonly groupPublicKey: string;
      readonly at: number;
    }
  | {
      readonly status: 'aborted';
      readonly code: 'CONFIRMATION_MISMATCH';
      /**
       * Members whose view is not the one the coordinator relayed, when every confirmation was
       * judged against it and at least one matched; nobody when none matched (the relay itself is
       * in question). Otherwise, by majority: members outside the unique largest view, or every
       * member when there is no unique largest.
       */
      readonly disagreeing: readonly string[];
      readonly views: readonly ConfirmationView[];
      readonly at: number;
    }
  | {
      readonly status: 'aborted';
      readonly code: 'CULPRIT_REPORTED';
      readonly culprit: string;
      readonly reportedBy: string;
      readonly reason: string;
      readonly at: number;
    }
  | {
      readonly status: 'aborted';
      readonly code: 'TIMEOUT';
      readonly round: 1 | 2 | 3;
      /** Members that had not done their part of the round when the deadline passed. */
      readonly missing: readonly string[];
      readonly at: number;
    }
  | {
      readonly status: 'aborted';
      readonly code: 'CANCELLED';
      readonly by: string;
      readonly reason: string;
      readonly at: number;
    }
  | {
      readonly status: 'aborted';
      readonly code: 'MEMBER_REVOKED';
      readonly member: string;
      readonly at: number;
    };

interface EffectBase {
  readonly seq: number;
}
export type KeyEffect =
  | (EffectBase & {
      readonly kind: 'notify';
      readonly topic: 'dkg.started';
      readonly to: readonly string[];
      readonly deadline: number;
    })
  /** Relay every round-1 package to every member (all are in; the list is final). */
  | (EffectBase & {
      readonly kind: 'broadcastRound1';
      readonly packageHashes: Readonly<Record<string, string>>;
      readonly deadline: number;
    })
  /** Relay the sender's encrypted envelopes to these recipients. */
  | (EffectBase & {
      readonly kind: 'deliverRound2';
      readonly from: string;
      readonly recipients: readonly string[];
    })
  | (EffectBase & {
      readonly kind: 'requestConfirmation';
      readonly to: readonly string[];
      readonly deadline: number;
    })
  | (EffectBase & {
      readonly kind: 'activateGroup';
      readonly groupPublicKey: string;
      readonly transcriptHash: string;
    })
  /** Tell every member to erase this ceremony's state: nothing from it may be reused. */
  | (EffectBase & {
      readonly kind: 'abort';
      readonly to: readonly string[];
      readonly outcome: KeyOutcome;
    });

export interface KeyContext extends OutboxState<KeyEffect> {
  readonly ceremony: 'key';
  readonly ceremonyId: string;
  readonly kind: KeyCeremonyKind;
  readonly group: Group;
  /** Round 1 and round 2 senders; absent in snapshots from before roles existed (= members). */
  readonly dealers?: readonly string[];
  /** Round-2 recipients (absent = members). */
  readonly recipients?: readonly string[];
  /** Who must confirm (absent = members). */
  readonly confirmers?: readonly string[];
  readonly roundTimeoutMs: number;
  readonly startedAt: number;
  readonly now: number;
  /** Absolute deadline of the current round. */
  readonly deadline: number;
  readonly priorPackageHashes: readonly string[];
  /** member → hash of its round-1 package. */
  readonly round1: Readonly<Record<string, string>>;
  /** sender → recipients its envelopes were delivered to. */
  readonly round2: Readonly<Record<string, readonly string[]>>;
  readonly confirmations: readonly Confirmation[];
  readonly outcome: KeyOutcome | null;
}

export const dealersOf = (c: KeyContext): readonly string[] => c.dealers ?? c.group.members;
export const recipientsOf = (c: KeyContext): readonly string[] => c.recipients ?? c.group.members;
export const confirmersOf = (c: KeyContext): readonly string[] => c.confirmers ?? c.group.members;

const isMember = (c: KeyContext, m: string): boolean => c.group.members.includes(m);
const isDealer = (c: KeyContext, m: string): boolean => dealersOf(c).includes(m);
const delivered = (c: KeyContext, from: string): readonly string[] =>
  Object.hasOwn(c.round2, from) ? (c.round2[from] ?? []) : [];
/** Whom `m` must send round-2 envelopes to: every recipient but itself. */
const recipientsFor = (c: KeyContext, m: string): readonly string[] =>
  recipientsOf(c).filter((x) => x !== m);

export const allRound1In = (c: KeyContext): boolean =>
  dealersOf(c).every((m) => Object.hasOwn(c.round1, m));
export const round2DoneBy = (c: KeyContext, m: string): boolean =>
  recipientsFor(c, m).every((r) => delivered(c, m).includes(r));
export const allRound2In = (c: KeyContext): boolean =>
  dealersOf(c).every((m) => round2DoneBy(c, m));
export const allConfirmed = (c: KeyContext): boolean =>
  c.confirmations.length === confirmersOf(c).length;

export const confirmationViews = (c: KeyContext): ConfirmationView[] => {
  const views: ConfirmationView[] = [];
  for (const x of c.confirmations) {
    const i = views.findIndex(
      (v) => v.transcriptHash === x.transcriptHash && v.groupPublicKey === x.groupPublicKey,
    );
    const view = views[i];
    if (view === undefined) {
      views.push({
        transcriptHash: x.transcriptHash,
        groupPublicKey: x.groupPublicKey,
        members: [x.member],
      });
    } else {
      views[i] = { ...view, members: [...view.members, x.member] };
    }
  }
  return views;
};

export const confirmationsAgree = (c: KeyContext): boolean => confirmationViews(c).length <= 1;

export const keyDeadline = (phase: KeyPhase, c: KeyContext): number | null =>
  phase === 'closed' ? null : c.deadline;

export function checkKey(phase: KeyPhase, c: KeyContext, e: KeyEvent): CheckResult {
  if (phase === 'closed') return refuse('UNEXPECTED_MESSAGE', 'the ceremony is closed');
  switch (e.type) {
    case 'outbox.flushed':
      return checkFlush(c, e.upTo);
    case 'ceremony.cancel':
      return accept;
    case 'member.revoked':
      return isMember(c, e.member) ? accept : refuse('NOT_A_MEMBER', `${e.member} is not a member`);
    case 'deadline.reached':
      return e.at >= c.deadline
        ? accept
        : refuse('DEADLINE_NOT_REACHED', `deadline is ${c.deadline}, fired at ${e.at}`);
    case 'dkg.round1':
      if (!isMember(c, e.member)) return refuse('NOT_A_MEMBER', `${e.member} is not a member`);
      if (!isDealer(c, e.member))
        return refuse('NOT_A_MEMBER', `${e.member} does not deal in this ceremony`);
      if (Object.hasOwn(c.round1, e.member))
        return refuse('DUPLICATE', `${e.member} already sent its round-1 package`);
      if (phase !== 'round1') return refuse('UNEXPECTED_MESSAGE', 'round 1 is over');
      if (
        c.priorPackageHashes.includes(e.packageHash) ||
        Object.values(c.round1).includes(e.packageHash)
      )
        return refuse('COMMITMENT_REUSED', 'this round-1 package was already used');
      return accept;
    case 'dkg.round2': {
      if (!isMember(c, e.member)) return refuse('NOT_A_MEMBER', `${e.member} is not a member`);
      if (!isDealer(c, e.member))
        return refuse('NOT_A_MEMBER', `${e.member} does not deal in this ceremony`);
      if (phase === 'round1') return refuse('UNEXPECTED_MESSAGE', 'round 1 is not complete');
      if (phase === 'confirmation' || round2DoneBy(c, e.member))
        return refuse('DUPLICATE', `${e.member} already delivered round 2`);
      if (e.recipients.includes(e.member))
        return refuse('INVALID_RECIPIENT', 'a member sends no envelope to itself');
      const stranger = e.recipients.find((r) => !recipientsOf(c).includes(r));
      if (stranger !== undefined)
        return refuse('NOT_A_MEMBER', `${stranger} receives nothing in this ceremony`);
      const seen = delivered(c, e.member);
      if (
        new Set(e.recipients).size !== e.recipients.length ||
        e.recipients.some((r) => seen.includes(r))
      )
        return refuse('DUPLICATE', `${e.member} already delivered to one of these recipients`);
      return accept;
    }
    case 'dkg.confirm':
      if (!isMember(c, e.member)) return refuse('NOT_A_MEMBER', `${e.member} is not a member`);
      if (!confirmersOf(c).includes(e.member))
        return refuse('NOT_A_MEMBER', `${e.member} does not confirm in this ceremony`);
      if (c.confirmations.some((x) => x.member === e.member))
        return refuse('DUPLICATE', `${e.member} already confirmed`);
      if (phase !== 'confirmation') return refuse('UNEXPECTED_MESSAGE', 'round 2 is not complete');
      return accept;
    case 'dkg.fail':
      if (!isMember(c, e.member)) return refuse('NOT_A_MEMBER', `${e.member} is not a member`);
      if (!isMember(c, e.culprit)) return refuse('NOT_A_MEMBER', `${e.culprit} is not a member`);
      // Only a dealer sent anything to verify (B.25–B.27); naming anyone else blames a member
      // that cannot have cheated. A member naming itself reports a failure it cannot attribute
      // (a coordinator fault, the client's failCulprit): the ceremony aborts, nobody is blamed.
      if (e.culprit !== e.member && !isDealer(c, e.culprit))
        return refuse('NOT_A_MEMBER', `${e.culprit} deals nothing in this ceremony`);
      // Before the round-1 broadcast a member has received nothing it could find at fault, so it
      // may only name itself: it refuses the start (its authorization, roster or version), and
      // the ceremony ends at once, nobody blamed, rather than at the deadline blaming that member.
      if (phase === 'round1' && e.culprit !== e.member)
        return refuse('UNEXPECTED_MESSAGE', 'nothing to verify before the round-1 broadcast');
      return accept;
  }
}

/** Parses, then checks: the guards and checkEvent both go through here. */
export function checkKeyEvent(phase: KeyPhase, c: KeyContext, raw: unknown): CheckResult {
  const parsed = KeyEventSchema.safeParse(raw);
  if (!parsed.success) return refuse('INVALID_EVENT', z.prettifyError(parsed.error));
  return checkKey(phase, c, parsed.data);
}

// ---------------------------------------------------------------------------------------------
// Context updates

type Patch = Partial<KeyContext>;
type Ev<T extends KeyEvent['type']> = Extract<KeyEvent, { type: T }>;
const tick = (c: KeyContext, at: number): number => Math.max(c.now, at);

export const recordRound1 = (c: KeyContext, e: Ev<'dkg.round1'>): Patch => ({
  now: tick(c, e.at),
  round1: { ...c.round1, [e.member]: e.packageHash },
});

export const beginRound2 = (c: KeyContext): Patch => {
  const deadline = c.now + c.roundTimeoutMs;
  return {
    deadline,
    ...emit<KeyEffect, KeyContext>(c, {
      kind: 'broadcastRound1',
      packageHashes: c.round1,
      deadline,
    }),
  };
};

export const recordRound2 = (c: KeyContext, e: Ev<'dkg.round2'>): Patch => ({
  now: tick(c, e.at),
  round2: { ...c.round2, [e.member]: [...delivered(c, e.member), ...e.recipients] },
  ...emit<KeyEffect, KeyContext>(c, {
    kind: 'deliverRound2',
    from: e.member,
    recipients: e.recipients,
  }),
});

export const beginConfirmation = (c: KeyContext): Patch => {
  const deadline = c.now + c.roundTimeoutMs;
  return {
    deadline,
    ...emit<KeyEffect, KeyContext>(c, {
      kind: 'requestConfirmation',
      to: confirmersOf(c),
      deadline,
    }),
  };
};

export const recordConfirmation = (c: KeyContext, e: Ev<'dkg.confirm'>): Patch => ({
  now: tick(c, e.at),
  confirmations: [
    ...c.confirmations,
    {
      member: e.member,
      transcriptHash: e.transcriptHash,
      groupPublicKey: e.groupPublicKey,
      at: e.at,
      ...(e.relayed === undefined ? {} : { relayed: e.relayed }),
    },
  ],
});

export const activate = (c: KeyContext): Patch => {
  const first = c.confirmations[0];
  if (first === undefined) return {};
  const outcome: KeyOutcome = {
    status: 'completed',
    transcriptHash: first.transcriptHash,
    groupPublicKey: first.groupPublicKey,
    at: c.now,
  };
  return {
    outcome,
    ...emit<KeyEffect, KeyContext>(c, {
      kind: 'activateGroup',
      groupPublicKey: first.groupPublicKey,
      transcriptHash: first.transcriptHash,
    }),
  };
};

const abortWith = (c: KeyContext, outcome: KeyOutcome): Patch => ({
  now: Math.max(c.now, outcome.at),
  outcome,
  ...emit<KeyEffect, KeyContext>(c, { kind: 'abort', to: c.group.members, outcome }),
});

/**
 * Who disagrees. Judged against the relayed view where the runner judged every confirmation: a
 * majority cannot tell the honest member of a two-member tie (both were blamed), and the relayed
 * view is what every honest member computes from what the coordinator sent. If nobody holds it,
 * the relay is what is wrong, and no member is blamed.
 */
const disagreeingMembers = (c: KeyContext, views: readonly ConfirmationView[]): string[] => {
  const members = c.confirmations.map((x) => x.member);
  if (c.confirmations.every((x) => x.relayed !== undefined)) {
    const matched = c.confirmations.filter((x) => x.relayed === true).map((x) => x.member);
    return matched.length === 0 ? [] : members.filter((m) => !matched.includes(m));
  }
  const largest = Math.max(...views.map((v) => v.members.length));
  const leaders = views.filter((v) => v.members.length === largest);
  const agreeing = leaders.length === 1 ? (leaders[0]?.members ?? []) : [];
  return members.filter((m) => !agreeing.includes(m));
};

export const mismatchOutcome = (c: KeyContext, at: number): KeyOutcome => {
  const views = confirmationViews(c);
  return {
    status: 'aborted',
    code: 'CONFIRMATION_MISMATCH',
    disagreeing: disagreeingMembers(c, views),
    views,
    at: tick(c, at),
  };
};

export const abortMismatch = (c: KeyContext): Patch => abortWith(c, mismatchOutcome(c, c.now));

export const abortReported = (c: KeyContext, e: Ev<'dkg.fail'>): Patch =>
  abortWith(c, {
    status: 'aborted',
    code: 'CULPRIT_REPORTED',
    culprit: e.culprit,
    reportedBy: e.member,
    reason: e.reason,
    at: tick(c, e.at),
  });

export const abortTimeout = (phase: KeyPhase, c: KeyContext, at: number): Patch => {
  if (phase === 'confirmation' && !confirmationsAgree(c))
    return abortWith(c, mismatchOutcome(c, at));
  const missing =
    phase === 'round1'
      ? dealersOf(c).filter((m) => !Object.hasOwn(c.round1, m))
      : phase === 'round2'
        ? dealersOf(c).filter((m) => !round2DoneBy(c, m))
        : confirmersOf(c).filter((m) => !c.confirmations.some((x) => x.member === m));
  const round = phase === 'round1' ? 1 : phase === 'round2' ? 2 : 3;
  return abortWith(c, { status: 'aborted', code: 'TIMEOUT', round, missing, at: tick(c, at) });
};

export const abortCancelled = (c: KeyContext, e: Ev<'ceremony.cancel'>): Patch =>
  abortWith(c, {
    status: 'aborted',
    code: 'CANCELLED',
    by: e.by,
    reason: e.reason,
    at: tick(c, e.at),
  });

export const abortRevoked = (c: KeyContext, e: Ev<'member.revoked'>): Patch =>
  abortWith(c, { status: 'aborted', code: 'MEMBER_REVOKED', member: e.member, at: tick(c, e.at) });

export const drainKeyOutbox = (c: KeyContext, upTo: number): Patch => ({
  outbox: drain(c.outbox, upTo),
});
