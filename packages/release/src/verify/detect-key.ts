/**
 * Read any public key file Conclave writes (and the usual variants of it): SPKI PEM or DER,
 * OpenSSH `ssh-ed25519` lines, allowed_signers, minisign/signify keys, OpenPGP certificates
 * (armored or binary; the user ID self-signature is verified), JWK, TUF/in-toto key objects and
 * bare hex. Hostile input gets a typed `FormatError`, nothing else.
 */
import { ed25519Spki } from '@conclave/frost';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fail } from '../formats/errors.js';
import {
  concat,
  decodeUtf8,
  equalBytes,
  fromBase64,
  fromBase64Url,
  fromHex,
  hash,
  Reader,
  u16be,
  u32be,
} from '../formats/encoding.js';
import { verifyEd25519 } from '../formats/ed25519.js';
import { TAG_PUBLIC_KEY, TAG_SIGNATURE, TAG_USER_ID } from '../formats/openpgp.js';
import type { KeyFormat } from '../keys/export.js';
import { openpgpPackets, parsePublicKey, parseSignature } from './openpgp-parse.js';

export const MAX_KEY_BYTES = 1 << 20;

export type DetectedKeyFormat = KeyFormat | 'der' | 'hex';

export interface DetectedKey {
  readonly format: DetectedKeyFormat;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** minisign / signify key number (8 bytes), when the file carries one. */
  readonly keynum?: Uint8Array;
  /** allowed_signers: the line's principals and its `namespaces=` list (absent = any). */
  readonly principals?: readonly string[];
  readonly namespaces?: readonly string[];
  /** allowed_signers `valid-after=` / `valid-before=` (ms since the epoch), enforced at verification. */
  readonly validAfter?: number;
  readonly validBefore?: number;
  /** OpenPGP: fingerprint, key id, creation time and the user IDs with a valid self-signature. */
  readonly openpgp?: {
    readonly fingerprint: Uint8Array;
    readonly keyId: Uint8Array;
    readonly createdAt: number;
    /** Unix seconds at which the key expires (newest self-signature's key expiration), if any. */
    readonly expiresAt?: number;
    readonly userIds: readonly string[];
  };
}

const SPKI_PREFIX = ed25519Spki(new Uint8Array(32)).subarray(0, 12);

function fromSpki(der: Uint8Array): Uint8Array {
  if (der.length !== 44 || !equalBytes(der.subarray(0, 12), SPKI_PREFIX)) {
    fail('KEY_UNSUPPORTED', 'the SubjectPublicKeyInfo is not an Ed25519 key (RFC 8410)');
  }
  return der.slice(12);
}

function fromSshBlob(blob: Uint8Array): Uint8Array {
  const r = new Reader(blob);
  const type = r.sshString();
  if (!type) fail('KEY_MALFORMED', 'truncated SSH public key blob');
  const t = decodeUtf8(type) ?? '?';
  if (t !== 'ssh-ed25519') fail('KEY_UNSUPPORTED', `SSH key type ${t} is not ssh-ed25519`);
  const a = r.sshString();
  if (!a || a.length !== 32 || r.remaining !== 0)
    fail('KEY_MALFORMED', 'ssh-ed25519 key must hold 32 bytes');
  return a.slice();
}

/** Split an allowed_signers / authorized_keys line into tokens; double quotes group (no escapes). */
function tokens(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let any = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      cur += ch;
      any = true;
    } else if (!quoted && (ch === ' ' || ch === '\t')) {
      if (any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (quoted) return undefined;
  if (any) out.push(cur);
  return out;
}

const SSH_KEY_TYPES = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com|ssh-ed448)$/;

