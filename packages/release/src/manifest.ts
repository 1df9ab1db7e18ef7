/**
 * Batch manifests: one ceremony signs many artifacts through one RFC 9162 Merkle root carried in
 * the release statement (`predicate.manifest`), and every artifact gets an inclusion proof to it.
 *
 * Leaf format `conclave-manifest-v1` — one leaf per artifact, artifacts sorted by name in Unicode
 * code point order (= the byte order of their UTF-8), names unique:
 *
 *     leaf data = u16be(len(utf8(name))) ‖ utf8(name) ‖ sha256 (32 bytes) ‖ sha512 (64 bytes)
 *     leaf hash = SHA-256(0x00 ‖ leaf data)                                  (RFC 9162 §2.1.1)
 *
 * Manifest file (JSON Lines, one canonical-JSON object per line, each line ending in "\n"):
 *
 *     {"leafFormat":"conclave-manifest-v1","root":"<hex>","size":N,"type":"conclave-manifest"}
 *     {"name":"a.tgz","sha256":"<hex>","sha512":"<hex>"}      ← N lines, in leaf order
 *
 * Proof file `<name>.proof.json`: the artifact's name and digests, its leaf index, the tree size,
 * the audit path (hex, innermost first), the root, and optionally the SHA-256 of the signed
 * statement it belongs to. Everything read from outside is parsed by a zod schema first.
 */
import { sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import * as z from 'zod';
import {
  MerkleTree,
  isMerkleError,
  latin1ToBytes,
  rootFromInclusionProof,
  sha256Latin1,
} from './merkle.js';
import {
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  canonicalJson,
  type ManifestRef,
  type ReleaseStatement,
} from './statement.js';

export const LEAF_FORMAT = 'conclave-manifest-v1';
export const MANIFEST_TYPE = 'conclave-manifest';
export const PROOF_TYPE = 'conclave-manifest-proof';
/** Most artifacts in one manifest (2^24 ≈ 16.7 million). */
export const MAX_MANIFEST_ENTRIES = 2 ** 24;
/** Longest artifact name, in UTF-16 code units (the protocol's ArtifactNameSchema). */
export const MAX_NAME_LENGTH = 255;
/** Longest manifest line we read (a 255-character name JSON-escaped, digests, keys). */
export const MAX_LINE_LENGTH = 4096;
/** Tree sizes the statement allows (the protocol's ManifestRefSchema). */
export const MAX_TREE_SIZE = 2 ** 40;

export interface ManifestEntry {
  readonly name: string;
  readonly sha256: string;
  readonly sha512: string;
}

export type ManifestErrorCode =
  | 'MANIFEST_EMPTY'
  | 'MANIFEST_TOO_LARGE'
  | 'MANIFEST_NAME_INVALID'
  | 'MANIFEST_DIGEST_INVALID'
  | 'MANIFEST_DUPLICATE_NAME'
  | 'MANIFEST_NOT_CANONICAL'
  | 'MANIFEST_MALFORMED'
  | 'MANIFEST_SIZE_MISMATCH'
  | 'MANIFEST_ROOT_MISMATCH'
  | 'MANIFEST_UNKNOWN_NAME'
  | 'MANIFEST_PROOF_MALFORMED';

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    readonly code: ManifestErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isManifestError(e: unknown): e is ManifestError {
  return e instanceof ManifestError;
}

// ---------------------------------------------------------------------------------------------
// Names and digests

// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const FORBIDDEN_NAME_CHARS = /[\u0000-\u001f\u007f/\\]/;
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `name` is not a valid artifact name, or undefined when it is. */
export function artifactNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `expected a string, got ${typeof name}`;
  if (name.length === 0) return 'the name is empty';
  if (name.length > MAX_NAME_LENGTH)
    return `the name is ${name.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  if (FORBIDDEN_NAME_CHARS.test(name))
    return 'a file name, not a path: no "/", "\\" or control characters';
  if (name === '.' || name === '..') return 'the name may not be "." or ".."';
  if (SURROGATE.test(name) && LONE_SURROGATE.test(name))
    return 'the name is not well-formed Unicode (a lone surrogate has no UTF-8 encoding)';
  return undefined;
}

/** Unicode code point order, which is the byte order of the UTF-8 encodings. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts U+E000..U+FFFF after the surrogates that encode U+10000 and up; swap them back.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

// Lowercase hex only, two characters at a time: (c1 << 8 | c2) → byte, or -1 for anything else.
const HEX_PAIRS = new Int16Array(65536).fill(-1);
for (let hi = 0; hi < 16; hi++)
  for (let lo = 0; lo < 16; lo++)
    HEX_PAIRS[('0123456789abcdef'.charCodeAt(hi) << 8) | '0123456789abcdef'.charCodeAt(lo)] =
      hi * 16 + lo;

/** Decode lowercase hex of exactly `bytes` bytes into `out` at `off`; false when it is not. */
function decodeHexInto(hex: unknown, bytes: number, out: Uint8Array, off: number): boolean {
  if (typeof hex !== 'string' || hex.length !== 2 * bytes) return false;
  let bad = 0;
  for (let i = 0; i < bytes; i++) {
    const c1 = hex.charCodeAt(2 * i);
    const c2 = hex.charCodeAt(2 * i + 1);
    const v = (c1 | c2) < 256 ? (HEX_PAIRS[(c1 << 8) | c2] as number) : -1;
    bad |= v;
    out[off + i] = v;
  }
  return bad >= 0;
}

// Byte → two lowercase hex characters.
const HEX_OF_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX_OF_BYTE[b[i] as number] as string;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Leaf encoding (conclave-manifest-v1)

const MAX_LEAF_INPUT = 1 + 2 + 3 * MAX_NAME_LENGTH + 32 + 64;
const leafBuf = new Uint8Array(MAX_LEAF_INPUT);
const utf8 = new TextEncoder();

// Where an invalid entry is, for the error message (built only when there is an error).
const where = (name: unknown, index: number | undefined): string =>
  index === undefined ? `artifact ${JSON.stringify(name)}` : `entry ${index + 1}`;

// Set by encodeLeafInput: whether the last name had a surrogate pair (then UTF-16 order and code
// point order can differ, and sorting needs compareNames).
let lastNameHadSurrogate = false;
// Views of leafBuf by length, so hashing a leaf allocates nothing but the digest.
const leafViews: Uint8Array[] = [];
const leafView = (len: number): Uint8Array => (leafViews[len] ??= leafBuf.subarray(0, len));

/**
 * Write 0x00 ‖ leaf data for `e` into the shared buffer and return its length. Throws ManifestError
 * (MANIFEST_NAME_INVALID / MANIFEST_DIGEST_INVALID) naming the entry when it is not valid.
 */
function encodeLeafInput(name: string, sha256: string, sha512: string, index?: number): number {
  leafBuf[0] = 0x00; // RFC 9162 §2.1.1 leaf prefix
  let off = 3;
  // Fast path, one pass: printable ASCII other than "/" and "\\" is copied as it is checked.
  let plain = typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH;
  if (plain)
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c < 0x20 || c >= 0x7f || c === 0x2f || c === 0x5c) {
        plain = false;
        break;
      }
      leafBuf[off++] = c;
    }
  lastNameHadSurrogate = false;
  if (!plain || name === '.' || name === '..') {
    const problem = artifactNameProblem(name);
    if (problem !== undefined)
      throw new ManifestError('MANIFEST_NAME_INVALID', `${where(name, index)}: ${problem}`);
    lastNameHadSurrogate = SURROGATE.test(name);
    off = 3 + utf8.encodeInto(name, leafBuf.subarray(3, 3 + 3 * MAX_NAME_LENGTH)).written;
  }
  const nameLen = off - 3;
  leafBuf[1] = nameLen >>> 8;
  leafBuf[2] = nameLen & 0xff;
  if (!decodeHexInto(sha256, 32, leafBuf, off))
    throw new ManifestError(
      'MANIFEST_DIGEST_INVALID',
      `${where(name, index)}: sha256 must be 64 lowercase hex characters`,
    );
  if (!decodeHexInto(sha512, 64, leafBuf, off + 32))
    throw new ManifestError(
      'MANIFEST_DIGEST_INVALID',
      `${where(name, index)}: sha512 must be 128 lowercase hex characters`,
    );
  return off + 96;
}

/** The `conclave-manifest-v1` leaf data of one entry (without the RFC 9162 0x00 prefix). */
export function encodeLeaf(e: ManifestEntry): Uint8Array {
  return leafBuf.slice(1, encodeLeafInput(e.name, e.sha256, e.sha512));
}

/** SHA-256(0x00 ‖ leaf data) of one entry. */
export function manifestLeafHash(e: ManifestEntry): Uint8Array {
  return latin1ToBytes(sha256Latin1(leafView(encodeLeafInput(e.name, e.sha256, e.sha512))));
}

// ---------------------------------------------------------------------------------------------
// Building

/** A statement reference carried by proof files: the SHA-256 of the signed statement's bytes. */
export interface StatementRef {
  readonly sha256: string;
}

export interface ManifestProofFile {
  readonly type: typeof PROOF_TYPE;
  readonly leafFormat: typeof LEAF_FORMAT;
  readonly name: string;
  readonly sha256: string;
  readonly sha512: string;
  readonly index: number;
  readonly size: number;
  readonly proof: readonly string[];
  readonly root: string;
  readonly statement?: StatementRef;
}

export interface Manifest {
  readonly size: number;
  readonly root: Uint8Array;
  readonly rootHex: string;
  /** Entries in leaf order (sorted by name), copied: later changes to the input do not leak in. */
  readonly entries: readonly ManifestEntry[];
  /** Leaf hashes in leaf order (materialised on first use). */
  readonly leafHashes: readonly Uint8Array[];
  /** Leaf index of `name`, or -1. */
  indexOf(name: string): number;
  /** The inclusion proof file for `name` (MANIFEST_UNKNOWN_NAME when it is not in the batch). */
  proofFor(name: string, statement?: StatementRef): ManifestProofFile;
  /** What goes in `ReleaseInput.manifest`. */
  ref(): ManifestRef;
}

class BuiltManifest implements Manifest {
  readonly size: number;
  readonly root: Uint8Array;
  readonly rootHex: string;
  // Three parallel arrays of immutable strings rather than n objects: less to allocate and collect.
  readonly #names: readonly string[];
  readonly #sha256: readonly string[];
  readonly #sha512: readonly string[];
  readonly #tree: MerkleTree;
  #entries: readonly ManifestEntry[] | undefined;
  #leafHashes: Uint8Array[] | undefined;

  constructor(names: string[], sha256: string[], sha512: string[], tree: MerkleTree) {
    this.#names = names;
    this.#sha256 = sha256;
    this.#sha512 = sha512;
    this.#tree = tree;
    this.size = names.length;
    this.root = tree.root();
    this.rootHex = toHex(this.root);
  }

  get entries(): readonly ManifestEntry[] {
    this.#entries ??= Object.freeze(this.#names.map((_, i) => this.#entry(i)));
    return this.#entries;
  }

  #entry(i: number): ManifestEntry {
    return Object.freeze({
      name: this.#names[i] as string,
      sha256: this.#sha256[i] as string,
      sha512: this.#sha512[i] as string,
    });
  }

  get leafHashes(): readonly Uint8Array[] {
    this.#leafHashes ??= this.#names.map((_, i) => this.#tree.leafHash(i));
    return this.#leafHashes;
  }

  indexOf(name: string): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareNames(this.#names[mid] as string, name);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  proofFor(name: string, statement?: StatementRef): ManifestProofFile {
    const index = this.indexOf(name);
    if (index < 0)
      throw new ManifestError(
        'MANIFEST_UNKNOWN_NAME',
        `${JSON.stringify(name)} is not in this manifest of ${this.size} artifacts`,
      );
    const e = this.#entry(index);
    return {
      type: PROOF_TYPE,
      leafFormat: LEAF_FORMAT,
      name: e.name,
      sha256: e.sha256,
      sha512: e.sha512,
      index,
      size: this.size,
      proof: this.#tree.inclusionProof(index).map(toHex),
      root: this.rootHex,
      ...(statement && { statement: { sha256: statement.sha256 } }),
    };
  }

  ref(): ManifestRef {
    return { root: this.rootHex, size: this.size, leafFormat: LEAF_FORMAT };
  }
}

export interface BuildOptions {
  /**
   * Refuse entries that are not already in leaf order (MANIFEST_NOT_CANONICAL) instead of sorting
   * them: how a manifest file is read, so one root has exactly one file.
   */
  readonly requireSorted?: boolean;
}

/**
 * Build the manifest of a batch: validate every entry, sort by name, refuse duplicates, hash the
 * leaves and the tree. Throws ManifestError with the offending entry named.
 */
export function buildManifest(
  entries: readonly ManifestEntry[],
  opts: BuildOptions = {},
): Manifest {
  const n = entries.length;
  if (n === 0) throw new ManifestError('MANIFEST_EMPTY', 'a manifest needs at least one artifact');
  if (n > MAX_MANIFEST_ENTRIES)
    throw new ManifestError(
      'MANIFEST_TOO_LARGE',
      `${n} artifacts; a manifest holds at most ${MAX_MANIFEST_ENTRIES} — split the release`,
    );
  // One pass in input order: read each field once (nothing else reaches a leaf), validate,
  // encode and hash each leaf, and notice whether the input is already in leaf order.
  let names: string[] = new Array<string>(n);
  let h256: string[] = new Array<string>(n);
  let h512: string[] = new Array<string>(n);
  let leaves: string[] = new Array<string>(n);
  let anySurrogate = false;
  let inOrder = true;
  let prev = '';
  for (let i = 0; i < n; i++) {
    const e = entries[i] as ManifestEntry;
    const name = e.name;
    const a = e.sha256;
    const b = e.sha512;
    leaves[i] = sha256Latin1(leafView(encodeLeafInput(name, a, b, i)));
    anySurrogate ||= lastNameHadSurrogate;
    names[i] = name;
    h256[i] = a;
    h512[i] = b;
    if (i > 0 && !(prev < name)) inOrder = false;
    prev = name;
  }
  // UTF-16 order (what `<` compares) is code point order unless a surrogate pair is involved.
  const cmp = anySurrogate ? compareNames : (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  if (anySurrogate) {
    inOrder = true;
    for (let i = 1; i < n && inOrder; i++)
      if (compareNames(names[i - 1] as string, names[i] as string) >= 0) inOrder = false;
  }
  if (!inOrder) {
    if (opts.requireSorted)
      for (let i = 1; i < n; i++) {
        const a = names[i - 1] as string;
        const b = names[i] as string;
        if (a === b) throw duplicate(b);
        if (cmp(a, b) > 0)
          throw new ManifestError(
            'MANIFEST_NOT_CANONICAL',
            `entry ${i + 1} (${JSON.stringify(b)}) comes after ${JSON.stringify(a)}: entries must be sorted by name (Unicode code point order)`,
          );
      }
    const srcNames = names;
    const order = Array.from({ length: n }, (_, i) => i);
    if (anySurrogate)
      order.sort((x, y) => compareNames(srcNames[x] as string, srcNames[y] as string));
    else
      order.sort((x, y) => {
        const a = srcNames[x] as string;
        const b = srcNames[y] as string;
        return a < b ? -1 : a > b ? 1 : 0;
      });
    const permute = (arr: string[]): string[] => order.map((i) => arr[i] as string);
    names = permute(names);
    h256 = permute(h256);
    h512 = permute(h512);
    leaves = permute(leaves);
    for (let i = 1; i < n; i++) if (names[i - 1] === names[i]) throw duplicate(names[i] as string);
  }
  return new BuiltManifest(names, h256, h512, MerkleTree.fromLatin1LeafHashes(leaves));
}

function duplicate(name: string): ManifestError {
  return new ManifestError(
    'MANIFEST_DUPLICATE_NAME',
    `${JSON.stringify(name)} appears more than once; every artifact in a batch needs its own name`,
  );
}

// ---------------------------------------------------------------------------------------------
// Manifest file (JSON Lines)

const Sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hex characters' });
const Sha512Hex = z
  .string()
  .regex(/^[0-9a-f]{128}$/, { error: 'expected 128 lowercase hex characters' });
const ArtifactName = z.string().superRefine((name, ctx) => {
  const p = artifactNameProblem(name);
  if (p !== undefined) ctx.addIssue({ code: 'custom', message: p });
});
const TreeSize = z.number().int().min(1).max(MAX_TREE_SIZE);

export const ManifestHeaderSchema = z.strictObject({
  type: z.literal(MANIFEST_TYPE),
  leafFormat: z.literal(LEAF_FORMAT),
  size: TreeSize,
  root: Sha256Hex,
});
export const ManifestEntrySchema = z.strictObject({
  name: ArtifactName,
  sha256: Sha256Hex,
  sha512: Sha512Hex,
});

/** The manifest file, line by line (each line ends in "\n"). */
export function* manifestLines(m: Manifest): Generator<string> {
  yield `${canonicalJson({ type: MANIFEST_TYPE, leafFormat: LEAF_FORMAT, size: m.size, root: m.rootHex })}\n`;
  for (const e of m.entries)
    yield `${canonicalJson({ name: e.name, sha256: e.sha256, sha512: e.sha512 })}\n`;
}

/** The whole manifest file as one string (for big batches, stream `manifestLines` instead). */
export function serializeManifest(m: Manifest): string {
  return [...manifestLines(m)].join('');
}

function lineError(line: number, what: string): ManifestError {
  return new ManifestError('MANIFEST_MALFORMED', `manifest line ${line}: ${what}`);
}

function parseLine<T>(schema: z.ZodType<T>, text: string, line: number): T {
  if (text.length > MAX_LINE_LENGTH)
    throw lineError(line, `longer than ${MAX_LINE_LENGTH} characters`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw lineError(line, 'not valid JSON');
  }
  const r = schema.safeParse(value);
  if (!r.success) throw lineError(line, z.prettifyError(r.error).replace(/\n/g, '; '));
  // One manifest, one file: each line must be the canonical JSON of what it holds.
  if (canonicalJson(r.data) !== text)
    throw new ManifestError(
      'MANIFEST_NOT_CANONICAL',
      `manifest line ${line} is not canonical JSON (sorted keys, no whitespace): write it as ${canonicalJson(r.data).slice(0, 120)}`,
    );
  return r.data;
}

export interface ParseOptions {
  /** The manifest the signed statement names: root and size must match it. */
  readonly expected?: Pick<ManifestRef, 'root' | 'size'>;
}

/**
 * Read a manifest from its lines (without their "\n"): header, then entries in leaf order. The
 * root is recomputed and must equal the header's (and `expected`'s, when given).
 */
export function parseManifestLines(lines: Iterable<string>, opts: ParseOptions = {}): Manifest {
  let header: z.infer<typeof ManifestHeaderSchema> | undefined;
  const entries: ManifestEntry[] = [];
  let line = 0;
  for (const text of lines) {
    line++;
    if (header === undefined) {
      header = parseLine(ManifestHeaderSchema, text, line);
      continue;
    }
    if (entries.length >= header.size)
      throw new ManifestError(
        'MANIFEST_SIZE_MISMATCH',
        `the header says ${header.size} artifacts but line ${line} holds another`,
      );
    entries.push(parseLine(ManifestEntrySchema, text, line));
  }
  if (header === undefined) throw lineError(1, 'the manifest is empty (no header line)');
  if (entries.length !== header.size)
    throw new ManifestError(
      'MANIFEST_SIZE_MISMATCH',
      `the header says ${header.size} artifacts but the manifest lists ${entries.length}`,
    );
  const m = buildManifest(entries, { requireSorted: true });
  if (m.rootHex !== header.root)
    throw new ManifestError(
      'MANIFEST_ROOT_MISMATCH',
      `the entries hash to root ${m.rootHex}, not the header's ${header.root}: the file was altered`,
    );
  if (opts.expected) {
    if (opts.expected.size !== m.size)
      throw new ManifestError(
        'MANIFEST_SIZE_MISMATCH',
        `the statement names ${opts.expected.size} artifacts, the manifest has ${m.size}`,
      );
    if (opts.expected.root !== m.rootHex)
      throw new ManifestError(
        'MANIFEST_ROOT_MISMATCH',
        `the statement names root ${opts.expected.root}, the manifest hashes to ${m.rootHex}`,
      );
  }
  return m;
}

