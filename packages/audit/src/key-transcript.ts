// A key ceremony's round-1 transcript, recomputed (THREATS B24, B32). Members sign `dkg.confirm`
// over a hash of what they saw — the DKG's roster and round-1 packages (`round1Hash`), or a
// lifecycle's whole view including the public key package it ended with (`lifecycleHash`) — and the
// confirmations are checked in bundle.ts. Here the auditor recomputes that hash itself from the
// round-1 packages in the transcript, both as each member signed them and as the coordinator relayed
// them, so a relayed package altered by the coordinator, or a hash it stated for packages it never
// relayed, is refused. Then it derives the key state from the round-1 VSS commitments (RFC 9591
// Appendix C.2: the group key is the sum of the constant terms, each verifying share the summed
// commitment evaluated at the member's identifier) and compares the group key dkg.complete states
// and the public key package the bundle records for the resulting epoch.
import {
  ed25519 as frost,
  isFrostError,
  type DkgRound1Package,
  type PublicKeyPackage,
  type ReshareRound1Package,
} from '@conclave/frost';
import {
  bytesToHex,
  hexToBytes,
  lifecycleHash,
  round1Hash,
  type Envelope,
  type MemberPackage,
} from '@conclave/protocol';
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import type { CeremonyBundle } from './bundle.js';
import { keyPackageInconsistency } from './key-package.js';
import type { TranscriptEntry } from './leaf.js';
import type { Checks } from './report.js';

/** A body of one message type, and a transcript entry carrying one (the bundle checks use both). */
export type Body<T extends string> = Extract<Envelope['body'], { type: T }>;
export type At<T extends string> = TranscriptEntry & { envelope: Envelope & { body: Body<T> } };
type Point = ReturnType<typeof frost.suite.Point.fromBytes>;

const MAX_LISTED = 8;
const list = (xs: readonly string[]): string =>
  xs.length <= MAX_LISTED
    ? xs.join('; ')
    : `${xs.slice(0, MAX_LISTED).join('; ')} and ${xs.length - MAX_LISTED} more`;

/** The transcript's entries whose body is of `type`, in order. */
export function bodiesOf<T extends Envelope['body']['type']>(
  entries: readonly TranscriptEntry[],
  type: T,
): At<T>[] {
  return entries.filter((e) => e.envelope.body.type === type) as At<T>[];
}

/**
 * Each member's round-1 package from its first message of `type`, as it signed it (what the
 * coordinator builds the round from: `firstIncoming`); a first message without one counts as none.
 */
function ownPackages(
  entries: readonly TranscriptEntry[],
  type: 'dkg.round1' | 'key.round1',
): Map<string, string> {
  const own = new Map<string, string>();
  const seen = new Set<string>();
  for (const e of entries) {
    const body = e.envelope.body as { type: string; package?: string };
    if (e.direction !== 'in' || body.type !== type || seen.has(e.sender)) continue;
    seen.add(e.sender);
    if (body.package !== undefined) own.set(e.sender, body.package);
  }
  return own;
}

/**
 * Compares every relayed copy with what the members signed, and recomputes the confirmed hash from
 * both (`hashOf`); pushes a problem for each difference.
 */
function compareRound1(
  confirmed: string,
  own: ReadonlyMap<string, string>,
  relayed: readonly { idx: number; packages: readonly MemberPackage[] }[],
  hashOf: (packages: readonly MemberPackage[]) => string | undefined,
  problems: string[],
): void {
  const ownList = [...own].map(([member, pkg]) => ({ member, package: pkg }));
  for (const copy of relayed) {
    const theirs = new Map(copy.packages.map((p) => [p.member, p.package]));
    const altered = [...own.keys()].filter((m) => theirs.get(m) !== own.get(m));
    const strangers = [...theirs.keys()].filter((m) => !own.has(m));
    if (altered.length > 0) {
      problems.push(
        `entry ${copy.idx} relays other round-1 packages of ${altered.join(', ')} than they signed`,
      );
    }
    if (strangers.length > 0) {
      problems.push(
        `entry ${copy.idx} relays round-1 packages of ${strangers.join(', ')}, who sent none`,
      );
    }
    const h = hashOf(copy.packages);
    if (h !== confirmed) {
      problems.push(
        `the confirmed hash ${confirmed.slice(0, 16)}… is not the hash of the round-1 packages relayed in entry ${copy.idx}${h === undefined ? '' : ` (${h.slice(0, 16)}…)`}`,
      );
    }
  }
  const h = hashOf(ownList);
  if (h !== confirmed) {
    problems.push(
      `the confirmed hash ${confirmed.slice(0, 16)}… is not the hash of the round-1 packages the members signed${h === undefined ? '' : ` (${h.slice(0, 16)}…)`}`,
    );
  }
}

