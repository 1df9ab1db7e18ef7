// The member side of a key ceremony (docs/ceremony-flow.md "Key ceremony"). The share exists only
// in this object's memory until dkg.complete arrives with n valid confirmations of the same
// round-1 hash and group key (THREATS B.24); only then is it written, encrypted. On any failure the
// member sends dkg.fail naming the culprit and saves nothing (B.25–B.27).
import {
  ed25519 as frost,
  isFrostError,
  type DkgRound1Package,
  type DkgRound1SecretPackage,
  type DkgRound2Package,
  type DkgRound2SecretPackage,
  type KeyPackage,
  type PublicKeyPackage,
} from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bodyHash,
  boxFromWire,
  bytesToHex,
  hexToBytes,
  isErrorCode,
  openEnvelope,
  openFrom,
  printableText,
  proveBoxComplaint,
  round1Hash,
  sealSignedBox,
  signDkgConfirmation,
  verifyDkgConfirmation,
  verifyPairwiseBox,
  x25519PublicFromIdentity,
  type BoxEvidence,
  type DkgComplete,
  type DkgConfirm,
  type DkgFail,
  type DkgParticipant as WireParticipant,
  type DkgRound1,
  type DkgRound1All,
  type DkgRound2,
  type DkgRound2Deliver,
  type DkgStart,
  type ErrorCode,
  type IdentityKey,
  type IncomingBox,
  type MemberPackage,
  type OpenedEnvelope,
  type PairwiseContext,
  type SealedBody,
  type WireBox,
} from '@conclave/protocol';
import { ClientError, errnoCode, isConnectionLost } from './errors.js';
import { keyCeremonyMetadata, type ShareMetadata } from './home.js';
import { testFault } from './faults.js';

/** Envelope rounds of a key ceremony (flow doc "Rounds"). */
export const DKG_ROUNDS = {
  start: '0',
  round1: '1',
  round2: '2',
  confirm: '3',
  fail: '4',
} as const;

export interface DkgParticipantOptions {
  readonly member: string;
  readonly key: IdentityKey;
  /** The pinned admin key: dkg.start's authorization must be sealed by it. */
  readonly adminKey: Uint8Array;
  readonly send: (ceremonyId: string, round: string, body: SealedBody) => Promise<unknown>;
  /** Writes the share (encrypted). Called once, only after dkg.complete verified. */
  readonly save: (keyPackage: KeyPackage, metadata: ShareMetadata) => Promise<string>;
  /**
   * Instead of `save`: the share is written encrypted before this member confirms (`stage`),
   * becomes the share once dkg.complete verified (`commit`), and is deleted on an abort
   * (`discard`). A process that dies after confirming then loses nothing: the next session that
   * recovers shares finishes it by the ceremony's signed outcome (lifecycle.ts provenOutcome).
   */
  readonly staging?: {
    readonly stage: (keyPackage: KeyPackage, metadata: ShareMetadata) => Promise<string>;
    readonly commit: (group: string, staged: string) => Promise<string>;
    readonly discard: (staged: string) => Promise<void>;
  };
  readonly log?: (line: string) => void;
}

export interface DkgResult {
  readonly ceremonyId: string;
  readonly group: string;
  readonly threshold: number;
  readonly members: readonly string[];
  readonly groupPublicKey: string;
  readonly sharePath: string;
}

type Phase = 'round1' | 'round2' | 'confirm' | 'done' | 'failed';

/**
 * Checks a dkg.start: sealed authorization from the pinned admin key for this very ceremony, the
 * same roster, identifiers derived from member names, and `member` in it with its own key.
 */
/**
 * How old an admin's authorization may be when its key ceremony starts here (a group creation,
 * refresh, reshare or repair). The coordinator starts the ceremony as the admin submits it and its
 * rounds last minutes (limits.dkgRoundTimeoutMs): an older authorization is a replay (of an
 * attempt that failed, perhaps with a member revoked since), which would make a key state the
 * admin is not asking for now.
 */
export const DKG_AUTHORIZATION_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Refuses to take part in a key ceremony (DKG or lifecycle) whose start names another wire version
 * than this conclave's, or none. The rules the ceremony runs under are signed into its start for
 * its auditors: a ceremony under others (say, complaints without evidence) is not one this member
 * takes part in.
 */
export function checkStartVersion(ceremonyId: string, version: number | undefined): void {
  if (version !== PROTOCOL_VERSION) {
    throw new ClientError(
      'DKG_FAILED',
      `key ceremony ${ceremonyId} refused: it names protocol ${version ?? 'none'} and this conclave speaks ${PROTOCOL_VERSION}: run releases that speak the same protocol on both ends`,
      { details: { wireCode: 'PROTOCOL_VERSION_MISMATCH' } },
    );
  }
}

/** Clock difference tolerated between the admin's machine and this one. */
const CLOCK_SKEW_MS = 10 * 60 * 1000;

/**
 * Why an admin authorization a key ceremony starts under (DKG, refresh, reshare, repair) is not
 * one to act on now; undefined if it is. An envelope's seq is its sender's clock in microseconds
 * (+1 per message): when the admin signed. Older than DKG_AUTHORIZATION_MAX_AGE_MS: a replay of an
 * attempt that failed (perhaps with a member revoked since, or a roster the admin dropped).
 * Dated ahead of this machine's clock beyond the skew: `mendable`, since with the clock set right
 * the member can still take part (the start is sent again on reconnect until its round 1 arrives).
 */
