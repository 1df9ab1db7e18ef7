// The raw format signs an artifact's bytes with the key every other format signs with: bytes that
// another format reads as its signed message are refused (raw-guard.ts), so that a raw signature is
// never also a signature, in that format, over something no approver saw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFormatError, planJobs, rawContentConflict } from '../src/index.js';
import { artifactRef, enc, makeContext, makeRelease, sign } from './formats-support.js';

const numRuns = Number(process.env['FC_NUM_RUNS'] ?? 25);

/**
 * Random artifact bytes the raw format takes (the planner plans raw too): random bytes read as
 * none of the other formats' messages are rare, not impossible (all zeros after a line break
 * read as a minisign signature and trusted comment), so such draws are left out.
 */
const artifactContent = fc
  .uint8Array({ minLength: 65, maxLength: 400 })
  .map((b) => Uint8Array.of(...b, 0x0a))
  .filter((b) => rawContentConflict(b) === undefined);

/** Every message the planner signs for a release of `content`, phases 1 and 2, by job id. */
function messages(content: Record<string, Uint8Array>): Map<string, Uint8Array> {
  const release = makeRelease(undefined, content);
  const ctx = makeContext(release, { content });
  const out = new Map<string, Uint8Array>();
  const sigs = new Map<string, Uint8Array>();
  for (const j of planJobs(ctx, 1)) {
    out.set(j.id, j.message);
    sigs.set(j.id, sign(j.message));
  }
  for (const j of planJobs(ctx, 2, sigs)) out.set(j.id, j.message);
  return out;
}

