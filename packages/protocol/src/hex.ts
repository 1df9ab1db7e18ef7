// Hex ↔ bytes. Wire hex is lowercase only, so every value has exactly one encoding.
import * as z from 'zod';
import { ProtocolError } from './errors.js';

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function isHex(value: string): boolean {
  return HEX_RE.test(value);
}

/** Lowercase hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Bytes of lowercase, even-length hex; throws ProtocolError INVALID_MESSAGE otherwise.
 * With `expectedBytes`, the decoded length must match exactly.
 */
export function hexToBytes(hex: string, expectedBytes?: number): Uint8Array<ArrayBuffer> {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new ProtocolError('INVALID_MESSAGE', 'expected lowercase hex of even length');
  }
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    throw new ProtocolError(
      'INVALID_MESSAGE',
      `expected ${expectedBytes} bytes, got ${hex.length / 2}`,
    );
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

const hexBase = () => z.string().regex(HEX_RE, { error: 'expected lowercase hex' });

/** Schema: lowercase hex of exactly `bytes` bytes. */
export function hexOf(bytes: number) {
  return hexBase().length(bytes * 2, { error: `expected ${bytes} bytes of hex` });
}

/** Schema: lowercase hex of `min`..`max` bytes. */
export function hexBetween(minBytes: number, maxBytes: number) {
  return hexBase()
    .min(minBytes * 2, { error: `expected at least ${minBytes} bytes of hex` })
    .max(maxBytes * 2, { error: `expected at most ${maxBytes} bytes of hex` });
}

/** Codec (zod v4 `z.codec`): decode hex of exactly `bytes` bytes to a Uint8Array, encode back. */
export function hexBytesCodec(bytes: number) {
  return z.codec(hexOf(bytes), z.instanceof(Uint8Array), {
    decode: (hex) => hexToBytes(hex, bytes),
    encode: (b) => bytesToHex(b),
  });
}

/** Codec for variable-length hex (`min`..`max` bytes). */
export function hexBytesBetweenCodec(minBytes: number, maxBytes: number) {
  return z.codec(hexBetween(minBytes, maxBytes), z.instanceof(Uint8Array), {
    decode: (hex) => hexToBytes(hex),
    encode: (b) => bytesToHex(b),
  });
}

// Ed25519 sizes (RFC 8032 §5.1.5, RFC 9591 §6.5): element (point) 32, scalar 32, signature 64.
export const ED25519_ELEMENT_BYTES = 32;
export const ED25519_SCALAR_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const IDENTITY_KEY_BYTES = 32;

export const ElementHexSchema = hexOf(ED25519_ELEMENT_BYTES);
export const ScalarHexSchema = hexOf(ED25519_SCALAR_BYTES);
export const SignatureHexSchema = hexOf(ED25519_SIGNATURE_BYTES);
export const IdentityKeyHexSchema = hexOf(IDENTITY_KEY_BYTES);
export const Sha256HexSchema = hexOf(32);
export const Sha512HexSchema = hexOf(64);

export const Bytes32Codec = hexBytesCodec(32);
export const Bytes64Codec = hexBytesCodec(64);
