// The one error class of @conclave/audit and its closed set of codes (sigstore-js style: callers
// and tests match on `code`, never on the message). Messages are fixed text plus numbers and
// names this package chose; they never echo untrusted input.

export const AUDIT_ERROR_CODES = [
  // signed notes (c2sp.org/signed-note)
  'NOTE_MALFORMED',
  'NOTE_TOO_LARGE',
  'NOTE_UNVERIFIED',
  'NOTE_BAD_SIGNATURE',
  'NOTE_KEY_INVALID',
  // checkpoints (c2sp.org/tlog-checkpoint) and cosignatures (c2sp.org/tlog-cosignature)
  'CHECKPOINT_MALFORMED',
  'CHECKPOINT_ORIGIN_MISMATCH',
  'COSIGNATURE_MALFORMED',
  'COSIGNATURE_INVALID',
  // the log itself
  'LOG_FORK_DETECTED',
  'LOG_ROLLBACK',
  'LOG_PROOF_INVALID',
  'LOG_LEAF_MALFORMED',
  'LOG_LEAF_MISMATCH',
  'LOG_SIZE_MISMATCH',
  'LOG_ROOT_MISMATCH',
  // governance leaves (a hotfix flagged unratified: the coordinator's signed record)
  'GOVERNANCE_MALFORMED',
  'GOVERNANCE_WRONG_SIGNER',
  'GOVERNANCE_BAD_SIGNATURE',
  'GOVERNANCE_LEAF_MISMATCH',
  // a completed hotfix the log shows past its ratification deadline (+ grace) without its flag
  'GOVERNANCE_FLAG_MISSING',
  'GOVERNANCE_FLAG_LATE',
  // ceremony bundles
  'BUNDLE_MALFORMED',
  // member registry operations served twice, a name added (or revoked) twice, a revocation
  // before its add: a replayed admin envelope could re-admit a revoked member
  'REGISTRY_REPLAYED',
  // the recorded outcome of a signing ceremony is not backed by the signed envelopes it needs
  // (a rejection without enough member-signed rejections, a cancel nobody entitled signed, …)
  'OUTCOME_UNPROVEN',
  // a key ceremony's dkg.start without the admin-signed admin.group.create of its roster
  'KEY_CEREMONY_UNAUTHORIZED',
  // (verifyLog) a completed signing ceremony whose bundle does not verify: its facts (hotfix,
  // policy, ratification) are not used
  'BUNDLE_UNVERIFIED',
  // a public key package whose verifying shares are not one polynomial through the group key, or
  // not the key state the key ceremony's round-1 commitments give (share checks would frame members)
  'INCONSISTENT_KEY_PACKAGE',
  // a key ceremony whose confirmed round-1 (lifecycle) hash is not the hash of its relayed packages
  'ROUND1_HASH_MISMATCH',
  // a DKG round-1 package whose proof of knowledge (or commitment) does not verify: every member
  // should have refused it (RFC 9591 Appendix C.1), so the DKG's key state is not to be trusted
  'ROUND1_PACKAGE_INVALID',
  // (verifyLog) verified signing ceremonies of one group ran under different key states, or key
  // ceremonies, for one epoch; one key state under two epoch numbers; or a key state whose key
  // ceremony the bundle leaves out though the log holds the group's
  'KEY_HISTORY_FORKED',
] as const;

export type AuditErrorCode = (typeof AUDIT_ERROR_CODES)[number];

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(
    readonly code: AuditErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isAuditError(e: unknown): e is AuditError {
  return e instanceof AuditError;
}

/** A result for checks whose failure is an expected outcome (a witness that catches a fork). */
export type AuditResult<T> = { ok: true; value: T } | { ok: false; error: AuditError };

export function auditOk<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function auditFail(code: AuditErrorCode, message: string): { ok: false; error: AuditError } {
  return { ok: false, error: new AuditError(code, message) };
}
