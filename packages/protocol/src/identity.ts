// Identity keys: Ed25519 (RFC 8032) key pairs that authenticate members, the admin and the
// coordinator. Separate from FROST key shares. Each identity also yields an X25519 (RFC 7748) key
// for pairwise encryption, by the birational map Edwards → Montgomery (as libsodium's
// crypto_sign_ed25519_*_to_curve25519), so the member registry needs to hold one key only.
import type * as NodeCryptoModule from 'node:crypto';
import { ed25519Spki, nativeEd25519Sign, nativeEd25519Verify, sha256 } from '@conclave/frost';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { ProtocolError } from './errors.js';
import { domainEncode } from './encoding.js';
import { ED25519_SIGNATURE_BYTES, IDENTITY_KEY_BYTES, bytesToHex } from './hex.js';

export interface IdentityKey {
  /** RFC 8032 32-byte secret seed. Never log, never put in a message. */
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface X25519KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

function expectBytes(value: Uint8Array, length: number, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected Uint8Array`);
  if (value.length !== length) {
    throw new RangeError(`${name}: expected ${length} bytes, got ${value.length}`);
  }
}

/** A fresh identity key from the system CSPRNG (or from a given 32-byte seed, for tests). */
export function generateIdentityKey(seed?: Uint8Array): IdentityKey {
  const secretKey = seed === undefined ? randomBytes(32) : Uint8Array.from(seed);
  return identityFromSecret(secretKey);
}

export function identityFromSecret(secretKey: Uint8Array): IdentityKey {
  expectBytes(secretKey, 32, 'secretKey');
  return { secretKey: Uint8Array.from(secretKey), publicKey: ed25519.getPublicKey(secretKey) };
}

/** RFC 8032 §5.1.6 signature (deterministic). */
export function signIdentity(key: IdentityKey, message: Uint8Array): Uint8Array {
  // Deterministic: Node's native signer gives the same bytes as noble's, ≈20× faster.
  return nativeEd25519Sign(message, key.secretKey) ?? ed25519.sign(message, key.secretKey);
}

// Node's KeyObject per identity public key: a coordinator verifies every envelope of a few dozen
// members, and parsing the SPKI again for each one cost about as much as the verification itself.
// Public keys only; bounded (oldest dropped).
const KEY_CACHE_LIMIT = 1024;
const publicKeyObjects = new Map<string, NodeCryptoModule.KeyObject>();
let nodeCrypto: typeof NodeCryptoModule | null | undefined;

function nativeVerifyCached(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean | undefined {
  if (nodeCrypto === undefined) {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
      .process;
    nodeCrypto =
      (proc?.getBuiltinModule?.('node:crypto') as typeof NodeCryptoModule | undefined) ?? null;
  }
  const c = nodeCrypto;
  if (c === null) return undefined;
  const hex = bytesToHex(publicKey);
  let key = publicKeyObjects.get(hex);
  if (key === undefined) {
    try {
      key = c.createPublicKey({
        key: Buffer.from(ed25519Spki(publicKey)),
        format: 'der',
        type: 'spki',
      });
    } catch {
      return false;
    }
    publicKeyObjects.set(hex, key);
    if (publicKeyObjects.size > KEY_CACHE_LIMIT) {
      publicKeyObjects.delete(publicKeyObjects.keys().next().value as string);
    }
  }
  try {
    return c.verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * RFC 8032 §5.1.7 verification with the strict rules (canonical S and points, `zip215: false`),
 * the same ones OpenSSL applies. Returns false for any malformed input instead of throwing.
 */
export function verifyIdentity(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== IDENTITY_KEY_BYTES) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) {
    return false;
  }
  // Node's OpenSSL verifier is ≈10× faster and applies the same strict rules; noble where it is absent.
  const native =
    nativeVerifyCached(publicKey, message, signature) ??
    nativeEd25519Verify(message, signature, publicKey);
  if (native !== undefined) return native;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Whether `publicKey` is a valid, canonical Ed25519 point of full order (not small-order). */
export function isValidIdentityKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== IDENTITY_KEY_BYTES) return false;
  try {
    const point = ed25519.Point.fromBytes(publicKey, false);
    return !point.isSmallOrder() && point.isTorsionFree();
  } catch {
    return false;
  }
}

/**
 * Human-comparable fingerprint, `SHA256:` + unpadded base64 of SHA-256 over a domain-separated
 * encoding of the key (like `ssh-keygen -l`, but not the same input, so not interchangeable).
 */
export function fingerprint(publicKey: Uint8Array): string {
  expectBytes(publicKey, IDENTITY_KEY_BYTES, 'publicKey');
  const digest = sha256(domainEncode('identity-fingerprint', [publicKey]));
  return `SHA256:${Buffer.from(digest).toString('base64').replace(/=+$/, '')}`;
}

/**
 * The X25519 secret of an identity: RFC 8032's clamped scalar, the first half of SHA-512(seed), as
 * a copy of its own. The whole digest is wiped (its other half is the identity's EdDSA nonce
 * prefix); the caller wipes the copy when done.
 */
export function x25519SecretOf(key: IdentityKey): Uint8Array {
  const derived = ed25519.utils.toMontgomerySecret(key.secretKey);
  const secretKey = Uint8Array.from(derived);
  (derived.buffer.byteLength === 64 ? new Uint8Array(derived.buffer) : derived).fill(0);
  return secretKey;
}

/** The X25519 key pair of an identity (Edwards secret → Montgomery secret, RFC 7748 §4.1 map). */
export function x25519FromIdentity(key: IdentityKey): X25519KeyPair {
  const secretKey = x25519SecretOf(key);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/**
 * The X25519 public key of an identity public key. Throws ProtocolError INVALID_KEY for keys
 * that are not valid full-order Ed25519 points.
 */
export function x25519PublicFromIdentity(publicKey: Uint8Array): Uint8Array {
  if (!isValidIdentityKey(publicKey)) {
    throw new ProtocolError('INVALID_KEY', 'identity key is not a valid Ed25519 public key');
  }
  return ed25519.utils.toMontgomery(publicKey);
}
