// How a signing ceremony ended, as its transcript proves it (docs/audit.md "Outcome"). The state
// the coordinator recorded is its word; each state needs the signed evidence below, and the one
// final envelope (`sign.complete` or `sign.aborted`, coordinator-signed) must agree with it:
//   completed  the verified sign.complete (its aggregate is re-checked in bundle.ts)
//   rejected   sign.aborted `rejected`, and member-signed sign.reject envelopes of this request
//              enough that t approvals had become impossible (with the members excluded or
//              revoked); a policy stricter than t is not in the bundle, so a POLICY_* rejection
//              with fewer, after a rejection or a revocation, is accepted only as "under the policy
//              the coordinator states"
//   cancelled  sign.aborted `cancelled`, and a ceremony.cancel signed by the requester or the
//              admin — or, when none, the coordinator's own cancellation (a newer policy:
//              POLICY_SUPERSEDED; the group's shares changed: a later key epoch in the bundle),
//              reported as the coordinator's decision, naming no member
//   expired    sign.aborted `expired` (the deadline is the coordinator's clock)
//   aborted    sign.aborted `failed`: its culprits are the recorded ones, and its code is what the
//              transcript shows (INSUFFICIENT_HONEST_SIGNERS: fewer than t members in good
//              standing; AGGREGATE_INVALID: valid shares that did not aggregate)
import type { At } from './key-transcript.js';
import { bodiesOf } from './key-transcript.js';
import type { TranscriptEntry } from './leaf.js';

export type Terminal = At<'sign.complete'> | At<'sign.aborted'>;

const SIGNING_TERMINALS: readonly string[] = ['sign.complete', 'sign.aborted'];

/**
 * The one final envelope of a transcript (of `types`: a signing ceremony's by default, or a key
 * ceremony's `dkg.complete`/`dkg.abort`), when there is exactly one and it is the last entry;
 * otherwise why not. The coordinator signs whatever it likes: a second sign.complete after the
 * real one (another key, another statement, other approvers) must not stand for the outcome.
 */
export function finalMessage<T extends TranscriptEntry = Terminal>(
  entries: readonly TranscriptEntry[],
  types: readonly string[] = SIGNING_TERMINALS,
): { ok: true; terminal: T | undefined } | { ok: false; problem: string } {
  const terminals = entries.filter((e) => types.includes(e.envelope.body.type));
  if (terminals.length > 1) {
    return {
      ok: false,
      problem: `${terminals.length} final envelopes (entries ${terminals.map((e) => e.idx).join(', ')}): a ceremony ends once`,
    };
  }
  const terminal = terminals[0] as T | undefined;
  if (terminal !== undefined && terminal !== entries.at(-1)) {
    return {
      ok: false,
      problem: `entry ${terminal.idx} ends the ceremony, but entries follow it`,
    };
  }
  return { ok: true, terminal };
}

/** What the transcript proves about the signers, for the outcome rules. */
export interface OutcomeFacts {
  /** The state the coordinator recorded. */
  readonly state: string;
  /** The one final envelope (finalMessage), if any. */
  readonly terminal: Terminal | undefined;
  readonly entries: readonly TranscriptEntry[];
  readonly requester: string;
  /** This request's digest (`requestDigest`): what a sign.reject must name. */
  readonly requestDigest: string;
  /** The group's members in the epoch, and its threshold. */
  readonly roster: ReadonlySet<string>;
  readonly threshold: number;
  readonly recordedCulprits: readonly string[];
  /** Proven invalid shares; silent in a session they were sent a package for; declined one. */
  readonly invalid: ReadonlySet<string>;
  readonly timedOut: ReadonlySet<string>;
  readonly declined: ReadonlySet<string>;
  /** When a member's revocation counts from (registry.ts), if revoked. */
  readonly revokedAt: (member: string) => number | undefined;
  /** Sessions whose signers all sent valid shares that did not aggregate. */
  readonly aggregateFailures: number;
  /** A key epoch of the group that took effect after the ceremony opened (shares changed). */
  readonly laterEpoch: number | undefined;
}

