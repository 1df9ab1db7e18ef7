// A member killed (SIGKILL) the moment the coordinator acknowledged its DKG confirmation: the group
// can go active with its share in it, so losing that share would lose a signer for good (and a
// t-of-t group its key). The share was staged on disk, encrypted, before the confirmation left;
// the member's next session (here its agent) makes it the share once the coordinator shows the
// ceremony's sealed dkg.complete confirmed by every member, and the member then signs with it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cluster, doc, requestRelease, waitFor } from './cluster.js';

describe('a member killed right after it confirmed a DKG', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start();
  });
  afterAll(async () => c?.close());

  it('keeps its share: staged before the confirmation, made its share by its next session, and signs with it', async () => {
    const members = ['alice', 'bob', 'carol'];
    await c.addMembers(members);
    await c.createGroup('web', 2, members);
    const [others, carol] = await Promise.all([
      c.keygen('web', ['alice', 'bob']),
      c.cli('carol', ['keygen', 'web', '--timeout', '90', '--json'], {
        CONCLAVE_TEST_FAULT: 'die-after-confirm',
      }),
    ]);
    // The group went active with carol's confirmation in it …
    for (const r of others) expect(r.code, r.stderr).toBe(0);
    // … while carol died before anything told her so: no share yet, only the staged file.
    expect(carol.code).not.toBe(0);
    expect(c.shareFiles('carol')).toEqual([]);
    const sharesDir = join(c.home('carol'), 'shares');
    expect(readdirSync(sharesDir)).toEqual([expect.stringMatching(/^\.web\.key\.pending-c_/)]);

    // Her next session finds the staged share and the ceremony's proven outcome.
    await c.agent('carol', { autoApprove: true });
    await vi.waitFor(() => expect(c.shareFiles('carol')).toEqual(['web.key']), {
      timeout: 30_000,
      interval: 200,
    });
    expect(readdirSync(sharesDir)).toEqual(['web.key']);

    // And it is the group's share: carol signs a release with alice.
    await c.agent('alice', { autoApprove: true });
    const { request } = requestRelease(c, 'bob', '1.0.0', 'web');
    await waitFor(request, /requested c_/);
    expect(await request.exited, request.stderr).toBe(0);
    const d = doc<{ state: string; signers: string[] }>(request);
    expect(d.state).toBe('completed');
    expect([...d.signers].sort()).toEqual(['alice', 'carol']);
  });
});
