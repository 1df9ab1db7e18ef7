// verifyCeremonyBundle against an adversarial coordinator: it holds the coordinator, admin and log
// keys (it may re-seal its own envelopes, re-log and re-sign checkpoints), but not the members'.
// Each rejection rule asserts its check's code.
import { ed25519 as frost, type PublicKeyPackage } from '@conclave/frost';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  round1Hash,
  sealEnvelope,
  signDkgConfirmation,
  type Envelope,
} from '@conclave/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cosign,
  formatSignatureLine,
  openCheckpoint,
  parseVerifierKey,
  verifyCeremonyBundle,
  type CeremonyBundle,
} from '../src/index.js';
import { keyBundle, lifecycleBundle, signingBundle } from './bundle-fixture.js';
import { numRuns } from './helpers.js';

const failed = (r: ReturnType<typeof verifyCeremonyBundle>) =>
  r.checks.filter((c) => !c.ok).map((c) => c.code);
const bodyOf = (b: { transcript: unknown[] }, i: number) =>
  (b.transcript[i] as { envelope: { body: Record<string, unknown> } }).envelope.body;
const indexOf = (b: { transcript: unknown[] }, type: string) =>
  b.transcript.findIndex((_, i) => bodyOf(b, i)['type'] === type);

describe('verifyCeremonyBundle', () => {
  it('accepts an honest bundle under pinned keys', () => {
    const c = signingBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.approvers).toEqual(['alice', 'bob', 'carol']);
  });

  it('sign.complete naming signers other than the session that made the signature: INCORRECT_NUMBER_OF_COMMITMENTS', () => {
    const c = signingBundle();
    const i = indexOf(c.bundle, 'sign.complete');
    // alice and bob signed; the coordinator's record credits (or blames) carol instead of bob.
    c.reseal(i, { ...bodyOf(c.bundle, i), signers: ['alice', 'carol'] });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([
      'INCORRECT_NUMBER_OF_COMMITMENTS',
    ]);
  });
});

