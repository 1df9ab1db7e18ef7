/**
 * One test per rejection rule of THREATS §A–B that the library owns, each asserting the error code
 * (and the culprit where one is owed).
 */
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { ed25519, ed448, ristretto255, FrostError, type SigningCommitments } from '../src/index.js';
import { hex, seededRng, signWith, unhex } from './helpers.js';

const f = ed25519;
const L = f.suite.Fn.ORDER;

function expectCode(fn: () => unknown, code: string, culprits?: readonly string[]) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(FrostError);
  expect((err as FrostError).code).toBe(code);
  if (culprits) expect([...(err as FrostError).culprits].sort()).toEqual([...culprits].sort());
}

function setup(t = 2, n = 3) {
  const rng = seededRng(99);
  const { shares, publicKeyPackage } = f.keys.dealer({ minSigners: t, maxSigners: n, rng });
  const keys = Object.values(shares).map((s) => f.keys.keyPackage(s));
  const r1 = keys.map((k) => f.round1.commit(k, rng));
  return { keys, publicKeyPackage, r1, rng };
}

const commitmentsJson = (c: SigningCommitments, patch: Record<string, unknown>) => ({
  ...f.encode.json('SigningCommitments', c),
  ...patch,
});

describe('identifiers (THREATS A.14)', () => {
  it('refuses identifier 0', () =>
    expectCode(() => f.identifier.parse('00'.repeat(32)), 'INVALID_IDENTIFIER'));
  it('refuses identifier equal to the group order L', () => {
    const Lhex = hex(
      Uint8Array.from(Buffer.from(L.toString(16).padStart(64, '0'), 'hex').reverse()),
    );
    expectCode(() => f.identifier.parse(Lhex), 'INVALID_IDENTIFIER');
  });
  it('refuses non-canonical (uppercase / short) identifier hex', () => {
    expectCode(
      () => f.identifier.parse('01'.padEnd(64, '0').toUpperCase().replace('0', 'A')),
      'INVALID_IDENTIFIER',
    );
    expectCode(() => f.identifier.parse('01'), 'INVALID_IDENTIFIER');
  });
  it('refuses identifier number 0 in fromNumber', () =>
    expectCode(() => f.identifier.fromNumber(0), 'INVALID_IDENTIFIER'));
  it('refuses duplicate identifiers at key generation', () => {
    const id = f.identifier.fromNumber(1);
    expectCode(
      () =>
        f.keys.dealer({
          minSigners: 2,
          maxSigners: 3,
          identifiers: [id, f.identifier.fromNumber(2), id],
        }),
      'DUPLICATE_IDENTIFIER',
      [id],
    );
  });
});

