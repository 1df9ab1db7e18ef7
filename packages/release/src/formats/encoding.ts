/** Byte helpers shared by the format builders, the key exporters and the parsers. */
import { createHash } from 'node:crypto';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s: string): Uint8Array => enc.encode(s);

/** Strict UTF-8 decoding; undefined for invalid sequences (hostile input). */
export function decodeUtf8(b: Uint8Array): string | undefined {
  try {
    return dec.decode(b);
  } catch {
    return undefined;
  }
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function u16be(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

export function u32be(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Lowercase hex of exactly `bytes` bytes, else undefined. */
export function fromHex(s: string, bytes: number): Uint8Array | undefined {
  if (s.length !== bytes * 2 || !/^[0-9a-f]*$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export const toBase64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
export const toBase64Url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** Strict RFC 4648 §4 base64 (padding required, no whitespace); undefined on anything else. */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const b = new Uint8Array(Buffer.from(s, 'base64'));
  return toBase64(b) === s ? b : undefined;
}

/** Strict RFC 4648 §5 base64url without padding (RFC 7515 §2); undefined on anything else. */
export function fromBase64Url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  const b = new Uint8Array(Buffer.from(s, 'base64url'));
  return toBase64Url(b) === s ? b : undefined;
}

/** Split `s` into lines of at most `width` characters. */
export function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += width) out.push(s.slice(i, i + width));
  return out;
}

export type HashName = 'sha1' | 'sha256' | 'sha512' | 'blake2b512' | 'sha384';

export function hash(name: HashName, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash(name);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** SSH wire `string` (RFC 4251 §5): uint32 length ‖ bytes. */
export function sshString(b: Uint8Array | string): Uint8Array {
  const bytes = typeof b === 'string' ? utf8(b) : b;
  return concat(u32be(bytes.length), bytes);
}

/** Bounds-checked reader for hostile binary input: every read returns undefined past the end. */
export class Reader {
  private pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  take(n: number): Uint8Array | undefined {
    if (!Number.isInteger(n) || n < 0 || n > this.remaining) return undefined;
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(): number | undefined {
    return this.take(1)?.[0];
  }

  u16(): number | undefined {
    const b = this.take(2);
    return b ? (b[0]! << 8) | b[1]! : undefined;
  }

  u32(): number | undefined {
    const b = this.take(4);
    return b ? ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0 : undefined;
  }

  /** SSH `string`. */
  sshString(): Uint8Array | undefined {
    const n = this.u32();
    return n === undefined ? undefined : this.take(n);
  }
}
