/**
 * Canonical encodings for every package: versioned and suite-tagged, as bytes and as JSON, with an
 * exact round trip. Decoding is parsing: wrong suite or version, truncation, trailing bytes,
 * non-canonical scalars or elements, identity or small-order elements all fail with a typed error.
 *
 * Bytes: 0xCF ‖ version ‖ suite tag ‖ type tag ‖ fields. Identifiers and scalars are
 * SerializeScalar, elements SerializeElement (RFC 9591 §3.1), counts u16 and messages u32, big-endian.
 * JSON: { version, ciphersuite (RFC 9591 contextString, like frost-rs's header), type, fields in hex }.
 *
 * SigningNonces have no encoder here on purpose: `exportNoncesForStorage` is the loud, explicit way.
 */
import { fail } from './errors.js';
import {
  bytesToHex,
  hexToBytes,
  identifierFromBytes,
  identifierToScalar,
  parseElement,
  parseScalar,
} from './group.js';
import { parsePokR, pokRLength } from './keys/dkg.js';
import { suiteById, suiteByTag, type Suite } from './suite.js';
import type {
  DkgRound1Package,
  DkgRound2Package,
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  ReshareRound1Package,
  ReshareRound1Share,
  SecretShare,
  Signature,
  SignatureShare,
  SigningCommitments,
  SigningNonces,
  SigningPackage,
} from './types.js';

export const ENCODING_VERSION = 1;
const MAGIC = 0xcf;

type Kind =
  | 'id'
  | 'scalar'
  | 'element'
  | 'u16'
  | 'message'
  | 'elements'
  | 'shareMap'
  | 'commitmentList'
  | 'signature'
  | 'pok';
type Desc = readonly (readonly [string, Kind])[];

export const PACKAGE_TYPES = {
  KeyPackage: {
    tag: 1,
    fields: [
      ['identifier', 'id'],
      ['signingShare', 'scalar'],
      ['verifyingShare', 'element'],
      ['verifyingKey', 'element'],
      ['minSigners', 'u16'],
    ],
  },
  PublicKeyPackage: {
    tag: 2,
    fields: [
      ['verifyingShares', 'shareMap'],
      ['verifyingKey', 'element'],
      ['minSigners', 'u16'],
    ],
  },
  SigningCommitments: {
    tag: 3,
    fields: [
      ['identifier', 'id'],
      ['hiding', 'element'],
      ['binding', 'element'],
    ],
  },
  SigningPackage: {
    tag: 4,
    fields: [
      ['commitments', 'commitmentList'],
      ['message', 'message'],
    ],
  },
  SignatureShare: {
    tag: 5,
    fields: [
      ['identifier', 'id'],
      ['share', 'scalar'],
    ],
  },
  Signature: { tag: 6, fields: [['bytes', 'signature']] },
  SecretShare: {
    tag: 7,
    fields: [
      ['identifier', 'id'],
      ['signingShare', 'scalar'],
      ['commitment', 'elements'],
    ],
  },
  DkgRound1Package: {
    tag: 8,
    fields: [
      ['identifier', 'id'],
      ['commitment', 'elements'],
      ['proofOfKnowledge', 'pok'],
    ],
  },
  DkgRound2Package: {
    tag: 9,
    fields: [
      ['sender', 'id'],
      ['recipient', 'id'],
      ['signingShare', 'scalar'],
    ],
  },
  SigningNonces: {
    tag: 10,
    fields: [
      ['hiding', 'scalar'],
      ['binding', 'scalar'],
      ['identifier', 'id'],
      ['hidingCommitment', 'element'],
      ['bindingCommitment', 'element'],
    ],
  },
  ReshareRound1Package: {
    tag: 11,
    fields: [
      ['sender', 'id'],
      ['commitment', 'elements'],
    ],
  },
  ReshareRound1Share: {
    tag: 12,
    fields: [
      ['sender', 'id'],
      ['recipient', 'id'],
      ['subShare', 'scalar'],
    ],
  },
} as const satisfies Record<string, { tag: number; fields: Desc }>;

export type PackageType = keyof typeof PACKAGE_TYPES;

