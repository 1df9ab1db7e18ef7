/**
 * Optional predicate fields (SBOM, provenance, batch manifest): the signed bytes of a release
 * without them are unchanged byte for byte (golden), and each one, when present, is bound.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildStatement,
  canonicalJson,
  messageToSign,
  type ReleaseInput,
  type StatementContext,
} from '../src/index.js';

const release: ReleaseInput = {
  version: '1.2.3',
  class: 'standard',
  note: 'fix',
  artifacts: [{ name: 'a.tgz', sha256: 'aa'.repeat(32), sha512: 'bb'.repeat(64) }],
  formats: ['raw'],
};
const ctx: StatementContext = {
  ceremonyId: 'c1',
  group: 'release',
  groupPublicKey: '11'.repeat(32),
  requester: 'alice',
  approvers: [
    { member: 'bob', identityKey: '22'.repeat(32) },
    { member: 'carol', identityKey: '33'.repeat(32) },
  ],
  policyId: 'default',
  issuedAt: Date.UTC(2026, 10, 25, 12, 0, 0),
};

// Captured from the statement code before these fields existed.
const GOLDEN_JSON =
  '{"_type":"https://in-toto.io/Statement/v1","predicate":{"approvers":[{"identityKey":"2222222222222222222222222222222222222222222222222222222222222222","member":"bob"},{"identityKey":"3333333333333333333333333333333333333333333333333333333333333333","member":"carol"}],"ceremonyId":"c1","class":"standard","formats":["raw"],"group":"release","groupPublicKey":"1111111111111111111111111111111111111111111111111111111111111111","issuedAt":"2026-11-25T12:00:00.000Z","note":"fix","policyId":"default","requester":"alice","version":"1.2.3"},"predicateType":"https://conclave.dev/release/v1","subject":[{"digest":{"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","sha512":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"name":"a.tgz"}]}';
const GOLDEN_MESSAGE_SHA256 = '21338a53e9989e05db408d51f4cf6952fb74e1068deb280f522b85d103042785';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const sbom = { name: 'sbom.spdx.json', sha256: 'cc'.repeat(32) };
const provenance = { name: 'build.intoto.jsonl', sha256: 'dd'.repeat(32) };
const manifest = {
  root: 'ee'.repeat(32),
  size: 100_000,
  leafFormat: 'conclave-manifest-v1' as const,
};

describe('optional statement fields', () => {
  it('a release without them signs exactly the bytes it signed before', () => {
    expect(canonicalJson(buildStatement(release, ctx))).toBe(GOLDEN_JSON);
    expect(sha256(messageToSign(release, ctx))).toBe(GOLDEN_MESSAGE_SHA256);
  });

  it('fields explicitly undefined (from plain JavaScript callers) change nothing', () => {
    const loose = { ...release, sbom: undefined, provenance: undefined, manifest: undefined };
    expect(sha256(messageToSign(loose as unknown as ReleaseInput, ctx))).toBe(
      GOLDEN_MESSAGE_SHA256,
    );
  });

  it('the SBOM, provenance and manifest appear in the predicate, in canonical order', () => {
    const s = buildStatement({ ...release, sbom, provenance, manifest }, ctx);
    expect(s.predicate.sbom).toEqual(sbom);
    expect(s.predicate.provenance).toEqual(provenance);
    expect(s.predicate.manifest).toEqual(manifest);
    const json = canonicalJson(s);
    expect(json).toContain(
      `"manifest":{"leafFormat":"conclave-manifest-v1","root":"${'ee'.repeat(32)}","size":100000}`,
    );
    expect(json).toContain(
      `"provenance":{"name":"build.intoto.jsonl","sha256":"${'dd'.repeat(32)}"}`,
    );
    expect(json).toContain(`"sbom":{"name":"sbom.spdx.json","sha256":"${'cc'.repeat(32)}"}`);
    expect(JSON.parse(json)).toEqual(s);
  });

  it('each field is bound: changing any of its values changes the signed bytes', () => {
    const base = { ...release, sbom, provenance, manifest };
    const m = sha256(messageToSign(base, ctx));
    const variants: ReleaseInput[] = [
      { ...base, sbom: { ...sbom, name: 'other.json' } },
      { ...base, sbom: { ...sbom, sha256: 'c0'.repeat(32) } },
      { ...base, provenance: { ...provenance, sha256: 'd0'.repeat(32) } },
      { ...base, manifest: { ...manifest, root: 'e0'.repeat(32) } },
      { ...base, manifest: { ...manifest, size: 99_999 } },
      { ...release, sbom, provenance },
      { ...release, manifest },
    ];
    const digests = variants.map((v) => sha256(messageToSign(v, ctx)));
    expect(digests).not.toContain(m);
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('only the named fields are copied: extra properties never reach the signed bytes', () => {
    const extra = {
      ...release,
      sbom: { ...sbom, url: 'https://example.invalid/x' },
      manifest: { ...manifest, note: 'smuggled' },
    };
    const clean = { ...release, sbom, manifest };
    expect(sha256(messageToSign(extra as ReleaseInput, ctx))).toBe(
      sha256(messageToSign(clean, ctx)),
    );
  });
});
