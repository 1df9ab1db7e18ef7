/**
 * RFC 9591 Appendix E and frost-rs signing / DKG / repair vectors, every intermediate value, for
 * every suite; noble's own FROST is run on the same inputs as an oracle.
 */
import { describe, expect, it } from 'vitest';
import { parseSigningPackage } from '../src/signing.js';
import { frostFor, type Frost } from '../src/index.js';
import { RFC_FILES, SUITE_DIRS, fixture, hex, replayRng, unhex } from './helpers.js';

interface SigningVector {
  config: { MIN_PARTICIPANTS: string; MAX_PARTICIPANTS: string };
  inputs: {
    participant_list: number[];
    group_secret_key: string;
    group_public_key?: string;
    verifying_key_key?: string;
    message: string;
    share_polynomial_coefficients: string[];
    participant_shares: { identifier: number; participant_share: string }[];
  };
  round_one_outputs: {
    outputs: {
      identifier: number;
      hiding_nonce_randomness: string;
      binding_nonce_randomness: string;
      hiding_nonce: string;
      binding_nonce: string;
      hiding_nonce_commitment: string;
      binding_nonce_commitment: string;
      binding_factor_input: string;
      binding_factor: string;
    }[];
  };
  round_two_outputs: { outputs: { identifier: number; sig_share: string }[] };
  final_output: { sig: string };
}

function runSigningVector(f: Frost, v: SigningVector) {
  const t = Number(v.config.MIN_PARTICIPANTS);
  const n = Number(v.config.MAX_PARTICIPANTS);
  const ids = v.inputs.participant_shares.map((s) => f.identifier.fromNumber(s.identifier));
  const { shares, publicKeyPackage } = f.keys.dealer({
    minSigners: t,
    maxSigners: n,
    identifiers: ids,
    secret: unhex(v.inputs.group_secret_key),
    coefficients: v.inputs.share_polynomial_coefficients.map(unhex),
  });
  const groupKey = v.inputs.group_public_key ?? v.inputs.verifying_key_key;
  expect(hex(publicKeyPackage.verifyingKey)).toBe(groupKey);
  for (const s of v.inputs.participant_shares) {
    expect(hex(shares[f.identifier.fromNumber(s.identifier)]!.signingShare)).toBe(
      s.participant_share,
    );
  }
  const msg = unhex(v.inputs.message);
  const r1 = v.round_one_outputs.outputs.map((o) => {
    const key = f.keys.keyPackage(shares[f.identifier.fromNumber(o.identifier)]!);
    const rng = replayRng([unhex(o.hiding_nonce_randomness), unhex(o.binding_nonce_randomness)]);
    const { nonces, commitments } = f.round1.commit(key, rng);
    expect(hex(nonces.hiding)).toBe(o.hiding_nonce);
    expect(hex(nonces.binding)).toBe(o.binding_nonce);
    expect(hex(commitments.hiding)).toBe(o.hiding_nonce_commitment);
    expect(hex(commitments.binding)).toBe(o.binding_nonce_commitment);
    return { key, nonces, commitments, o };
  });
  const pkg = f.signingPackage(
    r1.map((r) => r.commitments),
    msg,
  );
  const parsed = parseSigningPackage(f.suite, pkg, publicKeyPackage.verifyingKey);
  r1.forEach((r, i) => {
    expect(hex(f.suite.Fn.toBytes(parsed.rho[i]!))).toBe(r.o.binding_factor);
  });
  // noble's signShare as the oracle: copy nonces first (both implementations consume them).
  const nobleShares = r1.map((r) =>
    f.suite.noble.signShare(
      { identifier: r.key.identifier, signingShare: r.key.signingShare },
      {
        signers: { min: t, max: n },
        commitments: [publicKeyPackage.verifyingKey],
        verifyingShares: {},
      },
      { hiding: r.nonces.hiding.slice(), binding: r.nonces.binding.slice() },
      r1.map((x) => x.commitments),
      msg,
    ),
  );
  const sigShares = r1.map((r) => f.round2.sign(pkg, r.nonces, r.key));
  v.round_two_outputs.outputs.forEach((o, i) => {
    expect(hex(sigShares[i]!.share)).toBe(o.sig_share);
    expect(hex(nobleShares[i]!)).toBe(o.sig_share);
    f.verifySignatureShare(sigShares[i]!, pkg, publicKeyPackage);
  });
  const sig = f.aggregate(pkg, sigShares, publicKeyPackage);
  expect(hex(sig.bytes)).toBe(v.final_output.sig);
  expect(f.verify(msg, sig, publicKeyPackage.verifyingKey)).toBe(true);
  expect(f.suite.noble.verify(sig.bytes, msg, publicKeyPackage.verifyingKey)).toBe(true);
}

describe('RFC 9591 Appendix E vectors', () => {
  for (const [name, file] of Object.entries(RFC_FILES)) {
    it(`${name}: dealer shares, nonces, commitments, binding factors, shares, signature`, () => {
      runSigningVector(frostFor(name), fixture<SigningVector>(`rfc9591/${file}`));
    });
  }
});

