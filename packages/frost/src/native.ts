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
