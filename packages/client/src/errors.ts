// One error class for the client package with a closed set of codes (sigstore-js style):
// callers and tests switch on `code`, humans read `message`. Messages never echo secrets
// (passphrases, shares, nonces, plaintext) — THREATS B.34.

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
  // programmer errors: a value of the wrong shape was passed to this library
  'INVALID_ARGUMENT',
] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** What `--json` output shows: the code and the message, never the cause chain. */
  toJSON(): { code: ClientErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isClientError(err: unknown, code?: ClientErrorCode): err is ClientError {
  return err instanceof ClientError && (code === undefined || err.code === code);
}

/** The errno-style code of a Node.js system error, if any (never its message: it may hold paths only). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
