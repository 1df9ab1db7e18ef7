// Connection (connection.ts) against a fake coordinator that answers the challenge and accepts the
// WebSocket upgrade but then says nothing: connect() must end with a coded TIMEOUT, not wait for
// auth.ok forever (an agent stuck there would never reconnect).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { generateIdentityKey } from '@conclave/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { Connection, type ConnectionOptions } from '../src/index.js';
import { answerChallenge } from './session-fixture.js';

const servers: Server[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await Promise.all(
    servers.splice(0).map((s) => {
      const closed = new Promise((r) => s.close(r));
      s.closeAllConnections(); // fetch's keep-alive sockets would hold close() for seconds
      return closed;
    }),
  );
});

/** A loopback server (closed after each test); handlers get its origin once it listens. */
async function serve(
  onRequest: (req: IncomingMessage, res: ServerResponse, origin: string) => void,
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<string> {
  let origin = '';
  const server = createServer((req, res) => onRequest(req, res, origin));
  if (onUpgrade !== undefined) server.on('upgrade', onUpgrade);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

/** alice's connection to `url`, with a placeholder coordinator key. */
const connectionTo = (url: string, options: Partial<ConnectionOptions> = {}): Connection =>
  new Connection({
    url,
    member: 'alice',
    key: generateIdentityKey(),
    coordinatorKey: new Uint8Array(32),
    ...options,
  });

/** Answers POST /v1/challenge; upgrades /v1/ws, sends auth.ok, then hands the socket to `talk`. */
async function authenticatingCoordinator(talk: (ws: WebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  return serve(
    (_req, res, origin) => answerChallenge(res, origin),
    (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        sockets.push(ws);
        ws.send(JSON.stringify({ type: 'auth.ok', member: 'alice' }));
        talk(ws);
      }),
  );
}

/** Answers POST /v1/challenge; upgrades /v1/ws and then never sends auth.ok. */
async function silentCoordinator(): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  return serve(
    (_req, res, origin) => answerChallenge(res, origin),
    (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => sockets.push(ws)),
  );
}

describe('Connection.connect', () => {
  it('fails with TIMEOUT when the coordinator upgrades but never sends auth.ok', async () => {
    const url = await silentCoordinator();
    const connection = connectionTo(url, { requestTimeoutMs: 300 });
    const outcome = await Promise.race([
      connection.connect().then(
        () => 'connected',
        (e: unknown) => e,
      ),
      new Promise((r) => setTimeout(() => r('still waiting'), 2_000).unref()),
    ]);
    expect(outcome).toMatchObject({ code: 'TIMEOUT' });
    expect(sockets.length).toBe(1);
    await connection.close();
  });
});

/** Answers the challenge, and GET /v1/artifacts/<sha> with `size` bytes (Content-Length or chunked). */
async function artifactCoordinator(size: number, declareLength: boolean): Promise<string> {
  return serve((req, res, origin) => {
    if (req.url?.startsWith('/v1/artifacts/') === true) {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...(declareLength ? { 'content-length': String(size) } : {}),
      });
      const chunk = Buffer.alloc(1024, 1);
      let left = size;
      const more = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      more();
      return;
    }
    answerChallenge(res, origin);
  });
}

describe('Connection.downloadArtifact', () => {
  const sha = 'ab'.repeat(32);
  it('refuses an answer larger than the cap (ARTIFACT_TOO_LARGE), declared or streamed', async () => {
    for (const declareLength of [true, false]) {
      const c = connectionTo(await artifactCoordinator(64 * 1024, declareLength));
      await expect(c.downloadArtifact(sha, 16 * 1024), String(declareLength)).rejects.toMatchObject(
        { code: 'ARTIFACT_TOO_LARGE' },
      );
    }
  });

  it('returns an answer within the cap whole', async () => {
    const c = connectionTo(await artifactCoordinator(16 * 1024 + 5, false));
    const bytes = await c.downloadArtifact(sha, 16 * 1024 + 5);
    expect(bytes.length).toBe(16 * 1024 + 5);
    expect(bytes.every((b) => b === 1)).toBe(true);
  });
});

/** Authenticates every upgrade with auth.ok; `answerPings` false plays a half-open peer. */
async function quietCoordinator(
  answerPings: boolean,
): Promise<{ url: string; upgrades: () => number }> {
  const wss = new WebSocketServer({ noServer: true, autoPong: answerPings });
  let upgrades = 0;
  const url = await serve(
    (_req, res, origin) => answerChallenge(res, origin),
    (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        upgrades += 1;
        sockets.push(ws);
        ws.send(JSON.stringify({ type: 'auth.ok', member: 'alice' }));
      }),
  );
  return { url, upgrades: () => upgrades };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Connection heartbeat (THREATS C.43)', () => {
  it('drops a connection whose peer stops answering pings, and the reconnect loop dials again', async () => {
    const coord = await quietCoordinator(false);
    const lines: string[] = [];
    const connection = connectionTo(coord.url, {
      reconnect: true,
      heartbeatMs: 100,
      log: (l) => lines.push(l),
    });
    let reconnected = false;
    connection.onConnect(() => (reconnected = coord.upgrades() > 1));
    await connection.connect();
    expect(coord.upgrades()).toBe(1);
    for (let i = 0; i < 40 && !reconnected; i++) await sleep(50);
    await connection.close();
    expect(reconnected).toBe(true);
    expect(lines.some((l) => /no pong/.test(l))).toBe(true);
  });

  it('keeps a connection whose peer answers pings', async () => {
    const coord = await quietCoordinator(true);
    const connection = connectionTo(coord.url, { reconnect: true, heartbeatMs: 50 });
    await connection.connect();
    await sleep(500);
    expect(connection.connected).toBe(true);
    expect(coord.upgrades()).toBe(1);
    await connection.close();
  });
});

