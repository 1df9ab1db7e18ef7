/**
 * Ciphersuites (RFC 9591 §6): the group, the scalar field and the hash functions H1..H5, plus the
 * DKG and identifier-derivation hashes frost-rs adds. Each suite wraps noble's ready FROST object
 * (the oracle and the source of round-1 nonce generation) and exposes the curve primitives the
 * faster paths of this library are written on.
 */
import { ed25519, ed25519_FROST, ristretto255, ristretto255_FROST } from '@noble/curves/ed25519.js';
import { ed448, ed448_FROST } from '@noble/curves/ed448.js';
import { p256, p256_FROST, p256_hasher } from '@noble/curves/nist.js';
import {
  schnorr,
  schnorr_FROST,
  secp256k1,
  secp256k1_FROST,
  secp256k1_hasher,
} from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import type { IField } from '@noble/curves/abstract/modular.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { bytesToNumberBE, bytesToNumberLE, concatBytes } from '@noble/curves/utils.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

/** The operations this library needs from a prime-order group element (noble's point classes). */
export interface Pt {
  add(o: Pt): Pt;
  subtract(o: Pt): Pt;
  negate(): Pt;
  double(): Pt;
  multiply(n: bigint): Pt;
  multiplyUnsafe(n: bigint): Pt;
  equals(o: Pt): boolean;
  is0(): boolean;
  toBytes(): Uint8Array;
  assertValidity(): void;
  isTorsionFree(): boolean;
  toAffine(): { x: bigint; y: bigint };
}

export interface PtCons {
  readonly BASE: Pt;
  readonly ZERO: Pt;
  fromBytes(b: Uint8Array): Pt;
  readonly Fn: IField<bigint>;
}

export type SuiteName =
  'ed25519' | 'ristretto255' | 'ed448' | 'p256' | 'secp256k1' | 'secp256k1Taproot';

export interface Suite {
  /** Short name used in APIs and file names. */
  readonly name: SuiteName;
  /** RFC 9591 contextString, also the ciphersuite id in encodings (frost-rs header). */
  readonly id: string;
  /** One byte naming the suite in binary encodings. */
  readonly tag: number;
  readonly Point: PtCons;
  readonly Fn: IField<bigint>;
  readonly elementLength: number;
  readonly scalarLength: number;
  readonly signatureLength: number;
  /** True for groups with a cofactor, where every received element needs a subgroup check. */
  readonly cofactor: boolean;
  /** BIP340 x-only conventions (secp256k1-tr). */
  readonly taproot: boolean;
  /** noble's FROST for this suite: nonce generation, and the oracle in tests. */
  readonly noble: FROST;
  readonly H1: (m: Uint8Array) => bigint;
  readonly H2: (m: Uint8Array) => bigint;
  readonly H4: (m: Uint8Array) => Uint8Array;
  readonly H5: (m: Uint8Array) => Uint8Array;
  readonly HDKG: (m: Uint8Array) => bigint;
  readonly HID: (m: Uint8Array) => bigint;
  /** RFC 9591 §4.6 challenge; BIP340's tagged challenge for secp256k1-tr. */
  readonly challenge: (R: Pt, PK: Pt, msg: Uint8Array) => bigint;
  readonly scalarFromBytes: (b: Uint8Array) => bigint;
}

type H2F = (msg: Uint8Array, o: { DST: Uint8Array }) => bigint;

interface SuiteDef {
  name: SuiteName;
  id: string;
  tag: number;
  Point: PtCons;
  Fn?: IField<bigint>;
  hash: (m: Uint8Array) => Uint8Array;
  hashToScalar?: H2F;
  H2Prefix?: string;
  cofactor: boolean;
  taproot?: boolean;
  noble: FROST;
  signatureLength: number;
}

function makeSuite(d: SuiteDef): Suite {
  const Fn = d.Fn ?? d.Point.Fn;
  const scalarFromBytes = (b: Uint8Array): bigint =>
    Fn.isLE ? bytesToNumberLE(b) : bytesToNumberBE(b);
  const hashToScalar: H2F =
    d.hashToScalar ?? ((msg, o) => Fn.create(scalarFromBytes(d.hash(concatBytes(o.DST, msg)))));
  const dst = (s: string) => utf8ToBytes(d.id + s);
  const h1 = dst('rho');
  const h2 = d.H2Prefix !== undefined ? utf8ToBytes(d.H2Prefix) : dst('chal');
  const h4 = dst('msg');
  const h5 = dst('com');
  const hdkg = dst('dkg');
  const hid = dst('id');
  const H2 = (m: Uint8Array) => hashToScalar(m, { DST: h2 });
  const challenge = d.taproot
    ? (R: Pt, PK: Pt, msg: Uint8Array) =>
        Fn.create(
          bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', xOnly(R), xOnly(PK), msg)),
        )
    : (R: Pt, PK: Pt, msg: Uint8Array) => H2(concatBytes(R.toBytes(), PK.toBytes(), msg));
  const elementLength = d.Point.BASE.toBytes().length;
  return Object.freeze({
    name: d.name,
    id: d.id,
    tag: d.tag,
    Point: d.Point,
    Fn,
    elementLength,
    scalarLength: Fn.BYTES,
    signatureLength: d.signatureLength,
    cofactor: d.cofactor,
    taproot: d.taproot === true,
    noble: d.noble,
    H1: (m: Uint8Array) => hashToScalar(m, { DST: h1 }),
    H2,
    H4: (m: Uint8Array) => d.hash(concatBytes(h4, m)),
    H5: (m: Uint8Array) => d.hash(concatBytes(h5, m)),
    HDKG: (m: Uint8Array) => hashToScalar(m, { DST: hdkg }),
    HID: (m: Uint8Array) => hashToScalar(m, { DST: hid }),
    challenge,
    scalarFromBytes,
  });
}

