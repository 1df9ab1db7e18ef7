/**
 * Hostile-input OpenPGP parsing for what Conclave verifies: ASCII armor (RFC 9580 §6.2), packet
 * framing (§4.2, old and new format), v4 EdDSALegacy keys (§5.5.2) and v4 signatures (§5.2.3).
 * Every read is bounds-checked; errors are reported as `{ error }`, never thrown.
 */
import { decodeUtf8, equalBytes, fromBase64, Reader } from '../formats/encoding.js';
import {
  crc24,
  ED25519_LEGACY_OID,
  fingerprintOf,
  PGP_PUBKEY_EDDSA_LEGACY,
} from '../formats/openpgp.js';

export interface Packet {
  readonly tag: number;
  readonly body: Uint8Array;
}

type Parsed<T> = { value: T } | { error: string };

/** Dearmor a `-----BEGIN <kind>-----` block; the CRC line is checked when present. */
export function dearmor(text: string, kind: string): Parsed<Uint8Array> {
  const begin = `-----BEGIN ${kind}-----`;
  const end = `-----END ${kind}-----`;
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  const b = lines.indexOf(begin);
  const e = lines.indexOf(end, b + 1);
  if (b < 0 || e < 0) return { error: `no ${kind} armor` };
  let i = b + 1;
  // Armor headers ("Key: value") end at the first blank line (RFC 9580 §6.2.2).
  const blank = lines.indexOf('', i);
  if (
    blank >= 0 &&
    blank < e &&
    lines.slice(i, blank).every((l) => /^[A-Za-z][A-Za-z-]*: /.test(l))
  )
    i = blank + 1;
  let body = '';
  let crc: string | undefined;
  for (; i < e; i++) {
    const l = lines[i]!;
    if (l.startsWith('=') && l.length === 5) crc = l.slice(1);
    else body += l;
  }
  const bytes = fromBase64(body);
  if (!bytes) return { error: 'armor body is not base64' };
  if (crc !== undefined) {
    const c = fromBase64(crc);
    const v = crc24(bytes);
    if (!c || c.length !== 3 || ((c[0]! << 16) | (c[1]! << 8) | c[2]!) !== v)
      return { error: 'armor checksum mismatch' };
  }
  return { value: bytes };
}

/** RFC 9580 §4.2: split into packets (partial body lengths are refused: we never write them). */
export function packets(bytes: Uint8Array, max = 4096): Parsed<Packet[]> {
  const r = new Reader(bytes);
  const out: Packet[] = [];
  while (r.remaining > 0) {
    if (out.length >= max) return { error: 'too many packets' };
    const h = r.u8()!;
    if ((h & 0x80) === 0) return { error: 'not an OpenPGP packet header' };
    let tag: number;
    let len: number | undefined;
    if (h & 0x40) {
      tag = h & 0x3f;
      const o1 = r.u8();
      if (o1 === undefined) return { error: 'truncated length' };
      if (o1 < 192) len = o1;
      else if (o1 < 224) {
        const o2 = r.u8();
        len = o2 === undefined ? undefined : ((o1 - 192) << 8) + o2 + 192;
      } else if (o1 === 255) len = r.u32();
      else return { error: 'partial body lengths are not supported' };
    } else {
      tag = (h >> 2) & 0x0f;
      const lt = h & 3;
      if (lt === 0) len = r.u8();
      else if (lt === 1) len = r.u16();
      else if (lt === 2) len = r.u32();
      else return { error: 'indeterminate packet length is not supported' };
    }
    if (len === undefined) return { error: 'truncated length' };
    const body = r.take(len);
    if (!body) return { error: `packet (tag ${tag}) runs past the end` };
    out.push({ tag, body });
  }
  return { value: out };
}

/** RFC 9580 §3.2: an MPI of at most `maxBytes`, left-padded to `maxBytes`. */
function readMpi(r: Reader, maxBytes: number): Uint8Array | undefined {
  const bits = r.u16();
  if (bits === undefined || bits > maxBytes * 8) return undefined;
  const v = r.take((bits + 7) >> 3);
  if (!v) return undefined;
  const out = new Uint8Array(maxBytes);
  out.set(v, maxBytes - v.length);
  return out;
}

export interface PublicKey {
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly body: Uint8Array;
  readonly fingerprint: Uint8Array;
  readonly keyId: Uint8Array;
}

/** A v4 EdDSALegacy Ed25519 key packet body (§5.5.2 / §5.5.5.5). */
export function parsePublicKey(body: Uint8Array): Parsed<PublicKey> {
  const r = new Reader(body);
  const version = r.u8();
  if (version !== 4) return { error: `key packet version ${version} is not supported (v4 only)` };
  const createdAt = r.u32();
  const algo = r.u8();
  if (createdAt === undefined || algo === undefined) return { error: 'truncated key packet' };
  if (algo !== PGP_PUBKEY_EDDSA_LEGACY)
    return { error: `public key algorithm ${algo} is not EdDSALegacy (22)` };
  const oidLen = r.u8();
  const oid = oidLen === undefined ? undefined : r.take(oidLen);
  if (!oid || !equalBytes(Uint8Array.of(oidLen!, ...oid), ED25519_LEGACY_OID))
    return { error: 'curve is not Ed25519' };
  const point = readMpi(r, 33);
  if (!point || point[0] !== 0x40 || r.remaining !== 0)
    return { error: 'Ed25519 point must be 0x40 ‖ 32 bytes' };
  const { fingerprint, keyId } = fingerprintOf(body);
  return { value: { publicKey: point.subarray(1), createdAt, body, fingerprint, keyId } };
}

