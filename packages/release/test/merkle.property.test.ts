/**
 * RFC 9162 Merkle invariants (fast-check; FC_NUM_RUNS sets the run count, default 20; a failure
 * prints its seed): every inclusion and consistency proof verifies, any single-bit change, dropped
 * or inserted hash, wrong index, root or size fails, and the accumulator agrees with the tree hash.
 *
 * A different size can only be accepted when it makes the verifier do the very same hashing (the
 * same left/right sequence): the size is not otherwise bound by an inclusion proof, which is why
 * manifests carry the size inside the signed statement. The oracle for "same hashing" is derived
 * from the recursive RFC definitions (§2.1.3.1, §2.1.4.1), not from the verifier's bit tricks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AppendOnlyMerkleTree,
  EMPTY_ROOT,
  MerkleAccumulator,
  MerkleTree,
  consistencyProof,
  inclusionProof,
  leafHash,
  rootFromLeafHashes,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from '../src/merkle.js';

const numRuns = (() => {
  const n = Number.parseInt(process.env['FC_NUM_RUNS'] ?? '20', 10);
  return Number.isFinite(n) && n > 0 ? n : 20;
})();
const opts = { numRuns };

const leavesArb = (min: number, max: number) =>
  fc
    .array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: min, maxLength: max })
    .map((ds) => ds.map((d, i) => leafHash(Uint8Array.from([...d, i & 0xff, i >> 8]))));

const flip = (b: Uint8Array, bit: number): Uint8Array => {
  const c = b.slice();
  c[bit >> 3] = (c[bit >> 3] as number) ^ (1 << (bit & 7));
  return c;
};

/** Sibling sides of PATH(i, D[n]), innermost first: 'L' = sibling on the left. */
function inclusionShape(i: number, n: number): string {
  const out: string[] = [];
  while (n > 1) {
    const k = splitPoint(n);
    if (i < k) {
      out.push('R');
      n = k;
    } else {
      out.push('L');
      i -= k;
      n -= k;
    }
  }
  return out.reverse().join('');
}

/** Sides of SUBPROOF(m, D[n], true), innermost first, and whether the old root is implied. */
function consistencyShape(m: number, n: number): string {
  const out: string[] = [];
  let b = true;
  while (m !== n) {
    const k = splitPoint(n);
    if (m <= k) {
      out.push('R');
      n = k;
    } else {
      out.push('L');
      m -= k;
      n -= k;
      b = false;
    }
  }
  return `${b ? 'implied' : 'given'}:${out.reverse().join('')}`;
}

