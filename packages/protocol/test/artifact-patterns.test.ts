// Policy artifact patterns (docs/policy.md): `*` any run of characters, `?` exactly one, every other
// character itself. The matcher must agree with that definition, and take time linear in each
// input's length times the other's whatever the pattern: a member chooses the names it sends, and
// the coordinator and every approver match them on their event loop.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { artifactNameMatches } from '../src/index.js';

/** The definition, as a regular expression (exponential on some inputs: small ones only). */
function byRegExp(pattern: string, name: string): boolean {
  const re = [...pattern]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 'su').test(name);
}

const numRuns = Number(process.env['FC_NUM_RUNS'] ?? 200);

describe('artifactNameMatches', () => {
  it('agrees with the definition on small patterns and names (property)', () => {
    const chars = fc.constantFrom('a', 'b', '.', '-', '*', '?', 'é', '😀');
    const word = (max: number) => fc.array(chars, { maxLength: max }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(word(8), word(10), (pattern, raw) => {
        const name = raw.replace(/[*?]/g, 'a');
        expect(artifactNameMatches(pattern, name)).toBe(byRegExp(pattern, name));
      }),
      { numRuns },
    );
  });

  it('matches the documented examples', () => {
    expect(artifactNameMatches('app-*.tar.gz', 'app-1.2.3.tar.gz')).toBe(true);
    expect(artifactNameMatches('app-*.tar.gz', 'app-1.2.3.tgz')).toBe(false);
    expect(artifactNameMatches('v?.zip', 'v1.zip')).toBe(true);
    expect(artifactNameMatches('v?.zip', 'v10.zip')).toBe(false);
    expect(artifactNameMatches('*', '')).toBe(true);
    expect(artifactNameMatches('?', '😀')).toBe(true);
    expect(artifactNameMatches('a.b', 'aXb')).toBe(false);
  });

  it('a many-star pattern against a long name that does not match ends at once (the RegExp took hours)', () => {
    const pattern = 'app-*-*-*-*-*-*-*.tar.gz';
    const name = `app-${'-a'.repeat(125)}.tar.gz.sig`;
    for (let k = 0; k < 64; k++) expect(artifactNameMatches(pattern, name)).toBe(false);
    expect(artifactNameMatches(pattern, `app-${'-a'.repeat(125)}.tar.gz`)).toBe(true);
  });
});
