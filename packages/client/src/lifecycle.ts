// Joining key lifecycle ceremonies from a member session (`conclave keygen GROUP`, `conclave agent`):
// one LifecycleParticipant per `key.start` the filter accepts, fed the ceremony's envelopes, with
// its share swapped in the home directory (share-swap.ts). On every (re)connect, swaps a crash left
// half done are finished or discarded by the ceremony's signed outcome (provenOutcome).
import { unlink } from 'node:fs/promises';
import {
  KeyOutcomeSchema,
  hexToBytes,
  openEnvelope,
  verifyDkgConfirmation,
  type DkgComplete,
  type Envelope,
  type IdentityKey,
  type KeyStart,
  type OpenedEnvelope,
} from '@conclave/protocol';
import type { Connection } from './connection.js';
import { ClientError, isClientError } from './errors.js';
import { ShareMetadataSchema, type Home, type LoadedShare, type ShareMetadata } from './home.js';
import { readKeystore, type ScryptParams } from './keystore.js';
import {
  LifecycleParticipant,
  checkKeyStart,
  committeeConfirmed,
} from './lifecycle-participant.js';
import {
  discardStagedShare,
  listPendingShares,
  promoteShare,
  recoverShares,
  stageShare,
  type PendingShare,
} from './share-swap.js';

export interface LifecycleOptions {
  readonly connection: Connection;
  readonly home: Home;
  readonly key: IdentityKey;
  readonly passphrase: string;
  /** Which ceremonies to join (default: all that name this member). */
  readonly filter?: (start: KeyStart) => boolean;
  readonly log?: (line: string) => void;
  /** scrypt parameters for the new share files (default: the home's). */
  readonly kdfParams?: ScryptParams;
  /** Key ceremonies (DKGs) the caller runs itself: their staged shares are not recovered here. */
  readonly inFlight?: (ceremonyId: string) => boolean;
  /**
   * How long after the end of a ceremony this session stood down from it recovers the share the
   * other process staged (default STAND_DOWN_GRACE_MS).
   */
  readonly standDownGraceMs?: number;
}

export interface LifecycleHandle {
  /** Called for every ceremony joined, before its round 1. */
  onParticipant(listener: (p: LifecycleParticipant) => void): () => void;
  readonly participants: ReadonlyMap<string, LifecycleParticipant>;
}

/** See LifecycleOptions.standDownGraceMs. */
export const STAND_DOWN_GRACE_MS = 10_000;

/** What goes to a ceremony's participant (key.start: re-delivered, once the participant exists). */
const ROUTED = new Set([
  'key.start',
  'key.round1.all',
  'key.round2.deliver',
  'dkg.complete',
  'dkg.abort',
]);

// committeeConfirmed lives beside the participant (which checks it too); exported from here as before.
export { committeeConfirmed };

/**
 * How the ceremony that staged `pending` ended, from signed evidence only (crash recovery,
 * docs/lifecycle.md): 'completed' when the coordinator's stored, sealed `key.start` carries the
 * pinned admin's authorization, lists the roster this member staged its share under, and the
 * sealed `dkg.complete` is signed by every confirmer (committeeConfirmed); 'aborted' on a sealed
 * `dkg.abort`; otherwise 'open' (the staged share is kept: it may be the only copy).
 */
/** The staged share's metadata, authenticated by opening it; undefined if it does not open. */
async function stagedMetadata(
  pending: PendingShare,
  passphrase: string,
): Promise<ShareMetadata | undefined> {
  try {
    const { secret, metadata } = await readKeystore(pending.path, passphrase);
    secret.fill(0);
    return ShareMetadataSchema.parse(metadata);
  } catch {
    return undefined;
  }
}

