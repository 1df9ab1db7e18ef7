import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, parseMessage, type ErrorCode } from '../src/index.js';
import { bareExamples, frame, hex, numRuns, sealAs, sealedExamples } from './fixtures.js';

const codeOf = (raw: string | Uint8Array): ErrorCode | 'OK' => {
  const result = parseMessage(raw);
  return result.ok ? 'OK' : result.error.code;
};

const rejected = (raw: string | Uint8Array) => {
  const result = parseMessage(raw);
  if (result.ok) throw new Error('expected a rejection');
  return result.error;
};

describe('parseMessage rejects', () => {
  it('malformed JSON with MALFORMED_JSON', () => {
    expect(codeOf('{"type":"hello",')).toBe('MALFORMED_JSON');
    expect(codeOf('')).toBe('MALFORMED_JSON');
  });

  it('invalid UTF-8 with MALFORMED_JSON', () => {
    expect(codeOf(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]))).toBe('MALFORMED_JSON');
  });

  it('an unknown type with UNKNOWN_MESSAGE_TYPE', () => {
    expect(codeOf(frame({ type: 'sign.forge' }))).toBe('UNKNOWN_MESSAGE_TYPE');
  });

  it('a frame without a string type with INVALID_MESSAGE at path type', () => {
    expect(rejected(frame({ kind: 'hello' }))).toMatchObject({
      code: 'INVALID_MESSAGE',
      path: ['type'],
    });
    expect(rejected('[1,2]')).toMatchObject({ code: 'INVALID_MESSAGE', path: [] });
    expect(codeOf('null')).toBe('INVALID_MESSAGE');
  });

  it('a frame over 64 KiB with FRAME_TOO_LARGE (string and bytes)', () => {
    const big = frame({ ...bareExamples.error, message: 'x'.repeat(MAX_FRAME_BYTES) });
    expect(codeOf(big)).toBe('FRAME_TOO_LARGE');
    expect(codeOf(Buffer.from(big))).toBe('FRAME_TOO_LARGE');
    // multi-byte characters count as bytes, not UTF-16 units
    expect(codeOf(`"${'é'.repeat(MAX_FRAME_BYTES / 2)}"`)).toBe('FRAME_TOO_LARGE');
  });

  it('an extra key with INVALID_MESSAGE (top level and nested)', () => {
    expect(rejected(frame({ ...bareExamples.hello, admin: true }))).toMatchObject({
      code: 'INVALID_MESSAGE',
      path: [],
    });
    const inbox = bareExamples.inbox;
    const nested = { ...inbox, items: [{ ...inbox.items[0], extra: 1 }] };
    expect(rejected(frame(nested))).toMatchObject({ code: 'INVALID_MESSAGE', path: ['items', 0] });
  });

  it('a wrong hex length with INVALID_MESSAGE at its path', () => {
    const short = { ...bareExamples['auth.response'], signature: hex(63) };
    expect(rejected(frame(short))).toMatchObject({ code: 'INVALID_MESSAGE', path: ['signature'] });
    const odd = { ...bareExamples['auth.response'], challenge: `${hex(32)}a` };
    expect(rejected(frame(odd))).toMatchObject({ code: 'INVALID_MESSAGE', path: ['challenge'] });
  });

  it('non-hex and uppercase hex with INVALID_MESSAGE', () => {
    const nonHex = { ...bareExamples['auth.response'], challenge: 'zz'.repeat(32) };
    expect(rejected(frame(nonHex))).toMatchObject({ code: 'INVALID_MESSAGE', path: ['challenge'] });
    const upper = { ...bareExamples['auth.response'], challenge: 'AB'.repeat(32) };
    expect(codeOf(frame(upper))).toBe('INVALID_MESSAGE');
  });

  it('a wrong hex length inside an envelope body with the nested path', () => {
    const envelope = sealAs(sealedExamples['round2.share']);
    const bad = { ...envelope, body: { ...envelope.body, shares: [hex(32), hex(33)] } };
    expect(rejected(frame(bad))).toMatchObject({
      code: 'INVALID_MESSAGE',
      path: ['body', 'shares', 1],
    });
  });

  it('__proto__ keys with INVALID_MESSAGE', () => {
    const raw = '{"type":"hello","protocolVersion":1,"__proto__":{"admin":true}}';
    expect(rejected(raw)).toMatchObject({ code: 'INVALID_MESSAGE', path: ['__proto__'] });
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });

  it('constructor and prototype keys, also nested, with INVALID_MESSAGE', () => {
    expect(rejected('{"type":"inbox.get","constructor":{"prototype":{}}}')).toMatchObject({
      code: 'INVALID_MESSAGE',
      path: ['constructor'],
    });
    const nested = '{"type":"inbox","items":[{"prototype":1}]}';
    expect(rejected(nested)).toMatchObject({
      code: 'INVALID_MESSAGE',
      path: ['items', 0, 'prototype'],
    });
  });

  it('a hello of another protocol version with PROTOCOL_VERSION_MISMATCH', () => {
    // 1 is the version before PROTOCOL_VERSION (a client older than signed pairwise boxes)
    for (const v of [1, PROTOCOL_VERSION + 1]) {
      expect(codeOf(frame({ type: 'hello', protocolVersion: v }))).toBe(
        'PROTOCOL_VERSION_MISMATCH',
      );
    }
    // a future hello may carry fields we do not know: still a version mismatch, not a schema error
    expect(codeOf(frame({ type: 'hello', protocolVersion: 9, features: ['x'] }))).toBe(
      'PROTOCOL_VERSION_MISMATCH',
    );
  });

  it('a sealed type sent bare with UNEXPECTED_MESSAGE', () => {
    expect(codeOf(frame(sealedExamples['round2.share']))).toBe('UNEXPECTED_MESSAGE');
  });

  it('a bare type inside an envelope with INVALID_MESSAGE at body.type', () => {
    const envelope = sealAs(sealedExamples['sign.approve']);
    const bad = { ...envelope, body: bareExamples.hello };
    expect(rejected(frame(bad))).toMatchObject({ code: 'INVALID_MESSAGE', path: ['body', 'type'] });
  });

  it('deep nesting with INVALID_MESSAGE', () => {
    const deep = `{"type":"inbox","items":${'['.repeat(40)}${']'.repeat(40)}}`;
    expect(codeOf(deep)).toBe('INVALID_MESSAGE');
  });

  it('duplicate members, threshold above n and reserved names with INVALID_MESSAGE', () => {
    const group = sealedExamples['admin.group.create'];
    const dup = { ...group, members: [group.members[0], group.members[0]] };
    expect(codeOf(frame({ ...sealAs(group), body: dup }))).toBe('INVALID_MESSAGE');
    const high = { ...group, threshold: 4 };
    expect(codeOf(frame({ ...sealAs(group), body: high }))).toBe('INVALID_MESSAGE');
    const reserved = { ...sealedExamples['admin.member.add'], member: 'coordinator' };
    expect(codeOf(frame({ ...sealAs(group), body: reserved }))).toBe('INVALID_MESSAGE');
  });

  it('artifact names with path separators and control characters with INVALID_MESSAGE', () => {
    const request = sealedExamples['sign.request'];
    const artifact = request.release.artifacts[0]!;
    for (const name of ['../etc/passwd', 'a/b', 'a\\b', '..', 'a\nb']) {
      const body = {
        ...request,
        release: { ...request.release, artifacts: [{ ...artifact, name }] },
      };
      expect(codeOf(frame({ ...sealAs(request), body }))).toBe('INVALID_MESSAGE');
    }
  });
});