describe('inclusion proofs', () => {
  it('verify for every index of every tree of up to 64 leaves', () => {
    fc.assert(
      fc.property(leavesArb(1, 64), (leaves) => {
        const n = leaves.length;
        const root = rootFromLeafHashes(leaves);
        for (let i = 0; i < n; i++) {
          const proof = inclusionProof(leaves, i);
          expect(proof.length).toBe(inclusionShape(i, n).length);
          expect(verifyInclusion(leaves[i] as Uint8Array, i, n, proof, root)).toBe(true);
        }
      }),
      opts,
    );
  });

  it('fail on any single-bit change to the leaf, the root or any proof hash', () => {
    fc.assert(
      fc.property(
        leavesArb(1, 64).chain((leaves) =>
          fc.tuple(
            fc.constant(leaves),
            fc.nat(leaves.length - 1),
            fc.nat(255),
            fc.nat(64), // which hash: proof index, or leaf / root past the end
          ),
        ),
        ([leaves, i, bit, which]) => {
          const n = leaves.length;
          const root = rootFromLeafHashes(leaves);
          const leaf = leaves[i] as Uint8Array;
          const proof = inclusionProof(leaves, i);
          const w = which % (proof.length + 2);
          if (w < proof.length) {
            const bad = proof.map((p, j) => (j === w ? flip(p, bit) : p));
            expect(verifyInclusion(leaf, i, n, bad, root)).toBe(false);
          } else if (w === proof.length) {
            expect(verifyInclusion(flip(leaf, bit), i, n, proof, root)).toBe(false);
          } else {
            expect(verifyInclusion(leaf, i, n, proof, flip(root, bit))).toBe(false);
          }
        },
      ),
      opts,
    );
  });

  it('fail with a dropped, duplicated or inserted hash', () => {
    fc.assert(
      fc.property(
        leavesArb(2, 64).chain((leaves) =>
          fc.tuple(
            fc.constant(leaves),
            fc.nat(leaves.length - 1),
            fc.nat(64),
            fc.uint8Array({ minLength: 32, maxLength: 32 }),
          ),
        ),
        ([leaves, i, at, extra]) => {
          const n = leaves.length;
          const root = rootFromLeafHashes(leaves);
          const leaf = leaves[i] as Uint8Array;
          const proof = inclusionProof(leaves, i);
          const k = at % proof.length;
          const dropped = proof.filter((_, j) => j !== k);
          const inserted = [...proof.slice(0, k), extra, ...proof.slice(k)];
          const duplicated = [...proof.slice(0, k + 1), ...proof.slice(k)];
          expect(verifyInclusion(leaf, i, n, dropped, root)).toBe(false);
          expect(verifyInclusion(leaf, i, n, inserted, root)).toBe(false);
          expect(verifyInclusion(leaf, i, n, duplicated, root)).toBe(false);
        },
      ),
      opts,
    );
  });

  it('fail at every other index', () => {
    fc.assert(
      fc.property(leavesArb(2, 64), (leaves) => {
        const n = leaves.length;
        const root = rootFromLeafHashes(leaves);
        for (let i = 0; i < n; i++) {
          const proof = inclusionProof(leaves, i);
          for (let j = 0; j < n + 2; j++)
            if (j !== i)
              expect(verifyInclusion(leaves[i] as Uint8Array, j, n, proof, root)).toBe(false);
        }
      }),
      opts,
    );
  });

  it('fail at every other size unless that size makes the very same hashing', () => {
    fc.assert(
      fc.property(
        leavesArb(1, 64).chain((leaves) =>
          fc.tuple(fc.constant(leaves), fc.nat(leaves.length - 1)),
        ),
        ([leaves, i]) => {
          const n = leaves.length;
          const root = rootFromLeafHashes(leaves);
          const proof = inclusionProof(leaves, i);
          const leaf = leaves[i] as Uint8Array;
          for (let m = 0; m <= 130; m++) {
            if (m === n) continue;
            const same = m > i && inclusionShape(i, m) === inclusionShape(i, n);
            expect(verifyInclusion(leaf, i, m, proof, root)).toBe(same);
          }
          expect(verifyInclusion(leaf, i, n * 2, proof, root)).toBe(false);
        },
      ),
      opts,
    );
  });
});

describe('consistency proofs', () => {
  it('verify for every 0 < m ≤ n ≤ 64', () => {
    fc.assert(
      fc.property(leavesArb(1, 64), (leaves) => {
        const n = leaves.length;
        const newRoot = rootFromLeafHashes(leaves);
        expect(verifyConsistency(0, n, EMPTY_ROOT, newRoot, consistencyProof(leaves, 0))).toBe(
          true,
        );
        for (let m = 1; m <= n; m++) {
          const oldRoot = rootFromLeafHashes(leaves.slice(0, m));
          const proof = consistencyProof(leaves, m);
          expect(verifyConsistency(m, n, oldRoot, newRoot, proof)).toBe(true);
        }
      }),
      opts,
    );
  });

  it('fail when any hash is flipped, dropped, duplicated or inserted, or a root is wrong', () => {
    fc.assert(
      fc.property(
        leavesArb(2, 64).chain((leaves) =>
          fc.tuple(
            fc.constant(leaves),
            fc.integer({ min: 1, max: leaves.length - 1 }),
            fc.nat(64),
            fc.nat(255),
            fc.uint8Array({ minLength: 32, maxLength: 32 }),
          ),
        ),
        ([leaves, m, at, bit, extra]) => {
          const n = leaves.length;
          const r1 = rootFromLeafHashes(leaves.slice(0, m));
          const r2 = rootFromLeafHashes(leaves);
          const proof = consistencyProof(leaves, m);
          const k = at % proof.length;
          const bad = [
            proof.map((p, j) => (j === k ? flip(p, bit) : p)),
            proof.filter((_, j) => j !== k),
            [...proof.slice(0, k), extra, ...proof.slice(k)],
            [...proof.slice(0, k + 1), ...proof.slice(k)],
            [...proof, extra],
            [],
          ];
          for (const p of bad) expect(verifyConsistency(m, n, r1, r2, p)).toBe(false);
          expect(verifyConsistency(m, n, flip(r1, bit), r2, proof)).toBe(false);
          expect(verifyConsistency(m, n, r1, flip(r2, bit), proof)).toBe(false);
          expect(verifyConsistency(m, n, r2, r1, proof)).toBe(false);
        },
      ),
      opts,
    );
  });

  it('fail at other sizes unless they make the very same hashing', () => {
    fc.assert(
      fc.property(
        leavesArb(2, 64).chain((leaves) =>
          fc.tuple(fc.constant(leaves), fc.integer({ min: 1, max: leaves.length - 1 })),
        ),
        ([leaves, m]) => {
          const n = leaves.length;
          const r1 = rootFromLeafHashes(leaves.slice(0, m));
          const r2 = rootFromLeafHashes(leaves);
          const proof = consistencyProof(leaves, m);
          const shape = consistencyShape(m, n);
          for (let m2 = 1; m2 <= 70; m2++)
            for (const n2 of [n - 1, n, n + 1, n * 2, Math.floor(n / 2), m2 + 1, 66]) {
              if ((m2 === m && n2 === n) || n2 <= m2) continue;
              const same = consistencyShape(m2, n2) === shape;
              expect(verifyConsistency(m2, n2, r1, r2, proof)).toBe(same);
            }
        },
      ),
      opts,
    );
  });
});

