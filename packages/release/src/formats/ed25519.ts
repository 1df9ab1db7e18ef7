/** RFC 8032 Ed25519 verification: Node's native (OpenSSL) verify, noble (strict, non-ZIP-215) elsewhere. */
import { nativeEd25519Verify } from '@conclave/frost';
import { ed25519 } from '@noble/curves/ed25519.js';

export function verifyEd25519(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const native = nativeEd25519Verify(message, signature, publicKey);
  if (native !== undefined) return native;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
