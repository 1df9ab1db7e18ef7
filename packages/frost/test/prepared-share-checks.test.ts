/**
 * prepareShareChecks (a coordinator precomputes each signer's share-equation point while the
 * signers sign) must never change a verdict: prepared and unprepared checks agree on honest and
 * corrupted shares in every suite, and a point prepared under one public key package is not used
 * under another whose verifying share differs (same group key, e.g. after a refresh).
 */
import { describe, expect, it } from 'vitest';
import type { Frost, SignatureShare } from '../src/index.js';
import { fc, fcOpts, signWith, suites } from './helpers.js';

const msg = new TextEncoder().encode('release v2.0.0');

function verdict(f: Frost, ...args: Parameters<Frost['verifySignatureShare']>): string {
  try {
    f.verifySignatureShare(...args);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'thrown';
  }
}

/** The share with its scalar changed by +1 (still canonical: encode(decode + 1)). */
function bumped(f: Frost, s: SignatureShare): SignatureShare {
  const other = { ...s, share: s.share.slice() };
  const le = !['p256', 'secp256k1', 'secp256k1-tr'].includes(f.suite.name);
  const i = le ? 0 : other.share.length - 1;
  other.share[i] = (other.share[i]! ^ 1) & 0xff;
  return other;
}

describe.each(suites.map((f) => [f.suite.name, f] as const))('%s', (_n, f: Frost) => {
  it('prepared and unprepared share checks agree on honest and corrupted shares', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), (seed, corrupt) => {
        const a = signWith(f, 2, 3, [0, 2], msg, seed);
        const b = signWith(f, 2, 3, [0, 2], msg, seed);
        // Same inputs, two package objects: one prepared, one not.
        f.prepareShareChecks(a.pkg, a.publicKeyPackage);
        a.sigShares.forEach((s, i) => {
          const share = corrupt && i === 1 ? bumped(f, s) : s;
          const shareB = corrupt && i === 1 ? bumped(f, b.sigShares[i]!) : b.sigShares[i]!;
          const prepared = verdict(f, share, a.pkg, a.publicKeyPackage);
          const plain = verdict(f, shareB, b.pkg, b.publicKeyPackage);
          expect(prepared).toBe(plain);
          expect(prepared).toBe(corrupt && i === 1 ? 'INVALID_SIGNATURE_SHARE' : 'ok');
        });
      }),
      { numRuns: Math.max(3, Math.floor(fcOpts.numRuns / 2)) },
    );
  });

  it('a point prepared under one public key package is not used under another', () => {
    const { pkg, publicKeyPackage: pub, sigShares, chosen } = signWith(f, 2, 3, [0, 1], msg, 7);
    f.prepareShareChecks(pkg, pub);
    const id = chosen[0]!.identifier;
    const otherId = chosen[1]!.identifier;
    // The same group key, but signer 0's verifying share replaced by signer 1's.
    const swapped = {
      ...pub,
      verifyingShares: { ...pub.verifyingShares, [id]: pub.verifyingShares[otherId]! },
    };
    expect(verdict(f, sigShares[0]!, pkg, pub)).toBe('ok');
    expect(verdict(f, sigShares[0]!, pkg, swapped)).toBe('INVALID_SIGNATURE_SHARE');
  });

  it('refuses a public key package of another suite', () => {
    const { pkg, publicKeyPackage: pub } = signWith(f, 2, 3, [0, 1], msg, 8);
    const other = suites.find((g) => g.suite.name !== f.suite.name)!;
    expect(() => f.prepareShareChecks(pkg, { ...pub, suite: other.suite.name })).toThrowError(
      expect.objectContaining({ code: 'WRONG_CIPHERSUITE' }),
    );
  });
});
