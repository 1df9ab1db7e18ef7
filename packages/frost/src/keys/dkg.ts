/**
 * Distributed key generation: Pedersen's DKG with proofs of knowledge, as frost-rs's
 * `keys::dkg::{part1, part2, part3}` (RFC 9591 leaves DKG out of scope; this is the variant frost-rs
 * and noble implement, checked against frost-rs's vectors and noble's DKG). It needs a broadcast
 * channel for round 1: the ceremony layer adds the confirmation round (THREATS B.24).
 *
 * Written on curve primitives rather than noble's DKG so that each received element is validated
 * once and the shares received in part 3 are checked with one combined equation (then one by one
 * only to name a culprit): noble re-parses every commitment three times, which costs minutes at
 * 67-of-100.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/curves/utils.js';
import { fail } from '../errors.js';
import {
  defaultRng,
  encodeElement,
  encodeScalar,
  equalBytes,
  identifierToScalar,
  parseElement,
  parseScalar,
  polyEval,
  randomScalar,
  vssEval,
  vssVerify,
} from '../group.js';
import { hasEvenY, xOnly, type Pt, type Suite } from '../suite.js';
import type {
  DkgRound1Package,
  DkgRound1SecretPackage,
  DkgRound2Package,
  DkgRound2SecretPackage,
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  Rng,
} from '../types.js';
import {
  checkSigners,
  makeKeyPackage,
  parseCommitment,
  publicKeyPackageFromCommitment,
} from './common.js';
import { applyTaprootDkgTweak, applyTaprootDkgTweakPublic } from './taproot.js';

export interface DkgPart1Options {
  readonly rng?: Rng;
  /** All t coefficients, constant term first (for vectors). Random otherwise. */
  readonly coefficients?: readonly Uint8Array[];
  /** The proof-of-knowledge nonce k (for vectors). Random otherwise. */
  readonly proofNonce?: Uint8Array;
}

function pokChallenge(suite: Suite, id: bigint, phi: Pt, R: Pt): bigint {
  return suite.HDKG(concatBytes(encodeScalar(suite, id), phi.toBytes(), R.toBytes()));
}

export function dkgPart1(
  suite: Suite,
  identifier: string,
  maxSigners: number,
  minSigners: number,
  o: DkgPart1Options = {},
): { secretPackage: DkgRound1SecretPackage; package: DkgRound1Package } {
  checkSigners(minSigners, maxSigners);
  const rng = o.rng ?? defaultRng;
  const x = identifierToScalar(suite, identifier);
  let coeffs: bigint[];
  if (o.coefficients) {
    if (o.coefficients.length !== minSigners)
      fail(
        'INVALID_PARAMETER',
        `expected ${minSigners} coefficients, got ${o.coefficients.length}`,
      );
    coeffs = o.coefficients.map((c, k) =>
      parseScalar(suite, c, `coefficient[${k}]`, undefined, k === 0),
    );
  } else {
    coeffs = Array.from({ length: minSigners }, () => randomScalar(suite, rng));
  }
  const commitment = coeffs.map((a) => suite.Point.BASE.multiply(a));
  const k = o.proofNonce
    ? parseScalar(suite, o.proofNonce, 'proof nonce', undefined, true)
    : randomScalar(suite, rng);
  let R = suite.Point.BASE.multiply(k);
  let k2 = k;
  // BIP340 convention for secp256k1-tr: the proof's R is x-only, so use the even-y nonce.
  if (suite.taproot && !hasEvenY(R)) {
    R = R.negate();
    k2 = suite.Fn.neg(k);
  }
  const c = pokChallenge(suite, x, commitment[0] as Pt, R);
  const mu = suite.Fn.add(k2, suite.Fn.mul(coeffs[0] as bigint, c));
  const commitmentBytes = Object.freeze(commitment.map(encodeElement));
  const id = identifier as Identifier;
  return {
    secretPackage: Object.freeze({
      suite: suite.name,
      identifier: id,
      minSigners,
      maxSigners,
      coefficients: Object.freeze(coeffs.map((a) => encodeScalar(suite, a))),
      commitment: commitmentBytes,
    }),
    package: Object.freeze({
      suite: suite.name,
      identifier: id,
      commitment: commitmentBytes,
      proofOfKnowledge: concatBytes(
        suite.taproot ? xOnly(R) : R.toBytes(),
        encodeScalar(suite, mu),
      ),
    }),
  };
}

