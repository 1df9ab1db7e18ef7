// One XState actor per ceremony (signing and key), run by the loop of docs/ceremony.md: check the
// event, commit transition + transcript in ONE transaction, only then answer, perform the pending
// effects (idempotent per effect seq), flush the outbox, re-arm the absolute deadline (never xstate
// `after`, #4860), push `ceremony.status`. On boot every open ceremony is restored and re-run.
import {
  checkEvent,
  drainFinal,
  keyMachine,
  keyPhase,
  nextDeadline,
  pendingEffects,
  persist,
  restore,
  signingMachine,
  SnapshotError,
  signingPhase,
  type AnyCeremonySnapshot,
  type KeyContext,
  type KeyEffect,
  type KeySnapshotLike,
  type RejectionCode,
  type SigningContext,
  type SigningEffect,
  type SigningSnapshotLike,
} from '@conclave/ceremony';
import {
  ADMIN_ID,
  CeremonyStatusSchema,
  PROTOCOL_VERSION,
  hexToBytes,
  type CeremonyStatus,
  type Envelope,
  type ErrorCode,
  type InboxItem,
  type SealedBody,
  type SignRequest,
} from '@conclave/protocol';
import type { ArtifactStore } from './artifacts.js';
import { CryptoRuns, type CryptoPool } from './crypto-pool.js';
import type { Actor, AnyStateMachine } from 'xstate';
import type { Limits } from './limits.js';
import { logIfTerminal } from './log/service.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { policyProgress } from './policy.js';
import { refused, type Clock, type Sealer } from './runtime.js';
import type {
  CeremonyListing,
  CeremonyRecord,
  StoredKind,
  Store,
  TranscriptEntry,
} from './store.js';

/** Delivers frames to the live connections of a member (or the admin). */
export interface Hub {
  send(member: string, frame: object): void;
}

export interface RunnerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly limits: Limits;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sealer: Sealer;
  readonly adminPublicKey: Uint8Array;
  readonly hub: Hub;
  readonly hooks?: RunnerHooks;
  /** Uploaded artifact bytes (content formats). */
  readonly artifacts?: ArtifactStore;
  /** Curve arithmetic off the event loop (crypto-pool.ts); size 0 runs it inline. */
  readonly crypto: CryptoPool;
  /**
   * Where work queued behind a ceremony's busy queue runs (the coordinator's TurnQueue: a turn of
   * its own, `alone`). Without it, queued work runs in the microtask after the work ahead of it.
   */
  readonly schedule?: (unit: () => void) => void;
}

/** Fault injection for tests: a hook that throws leaves the effect pending, like a crash would. */
export interface RunnerHooks {
  beforeEffect?(ceremonyId: string, kind: string): void;
}

export interface Live {
  readonly id: string;
  readonly kind: StoredKind;
  readonly group: string;
  readonly createdAt: number;
  actor: Actor<AnyStateMachine>;
  timer: NodeJS.Timeout | null;
  /** Signing: the requester-sealed `sign.request` (transcript entry 0). */
  readonly request: (Envelope & { body: SignRequest }) | null;
}

/** What an incoming, already verified envelope carries into a transition. */
export interface Incoming {
  readonly member: string;
  readonly envelope: Envelope;
  readonly reply: (frame: object) => void;
}

export interface ApplyOptions {
  readonly incoming?: Incoming;
  /** Extra writes committed in the same transaction as the transition. */
  readonly writes?: () => void;
}

/**
 * A follow-up the effect runner schedules after the outbox is flushed (e.g. aggregation result).
 * An async one runs in the ceremony's queue (CeremonyRunner.serial); its refusal is logged.
 */
export type FollowUp = () => void | Promise<void>;

export interface EffectPerformer {
  performKey(live: Live, effect: KeyEffect, followUps: FollowUp[]): void;
  performSigning(live: Live, effect: SigningEffect, followUps: FollowUp[]): void;
  /** Boot: a signing ceremony found in `aggregating` with no pending effect aggregates again. */
  resumeAggregation(live: Live, followUps: FollowUp[]): void;
}

const REJECTION_CODES: Readonly<Record<RejectionCode, ErrorCode>> = {
  INVALID_EVENT: 'INVALID_MESSAGE',
  UNEXPECTED_MESSAGE: 'UNEXPECTED_MESSAGE',
  DUPLICATE: 'DUPLICATE',
  NOT_A_MEMBER: 'UNKNOWN_PARTICIPANT',
  EXCLUDED: 'FORBIDDEN',
  NOT_AN_APPROVER: 'UNEXPECTED_MESSAGE',
  COMMITMENT_REUSED: 'COMMITMENT_REUSED',
  UNKNOWN_SESSION: 'UNEXPECTED_MESSAGE',
  STALE_SESSION: 'UNEXPECTED_MESSAGE',
  NOT_IN_SESSION: 'UNKNOWN_PARTICIPANT',
  DEADLINE_NOT_REACHED: 'UNEXPECTED_MESSAGE',
  INVALID_RECIPIENT: 'INVALID_MESSAGE',
};

// Fixed text per code: the machine's own messages name members and values (never echo input).
const REJECTION_TEXT: Readonly<Record<RejectionCode, string>> = {
  INVALID_EVENT: 'message does not fit this ceremony',
  UNEXPECTED_MESSAGE: 'message not expected in the ceremony’s current state',
  DUPLICATE: 'already received from this member',
  NOT_A_MEMBER: 'sender is not a member of this ceremony’s group',
  EXCLUDED: 'sender is excluded from this ceremony',
  NOT_AN_APPROVER: 'sender has not approved this request',
  COMMITMENT_REUSED: 'commitment was already used',
  UNKNOWN_SESSION: 'no such signing session',
  STALE_SESSION: 'that signing session is over',
  NOT_IN_SESSION: 'sender is not a signer of that session',
  DEADLINE_NOT_REACHED: 'deadline not reached',
  INVALID_RECIPIENT: 'a member sends nothing to itself',
};

