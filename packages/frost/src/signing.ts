/**
 * Round 1, round 2, signature-share verification and aggregation (RFC 9591 §5), written on the
 * suite's curve primitives so that each received element is checked once per signing package and
 * the group commitment and binding factors are computed once. noble's FROST is the oracle in tests.
 */
import { concatBytes } from '@noble/curves/utils.js';
import { fail, FrostError } from './errors.js';
import {
  bytesToHex,
  defaultRng,
  encodeScalar,
  equalBytes,
  identifierToScalar,
  lagrangeAt,
  msm,
  parseElement,
  parseScalar,
  randomScalar,
  rememberElement,
} from './group.js';
import { nativeEd25519Verify } from './native.js';
import { hasEvenY, type Pt, type Suite } from './suite.js';
import type {
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  Rng,
  Signature,
  SignatureShare,
  SigningCommitments,
  SigningNonces,
  SigningPackage,
} from './types.js';

/** Nonces that have been used for a share (or explicitly destroyed): never sign with them again. */
const consumed = new WeakSet<SigningNonces>();

/** RFC 9591 §5.1 commit(): nonce_generate hedges fresh randomness with the signing share. */
export function commit(
  suite: Suite,
  key: KeyPackage,
  rng: Rng = defaultRng,
): { nonces: SigningNonces; commitments: SigningCommitments } {
  const g = suite.noble.commit(
    { identifier: key.identifier, signingShare: key.signingShare },
    rng as never,
  );
  // The commitment points are G·d and G·e, computed here, not received: record them as trusted so
  // that signing with them later (parseSigningPackage) decodes each once, without repeating the
  // prime-order subgroup test meant for received elements (≈2 ms per point, two per commit).
  const commitments: SigningCommitments = Object.freeze({
    suite: suite.name,
    identifier: key.identifier,
    hiding: rememberElement(g.commitments.hiding, suite.Point.fromBytes(g.commitments.hiding)),
    binding: rememberElement(g.commitments.binding, suite.Point.fromBytes(g.commitments.binding)),
  });
  const nonces: SigningNonces = Object.freeze({
    suite: suite.name,
    hiding: g.nonces.hiding,
    binding: g.nonces.binding,
    commitments,
  });
  return { nonces, commitments };
}

/** Destroy nonces (zeroize, mark consumed) — e.g. when a ceremony is aborted. */
export function destroyNonces(nonces: SigningNonces): void {
  nonces.hiding.fill(0);
  nonces.binding.fill(0);
  consumed.add(nonces);
}

export function isConsumed(nonces: SigningNonces): boolean {
  return consumed.has(nonces);
}

interface Parsed {
  readonly ids: readonly bigint[];
  readonly idHex: readonly Identifier[];
  readonly index: ReadonlyMap<string, number>;
  readonly D: readonly Pt[];
  readonly E: readonly Pt[];
  readonly rho: readonly bigint[];
  readonly R: Pt;
  /** Group public key as used in the equations (even-y for Taproot). */
  readonly PK: Pt;
  readonly c: bigint;
  /** Taproot: R had odd y, so nonces / commitment shares are negated. */
  readonly negateR: boolean;
  /** Taproot: the group key had odd y, so shares / verifying shares are negated. */
  readonly negatePK: boolean;
  /**
   * prepareShareChecks: each signer's expected z_i·G, with a copy of the verifying share it was
   * computed from (a later check under another public key package must not use it).
   */
  readonly expected: Map<Identifier, { readonly vs: Uint8Array; readonly Z: Pt }>;
}

const parsedCache = new WeakMap<SigningPackage, Map<string, Parsed>>();

/** Build a signing package: commitments sorted by identifier, duplicates refused. */
export function newSigningPackage(
  suite: Suite,
  commitments: readonly SigningCommitments[],
  message: Uint8Array,
): SigningPackage {
  if (!(message instanceof Uint8Array)) fail('INVALID_PARAMETER', 'message must be a Uint8Array');
  const withIds = commitments.map((c) => {
    if (c.suite !== suite.name)
      fail('WRONG_CIPHERSUITE', `commitment is for ${c.suite}, not ${suite.name}`);
    return { c, id: identifierToScalar(suite, c.identifier, c.identifier) };
  });
  withIds.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < withIds.length; i++) {
    if (withIds[i]?.id === withIds[i - 1]?.id) {
      const dup = withIds[i]?.c.identifier as string;
      fail('DUPLICATE_IDENTIFIER', 'the commitment list names a participant twice', [dup]);
    }
  }
  return Object.freeze({
    suite: suite.name,
    commitments: Object.freeze(withIds.map((w) => w.c)),
    message,
  });
}