export interface PackageTypeMap {
  KeyPackage: KeyPackage;
  PublicKeyPackage: PublicKeyPackage;
  SigningCommitments: SigningCommitments;
  SigningPackage: SigningPackage;
  SignatureShare: SignatureShare;
  Signature: Signature;
  SecretShare: SecretShare;
  DkgRound1Package: DkgRound1Package;
  DkgRound2Package: DkgRound2Package;
  ReshareRound1Package: ReshareRound1Package;
  ReshareRound1Share: ReshareRound1Share;
}
export type EncodableType = keyof PackageTypeMap;

// ---------------------------------------------------------------- writer / reader

class Writer {
  private parts: Uint8Array[] = [];
  bytes(b: Uint8Array) {
    this.parts.push(b);
  }
  u8(n: number) {
    this.parts.push(Uint8Array.of(n));
  }
  u16(n: number) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff)
      fail('MALFORMED_ENCODING', `count ${n} does not fit in u16`);
    this.parts.push(Uint8Array.of(n >> 8, n & 0xff));
  }
  u32(n: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    this.parts.push(b);
  }
  done(): Uint8Array {
    const len = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

class Reader {
  private o = 0;
  constructor(private readonly b: Uint8Array) {}
  take(n: number, what: string): Uint8Array {
    if (this.o + n > this.b.length)
      fail('MALFORMED_ENCODING', `truncated: ${what} needs ${n} bytes`);
    const out = this.b.slice(this.o, this.o + n);
    this.o += n;
    return out;
  }
  u8(what: string): number {
    return this.take(1, what)[0] as number;
  }
  u16(what: string): number {
    const b = this.take(2, what);
    return ((b[0] as number) << 8) | (b[1] as number);
  }
  u32(what: string): number {
    return new DataView(this.take(4, what).buffer).getUint32(0);
  }
  end() {
    if (this.o !== this.b.length)
      fail('MALFORMED_ENCODING', `${this.b.length - this.o} trailing bytes`);
  }
}

// ---------------------------------------------------------------- field codecs

type Obj = Record<string, unknown>;
const MAX_MESSAGE = 16 * 1024 * 1024;

function validateField(suite: Suite, kind: Kind, v: unknown, name: string): unknown {
  switch (kind) {
    case 'id':
      identifierToScalar(suite, v as string);
      return v;
    case 'scalar':
      parseScalar(suite, v as Uint8Array, name);
      return v;
    case 'element':
      parseElement(suite, v as Uint8Array, name);
      return v;
    case 'u16':
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff)
        fail('MALFORMED_ENCODING', `${name} out of range`);
      return v;
    case 'message':
      if (!(v instanceof Uint8Array) || v.length > MAX_MESSAGE)
        fail('MALFORMED_ENCODING', `${name} too long`);
      return v;
    case 'elements':
      for (const e of v as Uint8Array[]) parseElement(suite, e, name);
      return Object.freeze([...(v as Uint8Array[])]);
    case 'shareMap': {
      const m = v as Record<string, Uint8Array>;
      for (const [id, e] of Object.entries(m)) {
        identifierToScalar(suite, id);
        parseElement(suite, e, `${name}[${id}]`, id);
      }
      return Object.freeze({ ...m });
    }
    case 'commitmentList': {
      const list = v as SigningCommitments[];
      let prev = -1n;
      for (const c of list) {
        const x = identifierToScalar(suite, c.identifier);
        if (x === prev)
          fail('DUPLICATE_IDENTIFIER', 'commitment list names a participant twice', [c.identifier]);
        if (x < prev) fail('MALFORMED_ENCODING', 'commitment list is not sorted by identifier');
        prev = x;
        parseElement(suite, c.hiding, 'hiding commitment', c.identifier);
        parseElement(suite, c.binding, 'binding commitment', c.identifier);
      }
      return Object.freeze(list.map((c) => Object.freeze({ ...c, suite: suite.name })));
    }
    case 'signature': {
      const b = v as Uint8Array;
      if (!(b instanceof Uint8Array) || b.length !== suite.signatureLength)
        fail('MALFORMED_ENCODING', `signature must be ${suite.signatureLength} bytes`);
      const zLen = suite.scalarLength;
      if (!suite.taproot) parseElement(suite, b.subarray(0, b.length - zLen), 'signature R');
      parseScalar(suite, b.subarray(b.length - zLen), 'signature z');
      return b;
    }
    case 'pok': {
      const b = v as Uint8Array;
      const rLen = pokRLength(suite);
      if (!(b instanceof Uint8Array) || b.length !== rLen + suite.scalarLength)
        fail('MALFORMED_ENCODING', 'proof of knowledge has the wrong length');
      parsePokR(suite, b.subarray(0, rLen));
      parseScalar(suite, b.subarray(rLen), 'proof of knowledge z');
      return b;
    }
  }
}

