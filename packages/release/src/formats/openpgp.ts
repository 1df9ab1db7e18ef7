/**
 * OpenPGP v4 with EdDSALegacy (algorithm 22, RFC 9580 §5.5.5.5 / RFC 4880bis): the group's
 * certificate and detached binary document signatures, SHA-512. The Ed25519 message of an OpenPGP
 * signature is the hash digest itself (FORMATS.md §OpenPGP), so the quorum signs 64 bytes.
 */
import { concat, hash, toBase64, u16be, u32be, utf8, wrap } from './encoding.js';
import { checkGroup, checkUnixTime } from './validate.js';

export const PGP_PUBKEY_EDDSA_LEGACY = 22;
export const PGP_HASH_SHA256 = 8;
export const PGP_HASH_SHA384 = 9;
export const PGP_HASH_SHA512 = 10;
/** OID 1.3.6.1.4.1.11591.15.1 (Ed25519Legacy), RFC 9580 §9.2, with its length byte. */
export const ED25519_LEGACY_OID = Uint8Array.of(
  0x09,
  0x2b,
  0x06,
  0x01,
  0x04,
  0x01,
  0xda,
  0x47,
  0x0f,
  0x01,
);

export const SIG_BINARY = 0x00;
export const SIG_POSITIVE_CERTIFICATION = 0x13;

export const SUB_CREATION_TIME = 2;
export const SUB_PREFERRED_SYMMETRIC = 11;
export const SUB_ISSUER_KEY_ID = 16;
export const SUB_PREFERRED_HASH = 21;
export const SUB_KEY_FLAGS = 27;
export const SUB_FEATURES = 30;
export const SUB_ISSUER_FINGERPRINT = 33;

export const TAG_SIGNATURE = 2;
export const TAG_PUBLIC_KEY = 6;
export const TAG_USER_ID = 13;

/** RFC 9580 §4.2.1 OpenPGP (new) packet framing. */
export function packet(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  let len: Uint8Array;
  if (n < 192) len = Uint8Array.of(n);
  else if (n < 8384) len = Uint8Array.of(((n - 192) >> 8) + 192, (n - 192) & 0xff);
  else len = concat(Uint8Array.of(0xff), u32be(n));
  return concat(Uint8Array.of(0xc0 | tag), len, body);
}

/** RFC 9580 §3.2 MPI: bit count ‖ big-endian bytes without leading zero bytes. */
export function mpi(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  const bits = v.length === 0 ? 0 : (v.length - 1) * 8 + (32 - Math.clz32(v[0]!));
  return concat(u16be(bits), v);
}

/** RFC 9580 §5.5.2 v4 public key packet body with the EdDSALegacy point 0x40 ‖ A. */
export function publicKeyBody(a: Uint8Array, createdAt: number): Uint8Array {
  checkUnixTime('keyCreatedAt', createdAt);
  return concat(
    Uint8Array.of(4),
    u32be(createdAt),
    Uint8Array.of(PGP_PUBKEY_EDDSA_LEGACY),
    ED25519_LEGACY_OID,
    mpi(concat(Uint8Array.of(0x40), a)),
  );
}

/** RFC 9580 §5.5.4.2: v4 fingerprint = SHA-1(0x99 ‖ u16 len ‖ body); key id = its last 8 bytes. */
export function fingerprintOf(keyBody: Uint8Array): { fingerprint: Uint8Array; keyId: Uint8Array } {
  const fingerprint = hash('sha1', Uint8Array.of(0x99), u16be(keyBody.length), keyBody);
  return { fingerprint, keyId: fingerprint.subarray(12) };
}

export function openpgpFingerprint(a: Uint8Array, createdAt: number) {
  return fingerprintOf(publicKeyBody(a, createdAt));
}

/** `<group> release quorum <group@conclave.invalid>` (RFC 2606 .invalid: not a mailbox). */
export function openpgpUserId(group: string): string {
  checkGroup(group);
  return `${group} release quorum <${group}@conclave.invalid>`;
}

/** RFC 9580 §5.2.3.7 subpacket: length (1 octet here) ‖ type ‖ data. */
export function subpacket(type: number, data: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(data.length + 1, type), data);
}

export interface SignatureParts {
  /** v4 hashed part: 04 ‖ type ‖ pubkey algo ‖ hash algo ‖ u16 len ‖ hashed subpackets. */
  readonly hashedPart: Uint8Array;
  readonly unhashed: Uint8Array;
  /** What the quorum signs: HASH(prefix ‖ hashedPart ‖ 04 FF ‖ u32 len(hashedPart)). */
  readonly digest: Uint8Array;
}