/** Read a whole manifest file: lines end in "\n", the last one too; nothing else is accepted. */
export function parseManifest(text: string, opts: ParseOptions = {}): Manifest {
  if (typeof text !== 'string') throw lineError(1, 'expected text');
  if (text.length === 0) throw lineError(1, 'the manifest is empty (no header line)');
  if (!text.endsWith('\n')) throw lineError(text.split('\n').length, 'the last line has no "\\n"');
  const lines = text.slice(0, -1).split('\n');
  const cr = lines.findIndex((l) => l.endsWith('\r'));
  if (cr >= 0) throw lineError(cr + 1, 'lines end in "\\n", not "\\r\\n"');
  return parseManifestLines(lines, opts);
}

// ---------------------------------------------------------------------------------------------
// Proof files

export const ManifestProofFileSchema = z
  .strictObject({
    type: z.literal(PROOF_TYPE),
    leafFormat: z.literal(LEAF_FORMAT),
    name: ArtifactName,
    sha256: Sha256Hex,
    sha512: Sha512Hex,
    index: z.number().int().min(0),
    size: TreeSize,
    // A tree of at most 2^40 leaves has paths of at most 40 hashes.
    proof: z.array(Sha256Hex).max(40),
    root: Sha256Hex,
    statement: z.strictObject({ sha256: Sha256Hex }).optional(),
  })
  .refine((p) => p.index < p.size, { error: 'index must be below size', path: ['index'] });