export type OutcomeVerdict =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly code: 'OUTCOME_UNPROVEN'; readonly detail: string };

/** The sign.aborted `reason` each recorded state needs. */
const ABORT_REASON: Readonly<Record<string, string>> = {
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
  aborted: 'failed',
};

const POLICY_CODES: readonly string[] = ['POLICY_ROLE_MISSING', 'POLICY_QUORUM_NOT_MET'];

const unproven = (detail: string): OutcomeVerdict => ({
  ok: false,
  code: 'OUTCOME_UNPROVEN',
  detail,
});
const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  [...new Set(a)].sort().join(',') === [...new Set(b)].sort().join(',');

/** Checks the recorded state against the final envelope and the evidence it needs. */
export function outcomeVerdict(f: OutcomeFacts): OutcomeVerdict {
  const t = f.terminal;
  if (f.state === 'completed') {
    return t?.envelope.body.type === 'sign.complete'
      ? { ok: true, detail: 'recorded as completed: the transcript ends with its sign.complete' }
      : unproven('recorded as completed, but no sign.complete ends the transcript');
  }
  const reason = ABORT_REASON[f.state];
  if (reason === undefined) {
    return unproven(`recorded as ${f.state}, which is not a final state of a signing ceremony`);
  }
  if (t === undefined || t.envelope.body.type !== 'sign.aborted') {
    return unproven(
      t === undefined
        ? `recorded as ${f.state}, but no sign.aborted ends the transcript`
        : `recorded as ${f.state}, but the transcript ends with a sign.complete`,
    );
  }
  const aborted = t.envelope.body;
  if (aborted.reason !== reason) {
    return unproven(
      `recorded as ${f.state}, but the final sign.aborted says ${aborted.reason} (${aborted.code})`,
    );
  }
  if (reason !== 'failed' && aborted.culprits.length > 0) {
    return unproven(`a ${reason} ceremony's sign.aborted names culprits`);
  }
  switch (f.state) {
    case 'rejected':
      return rejection(f, aborted.code, t.at);
    case 'cancelled':
      return cancellation(f, aborted.code);
    case 'expired':
      return {
        ok: true,
        detail: `recorded as expired (${aborted.code}): the approval window closed by the coordinator's clock`,
      };
    default:
      return failure(f, aborted.code, aborted.culprits, t.at);
  }
}

/** Members in good standing when the ceremony ended: not excluded in a session, not revoked. */
function inGoodStanding(f: OutcomeFacts, endedAt: number): string[] {
  return [...f.roster].filter((m) => {
    const revoked = f.revokedAt(m);
    return (
      !f.invalid.has(m) &&
      !f.timedOut.has(m) &&
      !f.declined.has(m) &&
      (revoked === undefined || revoked > endedAt)
    );
  });
}

function rejection(f: OutcomeFacts, code: string, endedAt: number): OutcomeVerdict {
  const rejecters = [
    ...new Set(
      bodiesOf(f.entries, 'sign.reject')
        .filter((r) => f.roster.has(r.sender) && r.envelope.body.requestDigest === f.requestDigest)
        .map((r) => r.sender),
    ),
  ];
  const available = inGoodStanding(f, endedAt).filter((m) => !rejecters.includes(m));
  if (available.length < f.threshold) {
    return {
      ok: true,
      detail: `recorded as rejected: ${rejecters.length} member-signed rejections (${rejecters.join(', ') || 'none'}) left ${available.length} members who could approve, fewer than the threshold ${f.threshold}`,
    };
  }
  // A policy stricter than t (a quorum, a role) can become impossible through rejections or
  // through revocations (its only role holder revoked): either is a signed fact here.
  const revoked = [...f.roster].filter((m) => {
    const at = f.revokedAt(m);
    return at !== undefined && at <= endedAt;
  });
  if (POLICY_CODES.includes(code) && (rejecters.length > 0 || revoked.length > 0)) {
    const after = [
      rejecters.length > 0 ? `member-signed rejections by ${rejecters.join(', ')}` : '',
      revoked.length > 0 ? `the admin's revocation of ${revoked.join(', ')}` : '',
    ]
      .filter((x) => x !== '')
      .join(' and ');
    return {
      ok: true,
      detail: `recorded as rejected (${code}) after ${after}: ${available.length} members could still approve, enough for the threshold ${f.threshold}, so the rejection rests on the policy the coordinator states (not in the bundle, not verified here)`,
    };
  }
  return unproven(
    `recorded as rejected, but only ${rejecters.length} member-signed rejections of this request are in the transcript${rejecters.length === 0 ? '' : ` (${rejecters.join(', ')})`}: ${available.length} members could still approve, threshold ${f.threshold}`,
  );
}

