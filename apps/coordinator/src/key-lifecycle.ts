// Key lifecycle ceremonies over the coordinator (docs/lifecycle.md): refresh, reshare and repair run
// on the key chart with roles (dealers, recipients, confirmers). The coordinator relays public
// dealer packages and end-to-end encrypted boxes (ciphertext only), recomputes the new public key
// package itself from the dealers' commitments, and saves it — with the epoch + 1 — only when every
// confirmer signed the same lifecycle hash and the group key is unchanged. Open signing ceremonies
// of the group are cancelled when its shares change, so no nonce committed under one epoch is ever
// used with a share of another.
import { keyMachine, keyPhase, type KeyContext, type KeyEffect } from '@conclave/ceremony';
import {
  ed25519 as frost,
  type PublicKeyPackage,
  type ReshareRound1Package,
  sha256,
} from '@conclave/frost';
import {
  bytesToHex,
  hexToBytes,
  lifecycleHash,
  PROTOCOL_VERSION,
  verifyPairwiseBox,
  type AdminGroupRefresh,
  type AdminGroupRepair,
  type AdminGroupReshare,
  type DkgParticipant,
  type Envelope,
  type GroupInfo,
  type IncomingBox,
  type KeyRound1,
  type KeyRound2,
  type KeyStart,
  type LifecycleKind,
  type MemberPackage,
  type OutgoingBox,
} from '@conclave/protocol';
import { ed25519 as noble } from '@noble/curves/ed25519.js';
import { createActor } from 'xstate';
import {
  keySnapshot,
  type CeremonyRunner,
  type FollowUp,
  type Incoming,
  type Live,
} from './ceremonies.js';
import { frostRefusal, identifierOf, refused } from './runtime.js';
import type { GroupRecord } from './store.js';

type Point = InstanceType<typeof noble.Point>;
const Point = noble.Point;
const Fn = noble.Point.Fn;

type LifecycleBody = AdminGroupRefresh | AdminGroupReshare | AdminGroupRepair;

const KIND_OF: Readonly<Record<LifecycleBody['type'], LifecycleKind>> = {
  'admin.group.refresh': 'refresh',
  'admin.group.reshare': 'reshare',
  'admin.group.repair': 'repair',
};

const context = (live: Live): KeyContext => keySnapshot(live).context;

export const isLifecycle = (live: Live): boolean =>
  live.kind === 'key' && context(live).kind !== 'dkg';

const participant = (member: string, identityKey: string): DkgParticipant => ({
  member,
  identifier: identifierOf(member),
  identityKey,
});

// ---------------------------------------------------------------------------------------------
// Public key package arithmetic (the coordinator never sees a secret; all of this is public)

const scalarOf = (identifier: string): bigint => Fn.fromBytes(hexToBytes(identifier, 32));

/** λ_i at 0 over the dealers' identifiers (RFC 9591 §4.2 derive_interpolating_value). */
function lagrangeAtZero(xs: readonly bigint[], xi: bigint): bigint {
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const xj of xs) {
    if (xj === xi) continue;
    num = Fn.mul(num, xj);
    den = Fn.mul(den, Fn.sub(xj, xi));
  }
  return Fn.div(num, den);
}

/** Σ C_k · x^k (RFC 9591 Appendix C.2 vss_verify's right-hand side). */
function vssEval(commitment: readonly Point[], x: bigint): Point {
  let acc = commitment[commitment.length - 1] as Point;
  for (let k = commitment.length - 2; k >= 0; k--) {
    acc = acc.multiplyUnsafe(x).add(commitment[k] as Point);
  }
  return acc;
}

/**
 * Checks a dealer's commitment against the key state it reshares: its constant term must be
 * λ_i·PK_i (so no dealer can shift the group key) and it has `threshold` coefficients.
 */