/** Σ_k C_k·x^k over public data (RFC 9591 Appendix C.2 evaluation of a VSS commitment). */
function evalCommitment(commitment: readonly Point[], x: bigint): Point {
  const Fn = frost.suite.Fn;
  const powers = commitment.map((_, k) => Fn.pow(x, BigInt(k)));
  return mulAddUnsafe(frost.suite.Point as never, commitment as never, powers) as unknown as Point;
}

/** How `recorded` differs from `derived` (group key, threshold, every verifying share), if it does. */
function packageDifference(
  recorded: PublicKeyPackage,
  derived: { verifyingKey: string; minSigners: number; shares: ReadonlyMap<string, string> },
): string | undefined {
  if (bytesToHex(recorded.verifyingKey) !== derived.verifyingKey) return 'another group key';
  if (recorded.minSigners !== derived.minSigners) return 'another threshold';
  const ids = Object.keys(recorded.verifyingShares);
  const wrong = [...derived.shares].filter(
    ([id, y]) => bytesToHex(recorded.verifyingShares[id as never] ?? new Uint8Array()) !== y,
  );
  if (wrong.length > 0 || ids.length !== derived.shares.size) {
    return 'verifying shares other than the summed commitments give';
  }
  return undefined;
}

/** Runs the checks "round-1 hash recomputed" and "key state from the round-1 commitments". */
export function verifyKeyTranscript(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  complete: Body<'dkg.complete'>,
  checks: Checks,
): void {
  const dkgStart = bodiesOf(entries, 'dkg.start')[0]?.envelope.body;
  const keyStart = bodiesOf(entries, 'key.start')[0]?.envelope.body;
  if (dkgStart !== undefined) verifyDkg(b, entries, dkgStart, complete, checks);
  else if (keyStart !== undefined) verifyLifecycle(b, entries, keyStart, complete, checks);
  // Neither: the confirmation check already fails ("no dkg.start or key.start").
}

