// Nobody is blamed for the coordinator's own faults (THREATS D.47, D.49): an effect or a follow-up
// that failed (here a full disk, injected once) is tried again after a backoff instead of waiting
// for the ceremony's next transition, and no session deadline fires before the members had one
// session timeout from the moment they could answer: after the outputs a failure held back went
// out, and after a restart. The session timeout is short (1.5 s) so that a wrong blame would show.
// And a signing ceremony a refresh could not cancel is cancelled before its next event.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import type { Store } from '../src/store.js';
import {
  approveHoldingPackages,
  expectAck,
  releaseGroup,
  removeDir,
  startTest,
  tempDir,
  testScope,
  commitRefreshEpoch,
  type TestCoordinator,
} from './helpers.js';

const { cleanups, fresh } = testScope();
const LIMITS = { sessionTimeoutMs: 1_500, cryptoWorkers: 0 };

/** What better-sqlite3 throws on a full disk. */
const diskFull = () =>
  Object.assign(new Error('database or disk is full'), {
    name: 'SqliteError',
    code: 'SQLITE_FULL',
  });

/** Makes `store[method]` throw a full-disk error the first `times` times it is called. */
function failOnce(
  store: Store,
  method: 'putSession' | 'setSessionSignatures',
  times = 1,
): () => number {
  const target = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method]!.bind(store);
  let failed = 0;
  target[method] = (...args: unknown[]) => {
    if (failed < times) {
      failed += 1;
      throw diskFull();
    }
    return original(...args);
  };
  return () => failed;
}

/** alice requests a release, bob and carol approve (2 of 3): a session opens at once. */
async function approvedByBobAndCarol(t: TestCoordinator) {
  const { members } = await releaseGroup(t);
  const [alice, bob, carol] = members;
  const id = newCeremonyId();
  await alice.requestRelease(id);
  expectAck(await bob.approve(id, 'release'));
  expectAck(await carol.approve(id, 'release'));
  return { alice, bob, id };
}

function contextOf(store: Store, id: string): { culprits: string[]; excluded: unknown[] } {
  return JSON.parse(store.getCeremony(id)!.snapshot).context;
}