const StatusWithoutRequest = CeremonyStatusSchema.omit({ request: true });

export const snapshotOf = (live: Live): AnyCeremonySnapshot =>
  live.actor.getSnapshot() as unknown as AnyCeremonySnapshot;
export const signingSnapshot = (live: Live): SigningSnapshotLike =>
  live.actor.getSnapshot() as unknown as SigningSnapshotLike;
export const keySnapshot = (live: Live): KeySnapshotLike =>
  live.actor.getSnapshot() as unknown as KeySnapshotLike;

/** Machine state as one name: `collectingApprovals`, `signing.inSession`, `completed`, … */
export function stateName(snapshot: AnyCeremonySnapshot): string {
  const value = snapshot.value;
  if (typeof value === 'string') return value;
  const [outer, inner] = Object.entries(value)[0] ?? ['unknown', undefined];
  return typeof inner === 'string' ? `${outer}.${inner}` : outer;
}

const isOpen = (s: AnyCeremonySnapshot): boolean =>
  s.status === 'active' || s.context.outbox.length > 0;

/**
 * Members who should send `sign.recommit` now: approvers in good standing whose commitment a
 * session spent and who are not signing in the session that is open (ROAST: ready for the next).
 */
export function needsCommitment(s: SigningSnapshotLike): string[] {
  const phase = signingPhase(s);
  if (phase !== 'awaitingCommitments' && phase !== 'inSession' && phase !== 'aggregating') {
    return [];
  }
  const c = s.context;
  const current = c.sessions.at(-1);
  const busy =
    current !== undefined && (current.status === 'open' || current.status === 'aggregating')
      ? current.participants
      : [];
  return c.approvals
    .map((a) => a.member)
    .filter(
      (m) =>
        !c.excluded.some((x) => x.member === m) &&
        !Object.hasOwn(c.freshCommitments, m) &&
        !busy.includes(m),
    );
}

/**
 * The status's `declines`: each member who declined a package, with what it said (`CODE: words`,
 * cut to the status's 512 characters: a longer one would make every status of the ceremony fail
 * its schema, and its members would never again be asked to recommit).
 */
function declinesOf(c: SigningContext): { declines?: { member: string; reason: string }[] } {
  const declines = c.excluded
    .filter((x) => x.reason === 'declined')
    .map((x) => ({ member: x.member, reason: cutText(x.detail ?? 'declined', 512) }));
  return declines.length === 0 ? {} : { declines };
}

/** At most `max` UTF-16 units of `text`, never half a surrogate pair. */
function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const char of text) {
    if (out.length + char.length > max) break;
    out += char;
  }
  return out;
}

export class CeremonyRunner {
  readonly deps: RunnerDeps;
  readonly live = new Map<string, Live>();
  performer: EffectPerformer | null = null;
  #closed = false;
  /** Per ceremony: the settled tail of the work queued for it (see serial()). */
  readonly #queues = new Map<string, Promise<void>>();
  /**
   * Per ceremony: no deadline fires before this time (ms). Set at boot, and when outputs that a
   * failed effect held back finally go out: members get one session timeout from the moment they
   * can actually answer, so nobody is blamed for a timeout the coordinator's own outage caused.
   */
  readonly #graceUntil = new Map<string, number>();
  /** Per ceremony: the retry of a failed effect or follow-up (#scheduleResume), and its attempts. */
  readonly #resumes = new Map<string, { timer: NodeJS.Timeout | null; attempts: number }>();
  /** Key ceremonies whose recorded starts were found of this wire version (#catchUpOtherProtocol). */
  readonly #protocolChecked = new WeakSet<Live>();

  /** The ceremonies' pool work, some of it started before its turn (CryptoRuns). */
  readonly crypto: CryptoRuns;

  constructor(deps: RunnerDeps) {
    this.deps = deps;
    this.crypto = new CryptoRuns(deps.crypto, deps.logger);
  }

  get store(): Store {
    return this.deps.store;
  }

  now(): number {
    return this.deps.clock.now();
  }

  /** Restores every open ceremony, re-runs its pending effects and re-arms its deadline. */
  boot(): void {
    // One damaged row must not keep the others from running: it is skipped and logged, whether
    // the row itself does not parse (listing) or the snapshot in it does not restore (#load).
    for (const listed of this.store.listOpenCeremonies()) {
      if (!listed.ok) {
        this.#logUnreadableRow('ceremony could not be restored', listed);
        continue;
      }
      const record = listed.record;
      try {
        const live = this.#load(record);
        this.live.set(live.id, live);
      } catch (e) {
        this.deps.logger.error('ceremony could not be restored', {
          ceremony: record.id,
          code:
            e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'INTERNAL',
        });
      }
    }
    // admin.member.revoke commits the revocation first and applies it to each open ceremony in
    // later transactions: a stop in between leaves ceremonies that still count the revoked
    // member (its approval, its place in a session). Apply what is missing before anything of
    // them runs again (B.30); a member already revoked or a closed ceremony is left as it is.
    for (const live of [...this.live.values()]) this.applyRevocations(live);
    // Likewise a refresh or reshare commits the group's new epoch, then cancels the group's open
    // signing ceremonies in a follow-up (key-lifecycle.ts): one opened before the new shares
    // existed must not go on under them (its commitments were made for the old ones).
    for (const live of [...this.live.values()]) this.#cancelIfSharesChanged(live);
    // And a key ceremony opened by a coordinator of another wire version: its starts name that
    // version (or none), which members of this one refuse to take part in, so it could only run
    // out and blame them for it.
    for (const live of [...this.live.values()]) this.#cancelIfOtherProtocol(live);
    for (const live of [...this.live.values()]) {
      // The coordinator was down: its members could not answer meanwhile (THREATS D.47).
      this.#graceUntil.set(live.id, this.now() + this.#graceMs(live));
      this.#resume(live);
    }
  }