// THREATS B24: a key ceremony is complete only when every member confirmed, under its own identity
// key, the same round-1 hash and group key (echo broadcast); dkg.complete is the coordinator's word.
describe('verifyCeremonyBundle: key ceremonies', () => {
  /** A dkg.confirm body `member` really signed (dkg-confirmation.ts). */
  const confirmation = (
    c: ReturnType<typeof keyBundle>,
    member: string,
    round1Hash: string,
    groupPublicKey: string,
  ) => ({
    type: 'dkg.confirm',
    round1Hash,
    groupPublicKey,
    signature: bytesToHex(
      signDkgConfirmation(c.ids[member]!, {
        ceremonyId: c.bundle.ceremonyId,
        member,
        round1Hash: hexToBytes(round1Hash, 32),
        groupPublicKey: hexToBytes(groupPublicKey, 32),
      }),
    ),
  });
  const confirms = (b: { transcript: unknown[] }) =>
    b.transcript.flatMap((_, i) => (bodyOf(b, i)['type'] === 'dkg.confirm' ? [i] : []));

  it('accepts an honest DKG bundle under pinned keys', () => {
    const c = keyBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('a DKG completed without one member’s dkg.confirm: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    c.remove(confirms(c.bundle)[2]!);
    const done = indexOf(c.bundle, 'dkg.complete');
    const body = bodyOf(c.bundle, done);
    // The coordinator drops carol from its own record too, and re-signs it.
    const kept = (body['confirmations'] as { member: string }[]).filter(
      (x) => x.member !== 'carol',
    );
    c.reseal(done, { ...body, confirmations: kept });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['CONFIRMATION_MISMATCH']);
  });

  it('a dkg.complete listing a confirmation the member never sent: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    c.remove(confirms(c.bundle)[2]!);
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['CONFIRMATION_MISMATCH']);
  });

  it('a member confirming another group key: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    const i = confirms(c.bundle)[1]!;
    // bob really derived, signed and sent another key; the coordinator completes anyway.
    c.reseal(
      i,
      confirmation(c, 'bob', bodyOf(c.bundle, i)['round1Hash'] as string, c.trust.adminKey),
    );
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['CONFIRMATION_MISMATCH']);
  });

  it('a member confirming another round-1 hash: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    const i = confirms(c.bundle)[0]!;
    // alice saw other round-1 packages (the coordinator equivocated) and says so, signed.
    c.reseal(i, confirmation(c, 'alice', 'ab'.repeat(32), c.trust.groupPublicKey));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['CONFIRMATION_MISMATCH']);
  });

  it('a dkg.complete stating another group key than the members confirmed: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    const done = indexOf(c.bundle, 'dkg.complete');
    c.reseal(done, { ...bodyOf(c.bundle, done), groupPublicKey: c.trust.adminKey });
    // Without a pinned group key (that would also fail: WRONG_GROUP), the members' word catches it,
    // and so do the round-1 commitments (their constant terms sum to the confirmed key).
    const { groupPublicKey: _, ...unpinned } = c.trust;
    expect(failed(verifyCeremonyBundle(c.bundle, unpinned))).toEqual([
      'CONFIRMATION_MISMATCH',
      'INCONSISTENT_KEY_PACKAGE',
    ]);
  });

  it('a dkg.complete carrying a forged confirmation signature: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    const done = indexOf(c.bundle, 'dkg.complete');
    const body = bodyOf(c.bundle, done);
    const forged = (body['confirmations'] as { member: string; signature: string }[]).map((x) =>
      x.member === 'bob' ? { ...x, signature: 'ab'.repeat(64) } : x,
    );
    c.reseal(done, { ...body, confirmations: forged });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['CONFIRMATION_MISMATCH']);
  });

  it('a dkg.confirm whose own signature is not over what it states: CONFIRMATION_MISMATCH', () => {
    const c = keyBundle();
    const i = confirms(c.bundle)[1]!;
    const done = indexOf(c.bundle, 'dkg.complete');
    // bob's envelope is his, but the confirmation signature inside it signs another hash.
    const bad = confirmation(c, 'bob', 'ab'.repeat(32), c.trust.groupPublicKey).signature;
    const body = bodyOf(c.bundle, done);
    c.reseal(i, { ...bodyOf(c.bundle, i), signature: bad });
    c.reseal(done, {
      ...body,
      confirmations: (body['confirmations'] as { member: string; signature: string }[]).map((x) =>
        x.member === 'bob' ? { ...x, signature: bad } : x,
      ),
    });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['CONFIRMATION_MISMATCH']);
  });

  it('a group key other than the pinned one: WRONG_GROUP', () => {
    const c = keyBundle();
    expect(
      failed(verifyCeremonyBundle(c.bundle, { ...c.trust, groupPublicKey: c.trust.adminKey })),
    ).toEqual(['WRONG_GROUP']);
  });
});

