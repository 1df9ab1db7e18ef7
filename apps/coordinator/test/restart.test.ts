// THREATS D.47: the coordinator is killed with SIGKILL mid-signing (a session's packages are out,
// no share is in) and restarted on the same database. The ceremony completes from the stored
// snapshot, the same signing package is re-sent (never a new one for spent commitments), and
// commitments and envelopes seen before the crash stay refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  bytesToHex,
  hexToBytes,
  newCeremonyId,
  requestDigest,
  verifyApproval,
  sealEnvelope,
  type Envelope,
  type SealedBody,
} from '@conclave/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { readCeremonyReport, readIdentityKeyFile } from '../src/index.js';
import { openStore } from '../src/store.js';
import {
  addMembers,
  approveHoldingPackages,
  commitRefreshEpoch,
  connect,
  connectAdmin,
  expectAck,
  openOfflineDkg,
  openRefresh,
  releaseGroup,
  removeDir,
  sampleRelease,
  setupGroup,
  startTest,
  tempDir,
  threeMembers,
} from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const SCRIPT = resolve(import.meta.dirname, 'fixtures/run-coordinator.ts');

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly coordinatorKey: Uint8Array;
  readonly adminKeyPath: string;
}

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

/**
 * What a coordinator of an older wire version left in `dbPath`: the ceremony's recorded starts
 * (`type`) with `protocolVersion` set to `version` (none if undefined), each sealed again with the
 * coordinator's own key, as that coordinator would have sealed them.
 */
function recordStartsAs(
  dbPath: string,
  id: string,
  type: 'dkg.start' | 'key.start',
  version: number | undefined,
): number {
  const key = readIdentityKeyFile(join(dirname(dbPath), 'coordinator.key'));
  const store = openStore(dbPath, { now: Date.now() });
  const rows = store.db
    .prepare('SELECT idx, envelope FROM transcript WHERE ceremony_id = ? AND body_type = ?')
    .all(id, type) as { idx: number; envelope: string }[];
  for (const r of rows) {
    const env = JSON.parse(r.envelope) as Envelope;
    const { protocolVersion: _v, ...rest } = env.body as Envelope['body'] & {
      protocolVersion?: number;
    };
    const body = (
      version === undefined ? rest : { ...rest, protocolVersion: version }
    ) as SealedBody;
    const sealed = sealEnvelope(key, {
      ceremonyId: env.ceremonyId,
      round: env.round,
      seq: env.seq,
      sender: env.sender,
      body,
    });
    store.db
      .prepare('UPDATE transcript SET envelope = ? WHERE ceremony_id = ? AND idx = ?')
      .run(JSON.stringify(sealed), id, r.idx);
  }
  store.close();
  return rows.length;
}

async function spawnCoordinator(dbPath: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, dbPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', res);
    proc.once('exit', (code) => rej(new Error(`coordinator exited ${code}: ${stderr}`)));
  });
  const info = JSON.parse(line) as {
    url: string;
    coordinatorPublicKey: string;
    adminKeyPath: string;
  };
  return {
    proc,
    url: info.url,
    coordinatorKey: hexToBytes(info.coordinatorPublicKey, 32),
    adminKeyPath: info.adminKeyPath,
  };
}

function kill9(child: Child): Promise<void> {
  return new Promise((res) => {
    child.proc.once('exit', () => res());
    child.proc.kill('SIGKILL');
  });
}

