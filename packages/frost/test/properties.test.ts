/**
 * Invariants over every suite (fast-check; FC_NUM_RUNS sets the run count, a failure prints its
 * seed): any t of n sign, t−1 never do, a corrupted share names exactly its signer, encodings
 * round-trip, refresh/reshare keep the key and retire old shares.
 */
import { verify as nodeVerify, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519, ed25519Spki, type Frost, type PublicKeyPackage } from '../src/index.js';
import { codeOf, fc, fcOpts, seededRng, signWith, suites } from './helpers.js';

const tn = fc
  .integer({ min: 2, max: 10 })
  .chain((n) => fc.tuple(fc.integer({ min: 2, max: n }), fc.constant(n)));
const subsetOf = (t: number, n: number) =>
  fc.shuffledSubarray(
    Array.from({ length: n }, (_, i) => i),
    { minLength: t, maxLength: t },
  );
const message = fc.uint8Array({ minLength: 0, maxLength: 200 });

describe.each(suites.map((f) => [f.suite.name, f] as const))('%s', (_name, f: Frost) => {
  it('any t-subset of n signs a random message and the signature verifies', () => {
    fc.assert(
      fc.property(
        tn.chain(([t, n]) => fc.tuple(fc.constant(t), fc.constant(n), subsetOf(t, n))),
        message,
        fc.integer(),
        ([t, n, signers], msg, seed) => {
          const { pkg, sigShares, publicKeyPackage } = signWith(f, t, n, signers, msg, seed);
          const sig = f.aggregate(pkg, sigShares, publicKeyPackage);
          expect(f.verify(msg, sig, publicKeyPackage.verifyingKey)).toBe(true);
          expect(f.suite.noble.verify(sig.bytes, msg, publicKeyPackage.verifyingKey)).toBe(true);
          if (f === ed25519) {
            const key = createPublicKey({
              key: Buffer.from(ed25519Spki(publicKeyPackage.verifyingKey)),
              format: 'der',
              type: 'spki',
            });
            expect(nodeVerify(null, msg, key, sig.bytes)).toBe(true);
          }
          const other = Uint8Array.from([...msg, 1]);
          expect(f.verify(other, sig, publicKeyPackage.verifyingKey)).toBe(false);
        },
      ),
      fcOpts,
    );
  });

  it('t−1 shares never yield a valid signature, even under a lowered threshold', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 3, max: 8 })
          .chain((n) => fc.tuple(fc.integer({ min: 3, max: n }), fc.constant(n))),
        message,
        fc.integer(),
        ([t, n], msg, seed) => {
          const signers = Array.from({ length: t - 1 }, (_, i) => i);
          const rng = seededRng(seed);
          const { shares, publicKeyPackage } = f.keys.dealer({ minSigners: t, maxSigners: n, rng });
          const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
          // The honest public key package refuses t−1 commitments outright.
          const r1 = signers.map((i) => f.round1.commit(keys[i]!, rng));
          const pkg = f.signingPackage(
            r1.map((r) => r.commitments),
            msg,
          );
          expect(codeOf(() => f.aggregate(pkg, [], publicKeyPackage))).toBe(
            'INCORRECT_NUMBER_OF_COMMITMENTS',
          );
          // A forged package claiming threshold t−1: the shares interpolate the wrong secret.
          const lowered: PublicKeyPackage = { ...publicKeyPackage, minSigners: t - 1 };
          const lowKeys = signers.map((i) => ({ ...keys[i]!, minSigners: t - 1 }));
          const sigShares = lowKeys.map((k, i) => f.round2.sign(pkg, r1[i]!.nonces, k));
          expect(codeOf(() => f.aggregate(pkg, sigShares, lowered))).toBe(
            'INVALID_SIGNATURE_SHARE',
          );
        },
      ),
      { numRuns: Math.max(3, Math.floor(fcOpts.numRuns / 2)) },
    );
  });

  it('a corrupted share is named, and only its signer', () => {
    fc.assert(
      fc.property(
        tn.chain(([t, n]) => fc.tuple(fc.constant(t), fc.constant(n), subsetOf(t, n))),
        fc.nat(),
        fc.integer(),
        fc.boolean(),
        ([t, n, signers], which, seed, two) => {
          const { pkg, sigShares, publicKeyPackage } = signWith(
            f,
            t,
            n,
            signers,
            Uint8Array.of(7),
            seed,
          );
          const bad = new Set([which % t]);
          if (two && t > 2) bad.add((which + 1) % t);
          const F = f.suite.Fn;
          const tampered = sigShares.map((s, i) =>
            bad.has(i) ? { ...s, share: F.toBytes(F.add(F.fromBytes(s.share), 1n)) } : s,
          );
          let culprits: readonly string[] = [];
          try {
            f.aggregate(pkg, tampered, publicKeyPackage);
          } catch (e) {
            expect((e as { code: string }).code).toBe('INVALID_SIGNATURE_SHARE');
            culprits = (e as { culprits: readonly string[] }).culprits;
          }
          const expected = [...bad].map((i) => sigShares[i]!.identifier).sort();
          expect([...culprits].sort()).toEqual(expected);
          for (const i of bad)
            expect(codeOf(() => f.verifySignatureShare(tampered[i]!, pkg, publicKeyPackage))).toBe(
              'INVALID_SIGNATURE_SHARE',
            );
        },
      ),
      fcOpts,
    );
  });

  it('every package type round-trips through bytes and JSON exactly', () => {
    fc.assert(
      fc.property(tn, message, fc.integer(), ([t, n], msg, seed) => {
        const rng = seededRng(seed);
        const { shares, publicKeyPackage } = f.keys.dealer({ minSigners: t, maxSigners: n, rng });
        const share = Object.values(shares)[0]!;
        const key = f.keys.keyPackage(share);
        const { commitments } = f.round1.commit(key, rng);
        const others = Object.values(shares)
          .slice(1, t)
          .map((s) => f.round1.commit(f.keys.keyPackage(s), rng));
        const pkg = f.signingPackage([commitments, ...others.map((o) => o.commitments)], msg);
        const dkg1 = f.keys.dkg.part1(f.identifier.fromNumber(1), n, t, { rng });
        const samples = {
          SecretShare: share,
          KeyPackage: key,
          PublicKeyPackage: publicKeyPackage,
          SigningCommitments: commitments,
          SigningPackage: pkg,
          DkgRound1Package: dkg1.package,
        } as const;
        for (const [type, value] of Object.entries(samples)) {
          const ty = type as keyof typeof samples;
          const bytes = f.encode.bytes(ty, value as never);
          const back = f.decode.bytes(ty, bytes);
          expect(f.encode.bytes(ty, back as never)).toEqual(bytes);
          const json = JSON.parse(JSON.stringify(f.encode.json(ty, value as never)));
          const fromJson = f.decode.json(ty, json);
          expect(f.encode.bytes(ty, fromJson as never)).toEqual(bytes);
        }
      }),
      { numRuns: Math.max(3, Math.floor(fcOpts.numRuns / 2)) },
    );
  });

  it('refresh and reshare keep the group key; old shares no longer combine with new ones', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 3, max: 6 })
          .chain((n) => fc.tuple(fc.integer({ min: 2, max: n - 1 }), fc.constant(n))),
        fc.integer(),
        ([t, n], seed) => {
          const rng = seededRng(seed);
          const { shares, publicKeyPackage: pub } = f.keys.dealer({
            minSigners: t,
            maxSigners: n,
            rng,
          });
          const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
          const ids = keys.map((k) => k.identifier);
          // Reshare to a new committee of n+1 (one new member), threshold t+1, dealt by t old holders.
          const dealers = ids.slice(0, t);
          const newIds = [...ids, f.identifier.fromNumber(1000)];
          const params = { dealers, newIdentifiers: newIds, newMinSigners: t + 1 };
          const r1 = dealers.map((d) =>
            f.keys.reshare.part1(keys[ids.indexOf(d)]!, pub, params, rng),
          );
          const out = newIds.map((id) =>
            f.keys.reshare.part2(
              id,
              pub,
              params,
              r1.map((r) => r.package),
              r1.map((r) => r.shares[id]!),
            ),
          );
          const newPub = out[0]!.publicKeyPackage;
          expect(newPub.verifyingKey).toEqual(pub.verifyingKey);
          expect(newPub.minSigners).toBe(t + 1);
          const newKeys = out.map((o) => o.keyPackage);
          // New committee signs under the same key.
          const msg = Uint8Array.of(1, 2, 3);
          const signers = newKeys.slice(n + 1 - (t + 1));
          const c = signers.map((k) => f.round1.commit(k, rng));
          const pkg = f.signingPackage(
            c.map((x) => x.commitments),
            msg,
          );
          const sig = f.aggregate(
            pkg,
            signers.map((k, i) => f.round2.sign(pkg, c[i]!.nonces, k)),
            newPub,
          );
          expect(f.verify(msg, sig, pub.verifyingKey)).toBe(true);
          // An old share mixed into the new set is named as the culprit.
          const mixed = [keys[0]!, ...newKeys.slice(1, t + 1)];
          const c2 = mixed.map((k) => f.round1.commit(k, rng));
          const pkg2 = f.signingPackage(
            c2.map((x) => x.commitments),
            msg,
          );
          const s2 = mixed.map((k, i) =>
            f.round2.sign(pkg2, c2[i]!.nonces, { ...k, minSigners: t + 1 }),
          );
          let culprits: readonly string[] = [];
          try {
            f.aggregate(pkg2, s2, newPub);
          } catch (e) {
            culprits = (e as { culprits: readonly string[] }).culprits;
          }
          expect(culprits).toEqual([keys[0]!.identifier]);
        },
      ),
      { numRuns: Math.max(2, Math.floor(fcOpts.numRuns / 4)) },
    );
  });
});