/**
 * RFC 9591 §4.4 compute_binding_factors and §4.5 compute_group_commitment, §4.6 challenge — once
 * per (signing package, group key). Every commitment element is validated here, once.
 */
export function parseSigningPackage(
  suite: Suite,
  pkg: SigningPackage,
  verifyingKey: Uint8Array,
): Parsed {
  if (pkg.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `signing package is for ${pkg.suite}, not ${suite.name}`);
  const vkHex = bytesToHex(verifyingKey);
  let byKey = parsedCache.get(pkg);
  const hit = byKey?.get(vkHex);
  if (hit) return hit;
  const PK0 = parseElement(suite, verifyingKey, 'group verifying key');
  const negatePK = suite.taproot && !hasEvenY(PK0);
  const PK = negatePK ? PK0.negate() : PK0;
  const ids: bigint[] = [];
  const idHex: Identifier[] = [];
  const index = new Map<string, number>();
  const D: Pt[] = [];
  const E: Pt[] = [];
  const encoded: Uint8Array[] = [];
  for (const c of pkg.commitments) {
    const id = identifierToScalar(suite, c.identifier, c.identifier);
    if (ids.length > 0 && id <= (ids[ids.length - 1] as bigint)) {
      if (id === ids[ids.length - 1])
        fail('DUPLICATE_IDENTIFIER', 'duplicate commitment', [c.identifier]);
      fail('INVALID_PARAMETER', 'signing package commitments must be sorted by identifier');
    }
    const d = parseElement(suite, c.hiding, 'hiding commitment', c.identifier);
    const e = parseElement(suite, c.binding, 'binding commitment', c.identifier);
    index.set(c.identifier, ids.length);
    ids.push(id);
    idHex.push(c.identifier);
    D.push(d);
    E.push(e);
    // RFC 9591 §4.3 encode_group_commitment_list
    encoded.push(encodeScalar(suite, id), c.hiding, c.binding);
  }
  const prefix = concatBytes(
    PK.toBytes(),
    suite.H4(pkg.message),
    suite.H5(concatBytes(...encoded)),
  );
  const rho = ids.map((id) => suite.H1(concatBytes(prefix, encodeScalar(suite, id))));
  let hidingSum = suite.Point.ZERO;
  for (const d of D) hidingSum = hidingSum.add(d);
  const R = hidingSum.add(msm(suite, E, rho));
  if (R.is0()) fail('INVALID_ELEMENT', 'group commitment is the identity');
  const negateR = suite.taproot && !hasEvenY(R);
  const c = suite.challenge(R, PK, pkg.message);
  const parsed: Parsed = {
    ids,
    idHex,
    index,
    D,
    E,
    rho,
    R,
    PK,
    c,
    negateR,
    negatePK,
    expected: new Map(),
  };
  if (!byKey) {
    byKey = new Map();
    parsedCache.set(pkg, byKey);
  }
  byKey.set(vkHex, parsed);
  return parsed;
}

function checkCount(pkg: Parsed, minSigners: number): void {
  if (pkg.ids.length < minSigners)
    fail(
      'INCORRECT_NUMBER_OF_COMMITMENTS',
      `the signing package has ${pkg.ids.length} commitments; at least ${minSigners} are needed`,
    );
}

