// Signing ceremony: requested → collectingApprovals → signing → completed | rejected | expired |
// cancelled | aborted. Inside `signing`, a ROAST-style session loop. Pure: no timers (the runner
// fires `deadline.reached` at the absolute time nextDeadline() gives, xstate #4860), no I/O (effects
// go to the outbox and are performed after the snapshot is committed, THREATS D.47).
import { and, assertEvent, assign, setup } from 'xstate';
import type { SigningEvent, SigningInput } from './schemas.js';
import { SigningInputSchema } from './schemas.js';
import type { SigningContext, SigningOutcome, SigningPhase } from './signing-rules.js';
import * as rules from './signing-rules.js';

export function initialSigningContext(raw: SigningInput): SigningContext {
  const input = SigningInputSchema.parse(raw);
  const base = {
    ceremony: 'signing' as const,
    ceremonyId: input.ceremonyId,
    group: input.group,
    statementDigest: input.statementDigest,
    createdAt: input.createdAt,
    approvalDeadline: input.approvalDeadline,
    sessionTimeoutMs: input.sessionTimeoutMs,
    phases: input.phases,
    phase: 1,
    policy: input.policy ?? { quorum: input.group.threshold, requiredRoles: [] },
    now: input.createdAt,
    approvals: [],
    rejections: [],
    freshCommitments: {},
    seenCommitments: [],
    excluded: [],
    culprits: [],
    sessions: [],
    outcome: null,
  };
  return { ...base, outbox: [{ seq: 1, ...rules.initialSigningEffects(base) }], nextSeq: 2 };
}

type PhaseParams = { phase: SigningPhase };
const ok = (phase: SigningPhase) => ({ type: 'accepted', params: { phase } }) as const;

