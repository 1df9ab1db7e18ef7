/**
 * One error type for building signature formats and exporting keys, with a closed set of codes:
 * callers switch on `code`, never on the message (sigstore-js `VerificationError` shape).
 */
export const FORMAT_ERROR_CODES = [
  /** A content format (raw, OpenPGP document signature) needs the artifact's bytes. */
  'ARTIFACT_REQUIRED',
  /** An artifact name a format cannot carry (path separator, control character, tab, …). */
  'ARTIFACT_NAME_INVALID',
  'ARTIFACT_DUPLICATE',
  /** An artifact digest is not lowercase hex of the right length. */
  'ARTIFACT_DIGEST_INVALID',
  /** The bytes `artifactBytes` returned do not hash to the artifact's SHA-256. */
  'ARTIFACT_BYTES_MISMATCH',
  /** `raw` refused: the artifact's bytes read as another format's signed message (raw-guard.ts). */
  'RAW_CONTENT_AMBIGUOUS',
  'FORMAT_UNKNOWN',
  /** An artifact is not a subject of the statement (with the same digests). */
  'STATEMENT_MISMATCH',
  /** Two output files would have the same name (an artifact named like a key file). */
  'OUTPUT_PATH_COLLISION',
  'GROUP_NAME_INVALID',
  'PUBLIC_KEY_INVALID',
  'GIT_TAG_INVALID',
  'TRUSTED_COMMENT_INVALID',
  'TIME_INVALID',
  /** A job's signature is absent from the map handed to `planJobs` (phase 2) or `assemble`. */
  'SIGNATURE_MISSING',
  /** A job's signature does not verify under the group key over the job's message. */
  'SIGNATURE_INVALID',
  /** The OpenPGP certificate needs the quorum's self-signature (job `openpgp-cert`). */
  'OPENPGP_CERT_UNSIGNED',
  'KEY_FORMAT_UNKNOWN',
  'KEY_MALFORMED',
  'KEY_UNSUPPORTED',
  /** An OpenPGP certificate whose user ID binding does not verify. */
  'KEY_CERT_INVALID',
] as const;

export type FormatErrorCode = (typeof FORMAT_ERROR_CODES)[number];

export class FormatError extends Error {
  readonly code: FormatErrorCode;

  constructor(code: FormatErrorCode, message: string) {
    super(message);
    this.name = 'FormatError';
    this.code = code;
  }
}

export function isFormatError(e: unknown, code?: FormatErrorCode): e is FormatError {
  return e instanceof FormatError && (code === undefined || e.code === code);
}

export function fail(code: FormatErrorCode, message: string): never {
  throw new FormatError(code, message);
}