function sshKey(text: string): DetectedKey | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const t = tokens(line);
    if (!t) fail('KEY_MALFORMED', 'unbalanced quotes in an allowed_signers line');
    const k = t.findIndex((x) => SSH_KEY_TYPES.test(x));
    if (k < 0) return undefined;
    const blob = fromBase64(t[k + 1] ?? '');
    if (!blob) fail('KEY_MALFORMED', 'the SSH key is not base64');
    const type = t[k]!;
    if (type !== 'ssh-ed25519') fail('KEY_UNSUPPORTED', `SSH key type ${type} is not ssh-ed25519`);
    const publicKey = fromSshBlob(blob);
    if (k === 0) return { format: 'ssh', publicKey };
    // allowed_signers: principals [options] keytype base64 [comment] (ssh-keygen(1) ALLOWED SIGNERS).
    const principals = t[0]!.split(',');
    const options = t.slice(1, k).join(' ');
    const nm = /(?:^|,)namespaces="([^"]*)"/i.exec(options);
    const namespaces = nm ? nm[1]!.split(',') : undefined;
    // A cert-authority line trusts certificates signed by this key, never a plain signature by it.
    if (/(?:^|,)cert-authority(?:,|$)/i.test(options))
      fail('KEY_UNSUPPORTED', 'a cert-authority allowed_signers line needs SSH certificates');
    const va = /(?:^|,)valid-after="([^"]*)"/i.exec(options);
    const vb = /(?:^|,)valid-before="([^"]*)"/i.exec(options);
    const validAfter = va ? sshTime(va[1]!) : undefined;
    const validBefore = vb ? sshTime(vb[1]!) : undefined;
    return {
      format: 'allowed-signers',
      publicKey,
      principals,
      ...(namespaces ? { namespaces } : {}),
      ...(validAfter !== undefined ? { validAfter } : {}),
      ...(validBefore !== undefined ? { validBefore } : {}),
    };
  }
  return undefined;
}

/**
 * OpenSSH parse_absolute_time (misc.c): YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, local time, or
 * UTC with a trailing `Z`. Milliseconds since the epoch.
 */
function sshTime(v: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(v);
  if (!m)
    fail('KEY_MALFORMED', `allowed_signers time ${JSON.stringify(v)} is not YYYYMMDD[HHMM[SS]][Z]`);
  const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const t = m[7] ? Date.UTC(y, mo - 1, d, h, mi, se) : new Date(y, mo - 1, d, h, mi, se).getTime();
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59 || !Number.isFinite(t))
    fail('KEY_MALFORMED', `allowed_signers time ${JSON.stringify(v)} is not a valid date`);
  return t;
}

function minisignKey(text: string): DetectedKey {
  const lines = text.split(/\r?\n/);
  const comment = lines[0]!;
  const b = fromBase64((lines[1] ?? '').trim());
  if (!b || b.length !== 42)
    fail('KEY_MALFORMED', 'minisign/signify key line must be base64 of 42 bytes');
  if (b[0] !== 0x45 || b[1] !== 0x64)
    fail('KEY_UNSUPPORTED', 'minisign/signify key algorithm is not "Ed"');
  const format = /^untrusted comment: minisign/.test(comment) ? 'minisign' : 'signify';
  return { format, publicKey: b.slice(10), keynum: b.slice(2, 10) };
}

function jsonKey(text: string): DetectedKey {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    fail('KEY_MALFORMED', 'the key file is not valid JSON');
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    fail('KEY_FORMAT_UNKNOWN', 'JSON key must be an object');
  const o = j as Record<string, unknown>;
  if (o.kty !== undefined) {
    if (o.kty !== 'OKP' || o.crv !== 'Ed25519')
      fail('KEY_UNSUPPORTED', 'JWK is not an OKP Ed25519 key (RFC 8037)');
    const x = typeof o.x === 'string' ? fromBase64Url(o.x) : undefined;
    if (!x || x.length !== 32) fail('KEY_MALFORMED', 'JWK "x" must be base64url of 32 bytes');
    return { format: 'jwk', publicKey: x };
  }
  if (o.keytype !== undefined) {
    const keyval = o.keyval as Record<string, unknown> | undefined;
    if (o.keytype !== 'ed25519' || (o.scheme !== undefined && o.scheme !== 'ed25519')) {
      fail('KEY_UNSUPPORTED', 'TUF/in-toto key is not ed25519');
    }
    const pub = typeof keyval?.public === 'string' ? fromHex(keyval.public, 32) : undefined;
    if (!pub) fail('KEY_MALFORMED', 'TUF key "keyval.public" must be 64 lowercase hex characters');
    return { format: 'tuf', publicKey: pub };
  }
  return fail('KEY_FORMAT_UNKNOWN', 'JSON is neither a JWK nor a TUF/in-toto key');
}

