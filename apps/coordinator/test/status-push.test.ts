// Status pushes are progress, throttled (limits.statusPushIntervalMs, docs/ceremony.md): the first
// push of a ceremony goes out at once, transitions inside the interval become one push of the
// then-current status at its end (never lost), and a final state is pushed at once.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  FakeMember,
  connect,
  expectAck,
  sampleRelease,
  setupGroup,
  testScope,
  type Frame,
} from './helpers.js';

const { fresh } = testScope();
const INTERVAL = 1000;

async function group(interval = INTERVAL) {
  const t = await fresh({ limits: { statusPushIntervalMs: interval } });
  const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
  const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
  await setupGroup(t, admin, members, 'release', 2);
  return members as [FakeMember, FakeMember, FakeMember];
}

/** `alice` asks the group to sign a release as ceremony `id`. */
async function request(alice: FakeMember, id: string): Promise<void> {
  expectAck(
    await alice.client.submit(id, {
      type: 'sign.request',
      group: 'release',
      release: sampleRelease(),
    }),
  );
}

/** Every status frame `m` receives for `id`, with its arrival time. */
function statusesOf(m: FakeMember, id: string): { at: number; frame: Frame }[] {
  const seen: { at: number; frame: Frame }[] = [];
  const previous = m.client.onFrame;
  m.client.onFrame = (f) => {
    previous?.(f);
    if (f.type === 'ceremony.status' && f.ceremonyId === id)
      seen.push({ at: Date.now(), frame: f });
  };
  return seen;
}

const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('ceremony.status pushes', () => {
  it('pushes the first status at once and a change inside the interval at its end, not lost', async () => {
    const [alice, bob, carol] = await group();
    const id = newCeremonyId();
    const seen = statusesOf(carol, id);
    const sent = Date.now();
    await request(alice, id);
    await until(() => seen.length >= 1);
    expect(seen[0]!.frame.state).toBe('requested');
    expect(seen[0]!.at - sent).toBeLessThan(INTERVAL);
    // bob's approval lands inside the interval: its status comes at the interval's end.
    expectAck(await bob.approve(id, 'release'));
    await until(() => seen.length >= 2);
    expect(seen[1]!.frame.state).toBe('collectingApprovals');
    expect(seen[1]!.frame.approvals).toEqual(['bob']);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(INTERVAL - 50);
    // Nothing else changed: no further push.
    await new Promise((r) => setTimeout(r, INTERVAL + 100));
    expect(seen).toHaveLength(2);
  });

  it('merges a burst of transitions and pushes the final state at once', async () => {
    // A long interval: a final state held back to the interval's end would come a second late.
    const interval = 1500;
    const [alice, bob, carol] = await group(interval);
    const id = newCeremonyId();
    const seen = statusesOf(alice, id);
    await request(alice, id);
    await until(() => seen.length >= 1);
    // Two approvals, the session, two shares, aggregation: six transitions or more.
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id);
    const completeAt = Date.now();
    expect(complete.body.signers).toEqual(['bob', 'carol']);
    await until(() => seen.some((s) => s.frame.state === 'completed'));
    const final = seen.find((s) => s.frame.state === 'completed')!;
    expect(Math.abs(final.at - completeAt)).toBeLessThan(interval / 3);
    // Fewer pushes than transitions, the last one final, and nothing after it.
    await new Promise((r) => setTimeout(r, interval + 100));
    expect(seen.length).toBeLessThan(6);
    expect(seen.at(-1)!.frame.state).toBe('completed');
    for (const m of [alice, bob, carol]) expect(m.errors).toEqual([]);
  });

  it('pushes every transition with an interval of 0', async () => {
    const [alice, bob, carol] = await group(0);
    const id = newCeremonyId();
    const seen = statusesOf(carol, id);
    await request(alice, id);
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    await alice.client.nextBody('sign.complete', id);
    await until(() => seen.some((s) => s.frame.state === 'completed'));
    // One push per transition: every state the ceremony went through, the short-lived ones too
    // (a share recorded, aggregation), however fast they followed each other.
    const states = seen.map((s) => s.frame.state);
    expect([...new Set(states)]).toEqual([
      'requested',
      'collectingApprovals',
      'signing.inSession',
      'signing.aggregating',
      'completed',
    ]);
    expect(states.filter((x) => x === 'signing.inSession').length).toBeGreaterThanOrEqual(2);
  });
});
