// Canonical JSON in the style of RFC 8785 (JCS) for the subset our messages use: objects with
// keys sorted by UTF-16 code units, no whitespace, strings and finite numbers serialized as
// ECMAScript JSON.stringify does (RFC 8785 §3.2.2). Undefined object members are omitted, as
// JSON.stringify does; anything else outside JSON (undefined in arrays, bigint, NaN) throws.
import { sha256 } from '@conclave/frost';
import { utf8Bytes } from './encoding.js';
import { ProtocolError } from './errors.js';
import { MAX_JSON_DEPTH } from './version.js';

export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

function write(value: unknown, depth: number): string {
  if (depth > MAX_JSON_DEPTH) throw invalid('nesting too deep for canonical JSON');
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid('canonical JSON has no non-finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? fault() : write(v, depth + 1))).join(',')}]`;
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    const members: string[] = [];
    // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member === undefined) continue;
      members.push(`${JSON.stringify(key)}:${write(member, depth + 1)}`);
    }
    return `{${members.join(',')}}`;
  }
  throw invalid('value is not representable as canonical JSON');
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function fault(): never {
  throw invalid('canonical JSON has no undefined array elements');
}

function invalid(message: string): ProtocolError {
  return new ProtocolError('INVALID_MESSAGE', message);
}

/** SHA-256 of the canonical JSON of `value` (UTF-8). */
export function canonicalHash(value: unknown): Uint8Array {
  return sha256(utf8Bytes(canonicalJson(value)));
}
