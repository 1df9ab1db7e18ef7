/**
 * The quorum's aggregate is an ordinary RFC 8032 Ed25519 signature: OpenSSL (and Node's crypto,
 * which is OpenSSL) accept it under the group key as an SPKI PEM; a changed artifact or another
 * key is refused.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ed25519 as frost, ed25519Spki } from '@conclave/frost';
import { requireTool, tempDir } from '../support.js';

function pem(pk: Uint8Array): string {
  return createPublicKey({ key: Buffer.from(ed25519Spki(pk)), format: 'der', type: 'spki' }).export(
    {
      type: 'spki',
      format: 'pem',
    },
  ) as string;
}

function opensslVerify(dir: string, pubPem: string, msg: Uint8Array, sig: Uint8Array): boolean {
  writeFileSync(join(dir, 'pub.pem'), pubPem);
  writeFileSync(join(dir, 'msg'), msg);
  writeFileSync(join(dir, 'sig'), sig);
  try {
    execFileSync(
      'openssl',
      [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        join(dir, 'pub.pem'),
        '-rawin',
        '-in',
        join(dir, 'msg'),
        '-sigfile',
        join(dir, 'sig'),
      ],
      {
        stdio: 'pipe',
      },
    );
    return true;
  } catch {
    return false;
  }
}

describe('openssl pkeyutl -verify -rawin accepts FROST(Ed25519) aggregates', () => {
  it('for random t-of-n, any t signers, random messages; rejects a changed message and a wrong key', () => {
    requireTool('openssl');
    const dir = tempDir();
    const runs = Math.max(3, Math.floor(Number(process.env.FC_NUM_RUNS ?? 20) / 4));
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 7 })
          .chain((n) => fc.tuple(fc.integer({ min: 2, max: n }), fc.constant(n))),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        ([t, n], msg) => {
          const { shares, publicKeyPackage: pub } = frost.keys.dealer({
            minSigners: t,
            maxSigners: n,
          });
          const keys = Object.values(shares)
            .map((s) => frost.keys.keyPackage(s))
            .slice(n - t);
          const r1 = keys.map((k) => frost.round1.commit(k));
          const pkg = frost.signingPackage(
            r1.map((r) => r.commitments),
            msg,
          );
          const sig = frost.aggregate(
            pkg,
            keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k)),
            pub,
          );
          expect(opensslVerify(dir, pem(pub.verifyingKey), msg, sig.bytes)).toBe(true);
          const changed = Uint8Array.from(msg);
          changed[0] = (changed[0]! + 1) & 0xff;
          expect(opensslVerify(dir, pem(pub.verifyingKey), changed, sig.bytes)).toBe(false);
          const other = frost.keys.dealer({ minSigners: 2, maxSigners: 2 }).publicKeyPackage
            .verifyingKey;
          expect(opensslVerify(dir, pem(other), msg, sig.bytes)).toBe(false);
        },
      ),
      { numRuns: runs },
    );
  });
});
