// Key ceremony: waitingForRound1 → waitingForRound2 → waitingForConfirmations → completed | aborted.
// An aborted ceremony is final: a retry is a new ceremony with a fresh polynomial (THREATS B.28).
import { assertEvent, assign, setup } from 'xstate';
import type { KeyPhase, KeyContext, KeyOutcome } from './key-rules.js';
import * as rules from './key-rules.js';
import type { KeyEvent, KeyInput } from './schemas.js';
import { KeyInputSchema } from './schemas.js';

export function initialKeyContext(raw: KeyInput): KeyContext {
  const input = KeyInputSchema.parse(raw);
  const deadline = input.startedAt + input.roundTimeoutMs;
  return {
    ceremony: 'key',
    ceremonyId: input.ceremonyId,
    kind: input.kind,
    group: input.group,
    dealers: input.dealers ?? input.group.members,
    recipients: input.recipients ?? input.group.members,
    confirmers: input.confirmers ?? input.group.members,
    roundTimeoutMs: input.roundTimeoutMs,
    startedAt: input.startedAt,
    now: input.startedAt,
    deadline,
    priorPackageHashes: input.priorPackageHashes,
    round1: {},
    round2: {},
    confirmations: [],
    outcome: null,
    outbox: [{ seq: 1, kind: 'notify', topic: 'dkg.started', to: input.group.members, deadline }],
    nextSeq: 2,
  };
}

type PhaseParams = { phase: KeyPhase };
const ok = (phase: KeyPhase) => ({ type: 'accepted', params: { phase } }) as const;

/** Events every open state handles the same way, with that state's phase. */
const common = (phase: KeyPhase) =>
  ({
    'deadline.reached': {
      guard: ok(phase),
      target: '#key.aborted',
      actions: { type: 'abortTimeout', params: { phase } },
    },
    'ceremony.cancel': { guard: ok(phase), target: '#key.aborted', actions: 'abortCancelled' },
    'member.revoked': { guard: ok(phase), target: '#key.aborted', actions: 'abortRevoked' },
    'outbox.flushed': { guard: ok(phase), actions: 'drainOutbox' },
  }) as const;

export const keyMachine = setup({
  types: {
    context: {} as KeyContext,
    events: {} as KeyEvent,
    input: {} as KeyInput,
    output: {} as KeyOutcome | null,
  },
  guards: {
    accepted: ({ context, event }, params: PhaseParams) =>
      rules.checkKeyEvent(params.phase, context, event).ok,
    allRound1In: ({ context }) => rules.allRound1In(context),
    allRound2In: ({ context }) => rules.allRound2In(context),
    allConfirmedAlike: ({ context }) =>
      rules.allConfirmed(context) && rules.confirmationsAgree(context),
    allConfirmedDiffering: ({ context }) =>
      rules.allConfirmed(context) && !rules.confirmationsAgree(context),
  },
  actions: {
    recordRound1: assign(({ context, event }) => {
      assertEvent(event, 'dkg.round1');
      return rules.recordRound1(context, event);
    }),
    beginRound2: assign(({ context }) => rules.beginRound2(context)),
    recordRound2: assign(({ context, event }) => {
      assertEvent(event, 'dkg.round2');
      return rules.recordRound2(context, event);
    }),
    beginConfirmation: assign(({ context }) => rules.beginConfirmation(context)),
    recordConfirmation: assign(({ context, event }) => {
      assertEvent(event, 'dkg.confirm');
      return rules.recordConfirmation(context, event);
    }),
    activate: assign(({ context }) => rules.activate(context)),
    abortMismatch: assign(({ context }) => rules.abortMismatch(context)),
    abortReported: assign(({ context, event }) => {
      assertEvent(event, 'dkg.fail');
      return rules.abortReported(context, event);
    }),
    abortTimeout: assign(({ context, event }, params: PhaseParams) => {
      assertEvent(event, 'deadline.reached');
      return rules.abortTimeout(params.phase, context, event.at);
    }),
    abortCancelled: assign(({ context, event }) => {
      assertEvent(event, 'ceremony.cancel');
      return rules.abortCancelled(context, event);
    }),
    abortRevoked: assign(({ context, event }) => {
      assertEvent(event, 'member.revoked');
      return rules.abortRevoked(context, event);
    }),
    drainOutbox: assign(({ context, event }) => {
      assertEvent(event, 'outbox.flushed');
      return rules.drainKeyOutbox(context, event.upTo);
    }),
  },
}).createMachine({
  id: 'key',
  initial: 'waitingForRound1',
  context: ({ input }) => initialKeyContext(input),
  output: ({ context }) => context.outcome,
  states: {
    waitingForRound1: {
      always: { guard: 'allRound1In', target: 'waitingForRound2', actions: 'beginRound2' },
      on: {
        'dkg.round1': { guard: ok('round1'), actions: 'recordRound1' },
        'dkg.fail': { guard: ok('round1'), target: 'aborted', actions: 'abortReported' },
        ...common('round1'),
      },
    },
    waitingForRound2: {
      always: {
        guard: 'allRound2In',
        target: 'waitingForConfirmations',
        actions: 'beginConfirmation',
      },
      on: {
        'dkg.round2': { guard: ok('round2'), actions: 'recordRound2' },
        'dkg.fail': { guard: ok('round2'), target: 'aborted', actions: 'abortReported' },
        ...common('round2'),
      },
    },
    waitingForConfirmations: {
      always: [
        { guard: 'allConfirmedAlike', target: 'completed', actions: 'activate' },
        { guard: 'allConfirmedDiffering', target: 'aborted', actions: 'abortMismatch' },
      ],
      on: {
        'dkg.confirm': { guard: ok('confirmation'), actions: 'recordConfirmation' },
        'dkg.fail': { guard: ok('confirmation'), target: 'aborted', actions: 'abortReported' },
        ...common('confirmation'),
      },
    },
    completed: { type: 'final' },
    aborted: { type: 'final' },
  },
});

export type KeyMachine = typeof keyMachine;
