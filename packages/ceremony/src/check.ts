// The verdict on one incoming event. A rejected event causes no transition and no write (THREATS C.45).

export type RejectionCode =
  /** The event does not parse (wrong shape, bad hex, unknown type). */
  | 'INVALID_EVENT'
  /** Not expected in the current state (share before any session, anything after a final state). */
  | 'UNEXPECTED_MESSAGE'
  /** The same member already did this (approved twice, confirmed twice, share twice). */
  | 'DUPLICATE'
  | 'NOT_A_MEMBER'
  /** The member was excluded (timeout, invalid share, revoked) and may not take part any more. */
  | 'EXCLUDED'
  /** A recommitment from a member who never approved. */
  | 'NOT_AN_APPROVER'
  /** A commitment (or DKG package) already seen in this ceremony or an earlier attempt. */
  | 'COMMITMENT_REUSED'
  | 'UNKNOWN_SESSION'
  /** A share or aggregation result for a session that was abandoned or has moved on. */
  | 'STALE_SESSION'
  | 'NOT_IN_SESSION'
  /** The runner fired a deadline before the stored absolute time. */
  | 'DEADLINE_NOT_REACHED'
  /** A DKG round-2 envelope addressed to the sender itself. */
  | 'INVALID_RECIPIENT';

export type CheckResult = { ok: true } | { ok: false; code: RejectionCode; message: string };

export const accept: CheckResult = { ok: true };

export const refuse = (code: RejectionCode, message: string): CheckResult => ({
  ok: false,
  code,
  message,
});
