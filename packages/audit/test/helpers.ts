// A small in-memory log for tests: leaves, RFC 9162 proofs (from @conclave/release) and checkpoints
// signed with a fresh log key.
import { generateIdentityKey, type IdentityKey } from '@conclave/protocol';
import { consistencyProof, inclusionProof, rootFromLeafHashes } from '@conclave/release';
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  encodeLeaf,
  leafFor,
  logLeafHash,
  signCheckpoint,
  type NoteVerifier,
} from '../src/index.js';

export const numRuns = Number(process.env['FC_NUM_RUNS'] ?? 20);
export const ORIGIN = 'conclave.example/test-log';

export class MemLog {
  readonly key: IdentityKey;
  readonly verifier: NoteVerifier;
  readonly leaves: Uint8Array[] = [];

  constructor(
    readonly origin = ORIGIN,
    key?: IdentityKey,
  ) {
    this.key = key ?? generateIdentityKey();
    this.verifier = ed25519NoteVerifier(origin, this.key.publicKey);
  }

  /**
   * A filler leaf of an empty transcript: a completed signing ceremony of `release` by default;
   * `key` when a test gives verifyLog bundles (a completed signing leaf without one is
   * unverified), of another group (a completed key ceremony of `release` in the log would require
   * every signing bundle of `release` after it to derive its key state from one).
   */
  appendLeaf(i = this.leaves.length, kind: 'sign' | 'key' = 'sign'): Uint8Array {
    const leaf = encodeLeaf(
      leafFor({
        ceremonyId: `ceremony-${String(i).padStart(6, '0')}`,
        kind,
        group: kind === 'key' ? 'filler' : 'release',
        outcome: 'completed',
        at: 1_700_000_000_000 + i,
        transcript: [],
      }),
    );
    this.leaves.push(leaf);
    return leaf;
  }

  grow(n: number, kind: 'sign' | 'key' = 'sign'): this {
    for (let i = 0; i < n; i++) this.appendLeaf(this.leaves.length, kind);
    return this;
  }

  hashes(size = this.leaves.length): Uint8Array[] {
    return this.leaves.slice(0, size).map(logLeafHash);
  }

  root(size = this.leaves.length): Uint8Array {
    return rootFromLeafHashes(this.hashes(size));
  }

  checkpoint(size = this.leaves.length): string {
    return signCheckpoint(ed25519NoteSigner(this.origin, this.key), {
      origin: this.origin,
      size,
      root: this.root(size),
    });
  }

  consistency(from: number, to = this.leaves.length): Uint8Array[] {
    return consistencyProof(this.hashes(to), from);
  }

  inclusion(index: number, size = this.leaves.length): Uint8Array[] {
    return inclusionProof(this.hashes(size), index);
  }
}

export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e) return String((e as { code: unknown }).code);
    throw e;
  }
  return 'no error';
}
