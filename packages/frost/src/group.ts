/**
 * Element, scalar and identifier handling for one suite (RFC 9591 §3.1 SerializeElement /
 * DeserializeElement, SerializeScalar / DeserializeScalar), with typed errors.
 *
 * Each received element is validated once: decoding caches the parsed point next to a copy of its
 * bytes, so a later step that sees the same bytes reuses the check instead of repeating the costly
 * prime-order subgroup test (≈1 ms per point on Ed25519).
 */
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { bytesToHex, equalBytes, hexToBytes } from '@noble/curves/utils.js';
import { fail } from './errors.js';
import type { Pt, Suite } from './suite.js';
import type { Identifier, Rng } from './types.js';

export const defaultRng: Rng = (n) => crypto.getRandomValues(new Uint8Array(n));

const cache = new WeakMap<Uint8Array, { copy: Uint8Array; point: Pt }>();

let subgroupTests = 0;
/** How many prime-order subgroup tests this process has run (tests count them; no timing). */
export function subgroupTestCount(): number {
  return subgroupTests;
}

/**
 * DeserializeElement: canonical encoding, on the curve, not the identity, in the prime-order
 * subgroup. `who` names the sender for blame.
 */
export function parseElement(suite: Suite, bytes: Uint8Array, what: string, who?: string): Pt {
  const hit = cache.get(bytes);
  if (hit && equalBytes(hit.copy, bytes)) return hit.point;
  const culprits = who === undefined ? [] : [who];
  if (!(bytes instanceof Uint8Array) || bytes.length !== suite.elementLength)
    fail(
      'INVALID_ELEMENT',
      `${what}: expected ${suite.elementLength} bytes, got ${bytes?.length}`,
      culprits,
    );
  let p: Pt;
  try {
    p = suite.Point.fromBytes(bytes);
  } catch {
    return fail('INVALID_ELEMENT', `${what}: not a valid ${suite.name} point encoding`, culprits);
  }
  if (p.is0()) fail('IDENTITY_ELEMENT', `${what}: the identity element is not allowed`, culprits);
  try {
    p.assertValidity();
  } catch {
    return fail('INVALID_ELEMENT', `${what}: not a valid ${suite.name} point`, culprits);
  }
  // Canonical: re-encoding must give the same bytes (rejects y >= p, sign bit games, etc.). Only
  // needed on Edwards curves: ristretto255 decoding is canonical by definition (RFC 9496) and SEC1
  // points here are compressed-only (length checked above) with x < p checked by noble.
  if (suite.cofactor && !equalBytes(p.toBytes(), bytes))
    fail('INVALID_ELEMENT', `${what}: non-canonical encoding`, culprits);
  if (suite.cofactor) subgroupTests++;
  if (suite.cofactor && !p.isTorsionFree())
    fail('INVALID_ELEMENT', `${what}: not in the prime-order subgroup`, culprits);
  cache.set(bytes, { copy: bytes.slice(), point: p });
  return p;
}

/** Remember that these bytes encode this (already trusted) point, e.g. one we computed. */
export function rememberElement(bytes: Uint8Array, point: Pt): Uint8Array {
  cache.set(bytes, { copy: bytes.slice(), point });
  return bytes;
}

export function encodeElement(p: Pt): Uint8Array {
  return rememberElement(p.toBytes(), p);
}

/** DeserializeScalar: exact length, canonical (< group order). Zero is allowed unless `nonZero`. */
export function parseScalar(
  suite: Suite,
  bytes: Uint8Array,
  what: string,
  who?: string,
  nonZero = false,
): bigint {
  const culprits = who === undefined ? [] : [who];
  if (!(bytes instanceof Uint8Array) || bytes.length !== suite.scalarLength)
    fail(
      'INVALID_SCALAR',
      `${what}: expected ${suite.scalarLength} bytes, got ${bytes?.length}`,
      culprits,
    );
  const n = suite.scalarFromBytes(bytes);
  if (n >= suite.Fn.ORDER)
    fail('INVALID_SCALAR', `${what}: not reduced modulo the group order`, culprits);
  if (nonZero && n === 0n) fail('INVALID_SCALAR', `${what}: must not be zero`, culprits);
  return n;
}

export function encodeScalar(suite: Suite, n: bigint): Uint8Array {
  return suite.Fn.toBytes(suite.Fn.create(n));
}

