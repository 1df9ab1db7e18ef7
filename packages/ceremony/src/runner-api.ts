// What a runner (the coordinator) needs around the machines: check an event before sending it,
// learn the next absolute deadline to arm, read pending effects, persist and restore snapshots.
import type { Actor, AnyStateMachine, Snapshot, StateValue } from 'xstate';
import { createActor } from 'xstate';
import { z } from 'zod';
import type { CheckResult } from './check.js';
import type { KeyContext, KeyEffect, KeyPhase } from './key-rules.js';
import { checkKeyEvent, keyDeadline } from './key-rules.js';
import { drain } from './outbox.js';
import type { SigningContext, SigningEffect, SigningPhase } from './signing-rules.js';
import { checkSigningEvent, signingDeadline } from './signing-rules.js';

/** The parts of a live or persisted snapshot the helpers read. */
export interface CeremonySnapshot<C> {
  readonly status: string;
  readonly value: StateValue;
  readonly context: C;
}
export type SigningSnapshotLike = CeremonySnapshot<SigningContext>;
export type KeySnapshotLike = CeremonySnapshot<KeyContext>;
export type AnyCeremonySnapshot = SigningSnapshotLike | KeySnapshotLike;

const isSigning = (s: AnyCeremonySnapshot): s is SigningSnapshotLike =>
  s.context.ceremony === 'signing';

export function signingPhase(s: SigningSnapshotLike): SigningPhase {
  if (s.status !== 'active') return 'closed';
  const v = s.value;
  if (v === 'requested' || v === 'collectingApprovals') return v;
  if (typeof v === 'object' && 'signing' in v) {
    const sub = v['signing'];
    if (sub === 'awaitingCommitments' || sub === 'inSession' || sub === 'aggregating') return sub;
  }
  return 'closed';
}

const KEY_PHASES: Readonly<Record<string, KeyPhase>> = {
  waitingForRound1: 'round1',
  waitingForRound2: 'round2',
  waitingForConfirmations: 'confirmation',
};

export function keyPhase(s: KeySnapshotLike): KeyPhase {
  if (s.status !== 'active' || typeof s.value !== 'string') return 'closed';
  return Object.hasOwn(KEY_PHASES, s.value) ? (KEY_PHASES[s.value] ?? 'closed') : 'closed';
}

/**
 * Would this event be accepted? A refused event makes no transition, so the runner answers the
 * sender with the code and writes nothing (THREATS C.45). The event is parsed here too: pass the
 * raw object built from the authenticated wire message.
 */
export function checkEvent(snapshot: AnyCeremonySnapshot, event: unknown): CheckResult {
  return isSigning(snapshot)
    ? checkSigningEvent(signingPhase(snapshot), snapshot.context, event)
    : checkKeyEvent(keyPhase(snapshot), snapshot.context, event);
}

/**
 * The absolute time (runner clock, ms) at which the runner must send `deadline.reached`, or null
 * when nothing is timed. Re-arm after every transition and on boot; never use xstate `after`.
 */
export function nextDeadline(snapshot: AnyCeremonySnapshot): number | null {
  return isSigning(snapshot)
    ? signingDeadline(signingPhase(snapshot), snapshot.context)
    : keyDeadline(keyPhase(snapshot), snapshot.context);
}

/** Effects recorded but not yet flushed, oldest first. Perform them only after persisting. */
export function pendingEffects(snapshot: SigningSnapshotLike): readonly SigningEffect[];
export function pendingEffects(snapshot: KeySnapshotLike): readonly KeyEffect[];
export function pendingEffects(
  snapshot: AnyCeremonySnapshot,
): readonly (SigningEffect | KeyEffect)[];
export function pendingEffects(
  snapshot: AnyCeremonySnapshot,
): readonly (SigningEffect | KeyEffect)[] {
  return snapshot.context.outbox;
}

// ---------------------------------------------------------------------------------------------
// Persistence

const PersistedSchema = z.looseObject({
  status: z.enum(['active', 'done', 'error', 'stopped']),
  value: z.union([z.string(), z.record(z.string(), z.unknown())]),
  context: z.looseObject({
    ceremony: z.enum(['signing', 'key']),
    outbox: z.array(z.looseObject({ seq: z.number().int() })),
  }),
});

/** The snapshot as JSON text, ready for the ceremonies table. */
export function persist(actor: Actor<AnyStateMachine>): string {
  return JSON.stringify(actor.getPersistedSnapshot());
}

/** Checks the outline; returns the parsed JSON itself (key order and all), not zod's copy. */
function parsePersisted(json: string): z.infer<typeof PersistedSchema> {
  const raw: unknown = JSON.parse(json);
  const parsed = PersistedSchema.safeParse(raw);
  if (!parsed.success) {
    throw new TypeError(`not a ceremony snapshot: ${z.prettifyError(parsed.error)}`);
  }
  return raw as z.infer<typeof PersistedSchema>;
}

/**
 * A started actor resumed from `persist()` output. Timers are not part of a snapshot: the caller
 * re-arms `nextDeadline(actor.getSnapshot())` itself.
 */
export function restore<M extends AnyStateMachine>(machine: M, json: string): Actor<M> {
  const snapshot = parsePersisted(json);
  if (snapshot.context.ceremony !== (machine.id === 'signing' ? 'signing' : 'key')) {
    throw new TypeError(
      `snapshot of a ${snapshot.context.ceremony} ceremony given to ${machine.id}`,
    );
  }
  // Throws on a state value the machine does not know.
  machine.resolveState({ value: snapshot.value as StateValue, context: snapshot.context });
  const logic: AnyStateMachine = machine;
  return createActor(logic, {
    snapshot: snapshot as unknown as Snapshot<unknown>,
  }).start() as Actor<M>;
}

/**
 * `outbox.flushed` for a stored snapshot, including a final one (a done actor takes no events):
 * returns the JSON with every effect `seq <= upTo` removed.
 */
export function drainOutbox(json: string, upTo: number): string {
  const snapshot = parsePersisted(json);
  return JSON.stringify({
    ...snapshot,
    context: { ...snapshot.context, outbox: drain(snapshot.context.outbox, upTo) },
  });
}
