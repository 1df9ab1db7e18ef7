/**
 * THREATS D.49 (and A.1–A.4) with a real full disk. The coordinator's directory and alice's home
 * are each a small tmpfs of their own, in a user and mount namespace (`unshare`; no root needed,
 * nothing is mounted outside it), and the test fills one until write(2) says ENOSPC.
 *  - The coordinator must refuse what it cannot store with STORAGE_UNAVAILABLE, send nothing it
 *    did not store, say so in its log, stay up, and finish the same ceremony once space is freed,
 *    with a database that passes `integrity_check`.
 *  - A member must send nothing it could not record first, and its agent must sign again once
 *    space is freed, without a restart.
 * Requests sign DSSE only (one job): what is tested is storage, not the formats.
 */
import { createPublicKey, verify } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@conclave/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillFs, mountTmpfs, type TestFs } from '../support.js';
import { Cluster, doc, stop, waitFor, type Proc } from './cluster.js';

const MEMBERS = ['alice', 'bob', 'carol', 'dave'];

describe('a full disk (THREATS D.49)', () => {
  /** The coordinator's file system, and alice's. */
  let coordinatorFs: TestFs;
  let aliceFs: TestFs;
  let c: Cluster;
  beforeAll(async () => {
    coordinatorFs = await mountTmpfs('16m');
    aliceFs = await mountTmpfs('4m');
    c = await Cluster.start({
      db: join(coordinatorFs.dir, 'conclave.db'),
      prefix: coordinatorFs.prefix,
      adminKey: (printed) => `/proc/${String(coordinatorFs.holder.pid)}/root${printed}`,
    });
    c.homes.set('alice', join(aliceFs.dir, 'home'));
    c.prefixes.set('alice', aliceFs.prefix);
    await c.addMembers(MEMBERS);
    await c.createGroup('web', 2, MEMBERS);
    for (const r of await c.keygen('web', MEMBERS)) expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await c?.close();
    coordinatorFs?.close();
    aliceFs?.close();
  });

  const artifact = (version: string) => {
    const path = join(c.dir, `web-${version}.tgz`);
    writeFileSync(path, `web ${version} ${Date.now()}\n`);
    return path;
  };
  const requestArgs = (version: string) => [
    'request',
    ...['--group', 'web', '--artifact', artifact(version), '--version', version],
    ...['--formats', 'dsse', '--json'],
  ];
  const idOf = async (request: Proc) => {
    await waitFor(request, /requested (c_[0-9a-f]+)/);
    return /requested (c_[0-9a-f]+)/.exec(request.stderr)![1]!;
  };

  it('under the coordinator: refuses what it cannot store with STORAGE_UNAVAILABLE, logs it, stays up, and completes the ceremony once space is freed', async () => {
    const req = await c.cli('carol', [...requestArgs('1.0.0'), '--no-wait']);
    expect(req.code, req.stdout + req.stderr).toBe(0);
    const id = doc<{ ceremonyId: string }>(req).ceremonyId;

    const filler = join(coordinatorFs.view, 'filler');
    expect(fillFs(filler)).toBeGreaterThan(0);

    // An approval cannot be stored: refused with its code, nothing recorded.
    const refused = await c.cli('bob', ['approve', id, '--yes', '--json']);
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
    expect(doc<{ error: { code: string } }>(refused).error.code).toBe('STORAGE_UNAVAILABLE');
    // In a terminal: what happened and what to do. The witness step before it (a cosignature
    // the coordinator cannot store) is the same refusal, not an internal error.
    const human = await c.cli('bob', ['approve', id, '--yes']);
    expect(human.code).not.toBe(0);
    expect(human.stderr).toMatch(
      /STORAGE_UNAVAILABLE: .*tell its operator, then run the command again/,
    );
    expect(human.stderr).not.toMatch(/INTERNAL/);
    // Nor can a new request be stored.
    const second = await c.cli('carol', [...requestArgs('1.0.1'), '--no-wait']);
    expect(second.code, second.stdout + second.stderr).not.toBe(0);
    expect(doc<{ error: { code: string } }>(second).error.code).toBe('STORAGE_UNAVAILABLE');
    // The coordinator is up and still answers from what it stored: no approval.
    const during = await c.cli('dave', ['status', id, '--json']);
    expect(during.code, during.stdout + during.stderr).toBe(0);
    expect(doc<{ status: { state: string; approvals: string[] } }>(during).status).toMatchObject({
      state: 'requested',
      approvals: [],
    });
    expect(c.coordinator.child.exitCode).toBeNull();
    // The operator's side: the log says a write failed and why, in one line, however many failed.
    const faults = c.coordinator.stderr
      .split('\n')
      .filter((l) => l.includes('"code":"STORAGE_UNAVAILABLE"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(faults[0]).toMatchObject({ level: 'error', cause: 'SQLITE_FULL' });
    // At most one line per 10 s, whichever path failed (the witness's HTTP cosignature, the
    // approvals and the request over WebSocket share one limiter). How many lines depends on how
    // long the commands took, so the rule is checked, not a count.
    const times = faults.map((f) => Date.parse(String(f['t'])));
    for (let i = 1; i < times.length; i++) {
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(9_900);
    }

    // Space is freed: the same ceremony completes, bob committing afresh.
    unlinkSync(filler);
    const approvals = await Promise.all(
      ['bob', 'dave'].map((m) => c.cli(m, ['approve', id, '--yes', '--json'])),
    );
    for (const a of approvals) expect(a.code, a.stdout + a.stderr).toBe(0);
    const out = join(c.dir, 'fetched');
    const fetched = await c.cli('bob', ['fetch', id, '--out', out, '--json']);
    expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
    const files = doc<{ files: { signature: string; publicKey: string; message: string } }>(
      fetched,
    ).files;
    expect(
      verify(
        null,
        readFileSync(files.message),
        createPublicKey(readFileSync(files.publicKey, 'utf8')),
        readFileSync(files.signature),
      ),
    ).toBe(true);
  });

  it("under a member's home: it sends no approval, the ceremony completes without it, and its agent signs again once space is freed", async () => {
    const agent = await c.agent('alice', { autoApprove: true });
    const filler = join(aliceFs.view, 'filler');
    expect(fillFs(filler)).toBeGreaterThan(0);

    // alice's agent must record the approval (and its commitments) before it may leave: a new
    // file on a full file system, which cannot be written.
    const first = c.spawn('dave', requestArgs('2.0.0'));
    const id = await idOf(first);
    await waitFor(agent, new RegExp(`${id}: DISK_FULL: this home's disk is full .*ENOSPC`));
    expect(agent.stderr).not.toMatch(new RegExp(`approved ${id}`));
    const others = ['bob', 'carol'].map((m) => c.spawn(m, ['approve', id, '--yes']));
    expect(await first.exited, first.stderr).toBe(0);
    const d = doc<{ state: string; signers: string[] }>(first);
    expect(d.state).toBe('completed');
    expect([...d.signers].sort()).toEqual(['bob', 'carol']);
    for (const p of others) expect(await p.exited, p.stderr).toBe(0);
    const status = await c.cli('bob', ['status', id, '--json']);
    expect(doc<{ status: { approvals: string[] } }>(status).status.approvals).not.toContain(
      'alice',
    );

    // Space is freed: the same agent process approves and signs the next release.
    unlinkSync(filler);
    const second = c.spawn('dave', requestArgs('2.0.1'));
    const next = await idOf(second);
    await waitFor(agent, new RegExp(`approved ${next}`));
    const bob = c.spawn('bob', ['approve', next, '--yes']);
    expect(await second.exited, second.stderr).toBe(0);
    const d2 = doc<{ state: string; signers: string[] }>(second);
    expect(d2.state).toBe('completed');
    expect([...d2.signers].sort()).toEqual(['alice', 'bob']);
    expect(await bob.exited, bob.stderr).toBe(0);
    await stop(agent);
    // Her ledger and home open cleanly (no damage from the failed writes) for the next command.
    const inbox = await c.cli('alice', ['inbox', '--json']);
    expect(inbox.code, inbox.stdout + inbox.stderr).toBe(0);
  });

  it('what the coordinator stored is intact: its database passes integrity_check', async () => {
    await c.close();
    const copy = join(c.dir, 'db-copy');
    mkdirSync(copy);
    for (const suffix of ['', '-wal']) {
      const from = join(coordinatorFs.view, `conclave.db${suffix}`);
      if (existsSync(from)) copyFileSync(from, join(copy, `conclave.db${suffix}`));
    }
    const db = openDatabase(join(copy, 'conclave.db'));
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
      const states = db
        .prepare("SELECT state, COUNT(*) AS n FROM ceremonies WHERE kind = 'sign' GROUP BY state")
        .all();
      expect(states).toEqual([{ state: 'completed', n: 3 }]);
    } finally {
      db.close();
    }
  });
});