describe('rawContentConflict', () => {
  it('refuses every message another format signs, whatever the release', () => {
    fc.assert(
      fc.property(artifactContent, artifactContent, (a, b) => {
        const all = messages({ 'app.tar.gz': a, 'app-arm64.tar.gz': b });
        for (const [id, message] of all) {
          if (id.startsWith('raw:')) continue;
          expect(rawContentConflict(message), id).toBeDefined();
        }
        // Every format took part: the property covers them all.
        const kinds = new Set([...all.keys()].map((id) => id.split(':')[0]));
        expect([...kinds].sort()).toEqual(
          [
            'dsse',
            'git-tag',
            'jws',
            'minisign',
            'minisign-global',
            'openpgp',
            'openpgp-cert',
            'raw',
            'signify',
            'sshsig',
          ].sort(),
        );
      }),
      { numRuns },
    );
  });

  it('names what the bytes read as', () => {
    expect(rawContentConflict(new Uint8Array(32))).toMatch(/32-byte digest/);
    for (const n of [20, 28, 48, 64]) expect(rawContentConflict(new Uint8Array(n))).toBeDefined();
    expect(rawContentConflict(enc('DSSEv1 28 application/vnd.in-toto+json 2 {}'))).toMatch(/DSSE/);
    expect(rawContentConflict(enc(`SSHSIG${'\0'.repeat(80)}`))).toMatch(/SSHSIG/);
    const header = Buffer.from('{"alg":"EdDSA"}').toString('base64url');
    expect(rawContentConflict(enc(`${header}.${'x'.repeat(80)}`))).toMatch(/JWS/);
    expect(rawContentConflict(enc(`SHA256 (evil.tgz) = ${'ab'.repeat(32)}\n`))).toMatch(/signify/);
    // A real-looking signature (S below L) and one line of text: a minisign global message.
    const sig = sign(enc('anything'));
    const global = Uint8Array.of(...sig, ...enc('timestamp:1\tfile:evil.tgz\tversion:9.9.9'));
    expect(rawContentConflict(global)).toMatch(/minisign/);
  });

  it('JWS: a protected header past 64 KiB, whitespace before it, an empty one (flattened)', () => {
    // jose puts no bound on the header, its base64url decoder skips ASCII whitespace and takes
    // `=` padding, and a flattened JWS without a protected header signs "." ‖ payload.
    const payload = `.${'x'.repeat(80)}`;
    const long = Buffer.from(`{"alg":"EdDSA","x":"${'a'.repeat(70 * 1024)}"}`).toString(
      'base64url',
    );
    expect(long.length).toBeGreaterThan(64 * 1024);
    expect(rawContentConflict(enc(`${long}${payload}`))).toMatch(/JWS/);
    const header = Buffer.from('{"alg":"EdDSA"}').toString('base64url');
    expect(rawContentConflict(enc(` \n\t${header}${payload}`))).toMatch(/JWS/);
    expect(
      rawContentConflict(enc(`${header.slice(0, 8)}\r\n${header.slice(8)}${payload}`)),
    ).toMatch(/JWS/);
    expect(
      rawContentConflict(
        enc(`${Buffer.from('{"alg":"EdDSA"} ').toString('base64url')}==${payload}`),
      ),
    ).toMatch(/JWS/);
    expect(rawContentConflict(enc(payload))).toMatch(/JWS/);
    // Any JSON value (older jose takes one beside an unprotected header naming the algorithm).
    expect(rawContentConflict(enc(`${Buffer.from('1').toString('base64url')}${payload}`))).toMatch(
      /JWS/,
    );
  });

  it('signify: a first line with whitespace before SHA256 or a run of it before "("', () => {
    // signify -C reads a line with sscanf("%31s (%1023s = %223s"): `%31s` skips leading
    // whitespace, ` (` takes any run of it (the run may outlast the 64 KiB prefix).
    const digest = 'ab'.repeat(32);
    expect(rawContentConflict(enc(` \t\vSHA256 (evil.tgz) = ${digest}\n`))).toMatch(/signify/);
    expect(rawContentConflict(enc(`SHA512\t\f (evil.tgz) = ${digest}${digest}\n`))).toMatch(
      /signify/,
    );
    expect(
      rawContentConflict(enc(`${' '.repeat(70 * 1024)}SHA256 (evil.tgz) = ${digest}\n`)),
    ).toMatch(/signify/);
    expect(
      rawContentConflict(enc(`SHA256${' '.repeat(70 * 1024)}(evil.tgz) = ${digest}\n`)),
    ).toMatch(/signify/);
    // And past the first line, as any checksum tool that skips what it cannot parse reads it.
    expect(rawContentConflict(enc(`notes\n\tSHA256  (evil.tgz) = ${digest}\n`))).toMatch(/signify/);
  });

  it('minisign: a signature and a trusted comment that is not UTF-8', () => {
    // minisign reads the trusted comment up to the line break and never checks its encoding.
    const sig = sign(enc('anything'));
    const global = Uint8Array.of(...sig, 0xff, 0xfe, ...enc('file:evil.tgz'), 0xc3);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(global.subarray(64))).toThrow();
    expect(rawContentConflict(global)).toMatch(/minisign/);
  });

  it('TUF and in-toto: a JSON object, whitespace before it too; planJobs says to leave raw out', () => {
    // TUF and in-toto sign canonical_json(signed), an object (quorum.tuf.json exports the key).
    const signed = `{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{},"version":2}`;
    expect(rawContentConflict(enc(signed))).toMatch(/JSON object.*TUF/);
    expect(rawContentConflict(enc(` \r\n\t${signed}\n`))).toMatch(/JSON object/);
    const content = { 'release.json': enc(`{"name":"app","version":"1.0.0"${' '.repeat(60)}}`) };
    expect(() =>
      planJobs(makeContext(makeRelease(['raw', 'dsse'], content, undefined), { content }), 1),
    ).toThrow(/release\.json.*JSON object.*without raw/);
  });

  it('lets ordinary files through: text with line breaks, one long line of text, binary', () => {
    expect(rawContentConflict(enc('conclave golden artifact\n'))).toBeUndefined();
    expect(rawContentConflict(enc('second artifact\n'))).toBeUndefined();
    // A dot after a first word that is no base64 of JSON, a JSON array, a line naming SHA256.
    expect(rawContentConflict(enc(`Version 1.0.0 of the app. ${'-'.repeat(60)}\n`))).toBe(
      undefined,
    );
    expect(rawContentConflict(enc(`1.2.3${' '.repeat(60)}\n`))).toBeUndefined();
    expect(rawContentConflict(enc(`["app","1.0.0"${' '.repeat(60)}]\n`))).toBeUndefined();
    expect(rawContentConflict(enc(`SHA256 sums are in SHA256.sig${' '.repeat(60)}\n`))).toBe(
      undefined,
    );
    // One line of ASCII: its bytes 32..63 read as S are above L, so no signature starts it.
    expect(rawContentConflict(enc('a'.repeat(200)))).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 65, maxLength: 2000 }), (b) => {
        // An ELF-like header, and a line break somewhere past byte 64 (as in any real binary:
        // without one, 64 random bytes then a short valid-UTF-8 tail could read as minisign's).
        const file = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, ...b, 0x0a);
        expect(rawContentConflict(file)).toBeUndefined();
      }),
      { numRuns },
    );
  });

  it('planJobs refuses a raw job over such bytes (RAW_CONTENT_AMBIGUOUS), naming the artifact', () => {
    const content = {
      'notes.txt': enc('DSSEv1 28 application/vnd.in-toto+json 2 {}'),
    };
    const release = makeRelease(['raw', 'dsse'], content, undefined);
    expect(release.artifacts[0]).toEqual(artifactRef('notes.txt', content['notes.txt']));
    let caught: unknown;
    try {
      planJobs(makeContext(release, { content }), 1);
    } catch (e) {
      caught = e;
    }
    expect(isFormatError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'RAW_CONTENT_AMBIGUOUS' });
    expect((caught as Error).message).toMatch(/notes\.txt.*without raw/);
    // By digest only, the same file is fine.
    expect(() =>
      planJobs(makeContext(makeRelease(['minisign', 'dsse'], content, undefined), { content }), 1),
    ).not.toThrow();
  });
});
