import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  requestDigest,
  round1Hash,
  signDkgConfirmation,
  signPackageAck,
  verifyDkgConfirmation,
  verifyPackageAck,
  type Round1View,
} from '../src/index.js';
import { CEREMONY, OTHER_CEREMONY, alice, bob, hex, sealedExamples } from './fixtures.js';

const start = sealedExamples['dkg.start'];
const view: Round1View = {
  ceremonyId: CEREMONY,
  threshold: 2,
  participants: start.participants,
  packages: sealedExamples['dkg.round1.all'].packages,
};

describe('DKG confirmation', () => {
  it('hashes the same view the same way whatever the order', () => {
    const shuffled = {
      ...view,
      participants: [...view.participants].reverse(),
      packages: [...view.packages].reverse(),
    };
    expect(bytesToHex(round1Hash(shuffled))).toBe(bytesToHex(round1Hash(view)));
  });

  it('tells apart views with one package, key, threshold or ceremony changed', () => {
    const base = bytesToHex(round1Hash(view));
    const packages = view.packages.map((p, i) => (i === 1 ? { ...p, package: hex(170, 9) } : p));
    const participants = view.participants.map((p, i) =>
      i === 2 ? { ...p, identityKey: hex(32, 9) } : p,
    );
    for (const changed of [
      { ...view, packages },
      { ...view, participants },
      { ...view, threshold: 3 },
      { ...view, ceremonyId: OTHER_CEREMONY },
    ]) {
      expect(bytesToHex(round1Hash(changed))).not.toBe(base);
    }
  });

  it('verifies a member confirmation and refuses another group key', () => {
    const confirmation = {
      ceremonyId: CEREMONY,
      member: 'alice',
      round1Hash: round1Hash(view),
      groupPublicKey: new Uint8Array(32).fill(1),
    };
    const sig = signDkgConfirmation(alice, confirmation);
    expect(verifyDkgConfirmation(alice.publicKey, confirmation, sig)).toBe(true);
    expect(
      verifyDkgConfirmation(
        alice.publicKey,
        { ...confirmation, groupPublicKey: new Uint8Array(32).fill(2) },
        sig,
      ),
    ).toBe(false);
    expect(verifyDkgConfirmation(bob.publicKey, confirmation, sig)).toBe(false);
  });
});

describe('signing package acks', () => {
  const context = { ceremonyId: CEREMONY, session: 1, member: 'alice' };
  const pkg = new Uint8Array(300).fill(7);

  it('verify for the package that was acknowledged', () => {
    const ack = signPackageAck(alice, context, pkg);
    expect(verifyPackageAck(alice.publicKey, context, pkg, ack)).toBe(true);
  });

  it('fail for another package, session, ceremony or signer (equivocation evidence)', () => {
    const ack = signPackageAck(alice, context, pkg);
    expect(verifyPackageAck(alice.publicKey, context, new Uint8Array(300).fill(8), ack)).toBe(
      false,
    );
    expect(verifyPackageAck(alice.publicKey, { ...context, session: 2 }, pkg, ack)).toBe(false);
    expect(
      verifyPackageAck(alice.publicKey, { ...context, ceremonyId: OTHER_CEREMONY }, pkg, ack),
    ).toBe(false);
    expect(verifyPackageAck(bob.publicKey, context, pkg, ack)).toBe(false);
  });
});

describe('requestDigest', () => {
  it('binds the request body and the ceremony id', () => {
    const request = sealedExamples['sign.request'];
    const base = bytesToHex(requestDigest(CEREMONY, request));
    expect(bytesToHex(requestDigest(OTHER_CEREMONY, request))).not.toBe(base);
    const changed = { ...request, release: { ...request.release, version: '1.4.1' } };
    expect(bytesToHex(requestDigest(CEREMONY, changed))).not.toBe(base);
    const reordered = { release: request.release, group: request.group, type: request.type };
    expect(bytesToHex(requestDigest(CEREMONY, reordered))).toBe(base);
  });
});
