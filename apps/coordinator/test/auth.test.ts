// Connection refusals happen in the HTTP upgrade (THREATS C.35): a status, a JSON body with the
// code, a destroyed socket, and no database rows.
import { generateIdentityKey, newCeremonyId, PROTOCOL_VERSION } from '@conclave/protocol';
import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  metricsText,
  authHeaders,
  connect,
  expectAck,
  fetchChallenge,
  tryUpgrade,
  type TestCoordinator,
  testScope,
} from './helpers.js';

const { fresh } = testScope();

class TestClock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

const TABLES = [
  'members',
  'groups',
  'ceremonies',
  'transcript',
  'seen_messages',
  'commitments',
  'sessions',
  'signatures',
  'admin_log',
];

function rowCounts(t: TestCoordinator): Record<string, number> {
  const db = (t.handle.store as unknown as { db: { prepare(s: string): { get(): unknown } } }).db;
  return Object.fromEntries(
    TABLES.map((name) => [
      name,
      (db.prepare(`SELECT COUNT(*) AS n FROM ${name}`).get() as { n: number }).n,
    ]),
  );
}

async function addMember(t: TestCoordinator, name: string) {
  const key = generateIdentityKey();
  const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
  expectAck(
    await admin.submit(newCeremonyId(), {
      type: 'admin.member.add',
      member: name,
      identityKey: Buffer.from(key.publicKey).toString('hex'),
      roles: ['lead'],
    }),
  );
  return { key, admin };
}

