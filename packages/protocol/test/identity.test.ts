import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  bytesToHex,
  fingerprint,
  generateIdentityKey,
  hexToBytes,
  identityFromSecret,
  isValidIdentityKey,
  signIdentity,
  verifyIdentity,
  x25519FromIdentity,
  x25519PublicFromIdentity,
} from '../src/index.js';

// RFC 8032 §7.1, TEST 1
const SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

describe('identity keys', () => {
  it('sign RFC 8032 §7.1 test 1 exactly', () => {
    const key = identityFromSecret(hexToBytes(SECRET));
    expect(bytesToHex(key.publicKey)).toBe(PUBLIC);
    expect(bytesToHex(signIdentity(key, new Uint8Array(0)))).toBe(SIGNATURE);
    expect(verifyIdentity(key.publicKey, new Uint8Array(0), hexToBytes(SIGNATURE))).toBe(true);
  });

  it('generate distinct keys that verify their own signatures only', () => {
    const a = generateIdentityKey();
    const b = generateIdentityKey();
    expect(bytesToHex(a.publicKey)).not.toBe(bytesToHex(b.publicKey));
    const msg = new TextEncoder().encode('release 1.4.0');
    const sig = signIdentity(a, msg);
    expect(verifyIdentity(a.publicKey, msg, sig)).toBe(true);
    expect(verifyIdentity(b.publicKey, msg, sig)).toBe(false);
    expect(verifyIdentity(a.publicKey, new TextEncoder().encode('release 1.4.1'), sig)).toBe(false);
  });

  it('reject malformed signatures and keys without throwing', () => {
    const key = generateIdentityKey();
    const msg = new Uint8Array([1]);
    expect(verifyIdentity(key.publicKey, msg, new Uint8Array(63))).toBe(false);
    expect(verifyIdentity(new Uint8Array(31), msg, new Uint8Array(64))).toBe(false);
    expect(verifyIdentity(new Uint8Array(32).fill(0xff), msg, new Uint8Array(64))).toBe(false);
  });

  it('reject a non-canonical S (S + L) under strict verification', () => {
    const key = generateIdentityKey();
    const msg = new Uint8Array([2]);
    const sig = signIdentity(key, msg);
    const s = BigInt(`0x${bytesToHex(sig.slice(32).reverse())}`) + ed25519.Point.Fn.ORDER;
    const sBytes = hexToBytes(s.toString(16).padStart(64, '0')).reverse();
    const malleated = new Uint8Array([...sig.slice(0, 32), ...sBytes]);
    expect(verifyIdentity(key.publicKey, msg, malleated)).toBe(false);
  });

  it('give a stable SHA256 fingerprint', () => {
    const key = identityFromSecret(hexToBytes(SECRET));
    const fp = fingerprint(key.publicKey);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprint(key.publicKey)).toBe(fp);
    expect(fingerprint(generateIdentityKey().publicKey)).not.toBe(fp);
    expect(() => fingerprint(new Uint8Array(31))).toThrow(RangeError);
  });

  it('derive one X25519 key from the secret and the public side alike', () => {
    const key = generateIdentityKey();
    expect(bytesToHex(x25519PublicFromIdentity(key.publicKey))).toBe(
      bytesToHex(x25519FromIdentity(key).publicKey),
    );
  });

  it('refuse small-order identity keys with INVALID_KEY', () => {
    const identity = ed25519.Point.ZERO.toBytes();
    expect(isValidIdentityKey(identity)).toBe(false);
    try {
      x25519PublicFromIdentity(identity);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe('INVALID_KEY');
    }
  });
});
