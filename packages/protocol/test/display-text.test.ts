// Text a person reads at the approval prompt (notes, artifact names, reasons, error messages):
// every character the protocol refuses, one test per rule, each through `parseMessage` and
// asserting the code; then the property that the refused set is exactly what is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GitTagSchema,
  ProtocolError,
  findRefusedCharacter,
  parseMessage,
  sealEnvelope,
  type ProtocolIssue,
} from '../src/index.js';
import {
  CEREMONY,
  alice,
  bareExamples,
  frame,
  numRuns,
  sealAs,
  sealedExamples,
} from './fixtures.js';

const request = sealedExamples['sign.request'];
const artifact = request.release.artifacts[0]!;

/** A sign.request frame whose release note is `note`. */
const withNote = (note: string): string =>
  frame({ ...sealAs(request), body: { ...request, release: { ...request.release, note } } });

/** A sign.request frame whose only artifact is named `name`. */
const withArtifactName = (name: string): string =>
  frame({
    ...sealAs(request),
    body: { ...request, release: { ...request.release, artifacts: [{ ...artifact, name }] } },
  });

const refusal = (raw: string): ProtocolIssue => {
  const result = parseMessage(raw);
  if (result.ok) throw new Error('expected a rejection');
  return result.error;
};

const NOTE_PATH = ['body', 'release', 'note'];

