/**
 * SHA-256 and SHA-512 (FIPS 180-4) for the protocol's own hashing: envelope body hashes, request
 * digests, transcript leaves. On Node: the one-shot `crypto.hash` (OpenSSL), reached through
 * `process.getBuiltinModule` so the library still loads where there is no Node; elsewhere, and on
 * a Node without `crypto.hash`, @noble/hashes. Same digests either way (tests compare them).
 *
 * Measured here (`pnpm bench frost` machine, 1 KiB input): noble 18 µs, `crypto.hash` 3.5 µs. A
 * coordinator hashes every envelope it receives and sends, so this is per message on the event loop.
 */
import type * as NodeCryptoModule from 'node:crypto';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';

type HashFn = (data: Uint8Array) => Uint8Array;
type HashModule = Partial<Pick<typeof NodeCryptoModule, 'hash'>>;

/** The SHA-2 function `algorithm` for a given Node crypto module (`null`: @noble/hashes). */
export function makeSha2(algorithm: 'sha256' | 'sha512', c: HashModule | null | undefined): HashFn {
  const portable = algorithm === 'sha256' ? nobleSha256 : nobleSha512;
  const hash = c?.hash;
  if (typeof hash !== 'function') return (data) => portable(data);
  return (data) => {
    const out = hash(algorithm, data, 'buffer');
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
}

function loadNodeCrypto(): HashModule | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (proc?.getBuiltinModule?.('node:crypto') as HashModule | undefined) ?? null;
}

const nodeCrypto = loadNodeCrypto();

/** SHA-256 of `data` (32 bytes). */
export const sha256: HashFn = makeSha2('sha256', nodeCrypto);

/** SHA-512 of `data` (64 bytes). */
export const sha512: HashFn = makeSha2('sha512', nodeCrypto);