function openpgpKey(bytes: Uint8Array): DetectedKey {
  const p = openpgpPackets(bytes, 'PGP PUBLIC KEY BLOCK');
  if ('error' in p) fail('KEY_MALFORMED', `OpenPGP: ${p.error}`);
  const list = p.value;
  if (list[0]?.tag !== TAG_PUBLIC_KEY)
    fail('KEY_MALFORMED', 'OpenPGP certificate must start with a public key packet');
  const key = parsePublicKey(list[0].body);
  if ('error' in key) fail('KEY_UNSUPPORTED', `OpenPGP: ${key.error}`);
  const k = key.value;
  const keyPrefix = concat(Uint8Array.of(0x99), u16be(k.body.length), k.body);
  const userIds: string[] = [];
  let uid: Uint8Array | undefined;
  let revoked = false;
  // The newest valid self-signature states the key's expiration (RFC 9580 §5.2.3.13, §5.2.3.10).
  let newest: { createdAt: number; keyExpiresIn: number } | undefined;
  // Packets up to the first subkey belong to the primary key (RFC 9580 §10.1).
  for (const pkt of list.slice(1)) {
    if (pkt.tag === 14 || pkt.tag === TAG_PUBLIC_KEY) break;
    if (pkt.tag === TAG_USER_ID) uid = pkt.body;
    else if (pkt.tag === 17) uid = undefined; // user attribute: not a user ID
    if (pkt.tag !== TAG_SIGNATURE) continue;
    const s = parseSignature(pkt.body);
    if ('error' in s) continue; // gpg skips signatures it cannot use
    const sig = s.value;
    if (sig.hashAlgorithm !== 8 && sig.hashAlgorithm !== 9 && sig.hashAlgorithm !== 10) continue;
    const name = sig.hashAlgorithm === 8 ? 'sha256' : sig.hashAlgorithm === 9 ? 'sha384' : 'sha512';
    const trailer = concat(Uint8Array.of(4, 0xff), u32be(sig.hashedPart.length));
    let prefix: Uint8Array;
    if (sig.sigType === 0x20) prefix = keyPrefix;
    else if (sig.sigType >= 0x10 && sig.sigType <= 0x13 && uid) {
      prefix = concat(keyPrefix, Uint8Array.of(0xb4), u32be(uid.length), uid);
    } else continue;
    const digest = hash(name, prefix, sig.hashedPart, trailer);
    if (
      !equalBytes(digest.subarray(0, 2), sig.left16) ||
      !verifyEd25519(digest, sig.signature, k.publicKey)
    )
      continue;
    if (sig.sigType === 0x20) revoked = true;
    else {
      const created = sig.createdAt ?? 0;
      if (!newest || created >= newest.createdAt)
        newest = { createdAt: created, keyExpiresIn: sig.keyExpiresIn ?? 0 };
      const text = decodeUtf8(uid!) ?? '';
      if (!userIds.includes(text)) userIds.push(text);
    }
  }
  if (revoked) fail('KEY_CERT_INVALID', 'the OpenPGP key is revoked');
  if (userIds.length === 0) {
    fail(
      'KEY_CERT_INVALID',
      'the OpenPGP certificate has no user ID with a valid self-signature (gpg would skip it)',
    );
  }
  return {
    format: 'openpgp',
    publicKey: k.publicKey,
    openpgp: {
      fingerprint: k.fingerprint,
      keyId: k.keyId,
      createdAt: k.createdAt,
      ...(newest && newest.keyExpiresIn > 0
        ? { expiresAt: k.createdAt + newest.keyExpiresIn }
        : {}),
      userIds,
    },
  };
}

