// The edge: raw frame → typed message or a coded error. Never throws, never echoes input
// (THREATS C44, B34): error messages are fixed text; paths hold only schema keys and indexes.
import type * as z from 'zod';
import { fail, type ProtocolIssue } from './errors.js';
import { MESSAGE_RULES, MessageSchema, isMessageType, type Message } from './message.js';
import {
  MAX_FRAME_BYTES,
  MAX_JSON_DEPTH,
  PROTOCOL_VERSION,
  versionMismatchMessage,
} from './version.js';

export type ParseResult = { ok: true; msg: Message } | { ok: false; error: ProtocolIssue };

/** Keys refused anywhere in a frame: they pollute prototypes in careless consumers. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses one wire frame. Order of checks: size (`FRAME_TOO_LARGE`), UTF-8 and JSON
 * (`MALFORMED_JSON`), forbidden keys and depth (`INVALID_MESSAGE`), `type` known
 * (`UNKNOWN_MESSAGE_TYPE`), hello version (`PROTOCOL_VERSION_MISMATCH`), sealed types outside an
 * envelope (`UNEXPECTED_MESSAGE`), then the schema (`INVALID_MESSAGE` with the zod path).
 */
export function parseMessage(raw: string | Uint8Array | ArrayBuffer): ParseResult {
  try {
    const text = decodeFrame(raw);
    if (!text.ok) return text;
    let value: unknown;
    try {
      value = JSON.parse(text.value);
    } catch {
      return fail('MALFORMED_JSON', 'frame is not valid JSON');
    }
    const checked = checkShape(value);
    if (checked !== undefined) return checked;
    const type = (value as { type: string }).type;
    if (MESSAGE_RULES[type as keyof typeof MESSAGE_RULES].sealed) {
      return fail('UNEXPECTED_MESSAGE', `${type} must be sent inside an envelope`, ['type']);
    }
    return validateSchema(value);
  } catch {
    return fail('INTERNAL', 'frame could not be parsed');
  }
}

/**
 * Validates an already-decoded value against the message union, without the framing rule that
 * sealed types must arrive in an envelope (for bodies read back from storage, machine events).
 */
export function validateMessage(value: unknown): ParseResult {
  try {
    return checkShape(value) ?? validateSchema(value);
  } catch {
    return fail('INTERNAL', 'message could not be validated');
  }
}

function decodeFrame(
  raw: string | Uint8Array | ArrayBuffer,
): { ok: true; value: string } | { ok: false; error: ProtocolIssue } {
  if (typeof raw === 'string') {
    // Every UTF-16 code unit is at least one UTF-8 byte, so the cheap check comes first.
    if (raw.length > MAX_FRAME_BYTES || Buffer.byteLength(raw, 'utf8') > MAX_FRAME_BYTES) {
      return fail('FRAME_TOO_LARGE', `frame exceeds ${MAX_FRAME_BYTES} bytes`);
    }
    return { ok: true, value: raw };
  }
  const bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
  if (bytes.byteLength > MAX_FRAME_BYTES) {
    return fail('FRAME_TOO_LARGE', `frame exceeds ${MAX_FRAME_BYTES} bytes`);
  }
  try {
    return { ok: true, value: utf8.decode(bytes) };
  } catch {
    return fail('MALFORMED_JSON', 'frame is not valid UTF-8');
  }
}

function checkShape(value: unknown): { ok: false; error: ProtocolIssue } | undefined {
  const scanned = scan(value);
  if (scanned !== undefined) return scanned;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('INVALID_MESSAGE', 'expected a JSON object', []);
  }
  const type = (value as Record<string, unknown>)['type'];
  if (typeof type !== 'string') return fail('INVALID_MESSAGE', 'expected a string type', ['type']);
  if (!isMessageType(type)) return fail('UNKNOWN_MESSAGE_TYPE', 'unknown message type', ['type']);
  if (type === 'hello') {
    const version = (value as Record<string, unknown>)['protocolVersion'];
    if (typeof version === 'number' && version !== PROTOCOL_VERSION) {
      return fail('PROTOCOL_VERSION_MISMATCH', versionMismatchMessage('this side'), [
        'protocolVersion',
      ]);
    }
  }
  return undefined;
}

/** Iterative walk (no recursion on attacker input): depth limit and forbidden keys. */
function scan(root: unknown): { ok: false; error: ProtocolIssue } | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (path.length > MAX_JSON_DEPTH) return fail('INVALID_MESSAGE', 'nesting too deep', path);
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, path: [...path, index] }));
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) return fail('INVALID_MESSAGE', 'forbidden key', [...path, key]);
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return undefined;
}

function validateSchema(value: unknown): ParseResult {
  const parsed = MessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, msg: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue === undefined) return fail('INVALID_MESSAGE', 'invalid message');
  return fail('INVALID_MESSAGE', describeIssue(issue), toPath(issue.path));
}

/**
 * Zod's own messages describe the schema, not the value, except `unrecognized_keys`, which lists
 * the keys it saw: that one gets fixed text.
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return 'unknown key';
  return issue.message.slice(0, 200);
}

function toPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((p) => (typeof p === 'number' ? p : String(p)));
}