function writeField(suite: Suite, w: Writer, kind: Kind, v: unknown): void {
  switch (kind) {
    case 'id':
      w.bytes(hexToBytes(v as string));
      return;
    case 'scalar':
    case 'element':
    case 'signature':
    case 'pok':
      w.bytes(v as Uint8Array);
      return;
    case 'u16':
      w.u16(v as number);
      return;
    case 'message':
      w.u32((v as Uint8Array).length);
      w.bytes(v as Uint8Array);
      return;
    case 'elements':
      w.u16((v as Uint8Array[]).length);
      for (const e of v as Uint8Array[]) w.bytes(e);
      return;
    case 'shareMap': {
      const entries = sortedEntries(suite, v as Record<string, Uint8Array>);
      w.u16(entries.length);
      for (const [id, e] of entries) {
        w.bytes(hexToBytes(id));
        w.bytes(e);
      }
      return;
    }
    case 'commitmentList':
      w.u16((v as SigningCommitments[]).length);
      for (const c of v as SigningCommitments[]) {
        w.bytes(hexToBytes(c.identifier));
        w.bytes(c.hiding);
        w.bytes(c.binding);
      }
      return;
  }
}

function readField(suite: Suite, r: Reader, kind: Kind, name: string): unknown {
  const S = suite.scalarLength;
  const E = suite.elementLength;
  switch (kind) {
    case 'id':
      return identifierFromBytes(suite, r.take(S, name));
    case 'scalar':
      return r.take(S, name);
    case 'element':
      return r.take(E, name);
    case 'signature':
      return r.take(suite.signatureLength, name);
    case 'pok':
      return r.take(pokRLength(suite) + S, name);
    case 'u16':
      return r.u16(name);
    case 'message': {
      const n = r.u32(name);
      if (n > MAX_MESSAGE) fail('MALFORMED_ENCODING', `${name} too long`);
      return r.take(n, name);
    }
    case 'elements': {
      const n = r.u16(name);
      return Array.from({ length: n }, () => r.take(E, name));
    }
    case 'shareMap': {
      const n = r.u16(name);
      const m: Record<string, Uint8Array> = {};
      for (let i = 0; i < n; i++) {
        const id = identifierFromBytes(suite, r.take(S, name));
        if (id in m) fail('DUPLICATE_IDENTIFIER', 'participant listed twice', [id]);
        m[id] = r.take(E, name);
      }
      return m;
    }
    case 'commitmentList': {
      const n = r.u16(name);
      return Array.from({ length: n }, () => ({
        suite: suite.name,
        identifier: identifierFromBytes(suite, r.take(S, name)),
        hiding: r.take(E, name),
        binding: r.take(E, name),
      }));
    }
  }
}