function verifyDkg(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  start: Body<'dkg.start'>,
  complete: Body<'dkg.complete'>,
  checks: Checks,
): void {
  const hashProblems: string[] = [];
  const own = ownPackages(entries, 'dkg.round1');
  const missing = start.participants.filter((p) => !own.has(p.member)).map((p) => p.member);
  if (missing.length > 0) hashProblems.push(`${missing.join(', ')} sent no round-1 package`);
  const relayed = bodiesOf(entries, 'dkg.round1.all').map((e) => ({
    idx: e.idx,
    packages: e.envelope.body.packages,
  }));
  if (relayed.length === 0) hashProblems.push('no dkg.round1.all relays the round-1 packages');
  compareRound1(
    complete.round1Hash,
    own,
    relayed,
    (packages) =>
      bytesToHex(
        round1Hash({
          ceremonyId: b.ceremonyId,
          threshold: start.threshold,
          participants: start.participants,
          packages,
        }),
      ),
    hashProblems,
  );
  checks.add(
    'round-1 hash recomputed',
    hashProblems.length === 0,
    'ROUND1_HASH_MISMATCH',
    `the hash every member confirmed is the hash of the roster and the ${own.size} round-1 packages, as each member signed and the coordinator relayed them`,
    `${list(hashProblems)}: the coordinator altered what it relayed or what it says was confirmed; keep the bundle`,
  );
  if (missing.length > 0) return;

  // The key state from the VSS commitments the members signed.
  const keyProblems: string[] = [];
  const proofProblems: string[] = [];
  let derived: PublicKeyPackage | undefined;
  try {
    const decoded: DkgRound1Package[] = start.participants.map((p) => {
      const pkg = frost.decode.bytes('DkgRound1Package', hexToBytes(own.get(p.member) ?? ''));
      if (pkg.identifier !== p.identifier) {
        keyProblems.push(`${p.member}'s round-1 package names another identifier`);
      }
      // Each package's proof of knowledge of its constant term (RFC 9591 Appendix C.1), which
      // every member checks in part2: without it one member could choose the group key (rogue key).
      try {
        frost.keys.dkg.verifyRound1(pkg, start.threshold);
      } catch (e) {
        const code = isFrostError(e) ? e.code : 'INVALID';
        proofProblems.push(`${p.member}'s round-1 package (${code})`);
      }
      return pkg;
    });
    checks.add(
      'round-1 proofs of knowledge',
      proofProblems.length === 0,
      'ROUND1_PACKAGE_INVALID',
      `each of the ${start.participants.length} round-1 packages carries a valid proof of knowledge of its constant term`,
      `${list(proofProblems)} does not verify: the members should have refused it; do not use this key`,
    );
    derived = frost.keys.dkg.publicKeyPackage(decoded, start.threshold);
  } catch {
    keyProblems.push(
      `the round-1 packages do not decode, or their commitments are not ${start.threshold} long`,
    );
  }
  let epochNote = '';
  if (derived !== undefined) {
    if (bytesToHex(derived.verifyingKey) !== complete.groupPublicKey) {
      keyProblems.push(
        'the group key dkg.complete states is not the sum of the round-1 commitments’ constant terms',
      );
    }
    const epoch = b.group?.epochs.find(
      (e) => e.epoch === 0 && e.groupPublicKey === complete.groupPublicKey,
    );
    if (epoch !== undefined) {
      const difference = recordedDifference(epoch.publicKeyPackage, {
        verifyingKey: bytesToHex(derived.verifyingKey),
        minSigners: derived.minSigners,
        shares: new Map(
          Object.entries(derived.verifyingShares).map(([id, y]) => [id, bytesToHex(y)]),
        ),
      });
      if (difference !== undefined) {
        keyProblems.push(`the public key package recorded for epoch 0 has ${difference}`);
      }
      epochNote = '; the public key package recorded for epoch 0 is that key state';
    }
  }
  checks.add(
    'key state from the round-1 commitments',
    keyProblems.length === 0,
    'INCONSISTENT_KEY_PACKAGE',
    `the group key is the sum of the ${start.participants.length} round-1 commitments’ constant terms${epochNote}`,
    `${list(keyProblems)}: do not use this key state; get the public key package from a member's share file`,
  );
}

