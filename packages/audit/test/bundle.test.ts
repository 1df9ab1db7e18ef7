// verifyCeremonyBundle against an adversarial coordinator: it holds the coordinator, admin and log
// keys (it may re-seal its own envelopes, re-log and re-sign checkpoints), but not the members'.
// Each rejection rule asserts its check's code.
import { ed25519 as frost, type PublicKeyPackage } from '@conclave/frost';
import { bytesToHex, hexToBytes, signDkgConfirmation } from '@conclave/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyCeremonyBundle, type CeremonyBundle } from '../src/index.js';
import { keyBundle, signingBundle } from './bundle-fixture.js';
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
    // Without a pinned group key (that would also fail: WRONG_GROUP), the members' word catches it.
    const { groupPublicKey: _, ...unpinned } = c.trust;
    expect(failed(verifyCeremonyBundle(c.bundle, unpinned))).toEqual(['CONFIRMATION_MISMATCH']);
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
