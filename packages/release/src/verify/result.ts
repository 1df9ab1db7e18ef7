/** What `verifySignature` returns: a verdict, never a thrown exception. */
import type { SignatureFormat } from '../formats/types.js';

export const VERIFY_FAILURE_CODES = [
  /** The signature file is none of the formats Conclave writes. */
  'SIG_FORMAT_UNKNOWN',
  /** The format was recognised but the file is damaged (bad base64, truncated packet, …). */
  'SIG_MALFORMED',
  /** A well-formed signature of a kind we do not verify (RSA key, v6 packet, messageSignature, …). */
  'SIG_UNSUPPORTED',
  'KEY_FORMAT_UNKNOWN',
  'KEY_MALFORMED',
  'KEY_UNSUPPORTED',
  /**
   * An OpenPGP certificate without a valid self-signature, or revoked; an allowed_signers line whose
   * valid-after/valid-before window excludes the time of verification (`VerifyInput.now`).
   */
  'KEY_CERT_INVALID',
  /** The signature names another key (SSHSIG public key, minisign/signify key number, OpenPGP issuer). */
  'KEY_MISMATCH',
  /** The Ed25519 signature does not verify: wrong key, changed artifact or changed signed data. */
  'SIG_INVALID',
  /** SSHSIG namespace differs from the one expected (or one the allowed_signers line permits). */
  'NAMESPACE_MISMATCH',
  /** A signed list (signify, statement subjects) does not name the artifact. */
  'ARTIFACT_NOT_LISTED',
  /** A signed list names the artifact with another digest, or no subject has the artifact's digest. */
  'DIGEST_MISMATCH',
  /** minisign's global signature over the trusted comment does not verify. */
  'TRUSTED_COMMENT_INVALID',
  /** The key or signature file is larger than any legitimate one. */
  'INPUT_TOO_LARGE',
] as const;

export type VerifyFailureCode = (typeof VERIFY_FAILURE_CODES)[number];

export type VerifyResult =
  | {
      readonly ok: true;
      readonly format: SignatureFormat;
      /** One line for a person: what was verified. */
      readonly detail: string;
      /** The artifact's name where the signature carries one (signed list, statement, trusted comment). */
      readonly artifactName?: string;
      /**
       * The signed statement's bytes, exactly those the signature covers (DSSE, Sigstore, JWS):
       * what every check of the release (class, validUntil, version, revocations) must read,
       * never the signature file parsed a second time (its unsigned fields could say otherwise).
       */
      readonly statementPayload?: Uint8Array;
    }
  | {
      readonly ok: false;
      readonly format?: SignatureFormat;
      readonly code: VerifyFailureCode;
      /** One line for a person: why, and what to check. */
      readonly reason: string;
    };

export interface VerifyInput {
  /** Any public key file `detectKey` reads. */
  readonly key: Uint8Array;
  /** The signature file (for git: the tag object with its signature). */
  readonly signature: Uint8Array;
  /** The artifact's bytes (unused for git tags: the signed payload is in the tag object). */
  readonly artifact: Uint8Array;
  /** SSHSIG namespace to require; default `file` (`git` for tag objects). */
  readonly namespace?: string;
  /** Look the artifact up by this name in signed lists/statements (default: by its digest). */
  readonly artifactName?: string;
  /**
   * The time of verification, ms since the epoch (default: the clock, read once per call). Every
   * time check uses it, so an auditor can re-verify as of a past time: allowed_signers
   * valid-after/valid-before, and an OpenPGP signature's creation time (not after it, as sqv
   * --not-after) and expiration. Not a valid Date value: `SIG_MALFORMED`.
   */
  readonly now?: number;
}

/** Internal: a failure raised inside a parser and turned into a result at the top. */
export class VerifyFailure extends Error {
  constructor(
    readonly code: VerifyFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'VerifyFailure';
  }
}

export function reject(code: VerifyFailureCode, reason: string): never {
  throw new VerifyFailure(code, reason);
}
