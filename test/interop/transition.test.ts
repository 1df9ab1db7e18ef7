/**
 * The verifier side of a key rotation (docs/lifecycle.md "Rotation"): a transition statement signed
 * by a FROST quorum of the old key and one of the new key is accepted by
 * `conclave group verify-transition`, and each signature checks with openssl over the bytes it
 * writes; with one signature missing, or from another old key, it is refused.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTransitionStatement, transitionEnvelope, transitionMessage } from '@conclave/client';
import {
  ed25519 as frost,
  ed25519Spki,
  type KeyPackage,
  type PublicKeyPackage,
} from '@conclave/frost';
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

describe('key transition: verify-transition and openssl', () => {
  it('accepts both quorums’ signatures and refuses one alone or another old key', async () => {
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
    const message = transitionMessage(statement);
    const sigs = {
      old: sign(old.keys.slice(1, 4), old.pub, message),
      new: sign(next.keys.slice(0, 2), next.pub, message),
    };
    const file = join(dir, 'release-to-release-v2.transition.json');
    writeFileSync(file, JSON.stringify(transitionEnvelope(statement, sigs)));
    const pae = join(dir, 'transition.pae');
    const ok = await runCli([
      'group',
      'verify-transition',
      file,
      '--old-key',
      hex(old.pub.verifyingKey),
      '--message-out',
      pae,
      '--json',
    ]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, valid: true });
    // Each signature is an ordinary Ed25519 signature over the written bytes.
    for (const [role, key] of [
      ['old', old.pub.verifyingKey],
      ['new', next.pub.verifyingKey],
    ] as const) {
      writeFileSync(join(dir, `${role}.pem`), pem(key));
      writeFileSync(join(dir, `${role}.sig`), sigs[role]);
      execFileSync(openssl, [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        join(dir, `${role}.pem`),
        '-rawin',
        '-in',
        pae,
        '-sigfile',
        join(dir, `${role}.sig`),
      ]);
    }

    const half = join(dir, 'old-only.json');
    writeFileSync(half, JSON.stringify(transitionEnvelope(statement, { old: sigs.old })));
    const refused = await runCli(['group', 'verify-transition', half, '--json']);
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      ok: false,
      error: { code: 'VERIFY_FAILED' },
    });
    const other = await runCli([
      'group',
      'verify-transition',
      file,
      '--old-key',
      hex(next.pub.verifyingKey),
      '--json',
    ]);
    expect(JSON.parse(other.stdout)).toMatchObject({ ok: false, error: { code: 'WRONG_GROUP' } });
  });
});
