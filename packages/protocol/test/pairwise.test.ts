import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DkgRound2Schema,
  boxFromWire,
  boxToWire,
  openFrom,
  sealSignedBox,
  sealTo,
  signPairwiseBox,
  verifyPairwiseBox,
  x25519PublicFromIdentity,
  type ErrorCode,
  type Result,
  type SealedBox,
} from '../src/index.js';
import { CEREMONY, OTHER_CEREMONY, alice, bob, carol, numRuns } from './fixtures.js';

const codeOf = (result: Result<unknown>): ErrorCode | 'OK' =>
  result.ok ? 'OK' : result.error.code;
const context = { ceremonyId: CEREMONY, sender: 'alice', recipient: 'bob' };
const secret = new TextEncoder().encode('round-2 secret package for bob');
const aliceX = x25519PublicFromIdentity(alice.publicKey);
const bobX = x25519PublicFromIdentity(bob.publicKey);
const carolX = x25519PublicFromIdentity(carol.publicKey);

const flip = (bytes: Uint8Array, index: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
};

describe('pairwise encryption', () => {
  it('opens for the recipient what the sender sealed', () => {
    const box = sealTo(bobX, alice, secret, context);
    const opened = openFrom(bob, aliceX, box, context);
    expect(opened.ok && Buffer.from(opened.value).toString()).toBe(
      'round-2 secret package for bob',
    );
  });

  it('uses a fresh ephemeral key and nonce for every box', () => {
    const a = sealTo(bobX, alice, secret, context);
    const b = sealTo(bobX, alice, secret, context);
    expect(Buffer.from(a.ephemeralKey).equals(Buffer.from(b.ephemeralKey))).toBe(false);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it('refuses a tampered ciphertext, nonce or ephemeral key with DECRYPTION_FAILED', () => {
    const box = sealTo(bobX, alice, secret, context);
    const variants: SealedBox[] = [
      { ...box, ciphertext: flip(box.ciphertext, 0) },
      { ...box, ciphertext: flip(box.ciphertext, box.ciphertext.length - 1) },
      { ...box, nonce: flip(box.nonce, 5) },
      { ...box, ephemeralKey: flip(box.ephemeralKey, 3) },
      { ...box, ciphertext: box.ciphertext.slice(0, -1) },
    ];
    for (const variant of variants) {
      expect(codeOf(openFrom(bob, aliceX, variant, context))).toBe('DECRYPTION_FAILED');
    }
  });

  it('refuses another recipient with DECRYPTION_FAILED', () => {
    const box = sealTo(bobX, alice, secret, context);
    expect(codeOf(openFrom(carol, aliceX, box, { ...context, recipient: 'carol' }))).toBe(
      'DECRYPTION_FAILED',
    );
    expect(codeOf(openFrom(carol, aliceX, box, context))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a box attributed to another sender with DECRYPTION_FAILED', () => {
    const box = sealTo(bobX, alice, secret, context);
    expect(codeOf(openFrom(bob, carolX, box, { ...context, sender: 'carol' }))).toBe(
      'DECRYPTION_FAILED',
    );
    expect(codeOf(openFrom(bob, carolX, box, context))).toBe('DECRYPTION_FAILED');
  });

  it('refuses wrong associated data (ceremony, sender, recipient) with DECRYPTION_FAILED', () => {
    const box = sealTo(bobX, alice, secret, context);
    for (const wrong of [
      { ...context, ceremonyId: OTHER_CEREMONY },
      { ...context, sender: 'mallory' },
      { ...context, recipient: 'bobby' },
    ]) {
      expect(codeOf(openFrom(bob, aliceX, box, wrong))).toBe('DECRYPTION_FAILED');
    }
  });

  it('refuses low-order keys with INVALID_KEY', () => {
    const zero = new Uint8Array(32);
    expect(() => sealTo(zero, alice, secret, context)).toThrow(/not a usable X25519 key/);
    const box = sealTo(bobX, alice, secret, context);
    expect(codeOf(openFrom(bob, aliceX, { ...box, ephemeralKey: zero }, context))).toBe(
      'INVALID_KEY',
    );
  });

  it('fits a dkg.round2 box in wire form and round-trips through it', () => {
    const box = sealTo(bobX, alice, secret, context);
    const wire = boxToWire(box);
    const message = { type: 'dkg.round2', boxes: [{ recipient: 'bob', ...wire }] };
    expect(DkgRound2Schema.safeParse(message).success).toBe(true);
    const opened = openFrom(bob, aliceX, boxFromWire(wire), context);
    expect(opened.ok).toBe(true);
  });

  it('round-trips any plaintext', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (plaintext) => {
        const box = sealTo(bobX, alice, plaintext, context);
        const opened = openFrom(bob, aliceX, box, context);
        expect(opened.ok && Buffer.from(opened.value).equals(Buffer.from(plaintext))).toBe(true);
      }),
      { numRuns },
    );
  });
});

describe('signed pairwise boxes (the sender signs each box it sends)', () => {
  it('verifies under the sender for exactly that box, recipient and ceremony', () => {
    const box = sealSignedBox(bob.publicKey, alice, secret, context);
    const { signature, ...wire } = box;
    expect(verifyPairwiseBox(alice.publicKey, context, wire, signature)).toBe(true);
    expect(
      DkgRound2Schema.safeParse({ type: 'dkg.round2', boxes: [{ recipient: 'bob', ...box }] })
        .success,
    ).toBe(true);
    const opened = openFrom(bob, aliceX, boxFromWire(wire), context);
    expect(opened.ok).toBe(true);
  });

  it('does not verify for any changed byte, another sender, recipient or ceremony', () => {
    const wire = boxToWire(sealTo(bobX, alice, secret, context));
    const signature = signPairwiseBox(alice, context, wire);
    const flipHex = (h: string, i: number) =>
      h.slice(0, i) + (h[i] === '0' ? '1' : '0') + h.slice(i + 1);
    for (const field of ['ephemeralKey', 'nonce', 'ciphertext'] as const) {
      for (const i of [0, wire[field].length - 1]) {
        const changed = { ...wire, [field]: flipHex(wire[field], i) };
        expect(verifyPairwiseBox(alice.publicKey, context, changed, signature), field).toBe(false);
      }
    }
    expect(verifyPairwiseBox(carol.publicKey, context, wire, signature)).toBe(false);
    expect(
      verifyPairwiseBox(alice.publicKey, { ...context, recipient: 'carol' }, wire, signature),
    ).toBe(false);
    expect(
      verifyPairwiseBox(
        alice.publicKey,
        { ...context, ceremonyId: OTHER_CEREMONY },
        wire,
        signature,
      ),
    ).toBe(false);
    expect(verifyPairwiseBox(alice.publicKey, context, wire, flipHex(signature, 5))).toBe(false);
    expect(verifyPairwiseBox(alice.publicKey, context, wire, 'zz')).toBe(false);
  });
});