function cancellation(f: OutcomeFacts, code: string): OutcomeVerdict {
  const cancels = bodiesOf(f.entries, 'ceremony.cancel');
  const entitled = cancels.filter((c) => c.sender === f.requester || c.sender === 'admin');
  if (entitled.length > 0) {
    const c = entitled[0] as At<'ceremony.cancel'>;
    return {
      ok: true,
      detail: `recorded as cancelled by ${c.sender === 'admin' ? 'the admin' : `the requester ${c.sender}`} (signed ceremony.cancel, entry ${c.idx})`,
    };
  }
  if (cancels.length > 0) {
    return unproven(
      `recorded as cancelled, but the ceremony.cancel in the transcript is by ${cancels.map((c) => c.sender).join(', ')}, neither the requester nor the admin`,
    );
  }
  // The coordinator cancels on its own only when a newer policy replaced the one the request ran
  // under (apps/coordinator/src/policy.ts) or the group's shares changed (a refresh or reshare):
  // a refusal of service it may always make, reported as its own, never a member's.
  if (code === 'POLICY_SUPERSEDED') {
    return {
      ok: true,
      detail:
        'recorded as cancelled by the coordinator itself (POLICY_SUPERSEDED: a newer policy, on its word); no member cancelled it',
    };
  }
  if (f.laterEpoch !== undefined) {
    return {
      ok: true,
      detail: `recorded as cancelled by the coordinator itself: the group's shares changed (key epoch ${f.laterEpoch} took effect while it was open); no member cancelled it`,
    };
  }
  return unproven(
    'recorded as cancelled, but no ceremony.cancel signed by the requester or the admin is in the transcript, and nothing shows the coordinator had to cancel it',
  );
}

function failure(
  f: OutcomeFacts,
  code: string,
  culprits: readonly string[],
  endedAt: number,
): OutcomeVerdict {
  if (!sameSet(culprits, f.recordedCulprits)) {
    return unproven(
      `the final sign.aborted names culprits ${culprits.join(', ') || 'none'}, the recorded state ${f.recordedCulprits.join(', ') || 'none'}`,
    );
  }
  if (code === 'INSUFFICIENT_HONEST_SIGNERS') {
    const standing = inGoodStanding(f, endedAt);
    return standing.length < f.threshold
      ? {
          ok: true,
          detail: `recorded as aborted (INSUFFICIENT_HONEST_SIGNERS): ${standing.length} members in good standing, fewer than the threshold ${f.threshold}`,
        }
      : unproven(
          `recorded as aborted for INSUFFICIENT_HONEST_SIGNERS, but ${standing.length} members (${standing.join(', ')}) were in good standing, enough for the threshold ${f.threshold}`,
        );
  }
  if (code === 'AGGREGATE_INVALID') {
    return f.aggregateFailures > 0
      ? {
          ok: true,
          detail: `recorded as aborted (AGGREGATE_INVALID): ${f.aggregateFailures} sessions' valid shares did not aggregate`,
        }
      : unproven(
          'recorded as aborted for AGGREGATE_INVALID, but no session in the transcript has valid shares that fail to aggregate',
        );
  }
  return unproven(`recorded as aborted with ${code}, which no failed signing ceremony ends with`);
}
