/**
 * Merkle trees with RFC 9162 (Certificate Transparency v2) hashing: the Merkle Tree Hash, audit
 * (inclusion) paths, consistency proofs and their verification, plus a compact-range accumulator
 * for append-only logs. Used by batch manifests (one ceremony signs many artifacts) and by the
 * audit log (@conclave/audit).
 *
 * Every hash is a 32-byte SHA-256 digest. Sizes and indices are JavaScript safe integers.
 * Nothing here recurses over the leaves: the tree hash is computed left to right with a stack of
 * O(log n) perfect subtrees, so a million leaves need no deep call stack.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type * as NodeCryptoModule from 'node:crypto';

export const HASH_SIZE = 32;

export type MerkleErrorCode =
  | 'MERKLE_INDEX_OUT_OF_RANGE'
  | 'MERKLE_SIZE_INVALID'
  | 'MERKLE_HASH_LENGTH'
  | 'MERKLE_PROOF_INVALID';

export class MerkleError extends Error {
  override readonly name = 'MerkleError';
  constructor(
    readonly code: MerkleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isMerkleError(e: unknown): e is MerkleError {
  return e instanceof MerkleError;
}

// ---------------------------------------------------------------------------------------------
// SHA-256 backend. On Node: the one-shot crypto.hash (OpenSSL, SHA-NI where the CPU has it), reached
// through process.getBuiltinModule so the package still loads elsewhere; there @noble/hashes.
//
// Hashing a tree is millions of tiny hashes, so the per-call cost decides everything: OpenSSL
// compresses a block in ~0.1 µs but a call that returns a Buffer costs several µs, while the same
// call returning a 32-character latin1 string (one char per byte) is 3–4× cheaper. So the bulk
// paths (MerkleTree, batch manifests) carry hashes as latin1 strings and convert at the API edge.

type NodeCrypto = typeof NodeCryptoModule;
type HashFn = (data: Uint8Array) => Uint8Array;

function loadNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
}

/** 32 bytes → a 32-character string, one char per byte. */
export function bytesToLatin1(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

/** A latin1 string (chars < 256) → its bytes. */
export function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The SHA-256 → latin1 function for a given Node crypto module (`null`: @noble/hashes). Exported so
 * tests can run every backend; the module picks one at load time.
 */
export function makeSha256Latin1(
  c: (Pick<NodeCrypto, 'createHash'> & Partial<Pick<NodeCrypto, 'hash'>>) | null | undefined,
): (data: Uint8Array) => string {
  if (c && typeof c.hash === 'function') {
    const hash = c.hash;
    return (data) => hash('sha256', data, 'binary'); // 'binary' = latin1
  }
  if (c) {
    const createHash = c.createHash;
    return (data) => createHash('sha256').update(data).digest('binary');
  }
  return (data) => bytesToLatin1(nobleSha256(data));
}

/** SHA-256 of `data` as a 32-character latin1 string (the bulk paths' representation). */
export const sha256Latin1: (data: Uint8Array) => string = makeSha256Latin1(loadNodeCrypto());

/** SHA-256 as used by this module (exported for tests and for callers hashing leaf data). */
export const sha256: HashFn = (data) => latin1ToBytes(sha256Latin1(data));

/** The noble implementation, always available (tests compare the two). */
export const sha256Portable: HashFn = (data) => nobleSha256(data);

// One scratch buffer for every interior node: 0x01 ‖ left ‖ right (65 bytes).
const nodeBuf = new Uint8Array(1 + 2 * 32);
nodeBuf[0] = 0x01;

/** RFC 9162 §2.1.1 interior node hash over latin1-string hashes (no allocation but the result). */
export function nodeHashLatin1(left: string, right: string): string {
  for (let i = 0; i < 32; i++) {
    nodeBuf[1 + i] = left.charCodeAt(i);
    nodeBuf[33 + i] = right.charCodeAt(i);
  }
  return sha256Latin1(nodeBuf);
}

// ---------------------------------------------------------------------------------------------
// RFC 9162 §2.1.1: MTH({}) = SHA-256(), MTH({d0}) = SHA-256(0x00 ‖ d0),
// MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])) with k the largest power of 2 < n.

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256Portable(new Uint8Array(0));

export function emptyRoot(): Uint8Array {
  return EMPTY_ROOT.slice();
}

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(data.length + 1);
  buf.set(data, 1);
  return sha256(buf);
}

/** RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  checkHash(left, 'left');
  checkHash(right, 'right');
  return nodeHashUnchecked(left, right);
}

function nodeHashUnchecked(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeBuf.set(left, 1);
  nodeBuf.set(right, 1 + HASH_SIZE);
  return latin1ToBytes(sha256Latin1(nodeBuf));
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
    throw new MerkleError(
      'MERKLE_HASH_LENGTH',
      `${what}: expected a ${HASH_SIZE}-byte SHA-256 hash, got ${h instanceof Uint8Array ? `${h.length} bytes` : typeof h}`,
    );
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new MerkleError(
      'MERKLE_SIZE_INVALID',
      `${what}: expected a non-negative safe integer, got ${String(n)}`,
    );
}

/** The largest power of two strictly less than n (n ≥ 2), as RFC 9162 §2.1.1 splits trees. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// ---------------------------------------------------------------------------------------------
// Compact range: the roots of the perfect subtrees that make up [0, size), largest first. Their
// heights are the set bits of size, so at most 53 hashes are kept.

/**
 * Incremental RFC 9162 tree hash for an append-only log: `append` a leaf hash, read `root()` at
 * any size. Stores only the O(log n) perfect-subtree roots (a "compact range" over [0, size)).
 */
export class MerkleAccumulator {
  #hashes: Uint8Array[] = [];
  #heights: number[] = [];
  #size = 0;

  /** Resume from a stored compact range (as returned by `state()`). */
  static fromState(size: number, hashes: readonly Uint8Array[]): MerkleAccumulator {
    checkSize(size, 'size');
    const heights: number[] = [];
    for (let h = 52; h >= 0; h--) if (Math.floor(size / 2 ** h) % 2 === 1) heights.push(h);
    if (heights.length !== hashes.length)
      throw new MerkleError(
        'MERKLE_SIZE_INVALID',
        `a compact range of size ${size} has ${heights.length} hashes, got ${hashes.length}`,
      );
    hashes.forEach((h, i) => checkHash(h, `compact range hash ${i}`));
    const acc = new MerkleAccumulator();
    acc.#hashes = hashes.map((h) => h.slice());
    acc.#heights = heights;
    acc.#size = size;
    return acc;
  }

  get size(): number {
    return this.#size;
  }

