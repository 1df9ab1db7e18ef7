import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { makeSha2, sha256, sha512 } from '../src/index.js';
import { fc, fcOpts, hex } from './helpers.js';

describe('SHA-2 (native where Node has it, noble elsewhere)', () => {
  it('gives the FIPS 180-4 digests of "abc"', () => {
    const abc = new TextEncoder().encode('abc');
    expect(hex(sha256(abc))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha512(abc))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
        '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
  });

  it('the native and the portable backends agree on any input, and return plain Uint8Arrays', () => {
    const portable256 = makeSha2('sha256', null);
    const portable512 = makeSha2('sha512', undefined);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (data) => {
        const a = sha256(data);
        expect(Object.getPrototypeOf(a)).toBe(Uint8Array.prototype);
        expect(a).toHaveLength(32);
        expect(hex(a)).toBe(hex(nobleSha256(data)));
        expect(hex(portable256(data))).toBe(hex(a));
        const b = sha512(data);
        expect(b).toHaveLength(64);
        expect(hex(b)).toBe(hex(nobleSha512(data)));
        expect(hex(portable512(data))).toBe(hex(b));
      }),
      fcOpts,
    );
  });

  it('uses the native one-shot hash when it is there', () => {
    const calls: string[] = [];
    const fake = {
      hash: (algorithm: string, data: Uint8Array) => {
        calls.push(algorithm);
        return Buffer.from(nobleSha256(data));
      },
    } as unknown as Parameters<typeof makeSha2>[1];
    const f = makeSha2('sha256', fake);
    expect(hex(f(new Uint8Array([1, 2])))).toBe(hex(nobleSha256(new Uint8Array([1, 2]))));
    expect(calls).toEqual(['sha256']);
  });
});