export function checkDealerPackage(
  old: PublicKeyPackage,
  dealers: readonly string[],
  dealer: string,
  pkg: ReshareRound1Package,
  threshold: number,
): 'ok' | 'length' | 'constant' {
  if (pkg.commitment.length !== threshold) return 'length';
  const ids = dealers.map(identifierOf);
  const xs = ids.map(scalarOf);
  const id = identifierOf(dealer);
  const share = old.verifyingShares[id];
  if (share === undefined) return 'constant';
  const lambda = lagrangeAtZero(xs, scalarOf(id));
  const c0 = Point.fromBytes(pkg.commitment[0] as Uint8Array);
  return c0.equals(Point.fromBytes(share).multiplyUnsafe(lambda)) ? 'ok' : 'constant';
}

/**
 * The public key package after a refresh or reshare, from the dealers' commitments alone:
 * verifying share of j = Σ_i Σ_k C_{i,k}·j^k; the group key Σ_i C_{i,0} must equal the old one.
 */
export function resharePublicKeyPackage(
  old: PublicKeyPackage,
  dealers: readonly string[],
  packages: ReadonlyMap<string, ReshareRound1Package>,
  committee: readonly string[],
  threshold: number,
): PublicKeyPackage {
  let merged: Point[] | undefined;
  for (const dealer of dealers) {
    const pkg = packages.get(dealer);
    if (pkg === undefined) throw refused('INCORRECT_COMMITMENT', 'a dealer package is missing');
    if (checkDealerPackage(old, dealers, dealer, pkg, threshold) !== 'ok') {
      throw refused('INCORRECT_COMMITMENT', 'a dealer commitment does not fit the key');
    }
    const c = pkg.commitment.map((b) => Point.fromBytes(b));
    merged = merged === undefined ? c : merged.map((m, k) => m.add(c[k] as Point));
  }
  if (merged === undefined) throw refused('INCORRECT_COMMITMENT', 'no dealers');
  const verifyingShares: Record<string, Uint8Array> = {};
  for (const member of committee) {
    const id = identifierOf(member);
    verifyingShares[id] = vssEval(merged, scalarOf(id)).toBytes();
  }
  const verifyingKey = (merged[0] as Point).toBytes();
  if (bytesToHex(verifyingKey) !== bytesToHex(old.verifyingKey)) {
    throw refused('INCORRECT_COMMITMENT', 'the dealers’ commitments change the group key');
  }
  return {
    suite: frost.suite.name,
    verifyingShares,
    verifyingKey,
    minSigners: threshold,
  } as PublicKeyPackage;
}

// ---------------------------------------------------------------------------------------------
// Opening a lifecycle ceremony (admin.group.refresh | reshare | repair)

function activeGroup(runner: CeremonyRunner, body: LifecycleBody): GroupRecord {
  const group = runner.store.getGroup(body.group);
  if (
    group === undefined ||
    group.state !== 'active' ||
    group.groupPublicKey === null ||
    group.publicKeyPackage === null
  ) {
    throw refused('WRONG_GROUP', 'no active group of that name');
  }
  if (body.epoch !== group.epoch) {
    throw refused(
      'STALE_EPOCH',
      `the group is at key epoch ${group.epoch}, not ${body.epoch}; look again and retry`,
    );
  }
  if (body.groupPublicKey !== group.groupPublicKey) {
    throw refused('WRONG_GROUP', 'that is not the group’s public key');
  }
  for (const live of runner.live.values()) {
    if (live.kind === 'key' && live.group === group.name) {
      throw refused('GROUP_BUSY', 'another key ceremony of this group is open');
    }
  }
  return group;
}

/** A current holder in good standing (dealers, helpers, refresh members). */
function checkHolder(runner: CeremonyRunner, group: GroupRecord, member: string): void {
  if (!group.members.some((m) => m.member === member)) {
    throw refused('UNKNOWN_PARTICIPANT', `${member} holds no share of ${group.name}`);
  }
  const record = runner.store.getMember(member);
  if (record === undefined) throw refused('UNKNOWN_MEMBER', `${member} is not registered`);
  if (record.revokedAt !== null) {
    throw refused('MEMBER_REVOKED', `${member} is revoked; reshare without it`);
  }
}

interface Roles {
  readonly members: string[];
  readonly threshold: number;
  readonly dealers: string[];
  readonly recipients: string[];
  readonly confirmers: string[];
}

