import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ALL, type Frost } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

export function fixture<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(join(here, 'fixtures', rel), 'utf8')) as T;
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/** RNG that replays fixed byte strings, for vectors (noble's commit draws 32 bytes per nonce). */
export function replayRng(chunks: Uint8Array[]): (n: number) => Uint8Array {
  let i = 0;
  return (n: number) => {
    const c = chunks[i++];
    if (!c || c.length !== n) throw new Error(`replay rng: wanted ${n} bytes at call ${i}`);
    return c;
  };
}

/** Deterministic RNG from a seed, for reproducible property tests. */
export function seededRng(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

export const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 20);
export const fcOpts = { numRuns: NUM_RUNS };

export const SUITE_DIRS: Record<string, string> = {
  ed25519: 'ed25519',
  ristretto255: 'ristretto255',
  ed448: 'ed448',
  p256: 'p256',
  secp256k1: 'secp256k1',
  secp256k1Taproot: 'secp256k1-tr',
};

export const RFC_FILES: Record<string, string> = {
  ed25519: 'frost-ed25519-sha512.json',
  ristretto255: 'frost-ristretto255-sha512.json',
  ed448: 'frost-ed448-shake256.json',
  p256: 'frost-p256-sha256.json',
  secp256k1: 'frost-secp256k1-sha256.json',
};

export const suites: readonly Frost[] = ALL;

/** Run a full signing with `signers` of a dealer key; returns everything for inspection. */
export function signWith(
  f: Frost,
  t: number,
  n: number,
  signers: number[],
  msg: Uint8Array,
  seed = 1,
) {
  const rng = seededRng(seed);
  const { shares, publicKeyPackage } = f.keys.dealer({ minSigners: t, maxSigners: n, rng });
  const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
  const chosen = signers.map((i) => keys[i]!);
  const r1 = chosen.map((k) => f.round1.commit(k, rng));
  const pkg = f.signingPackage(
    r1.map((r) => r.commitments),
    msg,
  );
  const sigShares = chosen.map((k, i) => f.round2.sign(pkg, r1[i]!.nonces, k));
  return { keys, publicKeyPackage, pkg, sigShares, chosen, r1 };
}

export { fc };

/** The `code` of what `fn` throws (a FrostError's), or undefined if it returns. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** The `culprits` of what `fn` throws, or undefined if it returns. */
export function culpritsOf(fn: () => unknown): readonly string[] | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { culprits?: readonly string[] }).culprits;
  }
  return undefined;
}
