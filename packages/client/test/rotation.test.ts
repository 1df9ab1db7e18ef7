// The key transition statement (docs/lifecycle.md "Rotation"): both quorums sign the same bytes;
// a verifier accepts the rotation only with both signatures, and only from the key it trusted.
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import { bytesToHex } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  buildTransitionStatement,
  nextGroupName,
  transitionEnvelope,
  transitionMessage,
  verifyTransition,
} from '../src/index.js';

function group(t: number, n: number) {
  const { shares, publicKeyPackage } = frost.keys.dealer({ minSigners: t, maxSigners: n });
  return {
    keys: Object.values(shares).map((s) => frost.keys.keyPackage(s)),
    pub: publicKeyPackage,
  };
}

/** A quorum signs `message` (FROST, RFC 9591): an ordinary Ed25519 signature. */
function quorumSign(keys: readonly KeyPackage[], pub: PublicKeyPackage, message: Uint8Array) {
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

describe('key transition statement', () => {
  const old = group(2, 3);
  const next = group(3, 4);
  const statement = buildTransitionStatement({
    oldKey: {
      group: 'release',
      publicKey: bytesToHex(old.pub.verifyingKey),
      epoch: 4,
      threshold: 2,
      members: ['alice', 'bob', 'carol'],
    },
    newKey: {
      group: 'release-v2',
      publicKey: bytesToHex(next.pub.verifyingKey),
      epoch: 0,
      threshold: 3,
      members: ['alice', 'bob', 'dave', 'erin'],
    },
    time: new Date('2026-11-25T12:00:00Z'),
    reason: 'carol left; her device may be lost',
    rotationCeremony: 'c_0123456789abcdef',
  });
  const message = transitionMessage(statement);
  const oldSig = quorumSign(old.keys.slice(0, 2), old.pub, message);
  const newSig = quorumSign(next.keys.slice(1, 4), next.pub, message);

  it('is valid with both quorums, from the trusted old key', () => {
    const env = transitionEnvelope(statement, { old: oldSig, new: newSig });
    const check = verifyTransition(
      JSON.parse(JSON.stringify(env)),
      bytesToHex(old.pub.verifyingKey),
    );
    expect(check).toMatchObject({ oldSigned: true, newSigned: true, valid: true });
    expect(check.statement).toEqual(statement);
    expect(new TextDecoder().decode(message)).toMatch(
      /^DSSEv1 \d+ application\/vnd\.conclave\.key-transition\+json \d+ \{"_type"/,
    );
  });

  it('is not valid with one quorum only, or with signatures swapped', () => {
    expect(verifyTransition(transitionEnvelope(statement, { old: oldSig })).valid).toBe(false);
    expect(verifyTransition(transitionEnvelope(statement, { new: newSig })).valid).toBe(false);
    expect(
      verifyTransition(transitionEnvelope(statement, { old: newSig, new: oldSig })).valid,
    ).toBe(false);
  });

  it('refuses an edited payload and a transition from another key', () => {
    const env = transitionEnvelope(statement, { old: oldSig, new: newSig });
    const edited = {
      ...env,
      payload: Buffer.from(
        Buffer.from(env.payload, 'base64').toString('utf8').replace('carol left', 'nobody left'),
      ).toString('base64'),
    };
    expect(verifyTransition(edited).valid).toBe(false);
    expect(() => verifyTransition(env, bytesToHex(next.pub.verifyingKey))).toThrowError(
      expect.objectContaining({ code: 'WRONG_GROUP' }),
    );
    expect(() => verifyTransition({ ...env, payloadType: 'application/json' })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('refuses a "rotation" to the same key, and names the next group', () => {
    expect(() =>
      buildTransitionStatement({
        oldKey: statement.oldKey,
        newKey: { ...statement.newKey, publicKey: statement.oldKey.publicKey },
        time: new Date(),
        reason: 'x',
        rotationCeremony: 'c_0123456789abcdef',
      }),
    ).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(nextGroupName('release')).toBe('release-v2');
    expect(nextGroupName('release-v2')).toBe('release-v3');
  });
});
