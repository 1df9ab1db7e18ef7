/**
 * One error type for the whole library, with a closed set of codes (frost-rs `Error` shape):
 * callers switch on `code`, never on the message. Messages never echo secret input.
 */
export const FROST_ERROR_CODES = [
  'INVALID_SIGNATURE_SHARE',
  'INVALID_SIGNATURE',
  'INVALID_ELEMENT',
  'IDENTITY_ELEMENT',
  'INVALID_SCALAR',
  'INVALID_IDENTIFIER',
  'DUPLICATE_IDENTIFIER',
  'UNKNOWN_IDENTIFIER',
  'INCORRECT_NUMBER_OF_COMMITMENTS',
  'INCORRECT_NUMBER_OF_SHARES',
  'INCORRECT_NUMBER_OF_PACKAGES',
  'MISSING_COMMITMENT',
  'INCORRECT_COMMITMENT',
  'INVALID_MIN_SIGNERS',
  'INVALID_MAX_SIGNERS',
  'INVALID_PROOF_OF_KNOWLEDGE',
  'INVALID_SECRET_SHARE',
  'NONCE_ALREADY_USED',
  'THRESHOLD_CHANGE_REFUSED',
  'WRONG_CIPHERSUITE',
  'WRONG_GROUP',
  'UNSUPPORTED_VERSION',
  'MALFORMED_ENCODING',
  'DKG_TRANSCRIPT_MISMATCH',
  'INVALID_PARAMETER',
] as const;

export type FrostErrorCode = (typeof FROST_ERROR_CODES)[number];

export class FrostError extends Error {
  readonly code: FrostErrorCode;
  /** Identifiers (canonical hex) of the participants whose input caused the error, if known. */
  readonly culprits: readonly string[];

  constructor(code: FrostErrorCode, message: string, culprits: readonly string[] = []) {
    super(message);
    this.name = 'FrostError';
    this.code = code;
    this.culprits = Object.freeze([...culprits]);
  }
}

export function isFrostError(e: unknown, code?: FrostErrorCode): e is FrostError {
  return e instanceof FrostError && (code === undefined || e.code === code);
}

export function fail(code: FrostErrorCode, message: string, culprits?: readonly string[]): never {
  throw new FrostError(code, message, culprits);
}