export function authorizationAgeProblem(
  seq: number,
  now: number,
  /** What the admin would do again, for the message ("create the group"). */
  redo: string,
): { why: string; mendable: boolean } | undefined {
  const signedAt = Math.floor(seq / 1000);
  if (signedAt < now - DKG_AUTHORIZATION_MAX_AGE_MS)
    return {
      why: `the admin authorized it at ${new Date(signedAt).toISOString()}, over 24 h ago: a replay, or ask the admin to ${redo} again`,
      mendable: false,
    };
  if (signedAt > now + CLOCK_SKEW_MS)
    return {
      why: `the admin's authorization is dated ${new Date(signedAt).toISOString()}, in the future: check this machine's clock`,
      mendable: true,
    };
  return undefined;
}

export function checkDkgStart(
  ceremonyId: string,
  start: DkgStart,
  adminKey: Uint8Array,
  member: string,
  identityKey: Uint8Array,
  now: number = Date.now(),
): void {
  const refuse = (why: string, details?: Record<string, unknown>) => {
    throw new ClientError(
      'DKG_FAILED',
      `key ceremony ${ceremonyId} refused: ${why}`,
      details === undefined ? undefined : { details },
    );
  };
  checkStartVersion(ceremonyId, start.protocolVersion);
  const auth = openEnvelope(start.authorization, (s) => (s === 'admin' ? adminKey : undefined));
  if (!auth.ok) refuse('its authorization is not sealed by the pinned admin key');
  const body = auth.ok ? auth.value.body : undefined;
  if (body?.type !== 'admin.group.create')
    return refuse('its authorization is not a group creation');
  if (start.authorization.ceremonyId !== ceremonyId)
    refuse('authorization is for another ceremony');
  const age = authorizationAgeProblem(start.authorization.seq, now, 'create the group');
  if (age !== undefined) refuse(age.why, age.mendable ? { mendable: true } : undefined);
  if (body.group !== start.group || body.threshold !== start.threshold) {
    refuse('group or threshold differ from what the admin signed');
  }
  const signed = new Map(body.members.map((m) => [m.member, m.identityKey]));
  if (signed.size !== start.participants.length)
    refuse('roster differs from what the admin signed');
  for (const p of start.participants) {
    if (signed.get(p.member) !== p.identityKey) refuse(`roster entry ${p.member} differs`);
    if (frost.identifier.derive(p.member) !== p.identifier) {
      refuse(`identifier of ${p.member} is not derived from its name`);
    }
  }
  const me = start.participants.find((p) => p.member === member);
  if (me === undefined) refuse(`${member} is not a participant`);
  if (me !== undefined && me.identityKey !== bytesToHex(identityKey)) {
    refuse(`the roster lists another identity key for ${member}`);
  }
}

/**
 * TEST-ONLY fault injection (CONCLAVE_TEST_FAULT=die-after-confirm): killed the moment the group
 * can go active with this share in it (our confirmation acknowledged, or the completion arrived),
 * and before any dkg.complete is handled, so the tests can check that the share staged on disk is
 * what the member's next session makes its share.
 */
function dieForTest(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: killed');
}

export class DkgParticipant {
  readonly ceremonyId: string;
  readonly start: DkgStart;
  readonly result: Promise<DkgResult>;
  readonly #o: DkgParticipantOptions;
  readonly #byId = new Map<string, WireParticipant>();
  #phase: Phase = 'round1';
  #secret1: DkgRound1SecretPackage | undefined;
  #secret2: DkgRound2SecretPackage | undefined;
  #round1: MemberPackage[] = [];
  #others1: DkgRound1Package[] = [];
  #myPackageHex = '';
  #keyPackage: KeyPackage | undefined;
  #publicKeyPackage: PublicKeyPackage | undefined;
  #round1Hash: Uint8Array | undefined;
  /** What this member sent in round 1 and 2: sent again when the coordinator re-delivers. */
  #round1Body: DkgRound1 | undefined;
  #round2Body: DkgRound2 | undefined;
  /** The hash of the round-1 list this member answered: a re-delivery must be that one. */
  #round1AllHash = '';
  /**
   * The coordinator acknowledged this member's round 1. Until it does, a package other than ours
   * under our name in the relay is another process's of this member (an agent beside `conclave
   * keygen`), whose round 1 got in while ours was lost with the connection: this one stands down.
   */
  #round1Acked = false;
  /** What this member confirmed (sent again if the coordinator re-delivers round 2). */
  #confirmation: DkgConfirm | undefined;
  /** The staged share file (options.staging), until it is committed or discarded. */
  #staged: string | undefined;
  #resolve!: (r: DkgResult) => void;
  #reject!: (e: ClientError) => void;
  #localFailure: ClientError | undefined;
  /** The evidence for the complaint this member is about to send, if it names a dealer's box. */
  #complaint: ComplaintEvidence | undefined;

  constructor(opts: DkgParticipantOptions, ceremonyId: string, start: DkgStart) {
    this.#o = opts;
    this.ceremonyId = ceremonyId;
    this.start = start;
    for (const p of start.participants) this.#byId.set(p.identifier, p);
    this.result = new Promise<DkgResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => undefined); // callers await it; never an unhandled rejection
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Where this member's share is staged (options.staging) until the ceremony ends. */
  get stagedPath(): string | undefined {
    return this.#staged;
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }

  #send(round: string, body: SealedBody): Promise<unknown> {
    return this.#o.send(this.ceremonyId, round, body);
  }

  #memberOf(identifier: string): string {
    return this.#byId.get(identifier)?.member ?? 'unknown';
  }

  /** Verifies dkg.start and sends round 1. */
  async begin(): Promise<void> {
    try {
      checkDkgStart(
        this.ceremonyId,
        this.start,
        this.#o.adminKey,
        this.#o.member,
        this.#o.key.publicKey,
      );
    } catch (err) {
      this.#phase = 'failed';
      // Settled first: the dkg.abort the refusal causes may arrive before its ack, and this
      // member's result is why it refused, not that the ceremony then aborted.
      this.#reject(err as ClientError);
      await refuseStart(
        (body) => this.#send(DKG_ROUNDS.fail, body),
        this.#o.member,
        err,
        (line) => this.#log(`key ceremony ${this.ceremonyId}: ${line}`),
      );
      throw err;
    }
    const n = this.start.participants.length;
    const myId = frost.identifier.derive(this.#o.member);
    const { secretPackage, package: pkg } = frost.keys.dkg.part1(myId, n, this.start.threshold);
    this.#secret1 = secretPackage;
    this.#myPackageHex = bytesToHex(frost.encode.bytes('DkgRound1Package', pkg));
    this.#log(
      `key ceremony ${this.ceremonyId}: round 1 (${this.start.threshold}-of-${n} ${this.start.group})`,
    );
    this.#round1Body = {
      type: 'dkg.round1',
      package: this.#myPackageHex,
      protocolVersion: PROTOCOL_VERSION,
    };
    try {
      await this.#sendRound1(false);
    } catch (err) {
      if (!(err instanceof ClientError && err.code === 'DUPLICATE')) throw err;
      // Another process of this member (an agent beside `conclave keygen`) already sent round 1:
      // that one takes part. This one stands down without a dkg.fail, which would abort it.
      this.#standDown();
    }
  }

  /** Sends round 1, first or `again`; a send the connection lost waits for a re-delivered start. */
  async #sendRound1(again: boolean): Promise<void> {
    const body = this.#round1Body;
    if (body === undefined) return;
    const sent = await sendRound(() => this.#send(DKG_ROUNDS.round1, body), again);
    if (sent === 'sent') this.#round1Acked = true;
    if (sent === 'unsure') this.#logUnsure('round 1', 'starts it');
  }

  #logUnsure(what: string, when: string): void {
    this.#log(
      `key ceremony ${this.ceremonyId}: ${what} may not have reached the coordinator; ` +
        `sending it again if the coordinator ${when} again`,
    );
  }

  /**
   * Another process of this member (an agent beside `conclave keygen`) sent round 1 first and
   * takes part. This one stops without a dkg.fail, which would end that one's ceremony.
   */
  #standDown(): never {
    this.#discard();
    this.#phase = 'failed';
    const failure = new ClientError(
      'DKG_FAILED',
      `another conclave process of ${this.#o.member} (an agent?) takes part in key ceremony ` +
        `${this.ceremonyId} of ${this.start.group} and saves the share; this one stands down`,
      { details: { ceremonyId: this.ceremonyId } },
    );
    this.#reject(failure);
    throw failure;
  }

  /**
   * dkg.start again: the coordinator lacks this member's round 1 (it re-delivers the start on
   * reconnect until round 1 arrives), whose send the connection lost. The same package goes again.
   */
  async #onStartAgain(env: OpenedEnvelope): Promise<void> {
    if (this.#phase !== 'round1' || this.#secret1 === undefined) return;
    if (bytesToHex(env.bodyHash) !== bytesToHex(bodyHash(this.start))) {
      this.#log(`key ceremony ${this.ceremonyId}: a different start re-delivered; ignored`);
      return;
    }
    await this.#sendRound1(true);
  }

  /** Feeds one coordinator envelope of this ceremony. */
  async handle(env: OpenedEnvelope): Promise<void> {
    const body = env.body;
    try {
      switch (body.type) {
        case 'dkg.start':
          return await this.#onStartAgain(env);
        case 'dkg.round1.all':
          return await this.#onRound1All(body, bytesToHex(env.bodyHash));
        case 'dkg.round2.deliver':
          return await this.#onRound2(body);
        case 'dkg.complete':
          // die-after-confirm: the completion may arrive in the same read as the ack of our
          // confirmation, before that ack's continuation runs; it must not be handled either.
          if (testFault() === 'die-after-confirm') dieForTest();
          return await this.#onComplete(body);
        case 'dkg.abort':
          // After a verified dkg.complete (n signed confirmations: the key exists for everyone)
          // an abort means nothing; wiping now would zero the share while it is being saved.
          if (this.#phase === 'done') return;
          this.#discard();
          this.#phase = 'failed';
          await this.#discardStaged();
          this.#log(`key ceremony ${this.ceremonyId} aborted: ${body.code}`);
          this.#reject(
            new ClientError(
              'DKG_ABORTED',
              `key ceremony for ${this.start.group} aborted (${body.code}: ${body.message})` +
                (body.culprits.length > 0 ? `; culprit: ${body.culprits.join(', ')}` : '') +
                '; nothing was saved',
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

  async #fail(err: unknown): Promise<void> {
    if (this.#phase === 'failed' || this.#phase === 'done') return;
    this.#phase = 'failed';
    this.#discard();
    await this.#discardStaged();
    const { culprit, code, reason } = failureOf(err, (id) => this.#memberOf(id));
    this.#localFailure = new ClientError(
      'DKG_FAILED',
      `key ceremony for ${this.start.group} failed here: ${reason}` +
        (culprit === undefined ? '' : ` (culprit: ${culprit})`) +
        '; nothing was saved',
      {
        details: {
          ceremonyId: this.ceremonyId,
          reason: code,
          culprits: culprit === undefined ? [] : [culprit],
        },
      },
    );
    this.#log(
      `key ceremony ${this.ceremonyId}: ${code}${culprit ? ` from ${culprit}` : ''}; sending dkg.fail`,
    );
    await sendComplaint(
      (body) => this.#send(DKG_ROUNDS.fail, body),
      this.#o.member,
      { named: failCulprit(culprit, this.#o.member), code, reason },
      this.#complaint,
      (line) => this.#log(`key ceremony ${this.ceremonyId}: ${line}`),
    );
    // Wait briefly for the coordinator's dkg.abort (which names culprits for everyone), then give up.
    const t = setTimeout(() => this.#reject(this.#localFailure!), 15_000);
    t.unref();
    this.result.finally(() => clearTimeout(t)).catch(() => undefined);
  }

  /** Deletes the staged share file, if any (an aborted or failed ceremony's share never counts). */
  async #discardStaged(): Promise<void> {
    const staged = this.#staged;
    this.#staged = undefined;
    if (staged === undefined || this.#o.staging === undefined) return;
    await this.#o.staging.discard(staged).catch(() => undefined);
  }

  /** Wipes every secret this ceremony held. */
  #discard(): void {
    for (const c of this.#secret1?.coefficients ?? []) c.fill(0);
    for (const c of this.#secret2?.coefficients ?? []) c.fill(0);
    this.#keyPackage?.signingShare.fill(0);
    this.#secret1 = undefined;
    this.#secret2 = undefined;
    this.#keyPackage = undefined;
  }

  async #onRound1All(body: DkgRound1All, hash: string): Promise<void> {
    // Delivered again after a reconnect: the coordinator lacks this member's round 2, whose send
    // the connection lost. The same boxes go again, for the same list only.
    if (this.#phase === 'round2' && this.#round2Body !== undefined) {
      if (hash !== this.#round1AllHash) {
        this.#log(
          `key ceremony ${this.ceremonyId}: a different round-1 list re-delivered; ignored`,
        );
        return;
      }
      return this.#sendRound2(this.#round2Body, true);
    }
    if (this.#phase !== 'round1' || this.#secret1 === undefined) return;
    const members = new Set(this.start.participants.map((p) => p.member));
    if (
      body.packages.length !== members.size ||
      !body.packages.every((p) => members.has(p.member))
    ) {
      throw culpritError(
        'coordinator',
        'INCONSISTENT_VIEW',
        'round-1 packages do not match the roster',
      );
    }
    const mine = body.packages.find((p) => p.member === this.#o.member);
    if (mine?.package !== this.#myPackageHex) {
      // Ours was never acknowledged: the package there is another process's of this member.
      if (!this.#round1Acked) this.#standDown();
      throw culpritError('coordinator', 'INCONSISTENT_VIEW', 'my own round-1 package was altered');
    }
    const others: DkgRound1Package[] = [];
    for (const p of body.packages) {
      if (p.member === this.#o.member) continue;
      // Round-1 packages come relayed, not signed by their members, and the coordinator checked
      // each on arrival (decoding, identifier, proof of knowledge): one that fails here was
      // altered on the way, so the fault is the coordinator's, never the member it names.
      let pkg: DkgRound1Package;
      try {
        pkg = frost.decode.bytes('DkgRound1Package', hexToBytes(p.package));
      } catch {
        throw culpritError(
          'coordinator',
          'INVALID_MESSAGE',
          `round-1 package of ${p.member}, as the coordinator relayed it, does not decode`,
        );
      }
      if (pkg.identifier !== frost.identifier.derive(p.member)) {
        throw culpritError(
          'coordinator',
          'IDENTIFIER_MISMATCH',
          `round-1 package of ${p.member}, as the coordinator relayed it, names another identifier`,
        );
      }
      others.push(pkg);
    }
    let part2: ReturnType<typeof frost.keys.dkg.part2>;
    try {
      part2 = frost.keys.dkg.part2(this.#secret1, others);
    } catch (err) {
      const { code } = failureOf(err, (id) => this.#memberOf(id));
      throw culpritError(
        'coordinator',
        code,
        `a round-1 package, as the coordinator relayed it, fails verification (${code})`,
      );
    }
    const { secretPackage, packages } = part2;
    this.#secret2 = secretPackage;
    this.#round1 = body.packages.map((p) => ({ member: p.member, package: p.package }));
    this.#others1 = others;
    const fault = testFault() === 'bad-dkg-share';
    let corrupted = false;
    const boxes = [];
    const recipients = [...this.start.participants]
      .filter((p) => p.member !== this.#o.member)
      .sort((a, b) => (a.member < b.member ? -1 : 1));
    try {
      for (const r of recipients) {
        let pkg: DkgRound2Package | undefined = packages[r.identifier as keyof typeof packages];
        if (pkg === undefined)
          throw new ClientError('DKG_FAILED', 'FROST produced no share for a member');
        if (fault && !corrupted) {
          // TEST-ONLY fault injection (CONCLAVE_TEST_FAULT=bad-dkg-share): send one member a share
          // that does not match our commitment, so the tests can check culprit naming.
          const bad = Uint8Array.from(pkg.signingShare);
          bad[0] = (bad[0] ?? 0) ^ 1;
          pkg = { ...pkg, signingShare: bad };
          corrupted = true;
        }
        const plaintext = frost.encode.bytes('DkgRound2Package', pkg);
        try {
          const box = sealSignedBox(hexToBytes(r.identityKey), this.#o.key, plaintext, {
            ceremonyId: this.ceremonyId,
            sender: this.#o.member,
            recipient: r.member,
          });
          boxes.push({ recipient: r.member, ...box });
        } finally {
          plaintext.fill(0);
        }
      }
    } finally {
      // The others' secret shares f_i(j) are sealed in their boxes now, or the sealing failed:
      // either way keep no plaintext (B.34).
      for (const pkg of Object.values(packages) as DkgRound2Package[]) pkg.signingShare.fill(0);
    }
    this.#phase = 'round2';
    this.#round1AllHash = hash;
    this.#round2Body = { type: 'dkg.round2', boxes };
    this.#log(
      `key ceremony ${this.ceremonyId}: round 2 (encrypted shares to ${boxes.length} members)`,
    );
    await this.#sendRound2(this.#round2Body, false);
  }

  /** Sends round 2, first or `again`; a send the connection lost waits for a re-delivered list. */
  async #sendRound2(body: DkgRound2, again: boolean): Promise<void> {
    const sent = await sendRound(() => this.#send(DKG_ROUNDS.round2, body), again);
    if (sent === 'unsure') this.#logUnsure('round 2', 'relays round 1');
  }

  /** Opens every box addressed to this member and runs part3 on the shares (RFC 9591 C.2). */
  #combine(
    body: DkgRound2Deliver,
    others: readonly WireParticipant[],
    secret2: DkgRound2SecretPackage,
  ): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage } {
    const received: DkgRound2Package[] = [];
    for (const box of body.boxes) {
      const sender = others.find((p) => p.member === box.sender);
      if (sender === undefined) {
        throw culpritError(
          'coordinator',
          'INCONSISTENT_VIEW',
          'a round-2 box from a non-participant',
        );
      }
      const opened = openPairwiseBox(this.#o.key, sender, box, {
        ceremonyId: this.ceremonyId,
        sender: sender.member,
        recipient: this.#o.member,
      });
      let pkg: DkgRound2Package;
      try {
        pkg = frost.decode.bytes('DkgRound2Package', opened);
      } catch {
        throw culpritError(
          sender.member,
          'INVALID_SECRET_SHARE',
          `round-2 share from ${sender.member} does not decode`,
        );
      } finally {
        opened.fill(0);
      }
      if (pkg.sender !== sender.identifier) {
        throw culpritError(
          sender.member,
          'IDENTIFIER_MISMATCH',
          `round-2 share from ${sender.member} names another sender`,
        );
      }
      received.push(pkg);
    }
    try {
      return frost.keys.dkg.part3(secret2, this.#others1, received);
    } finally {
      for (const r of received) r.signingShare.fill(0);
    }
  }

  async #onRound2(body: DkgRound2Deliver): Promise<void> {
    // Delivered again after a reconnect: the coordinator has not recorded this member's
    // confirmation (it went out as the connection dropped). The same one goes again.
    if (this.#phase === 'confirm' && this.#confirmation !== undefined) {
      return this.#sendConfirmation(this.#confirmation, true);
    }
    if (this.#phase !== 'round2' || this.#secret2 === undefined) return;
    const others = this.start.participants.filter((p) => p.member !== this.#o.member);
    if (body.boxes.length !== others.length) {
      throw culpritError(
        'coordinator',
        'INCONSISTENT_VIEW',
        'round-2 boxes do not match the roster',
      );
    }
    let combined: { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage };
    try {
      combined = this.#combine(body, others, this.#secret2);
    } catch (err) {
      const { culprit } = failureOf(err, (id) => this.#memberOf(id));
      this.#complaint = complaintEvidence(
        { member: this.#o.member, key: this.#o.key },
        this.ceremonyId,
        culprit,
        body.boxes,
        this.start.participants,
      );
      throw err;
    }
    const { keyPackage, publicKeyPackage } = combined;
    this.#keyPackage = keyPackage;
    this.#publicKeyPackage = publicKeyPackage;
    for (const c of this.#secret2.coefficients) c.fill(0);
    this.#secret2 = undefined;
    this.#secret1 = undefined;
    this.#round1Hash = round1Hash({
      ceremonyId: this.ceremonyId,
      threshold: this.start.threshold,
      participants: this.start.participants,
      packages: this.#round1,
    });
    const signature = signDkgConfirmation(this.#o.key, {
      ceremonyId: this.ceremonyId,
      member: this.#o.member,
      round1Hash: this.#round1Hash,
      groupPublicKey: publicKeyPackage.verifyingKey,
    });
    if (this.#o.staging !== undefined) {
      // On disk (encrypted) before the confirmation can make the group active with it.
      const staged = await this.#o.staging.stage(keyPackage, this.#metadata(publicKeyPackage));
      if (this.#phase !== 'round2') {
        // Aborted while the file was being written: it never counts.
        await this.#o.staging.discard(staged).catch(() => undefined);
        return;
      }
      this.#staged = staged;
    }
    this.#phase = 'confirm';
    this.#log(
      `key ceremony ${this.ceremonyId}: confirming group key ${bytesToHex(publicKeyPackage.verifyingKey).slice(0, 16)}…`,
    );
    this.#confirmation = {
      type: 'dkg.confirm',
      round1Hash: bytesToHex(this.#round1Hash),
      groupPublicKey: bytesToHex(publicKeyPackage.verifyingKey),
      signature: bytesToHex(signature),
    };
    await this.#sendConfirmation(this.#confirmation);
    if (testFault() === 'die-after-confirm') dieForTest();
  }

  /**
   * Once the confirmation may have reached the coordinator, the group can become active with this
   * member's share in it: from then on only the ceremony's outcome (dkg.complete or dkg.abort,
   * re-sent on reconnect) may end it here. A send that fails for the connection's sake (closed,
   * no ack in time) therefore keeps the share in memory and waits; wiping it would leave an active
   * group without this member's share, and a t-of-t group without its key.
   */
  async #sendConfirmation(body: DkgConfirm, again = false): Promise<void> {
    // Sent again, it may cross the first still being recorded (DUPLICATE) or the end of the
    // ceremony (UNEXPECTED_MESSAGE): whatever the answer, the outcome decides.
    if ((await sendRound(() => this.#send(DKG_ROUNDS.confirm, body), again)) === 'unsure') {
      this.#log(
        `key ceremony ${this.ceremonyId}: the confirmation may not have reached the coordinator; ` +
          'keeping the share until the ceremony ends, and confirming again if the coordinator asks',
      );
    }
  }

  /** The share file's public metadata (the admin-authorized roster this member checked). */
  #metadata(pub: PublicKeyPackage): ShareMetadata {
    const { group, threshold, participants } = this.start;
    const { member } = this.#o;
    return keyCeremonyMetadata({
      group,
      member,
      threshold,
      pub,
      participants,
      ceremonyId: this.ceremonyId,
    });
  }

  async #onComplete(body: DkgComplete): Promise<void> {
    if (this.#phase !== 'confirm') return;
    const keyPackage = this.#keyPackage;
    const pub = this.#publicKeyPackage;
    const hash = this.#round1Hash;
    if (keyPackage === undefined || pub === undefined || hash === undefined) return;
    const gpk = bytesToHex(pub.verifyingKey);
    if (body.groupPublicKey !== gpk || body.round1Hash !== bytesToHex(hash)) {
      throw culpritError(
        'coordinator',
        'CONFIRMATION_MISMATCH',
        'dkg.complete names another group key or transcript',
      );
    }
    const byMember = new Map(body.confirmations.map((c) => [c.member, c.signature]));
    if (byMember.size !== this.start.participants.length) {
      throw culpritError(
        'coordinator',
        'CONFIRMATION_MISMATCH',
        'dkg.complete lacks confirmations',
      );
    }
    for (const p of this.start.participants) {
      const sig = byMember.get(p.member);
      const ok =
        sig !== undefined &&
        verifyDkgConfirmation(
          hexToBytes(p.identityKey),
          {
            ceremonyId: this.ceremonyId,
            member: p.member,
            round1Hash: hash,
            groupPublicKey: pub.verifyingKey,
          },
          hexToBytes(sig),
        );
      if (!ok) {
        throw culpritError(
          p.member,
          'CONFIRMATION_MISMATCH',
          `confirmation of ${p.member} does not verify`,
        );
      }
    }
    this.#phase = 'done';
    let sharePath: string;
    try {
      const staged = this.#staged;
      sharePath =
        this.#o.staging !== undefined && staged !== undefined
          ? await this.#o.staging.commit(this.start.group, staged)
          : await this.#o.save(keyPackage, this.#metadata(pub));
    } catch (err) {
      // Every confirmation verified: the group key exists for the others, so there is no one to
      // blame and no dkg.fail to send. Report the save error itself (#fail ignores a 'done'
      // ceremony, so without this the result would never settle and the error would be lost).
      const code = err instanceof ClientError ? err.code : 'KEYSTORE_IO_ERROR';
      const next =
        this.#staged !== undefined
          ? `it stays staged at ${this.#staged}: the next \`conclave keygen\` or \`conclave agent\` saves it once nothing is in its way`
          : 'ask the admin to repair it';
      const failure = new ClientError(
        code,
        `key ceremony for ${this.start.group} completed, but this member's share was not saved ` +
          `(${err instanceof ClientError ? err.message : 'write failed'}); ${next}`,
        { cause: err, details: { ceremonyId: this.ceremonyId } },
      );
      this.#log(`key ceremony ${this.ceremonyId}: ${code}: share not saved`);
      this.#reject(failure);
      return;
    } finally {
      this.#discard();
    }
    this.#log(`key ceremony ${this.ceremonyId}: complete; share saved encrypted`);
    this.#resolve({
      ceremonyId: this.ceremonyId,
      group: this.start.group,
      threshold: this.start.threshold,
      members: this.start.participants.map((p) => p.member),
      groupPublicKey: gpk,
      sharePath,
    });
  }
}

/** A complaint's evidence and the dealer it names. */
export interface ComplaintEvidence {
  readonly culprit: string;
  readonly evidence: BoxEvidence;
}

/**
 * The evidence for a complaint about the box `culprit` sent this member (box-complaint.ts), so
 * that the coordinator and every auditor can open that box and judge its contents themselves;
 * undefined when `culprit` is no one whose box (among `boxes`) this member holds.
 */
export function complaintEvidence(
  me: { readonly member: string; readonly key: IdentityKey },
  ceremonyId: string,
  culprit: string | undefined,
  boxes: readonly IncomingBox[],
  people: readonly WireParticipant[],
): ComplaintEvidence | undefined {
  const box = boxes.find((b) => b.sender === culprit);
  const dealer = people.find((p) => p.member === culprit);
  if (culprit === undefined || box === undefined || dealer === undefined) return undefined;
  try {
    const evidence = proveBoxComplaint(me.key, {
      ceremonyId,
      accuser: me.member,
      accuserIdentityKey: me.key.publicKey,
      dealer: culprit,
      dealerIdentityKey: hexToBytes(dealer.identityKey, 32),
      box,
    });
    return { culprit, evidence };
  } catch {
    // A dealer key that is no point (the coordinator checks every key it registers): no evidence
    // can be made, so the coordinator refuses the complaint and this member then names itself.
    return undefined;
  }
}

/**
 * Sends this member's dkg.fail naming `named` (with the evidence, when it is about that member's
 * box). If the coordinator refuses a complaint naming a dealer (INVALID_MESSAGE: its judge found
 * that the evidence proves nothing, or a sound box, by the messages it recorded and relayed, it
 * says), this member still cannot go on: it ends the ceremony naming itself ("failed, cannot say
 * who") rather than wait to be named by the deadline. Never throws: the coordinator may already
 * have aborted.
 */
export async function sendComplaint(
  send: (body: DkgFail) => Promise<unknown>,
  me: string,
  fail: { readonly named: string; readonly code: ErrorCode; readonly reason: string },
  complaint: ComplaintEvidence | undefined,
  log: (line: string) => void,
): Promise<void> {
  const evidence = complaint?.culprit === fail.named ? complaint.evidence : undefined;
  try {
    await send({
      type: 'dkg.fail',
      culprit: fail.named,
      code: fail.code,
      reason: printable(fail.reason),
      ...(evidence === undefined ? {} : { evidence }),
    });
  } catch (err) {
    if (fail.named !== me && err instanceof ClientError && err.code === 'INVALID_MESSAGE') {
      log('complaint refused; ending the ceremony without blame');
      await send({
        type: 'dkg.fail',
        culprit: me,
        code: 'INCONSISTENT_VIEW',
        reason: printable(`my complaint against ${fail.named} was refused (${err.message})`),
      }).catch(() => undefined);
    }
  }
}

/**
 * Ends a key ceremony (DKG or lifecycle) whose start this member refuses (its authorization,
 * roster, key state or version, or this member's share being of another epoch) with a dkg.fail
 * naming itself, which the machine admits in round 1: the ceremony aborts at once, nobody blamed,
 * and the reason is signed into its transcript for the admin and every auditor. Otherwise it ran
 * to its deadline, which named this member as missing. Not for a failure this member may mend and
 * retry (a wrong passphrase, a share in another home, its clock: a ClientError whose details say
 * `mendable`), for which it sends nothing. Never throws: the ceremony may be over, or its
 * coordinator older than this rule (it refuses the dkg.fail, and the deadline ends it).
 */
export async function refuseStart(
  send: (body: DkgFail) => Promise<unknown>,
  me: string,
  err: unknown,
  log: (line: string) => void,
): Promise<void> {
  if (err instanceof ClientError && err.details?.['mendable'] === true) {
    log('start refused here, for a cause this member can mend; the ceremony waits for it');
    return;
  }
  const wireCode = err instanceof ClientError ? err.details?.['wireCode'] : undefined;
  const code: ErrorCode = isErrorCode(wireCode)
    ? wireCode
    : err instanceof ClientError && isErrorCode(err.code)
      ? err.code
      : 'INCONSISTENT_VIEW';
  const why = err instanceof Error ? err.message : 'its start fails a check';
  log(`start refused (${code}); sending dkg.fail naming this member, so the ceremony ends now`);
  await send({
    type: 'dkg.fail',
    culprit: me,
    code,
    reason: printable(`${me} refuses the start: ${why}`),
  }).catch((e: unknown) => {
    log(`the coordinator did not take the refusal (${e instanceof Error ? e.message : 'failed'})`);
  });
}

/**
 * How a round's send ended, where losing the connection must not lose this member its place in
 * the ceremony. The coordinator re-delivers on reconnect what it still lacks an answer to
 * (dkg.start while it lacks round 1, the round-1 list while it lacks round 2, round 2 while it
 * lacks the confirmation; every one of them in a refresh, reshare or repair), and the member then
 * sends the same message again (`again`).
 * - 'sent': acknowledged.
 * - 'unsure': the connection closed, no ack came in time, or it was taken for a replay; or, sent
 *   again, any other refusal (the first may have been recorded: a transient refusal such as
 *   STORAGE_UNAVAILABLE must not end what may have counted). The member keeps what it sent, and
 *   waits for the next re-delivery, the ceremony's outcome, or its deadline.
 * - 'recorded': sent again, and refused as DUPLICATE (the coordinator holds one of this round
 *   from this member) or UNEXPECTED_MESSAGE (the round or the ceremony is over). The ceremony's
 *   own messages decide what follows.
 * A first send's refusal is thrown: DUPLICATE then says another process of this member sent first
 * (its caller stands down), and anything else that it was not recorded (its caller fails).
 */
export async function sendRound(
  send: () => Promise<unknown>,
  again: boolean,
): Promise<'sent' | 'unsure' | 'recorded'> {
  try {
    await send();
    return 'sent';
  } catch (err) {
    const code = err instanceof ClientError ? err.code : undefined;
    if (again && (code === 'DUPLICATE' || code === 'UNEXPECTED_MESSAGE')) return 'recorded';
    if (again || isConnectionLost(err) || code === 'REPLAYED_MESSAGE') return 'unsure';
    throw err;
  }
}

/**
 * Opens a relayed box from `sender` to this member, or throws whom to blame. Only a box the sender
 * signed, exactly as relayed, is opened: otherwise it was altered in transit (or its signature
 * stripped), which only the coordinator can do, and the member names itself ("failed, cannot say
 * who"), so nobody is blamed. An unsigned box is never opened, even one that would: the AEAD's
 * static-static key says who sealed it only until a complaint's evidence reveals that key for
 * the pair (box-complaint.ts), and every sender has signed its boxes since protocol 2. A signed
 * box that does not open is the sender's fault.
 */
export function openPairwiseBox(
  me: IdentityKey,
  sender: { readonly member: string; readonly identityKey: string },
  box: WireBox & { readonly signature?: string | undefined },
  context: PairwiseContext,
): Uint8Array {
  const senderKey = hexToBytes(sender.identityKey, 32);
  if (box.signature === undefined) {
    throw culpritError(
      'coordinator',
      'INCONSISTENT_VIEW',
      `the box from ${sender.member} carries no signature of ${sender.member}'s: cannot say who made it`,
    );
  }
  if (!verifyPairwiseBox(senderKey, context, box, box.signature)) {
    throw culpritError(
      'coordinator',
      'INCONSISTENT_VIEW',
      `the box from ${sender.member} is not the one ${sender.member} signed: altered in transit`,
    );
  }
  const opened = openFrom(me, x25519PublicFromIdentity(senderKey), boxFromWire(box), context);
  if (opened.ok) return opened.value;
  throw culpritError(
    sender.member,
    'DECRYPTION_FAILED',
    `the box ${sender.member} signed does not decrypt`,
  );
}

/**
 * What a failed check of a key ceremony (DKG or lifecycle) reports: the member to blame (from a
 * culpritError or a FROST error's identifiers), the wire code, and a reason a person can read.
 */
export function failureOf(
  err: unknown,
  memberOf: (identifier: string) => string,
): { culprit: string | undefined; code: ErrorCode; reason: string } {
  if (err instanceof ClientError && err.details?.['culprit'] !== undefined) {
    return {
      culprit: String(err.details['culprit']),
      code: (err.details['wireCode'] as ErrorCode | undefined) ?? 'INCONSISTENT_VIEW',
      reason: err.message,
    };
  }
  const storage = localStorageFailure(err);
  if (storage !== undefined) {
    return {
      culprit: undefined,
      code: 'STORAGE_UNAVAILABLE',
      reason: `this member could not store its share (${storage}); no other member is to blame`,
    };
  }
  if (isFrostError(err)) {
    return {
      culprit: err.culprits.map(memberOf)[0],
      code: PASSED_FROST_CODES.has(err.code) ? (err.code as ErrorCode) : 'INVALID_MESSAGE',
      reason: `FROST check failed: ${err.code}`,
    };
  }
  return {
    culprit: undefined,
    code: 'INCONSISTENT_VIEW',
    reason: err instanceof ClientError ? err.message : 'key ceremony check failed',
  };
}

/** Codes of this member's own disk failing (keystore, staging, ledger): not a view of the others. */
const LOCAL_STORAGE_CODES: ReadonlySet<string> = new Set([
  'KEYSTORE_IO_ERROR',
  'DISK_FULL',
  'NONCE_LEDGER_IO_ERROR',
]);

/** The calls that write a share to disk (a read or a socket failing is something else). */
const WRITE_SYSCALLS: ReadonlySet<string> = new Set([
  'open',
  'write',
  'fsync',
  'fdatasync',
  'rename',
  'link',
  'mkdir',
  'close',
  'unlink',
]);

/**
 * The code of a failure of this member's own storage (a ClientError of LOCAL_STORAGE_CODES, or a
 * system error such as EACCES or ENOSPC from a write-side file operation), else undefined.
 */
function localStorageFailure(err: unknown): string | undefined {
  if (err instanceof ClientError) return LOCAL_STORAGE_CODES.has(err.code) ? err.code : undefined;
  // A Node system error names the call that failed; only a write-side one is this disk failing.
  const syscall =
    typeof err === 'object' && err !== null && 'syscall' in err ? err.syscall : undefined;
  return typeof syscall === 'string' && WRITE_SYSCALLS.has(syscall) ? errnoCode(err) : undefined;
}

/** FROST error codes that go on the wire as they are (each names what the culprit sent wrong). */
const PASSED_FROST_CODES: ReadonlySet<string> = new Set([
  'INVALID_SECRET_SHARE',
  'INVALID_PROOF_OF_KNOWLEDGE',
  'INCORRECT_COMMITMENT',
  'INCORRECT_NUMBER_OF_COMMITMENTS',
]);

/**
 * The member a dkg.fail names: it can only name members, so a coordinator fault (or a culprit
 * this member cannot name) is reported as this member's own view.
 */
export function failCulprit(culprit: string | undefined, me: string): string {
  return culprit === undefined || culprit === 'coordinator' || culprit === 'unknown' ? me : culprit;
}

export function culpritError(culprit: string, wireCode: ErrorCode, message: string): ClientError {
  return new ClientError('DKG_FAILED', message, { details: { culprit, wireCode } });
}

/** The most a dkg.fail reason carries (the wire allows 512). */
export const MAX_FAIL_REASON = 500;

/** A reason the protocol's text() accepts (dkg.fail, round2.decline): printableText. */
export function printable(text: string, maxLength = MAX_FAIL_REASON, replacement = ' '): string {
  return printableText(text, maxLength, replacement);
}