function rolesOf(start: KeyStart): Roles {
  const committee = start.participants.map((p) => p.member);
  switch (start.kind) {
    case 'refresh':
      return {
        members: committee,
        threshold: start.threshold,
        dealers: [...start.dealers],
        recipients: committee,
        confirmers: committee,
      };
    case 'reshare':
      return {
        members: [...committee, ...start.dealers.filter((d) => !committee.includes(d))],
        threshold: start.threshold,
        dealers: [...start.dealers],
        recipients: committee,
        confirmers: committee,
      };
    case 'repair': {
      const lost = start.member ?? '';
      return {
        members: [...start.dealers, lost],
        threshold: start.threshold,
        dealers: [...start.dealers],
        recipients: [lost],
        confirmers: [...start.dealers, lost],
      };
    }
  }
}

/** The `key.start` body for a lifecycle request, from the group's current key state. */
function buildStart(
  runner: CeremonyRunner,
  group: GroupRecord,
  authorization: Envelope & { body: LifecycleBody },
  /**
   * Check holders and members against the registry (when the ceremony opens). Not when startOf
   * rebuilds a start it did not yet send: that one was checked at open, and a member revoked since
   * must abort the ceremony (its own path), not make every retry of the send throw, which would
   * keep the abort queued behind it and the group busy for good.
   */
  checkRegistry = true,
): KeyStart {
  const body = authorization.body;
  const holder = (member: string) => {
    if (checkRegistry) checkHolder(runner, group, member);
  };
  const kind = KIND_OF[body.type];
  const previous = group.members.map((m) => participant(m.member, m.identityKey));
  const base = {
    type: 'key.start' as const,
    kind,
    group: group.name,
    fromEpoch: group.epoch,
    groupPublicKey: group.groupPublicKey ?? '',
    publicKeyPackage: group.publicKeyPackage ?? '',
    previousThreshold: group.threshold,
    previous,
    authorization,
    protocolVersion: PROTOCOL_VERSION,
  };
  switch (body.type) {
    case 'admin.group.refresh':
      for (const m of group.members) holder(m.member);
      return {
        ...base,
        toEpoch: group.epoch + 1,
        threshold: group.threshold,
        participants: previous,
        dealers: previous.map((p) => p.member),
      };
    case 'admin.group.reshare': {
      if (body.dealers.length < group.threshold) {
        throw refused(
          'INCORRECT_NUMBER_OF_COMMITMENTS',
          `a reshare needs at least ${group.threshold} current holders as dealers`,
        );
      }
      for (const d of body.dealers) holder(d);
      for (const entry of checkRegistry ? body.members : []) {
        const member = runner.store.getMember(entry.member);
        if (member === undefined)
          throw refused('UNKNOWN_MEMBER', `${entry.member} is not registered`);
        if (member.revokedAt !== null)
          throw refused('MEMBER_REVOKED', `${entry.member} is revoked`);
        if (member.identityKey !== entry.identityKey) {
          throw refused(
            'INVALID_KEY',
            `the identity key listed for ${entry.member} is not the registered one`,
          );
        }
      }
      return {
        ...base,
        toEpoch: group.epoch + 1,
        threshold: body.threshold,
        participants: body.members.map((m) => participant(m.member, m.identityKey)),
        dealers: [...body.dealers],
      };
    }
    case 'admin.group.repair': {
      if (body.helpers.length < group.threshold) {
        throw refused(
          'INCORRECT_NUMBER_OF_COMMITMENTS',
          `a repair needs at least ${group.threshold} helpers`,
        );
      }
      for (const h of body.helpers) holder(h);
      holder(body.member);
      return {
        ...base,
        toEpoch: group.epoch,
        threshold: group.threshold,
        participants: previous,
        dealers: [...body.helpers],
        member: body.member,
      };
    }
  }
}

