/**
 * Manifest invariants (fast-check; FC_NUM_RUNS, default 20): any valid batch, in any input order,
 * gives one root over leaves sorted by UTF-8 bytes; its file round-trips; and any edit to the file
 * is refused with a ManifestError (never another exception, never a different batch).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  artifactNameProblem,
  buildManifest,
  isManifestError,
  manifestLeafHash,
  parseManifest,
  serializeManifest,
  type ManifestEntry,
} from '../src/manifest.js';
import { rootFromLeafHashes } from '../src/merkle.js';

const numRuns = (() => {
  const n = Number.parseInt(process.env['FC_NUM_RUNS'] ?? '20', 10);
  return Number.isFinite(n) && n > 0 ? n : 20;
})();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Names mixing ASCII, Latin-1, BMP above the surrogates (U+E000..) and astral characters.
const nameChar = fc.oneof(
  fc.constantFrom('a', 'b', 'Z', '0', '.', '-', '_', ' ', '"'),
  fc.constantFrom('é', 'ß', '\u00a0'),
  fc.constantFrom('\uE000', '\uFB01', '\uFFFD'),
  fc.constantFrom('😀', '𝄞', '\u{10FFFF}'),
);
const nameArb = fc
  .array(nameChar, { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(''))
  .filter((n) => artifactNameProblem(n) === undefined);
const entriesArb = fc.uniqueArray(nameArb, { minLength: 1, maxLength: 40 }).map((names) =>
  names.map((name): ManifestEntry => ({
    name,
    sha256: createHash('sha256').update(name).digest('hex'),
    sha512: createHash('sha512').update(name).digest('hex'),
  })),
);

describe('manifest properties', () => {
  it('one root for any input order, over leaves sorted by UTF-8 bytes', () => {
    fc.assert(
      fc.property(entriesArb, fc.integer(), (entries, seed) => {
        const m = buildManifest(entries);
        const byBytes = [...entries].sort((a, b) =>
          Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
        );
        expect(m.entries.map((e) => e.name)).toEqual(byBytes.map((e) => e.name));
        expect(m.rootHex).toBe(hex(rootFromLeafHashes(byBytes.map(manifestLeafHash))));
        const shuffled = [...entries]
          .map((e, i) => ({ e, k: Math.imul(i + 1, seed | 1) >>> 7 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.e);
        expect(buildManifest(shuffled).rootHex).toBe(m.rootHex);
        expect(buildManifest(byBytes, { requireSorted: true }).rootHex).toBe(m.rootHex);
      }),
      { numRuns },
    );
  });

  it('the file round-trips', () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const m = buildManifest(entries);
        const back = parseManifest(serializeManifest(m));
        expect(back.rootHex).toBe(m.rootHex);
        expect(back.entries).toEqual(m.entries);
      }),
      { numRuns },
    );
  });

  it('any edit to the file is refused with a ManifestError', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        ch: fc.string({ minLength: 1, maxLength: 2 }),
      }),
      fc.record({
        kind: fc.constant('replace' as const),
        at: fc.nat(),
        ch: fc.string({ minLength: 1, maxLength: 1 }),
      }),
      fc.record({ kind: fc.constant('swapLines' as const), at: fc.nat(), to: fc.nat() }),
      fc.record({ kind: fc.constant('dupLine' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('dropLine' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(entriesArb, edit, (entries, e) => {
        const text = serializeManifest(buildManifest(entries));
        const lines = text.slice(0, -1).split('\n');
        let bad: string;
        const i = e.at % text.length;
        const l = e.at % lines.length;
        switch (e.kind) {
          case 'delete':
            bad = text.slice(0, i) + text.slice(i + 1);
            break;
          case 'insert':
            bad = text.slice(0, i) + e.ch + text.slice(i);
            break;
          case 'replace':
            bad = text.slice(0, i) + e.ch + text.slice(i + 1);
            break;
          case 'swapLines': {
            const t = e.to % lines.length;
            const c = [...lines];
            [c[l], c[t]] = [c[t] as string, c[l] as string];
            bad = `${c.join('\n')}\n`;
            break;
          }
          case 'dupLine':
            bad = `${[...lines.slice(0, l + 1), ...lines.slice(l)].join('\n')}\n`;
            break;
          case 'dropLine':
            bad = `${lines.filter((_, j) => j !== l).join('\n')}\n`;
            break;
          case 'truncate':
            bad = text.slice(0, i);
            break;
        }
        if (bad === text) return;
        let thrown: unknown;
        try {
          parseManifest(bad);
        } catch (err) {
          thrown = err;
        }
        expect(isManifestError(thrown)).toBe(true);
      }),
      { numRuns: numRuns * 5 },
    );
  });
});
