// Unambiguous byte encodings for everything that gets signed or hashed: a domain tag, then
// length-prefixed fields (u32 big-endian length + bytes), so no two field lists share an encoding.
import { DOMAIN_PREFIX } from './version.js';

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('expected a u32');
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError('expected a non-negative safe integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export type Field = string | Uint8Array;

/** One length-prefixed field; strings are UTF-8. */
export function lengthPrefixed(field: Field): Uint8Array {
  const bytes = typeof field === 'string' ? utf8Bytes(field) : field;
  return concatBytes(u32be(bytes.length), bytes);
}

/**
 * `lp("conclave/v1/<label>") || lp(field_1) || … || lp(field_k)`: the domain-separated encoding
 * used for every signature and key derivation in this package.
 */
export function domainEncode(label: string, fields: readonly Field[]): Uint8Array {
  return concatBytes(lengthPrefixed(DOMAIN_PREFIX + label), ...fields.map(lengthPrefixed));
}