/** RFC 9591 §5.2 sign(): z_i = d_i + e_i·ρ_i + λ_i·s_i·c. Consumes the nonces. */
export function sign(
  suite: Suite,
  pkg: SigningPackage,
  nonces: SigningNonces,
  key: KeyPackage,
): SignatureShare {
  if (key.suite !== suite.name || nonces.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `key or nonces are not for ${suite.name}`);
  if (consumed.has(nonces))
    fail('NONCE_ALREADY_USED', 'these signing nonces were already used; commit again');
  const p = parseSigningPackage(suite, pkg, key.verifyingKey);
  checkCount(p, key.minSigners);
  const i = p.index.get(key.identifier);
  if (i === undefined)
    fail('MISSING_COMMITMENT', "the signing package does not contain this signer's commitment");
  const mine = pkg.commitments[i] as SigningCommitments;
  if (
    nonces.commitments.identifier !== key.identifier ||
    !equalBytes(mine.hiding, nonces.commitments.hiding) ||
    !equalBytes(mine.binding, nonces.commitments.binding)
  )
    fail('INCORRECT_COMMITMENT', "the signing package altered this signer's commitment");
  let d = parseScalar(suite, nonces.hiding, 'hiding nonce');
  let e = parseScalar(suite, nonces.binding, 'binding nonce');
  if (d === 0n || e === 0n)
    fail('NONCE_ALREADY_USED', 'these signing nonces were zeroized; commit again');
  let s = parseScalar(suite, key.signingShare, 'signing share');
  const F = suite.Fn;
  if (p.negatePK) s = F.neg(s);
  if (p.negateR) {
    d = F.neg(d);
    e = F.neg(e);
  }
  const lambda = lagrangeAt(suite, p.ids, p.ids[i] as bigint);
  const z = F.add(F.add(d, F.mul(e, p.rho[i] as bigint)), F.mul(F.mul(lambda, s), p.c));
  destroyNonces(nonces);
  return Object.freeze({
    suite: suite.name,
    identifier: key.identifier,
    share: encodeScalar(suite, z),
  });
}

function verifyingSharePoint(
  suite: Suite,
  pub: PublicKeyPackage,
  id: Identifier,
  negatePK: boolean,
): Pt {
  const vs = pub.verifyingShares[id];
  if (!vs) fail('UNKNOWN_IDENTIFIER', 'no verifying share for this participant', [id]);
  const P = parseElement(suite, vs, 'verifying share', id);
  return negatePK ? P.negate() : P;
}

/** RFC 9591 §5.4 verify_signature_share for one share; throws INVALID_SIGNATURE_SHARE naming it. */
export function verifySignatureShare(
  suite: Suite,
  share: SignatureShare,
  pkg: SigningPackage,
  pub: PublicKeyPackage,
): void {
  const p = parseSigningPackage(suite, pkg, pub.verifyingKey);
  const i = p.index.get(share.identifier);
  if (i === undefined)
    fail('MISSING_COMMITMENT', 'no commitment for this share', [share.identifier]);
  const z = parseScalar(suite, share.share, 'signature share', share.identifier);
  if (!shareEquationHolds(suite, p, pub, i, z))
    fail('INVALID_SIGNATURE_SHARE', 'signature share does not verify', [share.identifier]);
}

/**
 * The right-hand side of signer i's share equation (RFC 9591 §5.4 verify_signature_share):
 * (D + ρ·E)(negated for odd-y R on Taproot) + (c·λ)·PK_i, with the two variable-base products as
 * one interleaved multi-scalar multiplication (shared doublings: about half the cost of two
 * separate ones): ±D + msm([E, PK_i], [±ρ, c·λ]).
 */
function expectedShareCommitment(suite: Suite, p: Parsed, pub: PublicKeyPackage, i: number): Pt {
  const id = p.idHex[i] as Identifier;
  const PKi = verifyingSharePoint(suite, pub, id, p.negatePK);
  const lambda = lagrangeAt(suite, p.ids, p.ids[i] as bigint);
  const F = suite.Fn;
  const rho = p.rho[i] as bigint;
  const D = p.D[i] as Pt;
  return (p.negateR ? D.negate() : D).add(
    msm(suite, [p.E[i] as Pt, PKi], [p.negateR ? F.neg(rho) : rho, F.mul(p.c, lambda)]),
  );
}

/** z·G == the expected commitment, prepared earlier (prepareShareChecks) when it can be. */
function shareEquationHolds(
  suite: Suite,
  p: Parsed,
  pub: PublicKeyPackage,
  i: number,
  z: bigint,
): boolean {
  const id = p.idHex[i] as Identifier;
  const prepared = p.expected.get(id);
  const vs = pub.verifyingShares[id];
  const rhs =
    prepared !== undefined && vs !== undefined && equalBytes(prepared.vs, vs)
      ? prepared.Z
      : expectedShareCommitment(suite, p, pub, i);
  const lhs = z === 0n ? suite.Point.ZERO : suite.Point.BASE.multiplyUnsafe(z);
  return lhs.equals(rhs);
}

