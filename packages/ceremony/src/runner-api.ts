// What a runner (the coordinator) needs around the machines: check an event before sending it,
// learn the next absolute deadline to arm, read pending effects, persist and restore snapshots.
import type { Actor, AnyStateMachine, Snapshot, StateValue } from 'xstate';
import { createActor } from 'xstate';
import { z } from 'zod';
import type { CheckResult } from './check.js';
import type { KeyContext, KeyEffect, KeyPhase } from './key-rules.js';
import { checkKeyEvent, keyDeadline } from './key-rules.js';
import { drain } from './outbox.js';
import {
  GroupSchema,
  HexSchema,
  KeyCeremonyKindSchema,
  MemberIdSchema,
  SigningPolicySchema,
} from './schemas.js';
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

/**
 * A stored snapshot that cannot be resumed: not JSON, not the machine's snapshot shape, a state
 * the machine does not have, or the other machine's. The stored row is damaged or was altered:
 * the runner treats it as a storage failure (THREATS D.51), never as a ceremony to go on with.
 */
export class SnapshotError extends Error {
  readonly code = 'INVALID_SNAPSHOT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

// The machines' contexts as they are persisted (signing-rules.ts, key-rules.ts). XState restores
// any context as it is given, so everything the machines and runners read is checked here; extra
// fields are allowed, absent ones only where the types allow snapshots made before them.
const Int = z.number().int();
const Members = z.array(MemberIdSchema);
const HexMap = z.record(MemberIdSchema, HexSchema);
const Seq = { seq: Int.nonnegative() };

const PolicyGapSchema = z.object({
  missingApprovals: Int,
  missingRoles: z.array(z.object({ role: z.string(), count: Int })),
});
const ExclusionReasonSchema = z.enum(['timeout', 'invalid_share', 'revoked', 'declined']);
const SigningOutcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('completed'), sessionId: z.string(), signers: Members, at: Int }),
  z.object({
    status: z.literal('rejected'),
    rejectedBy: Members,
    at: Int,
    policy: PolicyGapSchema.optional(),
  }),
  z.object({ status: z.literal('expired'), at: Int, policy: PolicyGapSchema.optional() }),
  z.object({ status: z.literal('cancelled'), by: z.string(), reason: z.string(), at: Int }),
  z.object({
    status: z.literal('aborted'),
    code: z.enum(['INSUFFICIENT_HONEST_SIGNERS', 'AGGREGATE_INVALID']),
    culprits: Members,
    at: Int,
  }),
]);
const SigningEffectSchema = z.discriminatedUnion('kind', [
  z.object({
    ...Seq,
    kind: z.literal('notify'),
    topic: z.literal('approval.requested'),
    to: Members,
    statementDigest: HexSchema,
    approvalDeadline: Int,
  }),
  z.object({
    ...Seq,
    kind: z.literal('startSession'),
    sessionId: z.string(),
    phase: Int,
    participants: Members,
    commitments: HexMap,
    deadline: Int,
  }),
  z.object({
    ...Seq,
    kind: z.literal('abandonSession'),
    sessionId: z.string(),
    reason: z.union([ExclusionReasonSchema, z.literal('aggregate_invalid')]),
    culprits: Members,
    recommit: Members,
  }),
  z.object({ ...Seq, kind: z.literal('aggregate'), sessionId: z.string() }),
  z.object({
    ...Seq,
    kind: z.literal('phaseComplete'),
    sessionId: z.string(),
    phase: Int,
    recommit: Members,
  }),
  z.object({ ...Seq, kind: z.literal('complete'), sessionId: z.string(), signers: Members }),
  z.object({ ...Seq, kind: z.literal('close'), outcome: SigningOutcomeSchema }),
]);
const SigningContextSchema = z.looseObject({
  ceremony: z.literal('signing'),
  ceremonyId: z.string(),
  group: GroupSchema,
  statementDigest: HexSchema,
  createdAt: Int,
  approvalDeadline: Int,
  sessionTimeoutMs: Int,
  phases: Int.positive(),
  phase: Int.positive(),
  policy: SigningPolicySchema.optional(),
  now: Int,
  approvals: z.array(z.object({ member: MemberIdSchema, at: Int })),
  rejections: z.array(z.object({ member: MemberIdSchema, reason: z.string(), at: Int })),
  freshCommitments: HexMap,
  seenCommitments: z.array(HexSchema),
  excluded: z.array(
    z.object({
      member: MemberIdSchema,
      reason: ExclusionReasonSchema,
      sessionId: z.string().nullable(),
      at: Int,
      detail: z.string().optional(),
    }),
  ),
  culprits: Members,
  sessions: z.array(
    z.object({
      id: z.string(),
      index: Int,
      phase: Int,
      participants: Members,
      commitments: HexMap,
      startedAt: Int,
      deadline: Int,
      shares: Members,
      status: z.enum(['open', 'aggregating', 'succeeded', 'abandoned']),
      endedAt: Int.nullable(),
      endReason: z.union([ExclusionReasonSchema, z.literal('aggregate_invalid')]).nullable(),
    }),
  ),
  outcome: SigningOutcomeSchema.nullable(),
  outbox: z.array(SigningEffectSchema),
  nextSeq: Int.positive(),
});