function asList<T extends object>(x: readonly T[] | Readonly<Record<string, T>>): readonly T[] {
  return Array.isArray(x) ? (x as readonly T[]) : Object.values(x);
}

/** Check the other participants' round-1 packages; returns them sorted, with parsed commitments. */
/**
 * One received round-1 package (RFC 9591 Appendix C.1 part2's checks): a commitment of exactly
 * `minSigners` valid elements (a longer one would raise the threshold, ZF #597) and a valid Schnorr
 * proof of knowledge of its constant term, bound to the sender's identifier. Returns the parsed
 * commitment; throws INCORRECT_NUMBER_OF_COMMITMENTS or INVALID_PROOF_OF_KNOWLEDGE naming the sender.
 */
function checkRound1Package(
  suite: Suite,
  p: DkgRound1Package,
  x: bigint,
  minSigners: number,
): Pt[] {
  if (p.commitment.length !== minSigners)
    fail(
      'INCORRECT_NUMBER_OF_COMMITMENTS',
      `round-1 package has ${p.commitment.length} commitments; the threshold needs ${minSigners}`,
      [p.identifier],
    );
  const C = parseCommitment(suite, p.commitment, p.identifier);
  const sig = p.proofOfKnowledge;
  const rLen = pokRLength(suite);
  if (!(sig instanceof Uint8Array) || sig.length !== rLen + suite.scalarLength)
    fail('INVALID_PROOF_OF_KNOWLEDGE', 'proof of knowledge has the wrong length', [p.identifier]);
  const R = parsePokR(suite, sig.subarray(0, rLen), p.identifier);
  const mu = parseScalar(suite, sig.subarray(rLen), 'proof of knowledge z', p.identifier);
  const c = pokChallenge(suite, x, C[0] as Pt, R);
  const muG = mu === 0n ? suite.Point.ZERO : suite.Point.BASE.multiplyUnsafe(mu);
  if (!muG.subtract((C[0] as Pt).multiplyUnsafe(c)).equals(R))
    fail('INVALID_PROOF_OF_KNOWLEDGE', 'proof of knowledge does not verify', [p.identifier]);
  return C;
}

/**
 * Checks a round-1 package on its own, as every member does in part2 (for an auditor re-checking
 * a DKG transcript): commitment length and elements, and the proof of knowledge.
 */
export function dkgVerifyRound1(suite: Suite, p: DkgRound1Package, minSigners: number): void {
  if (p.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `round-1 package is for ${p.suite}`, [p.identifier]);
  checkRound1Package(suite, p, identifierToScalar(suite, p.identifier, p.identifier), minSigners);
}

/**
 * One round-2 share checked against its dealer's round-1 commitment, as part3 checks each
 * (RFC 9591 Appendix C.2, vss_verify: share·G == Σ_k C_k·x^k for the recipient's x): for a judge
 * of a complaint that has the share only because the recipient revealed it. Throws naming the
 * dealer: INVALID_SECRET_SHARE for a share that does not match, INVALID_PARAMETER for a package
 * that names another sender or recipient, and the round-1 package's own errors if it is invalid.
 */
export function dkgVerifyShare(
  suite: Suite,
  round1: DkgRound1Package,
  share: DkgRound2Package,
  recipient: string,
  minSigners: number,
): void {
  if (round1.suite !== suite.name || share.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `packages are for ${round1.suite} and ${share.suite}`, [
      round1.identifier,
    ]);
  const dealerX = identifierToScalar(suite, round1.identifier, round1.identifier);
  const recipientX = identifierToScalar(suite, recipient);
  if (identifierToScalar(suite, share.sender, round1.identifier) !== dealerX)
    fail('INVALID_PARAMETER', 'round-2 package names another sender', [round1.identifier]);
  if (identifierToScalar(suite, share.recipient, round1.identifier) !== recipientX)
    fail('INVALID_PARAMETER', 'round-2 package addressed to someone else', [round1.identifier]);
  const C = checkRound1Package(suite, round1, dealerX, minSigners);
  const s = parseScalar(suite, share.signingShare, 'round-2 signing share', round1.identifier);
  if (!vssVerify(suite, C, s, recipientX))
    fail('INVALID_SECRET_SHARE', 'the round-2 share does not match its dealer’s commitment', [
      round1.identifier,
    ]);
}

