// The confirmation round of a lifecycle ceremony (refresh, reshare, repair; THREATS B.24 as for the
// DKG). Each confirmer hashes its own view — the key state it started from, the new committee, every
// dealer's public package and the public key package it ended with — and signs that hash with the
// group key (dkg-confirmation.ts `signDkgConfirmation`, `round1Hash` = this hash). Nothing is saved
// unless every confirmer signed the same hash: same group key AND same verifying shares.
import { sha256 } from '@conclave/frost';
import { domainEncode, u32be, type Field } from './encoding.js';
import { hexToBytes } from './hex.js';
import type { DkgParticipant, MemberPackage } from './messages/dkg.js';
import type { LifecycleKind } from './messages/lifecycle.js';

export interface LifecycleView {
  readonly ceremonyId: string;
  readonly kind: LifecycleKind;
  readonly group: string;
  readonly fromEpoch: number;
  readonly toEpoch: number;
  /** The public key package of `fromEpoch` (canonical FROST encoding). */
  readonly previousPublicKeyPackage: Uint8Array;
  readonly threshold: number;
  readonly participants: readonly DkgParticipant[];
  readonly dealers: readonly string[];
  /** Repair: the member whose share is rebuilt. */
  readonly member?: string;
  /** Dealers' public round-1 packages (none for a repair). */
  readonly packages: readonly MemberPackage[];
  /** The public key package after the ceremony (canonical FROST encoding). */
  readonly publicKeyPackage: Uint8Array;
}

const byMember = <T extends { member: string }>(a: T, b: T): number =>
  a.member < b.member ? -1 : a.member > b.member ? 1 : 0;

/** SHA-256 of the whole view, lists sorted by member, so two members agree iff they saw the same. */
export function lifecycleHash(view: LifecycleView): Uint8Array {
  const fields: Field[] = [
    view.ceremonyId,
    view.kind,
    view.group,
    u32be(view.fromEpoch),
    u32be(view.toEpoch),
    view.previousPublicKeyPackage,
    u32be(view.threshold),
    u32be(view.participants.length),
  ];
  for (const p of [...view.participants].sort(byMember)) {
    fields.push(p.member, hexToBytes(p.identifier, 32), hexToBytes(p.identityKey, 32));
  }
  const dealers = [...view.dealers].sort();
  fields.push(u32be(dealers.length), ...dealers, view.member ?? '');
  fields.push(u32be(view.packages.length));
  for (const p of [...view.packages].sort(byMember)) fields.push(p.member, hexToBytes(p.package));
  fields.push(view.publicKeyPackage);
  return sha256(domainEncode('key-lifecycle', fields));
}

/**
 * Whether a refresh's or repair's committee is exactly its previous roster: the same members,
 * identifiers and identity keys. The admin does not sign that roster, and dealers seal each box to
 * the committee's keys, which each holder checks only as `previous` against its own share; a key
 * the coordinator slipped into `participants` would make an honest dealer's box unopenable. The
 * client refuses such a start and the audit fails it.
 */
export function keepsRoster(
  previous: readonly DkgParticipant[],
  participants: readonly DkgParticipant[],
): boolean {
  const entries = (l: readonly DkgParticipant[]) =>
    l.map((p) => `${p.member} ${p.identifier} ${p.identityKey}`).sort();
  const a = entries(previous);
  const b = entries(participants);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