describe('MerkleAccumulator', () => {
  it('its root equals rootFromLeafHashes at every size, and it resumes from its state', () => {
    fc.assert(
      fc.property(leavesArb(0, 300), fc.nat(300), (leaves, cut) => {
        const acc = new MerkleAccumulator();
        expect(acc.root()).toEqual(EMPTY_ROOT);
        for (let i = 0; i < leaves.length; i++) {
          acc.append(leaves[i] as Uint8Array);
          if (i % 7 === 0 || i === leaves.length - 1)
            expect(acc.root()).toEqual(rootFromLeafHashes(leaves.slice(0, i + 1)));
        }
        const c = Math.min(cut, leaves.length);
        const first = new MerkleAccumulator();
        leaves.slice(0, c).forEach((l) => first.append(l));
        const st = first.state();
        expect(st.hashes.length).toBe(
          c
            .toString(2)
            .split('')
            .filter((b) => b === '1').length,
        );
        const resumed = MerkleAccumulator.fromState(st.size, st.hashes);
        leaves.slice(c).forEach((l) => resumed.append(l));
        expect(resumed.root()).toEqual(acc.root());
        expect(resumed.size).toBe(leaves.length);
      }),
      opts,
    );
  });
});

describe('MerkleTree (all levels in memory)', () => {
  it('gives the same root and the same proofs as the one-shot functions', () => {
    fc.assert(
      fc.property(leavesArb(0, 80), (leaves) => {
        const tree = MerkleTree.fromLeafHashes(leaves);
        expect(tree.size).toBe(leaves.length);
        expect(tree.root()).toEqual(rootFromLeafHashes(leaves));
        for (let i = 0; i < leaves.length; i++) {
          expect(tree.leafHash(i)).toEqual(leaves[i]);
          expect(tree.inclusionProof(i)).toEqual(inclusionProof(leaves, i));
        }
        for (let m = 0; m <= leaves.length; m++)
          expect(tree.consistencyProof(m)).toEqual(consistencyProof(leaves, m));
      }),
      opts,
    );
  });
});

describe('AppendOnlyMerkleTree (perfect subtrees kept as they complete)', () => {
  it('gives, at every past size, the same root and proofs as the one-shot functions', () => {
    fc.assert(
      fc.property(leavesArb(0, 70), (leaves) => {
        const tree = new AppendOnlyMerkleTree();
        leaves.forEach((l) => tree.append(l));
        expect(tree.size).toBe(leaves.length);
        for (let size = 0; size <= leaves.length; size++) {
          const prefix = leaves.slice(0, size);
          expect(tree.root(size)).toEqual(rootFromLeafHashes(prefix));
          for (let i = 0; i < size; i++)
            expect(tree.inclusionProof(i, size)).toEqual(inclusionProof(prefix, i));
          for (let m = 0; m <= size; m++)
            expect(tree.consistencyProof(m, size)).toEqual(consistencyProof(prefix, m));
        }
        leaves.forEach((l, i) => expect(tree.leafHash(i)).toEqual(l));
      }),
      opts,
    );
  });

  it('refuses a size beyond its leaves, an index beyond the size, and a hash of another length', () => {
    const tree = new AppendOnlyMerkleTree();
    [1, 2, 3].forEach((i) => tree.append(leafHash(Uint8Array.of(i))));
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => tree.root(4))).toBe('MERKLE_SIZE_INVALID');
    expect(code(() => tree.inclusionProof(2, 2))).toBe('MERKLE_INDEX_OUT_OF_RANGE');
    expect(code(() => tree.consistencyProof(3, 2))).toBe('MERKLE_SIZE_INVALID');
    expect(code(() => tree.append(new Uint8Array(31)))).toBe('MERKLE_HASH_LENGTH');
  });
});