function sortedEntries(suite: Suite, m: Record<string, Uint8Array>): [string, Uint8Array][] {
  return Object.entries(m).sort((a, b) => {
    const x = identifierToScalar(suite, a[0]);
    const y = identifierToScalar(suite, b[0]);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

// JSON field codecs: bytes as lowercase hex, lists as arrays, maps as objects.
const isHex = (s: unknown): s is string =>
  typeof s === 'string' && s.length % 2 === 0 && /^[0-9a-f]*$/.test(s);
function hexField(v: unknown, name: string): Uint8Array {
  if (!isHex(v)) fail('MALFORMED_ENCODING', `${name} must be lowercase hex`);
  return hexToBytes(v);
}

function toJsonField(suite: Suite, kind: Kind, v: unknown): unknown {
  switch (kind) {
    case 'id':
    case 'u16':
      return v;
    case 'elements':
      return (v as Uint8Array[]).map(bytesToHex);
    case 'shareMap':
      return Object.fromEntries(
        sortedEntries(suite, v as Record<string, Uint8Array>).map(([k, e]) => [k, bytesToHex(e)]),
      );
    case 'commitmentList':
      return (v as SigningCommitments[]).map((c) => ({
        identifier: c.identifier,
        hiding: bytesToHex(c.hiding),
        binding: bytesToHex(c.binding),
      }));
    default:
      return bytesToHex(v as Uint8Array);
  }
}

function fromJsonField(suite: Suite, kind: Kind, v: unknown, name: string): unknown {
  switch (kind) {
    case 'id':
      if (typeof v !== 'string') fail('MALFORMED_ENCODING', `${name} must be a string`);
      identifierToScalar(suite, v);
      return v;
    case 'u16':
      return v;
    case 'elements':
      if (!Array.isArray(v)) fail('MALFORMED_ENCODING', `${name} must be an array`);
      return v.map((e, i) => hexField(e, `${name}[${i}]`));
    case 'shareMap': {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        fail('MALFORMED_ENCODING', `${name} must be an object`);
      const m: Record<string, Uint8Array> = Object.create(null);
      for (const [k, e] of Object.entries(v)) {
        identifierToScalar(suite, k);
        m[k] = hexField(e, `${name}[${k}]`);
      }
      return { ...m };
    }
    case 'commitmentList':
      if (!Array.isArray(v)) fail('MALFORMED_ENCODING', `${name} must be an array`);
      return v.map((c: unknown, i) => {
        const o = strictKeys(c, ['identifier', 'hiding', 'binding'], `${name}[${i}]`);
        return {
          suite: suite.name,
          identifier: fromJsonField(suite, 'id', o.identifier, 'identifier'),
          hiding: hexField(o.hiding, 'hiding'),
          binding: hexField(o.binding, 'binding'),
        };
      });
    default:
      return hexField(v, name);
  }
}

function strictKeys(v: unknown, keys: readonly string[], what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail('MALFORMED_ENCODING', `${what} must be an object`);
  const o = v as Obj;
  for (const k of Object.keys(o))
    if (!keys.includes(k)) fail('MALFORMED_ENCODING', `${what}: unexpected field "${k}"`);
  for (const k of keys) if (!(k in o)) fail('MALFORMED_ENCODING', `${what}: missing field "${k}"`);
  return o;
}

// ---------------------------------------------------------------- public API

function build(suite: Suite, type: PackageType, raw: Obj): Obj {
  const out: Obj = { suite: suite.name };
  for (const [name, kind] of PACKAGE_TYPES[type].fields)
    out[name] = validateField(suite, kind, raw[name], name);
  return out;
}

function refuseNonces(type: string): void {
  if (type === 'SigningNonces' || !(type in PACKAGE_TYPES))
    fail(
      'INVALID_PARAMETER',
      `no default encoder for ${type}; secret nonces: see exportNoncesForStorage`,
    );
}

function checkSuite(suite: Suite, pkg: { suite?: unknown }, type: string): void {
  if (pkg.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `${type} is for ${String(pkg.suite)}, not ${suite.name}`);
}

export function encodeBytes<T extends EncodableType>(
  suite: Suite,
  type: T,
  pkg: PackageTypeMap[T],
): Uint8Array {
  refuseNonces(type);
  checkSuite(suite, pkg, type);
  const w = new Writer();
  w.u8(MAGIC);
  w.u8(ENCODING_VERSION);
  w.u8(suite.tag);
  w.u8(PACKAGE_TYPES[type].tag);
  for (const [name, kind] of PACKAGE_TYPES[type].fields)
    writeField(suite, w, kind, (pkg as unknown as Obj)[name]);
  return w.done();
}

function readHeader(bytes: Uint8Array, expected: Suite, type: PackageType): Reader {
  if (!(bytes instanceof Uint8Array)) fail('MALFORMED_ENCODING', 'expected bytes');
  const r = new Reader(bytes);
  if (r.u8('magic') !== MAGIC) fail('MALFORMED_ENCODING', 'not a Conclave FROST encoding');
  const version = r.u8('version');
  if (version !== ENCODING_VERSION)
    fail(
      'UNSUPPORTED_VERSION',
      `encoding version ${version} is not supported (expected ${ENCODING_VERSION})`,
    );
  const tag = r.u8('suite');
  if (tag !== expected.tag) {
    const other = suiteByTag(tag);
    fail(
      'WRONG_CIPHERSUITE',
      `encoded for ${other ? other.id : `unknown suite ${tag}`}, expected ${expected.id}`,
    );
  }
  const t = r.u8('type');
  if (t !== PACKAGE_TYPES[type].tag) fail('MALFORMED_ENCODING', `not a ${type} (type tag ${t})`);
  return r;
}

export function decodeBytes<T extends EncodableType>(
  suite: Suite,
  type: T,
  bytes: Uint8Array,
): PackageTypeMap[T] {
  refuseNonces(type);
  const r = readHeader(bytes, suite, type);
  const raw: Obj = {};
  for (const [name, kind] of PACKAGE_TYPES[type].fields)
    raw[name] = readField(suite, r, kind, name);
  r.end();
  return Object.freeze(build(suite, type, raw)) as unknown as PackageTypeMap[T];
}

export function encodeJson<T extends EncodableType>(
  suite: Suite,
  type: T,
  pkg: PackageTypeMap[T],
): Obj {
  refuseNonces(type);
  checkSuite(suite, pkg, type);
  const out: Obj = { version: ENCODING_VERSION, ciphersuite: suite.id, type };
  for (const [name, kind] of PACKAGE_TYPES[type].fields)
    out[name] = toJsonField(suite, kind, (pkg as unknown as Obj)[name]);
  return out;
}

export function decodeJson<T extends EncodableType>(
  suite: Suite,
  type: T,
  json: unknown,
): PackageTypeMap[T] {
  refuseNonces(type);
  const names = PACKAGE_TYPES[type].fields.map(([n]) => n);
  if (typeof json !== 'object' || json === null)
    fail('MALFORMED_ENCODING', `${type} JSON must be an object`);
  const head = json as Obj;
  if (head.version !== ENCODING_VERSION)
    fail('UNSUPPORTED_VERSION', `encoding version ${String(head.version)} is not supported`);
  if (head.ciphersuite !== suite.id) {
    const other = typeof head.ciphersuite === 'string' ? suiteById(head.ciphersuite) : undefined;
    fail(
      'WRONG_CIPHERSUITE',
      `encoded for ${other ? other.id : 'an unknown suite'}, expected ${suite.id}`,
    );
  }
  if (head.type !== type) fail('MALFORMED_ENCODING', `not a ${type}`);
  const o = strictKeys(json, ['version', 'ciphersuite', 'type', ...names], type);
  const raw: Obj = {};
  for (const [name, kind] of PACKAGE_TYPES[type].fields)
    raw[name] = fromJsonField(suite, kind, o[name], name);
  return Object.freeze(build(suite, type, raw)) as unknown as PackageTypeMap[T];
}

/**
 * DANGER: writes secret signing nonces out of memory. Only for a durable nonce store that marks
 * them consumed before any share leaves (THREATS A.4–A.5). Prefer keeping nonces in memory.
 */
export function exportNoncesForStorage(suite: Suite, nonces: SigningNonces): Uint8Array {
  checkSuite(suite, nonces, 'SigningNonces');
  const w = new Writer();
  w.u8(MAGIC);
  w.u8(ENCODING_VERSION);
  w.u8(suite.tag);
  w.u8(PACKAGE_TYPES.SigningNonces.tag);
  w.bytes(nonces.hiding);
  w.bytes(nonces.binding);
  w.bytes(hexToBytes(nonces.commitments.identifier));
  w.bytes(nonces.commitments.hiding);
  w.bytes(nonces.commitments.binding);
  return w.done();
}

export function importNoncesFromStorage(suite: Suite, bytes: Uint8Array): SigningNonces {
  const r = readHeader(bytes, suite, 'SigningNonces');
  const hiding = r.take(suite.scalarLength, 'hiding');
  const binding = r.take(suite.scalarLength, 'binding');
  const identifier = identifierFromBytes(suite, r.take(suite.scalarLength, 'identifier'));
  const hc = r.take(suite.elementLength, 'hiding commitment');
  const bc = r.take(suite.elementLength, 'binding commitment');
  r.end();
  const d = parseScalar(suite, hiding, 'hiding nonce', undefined, true);
  const e = parseScalar(suite, binding, 'binding nonce', undefined, true);
  const B = suite.Point.BASE;
  if (
    !B.multiply(d).equals(parseElement(suite, hc, 'hiding commitment')) ||
    !B.multiply(e).equals(parseElement(suite, bc, 'binding commitment'))
  )
    fail('INCORRECT_COMMITMENT', 'stored nonces do not match their commitments');
  const commitments: SigningCommitments = Object.freeze({
    suite: suite.name,
    identifier: identifier as Identifier,
    hiding: hc,
    binding: bc,
  });
  return Object.freeze({ suite: suite.name, hiding, binding, commitments });
}
