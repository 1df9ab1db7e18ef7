import { describe, expect, it } from 'vitest';
import type { Actor, AnyStateMachine, StateValue } from 'xstate';
import type { KeyEvent, SigningContext, SigningEvent } from '../src/index.js';
import {
  drainOutbox,
  drainFinal,
  keyMachine,
  nextDeadline,
  pendingEffects,
  persist,
  restore,
  signingMachine,
  SnapshotError,
} from '../src/index.js';
import { hex, keyInput, NAMES, signingInput, startKey, startSigning } from './helpers.js';

/** Every leaf state of a machine, as a dotted path. */
function leafStates(machine: AnyStateMachine): string[] {
  const walk = (node: AnyStateMachine['root'], prefix: string[]): string[] => {
    const children = Object.entries(node.states);
    if (children.length === 0) return [prefix.join('.')];
    return children.flatMap(([key, child]) => walk(child, [...prefix, key]));
  };
  return walk(machine.root, []);
}

const dotted = (value: StateValue): string =>
  typeof value === 'string'
    ? value
    : Object.entries(value)
        .map(([k, v]) => `${k}.${dotted(v as StateValue)}`)
        .join(',');

const approve = (member: string, c: number, at: number): SigningEvent => ({
  type: 'sign.approve',
  member,
  commitment: hex(c),
  at,
});
const share = (member: string, n: number, at: number, valid = true): SigningEvent => ({
  type: 'round2.share',
  member,
  sessionId: `cer-1/s${n}`,
  valid,
  at,
});

/** Per state: events to get there, then events that must behave the same after a restore. */
const signingScripts: Record<string, { to: SigningEvent[]; then: SigningEvent[] }> = {
  requested: { to: [], then: [approve('alice', 1, 1_100), approve('bob', 2, 1_200)] },
  collectingApprovals: {
    to: [approve('alice', 1, 1_100)],
    then: [approve('bob', 2, 1_200), share('alice', 1, 1_300)],
  },
  'signing.awaitingCommitments': {
    to: [approve('alice', 1, 1_100), approve('bob', 2, 1_200), share('bob', 1, 1_300, false)],
    then: [
      approve('carol', 3, 1_400),
      { type: 'sign.recommit', member: 'alice', commitment: hex(4), at: 1_500 },
      share('alice', 2, 1_600),
      share('carol', 2, 1_700),
      { type: 'session.aggregated', sessionId: 'cer-1/s2', ok: true, culprits: [], at: 1_800 },
    ],
  },
  'signing.inSession': {
    to: [approve('alice', 1, 1_100), approve('bob', 2, 1_200), share('alice', 1, 1_300)],
    then: [
      { type: 'deadline.reached', at: 6_200 },
      approve('carol', 3, 6_300),
      { type: 'sign.recommit', member: 'alice', commitment: hex(4), at: 6_400 },
    ],
  },
  'signing.aggregating': {
    to: [
      approve('alice', 1, 1_100),
      approve('bob', 2, 1_200),
      share('alice', 1, 1_300),
      share('bob', 1, 1_300),
    ],
    then: [
      { type: 'outbox.flushed', upTo: 3 },
      { type: 'session.aggregated', sessionId: 'cer-1/s1', ok: true, culprits: [], at: 1_400 },
    ],
  },
  completed: {
    to: [
      approve('alice', 1, 1_100),
      approve('bob', 2, 1_200),
      share('alice', 1, 1_300),
      share('bob', 1, 1_300),
      { type: 'session.aggregated', sessionId: 'cer-1/s1', ok: true, culprits: [], at: 1_400 },
    ],
    then: [approve('carol', 3, 1_500)],
  },
  rejected: {
    to: [
      { type: 'sign.reject', member: 'alice', reason: 'no', at: 1_100 },
      { type: 'sign.reject', member: 'bob', reason: 'no', at: 1_200 },
    ],
    then: [approve('carol', 3, 1_300)],
  },
  expired: {
    to: [{ type: 'deadline.reached', at: 1_000_000 }],
    then: [approve('carol', 3, 1_300)],
  },
  cancelled: {
    to: [{ type: 'ceremony.cancel', by: 'admin', reason: 'x', at: 1_100 }],
    then: [approve('carol', 3, 1_300)],
  },
  aborted: {
    to: [
      { type: 'member.revoked', member: 'alice', at: 1_100 },
      { type: 'member.revoked', member: 'bob', at: 1_200 },
    ],
    then: [approve('carol', 3, 1_300)],
  },
};

const members3 = NAMES.slice(0, 3);
const round1 = members3.map((m, i): KeyEvent => ({
  type: 'dkg.round1',
  member: m,
  packageHash: hex(10 + i),
  at: 1_100,
}));
const round2 = members3.map((m): KeyEvent => ({
  type: 'dkg.round2',
  member: m,
  recipients: members3.filter((x) => x !== m),
  at: 1_200,
}));
const confirm = members3.map((m): KeyEvent => ({
  type: 'dkg.confirm',
  member: m,
  transcriptHash: hex(7),
  groupPublicKey: hex(8),
  at: 1_300,
}));