/**
 * Identify a public key file and extract the Ed25519 key. Throws `FormatError` (KEY_* codes).
 * The point must be a canonical encoding (RFC 8032 §5.1.3), not of small order, and in the
 * prime-order subgroup; every public key a verifier here accepts passes through this function.
 *
 * Small order: OpenSSL verifies under a small-order key, where one fixed signature (R = identity,
 * S = 0) fits every message; libsodium (minisign) refuses such keys.
 *
 * Torsion component (A' = A + T, T a nonzero point of small order): whether a signature verifies
 * then depends on the verifier. Cofactorless verification ([S]B = R + [k]A') accepts a signature
 * made with A's secret only when [k]T = 0; cofactored verification ([8][S]B = [8]R + [8][k]A',
 * RFC 8032 §5.1.7) accepts it for every k. Measured on Debian 12 with T of order 8 and a full
 * release signed under A' (grinding r until k ≡ 0 mod 8): openssl pkeyutl, ssh-keygen -Y verify
 * (and git), minisign 0.11 (libsodium), signify-openbsd and sqv 1.1 all said OK; gpgv 2.2.40
 * (libgcrypt 1.10) refused ("Bad public key"; gpg skips the certificate: "no user ID"). With k not
 * ≡ 0 mod 8 (valid only cofactored) every one of them refused. So the verdict is ambiguous across
 * tools and implementations (ZIP-215 / noble's default verify is cofactored). No FROST group key
 * has a torsion component (it is [s]B), so refusing it here is stricter than most tools, never
 * looser: KEY_MALFORMED.
 */
export function detectKey(bytes: Uint8Array): DetectedKey {
  const k = readKey(bytes);
  const id = Buffer.from(k.publicKey).toString('hex');
  if (GOOD_KEYS.has(id)) return k;
  let point;
  try {
    point = ed25519.Point.fromBytes(k.publicKey, false);
  } catch {
    return fail('KEY_MALFORMED', 'the Ed25519 public key is not a valid point encoding');
  }
  if (point.isSmallOrder())
    fail('KEY_MALFORMED', 'the Ed25519 public key has small order: every message would verify');
  if (!point.isTorsionFree()) {
    fail(
      'KEY_MALFORMED',
      'the Ed25519 public key is not in the prime-order subgroup (it has a torsion component): tools disagree on which signatures verify under it, and no Conclave group key is one',
    );
  }
  if (GOOD_KEYS.size >= MAX_GOOD_KEYS) GOOD_KEYS.delete(GOOD_KEYS.values().next().value!);
  GOOD_KEYS.add(id);
  return k;
}

/**
 * Keys that passed the point checks (hex). The subgroup check is a scalar multiplication by L
 * (~2.7 ms with noble, ten times the Ed25519 verify itself), and a verifier checks many files
 * under one key; the verdict depends only on the 32 bytes.
 */
const GOOD_KEYS = new Set<string>();
const MAX_GOOD_KEYS = 16;

function readKey(bytes: Uint8Array): DetectedKey {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0)
    fail('KEY_FORMAT_UNKNOWN', 'the key file is empty');
  if (bytes.length > MAX_KEY_BYTES)
    fail('KEY_MALFORMED', `the key file is larger than ${MAX_KEY_BYTES} bytes`);
  if (bytes.length === 44 && bytes[0] === 0x30)
    return { format: 'der', publicKey: fromSpki(bytes) };
  if ((bytes[0]! & 0x80) !== 0 && (bytes[0] === 0x99 || bytes[0] === 0x98 || bytes[0] === 0xc6))
    return openpgpKey(bytes);
  const text = decodeUtf8(bytes);
  if (text === undefined)
    fail('KEY_FORMAT_UNKNOWN', 'the key file is neither text nor a known binary key');
  const t = text.trim();
  if (t.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return openpgpKey(bytes);
  const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(t);
  if (pem) {
    const der = fromBase64(pem[1]!.replace(/\s+/g, ''));
    if (!der) fail('KEY_MALFORMED', 'the PEM body is not base64');
    return { format: 'pem', publicKey: fromSpki(der) };
  }
  if (t.startsWith('untrusted comment:')) return minisignKey(t);
  if (t.startsWith('{')) return jsonKey(t);
  if (/^[0-9a-f]{64}$/.test(t)) return { format: 'hex', publicKey: fromHex(t, 32)! };
  const ssh = sshKey(t);
  if (ssh) return ssh;
  return fail(
    'KEY_FORMAT_UNKNOWN',
    'unrecognised key file: expected PEM, ssh-ed25519, allowed_signers, minisign, signify, OpenPGP, JWK, TUF or hex',
  );
}

/** Convenience for callers that only need the 32 bytes. */
export function publicKeyFromFile(bytes: Uint8Array): Uint8Array {
  return detectKey(bytes).publicKey;
}