export interface Signature {
  readonly version: 4;
  readonly sigType: number;
  readonly hashAlgorithm: number;
  readonly hashedPart: Uint8Array;
  readonly left16: Uint8Array;
  readonly signature: Uint8Array;
  readonly createdAt?: number;
  /** Hashed signature expiration time (§5.2.3.18): seconds after creation; 0 = never. */
  readonly expiresIn?: number;
  /** Hashed key expiration time (§5.2.3.13), in a self-signature: seconds after key creation; 0 = never. */
  readonly keyExpiresIn?: number;
  readonly issuerFingerprint?: Uint8Array;
  readonly issuerKeyId?: Uint8Array;
}

/** Subpacket types we understand; an unknown *critical* one makes the signature unusable (§5.2.3.7). */
const KNOWN_SUBPACKETS = new Set([
  2, 3, 4, 5, 7, 9, 11, 12, 16, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 34, 35,
]);

interface SubpacketInfo {
  createdAt?: number;
  expiresIn?: number;
  keyExpiresIn?: number;
  fpr?: Uint8Array;
  keyId?: Uint8Array;
}

function subpackets(area: Uint8Array, hashed: boolean, out: SubpacketInfo): string | undefined {
  const r = new Reader(area);
  while (r.remaining > 0) {
    const o1 = r.u8()!;
    let len: number | undefined;
    if (o1 < 192) len = o1;
    else if (o1 < 255) {
      const o2 = r.u8();
      len = o2 === undefined ? undefined : ((o1 - 192) << 8) + o2 + 192;
    } else len = r.u32();
    if (len === undefined || len < 1) return 'bad subpacket length';
    const sp = r.take(len);
    if (!sp) return 'subpacket runs past the end';
    const type = sp[0]! & 0x7f;
    const critical = (sp[0]! & 0x80) !== 0;
    const data = sp.subarray(1);
    if (critical && !KNOWN_SUBPACKETS.has(type)) return `unknown critical subpacket ${type}`;
    if (type === 2 && hashed && data.length === 4) out.createdAt = new Reader(data).u32()!;
    else if (type === 3 && hashed && data.length === 4) out.expiresIn = new Reader(data).u32()!;
    else if (type === 9 && hashed && data.length === 4) out.keyExpiresIn = new Reader(data).u32()!;
    else if (type === 33 && data.length === 21 && data[0] === 4) out.fpr ??= data.subarray(1);
    else if (type === 16 && data.length === 8) out.keyId ??= data;
  }
  return undefined;
}

/** A v4 EdDSALegacy signature packet body (§5.2.3). */
export function parseSignature(body: Uint8Array): Parsed<Signature> {
  const r = new Reader(body);
  const version = r.u8();
  if (version !== 4)
    return { error: `signature packet version ${version} is not supported (v4 only)` };
  const sigType = r.u8();
  const algo = r.u8();
  const hashAlgorithm = r.u8();
  const hlen = r.u16();
  if (
    sigType === undefined ||
    algo === undefined ||
    hashAlgorithm === undefined ||
    hlen === undefined
  ) {
    return { error: 'truncated signature packet' };
  }
  if (algo !== PGP_PUBKEY_EDDSA_LEGACY)
    return { error: `signature algorithm ${algo} is not EdDSALegacy (22)` };
  const hashed = r.take(hlen);
  if (!hashed) return { error: 'hashed subpackets run past the end' };
  const hashedPart = body.subarray(0, 6 + hlen);
  const ulen = r.u16();
  const unhashed = ulen === undefined ? undefined : r.take(ulen);
  const left16 = r.take(2);
  if (!unhashed || !left16) return { error: 'truncated signature packet' };
  const R = readMpi(r, 32);
  const S = readMpi(r, 32);
  if (!R || !S || r.remaining !== 0)
    return { error: 'EdDSA signature must be two MPIs of at most 256 bits' };
  const info: SubpacketInfo = {};
  const e1 = subpackets(hashed, true, info);
  if (e1) return { error: e1 };
  const e2 = subpackets(unhashed, false, info);
  if (e2) return { error: e2 };
  const signature = new Uint8Array(64);
  signature.set(R);
  signature.set(S, 32);
  return {
    value: {
      version: 4,
      sigType,
      hashAlgorithm,
      hashedPart,
      left16,
      signature,
      ...(info.createdAt !== undefined ? { createdAt: info.createdAt } : {}),
      ...(info.expiresIn !== undefined ? { expiresIn: info.expiresIn } : {}),
      ...(info.keyExpiresIn !== undefined ? { keyExpiresIn: info.keyExpiresIn } : {}),
      ...(info.fpr ? { issuerFingerprint: info.fpr } : {}),
      ...(info.keyId ? { issuerKeyId: info.keyId } : {}),
    },
  };
}

/** Armored or binary OpenPGP data → packets. */
export function openpgpPackets(bytes: Uint8Array, kind: string): Parsed<Packet[]> {
  if (bytes.length > 0 && (bytes[0]! & 0x80) !== 0) return packets(bytes);
  const text = decodeUtf8(bytes);
  if (text === undefined) return { error: 'neither armored nor binary OpenPGP' };
  const d = dearmor(text, kind);
  return 'error' in d ? d : packets(d.value);
}
