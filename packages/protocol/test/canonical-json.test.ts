import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, canonicalJson } from '../src/index.js';
import { numRuns } from './fixtures.js';

describe('canonicalJson (RFC 8785 style)', () => {
  it('matches the RFC 8785 §3.2.2 example', () => {
    const input = String.raw`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  it('sorts keys by UTF-16 code units at every level, without whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    );
    // U+1F600 (surrogates D83D…) sorts before U+FB01 by code units, after it by code points
    expect(canonicalJson({ '\ufb01': 1, '\u{1f600}': 2 })).toBe('{"😀":2,"ﬁ":1}');
  });

  it('omits undefined members and refuses values outside JSON', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    for (const bad of [NaN, Infinity, 1n, [undefined], new Date(0), () => 1]) {
      expect(() => canonicalJson(bad)).toThrow(ProtocolError);
    }
  });

  it('is invariant under key order and stable through JSON round trips', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const canonical = canonicalJson(value);
        expect(canonicalJson(JSON.parse(canonical))).toBe(canonical);
        expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(canonical);
        expect(canonical).not.toMatch(/^\s|\s$/);
      }),
      { numRuns },
    );
  });

  it('gives the same encoding for objects with the same members in any order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.integer()), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(dict));
      }),
      { numRuns },
    );
  });
});