function checkRound1(
  suite: Suite,
  me: DkgRound1SecretPackage,
  received: readonly DkgRound1Package[],
): { pkgs: DkgRound1Package[]; commitments: Map<string, Pt[]>; digest: Uint8Array } {
  if (received.length !== me.maxSigners - 1)
    fail(
      'INCORRECT_NUMBER_OF_PACKAGES',
      `expected ${me.maxSigners - 1} round-1 packages, got ${received.length}`,
    );
  const myX = identifierToScalar(suite, me.identifier);
  const seen = new Set<bigint>();
  const withX = received.map((p) => {
    if (p.suite !== suite.name)
      fail('WRONG_CIPHERSUITE', `round-1 package is for ${p.suite}`, [p.identifier]);
    const x = identifierToScalar(suite, p.identifier, p.identifier);
    if (x === myX || seen.has(x))
      fail('DUPLICATE_IDENTIFIER', 'round-1 packages name a participant twice', [p.identifier]);
    seen.add(x);
    return { p, x };
  });
  withX.sort((a, b) => (a.x < b.x ? -1 : 1));
  const commitments = new Map<string, Pt[]>();
  for (const { p, x } of withX)
    commitments.set(p.identifier, checkRound1Package(suite, p, x, me.minSigners));
  const pkgs = withX.map((w) => w.p);
  const digest = sha512(
    concatBytes(
      ...pkgs.flatMap((p) => [
        encodeScalar(suite, identifierToScalar(suite, p.identifier)),
        ...p.commitment,
        p.proofOfKnowledge,
      ]),
    ),
  );
  return { pkgs, commitments, digest };
}

export function dkgPart2(
  suite: Suite,
  secret: DkgRound1SecretPackage,
  round1: readonly DkgRound1Package[] | Readonly<Record<string, DkgRound1Package>>,
): {
  secretPackage: DkgRound2SecretPackage;
  packages: Readonly<Record<Identifier, DkgRound2Package>>;
} {
  if (secret.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `secret package is for ${secret.suite}`);
  const { pkgs, digest } = checkRound1(suite, secret, asList(round1));
  const coeffs = secret.coefficients.map((c) => parseScalar(suite, c, 'coefficient'));
  const packages: Record<Identifier, DkgRound2Package> = {};
  for (const p of pkgs) {
    packages[p.identifier] = Object.freeze({
      suite: suite.name,
      sender: secret.identifier,
      recipient: p.identifier,
      signingShare: encodeScalar(
        suite,
        polyEval(suite, coeffs, identifierToScalar(suite, p.identifier)),
      ),
    });
  }
  return {
    secretPackage: Object.freeze({ ...secret, round1Digest: digest }),
    packages: Object.freeze(packages),
  };
}