const keyScripts: Record<string, { to: KeyEvent[]; then: KeyEvent[] }> = {
  waitingForRound1: { to: round1.slice(0, 1), then: [...round1.slice(1), ...round2] },
  waitingForRound2: {
    to: [...round1, ...round2.slice(0, 1)],
    then: [...round2.slice(1), ...confirm],
  },
  waitingForConfirmations: {
    to: [...round1, ...round2, ...confirm.slice(0, 2)],
    then: confirm.slice(2),
  },
  completed: {
    to: [...round1, ...round2, ...confirm],
    then: [{ type: 'deadline.reached', at: 99_999 }],
  },
  aborted: {
    to: [
      ...round1,
      { type: 'dkg.fail', member: 'alice', culprit: 'bob', reason: 'bad proof', at: 1_150 },
    ],
    then: round2,
  },
};

function roundTrip(
  machine: AnyStateMachine,
  original: Actor<AnyStateMachine>,
  then: readonly (SigningEvent | KeyEvent)[],
  state: string,
): Actor<AnyStateMachine> {
  const json = persist(original);
  const restored = restore(machine, JSON.stringify(JSON.parse(json)));
  const a = original.getSnapshot();
  const b = restored.getSnapshot();
  expect(dotted(b.value)).toBe(state);
  expect(b.value).toEqual(a.value);
  expect(b.context).toEqual(a.context);
  expect(b.status).toBe(a.status);
  expect(b.output).toEqual(a.output);
  expect(nextDeadline(b)).toEqual(nextDeadline(a));
  expect(then.length).toBeGreaterThan(0);
  for (const e of then) {
    if (original.getSnapshot().status === 'active') original.send(e);
    if (restored.getSnapshot().status === 'active') restored.send(e);
  }
  expect(persist(restored)).toBe(persist(original));
  return restored;
}