export const signingMachine = setup({
  types: {
    context: {} as SigningContext,
    events: {} as SigningEvent,
    input: {} as SigningInput,
    output: {} as SigningOutcome | null,
  },
  guards: {
    accepted: ({ context, event }, params: PhaseParams) =>
      rules.checkSigningEvent(params.phase, context, event).ok,
    canOpenSession: ({ context }) => rules.canOpenSession(context),
    tooFewHonestMembers: ({ context }) => rules.tooFewHonestMembers(context),
    approvalsImpossible: ({ context }) => rules.approvalsImpossible(context),
    commitWindowClosed: ({ context }) => rules.commitWindowClosed(context),
    allSharesIn: ({ context }) => rules.allSharesIn(context),
    shareValid: ({ event }) => event.type === 'round2.share' && event.valid,
    aggregationSucceeded: ({ event }) => event.type === 'session.aggregated' && event.ok,
    morePhases: ({ context }) => rules.morePhases(context),
    aggregationNamesCulprits: ({ event }) =>
      event.type === 'session.aggregated' && event.culprits.length > 0,
    revokesParticipant: ({ context, event }) =>
      event.type === 'member.revoked' && rules.revokesParticipant(context, event.member),
  },
  actions: {
    recordApproval: assign(({ context, event }) => {
      assertEvent(event, 'sign.approve');
      return rules.recordApproval(context, event);
    }),
    recordRejection: assign(({ context, event }) => {
      assertEvent(event, 'sign.reject');
      return rules.recordRejection(context, event);
    }),
    recordRecommit: assign(({ context, event }) => {
      assertEvent(event, 'sign.recommit');
      return rules.recordRecommit(context, event);
    }),
    recordShare: assign(({ context, event }) => {
      assertEvent(event, 'round2.share');
      return rules.recordShare(context, event);
    }),
    recordRevocation: assign(({ context, event }) => {
      assertEvent(event, 'member.revoked');
      return rules.recordRevocation(context, event);
    }),
    openSession: assign(({ context }) => rules.openSession(context)),
    requestAggregation: assign(({ context }) => rules.requestAggregation(context)),
    excludeInvalidSharer: assign(({ context, event }) => {
      assertEvent(event, 'round2.share');
      return rules.abandonSession(context, [event.member], 'invalid_share', event.at);
    }),
    excludeDecliner: assign(({ context, event }) => {
      assertEvent(event, 'round2.decline');
      return rules.abandonSession(context, [event.member], 'declined', event.at, event.detail);
    }),
    timeOutSession: assign(({ context, event }) => {
      assertEvent(event, 'deadline.reached');
      return rules.abandonSession(
        context,
        rules.timedOutParticipants(context),
        'timeout',
        event.at,
      );
    }),
    excludeAggregationCulprits: assign(({ context, event }) => {
      assertEvent(event, 'session.aggregated');
      return rules.abandonSession(context, event.culprits, 'invalid_share', event.at);
    }),
    revokeParticipant: assign(({ context, event }) => {
      assertEvent(event, 'member.revoked');
      return rules.abandonSession(context, [event.member], 'revoked', event.at);
    }),
    advancePhase: assign(({ context, event }) => {
      assertEvent(event, 'session.aggregated');
      return rules.advancePhase(context, event);
    }),
    complete: assign(({ context, event }) => {
      assertEvent(event, 'session.aggregated');
      return rules.complete(context, event);
    }),
    closeRejected: assign(({ context }) => rules.closeRejected(context)),
    closeExpired: assign(({ context, event }) => {
      assertEvent(event, 'deadline.reached');
      return rules.closeExpired(context, event.at);
    }),
    closeExpiredNow: assign(({ context }) => rules.closeExpired(context, context.now)),
    closeCancelled: assign(({ context, event }) => {
      assertEvent(event, 'ceremony.cancel');
      return rules.closeCancelled(context, event);
    }),
    abortInsufficient: assign(({ context }) =>
      rules.abort(context, 'INSUFFICIENT_HONEST_SIGNERS', context.now),
    ),
    abortAggregateInvalid: assign(({ context, event }) => {
      assertEvent(event, 'session.aggregated');
      return rules.abort(context, 'AGGREGATE_INVALID', event.at);
    }),
    drainOutbox: assign(({ context, event }) => {
      assertEvent(event, 'outbox.flushed');
      return rules.drainSigningOutbox(context, event.upTo);
    }),
  },
}).createMachine({
  id: 'signing',
  initial: 'requested',
  context: ({ input }) => initialSigningContext(input),
  output: ({ context }) => context.outcome,
  // Phase-independent events: the phase given to the guard only matters for closed ceremonies,
  // and a closed ceremony is a final state that takes no events at all.
  on: {
    'ceremony.cancel': { guard: ok('requested'), target: '.cancelled', actions: 'closeCancelled' },
    'outbox.flushed': { guard: ok('requested'), actions: 'drainOutbox' },
    'member.revoked': [
      {
        guard: and([ok('requested'), 'revokesParticipant']),
        target: '.signing.awaitingCommitments',
        actions: 'revokeParticipant',
      },
      { guard: ok('requested'), actions: 'recordRevocation' },
    ],
  },
  states: {
    requested: {
      always: [
        { guard: 'tooFewHonestMembers', target: 'aborted', actions: 'abortInsufficient' },
        { guard: 'approvalsImpossible', target: 'rejected', actions: 'closeRejected' },
      ],
      on: {
        'sign.approve': {
          guard: ok('requested'),
          target: 'collectingApprovals',
          actions: 'recordApproval',
        },
        'sign.reject': {
          guard: ok('requested'),
          target: 'collectingApprovals',
          actions: 'recordRejection',
        },
        'deadline.reached': { guard: ok('requested'), target: 'expired', actions: 'closeExpired' },
      },
    },
    collectingApprovals: {
      always: [
        { guard: 'tooFewHonestMembers', target: 'aborted', actions: 'abortInsufficient' },
        { guard: 'approvalsImpossible', target: 'rejected', actions: 'closeRejected' },
        { guard: 'canOpenSession', target: 'signing' },
      ],
      on: {
        'sign.approve': { guard: ok('collectingApprovals'), actions: 'recordApproval' },
        'sign.reject': { guard: ok('collectingApprovals'), actions: 'recordRejection' },
        'deadline.reached': {
          guard: ok('collectingApprovals'),
          target: 'expired',
          actions: 'closeExpired',
        },
      },
    },
    signing: {
      initial: 'awaitingCommitments',
      states: {
        awaitingCommitments: {
          always: [
            { guard: 'canOpenSession', target: 'inSession', actions: 'openSession' },
            {
              guard: 'tooFewHonestMembers',
              target: '#signing.aborted',
              actions: 'abortInsufficient',
            },
            { guard: 'approvalsImpossible', target: '#signing.rejected', actions: 'closeRejected' },
            { guard: 'commitWindowClosed', target: '#signing.expired', actions: 'closeExpiredNow' },
          ],
          on: {
            'sign.approve': { guard: ok('awaitingCommitments'), actions: 'recordApproval' },
            'sign.reject': { guard: ok('awaitingCommitments'), actions: 'recordRejection' },
            'sign.recommit': { guard: ok('awaitingCommitments'), actions: 'recordRecommit' },
            'deadline.reached': {
              guard: ok('awaitingCommitments'),
              target: '#signing.expired',
              actions: 'closeExpired',
            },
          },
        },
        inSession: {
          always: { guard: 'allSharesIn', target: 'aggregating', actions: 'requestAggregation' },
          on: {
            'sign.approve': { guard: ok('inSession'), actions: 'recordApproval' },
            'sign.reject': { guard: ok('inSession'), actions: 'recordRejection' },
            'sign.recommit': { guard: ok('inSession'), actions: 'recordRecommit' },
            'round2.share': [
              { guard: and([ok('inSession'), 'shareValid']), actions: 'recordShare' },
              {
                guard: ok('inSession'),
                target: 'awaitingCommitments',
                actions: 'excludeInvalidSharer',
              },
            ],
            'round2.decline': {
              guard: ok('inSession'),
              target: 'awaitingCommitments',
              actions: 'excludeDecliner',
            },
            'deadline.reached': {
              guard: ok('inSession'),
              target: 'awaitingCommitments',
              actions: 'timeOutSession',
            },
          },
        },
        aggregating: {
          on: {
            'sign.approve': { guard: ok('aggregating'), actions: 'recordApproval' },
            'sign.reject': { guard: ok('aggregating'), actions: 'recordRejection' },
            'sign.recommit': { guard: ok('aggregating'), actions: 'recordRecommit' },
            'session.aggregated': [
              {
                guard: and([ok('aggregating'), 'aggregationSucceeded', 'morePhases']),
                target: 'awaitingCommitments',
                actions: 'advancePhase',
              },
              {
                guard: and([ok('aggregating'), 'aggregationSucceeded']),
                target: '#signing.completed',
                actions: 'complete',
              },
              {
                guard: and([ok('aggregating'), 'aggregationNamesCulprits']),
                target: 'awaitingCommitments',
                actions: 'excludeAggregationCulprits',
              },
              {
                guard: ok('aggregating'),
                target: '#signing.aborted',
                actions: 'abortAggregateInvalid',
              },
            ],
          },
        },
      },
    },
    completed: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
    cancelled: { type: 'final' },
    aborted: { type: 'final' },
  },
});

export type SigningMachine = typeof signingMachine;
