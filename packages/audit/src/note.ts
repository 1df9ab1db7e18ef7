// Signed notes, c2sp.org/signed-note (the format of Go's golang.org/x/mod/sumdb/note): a text
// ending in a newline, a blank line, then one or more lines `— <key name> base64(keyID ‖ sig)`.
// Key IDs are SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] (signed-note §Signatures). Parsing
// treats the input as hostile: UTF-8, no control characters but newline, bounded size and
// signature count, canonical base64.
import { sha256 } from '@conclave/frost';
import { signIdentity, verifyIdentity, type IdentityKey } from '@conclave/protocol';
import { decodeBase64, encodeBase64 } from './base64.js';
import { AuditError } from './errors.js';

/** signed-note §Signature types. */
export const SIGNATURE_TYPE_ED25519 = 0x01;
export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04;

/** Bounds for hostile notes: Go's note.Open stops at 100 signatures; the spec asks for ≥ 16. */
export const NOTE_MAX_BYTES = 64 * 1024;
export const NOTE_MAX_SIGNATURES = 100;

const SIG_PREFIX = '\u2014 ';
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export interface NoteSignature {
  /** Key name, e.g. the log's origin or a witness name. */
  readonly name: string;
  /** uint32 key ID (big-endian first four bytes of the signature blob). */
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

export interface Note {
  /** The signed text, ending in a newline (without the separating blank line). */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/** signed-note: key names are non-empty with no Unicode spaces and no `+`. */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= 256 &&
    !/[\s+]/u.test(name) &&
    // No control characters either (a note may not contain them anywhere).
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(name) &&
    isWellFormedUtf16(name)
  );
}

/** encode() replaces lone surrogates with U+FFFD: a round trip shows whether that happened. */
function isWellFormedUtf16(s: string): boolean {
  return utf8Decoder.decode(utf8Encoder.encode(s)) === s;
}

/** Key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian (signed-note §Signatures). */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const n = utf8Encoder.encode(name);
  const buf = new Uint8Array(n.length + 2 + publicKey.length);
  buf.set(n);
  buf[n.length] = 0x0a;
  buf[n.length + 1] = type;
  buf.set(publicKey, n.length + 2);
  const h = sha256(buf);
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0);
}

/** An Ed25519 note verifier (type 0x01) for `name` and a 32-byte public key. */
export function ed25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  if (!isValidKeyName(name)) throw new AuditError('NOTE_KEY_INVALID', 'invalid key name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new AuditError('NOTE_KEY_INVALID', 'an Ed25519 public key is 32 bytes');
  }
  const key = Uint8Array.from(publicKey);
  return {
    name,
    keyId: keyId(name, SIGNATURE_TYPE_ED25519, key),
    verify: (text, signature) => signature.length === 64 && verifyIdentity(key, text, signature),
  };
}

/** An Ed25519 note signer (type 0x01). */
export function ed25519NoteSigner(name: string, key: IdentityKey): NoteSigner {
  if (!isValidKeyName(name)) throw new AuditError('NOTE_KEY_INVALID', 'invalid key name');
  return {
    name,
    keyId: keyId(name, SIGNATURE_TYPE_ED25519, key.publicKey),
    sign: (text) => signIdentity(key, text),
  };
}

/**
 * Verifier key text, as Go's note.NewEd25519VerifierKey writes it: `name+hex(keyID)+base64(0x01 ‖ pub)`.
 * What an operator pins (`conclave log verify --log-key …`).
 */
export function encodeVerifierKey(name: string, publicKey: Uint8Array): string {
  const v = ed25519NoteVerifier(name, publicKey);
  const blob = new Uint8Array(33);
  blob[0] = SIGNATURE_TYPE_ED25519;
  blob.set(publicKey, 1);
  return `${name}+${v.keyId.toString(16).padStart(8, '0')}+${encodeBase64(blob)}`;
}

/** Parses a verifier key (NOTE_KEY_INVALID when malformed, of another type, or the ID mismatches). */
export function parseVerifierKey(vkey: string): NoteVerifier {
  if (typeof vkey !== 'string' || vkey.length > 512) {
    throw new AuditError('NOTE_KEY_INVALID', 'not a verifier key');
  }
  // name+hash+key, split at the first two `+` only (the base64 key may contain `+`).
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) throw new AuditError('NOTE_KEY_INVALID', 'expected name+keyid+key');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const keyB64 = vkey.slice(second + 1);
  const blob = decodeBase64(keyB64);
  if (!/^[0-9a-f]{8}$/.test(idHex) || blob === undefined || !isValidKeyName(name)) {
    throw new AuditError('NOTE_KEY_INVALID', 'malformed verifier key');
  }
  if (blob.length !== 33 || blob[0] !== SIGNATURE_TYPE_ED25519) {
    throw new AuditError(
      'NOTE_KEY_INVALID',
      'only Ed25519 (type 0x01) verifier keys are supported',
    );
  }
  const v = ed25519NoteVerifier(name, blob.subarray(1));
  if (v.keyId !== Number.parseInt(idHex, 16)) {
    throw new AuditError('NOTE_KEY_INVALID', 'verifier key ID does not match its key');
  }
  return v;
}

