// THREATS D.49: when a write fails the coordinator fails closed — the sender gets
// STORAGE_UNAVAILABLE, the transition is rolled back in memory too, nothing is sent — and the
// ceremony carries on once storage works again.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { expectAck, releaseGroup, testScope } from './helpers.js';

const { fresh } = testScope();

describe('storage failure', () => {
  it('refuses with STORAGE_UNAVAILABLE, changes nothing, and recovers', async () => {
    const t = await fresh();
    const { members } = await releaseGroup(t);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    const db = (t.handle.store as unknown as { db: { exec(s: string): unknown } }).db;
    const before = t.handle.store.getCeremony(id)!;

    db.exec('PRAGMA query_only = ON');
    const refused = await carol.approve(id, 'release');
    expect(refused.code).toBe('STORAGE_UNAVAILABLE');
    db.exec('PRAGMA query_only = OFF');
    const after = t.handle.store.getCeremony(id)!;
    expect(after.snapshot).toBe(before.snapshot);
    expect(t.handle.store.transcript(id).some((e) => e.bodyType === 'sign.package')).toBe(false);
    const status = await carol.client.query(
      { type: 'ceremony.status.get', ceremonyId: id },
      'ceremony.status',
    );
    expect(status.approvals).toEqual(['bob']);

    // Storage is back: carol approves again (fresh nonces) and the ceremony completes.
    expectAck(await carol.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
  });
});
