import { createHash } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildStatement,
  canonicalJson,
  digestFile,
  messageToSign,
  pae,
  statementBytes,
} from '../src/index.js';

const release = {
  version: '1.2.3',
  class: 'standard' as const,
  note: 'fix',
  artifacts: [{ name: 'a.tgz', sha256: 'aa'.repeat(32), sha512: 'bb'.repeat(64) }],
  formats: ['raw'],
};
const ctx = {
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

describe('release statement', () => {
  it('is an in-toto Statement v1 naming artifacts, approvers, policy and ceremony', () => {
    const s = buildStatement(release, ctx);
    expect(s._type).toBe('https://in-toto.io/Statement/v1');
    expect(s.subject).toEqual([
      { name: 'a.tgz', digest: { sha256: 'aa'.repeat(32), sha512: 'bb'.repeat(64) } },
    ]);
    expect(s.predicate.approvers.map((a) => a.member)).toEqual(['bob', 'carol']);
    expect(s.predicate.issuedAt).toBe('2026-11-25T12:00:00.000Z');
    expect(s.predicate.ceremonyId).toBe('c1');
  });

  it('PAE matches the DSSE specification layout', () => {
    expect(
      new TextDecoder().decode(
        pae('http://example.com/HelloWorld', new TextEncoder().encode('hello world')),
      ),
    ).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('the signed bytes change when any approver, the time, or an artifact changes', () => {
    const m = Buffer.from(messageToSign(release, ctx));
    expect(
      Buffer.from(messageToSign(release, { ...ctx, approvers: ctx.approvers.slice(1) })).equals(m),
    ).toBe(false);
    expect(
      Buffer.from(messageToSign(release, { ...ctx, issuedAt: ctx.issuedAt + 1 })).equals(m),
    ).toBe(false);
    const other = {
      ...release,
      artifacts: [{ ...release.artifacts[0]!, sha256: 'cc'.repeat(32) }],
    };
    expect(Buffer.from(messageToSign(other, ctx)).equals(m)).toBe(false);
    expect(Buffer.from(messageToSign(release, ctx)).equals(m)).toBe(true);
  });

  it('canonical JSON sorts keys and is stable', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'] })).toBe('{"a":[true,null,"x"],"b":1}');
    const s = buildStatement(release, ctx);
    expect(JSON.parse(new TextDecoder().decode(statementBytes(s)))).toEqual(s);
  });

  it('digests files with SHA-256 and SHA-512', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rel-'));
    const p = join(dir, 'x.bin');
    writeFileSync(p, 'conclave');
    const d = await digestFile(p);
    expect(d.sha256).toBe(createHash('sha256').update('conclave').digest('hex'));
    expect(d.sha512).toBe(createHash('sha512').update('conclave').digest('hex'));
    expect(d.name).toBe('x.bin');
  });
});