describe('failed effects and outages', () => {
  it('sends a session whose packages could not be stored once, and blames nobody', async () => {
    const t = await fresh({ limits: LIMITS });
    const failed = failOnce(t.handle.store, 'putSession');
    const { alice, id } = await approvedByBobAndCarol(t);
    const complete = await alice.client.nextBody('sign.complete', id, 15_000);
    expect(failed()).toBe(1);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
    expect(contextOf(t.handle.store, id)).toMatchObject({ culprits: [], excluded: [] });
    // One session, its packages sent once.
    const packages = t.handle.store.transcript(id).filter((e) => e.bodyType === 'sign.package');
    expect(packages.map((e) => e.recipient).sort()).toEqual(['bob', 'carol']);
  });

  it('stores an aggregate whose write failed once, without a restart', async () => {
    const t = await fresh({ limits: LIMITS });
    const failed = failOnce(t.handle.store, 'setSessionSignatures');
    const { alice, id } = await approvedByBobAndCarol(t);
    const complete = await alice.client.nextBody('sign.complete', id, 15_000);
    expect(failed()).toBe(1);
    expect(t.handle.store.getCeremony(id)!.state).toBe('completed');
    expect(t.handle.store.getSignature(id)?.signature).toBe(complete.body.signature);
    expect(contextOf(t.handle.store, id).culprits).toEqual([]);
  });

  it('gives the signers a session timeout after a restart that came later than their deadline', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const a = await startTest({ dir, limits: LIMITS });
    const { members } = await releaseGroup(a);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    // bob and carol approve and get their packages, then the coordinator stops before their
    // shares arrive, and stays down past the session's deadline.
    await approveHoldingPackages(id, [bob, carol]);
    expect(a.handle.store.getCeremony(id)!.state).toBe('signing.inSession');
    await a.close();
    await new Promise((r) => setTimeout(r, LIMITS.sessionTimeoutMs + 500));

    const b = await startTest({ dir, limits: LIMITS });
    cleanups.push(() => b.close());
    // The members take a moment to come back; they sign what they are sent again.
    await new Promise((r) => setTimeout(r, 300));
    for (const m of members) {
      m.holdPackages = false;
      await m.connect(b);
    }
    const complete = await alice.client.nextBody('sign.complete', id, 15_000);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
    expect(contextOf(b.handle.store, id)).toMatchObject({ culprits: [], excluded: [] });
  });

  it('sends the cancel of a ceremony whose session packages can never be built, and drops them', async () => {
    const t = await fresh({ limits: LIMITS });
    // Every attempt fails (an artifact deleted by hand fails the same way, for good).
    const failed = failOnce(t.handle.store, 'putSession', Number.POSITIVE_INFINITY);
    const { alice, bob, id } = await approvedByBobAndCarol(t);
    await new Promise((r) => setTimeout(r, 1_200)); // a few retries (0.5 s, then 1 s)
    expect(failed()).toBeGreaterThanOrEqual(2);
    expect(t.handle.store.getCeremony(id)!.state).toBe('signing.inSession');
    // The requester gives up: the cancel goes out, the packages nobody got are never sent.
    const aborted = bob.client.nextBody('sign.aborted', id, 5_000);
    expectAck(
      await alice.client.submit(id, { type: 'ceremony.cancel', reason: 'disk is broken' }, '4'),
    );
    expect((await aborted).body).toMatchObject({ reason: 'cancelled' });
    const store = t.handle.store;
    expect(store.getCeremony(id)!.state).toBe('cancelled');
    expect(store.transcript(id).some((e) => e.bodyType === 'sign.package')).toBe(false);
    expect(contextOf(store, id)).toMatchObject({ culprits: [], excluded: [] });
    // Nothing is left to retry.
    const attempts = failed();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(failed()).toBe(attempts);
  });

  it('cancels, before its next event, a ceremony whose group shares changed but whose cancel failed', async () => {
    const t = await fresh({ limits: LIMITS });
    const { members } = await releaseGroup(t);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    // What a refresh leaves when its follow-up could not cancel the group's open ceremonies: the
    // new epoch is committed, the ceremony is still open (its commitments are for the old shares).
    await new Promise((r) => setTimeout(r, 5));
    const store = t.handle.store;
    commitRefreshEpoch(store);
    expect(store.getCeremony(id)!.open).toBe(true);
    // carol's approval would open a session under the new shares: the cancel comes first.
    // (An event for a closed ceremony is refused as any event its state does not take.)
    expect((await carol.approve(id, 'release')).code).toBe('UNEXPECTED_MESSAGE');
    expect(store.getCeremony(id)!.state).toBe('cancelled');
    expect(store.transcript(id).some((e) => e.bodyType === 'sign.package')).toBe(false);
  });
});

describe('a lifecycle ceremony whose key.start could not be sent', () => {
  it('is aborted when a holder is revoked before the retry, and leaves its group free', async () => {
    const t = await fresh({ limits: LIMITS });
    const { admin } = await releaseGroup(t);
    const groupPublicKey = t.handle.store.getGroup('release')!.groupPublicKey!;
    // The key.start cannot be stored (a full disk) until carol is revoked.
    const target = t.handle.store as unknown as {
      appendTranscript: (e: { envelope: { body: { type: string } } }) => number;
    };
    const original = target.appendTranscript.bind(t.handle.store);
    let failing = true;
    target.appendTranscript = (e) => {
      if (failing && e.envelope.body.type === 'key.start') throw diskFull();
      return original(e);
    };
    const cid = newCeremonyId();
    expectAck(
      await admin.submit(cid, {
        type: 'admin.group.refresh',
        group: 'release',
        epoch: 0,
        groupPublicKey,
      }),
    );
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'carol',
        reason: 'left',
      }),
    );
    failing = false;
    // The start goes out on the retry (built as authorized at open), then the abort behind it.
    const abort = await admin.nextBody('dkg.abort', cid, 15_000);
    expect(abort.body.code).toBe('MEMBER_REVOKED');
    // The group is not left busy: a reshare without carol opens.
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.group.reshare',
        group: 'release',
        epoch: 0,
        groupPublicKey,
        threshold: 2,
        members: ['alice', 'bob'].map((m) => ({
          member: m,
          identityKey: t.handle.store.getMember(m)!.identityKey,
        })),
        dealers: ['alice', 'bob'],
      }),
    );
  });
});
