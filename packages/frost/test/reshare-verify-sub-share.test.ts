/**
 * keys.reshare.verifySubShare: one refresh or reshare sub-share checked on its own against the
 * package its dealer signed (sender, recipient, vss_verify, RFC 9591 Appendix C.2), for a judge of
 * a complaint about that sub-share. The package's fit to the key state is the coordinator's check
 * on arrival, not this one's.
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
  // A reshare by a and b to the committee {a, b, c, d} with threshold 3; a refresh by all three.
  const d = f.identifier.fromNumber(9);
  const params = { dealers: [a, b], newIdentifiers: [a, b, c, d], newMinSigners: 3 };
  const fromA = f.keys.reshare.part1(keys[0]!, pub, params, rng);
  const fromB = f.keys.reshare.part1(keys[1]!, pub, params, rng);
  const refreshA = f.keys.refresh.part1(keys[0]!, pub, ids, rng);
  const verify = f.keys.reshare.verifySubShare;

  it('accepts every genuine sub-share of a dealer, reshare and refresh', () => {
    for (const to of [a, b, c, d]) {
      expect(codeOf(() => verify(fromA.package, fromA.shares[to]!, to))).toBeUndefined();
    }
    for (const to of ids) {
      expect(codeOf(() => verify(refreshA.package, refreshA.shares[to]!, to))).toBeUndefined();
    }
  });

  it('INVALID_SECRET_SHARE naming the dealer: any other sub-share value', () => {
    const toC = fromA.shares[c]!;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), (k) => {
        // A middle byte: still a canonical scalar, no longer the dealer's f(x).
        const sub = toC.subShare.slice();
        sub[sub.length - 16] = sub[sub.length - 16]! ^ k;
        const run = () => verify(fromA.package, { ...toC, subShare: sub }, c);
        expect(codeOf(run)).toBe('INVALID_SECRET_SHARE');
        expect(culpritsOf(run)).toEqual([a]);
      }),
      { numRuns: 20 },
    );
  });

  it('INVALID_SECRET_SHARE: a genuine sub-share judged against another dealer’s package', () => {
    const moved = { ...fromB.shares[c]!, sender: a };
    expect(codeOf(() => verify(fromA.package, moved, c))).toBe('INVALID_SECRET_SHARE');
  });

  it('INVALID_PARAMETER: a sub-share naming another dealer or recipient', () => {
    const toC = fromA.shares[c]!;
    expect(codeOf(() => verify(fromB.package, toC, c))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => verify(fromA.package, toC, d))).toBe('INVALID_PARAMETER');
    expect(culpritsOf(() => verify(fromA.package, toC, d))).toEqual([a]);
  });

  it('INVALID_SCALAR naming the dealer: a sub-share that is no canonical scalar', () => {
    const toC = fromA.shares[c]!;
    const bad = { ...toC, subShare: new Uint8Array(toC.subShare.length).fill(0xff) };
    expect(codeOf(() => verify(fromA.package, bad, c))).toBe('INVALID_SCALAR');
    expect(culpritsOf(() => verify(fromA.package, bad, c))).toEqual([a]);
  });

  it('judges a sub-share against its own package whatever the key state: a refresh package of the old degree', () => {
    // Under the reshare's threshold 3 this package would be refused on arrival; its sub-shares
    // still match it, and whether it fits the key state is not what a sub-share complaint says.
    expect(codeOf(() => verify(refreshA.package, refreshA.shares[b]!, b))).toBeUndefined();
  });
});
