// keyPackageInconsistency: a public key package's n verifying shares must lie on one polynomial of
// degree t−1 whose value at 0 is the group key (RFC 9591 §4.2, Appendix C). Any single swapped
// share — a random point, or another member's share — is caught, for any t ≤ n.
import { ed25519 as frost, type PublicKeyPackage } from '@conclave/frost';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyPackageInconsistency } from '../src/index.js';
import { numRuns } from './helpers.js';

const L = frost.suite.Fn.ORDER;
const dealt = (t: number, n: number): PublicKeyPackage =>
  frost.keys.dealer({ minSigners: t, maxSigners: n }).publicKeyPackage;
const withShare = (pub: PublicKeyPackage, id: string, bytes: Uint8Array): PublicKeyPackage => ({
  ...pub,
  verifyingShares: { ...pub.verifyingShares, [id]: bytes },
});

describe('keyPackageInconsistency', () => {
  it('accepts honest packages (dealer and DKG)', () => {
    expect(keyPackageInconsistency(dealt(2, 3), 2)).toBeUndefined();
    expect(keyPackageInconsistency(dealt(3, 3), 3)).toBeUndefined();
    expect(keyPackageInconsistency(dealt(3, 7), 3)).toBeUndefined();
    const ids = ['alice', 'bob', 'carol', 'dave'].map((m) => frost.identifier.derive(m));
    const round1 = ids.map((id) => frost.keys.dkg.part1(id, 4, 3).package);
    expect(keyPackageInconsistency(frost.keys.dkg.publicKeyPackage(round1, 3), 3)).toBeUndefined();
  });

  it('refuses a threshold other than the key state’s', () => {
    expect(keyPackageInconsistency(dealt(2, 3), 3)).toMatch(/threshold 2/);
  });

  it('refuses fewer verifying shares than the threshold', () => {
    const pub = dealt(3, 4);
    const fewest = Object.fromEntries(Object.entries(pub.verifyingShares).slice(2));
    expect(keyPackageInconsistency({ ...pub, verifyingShares: fewest }, 3)).toMatch(/fewer/);
  });

  it('property: any single swapped verifying share is detected', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 5 })
          .chain((t) =>
            fc.tuple(fc.constant(t), fc.integer({ min: t, max: 7 }), fc.nat(), fc.nat()),
          ),
        fc.bigInt({ min: 1n, max: L - 1n }),
        fc.boolean(),
        ([t, n, victim, other], r, useOthers) => {
          const pub = dealt(t, n);
          const ids = Object.keys(pub.verifyingShares) as (keyof typeof pub.verifyingShares)[];
          const id = ids[victim % n]!;
          const otherId = ids.filter((x) => x !== id)[other % (n - 1)]!;
          const forged = useOthers
            ? pub.verifyingShares[otherId]!
            : frost.suite.Point.BASE.multiply(r).toBytes();
          fc.pre(bytesDiffer(forged, pub.verifyingShares[id]!));
          expect(keyPackageInconsistency(pub, t)).toBeUndefined();
          expect(keyPackageInconsistency(withShare(pub, id, forged), t)).toMatch(
            /do not lie on one polynomial/,
          );
        },
      ),
      { numRuns },
    );
  });

  it('a replaced group key is detected', () => {
    const pub = dealt(2, 3);
    const other = dealt(2, 3).verifyingKey;
    expect(keyPackageInconsistency({ ...pub, verifyingKey: other }, 2)).toMatch(/polynomial/);
  });
});

function bytesDiffer(a: Uint8Array, b: Uint8Array): boolean {
  return a.length !== b.length || a.some((x, i) => x !== b[i]);
}
