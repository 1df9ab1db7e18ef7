import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { nativeEd25519Sign, nativeEd25519Verify } from '../src/index.js';
import { fc, fcOpts } from './helpers.js';

describe("Node's native Ed25519 helpers", () => {
  it('sign gives the same bytes as noble (RFC 8032 is deterministic) and verifies both ways', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 100 }),
        (seed, msg) => {
          const sig = nativeEd25519Sign(msg, seed)!;
          expect(Buffer.from(sig).toString('hex')).toBe(
            Buffer.from(ed25519.sign(msg, seed)).toString('hex'),
          );
          const pub = ed25519.getPublicKey(seed);
          expect(nativeEd25519Verify(msg, sig, pub)).toBe(true);
          expect(nativeEd25519Verify(Uint8Array.from([...msg, 0]), sig, pub)).toBe(false);
        },
      ),
      fcOpts,
    );
  });

  it('refuses a signature with S ≥ L (malleability) like noble strict', () => {
    const seed = new Uint8Array(32).fill(7);
    const msg = Uint8Array.of(1);
    const sig = nativeEd25519Sign(msg, seed)!;
    const L = ed25519.Point.Fn.ORDER;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    const t = s + L;
    const mall = Uint8Array.from(sig);
    for (let i = 0, v = t; i < 32; i++, v >>= 8n) mall[32 + i] = Number(v & 0xffn);
    expect(nativeEd25519Verify(msg, mall, ed25519.getPublicKey(seed))).toBe(false);
  });
});
