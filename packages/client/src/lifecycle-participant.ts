// The member side of a key lifecycle ceremony (docs/lifecycle.md): refresh, reshare, repair.
// Same discipline as the DKG (dkg-participant.ts): the admin's authorization and our own key state
// are checked before anything is sent; secret packages travel only inside pairwise boxes; the new
// share is staged encrypted before we confirm and replaces the old one only after every confirmer
// signed the same lifecycle hash; on any failure we name the culprit (dkg.fail) and keep the old
// share.
import {
  ed25519 as frost,
  isFrostError,
  type KeyPackage,
  type PublicKeyPackage,
  type ReshareParams,
  type ReshareRound1Package,
  type ReshareRound1Share,
} from '@conclave/frost';
import {
  bodyHash,
  bytesToHex,
  hexToBytes,
  keepsRoster,
  lifecycleHash,
  openEnvelope,
  PROTOCOL_VERSION,
  sealSignedBox,
  signDkgConfirmation,
  verifyDkgConfirmation,
  type DkgComplete,
  type DkgConfirm,
  type DkgParticipant as WireParticipant,
  type IdentityKey,
  type IncomingBox,
  type KeyRound1,
  type KeyRound1All,
  type KeyRound2,
  type KeyRound2Deliver,
  type KeyStart,
  type MemberPackage,
  type OpenedEnvelope,
  type OutgoingBox,
  type SealedBody,
} from '@conclave/protocol';
import {
  DKG_ROUNDS,
  checkStartVersion,
  refuseStart,
  complaintEvidence,
  culpritError,
  failCulprit,
  failureOf,
  openPairwiseBox,
  sendComplaint,
  sendRound,
  authorizationAgeProblem,
  type ComplaintEvidence,
} from './dkg-participant.js';
import { ClientError } from './errors.js';
import { testFault } from './faults.js';
import { keyCeremonyMetadata, type LoadedShare, type ShareMetadata } from './home.js';

export interface LifecycleParticipantOptions {
  readonly member: string;
  readonly key: IdentityKey;
  /** The pinned admin key: key.start's authorization must be sealed by it. */
  readonly adminKey: Uint8Array;
  readonly send: (ceremonyId: string, round: string, body: SealedBody) => Promise<unknown>;
  /** This member's current share of the group, if it holds one. */
  readonly loadShare: (group: string) => Promise<LoadedShare | undefined>;
  /** Whether a new share of the group is staged, its ceremony's outcome not yet known here. */
  readonly hasPendingShare?: (group: string) => Promise<boolean>;
  /** Writes the new share encrypted beside the old one; returns a handle for commit/discard. */
  readonly stage: (keyPackage: KeyPackage, metadata: ShareMetadata) => Promise<string>;
  /** After every confirmation verified: the staged share replaces the old one. Returns its path. */
  readonly commit: (
    group: string,
    staged: string,
    previousEpoch: number | undefined,
  ) => Promise<string>;
  readonly discard: (staged: string) => Promise<void>;
  readonly log?: (line: string) => void;
}

export interface LifecycleResult {
  readonly ceremonyId: string;
  readonly kind: KeyStart['kind'];
  readonly group: string;
  readonly epoch: number;
  readonly threshold: number;
  readonly members: readonly string[];
  readonly groupPublicKey: string;
  /** Where this member's new share is (absent for a repair helper, a leaving dealer). */
  readonly sharePath?: string;
  readonly role: readonly ('dealer' | 'recipient' | 'confirmer')[];
}

/** A failure nobody can be blamed for: dkg.fail then names this member (failCulprit). */
const UNATTRIBUTED = 'unknown';