export async function provenOutcome(
  o: Pick<LifecycleOptions, 'connection' | 'home' | 'key' | 'passphrase'>,
  pending: PendingShare,
): Promise<'completed' | 'created' | 'aborted' | 'open'> {
  const pin = o.home.config.coordinator;
  if (pin === undefined) return 'open';
  const { ceremonyId } = pending;
  const parsed = KeyOutcomeSchema.safeParse(
    await o.connection.query({ type: 'key.outcome.get', ceremonyId }, 'key.outcome'),
  );
  if (!parsed.success || parsed.data.ceremonyId !== ceremonyId) return 'open';
  const coordinatorKey = hexToBytes(pin.coordinatorKey);
  const sealed = (env: Envelope | undefined): boolean =>
    env !== undefined &&
    env.ceremonyId === ceremonyId &&
    openEnvelope(env, (s) => (s === 'coordinator' ? coordinatorKey : undefined)).ok;
  const { start, outcome } = parsed.data;
  if (outcome === undefined || !sealed(outcome)) return 'open';
  if (outcome.body.type === 'dkg.abort') return 'aborted';
  if (start === undefined) return dkgConfirmed(o, pending, outcome.body);
  if (!sealed(start) || start.body.group !== pending.group) return 'open';
  try {
    checkKeyStart(ceremonyId, start.body, hexToBytes(pin.adminKey), o.home.name, o.key.publicKey);
  } catch {
    return 'open';
  }
  // The confirmers' identity keys come from the start: for a refresh or repair the admin does not
  // sign them, so they must be the roster this member checked and staged its share under.
  const staged = await stagedMetadata(pending, o.passphrase);
  if (staged === undefined) return 'open';
  const roster = (l: readonly { member: string; identifier: string; identityKey: string }[]) =>
    JSON.stringify(l.map((p) => [p.member, p.identifier, p.identityKey]).sort());
  if (
    staged.ceremonyId !== ceremonyId ||
    staged.group !== start.body.group ||
    staged.groupPublicKey !== start.body.groupPublicKey ||
    (staged.epoch ?? 0) !== start.body.toEpoch ||
    roster(staged.participants) !== roster(start.body.participants)
  )
    return 'open';
  return committeeConfirmed(ceremonyId, start.body, outcome.body) ? 'completed' : 'open';
}

/**
 * A DKG (no key.start: the coordinator keeps none for it) that staged `pending`: 'created' when
 * the sealed dkg.complete names the staged share's group key and carries a confirmation, over its
 * transcript hash and that key, from every participant of the roster the staged share records (the
 * admin-authorized one this member checked at dkg.start), this member's own included: its
 * signature covers the transcript hash it computed itself. Otherwise 'open'.
 */
async function dkgConfirmed(
  o: Pick<LifecycleOptions, 'passphrase'>,
  pending: PendingShare,
  complete: DkgComplete,
): Promise<'created' | 'open'> {
  const staged = await stagedMetadata(pending, o.passphrase);
  if (staged === undefined) return 'open';
  if (
    staged.ceremonyId !== pending.ceremonyId ||
    staged.group !== pending.group ||
    staged.epoch !== undefined || // a DKG's share records no epoch; a lifecycle's always does
    staged.groupPublicKey !== complete.groupPublicKey ||
    complete.confirmations.length !== staged.participants.length
  )
    return 'open';
  const signatures = new Map(complete.confirmations.map((c) => [c.member, c.signature]));
  const verifies = (p: ShareMetadata['participants'][number]): boolean => {
    const signature = signatures.get(p.member);
    return (
      signature !== undefined &&
      verifyDkgConfirmation(
        hexToBytes(p.identityKey),
        {
          ceremonyId: pending.ceremonyId,
          member: p.member,
          round1Hash: hexToBytes(complete.round1Hash),
          groupPublicKey: hexToBytes(complete.groupPublicKey),
        },
        hexToBytes(signature),
      )
    );
  };
  try {
    return staged.participants.every(verifies) ? 'created' : 'open';
  } catch {
    return 'open'; // a malformed key or signature proves nothing
  }
}

