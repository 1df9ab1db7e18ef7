/**
 * THREATS D.49 with a real full disk: the coordinator's directory is a small tmpfs of its own, in
 * a user and mount namespace (`unshare`; no root needed, nothing is mounted outside it), and the
 * test fills it until write(2) says ENOSPC. The coordinator must refuse what it cannot store with
 * STORAGE_UNAVAILABLE, send nothing it did not store, stay up, and finish the same ceremony once
 * space is freed, with a database that passes `integrity_check`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@conclave/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, tempDir } from '../support.js';
import { Cluster, doc } from './cluster.js';

/** The size of the coordinator's file system: room for its database, keys and a few ceremonies. */
const TMPFS_SIZE = '16m';

interface Fs {
  /** The namespace's process (a `sleep`): it holds the mount while the coordinator restarts. */
  readonly holder: ChildProcess;
  /** The mount point, as the coordinator sees it. */
  readonly dir: string;
  /** The same directory seen from this process (through /proc/PID/root). */
  readonly view: string;
  /** Runs a command inside the namespace. */
  readonly prefix: readonly string[];
}

async function mountTmpfs(): Promise<Fs> {
  requireTool('unshare');
  requireTool('nsenter');
  const dir = join(tempDir('conclave-diskfull-'), 'fs');
  mkdirSync(dir);
  const holder = spawn(
    'unshare',
    [
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${TMPFS_SIZE},mode=0700 tmpfs "$0" && echo mounted && exec sleep 100000`,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  holder.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  holder.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => holder.on('close', () => r()));
  for (const start = Date.now(); !out.includes('mounted');) {
    const done = await Promise.race([exited.then(() => true), sleep(20).then(() => false)]);
    if (done || Date.now() - start > 10_000)
      throw new Error(`could not mount a tmpfs in a user namespace (unshare): ${out}`);
  }
  const pid = String(holder.pid);
  return {
    holder,
    dir,
    view: `/proc/${pid}/root${dir}`,
    prefix: ['nsenter', '-t', pid, '-U', '-m', '--preserve-credentials'],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes FILE until the file system is full; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 0x5a);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return written;
}

describe('a full disk under the coordinator (THREATS D.49)', () => {
  let fs: Fs;
  let c: Cluster;
  beforeAll(async () => {
    fs = await mountTmpfs();
    c = await Cluster.start({
      db: join(fs.dir, 'conclave.db'),
      prefix: fs.prefix,
      adminKey: (printed) => `/proc/${String(fs.holder.pid)}/root${printed}`,
    });
  });
  afterAll(async () => {
    await c?.close();
    fs?.holder.kill('SIGKILL');
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
    expect(fill(filler)).toBeGreaterThan(0);

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
