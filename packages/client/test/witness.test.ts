// The member client witnesses the log (witness.ts) over real HTTP against a small log server that
// signs real checkpoints (C2SP tlog-checkpoint with @conclave/audit) and that the test can make
// misbehave: an honest log is cosigned as it grows; a rewritten leaf under a re-signed checkpoint
// (LOG_FORK_DETECTED), a rollback (LOG_ROLLBACK), a new log key (LOG_KEY_CHANGED) and a forged
// checkpoint (LOG_UNVERIFIABLE) are each caught by the next round, kept as evidence in the home,
// and block approvals until cleared. The checks are @conclave/audit's witnessLog, bound here the
// way the CLI binds it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ed25519NoteSigner,
  encodeBase64,
  encodeVerifierKey,
  openCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  verifyCosignature,
  witnessLog,
  witnessName,
} from '@conclave/audit';
import {
  ChallengeBook,
  bytesToHex,
  generateIdentityKey,
  verifyAuthResponse,
  type IdentityKey,
} from '@conclave/protocol';
import { consistencyProof, leafHash, rootFromLeafHashes } from '@conclave/release';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Home,
  LogWitness,
  clearAlarm,
  httpLogTransport,
  memberAuthHeaders,
  readAlarm,
  readWitnessed,
  witnessOnce,
  type WitnessEngine,
  type WitnessRoundResult,
} from '../src/index.js';

const KDF = { kdfParams: { N: 2 ** 16, r: 8, p: 1 } };
const PASS = 'witness-test-passphrase';
const enc = new TextEncoder();

/** What the CLI passes as `SessionOptions.witness` (apps/cli/src/commands/audit.ts). */
const engine: WitnessEngine = async (i) =>
  witnessLog({
    transport: i.transport,
    lastSeen: i.lastSeen,
    logKey: parseVerifierKey(i.logKey),
    witness: { name: witnessName(i.member), key: i.key },
    now: i.now,
  });

/** A log server: leaves in memory, a checkpoint signed per size, member cosignatures checked. */
class FakeLog {
  key: IdentityKey = generateIdentityKey();
  readonly origin = 'conclave/0123456789abcdef';
  leaves: Uint8Array[] = [];
  served: string | undefined;
  /** Serve this instead of the newest checkpoint (rollback, forgery). */
  override: string | undefined;
  refuseCosign = false;
  readonly cosigned = new Map<number, Map<string, string>>();
  readonly members = new Map<string, Uint8Array>();
  book!: ChallengeBook;
  server!: Server;
  url = '';

  get verifierKey(): string {
    return encodeVerifierKey(this.origin, this.key.publicKey);
  }

  hashes(n = this.leaves.length): Uint8Array[] {
    return this.leaves.slice(0, n).map((l) => leafHash(l));
  }

  sign(): string {
    this.served = signCheckpoint(ed25519NoteSigner(this.origin, this.key), {
      origin: this.origin,
      size: this.leaves.length,
      root: rootFromLeafHashes(this.hashes()),
    });
    return this.served;
  }

  append(n = 1): string {
    for (let i = 0; i < n; i++) this.leaves.push(enc.encode(`leaf ${this.leaves.length}`));
    return this.sign();
  }

  /** Rewrites leaf `i` (history!) and signs the same-size tree again with the same log key. */
  rewrite(i: number): string {
    this.leaves[i] = enc.encode(`rewritten leaf ${i}`);
    return this.sign();
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    this.url = `http://127.0.0.1:${a.port}`;
    this.book = new ChallengeBook(this.url);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname === '/v1/challenge') {
      const c = this.book.issue(Date.now());
      return c.ok ? json(200, c.value) : json(429, c.error);
    }
    if (url.pathname === '/v1/log/key') {
      return json(200, { origin: this.origin, verifierKey: this.verifierKey });
    }
    if (url.pathname === '/v1/log/checkpoint') {
      const note = this.override ?? this.served;
      if (note === undefined) return json(503, { code: 'STORAGE_UNAVAILABLE', message: 'none' });
      const size = Number(note.split('\n')[1]);
      const lines = [...(this.cosigned.get(size)?.values() ?? [])].join('');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(note + lines);
      return;
    }
    if (url.pathname === '/v1/log/proof/consistency') {
      const from = Number(url.searchParams.get('from'));
      const to = Number(url.searchParams.get('to'));
      return json(200, {
        from,
        to,
        proof: consistencyProof(this.hashes(to), from).map(encodeBase64),
      });
    }
    if (req.method === 'POST' && url.pathname === '/v1/log/cosign') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const h = (n: string) => String(req.headers[n] ?? '');
        const challenge = this.book.consume(h('x-conclave-challenge'), Date.now());
        const auth = challenge.ok
          ? verifyAuthResponse(
              {
                type: 'auth.response',
                member: h('x-conclave-member'),
                challenge: h('x-conclave-challenge'),
                signature: h('x-conclave-signature'),
              },
              {
                challenge: challenge.value,
                now: Date.now(),
                lookup: (m) => {
                  const k = this.members.get(m);
                  return k === undefined ? undefined : { publicKey: k, revoked: false };
                },
              },
            )
          : challenge;
        if (!auth.ok) return json(401, auth.error);
        if (this.refuseCosign) return json(403, { code: 'FORBIDDEN', message: 'not today' });
        const { checkpoint, cosignature } = JSON.parse(body) as {
          checkpoint: string;
          cosignature: string;
        };
        const cp = openCheckpoint(checkpoint, parseVerifierKey(this.verifierKey));
        const sig = parseNote(`${cp.body}\n${cosignature}`).signatures[0]!;
        const member = auth.value.member;
        verifyCosignature(sig, cp.body, witnessName(member), this.members.get(member)!);
        const at = this.cosigned.get(cp.size) ?? new Map<string, string>();
        at.set(member, cosignature);
        this.cosigned.set(cp.size, at);
        json(200, { size: cp.size, witnesses: at.size });
      });
      return;
    }
    json(404, { code: 'NOT_FOUND', message: url.pathname });
  }
}

