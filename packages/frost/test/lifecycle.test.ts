/** Refresh (same threshold, same members), repair, and DKG end to end, over every suite. */
import { describe, expect, it } from 'vitest';
import type { Frost, KeyPackage } from '../src/index.js';
import { seededRng, suites } from './helpers.js';

function signAndVerify(
  f: Frost,
  keys: readonly KeyPackage[],
  pub: Parameters<Frost['aggregate']>[2],
  rng = seededRng(5),
) {
  const msg = new TextEncoder().encode('release v1.2.3');
  const c = keys.map((k) => f.round1.commit(k, rng));
  const pkg = f.signingPackage(
    c.map((x) => x.commitments),
    msg,
  );
  const sig = f.aggregate(
    pkg,
    keys.map((k, i) => f.round2.sign(pkg, c[i]!.nonces, k)),
    pub,
  );
  return f.verify(msg, sig, pub.verifyingKey);
}

describe.each(suites.map((f) => [f.suite.name, f] as const))('%s', (_n, f: Frost) => {
  it('DKG 3-of-5: all members agree on the group key, any 3 sign', () => {
    const rng = seededRng(11);
    const ids = [1, 2, 3, 4, 5].map((i) => f.identifier.fromNumber(i));
    const r1 = ids.map((id) => f.keys.dkg.part1(id, 5, 3, { rng }));
    const r2 = ids.map((_, i) =>
      f.keys.dkg.part2(
        r1[i]!.secretPackage,
        r1.filter((_, j) => j !== i).map((x) => x.package),
      ),
    );
    const out = ids.map((id, i) =>
      f.keys.dkg.part3(
        r2[i]!.secretPackage,
        r1.filter((_, j) => j !== i).map((x) => x.package),
        r2.filter((_, j) => j !== i).map((x) => x.packages[id]!),
      ),
    );
    for (const o of out) expect(o.publicKeyPackage).toEqual(out[0]!.publicKeyPackage);
    // A coordinator derives the same public key package from the round-1 packages alone.
    expect(
      f.keys.dkg.publicKeyPackage(
        r1.map((x) => x.package),
        3,
      ),
    ).toEqual(out[0]!.publicKeyPackage);
    expect(
      signAndVerify(
        f,
        [out[0]!, out[2]!, out[4]!].map((o) => o.keyPackage),
        out[0]!.publicKeyPackage,
      ),
    ).toBe(true);
  });

  it('refresh keeps key and threshold; refuses a threshold change', () => {
    const rng = seededRng(12);
    const { shares, publicKeyPackage: pub } = f.keys.dealer({ minSigners: 2, maxSigners: 3, rng });
    const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
    const ids = keys.map((k) => k.identifier);
    expect(() => f.keys.refresh.params(pub, ids, 3)).toThrowError(
      expect.objectContaining({ code: 'THRESHOLD_CHANGE_REFUSED' }),
    );
    const r1 = keys.map((k) => f.keys.refresh.part1(k, pub, ids, rng));
    const out = ids.map((id) =>
      f.keys.refresh.part2(
        id,
        pub,
        ids,
        r1.map((r) => r.package),
        r1.map((r) => r.shares[id]!),
      ),
    );
    const newPub = out[0]!.publicKeyPackage;
    expect(newPub.verifyingKey).toEqual(pub.verifyingKey);
    expect(newPub.minSigners).toBe(2);
    for (const id of ids) expect(newPub.verifyingShares[id]).not.toEqual(pub.verifyingShares[id]);
    expect(signAndVerify(f, [out[0]!.keyPackage, out[1]!.keyPackage], newPub)).toBe(true);
    // A dealer who commits to a longer polynomial during a refresh is refused.
    const cheat = f.keys.reshare.part1(
      keys[0]!,
      pub,
      { dealers: ids, newIdentifiers: ids, newMinSigners: 3 },
      rng,
    );
    expect(() =>
      f.keys.refresh.part2(
        ids[1]!,
        pub,
        ids,
        [cheat.package, r1[1]!.package, r1[2]!.package],
        [cheat.shares[ids[1]!]!, r1[1]!.shares[ids[1]!]!, r1[2]!.shares[ids[1]!]!],
      ),
    ).toThrowError(
      expect.objectContaining({ code: 'THRESHOLD_CHANGE_REFUSED', culprits: [ids[0]] }),
    );
  });

  it('repair rebuilds a lost share from t helpers (RTS), and it signs', () => {
    const rng = seededRng(13);
    const { shares, publicKeyPackage: pub } = f.keys.dealer({ minSigners: 3, maxSigners: 5, rng });
    const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
    const lost = keys[4]!;
    const helpers = keys.slice(0, 3);
    const helperIds = helpers.map((h) => h.identifier);
    const deltas = helpers.map((h) => f.keys.repair.step1(helperIds, h, lost.identifier, rng));
    const sigmas = helperIds.map((id) => f.keys.repair.step2(deltas.map((d) => d[id]!)));
    const repaired = f.keys.repair.step3(sigmas, lost.identifier, pub);
    expect(repaired.signingShare).toEqual(lost.signingShare);
    expect(signAndVerify(f, [repaired, keys[0]!, keys[1]!], pub)).toBe(true);
    // A helper that lies is caught at step 3 against the verifying share.
    const bad = sigmas.map((s, i) =>
      i === 0 ? f.suite.Fn.toBytes(f.suite.Fn.add(f.suite.Fn.fromBytes(s), 1n)) : s,
    );
    expect(() => f.keys.repair.step3(bad, lost.identifier, pub)).toThrowError(
      expect.objectContaining({ code: 'INVALID_SECRET_SHARE' }),
    );
  });
});