/** admin.group.refresh | reshare | repair: checks, then opens the ceremony (its id = the envelope's). */
export function openLifecycle(runner: CeremonyRunner, m: Incoming, body: LifecycleBody): void {
  const id = m.envelope.ceremonyId;
  if (runner.store.getCeremony(id) !== undefined)
    throw refused('DUPLICATE', 'ceremony id is taken');
  const group = activeGroup(runner, body);
  const start = buildStart(runner, group, m.envelope as Envelope & { body: LifecycleBody });
  const roles = rolesOf(start);
  const now = runner.now();
  const actor = createActor(keyMachine, {
    input: {
      ceremonyId: id,
      kind: start.kind,
      group: { members: roles.members, threshold: roles.threshold },
      startedAt: now,
      roundTimeoutMs: runner.deps.limits.dkgRoundTimeoutMs,
      dealers: roles.dealers,
      recipients: roles.recipients,
      confirmers: roles.confirmers,
    },
  }).start();
  runner.create('key', group.name, actor as never, m, () => {
    runner.store.logAdmin(id, body.type, now, m.envelope);
  });
}

// ---------------------------------------------------------------------------------------------
// Messages of an open lifecycle ceremony

/** The ceremony's `key.start` (stored by the notify effect), or rebuilt before it went out. */
export function startOf(runner: CeremonyRunner, live: Live): KeyStart {
  const sent = runner.store
    .transcriptOfType(live.id, 'key.start')
    .find((e) => e.direction === 'out');
  if (sent !== undefined && sent.envelope.body.type === 'key.start') return sent.envelope.body;
  const authorization = runner.store.firstTranscriptEntry(live.id)?.envelope;
  const group = runner.store.getGroup(live.group);
  if (
    group === undefined ||
    authorization === undefined ||
    !['admin.group.refresh', 'admin.group.reshare', 'admin.group.repair'].includes(
      authorization.body.type,
    )
  ) {
    throw refused('STORAGE_UNAVAILABLE', 'lifecycle ceremony without its authorization');
  }
  return buildStart(runner, group, authorization as Envelope & { body: LifecycleBody }, false);
}

function oldPackage(start: KeyStart): PublicKeyPackage {
  return frost.decode.bytes('PublicKeyPackage', hexToBytes(start.publicKeyPackage));
}

function dealerPackages(runner: CeremonyRunner, live: Live): MemberPackage[] {
  return runner
    .firstIncoming(live.id, 'key.round1')
    .filter((e) => e.body.package !== undefined)
    .map((e) => ({ member: e.sender, package: e.body.package ?? '' }));
}

function decodeDealerPackage(member: string, hex: string): ReshareRound1Package {
  let pkg: ReshareRound1Package;
  try {
    pkg = frost.decode.bytes('ReshareRound1Package', hexToBytes(hex));
  } catch (e) {
    throw frostRefusal(e, 'dealer package');
  }
  if (pkg.sender !== identifierOf(member)) {
    throw refused('IDENTIFIER_MISMATCH', 'dealer package identifier is not the sender’s');
  }
  return pkg;
}

/** Does this commitment fit an earlier epoch's key state? Then the dealer used an old share. */
function fitsEarlierEpoch(
  runner: CeremonyRunner,
  start: KeyStart,
  member: string,
  pkg: ReshareRound1Package,
): boolean {
  return runner.store
    .listEpochs(start.group)
    .filter((e) => e.epoch < start.fromEpoch)
    .some((e) => {
      try {
        const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(e.publicKeyPackage));
        return checkDealerPackage(pub, start.dealers, member, pkg, start.threshold) === 'ok';
      } catch {
        return false;
      }
    });
}