// A coordinator that swaps a verifying share in the (unsigned) public key package would make an
// honest member's genuine share fail verification and have the audit name it a culprit: the
// package is refused unless its shares are the roster's and lie on one polynomial through the key.
describe('verifyCeremonyBundle: the public key package', () => {
  /** Replaces `member`'s verifying share in the bundle's epoch package (what the coordinator can). */
  const swapShare = (
    bundle: CeremonyBundle,
    member: string,
    bytes: Uint8Array | undefined,
  ): PublicKeyPackage => {
    const epoch = bundle.group!.epochs[0]!;
    const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(epoch.publicKeyPackage));
    const id = frost.identifier.derive(member);
    const { [id]: _, ...others } = pub.verifyingShares;
    const swapped = {
      ...pub,
      verifyingShares: bytes === undefined ? others : { ...others, [id]: bytes },
    };
    epoch.publicKeyPackage = bytesToHex(frost.encode.bytes('PublicKeyPackage', swapped));
    return swapped;
  };
  /** A point no member's share is (a fixed multiple of the base point). */
  const randomPoint = () => frost.suite.Point.BASE.multiply(123_456_789n).toBytes();

  it('one swapped verifying share: INCONSISTENT_KEY_PACKAGE, and the honest member is not named', () => {
    const c = signingBundle();
    const swapped = swapShare(c.bundle, 'bob', randomPoint());
    // What the swap does: bob's genuine share no longer verifies against the package.
    expect(() =>
      frost.verifySignatureShare(c.signed.shares.get('bob')!, c.signed.pkg, swapped),
    ).toThrow();
    // The coordinator records bob as the culprit (e.g. of a session a later one replaced).
    c.bundle.recorded.culprits = ['bob'];
    c.relog();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['INCONSISTENT_KEY_PACKAGE']);
    expect(r.ok).toBe(false);
    expect(r.culprits).toEqual([]);
    const check = r.checks.find((x) => x.code === 'INCONSISTENT_KEY_PACKAGE');
    expect(check?.detail).toMatch(/no member is blamed/);
  });

  it('two members’ verifying shares exchanged: INCONSISTENT_KEY_PACKAGE', () => {
    const c = signingBundle();
    const pub = frost.decode.bytes(
      'PublicKeyPackage',
      hexToBytes(c.bundle.group!.epochs[0]!.publicKeyPackage),
    );
    const share = (m: string) => pub.verifyingShares[frost.identifier.derive(m)]!;
    const [a, b] = [share('alice'), share('bob')];
    swapShare(c.bundle, 'alice', b);
    swapShare(c.bundle, 'bob', a);
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['INCONSISTENT_KEY_PACKAGE']);
    expect(r.culprits).toEqual([]);
  });

  it('a member’s verifying share missing from the package: INCONSISTENT_KEY_PACKAGE', () => {
    const c = signingBundle();
    swapShare(c.bundle, 'carol', undefined);
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['INCONSISTENT_KEY_PACKAGE']);
  });

  it('property: any single swapped verifying share is refused, and nobody is blamed', () => {
    const c = signingBundle();
    const honest = structuredClone(c.bundle);
    expect(failed(verifyCeremonyBundle(honest, c.trust))).toEqual([]);
    fc.assert(
      fc.property(
        fc.constantFrom('alice', 'bob', 'carol'),
        fc.bigInt({ min: 1n, max: frost.suite.Fn.ORDER - 1n }),
        (member, r) => {
          const bundle = structuredClone(honest);
          const forged = frost.suite.Point.BASE.multiply(r).toBytes();
          const pub = frost.decode.bytes(
            'PublicKeyPackage',
            hexToBytes(bundle.group!.epochs[0]!.publicKeyPackage),
          );
          fc.pre(
            bytesToHex(forged) !==
              bytesToHex(pub.verifyingShares[frost.identifier.derive(member)]!),
          );
          swapShare(bundle, member, forged);
          bundle.recorded.culprits = [member];
          const report = verifyCeremonyBundle(bundle, c.trust);
          expect(failed(report)).toEqual(['INCONSISTENT_KEY_PACKAGE']);
          expect(report.culprits).toEqual([]);
        },
      ),
      { numRuns },
    );
  });
});

