// Test drivers: a tiny in-memory runner that does what the coordinator will do — check, send,
// perform effects after the snapshot, flush, and fire deadlines at nextDeadline().
import { expect } from 'vitest';
import type { Actor } from 'xstate';
import { createActor } from 'xstate';
import type {
  KeyEvent,
  KeyInput,
  KeyMachine,
  RejectionCode,
  SigningEffect,
  SigningEvent,
  SigningInput,
  SigningMachine,
} from '../src/index.js';
import { checkEvent, keyMachine, nextDeadline, signingMachine } from '../src/index.js';

export const NAMES = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
] as const;

export const numRuns = (): number => {
  const raw = process.env['FC_NUM_RUNS'];
  const n = raw === undefined ? 50 : Number.parseInt(raw, 10);
  return Number.isFinite(n) && n > 0 ? n : 50;
};

export const hex = (n: number, bytes = 32): string => n.toString(16).padStart(bytes * 2, '0');

export function signingInput(n: number, t: number, over: Partial<SigningInput> = {}): SigningInput {
  return {
    ceremonyId: 'cer-1',
    group: { members: NAMES.slice(0, n), threshold: t, roles: { alice: ['release-lead'] } },
    statementDigest: hex(0xabc),
    createdAt: 1_000,
    approvalDeadline: 1_000_000,
    sessionTimeoutMs: 5_000,
    ...over,
  };
}

export function keyInput(n: number, t: number, over: Partial<KeyInput> = {}): KeyInput {
  return {
    ceremonyId: 'dkg-1',
    kind: 'dkg',
    group: { members: NAMES.slice(0, n), threshold: t },
    startedAt: 1_000,
    roundTimeoutMs: 10_000,
    ...over,
  };
}

export const startSigning = (input: SigningInput): Actor<SigningMachine> =>
  createActor(signingMachine, { input }).start();
export const startKey = (input: KeyInput): Actor<KeyMachine> =>
  createActor(keyMachine, { input }).start();

type AnyCeremonyActor = Actor<SigningMachine> | Actor<KeyMachine>;

/** Sends an event the runner would accept; fails the test if checkEvent refuses it. */
export function accept(actor: Actor<SigningMachine>, event: SigningEvent): void;
export function accept(actor: Actor<KeyMachine>, event: KeyEvent): void;
export function accept(actor: AnyCeremonyActor, event: SigningEvent | KeyEvent): void {
  const verdict = checkEvent(actor.getSnapshot(), event);
  expect(verdict, `${event.type} should be accepted`).toEqual({ ok: true });
  (actor as Actor<SigningMachine>).send(event as SigningEvent);
}

/** Asserts checkEvent refuses with `code` and that sending anyway changes nothing at all. */
export function refused(
  actor: Actor<SigningMachine>,
  event: SigningEvent,
  code: RejectionCode,
): void;
export function refused(actor: Actor<KeyMachine>, event: KeyEvent, code: RejectionCode): void;
export function refused(
  actor: AnyCeremonyActor,
  event: SigningEvent | KeyEvent,
  code: RejectionCode,
): void {
  const before = actor.getSnapshot();
  const verdict = checkEvent(before, event);
  expect(verdict.ok ? null : verdict.code, `${event.type} should be refused`).toBe(code);
  if (before.status !== 'active') return; // a done actor takes no events at all
  const persistedBefore = JSON.stringify(actor.getPersistedSnapshot());
  (actor as Actor<SigningMachine>).send(event as SigningEvent);
  expect(actor.getSnapshot()).toBe(before);
  expect(JSON.stringify(actor.getPersistedSnapshot())).toBe(persistedBefore);
}

export const effects = (actor: Actor<SigningMachine>): readonly SigningEffect[] =>
  actor.getSnapshot().context.outbox;

export const lastSession = (actor: Actor<SigningMachine>) => {
  const s = actor.getSnapshot().context.sessions.at(-1);
  if (s === undefined) throw new Error('no session');
  return s;
};

/** Asserts the single-use rule over every session ever opened. */
export function assertCommitmentsSingleUse(actor: Actor<SigningMachine>): void {
  const used = actor.getSnapshot().context.sessions.flatMap((s) => Object.values(s.commitments));
  expect(new Set(used).size).toBe(used.length);
}

// ---------------------------------------------------------------------------------------------
// Signing simulation

export type Behaviour =
  | 'honest'
  /** Commits, then never sends a share (crash after the nonce round). */
  | 'timeout'
  /** Sends a share that fails verification. */
  | 'invalid'
  /** Commits, then refuses the package and says so (round2.decline). */
  | 'declines'
  /** Sends shares that verify alone but break aggregation (named by the aggregator). */
  | 'aggCulprit'
  /** Never answers. */
  | 'absent'
  /** Rejects the request. */
  | 'rejects';