describe('crash and restart', () => {
  it('finishes a signing ceremony after SIGKILL mid-session, reusing no commitment', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const dbPath = join(dir, 'coordinator.db');
    const first = await spawnCoordinator(dbPath);
    const t1 = { handle: { url: first.url }, coordinatorKey: first.coordinatorKey };
    const adminKey = readIdentityKeyFile(first.adminKeyPath);
    const admin = await connect(first.url, adminKey, 'admin', first.coordinatorKey);
    const members = threeMembers();
    await setupGroup(t1, admin, members, 'release', 2);
    const [alice, bob, carol] = members;

    const id = newCeremonyId();
    await alice.requestRelease(id);
    await approveHoldingPackages(id, [bob, carol]);
    const heldBob = await bob.client.nextBody('sign.package', id);
    await carol.client.nextBody('sign.package', id);

    await kill9(first);

    const second = await spawnCoordinator(dbPath);
    expect(bytesToHex(second.coordinatorKey)).toBe(bytesToHex(first.coordinatorKey));
    const t2 = { handle: { url: second.url }, coordinatorKey: second.coordinatorKey };
    for (const m of members) {
      m.holdPackages = false;
      await m.connect(t2);
    }
    // On reconnect the signers get the stored package again (same bytes), sign, and it completes.
    const complete = await alice.client.nextBody('sign.complete', id, 20_000);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
    const resent = bob.client.all.find(
      (f) => f.type === 'envelope' && f.body.type === 'sign.package' && f.ceremonyId === id,
    );
    expect(resent.body.signingPackage).toBe(heldBob.body.signingPackage);
    expect(resent.signature).toBe(heldBob.signature);

    const report = readCeremonyReport(dbPath, id)!;
    expect(report.state).toBe('completed');
    expect(report.sessions).toHaveLength(1);
    expect(report.signature?.signature).toBe(complete.body.signature);

    // After the restart, bob's spent commitment is still refused for a new ceremony…
    const spent = report.transcript.find(
      (e) => e.sender === 'bob' && e.envelope.body.type === 'sign.approve',
    )!.envelope.body as { commitments: string[] };
    const id2 = newCeremonyId();
    expectAck(
      await alice.client.submit(id2, {
        type: 'sign.request',
        group: 'release',
        release: sampleRelease('2.0.0'),
      }),
    );
    const status = await bob.client.query(
      { type: 'ceremony.status.get', ceremonyId: id2 },
      'ceremony.status',
    );
    const reused = await bob.client.submit(id2, {
      type: 'sign.approve',
      requestDigest: bytesToHex(requestDigest(id2, status.request.body)),
      commitments: spent.commitments,
    });
    expect(reused.code).toBe('COMMITMENT_REUSED');
    // …and an envelope accepted before the crash is still a replay.
    const original = report.transcript.find(
      (e) => e.sender === 'bob' && e.envelope.body.type === 'sign.approve',
    )!.envelope;
    expect((await bob.client.call(original)).code).toBe('REPLAYED_MESSAGE');
    await kill9(second);
  });

  it('re-runs an effect that was committed but not performed (startSession) on the next start', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    let crash = true;
    const hooks = {
      beforeEffect: (_id: string, kind: string) => {
        if (crash && kind === 'startSession') throw new Error('simulated crash before sending');
      },
    };
    const a = await startTest({ dir, hooks });
    const { members } = await releaseGroup(a);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    // The session is committed, its packages were never sent: the effect is still pending.
    const stored = a.handle.store.getCeremony(id)!;
    expect(stored.state).toBe('signing.inSession');
    expect(
      JSON.parse(stored.snapshot).context.outbox.map((e: { kind: string }) => e.kind),
    ).toContain('startSession');
    expect(a.handle.store.transcript(id).some((e) => e.bodyType === 'sign.package')).toBe(false);
    await a.close();

    crash = false;
    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    for (const m of members) await m.connect(b);
    const complete = await alice.client.nextBody('sign.complete', id, 20_000);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
    const packages = b.handle.store.transcript(id).filter((e) => e.bodyType === 'sign.package');
    expect(packages).toHaveLength(2);
    // Their approval signatures were read back from the transcript the first process wrote, and
    // each is the approver's own.
    for (const p of packages) {
      const body = p.envelope.body as {
        approvers: string[];
        approvals: string[];
        requestDigest: string;
      };
      expect(body.approvers).toEqual(['bob', 'carol']);
      body.approvers.forEach((m, i) => {
        const key = members.find((x) => x.name === m)!.key.publicKey;
        expect(verifyApproval(key, id, m, body.requestDigest, body.approvals[i]!)).toBe(true);
      });
    }
  });

  it('aggregates again after a stop between the last share and the aggregate', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    let crash = true;
    const hooks = {
      beforeEffect: (_id: string, kind: string) => {
        if (crash && kind === 'aggregate') throw new Error('simulated crash before aggregating');
      },
    };
    const a = await startTest({ dir, hooks });
    const { members } = await releaseGroup(a);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    expectAck(await carol.approve(id, 'release'));
    await bob.client.nextBody('ack', id);
    const deadline = Date.now() + 5_000;
    while (a.handle.store.getCeremony(id)!.state !== 'signing.aggregating') {
      if (Date.now() > deadline) throw new Error('never reached aggregating');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(a.handle.store.getSignature(id)).toBeUndefined();
    await a.close();

    crash = false;
    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    const report = readCeremonyReport(b.dbPath, id)!;
    expect(report.state).toBe('completed');
    expect(report.signature).not.toBeNull();
    await alice.connect(b);
    alice.client.frames.length = 0;
    await alice.client.query({ type: 'ceremony.status.get', ceremonyId: id }, 'ceremony.status');
    const complete = await alice.client.nextBody('sign.complete', id);
    expect(complete.body.signature).toBe(report.signature?.signature);
  });

  it('excludes a member whose revocation was committed before a stop but not yet applied to its open ceremonies (B.30)', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const a = await startTest({ dir });
    const { members } = await releaseGroup(a);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    await a.close();
    // What a stop right after admin.member.revoke committed leaves: bob's row is revoked, the
    // open ceremony's snapshot (written by a later transaction) still counts his approval.
    const store = openStore(a.dbPath, { now: Date.now() });
    store.revokeMember('bob', Date.now());
    store.close();

    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    await carol.connect(b);
    expectAck(await carol.approve(id, 'release'));
    const context = JSON.parse(b.handle.store.getCeremony(id)!.snapshot).context as {
      excluded: { member: string; reason: string }[];
      sessions: { participants: string[] }[];
    };
    expect(context.excluded).toContainEqual(
      expect.objectContaining({ member: 'bob', reason: 'revoked' }),
    );
    // A revoked identity no longer speaks for anyone: no session is built on bob's approval.
    expect(context.sessions.flatMap((s) => s.participants)).not.toContain('bob');
    expect(b.handle.store.getCeremony(id)!.state).toBe('collectingApprovals');
  });

  it('cancels a signing ceremony opened under the key epoch a refresh committed just before a stop', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const a = await startTest({ dir });
    const { members } = await releaseGroup(a);
    const [alice, bob] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    await a.close();
    // What a stop right after a refresh's activateGroup committed leaves: epoch 1 is saved, the
    // group's open signing ceremony (cancelled by a follow-up after that commit) is still open.
    await new Promise((r) => setTimeout(r, 5));
    const store = openStore(a.dbPath, { now: Date.now() });
    commitRefreshEpoch(store);
    store.close();

    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    // Its commitments belong to the old shares: it must not go on under the new ones.
    expect(b.handle.store.getCeremony(id)!.state).toBe('cancelled');
    // A request made under the new epoch is not touched by a later start.
    await alice.connect(b);
    const later = newCeremonyId();
    await alice.requestRelease(later);
    await b.close();
    const c = await startTest({ dir });
    cleanups.push(() => c.close());
    expect(c.handle.store.getCeremony(later)!.open).toBe(true);
  });

  it('cancels at start a key ceremony opened under another wire protocol (left open across an upgrade), blaming nobody', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const a = await startTest({ dir });
    const id = await openOfflineDkg(await connectAdmin(a), threeMembers());
    await a.close();
    // A restart of the same version leaves it open.
    const b = await startTest({ dir });
    expect(b.handle.store.getCeremony(id)!.open).toBe(true);
    await b.close();
    // What a coordinator of an older version left: starts that name no protocol version.
    expect(recordStartsAs(a.dbPath, id, 'dkg.start', undefined)).toBe(3);
    const c = await startTest({ dir });
    cleanups.push(() => c.close());
    const record = c.handle.store.getCeremony(id)!;
    expect(record.open).toBe(false);
    const abort = c.handle.store
      .transcript(id)
      .find((e) => e.direction === 'out' && e.bodyType === 'dkg.abort');
    expect(abort?.envelope.body).toMatchObject({ culprits: [] });
    expect(JSON.stringify(abort?.envelope.body)).toMatch(/an older wire protocol/);
    // The group can be created again.
    expect(c.handle.store.getGroup('release')?.state).toBe('failed');
  });

  it('cancels such a ceremony before its next event when the cancel at start could not be written', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const a = await startTest({ dir });
    const members = threeMembers();
    const id = await openOfflineDkg(await connectAdmin(a), members);
    await a.close();
    expect(recordStartsAs(a.dbPath, id, 'dkg.start', undefined)).toBe(3);
    const store = openStore(a.dbPath, { now: Date.now() });
    // The disk refuses the cancel's write when the coordinator starts.
    store.db.exec(
      `CREATE TRIGGER refuse_cancel BEFORE UPDATE ON ceremonies WHEN NEW.snapshot LIKE '%older wire protocol%' BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END`,
    );
    store.close();
    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    expect(b.handle.store.getCeremony(id)!.open).toBe(true);
    (b.handle.store as unknown as { db: { exec(sql: string): unknown } }).db.exec(
      'DROP TRIGGER refuse_cancel',
    );
    // A member answers the (resent) start: before its round 1 is looked at, the ceremony is
    // cancelled, so it neither goes on under the old rules nor times out blaming anyone.
    const [alice] = members;
    alice.dkgGroup.set(id, 'release');
    await alice.connect(b);
    const deadline = Date.now() + 10_000;
    while (b.handle.store.getCeremony(id)!.open) {
      if (Date.now() > deadline) throw new Error('never cancelled');
      await new Promise((r) => setTimeout(r, 20));
    }
    const abort = b.handle.store
      .transcript(id)
      .find((e) => e.direction === 'out' && e.bodyType === 'dkg.abort');
    expect(abort?.envelope.body).toMatchObject({ code: 'CEREMONY_CLOSED', culprits: [] });
    expect(JSON.stringify(abort?.envelope.body)).toMatch(/an older wire protocol/);
    expect(b.handle.store.transcriptOfType(id, 'dkg.round1')).toEqual([]);
  });

  it('cancels at start a refresh opened under protocol 4, whose key.start names it', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const a = await startTest({ dir });
    const { admin } = await releaseGroup(a);
    // The members do not take part in lifecycle ceremonies here: the refresh stays in round 1.
    const id = await openRefresh(admin, a.handle.store.getGroup('release')!.groupPublicKey!, 0);
    await a.close();
    expect(recordStartsAs(a.dbPath, id, 'key.start', 4)).toBeGreaterThan(0);
    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    expect(b.handle.store.getCeremony(id)!.open).toBe(false);
    const abort = b.handle.store
      .transcript(id)
      .find((e) => e.direction === 'out' && e.bodyType === 'dkg.abort');
    expect(abort?.envelope.body).toMatchObject({ code: 'CEREMONY_CLOSED', culprits: [] });
    expect(JSON.stringify(abort?.envelope.body)).toMatch(/opened under wire protocol 4/);
    // The group keeps its key and epoch, and a new refresh can be opened.
    expect(b.handle.store.getGroup('release')).toMatchObject({ state: 'active', epoch: 0 });
  });

  it('resumes a DKG stopped before the round-2 boxes went out', async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    let crash = true;
    const hooks = {
      beforeEffect: (_id: string, kind: string) => {
        if (crash && kind === 'requestConfirmation') throw new Error('simulated crash');
      },
    };
    const a = await startTest({ dir, hooks });
    const admin = await connectAdmin(a);
    const members = threeMembers();
    await addMembers(admin, members);
    for (const m of members) await m.connect(a);
    const id = newCeremonyId();
    for (const m of members) m.dkgGroup.set(id, 'release');
    expectAck(
      await admin.submit(id, {
        type: 'admin.group.create',
        group: 'release',
        threshold: 2,
        members: members.map((m) => ({ member: m.name, identityKey: m.publicKey })),
      }),
    );
    const deadline = Date.now() + 10_000;
    while (a.handle.store.getCeremony(id)!.state !== 'waitingForConfirmations') {
      if (Date.now() > deadline) throw new Error('never reached the confirmation round');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(a.handle.store.getGroup('release')?.state).toBe('keygen');
    await a.close();

    crash = false;
    const b = await startTest({ dir });
    cleanups.push(() => b.close());
    const admin2 = await connectAdmin(b);
    for (const m of members) await m.connect(b);
    const complete = await admin2.nextBody('dkg.complete', id, 20_000);
    expect(b.handle.store.getGroup('release')?.groupPublicKey).toBe(complete.body.groupPublicKey);
    expect(complete.body.confirmations).toHaveLength(3);
  });
});
