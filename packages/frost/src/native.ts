/**
 * Node's native (OpenSSL) Ed25519 verification, ≈15× faster than pure-JS. Reached through
 * `process.getBuiltinModule` so the library still loads where there is no Node (then callers fall
 * back to noble). Returns undefined when unavailable.
 */
import type * as NodeCryptoModule from 'node:crypto';

type NodeCrypto = typeof NodeCryptoModule;

let nodeCrypto: NodeCrypto | null | undefined;

function load(): NodeCrypto | null {
  if (nodeCrypto !== undefined) return nodeCrypto;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  nodeCrypto = (proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined) ?? null;
  return nodeCrypto;
}

// RFC 8410 SubjectPublicKeyInfo prefix for an Ed25519 key.
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

export function ed25519Spki(publicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(SPKI_PREFIX.length + 32);
  out.set(SPKI_PREFIX);
  out.set(publicKey, SPKI_PREFIX.length);
  return out;
}

export function nativeEd25519Verify(
  msg: Uint8Array,
  sig: Uint8Array,
  publicKey: Uint8Array,
): boolean | undefined {
  const c = load();
  if (!c || publicKey.length !== 32 || sig.length !== 64) return undefined;
  try {
    const key = c.createPublicKey({
      key: Buffer.from(ed25519Spki(publicKey)),
      format: 'der',
      type: 'spki',
    });
    return c.verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

// RFC 8410 PKCS#8 prefix for an Ed25519 private key (the 32-byte seed follows).
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const privateKeys = new WeakMap<Uint8Array, NodeCryptoModule.KeyObject>();

/**
 * RFC 8032 Ed25519 signature with Node's native signer (deterministic, so byte-identical to noble's).
 * The KeyObject is cached per seed array. Returns undefined where Node's crypto is unavailable.
 */
export function nativeEd25519Sign(msg: Uint8Array, seed: Uint8Array): Uint8Array | undefined {
  const c = load();
  if (!c || seed.length !== 32) return undefined;
  let key = privateKeys.get(seed);
  if (!key) {
    const der = new Uint8Array(PKCS8_PREFIX.length + 32);
    der.set(PKCS8_PREFIX);
    der.set(seed, PKCS8_PREFIX.length);
    key = c.createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    der.fill(0);
    privateKeys.set(seed, key);
  }
  return new Uint8Array(c.sign(null, msg, key));
}