/** `<name>.proof.json`. */
export function proofFileName(name: string): string {
  return `${name}.proof.json`;
}

export function serializeProofFile(p: ManifestProofFile): string {
  return `${JSON.stringify(p, null, 2)}\n`;
}

/** Parse a proof file (its text, bytes, or already-parsed JSON); MANIFEST_PROOF_MALFORMED if not one. */
export function parseProofFile(input: unknown): ManifestProofFile {
  let value = input;
  if (input instanceof Uint8Array) value = new TextDecoder('utf-8', { fatal: false }).decode(input);
  if (typeof value === 'string') {
    if (value.length > 64 * 1024)
      throw new ManifestError('MANIFEST_PROOF_MALFORMED', 'the proof file is larger than 64 KiB');
    try {
      value = JSON.parse(value);
    } catch {
      throw new ManifestError('MANIFEST_PROOF_MALFORMED', 'the proof file is not valid JSON');
    }
  }
  const r = ManifestProofFileSchema.safeParse(value);
  if (!r.success)
    throw new ManifestError(
      'MANIFEST_PROOF_MALFORMED',
      `not a ${PROOF_TYPE} file: ${z.prettifyError(r.error).replace(/\n/g, '; ')}`,
    );
  return r.data as ManifestProofFile;
}

// ---------------------------------------------------------------------------------------------
// Verifying one member of a batch

