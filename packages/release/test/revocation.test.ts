// Revocation list and downgrade checks (docs/policy.md "Revoking a release"). An ordinary Ed25519 key
// stands in for the group key: a FROST aggregate is an ordinary RFC 8032 signature.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import {
  buildRevocationList,
  buildStatement,
  checkMinVersion,
  checkReleaseStatement,
  checkRevocations,
  compareVersions,
  dsseEnvelope,
  messageToSign,
  readRevocationList,
  statementDigest,
  statementOf,
  type ReleaseInput,
  type ReleaseStatement,
  type StatementContext,
} from '../src/index.js';

const seed = new Uint8Array(32).fill(7);
const groupKey = ed25519.getPublicKey(seed);
const groupKeyHex = bytesToHex(groupKey);
const other = ed25519.getPublicKey(new Uint8Array(32).fill(9));

const h = (c: string, bytes: number) => c.repeat(bytes * 2);
const artifact = {
  name: 'app-1.2.3.tar.gz',
  sha256: h('a', 32),
  sha512: h('b', 64),
  blake2b512: h('c', 64),
};

const context = (ceremonyId: string): StatementContext => ({
  ceremonyId,
  group: 'release',
  groupPublicKey: groupKeyHex,
  requester: 'alice',
  approvers: [{ member: 'bob', identityKey: h('1', 32) }],
  policyId: 'release@v0',
  issuedAt: Date.UTC(2026, 0, 2),
});

const release: ReleaseInput = {
  version: '1.2.3',
  class: 'standard',
  note: '',
  artifacts: [artifact],
  formats: ['dsse'],
};
const released = buildStatement(release, context('c_release000000000000000000000001'));

function revocation(
  target: ReleaseStatement,
  ceremonyId = 'c_revoke0000000000000000000000001',
  key = seed,
): { statement: ReleaseStatement; signature: string } {
  const revokes = {
    ceremonyId: target.predicate.ceremonyId,
    statementDigest: statementDigest(target),
    version: target.predicate.version,
    artifacts: target.subject.map((s) => ({ name: s.name, ...s.digest })),
    reason: 'CVE-2026-0001: the build was compromised',
  };
  const r: ReleaseInput = {
    version: target.predicate.version,
    class: 'revocation',
    note: '',
    artifacts: [{ name: 'revocation.json', sha256: h('d', 32), sha512: h('e', 64) }],
    formats: ['dsse'],
    revokes,
  };
  const ctx = context(ceremonyId);
  const statement = buildStatement(r, ctx);
  return { statement, signature: bytesToHex(ed25519.sign(messageToSign(r, ctx), key)) };
}

const list = (entries: { statement: unknown; signature: string }[], key = groupKeyHex) =>
  buildRevocationList({ group: 'release', groupPublicKey: key, entries, exportedAt: 0 });