export function dkgPart3(
  suite: Suite,
  secret: DkgRound2SecretPackage,
  round1: readonly DkgRound1Package[] | Readonly<Record<string, DkgRound1Package>>,
  round2: readonly DkgRound2Package[] | Readonly<Record<string, DkgRound2Package>>,
): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage } {
  if (secret.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `secret package is for ${secret.suite}`);
  const { pkgs, commitments, digest } = checkRound1(suite, secret, asList(round1));
  if (!equalBytes(digest, secret.round1Digest))
    fail('DKG_TRANSCRIPT_MISMATCH', 'round-1 packages differ from the ones part 2 accepted');
  const r2 = asList(round2);
  if (r2.length !== pkgs.length)
    fail(
      'INCORRECT_NUMBER_OF_PACKAGES',
      `expected ${pkgs.length} round-2 packages, got ${r2.length}`,
    );
  const myX = identifierToScalar(suite, secret.identifier);
  const received = new Map<string, bigint>();
  for (const p of r2) {
    if (!commitments.has(p.sender))
      fail('UNKNOWN_IDENTIFIER', 'round-2 package from a non-participant', [p.sender]);
    if (received.has(p.sender))
      fail('DUPLICATE_IDENTIFIER', 'two round-2 packages from one sender', [p.sender]);
    if (p.recipient !== secret.identifier)
      fail('INVALID_PARAMETER', 'round-2 package addressed to someone else', [p.sender]);
    received.set(p.sender, parseScalar(suite, p.signingShare, 'round-2 signing share', p.sender));
  }
  const coeffs = secret.coefficients.map((c) => parseScalar(suite, c, 'coefficient'));
  const ownC = secret.commitment.map((e) => parseElement(suite, e, 'own commitment'));
  const F = suite.Fn;
  let total = polyEval(suite, coeffs, myX);
  const merged: Pt[] = ownC.slice();
  for (const p of pkgs) {
    total = F.add(total, received.get(p.identifier) as bigint);
    const C = commitments.get(p.identifier) as Pt[];
    for (let k = 0; k < merged.length; k++) merged[k] = (merged[k] as Pt).add(C[k] as Pt);
  }
  // One combined check (Σ shares)·G == Σ_j C_j(me); per-sender only to name culprits.
  if (!suite.Point.BASE.multiply(total).equals(vssEval(suite, merged, myX))) {
    const culprits: string[] = [];
    for (const p of pkgs) {
      const s = received.get(p.identifier) as bigint;
      if (!vssVerify(suite, commitments.get(p.identifier) as Pt[], s, myX))
        culprits.push(p.identifier);
    }
    fail(
      'INVALID_SECRET_SHARE',
      'a round-2 share does not match its sender’s commitment',
      culprits,
    );
  }
  const ids = [secret.identifier, ...pkgs.map((p) => p.identifier)];
  const pub = publicKeyPackageFromCommitment(suite, merged, ids, secret.minSigners);
  let out = {
    keyPackage: makeKeyPackage(suite, secret.identifier, total, pub),
    publicKeyPackage: pub,
  };
  if (suite.taproot) out = applyTaprootDkgTweak(suite, out);
  return out;
}

/** Length of R in a proof of knowledge: x-only (32 bytes) on secp256k1-tr. */
export function pokRLength(suite: Suite): number {
  return suite.taproot ? suite.elementLength - 1 : suite.elementLength;
}

export function parsePokR(suite: Suite, b: Uint8Array, who?: string): Pt {
  const full = suite.taproot ? concatBytes(Uint8Array.of(2), b) : b;
  return parseElement(suite, full, 'proof of knowledge R', who);
}

/**
 * The group's public key package from all n round-1 packages (public data only): what a
 * coordinator stores, and what every member's part 3 must agree with.
 */
export function dkgPublicKeyPackage(
  suite: Suite,
  round1: readonly DkgRound1Package[] | Readonly<Record<string, DkgRound1Package>>,
  minSigners: number,
): PublicKeyPackage {
  const list = asList(round1);
  if (list.length < minSigners)
    fail('INCORRECT_NUMBER_OF_PACKAGES', `need all round-1 packages, got ${list.length}`);
  let merged: Pt[] | undefined;
  const seen = new Set<string>();
  for (const p of list) {
    if (p.suite !== suite.name)
      fail('WRONG_CIPHERSUITE', `round-1 package is for ${p.suite}`, [p.identifier]);
    if (seen.has(p.identifier))
      fail('DUPLICATE_IDENTIFIER', 'participant listed twice', [p.identifier]);
    seen.add(p.identifier);
    if (p.commitment.length !== minSigners)
      fail('INCORRECT_NUMBER_OF_COMMITMENTS', 'commitment length differs from the threshold', [
        p.identifier,
      ]);
    const C = parseCommitment(suite, p.commitment, p.identifier);
    merged = merged ? merged.map((m, k) => m.add(C[k] as Pt)) : C;
  }
  const ids = list.map((p) => p.identifier);
  const pub = publicKeyPackageFromCommitment(suite, merged as Pt[], ids, minSigners);
  if (!suite.taproot) return pub;
  return applyTaprootDkgTweakPublic(suite, pub);
}
