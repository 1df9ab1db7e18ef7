/**
 * verifyBatchMember: artifact digests = the leaf, the proof leads to the root, the root and size
 * are the ones the signed statement carries. One test per result code, and a property: every
 * member of random batches verifies, and no mutation of its proof file does.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildManifest,
  verifyBatchMember,
  type BatchMemberInput,
  type ManifestEntry,
  type ManifestProofFile,
} from '../src/manifest.js';
import { buildStatement, statementBytes, statementDigest } from '../src/statement.js';

const numRuns = (() => {
  const n = Number.parseInt(process.env['FC_NUM_RUNS'] ?? '20', 10);
  return Number.isFinite(n) && n > 0 ? n : 20;
})();

const sha = (alg: string, b: Uint8Array): string => createHash(alg).update(b).digest('hex');
const ctx = {
  ceremonyId: 'c_batch',
  group: 'release',
  groupPublicKey: '11'.repeat(32),
  requester: 'alice',
  approvers: [{ member: 'bob', identityKey: '22'.repeat(32) }],
  policyId: 'default',
  issuedAt: Date.UTC(2026, 10, 25, 12, 0, 0),
};

function batch(count: number, prefix = 'pkg') {
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++)
    files.set(`${prefix}-${i}.tgz`, new TextEncoder().encode(`${prefix} artifact ${i}`));
  const entries: ManifestEntry[] = [...files].map(([name, bytes]) => ({
    name,
    sha256: sha('sha256', bytes),
    sha512: sha('sha512', bytes),
  }));
  const manifest = buildManifest(entries);
  const manifestFile = new TextEncoder().encode('manifest bytes stand-in');
  const statement = buildStatement(
    {
      version: '2.0.0',
      class: 'standard',
      note: 'batch',
      artifacts: [
        {
          name: 'manifest.jsonl',
          sha256: sha('sha256', manifestFile),
          sha512: sha('sha512', manifestFile),
        },
      ],
      formats: ['dsse'],
      manifest: manifest.ref(),
    },
    ctx,
  );
  const ref = { sha256: statementDigest(statement) };
  return { files, manifest, statement, ref };
}

const b = batch(11);
const name = 'pkg-4.tgz';
const bytes = b.files.get(name) as Uint8Array;
const proof = b.manifest.proofFor(name, b.ref);
/** Change the first hex digit (so the value stays valid hex of the same length). */
const flipHex = (h: string): string => `${h.startsWith('0') ? '1' : '0'}${h.slice(1)}`;

const ok = (over: Partial<BatchMemberInput> = {}) =>
  verifyBatchMember({ artifactBytes: bytes, proofFile: proof, statement: b.statement, ...over });