let log: FakeLog;
let dir: string;
let n = 0;

async function member(name: string): Promise<{ home: Home; key: IdentityKey }> {
  const home = await Home.init(join(dir, `${name}-${n++}`), name, PASS, KDF);
  await home.pinCoordinator({
    url: log.url,
    origin: log.url,
    coordinatorKey: bytesToHex(generateIdentityKey().publicKey),
    adminKey: bytesToHex(generateIdentityKey().publicKey),
  });
  const key = await home.loadIdentity(PASS);
  log.members.set(name, key.publicKey);
  return { home, key };
}

function round(m: { home: Home; key: IdentityKey }, lines: string[] = []) {
  return witnessOnce({
    home: m.home,
    url: log.url,
    member: m.home.name,
    key: m.key,
    engine,
    log: (l) => lines.push(l),
  });
}

function expectCosigned(r: WitnessRoundResult, size: number): void {
  expect(r).toMatchObject({ status: 'cosigned', size, submitted: true });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-witness-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  await new Promise<void>((r) => (log?.server ? log.server.close(() => r()) : r()));
  log = new FakeLog();
  await log.start();
  log.append(3);
});

describe('a member witnesses an honest log', () => {
  it('pins the log key on first use, then cosigns the log as it grows; the cosignature is served', async () => {
    const alice = await member('alice');
    const lines: string[] = [];
    expectCosigned(await round(alice, lines), 3);
    expect(alice.home.config.coordinator?.logKey).toBe(log.verifierKey);
    expect(lines.join('\n')).toMatch(/pinned the coordinator's log key .* \(trust on first use\)/);
    const first = await readWitnessed(alice.home, log.verifierKey);
    expect(first).toMatchObject({ size: 3, cosigned: true, logKey: log.verifierKey });
    // The stored note is the log's own signed checkpoint.
    expect(openCheckpoint(first!.checkpoint, parseVerifierKey(log.verifierKey)).size).toBe(3);
    expect(log.cosigned.get(3)?.has('alice')).toBe(true);

    log.append(2);
    const second = await round(alice);
    expectCosigned(second, 5);
    expect(second).toMatchObject({ previousSize: 3 });
    expect((await readWitnessed(alice.home, log.verifierKey))?.size).toBe(5);
    expect(log.cosigned.get(5)?.has('alice')).toBe(true);
    // Same size again: nothing to prove, cosigned again, still fine.
    expectCosigned(await round(alice), 5);
    expect(await readAlarm(alice.home)).toBeUndefined();
  });

  it('keeps the checked checkpoint when the coordinator refuses the cosignature (and says so)', async () => {
    const bob = await member('bob');
    log.refuseCosign = true;
    const lines: string[] = [];
    const r = await round(bob, lines);
    expect(r).toMatchObject({ status: 'cosigned', size: 3, submitted: false });
    expect(lines.join('\n')).toMatch(/did not take the cosignature \(FORBIDDEN\)/);
    expect(await readWitnessed(bob.home, log.verifierKey)).toMatchObject({
      size: 3,
      cosigned: false,
    });
  });

  it('never moves its stored checkpoint back when another process of the home stored a newer one', async () => {
    const carol = await member('carol');
    expectCosigned(await round(carol), 3);
    log.append(2);
    const at5 = log.served!;
    log.append(1);
    // Process A fetches the size-5 checkpoint; meanwhile process B of the same home witnesses 6.
    const http = httpLogTransport({
      url: log.url,
      authHeaders: () => memberAuthHeaders({ url: log.url, member: 'carol', key: carol.key }),
    });
    const slow = await witnessOnce({
      home: carol.home,
      url: log.url,
      member: 'carol',
      key: carol.key,
      engine,
      transport: {
        ...http,
        checkpoint: async () => {
          expectCosigned(await round(carol), 6);
          return at5;
        },
      },
    });
    expectCosigned(slow, 5);
    expect((await readWitnessed(carol.home, log.verifierKey))?.size).toBe(6);
  });

  it('is "unavailable", not an alarm, when the log cannot be reached', async () => {
    const dave = await member('dave');
    await new Promise<void>((r) => log.server.close(() => r()));
    const r = await round(dave);
    expect(r).toMatchObject({ status: 'unavailable', code: 'COORDINATOR_UNREACHABLE' });
    expect(await readAlarm(dave.home)).toBeUndefined();
    await log.start(); // for beforeEach's close
  });
});

describe('a misbehaving log is caught by the next member that connects', () => {
  it('LOG_FORK_DETECTED: a rewritten leaf under a re-signed checkpoint of the same size', async () => {
    const alice = await member('alice');
    expectCosigned(await round(alice), 3);
    const honest = log.served!;
    const forged = log.rewrite(1);
    const lines: string[] = [];
    const r = await round(alice, lines);
    expect(r.status).toBe('alarm');
    if (r.status !== 'alarm') return;
    expect(r.alarm.code).toBe('LOG_FORK_DETECTED');
    expect(lines.some((l) => l.startsWith('!!! LOG_FORK_DETECTED'))).toBe(true);
    expect(lines.join('\n')).toMatch(/refuses to approve any request/);
    // The evidence: both checkpoints, each signed by the log key, same size, different roots.
    const evidence = JSON.parse(readFileSync(join(alice.home.dir, r.alarm.evidence!), 'utf8')) as {
      format: string;
      lastSeen: string;
      next: string;
      logKey: string;
    };
    expect(evidence.format).toBe('conclave-log-evidence/v1');
    const key = parseVerifierKey(evidence.logKey);
    const a = openCheckpoint(evidence.lastSeen, key);
    const b = openCheckpoint(evidence.next, key);
    expect(a.size).toBe(b.size);
    expect(a.root).not.toEqual(b.root);
    expect(evidence.lastSeen.startsWith(honest)).toBe(true);
    expect(evidence.next.startsWith(forged)).toBe(true);
    // Nothing about the forged tree was stored or cosigned.
    expect((await readWitnessed(alice.home, log.verifierKey))?.checkpoint.startsWith(honest)).toBe(
      true,
    );
    expect(log.cosigned.get(3)?.get('alice')).toBeDefined(); // only the honest one, from before
  });

  it('LOG_FORK_DETECTED: a bigger tree that does not extend the one seen (history rewritten, then grown)', async () => {
    const bob = await member('bob');
    expectCosigned(await round(bob), 3);
    log.rewrite(0);
    log.append(2);
    const r = await round(bob);
    expect(r).toMatchObject({ status: 'alarm', alarm: { code: 'LOG_FORK_DETECTED' } });
    expect(log.cosigned.get(5)?.has('bob')).not.toBe(true);
  });

  it('LOG_ROLLBACK: a smaller tree than the one seen (a restored backup)', async () => {
    const carol = await member('carol');
    const old = log.served!;
    log.append(2);
    expectCosigned(await round(carol), 5);
    log.override = old;
    const r = await round(carol);
    expect(r).toMatchObject({ status: 'alarm', alarm: { code: 'LOG_ROLLBACK', persistent: true } });
    // The honest log is back: the alarm stays until a person clears it.
    log.override = undefined;
    expect(await round(carol)).toMatchObject({ status: 'cosigned', size: 5 });
    expect(await readAlarm(carol.home)).toMatchObject({ code: 'LOG_ROLLBACK' });
  });

  it('LOG_KEY_CHANGED: the coordinator signs with another log key than the pinned one', async () => {
    const dave = await member('dave');
    expectCosigned(await round(dave), 3);
    const pinned = log.verifierKey;
    log.key = generateIdentityKey();
    log.append(1);
    const r = await round(dave);
    expect(r).toMatchObject({ status: 'alarm', alarm: { code: 'LOG_KEY_CHANGED' } });
    if (r.status !== 'alarm') return;
    const evidence = JSON.parse(readFileSync(join(dave.home.dir, r.alarm.evidence!), 'utf8')) as {
      pinned: string;
      served: string;
    };
    expect(evidence).toMatchObject({ pinned, served: log.verifierKey });
    expect(dave.home.config.coordinator?.logKey).toBe(pinned); // the pin is not moved
  });

  it('LOG_UNVERIFIABLE: a checkpoint that does not verify blocks approvals until a good round', async () => {
    const erin = await member('erin');
    expectCosigned(await round(erin), 3);
    const good = log.served!;
    // Same text, one bit of the log's Ed25519 signature flipped (after the 4-byte key id).
    const [text, line] = good.split('\n\n') as [string, string];
    const blob = Buffer.from(line.trim().split(' ').at(-1)!, 'base64');
    blob[10] = blob[10]! ^ 1;
    log.override = `${text}\n\n${line.trim().split(' ').slice(0, -1).join(' ')} ${blob.toString('base64')}\n`;
    const r = await round(erin);
    expect(r).toMatchObject({
      status: 'alarm',
      alarm: { code: 'LOG_UNVERIFIABLE', cause: 'NOTE_BAD_SIGNATURE', persistent: false },
    });
    log.override = undefined;
    expectCosigned(await round(erin), 3);
    expect(await readAlarm(erin.home)).toBeUndefined();
  });

  it('clearing the alarm keeps the evidence and trusts the log as it now is', async () => {
    const frank = await member('frank');
    expectCosigned(await round(frank), 3);
    log.rewrite(2);
    const r = await round(frank);
    expect(r.status).toBe('alarm');
    if (r.status !== 'alarm') return;
    const cleared = await clearAlarm(frank.home);
    expect(cleared?.code).toBe('LOG_FORK_DETECTED');
    expect(existsSync(join(frank.home.dir, r.alarm.evidence!))).toBe(true);
    expect(await readAlarm(frank.home)).toBeUndefined();
    expectCosigned(await round(frank), 3);
  });
});

describe('a session’s witness (LogWitness)', () => {
  /** A connection stand-in: the witness listens to connect, envelope and close. */
  function fakeConnection() {
    const h = {
      connect: [] as (() => void)[],
      envelope: [] as ((e: { body: { type: string } }) => void)[],
      close: [] as (() => void)[],
    };
    return {
      h,
      onConnect: (f: () => void) => (h.connect.push(f), () => undefined),
      onEnvelope: (f: (e: never) => void) => (h.envelope.push(f as never), () => undefined),
      onClose: (f: () => void) => (h.close.push(f), () => undefined),
    };
  }

  it('witnesses on connect and after a ceremony ends; refuses approval with LOG_FORK_DETECTED once caught', async () => {
    const alice = await member('alice');
    const conn = fakeConnection();
    const w = new LogWitness({
      home: alice.home,
      url: log.url,
      member: 'alice',
      key: alice.key,
      engine,
      connection: conn,
      intervalMs: 0,
    });
    for (const f of conn.h.connect) f();
    await expect(w.assertMayApprove()).resolves.toBeUndefined();
    expect(w.last).toMatchObject({ status: 'cosigned', size: 3 });
    log.append(1);
    for (const f of conn.h.envelope) f({ body: { type: 'sign.complete' } });
    await w.assertMayApprove();
    expect(w.last).toMatchObject({ status: 'cosigned', size: 4 });
    // Other envelopes do not start a round.
    log.append(1);
    for (const f of conn.h.envelope) f({ body: { type: 'sign.package' } });
    await w.assertMayApprove();
    expect(w.last).toMatchObject({ size: 4 });
    // The coordinator rewrites history; the next reconnect catches it and approvals stop.
    log.rewrite(0);
    for (const f of conn.h.connect) f();
    await expect(w.assertMayApprove()).rejects.toMatchObject({ code: 'LOG_FORK_DETECTED' });
    await expect(w.assertMayApprove()).rejects.toThrow(/conclave log witness --clear-alarm/);
    for (const f of conn.h.close) f();
    expect(await w.run()).toMatchObject({ status: 'unavailable', code: 'CONNECTION_CLOSED' });
  });

  it('an alarm raised by another process of the same home also blocks this session', async () => {
    const bob = await member('bob');
    const conn = fakeConnection();
    const w = new LogWitness({
      home: bob.home,
      url: log.url,
      member: 'bob',
      key: bob.key,
      engine,
      connection: conn,
      intervalMs: 0,
    });
    for (const f of conn.h.connect) f();
    await w.assertMayApprove();
    // `conclave log witness` in another process catches a rollback.
    const old = log.served!;
    log.append(1);
    expectCosigned(await round(bob), 4);
    log.override = old;
    expect(await round(bob)).toMatchObject({ status: 'alarm' });
    await expect(w.assertMayApprove()).rejects.toMatchObject({ code: 'LOG_ROLLBACK' });
  });
});