function checkRound1(
  runner: CeremonyRunner,
  start: KeyStart,
  member: string,
  body: KeyRound1,
): string {
  if (start.kind === 'repair') {
    if (body.package !== undefined)
      throw refused('INVALID_MESSAGE', 'a repair helper sends no package');
    const others = start.dealers.filter((d) => d !== member).sort();
    const to = body.boxes.map((b) => b.recipient).sort();
    if (start.dealers.includes(member) && JSON.stringify(others) !== JSON.stringify(to)) {
      throw refused('INVALID_MESSAGE', 'a repair helper sends one box to each other helper');
    }
    return bytesToHex(
      sha256(new TextEncoder().encode(body.boxes.map((b) => b.ciphertext).join(','))),
    );
  }
  if (body.package === undefined || body.boxes.length > 0) {
    throw refused('INVALID_MESSAGE', 'a dealer sends its package and no boxes in round 1');
  }
  if (start.dealers.includes(member)) {
    const pkg = decodeDealerPackage(member, body.package);
    const verdict = checkDealerPackage(
      oldPackage(start),
      start.dealers,
      member,
      pkg,
      start.threshold,
    );
    if (verdict === 'length') {
      throw refused(
        'INCORRECT_NUMBER_OF_COMMITMENTS',
        'commitment length is not the new threshold',
      );
    }
    if (verdict === 'constant') {
      if (fitsEarlierEpoch(runner, start, member, pkg)) {
        throw refused(
          'STALE_EPOCH',
          `this share is from an earlier key epoch; the group is at epoch ${start.fromEpoch}`,
        );
      }
      throw refused(
        'INCORRECT_COMMITMENT',
        'commitment does not match the sender’s verifying share',
      );
    }
  }
  return bytesToHex(sha256(hexToBytes(body.package)));
}