  append(leafHash: Uint8Array): void {
    checkHash(leafHash, 'leaf hash');
    if (this.#size >= Number.MAX_SAFE_INTEGER)
      throw new MerkleError('MERKLE_SIZE_INVALID', 'the tree is full');
    let h: Uint8Array = leafHash.slice();
    let height = 0;
    // Merge equal-height neighbours: the binary carry of size + 1.
    while (this.#heights.length > 0 && this.#heights[this.#heights.length - 1] === height) {
      this.#heights.pop();
      h = nodeHashUnchecked(this.#hashes.pop() as Uint8Array, h);
      height++;
    }
    this.#hashes.push(h);
    this.#heights.push(height);
    this.#size++;
  }

  /** MTH of the leaves appended so far (RFC 9162 §2.1.1); SHA-256("") when empty. */
  root(): Uint8Array {
    return foldRight(this.#hashes);
  }

  /** The compact range (perfect-subtree roots, largest first), to persist and resume. */
  state(): { size: number; hashes: Uint8Array[] } {
    return { size: this.#size, hashes: this.#hashes.map((h) => h.slice()) };
  }
}

// The right edge of an RFC 9162 tree: the smaller subtrees hang off the right of the larger ones.
function foldRight(hashes: readonly Uint8Array[]): Uint8Array {
  let i = hashes.length - 1;
  if (i < 0) return emptyRoot();
  let r: Uint8Array = (hashes[i] as Uint8Array).slice();
  for (i--; i >= 0; i--) r = nodeHashUnchecked(hashes[i] as Uint8Array, r);
  return r;
}

/** MTH over leafHashes[start, end): iterative, n − 1 node hashes, O(log n) memory. */
function subtreeRoot(leafHashes: readonly Uint8Array[], start: number, end: number): Uint8Array {
  if (end - start === 0) return emptyRoot();
  if (end - start === 1) return (leafHashes[start] as Uint8Array).slice();
  const stack: Uint8Array[] = [];
  const heights: number[] = [];
  for (let i = start; i < end; i++) {
    let h = leafHashes[i] as Uint8Array;
    let height = 0;
    while (heights.length > 0 && heights[heights.length - 1] === height) {
      heights.pop();
      h = nodeHashUnchecked(stack.pop() as Uint8Array, h);
      height++;
    }
    stack.push(h);
    heights.push(height);
  }
  return foldRight(stack);
}

function checkLeaves(leafHashes: readonly Uint8Array[]): void {
  for (let i = 0; i < leafHashes.length; i++)
    checkHash(leafHashes[i] as Uint8Array, `leaf hash ${i}`);
}

/** RFC 9162 §2.1.1 Merkle Tree Hash over already-hashed leaves (iterative, O(n)). */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  checkLeaves(leafHashes);
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

/** RFC 9162 §2.1.3.1 audit path PATH(m, D[n]) for leaf `index`, innermost sibling first. */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  checkLeaves(leafHashes);
  const n = leafHashes.length;
  if (!Number.isSafeInteger(index) || index < 0 || index >= n)
    throw new MerkleError(
      'MERKLE_INDEX_OUT_OF_RANGE',
      `leaf index ${String(index)} is outside a tree of ${n} leaves`,
    );
  return inclusionPath(n, index, (start, end) => subtreeRoot(leafHashes, start, end));
}

/**
 * PATH(m, D[0:n]) of RFC 9162 §2.1.3.1, unrolled: descend from the root; each step contributes
 * the MTH of the sibling subtree, which `subtree` gives. Innermost sibling first.
 */
function inclusionPath(
  n: number,
  index: number,
  subtree: (start: number, end: number) => Uint8Array,
): Uint8Array[] {
  const outerFirst: Uint8Array[] = [];
  let start = 0;
  let end = n;
  let m = index;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      outerFirst.push(subtree(start + k, end));
      end = start + k;
    } else {
      outerFirst.push(subtree(start, start + k));
      start += k;
      m -= k;
    }
  }
  return outerFirst.reverse();
}

/**
 * Recompute the root from a leaf hash and its audit path — RFC 9162 §2.1.3.2, steps 1–5 without
 * the final comparison. Throws MerkleError when the path cannot belong to (index, size).
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkHash(leafHash, 'leaf hash');
  checkSize(size, 'tree size');
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    throw new MerkleError(
      'MERKLE_INDEX_OUT_OF_RANGE',
      `leaf index ${String(index)} is outside a tree of ${size} leaves`,
    );
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (let i = 0; i < proof.length; i++) {
    const p = proof[i] as Uint8Array;
    checkHash(p, `proof hash ${i}`);
    if (sn === 0)
      throw new MerkleError(
        'MERKLE_PROOF_INVALID',
        `the proof has ${proof.length} hashes, more than a tree of ${size} leaves needs at index ${index}`,
      );
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHashUnchecked(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHashUnchecked(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0)
    throw new MerkleError(
      'MERKLE_PROOF_INVALID',
      `the proof has ${proof.length} hashes, fewer than a tree of ${size} leaves needs at index ${index}`,
    );
  return r === leafHash ? leafHash.slice() : r;
}

/** RFC 9162 §2.1.3.2: does `proof` show `leafHash` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    checkHash(root, 'root');
    return equalBytes(rootFromInclusionProof(leafHash, index, size, proof), root);
  } catch (e) {
    if (isMerkleError(e)) return false;
    throw e;
  }
}

/**
 * RFC 9162 §2.1.4.1 consistency proof PROOF(m, D[n]) between the first `oldSize` leaves and all
 * of them. Empty when oldSize is 0 or equals the tree size (nothing to prove).
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number): Uint8Array[] {
  checkLeaves(leafHashes);
  return consistencyPath(leafHashes.length, oldSize, (start, end) =>
    subtreeRoot(leafHashes, start, end),
  );
}

/**
 * SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1, unrolled (outer siblings are found first and
 * emitted last), over a tree of `n` leaves whose subtree hashes `subtree` gives.
 */
function consistencyPath(
  n: number,
  oldSize: number,
  subtree: (start: number, end: number) => Uint8Array,
): Uint8Array[] {
  checkSize(oldSize, 'old size');
  if (oldSize > n)
    throw new MerkleError(
      'MERKLE_SIZE_INVALID',
      `old size ${oldSize} is larger than the tree (${n} leaves)`,
    );
  if (oldSize === 0 || oldSize === n) return [];
  const outerFirst: Uint8Array[] = [];
  let start = 0;
  let end = n;
  let m = oldSize;
  let b = true;
  for (;;) {
    if (m === end - start) {
      if (!b) outerFirst.push(subtree(start, end));
      break;
    }
    const k = splitPoint(end - start);
    if (m <= k) {
      outerFirst.push(subtree(start + k, end));
      end = start + k;
    } else {
      outerFirst.push(subtree(start, start + k));
      start += k;
      m -= k;
      b = false;
    }
  }
  return outerFirst.reverse();
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show the tree (oldSize, oldRoot) is a prefix of (newSize,
 * newRoot)? Equal sizes need an empty proof and equal roots; oldSize 0 needs an empty proof and
 * the empty-tree root (every tree extends the empty one).
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    checkSize(oldSize, 'old size');
    checkSize(newSize, 'new size');
    checkHash(oldRoot, 'old root');
    checkHash(newRoot, 'new root');
    proof.forEach((p, i) => checkHash(p, `proof hash ${i}`));
  } catch (e) {
    if (isMerkleError(e)) return false;
    throw e;
  }
  if (oldSize > newSize) return false;
  if (oldSize === 0) return proof.length === 0 && equalBytes(oldRoot, EMPTY_ROOT);
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  // Step 1.
  if (proof.length === 0) return false;
  // Step 2: a power-of-two old tree is itself a subtree of the new one; its root starts the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  // Steps 3–4.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHashUnchecked(c, fr);
      sr = nodeHashUnchecked(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHashUnchecked(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isSafeInteger(n) && 2 ** Math.round(Math.log2(n)) === n;
}

/** Constant-time-in-length byte comparison (these values are public; this avoids early exits anyway). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/**
 * A whole RFC 9162 tree kept in memory, every level, for many proofs over one fixed list of leaves
 * (a batch manifest hands out one inclusion proof per artifact). Level h holds the roots of the
 * subtrees of 2^h leaves, left to right; a level of odd length carries its last node up unchanged,
 * which yields exactly the §2.1.1 tree hash. Building costs n − 1 node hashes; each proof is then
 * O(log n) lookups. Hashes are kept as 32-character latin1 strings (see the backend note above).
 */
export class MerkleTree {
  readonly #levels: string[][];

  private constructor(levels: string[][]) {
    this.#levels = levels;
  }

  /** Build from leaf hashes given as 32-character latin1 strings (the bulk path; not re-checked). */
  static fromLatin1LeafHashes(leaves: string[]): MerkleTree {
    const levels: string[][] = [leaves];
    let level = leaves;
    while (level.length > 1) {
      const half = level.length >>> 1;
      const next: string[] = new Array<string>((level.length + 1) >>> 1);
      for (let j = 0; j < half; j++)
        next[j] = nodeHashLatin1(level[2 * j] as string, level[2 * j + 1] as string);
      if (level.length % 2 === 1) next[half] = level[level.length - 1] as string;
      levels.push(next);
      level = next;
    }
    return new MerkleTree(levels);
  }

  static fromLeafHashes(leafHashes: readonly Uint8Array[]): MerkleTree {
    checkLeaves(leafHashes);
    return MerkleTree.fromLatin1LeafHashes(leafHashes.map(bytesToLatin1));
  }

  get size(): number {
    return (this.#levels[0] as string[]).length;
  }

  root(): Uint8Array {
    if (this.size === 0) return emptyRoot();
    return latin1ToBytes((this.#levels[this.#levels.length - 1] as string[])[0] as string);
  }

  leafHash(index: number): Uint8Array {
    this.#checkIndex(index);
    return latin1ToBytes((this.#levels[0] as string[])[index] as string);
  }

  /** RFC 9162 §2.1.3.1 audit path, innermost sibling first (same result as `inclusionProof`). */
  inclusionProof(index: number): Uint8Array[] {
    this.#checkIndex(index);
    const out: Uint8Array[] = [];
    let i = index;
    for (let h = 0; h < this.#levels.length - 1; h++) {
      const level = this.#levels[h] as string[];
      const sibling = i % 2 === 1 ? i - 1 : i + 1;
      // The last node of an odd level has no sibling here: it is carried up unchanged.
      if (sibling < level.length) out.push(latin1ToBytes(level[sibling] as string));
      i = Math.floor(i / 2);
    }
    return out;
  }

  /** RFC 9162 §2.1.4.1 consistency proof from the first `oldSize` leaves (same as `consistencyProof`). */
  consistencyProof(oldSize: number): Uint8Array[] {
    return consistencyPath(this.size, oldSize, (start, end) => this.#subtree(start, end));
  }

  // Every range a proof asks for is either a whole aligned block of 2^h leaves or a suffix
  // [start, n) with start a multiple of 2^h, h = ceil(log2(end − start)): one node of level h.
  #subtree(start: number, end: number): Uint8Array {
    let h = 0;
    while (2 ** h < end - start) h++;
    return latin1ToBytes((this.#levels[h] as string[])[start / 2 ** h] as string);
  }

  #checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size)
      throw new MerkleError(
        'MERKLE_INDEX_OUT_OF_RANGE',
        `leaf index ${String(index)} is outside a tree of ${this.size} leaves`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// An append-only tree that serves proofs at any of its past sizes.

/**
 * An append-only RFC 9162 tree keeping the hash of every perfect, aligned subtree (a block of 2^h
 * leaves starting at a multiple of 2^h) as it completes: about 2n hashes. Any tree of size ≤ n
 * splits into such blocks, so its root, and the inclusion and consistency proofs at any size, cost
 * O(log² n) node hashes instead of the O(n) of the functions above: what a log that answers proof
 * requests from anyone needs (the coordinator's transparency log).
 */
export class AppendOnlyMerkleTree {
  /** #levels[h][j]: MTH of leaves [j·2^h, (j+1)·2^h), as latin1 strings. */
  readonly #levels: string[][] = [[]];

  get size(): number {
    return (this.#levels[0] as string[]).length;
  }

  append(leafHash: Uint8Array): void {
    checkHash(leafHash, 'leaf hash');
    if (this.size >= Number.MAX_SAFE_INTEGER)
      throw new MerkleError('MERKLE_SIZE_INVALID', 'the tree is full');
    let h = bytesToLatin1(leafHash);
    let i = (this.#levels[0] as string[]).push(h) - 1;
    // A right child completes its parent's block: carry up while it does.
    for (let height = 0; i % 2 === 1; height++) {
      h = nodeHashLatin1((this.#levels[height] as string[])[i - 1] as string, h);
      const up = (this.#levels[height + 1] ??= []);
      i = up.push(h) - 1;
    }
  }

  leafHash(index: number): Uint8Array {
    this.#checkIndex(index, this.size);
    return latin1ToBytes((this.#levels[0] as string[])[index] as string);
  }

  /** MTH of the first `size` leaves (RFC 9162 §2.1.1). */
  root(size = this.size): Uint8Array {
    this.#checkSize(size);
    return size === 0 ? emptyRoot() : latin1ToBytes(this.#mth(0, size));
  }

  /** RFC 9162 §2.1.3.1 audit path of leaf `index` in the tree of its first `size` leaves. */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.#checkSize(size);
    this.#checkIndex(index, size);
    return inclusionPath(size, index, (start, end) => latin1ToBytes(this.#mth(start, end)));
  }

  /** RFC 9162 §2.1.4.1 consistency proof from its first `oldSize` leaves to its first `size`. */
  consistencyProof(oldSize: number, size = this.size): Uint8Array[] {
    this.#checkSize(size);
    return consistencyPath(size, oldSize, (start, end) => latin1ToBytes(this.#mth(start, end)));
  }

  /**
   * MTH of leaves [start, end), end > start, start a multiple of the block size the range's RFC
   * split asks for (true of every range a root or proof asks for): a stored block, or the split
   * into its largest power-of-two block and the rest.
   */
  #mth(start: number, end: number): string {
    const width = end - start;
    const h = Math.log2(width); // exact for powers of two
    if (Number.isInteger(h) && start % width === 0) {
      const stored = this.#levels[h]?.[start / width];
      if (stored !== undefined) return stored;
    }
    const k = splitPoint(width);
    return nodeHashLatin1(this.#mth(start, start + k), this.#mth(start + k, end));
  }

  #checkSize(size: number): void {
    checkSize(size, 'tree size');
    if (size > this.size)
      throw new MerkleError(
        'MERKLE_SIZE_INVALID',
        `size ${size} is larger than the tree (${this.size} leaves)`,
      );
  }

  #checkIndex(index: number, size: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size)
      throw new MerkleError(
        'MERKLE_INDEX_OUT_OF_RANGE',
        `leaf index ${String(index)} is outside a tree of ${size} leaves`,
      );
  }
}