describe('checkRevocations', () => {
  const revoked = revocation(released);
  const file = list([revoked]);

  it('refuses a revoked release (REVOKED) by its statement, ceremony id or artifact digest', () => {
    for (const q of [
      { statement: released },
      { statement: JSON.stringify(released) },
      { statement: dsseEnvelope(released, new Uint8Array(64)) },
      { ceremonyId: released.predicate.ceremonyId },
      { statementDigest: statementDigest(released) },
      { artifacts: [{ sha256: artifact.sha256 }] },
      { artifacts: [{ sha512: artifact.sha512.toUpperCase() }] },
    ]) {
      const r = checkRevocations({ ...q, revocations: file, groupPublicKey: groupKey });
      expect(r, JSON.stringify(Object.keys(q))).toMatchObject({ ok: false, code: 'REVOKED' });
    }
  });

  it('names the revocation and its reason', () => {
    const r = checkRevocations({
      statement: released,
      revocations: file,
      groupPublicKey: groupKey,
    });
    expect(r.ok ? '' : r.reason).toContain('CVE-2026-0001');
    expect(r.ok ? '' : r.reason).toContain('c_revoke0000000000000000000000001');
  });

  it('accepts a release nobody revoked', () => {
    const later = buildStatement(
      {
        ...release,
        version: '1.2.4',
        artifacts: [{ ...artifact, sha256: h('f', 32), sha512: h('9', 64) }],
      },
      context('c_release000000000000000000000002'),
    );
    const r = checkRevocations({
      statement: later,
      revocations: file,
      groupPublicKey: groupKeyHex,
    });
    expect(r).toEqual({ ok: true, reason: 'not revoked (1 signed revocations checked)' });
    expect(
      checkRevocations({ statement: later, revocations: list([]), groupPublicKey: groupKey }).ok,
    ).toBe(true);
  });

  it('refuses a list with an entry the group did not sign (REVOCATIONS_INVALID)', () => {
    const forged = revocation(
      released,
      'c_forged0000000000000000000000001',
      new Uint8Array(32).fill(9),
    );
    const r = checkRevocations({
      ceremonyId: 'c_unrelated00000000000000000000001',
      revocations: list([revoked, forged]),
      groupPublicKey: groupKey,
    });
    expect(r).toMatchObject({ ok: false, code: 'REVOCATIONS_INVALID' });
  });

  it('refuses a tampered entry (the reason edited after signing)', () => {
    const text = new TextDecoder().decode(file);
    const doc = JSON.parse(text) as { revocations: { payload: string }[] };
    const payload = Buffer.from(doc.revocations[0]!.payload, 'base64').toString('utf8');
    doc.revocations[0]!.payload = Buffer.from(payload.replace('compromised', 'fine')).toString(
      'base64',
    );
    const r = readRevocationList(JSON.stringify(doc), groupKey);
    expect(r).toMatchObject({ ok: false, code: 'REVOCATIONS_INVALID' });
  });

  it('refuses a list for another key, and a signed statement that is not a revocation', () => {
    expect(
      checkRevocations({ statement: released, revocations: file, groupPublicKey: other }),
    ).toMatchObject({ ok: false, code: 'REVOCATIONS_INVALID' });
    const notRevocation = {
      statement: released,
      signature: bytesToHex(
        ed25519.sign(messageToSign(release, context('c_release000000000000000000000001')), seed),
      ),
    };
    expect(
      checkRevocations({
        statement: released,
        revocations: list([notRevocation]),
        groupPublicKey: groupKey,
      }),
    ).toMatchObject({ ok: false, code: 'REVOCATIONS_INVALID' });
  });

  it('refuses unreadable input with a code, never by throwing', () => {
    for (const bytes of ['', 'null', '{"type":"x"}', new Uint8Array([0xff, 0xfe]), '[]']) {
      const r = checkRevocations({ ceremonyId: 'x', revocations: bytes, groupPublicKey: groupKey });
      expect(r).toMatchObject({ ok: false, code: 'REVOCATIONS_INVALID' });
    }
    expect(checkRevocations({ revocations: file, groupPublicKey: groupKey })).toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect(
      checkRevocations({ statement: 'not json', revocations: file, groupPublicKey: groupKey }),
    ).toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('checkMinVersion', () => {
  it('refuses a downgrade (DOWNGRADE) and accepts equal or newer versions', () => {
    expect(checkMinVersion('1.2.3', '1.10.0')).toMatchObject({ ok: false, code: 'DOWNGRADE' });
    expect(checkMinVersion('1.10.0', '1.9.9').ok).toBe(true);
    expect(checkMinVersion('1.2.3', '1.2.3').ok).toBe(true);
    expect(checkMinVersion('v2.0.0', '2.0.0').ok).toBe(true);
  });

  it('orders by SemVer 2.0.0 §11: a prerelease sorts before its release, build metadata is ignored', () => {
    expect(checkMinVersion('2.0.0-rc.1', '2.0.0')).toMatchObject({ code: 'DOWNGRADE' });
    expect(checkMinVersion('2.0.0-rc.10', '2.0.0-rc.9').ok).toBe(true);
    expect(compareVersions('1.0.0+build.5', '1.0.0+build.1')).toBe(0);
  });

  it('orders dotted numbers that are not SemVer part by part', () => {
    expect(checkMinVersion('2024.11', '2024.9').ok).toBe(true);
    expect(checkMinVersion('1.2.3.4', '1.2.3.10')).toMatchObject({ code: 'DOWNGRADE' });
  });

  it('refuses versions it cannot order (VERSION_INVALID)', () => {
    expect(checkMinVersion('nightly', '1.0.0')).toMatchObject({
      ok: false,
      code: 'VERSION_INVALID',
    });
    expect(checkMinVersion('1.0.0', 'latest')).toMatchObject({
      ok: false,
      code: 'VERSION_INVALID',
    });
  });
});

describe('checkReleaseStatement', () => {
  it('accepts standard and hotfix releases, refuses governance records (NOT_A_RELEASE)', () => {
    expect(checkReleaseStatement(released, 0).ok).toBe(true);
    expect(checkReleaseStatement(revocation(released).statement, 0)).toMatchObject({
      code: 'NOT_A_RELEASE',
    });
  });

  it('reads an envelope with a field it refuses as no statement, never as the statement it also looks like', () => {
    const env = dsseEnvelope(released, new Uint8Array(64)) as unknown as Record<string, unknown>;
    expect(checkReleaseStatement(env, 0).ok).toBe(true);
    // A junk signature entry: a strict reader refuses the envelope; its top-level look-alike
    // statement fields (unsigned) must not be read instead.
    const dressed = {
      ...released,
      ...env,
      signatures: [...(env['signatures'] as unknown[]), { sig: '@' }],
    };
    expect(statementOf(dressed)).toBeUndefined();
    expect(checkReleaseStatement(dressed, 0)).toMatchObject({ code: 'INVALID_INPUT' });
    // The bytes a signature was verified over are read as they are, digest included.
    const payload = new TextEncoder().encode(JSON.stringify(released));
    expect(statementOf({ signedPayload: payload })).toEqual({
      statement: released,
      digest: bytesToHex(sha256(payload)),
    });
  });

  it('refuses an expired statement (STATEMENT_EXPIRED)', () => {
    const until = Date.UTC(2026, 5, 1);
    const s = buildStatement(
      { ...release, validUntil: until },
      context('c_release000000000000000000000003'),
    );
    expect(s.predicate.validUntil).toBe('2026-06-01T00:00:00.000Z');
    expect(checkReleaseStatement(s, until).ok).toBe(true);
    expect(checkReleaseStatement(s, until + 1)).toMatchObject({ code: 'STATEMENT_EXPIRED' });
  });
});