// The hash members confirm is recomputed from the round-1 packages in the transcript (as each member
// signed them and as the coordinator relayed them), and the key state from their VSS commitments.
describe('verifyCeremonyBundle: the DKG round-1 transcript', () => {
  const relayIndex = (b: { transcript: unknown[] }) => indexOf(b, 'dkg.round1.all');
  type Relayed = { member: string; package: string }[];
  /** A genuine-looking round-1 package for `member` that the member never sent. */
  const otherPackage = (member: string) =>
    bytesToHex(
      frost.encode.bytes(
        'DkgRound1Package',
        frost.keys.dkg.part1(frost.identifier.derive(member), 3, 2).package,
      ),
    );

  it('an honest DKG: the hash recomputes and epoch 0 is the key state of the commitments', () => {
    const c = keyBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.checks.find((x) => x.name === 'round-1 hash recomputed')?.ok).toBe(true);
    expect(
      r.checks.find((x) => x.name === 'key state from the round-1 commitments')?.detail,
    ).toMatch(/recorded for epoch 0/);
  });

  it('a relayed round-1 package altered and re-signed by the coordinator: ROUND1_HASH_MISMATCH', () => {
    const c = keyBundle();
    const i = relayIndex(c.bundle);
    const body = bodyOf(c.bundle, i);
    const packages = (body['packages'] as Relayed).map((p) =>
      p.member === 'bob' ? { ...p, package: otherPackage('bob') } : p,
    );
    c.reseal(i, { ...body, packages });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['ROUND1_HASH_MISMATCH']);
    expect(r.checks.find((x) => x.code === 'ROUND1_HASH_MISMATCH')?.detail).toMatch(
      /other round-1 packages of bob than they signed/,
    );
  });

  it('a relayed package altered and dkg.complete re-stated with its hash: CONFIRMATION_MISMATCH and ROUND1_HASH_MISMATCH', () => {
    const c = keyBundle();
    const i = relayIndex(c.bundle);
    const body = bodyOf(c.bundle, i);
    const packages = (body['packages'] as Relayed).map((p) =>
      p.member === 'carol' ? { ...p, package: otherPackage('carol') } : p,
    );
    c.reseal(i, { ...body, packages });
    const start = bodyOf(c.bundle, indexOf(c.bundle, 'dkg.start'));
    const forged = round1Hash({
      ceremonyId: c.bundle.ceremonyId,
      threshold: 2,
      participants: start['participants'] as never,
      packages,
    });
    const done = indexOf(c.bundle, 'dkg.complete');
    c.reseal(done, { ...bodyOf(c.bundle, done), round1Hash: bytesToHex(forged) });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([
      'CONFIRMATION_MISMATCH',
      'ROUND1_HASH_MISMATCH',
    ]);
  });

  it('a member’s own round-1 package missing from the transcript: ROUND1_HASH_MISMATCH', () => {
    const c = keyBundle();
    c.remove(indexOf(c.bundle, 'dkg.round1'));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['ROUND1_HASH_MISMATCH']);
  });

  it('a round-1 package whose proof of knowledge does not verify: ROUND1_PACKAGE_INVALID', () => {
    // Relayed, hashed, confirmed and completed consistently: only the proof is wrong.
    const c = keyBundle({ badProofFrom: 'bob' });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['ROUND1_PACKAGE_INVALID']);
    expect(r.checks.find((x) => x.code === 'ROUND1_PACKAGE_INVALID')?.detail).toMatch(/bob/);
    const honest = keyBundle();
    const ok = verifyCeremonyBundle(honest.bundle, honest.trust);
    expect(ok.checks.find((x) => x.name === 'round-1 proofs of knowledge')?.ok).toBe(true);
  });

  it('the round-1 packages never relayed: ROUND1_HASH_MISMATCH', () => {
    const c = keyBundle();
    c.remove(relayIndex(c.bundle));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['ROUND1_HASH_MISMATCH']);
  });

  it('every member confirming a key that is not the sum of the C_0: INCONSISTENT_KEY_PACKAGE', () => {
    const c = keyBundle();
    const other = c.trust.adminKey;
    const done = indexOf(c.bundle, 'dkg.complete');
    const hash = bodyOf(c.bundle, done)['round1Hash'] as string;
    const signed: { member: string; signature: string }[] = [];
    c.bundle.transcript.forEach((_, i) => {
      if (bodyOf(c.bundle, i)['type'] !== 'dkg.confirm') return;
      const member = (c.bundle.transcript[i] as { sender: string }).sender;
      const body = {
        type: 'dkg.confirm',
        round1Hash: hash,
        groupPublicKey: other,
        signature: bytesToHex(
          signDkgConfirmation(c.ids[member]!, {
            ceremonyId: c.bundle.ceremonyId,
            member,
            round1Hash: hexToBytes(hash, 32),
            groupPublicKey: hexToBytes(other, 32),
          }),
        ),
      };
      signed.push({ member, signature: body.signature });
      c.reseal(i, body);
    });
    c.reseal(done, { ...bodyOf(c.bundle, done), groupPublicKey: other, confirmations: signed });
    const { groupPublicKey: _, ...unpinned } = c.trust;
    expect(failed(verifyCeremonyBundle(c.bundle, unpinned))).toEqual(['INCONSISTENT_KEY_PACKAGE']);
  });

  it('epoch 0 recorded with a swapped verifying share: INCONSISTENT_KEY_PACKAGE', () => {
    const c = keyBundle();
    const epoch = c.bundle.group!.epochs[0]!;
    const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(epoch.publicKeyPackage));
    const id = frost.identifier.derive('bob');
    epoch.publicKeyPackage = bytesToHex(
      frost.encode.bytes('PublicKeyPackage', {
        ...pub,
        verifyingShares: {
          ...pub.verifyingShares,
          [id]: frost.suite.Point.BASE.multiply(987_654_321n).toBytes(),
        },
      }),
    );
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['INCONSISTENT_KEY_PACKAGE']);
    expect(r.checks.find((x) => x.code === 'INCONSISTENT_KEY_PACKAGE')?.detail).toMatch(
      /recorded for epoch 0 has verifying shares other than/,
    );
  });
});