export type BatchVerifyCode =
  | 'OK'
  | 'BATCH_INPUT_INVALID'
  | 'BATCH_PROOF_MALFORMED'
  | 'BATCH_STATEMENT_MALFORMED'
  | 'BATCH_STATEMENT_MISMATCH'
  | 'BATCH_STATEMENT_NO_MANIFEST'
  | 'BATCH_NAME_MISMATCH'
  | 'BATCH_DIGEST_MISMATCH'
  | 'BATCH_PROOF_INVALID'
  | 'BATCH_SIZE_MISMATCH'
  | 'BATCH_ROOT_MISMATCH';

export interface BatchVerifyResult {
  readonly ok: boolean;
  readonly code: BatchVerifyCode;
  /** One line a person can act on. */
  readonly reason: string;
  readonly name?: string;
  readonly index?: number;
  readonly size?: number;
}

export interface BatchMemberInput {
  /** The artifact itself (hashed here)… */
  readonly artifactBytes?: Uint8Array;
  /** …or its digests (lowercase hex), when the caller hashed it while streaming. */
  readonly digests?: { readonly sha256: string; readonly sha512: string };
  /** The artifact's file name; when given it must be the name in the proof. */
  readonly name?: string;
  /** The `<name>.proof.json` file: text, bytes or parsed JSON. */
  readonly proofFile: unknown;
  /**
   * The signed statement: its bytes (the DSSE payload), their text, or the parsed statement.
   * Verify its signature first — this binds the artifact to the statement, not the statement to
   * a key.
   */
  readonly statement: Uint8Array | string | ReleaseStatement;
}

const StatementManifestSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: z.object({
    manifest: z
      .strictObject({ root: Sha256Hex, size: TreeSize, leafFormat: z.string() })
      .optional(),
  }),
});

type NodeCryptoLike = { hash?: (alg: string, data: Uint8Array, enc: 'hex') => string };
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCryptoLike | undefined;

function sha256Hex(data: Uint8Array): string {
  return toHex(latin1ToBytes(sha256Latin1(data)));
}
function sha512Hex(data: Uint8Array): string {
  return nodeCrypto?.hash ? nodeCrypto.hash('sha512', data, 'hex') : toHex(nobleSha512(data));
}

const fail = (code: BatchVerifyCode, reason: string, extra: object = {}): BatchVerifyResult => ({
  ok: false,
  code,
  reason,
  ...extra,
});

/**
 * Check one artifact of a batch: its digests are the leaf the proof names, the proof leads to its
 * root, and that root and size are the ones inside the signed statement. Never throws for bad
 * input; the result names the first failed check.
 */
export function verifyBatchMember(input: BatchMemberInput): BatchVerifyResult {
  const hasBytes = input.artifactBytes !== undefined;
  const hasDigests = input.digests !== undefined;
  if (hasBytes === hasDigests)
    return fail('BATCH_INPUT_INVALID', 'give either the artifact bytes or its digests, not both');
  if (hasBytes && !(input.artifactBytes instanceof Uint8Array))
    return fail('BATCH_INPUT_INVALID', 'artifactBytes must be a Uint8Array');

  let proof: ManifestProofFile;
  try {
    proof = parseProofFile(input.proofFile);
  } catch (e) {
    if (isManifestError(e)) return fail('BATCH_PROOF_MALFORMED', e.message);
    throw e;
  }
  const at = { name: proof.name, index: proof.index, size: proof.size };

  // The statement, and the digest of exactly the bytes that were signed.
  let statementValue: unknown;
  let statementSha256: string;
  const st = input.statement;
  if (st instanceof Uint8Array || typeof st === 'string') {
    const bytes = typeof st === 'string' ? new TextEncoder().encode(st) : st;
    statementSha256 = sha256Hex(bytes);
    try {
      statementValue = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return fail('BATCH_STATEMENT_MALFORMED', 'the statement is not valid JSON', at);
    }
  } else {
    statementValue = st;
    try {
      statementSha256 = sha256Hex(new TextEncoder().encode(canonicalJson(st)));
    } catch {
      return fail('BATCH_STATEMENT_MALFORMED', 'the statement cannot be encoded', at);
    }
  }
  const parsed = StatementManifestSchema.safeParse(statementValue);
  if (!parsed.success)
    return fail(
      'BATCH_STATEMENT_MALFORMED',
      `not a Conclave release statement: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`,
      at,
    );
  if (proof.statement && proof.statement.sha256 !== statementSha256)
    return fail(
      'BATCH_STATEMENT_MISMATCH',
      `the proof belongs to statement ${proof.statement.sha256}, this statement is ${statementSha256}: fetch the statement of the batch's ceremony`,
      at,
    );
  const signed = parsed.data.predicate.manifest;
  if (!signed)
    return fail(
      'BATCH_STATEMENT_NO_MANIFEST',
      'the statement signs no batch manifest (predicate.manifest is absent)',
      at,
    );
  if (signed.leafFormat !== LEAF_FORMAT)
    return fail(
      'BATCH_STATEMENT_MALFORMED',
      `the statement's manifest uses leaf format ${JSON.stringify(signed.leafFormat)}; this verifier knows ${LEAF_FORMAT}`,
      at,
    );

  if (input.name !== undefined && input.name !== proof.name)
    return fail(
      'BATCH_NAME_MISMATCH',
      `the proof is for ${JSON.stringify(proof.name)}, not ${JSON.stringify(input.name)}`,
      at,
    );

  // The artifact's digests must be the ones in the leaf.
  let sha256: string;
  let sha512: string;
  if (input.artifactBytes !== undefined) {
    sha256 = sha256Hex(input.artifactBytes);
    sha512 = sha512Hex(input.artifactBytes);
  } else {
    const d = input.digests as { sha256: unknown; sha512: unknown };
    if (!Sha256Hex.safeParse(d.sha256).success || !Sha512Hex.safeParse(d.sha512).success)
      return fail(
        'BATCH_INPUT_INVALID',
        'digests must be 64 (sha256) and 128 (sha512) lowercase hex characters',
        at,
      );
    sha256 = d.sha256 as string;
    sha512 = d.sha512 as string;
  }
  if (sha256 !== proof.sha256 || sha512 !== proof.sha512)
    return fail(
      'BATCH_DIGEST_MISMATCH',
      `the artifact's ${sha256 !== proof.sha256 ? 'SHA-256' : 'SHA-512'} is not the one in the proof for ${JSON.stringify(proof.name)}: the file differs from what was signed`,
      at,
    );

  // Leaf → proof → root (RFC 9162 §2.1.3.2).
  let computed: string;
  try {
    const leaf = manifestLeafHash(proof);
    const path = proof.proof.map(hexToHash);
    computed = toHex(rootFromInclusionProof(leaf, proof.index, proof.size, path));
  } catch (e) {
    if (isMerkleError(e) || isManifestError(e))
      return fail('BATCH_PROOF_INVALID', `the inclusion proof is not valid: ${e.message}`, at);
    throw e;
  }
  if (computed !== proof.root)
    return fail(
      'BATCH_PROOF_INVALID',
      `the inclusion proof leads to ${computed}, not to the root it claims (${proof.root})`,
      at,
    );
  if (proof.size !== signed.size)
    return fail(
      'BATCH_SIZE_MISMATCH',
      `the proof is for a batch of ${proof.size} artifacts; the statement signs ${signed.size}`,
      at,
    );
  if (proof.root !== signed.root)
    return fail(
      'BATCH_ROOT_MISMATCH',
      `the proof leads to root ${proof.root}; the statement signs ${signed.root}`,
      at,
    );
  return {
    ok: true,
    code: 'OK',
    reason: `${proof.name} is artifact ${proof.index + 1} of ${proof.size} in the signed batch`,
    ...at,
  };
}

function hexToHash(hex: string): Uint8Array {
  const b = new Uint8Array(32);
  if (!decodeHexInto(hex, 32, b, 0))
    throw new ManifestError('MANIFEST_PROOF_MALFORMED', 'a proof hash is not 64 hex characters');
  return b;
}