describe('upgrade-time authentication', () => {
  it('refuses an unauthenticated upgrade with 401 and writes nothing', async () => {
    const t = await fresh();
    await addMember(t, 'alice');
    const before = rowCounts(t);
    const bare = await tryUpgrade(t.handle.url, {});
    expect(bare.status).toBe(401);
    expect(bare.body.code).toBe('UNAUTHENTICATED');
    const noCredentials = await tryUpgrade(t.handle.url, {
      'x-conclave-protocol': String(PROTOCOL_VERSION),
    });
    expect(noCredentials.status).toBe(401);
    expect(noCredentials.body.code).toBe('UNAUTHENTICATED');
    const unknownChallenge = await tryUpgrade(t.handle.url, {
      'x-conclave-protocol': String(PROTOCOL_VERSION),
      'x-conclave-member': 'alice',
      'x-conclave-challenge': '00'.repeat(32),
      'x-conclave-signature': '00'.repeat(64),
    });
    expect(unknownChallenge.status).toBe(401);
    expect(unknownChallenge.body.code).toBe('UNAUTHENTICATED');
    expect(rowCounts(t)).toEqual(before);
  });

  it('refuses an expired challenge', async () => {
    const monotonic = new TestClock();
    const t = await fresh({ monotonic });
    const { key } = await addMember(t, 'alice');
    const challenge = await fetchChallenge(t.handle.url);
    monotonic.offset = 31_000;
    const r = await tryUpgrade(t.handle.url, authHeaders(challenge, key, 'alice', t.handle.url));
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('AUTH_CHALLENGE_EXPIRED');
  });

  it('times challenges, challenge windows and frame budgets by the monotonic clock (D.52)', async () => {
    const wall = new TestClock();
    const monotonic = new TestClock();
    const t = await fresh({
      clock: wall,
      monotonic,
      limits: { challengeRateLimit: { perIp: 4, windowMs: 60_000 } },
    });
    const url = t.handle.url;
    const { key, admin } = await addMember(t, 'alice'); // challenge 1
    // The wall clock steps forward past the TTL: a fresh challenge still authenticates.
    const challenge = await fetchChallenge(url); // 2
    expect(challenge.expiresAt).toBeGreaterThan(wall.now()); // on the wire: wall-clock time
    wall.offset = 31_000;
    expect((await tryUpgrade(url, authHeaders(challenge, key, 'alice', url))).status).toBe(101);
    // The wall clock steps back an hour: an open connection keeps its frame budget ...
    wall.offset = -3_600_000;
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.add',
        member: 'bob',
        identityKey: Buffer.from(generateIdentityKey().publicKey).toString('hex'),
        roles: ['lead'],
      }),
    );
    // ... and a used-up challenge window ends when the window has passed, not an hour later.
    await fetchChallenge(url); // 3
    await fetchChallenge(url); // 4
    const post = () => fetch(`${url}/v1/challenge`, { method: 'POST' });
    expect((await post()).status).toBe(429);
    monotonic.offset = 61_000;
    expect((await post()).status).toBe(200);
  });

  it('refuses a reused challenge', async () => {
    const t = await fresh();
    const { key } = await addMember(t, 'alice');
    const challenge = await fetchChallenge(t.handle.url);
    const headers = authHeaders(challenge, key, 'alice', t.handle.url);
    expect((await tryUpgrade(t.handle.url, headers)).status).toBe(101);
    const again = await tryUpgrade(t.handle.url, headers);
    expect(again.status).toBe(401);
    expect(again.body.code).toBe('AUTH_CHALLENGE_REUSED');
  });

  it('refuses a wrong signature, an unknown member and a revoked member', async () => {
    const t = await fresh();
    const { admin } = await addMember(t, 'alice');
    const before = rowCounts(t);
    const wrongKey = generateIdentityKey();
    const bad = await tryUpgrade(
      t.handle.url,
      authHeaders(await fetchChallenge(t.handle.url), wrongKey, 'alice', t.handle.url),
    );
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('AUTH_BAD_SIGNATURE');
    const unknown = await tryUpgrade(
      t.handle.url,
      authHeaders(await fetchChallenge(t.handle.url), wrongKey, 'mallory', t.handle.url),
    );
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('UNKNOWN_MEMBER');
    // A challenge signed for another origin does not verify here either.
    const otherOrigin = await fetchChallenge(t.handle.url);
    const relayed = await tryUpgrade(
      t.handle.url,
      authHeaders({ ...otherOrigin, origin: 'http://evil:1' }, wrongKey, 'alice', 'http://evil:1'),
    );
    expect(relayed.status).toBe(401);
    expect(rowCounts(t)).toEqual(before);

    const { key: bobKey } = await addMember(t, 'bob');
    const bob = await connect(t.handle.url, bobKey, 'bob', t.coordinatorKey);
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'bob',
        reason: 'left the team',
      }),
    );
    expect((await bob.closed).code).toBe(1008);
    const revoked = await tryUpgrade(
      t.handle.url,
      authHeaders(await fetchChallenge(t.handle.url), bobKey, 'bob', t.handle.url),
    );
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe('MEMBER_REVOKED');
  });

  it('answers 426 for another protocol version', async () => {
    const t = await fresh();
    const { key } = await addMember(t, 'alice');
    const headers = authHeaders(await fetchChallenge(t.handle.url), key, 'alice', t.handle.url);
    // '1': a client from before signed pairwise boxes, which would fail mid-DKG if let in
    for (const version of ['999', '1']) {
      const r = await tryUpgrade(t.handle.url, { ...headers, 'x-conclave-protocol': version });
      expect(r.status).toBe(426);
      expect(r.body.code).toBe('PROTOCOL_VERSION_MISMATCH');
      expect(r.body.message).toContain(`speaks protocol ${PROTOCOL_VERSION}`);
      expect(r.body.message).not.toContain(version === '1' ? 'protocol 1' : '999');
    }
  });

  it('caps connections per IP and rate-limits challenges', async () => {
    const t = await fresh({
      limits: { maxConnectionsPerIp: 2, challengeRateLimit: { perIp: 6, windowMs: 60_000 } },
    });
    const { key, admin } = await addMember(t, 'alice');
    await connect(t.handle.url, key, 'alice', t.coordinatorKey);
    const third = await tryUpgrade(
      t.handle.url,
      authHeaders(await fetchChallenge(t.handle.url), key, 'alice', t.handle.url),
    );
    expect(third.status).toBe(429);
    expect(third.body.code).toBe('RATE_LIMITED');
    await admin.close();
    let limited = 0;
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${t.handle.url}/v1/challenge`, { method: 'POST' });
      if (res.status === 429) limited += 1;
    }
    expect(limited).toBeGreaterThan(0);
  });

  it('behind a trusted proxy, counts each forwarded client under its own address; from others the header is ignored', async () => {
    const limits = { challengeRateLimit: { perIp: 1, windowMs: 60_000 } };
    const challenge = (t: TestCoordinator, forwardedFor: string) =>
      fetch(`${t.handle.url}/v1/challenge`, {
        method: 'POST',
        headers: { 'x-forwarded-for': forwardedFor },
      }).then((r) => r.status);
    const proxied = await fresh({ trustedProxies: ['127.0.0.1'], limits });
    expect(await challenge(proxied, '203.0.113.1')).toBe(200);
    expect(await challenge(proxied, '203.0.113.1')).toBe(429);
    // What a client wrote to the left of its proxy's entry changes nothing.
    expect(await challenge(proxied, '203.0.113.9, 203.0.113.1')).toBe(429);
    expect(await challenge(proxied, '203.0.113.1, 203.0.113.2')).toBe(200);
    const direct = await fresh({ limits });
    expect(await challenge(direct, '203.0.113.1')).toBe(200);
    expect(await challenge(direct, '203.0.113.2')).toBe(429);
  });

  it('serves /v1/info, /healthz and /metrics', async () => {
    const t = await fresh();
    const info = await (await fetch(`${t.handle.url}/v1/info`)).json();
    expect(info).toEqual({
      protocolVersion: PROTOCOL_VERSION,
      origin: t.handle.origin,
      coordinatorKey: t.handle.coordinatorPublicKey,
      adminKey: t.handle.adminPublicKey,
    });
    const health = await fetch(`${t.handle.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, db: true });
    await addMember(t, 'alice');
    // Metrics are the operator's: the auditor token, not anyone who can reach the port.
    for (const authorization of [undefined, 'Bearer not-the-token']) {
      const denied = await fetch(`${t.handle.url}/metrics`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    const metrics = await metricsText(t.handle);
    expect(metrics).toContain('conclave_connections 1');
    expect(metrics).toContain('conclave_sign_latency_seconds');
    expect(metrics).toContain('conclave_approvals_total');
    expect(metrics).toContain('conclave_culprits_total');
    expect(metrics).toContain('conclave_ceremonies');
  });
});