describe('commitments (THREATS A.11–A.13, A.15–A.16)', () => {
  it('refuses a duplicate identifier in the commitment list (A.13)', () => {
    const { r1 } = setup();
    expectCode(
      () => f.signingPackage([r1[0]!.commitments, r1[0]!.commitments], Uint8Array.of(1)),
      'DUPLICATE_IDENTIFIER',
      [r1[0]!.commitments.identifier],
    );
  });
  it('refuses an identity hiding commitment (A.12)', () => {
    const { r1 } = setup();
    const identity = '01' + '00'.repeat(31);
    expectCode(
      () =>
        f.decode.json(
          'SigningCommitments',
          commitmentsJson(r1[0]!.commitments, { hiding: identity }),
        ),
      'IDENTITY_ELEMENT',
    );
  });
  it('refuses every small-order (torsion) point as a commitment (A.11)', () => {
    const { r1 } = setup();
    for (const t of ED25519_TORSION_SUBGROUP) {
      if (t === '0100000000000000000000000000000000000000000000000000000000000000') continue; // identity
      expectCode(
        () =>
          f.decode.json('SigningCommitments', commitmentsJson(r1[0]!.commitments, { binding: t })),
        'INVALID_ELEMENT',
      );
    }
  });
  it('refuses a mixed-order point (prime-order point plus torsion) (A.11)', () => {
    const { r1 } = setup();
    const P = f.suite.Point.fromBytes(r1[0]!.commitments.hiding);
    const T = f.suite.Point.fromBytes(unhex(ED25519_TORSION_SUBGROUP[1]!));
    const mixed = hex(P.add(T).toBytes());
    expectCode(
      () =>
        f.decode.json('SigningCommitments', commitmentsJson(r1[0]!.commitments, { hiding: mixed })),
      'INVALID_ELEMENT',
    );
  });
  it('refuses a non-canonical encoding (y ≥ p) (A.11)', () => {
    const { r1 } = setup();
    // y = p + 1 encodes the same point as y = 1 but is not canonical.
    const p = 2n ** 255n - 19n;
    const y = p + 1n;
    const b = new Uint8Array(32);
    for (let i = 0, v = y; i < 32; i++, v >>= 8n) b[i] = Number(v & 0xffn);
    expectCode(
      () =>
        f.decode.json(
          'SigningCommitments',
          commitmentsJson(r1[0]!.commitments, { hiding: hex(b) }),
        ),
      'INVALID_ELEMENT',
    );
  });
  it('refuses a point not on the curve', () => {
    const { r1 } = setup();
    expectCode(
      () =>
        f.decode.json(
          'SigningCommitments',
          commitmentsJson(r1[0]!.commitments, { hiding: '02' + '00'.repeat(31) }),
        ),
      'INVALID_ELEMENT',
    );
  });
  it('signer refuses a package that leaves out its own commitment (A.15)', () => {
    const { keys, r1 } = setup(2, 3);
    const pkg = f.signingPackage([r1[1]!.commitments, r1[2]!.commitments], Uint8Array.of(1));
    expectCode(() => f.round2.sign(pkg, r1[0]!.nonces, keys[0]!), 'MISSING_COMMITMENT');
  });
  it('signer refuses a package that alters its commitment (A.15)', () => {
    const { keys, r1, rng } = setup(2, 3);
    const swapped = f.round1.commit(keys[0]!, rng).commitments;
    const pkg = f.signingPackage([swapped, r1[1]!.commitments], Uint8Array.of(1));
    expectCode(() => f.round2.sign(pkg, r1[0]!.nonces, keys[0]!), 'INCORRECT_COMMITMENT');
  });
  it('signer refuses fewer than t commitments (A.16)', () => {
    const { keys, r1 } = setup(3, 5);
    const pkg = f.signingPackage([r1[0]!.commitments, r1[1]!.commitments], Uint8Array.of(1));
    expectCode(
      () => f.round2.sign(pkg, r1[0]!.nonces, keys[0]!),
      'INCORRECT_NUMBER_OF_COMMITMENTS',
    );
  });
  it('aggregator refuses a commitment from a participant outside the group (A.16)', () => {
    const { keys, publicKeyPackage, rng } = setup(2, 3);
    const stranger = f.keys.keyPackage(
      Object.values(f.keys.dealer({ minSigners: 2, maxSigners: 5, rng }).shares)[4]!,
    );
    const c = [
      f.round1.commit(keys[0]!, rng).commitments,
      f.round1.commit(stranger, rng).commitments,
    ];
    const pkg = f.signingPackage(c, Uint8Array.of(1));
    expectCode(() => f.aggregate(pkg, [], publicKeyPackage), 'UNKNOWN_IDENTIFIER', [
      stranger.identifier,
    ]);
  });
});

describe('signature shares (THREATS A.9, A.10, A.17)', () => {
  it('refuses a share that is not a canonical scalar (≥ L), blaming its sender (A.10)', () => {
    const { pkg, sigShares, publicKeyPackage } = signWith(f, 2, 3, [0, 1], Uint8Array.of(1));
    const big = new Uint8Array(32).fill(0xff);
    const bad = [{ ...sigShares[0]!, share: big }, sigShares[1]!];
    expectCode(() => f.aggregate(pkg, bad, publicKeyPackage), 'INVALID_SCALAR', [
      sigShares[0]!.identifier,
    ]);
  });
  it('refuses a share of the wrong length (A.10)', () => {
    const { pkg, sigShares, publicKeyPackage } = signWith(f, 2, 3, [0, 1], Uint8Array.of(1));
    const bad = [{ ...sigShares[0]!, share: new Uint8Array(31) }, sigShares[1]!];
    expectCode(() => f.aggregate(pkg, bad, publicKeyPackage), 'INVALID_SCALAR', [
      sigShares[0]!.identifier,
    ]);
  });
  it('names a renamed share (sent under another signer’s identifier) (A.17)', () => {
    const { pkg, sigShares, publicKeyPackage } = signWith(f, 2, 3, [0, 1], Uint8Array.of(1));
    // Signer 0 sends signer 1's share value under its own identifier: only signer 0 is named.
    const renamed = [{ ...sigShares[0]!, share: sigShares[1]!.share }, sigShares[1]!];
    expectCode(() => f.aggregate(pkg, renamed, publicKeyPackage), 'INVALID_SIGNATURE_SHARE', [
      sigShares[0]!.identifier,
    ]);
  });
  it('refuses two shares from one participant', () => {
    const { pkg, sigShares, publicKeyPackage } = signWith(f, 2, 3, [0, 1], Uint8Array.of(1));
    expectCode(
      () => f.aggregate(pkg, [sigShares[0]!, sigShares[0]!], publicKeyPackage),
      'DUPLICATE_IDENTIFIER',
      [sigShares[0]!.identifier],
    );
  });
  it('refuses a missing share', () => {
    const { pkg, sigShares, publicKeyPackage } = signWith(f, 2, 3, [0, 1], Uint8Array.of(1));
    expectCode(
      () => f.aggregate(pkg, [sigShares[0]!], publicKeyPackage),
      'INCORRECT_NUMBER_OF_SHARES',
    );
  });
});