export interface SimOptions {
  readonly n: number;
  readonly t: number;
  readonly behaviours: readonly Behaviour[];
  /** Indices into the members, the order approvals (or rejections) are queued in. */
  readonly order?: readonly number[];
  /** Picks which queued message is delivered next; FIFO when absent. */
  readonly pick?: (queueLength: number) => number;
  readonly input?: Partial<SigningInput>;
}

export interface SimResult {
  readonly actor: Actor<SigningMachine>;
  readonly refusals: RejectionCode[];
  readonly performed: SigningEffect[];
}

type Pending = (at: number) => SigningEvent;

export function simulate(opts: SimOptions): SimResult {
  const { n, t, behaviours } = opts;
  const members = NAMES.slice(0, n);
  const behaviourOf = new Map<string, Behaviour>(
    members.map((m, i) => [m, behaviours[i] ?? 'honest']),
  );
  const actor = startSigning(signingInput(n, t, opts.input));
  let clock = 1_000;
  let commitmentCounter = 1;
  let flushed = 0;
  const queue: Pending[] = [];
  const refusals: RejectionCode[] = [];
  const performed: SigningEffect[] = [];

  const order = opts.order ?? members.map((_, i) => i);
  for (const i of order) {
    const m = members[i];
    if (m === undefined) continue;
    const b = behaviourOf.get(m);
    if (b === 'absent') continue;
    if (b === 'rejects') {
      queue.push((at) => ({ type: 'sign.reject', member: m, reason: 'not this release', at }));
    } else {
      const commitment = hex(commitmentCounter++);
      queue.push((at) => ({ type: 'sign.approve', member: m, commitment, at }));
    }
  }

  const perform = (e: SigningEffect): void => {
    performed.push(e);
    switch (e.kind) {
      case 'startSession':
        for (const p of e.participants) {
          const b = behaviourOf.get(p);
          if (b === 'timeout') continue;
          if (b === 'declines') {
            queue.push((at) => ({
              type: 'round2.decline',
              member: p,
              sessionId: e.sessionId,
              detail: 'SIGNING_REFUSED: not under my policy',
              at,
            }));
            continue;
          }
          const valid = b !== 'invalid';
          queue.push((at) => ({
            type: 'round2.share',
            member: p,
            sessionId: e.sessionId,
            valid,
            at,
          }));
        }
        break;
      case 'abandonSession':
        for (const m of e.recommit) {
          const commitment = hex(commitmentCounter++);
          queue.push((at) => ({ type: 'sign.recommit', member: m, commitment, at }));
        }
        break;
      case 'aggregate': {
        const session = actor.getSnapshot().context.sessions.find((s) => s.id === e.sessionId);
        const culprits = (session?.participants ?? []).filter(
          (p) => behaviourOf.get(p) === 'aggCulprit',
        );
        queue.push((at) => ({
          type: 'session.aggregated',
          sessionId: e.sessionId,
          ok: culprits.length === 0,
          culprits,
          at,
        }));
        break;
      }
      default:
        break;
    }
  };

  for (let step = 0; step < 10_000; step++) {
    const snap = actor.getSnapshot();
    // Effects are performed only after the snapshot that recorded them (here: in memory).
    const fresh = snap.context.outbox.filter((e) => e.seq > flushed);
    for (const e of fresh) perform(e);
    const last = fresh.at(-1);
    if (last !== undefined) {
      flushed = last.seq;
      if (snap.status === 'active') accept(actor, { type: 'outbox.flushed', upTo: last.seq });
    }
    if (actor.getSnapshot().status !== 'active') break;
    assertCommitmentsSingleUse(actor);

    if (queue.length > 0) {
      const i = opts.pick === undefined ? 0 : opts.pick(queue.length) % queue.length;
      const [make] = queue.splice(i, 1);
      if (make === undefined) continue;
      clock += 1;
      const event = make(clock);
      const verdict = checkEvent(actor.getSnapshot(), event);
      if (verdict.ok) actor.send(event);
      else {
        refusals.push(verdict.code);
        refused(actor, event, verdict.code);
      }
    } else {
      const due = nextDeadline(actor.getSnapshot());
      if (due === null) throw new Error(`stalled in ${JSON.stringify(actor.getSnapshot().value)}`);
      clock = Math.max(clock, due);
      accept(actor, { type: 'deadline.reached', at: clock });
    }
  }
  expect(actor.getSnapshot().status).toBe('done');
  return { actor, refusals, performed };
}