// Refresh, reshare, repair: the confirmed hash is lifecycleHash over key.start, the dealers' packages
// and the public key package the members ended with — the one the bundle records for the new epoch.
describe('verifyCeremonyBundle: lifecycle ceremonies', () => {
  type Relayed = { member: string; package: string }[];

  it.each(['refresh', 'reshare', 'repair'] as const)('accepts an honest %s bundle', (kind) => {
    const c = lifecycleBundle(kind);
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.checks.map((x) => x.name)).toEqual(
      expect.arrayContaining(['round-1 hash recomputed', 'key state from the round-1 commitments']),
    );
  });

  it.each(['refresh', 'reshare'] as const)(
    '%s: a relayed dealer package altered and re-signed by the coordinator: ROUND1_HASH_MISMATCH',
    (kind) => {
      const c = lifecycleBundle(kind);
      const i = indexOf(c.bundle, 'key.round1.all');
      const body = bodyOf(c.bundle, i);
      // bob's package with alice's commitment: well formed, but not what bob signed.
      const relayed = body['packages'] as Relayed;
      const alice = frost.decode.bytes(
        'ReshareRound1Package',
        hexToBytes(relayed.find((p) => p.member === 'alice')!.package),
      );
      const forged = bytesToHex(
        frost.encode.bytes('ReshareRound1Package', {
          ...alice,
          sender: frost.identifier.derive('bob'),
        }),
      );
      c.reseal(i, {
        ...body,
        packages: relayed.map((p) => (p.member === 'bob' ? { ...p, package: forged } : p)),
      });
      expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['ROUND1_HASH_MISMATCH']);
    },
  );

  it.each(['refresh', 'reshare'] as const)(
    '%s: the new epoch recorded with a swapped verifying share: ROUND1_HASH_MISMATCH and INCONSISTENT_KEY_PACKAGE',
    (kind) => {
      const c = lifecycleBundle(kind);
      const epoch = c.bundle.group!.epochs.find((e) => e.epoch === 1)!;
      const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(epoch.publicKeyPackage));
      epoch.publicKeyPackage = bytesToHex(
        frost.encode.bytes('PublicKeyPackage', {
          ...pub,
          verifyingShares: {
            ...pub.verifyingShares,
            [frost.identifier.derive('carol')]: frost.suite.Point.BASE.multiply(42n).toBytes(),
          },
        }),
      );
      expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([
        'ROUND1_HASH_MISMATCH',
        'INCONSISTENT_KEY_PACKAGE',
      ]);
    },
  );

  it.each(['refresh', 'repair'] as const)(
    '%s: key.start from another key state than the bundle records for its epoch: INCONSISTENT_KEY_PACKAGE',
    (kind) => {
      const c = lifecycleBundle(kind);
      // The coordinator rewrites its record of epoch 0 (a package from another dealing of the key).
      const epoch0 = c.bundle.group!.epochs.find((e) => e.epoch === 0)!;
      const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(epoch0.publicKeyPackage));
      const [a, b] = Object.keys(pub.verifyingShares) as (keyof typeof pub.verifyingShares)[];
      epoch0.publicKeyPackage = bytesToHex(
        frost.encode.bytes('PublicKeyPackage', {
          ...pub,
          verifyingShares: {
            ...pub.verifyingShares,
            [a!]: pub.verifyingShares[b!]!,
            [b!]: pub.verifyingShares[a!]!,
          },
        }),
      );
      expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['INCONSISTENT_KEY_PACKAGE']);
    },
  );

  it('refresh: the new epoch missing from the bundle: ROUND1_HASH_MISMATCH', () => {
    const c = lifecycleBundle('refresh');
    c.bundle.group!.epochs = c.bundle.group!.epochs.filter((e) => e.epoch !== 1);
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['ROUND1_HASH_MISMATCH']);
  });

  it('repair: a round-1 package relayed that no helper sent: ROUND1_HASH_MISMATCH', () => {
    const c = lifecycleBundle('repair');
    const i = indexOf(c.bundle, 'key.round1.all');
    const pkg = bytesToHex(
      frost.encode.bytes(
        'DkgRound1Package',
        frost.keys.dkg.part1(frost.identifier.derive('alice'), 3, 2).package,
      ),
    );
    c.reseal(i, { ...bodyOf(c.bundle, i), packages: [{ member: 'alice', package: pkg }] });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['ROUND1_HASH_MISMATCH']);
  });
});