describe('Connection: a ceremony.status from a newer coordinator', () => {
  it('is delivered with the fields it knows when it carries fields it does not', async () => {
    const status = {
      type: 'ceremony.status',
      ceremonyId: `c_${'a'.repeat(32)}`,
      kind: 'sign',
      state: 'signing.awaitingCommitments',
      group: 'web',
      threshold: 2,
      members: ['alice', 'bob', 'carol'],
      approvals: ['alice', 'bob'],
      rejections: [],
      session: 1,
      culprits: [],
      needsCommitment: ['alice'],
      somethingNewer: { any: 'shape' },
      updatedAt: 1_700_000_000_000,
    };
    const url = await authenticatingCoordinator((ws) => ws.send(JSON.stringify(status)));
    const connection = connectionTo(url);
    const got = new Promise<[unknown, Record<string, unknown>]>((resolve) =>
      connection.onStatus((s, raw) => resolve([s, raw])),
    );
    await connection.connect();
    const [parsed, raw] = await got;
    expect(parsed).toMatchObject({ ceremonyId: status.ceremonyId, needsCommitment: ['alice'] });
    expect(parsed).not.toHaveProperty('somethingNewer');
    expect(raw['somethingNewer']).toEqual({ any: 'shape' });
    await connection.close();
  });
});

describe('Connection.query naming a ceremony', () => {
  it('ends with the coordinator’s refusal naming that ceremony, not at its timeout', async () => {
    const ceremonyId = `c_${'b'.repeat(32)}`;
    const url = await authenticatingCoordinator((ws) =>
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as { type?: string };
        if (frame.type !== 'key.outcome.get') return;
        ws.send(
          JSON.stringify({
            type: 'error',
            code: 'CEREMONY_NOT_FOUND',
            message: `no ceremony ${ceremonyId}`,
            ceremonyId,
          }),
        );
      }),
    );
    // Unmatched, the refusal would leave the query to this timeout (TIMEOUT).
    const connection = connectionTo(url, { requestTimeoutMs: 2_000 });
    await connection.connect();
    await expect(
      connection.query({ type: 'key.outcome.get', ceremonyId }, 'key.outcome'),
    ).rejects.toMatchObject({ code: 'CEREMONY_NOT_FOUND' });
    await connection.close();
  });
});

describe('Connection.sendUntilRecorded', () => {
  const ceremonyId = `c_${'c'.repeat(32)}`;
  const body = { type: 'sign.reject', requestDigest: 'ab'.repeat(32), reason: 'no' } as const;

  it('sends the same envelope again after the ack was lost, and takes REPLAYED_MESSAGE as recorded', async () => {
    const seen: { seq: number; signature: string }[] = [];
    const url = await authenticatingCoordinator((ws) =>
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as {
          type?: string;
          seq?: number;
          signature?: string;
        };
        if (frame.type !== 'envelope') return;
        seen.push({ seq: frame.seq!, signature: frame.signature! });
        // The first copy is "recorded", then the connection drops before the ack goes out.
        if (seen.length === 1) ws.terminate();
        else
          ws.send(
            JSON.stringify({
              type: 'error',
              code: 'REPLAYED_MESSAGE',
              message: 'message was already received',
              ceremonyId,
            }),
          );
      }),
    );
    const connection = connectionTo(url, { reconnect: true, requestTimeoutMs: 5_000 });
    await connection.connect();
    const seq = await connection.sendUntilRecorded(ceremonyId, '1', body, 10_000);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]); // the very same envelope: seq and signature
    expect(seq).toBe(seen[0]!.seq);
    await connection.close();
  });

  it('rejects a refusal at once, and a lost connection that will not reconnect', async () => {
    const refusing = await authenticatingCoordinator((ws) =>
      ws.on('message', () =>
        ws.send(JSON.stringify({ type: 'error', code: 'DUPLICATE', message: 'x', ceremonyId })),
      ),
    );
    const a = connectionTo(refusing, { reconnect: true });
    await a.connect();
    await expect(a.sendUntilRecorded(ceremonyId, '1', body, 10_000)).rejects.toMatchObject({
      code: 'DUPLICATE',
    });
    await a.close();
    const dropping = await authenticatingCoordinator((ws) =>
      ws.on('message', () => ws.terminate()),
    );
    const b = connectionTo(dropping);
    await b.connect();
    const started = Date.now();
    await expect(b.sendUntilRecorded(ceremonyId, '1', body, 10_000)).rejects.toMatchObject({
      code: 'CONNECTION_CLOSED',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    await b.close();
  });
});
