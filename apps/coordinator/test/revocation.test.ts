// THREATS B.30 at the coordinator: a member's revocation reaches every signing ceremony of its
// group — one opened after the revocation, and one whose revocation could not be applied at once
// (a failed write): there the next event of the ceremony applies it first.
import { bytesToHex, newCeremonyId, requestDigest } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { expectAck, failCeremonyWrites, releaseGroup, testScope } from './helpers.js';

const { fresh } = testScope();

interface Context {
  excluded: { member: string; reason: string }[];
  sessions: { participants: string[] }[];
}

describe('revocation in signing ceremonies (B.30)', () => {
  it('a ceremony opened after a revocation excludes the revoked member from the start', async () => {
    const t = await fresh();
    const { admin, members } = await releaseGroup(t);
    const [alice, bob] = members;
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'carol',
        reason: 'left',
      }),
    );
    const id = newCeremonyId();
    await alice.requestRelease(id);
    const context = () => JSON.parse(t.handle.store.getCeremony(id)!.snapshot).context as Context;
    expect(context().excluded).toContainEqual(
      expect.objectContaining({ member: 'carol', reason: 'revoked' }),
    );
    // bob's rejection leaves alice alone in good standing (< t): rejected now, not at expiry.
    const status = await bob.client.query(
      { type: 'ceremony.status.get', ceremonyId: id },
      'ceremony.status',
    );
    const digest = bytesToHex(requestDigest(id, status.request.body));
    expectAck(
      await bob.client.submit(id, { type: 'sign.reject', requestDigest: digest, reason: 'no' }),
    );
    expect(t.handle.store.getCeremony(id)!.state).toBe('rejected');
  });

  it('a revocation whose write failed is applied before the ceremony’s next event', async () => {
    const t = await fresh();
    const { admin, members } = await releaseGroup(t);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));

    // The revocation commits; applying it to the open ceremony fails once (a failed write).
    const store = t.handle.store;
    const failures = failCeremonyWrites(store, id, 1);
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'bob',
        reason: 'device lost',
      }),
    );
    expect(failures()).toBe(1);

    expectAck(await carol.approve(id, 'release'));
    const context = JSON.parse(store.getCeremony(id)!.snapshot).context as Context;
    expect(context.excluded).toContainEqual(
      expect.objectContaining({ member: 'bob', reason: 'revoked' }),
    );
    // A revoked identity no longer speaks for anyone: no session is built on bob's approval.
    expect(context.sessions.flatMap((s) => s.participants)).not.toContain('bob');
    expect(store.getCeremony(id)!.state).toBe('collectingApprovals');
  });
});