/** BIP340 x-only encoding of a secp256k1 point. */
export function xOnly(p: Pt): Uint8Array {
  return p.toBytes().subarray(1);
}

/** BIP340: a point "has even y". */
export function hasEvenY(p: Pt): boolean {
  return (p.toAffine().y & 1n) === 0n;
}

const shake256_114 = (m: Uint8Array) => shake256(m, { dkLen: 114 });
const asCons = (c: unknown) => c as PtCons;

/** FROST(Ed25519, SHA-512), RFC 9591 §6.1 — the default suite. */
export const ed25519Suite: Suite = makeSuite({
  name: 'ed25519',
  id: 'FROST-ED25519-SHA512-v1',
  tag: 1,
  Point: asCons(ed25519.Point),
  hash: sha512,
  H2Prefix: '',
  cofactor: true,
  noble: ed25519_FROST,
  signatureLength: 64,
});

/** FROST(ristretto255, SHA-512), RFC 9591 §6.2. */
export const ristretto255Suite: Suite = makeSuite({
  name: 'ristretto255',
  id: 'FROST-RISTRETTO255-SHA512-v1',
  tag: 2,
  Point: asCons(ristretto255.Point),
  hash: sha512,
  cofactor: false,
  noble: ristretto255_FROST,
  signatureLength: 64,
});

/** FROST(Ed448, SHAKE256), RFC 9591 §6.3. */
export const ed448Suite: Suite = makeSuite({
  name: 'ed448',
  id: 'FROST-ED448-SHAKE256-v1',
  tag: 3,
  Point: asCons(ed448.Point),
  Fn: ed448_FROST.utils.Fn,
  hash: shake256_114,
  H2Prefix: 'SigEd448\0\0',
  cofactor: true,
  noble: ed448_FROST,
  signatureLength: 114,
});

/** FROST(P-256, SHA-256), RFC 9591 §6.4. */
export const p256Suite: Suite = makeSuite({
  name: 'p256',
  id: 'FROST-P256-SHA256-v1',
  tag: 4,
  Point: asCons(p256.Point),
  hash: sha256,
  hashToScalar: (m, o) => p256_hasher.hashToScalar(m, o),
  cofactor: false,
  noble: p256_FROST,
  signatureLength: 65,
});

/** FROST(secp256k1, SHA-256), RFC 9591 §6.5. */
export const secp256k1Suite: Suite = makeSuite({
  name: 'secp256k1',
  id: 'FROST-secp256k1-SHA256-v1',
  tag: 5,
  Point: asCons(secp256k1.Point),
  hash: sha256,
  hashToScalar: (m, o) => secp256k1_hasher.hashToScalar(m, o),
  cofactor: false,
  noble: secp256k1_FROST,
  signatureLength: 65,
});

/** FROST(secp256k1, SHA-256) with BIP340 (Taproot) signatures, as frost-secp256k1-tr. */
export const secp256k1TaprootSuite: Suite = makeSuite({
  name: 'secp256k1Taproot',
  id: 'FROST-secp256k1-SHA256-TR-v1',
  tag: 6,
  Point: asCons(secp256k1.Point),
  hash: sha256,
  hashToScalar: (m, o) => secp256k1_hasher.hashToScalar(m, o),
  cofactor: false,
  taproot: true,
  noble: schnorr_FROST,
  signatureLength: 64,
});

export const SUITES: readonly Suite[] = Object.freeze([
  ed25519Suite,
  ristretto255Suite,
  ed448Suite,
  p256Suite,
  secp256k1Suite,
  secp256k1TaprootSuite,
]);

export function suiteById(id: string): Suite | undefined {
  return SUITES.find((s) => s.id === id);
}

export function suiteByTag(tag: number): Suite | undefined {
  return SUITES.find((s) => s.tag === tag);
}
