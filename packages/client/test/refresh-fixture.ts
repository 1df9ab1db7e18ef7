// A 2-of-3 refresh as the admin starts it (dealt keys, roster, admin-signed key.start) and the
// shares the members would load, for the member-side lifecycle tests.
import { ed25519 as frost } from '@conclave/frost';
import {
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  type IdentityKey,
  type KeyStart,
} from '@conclave/protocol';
import type { LoadedShare } from '../src/index.js';

export function refreshFixture(names: readonly string[], group: string) {
  const admin = generateIdentityKey();
  const ids: Record<string, IdentityKey> = Object.fromEntries(
    names.map((n) => [n, generateIdentityKey()]),
  );
  const dealt = frost.keys.dealer({
    minSigners: 2,
    maxSigners: names.length,
    identifiers: names.map((m) => frost.identifier.derive(m)),
  });
  const pub = dealt.publicKeyPackage;
  const pubHex = bytesToHex(frost.encode.bytes('PublicKeyPackage', pub));
  const gpk = bytesToHex(pub.verifyingKey);
  const roster = names.map((m) => ({
    member: m,
    identifier: frost.identifier.derive(m),
    identityKey: bytesToHex(ids[m]!.publicKey),
  }));
  const ceremonyId = newCeremonyId();
  const start: KeyStart = {
    type: 'key.start',
    kind: 'refresh',
    group,
    fromEpoch: 0,
    toEpoch: 1,
    groupPublicKey: gpk,
    publicKeyPackage: pubHex,
    previousThreshold: 2,
    previous: roster,
    threshold: 2,
    participants: roster,
    dealers: [...names],
    authorization: sealEnvelope(admin, {
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'admin',
      body: { type: 'admin.group.refresh', group, epoch: 0, groupPublicKey: gpk },
    }),
  };
  /** The epoch-0 share `m` would load (metadata as its share file holds it). */
  const share = (m: string): LoadedShare => ({
    metadata: {
      kind: 'frost-key-package',
      group,
      member: m,
      suite: 'FROST-ED25519-SHA512-v1',
      threshold: 2,
      groupPublicKey: gpk,
      publicKeyPackage: pubHex,
      participants: roster,
      ceremonyId: 'c_dkg0000000000',
      createdAt: new Date().toISOString(),
      epoch: 0,
    },
    keyPackage: frost.keys.keyPackage(dealt.shares[frost.identifier.derive(m)]!),
    publicKeyPackage: pub,
  });
  return { admin, ids, dealt, pub, pubHex, gpk, roster, ceremonyId, start, share };
}
