// End to end over real sockets: a 2-of-3 DKG and a signing ceremony driven by fake members that
// run FROST themselves. The aggregate must verify with Node's crypto under the group key.
import { createPublicKey, verify } from 'node:crypto';
import { ed25519Spki } from '@conclave/frost';
import { hexToBytes, newCeremonyId, publicKeyPackageHash } from '@conclave/protocol';
import { messageToSign, planMessages } from '@conclave/release';
import { describe, expect, it, vi } from 'vitest';
import { ceremonyReport } from '../src/index.js';
import {
  metricsText,
  FakeMember,
  approveHoldingPackages,
  connect,
  expectAck,
  releaseGroup,
  sampleRelease,
  setupGroup,
  type TestCoordinator,
  testScope,
} from './helpers.js';

const { fresh: freshWith } = testScope();
const fresh = (limits = {}): Promise<TestCoordinator> => freshWith({ limits });

describe('key and signing ceremonies over the coordinator', () => {
  it('runs a 2-of-3 DKG and a signing ceremony whose signature verifies with node:crypto', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    const { ceremonyId: dkgId, groupPublicKey } = await setupGroup(t, admin, members, 'release', 2);

    // Every member derived the same group key the coordinator stored.
    for (const m of members) {
      expect(Buffer.from(m.keyPackages.get('release')!.verifyingKey).toString('hex')).toBe(
        groupPublicKey,
      );
    }
    const group = t.handle.store.getGroup('release');
    expect(group?.state).toBe('active');
    expect(group?.groupPublicKey).toBe(groupPublicKey);
    const dkgReport = ceremonyReport(t.handle.store, dkgId);
    expect(dkgReport?.state).toBe('completed');
    expect(dkgReport?.transcript[0]?.envelope.body.type).toBe('admin.group.create');

    // alice requests; bob and carol approve; the session runs; the signature verifies.
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const id = newCeremonyId();
    const release = sampleRelease();
    expectAck(await alice.client.submit(id, { type: 'sign.request', group: 'release', release }));
    const pushed = await bob.client.next(
      (f) => f.type === 'ceremony.status' && f.ceremonyId === id,
    );
    expect(pushed.state).toBe('requested');
    expect(pushed.request.sender).toBe('alice');

    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
    expect(complete.body.approvers).toEqual(['bob', 'carol']);

    const report = ceremonyReport(t.handle.store, id)!;
    expect(report.state).toBe('completed');
    expect(report.signature?.signature).toBe(complete.body.signature);
    const predicate = report.signature!.statement['predicate'] as { issuedAt: string };
    const message = messageToSign(release, {
      ceremonyId: id,
      group: 'release',
      groupPublicKey,
      requester: 'alice',
      approvers: [bob, carol].map((m) => ({ member: m.name, identityKey: m.publicKey })),
      policyId: 'release@v0', // the default policy (docs/policy.md)
      issuedAt: Date.parse(predicate.issuedAt),
    });
    const key = createPublicKey({
      key: Buffer.from(ed25519Spki(hexToBytes(groupPublicKey, 32))),
      format: 'der',
      type: 'spki',
    });
    expect(verify(null, message, key, Buffer.from(complete.body.signature, 'hex'))).toBe(true);

    // Transcript: request first, then every accepted envelope in order, both directions.
    const types = report.transcript.map((e) => e.envelope.body.type);
    expect(types[0]).toBe('sign.request');
    expect(types).toContain('sign.package');
    expect(types.filter((x) => x === 'round2.share')).toHaveLength(2);
    expect(types.at(-1)).toBe('sign.complete');

    // A member who asks for the status of the closed ceremony gets its outcome again.
    alice.client.frames.length = 0;
    const status = await alice.client.query(
      { type: 'ceremony.status.get', ceremonyId: id },
      'ceremony.status',
    );
    expect(status.state).toBe('completed');
    const again = await alice.client.nextBody('sign.complete', id);
    expect(again.body.signature).toBe(complete.body.signature);

    const inbox = await carol.client.query({ type: 'inbox.get' }, 'inbox');
    expect(inbox.items.map((i: { ceremonyId: string }) => i.ceremonyId)).toContain(id);
    for (const m of members) expect(m.errors).toEqual([]);
  });

  it('sends sign.commitments: each approval reaches the members who may still sign, none once a session took them all', async () => {
    const t = await fresh();
    const { members } = await releaseGroup(t);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    const isHint = (f: { type: string; ceremonyId?: string }) =>
      f.type === 'sign.commitments' && f.ceremonyId === id;

    expectAck(await bob.approve(id, 'release'));
    const approved = ceremonyReport(t.handle.store, id)!.transcript.find(
      (e) => e.envelope.body.type === 'sign.approve',
    )!.envelope.body as { commitments: string[] };
    // alice (the requester, who may still approve) and carol learn bob's commitments …
    for (const m of [alice, carol]) {
      const hint = await m.client.next(isHint);
      expect(hint).toEqual({
        type: 'sign.commitments',
        ceremonyId: id,
        phase: 1,
        commitments: [{ member: 'bob', commitments: approved.commitments }],
      });
    }
    // … carol's approval opens the session with both commitments: nothing is left to hint.
    expectAck(await carol.approve(id, 'release'));
    await alice.client.nextBody('sign.complete', id);
    const hints = members.flatMap((m) => m.client.all.filter(isHint).map(() => m.name));
    expect(hints).toEqual(['alice', 'carol']); // bob is never told his own commitments
    for (const m of members) expect(m.errors).toEqual([]);
  });

  it('signs every digest format in one ceremony: two phases, each job verifies under the group key', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    const { groupPublicKey } = await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];

    // Formats that sign the artifact bytes are refused up front with what to do instead.
    const refusedId = newCeremonyId();
    const raw = await alice.client.submit(refusedId, {
      type: 'sign.request',
      group: 'release',
      release: sampleRelease('1.0.0', ['raw', 'sshsig']),
    });
    expect(raw.code).toBe('INVALID_MESSAGE');
    expect(raw.message).toMatch(/digest formats/);

    const formats = ['sshsig', 'minisign', 'signify', 'dsse', 'sigstore', 'jws'] as const;
    const id = newCeremonyId();
    await alice.requestRelease(id, 'release', [...formats]);
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id);
    const sigs = new Map<string, string>(
      complete.body.signatures.map((s: { job: string; signature: string }) => [s.job, s.signature]),
    );
    expect([...sigs.keys()].sort()).toEqual(
      [
        'dsse',
        'jws',
        'minisign-global:app.tar.gz',
        'minisign:app.tar.gz',
        'signify',
        'sshsig:app.tar.gz',
      ].sort(),
    );
    expect(sigs.get('dsse')).toBe(complete.body.signature);
    const report = ceremonyReport(t.handle.store, id)!;
    expect(report.sessions.map((s) => s.status)).toEqual(['succeeded', 'succeeded']);

    // Every job's message, rebuilt from the request, verifies under the one group key.
    const predicate = report.signature!.statement['predicate'] as { issuedAt: string };
    const input = {
      release: sampleRelease('1.0.0', [...formats]),
      context: {
        ceremonyId: id,
        group: 'release',
        groupPublicKey,
        requester: 'alice',
        approvers: [bob, carol].map((m) => ({ member: m.name, identityKey: m.publicKey })),
        policyId: 'release@v0', // the default policy (docs/policy.md)
        issuedAt: Date.parse(predicate.issuedAt),
      },
      keyCreatedAt: complete.body.keyCreatedAt,
    };
    const key = createPublicKey({
      key: Buffer.from(ed25519Spki(hexToBytes(groupPublicKey, 32))),
      format: 'der',
      type: 'spki',
    });
    const phase1 = planMessages(input, 1);
    for (const job of phase1) {
      expect(verify(null, job.message, key, Buffer.from(sigs.get(job.id)!, 'hex')), job.id).toBe(
        true,
      );
    }
    const previous = new Map(phase1.map((j) => [j.id, hexToBytes(sigs.get(j.id)!)]));
    const [global] = planMessages(input, 2, previous);
    expect(global?.id).toBe('minisign-global:app.tar.gz');
    // Approval latency per member is on /metrics (issue 6).
    const metrics = await metricsText(t.handle);
    expect(metrics).toMatch(/conclave_approval_latency_seconds_count\{member="bob"\} 1/);
    expect(verify(null, global!.message, key, Buffer.from(sigs.get(global!.id)!, 'hex'))).toBe(
      true,
    );
  });

  it('ROAST: a signer that goes silent is excluded and the others finish in a new session', async () => {
    const t = await fresh({ sessionTimeoutMs: 1500 });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const id = newCeremonyId();
    await alice.requestRelease(id);
    bob.silent = true;
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    expectAck(await alice.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id, 10_000);
    expect(complete.body.signers.sort()).toEqual(['alice', 'carol']);
    // carol was asked to recommit through a pushed ceremony.status (needsCommitment).
    expect(
      carol.client.all.some(
        (f) =>
          f.type === 'ceremony.status' &&
          f.ceremonyId === id &&
          f.needsCommitment?.includes('carol'),
      ),
    ).toBe(true);
    const report = ceremonyReport(t.handle.store, id)!;
    expect(report.culprits).toEqual(['bob']);
    expect(report.sessions).toHaveLength(2);
    // carol recommitted for session 2: three distinct commitments were recorded for the key.
    const count = (
      t.handle.store as unknown as { db: { prepare(s: string): { get(): { n: number } } } }
    ).db
      .prepare('SELECT COUNT(*) AS n FROM commitments')
      .get().n;
    expect(count).toBe(4);
  });

  it.each([
    ['another', 'ee'.repeat(32)],
    ['none', null],
  ] as const)(
    'names the key package in every sign.package, and refuses a share naming %s (KEY_PACKAGE_MISMATCH)',
    async (_, wrong) => {
      const t = await fresh({ sessionTimeoutMs: 1500 });
      const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
      const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
      await setupGroup(t, admin, members, 'release', 2);
      const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
      const group = t.handle.store.getGroup('release')!;
      const named = publicKeyPackageHash(hexToBytes(group.publicKeyPackage!));
      const id = newCeremonyId();
      await alice.requestRelease(id);
      bob.shareKeyPackage = wrong;
      expectAck(await bob.approve(id, 'release'));
      expectAck(await carol.approve(id, 'release'));
      const pkg = await bob.client.nextBody('sign.package', id);
      expect(pkg.body.publicKeyPackage).toBe(named);
      // bob's share is refused, not judged: he ends as a silent signer, and alice and carol sign.
      await vi.waitFor(() =>
        expect(bob.errors.map((e) => e.type === 'error' && e.code)).toContain(
          'KEY_PACKAGE_MISMATCH',
        ),
      );
      expectAck(await alice.approve(id, 'release'));
      const complete = await carol.client.nextBody('sign.complete', id, 10_000);
      expect(complete.body.signers.sort()).toEqual(['alice', 'carol']);
      const report = ceremonyReport(t.handle.store, id)!;
      expect(
        report.transcript.some(
          (e) => e.sender === 'bob' && e.envelope.body.type === 'round2.share',
        ),
      ).toBe(false);
      expect(report.culprits).toEqual(['bob']);
    },
  );

  it('ROAST: a signer that declines is excluded at once, not blamed, and its words reach the requester', async () => {
    // A session timeout far past the test's own: only the decline can end session 1 in time.
    const t = await fresh({ sessionTimeoutMs: 60_000 });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const id = newCeremonyId();
    await alice.requestRelease(id);
    // 512 characters of words: with its code in front, longer than a status may carry.
    const words = `keyCreatedAt differs from my pinned one ${'x'.repeat(472)}`;
    expect(words).toHaveLength(512);
    bob.declines = { code: 'SIGNING_REFUSED', reason: words };
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    await bob.client.next(
      (f) =>
        f.type === 'envelope' &&
        f.ceremonyId === id &&
        f.body.type === 'ack' &&
        f.body.messageType === 'round2.decline',
      5_000,
    );
    // Session 1 is over: declining it again is refused with its code, and the server goes on.
    const again = { type: 'round2.decline' as const, session: 1, code: 'X', reason: 'again' };
    const refusal = await bob.client.submit(id, again, '2');
    expect(refusal).toMatchObject({
      code: 'UNEXPECTED_MESSAGE',
      message: 'that signing session is over',
    });
    expectAck(await alice.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id, 10_000);
    expect(complete.body.signers.sort()).toEqual(['alice', 'carol']);
    const report = ceremonyReport(t.handle.store, id)!;
    expect(report.culprits).toEqual([]);
    expect(report.sessions).toHaveLength(2);
    // The requester sees who declined and why, in the pushed status; nobody is named a culprit.
    const status = await alice.client.next(
      (f) => f.type === 'ceremony.status' && f.ceremonyId === id && f.declines !== undefined,
      5_000,
    );
    expect(status.culprits).toEqual([]);
    // Cut to the status's 512: a longer one failed every status of the ceremony, and carol was
    // never asked to recommit.
    expect(status.declines).toEqual([
      { member: 'bob', reason: `SIGNING_REFUSED: ${words}`.slice(0, 512) },
    ]);
    const metrics = await metricsText(t.handle);
    expect(metrics).toMatch(/conclave_declines_total\{code="SIGNING_REFUSED"\} 1/);
  });

  it('counts a decline under its code only if the code is a known one, else OTHER (bounded metric labels)', async () => {
    const t = await fresh({ sessionTimeoutMs: 60_000 });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol', 'dave'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob, carol, dave] = members as [FakeMember, FakeMember, FakeMember, FakeMember];
    // bob makes up a code (any /^[A-Z][A-Z0-9_]*$/ passes the schema); dave gives a protocol one.
    bob.declines = { code: 'MADE_UP_CODE_1234', reason: 'no' };
    dave.declines = { code: 'KEY_PACKAGE_MISMATCH', reason: 'not my epoch' };
    const declined = (m: FakeMember) =>
      m.client.next(
        (f) =>
          f.type === 'envelope' && f.body.type === 'ack' && f.body.messageType === 'round2.decline',
        5_000,
      );
    for (const m of [bob, dave]) {
      const id = newCeremonyId();
      await alice.requestRelease(id);
      expectAck(await m.approve(id, 'release'));
      expectAck(await carol.approve(id, 'release'));
      await declined(m);
    }
    const metrics = await metricsText(t.handle);
    expect(metrics).toMatch(/conclave_declines_total\{code="OTHER"\} 1/);
    expect(metrics).toMatch(/conclave_declines_total\{code="KEY_PACKAGE_MISMATCH"\} 1/);
    expect(metrics).not.toContain('MADE_UP_CODE_1234');
  });

  it('is cancelled by its requester or the admin only, and every member learns who and why', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob] = members as [FakeMember, FakeMember, FakeMember];
    const cancel = (reason: string) => ({ type: 'ceremony.cancel' as const, reason });
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expect((await bob.client.submit(id, cancel('not mine'), '4')).code).toBe('FORBIDDEN');
    expectAck(await bob.approve(id, 'release'));
    const aborted = bob.client.nextBody('sign.aborted', id, 5_000);
    expectAck(await alice.client.submit(id, cancel('wrong artifact'), '4'));
    expect((await aborted).body).toMatchObject({
      reason: 'cancelled',
      code: 'CEREMONY_CLOSED',
      message: 'cancelled by alice: wrong artifact',
    });
    expect(t.handle.store.getCeremony(id)?.state).toBe('cancelled');
    expect((await alice.client.submit(id, cancel('twice'), '4')).code).toBe('UNEXPECTED_MESSAGE');

    const other = newCeremonyId();
    await alice.requestRelease(other);
    const byAdmin = bob.client.nextBody('sign.aborted', other, 5_000);
    expectAck(await admin.submit(other, cancel('release withdrawn'), '4'));
    expect((await byAdmin).body.message).toBe('cancelled by admin: release withdrawn');
  });

  it('names a signer whose share does not verify and finishes without it', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const id = newCeremonyId();
    await alice.requestRelease(id);
    bob.corruptShares = true;
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    expectAck(await alice.approve(id, 'release'));
    const complete = await carol.client.nextBody('sign.complete', id, 10_000);
    expect(complete.body.signers.sort()).toEqual(['alice', 'carol']);
    expect(ceremonyReport(t.handle.store, id)!.culprits).toEqual(['bob']);
  });

  // The share that completes a session is checked by aggregating; on its own only if that fails.
  it.each([
    ['completes the session', 'carol', 'bob'],
    ['arrives first', 'bob', 'carol'],
  ] as const)(
    'names a bad share that %s, and finishes with the others',
    async (_, first, second) => {
      const t = await fresh();
      const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
      const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
      await setupGroup(t, admin, members, 'release', 2);
      const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
      const byName = { bob, carol };
      const id = newCeremonyId();
      await alice.requestRelease(id);
      bob.corruptShares = true;
      await approveHoldingPackages(id, [bob, carol]);
      await bob.client.nextBody('sign.package', id);
      await carol.client.nextBody('sign.package', id);
      expectAck(await alice.approve(id, 'release'));
      const acked = byName[first].client.next(
        (f) =>
          f.type === 'envelope' &&
          f.ceremonyId === id &&
          f.body.type === 'ack' &&
          f.body.messageType === 'round2.share',
        5_000,
      );
      byName[first].answerHeld();
      await acked;
      byName[second].answerHeld();
      const complete = await carol.client.nextBody('sign.complete', id, 10_000);
      expect(complete.body.signers.sort()).toEqual(['alice', 'carol']);
      const report = ceremonyReport(t.handle.store, id)!;
      expect(report.culprits).toEqual(['bob']);
      expect(report.sessions).toHaveLength(2);
      expect(report.state).toBe('completed');
      expect(report.signature?.signature).toBe(complete.body.signature);
    },
  );
});
