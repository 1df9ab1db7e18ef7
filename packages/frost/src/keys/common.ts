import { fail } from '../errors.js';
import {
  encodeElement,
  encodeScalar,
  identifierToScalar,
  parseElement,
  parseScalar,
  scalarToIdentifier,
  vssEval,
} from '../group.js';
import type { Pt, Suite } from '../suite.js';
import type { Identifier, KeyPackage, PublicKeyPackage } from '../types.js';

/** frost-rs's bounds: 2 ≤ minSigners ≤ maxSigners (a 1-of-n key is an ordinary key). */
export function checkSigners(minSigners: number, maxSigners: number): void {
  if (!Number.isSafeInteger(minSigners) || minSigners < 2)
    fail('INVALID_MIN_SIGNERS', `minSigners must be an integer ≥ 2, got ${minSigners}`);
  if (!Number.isSafeInteger(maxSigners) || maxSigners < minSigners)
    fail(
      'INVALID_MAX_SIGNERS',
      `maxSigners must be an integer ≥ minSigners (${minSigners}), got ${maxSigners}`,
    );
}

/** Default identifiers 1..n, or the caller's, checked for range and duplicates. */
export function resolveIdentifiers(
  suite: Suite,
  maxSigners: number,
  ids?: readonly string[],
): Identifier[] {
  if (ids === undefined)
    return Array.from({ length: maxSigners }, (_, i) => scalarToIdentifier(suite, BigInt(i + 1)));
  if (ids.length !== maxSigners)
    fail('INVALID_PARAMETER', `expected ${maxSigners} identifiers, got ${ids.length}`);
  const seen = new Set<bigint>();
  for (const id of ids) {
    const n = identifierToScalar(suite, id);
    if (seen.has(n)) fail('DUPLICATE_IDENTIFIER', 'identifier listed twice', [id]);
    seen.add(n);
  }
  return ids as Identifier[];
}

/** Public key package from a summed VSS commitment: verifying share of i = Σ C_k·i^k. */
export function publicKeyPackageFromCommitment(
  suite: Suite,
  commitment: readonly Pt[],
  ids: readonly Identifier[],
  minSigners: number,
): PublicKeyPackage {
  const verifyingShares: Record<Identifier, Uint8Array> = {};
  for (const id of ids)
    verifyingShares[id] = encodeElement(vssEval(suite, commitment, identifierToScalar(suite, id)));
  return Object.freeze({
    suite: suite.name,
    verifyingShares: Object.freeze(verifyingShares),
    verifyingKey: encodeElement(commitment[0] as Pt),
    minSigners,
  });
}

export function makeKeyPackage(
  suite: Suite,
  id: Identifier,
  share: bigint,
  pub: PublicKeyPackage,
): KeyPackage {
  const vs = pub.verifyingShares[id];
  if (!vs) fail('UNKNOWN_IDENTIFIER', 'participant not in the public key package', [id]);
  if (!suite.Point.BASE.multiply(share).equals(parseElement(suite, vs, 'verifying share')))
    fail('INVALID_SECRET_SHARE', 'signing share does not match its verifying share', [id]);
  return Object.freeze({
    suite: suite.name,
    identifier: id,
    signingShare: encodeScalar(suite, share),
    verifyingShare: vs,
    verifyingKey: pub.verifyingKey,
    minSigners: pub.minSigners,
  });
}

export function parseCommitment(suite: Suite, c: readonly Uint8Array[], who?: string): Pt[] {
  return c.map((e, k) => parseElement(suite, e, `commitment[${k}]`, who));
}

export function shareScalar(suite: Suite, key: KeyPackage): bigint {
  if (key.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `key package is for ${key.suite}, not ${suite.name}`);
  return parseScalar(suite, key.signingShare, 'signing share');
}