describe('artifact names a person can read for what they are', () => {
  const request = sealedExamples['sign.request'];
  const artifact = request.release.artifacts[0]!;
  const withName = (name: string) =>
    frame({
      ...sealAs(request),
      body: { ...request, release: { ...request.release, artifacts: [{ ...artifact, name }] } },
    });

  it('refuses a homoglyph (Cyrillic а for Latin a) with INVALID_MESSAGE naming its code point', () => {
    const error = rejected(withName('\u0430pp-1.0.0.tgz'));
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.message).toContain('printable ASCII');
    expect(error.message).toContain('U+0430');
    expect(error.message).toContain('character 1');
  });

  it('refuses other non-ASCII letters, marks and symbols, and a space at either end', () => {
    for (const name of ['caf\u00e9.tgz', 'e\u0301.tgz', '\u{1F600}.tgz', ' app.tgz', 'app.tgz ']) {
      expect(rejected(withName(name)).code).toBe('INVALID_MESSAGE');
    }
  });

  it('accepts plain ASCII file names, inner spaces included', () => {
    for (const name of ['app-1.0.0.tar.gz', 'App Setup 1.0.exe', 'a+b~c@d=e,f_g.zip']) {
      expect(parseMessage(withName(name)).ok).toBe(true);
    }
  });
});

describe('parseMessage never echoes input and never throws', () => {
  const MARK = 'SECRET-d3adb33f';

  it('keeps input values out of error messages and paths', () => {
    const frames = [
      frame({ type: 'hello', protocolVersion: PROTOCOL_VERSION, [MARK]: MARK }),
      frame({ type: MARK }),
      frame({ ...bareExamples['auth.response'], member: MARK }),
      frame({ ...bareExamples.error, code: MARK }),
      `{"type":"hello","x":"${MARK}"`,
    ];
    for (const raw of frames) {
      const error = rejected(raw);
      expect(JSON.stringify(error)).not.toContain(MARK);
      expect(JSON.stringify(error)).not.toContain('d3adb33f');
    }
  });

  it('returns a coded result for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (raw) => {
        const result = parseMessage(raw);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns },
    );
  });

  it('returns a coded result for arbitrary JSON values with a known type', () => {
    const types = Object.keys(bareExamples).concat(Object.keys(sealedExamples));
    fc.assert(
      fc.property(
        fc.constantFrom(...types),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (type, rest) => {
          const result = parseMessage(JSON.stringify({ ...rest, type }));
          if (!result.ok) expect(result.error.code).toMatch(/^[A-Z_]+$/);
        },
      ),
      { numRuns },
    );
  });
});