describe('verifyBatchMember', () => {
  it('accepts every member, from bytes or digests, with the statement as object, bytes or text', () => {
    for (const [n, data] of b.files) {
      const p = b.manifest.proofFor(n, b.ref);
      const stBytes = statementBytes(b.statement);
      for (const statement of [b.statement, stBytes, new TextDecoder().decode(stBytes)]) {
        const r = verifyBatchMember({ artifactBytes: data, name: n, proofFile: p, statement });
        expect(r).toMatchObject({ ok: true, code: 'OK', name: n, size: 11 });
      }
      const viaDigests = verifyBatchMember({
        digests: { sha256: sha('sha256', data), sha512: sha('sha512', data) },
        proofFile: JSON.stringify(p),
        statement: stBytes,
      });
      expect(viaDigests.ok).toBe(true);
    }
  });

  it('accepts a proof file without a statement reference', () => {
    expect(ok({ proofFile: b.manifest.proofFor(name) }).code).toBe('OK');
  });

  it('BATCH_INPUT_INVALID: both or neither of bytes and digests, or malformed digests', () => {
    const digests = { sha256: sha('sha256', bytes), sha512: sha('sha512', bytes) };
    expect(ok({ digests }).code).toBe('BATCH_INPUT_INVALID');
    expect(verifyBatchMember({ proofFile: proof, statement: b.statement }).code).toBe(
      'BATCH_INPUT_INVALID',
    );
    expect(
      verifyBatchMember({
        digests: { ...digests, sha256: digests.sha256.toUpperCase() },
        proofFile: proof,
        statement: b.statement,
      }).code,
    ).toBe('BATCH_INPUT_INVALID');
    expect(ok({ artifactBytes: 'text' as unknown as Uint8Array }).code).toBe('BATCH_INPUT_INVALID');
  });

  it('BATCH_PROOF_MALFORMED: not a proof file', () => {
    expect(ok({ proofFile: '{' }).code).toBe('BATCH_PROOF_MALFORMED');
    expect(ok({ proofFile: { ...proof, index: 11 } }).code).toBe('BATCH_PROOF_MALFORMED');
    expect(ok({ proofFile: null }).code).toBe('BATCH_PROOF_MALFORMED');
  });

  it('BATCH_STATEMENT_MALFORMED: not a release statement, or an unknown leaf format', () => {
    expect(ok({ statement: new TextEncoder().encode('not json') }).code).toBe(
      'BATCH_STATEMENT_MALFORMED',
    );
    expect(ok({ statement: '{"_type":"other"}' }).code).toBe('BATCH_STATEMENT_MALFORMED');
    const v2 = {
      ...b.statement,
      predicate: {
        ...b.statement.predicate,
        manifest: { ...b.manifest.ref(), leafFormat: 'conclave-manifest-v2' },
      },
    };
    expect(ok({ statement: JSON.stringify(v2), proofFile: b.manifest.proofFor(name) }).code).toBe(
      'BATCH_STATEMENT_MALFORMED',
    );
  });

  it('BATCH_STATEMENT_MISMATCH: the proof names another statement', () => {
    expect(ok({ proofFile: { ...proof, statement: { sha256: 'ab'.repeat(32) } } }).code).toBe(
      'BATCH_STATEMENT_MISMATCH',
    );
    const other = buildStatement(
      {
        version: '2.0.1',
        class: 'standard',
        note: 'batch',
        artifacts: [],
        formats: ['dsse'],
        manifest: b.manifest.ref(),
      },
      ctx,
    );
    expect(ok({ statement: other }).code).toBe('BATCH_STATEMENT_MISMATCH');
  });

  it('BATCH_STATEMENT_NO_MANIFEST: the statement signs no batch', () => {
    const plain = buildStatement(
      { version: '2.0.0', class: 'standard', note: '', artifacts: [], formats: ['raw'] },
      ctx,
    );
    expect(ok({ statement: plain, proofFile: b.manifest.proofFor(name) }).code).toBe(
      'BATCH_STATEMENT_NO_MANIFEST',
    );
  });

  it('BATCH_NAME_MISMATCH: the file is called something else', () => {
    expect(ok({ name: 'pkg-5.tgz' }).code).toBe('BATCH_NAME_MISMATCH');
  });

  it('BATCH_DIGEST_MISMATCH: a changed artifact, or another artifact’s proof', () => {
    const changed = bytes.slice();
    changed[0] = (changed[0] as number) ^ 1;
    const r = ok({ artifactBytes: changed });
    expect(r.code).toBe('BATCH_DIGEST_MISMATCH');
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/differs from what was signed/);
    expect(ok({ artifactBytes: b.files.get('pkg-5.tgz') as Uint8Array }).code).toBe(
      'BATCH_DIGEST_MISMATCH',
    );
  });

  it('BATCH_PROOF_INVALID: an edited path, index or claimed root', () => {
    const flipped = { ...proof, proof: proof.proof.map((h, i) => (i === 1 ? flipHex(h) : h)) };
    expect(ok({ proofFile: flipped }).code).toBe('BATCH_PROOF_INVALID');
    expect(ok({ proofFile: { ...proof, index: proof.index + 1 } }).code).toBe(
      'BATCH_PROOF_INVALID',
    );
    expect(ok({ proofFile: { ...proof, proof: proof.proof.slice(1) } }).code).toBe(
      'BATCH_PROOF_INVALID',
    );
    expect(ok({ proofFile: { ...proof, root: 'cd'.repeat(32) } }).code).toBe('BATCH_PROOF_INVALID');
    // A proof file edited to claim another SHA-512: its leaf no longer leads to the root.
    const fake = { ...proof, sha512: 'ab'.repeat(64) };
    expect(
      verifyBatchMember({
        digests: { sha256: proof.sha256, sha512: 'ab'.repeat(64) },
        proofFile: fake,
        statement: b.statement,
      }).code,
    ).toBe('BATCH_PROOF_INVALID');
  });

  it('BATCH_SIZE_MISMATCH: a size the path cannot tell apart, caught by the signed size', () => {
    // Index 0 of 7 leaves hashes exactly like index 0 of 8: only the statement's size catches it.
    const seven = batch(7, 'seven');
    const p0 = seven.manifest.proofFor('seven-0.tgz');
    const r = verifyBatchMember({
      artifactBytes: seven.files.get('seven-0.tgz') as Uint8Array,
      proofFile: { ...p0, size: 8 },
      statement: seven.statement,
    });
    expect(r.code).toBe('BATCH_SIZE_MISMATCH');
  });

  it('BATCH_ROOT_MISMATCH: a valid proof from another batch of the same size', () => {
    const other = batch(11, 'other');
    const r = verifyBatchMember({
      artifactBytes: other.files.get('other-3.tgz') as Uint8Array,
      proofFile: other.manifest.proofFor('other-3.tgz'),
      statement: b.statement,
    });
    expect(r.code).toBe('BATCH_ROOT_MISMATCH');
  });

  it('every member of a random batch verifies and no mutation of its proof file does', () => {
    const mutations: ((p: ManifestProofFile) => unknown)[] = [
      (p) => ({ ...p, index: p.index + 1 }),
      (p) => ({ ...p, index: p.index - 1 }),
      (p) => ({ ...p, size: p.size + 1 }),
      (p) => ({ ...p, size: p.size * 2 }),
      (p) => ({ ...p, name: `${p.name}x` }),
      (p) => ({ ...p, sha256: flipHex(p.sha256) }),
      (p) => ({ ...p, proof: [...p.proof, p.root] }),
      (p) => ({ ...p, proof: p.proof.slice(0, -1) }),
      (p) => ({ ...p, proof: [...p.proof].reverse() }),
      (p) => ({ ...p, root: p.proof[0] ?? p.sha256 }),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.nat(),
        fc.nat(mutations.length - 1),
        (count, pick, m) => {
          const bb = batch(count, `r${count}`);
          const n = `r${count}-${pick % count}.tgz`;
          const data = bb.files.get(n) as Uint8Array;
          const p = bb.manifest.proofFor(n, bb.ref);
          expect(
            verifyBatchMember({ artifactBytes: data, proofFile: p, statement: bb.statement }).ok,
          ).toBe(true);
          const mutated = (mutations[m] as (p: ManifestProofFile) => unknown)(p);
          if (JSON.stringify(mutated) === JSON.stringify(p)) return; // e.g. reversing one hash
          const r = verifyBatchMember({
            artifactBytes: data,
            proofFile: mutated,
            statement: bb.statement,
          });
          expect(r.ok).toBe(false);
          expect(r.code).not.toBe('OK');
        },
      ),
      { numRuns },
    );
  });
});
