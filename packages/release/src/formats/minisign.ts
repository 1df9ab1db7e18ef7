/**
 * minisign (prehashed `ED` signatures) and the key id it shares with signify.
 *
 * signature = Ed25519(BLAKE2b-512(file)); global = Ed25519(signature ‖ trusted comment). The global
 * signature covers the first, so a ceremony signs them in two consecutive phases (FORMATS.md).
 */
import { concat, hash, toBase64, utf8 } from './encoding.js';
import { fail } from './errors.js';
import { checkArtifactName, checkCommentField, checkUnixTime } from './validate.js';

/** Our choice of key number (minisign/signify need 8 bytes, the same in key and every signature). */
export const KEYNUM_DOMAIN = 'conclave-keynum';

/** keynum = first 8 bytes of SHA-256("conclave-keynum" ‖ A): stable per group key, no state. */
export function keynum(a: Uint8Array): Uint8Array {
  return hash('sha256', utf8(KEYNUM_DOMAIN), a).subarray(0, 8);
}

/** How minisign prints a key id: the keynum as a little-endian u64, upper-case hex. */
export function minisignKeyId(num: Uint8Array): string {
  return Buffer.from(num).reverse().toString('hex').toUpperCase();
}

/** Upper bound we hold the trusted comment to (minisign reads lines up to 8192 bytes). */
export const MAX_TRUSTED_COMMENT_BYTES = 4096;

export interface TrustedCommentFields {
  readonly signedAt: number;
  readonly file: string;
  readonly version: string;
  readonly ceremony: string;
}

/**
 * `timestamp:<t>\tfile:<name>\tprehashed\tversion:<v>\tceremony:<id>`: minisign's own fields
 * (timestamp, file, prehashed) first, ours after; one line, so no field may hold a control character.
 */
export function minisignTrustedComment(f: TrustedCommentFields): string {
  checkUnixTime('signedAt', f.signedAt);
  checkArtifactName(f.file);
  checkCommentField('file name', f.file);
  checkCommentField('version', f.version);
  checkCommentField('ceremony id', f.ceremony);
  const tc = `timestamp:${f.signedAt}\tfile:${f.file}\tprehashed\tversion:${f.version}\tceremony:${f.ceremony}`;
  if (utf8(tc).length > MAX_TRUSTED_COMMENT_BYTES) {
    fail(
      'TRUSTED_COMMENT_INVALID',
      `trusted comment is longer than ${MAX_TRUSTED_COMMENT_BYTES} bytes`,
    );
  }
  return tc;
}

/** The global signature's message: signature ‖ trusted comment (without prefix or newline). */
export function minisignGlobalMessage(signature: Uint8Array, trustedComment: string): Uint8Array {
  return concat(signature, utf8(trustedComment));
}

export const MINISIGN_PREHASHED = utf8('ED');
export const MINISIGN_LEGACY = utf8('Ed');

/** `untrusted comment: minisign public key <ID>` + base64("Ed" ‖ keynum ‖ A). */
export function minisignPublicKeyFile(a: Uint8Array): string {
  const num = keynum(a);
  return `untrusted comment: minisign public key ${minisignKeyId(num)}\n${toBase64(concat(MINISIGN_LEGACY, num, a))}\n`;
}

/** The 4-line `.minisig` file (prehashed). */
export function minisignSignatureFile(
  a: Uint8Array,
  signature: Uint8Array,
  trustedComment: string,
  globalSignature: Uint8Array,
  untrustedComment: string,
): string {
  checkCommentField('untrusted comment', untrustedComment);
  return (
    `untrusted comment: ${untrustedComment}\n` +
    `${toBase64(concat(MINISIGN_PREHASHED, keynum(a), signature))}\n` +
    `trusted comment: ${trustedComment}\n` +
    `${toBase64(globalSignature)}\n`
  );
}
