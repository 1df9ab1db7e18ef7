/**
 * The `raw` format signs an artifact's bytes as they are, with the same group key every other
 * format signs with. Bytes chosen by a requester could then be another format's signed message,
 * and their raw signature a valid signature in that format over something no approver saw: a DSSE
 * pre-authentication encoding of a forged statement (a release, a policy, a revocation), SSHSIG
 * signed data over any file or git tag, a JWS signing input, a signify checksum list, a digest that
 * OpenPGP or minisign signs in place of a file, or a minisign global signature over a chosen
 * trusted comment. A content such a verifier could read is refused before anything is signed.
 * Found by review; FORMATS.md lists the messages each format signs.
 */
import { decodeUtf8 } from './encoding.js';

/** Ed25519's group order L (RFC 8032 §5.1): a signature's S is below it. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** Little-endian bytes as a bigint. */
function le(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

const startsWith = (b: Uint8Array, ascii: string): boolean =>
  b.length >= ascii.length && [...ascii].every((c, i) => b[i] === c.charCodeAt(0));

/**
 * Sizes of the digests a verifier may take as the signed message: SHA-1 and RIPEMD-160 (20),
 * SHA-224 (28), SHA-256 (32), SHA-384 (48), SHA-512 and BLAKE2b-512 (64). OpenPGP's EdDSA signs
 * the hash in place of the data (RFC 4880bis §5.2.4), minisign's prehashed form a BLAKE2b-512.
 */
const DIGEST_SIZES: ReadonlySet<number> = new Set([20, 28, 32, 48, 64]);

/** The longest prefix we look into for a text pattern (a JWS header, checksum lines). */
const TEXT_PREFIX = 64 * 1024;

/**
 * What another format would read these bytes as, or undefined when none would. The rules are
 * the signed messages of every format the group key signs (packages/release/src/formats):
 * - exactly a digest's size (DIGEST_SIZES);
 * - `DSSEv1 `: DSSE's pre-authentication encoding (statements, policies, revocations);
 * - `SSHSIG`: SSHSIG signed data (ssh-keygen -Y, git's SSH signatures);
 * - base64url, a dot: a JWS signing input, when the first part decodes to a JSON object;
 * - a `SHA256 (…) = ` or `SHA512 (…) = ` line: a signify checksum list;
 * - 64 bytes whose second half is below L, then one line of UTF-8: a minisign signature and a
 *   trusted comment, whose global signature this would be.
 */
export function rawContentConflict(bytes: Uint8Array): string | undefined {
  if (DIGEST_SIZES.has(bytes.length)) {
    return `a ${bytes.length}-byte digest (OpenPGP and minisign sign digests in place of files)`;
  }
  if (startsWith(bytes, 'DSSEv1 ')) return 'a DSSE pre-authentication encoding';
  if (startsWith(bytes, 'SSHSIG')) return 'SSHSIG signed data';
  const head = Buffer.from(bytes.subarray(0, TEXT_PREFIX)).toString('latin1');
  const jws = /^([A-Za-z0-9_-]+)\./.exec(head);
  if (jws !== undefined && jws !== null) {
    const header = Buffer.from(jws[1]!, 'base64url').toString('utf8').trimStart();
    if (header.startsWith('{')) return 'a JWS signing input';
  }
  if (/(^|\n)SHA(256|512) \(/.test(head)) return 'a signify checksum list';
  // (No newline is checked first: it ends the search at once for nearly every large file.)
  const rest = bytes.subarray(64);
  if (
    bytes.length > 64 &&
    !rest.includes(0x0a) &&
    le(bytes.subarray(32, 64)) < L &&
    decodeUtf8(rest) !== undefined
  ) {
    return 'a minisign signature followed by a trusted comment';
  }
  return undefined;
}
