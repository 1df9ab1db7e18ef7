// Signed notes against Go's golang.org/x/mod/sumdb/note vectors, and one test per rejection rule.
import { generateIdentityKey, identityFromSecret } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  AuditError,
  NOTE_MAX_SIGNATURES,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  encodeVerifierKey,
  formatNote,
  keyId,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
} from '../src/index.js';

// From golang.org/x/mod/sumdb/note's tests (TestSign / TestOpen).
const GO_SKEY_B64 = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT =
  'If you think cryptography is the answer to your problem,\n' +
  "then you don't know what your problem is.\n";
const GO_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const goKey = () => identityFromSecret(Buffer.from(GO_SKEY_B64, 'base64').subarray(1));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof AuditError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('signed notes (c2sp.org/signed-note)', () => {
  it('signs byte-identically to Go note.Sign', () => {
    const signer = ed25519NoteSigner('PeterNeumann', goKey());
    expect(signer.keyId).toBe(0xc74f20a3);
    expect(signNote(GO_TEXT, [signer])).toBe(`${GO_TEXT}\n${GO_SIG}`);
  });

  it('computes the key ID as SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4] and encodes Go verifier keys', () => {
    const key = goKey();
    expect(keyId('PeterNeumann', 0x01, key.publicKey)).toBe(0xc74f20a3);
    expect(encodeVerifierKey('PeterNeumann', key.publicKey)).toBe(GO_VKEY);
    const v = parseVerifierKey(GO_VKEY);
    expect(v.name).toBe('PeterNeumann');
    expect(v.keyId).toBe(0xc74f20a3);
  });

  it('round-trips verifier keys whose base64 contains a plus sign', () => {
    for (let i = 0; i < 64; i++) {
      const key = generateIdentityKey();
      const vkey = encodeVerifierKey('conclave/0123456789abcdef', key.publicKey);
      expect(parseVerifierKey(vkey).keyId).toBe(
        ed25519NoteVerifier('conclave/0123456789abcdef', key.publicKey).keyId,
      );
    }
  });

  it('opens a note, verifying known keys and keeping unknown ones unverified', () => {
    const opened = openNote(`${GO_TEXT}\n${GO_SIG}${ENOCH_SIG}`, [parseVerifierKey(GO_VKEY)]);
    expect(opened.text).toBe(GO_TEXT);
    expect(opened.verified.map((s) => s.name)).toEqual(['PeterNeumann']);
    expect(opened.unverified.map((s) => s.name)).toEqual(['EnochRoot']);
    expect(formatNote(opened)).toBe(`${GO_TEXT}\n${GO_SIG}${ENOCH_SIG}`);
  });

  it('keeps other signatures and replaces its own when signing again', () => {
    const other = ed25519NoteSigner('other.example/k', generateIdentityKey());
    const note = signNote(GO_TEXT, [other]);
    const again = signNote(GO_TEXT, [ed25519NoteSigner('PeterNeumann', goKey()), other], []);
    const both = parseNote(again).signatures.map((s) => s.name);
    expect(both).toEqual(['PeterNeumann', 'other.example/k']);
    const kept = signNote(
      GO_TEXT,
      [ed25519NoteSigner('PeterNeumann', goKey())],
      parseNote(note).signatures,
    );
    expect(parseNote(kept).signatures.map((s) => s.name)).toEqual([
      'other.example/k',
      'PeterNeumann',
    ]);
  });

  it('rejects a note whose only known signature is bad: NOTE_BAD_SIGNATURE', () => {
    const bad = GO_SIG.slice(0, 60) + 'ABCD' + GO_SIG.slice(60);
    expect(code(() => openNote(`${GO_TEXT}\n${bad}`, [parseVerifierKey(GO_VKEY)]))).toBe(
      'NOTE_BAD_SIGNATURE',
    );
  });

  it('rejects a note without a signature by a known key: NOTE_UNVERIFIED', () => {
    expect(code(() => openNote(`${GO_TEXT}\n${ENOCH_SIG}`, [parseVerifierKey(GO_VKEY)]))).toBe(
      'NOTE_UNVERIFIED',
    );
  });

  it('rejects a changed text under a valid signature: NOTE_BAD_SIGNATURE', () => {
    const text = GO_TEXT.replace('answer', 'ANSWER');
    expect(code(() => openNote(`${text}\n${GO_SIG}`, [parseVerifierKey(GO_VKEY)]))).toBe(
      'NOTE_BAD_SIGNATURE',
    );
  });

  // The malformed inputs of Go's TestOpen, plus our own.
  const malformed: [string, string][] = [
    ['no signature block', GO_TEXT],
    ['blank line but no signatures', `${GO_TEXT}\n`],
    ['last signature line without newline', `${GO_TEXT}\n${GO_SIG.slice(0, -1)}`],
    ['ASCII control character', `\x01${GO_TEXT}\n${GO_SIG}`],
    ['tab', `a\tb\n\n${GO_SIG}`],
    ['carriage return', `${GO_TEXT.replace('\n', '\r\n')}\n${GO_SIG}`],
    [
      'space in key name',
      `${GO_TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    ],
    ['plus in key name', `${GO_TEXT}\n${GO_SIG.replace('PeterNeumann', 'Peter+Neumann')}`],
    ['line after signatures', `${GO_TEXT}\n${GO_SIG}Unexpected line.\n`],
    ['hyphen instead of em dash', `${GO_TEXT}\n${GO_SIG.replace('—', '-')}`],
    ['base64 outside the alphabet', `${GO_TEXT}\n${GO_SIG.replace('x08go', 'x08g!')}`],
    ['unpadded base64', `${GO_TEXT}\n${GO_SIG.replace('=\n', '\n')}`],
    ['signature shorter than a key ID', `${GO_TEXT}\n— PeterNeumann AAAA\n`],
    ['no key name', `${GO_TEXT}\n— x08go/ZJkuBS9UG=\n`],
    ['too many signatures', `${GO_TEXT}\n${GO_SIG.repeat(NOTE_MAX_SIGNATURES + 1)}`],
  ];
  for (const [name, text] of malformed) {
    it(`rejects a malformed note (${name}): NOTE_MALFORMED`, () => {
      expect(code(() => parseNote(text))).toBe('NOTE_MALFORMED');
    });
  }

  it('rejects invalid UTF-8 bytes: NOTE_MALFORMED', () => {
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${GO_TEXT}\n${GO_SIG}`)]);
    expect(code(() => parseNote(bytes))).toBe('NOTE_MALFORMED');
  });

  it('rejects an oversized note: NOTE_TOO_LARGE', () => {
    expect(code(() => parseNote(`${'a'.repeat(70_000)}\n\n${GO_SIG}`))).toBe('NOTE_TOO_LARGE');
  });

  it('rejects malformed verifier keys: NOTE_KEY_INVALID', () => {
    const b = GO_VKEY;
    for (const bad of [
      b.slice(1),
      b.slice(0, -1),
      b.replace('c74f20a3', 'c74f20a4'),
      'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
      'PeterNeumann+c74f20a3',
      `${b}+x`,
    ]) {
      expect(code(() => parseVerifierKey(bad))).toBe('NOTE_KEY_INVALID');
    }
    expect(code(() => ed25519NoteVerifier('a b', new Uint8Array(32)))).toBe('NOTE_KEY_INVALID');
    expect(code(() => ed25519NoteVerifier('ok', new Uint8Array(31)))).toBe('NOTE_KEY_INVALID');
  });
});