  /** Logs a ceremony row that does not parse: its stored id and code, none of its content. */
  #logUnreadableRow(message: string, listed: Extract<CeremonyListing, { ok: false }>): void {
    this.deps.logger.error(message, { ceremony: listed.rawId, code: listed.error.code });
  }

  /** How long members get to answer after an outage of the coordinator: one session timeout. */
  #graceMs(live: Live): number {
    if (live.kind === 'sign') return signingSnapshot(live).context.sessionTimeoutMs;
    return this.deps.limits.sessionTimeoutMs;
  }

  /**
   * Runs a ceremony's pending effects again, and an aggregation that was decided but not applied
   * (its follow-up failed, or the coordinator stopped before it): what boot does for every
   * ceremony, and what a failed effect or follow-up gets after a backoff (#scheduleResume).
   */
  #resume(live: Live): void {
    const followUps: FollowUp[] = [];
    if (live.kind === 'sign') {
      const s = signingSnapshot(live);
      const pendingAggregate = s.context.outbox.some((e) => e.kind === 'aggregate');
      if (signingPhase(s) === 'aggregating' && !pendingAggregate) {
        this.performer?.resumeAggregation(live, followUps);
      }
    }
    this.afterTransition(live, followUps);
  }

  /**
   * After an effect or a follow-up failed (a full disk, a worker failure): try again after a
   * backoff (0.5 s, doubling, at most 30 s) until the ceremony has nothing pending, instead of
   * waiting for its next transition, which may be a deadline that blames members for packages
   * they never got (THREATS D.49: it recovers once space is freed).
   */
  #scheduleResume(live: Live): void {
    if (this.#closed || !isOpen(snapshotOf(live))) return;
    const entry = this.#resumes.get(live.id) ?? { timer: null, attempts: 0 };
    if (entry.timer !== null) return;
    const delay = Math.min(30_000, 500 * 2 ** entry.attempts);
    entry.attempts++;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      void this.serial(live.id, () => {
        if (this.#closed) return;
        if (this.live.get(live.id) !== live) {
          if (this.#resumes.get(live.id) === entry) this.#resumes.delete(live.id);
          return;
        }
        const before = entry.attempts;
        const heldBack = pendingEffects(snapshotOf(live)).length > 0;
        this.#resume(live);
        // Nothing failed again: the next failure starts the backoff afresh. If outputs were held
        // back, they went out now, so the members' time starts now (only then: a retried
        // aggregation sends nothing a member waited for, and must not move a deadline).
        if (entry.timer === null && entry.attempts === before) {
          this.#resumes.delete(live.id);
          if (heldBack) {
            this.#graceUntil.set(live.id, this.now() + this.#graceMs(live));
            this.#arm(live);
          }
        }
      });
    }, delay);
    entry.timer.unref();
    this.#resumes.set(live.id, entry);
  }

  #cancelIfOtherProtocol(live: Live): void {
    try {
      this.#catchUpOtherProtocol(live);
    } catch {
      // Retried before its next event (apply), its deadline included, so nobody is blamed.
      this.deps.logger.error('key ceremony of another protocol could not be cancelled', {
        ceremony: live.id,
      });
    }
  }

  /**
   * Cancels (by the coordinator, nobody blamed) a key ceremony whose recorded dkg.start or
   * key.start names another wire version than this coordinator's: one left open across an upgrade
   * (docs/operations.md). Its members refuse such a start, and its rules (whether a complaint needs
   * evidence) are not this version's, so it could only run out and blame them. A start not sent
   * yet goes out with this version. Checked once per ceremony (later starts are this
   * coordinator's); throws if the cancel cannot be committed, so the event that was to follow is
   * refused too.
   */
  #catchUpOtherProtocol(live: Live): void {
    if (live.kind !== 'key' || this.#protocolChecked.has(live)) return;
    let versions: (number | undefined)[];
    try {
      versions = ['dkg.start', 'key.start'].flatMap((type) =>
        this.store
          .transcriptOfType(live.id, type)
          .filter((e) => e.direction === 'out')
          .map((e) => (e.envelope.body as { protocolVersion?: number }).protocolVersion),
      );
    } catch {
      // A start that cannot be read back: not this check's to judge, and it must not keep the
      // ceremony's other events (a cancel by the admin, its deadline) from being applied.
      this.#protocolChecked.add(live);
      this.deps.logger.error('key ceremony start could not be read', { ceremony: live.id });
      return;
    }
    const other = versions.findIndex((v) => v !== PROTOCOL_VERSION);
    const event = {
      type: 'ceremony.cancel',
      by: 'coordinator',
      reason: `opened under ${other < 0 || versions[other] === undefined ? 'an older wire protocol' : `wire protocol ${versions[other]}`}; this coordinator speaks ${PROTOCOL_VERSION}, whose members cannot take part in it: ask for it again`,
      at: this.now(),
    };
    if (other < 0 || !checkEvent(snapshotOf(live), event).ok) {
      this.#protocolChecked.add(live);
      return;
    }
    this.#transition(live, event);
    this.#protocolChecked.add(live);
    this.deps.logger.warn('key ceremony of another protocol cancelled', { ceremony: live.id });
  }

  #cancelIfSharesChanged(live: Live): void {
    try {
      this.#catchUpSharesChanged(live);
    } catch {
      this.deps.logger.error('stale ceremony could not be cancelled', { ceremony: live.id });
    }
  }

  /**
   * Cancels a signing ceremony opened before its group's shares last changed (a refresh or
   * reshare commits the new epoch, then cancels the group's open ceremonies in a follow-up that
   * can fail): its commitments were made for the old shares, and a share checked against the new
   * verifying shares would blame an honest signer. Throws if the cancel cannot be committed, so
   * the event that was to follow is refused too.
   */
  #catchUpSharesChanged(live: Live): void {
    if (live.kind !== 'sign') return;
    // Epochs only move forward in time: the newest that changed the shares is the one to check.
    const changed = this.store.lastSharesChange(live.group);
    if (changed === undefined || changed.at <= live.createdAt) return;
    const event = {
      type: 'ceremony.cancel',
      by: 'coordinator',
      reason: `the group's shares changed (key epoch ${changed.epoch}); request the signature again`,
      at: this.now(),
    };
    if (!checkEvent(snapshotOf(live), event).ok) return;
    this.#transition(live, event);
  }

  /**
   * The `member.revoked` events the registry holds and the ceremony's machine does not: members
   * of its group revoked before it opened, or whose revocation could not be applied yet.
   */
  #missingRevocations(snapshot: AnyCeremonySnapshot): object[] {
    const events: object[] = [];
    for (const member of snapshot.context.group.members) {
      const revokedAt = this.store.getMember(member)?.revokedAt;
      if (revokedAt === null || revokedAt === undefined) continue;
      const event = { type: 'member.revoked', member, at: this.now() };
      if (checkEvent(snapshot, event).ok) events.push(event);
    }
    return events;
  }

  /** Applies the missing revocations, each in its own transition; throws what a write throws. */
  #catchUpRevocations(live: Live): void {
    for (const event of this.#missingRevocations(snapshotOf(live))) {
      if (this.live.get(live.id) !== live) return;
      if (!checkEvent(snapshotOf(live), event).ok) continue;
      this.#transition(live, event);
    }
  }

  /**
   * Applies to `live` every revocation of a member of its group that it does not hold yet (B.30).
   * A failure is logged, not thrown: apply() catches up before the ceremony's next event, and
   * refuses that event while the revocation still cannot be written (fail closed).
   */
  applyRevocations(live: Live): void {
    try {
      this.#catchUpRevocations(live);
    } catch (e) {
      this.deps.metrics.revocationApplyFailures.inc();
      this.deps.logger.error('revocation could not be applied; retried before the next event', {
        ceremony: live.id,
        code:
          e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'INTERNAL',
      });
    }
  }

  /**
   * Runs `fn` for ceremony `id` after everything already queued for that ceremony, so that work
   * which waits on the crypto pool (share verification, aggregation) keeps the ceremony's events
   * in arrival order: nothing else of that ceremony is checked or applied in between. When the
   * queue is empty, `fn` runs synchronously (a synchronous `fn` behaves exactly as a direct call,
   * including throwing); an async `fn` becomes the queue's tail until it settles.
   */
  serial(id: string, fn: () => void | Promise<void>): void | Promise<void> {
    const tail = this.#queues.get(id);
    if (tail === undefined) {
      const result = fn();
      if (result !== undefined) this.#track(id, result);
      return result;
    }
    // Work that waited runs in a turn of its own (deps.schedule), not in the microtask after the
    // work ahead: a burst for one ceremony (or many ceremonies' pool answers, each resuming such
    // a chain) would otherwise run back to back and hold the event loop for all of it.
    const schedule = this.deps.schedule;
    const next =
      schedule === undefined
        ? tail.then(fn)
        : tail.then(() => new Promise<void>((resolve) => schedule(resolve))).then(fn);
    this.#track(id, next);
    return next;
  }

  #track(id: string, work: Promise<void>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(id, settled);
    void settled.then(() => {
      if (this.#queues.get(id) === settled) this.#queues.delete(id);
    });
  }

  /** Resolves when no ceremony has queued work (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues.values()]);
  }

  /** Stops timers. The store is closed by the owner. */
  close(): void {
    this.#closed = true;
    for (const live of this.live.values()) {
      if (live.timer !== null) clearTimeout(live.timer);
      live.timer = null;
    }
    for (const push of this.#statusPushes.values()) if (push.timer) clearTimeout(push.timer);
    this.#statusPushes.clear();
    for (const r of this.#resumes.values()) if (r.timer !== null) clearTimeout(r.timer);
    this.#resumes.clear();
  }

  #load(record: CeremonyRecord): Live {
    const actor = restoreRecord(record);
    return this.#live(record.id, record.kind, record.group, record.createdAt, actor);
  }

  #live(
    id: string,
    kind: StoredKind,
    group: string,
    createdAt: number,
    actor: Actor<AnyStateMachine>,
  ): Live {
    let request: Live['request'] = null;
    if (kind === 'sign') {
      const first = this.store.firstTranscriptEntry(id);
      if (first === undefined || first.envelope.body.type !== 'sign.request') {
        throw refused('STORAGE_UNAVAILABLE', 'signing ceremony without its request');
      }
      request = first.envelope as Envelope & { body: SignRequest };
    }
    return { id, kind, group, createdAt, actor, timer: null, request };
  }

  /** The live ceremony, loading a closed one from storage for reads. */
  get(id: string): Live | undefined {
    const live = this.live.get(id);
    if (live !== undefined) return live;
    const record = this.store.getCeremony(id);
    if (record === undefined) return undefined;
    return this.#load(record);
  }

  /**
   * Creates a ceremony from its opening envelope: insert + transcript entry 0 + replay record in one
   * transaction, then ack, then run its first effects.
   */
  create(
    kind: StoredKind,
    group: string,
    actor: Actor<AnyStateMachine>,
    incoming: Incoming,
    writes?: () => void,
  ): Live {
    // Members revoked before the ceremony opens are excluded in its first snapshot (B.30): the
    // machine must not wait for, or count on, them.
    const opened = actor.getSnapshot() as unknown as AnyCeremonySnapshot;
    if (opened.status === 'active') {
      for (const event of this.#missingRevocations(opened)) actor.send(event as never);
    }
    const snapshot = actor.getSnapshot() as unknown as AnyCeremonySnapshot;
    if (snapshot.status !== 'active') throw refused('INVALID_MESSAGE', 'ceremony input refused');
    const now = this.now();
    const id = incoming.envelope.ceremonyId;
    let live: Live | undefined;
    const followUps: FollowUp[] = [];
    let sends: (() => void)[];
    try {
      sends = this.#commit(() => {
        this.#recordIncoming(incoming, now);
        writes?.();
        this.store.insertCeremony({
          id,
          kind,
          group,
          snapshot: persist(actor),
          state: stateName(snapshot),
          open: true,
          createdAt: now,
          updatedAt: now,
          deadline: nextDeadline(snapshot),
        });
        this.store.appendTranscript({
          ceremonyId: id,
          direction: 'in',
          sender: incoming.member,
          recipient: null,
          effectSeq: null,
          at: now,
          envelope: incoming.envelope,
        });
        live = this.#live(id, kind, group, now, actor);
        this.live.set(id, live);
        this.#deferred?.push(() => this.#ack(incoming));
        this.#effects(live, followUps);
      });
    } catch (e) {
      if (live !== undefined && this.live.get(id) === live) this.live.delete(id);
      throw e;
    }
    if (live === undefined) throw refused('INTERNAL', 'ceremony not created');
    for (const send of sends) send();
    this.#afterCommit(live, followUps);
    return live;
  }

  /** Checks `event` (refusal → coded error, nothing written), then commits and runs it. */
  /** Throws the coded refusal if the machine would not accept `event` now. */
  check(live: Live, event: object): void {
    const verdict = checkEvent(snapshotOf(live), event);
    if (!verdict.ok) {
      throw refused(REJECTION_CODES[verdict.code], REJECTION_TEXT[verdict.code]);
    }
  }

  /**
   * One durable commit per transition (group commit of the transition and its effects): the
   * incoming envelope, the new snapshot, the envelopes its effects produce (each effect in a
   * savepoint, so a failing one stays pending as before) and the outbox flush. Only after that
   * commit does anything go out: the ack, then the effects' envelopes, then the status push.
   */
  apply(live: Live, event: object, options: ApplyOptions = {}): void {
    // A revocation not applied yet (its write failed) is applied first: the event is checked
    // against a ceremony that no longer counts the revoked member (B.30).
    this.#catchUpRevocations(live);
    // Likewise a cancel a refresh or reshare could not apply: nothing goes on under new shares.
    this.#catchUpSharesChanged(live);
    // And one of a key ceremony left open across an upgrade (boot could not commit it).
    this.#catchUpOtherProtocol(live);
    this.#transition(live, event, options);
  }

  #transition(live: Live, event: object, options: ApplyOptions = {}): void {
    this.check(live, event);
    const now = this.now();
    const followUps: FollowUp[] = [];
    let sends: (() => void)[];
    try {
      sends = this.#commit(() => {
        if (options.incoming !== undefined) {
          this.#recordIncoming(options.incoming, now);
          this.store.appendTranscript({
            ceremonyId: live.id,
            direction: 'in',
            sender: options.incoming.member,
            recipient: null,
            effectSeq: null,
            at: now,
            envelope: options.incoming.envelope,
          });
        }
        options.writes?.();
        live.actor.send(event as never);
        if (live.actor.getSnapshot().status === 'error') {
          throw refused('INTERNAL', 'ceremony machine failed');
        }
        this.#save(live, now);
        const incoming = options.incoming;
        if (incoming !== undefined) this.#deferred?.push(() => this.#ack(incoming));
        this.#effects(live, followUps);
      });
    } catch (e) {
      this.#reload(live);
      throw e;
    }
    for (const send of sends) send();
    this.#afterCommit(live, followUps);
  }

  /** Sends queued while a #commit is open; null outside one (deliver() sends at once). */
  #deferred: (() => void)[] | null = null;

  /**
   * Runs `fn` in one store transaction and returns what it queued to send, to be sent by the
   * caller after the commit (committed before sent). Nested: runs inside the outer one.
   */
  #commit(fn: () => void): (() => void)[] {
    if (this.#deferred !== null) {
      this.store.transaction(fn);
      return [];
    }
    const queued: (() => void)[] = [];
    this.#deferred = queued;
    try {
      this.store.transaction(fn);
    } finally {
      this.#deferred = null;
    }
    return queued;
  }

  #recordIncoming(incoming: Incoming, now: number): void {
    const env = incoming.envelope;
    this.store.markSeen(
      { sender: incoming.member, ceremonyId: env.ceremonyId, round: env.round, seq: env.seq },
      now,
    );
  }

  #ack(incoming: Incoming): void {
    const env = incoming.envelope;
    incoming.reply(
      this.deps.sealer.seal(
        env.ceremonyId,
        { type: 'ack', seq: env.seq, messageType: env.body.type },
        env.round,
      ),
    );
  }

  #save(live: Live, now: number, snapshotJson?: string): void {
    const snapshot = snapshotOf(live);
    this.store.updateCeremony(live.id, {
      snapshot: snapshotJson ?? persist(live.actor),
      state: stateName(snapshot),
      open: isOpen(snapshot),
      updatedAt: now,
      deadline: nextDeadline(snapshot),
    });
  }

  /** After a failed transaction the in-memory actor may be ahead: take it back from storage. */
  #reload(live: Live): void {
    const record = this.store.getCeremony(live.id);
    if (record === undefined) {
      this.live.delete(live.id);
      return;
    }
    try {
      live.actor = restoreRecord(record);
    } catch (e) {
      // The actor may be ahead of its row and the row cannot be read: nothing goes on from either.
      this.#drop(live);
      throw e;
    }
  }

  #drop(live: Live): void {
    if (live.timer !== null) clearTimeout(live.timer);
    live.timer = null;
    if (this.live.get(live.id) === live) this.live.delete(live.id);
    this.#forgetRetries(live.id);
  }

  /** A closed or dropped ceremony's grace and retry. */
  #forgetRetries(id: string): void {
    this.#graceUntil.delete(id);
    const r = this.#resumes.get(id);
    if (r?.timer != null) clearTimeout(r.timer);
    this.#resumes.delete(id);
  }

  /** Performs pending effects, flushes them, runs follow-ups, re-arms the deadline, pushes status. */
  afterTransition(live: Live, followUps: FollowUp[]): void {
    if (this.#closed) return;
    let sends: (() => void)[] = [];
    try {
      sends = this.#commit(() => this.#effects(live, followUps));
    } catch {
      this.deps.logger.error('outbox flush failed', { ceremony: live.id });
      try {
        this.#reload(live);
      } catch (e) {
        // Its row cannot be read back (#reload dropped it): the other ceremonies go on (boot).
        this.deps.logger.error('ceremony could not be restored', {
          ceremony: live.id,
          code:
            e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'INTERNAL',
        });
        return;
      }
    }
    for (const send of sends) send();
    this.#afterCommit(live, followUps);
  }

  /**
   * Inside the caller's transaction: performs the pending effects, each in a savepoint (a failing
   * one is rolled back with what it queued to send, and stays in the outbox: retried on the next
   * transition or at boot, at least once), then flushes the performed ones.
   */
  #effects(live: Live, followUps: FollowUp[]): void {
    if (this.#closed) return;
    const effects = pendingEffects(snapshotOf(live));
    let upTo: number | null = null;
    for (const effect of effects) {
      const queued = this.#deferred?.length ?? 0;
      const followed = followUps.length;
      try {
        this.store.savepoint(() => {
          this.deps.hooks?.beforeEffect?.(live.id, effect.kind);
          if (live.kind === 'sign') {
            this.performer?.performSigning(live, effect as SigningEffect, followUps);
          } else {
            this.performer?.performKey(live, effect as KeyEffect, followUps);
          }
        });
        upTo = effect.seq;
      } catch (e) {
        this.#deferred?.splice(queued);
        followUps.splice(followed);
        this.deps.logger.error('effect failed', {
          ceremony: live.id,
          effect: effect.kind,
          code:
            e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'INTERNAL',
        });
        // After this transaction: retried with a backoff, not only at the next transition.
        queueMicrotask(() => this.#scheduleResume(live));
        break;
      }
    }
    if (upTo !== null) this.#flush(live, upTo);
  }

  /** After the commit: re-arm the deadline, push status, forget a closed ceremony, follow-ups. */
  #afterCommit(live: Live, followUps: FollowUp[]): void {
    if (this.#closed) return;
    this.#arm(live);
    this.pushStatus(live);
    if (!isOpen(snapshotOf(live))) {
      this.live.delete(live.id);
      this.#forgetRetries(live.id);
    }
    const refusedFollowUp = (e: unknown) => {
      this.deps.logger.warn('follow-up refused', {
        ceremony: live.id,
        code:
          e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'INTERNAL',
      });
      // An aggregation whose result could not be stored has nothing else that retries it.
      this.#scheduleResume(live);
    };
    for (const followUp of followUps) {
      try {
        const result = followUp();
        if (result !== undefined) result.catch(refusedFollowUp);
      } catch (e) {
        refusedFollowUp(e);
      }
    }
  }

  /** Marks effects up to `upTo` done, in the caller's transaction. */
  #flush(live: Live, upTo: number): void {
    const now = this.now();
    const snapshot = snapshotOf(live);
    if (snapshot.status === 'active') {
      live.actor.send({ type: 'outbox.flushed', upTo } as never);
      this.#save(live, now);
    } else {
      const machine = live.kind === 'sign' ? signingMachine : keyMachine;
      const drained = drainFinal(machine as AnyStateMachine, live.actor, upTo);
      live.actor = drained.actor;
      this.#save(live, now, drained.json);
    }
  }

  #arm(live: Live): void {
    if (live.timer !== null) clearTimeout(live.timer);
    live.timer = null;
    const due = nextDeadline(snapshotOf(live));
    if (due === null || this.#closed) return;
    const notBefore = this.#graceUntil.get(live.id) ?? 0;
    const delay = Math.min(Math.max(0, due - this.now(), notBefore - this.now()), 2 ** 31 - 1);
    live.timer = setTimeout(() => void this.serial(live.id, () => this.#fire(live)), delay);
    live.timer.unref();
  }

  #fire(live: Live): void {
    live.timer = null;
    if (this.#closed || this.live.get(live.id) !== live) return;
    // Outputs the members still wait for (an effect that failed): a timeout now would blame them
    // for the coordinator's fault. The retry re-arms the deadline once they went out.
    if (pendingEffects(snapshotOf(live)).length > 0) {
      this.#scheduleResume(live);
      return;
    }
    const event = { type: 'deadline.reached', at: this.now() };
    const verdict = checkEvent(snapshotOf(live), event);
    if (!verdict.ok) {
      this.#arm(live);
      return;
    }
    try {
      this.apply(live, event);
    } catch {
      this.deps.logger.error('deadline could not be applied', { ceremony: live.id });
      this.#arm(live);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Outgoing envelopes

  /** Who receives `*` envelopes and status pushes: the group's members (and the admin for keys). */
  audience(live: Live): string[] {
    const members = [...snapshotOf(live).context.group.members];
    if (live.kind === 'key') return [...members, ADMIN_ID];
    // The requester first: it is the one waiting for the outcome (sign.complete, a final status).
    const requester = live.request?.sender;
    return requester === undefined || !members.includes(requester)
      ? members
      : [requester, ...members.filter((m) => m !== requester)];
  }

  /**
   * Seals and stores the envelopes of one effect (with `writes`) in one transaction, then sends
   * them. Idempotent: if this effect's envelopes are already stored, they are re-sent as they are.
   */
  emitOnce(
    live: Live,
    effectSeq: number,
    build: () => readonly { recipient: string; body: SealedBody }[],
    writes?: () => void,
  ): TranscriptEntry[] {
    const existing = this.store.transcriptForEffect(live.id, effectSeq);
    if (existing.length > 0) {
      this.deliver(live, existing);
      return existing;
    }
    const items = build();
    const now = this.now();
    const entries = this.store.transaction(() => {
      writes?.();
      const stored = items.map((item) => {
        const envelope = this.deps.sealer.seal(live.id, item.body);
        const entry = {
          ceremonyId: live.id,
          direction: 'out' as const,
          sender: 'coordinator',
          recipient: item.recipient,
          effectSeq,
          at: now,
          envelope,
        };
        const idx = this.store.appendTranscript(entry);
        return { ...entry, idx, bodyType: item.body.type };
      });
      // A final envelope (sign.complete, …) is sent only once its transcript is in the log.
      logIfTerminal(this.store, live.id, stored);
      return stored;
    });
    this.deliver(live, entries);
    return entries;
  }

  deliver(live: Live, entries: readonly TranscriptEntry[]): void {
    if (this.#deferred !== null) {
      // Inside a commit: sent once it is durable.
      const queued = [...entries];
      this.#deferred.push(() => this.deliver(live, queued));
      return;
    }
    for (const entry of entries) {
      const to = entry.recipient === '*' ? this.audience(live) : [entry.recipient ?? ''];
      for (const member of to) if (member !== '') this.deps.hub.send(member, entry.envelope);
    }
  }

  /**
   * The incoming envelopes of one body type (those `keep` accepts), each member's first, in
   * transcript order: what a key ceremony's rounds or a session's shares are built from.
   */
  firstIncoming<T extends Envelope['body']['type']>(
    id: string,
    type: T,
    keep: (body: Extract<Envelope['body'], { type: T }>) => boolean = () => true,
  ): (Envelope & { body: Extract<Envelope['body'], { type: T }> })[] {
    type Typed = Envelope & { body: Extract<Envelope['body'], { type: T }> };
    const seen = new Set<string>();
    const out: Typed[] = [];
    for (const e of this.store.transcriptOfType(id, type)) {
      const envelope = e.envelope as Typed;
      if (e.direction !== 'in' || envelope.body.type !== type || seen.has(e.sender)) continue;
      if (!keep(envelope.body)) continue;
      seen.add(e.sender);
      out.push(envelope);
    }
    return out;
  }

  /** Latest outgoing envelope of `bodyType` addressed to `member` (or to everyone). */
  latestOutgoing(id: string, bodyType: string, member: string): TranscriptEntry | undefined {
    return this.store
      .transcriptOfType(id, bodyType)
      .filter((e) => e.direction === 'out' && (e.recipient === member || e.recipient === '*'))
      .at(-1);
  }

  // -------------------------------------------------------------------------------------------
  // Status and inbox (bare answers, not part of the transcript)

  status(live: Live): CeremonyStatus {
    const record = this.store.getCeremony(live.id);
    const snapshot = snapshotOf(live);
    const deadline = nextDeadline(snapshot);
    const base = {
      type: 'ceremony.status' as const,
      ceremonyId: live.id,
      kind: live.kind,
      state: stateName(snapshot),
      group: live.group,
      threshold: snapshot.context.group.threshold,
      members: [...snapshot.context.group.members],
      updatedAt: record?.updatedAt ?? this.now(),
      ...(deadline === null ? {} : { deadline }),
    };
    let status: CeremonyStatus;
    if (live.kind === 'sign') {
      const c = snapshot.context as SigningContext;
      const needs = needsCommitment(snapshot as SigningSnapshotLike);
      status = {
        ...base,
        approvals: c.approvals.map((a) => a.member),
        rejections: c.rejections.map((r) => ({ member: r.member, reason: r.reason })),
        session: c.sessions.length,
        culprits: [...new Set(c.culprits)],
        ...declinesOf(c),
        ...(needs.length > 0 ? { needsCommitment: needs, phase: c.phase } : {}),
        ...policyProgress(this, live, c),
        ...(live.request === null ? {} : { request: live.request }),
      };
    } else {
      const c = snapshot.context as KeyContext;
      const phase = keyPhase(snapshot as KeySnapshotLike);
      const done =
        phase === 'round1'
          ? Object.keys(c.round1)
          : phase === 'round2'
            ? Object.keys(c.round2)
            : c.confirmations.map((x) => x.member);
      status = {
        ...base,
        approvals: done.filter((m) => c.group.members.includes(m)),
        rejections: [],
        session: 0,
        culprits: keyCulprits(c),
      };
    }
    // Checked against the schema before it goes out, except `request`: that envelope was parsed
    // when it arrived and again when it was loaded, and was most of this parse's cost.
    const { request, ...rest } = status;
    const checked = StatusWithoutRequest.parse(rest);
    return request === undefined ? checked : { ...checked, request };
  }

  /** Per open ceremony: when its status was last pushed, and the push scheduled after it. */
  readonly #statusPushes = new Map<string, { at: number; timer: NodeJS.Timeout | null }>();

  /**
   * Pushes the ceremony's status to its audience, at most once per `statusPushIntervalMs`
   * (limits.ts): within the interval, one push of the then-current status is scheduled for its
   * end; a closed ceremony's final status goes out at once. Packages, shares and outcomes are
   * envelopes; only a new ROAST session's `needsCommitment` rides on a push (one interval later
   * at most).
   */
  pushStatus(live: Live): void {
    const interval = this.deps.limits.statusPushIntervalMs;
    const open = isOpen(snapshotOf(live));
    const now = performance.now();
    const last = this.#statusPushes.get(live.id);
    if (open && last !== undefined && now - last.at < interval) {
      if (last.timer === null && !this.#closed) {
        last.timer = setTimeout(
          () => {
            last.timer = null;
            if (this.live.get(live.id) === live && !this.#closed) this.pushStatus(live);
          },
          interval - (now - last.at),
        );
        last.timer.unref();
      }
      return;
    }
    if (last?.timer) clearTimeout(last.timer);
    if (open && interval > 0) this.#statusPushes.set(live.id, { at: now, timer: null });
    else this.#statusPushes.delete(live.id);
    this.#pushStatusNow(live);
  }

  #pushStatusNow(live: Live): void {
    let status: CeremonyStatus;
    try {
      status = this.status(live);
    } catch {
      this.deps.logger.error('status could not be built', { ceremony: live.id });
      return;
    }
    for (const member of this.audience(live)) this.deps.hub.send(member, status);
  }

  /** May `member` read this ceremony? Members of its group and the admin. */
  canRead(live: Live, member: string): boolean {
    return member === ADMIN_ID || snapshotOf(live).context.group.members.includes(member);
  }

  inbox(member: string, limit: number): InboxItem[] {
    const groups = this.store
      .listGroups()
      .filter((g) => member === ADMIN_ID || g.members.some((m) => m.member === member));
    const items: InboxItem[] = [];
    for (const listed of this.store.listCeremoniesOfGroups(
      groups.map((g) => g.name),
      limit,
    )) {
      // A damaged row is left out (and logged), not the whole inbox of its groups with it.
      if (!listed.ok) {
        this.#logUnreadableRow('ceremony left out of the inbox', listed);
        continue;
      }
      const record = listed.record;
      const item: InboxItem = {
        ceremonyId: record.id,
        kind: record.kind,
        group: record.group,
        state: record.state,
        createdAt: record.createdAt,
        ...(record.deadline === null ? {} : { deadline: record.deadline }),
      };
      if (record.kind === 'sign') {
        const first = this.store.firstTranscriptEntry(record.id);
        if (first?.envelope.body.type === 'sign.request') {
          const body = first.envelope.body;
          items.push({
            ...item,
            requester: first.envelope.sender,
            version: body.release.version,
            class: body.release.class,
          });
          continue;
        }
      }
      items.push(item);
    }
    return items;
  }

  /** The registry key of a member in good standing (envelope and auth lookups). */
  memberKey(name: string): Uint8Array | undefined {
    if (name === ADMIN_ID) return this.deps.adminPublicKey;
    const m = this.store.getMember(name);
    if (m === undefined || m.revokedAt !== null) return undefined;
    return hexToBytes(m.identityKey, 32);
  }
}

/**
 * The actor of a stored ceremony. A snapshot that is not the machine's (damaged or altered row)
 * is a storage failure naming the ceremony, not INTERNAL (THREATS D.51).
 */
function restoreRecord(record: CeremonyRecord): Actor<AnyStateMachine> {
  const machine = record.kind === 'sign' ? signingMachine : keyMachine;
  try {
    return restore(machine as AnyStateMachine, record.snapshot);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    throw refused(
      'STORAGE_UNAVAILABLE',
      `corrupt snapshot of ceremony ${record.id} in ceremonies: the database was damaged or altered; restore it from a backup`,
    );
  }
}

function keyCulprits(c: KeyContext): string[] {
  const o = c.outcome;
  if (o === null || o.status !== 'aborted') return [];
  switch (o.code) {
    case 'CULPRIT_REPORTED':
      // A member naming itself reported a failure it cannot attribute: it is the honest
      // reporter, and the dkg.abort blames nobody (key-ceremony.ts abortMessage); nor does this.
      return o.culprit === o.reportedBy ? [] : [o.culprit];
    case 'CONFIRMATION_MISMATCH':
      return [...o.disagreeing];
    case 'TIMEOUT':
      return [...o.missing];
    default:
      return [];
  }
}