// dkg.start (key.start) carries the admin-signed operation that asked for the ceremony; members
// refuse one that does not match (packages/client), and so does the auditor: the coordinator holds
// no admin key once it is moved off the server (docs/operations.md), so it cannot choose a roster.
describe('verifyCeremonyBundle: the key ceremony’s admin authorization', () => {
  /** Re-seals dkg.start (the coordinator's) with `authorization` in place of the admin's. */
  function withAuthorization(
    c: ReturnType<typeof keyBundle>,
    make: (signed: Envelope) => { key: Parameters<typeof sealEnvelope>[0]; fields: object },
  ) {
    const i = indexOf(c.bundle, 'dkg.start');
    const start = bodyOf(c.bundle, i);
    const signed = start['authorization'] as Envelope;
    const { key, fields } = make(signed);
    const authorization = sealEnvelope(key, {
      ceremonyId: signed.ceremonyId,
      round: signed.round,
      seq: signed.seq,
      sender: 'admin',
      body: signed.body,
      ...fields,
    } as never);
    c.reseal(i, { ...start, authorization });
  }

  it('an honest DKG: the authorization is the admin’s, for its roster and threshold', () => {
    const c = keyBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual([]);
    expect(r.checks.find((x) => x.name === 'key ceremony authorized by the admin')?.ok).toBe(true);
  });

  it('an authorization not sealed by the admin key: KEY_CEREMONY_UNAUTHORIZED', () => {
    const c = keyBundle();
    withAuthorization(c, () => ({ key: c.coordinator, fields: {} }));
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['KEY_CEREMONY_UNAUTHORIZED']);
    expect(r.checks.find((x) => !x.ok)?.detail).toMatch(/not sealed by the admin key/);
  });

  it('the admin authorized another threshold than dkg.start runs: KEY_CEREMONY_UNAUTHORIZED', () => {
    const c = keyBundle();
    withAuthorization(c, (signed) => ({
      key: c.admin,
      fields: { body: { ...signed.body, threshold: 3 } },
    }));
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['KEY_CEREMONY_UNAUTHORIZED']);
    expect(r.checks.find((x) => !x.ok)?.detail).toMatch(/threshold 2 is not the 3/);
  });

  it('the admin authorized another roster: KEY_CEREMONY_UNAUTHORIZED', () => {
    const c = keyBundle();
    withAuthorization(c, (signed) => {
      const body = signed.body as { members: { member: string; identityKey: string }[] };
      const mallory = bytesToHex(generateIdentityKey().publicKey);
      return {
        key: c.admin,
        fields: {
          body: {
            ...body,
            members: body.members.map((m) =>
              m.member === 'carol' ? { member: 'carol', identityKey: mallory } : m,
            ),
          },
        },
      };
    });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['KEY_CEREMONY_UNAUTHORIZED']);
  });

  it('an authorization of another ceremony (a replayed group creation): KEY_CEREMONY_UNAUTHORIZED', () => {
    const c = keyBundle();
    withAuthorization(c, () => ({ key: c.admin, fields: { ceremonyId: 'c_othergroupcreate' } }));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['KEY_CEREMONY_UNAUTHORIZED']);
  });

  it('a lifecycle key.start whose admin authorization names another group key: KEY_CEREMONY_UNAUTHORIZED', () => {
    const c = lifecycleBundle('refresh');
    const i = indexOf(c.bundle, 'key.start');
    const start = bodyOf(c.bundle, i);
    const signed = start['authorization'] as Envelope;
    const authorization = sealEnvelope(c.admin, {
      ceremonyId: signed.ceremonyId,
      round: signed.round,
      seq: signed.seq,
      sender: 'admin',
      body: { ...signed.body, groupPublicKey: c.trust.adminKey } as never,
    });
    c.reseal(i, { ...start, authorization });
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['KEY_CEREMONY_UNAUTHORIZED']);
  });
});