/** `committing`: every confirmation verified and the staged share is being swapped in. */
type Phase = 'round1' | 'round2' | 'confirm' | 'committing' | 'done' | 'failed';

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Who takes which part (the coordinator's roles, derived the same way from key.start). */
export function lifecycleRoles(start: KeyStart): {
  dealers: readonly string[];
  recipients: readonly string[];
  confirmers: readonly string[];
} {
  const committee = start.participants.map((p) => p.member);
  if (start.kind === 'repair') {
    const lost = start.member ?? '';
    return { dealers: start.dealers, recipients: [lost], confirmers: [...start.dealers, lost] };
  }
  return { dealers: start.dealers, recipients: committee, confirmers: committee };
}

/**
 * Did every confirmer of this ceremony sign the same transcript hash and the group key, as the
 * dkg.complete says? Only then have the new holders their shares (each checked its own against
 * the dealers' commitments before confirming, THREATS B.24); the coordinator cannot forge these
 * signatures, whereas the rest of a dkg.complete (the group key is public) anyone can write.
 */
export function committeeConfirmed(
  ceremonyId: string,
  start: KeyStart,
  complete: DkgComplete | undefined,
): boolean {
  if (complete === undefined || complete.groupPublicKey !== start.groupPublicKey) return false;
  const confirmers = lifecycleRoles(start).confirmers;
  const byMember = new Map(complete.confirmations.map((c) => [c.member, c.signature]));
  if (byMember.size !== confirmers.length) return false;
  const people = [...start.participants, ...start.previous];
  return confirmers.every((m) => {
    const person = people.find((p) => p.member === m);
    const signature = byMember.get(m);
    if (person === undefined || signature === undefined) return false;
    try {
      return verifyDkgConfirmation(
        hexToBytes(person.identityKey),
        {
          ceremonyId,
          member: m,
          round1Hash: hexToBytes(complete.round1Hash),
          groupPublicKey: hexToBytes(start.groupPublicKey),
        },
        hexToBytes(signature),
      );
    } catch {
      return false;
    }
  });
}

/**
 * Checks a key.start: admin-sealed authorization for this ceremony that says exactly what the
 * start says, identifiers derived from names, and this member in a role.
 */
export function checkKeyStart(
  ceremonyId: string,
  start: KeyStart,
  adminKey: Uint8Array,
  member: string,
  identityKey: Uint8Array,
): void {
  const refuse = (why: string): never => {
    throw new ClientError('DKG_FAILED', `key ceremony ${ceremonyId} refused: ${why}`);
  };
  const auth = openEnvelope(start.authorization, (s) => (s === 'admin' ? adminKey : undefined));
  if (!auth.ok) refuse('its authorization is not sealed by the pinned admin key');
  if (start.authorization.ceremonyId !== ceremonyId)
    refuse('authorization is for another ceremony');
  const body = start.authorization.body;
  if (body.group !== start.group) refuse('group differs from what the admin signed');
  if (body.epoch !== start.fromEpoch) refuse('key epoch differs from what the admin signed');
  if (body.groupPublicKey !== start.groupPublicKey)
    refuse('group key differs from what the admin signed');
  const previous = start.previous.map((p) => p.member);
  switch (body.type) {
    case 'admin.group.refresh':
      if (start.kind !== 'refresh') refuse('the admin asked for a refresh');
      if (start.toEpoch !== start.fromEpoch + 1) refuse('a refresh moves to the next epoch');
      if (start.threshold !== start.previousThreshold) refuse('a refresh keeps the threshold');
      if (!keepsRoster(start.previous, start.participants) || !sameSet(start.dealers, previous))
        refuse('a refresh keeps the roster, with its identity keys');
      break;
    case 'admin.group.reshare': {
      if (start.kind !== 'reshare') refuse('the admin asked for a reshare');
      if (start.toEpoch !== start.fromEpoch + 1) refuse('a reshare moves to the next epoch');
      if (start.threshold !== body.threshold)
        refuse('threshold differs from what the admin signed');
      const signed = new Map(body.members.map((m) => [m.member, m.identityKey]));
      if (signed.size !== start.participants.length)
        refuse('roster differs from what the admin signed');
      for (const p of start.participants) {
        if (signed.get(p.member) !== p.identityKey) refuse(`roster entry ${p.member} differs`);
      }
      if (!sameSet(start.dealers, body.dealers))
        refuse('dealers differ from what the admin signed');
      break;
    }
    case 'admin.group.repair':
      if (start.kind !== 'repair') refuse('the admin asked for a repair');
      if (start.toEpoch !== start.fromEpoch) refuse('a repair keeps the epoch');
      if (start.member !== body.member) refuse('the member to repair differs');
      if (!sameSet(start.dealers, body.helpers))
        refuse('helpers differ from what the admin signed');
      if (
        !keepsRoster(start.previous, start.participants) ||
        start.threshold !== start.previousThreshold
      )
        refuse('a repair keeps roster (with its identity keys) and threshold');
      break;
  }
  if (!start.dealers.every((d) => previous.includes(d))) refuse('a dealer holds no share');
  if (start.dealers.length < start.previousThreshold) refuse('fewer dealers than the threshold');
  for (const p of [...start.previous, ...start.participants]) {
    if (frost.identifier.derive(p.member) !== p.identifier)
      refuse(`identifier of ${p.member} is not derived from its name`);
  }
  const roles = lifecycleRoles(start);
  const inRole = [roles.dealers, roles.recipients, roles.confirmers].some((l) =>
    l.includes(member),
  );
  if (!inRole) refuse(`${member} has no part in it`);
  for (const p of [...start.previous, ...start.participants]) {
    if (p.member === member && p.identityKey !== bytesToHex(identityKey))
      refuse(`the roster lists another identity key for ${member}`);
  }
}

export class LifecycleParticipant {
  readonly ceremonyId: string;
  readonly start: KeyStart;
  readonly result: Promise<LifecycleResult>;
  readonly #o: LifecycleParticipantOptions;
  readonly #people = new Map<string, WireParticipant>();
  readonly #roles: ReturnType<typeof lifecycleRoles>;
  #phase: Phase = 'round1';
  #old: PublicKeyPackage | undefined;
  #share: LoadedShare | undefined;
  /** Reshare/refresh dealer: sub-shares for each new member (ours kept locally). */
  #subShares: Readonly<Record<string, ReshareRound1Share>> | undefined;
  /** The evidence for the complaint this member is about to send, if it names a dealer's box. */
  #complaint: ComplaintEvidence | undefined;
  #myPackageHex = '';
  /** Repair helper: the deltas it made (its own kept) and received. */
  #deltas: Readonly<Record<string, Uint8Array>> | undefined;
  #packages: MemberPackage[] = [];
  #newKey: KeyPackage | undefined;
  #newPub: PublicKeyPackage | undefined;
  #hash: Uint8Array | undefined;
  #stoodAside = false;
  #stoodDown = false;
  #begun = false;
  /** Round 2 is being worked through (set before its first await): a re-delivery waits. */
  #deriving = false;
  /** This dealer's round 1 and round 2: sent again when the coordinator re-delivers. */
  #round1Body: KeyRound1 | undefined;
  #round2Body: KeyRound2 | undefined;
  /** The hash of the round-1 list this member answered: a re-delivery must be that one. */
  #round1AllHash = '';
  /**
   * The coordinator acknowledged this member's round 1. Until it does, a package other than ours
   * under our name in the relay is another process's of this member (an agent beside `conclave
   * keygen`), whose round 1 got in while ours was lost with the connection: this one stands down.
   */
  #round1Acked = false;
  /** This confirmer's dkg.confirm, sent again when the coordinator re-delivers round 2. */
  #confirmation: DkgConfirm | undefined;
  #staged: string | undefined;
  #resolve!: (r: LifecycleResult) => void;
  #reject!: (e: ClientError) => void;

  constructor(opts: LifecycleParticipantOptions, ceremonyId: string, start: KeyStart) {
    this.#o = opts;
    this.ceremonyId = ceremonyId;
    this.start = start;
    for (const p of [...start.previous, ...start.participants]) this.#people.set(p.member, p);
    this.#roles = lifecycleRoles(start);
    this.result = new Promise<LifecycleResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => undefined);
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Where this member's new share is staged until the ceremony ends (a confirmer's). */
  get stagedPath(): string | undefined {
    return this.#staged;
  }

  /** Stopped before round 1 for a cause this member may mend (begin's 'wait'): it sent nothing. */
  get stoodAside(): boolean {
    return this.#stoodAside;
  }

  /**
   * Stood down for another process of this member, which sent its round 1 or first confirmation
   * first (DUPLICATE) and takes part: the staged share, if any, is that process's to put in place.
   */
  get stoodDown(): boolean {
    return this.#stoodDown;
  }

  get #me(): string {
    return this.#o.member;
  }

  #is(role: 'dealers' | 'recipients' | 'confirmers'): boolean {
    return this.#roles[role].includes(this.#me);
  }

  #log(line: string): void {
    this.#o.log?.(
      `key ceremony ${this.ceremonyId} (${this.start.kind} ${this.start.group}): ${line}`,
    );
  }

  #send(round: string, body: SealedBody): Promise<unknown> {
    return this.#o.send(this.ceremonyId, round, body);
  }

  #id(member: string): string {
    return frost.identifier.derive(member);
  }

  #seal(to: string, plaintext: Uint8Array): OutgoingBox {
    const p = this.#people.get(to);
    if (p === undefined) throw new ClientError('DKG_FAILED', `${to} is not in this ceremony`);
    try {
      const box = sealSignedBox(hexToBytes(p.identityKey), this.#o.key, plaintext, {
        ceremonyId: this.ceremonyId,
        sender: this.#me,
        recipient: to,
      });
      return { recipient: to, ...box };
    } finally {
      plaintext.fill(0);
    }
  }

  #open(box: IncomingBox): Uint8Array {
    const p = this.#people.get(box.sender);
    if (p === undefined)
      throw culpritError('coordinator', 'INCONSISTENT_VIEW', 'a box from a stranger');
    return openPairwiseBox(this.#o.key, { member: box.sender, identityKey: p.identityKey }, box, {
      ceremonyId: this.ceremonyId,
      sender: box.sender,
      recipient: this.#me,
    });
  }

  #params(): ReshareParams {
    return {
      dealers: this.start.dealers.map((d) => this.#id(d)),
      newIdentifiers: this.start.participants.map((p) => p.identifier),
      newMinSigners: this.start.threshold,
    };
  }

  /** Checks the start against the admin's word and our own share, then sends round 1 if we deal. */
  async begin(): Promise<void> {
    // Once only, and never after the ceremony ended here (an abort, a failure).
    if (this.#phase !== 'round1' || this.#begun) return;
    this.#begun = true;
    try {
      // Only for taking part: recovering a share an earlier version's ceremony staged
      // (lifecycle.ts provenOutcome) checks its start with checkKeyStart alone.
      checkStartVersion(this.ceremonyId, this.start.protocolVersion);
      checkKeyStart(this.ceremonyId, this.start, this.#o.adminKey, this.#me, this.#o.key.publicKey);
      const old = frost.decode.bytes('PublicKeyPackage', hexToBytes(this.start.publicKeyPackage));
      if (bytesToHex(old.verifyingKey) !== this.start.groupPublicKey)
        throw new ClientError(
          'DKG_FAILED',
          'the public key package is not for the group key the admin signed',
        );
      if (old.minSigners !== this.start.previousThreshold)
        throw new ClientError('DKG_FAILED', 'the public key package has another threshold');
      this.#old = old;
    } catch (err) {
      return await this.#stop(err, 'refuse');
    }
    // Taking part (not recovering): the admin asked for it now, not in an attempt long past.
    const age = authorizationAgeProblem(
      this.start.authorization.seq,
      Date.now(),
      `open the ${this.start.kind}`,
    );
    if (age !== undefined) {
      const refused = new ClientError(
        'DKG_FAILED',
        `key ceremony ${this.ceremonyId} refused: ${age.why}`,
      );
      return await this.#stop(refused, age.mendable ? 'wait' : 'refuse');
    }
    const lost = this.start.kind === 'repair' && this.start.member === this.#me;
    // A member outside the key state the ceremony starts from (a former member a reshare brings
    // back) only receives: a share it kept from an earlier epoch is not its to deal with, is not
    // checked against this start, and is replaced when the ceremony completes.
    const holder = this.start.previous.some((p) => p.member === this.#me);
    let share: LoadedShare | undefined;
    try {
      share = lost || !holder ? undefined : await this.#o.loadShare(this.start.group);
    } catch (err) {
      return await this.#stop(err, 'wait');
    }
    try {
      if (share !== undefined) this.#checkOwnShare(share);
    } catch (err) {
      // A new share of this group still staged (an earlier ceremony this member confirmed, whose
      // outcome its client has not yet learnt: recoverShares puts it in place): not a refusal.
      const pending = (await this.#o.hasPendingShare?.(this.start.group)) === true;
      if (pending) this.#log(`a new share of ${this.start.group} is pending; not refusing`);
      return await this.#stop(err, pending ? 'wait' : 'refuse');
    }
    if (this.#is('dealers') && share === undefined) {
      const missing = `${this.#me} must deal but holds no share of ${this.start.group}`;
      return await this.#stop(new ClientError('SHARE_NOT_FOUND', missing), 'wait');
    }
    this.#share = share;
    if (!this.#is('dealers')) {
      this.#log('waiting for the dealers');
      return;
    }
    const kp = (this.#share as LoadedShare).keyPackage;
    if (this.start.kind === 'repair') {
      const helpers = this.start.dealers.map((d) => this.#id(d));
      this.#deltas = frost.keys.repair.step1(helpers, kp, this.#id(this.start.member ?? ''));
      const boxes = this.start.dealers
        .filter((h) => h !== this.#me)
        .map((h) => this.#seal(h, Uint8Array.from(this.#deltas?.[this.#id(h) as never] ?? [])));
      this.#log(`round 1: deltas to ${boxes.length} helpers`);
      this.#round1Body = { type: 'key.round1', boxes, protocolVersion: PROTOCOL_VERSION };
      await this.#sendRound1(false);
      return;
    }
    const out =
      this.start.kind === 'refresh'
        ? frost.keys.refresh.part1(kp, this.#old, this.#params().dealers)
        : frost.keys.reshare.part1(kp, this.#old, this.#params());
    this.#subShares = out.shares as Readonly<Record<string, ReshareRound1Share>>;
    this.#myPackageHex = bytesToHex(frost.encode.bytes('ReshareRound1Package', out.package));
    this.#log('round 1: commitment to a fresh sub-polynomial');
    this.#round1Body = {
      type: 'key.round1',
      package: this.#myPackageHex,
      boxes: [],
      protocolVersion: PROTOCOL_VERSION,
    };
    await this.#sendRound1(false);
  }

  /**
   * Sends this dealer's round 1, first or `again` (sendRound: a send the connection lost waits for
   * the start, re-delivered). Its first refused as DUPLICATE: another process of this member (an
   * agent beside `conclave keygen`) sent its own first and takes part. This one stands down
   * without a dkg.fail: it would otherwise meet that round 1 in the relay as "my own package,
   * altered" and end the other's ceremony naming itself. As the DKG participant does.
   */
  async #sendRound1(again: boolean): Promise<void> {
    const body = this.#round1Body;
    if (body === undefined) return;
    const sent = await this.#sendRound(DKG_ROUNDS.round1, body, again);
    if (sent === 'sent') this.#round1Acked = true;
    if (sent === 'unsure')
      this.#log('round 1 may not have reached the coordinator; sending it again when it asks');
  }

  /**
   * Sends this dealer's round 2, first or `again` (the round-1 list re-delivered). Its first
   * refused as DUPLICATE: another process of this member sent its round 2 first (a repair helper
   * whose round 1 was lost with the connection has no package in the relay to tell it by), and
   * this one stands down, as at round 1. Not covered: that repair helper's round 2 reaching the
   * coordinator before the other process's. Its σ then sums its own delta, not the one the others
   * received, and the repaired member's check fails the repair, blaming nobody. Re-sending round 1
   * as the same sealed envelope would tell the two apart (REPLAYED_MESSAGE: ours; DUPLICATE: the
   * other's).
   */
  async #sendRound2(body: KeyRound2, again: boolean): Promise<void> {
    this.#round2Body = body;
    const sent = await this.#sendRound(DKG_ROUNDS.round2, body, again);
    if (sent === 'unsure')
      this.#log('round 2 may not have reached the coordinator; sending it again when it asks');
  }

  /** sendRound; a first send refused as DUPLICATE (another process of this member) stands down. */
  async #sendRound(
    round: string,
    body: SealedBody,
    again: boolean,
  ): Promise<Awaited<ReturnType<typeof sendRound>>> {
    try {
      return await sendRound(() => this.#send(round, body), again);
    } catch (err) {
      if (!(err instanceof ClientError && err.code === 'DUPLICATE')) throw err;
      return this.#standDown();
    }
  }

  /**
   * key.start again: the coordinator re-delivers it on every reconnect until this member confirms.
   * While in round 1, this dealer's round 1 goes again (its send may have been lost with the
   * connection; if the coordinator holds it already, it says so, and nothing changes).
   */
  async #onStartAgain(env: OpenedEnvelope): Promise<void> {
    if (this.#phase !== 'round1' || this.#round1Body === undefined) return;
    if (bytesToHex(env.bodyHash) !== bytesToHex(bodyHash(this.start))) {
      this.#log('a different start re-delivered; ignored');
      return;
    }
    await this.#sendRound1(true);
  }

  /**
   * Another process of this member (an agent beside `conclave keygen`) takes part: the coordinator
   * refused this one's round 1 or first confirmation as DUPLICATE. This one stops and sends
   * nothing (a dkg.fail would end the other's ceremony), and leaves the staged share alone: it is
   * the same file (one per ceremony), which the other process puts in place.
   */
  async #standDown(): Promise<never> {
    this.#phase = 'failed';
    this.#stoodDown = true;
    this.#staged = undefined;
    await this.#discard();
    const failure = new ClientError(
      'DKG_FAILED',
      `another conclave process of ${this.#me} (an agent?) takes part in key ceremony ` +
        `${this.ceremonyId} of ${this.start.group} and keeps the share; this one stands down`,
      { details: { ceremonyId: this.ceremonyId } },
    );
    this.#reject(failure);
    throw failure;
  }

  /**
   * Sends this member's confirmation. Once sent, the new share is staged and may become this
   * member's only share of the new epoch: a send that fails for the connection's sake (closed, no
   * ack in time; the coordinator may have recorded it) therefore keeps the staged share and waits
   * for dkg.complete or dkg.abort, confirming again if the coordinator re-delivers round 2 (it
   * does on reconnect while it lacks the confirmation). Wiping it would leave the group's new
   * epoch without this member's share, and a t-of-t group without its key. As the DKG does.
   */
  async #sendConfirmation(body: DkgConfirm, again = false): Promise<void> {
    // Sent again, it may cross the first still being recorded (DUPLICATE) or the end of the
    // ceremony (UNEXPECTED_MESSAGE): whatever the answer, the outcome decides. The first refused as
    // DUPLICATE: another process of this member confirmed first (#sendRound stands down).
    const sent = await this.#sendRound(DKG_ROUNDS.confirm, body, again);
    if (sent === 'unsure')
      this.#log(
        'the confirmation may not have reached the coordinator; ' +
          'keeping the staged share until the ceremony ends, and confirming again if asked',
      );
  }

  /**
   * Stops before round 1 and throws `err`. A start this member refuses (`refuse`: its checks, or
   * this member's share of another epoch) ends the ceremony for everyone at once (refuseStart); a
   * share it could not load (`wait`: a wrong passphrase, another home) is this member's to mend,
   * so the ceremony waits for another try, or its deadline.
   */
  async #stop(err: unknown, how: 'refuse' | 'wait'): Promise<never> {
    this.#phase = 'failed';
    this.#stoodAside = how === 'wait';
    // Settled first: the dkg.abort the refusal causes may arrive before its ack, and this
    // member's result is why it refused, not that the ceremony then aborted.
    this.#reject(err instanceof ClientError ? err : new ClientError('DKG_FAILED', String(err)));
    if (how === 'refuse') {
      await refuseStart(
        (body) => this.#send(DKG_ROUNDS.fail, body),
        this.#me,
        err,
        (line) => this.#log(line),
      );
    }
    throw err;
  }

  /** Our share must be of exactly the key state the ceremony starts from (same epoch). */
  #checkOwnShare(share: LoadedShare): void {
    const m = share.metadata;
    const stale = (why: string) =>
      new ClientError(
        'STALE_EPOCH',
        `your share of ${this.start.group} is not of key epoch ${this.start.fromEpoch} (${why}); ` +
          'if it is older, ask the admin to repair it; if it is newer, the coordinator is behind',
      );
    if (m.groupPublicKey !== this.start.groupPublicKey) throw stale('another group key');
    if (m.publicKeyPackage !== this.start.publicKeyPackage)
      throw stale(`yours is epoch ${m.epoch ?? 0}`);
    const mine = new Map(m.participants.map((p) => [p.member, p.identityKey]));
    if (
      mine.size !== this.start.previous.length ||
      !this.start.previous.every((p) => mine.get(p.member) === p.identityKey)
    )
      throw stale('another roster');
  }

  async handle(env: OpenedEnvelope): Promise<void> {
    const body = env.body;
    try {
      switch (body.type) {
        case 'key.start':
          return await this.#onStartAgain(env);
        case 'key.round1.all': {
          const hash = bytesToHex(env.bodyHash);
          return await this.#withEvidence(body.boxes, () => this.#onRound1All(body, hash));
        }
        case 'key.round2.deliver':
          return await this.#withEvidence(body.boxes, () => this.#onRound2(body));
        case 'dkg.complete':
          return await this.#onComplete(body);
        case 'dkg.abort':
          // After a verified dkg.complete the ceremony is over for everyone: a later abort (late,
          // replayed or forged) must not delete the staged share mid-swap, nor undo the result.
          if (this.#phase === 'committing' || this.#phase === 'done') return;
          this.#phase = 'failed';
          await this.#discard();
          this.#log(`aborted: ${body.code}`);
          this.#reject(
            new ClientError(
              'DKG_ABORTED',
              `key ceremony for ${this.start.group} aborted (${body.code}: ${body.message})` +
                (body.culprits.length > 0 ? `; culprit: ${body.culprits.join(', ')}` : '') +
                '; your share was not changed',
              {
                details: {
                  ceremonyId: this.ceremonyId,
                  reason: body.code,
                  culprits: body.culprits,
                },
              },
            ),
          );
          return;
        default:
          return;
      }
    } catch (err) {
      await this.#fail(err);
    }
  }

  /**
   * Runs a step that opens `boxes`; if it fails naming one of their senders, first makes the
   * evidence that lets the coordinator and every auditor open that box and judge it (protocol 5).
   */
  async #withEvidence(boxes: readonly IncomingBox[], step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      const people = [...this.#people.values()];
      const byId = new Map(people.map((p) => [p.identifier, p.member]));
      const { culprit } = failureOf(err, (id) => byId.get(id) ?? UNATTRIBUTED);
      this.#complaint = complaintEvidence(
        { member: this.#me, key: this.#o.key },
        this.ceremonyId,
        culprit,
        boxes,
        people,
      );
      throw err;
    }
  }

  async #fail(err: unknown): Promise<void> {
    if (this.#phase === 'failed' || this.#phase === 'committing' || this.#phase === 'done') return;
    this.#phase = 'failed';
    await this.#discard();
    const byId = new Map([...this.#people.values()].map((p) => [p.identifier, p.member]));
    const found = failureOf(err, (id) => byId.get(id) ?? UNATTRIBUTED);
    const { code, reason } = found;
    const culprit = found.culprit === UNATTRIBUTED ? undefined : found.culprit;
    const failure = new ClientError(
      'DKG_FAILED',
      `key ceremony for ${this.start.group} failed here: ${reason}` +
        (culprit === undefined ? '' : ` (culprit: ${culprit})`) +
        '; your share was not changed',
      {
        details: {
          ceremonyId: this.ceremonyId,
          reason: code,
          culprits: culprit === undefined ? [] : [culprit],
        },
      },
    );
    this.#log(`${code}${culprit ? ` from ${culprit}` : ''}; sending dkg.fail`);
    await sendComplaint(
      (fail) => this.#send(DKG_ROUNDS.fail, fail),
      this.#me,
      { named: failCulprit(culprit, this.#me), code, reason },
      this.#complaint,
      (line) => this.#log(line),
    );
    const t = setTimeout(() => this.#reject(failure), 15_000);
    t.unref();
    this.result.finally(() => clearTimeout(t)).catch(() => undefined);
  }

  async #discard(): Promise<void> {
    for (const s of Object.values(this.#subShares ?? {})) s.subShare.fill(0);
    for (const d of Object.values(this.#deltas ?? {})) d.fill(0);
    this.#newKey?.signingShare.fill(0);
    this.#subShares = undefined;
    this.#deltas = undefined;
    this.#newKey = undefined;
    if (this.#staged !== undefined && this.#phase !== 'done' && this.#phase !== 'committing') {
      await this.#o.discard(this.#staged).catch(() => undefined);
      this.#staged = undefined;
    }
  }

  async #onRound1All(body: KeyRound1All, hash: string): Promise<void> {
    // Delivered again after a reconnect (on every one until this member confirms): this dealer's
    // round 2 goes again, for the same list only; it may have been lost with the connection.
    if (this.#phase === 'round2' && this.#round2Body !== undefined) {
      if (hash !== this.#round1AllHash) {
        this.#log('a different round-1 list re-delivered; ignored');
        return;
      }
      return this.#sendRound2(this.#round2Body, true);
    }
    if (this.#phase !== 'round1') return;
    if (this.start.kind === 'repair') {
      if (body.packages.length > 0)
        throw culpritError('coordinator', 'INCONSISTENT_VIEW', 'a repair has no packages');
      this.#packages = [];
      if (!this.#is('dealers')) {
        this.#phase = 'round2';
        return;
      }
      const others = this.start.dealers.filter((h) => h !== this.#me);
      if (
        !sameSet(
          body.boxes.map((b) => b.sender),
          others,
        )
      )
        throw culpritError(
          'coordinator',
          'INCONSISTENT_VIEW',
          'round-1 boxes do not match the helpers',
        );
      const own = this.#deltas?.[this.#id(this.#me) as never] as Uint8Array | undefined;
      if (own === undefined) throw new ClientError('DKG_FAILED', 'lost our own delta');
      const received = body.boxes.map((b) => ({ sender: b.sender, delta: this.#open(b) }));
      let sigma: Uint8Array;
      try {
        for (const r of received) requireScalar(r.sender, r.delta, 'delta');
        sigma = frost.keys.repair.step2([own, ...received.map((r) => r.delta)]);
      } finally {
        for (const r of received) r.delta.fill(0);
      }
      this.#phase = 'round2';
      this.#round1AllHash = hash;
      this.#log(`round 2: σ to ${this.start.member ?? ''}`);
      const box = this.#seal(this.start.member ?? '', sigma);
      await this.#sendRound2({ type: 'key.round2', boxes: [box] }, false);
      return;
    }
    // refresh / reshare: exactly one package per dealer, ours unchanged.
    if (
      !sameSet(
        body.packages.map((p) => p.member),
        this.start.dealers,
      ) ||
      body.boxes.length > 0
    )
      throw culpritError(
        'coordinator',
        'INCONSISTENT_VIEW',
        'round-1 packages do not match the dealers',
      );
    if (
      this.#is('dealers') &&
      body.packages.find((p) => p.member === this.#me)?.package !== this.#myPackageHex
    ) {
      // Ours was never acknowledged: the package there is another process's of this member.
      if (!this.#round1Acked) return this.#standDown();
      throw culpritError('coordinator', 'INCONSISTENT_VIEW', 'my own round-1 package was altered');
    }
    this.#packages = body.packages.map((p) => ({ member: p.member, package: p.package }));
    this.#phase = 'round2';
    this.#round1AllHash = hash;
    if (!this.#is('dealers')) return;
    const boxes = [...this.start.participants]
      .filter((p) => p.member !== this.#me)
      .sort((a, b) => (a.member < b.member ? -1 : 1))
      .map((p, i) => {
        let share = this.#subShares?.[p.identifier];
        if (share === undefined)
          throw new ClientError('DKG_FAILED', 'FROST produced no sub-share for a member');
        if (i === 0 && testFault() === 'bad-sub-share') share = offByOne(share);
        return this.#seal(p.member, frost.encode.bytes('ReshareRound1Share', share));
      });
    // Sealed into their boxes: the others' plaintext sub-shares are not needed again (B.34). Our
    // own is kept for part 2, which wipes it.
    const ownId = this.#id(this.#me);
    for (const [id, s] of Object.entries(this.#subShares ?? {}))
      if (id !== ownId) s.subShare.fill(0);
    const own = this.#subShares?.[ownId];
    this.#subShares = own === undefined ? undefined : { [ownId]: own };
    this.#log(`round 2: encrypted sub-shares to ${boxes.length} members`);
    await this.#sendRound2({ type: 'key.round2', boxes }, false);
  }

  #decodePackages(): ReshareRound1Package[] {
    return this.#packages.map((p) => {
      try {
        const pkg = frost.decode.bytes('ReshareRound1Package', hexToBytes(p.package));
        if (pkg.sender !== this.#id(p.member))
          throw culpritError(
            p.member,
            'IDENTIFIER_MISMATCH',
            `package of ${p.member} names another dealer`,
          );
        return pkg;
      } catch (err) {
        if (err instanceof ClientError) throw err;
        throw culpritError(p.member, 'INVALID_MESSAGE', `package of ${p.member} does not decode`);
      }
    });
  }

  async #onRound2(body: KeyRound2Deliver): Promise<void> {
    // Delivered again after a reconnect: the coordinator has not recorded this member's
    // confirmation (it went out as the connection dropped). The same one goes again.
    if (this.#phase === 'confirm' && this.#confirmation !== undefined) {
      return this.#sendConfirmation(this.#confirmation, true);
    }
    // Delivered again while the first delivery is still being worked through (its share staged:
    // scrypt takes a while): that one confirms. A second run would stage to the same file, and
    // whichever finished last would delete the one the other had confirmed.
    if (this.#phase !== 'round2' || !this.#is('confirmers') || this.#deriving) return;
    this.#deriving = true;
    const old = this.#old as PublicKeyPackage;
    let pub: PublicKeyPackage = old;
    if (this.start.kind === 'repair') {
      if (this.start.member === this.#me) {
        if (
          !sameSet(
            body.boxes.map((b) => b.sender),
            this.start.dealers,
          )
        )
          throw culpritError(
            'coordinator',
            'INCONSISTENT_VIEW',
            'σ boxes do not match the helpers',
          );
        const opened = body.boxes.map((b) => ({ sender: b.sender, sigma: this.#open(b) }));
        const sigmas = opened.map((o) => o.sigma);
        try {
          for (const o of opened) requireScalar(o.sender, o.sigma, 'σ');
          this.#newKey = frost.keys.repair.step3(sigmas, this.#id(this.#me), old);
        } catch (err) {
          // Σσ is checked only as a whole: which helper sent a bad σ (or whether the coordinator
          // swapped a box) cannot be told, so nobody is named — dkg.fail names this member
          // itself ("failed, cannot say who"; docs/ceremony-flow.md).
          if (isFrostError(err))
            throw culpritError(
              UNATTRIBUTED,
              'INVALID_SECRET_SHARE',
              'the rebuilt share does not match its verifying share; which helper sent a bad σ cannot be told',
            );
          throw err;
        } finally {
          for (const s of sigmas) s.fill(0);
        }
      } else if (body.boxes.length > 0) {
        throw culpritError('coordinator', 'INCONSISTENT_VIEW', 'a helper receives no boxes');
      }
    } else {
      const senders = this.start.dealers.filter((d) => d !== this.#me);
      if (
        !sameSet(
          body.boxes.map((b) => b.sender),
          senders,
        )
      )
        throw culpritError(
          'coordinator',
          'INCONSISTENT_VIEW',
          'sub-share boxes do not match the dealers',
        );
      // Every sub-share opened here is wiped however this ends: a failed check (a complaint) too.
      const shares: ReshareRound1Share[] = [];
      let out: { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage };
      try {
        for (const b of body.boxes) {
          const plain = this.#open(b);
          let share: ReshareRound1Share;
          try {
            share = frost.decode.bytes('ReshareRound1Share', plain);
          } catch {
            throw culpritError(
              b.sender,
              'INVALID_SECRET_SHARE',
              `sub-share from ${b.sender} does not decode`,
            );
          } finally {
            plain.fill(0);
          }
          shares.push(share);
          if (share.sender !== this.#id(b.sender))
            throw culpritError(
              b.sender,
              'IDENTIFIER_MISMATCH',
              `sub-share from ${b.sender} names another dealer`,
            );
        }
        const own = this.#subShares?.[this.#id(this.#me)];
        if (own !== undefined) shares.push(own);
        const packages = this.#decodePackages();
        out =
          this.start.kind === 'refresh'
            ? frost.keys.refresh.part2(
                this.#id(this.#me),
                old,
                this.#params().dealers,
                packages,
                shares,
              )
            : frost.keys.reshare.part2(this.#id(this.#me), old, this.#params(), packages, shares);
      } finally {
        for (const s of shares) s.subShare.fill(0);
      }
      this.#newKey = out.keyPackage;
      pub = out.publicKeyPackage;
    }
    this.#newPub = pub;
    const pubBytes = frost.encode.bytes('PublicKeyPackage', pub);
    this.#hash = lifecycleHash({
      ceremonyId: this.ceremonyId,
      kind: this.start.kind,
      group: this.start.group,
      fromEpoch: this.start.fromEpoch,
      toEpoch: this.start.toEpoch,
      previousPublicKeyPackage: hexToBytes(this.start.publicKeyPackage),
      threshold: this.start.threshold,
      participants: this.start.participants,
      dealers: this.start.dealers,
      ...(this.start.member === undefined ? {} : { member: this.start.member }),
      packages: this.#packages,
      publicKeyPackage: pubBytes,
    });
    if (this.#newKey !== undefined) {
      // Staged before we confirm: if we crash after confirming, the share is not lost.
      const staged = await this.#o.stage(this.#newKey, this.#metadata(pub));
      // A dkg.abort (or a failure) while the file was written: the ceremony is over, so the
      // staged share never becomes valid and nothing is confirmed.
      if (this.#phase !== 'round2') {
        await this.#o.discard(staged).catch(() => undefined);
        return;
      }
      this.#staged = staged;
    }
    const signature = signDkgConfirmation(this.#o.key, {
      ceremonyId: this.ceremonyId,
      member: this.#me,
      round1Hash: this.#hash,
      groupPublicKey: pub.verifyingKey,
    });
    this.#phase = 'confirm';
    this.#log(
      `confirming group key ${this.start.groupPublicKey.slice(0, 16)}… at epoch ${this.start.toEpoch}`,
    );
    this.#confirmation = {
      type: 'dkg.confirm',
      round1Hash: bytesToHex(this.#hash),
      groupPublicKey: bytesToHex(pub.verifyingKey),
      signature: bytesToHex(signature),
    };
    await this.#sendConfirmation(this.#confirmation);
  }

  #metadata(pub: PublicKeyPackage): ShareMetadata {
    const { group, threshold, participants, toEpoch } = this.start;
    return keyCeremonyMetadata({
      group,
      member: this.#me,
      threshold,
      pub,
      participants,
      ceremonyId: this.ceremonyId,
      epoch: toEpoch,
    });
  }

  async #onComplete(body: DkgComplete): Promise<void> {
    if (this.#phase === 'committing' || this.#phase === 'done' || this.#phase === 'failed') return;
    const pub = this.#newPub;
    const hash = this.#hash;
    if (
      this.#is('confirmers') &&
      (this.#phase !== 'confirm' || pub === undefined || hash === undefined)
    )
      return;
    // Not a confirmer (a dealer leaving in a reshare): it has no transcript hash of its own, so
    // the only proof the ceremony completed is every confirmer's signature (THREATS B.24).
    if (!this.#is('confirmers') && !committeeConfirmed(this.ceremonyId, this.start, body))
      throw culpritError(
        'coordinator',
        'CONFIRMATION_MISMATCH',
        'dkg.complete is not signed by every new member',
      );
    if (body.groupPublicKey !== this.start.groupPublicKey)
      throw culpritError(
        'coordinator',
        'CONFIRMATION_MISMATCH',
        'the ceremony ended with another group key',
      );
    if (hash !== undefined) {
      if (body.round1Hash !== bytesToHex(hash))
        throw culpritError(
          'coordinator',
          'CONFIRMATION_MISMATCH',
          'dkg.complete names another transcript',
        );
      const byMember = new Map(body.confirmations.map((c) => [c.member, c.signature]));
      if (!sameSet([...byMember.keys()], this.#roles.confirmers))
        throw culpritError(
          'coordinator',
          'CONFIRMATION_MISMATCH',
          'dkg.complete lacks confirmations',
        );
      for (const m of this.#roles.confirmers) {
        const p = this.#people.get(m);
        const sig = byMember.get(m);
        const ok =
          p !== undefined &&
          sig !== undefined &&
          verifyDkgConfirmation(
            hexToBytes(p.identityKey),
            {
              ceremonyId: this.ceremonyId,
              member: m,
              round1Hash: hash,
              groupPublicKey: hexToBytes(this.start.groupPublicKey),
            },
            hexToBytes(sig),
          );
        if (!ok)
          throw culpritError(m, 'CONFIRMATION_MISMATCH', `confirmation of ${m} does not verify`);
      }
    }
    let sharePath: string | undefined;
    this.#phase = 'committing';
    if (this.#staged !== undefined) {
      const staged = this.#staged;
      try {
        sharePath = await this.#o.commit(
          this.start.group,
          staged,
          this.#share?.metadata.epoch ?? (this.#share ? 0 : undefined),
        );
      } catch (err) {
        // Every confirmation verified: the ceremony is complete and the staged file holds this
        // member's only share of the new epoch. Keep it (recoverShares promotes it when the client
        // starts again) instead of letting #fail discard it and send a dkg.fail nobody can act on.
        this.#staged = undefined;
        this.#phase = 'failed';
        await this.#discard();
        const code = err instanceof ClientError ? err.code : 'KEYSTORE_IO_ERROR';
        this.#log(`${code}: the new share could not replace the old one; kept at ${staged}`);
        this.#reject(
          new ClientError(
            code,
            `key ceremony for ${this.start.group} completed, but the new share could not replace ` +
              `the old one (${err instanceof ClientError ? err.message : 'swap failed'}); it is kept ` +
              `at ${staged} and is put in place when this member's client starts again`,
            { cause: err, details: { ceremonyId: this.ceremonyId, staged } },
          ),
        );
        return;
      }
      this.#staged = undefined;
    }
    this.#phase = 'done';
    await this.#discard();
    this.#log(
      sharePath === undefined
        ? 'complete'
        : `complete; new share saved encrypted (epoch ${this.start.toEpoch})`,
    );
    const role = (['dealer', 'recipient', 'confirmer'] as const).filter((r) => this.#is(`${r}s`));
    this.#resolve({
      ceremonyId: this.ceremonyId,
      kind: this.start.kind,
      group: this.start.group,
      epoch: this.start.toEpoch,
      threshold: this.start.threshold,
      members: this.start.participants.map((p) => p.member),
      groupPublicKey: this.start.groupPublicKey,
      ...(sharePath === undefined ? {} : { sharePath }),
      role,
    });
  }
}

/**
 * A repair delta or σ must be a canonical scalar, as step2 and step3 parse it: a box from `sender`
 * that holds anything else is that helper's fault, and the complaint's evidence proves it
 * (box-complaint.ts judgeLifecycleComplaint). Whether its value is right can be told only from the
 * sum, which names nobody.
 */
function requireScalar(sender: string, bytes: Uint8Array, what: string): void {
  try {
    frost.keys.repair.step2([bytes]).fill(0);
  } catch (err) {
    if (!isFrostError(err)) throw err;
    throw culpritError(
      sender,
      'INVALID_SECRET_SHARE',
      `the ${what} from ${sender} is not a scalar`,
    );
  }
}

/**
 * TEST-ONLY fault injection (CONCLAVE_TEST_FAULT=bad-sub-share): the sub-share plus one, a
 * canonical scalar that no longer matches our commitment, so the tests can check that the
 * recipient's complaint proves this dealer at fault.
 */
function offByOne(share: ReshareRound1Share): ReshareRound1Share {
  const Fn = frost.suite.Fn;
  return { ...share, subShare: Fn.toBytes(Fn.add(Fn.fromBytes(share.subShare), 1n)) };
}