function malformed(message: string): AuditError {
  return new AuditError('NOTE_MALFORMED', message);
}

/** Parses a signed note without verifying it. Throws NOTE_MALFORMED / NOTE_TOO_LARGE. */
export function parseNote(input: string | Uint8Array): Note {
  let msg: string;
  if (typeof input === 'string') {
    if (input.length > NOTE_MAX_BYTES) throw new AuditError('NOTE_TOO_LARGE', 'note too large');
    if (!isWellFormedUtf16(input)) throw malformed('note is not valid UTF-8');
    msg = input;
  } else if (input instanceof Uint8Array) {
    if (input.length > NOTE_MAX_BYTES) throw new AuditError('NOTE_TOO_LARGE', 'note too large');
    try {
      msg = utf8Decoder.decode(input);
    } catch {
      throw malformed('note is not valid UTF-8');
    }
  } else {
    throw malformed('note must be text');
  }
  if (utf8Encoder.encode(msg).length > NOTE_MAX_BYTES) {
    throw new AuditError('NOTE_TOO_LARGE', 'note too large');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(msg)) {
    throw malformed('note contains control characters other than newline');
  }
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw malformed('note has no blank line before its signatures');
  const text = msg.slice(0, split + 1);
  let sigs = msg.slice(split + 2);
  if (sigs.length === 0 || !sigs.endsWith('\n')) {
    throw malformed('note signatures must end with a newline');
  }
  const signatures: NoteSignature[] = [];
  while (sigs.length > 0) {
    const nl = sigs.indexOf('\n');
    const line = sigs.slice(0, nl);
    sigs = sigs.slice(nl + 1);
    if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line must start with an em dash');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw malformed('signature line has no key name');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    const blob = decodeBase64(b64);
    if (!isValidKeyName(name) || blob === undefined || blob.length < 5) {
      throw malformed('malformed signature line');
    }
    if (signatures.length >= NOTE_MAX_SIGNATURES) throw malformed('too many signatures');
    signatures.push({
      name,
      keyId: new DataView(blob.buffer, blob.byteOffset, 4).getUint32(0),
      signature: blob.slice(4),
    });
  }
  return { text, signatures };
}

/** One signature line, newline-terminated. */
export function formatSignatureLine(sig: NoteSignature): string {
  const blob = new Uint8Array(4 + sig.signature.length);
  new DataView(blob.buffer).setUint32(0, sig.keyId);
  blob.set(sig.signature, 4);
  return `${SIG_PREFIX}${sig.name} ${encodeBase64(blob)}\n`;
}

/** The encoded note: text, blank line, signature lines. */
export function formatNote(note: Note): string {
  if (!note.text.endsWith('\n')) throw malformed('note text must end with a newline');
  if (note.signatures.length === 0) throw malformed('a note needs a signature');
  return `${note.text}\n${note.signatures.map(formatSignatureLine).join('')}`;
}

/**
 * Signs `text` with `signers`, keeping `existing` signatures of other keys (as Go's note.Sign: a
 * signer's new signature replaces an old one by the same name and key ID).
 */
export function signNote(
  text: string,
  signers: readonly NoteSigner[],
  existing: readonly NoteSignature[] = [],
): string {
  if (!text.endsWith('\n')) throw malformed('note text must end with a newline');
  const bytes = utf8Encoder.encode(text);
  const fresh = signers.map((s) => ({ name: s.name, keyId: s.keyId, signature: s.sign(bytes) }));
  const kept = existing.filter((e) => !fresh.some((f) => f.name === e.name && f.keyId === e.keyId));
  return formatNote({ text, signatures: [...kept, ...fresh] });
}

export interface OpenedNote extends Note {
  /** Signatures by known keys, all verified. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys not given (ignored, as the spec requires). */
  readonly unverified: readonly NoteSignature[];
}

/**
 * Parses and verifies a note (signed-note §Signatures): signatures of unknown keys are ignored; a
 * known key's failing signature rejects the note (NOTE_BAD_SIGNATURE); no verified signature at
 * all is NOTE_UNVERIFIED.
 */
export function openNote(
  input: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
): OpenedNote {
  const note = parseNote(input);
  const textBytes = utf8Encoder.encode(note.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of note.signatures) {
    const id = `${sig.name}+${sig.keyId}`;
    const matches = verifiers.filter((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (matches.length > 1) throw new AuditError('NOTE_KEY_INVALID', 'ambiguous verifier keys');
    const v = matches[0];
    if (v === undefined) {
      unverified.push(sig);
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    if (!v.verify(textBytes, sig.signature)) {
      throw new AuditError('NOTE_BAD_SIGNATURE', `signature by ${v.name} does not verify`);
    }
    verified.push(sig);
  }
  if (verified.length === 0) {
    throw new AuditError('NOTE_UNVERIFIED', 'no signature by a known key');
  }
  return { ...note, verified, unverified };
}