describe('snapshot persistence', () => {
  it('has a script for every state of both machines', () => {
    expect(Object.keys(signingScripts).sort()).toEqual(leafStates(signingMachine).sort());
    expect(Object.keys(keyScripts).sort()).toEqual(leafStates(keyMachine).sort());
  });

  it.each(Object.entries(signingScripts))(
    'signing: %s survives a JSON round trip and continues',
    (state, { to, then }) => {
      const actor = startSigning(signingInput(3, 2));
      for (const e of to) actor.send(e);
      expect(dotted(actor.getSnapshot().value)).toBe(state);
      const restored = roundTrip(signingMachine, actor as Actor<AnyStateMachine>, then, state);
      if (state === 'requested' || state === 'collectingApprovals') {
        expect(restored.getSnapshot().value).toEqual({ signing: 'inSession' });
      }
      if (state === 'signing.awaitingCommitments' || state === 'signing.aggregating') {
        expect(restored.getSnapshot().value).toBe('completed');
      }
      if (state === 'signing.inSession') {
        const sessions = (restored.getSnapshot().context as SigningContext).sessions;
        expect(sessions.map((s) => s.participants)).toEqual([
          ['alice', 'bob'],
          ['alice', 'carol'],
        ]);
      }
    },
  );

  it.each(Object.entries(keyScripts))(
    'key: %s survives a JSON round trip and continues',
    (state, { to, then }) => {
      const actor = startKey(keyInput(3, 2));
      for (const e of to) actor.send(e);
      expect(dotted(actor.getSnapshot().value)).toBe(state);
      const restored = roundTrip(keyMachine, actor as Actor<AnyStateMachine>, then, state);
      if (state !== 'aborted') expect(restored.getSnapshot().value).not.toBe('aborted');
    },
  );

  it('drains the outbox of a stored final snapshot', () => {
    const actor = startSigning(signingInput(3, 2));
    for (const e of signingScripts['completed']?.to ?? []) actor.send(e);
    const json = persist(actor);
    const drained = restore(signingMachine, drainOutbox(json, 4)).getSnapshot();
    expect(pendingEffects(drained).map((e) => e.kind)).toEqual(['close']);
    expect(drained.value).toBe('completed');
  });

  it('drains a final actor in process exactly as a stored snapshot is drained (drainFinal)', () => {
    const actor = startSigning(signingInput(3, 2));
    for (const e of signingScripts['completed']?.to ?? []) actor.send(e);
    const json = persist(actor);
    const fromText = restore(signingMachine, drainOutbox(json, 4));
    const drained = drainFinal(signingMachine, actor, 4);
    expect(drained.json).toBe(drainOutbox(json, 4));
    expect(persist(drained.actor)).toBe(persist(fromText));
    expect(pendingEffects(drained.actor.getSnapshot()).map((e) => e.kind)).toEqual(['close']);
  });

  it('refuses a snapshot that is not one, or belongs to the other machine (INVALID_SNAPSHOT)', () => {
    const key = startKey(keyInput(3, 2));
    expectInvalid(() => restore(signingMachine, persist(key)), 'key');
    expectInvalid(() => restore(signingMachine, '{"status":"active"}'), 'context');
    const signing = startSigning(signingInput(3, 2));
    const tampered = JSON.parse(persist(signing)) as { value: unknown };
    tampered.value = 'nowhere';
    expectInvalid(() => restore(signingMachine, JSON.stringify(tampered)), 'nowhere');
  });

  it.each(['', 'not json {', '{"status":"active","value":"requested","context":', 'null', '[]'])(
    'refuses stored text %j that is not a JSON snapshot (INVALID_SNAPSHOT, not a SyntaxError)',
    (text) => {
      expectInvalid(() => restore(signingMachine, text));
      expectInvalid(() => restore(keyMachine, text));
      expectInvalid(() => drainOutbox(text, 1));
    },
  );

  // JSON that has the outline (status, value, context.ceremony, context.outbox) but not the
  // machine's context: XState restores any context as it is, so before this check the actor came
  // back and a later read (a status, a guard) failed with a TypeError.
  const signingBreaks: Record<string, (c: Record<string, unknown>) => void> = {
    'approvals missing': (c) => delete c['approvals'],
    'approvals not a list': (c) => (c['approvals'] = 'alice'),
    'group empty': (c) => (c['group'] = {}),
    'a session without participants': (c) =>
      ((c['sessions'] as Record<string, unknown>[])[0]!['participants'] = null),
    'outcome without its fields': (c) => (c['outcome'] = { status: 'completed' }),
    'an effect of an unknown kind': (c) =>
      ((c['outbox'] as Record<string, unknown>[])[0]!['kind'] = 'launch'),
    'freshCommitments a list': (c) => (c['freshCommitments'] = ['00']),
    'phase a string': (c) => (c['phase'] = '1'),
    'a member id that is not one': (c) =>
      ((c['approvals'] as Record<string, unknown>[])[0]!['member'] = '__proto__'),
  };
  it.each(Object.entries(signingBreaks))(
    'signing: refuses a stored context with %s (INVALID_SNAPSHOT)',
    (_, breakIt) => {
      const actor = startSigning(signingInput(3, 2));
      for (const e of signingScripts['completed']?.to ?? []) actor.send(e);
      const json = persist(actor);
      expect(() => restore(signingMachine, json)).not.toThrow();
      const snapshot = JSON.parse(json) as { context: Record<string, unknown> };
      breakIt(snapshot.context);
      const broken = JSON.stringify(snapshot);
      expectInvalid(() => restore(signingMachine, broken), 'context');
      expectInvalid(() => drainOutbox(broken, 1), 'context');
    },
  );

  const keyBreaks: Record<string, (c: Record<string, unknown>) => void> = {
    'round1 missing': (c) => delete c['round1'],
    'a confirmation without its hashes': (c) => (c['confirmations'] = [{ member: 'alice' }]),
    'an unknown ceremony kind': (c) => (c['kind'] = 'teleport'),
    'round2 recipients not a list': (c) => (c['round2'] = { alice: 'bob' }),
    'deadline missing': (c) => delete c['deadline'],
  };
  it.each(Object.entries(keyBreaks))(
    'key: refuses a stored context with %s (INVALID_SNAPSHOT)',
    (_, breakIt) => {
      const actor = startKey(keyInput(3, 2));
      for (const e of keyScripts['waitingForConfirmations']?.to ?? []) actor.send(e);
      const json = persist(actor);
      expect(() => restore(keyMachine, json)).not.toThrow();
      const snapshot = JSON.parse(json) as { context: Record<string, unknown> };
      breakIt(snapshot.context);
      expectInvalid(() => restore(keyMachine, JSON.stringify(snapshot)), 'context');
    },
  );

  it('restores a key snapshot from before roles (no dealers, recipients, confirmers)', () => {
    const actor = startKey(keyInput(3, 2));
    const snapshot = JSON.parse(persist(actor)) as { context: Record<string, unknown> };
    for (const k of ['dealers', 'recipients', 'confirmers']) delete snapshot.context[k];
    expect(() => restore(keyMachine, JSON.stringify(snapshot))).not.toThrow();
  });
});

/** Throws SnapshotError with code INVALID_SNAPSHOT, its message mentioning `mentions`. */
function expectInvalid(fn: () => unknown, mentions?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SnapshotError);
  expect(thrown).toMatchObject({ code: 'INVALID_SNAPSHOT' });
  if (mentions !== undefined) expect((thrown as Error).message).toContain(mentions);
}