const KeyOutcomeSchema = z.union([
  z.object({
    status: z.literal('completed'),
    transcriptHash: HexSchema,
    groupPublicKey: HexSchema,
    at: Int,
  }),
  z.discriminatedUnion('code', [
    z.object({
      status: z.literal('aborted'),
      code: z.literal('CONFIRMATION_MISMATCH'),
      disagreeing: Members,
      views: z.array(
        z.object({ transcriptHash: HexSchema, groupPublicKey: HexSchema, members: Members }),
      ),
      at: Int,
    }),
    z.object({
      status: z.literal('aborted'),
      code: z.literal('CULPRIT_REPORTED'),
      culprit: MemberIdSchema,
      reportedBy: MemberIdSchema,
      reason: z.string(),
      at: Int,
    }),
    z.object({
      status: z.literal('aborted'),
      code: z.literal('TIMEOUT'),
      round: z.union([z.literal(1), z.literal(2), z.literal(3)]),
      missing: Members,
      at: Int,
    }),
    z.object({
      status: z.literal('aborted'),
      code: z.literal('CANCELLED'),
      by: z.string(),
      reason: z.string(),
      at: Int,
    }),
    z.object({
      status: z.literal('aborted'),
      code: z.literal('MEMBER_REVOKED'),
      member: MemberIdSchema,
      at: Int,
    }),
  ]),
]);
const KeyEffectSchema = z.discriminatedUnion('kind', [
  z.object({
    ...Seq,
    kind: z.literal('notify'),
    topic: z.literal('dkg.started'),
    to: Members,
    deadline: Int,
  }),
  z.object({ ...Seq, kind: z.literal('broadcastRound1'), packageHashes: HexMap, deadline: Int }),
  z.object({ ...Seq, kind: z.literal('deliverRound2'), from: MemberIdSchema, recipients: Members }),
  z.object({ ...Seq, kind: z.literal('requestConfirmation'), to: Members, deadline: Int }),
  z.object({
    ...Seq,
    kind: z.literal('activateGroup'),
    groupPublicKey: HexSchema,
    transcriptHash: HexSchema,
  }),
  z.object({ ...Seq, kind: z.literal('abort'), to: Members, outcome: KeyOutcomeSchema }),
]);
const KeyContextSchema = z.looseObject({
  ceremony: z.literal('key'),
  ceremonyId: z.string(),
  kind: KeyCeremonyKindSchema,
  group: GroupSchema,
  dealers: Members.optional(),
  recipients: Members.optional(),
  confirmers: Members.optional(),
  roundTimeoutMs: Int,
  startedAt: Int,
  now: Int,
  deadline: Int,
  priorPackageHashes: z.array(HexSchema),
  round1: HexMap,
  round2: z.record(MemberIdSchema, Members),
  confirmations: z.array(
    z.object({
      member: MemberIdSchema,
      transcriptHash: HexSchema,
      groupPublicKey: HexSchema,
      at: Int,
      relayed: z.boolean().optional(),
    }),
  ),
  outcome: KeyOutcomeSchema.nullable(),
  outbox: z.array(KeyEffectSchema),
  nextSeq: Int.positive(),
});