// The checkpoint is signed by the coordinator's log key, which it holds: alone it proves only that
// the coordinator says so. Witnesses the auditor pins (members' clients, tlog-cosignature) must
// each have cosigned it.
describe('verifyCeremonyBundle: pinned witnesses', () => {
  const BOB = 'conclave.member/bob';
  /** Appends `key`'s cosignature in bob's name to the bundle's checkpoint. */
  const cosignAs = (
    c: ReturnType<typeof signingBundle>,
    key: ReturnType<typeof generateIdentityKey>,
  ) => {
    const cp = openCheckpoint(c.bundle.log!.checkpoint, parseVerifierKey(c.trust.logKey));
    c.bundle.log!.checkpoint += formatSignatureLine(
      cosign({ name: BOB, key }, cp.body, 1_750_000_100),
    );
  };
  const witnesses = (c: ReturnType<typeof signingBundle>) => [
    { name: BOB, key: bytesToHex(c.ids['bob']!.publicKey) },
  ];

  it('without pinned witnesses the check says: the coordinator’s log key only', () => {
    const c = signingBundle();
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(r.checks.find((x) => x.name === 'included in a signed checkpoint')?.detail).toMatch(
      /the coordinator's log key only/,
    );
    expect(r.witnessedBy).toEqual([]);
  });

  it('a pinned witness that did not cosign: COSIGNATURE_INVALID', () => {
    const c = signingBundle();
    expect(failed(verifyCeremonyBundle(c.bundle, { ...c.trust, witnesses: witnesses(c) }))).toEqual(
      ['COSIGNATURE_INVALID'],
    );
  });

  it('a cosignature in the witness’s name by another key: COSIGNATURE_INVALID', () => {
    const c = signingBundle();
    cosignAs(c, generateIdentityKey());
    expect(failed(verifyCeremonyBundle(c.bundle, { ...c.trust, witnesses: witnesses(c) }))).toEqual(
      ['COSIGNATURE_INVALID'],
    );
  });

  it('cosigned by the pinned witness: verified, and reported', () => {
    const c = signingBundle();
    cosignAs(c, c.ids['bob']!);
    const r = verifyCeremonyBundle(c.bundle, { ...c.trust, witnesses: witnesses(c) });
    expect(failed(r)).toEqual([]);
    expect(r.witnessedBy).toEqual([BOB]);
    expect(r.checks.find((x) => x.name === 'included in a signed checkpoint')?.detail).not.toMatch(
      /log key only/,
    );
  });
});
