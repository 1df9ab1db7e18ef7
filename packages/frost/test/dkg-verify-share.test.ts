/**
 * keys.dkg.verifyShare: one round-2 share checked against its dealer's round-1 package, as part3
 * checks each (RFC 9591 Appendix C.2 vss_verify), for a judge of a complaint about that share.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Frost } from '../src/index.js';
import { codeOf, culpritsOf, seededRng, suites } from './helpers.js';

describe.each(suites.map((f) => [f.suite.name, f] as const))('%s', (_n, f: Frost) => {
  const rng = seededRng(47);
  const ids = [1, 2, 3].map((i) => f.identifier.fromNumber(i));
  const r1 = ids.map((id) => f.keys.dkg.part1(id, 3, 2, { rng }));
  const [a, b, c] = r1 as [(typeof r1)[0], (typeof r1)[0], (typeof r1)[0]];
  const fromA = f.keys.dkg.part2(a.secretPackage, [b.package, c.package]).packages;
  const toB = fromA[ids[1]!]!;

  it('accepts every genuine share of a dealer', () => {
    for (const to of [ids[1]!, ids[2]!]) {
      expect(codeOf(() => f.keys.dkg.verifyShare(a.package, fromA[to]!, to, 2))).toBeUndefined();
    }
  });

  it('INVALID_SECRET_SHARE naming the dealer: any other share value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), (k) => {
        // A middle byte of the share: still a canonical scalar, no longer the dealer's f(x).
        const share = toB.signingShare.slice();
        share[share.length - 16] = share[share.length - 16]! ^ k;
        const bad = { ...toB, signingShare: share };
        expect(codeOf(() => f.keys.dkg.verifyShare(a.package, bad, ids[1]!, 2))).toBe(
          'INVALID_SECRET_SHARE',
        );
        expect(culpritsOf(() => f.keys.dkg.verifyShare(a.package, bad, ids[1]!, 2))).toEqual([
          ids[0],
        ]);
      }),
      { numRuns: 20 },
    );
  });

  it('INVALID_SECRET_SHARE: a genuine share judged against another dealer’s commitment', () => {
    const moved = { ...toB, sender: ids[2]! };
    expect(codeOf(() => f.keys.dkg.verifyShare(c.package, moved, ids[1]!, 2))).toBe(
      'INVALID_SECRET_SHARE',
    );
  });

  it('INVALID_PARAMETER: a package naming another sender or recipient', () => {
    expect(codeOf(() => f.keys.dkg.verifyShare(b.package, toB, ids[1]!, 2))).toBe(
      'INVALID_PARAMETER',
    );
    expect(codeOf(() => f.keys.dkg.verifyShare(a.package, toB, ids[2]!, 2))).toBe(
      'INVALID_PARAMETER',
    );
  });

  it('the dealer’s round-1 package is checked too: a commitment for another threshold', () => {
    expect(codeOf(() => f.keys.dkg.verifyShare(a.package, toB, ids[1]!, 3))).toBe(
      'INCORRECT_NUMBER_OF_COMMITMENTS',
    );
  });
});
