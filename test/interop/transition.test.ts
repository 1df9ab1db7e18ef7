/**
 * The verifier side of a key rotation (docs/lifecycle.md "Rotation"): a bundle whose old group's
 * DSSE envelope is signed by a FROST quorum of the old key and whose new group's envelope by a
 * quorum of the new key — each an in-toto release statement naming the transition file's sha256 —
 * is accepted by `conclave group verify-transition`, and openssl checks each side's signature over
 * the statement.pae it extracts, with each group's key; a swapped envelope or another old key is
 * refused with the check named.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildTransitionBundle,
  buildTransitionStatement,
  rotationVersion,
  transitionDigest,
  type TransitionStatement,
} from '@conclave/client';
import {
  ed25519 as frost,
  ed25519Spki,
  type KeyPackage,
  type PublicKeyPackage,
} from '@conclave/frost';
import {
  DSSE_PAYLOAD_TYPE,
  buildStatement,
  dsseEnvelope,
  pae,
  statementBytes,
} from '@conclave/release';
import { describe, expect, it } from 'vitest';
import { requireTool, runCli, tempDir } from '../support.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function quorum(t: number, n: number) {
  const { shares, publicKeyPackage } = frost.keys.dealer({ minSigners: t, maxSigners: n });
  return {
    keys: Object.values(shares).map((s) => frost.keys.keyPackage(s)),
    pub: publicKeyPackage,
  };
}

function sign(keys: readonly KeyPackage[], pub: PublicKeyPackage, message: Uint8Array): Uint8Array {
  const r1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    r1.map((r) => r.commitments),
    message,
  );
  return frost.aggregate(
    pkg,
    keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k)),
    pub,
  ).bytes;
}

const pem = (key: Uint8Array) =>
  createPublicKey({ key: Buffer.from(ed25519Spki(key)), format: 'der', type: 'spki' }).export({
    format: 'pem',
    type: 'spki',
  }) as string;

/** The DSSE envelope one group's rotation ceremony produces (`conclave fetch`: release.intoto.json). */
function ceremonyEnvelope(
  statement: TransitionStatement,
  side: 'old' | 'new',
  q: ReturnType<typeof quorum>,
  name: string,
): object {
  const key = side === 'old' ? statement.oldKey : statement.newKey;
  const d = transitionDigest(statement);
  const s = buildStatement(
    {
      version: rotationVersion(statement),
      class: 'standard',
      note: `key rotation: ${statement.reason}`,
      artifacts: [{ name, sha256: d.sha256, sha512: d.sha512 }],
      formats: ['dsse'],
    },
    {
      ceremonyId: `c_${side}00112233445566778899`,
      group: key.group,
      groupPublicKey: key.publicKey,
      requester: 'alice',
      approvers: key.members
        .slice(0, key.threshold)
        .map((member) => ({ member, identityKey: '11'.repeat(32) })),
      policyId: `${key.group}@v0`,
      issuedAt: Date.now(),
    },
  );
  const sig = sign(
    q.keys.slice(0, key.threshold),
    q.pub,
    pae(DSSE_PAYLOAD_TYPE, statementBytes(s)),
  );
  return dsseEnvelope(s, sig, side);
}

