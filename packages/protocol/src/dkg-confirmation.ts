// The DKG confirmation round (THREATS B24: echo broadcast / CertEq). Each member hashes its own
// view of the ceremony — roster and every round-1 package — and signs that hash with the group
// public key it derived. The group becomes active only if all n signatures cover the same values.
import { sha256 } from '@conclave/frost';
import { domainEncode, u32be, type Field } from './encoding.js';
import { hexToBytes } from './hex.js';
import { signIdentity, verifyIdentity, type IdentityKey } from './identity.js';
import type { DkgParticipant, MemberPackage } from './messages/dkg.js';

export interface Round1View {
  readonly ceremonyId: string;
  readonly threshold: number;
  readonly participants: readonly DkgParticipant[];
  readonly packages: readonly MemberPackage[];
}

const byMember = <T extends { member: string }>(a: T, b: T): number =>
  a.member < b.member ? -1 : a.member > b.member ? 1 : 0;

/**
 * SHA-256 over the roster (member, identifier, identity key) and round-1 packages, each sorted by
 * member id, so two members agree iff they saw the same ceremony.
 */
export function round1Hash(view: Round1View): Uint8Array {
  const fields: Field[] = [view.ceremonyId, u32be(view.threshold), u32be(view.participants.length)];
  for (const p of [...view.participants].sort(byMember)) {
    fields.push(p.member, hexToBytes(p.identifier, 32), hexToBytes(p.identityKey, 32));
  }
  fields.push(u32be(view.packages.length));
  for (const p of [...view.packages].sort(byMember)) {
    fields.push(p.member, hexToBytes(p.package));
  }
  return sha256(domainEncode('dkg-round1', fields));
}

export interface Confirmation {
  readonly ceremonyId: string;
  readonly member: string;
  readonly round1Hash: Uint8Array;
  readonly groupPublicKey: Uint8Array;
}

export function dkgConfirmationBytes(c: Confirmation): Uint8Array {
  return domainEncode('dkg-confirm', [c.ceremonyId, c.member, c.round1Hash, c.groupPublicKey]);
}

export function signDkgConfirmation(key: IdentityKey, c: Confirmation): Uint8Array {
  return signIdentity(key, dkgConfirmationBytes(c));
}

export function verifyDkgConfirmation(
  publicKey: Uint8Array,
  c: Confirmation,
  signature: Uint8Array,
): boolean {
  return verifyIdentity(publicKey, dkgConfirmationBytes(c), signature);
}