export function attachLifecycle(o: LifecycleOptions): LifecycleHandle {
  const participants = new Map<string, LifecycleParticipant>();
  /** ceremony id → the dkg.complete received for it (what a leaving dealer checks). */
  const completes = new Map<string, DkgComplete>();
  const listeners = new Set<(p: LifecycleParticipant) => void>();
  const log = o.log ?? (() => undefined);

  const loadShare = async (group: string): Promise<LoadedShare | undefined> => {
    if (!(await o.home.listShares()).includes(group)) return undefined;
    return o.home.loadShare(group, o.passphrase);
  };

  /** The recovery of staged shares under way, or done (join waits for it). */
  let recovering: Promise<unknown> = Promise.resolve();
  /** Each participant's begin(), settled either way: its envelopes wait for it. */
  const begun = new Map<string, Promise<void>>();

  /**
   * Puts in place, or removes, the shares key ceremonies staged, by their signed outcomes
   * (recoverShares); after any recovery already under way, never beside it (both would move one
   * file). A ceremony this session still takes part in finishes its own.
   */
  const recover = (): Promise<unknown> => {
    recovering = recovering.then(() =>
      recoverShares(
        o.home,
        o.passphrase,
        async (ceremonyId, pending) => {
          // A ceremony this session still takes part in finishes its own staged share; one it
          // stood down from (another process of this member confirmed) is recovered like any.
          const own = participants.get(ceremonyId);
          if ((own !== undefined && !own.stoodDown) || o.inFlight?.(ceremonyId) === true)
            return 'open';
          const verdict = await provenOutcome(o, pending);
          if (verdict === 'open')
            log(
              `${pending.group}: kept the share staged by key ceremony ${ceremonyId}: the coordinator ` +
                'showed no sealed dkg.complete signed by every confirmer, nor a sealed dkg.abort',
            );
          return verdict;
        },
        log,
      ).catch(() => undefined),
    );
    return recovering;
  };

  const join = async (ceremonyId: string, start: KeyStart): Promise<void> => {
    if (participants.has(ceremonyId)) return;
    if (o.filter !== undefined && !o.filter(start)) return;
    const adminKey = o.home.config.coordinator?.adminKey;
    if (adminKey === undefined) throw new ClientError('NO_COORDINATOR', 'no pinned admin key');
    const p = new LifecycleParticipant(
      {
        member: o.home.name,
        key: o.key,
        adminKey: hexToBytes(adminKey),
        send: (c, r, b) => o.connection.send(c, r, b),
        loadShare,
        hasPendingShare: async (group) =>
          (await listPendingShares(o.home)).some((x) => x.group === group),
        stage: (kp, meta) => stageShare(o.home, kp, meta, o.passphrase, o.kdfParams),
        commit: (group, staged, previousEpoch) =>
          promoteShare(o.home, group, staged, previousEpoch),
        discard: (staged) => discardStagedShare(staged),
        log,
      },
      ceremonyId,
      start,
    );
    participants.set(ceremonyId, p);
    for (const l of listeners) l(p);
    // One that stood aside before round 1 (its share did not load) is forgotten, so the start,
    // sent again on the next connect, is taken then. One that stood down for another process of
    // this member stays, so that a re-sent start never makes a second participant beside that
    // process (its round 1 would meet the other's in the relay as "altered", and end it).
    p.result.catch(() => {
      if (p.stoodAside && participants.get(ceremonyId) === p) participants.delete(ceremonyId);
    });
    // A holder that leaves the committee keeps nothing: its old share is useless after a reshare.
    p.result
      .then(async (r) => {
        if (r.kind === 'reshare' && !r.members.includes(o.home.name)) {
          if (!committeeConfirmed(ceremonyId, start, completes.get(ceremonyId))) {
            log(
              `${r.group}: the reshare's completion is not signed by every new member; ` +
                'your old share was kept',
            );
            return;
          }
          await unlink(o.home.sharePath(r.group)).catch(() => undefined);
          log(`${r.group}: you left the group; your old share was deleted`);
        }
      })
      .catch(() => undefined);
    // A start re-sent at connect comes with the recovery of the shares earlier ceremonies staged
    // (recover, below): let it finish first (onConnect runs once the connect settles, so
    // after a turn of the event loop), or begin() would check the share it is about to replace.
    // The rounds re-sent with the start wait for begin() (onEnvelope), which sets what they use.
    const ready = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await recovering;
      await p.begin();
    })();
    begun.set(
      ceremonyId,
      ready.catch(() => undefined),
    );
    await ready;
  };

  const onEnvelope = (env: OpenedEnvelope): void => {
    const body = env.body;
    const run = (f: () => Promise<void>) =>
      f().catch((err: unknown) =>
        log(
          `key ceremony ${env.ceremonyId}: ${isClientError(err) ? `${err.code}: ${err.message}` : String(err)}`,
        ),
      );
    const p = participants.get(env.ceremonyId);
    // A start re-delivered (on every reconnect until this member confirms) goes to its participant:
    // a dealer whose round 1 the connection lost sends it again.
    if (body.type === 'key.start' && p === undefined) {
      void run(() => join(env.ceremonyId, body));
      return;
    }
    if (!ROUTED.has(body.type)) return;
    // The end of a ceremony no participant of this session runs: one this member confirmed
    // before its client restarted, whose share is staged. The coordinator sends nothing more to
    // a member that confirmed, so this end is the one cue: recover by the signed outcome now, not
    // at the next connect, which a long-lived agent may never make.
    if (p === undefined && (body.type === 'dkg.complete' || body.type === 'dkg.abort')) {
      void run(async () => {
        const staged = await listPendingShares(o.home);
        if (staged.some((s) => s.ceremonyId === env.ceremonyId)) await recover();
      });
      return;
    }
    // The end of a ceremony this session stood down from: the share another process of this
    // member confirmed is staged, and that process may not live to put it in place. After a
    // grace (that process, alive, does it at once: two would move one file), recover it by the
    // signed outcome, rather than at the next connect.
    if (p?.stoodDown === true && body.type.startsWith('dkg.')) {
      setTimeout(() => void recover(), o.standDownGraceMs ?? STAND_DOWN_GRACE_MS).unref();
    }
    if (body.type === 'dkg.complete' && p !== undefined && !completes.has(env.ceremonyId))
      completes.set(env.ceremonyId, body);
    const ready = begun.get(env.ceremonyId) ?? Promise.resolve();
    if (p !== undefined) void run(() => ready.then(() => p.handle(env)));
  };

  o.connection.onEnvelope(onEnvelope);
  o.connection.onConnect(() => void recover());
  return {
    onParticipant(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    participants,
  };
}