/**
 * Computes, before any share arrives, the point each signer's share must match (z_i·G), so that
 * checking a share (verifySignatureShare, the cheater search of aggregate) is then one fixed-base
 * multiplication instead of a multi-scalar one. A coordinator calls it when it sends the signing
 * package, while the signers compute their shares; the result is kept with the package's parsed
 * form (same package object, same public key package contents) and changes no outcome.
 */
export function prepareShareChecks(suite: Suite, pkg: SigningPackage, pub: PublicKeyPackage): void {
  if (pub.suite !== suite.name) fail('WRONG_CIPHERSUITE', `public key package is for ${pub.suite}`);
  const p = parseSigningPackage(suite, pkg, pub.verifyingKey);
  p.idHex.forEach((id, i) => {
    const vs = pub.verifyingShares[id];
    if (vs === undefined) return; // verifySignatureShare names it UNKNOWN_IDENTIFIER
    p.expected.set(id, { vs: vs.slice(), Z: expectedShareCommitment(suite, p, pub, i) });
  });
}

/** Encode (R, z) per the suite: RFC 8032 for Ed25519/Ed448, x-only BIP340 for Taproot. */
function encodeSignature(suite: Suite, R: Pt, z: bigint): Uint8Array {
  const Rb = R.toBytes();
  return concatBytes(suite.taproot ? Rb.subarray(1) : Rb, encodeScalar(suite, z));
}

/**
 * RFC 9591 §5.3 aggregate(), then the group signature is verified once. Only when it fails are the
 * shares examined: a batched check over random weights finds the faulty subset by halving, reusing
 * the binding factors and group commitment, so naming one cheater among 67 costs about as much as
 * one more group commitment. Throws INVALID_SIGNATURE_SHARE with every culprit.
 */
export function aggregate(
  suite: Suite,
  pkg: SigningPackage,
  shares: readonly SignatureShare[] | Readonly<Record<string, SignatureShare>>,
  pub: PublicKeyPackage,
  rng: Rng = defaultRng,
): Signature {
  if (pub.suite !== suite.name) fail('WRONG_CIPHERSUITE', `public key package is for ${pub.suite}`);
  const list = Array.isArray(shares)
    ? (shares as readonly SignatureShare[])
    : Object.values(shares);
  const p = parseSigningPackage(suite, pkg, pub.verifyingKey);
  checkCount(p, pub.minSigners);
  const count = Object.keys(pub.verifyingShares).length;
  if (p.ids.length > count)
    fail(
      'INCORRECT_NUMBER_OF_COMMITMENTS',
      `more commitments (${p.ids.length}) than participants (${count})`,
    );
  for (const id of p.idHex) {
    if (!pub.verifyingShares[id])
      fail('UNKNOWN_IDENTIFIER', 'commitment from a participant not in the group', [id]);
  }
  if (list.length !== p.ids.length)
    fail(
      'INCORRECT_NUMBER_OF_SHARES',
      `expected ${p.ids.length} signature shares, got ${list.length}`,
    );
  const z: bigint[] = new Array<bigint>(p.ids.length);
  const seen = new Set<string>();
  for (const s of list) {
    if (s.suite !== suite.name)
      fail('WRONG_CIPHERSUITE', 'signature share of another suite', [s.identifier]);
    const i = p.index.get(s.identifier);
    if (i === undefined)
      fail('UNKNOWN_IDENTIFIER', 'share from a participant without a commitment', [s.identifier]);
    if (seen.has(s.identifier))
      fail('DUPLICATE_IDENTIFIER', 'two shares from one participant', [s.identifier]);
    seen.add(s.identifier);
    z[i] = parseScalar(suite, s.share, 'signature share', s.identifier);
  }
  const F = suite.Fn;
  let sum = F.ZERO;
  for (const zi of z) sum = F.add(sum, zi);
  const bytes = encodeSignature(suite, p.R, sum);
  if (verifyGroupEquation(suite, p, sum, bytes, pkg.message))
    return Object.freeze({ suite: suite.name, bytes });
  const culprits = findCulprits(suite, p, pub, z, rng);
  throw new FrostError(
    'INVALID_SIGNATURE_SHARE',
    culprits.length
      ? `the aggregate did not verify; invalid shares from ${culprits.length} participant(s)`
      : 'the aggregate did not verify',
    culprits,
  );
}