describe('nonces (THREATS A.1, A.3)', () => {
  it('refuses to sign twice with the same nonces (A.1)', () => {
    const { keys, r1 } = setup(2, 3);
    const pkg = f.signingPackage([r1[0]!.commitments, r1[1]!.commitments], Uint8Array.of(1));
    f.round2.sign(pkg, r1[0]!.nonces, keys[0]!);
    const pkg2 = f.signingPackage([r1[0]!.commitments, r1[1]!.commitments], Uint8Array.of(2));
    expectCode(() => f.round2.sign(pkg2, r1[0]!.nonces, keys[0]!), 'NONCE_ALREADY_USED');
  });
  it('refuses destroyed nonces (aborted ceremony) (A.3)', () => {
    const { keys, r1 } = setup(2, 3);
    f.round1.destroy(r1[0]!.nonces);
    const pkg = f.signingPackage([r1[0]!.commitments, r1[1]!.commitments], Uint8Array.of(1));
    expectCode(() => f.round2.sign(pkg, r1[0]!.nonces, keys[0]!), 'NONCE_ALREADY_USED');
  });
  it('has no default encoder for nonces; the explicit export round-trips and re-import is checked', () => {
    const { r1 } = setup(2, 3);
    expectCode(
      () => f.encode.bytes('SigningNonces' as never, r1[0]!.nonces as never),
      'INVALID_PARAMETER',
    );
    const stored = f.exportNoncesForStorage(r1[0]!.nonces);
    const back = f.importNoncesFromStorage(stored);
    expect(back.commitments).toEqual(r1[0]!.commitments);
    stored[5] = (stored[5] ?? 0) ^ 1;
    expect(() => f.importNoncesFromStorage(stored)).toThrow(FrostError);
  });
});