describe('human-displayed text refuses', () => {
  it('C0 control characters (ESC starts a terminal escape sequence) with INVALID_MESSAGE', () => {
    for (const c of ['\u0000', '\u0007', '\u001b', '\r', '\t', '\n']) {
      expect(refusal(withNote(`quarterly${c}[2Jrelease`))).toMatchObject({
        code: 'INVALID_MESSAGE',
        path: NOTE_PATH,
      });
    }
  });

  it('DEL with INVALID_MESSAGE', () => {
    expect(refusal(withNote('a\u007fb')).code).toBe('INVALID_MESSAGE');
  });

  it('C1 control characters (8-bit CSI U+009B, NEL U+0085) with INVALID_MESSAGE', () => {
    for (const c of ['\u0080', '\u0085', '\u009b', '\u009d', '\u009f']) {
      expect(refusal(withNote(`a${c}31mb`))).toMatchObject({
        code: 'INVALID_MESSAGE',
        path: NOTE_PATH,
      });
    }
  });

  it('bidirectional overrides and embeddings (U+202A–U+202E) with INVALID_MESSAGE', () => {
    for (const c of ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e']) {
      // Trojan Source: "app-\u202Ezyx.tgz" displays as "app-zgt.xyz"
      expect(refusal(withArtifactName(`app-${c}zyx.tgz`))).toMatchObject({
        code: 'INVALID_MESSAGE',
        path: ['body', 'release', 'artifacts', 0, 'name'],
      });
    }
  });

  it('bidirectional isolates (U+2066–U+2069) and the Arabic letter mark U+061C with INVALID_MESSAGE', () => {
    for (const c of ['\u2066', '\u2067', '\u2068', '\u2069', '\u061c', '\u200e', '\u200f']) {
      expect(refusal(withNote(`ok${c}evil`)).code).toBe('INVALID_MESSAGE');
    }
  });

  it('other invisible format characters (Unicode Cf) with INVALID_MESSAGE', () => {
    const cf = [
      '\u00ad', // soft hyphen
      '\u180e', // Mongolian vowel separator
      '\u200b', // zero-width space
      '\u200c',
      '\u200d', // zero-width joiner
      '\u2060', // word joiner
      '\u2064', // invisible plus
      '\ufeff', // BOM / zero-width no-break space
      '\ufff9', // interlinear annotation anchor
      '\u{e0001}', // language tag
      '\u{e0041}', // tag latin capital A ("ASCII smuggling")
    ];
    for (const c of cf) expect(refusal(withNote(`a${c}b`)).code).toBe('INVALID_MESSAGE');
  });

  it('default-ignorable characters outside Cf (Hangul fillers, variation selectors 1–14 and 17–256) with INVALID_MESSAGE', () => {
    for (const c of ['\u115f', '\u3164', '\uffa0', '\u034f', '\ufe00', '\u{e0100}', '\u{e01ef}']) {
      expect(refusal(withNote(`a${c}b`)).code).toBe('INVALID_MESSAGE');
    }
  });

  it('line and paragraph separators (U+2028, U+2029) with INVALID_MESSAGE', () => {
    for (const c of ['\u2028', '\u2029']) {
      expect(refusal(withNote(`a${c}b`)).code).toBe('INVALID_MESSAGE');
    }
  });

  it('unpaired surrogates (only reachable through a JSON \\u escape) with INVALID_MESSAGE', () => {
    for (const c of ['\\ud800', '\\udfff', 'x\\udc00\\ud800']) {
      const raw = withNote('PLACEHOLDER').replace('PLACEHOLDER', c);
      expect(refusal(raw)).toMatchObject({ code: 'INVALID_MESSAGE', path: NOTE_PATH });
    }
  });

  it('noncharacters (U+FDD0–U+FDEF, U+nFFFE, U+nFFFF) with INVALID_MESSAGE', () => {
    for (const c of ['\ufdd0', '\ufdef', '\ufffe', '\uffff', '\u{1fffe}', '\u{10ffff}']) {
      expect(refusal(withNote(`a${c}b`)).code).toBe('INVALID_MESSAGE');
    }
  });

  it('a git tag message: newlines are fine, bidi and C1 controls are not', () => {
    const tag = {
      object: 'a'.repeat(40),
      type: 'commit',
      tag: 'v1.2.3',
      tagger: { name: 'Carol', email: 'carol@example.com', time: 1_700_000_000, tz: '+0000' },
      message: 'Release v1.2.3\n\nWith notes.\n',
    };
    expect(GitTagSchema.safeParse(tag).success).toBe(true);
    for (const message of ['Release\u202e', 'a\u009bb', 'a\u2028b', 'a\r\nb', 'a\u200bb']) {
      expect(GitTagSchema.safeParse({ ...tag, message }).success).toBe(false);
    }
    const name = 'Car\u202eol';
    expect(GitTagSchema.safeParse({ ...tag, tagger: { ...tag.tagger, name } }).success).toBe(false);
  });

  it('in every human-displayed field: reasons, incidents, coordinator error and abort messages', () => {
    const bidi = 'fine\u202eenif';
    const frames = [
      frame({
        ...sealAs(request),
        body: { ...request, release: { ...request.release, incident: bidi } },
      }),
      frame({ ...sealAs(request), body: { ...sealedExamples['sign.reject'], reason: bidi } }),
      frame({ ...sealAs(request), body: { ...sealedExamples['ceremony.cancel'], reason: bidi } }),
      frame({ ...sealAs(request), body: { ...sealedExamples['sign.aborted'], message: bidi } }),
      frame({ ...bareExamples.error, message: 'authenticate\u009b2J first' }),
      frame({ ...bareExamples.hello, client: bidi }),
      frame({
        ...bareExamples['ceremony.status'],
        rejections: [{ member: 'bob', reason: bidi }],
      }),
      frame({
        ...bareExamples.inbox,
        items: [{ ...bareExamples.inbox.items[0]!, version: '1.4.0\u2067' }],
      }),
    ];
    for (const raw of frames) expect(refusal(raw).code).toBe('INVALID_MESSAGE');
  });
});

describe('the refusal message', () => {
  it('names the kind of character and where it is, and never echoes the text', () => {
    const error = refusal(withNote('SECRET-d3adb33f\u202eX'));
    expect(error.message).toMatch(/bidirectional|invisible/);
    expect(error.message).toContain('character 16');
    expect(error.message).toContain('U+202E');
    expect(JSON.stringify(error)).not.toContain('d3adb33f');
    expect(refusal(withNote('a\u009bb')).message).toMatch(/control character/);
    expect(refusal(withNote('a\u2028b')).message).toMatch(/line or paragraph separator/);
    expect(refusal(withNote('a\ufdd0b')).message).toMatch(/noncharacter/);
  });
});