/** The status line of a raw HTTP/1.1 request with this request target (Node's parser allows it). */
function rawStatus(url: string, target: string, upgrade = false): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: x\r\n` +
          (upgrade
            ? 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
            : '') +
          'Connection: close\r\n\r\n',
      );
    });
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
  });
}

describe('hostile HTTP request targets (THREATS #44)', () => {
  it('answers a target that is not a path with 400 INVALID_MESSAGE, and stays up', async () => {
    const t = await fresh();
    for (const target of ['http://x:99999/', '//[::1/', '//evil.example/v1/info', '*']) {
      expect(await rawStatus(t.handle.url, target), target).toBe('HTTP/1.1 400 Bad Request');
    }
    // An upgrade to such a target is refused as not found, before any parsing.
    expect(await rawStatus(t.handle.url, 'http://x:99999/v1/ws', true)).toMatch(/^HTTP\/1.1 404/);
    const health = await fetch(`${t.handle.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('a groups row that does not parse fails no member’s connect: auth.ok, and the server stays up', async () => {
    const t = await fresh();
    const { key } = await addMember(t, 'alice');
    const db = (t.handle.store as unknown as { db: { exec(s: string): void } }).db;
    db.exec(
      'INSERT INTO groups (name, threshold, members, state, ceremony_id, created_at, updated_at) ' +
        "VALUES ('web', 2, 'not json', 'active', 'c_x', 0, 0)",
    );
    const alice = await connect(t.handle.url, key, 'alice', t.coordinatorKey);
    expect(alice).toBeDefined();
    expect((await fetch(`${t.handle.url}/healthz`)).status).toBe(200);
  });
});
