/**
 * Public keys with a torsion component (A' = A + T, T of small order, A in the prime-order
 * subgroup) are refused with KEY_MALFORMED in every key format and every signature format: tools
 * disagree on which signatures verify under such a key (detect-key.ts has what each one did).
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assemble,
  detectKey,
  exportPublicKey,
  isFormatError,
  KEY_FORMATS,
  planJobs,
  verifySignature,
} from '../src/index.js';
import { ed25519Spki } from '@conclave/frost';
import { CONTENT, makeContext, SEED } from './formats-support.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 20);
const Point = ed25519.Point;
const L = Point.Fn.ORDER;

/** The 7 nonzero points of small order: multiples of one point of order 8. */
const T8 = Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
const TORSION = Array.from({ length: 7 }, (_, i) => T8.multiplyUnsafe(BigInt(i + 1)));

const { scalar: a, pointBytes } = ed25519.utils.getExtendedPublicKey(SEED);
const torsionKey = Point.fromBytes(pointBytes).add(T8).toBytes();

const sha512mod = (...parts: Uint8Array[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  const d = new Uint8Array(h.digest());
  let x = 0n;
  for (let i = d.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(d[i]!);
  return x % L;
};

/**
 * Sign under A' = A + T8 with A's secret scalar, grinding the nonce until k ≡ 0 mod 8: then
 * [k]T8 = 0 and the signature verifies even cofactorless (OpenSSL, libsodium, ssh-keygen, signify,
 * sqv all said OK to such files). `cofactoredOnly` grinds for k ≢ 0 mod 8 instead.
 */
let counter = 0n;
function torsionSign(m: Uint8Array, cofactoredOnly = false): Uint8Array {
  for (;;) {
    const r = (sha512mod(new TextEncoder().encode(`nonce ${counter++}`)) % (L - 1n)) + 1n;
    const R = Point.BASE.multiply(r).toBytes();
    const k = sha512mod(R, torsionKey, m);
    if ((k % 8n === 0n) === cofactoredOnly) continue;
    const S = Point.Fn.toBytes((r + k * a) % L);
    const sig = new Uint8Array(64);
    sig.set(R);
    sig.set(S, 32);
    return sig;
  }
}

const ctx = makeContext(undefined, { publicKey: torsionKey });
const sigs = new Map<string, Uint8Array>();
for (const j of planJobs(ctx, 1)) sigs.set(j.id, torsionSign(j.message));
for (const j of planJobs(ctx, 2, sigs)) sigs.set(j.id, torsionSign(j.message));
// assemble checks every signature with Node's (OpenSSL, cofactorless) verify: they all pass.
const files = assemble(ctx, sigs).filter((f) => f.kind !== 'key' && f.path !== 'VERIFY.md');
const keyFiles = KEY_FORMATS.map((format) =>
  exportPublicKey(torsionKey, format, {
    group: 'release',
    ...(format === 'openpgp'
      ? {
          openpgp: { keyCreatedAt: ctx.keyCreatedAt, selfSignature: sigs.get('openpgp-cert')! },
        }
      : {}),
  }),
);
const codeOf = (r: ReturnType<typeof verifySignature>) => (r.ok ? 'OK' : r.code);
const detectCode = (bytes: Uint8Array) => {
  try {
    detectKey(bytes);
    return 'OK';
  } catch (e) {
    return isFormatError(e) ? e.code : 'THREW';
  }
};

describe('public keys with a torsion component', () => {
  it('the key is neither small-order nor torsion-free, and OpenSSL accepts signatures under it', () => {
    const p = Point.fromBytes(torsionKey);
    expect(p.isSmallOrder()).toBe(false);
    expect(p.isTorsionFree()).toBe(false);
    const msg = CONTENT['app.tar.gz']!;
    const key = createPublicKey({
      key: Buffer.from(ed25519Spki(torsionKey)),
      format: 'der',
      type: 'spki',
    });
    expect(verify(null, msg, key, torsionSign(msg))).toBe(true);
    // Valid only under the cofactored equation: OpenSSL refuses, noble's default accepts.
    const cof = torsionSign(msg, true);
    expect(verify(null, msg, key, cof)).toBe(false);
    expect(ed25519.verify(cof, msg, torsionKey)).toBe(true);
  });

  it('KEY_MALFORMED from detectKey for the key in every format Conclave exports', () => {
    expect(keyFiles.map((f) => f.path).length).toBe(KEY_FORMATS.length);
    for (const f of keyFiles) expect(detectCode(f.bytes), f.path).toBe('KEY_MALFORMED');
  });

  it('KEY_MALFORMED from verifySignature for every signature format, with every key file', () => {
    let checked = 0;
    for (const sig of files) {
      for (const key of keyFiles) {
        const artifact = CONTENT['app.tar.gz']!;
        const r = verifySignature({ key: key.bytes, signature: sig.bytes, artifact });
        // A format the key file cannot verify anyway is refused some other way; what matters is
        // that no pair says OK, and that the key is what is refused.
        expect(codeOf(r), `${sig.path} with ${key.path}`).toBe('KEY_MALFORMED');
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9 * KEY_FORMATS.length);
  });

  it('KEY_MALFORMED for A + T with any nonzero small-order T; a prime-order-subgroup A is accepted', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: L - 1n }), fc.integer({ min: 0, max: 6 }), (s, i) => {
        const A = Point.BASE.multiply(s);
        const hex = (p: typeof A) => new TextEncoder().encode(`${p.toHex()}\n`);
        expect(detectCode(hex(A))).toBe('OK');
        expect(detectCode(hex(A.add(TORSION[i]!)))).toBe('KEY_MALFORMED');
      }),
      { numRuns: NUM_RUNS * 5 },
    );
  });
});