describe('sealing refused text (the sender side: `conclave reject --reason …`)', () => {
  it('throws INVALID_MESSAGE naming the field, the kind of character and where it is', () => {
    const body = { ...sealedExamples['sign.reject'], reason: 'looks fine\u202e' };
    const seal = () =>
      sealEnvelope(alice, {
        ceremonyId: CEREMONY,
        round: 'sign.reject',
        seq: 0,
        sender: 'alice',
        body,
      });
    expect(seal).toThrow(ProtocolError);
    try {
      seal();
    } catch (e) {
      expect(e).toMatchObject({ code: 'INVALID_MESSAGE', path: ['body', 'reason'] });
      expect((e as Error).message).toMatch(
        /body\.reason: .*bidirectional.*U\+202E at character 11/,
      );
      expect((e as Error).message).not.toContain('looks fine');
    }
  });
});

describe('human-displayed text accepts', () => {
  it('printable text in any script, emoji with presentation selectors included', () => {
    for (const note of [
      'Grüße aus Köln — “quoted” café',
      'שלום עולם', // right-to-left letters are fine: only the invisible controls are refused
      'مرحبا',
      '版本说明 リリース',
      'fix 🐛 ❤️ ✔︎ 👍🏽',
      '\u00a0non-breaking space',
      '',
    ]) {
      expect(parseMessage(withNote(note)).ok, note).toBe(true);
    }
  });
});

/** Refused code points, written independently of the implementation (the spec of this file). */
const refused = (cp: number): boolean => {
  const c = String.fromCodePoint(cp);
  if (cp === 0xfe0e || cp === 0xfe0f) return false;
  return (
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u.test(c) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe
  );
};

const anyCodePoint = fc.oneof(
  fc.integer({ min: 0, max: 0x2fff }),
  fc.integer({ min: 0, max: 0x10ffff }),
  fc.constantFrom(0x9b, 0x202e, 0x2066, 0x2028, 0xfeff, 0x200b, 0xd800, 0xfffe, 0xe0041),
);
const refusedChar = anyCodePoint
  .filter(refused)
  .map((cp) => (cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp)));
const printableChar = anyCodePoint
  .filter((cp) => !refused(cp))
  .map((cp) => String.fromCodePoint(cp));

describe('property: the refused set is exactly what is refused', () => {
  it('any note containing a refused character is refused with INVALID_MESSAGE', () => {
    fc.assert(
      fc.property(
        fc.array(printableChar, { maxLength: 40 }),
        refusedChar,
        fc.nat(),
        (chars, bad, at) => {
          const i = at % (chars.length + 1);
          const note = [...chars.slice(0, i), bad, ...chars.slice(i)].join('');
          fc.pre(note.length <= 1024);
          expect(findRefusedCharacter(note)?.index).toBe(chars.slice(0, i).join('').length);
          expect(refusal(withNote(note))).toMatchObject({
            code: 'INVALID_MESSAGE',
            path: NOTE_PATH,
          });
        },
      ),
      { numRuns },
    );
  });

  it('any note of printable, non-format characters within 1024 UTF-16 units is accepted', () => {
    fc.assert(
      fc.property(fc.array(printableChar, { maxLength: 300 }), (chars) => {
        const note = chars.join('').slice(0, 1024);
        // slicing may split a surrogate pair at the end: drop the half
        const whole = /[\ud800-\udbff]$/.test(note) ? note.slice(0, -1) : note;
        expect(findRefusedCharacter(whole)).toBeUndefined();
        expect(parseMessage(withNote(whole)).ok).toBe(true);
      }),
      { numRuns },
    );
  });
});
