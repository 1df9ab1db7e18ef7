// Untrusted text on a terminal: what a hostile coordinator or member sends is printed with its
// control and format characters as visible escapes, in human and in --json output.
import { ClientError } from '@conclave/client';
import { refusedCharacterRule } from '@conclave/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import { jsonForTerminal, makeCtx, printError, terminalSafe, writeOut } from '../src/output.js';

const numRuns = Number(process.env['FC_NUM_RUNS'] ?? 20);

/** Captures what `fn` writes to stdout and stderr. */
function capture(fn: () => void): { out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const origErr = process.stderr.write.bind(process.stderr);
  const origOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stderr.write = origErr;
    process.stdout.write = origOut;
  }
  return { out: out.join(''), err: err.join('') };
}

/** True if `s` holds a character a terminal could act on or hide (a newline excepted if kept). */
const hasRawRefused = (s: string, keepNewlines = false): boolean =>
  [...s].some((c) => !(keepNewlines && c === '\n') && refusedCharacterRule(c.codePointAt(0)!));

describe('terminalSafe', () => {
  it('escapes C0 escape sequences, carriage returns and tabs', () => {
    expect(terminalSafe('a\u001b[2Jb')).toBe('a\\u{1B}[2Jb');
    expect(terminalSafe('ok\rFAKE')).toBe('ok\\u{D}FAKE');
    expect(terminalSafe('a\tb\u0007')).toBe('a\\u{9}b\\u{7}');
  });

  it('escapes DEL and C1 controls (the 8-bit CSI U+009B)', () => {
    expect(terminalSafe('a\u007fb\u009b31mc\u0085')).toBe('a\\u{7F}b\\u{9B}31mc\\u{85}');
  });

  it('escapes bidi overrides and isolates (Trojan Source)', () => {
    expect(terminalSafe('app-\u202ezyx.tgz')).toBe('app-\\u{202E}zyx.tgz');
    expect(terminalSafe('\u2066a\u2069\u061c')).toBe('\\u{2066}a\\u{2069}\\u{61C}');
  });

  it('escapes invisible format characters, separators, unpaired surrogates and noncharacters', () => {
    expect(terminalSafe('a\u200bb\ufeffc\u180e')).toBe('a\\u{200B}b\\u{FEFF}c\\u{180E}');
    expect(terminalSafe('\u{e0041}\u3164')).toBe('\\u{E0041}\\u{3164}');
    expect(terminalSafe('a\u2028b\u2029')).toBe('a\\u{2028}b\\u{2029}');
    expect(terminalSafe('x\ud800y\udfff')).toBe('x\\u{D800}y\\u{DFFF}');
    expect(terminalSafe('\ufdd0\uffff')).toBe('\\u{FDD0}\\u{FFFF}');
  });

  it('escapes a newline in a single field, and keeps it in a block the CLI composed', () => {
    expect(terminalSafe('line\nconclave: forged')).toBe('line\\u{A}conclave: forged');
    expect(terminalSafe('one\ntwo\r', { keepNewlines: true })).toBe('one\ntwo\\u{D}');
  });

  it('leaves printable text in any script alone', () => {
    for (const s of ['Grüße — “ok” …', 'שלום', 'مرحبا', '版本 ✓', 'fix 🐛 ❤️ 👍🏽', 'C:\\path']) {
      expect(terminalSafe(s)).toBe(s);
    }
  });

  it('property: the output holds no refused character, and printable text is unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.boolean(), (s, keep) => {
        const safe = terminalSafe(s, { keepNewlines: keep });
        expect(hasRawRefused(safe, keep)).toBe(false);
        if (!hasRawRefused(s)) expect(terminalSafe(s)).toBe(s);
      }),
      { numRuns },
    );
  });
});

describe('jsonForTerminal', () => {
  it('escapes what JSON.stringify leaves raw (C1, bidi, U+2028/9, tags) and parses to the same value', () => {
    const value = { message: 'a\u009b2Jb \u202eevil\u2066 \u2028x\u2029 \u200b\ufeff \u{e0041}' };
    // The reason this exists: JSON.stringify escapes C0 only.
    expect(hasRawRefused(JSON.stringify(value))).toBe(true);
    const json = jsonForTerminal(value, 2);
    expect(hasRawRefused(json, true)).toBe(false);
    expect(json).toContain('\\u009b');
    expect(json).toContain('\\u202e');
    expect(json).toContain('\\udb40\\udc41');
    expect(JSON.parse(json)).toEqual(value);
  });

  it('property: lossless for any JSON value, and no raw refused character', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (value, space) => {
        const json = jsonForTerminal(value, space);
        expect(hasRawRefused(json, true)).toBe(false);
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns },
    );
  });
});

describe('printing untrusted text', () => {
  const hostile = 'refused\u001b]0;owned\u0007 \u009b2J \u202eevil\nconclave: ok';

  it('printError escapes a coordinator-sent message in human output, newline included', () => {
    const { err } = capture(() => printError(new ClientError('CEREMONY_CLOSED', hostile), false));
    expect(err).toBe(
      'conclave: CEREMONY_CLOSED: refused\\u{1B}]0;owned\\u{7} \\u{9B}2J \\u{202E}evil\\u{A}conclave: ok — see `conclave status ID`\n',
    );
  });

  it('printError --json escapes it too and stays parseable to the same message', () => {
    const { out } = capture(() => printError(new CliError('TIMEOUT', hostile), true));
    expect(hasRawRefused(out.slice(0, -1))).toBe(false);
    expect(JSON.parse(out)).toEqual({
      ok: false,
      error: { code: 'TIMEOUT', message: hostile, next: 'try again, or raise --timeout' },
    });
  });

  it('progress lines and human results escape control and format characters, keeping line breaks', () => {
    const ctx = makeCtx({});
    const { out, err } = capture(() => {
      ctx.progress(`[carol] ${hostile}`);
      ctx.result({}, `note: \u202eevil\nversion: 1.0`);
    });
    expect(err).toBe(
      '[carol] refused\\u{1B}]0;owned\\u{7} \\u{9B}2J \\u{202E}evil\nconclave: ok\n',
    );
    expect(out).toBe('note: \\u{202E}evil\nversion: 1.0\n');
  });

  it('--json results escape what JSON.stringify leaves raw', () => {
    const { out } = capture(() => makeCtx({ json: true }).result({ note: hostile }, ''));
    expect(hasRawRefused(out, true)).toBe(false);
    expect(JSON.parse(out)).toEqual({ ok: true, note: hostile });
  });

  it('writeOut (audit and log reports) escapes fetched names and details, keeping line breaks', () => {
    const { out } = capture(() => writeOut(`  ✓ checkpoint — ${hostile}\n`));
    expect(out).toBe(
      '  ✓ checkpoint — refused\\u{1B}]0;owned\\u{7} \\u{9B}2J \\u{202E}evil\nconclave: ok\n',
    );
  });
});
