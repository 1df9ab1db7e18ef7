/**
 * THREATS D.49 with a real full disk: the coordinator's directory is a small tmpfs of its own, in
 * a user and mount namespace (`unshare`; no root needed, nothing is mounted outside it), and the
 * test fills it until write(2) says ENOSPC. The coordinator must refuse what it cannot store with
 * STORAGE_UNAVAILABLE, send nothing it did not store, stay up, and finish the same ceremony once
 * space is freed, with a database that passes `integrity_check`.
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

describe('a full disk under the coordinator (THREATS D.49)', () => {
  let fs: TestFs;
  let c: Cluster;
  beforeAll(async () => {
    fs = await mountTmpfs('16m');
    c = await Cluster.start({
      db: join(fs.dir, 'conclave.db'),
      prefix: fs.prefix,
      adminKey: (printed) => `/proc/${String(fs.holder.pid)}/root${printed}`,
    });
  });
  afterAll(async () => {
    await c?.close();
    fs?.close();
  });

  it('refuses what it cannot store with STORAGE_UNAVAILABLE, stays up, and completes the ceremony once space is freed', async () => {
    await c.addMembers(['alice', 'bob', 'carol']);
    await c.createGroup('web', 2, ['alice', 'bob', 'carol']);
    for (const r of await c.keygen('web', ['alice', 'bob', 'carol'])) {
      expect(r.code, r.stderr).toBe(0);
    }
    const artifact = join(c.dir, 'web-1.0.0.tgz');
    writeFileSync(artifact, `web 1.0.0 ${Date.now()}\n`);
    const request = (version: string) =>
      c.cli('carol', [
        'request',
        ...['--group', 'web', '--artifact', artifact, '--version', version],
        ...['--no-wait', '--json'],
      ]);
    const req = await request('1.0.0');
    expect(req.code, req.stdout + req.stderr).toBe(0);
    const id = doc<{ ceremonyId: string }>(req).ceremonyId;

    const filler = join(fs.view, 'filler');
    expect(fillFs(filler)).toBeGreaterThan(0);

    // An approval cannot be stored: refused with its code and what to do, nothing recorded.
    const refused = await c.cli('alice', ['approve', id, '--yes', '--json']);
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
    const error = doc<{ error: { code: string; message: string } }>(refused).error;
    expect(error.code).toBe('STORAGE_UNAVAILABLE');
    // In a terminal: what happened and what to do. The witness step before it (a cosignature
    // the coordinator cannot store) is the same refusal, not an internal error.
    const human = await c.cli('alice', ['approve', id, '--yes']);
    expect(human.code).not.toBe(0);
    expect(human.stderr).toMatch(
      /STORAGE_UNAVAILABLE: .*tell its operator, then run the command again/,
    );
    expect(human.stderr).not.toMatch(/INTERNAL/);
    // Nor can a new request.
    const second = await request('1.0.1');
    expect(second.code, second.stdout + second.stderr).not.toBe(0);
    expect(doc<{ error: { code: string } }>(second).error.code).toBe('STORAGE_UNAVAILABLE');
    // The coordinator is up and still answers from what it stored: no approval.
    const during = await c.cli('bob', ['status', id, '--json']);
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
    expect(faults.length).toBeLessThan(4);

    // Space is freed: the same ceremony completes, with a fresh commitment from alice.
    unlinkSync(filler);
    const approvals = await Promise.all(
      ['alice', 'bob'].map((m) => c.cli(m, ['approve', id, '--yes', '--json'])),
    );
    for (const a of approvals) expect(a.code, a.stdout + a.stderr).toBe(0);
    const out = join(c.dir, 'fetched');
    const fetched = await c.cli('alice', ['fetch', id, '--out', out, '--json']);
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

    // What the coordinator stored is intact: its database, copied out once it stopped.
    await c.close();
    const copy = join(c.dir, 'db-copy');
    mkdirSync(copy);
    for (const suffix of ['', '-wal']) {
      const from = join(fs.view, `conclave.db${suffix}`);
      if (existsSync(from)) copyFileSync(from, join(copy, `conclave.db${suffix}`));
    }
    const db = openDatabase(join(copy, 'conclave.db'));
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
      const states = db.prepare('SELECT state FROM ceremonies WHERE id = ?').get(id) as {
        state: string;
      };
      expect(states.state).toBe('completed');
    } finally {
      db.close();
    }
  });
});

describe("a full disk under a member's home (THREATS A.1, D.49)", () => {
  let fs: TestFs;
  let c: Cluster;
  beforeAll(async () => {
    fs = await mountTmpfs('16m');
    c = await Cluster.start({ sessionTimeoutS: 4 });
    c.homes.set('alice', join(fs.dir, 'home'));
    c.prefixes.set('alice', fs.prefix);
  });
  afterAll(async () => {
    await c?.close();
    fs?.close();
  });

  it('a member whose disk is full sends no approval; the ceremony completes without it, and its agent signs again once space is freed', async () => {
    const members = ['alice', 'bob', 'carol', 'dave'];
    await c.addMembers(members);
    await c.createGroup('web', 2, members);
    for (const r of await c.keygen('web', members)) expect(r.code, r.stderr).toBe(0);
    // Three artifacts make 16 signing jobs: the nonce ledger's record of that many commitments is
    // one write of more than a page, so it cannot fit in what the ledger file's last page has left.
    const release = (version: string) => {
      const artifacts = ['a', 'b', 'c'].map((x) => {
        const path = join(c.dir, `web-${x}-${version}.tgz`);
        writeFileSync(path, `web ${x} ${version} ${Date.now()}\n`);
        return ['--artifact', path];
      });
      return c.spawn('dave', [
        'request',
        ...['--group', 'web', ...artifacts.flat(), '--version', version, '--json'],
      ]);
    };
    const idOf = async (request: Proc) => {
      await waitFor(request, /requested (c_[0-9a-f]+)/);
      return /requested (c_[0-9a-f]+)/.exec(request.stderr)![1]!;
    };
    const agent = await c.agent('alice', { autoApprove: true });
    const filler = join(fs.view, 'filler');
    expect(fillFs(filler)).toBeGreaterThan(0);

    // alice's agent must record her commitments before they may leave, and cannot.
    const first = release('2.0.0');
    const id = await idOf(first);
    await waitFor(agent, new RegExp(`${id}: DISK_FULL: this home's disk is full .*ENOSPC`));
    expect(agent.stderr).not.toMatch(new RegExp(`approved ${id}`));
    const others = ['bob', 'carol'].map((m) => c.spawn(m, ['approve', id, '--yes']));
    expect(await first.exited, first.stderr).toBe(0);
    const d = doc<{ state: string; signers: string[]; approvers?: string[] }>(first);
    expect(d.state).toBe('completed');
    expect([...d.signers].sort()).toEqual(['bob', 'carol']);
    for (const p of others) expect(await p.exited, p.stderr).toBe(0);
    const status = await c.cli('bob', ['status', id, '--json']);
    expect(doc<{ status: { approvals: string[] } }>(status).status.approvals).not.toContain(
      'alice',
    );

    // Space is freed: the same agent process approves and signs the next release.
    unlinkSync(filler);
    const second = release('2.0.1');
    const next = await idOf(second);
    await waitFor(agent, new RegExp(`approved ${next}`));
    const bob = c.spawn('bob', ['approve', next, '--yes']);
    expect(await second.exited, second.stderr).toBe(0);
    const d2 = doc<{ state: string; signers: string[] }>(second);
    expect(d2.state).toBe('completed');
    expect([...d2.signers].sort()).toEqual(['alice', 'bob']);
    expect(await bob.exited, bob.stderr).toBe(0);
    await stop(agent);
    // Her ledger opens cleanly (no damage from the failed write) for the next command.
    const inbox = await c.cli('alice', ['inbox', '--json']);
    expect(inbox.code, inbox.stdout + inbox.stderr).toBe(0);
  });
});
