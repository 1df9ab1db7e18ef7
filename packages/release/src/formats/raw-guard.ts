/**
 * The `raw` format signs an artifact's bytes as they are, with the same group key every other
 * format signs with. Bytes chosen by a requester could then be another format's signed message,
 * and their raw signature a valid signature in that format over something no approver saw: a DSSE
 * pre-authentication encoding of a forged statement (a release, a policy, a revocation), SSHSIG
 * signed data over any file or git tag, a JWS signing input, a signify checksum list, TUF or
 * in-toto metadata (the key is exported as quorum.tuf.json), a digest that OpenPGP or minisign
 * signs in place of a file, or a minisign global signature over a chosen trusted comment. A content
 * such a verifier could read is refused before anything is signed. Found by review; FORMATS.md
 * lists the messages each format signs.
 */

/** Ed25519's group order L (RFC 8032 §5.1): a signature's S is below it. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** Little-endian bytes as a bigint. */
function le(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** Whether `ascii` is at `at` in the bytes. */
const isAt = (b: Uint8Array, at: number, ascii: string): boolean =>
  b.length >= at + ascii.length && [...ascii].every((c, i) => b[at + i] === c.charCodeAt(0));

const startsWith = (b: Uint8Array, ascii: string): boolean => isAt(b, 0, ascii);

/**
 * Sizes of the digests a verifier may take as the signed message: SHA-1 and RIPEMD-160 (20),
 * SHA-224 (28), SHA-256 (32), SHA-384 (48), SHA-512 and BLAKE2b-512 (64). OpenPGP's EdDSA signs
 * the hash in place of the data (RFC 4880bis §5.2.4), minisign's prehashed form a BLAKE2b-512.
 */
const DIGEST_SIZES: ReadonlySet<number> = new Set([20, 28, 32, 48, 64]);

/** The longest prefix we look into for a checksum line past the first (signify's rule is below). */
const TEXT_PREFIX = 64 * 1024;

/** ASCII whitespace: what atob's forgiving base64 and C's isspace (sscanf's `%s`, ` `) skip. */
const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** Whitespace within one line: isspace less the line break that ends it. */
const isLineSpace = (c: number): boolean => c !== 0x0a && isAsciiSpace(c);

/** base64url's alphabet and `=`, the padding jose's decoder takes (atob, Uint8Array.fromBase64). */
const isBase64url = (c: number): boolean =>
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  (c >= 0x30 && c <= 0x39) ||
  c === 0x2d ||
  c === 0x5f ||
  c === 0x3d;

/**
 * The protected header of a JWS signing input `header "." payload` these bytes would be, or
 * undefined when they are none. jose splits at the first `.` and its base64url decoder skips ASCII
 * whitespace, so the header is every byte before the first one outside base64url and whitespace,
 * when that byte is a `.`. The whole content is scanned: jose puts no bound on a header's length
 * (the scan is linear, and ends at the first other byte, at once for nearly every file).
 */
function jwsProtectedHeader(bytes: Uint8Array): Uint8Array | undefined {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x2e) return bytes.subarray(0, i);
    if (!isBase64url(c) && !isAsciiSpace(c)) return undefined;
  }
  return undefined;
}

/**
 * A JWS signing input: a header that decodes to JSON. An empty one is a flattened JWS without a
 * protected header (jose signs `"." payload`, its unprotected `header` names the algorithm). jose
 * 6 wants a JSON object; a verifier that takes any JSON value beside an unprotected header would
 * not, so any value is refused. The decoder drops a byte-order mark, JSON.parse leading whitespace.
 */
function isJwsSigningInput(bytes: Uint8Array): boolean {
  const header = jwsProtectedHeader(bytes);
  if (header === undefined) return false;
  const b64 = Buffer.from(header)
    .toString('latin1')
    .replace(/[\t-\r ]/g, '');
  if (b64 === '') return true;
  const json = Buffer.from(b64, 'base64url')
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  try {
    JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}

/**
 * A signify checksum list's first line: signify -C reads each line with
 * sscanf("%31s (%1023s = %223s") and rejects the whole list at the first it cannot parse, so a
 * list it takes starts with one. `%31s` skips leading whitespace, ` (` takes any run of it before
 * `(`: `[ \t\v\f\r]*SHA256[ \t\v\f\r]+(` (or SHA512), however long the runs.
 */
function startsWithChecksumLine(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && isLineSpace(bytes[i]!)) i++;
  if (!isAt(bytes, i, 'SHA256') && !isAt(bytes, i, 'SHA512')) return false;
  let j = i + 'SHA256'.length;
  while (j < bytes.length && isLineSpace(bytes[j]!)) j++;
  return j > i + 'SHA256'.length && bytes[j] === 0x28;
}

/** A checksum line anywhere in the first TEXT_PREFIX bytes, whitespace as signify reads it. */
const CHECKSUM_LINE = /(^|\n)[ \t\v\f\r]*SHA(256|512)[ \t\v\f\r]+\(/;

/**
 * A JSON object, first non-whitespace byte `{`: TUF and in-toto (legacy metadata) sign
 * canonical_json(signed), an object, with the key exported as quorum.tuf.json.
 */
function isJsonObject(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && isAsciiSpace(bytes[i]!)) i++;
  return bytes[i] === 0x7b;
}

/**
 * What another format would read these bytes as, or undefined when none would. The rules are
 * the signed messages of every format the group key signs (packages/release/src/formats), and of
 * TUF, whose key we export:
 * - exactly a digest's size (DIGEST_SIZES);
 * - `DSSEv1 `: DSSE's pre-authentication encoding (statements, policies, revocations);
 * - `SSHSIG`: SSHSIG signed data (ssh-keygen -Y, git's SSH signatures);
 * - base64url and whitespace, then a dot: a JWS signing input, when the first part is empty or
 *   decodes to JSON;
 * - a `SHA256 (…` or `SHA512 (…` line (first, or within TEXT_PREFIX): a signify checksum list;
 * - a JSON object: TUF or in-toto metadata's canonical JSON;
 * - 64 bytes whose second half is below L, then one line: a minisign signature and a trusted
 *   comment, whose global signature this would be.
 */
export function rawContentConflict(bytes: Uint8Array): string | undefined {
  if (DIGEST_SIZES.has(bytes.length)) {
    return `a ${bytes.length}-byte digest (OpenPGP and minisign sign digests in place of files)`;
  }
  if (startsWith(bytes, 'DSSEv1 ')) return 'a DSSE pre-authentication encoding';
  if (startsWith(bytes, 'SSHSIG')) return 'SSHSIG signed data';
  if (isJwsSigningInput(bytes)) return 'a JWS signing input';
  const head = Buffer.from(bytes.subarray(0, TEXT_PREFIX)).toString('latin1');
  if (startsWithChecksumLine(bytes) || CHECKSUM_LINE.test(head)) return 'a signify checksum list';
  if (isJsonObject(bytes)) {
    return 'a JSON object (TUF and in-toto sign the canonical JSON of their metadata, an object)';
  }
  // No newline is checked first: it ends the search at once for nearly every large file. minisign
  // reads the trusted comment up to the line break and never checks its encoding.
  const rest = bytes.subarray(64);
  if (bytes.length > 64 && !rest.includes(0x0a) && le(bytes.subarray(32, 64)) < L) {
    return 'a minisign signature followed by a trusted comment';
  }
  return undefined;
}
