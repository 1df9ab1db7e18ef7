/**
 * Received elements are validated (prime-order subgroup test included) exactly once, and elements
 * this process computed are never put through the test meant for received ones. The subgroup test
 * is the costliest step of signing on Ed25519 (≈2 ms per point), so a regression here is a
 * slowdown of every ceremony; the test counts calls instead of timing them.
 */
import { describe, expect, it } from 'vitest';
import { subgroupTestCount } from '../src/group.js';
import { ed25519 as f } from '../src/index.js';
import { seededRng } from './helpers.js';

const msg = new TextEncoder().encode('release v9.9.9');

function dealt() {
  const d = f.keys.dealer({ minSigners: 3, maxSigners: 5, rng: seededRng(21) });
  const keys = Object.values(d.shares)
    .slice(0, 3)
    .map((s) => f.keys.keyPackage(s));
  return { keys, pub: d.publicKeyPackage };
}

describe('ed25519 element validation', () => {
  it('signing with commitments made in this process runs no subgroup test', () => {
    const { keys, pub } = dealt();
    const rng = seededRng(22);
    const round = () => {
      const c = keys.map((k) => f.round1.commit(k, rng));
      const pkg = f.signingPackage(
        c.map((x) => x.commitments),
        msg,
      );
      return { pkg2: pkg, sign: () => keys.map((k, i) => f.round2.sign(pkg, c[i]!.nonces, k)) };
    };
    round().sign(); // parses each key package's verifying key once, as a loaded share would
    const { pkg2, sign } = round();
    const before = subgroupTestCount();
    const shares = sign();
    expect(subgroupTestCount() - before).toBe(0);
    expect(f.verify(msg, f.aggregate(pkg2, shares, pub), pub.verifyingKey)).toBe(true);
  });

  it('a signer validates each received commitment point once: decode, then sign', () => {
    const { keys } = dealt();
    const rng = seededRng(23);
    const c = keys.map((k) => f.round1.commit(k, rng));
    // The package as a signer receives it: bytes from the wire.
    const wire = f.encode.bytes(
      'SigningPackage',
      f.signingPackage(
        c.map((x) => x.commitments),
        msg,
      ),
    );
    const before = subgroupTestCount();
    const received = f.decode.bytes('SigningPackage', wire);
    expect(subgroupTestCount() - before).toBe(6); // 3 signers × (hiding, binding)
    f.round2.sign(received, c[0]!.nonces, keys[0]!);
    expect(subgroupTestCount() - before).toBe(6);
  });

  it('a commitment changed after commit is validated again, not taken from the cache', () => {
    const { keys } = dealt();
    const rng = seededRng(24);
    const c = keys.map((k) => f.round1.commit(k, rng));
    const other = c[1]!.commitments;
    (other.hiding as Uint8Array).set(f.round1.commit(keys[2]!, rng).commitments.hiding);
    const before = subgroupTestCount();
    const pkg = f.signingPackage(
      c.map((x) => x.commitments),
      msg,
    );
    f.round2.sign(pkg, c[0]!.nonces, keys[0]!);
    expect(subgroupTestCount() - before).toBe(1);
  });
});
