/**
 * keys.reshare.verifySubShare / keys.refresh.verifySubShare: one sub-share checked against its
 * dealer's package on its own (vss_verify, RFC 9591 Appendix C.2, plus the package's own checks),
 * for a judge of a complaint about that sub-share.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Frost } from '../src/index.js';
import { codeOf, culpritsOf, seededRng, suites } from './helpers.js';

describe.each(suites.map((f) => [f.suite.name, f] as const))('%s', (_n, f: Frost) => {
  const rng = seededRng(53);
  const { shares, publicKeyPackage: pub } = f.keys.dealer({ minSigners: 2, maxSigners: 3, rng });
  const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
  const ids = keys.map((k) => k.identifier);
  const a = ids[0]!;
  const b = ids[1]!;
  const c = ids[2]!;
  // A reshare by a and b to the committee {a, b, c, d} with threshold 3.
  const d = f.identifier.fromNumber(9);
  const params = { dealers: [a, b], newIdentifiers: [a, b, c, d], newMinSigners: 3 };
  const fromA = f.keys.reshare.part1(keys[0]!, pub, params, rng);
  const fromB = f.keys.reshare.part1(keys[1]!, pub, params, rng);
  const refreshA = f.keys.refresh.part1(keys[0]!, pub, ids, rng);

  it('accepts every genuine sub-share of a dealer, reshare and refresh', () => {
    for (const to of [a, b, c, d]) {
      expect(
        codeOf(() =>
          f.keys.reshare.verifySubShare(pub, params, fromA.package, fromA.shares[to as never]!, to),
        ),
      ).toBeUndefined();
    }
    for (const to of ids) {
      expect(
        codeOf(() =>
          f.keys.refresh.verifySubShare(
            pub,
            ids,
            refreshA.package,
            refreshA.shares[to as never]!,
            to,
          ),
        ),
      ).toBeUndefined();
    }
  });

  it('INVALID_SECRET_SHARE naming the dealer: any other sub-share value', () => {
    const toC = fromA.shares[c as never]!;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), (k) => {
        // A middle byte: still a canonical scalar, no longer the dealer's f(x).
        const sub = toC.subShare.slice();
        sub[sub.length - 16] = sub[sub.length - 16]! ^ k;
        const bad = { ...toC, subShare: sub };
        const run = () => f.keys.reshare.verifySubShare(pub, params, fromA.package, bad, c);
        expect(codeOf(run)).toBe('INVALID_SECRET_SHARE');
        expect(culpritsOf(run)).toEqual([a]);
      }),
      { numRuns: 20 },
    );
  });

  it('INVALID_SECRET_SHARE: a genuine sub-share judged against another dealer’s package', () => {
    const moved = { ...fromB.shares[c as never]!, sender: a };
    expect(codeOf(() => f.keys.reshare.verifySubShare(pub, params, fromA.package, moved, c))).toBe(
      'INVALID_SECRET_SHARE',
    );
  });

  it('INVALID_PARAMETER: a sub-share naming another dealer or recipient', () => {
    const toC = fromA.shares[c as never]!;
    expect(codeOf(() => f.keys.reshare.verifySubShare(pub, params, fromB.package, toC, c))).toBe(
      'INVALID_PARAMETER',
    );
    expect(codeOf(() => f.keys.reshare.verifySubShare(pub, params, fromA.package, toC, d))).toBe(
      'INVALID_PARAMETER',
    );
  });

  it('UNKNOWN_IDENTIFIER: a recipient outside the new committee', () => {
    const e = f.identifier.fromNumber(11);
    const toE = { ...fromA.shares[c as never]!, recipient: e };
    expect(codeOf(() => f.keys.reshare.verifySubShare(pub, params, fromA.package, toE, e))).toBe(
      'UNKNOWN_IDENTIFIER',
    );
  });

  it('the dealer’s package is checked too: its degree and its constant term', () => {
    const toC = fromA.shares[c as never]!;
    const longer = { ...params, newMinSigners: 4 };
    expect(codeOf(() => f.keys.reshare.verifySubShare(pub, longer, fromA.package, toC, c))).toBe(
      'INCORRECT_NUMBER_OF_COMMITMENTS',
    );
    // A refresh's package judged as a reshare by other dealers: λ differs, so C₀ ≠ λ·PK.
    const byAC = { dealers: [a, c], newIdentifiers: ids, newMinSigners: 2 };
    expect(
      codeOf(() =>
        f.keys.reshare.verifySubShare(pub, byAC, refreshA.package, refreshA.shares[b as never]!, b),
      ),
    ).toBe('INCORRECT_COMMITMENT');
    // A refresh keeps the threshold: a package of another degree is refused as in part2.
    expect(codeOf(() => f.keys.refresh.verifySubShare(pub, [a, b], fromA.package, toC, c))).toBe(
      'THRESHOLD_CHANGE_REFUSED',
    );
  });
});
