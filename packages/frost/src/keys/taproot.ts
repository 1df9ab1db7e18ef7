/**
 * secp256k1-tr: frost-secp256k1-tr (and noble) tweak a DKG's output with the BIP341 TapTweak of
 * the empty merkle root, after moving the key to even y, so the group key is a BIP86 output key.
 * Dealer keys stay untweaked, as in both libraries.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { fail } from '../errors.js';
import { encodeElement, encodeScalar, parseElement, parseScalar } from '../group.js';
import { hasEvenY, xOnly, type Suite } from '../suite.js';
import type { Identifier, KeyPackage, PublicKeyPackage } from '../types.js';

/** The public half of the tweak (for a coordinator that holds no share). */
export function applyTaprootDkgTweakPublic(suite: Suite, pub: PublicKeyPackage): PublicKeyPackage {
  return tweakPublic(suite, pub).publicKeyPackage;
}

function tweakPublic(
  suite: Suite,
  pub: PublicKeyPackage,
): { publicKeyPackage: PublicKeyPackage; odd: boolean; t: bigint } {
  const F = suite.Fn;
  const PK0 = parseElement(suite, pub.verifyingKey, 'group key');
  const odd = !hasEvenY(PK0);
  const PK = odd ? PK0.negate() : PK0;
  const t = bytesToNumberBE(schnorr.utils.taggedHash('TapTweak', xOnly(PK), new Uint8Array(0)));
  if (t >= F.ORDER) fail('INVALID_PARAMETER', 'TapTweak hash out of range');
  const tG = suite.Point.BASE.multiply(t);
  const verifyingShares: Record<Identifier, Uint8Array> = {};
  for (const [id, vs] of Object.entries(pub.verifyingShares) as [Identifier, Uint8Array][]) {
    const P = parseElement(suite, vs, 'verifying share');
    verifyingShares[id] = encodeElement((odd ? P.negate() : P).add(tG));
  }
  const publicKeyPackage: PublicKeyPackage = Object.freeze({
    suite: suite.name,
    verifyingShares: Object.freeze(verifyingShares),
    verifyingKey: encodeElement(PK.add(tG)),
    minSigners: pub.minSigners,
  });
  return { publicKeyPackage, odd, t };
}

export function applyTaprootDkgTweak(
  suite: Suite,
  out: { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage },
): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage } {
  const F = suite.Fn;
  const { publicKeyPackage, odd, t } = tweakPublic(suite, out.publicKeyPackage);
  const verifyingShares = publicKeyPackage.verifyingShares;
  let s = parseScalar(suite, out.keyPackage.signingShare, 'signing share');
  if (odd) s = F.neg(s);
  s = F.add(s, t);
  const id = out.keyPackage.identifier;
  const keyPackage: KeyPackage = Object.freeze({
    ...out.keyPackage,
    signingShare: encodeScalar(suite, s),
    verifyingShare: verifyingShares[id] as Uint8Array,
    verifyingKey: publicKeyPackage.verifyingKey,
  });
  return { keyPackage, publicKeyPackage };
}