/** RFC 9580 §5.2.4 (v4): the hash over the signed data and the signature's trailer. */
export function signatureParts(
  sigType: number,
  hashedSubpackets: Uint8Array,
  unhashedSubpackets: Uint8Array,
  prefix: readonly Uint8Array[],
): SignatureParts {
  const hashedPart = concat(
    Uint8Array.of(4, sigType, PGP_PUBKEY_EDDSA_LEGACY, PGP_HASH_SHA512),
    u16be(hashedSubpackets.length),
    hashedSubpackets,
  );
  const digest = hash(
    'sha512',
    ...prefix,
    hashedPart,
    Uint8Array.of(4, 0xff),
    u32be(hashedPart.length),
  );
  return { hashedPart, unhashed: unhashedSubpackets, digest };
}

/** RFC 9580 §5.2.3 v4 signature packet: parts ‖ left 16 bits of digest ‖ MPI(R) ‖ MPI(S). */
export function signaturePacket(parts: SignatureParts, signature: Uint8Array): Uint8Array {
  return packet(
    TAG_SIGNATURE,
    concat(
      parts.hashedPart,
      u16be(parts.unhashed.length),
      parts.unhashed,
      parts.digest.subarray(0, 2),
      mpi(signature.subarray(0, 32)),
      mpi(signature.subarray(32, 64)),
    ),
  );
}

/** Prefix hashed for a certification over a key and a user ID (RFC 9580 §5.2.4). */
function certificationPrefix(keyBody: Uint8Array, uid: Uint8Array): Uint8Array[] {
  return [
    Uint8Array.of(0x99),
    u16be(keyBody.length),
    keyBody,
    Uint8Array.of(0xb4),
    u32be(uid.length),
    uid,
  ];
}

/**
 * The quorum's positive certification (0x13) of its own user ID: creation time = key creation
 * time, key flags certify+sign, SHA-512/SHA-256, AES-256, features: MDC (RFC 9580 §5.2.3.32).
 */
export function certificationParts(
  a: Uint8Array,
  group: string,
  keyCreatedAt: number,
): SignatureParts {
  const keyBody = publicKeyBody(a, keyCreatedAt);
  const { fingerprint, keyId } = fingerprintOf(keyBody);
  const uid = utf8(openpgpUserId(group));
  const hashed = concat(
    subpacket(SUB_CREATION_TIME, u32be(keyCreatedAt)),
    subpacket(SUB_ISSUER_FINGERPRINT, concat(Uint8Array.of(4), fingerprint)),
    subpacket(SUB_KEY_FLAGS, Uint8Array.of(0x03)),
    subpacket(SUB_PREFERRED_HASH, Uint8Array.of(PGP_HASH_SHA512, PGP_HASH_SHA256)),
    subpacket(SUB_PREFERRED_SYMMETRIC, Uint8Array.of(9)),
    subpacket(SUB_FEATURES, Uint8Array.of(0x01)),
  );
  return signatureParts(
    SIG_POSITIVE_CERTIFICATION,
    hashed,
    subpacket(SUB_ISSUER_KEY_ID, keyId),
    certificationPrefix(keyBody, uid),
  );
}

/** Transferable public key (RFC 9580 §10.1): key packet ‖ user ID packet ‖ self-signature. */
export function openpgpCertificate(
  a: Uint8Array,
  group: string,
  keyCreatedAt: number,
  selfSignature: Uint8Array,
): Uint8Array {
  return concat(
    packet(TAG_PUBLIC_KEY, publicKeyBody(a, keyCreatedAt)),
    packet(TAG_USER_ID, utf8(openpgpUserId(group))),
    signaturePacket(certificationParts(a, group, keyCreatedAt), selfSignature),
  );
}

/** Binary document signature (0x00) over a file: creation time, issuer fingerprint; key id unhashed. */
export function documentParts(
  a: Uint8Array,
  keyCreatedAt: number,
  signedAt: number,
  file: Uint8Array,
): SignatureParts {
  checkUnixTime('signedAt', signedAt);
  const { fingerprint, keyId } = openpgpFingerprint(a, keyCreatedAt);
  const hashed = concat(
    subpacket(SUB_CREATION_TIME, u32be(signedAt)),
    subpacket(SUB_ISSUER_FINGERPRINT, concat(Uint8Array.of(4), fingerprint)),
  );
  return signatureParts(SIG_BINARY, hashed, subpacket(SUB_ISSUER_KEY_ID, keyId), [file]);
}

/** RFC 9580 §6.1 CRC-24 (init 0xB704CE, generator 0x1864CFB). */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

export type ArmorKind = 'PGP SIGNATURE' | 'PGP PUBLIC KEY BLOCK';

/** RFC 9580 §6.2 ASCII armor: base64 at 64 columns and the CRC-24 checksum line. */
export function armor(kind: ArmorKind, data: Uint8Array): string {
  const c = crc24(data);
  const crc = toBase64(Uint8Array.of((c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff));
  return `-----BEGIN ${kind}-----\n\n${wrap(toBase64(data), 64).join('\n')}\n=${crc}\n-----END ${kind}-----\n`;
}
