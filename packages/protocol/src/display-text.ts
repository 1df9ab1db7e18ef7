// Text a person reads before approving (notes, artifact names, reasons, error messages) must show
// exactly what is signed. So it may hold no character that moves the cursor, drives the terminal
// (C0/C1 controls: ESC, the 8-bit CSI U+009B), reorders the display (bidi overrides/isolates:
// Trojan Source, CVE-2021-42574), or is invisible (Unicode Cf, default-ignorables, tag
// characters), nor code points that are not text (unpaired surrogates, noncharacters).
// docs/threat-model.md; the CLI escapes the same set when it prints (apps/cli/src/output.ts).

/** Why a character is refused; see `findRefusedCharacter`. */
export type RefusedCharacterRule =
  'control' | 'separator' | 'invisible' | 'surrogate' | 'noncharacter';

export interface RefusedCharacter {
  /** UTF-16 index in the string (for `slice`). */
  readonly index: number;
  /** 1-based position counted in code points (what a person counts). */
  readonly position: number;
  readonly codePoint: number;
  readonly rule: RefusedCharacterRule;
}

// Unicode general category Cf (format: bidi controls, zero-width characters, U+FEFF, tag
// characters U+E0000–U+E007F) and Default_Ignorable_Code_Point (adds the Hangul fillers, the
// combining grapheme joiner and the variation selectors, which can carry hidden data). The set
// follows the Unicode version of the running Node; a character added later is refused once known.
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/** U+FE0E/U+FE0F only choose text or emoji style for the character before them: kept. */
const PRESENTATION_SELECTORS: ReadonlySet<number> = new Set([0xfe0e, 0xfe0f]);

/** The rule that refuses `codePoint` in human-displayed text, or undefined if it is allowed. */
export function refusedCharacterRule(codePoint: number): RefusedCharacterRule | undefined {
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint <= 0x9f)) return 'control';
  if (codePoint < 0xa0) return undefined;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 'surrogate';
  if ((codePoint >= 0xfdd0 && codePoint <= 0xfdef) || (codePoint & 0xfffe) === 0xfffe) {
    return 'noncharacter';
  }
  if (codePoint === 0x2028 || codePoint === 0x2029) return 'separator';
  if (PRESENTATION_SELECTORS.has(codePoint)) return undefined;
  return INVISIBLE.test(String.fromCodePoint(codePoint)) ? 'invisible' : undefined;
}

/**
 * The first character of `value` that human-displayed text may not hold, or undefined.
 * `allowNewline`: a line feed (U+000A) is allowed (multi-line text: git tag messages).
 */
export function findRefusedCharacter(
  value: string,
  options: { allowNewline?: boolean } = {},
): RefusedCharacter | undefined {
  let index = 0;
  let position = 0;
  // for…of walks code points; an unpaired surrogate comes out alone.
  for (const char of value) {
    position++;
    const codePoint = char.codePointAt(0)!;
    if (!(codePoint === 0x0a && options.allowNewline === true)) {
      const rule = refusedCharacterRule(codePoint);
      if (rule !== undefined) return { index, position, codePoint, rule };
    }
    index += char.length;
  }
  return undefined;
}

const WHAT: Record<RefusedCharacterRule, string> = {
  control: 'a control character (C0, DEL or C1; terminals act on them)',
  separator: 'a line or paragraph separator',
  invisible:
    'an invisible or bidirectional format character (text could display reordered or hide text)',
  surrogate: 'an unpaired UTF-16 surrogate',
  noncharacter: 'a Unicode noncharacter',
};

/**
 * What a person reads when text is refused: the kind of character, its code point (from the
 * refused set, so never content worth hiding) and where it is. Never the text itself.
 */
export function describeRefusedCharacter(found: RefusedCharacter): string {
  const hex = found.codePoint.toString(16).toUpperCase().padStart(4, '0');
  return `${WHAT[found.rule]}, U+${hex} at character ${found.position}, is not allowed; remove it`;
}

/**
 * `text` as the protocol's text() accepts it in a message: every character it refuses in displayed
 * text (refusedCharacterRule: C0/C1 controls, DEL, bidi and invisible format characters,
 * separators, unpaired surrogates, noncharacters) becomes `replacement`, and the text is cut to
 * `maxLength` UTF-16 units at a code point boundary, so that no cut leaves a lone surrogate.
 * Otherwise sealing the message fails (INVALID_MESSAGE) and it is never sent.
 */
export function printableText(text: string, maxLength: number, replacement = ' '): string {
  let out = '';
  for (const ch of text) {
    const kept = refusedCharacterRule(ch.codePointAt(0)!) === undefined ? ch : replacement;
    if (out.length + kept.length > maxLength) break;
    out += kept;
  }
  return out;
}