/** Identifiers: non-zero canonical scalars, written as hex (noble's and frost-rs's convention). */
export function identifierToScalar(suite: Suite, id: string, who?: string): bigint {
  const culprits = who === undefined ? [] : [who];
  if (typeof id !== 'string' || id.length !== suite.scalarLength * 2 || !/^[0-9a-f]+$/.test(id))
    fail(
      'INVALID_IDENTIFIER',
      `identifier must be ${suite.scalarLength * 2} lowercase hex characters`,
      culprits,
    );
  const n = suite.scalarFromBytes(hexToBytes(id));
  if (n === 0n) fail('INVALID_IDENTIFIER', 'identifier must not be zero', culprits);
  if (n >= suite.Fn.ORDER)
    fail('INVALID_IDENTIFIER', 'identifier must be less than the group order', culprits);
  return n;
}

export function scalarToIdentifier(suite: Suite, n: bigint): Identifier {
  if (n <= 0n || n >= suite.Fn.ORDER) fail('INVALID_IDENTIFIER', 'identifier out of range');
  return bytesToHex(suite.Fn.toBytes(n)) as Identifier;
}

export function identifierFromBytes(suite: Suite, b: Uint8Array, who?: string): Identifier {
  const id = bytesToHex(b);
  identifierToScalar(suite, id, who);
  return id as Identifier;
}

/** A uniformly random non-zero scalar (hash-to-field of 1.5× the order's size: negligible bias). */
export function randomScalar(suite: Suite, rng: Rng = defaultRng): bigint {
  for (;;) {
    const len = Math.ceil((suite.Fn.BITS + 128) / 8);
    const b = rng(len);
    if (!(b instanceof Uint8Array) || b.length !== len)
      fail('INVALID_PARAMETER', 'rng returned wrong length');
    const n = suite.Fn.create(suite.scalarFromBytes(b));
    if (n !== 0n) return n;
  }
}

/** RFC 9591 §4.2 derive_interpolating_value at x = 0, generalised to any x (for repair). */
export function lagrangeAt(suite: Suite, xs: readonly bigint[], xi: bigint, x = 0n): bigint {
  const F = suite.Fn;
  let num = F.ONE;
  let den = F.ONE;
  let found = false;
  for (const xj of xs) {
    if (xj === xi) {
      if (found) fail('DUPLICATE_IDENTIFIER', 'duplicate identifier in interpolation set');
      found = true;
      continue;
    }
    num = F.mul(num, F.sub(xj, x));
    den = F.mul(den, F.sub(xj, xi));
  }
  if (!found) fail('UNKNOWN_IDENTIFIER', 'identifier is not in the interpolation set');
  return F.div(num, den);
}

/** Evaluate a polynomial (constant term first) at x (Horner). */
export function polyEval(suite: Suite, coeffs: readonly bigint[], x: bigint): bigint {
  const F = suite.Fn;
  let acc = F.ZERO;
  for (let i = coeffs.length - 1; i >= 0; i--) acc = F.add(F.mul(acc, x), coeffs[i] as bigint);
  return acc;
}

/**
 * Evaluate a VSS commitment at x: Σ C_k·x^k (RFC 9591 Appendix C.2). Horner with cheap small-x
 * multiplications for sequential identifiers, one multi-scalar multiplication otherwise.
 */
export function vssEval(suite: Suite, commitment: readonly Pt[], x: bigint): Pt {
  if (x < 1n << 32n) {
    let acc = suite.Point.ZERO;
    for (let i = commitment.length - 1; i >= 0; i--) {
      acc = acc.multiplyUnsafe(x).add(commitment[i] as Pt);
    }
    return acc;
  }
  const scalars: bigint[] = [];
  let p = suite.Fn.ONE;
  for (let i = 0; i < commitment.length; i++) {
    scalars.push(p);
    p = suite.Fn.mul(p, x);
  }
  return msm(suite, commitment, scalars);
}

/**
 * vss_verify (RFC 9591 Appendix C.2): does the share `s` of the participant at `x` match the
 * commitment, s·G = Σ C_k·x^k? Public data only; variable time is fine.
 */
export function vssVerify(suite: Suite, commitment: readonly Pt[], s: bigint, x: bigint): boolean {
  const lhs = s === 0n ? suite.Point.ZERO : suite.Point.BASE.multiplyUnsafe(s);
  return lhs.equals(vssEval(suite, commitment, x));
}

/** Variable-time multi-scalar multiplication over public inputs. */
export function msm(suite: Suite, points: readonly Pt[], scalars: readonly bigint[]): Pt {
  if (points.length === 0) return suite.Point.ZERO;
  // noble's interleaved wNAF; it accepts zero scalars.
  return mulAddUnsafe(suite.Point as never, points as never, scalars as bigint[]) as unknown as Pt;
}

export { bytesToHex, hexToBytes, equalBytes };