describe('DKG (THREATS B.25–B.28)', () => {
  const ids = [1, 2, 3].map((i) => f.identifier.fromNumber(i));
  const round1 = (rng = seededRng(3)) => ids.map((id) => f.keys.dkg.part1(id, 3, 2, { rng }));

  it('refuses a round-1 package that raises the threshold (B.26)', () => {
    const r1 = round1();
    const raised = f.keys.dkg.part1(ids[1]!, 3, 3, { rng: seededRng(4) });
    expectCode(
      () => f.keys.dkg.part2(r1[0]!.secretPackage, [raised.package, r1[2]!.package]),
      'INCORRECT_NUMBER_OF_COMMITMENTS',
      [ids[1]!],
    );
  });
  it('refuses a proof of knowledge replayed under another identifier (B.25)', () => {
    const r1 = round1();
    const replayed = { ...r1[1]!.package, identifier: ids[2]! };
    expectCode(
      () => f.keys.dkg.part2(r1[0]!.secretPackage, [r1[1]!.package, replayed]),
      'INVALID_PROOF_OF_KNOWLEDGE',
      [ids[2]!],
    );
    const stolen = { ...r1[2]!.package, proofOfKnowledge: r1[1]!.package.proofOfKnowledge };
    expectCode(
      () => f.keys.dkg.part2(r1[0]!.secretPackage, [r1[1]!.package, stolen]),
      'INVALID_PROOF_OF_KNOWLEDGE',
      [ids[2]!],
    );
  });
  it('refuses a proof of knowledge from an earlier run (stale) (B.25)', () => {
    const r1 = round1();
    const earlier = round1(seededRng(77));
    const stale = { ...r1[1]!.package, proofOfKnowledge: earlier[1]!.package.proofOfKnowledge };
    expectCode(
      () => f.keys.dkg.part2(r1[0]!.secretPackage, [stale, r1[2]!.package]),
      'INVALID_PROOF_OF_KNOWLEDGE',
      [ids[1]!],
    );
  });
  it('names the sender of a bad round-2 share (B.27)', () => {
    const r1 = round1();
    const r2 = ids.map((_, i) =>
      f.keys.dkg.part2(
        r1[i]!.secretPackage,
        r1.filter((_, j) => j !== i).map((x) => x.package),
      ),
    );
    const toMe = r2.slice(1).map((x) => x.packages[ids[0]!]!);
    const F = f.suite.Fn;
    const bad = [
      { ...toMe[0]!, signingShare: F.toBytes(F.add(F.fromBytes(toMe[0]!.signingShare), 1n)) },
      toMe[1]!,
    ];
    expectCode(
      () => f.keys.dkg.part3(r2[0]!.secretPackage, [r1[1]!.package, r1[2]!.package], bad),
      'INVALID_SECRET_SHARE',
      [ids[1]!],
    );
  });
  it('refuses part 3 on other round-1 packages than part 2 saw (B.24, B.28)', () => {
    const r1 = round1();
    const r2 = f.keys.dkg.part2(r1[0]!.secretPackage, [r1[1]!.package, r1[2]!.package]);
    const other = f.keys.dkg.part1(ids[2]!, 3, 2, { rng: seededRng(8) });
    expectCode(
      () => f.keys.dkg.part3(r2.secretPackage, [r1[1]!.package, other.package], []),
      'DKG_TRANSCRIPT_MISMATCH',
    );
  });
  it('refuses the wrong number of round-1 packages', () => {
    const r1 = round1();
    expectCode(
      () => f.keys.dkg.part2(r1[0]!.secretPackage, [r1[1]!.package]),
      'INCORRECT_NUMBER_OF_PACKAGES',
    );
  });
  it('refuses a 1-of-n threshold', () =>
    expectCode(() => f.keys.dkg.part1(ids[0]!, 3, 1), 'INVALID_MIN_SIGNERS'));
});

describe('encodings (THREATS A.21)', () => {
  const { keys } = setup();
  it('refuses a package of another ciphersuite', () => {
    const other = ristretto255.keys.keyPackage(
      Object.values(ristretto255.keys.dealer({ minSigners: 2, maxSigners: 3 }).shares)[0]!,
    );
    expectCode(
      () => f.decode.bytes('KeyPackage', ristretto255.encode.bytes('KeyPackage', other)),
      'WRONG_CIPHERSUITE',
    );
    expectCode(
      () => f.decode.json('KeyPackage', ristretto255.encode.json('KeyPackage', other)),
      'WRONG_CIPHERSUITE',
    );
    expectCode(() => ed448.encode.bytes('KeyPackage', keys[0]!), 'WRONG_CIPHERSUITE');
  });
  it('refuses an unknown version', () => {
    const b = f.encode.bytes('KeyPackage', keys[0]!);
    b[1] = 2;
    expectCode(() => f.decode.bytes('KeyPackage', b), 'UNSUPPORTED_VERSION');
  });
  it('refuses truncation and trailing bytes', () => {
    const b = f.encode.bytes('KeyPackage', keys[0]!);
    expectCode(
      () => f.decode.bytes('KeyPackage', b.subarray(0, b.length - 1)),
      'MALFORMED_ENCODING',
    );
    expectCode(
      () => f.decode.bytes('KeyPackage', Uint8Array.from([...b, 0])),
      'MALFORMED_ENCODING',
    );
  });
  it('refuses a non-canonical scalar (signing share ≥ L)', () => {
    const j = f.encode.json('KeyPackage', keys[0]!);
    expectCode(
      () => f.decode.json('KeyPackage', { ...j, signingShare: 'ff'.repeat(32) }),
      'INVALID_SCALAR',
    );
  });
  it('refuses unknown JSON fields', () => {
    const j = f.encode.json('KeyPackage', keys[0]!);
    expectCode(() => f.decode.json('KeyPackage', { ...j, extra: 1 }), 'MALFORMED_ENCODING');
  });
  it('refuses a commitment list out of order', () => {
    const { r1 } = setup();
    const pkg = f.signingPackage([r1[0]!.commitments, r1[1]!.commitments], Uint8Array.of(1));
    const j = f.encode.json('SigningPackage', pkg) as { commitments: unknown[] };
    expectCode(
      () => f.decode.json('SigningPackage', { ...j, commitments: [...j.commitments].reverse() }),
      'MALFORMED_ENCODING',
    );
  });
});
