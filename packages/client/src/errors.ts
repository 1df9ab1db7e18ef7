// One error class for the client package with a closed set of codes (sigstore-js style):
// callers and tests switch on `code`, humans read `message`. Messages never echo secrets
// (passphrases, shares, nonces, plaintext) — THREATS B.34.
import type { ErrorCode } from '@conclave/protocol';

export const CLIENT_ERROR_CODES = [
  // keystore (encrypted key share file)
  'KEYSTORE_NOT_FOUND',
  'KEYSTORE_EXISTS',
  'KEYSTORE_MALFORMED',
  'KEYSTORE_UNSUPPORTED_VERSION',
  'KEYSTORE_WEAK_KDF',
  'KEYSTORE_LOOSE_PERMISSIONS',
  'KEYSTORE_DECRYPT_FAILED',
  'KEYSTORE_IO_ERROR',
  // nonce ledger (THREATS A.1–A.5)
  'NONCE_UNKNOWN',
  'NONCE_ALREADY_RESERVED',
  'NONCE_ALREADY_USED',
  'NONCE_ABANDONED',
  'NONCE_STALE_EPOCH',
  'NONCE_NOT_CONSUMED',
  'NONCE_LEDGER_CORRUPT',
  'NONCE_LEDGER_LOCKED',
  'NONCE_LEDGER_CLOSED',
  'NONCE_LEDGER_IO_ERROR',
  // member home (config.json, identity, shares)
  'HOME_NOT_INITIALIZED',
  'HOME_EXISTS',
  'HOME_LOOSE_PERMISSIONS',
  'CONFIG_INVALID',
  'NO_COORDINATOR',
  'PASSPHRASE_REQUIRED',
  'SHARE_NOT_FOUND',
  // connection to the coordinator
  'COORDINATOR_UNREACHABLE',
  'COORDINATOR_KEY_CHANGED',
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'BAD_COORDINATOR_MESSAGE',
  'TIMEOUT',
  // ceremonies
  'DKG_FAILED',
  'DKG_ABORTED',
  'REQUEST_INVALID',
  'ARTIFACT_MISMATCH',
  'ARTIFACT_TOO_LARGE',
  'SIGNING_REFUSED',
  'NOT_APPROVED',
  'CEREMONY_FAILED',
  'DISK_FULL',
  'SIGNATURE_UNAVAILABLE',
  // witnessing the coordinator's transparency log (witness.ts, docs/audit.md)
  'LOG_FORK_DETECTED',
  'LOG_ROLLBACK',
  'LOG_KEY_CHANGED',
  'LOG_UNVERIFIABLE',
  // programmer errors: a value of the wrong shape was passed to this library
  'INVALID_ARGUMENT',
] as const;

/**
 * Local codes, plus the coordinator's protocol codes (`UNKNOWN_MEMBER`, `COMMITMENT_REUSED`, …)
 * passed through unchanged when the coordinator refuses something.
 */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number] | ErrorCode;

export interface ClientErrorOptions extends ErrorOptions {
  /** Public facts for the caller (e.g. `culprits`, `ceremonyId`); never secrets. */
  details?: Record<string, unknown>;
}

export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly code: ClientErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ClientErrorCode, message: string, options?: ClientErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = options?.details;
  }

  /** What `--json` output shows: the code, the message and public details, never the cause chain. */
  toJSON(): { code: ClientErrorCode; message: string } & Record<string, unknown> {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { ...this.details, code: this.code, message: this.message };
  }
}

export function isClientError(err: unknown, code?: ClientErrorCode): err is ClientError {
  return err instanceof ClientError && (code === undefined || err.code === code);
}

/**
 * Whether a send failed because the connection to the coordinator was lost (closed, unreachable,
 * no answer in time): the message may or may not have arrived, and nothing was refused.
 */
export function isConnectionLost(err: unknown): boolean {
  return (
    err instanceof ClientError &&
    (err.code === 'CONNECTION_CLOSED' ||
      err.code === 'COORDINATOR_UNREACHABLE' ||
      err.code === 'TIMEOUT')
  );
}

/** The errno-style code of a Node.js system error, if any (never its message: it may hold paths only). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
