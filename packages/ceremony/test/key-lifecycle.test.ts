// Lifecycle ceremonies on the key chart: refresh/reshare dealers and new committee, repair helpers
// and the repaired member (docs/lifecycle.md). Each role rule has a refusal test with its code.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { nextDeadline, persist, restore, keyMachine } from '../src/index.js';
import { accept, hex, keyInput, refused, startKey } from './helpers.js';

const confirm = (member: string, at = 1_400) =>
  ({
    type: 'dkg.confirm',
    member,
    transcriptHash: hex(7),
    groupPublicKey: hex(8),
    at,
  }) as const;

describe('reshare 3-of-5 → 4-of-6 (dealers alice, bob, carol; new member frank)', () => {
  const input = keyInput(6, 4, {
    ceremonyId: 'reshare-1',
    kind: 'reshare',
    dealers: ['alice', 'bob', 'carol'],
    recipients: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
    confirmers: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
  });

  it('runs with dealers only in rounds 1 and 2 and every new member confirming', () => {
    const actor = startKey(input);
    refused(
      actor,
      { type: 'dkg.round1', member: 'dave', packageHash: hex(1), at: 1_001 },
      'NOT_A_MEMBER',
    );
    ['alice', 'bob', 'carol'].forEach((m, i) =>
      accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(100 + i), at: 1_100 }),
    );
    expect(actor.getSnapshot().value).toBe('waitingForRound2');
    refused(
      actor,
      { type: 'dkg.round2', member: 'frank', recipients: ['alice'], at: 1_200 },
      'NOT_A_MEMBER',
    );
    for (const d of ['alice', 'bob', 'carol']) {
      accept(actor, {
        type: 'dkg.round2',
        member: d,
        recipients: input.recipients!.filter((r) => r !== d),
        at: 1_200,
      });
    }
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('waitingForConfirmations');
    expect(snap.context.outbox.at(-1)).toMatchObject({
      kind: 'requestConfirmation',
      to: input.confirmers,
    });
    for (const m of input.confirmers!) accept(actor, confirm(m));
    expect(actor.getSnapshot().value).toBe('completed');
  });

  it('names the silent dealers on a round-1 timeout, and only them', () => {
    const actor = startKey(input);
    accept(actor, { type: 'dkg.round1', member: 'alice', packageHash: hex(100), at: 1_100 });
    accept(actor, { type: 'deadline.reached', at: nextDeadline(actor.getSnapshot())! });
    expect(actor.getSnapshot().context.outcome).toMatchObject({
      code: 'TIMEOUT',
      round: 1,
      missing: ['bob', 'carol'],
    });
  });

  it('restores mid-ceremony with its roles', () => {
    const actor = startKey(input);
    accept(actor, { type: 'dkg.round1', member: 'alice', packageHash: hex(100), at: 1_100 });
    const again = restore(keyMachine, persist(actor));
    expect(again.getSnapshot().context.dealers).toEqual(['alice', 'bob', 'carol']);
    refused(
      again,
      { type: 'dkg.round1', member: 'frank', packageHash: hex(5), at: 1_101 },
      'NOT_A_MEMBER',
    );
  });
});

describe('repair (helpers alice, bob, carol rebuild erin)', () => {
  const input = keyInput(5, 3, {
    ceremonyId: 'repair-1',
    kind: 'repair',
    group: { members: ['alice', 'bob', 'carol', 'erin'], threshold: 3 },
    dealers: ['alice', 'bob', 'carol'],
    recipients: ['erin'],
    confirmers: ['alice', 'bob', 'carol', 'erin'],
  });

  it('helpers send σ to erin only; erin and the helpers confirm', () => {
    const actor = startKey(input);
    ['alice', 'bob', 'carol'].forEach((m, i) =>
      accept(actor, { type: 'dkg.round1', member: m, packageHash: hex(200 + i), at: 1_100 }),
    );
    refused(
      actor,
      { type: 'dkg.round2', member: 'alice', recipients: ['bob'], at: 1_200 },
      'NOT_A_MEMBER',
    );
    refused(
      actor,
      { type: 'dkg.round2', member: 'erin', recipients: ['alice'], at: 1_200 },
      'NOT_A_MEMBER',
    );
    for (const h of ['alice', 'bob', 'carol'])
      accept(actor, { type: 'dkg.round2', member: h, recipients: ['erin'], at: 1_200 });
    expect(actor.getSnapshot().value).toBe('waitingForConfirmations');
    for (const m of ['alice', 'bob', 'carol']) accept(actor, confirm(m));
    expect(actor.getSnapshot().value).toBe('waitingForConfirmations');
    accept(actor, { ...confirm('erin'), transcriptHash: hex(9) });
    expect(actor.getSnapshot().context.outcome).toMatchObject({
      code: 'CONFIRMATION_MISMATCH',
      disagreeing: ['erin'],
    });
  });
});

describe('input', () => {
  it('refuses roles naming someone outside the ceremony', () => {
    const actor = createActor(keyMachine, {
      input: keyInput(3, 2, { dealers: ['alice', 'mallory'] }),
    });
    actor.subscribe({ error: () => undefined });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
  });
});