const PersistedSchema = z.looseObject({
  status: z.enum(['active', 'done', 'error', 'stopped']),
  value: z.union([z.string(), z.record(z.string(), z.unknown())]),
  context: z.discriminatedUnion('ceremony', [SigningContextSchema, KeyContextSchema]),
});
type Persisted = z.infer<typeof PersistedSchema>;

/** The snapshot as JSON text, ready for the ceremonies table. */
export function persist(actor: Actor<AnyStateMachine>): string {
  return JSON.stringify(actor.getPersistedSnapshot());
}

/**
 * Checks the snapshot against the machines' shape; returns the parsed JSON itself (key order and
 * all), not zod's copy. Throws SnapshotError.
 */
function parsePersisted(json: string): Persisted {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new SnapshotError('not a ceremony snapshot: the text is not JSON');
  }
  const parsed = PersistedSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SnapshotError(`not a ceremony snapshot: ${z.prettifyError(parsed.error)}`);
  }
  return raw as Persisted;
}

/**
 * A started actor resumed from `persist()` output. Timers are not part of a snapshot: the caller
 * re-arms `nextDeadline(actor.getSnapshot())` itself. Throws SnapshotError when `json` is not a
 * snapshot of this machine.
 */
export function restore<M extends AnyStateMachine>(machine: M, json: string): Actor<M> {
  const snapshot = parsePersisted(json);
  if (snapshot.context.ceremony !== (machine.id === 'signing' ? 'signing' : 'key')) {
    throw new SnapshotError(
      `snapshot of a ${snapshot.context.ceremony} ceremony given to ${machine.id}`,
    );
  }
  try {
    // Throws on a state value the machine does not know.
    machine.resolveState({ value: snapshot.value as StateValue, context: snapshot.context });
  } catch (e) {
    throw new SnapshotError(
      `snapshot state ${JSON.stringify(snapshot.value)} is not one of ${machine.id}'s: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
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
  const outbox: readonly { seq: number }[] = snapshot.context.outbox;
  return JSON.stringify({
    ...snapshot,
    context: { ...snapshot.context, outbox: drain(outbox, upTo) },
  });
}

/**
 * `drainOutbox` for a final actor of this process (a done actor takes no events): the JSON of its
 * persisted snapshot with every effect `seq <= upTo` removed, and an actor resumed from it (`actor`
 * is stopped). The snapshot is the actor's own, just made: it is not parsed and checked again as
 * stored text is (`restore`), which was most of a completing ceremony's last transaction.
 */
export function drainFinal<M extends AnyStateMachine>(
  machine: M,
  actor: Actor<M>,
  upTo: number,
): { readonly actor: Actor<M>; readonly json: string } {
  const own = actor.getPersistedSnapshot() as unknown as Persisted;
  const outbox: readonly { seq: number }[] = own.context.outbox;
  const drained = { ...own, context: { ...own.context, outbox: drain(outbox, upTo) } };
  const json = JSON.stringify(drained);
  actor.stop();
  // Resumed from a copy made of the text that is stored, so memory and disk cannot differ.
  const logic: AnyStateMachine = machine;
  const resumed = createActor(logic, {
    snapshot: JSON.parse(json) as Snapshot<unknown>,
  }).start() as Actor<M>;
  return { actor: resumed, json };
}