export function handleLifecycleMessage(runner: CeremonyRunner, live: Live, m: Incoming): boolean {
  const body = m.envelope.body;
  const at = runner.now();
  switch (body.type) {
    case 'key.round1': {
      const start = startOf(runner, live);
      const probe = { type: 'dkg.round1', member: m.member, packageHash: '00', at };
      runner.check(live, probe);
      const packageHash = checkRound1(runner, start, m.member, body);
      checkBoxSignatures(runner, live.id, m.member, body.boxes);
      runner.apply(live, { ...probe, packageHash }, { incoming: m });
      return true;
    }
    case 'key.round2': {
      const recipients = (body as KeyRound2).boxes.map((b) => b.recipient);
      const event = { type: 'dkg.round2', member: m.member, recipients, at };
      runner.check(live, event);
      checkBoxSignatures(runner, live.id, m.member, (body as KeyRound2).boxes);
      runner.apply(live, event, { incoming: m });
      return true;
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Effects

/** The public key package and lifecycle hash the coordinator itself arrives at. */
function expectedOutcome(
  runner: CeremonyRunner,
  live: Live,
  start: KeyStart,
): { pub: PublicKeyPackage; pubHex: string; hash: string } {
  const old = oldPackage(start);
  const packages = dealerPackages(runner, live);
  let pub: PublicKeyPackage;
  if (start.kind === 'repair') {
    pub = old;
  } else {
    const decoded = new Map(
      packages.map((p) => [p.member, decodeDealerPackage(p.member, p.package)]),
    );
    pub = resharePublicKeyPackage(
      old,
      start.dealers,
      decoded,
      start.participants.map((p) => p.member),
      start.threshold,
    );
  }
  const pubBytes = frost.encode.bytes('PublicKeyPackage', pub);
  const hash = lifecycleHash({
    ceremonyId: live.id,
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
    publicKeyPackage: pubBytes,
  });
  return { pub, pubHex: bytesToHex(pubBytes), hash: bytesToHex(hash) };
}

/** Cancels the group's open signing ceremonies: their commitments belong to the old shares. */
function cancelSigning(runner: CeremonyRunner, group: string, epoch: number): void {
  for (const live of [...runner.live.values()]) {
    if (live.kind !== 'sign' || live.group !== group) continue;
    try {
      runner.apply(live, {
        type: 'ceremony.cancel',
        by: 'coordinator',
        reason: `the group's shares changed (key epoch ${epoch}); request the signature again`,
        at: runner.now(),
      });
    } catch {
      // Already closing, or the cancel could not be committed (a full disk): then the ceremony's
      // next event cancels it first (CeremonyRunner.apply), so nothing goes on under new shares.
    }
  }
}

/**
 * Every accepted round-2 envelope of the ceremony, pieces included: the key chart lets a sender
 * deliver its boxes in several envelopes (each piece to other recipients), so taking only each
 * sender's first envelope would drop the boxes of the later pieces.
 */
export function round2Pieces<T extends 'dkg.round2' | 'key.round2'>(
  runner: CeremonyRunner,
  id: string,
  type: T,
): (Envelope & { body: Extract<Envelope['body'], { type: T }> })[] {
  return runner.store
    .transcriptOfType(id, type)
    .filter((e) => e.direction === 'in' && e.envelope.body.type === type)
    .map((e) => e.envelope as Envelope & { body: Extract<Envelope['body'], { type: T }> });
}

/**
 * The end-to-end encrypted boxes addressed to `member` in these envelopes, each with its sender
 * and, as it was sent, the sender's signature of it (the recipient blames a sender for a box that
 * does not open only if it verifies).
 */
export function boxesFor(
  envelopes: readonly {
    readonly sender: string;
    readonly body: { readonly boxes: readonly OutgoingBox[] };
  }[],
  member: string,
): IncomingBox[] {
  return envelopes.flatMap((e) =>
    e.body.boxes
      .filter((b) => b.recipient === member)
      .map((b) => ({
        sender: e.sender,
        ephemeralKey: b.ephemeralKey,
        nonce: b.nonce,
        ciphertext: b.ciphertext,
        ...(b.signature === undefined ? {} : { signature: b.signature }),
      })),
  );
}

/**
 * Refuses (INVALID_MESSAGE) a box that does not carry its sender's signature, or whose signature
 * does not verify. A recipient blames a sender for a box that does not open only if the sender
 * signed it: relayed unsigned, a dealer's garbage would abort the ceremony with nobody blamed, a
 * denial of service without a name. (The schema keeps the signature optional only so transcripts
 * from before it still parse; clients from before it cannot take part in key ceremonies.)
 */
export function checkBoxSignatures(
  runner: CeremonyRunner,
  ceremonyId: string,
  sender: string,
  boxes: readonly OutgoingBox[],
): void {
  const key = runner.memberKey(sender);
  for (const b of boxes) {
    const context = { ceremonyId, sender, recipient: b.recipient };
    if (b.signature === undefined) {
      throw refused(
        'INVALID_MESSAGE',
        `the box to ${b.recipient} is not signed; nothing was recorded — this client predates signed boxes: upgrade it`,
      );
    }
    if (key === undefined || !verifyPairwiseBox(key, context, b, b.signature)) {
      throw refused(
        'INVALID_MESSAGE',
        `the box to ${b.recipient} does not carry your signature of it; nothing was recorded — seal and sign it again`,
      );
    }
  }
}

/** Performs a lifecycle effect; returns false for effects the DKG code handles the same way. */
export function performLifecycleEffect(
  runner: CeremonyRunner,
  live: Live,
  effect: KeyEffect,
  followUps: FollowUp[],
): boolean {
  const c = context(live);
  switch (effect.kind) {
    case 'notify': {
      const start = startOf(runner, live);
      runner.emitOnce(live, effect.seq, () => [{ recipient: '*', body: start }]);
      return true;
    }
    case 'broadcastRound1': {
      const round1 = runner.firstIncoming(live.id, 'key.round1');
      const packages = dealerPackages(runner, live);
      runner.emitOnce(live, effect.seq, () =>
        c.group.members.map((member) => ({
          recipient: member,
          body: {
            type: 'key.round1.all' as const,
            packages,
            boxes: boxesFor(round1, member),
          },
        })),
      );
      return true;
    }
    case 'deliverRound2':
      return true;
    case 'requestConfirmation': {
      const round2 = round2Pieces(runner, live.id, 'key.round2');
      runner.emitOnce(live, effect.seq, () =>
        effect.to.map((member) => ({
          recipient: member,
          body: {
            type: 'key.round2.deliver' as const,
            boxes: boxesFor(round2, member),
          },
        })),
      );
      return true;
    }
    case 'activateGroup': {
      const start = startOf(runner, live);
      const changes = start.kind !== 'repair';
      if (runner.store.transcriptForEffect(live.id, effect.seq).length > 0) {
        // Performed before a crash: send the stored outcome again, finish the follow-up.
        const sent = runner.emitOnce(live, effect.seq, () => []);
        if (changes && sent.some((e) => e.bodyType === 'dkg.complete'))
          followUps.push(() => cancelSigning(runner, live.group, start.toEpoch));
        return true;
      }
      let expected: ReturnType<typeof expectedOutcome> | undefined;
      try {
        expected = expectedOutcome(runner, live, start);
      } catch {
        expected = undefined;
      }
      const group = runner.store.getGroup(live.group);
      if (
        group === undefined ||
        expected === undefined ||
        expected.hash !== effect.transcriptHash ||
        effect.groupPublicKey !== start.groupPublicKey ||
        group.epoch !== start.fromEpoch
      ) {
        // Confirmers agree with each other but not with what the coordinator can reproduce (or the
        // key state moved): never save a key state the coordinator cannot check.
        runner.emitOnce(live, effect.seq, () => [
          {
            recipient: '*',
            body: {
              type: 'dkg.abort' as const,
              code: 'CONFIRMATION_MISMATCH' as const,
              message:
                'confirmed view differs from the one the dealers’ packages give; nothing was saved',
              culprits: [],
            },
          },
        ]);
        return true;
      }
      const confirms = runner.firstIncoming(live.id, 'dkg.confirm');
      const now = runner.now();
      runner.emitOnce(
        live,
        effect.seq,
        () => [
          {
            recipient: '*',
            body: {
              type: 'dkg.complete' as const,
              groupPublicKey: start.groupPublicKey,
              round1Hash: expected.hash,
              confirmations: confirms.map((e) => ({
                member: e.sender,
                signature: e.body.signature,
              })),
            },
          },
        ],
        () => {
          if (!changes) return;
          const members = start.participants.map((p) => ({
            member: p.member,
            identityKey: p.identityKey,
          }));
          runner.store.putGroup({
            ...group,
            threshold: start.threshold,
            members,
            ceremonyId: live.id,
            publicKeyPackage: expected.pubHex,
            epoch: start.toEpoch,
            updatedAt: now,
          });
          runner.store.putEpoch({
            group: group.name,
            epoch: start.toEpoch,
            kind: start.kind === 'refresh' ? 'refresh' : 'reshare',
            ceremonyId: live.id,
            threshold: start.threshold,
            members,
            groupPublicKey: start.groupPublicKey,
            publicKeyPackage: expected.pubHex,
            at: now,
          });
        },
      );
      if (changes) followUps.push(() => cancelSigning(runner, group.name, start.toEpoch));
      return true;
    }
    case 'abort':
      return false;
  }
}

/** On (re)connect: everything a participant needs to (re)join, in order, if it has not confirmed. */
export function resendLifecycleState(runner: CeremonyRunner, live: Live, member: string): void {
  const s = keySnapshot(live);
  const c = s.context;
  if (!c.group.members.includes(member)) return;
  if (keyPhase(s) === 'closed') return;
  if (c.confirmations.some((x) => x.member === member)) return;
  for (const type of ['key.start', 'key.round1.all', 'key.round2.deliver']) {
    const entry = runner.latestOutgoing(live.id, type, member);
    if (entry !== undefined) runner.deps.hub.send(member, entry.envelope);
  }
}

// ---------------------------------------------------------------------------------------------
// group.list

/** The groups `member` may see (admin: all), optionally only those whose roster names `filter`. */
export function groupList(runner: CeremonyRunner, member: string, filter?: string): GroupInfo[] {
  const out: GroupInfo[] = [];
  for (const g of runner.store.listGroups()) {
    const names = g.members.map((m) => m.member);
    if (member !== 'admin' && !names.includes(member)) continue;
    if (filter !== undefined && !names.includes(filter)) continue;
    const revoked = names.filter((n) => runner.store.getMember(n)?.revokedAt != null);
    out.push({
      group: g.name,
      state: g.state,
      epoch: g.epoch,
      threshold: g.threshold,
      members: g.members.map((m) => ({ member: m.member, identityKey: m.identityKey })),
      ...(g.groupPublicKey === null ? {} : { groupPublicKey: g.groupPublicKey }),
      ceremonyId: g.ceremonyId,
      revoked,
      updatedAt: g.updatedAt,
    });
  }
  return out;
}