function verifyGroupEquation(
  suite: Suite,
  p: Parsed,
  z: bigint,
  sig: Uint8Array,
  msg: Uint8Array,
): boolean {
  if (suite.name === 'ed25519') {
    const native = nativeEd25519Verify(msg, sig, p.PK.toBytes());
    if (native !== undefined) return native;
  }
  // z·G == R' + c·PK with R' the (even-y for Taproot) group commitment.
  const R = p.negateR ? p.R.negate() : p.R;
  return suite.Point.BASE.multiplyUnsafe(z).equals(R.add(p.PK.multiplyUnsafe(p.c)));
}

/**
 * Find every share i with z_i·G ≠ C_i + c·λ_i·PK_i. A subset S is checked at once with random
 * 128-bit weights r_i: Σ r_i·z_i·G − Σ r_i·D_i − Σ r_i·ρ_i·E_i − Σ r_i·c·λ_i·PK_i = 0, which a
 * faulty subset passes with probability 2^-128, and an honest one always passes (so no honest
 * signer is ever named).
 */
function findCulprits(
  suite: Suite,
  p: Parsed,
  pub: PublicKeyPackage,
  z: readonly bigint[],
  rng: Rng,
): string[] {
  const F = suite.Fn;
  const n = p.ids.length;
  const lambdas = lagrangeAll(suite, p.ids);
  const PKi = p.idHex.map((id) => verifyingSharePoint(suite, pub, id, p.negatePK));
  const sign = p.negateR ? F.neg(F.ONE) : F.ONE;
  const weights: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const b = rng(16);
    let w = 0n;
    for (const x of b) w = (w << 8n) | BigInt(x);
    weights.push(w | 1n);
  }
  // W(S) as a point; zero iff every share in S verifies (w.h.p.).
  const W = (S: readonly number[]): Pt => {
    let zs = F.ZERO;
    const pts: Pt[] = [];
    const sc: bigint[] = [];
    for (const i of S) {
      const w = weights[i] as bigint;
      zs = F.add(zs, F.mul(w, z[i] as bigint));
      pts.push(p.D[i] as Pt, p.E[i] as Pt, PKi[i] as Pt);
      sc.push(
        F.mul(w, sign),
        F.mul(F.mul(w, sign), p.rho[i] as bigint),
        F.mul(F.mul(w, p.c), lambdas[i] as bigint),
      );
    }
    const rhs = msm(suite, pts, sc);
    const lhs = zs === 0n ? suite.Point.ZERO : suite.Point.BASE.multiplyUnsafe(zs);
    return lhs.subtract(rhs);
  };
  const culprits: string[] = [];
  // The failed group signature already proves some share is bad, so the search starts by splitting
  // into up to 4 groups (no check of the whole set) and descends only into groups that fail; a
  // group known to fail with one member is that culprit. One cheater among t costs ≈ 1.2 weighted
  // passes over the shares instead of the ≈ 2 of plain halving.
  const search = (S: readonly number[]): void => {
    if (S.length === 1) {
      culprits.push(p.idHex[S[0] as number] as string);
      return;
    }
    const k = Math.min(4, S.length);
    const size = Math.ceil(S.length / k);
    for (let o = 0; o < S.length; o += size) {
      const part = S.slice(o, o + size);
      if (!W(part).is0()) search(part);
    }
  };
  search(Array.from({ length: n }, (_, i) => i));
  return culprits;
}

/** λ_i for every member of the set at once: O(t) inversions-free products, O(t²) multiplications. */
function lagrangeAll(suite: Suite, ids: readonly bigint[]): bigint[] {
  return ids.map((x) => lagrangeAt(suite, ids, x));
}

/** Verify a signature under a group key. Ed25519 uses Node's native verifier when available. */
export function verify(
  suite: Suite,
  message: Uint8Array,
  signature: Signature | Uint8Array,
  verifyingKey: Uint8Array,
): boolean {
  const sig = signature instanceof Uint8Array ? signature : signature.bytes;
  if (!(signature instanceof Uint8Array) && signature.suite !== suite.name) return false;
  if (sig.length !== suite.signatureLength) return false;
  if (suite.name === 'ed25519') {
    if (verifyingKey.length !== 32) return false;
    const native = nativeEd25519Verify(message, sig, verifyingKey);
    if (native !== undefined) return native;
  }
  try {
    return suite.noble.verify(sig, message, verifyingKey);
  } catch {
    return false;
  }
}

export { randomScalar, rememberElement };