describe('key transition bundle: verify-transition and openssl', () => {
  it('accepts both quorums’ envelopes, each checks with openssl; refuses a swapped one or another old key', async () => {
    const openssl = requireTool('openssl');
    const dir = tempDir('conclave-transition-');
    const old = quorum(3, 5);
    const next = quorum(2, 4);
    const statement = buildTransitionStatement({
      oldKey: {
        group: 'release',
        publicKey: hex(old.pub.verifyingKey),
        epoch: 2,
        threshold: 3,
        members: ['alice', 'bob', 'carol', 'dave', 'erin'],
      },
      newKey: {
        group: 'release-v2',
        publicKey: hex(next.pub.verifyingKey),
        epoch: 0,
        threshold: 2,
        members: ['alice', 'bob', 'carol', 'dave'],
      },
      time: new Date(),
      reason: 'erin revoked; device lost',
      rotationCeremony: 'c_00112233445566778899aabbccddeeff',
    });
    const name = 'release-to-release-v2.transition.json';
    const envelopes = {
      old: ceremonyEnvelope(statement, 'old', old, name),
      new: ceremonyEnvelope(statement, 'new', next, name),
    };
    const bundle = buildTransitionBundle({ statement, name, ...envelopes });
    const file = join(dir, 'release-to-release-v2.transition-bundle.json');
    writeFileSync(file, JSON.stringify(bundle, null, 2));
    // The verifier's own copies of the keys it trusts (not the ones the CLI extracts).
    writeFileSync(join(dir, 'trusted-old.pem'), pem(old.pub.verifyingKey));
    writeFileSync(join(dir, 'trusted-new.pem'), pem(next.pub.verifyingKey));

    const out = join(dir, 'extracted');
    const ok = await runCli([
      'group',
      'verify-transition',
      file,
      '--old-key',
      join(dir, 'trusted-old.pem'),
      '--new-key',
      hex(next.pub.verifyingKey),
      '--extract',
      out,
      '--json',
    ]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      valid: true,
      old: { group: 'release', approvers: ['alice', 'bob', 'carol'] },
      new: { group: 'release-v2', approvers: ['alice', 'bob'] },
    });

    // The transition file's sha256 (openssl) is the subject of both statements.
    const fileDigest = execFileSync(openssl, [
      'dgst',
      '-sha256',
      '-r',
      join(out, 'transition.json'),
    ])
      .toString()
      .split(' ')[0];
    expect(fileDigest).toBe(transitionDigest(statement).sha256);
    for (const [role, trusted, other] of [
      ['old', 'trusted-old.pem', 'trusted-new.pem'],
      ['new', 'trusted-new.pem', 'trusted-old.pem'],
    ] as const) {
      const signed = JSON.parse(readFileSync(join(out, `${role}.statement.json`), 'utf8')) as {
        subject: { digest: { sha256: string } }[];
      };
      expect(signed.subject.map((s) => s.digest.sha256)).toEqual([fileDigest]);
      // statement.pae is exactly DSSE PAE over the envelope payload.
      const env = envelopes[role] as { payload: string };
      expect(readFileSync(join(out, `${role}.statement.pae`))).toEqual(
        Buffer.from(pae(DSSE_PAYLOAD_TYPE, Buffer.from(env.payload, 'base64'))),
      );
      const verify = (key: string) =>
        execFileSync(openssl, [
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          join(dir, key),
          '-rawin',
          '-in',
          join(out, `${role}.statement.pae`),
          '-sigfile',
          join(out, `${role}.statement.sig`),
        ]).toString();
      expect(verify(trusted)).toMatch(/Signature Verified Successfully/);
      // …and not with the other group's key.
      expect(() => verify(other)).toThrow();
    }

    // Every check passes, but with no --old-key nothing ties the bundle to a trusted key.
    const unanchored = await runCli(['group', 'verify-transition', file, '--json']);
    expect(unanchored.code).toBe(1);
    expect(JSON.parse(unanchored.stdout)).toMatchObject({
      ok: false,
      valid: false,
      code: 'TRANSITION_UNANCHORED',
    });

    // The new group's envelope replaced by the old group's (signed by the OLD key).
    const swapped = join(dir, 'swapped.json');
    writeFileSync(swapped, JSON.stringify({ ...bundle, new: bundle.old }));
    const refused = await runCli(['group', 'verify-transition', swapped, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      ok: false,
      code: 'TRANSITION_INVALID',
      check: 'NEW_SIGNATURE',
    });
    const other = await runCli([
      'group',
      'verify-transition',
      file,
      '--old-key',
      join(dir, 'trusted-new.pem'),
      '--json',
    ]);
    expect(other.code).toBe(1);
    expect(JSON.parse(other.stdout)).toMatchObject({ ok: false, check: 'OLD_KEY_PINNED' });
    const unreadable = await runCli([
      'group',
      'verify-transition',
      join(dir, 'nope.json'),
      '--json',
    ]);
    expect(unreadable.code).toBe(2);
  });
});
