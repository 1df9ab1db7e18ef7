// The closed set of protocol error codes and the one error class of this package (sigstore-js
// style: callers and tests match on `code`, never on the message).

export const ERROR_CODES = [
  // authentication and handshake
  'UNAUTHENTICATED',
  'AUTH_CHALLENGE_EXPIRED',
  'AUTH_CHALLENGE_REUSED',
  'AUTH_BAD_SIGNATURE',
  'UNKNOWN_MEMBER',
  'MEMBER_REVOKED',
  'FORBIDDEN',
  'PROTOCOL_VERSION_MISMATCH',
  // framing and schema
  'MALFORMED_JSON',
  'UNKNOWN_MESSAGE_TYPE',
  'INVALID_MESSAGE',
  'FRAME_TOO_LARGE',
  // envelopes and ordering
  'UNEXPECTED_MESSAGE',
  'REPLAYED_MESSAGE',
  'BAD_ENVELOPE_SIGNATURE',
  'IDENTIFIER_MISMATCH',
  'DUPLICATE',
  // keys and pairwise encryption
  'INVALID_KEY',
  'DECRYPTION_FAILED',
  // ceremonies
  'NONCE_ALREADY_USED',
  'COMMITMENT_REUSED',
  'WRONG_GROUP',
  'CEREMONY_NOT_FOUND',
  'CEREMONY_CLOSED',
  'DEADLINE_EXCEEDED',
  'STATEMENT_MISMATCH',
  'CONFIRMATION_MISMATCH',
  'BAD_ACK_SIGNATURE',
  'BAD_APPROVAL_SIGNATURE',
  'KEY_PACKAGE_MISMATCH',
  // key lifecycle (refresh, reshare, repair)
  'STALE_EPOCH',
  'GROUP_BUSY',
  // governance: policy, hotfixes, revocations (docs/policy.md)
  'POLICY_REQUESTER_NOT_ALLOWED',
  'POLICY_ROLE_MISSING',
  'POLICY_QUORUM_NOT_MET',
  'POLICY_ARTIFACT_NOT_ALLOWED',
  'POLICY_VALIDITY_EXCEEDED',
  'POLICY_INCIDENT_REQUIRED',
  'POLICY_INVALID',
  'POLICY_UNVERIFIED',
  'POLICY_SUPERSEDED',
  'RATIFICATION_INVALID',
  'REVOCATION_INVALID',
  // FROST faults, named after RFC 9591 / ZF frost-core errors (THREATS A, B)
  'INVALID_SCALAR',
  'INVALID_ELEMENT',
  'INVALID_PROOF_OF_KNOWLEDGE',
  'INVALID_SECRET_SHARE',
  'INVALID_SIGNATURE_SHARE',
  'DUPLICATE_PARTICIPANT',
  'UNKNOWN_PARTICIPANT',
  'MISSING_COMMITMENT',
  'INCORRECT_COMMITMENT',
  'INCORRECT_NUMBER_OF_COMMITMENTS',
  'INCONSISTENT_VIEW',
  'INSUFFICIENT_HONEST_SIGNERS',
  'AGGREGATE_INVALID',
  // service
  'STORAGE_UNAVAILABLE',
  'RATE_LIMITED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODE_SET.has(value);
}

/** A coded failure as plain data: what results carry and what `error` messages put on the wire. */
export interface ProtocolIssue {
  readonly code: ErrorCode;
  /** Fixed text chosen by this package. Never contains input values or secrets. */
  readonly message: string;
  /** Where in the frame the problem is (schema failures only). Only schema keys and indexes. */
  readonly path?: readonly (string | number)[];
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ProtocolIssue };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(
  code: ErrorCode,
  message: string,
  path?: readonly (string | number)[],
): { ok: false; error: ProtocolIssue } {
  return { ok: false, error: path === undefined ? { code, message } : { code, message, path } };
}

export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly path: readonly (string | number)[] | undefined;

  constructor(code: ErrorCode, message: string, path?: readonly (string | number)[]) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.path = path;
  }

  static from(issue: ProtocolIssue): ProtocolError {
    return new ProtocolError(issue.code, issue.message, issue.path);
  }

  toIssue(): ProtocolIssue {
    return this.path === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, path: this.path };
  }

  /** The `error` wire message for this failure. */
  toMessage(): { type: 'error'; code: ErrorCode; message: string } {
    return { type: 'error', code: this.code, message: this.message };
  }
}

/** Returns the value of an ok result, or throws its error as a ProtocolError. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw ProtocolError.from(result.error);
}
