/**
 * Batch manifests: the conclave-manifest-v1 leaf encoding (golden bytes), ordering, proofs per
 * artifact, the JSON Lines file, and one test per ManifestError code.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  LEAF_FORMAT,
  MAX_MANIFEST_ENTRIES,
  buildManifest,
  compareNames,
  encodeLeaf,
  manifestLeafHash,
  manifestLines,
  parseManifest,
  parseManifestLines,
  parseProofFile,
  proofFileName,
  serializeManifest,
  serializeProofFile,
  type ManifestEntry,
} from '../src/manifest.js';
import { rootFromLeafHashes, verifyInclusion } from '../src/merkle.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const sha = (alg: string, b: Uint8Array | string): string =>
  createHash(alg).update(b).digest('hex');

const entry = (name: string, seed = name): ManifestEntry => ({
  name,
  sha256: sha('sha256', seed),
  sha512: sha('sha512', seed),
});
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('conclave-manifest-v1 leaves', () => {
  it('encode as u16be(len) ‖ utf8(name) ‖ sha256 ‖ sha512 (golden bytes)', () => {
    const e = { name: 'a.tgz', sha256: 'aa'.repeat(32), sha512: 'bb'.repeat(64) };
    expect(hex(encodeLeaf(e))).toBe(
      `0005${hex(Buffer.from('a.tgz'))}${'aa'.repeat(32)}${'bb'.repeat(64)}`,
    );
    // RFC 9162 §2.1.1: the leaf hash prefixes 0x00.
    expect(hex(manifestLeafHash(e))).toBe(sha('sha256', Uint8Array.from([0, ...encodeLeaf(e)])));
  });

  it('encode a non-ASCII name as UTF-8, its byte length in the prefix', () => {
    const e = entry('é-😀.tgz');
    const utf8 = Buffer.from('é-😀.tgz', 'utf8');
    expect(utf8.length).toBe(11);
    expect(hex(encodeLeaf(e).subarray(0, 2 + 11))).toBe(`000b${utf8.toString('hex')}`);
  });

  it('a name of 255 characters that are 3 UTF-8 bytes each still fits', () => {
    const e = entry('ह'.repeat(255));
    expect(encodeLeaf(e).length).toBe(2 + 765 + 96);
  });
});

describe('buildManifest', () => {
  const entries = ['zeta.tar.gz', 'alpha.zip', 'Beta.deb', 'alpha.zip.sig', '10.rpm'].map((n) =>
    entry(n),
  );

  it('sorts by name and hashes the sorted leaves with RFC 9162', () => {
    const m = buildManifest(entries);
    expect(m.entries.map((e) => e.name)).toEqual([
      '10.rpm',
      'Beta.deb',
      'alpha.zip',
      'alpha.zip.sig',
      'zeta.tar.gz',
    ]);
    expect(m.size).toBe(5);
    const leaves = m.entries.map(manifestLeafHash);
    expect(m.leafHashes).toEqual(leaves);
    expect(hex(m.root)).toBe(hex(rootFromLeafHashes(leaves)));
    expect(m.rootHex).toBe(hex(m.root));
    expect(m.ref()).toEqual({ root: m.rootHex, size: 5, leafFormat: LEAF_FORMAT });
  });

  it('the root does not depend on the input order', () => {
    const a = buildManifest(entries);
    const b = buildManifest([...entries].reverse());
    expect(b.rootHex).toBe(a.rootHex);
  });

  it('orders names by code point (UTF-8 byte order), not by UTF-16 unit', () => {
    // U+FB01 sorts before U+1F600 by code point, after it by UTF-16 unit (0xFB01 > 0xD83D).
    const names = ['\u{1F600}.bin', '\uFB01.bin', 'z.bin', '\u00e9.bin'];
    const m = buildManifest(names.map((n) => entry(n)));
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(m.entries.map((e) => e.name)).toEqual(byBytes);
    expect(byBytes.indexOf('\uFB01.bin')).toBeLessThan(byBytes.indexOf('\u{1F600}.bin'));
    expect(compareNames('\uFB01', '\u{1F600}')).toBe(-1);
    expect(compareNames('\u{1F600}', '\uFB01')).toBe(1);
    expect(compareNames('a', 'ab')).toBe(-1);
    expect(compareNames('b', 'b')).toBe(0);
  });

  it('copies the entries: changing the input later changes nothing', () => {
    const input = entries.map((e) => ({ ...e, extra: 'ignored' }));
    const m = buildManifest(input);
    const root = m.rootHex;
    (input[0] as { name: string }).name = 'changed';
    expect(m.entries.map((e) => e.name)).not.toContain('changed');
    expect(Object.keys(m.entries[0] as object)).toEqual(['name', 'sha256', 'sha512']);
    expect(buildManifest(entries).rootHex).toBe(root);
  });

  it('gives every artifact an inclusion proof that verifies against the root', () => {
    const many = Array.from({ length: 37 }, (_, i) => entry(`pkg-${i}.tgz`));
    const m = buildManifest(many);
    for (const e of many) {
      const p = m.proofFor(e.name, { sha256: 'ab'.repeat(32) });
      expect(p).toMatchObject({
        type: 'conclave-manifest-proof',
        leafFormat: LEAF_FORMAT,
        name: e.name,
        sha256: e.sha256,
        sha512: e.sha512,
        size: 37,
        root: m.rootHex,
        statement: { sha256: 'ab'.repeat(32) },
      });
      expect(p.index).toBe(m.indexOf(e.name));
      expect(
        verifyInclusion(manifestLeafHash(e), p.index, p.size, p.proof.map(unhex), m.root),
      ).toBe(true);
      expect(parseProofFile(serializeProofFile(p))).toEqual(p);
    }
    expect(m.proofFor('pkg-3.tgz')).not.toHaveProperty('statement');
    expect(proofFileName('pkg-3.tgz')).toBe('pkg-3.tgz.proof.json');
  });

  it('refuses an empty batch: MANIFEST_EMPTY', () => {
    expect(codeOf(() => buildManifest([]))).toBe('MANIFEST_EMPTY');
  });

  it('refuses more than MAX_MANIFEST_ENTRIES: MANIFEST_TOO_LARGE', () => {
    const huge = new Array<ManifestEntry>(MAX_MANIFEST_ENTRIES + 1);
    expect(codeOf(() => buildManifest(huge))).toBe('MANIFEST_TOO_LARGE');
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(256)],
    ['a path', 'dir/a.tgz'],
    ['a Windows path', 'dir\\a.tgz'],
    ['a control character', 'a\u0000.tgz'],
    ['a newline', 'a\n.tgz'],
    ['DEL', 'a\u007f.tgz'],
    ['"."', '.'],
    ['".."', '..'],
    ['a lone high surrogate', 'a\uD800.tgz'],
    ['a lone low surrogate', '\uDC00a.tgz'],
    ['not a string', 42],
  ])('refuses a name that is %s: MANIFEST_NAME_INVALID', (_what, name) => {
    const bad = { ...entry('x'), name } as unknown as ManifestEntry;
    expect(codeOf(() => buildManifest([entry('a'), bad]))).toBe('MANIFEST_NAME_INVALID');
    expect(codeOf(() => buildManifest([bad, entry('a')]))).toBe('MANIFEST_NAME_INVALID');
    expect(codeOf(() => encodeLeaf(bad))).toBe('MANIFEST_NAME_INVALID');
  });

  it('accepts names at the edges: 255 characters, spaces, quotes, dots inside', () => {
    const names = ['x'.repeat(255), 'a b.tgz', 'say "hi".txt', '.hidden', '...', 'a..b'];
    expect(buildManifest(names.map((n) => entry(n))).size).toBe(names.length);
  });

  it.each([
    ['uppercase sha256', { sha256: 'AA'.repeat(32) }],
    ['short sha256', { sha256: 'aa'.repeat(31) }],
    ['non-hex sha256', { sha256: 'zz'.repeat(32) }],
    ['sha512 too long', { sha512: 'bb'.repeat(65) }],
    ['non-ASCII in sha512', { sha512: `${'bb'.repeat(63)}b\u0100` }],
    ['sha512 missing', { sha512: undefined }],
  ])('refuses %s: MANIFEST_DIGEST_INVALID', (_what, patch) => {
    const bad = { ...entry('x'), ...patch } as unknown as ManifestEntry;
    expect(codeOf(() => buildManifest([entry('a'), bad]))).toBe('MANIFEST_DIGEST_INVALID');
  });

  it('refuses a name given twice, sorted or not: MANIFEST_DUPLICATE_NAME', () => {
    expect(codeOf(() => buildManifest([entry('a'), entry('b'), entry('b', 'other')]))).toBe(
      'MANIFEST_DUPLICATE_NAME',
    );
    expect(codeOf(() => buildManifest([entry('b'), entry('a'), entry('b')]))).toBe(
      'MANIFEST_DUPLICATE_NAME',
    );
    const surrogates = [entry('\u{1F600}'), entry('a'), entry('\u{1F600}')];
    expect(codeOf(() => buildManifest(surrogates))).toBe('MANIFEST_DUPLICATE_NAME');
  });

  it('refuses a proof for a name not in the batch: MANIFEST_UNKNOWN_NAME', () => {
    const m = buildManifest(entries);
    expect(m.indexOf('nope')).toBe(-1);
    expect(codeOf(() => m.proofFor('nope'))).toBe('MANIFEST_UNKNOWN_NAME');
  });
});

describe('manifest file (JSON Lines)', () => {
  const m = buildManifest([entry('b.tgz'), entry('a "q".tgz')]);
  const text = serializeManifest(m);
  const lines = text.slice(0, -1).split('\n');

  it('is a canonical header line then one canonical line per artifact (golden)', () => {
    expect(lines).toEqual([
      `{"leafFormat":"conclave-manifest-v1","root":"${m.rootHex}","size":2,"type":"conclave-manifest"}`,
      `{"name":"a \\"q\\".tgz","sha256":"${sha('sha256', 'a "q".tgz')}","sha512":"${sha('sha512', 'a "q".tgz')}"}`,
      `{"name":"b.tgz","sha256":"${sha('sha256', 'b.tgz')}","sha512":"${sha('sha512', 'b.tgz')}"}`,
    ]);
    expect(text.endsWith('\n')).toBe(true);
    expect([...manifestLines(m)].join('')).toBe(text);
  });

  it('round-trips and checks the root the statement names', () => {
    const back = parseManifest(text, { expected: { root: m.rootHex, size: 2 } });
    expect(back.rootHex).toBe(m.rootHex);
    expect(back.entries).toEqual(m.entries);
    expect(parseManifestLines(lines).rootHex).toBe(m.rootHex);
  });

  const mutate = (i: number, f: (l: string) => string): string =>
    `${lines.map((l, j) => (j === i ? f(l) : l)).join('\n')}\n`;

  it.each([
    ['an empty file', ''],
    ['no header', `${lines.slice(1).join('\n')}\n`],
    ['a line that is not JSON', mutate(1, (l) => l.slice(0, -1))],
    ['an unknown key', mutate(1, (l) => l.replace('{', '{"x":1,'))],
    ['a missing key', mutate(1, (l) => l.replace(/,"sha512":"[0-9a-f]+"/, ''))],
    ['a wrong type', mutate(0, (l) => l.replace('"conclave-manifest"', '"other"'))],
    ['another leaf format', mutate(0, (l) => l.replace('-v1', '-v2'))],
    ['a line that is too long', mutate(1, (l) => l.replace('a \\"q\\"', 'x'.repeat(5000)))],
    ['no final newline', text.slice(0, -1)],
    ['CRLF line ends', text.replace(/\n/g, '\r\n')],
    [
      'an uppercase digest',
      mutate(2, (l) =>
        l.replace(/"sha256":"([0-9a-f]+)"/, (_, h: string) => `"sha256":"${h.toUpperCase()}"`),
      ),
    ],
    ['an invalid name', mutate(2, (l) => l.replace('b.tgz', 'x/b.tgz'))],
  ])('refuses %s: MANIFEST_MALFORMED', (_what, bad) => {
    expect(codeOf(() => parseManifest(bad))).toBe('MANIFEST_MALFORMED');
  });

  it('refuses lines that are not canonical JSON or not sorted: MANIFEST_NOT_CANONICAL', () => {
    expect(codeOf(() => parseManifest(mutate(1, (l) => l.replace(',', ', '))))).toBe(
      'MANIFEST_NOT_CANONICAL',
    );
    const swapped = `${[lines[0], lines[2], lines[1]].join('\n')}\n`;
    expect(codeOf(() => parseManifest(swapped))).toBe('MANIFEST_NOT_CANONICAL');
  });

  it('refuses a repeated line: MANIFEST_DUPLICATE_NAME', () => {
    const header = (lines[0] as string).replace('"size":2', '"size":3');
    const dup = `${[header, lines[1], lines[2], lines[2]].join('\n')}\n`;
    expect(codeOf(() => parseManifest(dup))).toBe('MANIFEST_DUPLICATE_NAME');
  });

  it('refuses a count that disagrees with the header or the statement: MANIFEST_SIZE_MISMATCH', () => {
    expect(codeOf(() => parseManifest(`${lines.slice(0, 2).join('\n')}\n`))).toBe(
      'MANIFEST_SIZE_MISMATCH',
    );
    expect(codeOf(() => parseManifest(`${[...lines, lines[2]].join('\n')}\n`))).toBe(
      'MANIFEST_SIZE_MISMATCH',
    );
    expect(codeOf(() => parseManifest(text, { expected: { root: m.rootHex, size: 3 } }))).toBe(
      'MANIFEST_SIZE_MISMATCH',
    );
  });

  it('refuses altered entries or a root the statement does not name: MANIFEST_ROOT_MISMATCH', () => {
    const altered = mutate(2, (l) =>
      l.replace(/"sha256":"[0-9a-f]/, '"sha256":"0').replace(/"sha256":"00/, '"sha256":"01'),
    );
    expect(altered).not.toBe(text);
    expect(codeOf(() => parseManifest(altered))).toBe('MANIFEST_ROOT_MISMATCH');
    expect(
      codeOf(() => parseManifest(text, { expected: { root: 'cd'.repeat(32), size: 2 } })),
    ).toBe('MANIFEST_ROOT_MISMATCH');
  });
});

describe('proof files', () => {
  const m = buildManifest([entry('a'), entry('b'), entry('c')]);
  const good = m.proofFor('b', { sha256: 'ef'.repeat(32) });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[1]'],
    ['a wrong type', { ...good, type: 'other' }],
    ['an unknown key', { ...good, extra: true }],
    ['index ≥ size', { ...good, index: 3 }],
    ['a negative index', { ...good, index: -1 }],
    ['a fractional size', { ...good, size: 2.5 }],
    ['a size of zero', { ...good, size: 0 }],
    ['a proof hash of the wrong length', { ...good, proof: ['ab'] }],
    ['more than 40 proof hashes', { ...good, proof: Array(41).fill('ab'.repeat(32)) }],
    ['a bad statement reference', { ...good, statement: { sha256: 'x' } }],
    ['an invalid name', { ...good, name: '../etc/passwd' }],
    ['bytes that are not a proof', new TextEncoder().encode('garbage')],
    ['a huge text', `"${'x'.repeat(70_000)}"`],
  ])('refuses %s: MANIFEST_PROOF_MALFORMED', (_what, bad) => {
    expect(codeOf(() => parseProofFile(bad))).toBe('MANIFEST_PROOF_MALFORMED');
  });

  it('accepts its own serialization, as text or bytes', () => {
    expect(parseProofFile(serializeProofFile(good))).toEqual(good);
    expect(parseProofFile(new TextEncoder().encode(serializeProofFile(good)))).toEqual(good);
  });
});