function verifyLifecycle(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  start: Body<'key.start'>,
  complete: Body<'dkg.complete'>,
  checks: Checks,
): void {
  const hashProblems: string[] = [];
  const own = ownPackages(entries, 'key.round1');
  const dealing = start.kind !== 'repair';
  const missing = dealing ? start.dealers.filter((d) => !own.has(d)) : [];
  if (missing.length > 0) hashProblems.push(`${missing.join(', ')} sent no round-1 package`);
  if (!dealing && own.size > 0) hashProblems.push('a repair has round-1 packages');
  const relayed = bodiesOf(entries, 'key.round1.all').map((e) => ({
    idx: e.idx,
    packages: e.envelope.body.packages,
  }));
  // The public key package the members ended with: a repair keeps the one it started from; a
  // refresh or reshare made the one the bundle records for the new epoch (bound by the hash).
  const endedHex = dealing
    ? b.group?.epochs.find((e) => e.epoch === start.toEpoch)?.publicKeyPackage
    : start.publicKeyPackage;
  let ended: PublicKeyPackage | undefined;
  try {
    if (endedHex !== undefined)
      ended = frost.decode.bytes('PublicKeyPackage', hexToBytes(endedHex));
  } catch {
    ended = undefined;
  }
  if (ended === undefined) {
    hashProblems.push(
      endedHex === undefined
        ? `the bundle has no public key package for epoch ${start.toEpoch}, which the lifecycle hash covers`
        : `the public key package for epoch ${start.toEpoch} does not decode`,
    );
  } else {
    const endedBytes = frost.encode.bytes('PublicKeyPackage', ended);
    compareRound1(
      complete.round1Hash,
      own,
      relayed,
      (packages) =>
        bytesToHex(
          lifecycleHash({
            ceremonyId: b.ceremonyId,
            kind: start.kind,
            group: start.group,
            fromEpoch: start.fromEpoch,
            toEpoch: start.toEpoch,
            previousPublicKeyPackage: hexToBytes(start.publicKeyPackage),
            threshold: start.threshold,
            participants: start.participants,
            dealers: start.dealers,
            ...(start.member === undefined ? {} : { member: start.member }),
            packages,
            publicKeyPackage: endedBytes,
          }),
        ),
      hashProblems,
    );
  }
  checks.add(
    'round-1 hash recomputed',
    hashProblems.length === 0,
    'ROUND1_HASH_MISMATCH',
    `the hash every confirmer signed is the lifecycle hash (${start.kind}) of key.start, the ${own.size} dealers' packages as signed and relayed, and the public key package of epoch ${start.toEpoch}`,
    `${list(hashProblems)}: the coordinator altered what it relayed, what it says was confirmed, or the key state it recorded; keep the bundle`,
  );
  if (ended === undefined || missing.length > 0) return;

  // The key state: unchanged group key, one polynomial through it, and (refresh/reshare) the
  // verifying shares the dealers' summed commitments give the new committee.
  const keyProblems: string[] = [];
  if (bytesToHex(ended.verifyingKey) !== complete.groupPublicKey) {
    keyProblems.push('the recorded public key package has another group key');
  }
  const inconsistency = keyPackageInconsistency(ended, start.threshold);
  if (inconsistency !== undefined)
    keyProblems.push(`the recorded public key package: ${inconsistency}`);
  // The key state the ceremony started from is the one the bundle records for that epoch.
  const from = b.group?.epochs.find((e) => e.epoch === start.fromEpoch);
  if (from !== undefined && !samePackage(from.publicKeyPackage, start.publicKeyPackage)) {
    keyProblems.push(
      `key.start's public key package is not the one the bundle records for epoch ${start.fromEpoch}`,
    );
  }
  if (dealing) {
    try {
      const decoded: ReshareRound1Package[] = start.dealers.map((d) => {
        const pkg = frost.decode.bytes('ReshareRound1Package', hexToBytes(own.get(d) ?? ''));
        if (pkg.sender !== start.previous.find((p) => p.member === d)?.identifier) {
          keyProblems.push(`${d}'s round-1 package names another dealer`);
        }
        if (pkg.commitment.length !== start.threshold) {
          keyProblems.push(`${d}'s commitment is not ${start.threshold} long`);
        }
        return pkg;
      });
      const summed = decoded
        .map((p) => p.commitment.map((c) => frost.suite.Point.fromBytes(c)))
        .reduce((acc, c) => acc.map((a, k) => (c[k] === undefined ? a : a.add(c[k]))));
      const key = summed[0];
      if (key === undefined || bytesToHex(key.toBytes()) !== complete.groupPublicKey) {
        keyProblems.push(
          'the group key is not the sum of the dealers’ commitments’ constant terms',
        );
      }
      const shares = new Map(
        start.participants.map((p) => [
          p.identifier as string,
          bytesToHex(
            evalCommitment(summed, frost.suite.scalarFromBytes(hexToBytes(p.identifier))).toBytes(),
          ),
        ]),
      );
      const difference = packageDifference(ended, {
        verifyingKey: complete.groupPublicKey,
        minSigners: start.threshold,
        shares,
      });
      if (difference !== undefined) {
        keyProblems.push(`the public key package of epoch ${start.toEpoch} has ${difference}`);
      }
    } catch {
      keyProblems.push('the dealers’ round-1 packages do not decode');
    }
  }
  checks.add(
    'key state from the round-1 commitments',
    keyProblems.length === 0,
    'INCONSISTENT_KEY_PACKAGE',
    dealing
      ? `the group key is unchanged, and epoch ${start.toEpoch}'s public key package is the one the ${start.dealers.length} dealers' summed commitments give`
      : 'the group key is unchanged and the public key package is consistent',
    `${list(keyProblems)}: do not use this key state; get the public key package from a member's share file`,
  );
}

function recordedDifference(
  hex: string,
  derived: Parameters<typeof packageDifference>[1],
): string | undefined {
  try {
    return packageDifference(frost.decode.bytes('PublicKeyPackage', hexToBytes(hex)), derived);
  } catch {
    return 'an encoding that does not decode';
  }
}

/** Do two hex public key packages decode to the same package (canonical re-encoding)? */
export function samePackage(a: string, b: string): boolean {
  try {
    const enc = (hex: string) =>
      bytesToHex(
        frost.encode.bytes(
          'PublicKeyPackage',
          frost.decode.bytes('PublicKeyPackage', hexToBytes(hex)),
        ),
      );
    return enc(a) === enc(b);
  } catch {
    return false;
  }
}
