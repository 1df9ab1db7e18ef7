// A 2-of-n group as the admin made it (dealt keys, identities, roster), the shares its members
// would load, and the admin-signed authorization of a lifecycle ceremony on it; refreshFixture is
// a 2-of-3 refresh started on such a group, for the member-side lifecycle tests.
import { ed25519 as frost } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  signDkgConfirmation,
  type IdentityKey,
  type KeyStart,
} from '@conclave/protocol';
import type { LoadedShare } from '../src/index.js';

/**
 * `names` have identities; `holders` (default: all of them) hold the epoch-0 shares of a 2-of-n
 * key dealt to them.
 */
export function dealtGroup(names: readonly string[], group: string, holders = names) {
  const admin = generateIdentityKey();
  const ids: Record<string, IdentityKey> = Object.fromEntries(
    names.map((n) => [n, generateIdentityKey()]),
  );
  const dealt = frost.keys.dealer({
    minSigners: 2,
    maxSigners: holders.length,
    identifiers: holders.map((m) => frost.identifier.derive(m)),
  });
  const pub = dealt.publicKeyPackage;
  const pubHex = bytesToHex(frost.encode.bytes('PublicKeyPackage', pub));
  const gpk = bytesToHex(pub.verifyingKey);
  /** A roster entry of `m` (with its identity from `keys`). */
  const entry = (m: string, keys = ids) => ({
    member: m,
    identifier: frost.identifier.derive(m),
    identityKey: bytesToHex(keys[m]!.publicKey),
  });
  const roster = holders.map((m) => entry(m));
  /** The epoch-0 key package of `m`. */
  const keyPackage = (m: string) =>
    frost.keys.keyPackage(dealt.shares[frost.identifier.derive(m)]!);
  /** Share-file metadata of `m` for the group's key as made by `ceremonyId` at `epoch`. */
  const metadata = (m: string, ceremonyId = 'c_dkg0000000000', epoch = 0) => ({
    kind: 'frost-key-package' as const,
    group,
    member: m,
    suite: 'FROST-ED25519-SHA512-v1' as const,
    threshold: 2,
    groupPublicKey: gpk,
    publicKeyPackage: pubHex,
    participants: roster,
    ceremonyId,
    createdAt: new Date().toISOString(),
    epoch,
  });
  /** The epoch-0 share `m` would load. */
  const share = (m: string): LoadedShare => ({
    metadata: metadata(m),
    keyPackage: keyPackage(m),
    publicKeyPackage: pub,
  });
  /**
   * `members`' dkg.complete confirmations of `round1Hash` and this group key, signed with their
   * identities from `keys` (or, `signed` false, schema-valid zeros nobody signed).
   */
  const confirmations = (
    ceremonyId: string,
    members: readonly string[],
    round1Hash: Uint8Array,
    { keys = ids, signed = true }: { keys?: Record<string, IdentityKey>; signed?: boolean } = {},
  ) =>
    members.map((m) => ({
      member: m,
      signature: signed
        ? bytesToHex(
            signDkgConfirmation(keys[m]!, {
              ceremonyId,
              member: m,
              round1Hash,
              groupPublicKey: pub.verifyingKey,
            }),
          )
        : '00'.repeat(64),
    }));
  /** The admin's sealed request that authorizes ceremony `ceremonyId` (key.start's authorization). */
  type Authorization = KeyStart['authorization'];
  // Signed now (an envelope's seq is its sender's clock in µs): members refuse an old one.
  const authorize = (
    ceremonyId: string,
    body: Authorization['body'],
    signedAt = Date.now(),
  ): Authorization =>
    sealEnvelope(admin, { ceremonyId, round: '0', seq: signedAt * 1000, sender: 'admin', body });
  /** The admin's 2-of-n reshare of this key from its holders to `committee`, dealt by `dealers`. */
  const reshareStart = (
    ceremonyId: string,
    committee: readonly string[],
    dealers: readonly string[],
  ): KeyStart => ({
    type: 'key.start',
    protocolVersion: PROTOCOL_VERSION,
    kind: 'reshare',
    group,
    fromEpoch: 0,
    toEpoch: 1,
    groupPublicKey: gpk,
    publicKeyPackage: pubHex,
    previousThreshold: 2,
    previous: roster,
    threshold: 2,
    participants: committee.map((m) => entry(m)),
    dealers: [...dealers],
    authorization: authorize(ceremonyId, {
      type: 'admin.group.reshare',
      group,
      epoch: 0,
      groupPublicKey: gpk,
      threshold: 2,
      members: committee.map((m) => ({ member: m, identityKey: entry(m).identityKey })),
      dealers: [...dealers],
    }),
  });
  return {
    reshareStart,
    admin,
    ids,
    dealt,
    pub,
    pubHex,
    gpk,
    entry,
    roster,
    keyPackage,
    metadata,
    share,
    confirmations,
    authorize,
  };
}

export function refreshFixture(names: readonly string[], group: string) {
  const g = dealtGroup(names, group);
  const ceremonyId = newCeremonyId();
  const start: KeyStart = {
    type: 'key.start',
    protocolVersion: PROTOCOL_VERSION,
    kind: 'refresh',
    group,
    fromEpoch: 0,
    toEpoch: 1,
    groupPublicKey: g.gpk,
    publicKeyPackage: g.pubHex,
    previousThreshold: 2,
    previous: g.roster,
    threshold: 2,
    participants: g.roster,
    dealers: [...names],
    authorization: g.authorize(ceremonyId, {
      type: 'admin.group.refresh',
      group,
      epoch: 0,
      groupPublicKey: g.gpk,
    }),
  };
  return { ...g, ceremonyId, start };
}