describe('frost-rs vectors', () => {
  for (const [name, dir] of Object.entries(SUITE_DIRS)) {
    const f = frostFor(name);
    it(`${name}: signing vectors.json`, () =>
      runSigningVector(f, fixture(`frost-rs/${dir}/vectors.json`)));
    it(`${name}: signing vectors-big-identifier.json`, () =>
      runSigningVector(f, fixture(`frost-rs/${dir}/vectors-big-identifier.json`)));

    it(`${name}: DKG vectors_dkg.json (commitments, proofs, shares, final keys)`, () => {
      type P = {
        identifier: number;
        signing_key: string;
        coefficient: string;
        secret?: string;
        vss_commitments: string[];
        proof_of_knowledge: string;
        signing_shares: Record<string, string>;
        verifying_share: string;
        signing_share: string;
      };
      const v = fixture<{
        config: { MIN_PARTICIPANTS: number; MAX_PARTICIPANTS: number };
        inputs: Record<string, unknown>;
      }>(`frost-rs/${dir}/vectors_dkg.json`);
      const t = v.config.MIN_PARTICIPANTS;
      const n = v.config.MAX_PARTICIPANTS;
      const parts = Object.entries(v.inputs)
        .filter(([k]) => /^\d+$/.test(k))
        .map(([, p]) => p as P);
      const r1 = parts.map((p) => {
        const out = f.keys.dkg.part1(f.identifier.fromNumber(p.identifier), n, t, {
          coefficients: [unhex(p.signing_key), unhex(p.coefficient)],
        });
        expect(out.package.commitment.map(hex)).toEqual(p.vss_commitments);
        // frost-rs's proof nonce is not in the fixture: others must accept its proof (part 2).
        // Others receive the vector's own package (its proof was made with frost-rs's nonce).
        const pkg = f.decode.json('DkgRound1Package', {
          version: 1,
          ciphersuite: f.suite.id,
          type: 'DkgRound1Package',
          identifier: out.package.identifier,
          commitment: p.vss_commitments,
          proofOfKnowledge: p.proof_of_knowledge,
        });
        return { secretPackage: out.secretPackage, package: pkg };
      });
      const r2 = parts.map((p, i) => {
        const others = r1.filter((_, j) => j !== i).map((x) => x.package);
        const out = f.keys.dkg.part2(r1[i]!.secretPackage, others);
        // The fixture lists, for each participant, the shares it received, keyed by sender.
        for (const q of parts) {
          if (q === p) continue;
          const to = f.identifier.fromNumber(q.identifier);
          expect(hex(out.packages[to]!.signingShare)).toBe(q.signing_shares[String(p.identifier)]);
        }
        return out;
      });
      parts.forEach((p, i) => {
        const me = f.identifier.fromNumber(p.identifier);
        const others = r1.filter((_, j) => j !== i).map((x) => x.package);
        const received = r2.filter((_, j) => j !== i).map((x) => x.packages[me]!);
        const { keyPackage, publicKeyPackage } = f.keys.dkg.part3(
          r2[i]!.secretPackage,
          others,
          received,
        );
        expect(hex(keyPackage.signingShare)).toBe(p.signing_share);
        expect(hex(keyPackage.verifyingShare)).toBe(p.verifying_share);
        expect(hex(publicKeyPackage.verifyingKey)).toBe(v.inputs.verifying_key);
      });
    });

    it(`${name}: repair-share.json (RTS steps 2 and 3 sums)`, () => {
      const v = fixture<{
        scalar_generation: Record<string, string>;
        sigma_generation: Record<string, string>;
      }>(`frost-rs/${dir}/repair-share.json`);
      const sg = v.scalar_generation;
      expect(
        hex(
          f.keys.repair.step2(
            [sg.random_scalar_1!, sg.random_scalar_2!, sg.random_scalar_3!].map(unhex),
          ),
        ),
      ).toBe(sg.random_scalar_sum);
      const s = v.sigma_generation;
      expect(
        hex(f.keys.repair.step2([s.sigma_1!, s.sigma_2!, s.sigma_3!, s.sigma_4!].map(unhex))),
      ).toBe(s.sigma_sum);
    });

    it(`${name}: elements.json invalid element is refused with INVALID_ELEMENT`, () => {
      const v = fixture<{ elements: { invalid_element: string } }>(`frost-rs/${dir}/elements.json`);
      const bad = unhex(v.elements.invalid_element);
      const { shares } = f.keys.dealer({ minSigners: 2, maxSigners: 3 });
      const key = f.keys.keyPackage(Object.values(shares)[0]!);
      const { commitments } = f.round1.commit(key);
      const json = f.encode.json('SigningCommitments', commitments);
      expect(() => f.decode.json('SigningCommitments', { ...json, hiding: hex(bad) })).toThrowError(
        expect.objectContaining({
          code: expect.stringMatching(/^(INVALID_ELEMENT|IDENTITY_ELEMENT)$/),
        }),
      );
    });
  }
});
