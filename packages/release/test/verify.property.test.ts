/**
 * verifySignature treats every input as hostile: random mutations of valid signature and key files
 * (bit flips, cuts, insertions, line edits) give `{ ok: false, code }` from the closed list — never
 * an exception and never the catch-all for parser bugs. Any change to the artifact is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assemble,
  detectKey,
  isFormatError,
  VERIFY_FAILURE_CODES,
  verifySignature,
} from '../src/index.js';
import { CONTENT, makeContext, signAll } from './formats-support.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 20);
const ctx = makeContext();
const files = assemble(ctx, signAll(ctx));
const sigs = files.filter((f) => f.kind === 'signature');
const keys = files.filter((f) => f.kind === 'key');
const art = CONTENT['app.tar.gz']!;

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'cut'; at: number; len: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'line'; at: number; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({
    kind: fc.constant('cut' as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('line' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string(),
      fc.constantFrom('', '=AAAA', '-----END SSH SIGNATURE-----', '{}', 'trusted comment: x'),
    ),
  }),
);

function apply(b: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let out = Uint8Array.from(b);
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    switch (m.kind) {
      case 'flip':
        if (out.length) out[at % out.length]! ^= 1 << m.bit;
        break;
      case 'cut':
        out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + m.len)]);
        break;
      case 'insert':
        out = new Uint8Array([...out.subarray(0, at), ...m.bytes, ...out.subarray(at)]);
        break;
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'line': {
        const lines = new TextDecoder().decode(out).split('\n');
        lines[m.at % lines.length] = m.text;
        out = new TextEncoder().encode(lines.join('\n'));
        break;
      }
    }
  }
  return out;
}

function wellFormed(r: ReturnType<typeof verifySignature>): void {
  expect(typeof r.ok).toBe('boolean');
  if (!r.ok) {
    expect(VERIFY_FAILURE_CODES).toContain(r.code);
    expect(r.reason).not.toMatch(/^internal error/);
  }
}

describe('verifySignature on hostile input', () => {
  it('never throws on mutated signature files', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: sigs.length - 1 }),
        fc.nat({ max: keys.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (si, ki, ms) => {
          const r = verifySignature({
            key: keys[ki]!.bytes,
            signature: apply(sigs[si]!.bytes, ms),
            artifact: art,
          });
          wellFormed(r);
        },
      ),
      { numRuns: NUM_RUNS * 20 },
    );
  });

  it('never throws on mutated key files (detectKey throws only FormatError)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: sigs.length - 1 }),
        fc.nat({ max: keys.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (si, ki, ms) => {
          const key = apply(keys[ki]!.bytes, ms);
          wellFormed(verifySignature({ key, signature: sigs[si]!.bytes, artifact: art }));
          try {
            detectKey(key);
          } catch (e) {
            expect(isFormatError(e)).toBe(true);
          }
        },
      ),
      { numRuns: NUM_RUNS * 20 },
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 200 }),
        (sig, key) => {
          wellFormed(verifySignature({ key, signature: sig, artifact: art }));
        },
      ),
      { numRuns: NUM_RUNS * 10 },
    );
  });

  it('refuses every signature once the artifact changes', () => {
    const bound = sigs.filter(
      (f) => f.format !== 'git' && (f.artifact === undefined || f.artifact === 'app.tar.gz'),
    );
    fc.assert(
      fc.property(
        fc.nat({ max: bound.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (si, ms) => {
          const changed = apply(art, ms);
          fc.pre(Buffer.compare(Buffer.from(changed), Buffer.from(art)) !== 0);
          const r = verifySignature({
            key: keys[0]!.bytes,
            signature: bound[si]!.bytes,
            artifact: changed,
          });
          expect(r.ok).toBe(false);
        },
      ),
      { numRuns: NUM_RUNS * 5 },
    );
  });
});
