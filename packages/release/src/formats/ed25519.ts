/**
 * RFC 8032 Ed25519 verification with Node's native (OpenSSL) verify, the public KeyObject cached
 * per key (building it costs more than the verify itself); noble (strict, non-ZIP-215) where Node's
 * crypto is missing.
 */
import { nativeEd25519Verify, ed25519Spki } from '@conclave/frost';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

const keys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 16;

function keyObject(publicKey: Uint8Array): KeyObject | undefined {
  const id = Buffer.from(publicKey).toString('hex');
  let k = keys.get(id);
  if (!k) {
    try {
      k = createPublicKey({
        key: Buffer.from(ed25519Spki(publicKey)),
        format: 'der',
        type: 'spki',
      });
    } catch {
      return undefined;
    }
    if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(id, k);
  }
  return k;
}

export function verifyEd25519(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const k = keyObject(publicKey);
  if (k) {
    try {
      return verify(null, message, k, signature);
    } catch {
      return false;
    }
  }
  const native = nativeEd25519Verify(message, signature, publicKey);
  if (native !== undefined) return native;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
