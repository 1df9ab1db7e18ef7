// HTTP + WebSocket front (THREATS C): `ws` in noServer mode, authentication in the `upgrade` handler
// (refusals are an HTTP status with a JSON body and a destroyed socket: no DB rows), small frames,
// no compression, heartbeat, per-IP and global caps, slow-consumer cutoff, error budget.
import {
  STATUS_CODES,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import {
  ADMIN_ID,
  AuthResponseSchema,
  COORDINATOR_ID,
  ChallengeBook,
  PROTOCOL_VERSION,
  bytesToHex,
  hexToBytes,
  verifyAuthResponse,
  versionMismatchMessage,
  type ErrorCode,
} from '@conclave/protocol';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { CeremonyRunner, Hub } from './ceremonies.js';
import { RateWindows, addressKey, canonicalAddress, clientAddress, type Limits } from './limits.js';
import type { Logger } from './logger.js';
import type { Dispatcher } from './messages.js';
import { recordRevokedRefusal, type Metrics } from './metrics.js';
import { FaultLog, serverFault, type Clock, type TurnQueue } from './runtime.js';
import type { Store } from './store.js';
import type { ArtifactStore } from './artifacts.js';
import type { AuditHttp, RequestAuthenticator } from './web/routes.js';

export const WS_PATH = '/v1/ws';

/**
 * Monotonic milliseconds (arbitrary origin) for the security timing of the edge (THREATS D.52):
 * challenge lifetimes, challenge rate windows and frame budgets. A wall-clock step (NTP, a VM
 * resumed, an operator) must neither expire fresh challenges nor freeze a rate window for hours.
 */
export const monotonicClock: Clock = { now: () => Math.floor(performance.now()) };

export interface ServerDeps {
  readonly limits: Limits;
  readonly logger: Logger;
  /** Wall-clock time: what is stored or shown (timestamps, revocation times). */
  readonly clock: Clock;
  /** Time for the edge's security decisions (D.52); default monotonicClock. */
  readonly monotonic?: Clock;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly coordinatorPublicKey: Uint8Array;
  readonly adminPublicKey: Uint8Array;
  /** Origin clients dial (and sign); default `http://HOST:PORT`. */
  readonly origin?: string;
  /**
   * Reverse proxies whose `X-Forwarded-For` names the client for the per-address caps (exact
   * addresses; `clientAddress` in limits.ts). Empty: every peer is the client.
   */
  readonly trustedProxies?: readonly string[];
  /** The transparency log's and auditors' HTTP routes (web/routes.ts). */
  readonly audit?: AuditHttp;
  readonly artifacts?: ArtifactStore;
  /** Where received frames are handled, one per event-loop turn (runtime.ts); inline if absent. */
  readonly turns?: TurnQueue;
  /** The coordinator's one log of server faults (shared with the dispatcher and the HTTP routes). */
  readonly faults?: FaultLog;
}

interface Conn {
  readonly ws: WebSocket;
  readonly member: string;
  /** addressKey of the peer: what the per-address cap counts. */
  readonly ip: string;
  alive: boolean;
  errors: number;
  tokens: number;
  refilledAt: number;
  /** Frames received and not yet handled (turn queue). */
  queued: number;
  /** Reading is paused because `queued` reached the limit. */
  paused: boolean;
}

const noop = (): void => {};

/**
 * Whether an HTTP request target is a path every route can parse: origin-form (`/…`, not the
 * protocol-relative `//…`) that the WHATWG URL parser takes. Node's parser also lets through
 * absolute-form targets (`http://x:99999/`) that `new URL` throws on.
 */
export function isParsablePath(target: string): boolean {
  if (!target.startsWith('/') || target.startsWith('//')) return false;
  try {
    new URL(target, 'http://localhost');
    return true;
  } catch {
    return false;
  }
}

/** Challenge rate windows kept at once (C.41); past it the oldest window is dropped. */
const MAX_CHALLENGE_WINDOWS = 10_000;

export class CoordinatorServer {
  readonly http: Server;
  readonly wss: WebSocketServer;
  readonly hub: Hub;
  readonly #deps: ServerDeps;
  readonly #byMember = new Map<string, Set<Conn>>();
  readonly #perIp = new Map<string, number>();
  /** Challenge rate windows by addressKey (an IPv6 /64 is one address). */
  readonly #challengeWindows: RateWindows;
  #total = 0;
  readonly #mono: Clock;
  #book: ChallengeBook | null = null;
  #origin = '';
  #heartbeat: NodeJS.Timeout | null = null;
  runner: CeremonyRunner | null = null;
  dispatcher: Dispatcher | null = null;
  readonly #faults: FaultLog;
  /** canonicalAddress of each trusted proxy. */
  readonly #trustedProxies: ReadonlySet<string>;

  constructor(deps: ServerDeps) {
    this.#deps = deps;
    this.#trustedProxies = new Set(
      (deps.trustedProxies ?? []).map((a) => {
        const c = canonicalAddress(a);
        if (c === undefined)
          throw new Error(`trusted proxy ${JSON.stringify(a)} is not an IP address`);
        return c;
      }),
    );
    this.#mono = deps.monotonic ?? monotonicClock;
    this.#faults = deps.faults ?? new FaultLog(deps.logger, () => this.#mono.now());
    const { limits } = deps;
    this.#challengeWindows = new RateWindows({
      perKey: limits.challengeRateLimit.perIp,
      windowMs: limits.challengeRateLimit.windowMs,
      maxKeys: MAX_CHALLENGE_WINDOWS,
    });
    this.http = createServer({
      headersTimeout: limits.headersTimeoutMs,
      // Armed per request in #request instead: Node's applies to every body, artifact uploads
      // included, and is only checked every 30 s (connectionsCheckingInterval).
      requestTimeout: 0,
    });
    this.http.on('request', (req, res) => this.#request(req, res));
    this.http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
    this.http.on('connection', (socket) => {
      socket.on('error', noop);
      // Slowloris: a socket must finish its request or upgrade in time (ws clears this after).
      socket.setTimeout(limits.authDeadlineMs, () => socket.destroy());
    });
    this.http.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxPayload,
      perMessageDeflate: limits.perMessageDeflate,
      clientTracking: false,
      ...({ maxFragments: limits.maxFragments } as object),
    });
    this.wss.on('error', (e) => deps.logger.error('ws server error', { error: e.name }));
    this.hub = {
      send: (member, frame) => {
        for (const conn of this.#byMember.get(member) ?? []) this.#send(conn, frame);
      },
    };
  }

  get origin(): string {
    return this.#origin;
  }

  get connections(): number {
    return this.#total;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen({ host, port, backlog: this.#deps.limits.backlog }, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.http.on('error', (e) => this.#deps.logger.error('http server error', { error: e.name }));
    const address = this.http.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#origin = this.#deps.origin ?? `http://${hostForUrl}:${address.port}`;
    this.#book = new ChallengeBook(
      this.#origin,
      this.#deps.limits.challengeTtlMs,
      this.#deps.limits.maxOutstandingChallenges,
    );
    this.#heartbeat = setInterval(() => this.#beat(), this.#deps.limits.heartbeatIntervalMs);
    this.#heartbeat.unref();
    return address.port;
  }

  async close(): Promise<void> {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    for (const set of this.#byMember.values()) for (const c of set) c.ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** Closes every connection of `member` (revocation). */
  disconnect(member: string): void {
    for (const conn of this.#byMember.get(member) ?? []) conn.ws.close(1008, 'revoked');
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  /**
   * A response is finished only once the writes it may report are on disk (D.48): `res.end` waits
   * in store.afterDurable. After a failed sync it is cut off instead, except /healthz, which then
   * reports the failure (503).
   */
  #holdUntilDurable(req: IncomingMessage, res: ServerResponse): void {
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    const health = (req.url ?? '').split('?')[0] === '/healthz';
    res.end = ((...args: unknown[]) => {
      this.#deps.store.afterDurable(
        () => end(...args),
        () => (health ? end(...args) : res.destroy()),
      );
      return res;
    }) as typeof res.end;
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(text);
  }

  /**
   * Slowloris (C.40): a request with a body must have sent all of it within requestTimeoutMs, or
   * its connection is closed (408 if nothing was answered yet). Returns the call that lifts it,
   * for an artifact upload, which keeps its own progress timeout.
   */
  #bodyDeadline(req: IncomingMessage, res: ServerResponse): () => void {
    const length = req.headers['content-length'];
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!hasBody) return noop;
    const timer = setTimeout(() => {
      if (!res.headersSent) {
        res.shouldKeepAlive = false;
        this.#json(res, 408, {
          code: 'DEADLINE_EXCEEDED',
          message: `request body not received within ${this.#deps.limits.requestTimeoutMs} ms`,
        });
      }
      req.socket.destroySoon();
      const hard = setTimeout(() => req.socket.destroy(), 1000);
      hard.unref();
    }, this.#deps.limits.requestTimeoutMs);
    timer.unref();
    const lift = (): void => clearTimeout(timer);
    req.once('end', lift);
    req.once('close', lift);
    return lift;
  }

  /**
   * One HTTP request. Nothing a request carries may end the process (THREATS #44): a throw from
   * any route, its parsing included, is answered as a fault here, never left to escape the
   * 'request' listener (Node would exit on it).
   */
  #request(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', noop);
    req.on('error', noop);
    try {
      this.#route(req, res);
    } catch (e) {
      this.#answerFault(e, res, 'http');
    }
  }

  /** A fault answered as JSON while the response has not started, else the socket is cut. */
  #answerFault(e: unknown, res: ServerResponse, where: string): void {
    const fault = serverFault(e);
    this.#faults.report(e, fault, where);
    if (res.headersSent) res.destroy();
    else this.#json(res, fault.status, { code: fault.code, message: fault.message });
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    // A request target that is not a path (absolute-form `http://host:99999/`, `//[::1/`) names
    // none of our routes: refused before any route parses it.
    if (!isParsablePath(req.url ?? '/')) {
      req.resume();
      return this.#json(res, 400, {
        code: 'INVALID_MESSAGE',
        message: 'the request target must be a path such as /v1/info',
      });
    }
    this.#holdUntilDurable(req, res);
    const lift = this.#bodyDeadline(req, res);
    if (this.#deps.audit?.handle(req, res, this.authenticateRequest) === true) return;
    const auditor = (r: IncomingMessage) => this.#deps.audit?.isAuditor(r) === true;
    if (this.#deps.artifacts?.handle(req, res, this.authenticateRequest, lift, auditor) === true)
      return;
    req.resume();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const deps = this.#deps;
    if (method === 'GET' && path === '/v1/info') {
      return this.#json(res, 200, {
        protocolVersion: PROTOCOL_VERSION,
        origin: this.#origin,
        coordinatorKey: bytesToHex(deps.coordinatorPublicKey),
        adminKey: bytesToHex(deps.adminPublicKey),
      });
    }
    if (method === 'POST' && path === '/v1/challenge') return this.#challenge(req, res);
    if (method === 'GET' && path === '/healthz') {
      const db = deps.store.ping();
      return this.#json(res, db ? 200 : 503, {
        ok: db,
        db,
        protocolVersion: PROTOCOL_VERSION,
        connections: this.#total,
        openCeremonies: this.runner?.live.size ?? 0,
      });
    }
    if (method === 'GET' && path === '/metrics') {
      // Per-member approval latencies, refusal and decline counts, the event-loop window each
      // scrape resets: the operator's, not the internet's. Prometheus sends the auditor token as
      // a bearer credential (authorization.credentials_file).
      if (deps.audit?.isAuditor(req) !== true) {
        res.setHeader('www-authenticate', 'Bearer realm="Conclave metrics"');
        return this.#json(res, 401, {
          code: 'UNAUTHENTICATED',
          message:
            "/metrics needs the auditor token as a bearer credential (Authorization: Bearer …, from the coordinator's auditor.token)",
        });
      }
      void deps.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
          res.end(text);
        },
        () => this.#json(res, 500, { code: 'INTERNAL', message: 'metrics unavailable' }),
      );
      return;
    }
    this.#json(res, 404, { code: 'UNEXPECTED_MESSAGE', message: 'not found' });
  }

  /** The key the per-address caps count this request under (C.41), through trusted proxies. */
  #clientKey(req: IncomingMessage): string {
    return addressKey(
      clientAddress(
        req.socket.remoteAddress ?? 'unknown',
        req.headers['x-forwarded-for'],
        this.#trustedProxies,
      ),
    );
  }

  #challenge(req: IncomingMessage, res: ServerResponse): void {
    const ip = this.#clientKey(req);
    const now = this.#mono.now();
    if (!this.#challengeWindows.take(ip, now)) {
      this.#deps.metrics.refused.inc({ code: 'RATE_LIMITED' });
      return this.#json(res, 429, { code: 'RATE_LIMITED', message: 'too many challenges' });
    }
    const issued = this.#book?.issue(now);
    if (issued === undefined || !issued.ok) {
      return this.#json(res, 429, { code: 'RATE_LIMITED', message: 'too many open challenges' });
    }
    // The book keeps monotonic expiries; the client is told the wall-clock time (informational).
    const expiresAt = this.#deps.clock.now() + (issued.value.expiresAt - now);
    this.#json(res, 200, { ...issued.value, expiresAt });
  }

  /**
   * Member authentication of a plain HTTP request with the upgrade's headers (x-conclave-protocol,
   * -member, -challenge, -signature over a challenge from POST /v1/challenge): POST /v1/log/cosign
   * and member bundle downloads. The challenge is consumed.
   */
  readonly authenticateRequest: RequestAuthenticator = (req) => {
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const response = AuthResponseSchema.safeParse({
      type: 'auth.response',
      member: header('x-conclave-member'),
      challenge: header('x-conclave-challenge'),
      signature: header('x-conclave-signature'),
    });
    if (
      header('x-conclave-protocol') !== String(PROTOCOL_VERSION) ||
      !response.success ||
      response.data.member === COORDINATOR_ID ||
      response.data.member === ADMIN_ID ||
      this.#book === null
    ) {
      return { ok: false, code: 'UNAUTHENTICATED', message: 'missing or malformed credentials' };
    }
    const now = this.#mono.now();
    const consumed = this.#book.consume(response.data.challenge, now);
    if (!consumed.ok)
      return { ok: false, code: consumed.error.code, message: consumed.error.message };
    const verified = verifyAuthResponse(response.data, {
      challenge: consumed.value,
      now,
      lookup: (name) => this.#registered(name, this.#deps.clock.now()),
    });
    if (!verified.ok)
      return { ok: false, code: verified.error.code, message: verified.error.message };
    return { ok: true, member: verified.value.member };
  };

  /** Registry lookup for authentication; a revoked member's refusal feeds the revocation metric. */
  #registered(name: string, now: number): { publicKey: Uint8Array; revoked: boolean } | undefined {
    if (name === ADMIN_ID) return { publicKey: this.#deps.adminPublicKey, revoked: false };
    const m = this.#deps.store.getMember(name);
    if (m === undefined) return undefined;
    if (m.revokedAt !== null) recordRevokedRefusal(this.#deps.metrics, name, m.revokedAt, now);
    return { publicKey: hexToBytes(m.identityKey, 32), revoked: m.revokedAt !== null };
  }

  // -------------------------------------------------------------------------------------------
  // Upgrade: authenticate before a WebSocket exists (THREATS C.35)

  #refuse(socket: Duplex, status: number, code: ErrorCode, message: string): void {
    this.#deps.metrics.refused.inc({ code });
    const body = JSON.stringify({ code, message });
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
  }

  /** An upgrade; like #request, no throw of it escapes to end the process. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop);
    try {
      this.#upgradeOrRefuse(req, socket, head);
    } catch (e) {
      const fault = serverFault(e);
      this.#faults.report(e, fault, 'upgrade');
      if (socket.writable) this.#refuse(socket, fault.status, fault.code, fault.message);
      else socket.destroy();
    }
  }

  #upgradeOrRefuse(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const limits = this.#deps.limits;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WS_PATH) return this.#refuse(socket, 404, 'UNEXPECTED_MESSAGE', 'not found');
    const ip = this.#clientKey(req);
    if (this.#total >= limits.maxConnections) {
      return this.#refuse(socket, 503, 'RATE_LIMITED', 'too many connections');
    }
    if ((this.#perIp.get(ip) ?? 0) >= limits.maxConnectionsPerIp) {
      return this.#refuse(socket, 429, 'RATE_LIMITED', 'too many connections from this address');
    }
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const version = header('x-conclave-protocol');
    if (version !== undefined && version !== String(PROTOCOL_VERSION)) {
      return this.#refuse(
        socket,
        426,
        'PROTOCOL_VERSION_MISMATCH',
        versionMismatchMessage('this coordinator'),
      );
    }
    const response = AuthResponseSchema.safeParse({
      type: 'auth.response',
      member: header('x-conclave-member'),
      challenge: header('x-conclave-challenge'),
      signature: header('x-conclave-signature'),
    });
    if (
      version === undefined ||
      !response.success ||
      response.data.member === COORDINATOR_ID ||
      this.#book === null
    ) {
      return this.#refuse(socket, 401, 'UNAUTHENTICATED', 'missing or malformed credentials');
    }
    const now = this.#mono.now();
    const consumed = this.#book.consume(response.data.challenge, now);
    if (!consumed.ok) return this.#refuse(socket, 401, consumed.error.code, consumed.error.message);
    const verified = verifyAuthResponse(response.data, {
      challenge: consumed.value,
      now,
      lookup: (name) => this.#registered(name, this.#deps.clock.now()),
    });
    if (!verified.ok) return this.#refuse(socket, 401, verified.error.code, verified.error.message);
    const member = verified.value.member;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.#connected(ws, member, ip));
  }

  #connected(ws: WebSocket, member: string, ip: string): void {
    const conn: Conn = {
      ws,
      member,
      ip,
      alive: true,
      errors: 0,
      tokens: this.#deps.limits.maxMessagesPerSecond,
      refilledAt: this.#mono.now(),
      queued: 0,
      paused: false,
    };
    let set = this.#byMember.get(member);
    if (set === undefined) {
      set = new Set();
      this.#byMember.set(member, set);
    }
    set.add(conn);
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.#total += 1;
    this.#deps.metrics.connections.set(this.#total);
    ws.on('error', noop);
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', () => {
      const s = this.#byMember.get(member);
      s?.delete(conn);
      if (s?.size === 0) this.#byMember.delete(member);
      const n = (this.#perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, n);
      this.#total -= 1;
      this.#deps.metrics.connections.set(this.#total);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.#message(conn, data, isBinary));
    this.#send(conn, { type: 'auth.ok', member });
    try {
      this.dispatcher?.onConnect(member, (frame) => this.#send(conn, frame));
    } catch (e) {
      // What is re-sent on connect failed (a row that does not parse, storage): the connection
      // stays, the member can still act, and the fault is logged for the operator.
      this.#faults.report(e, serverFault(e), 'connect');
    }
  }

  #message(conn: Conn, data: RawData, _isBinary: boolean): void {
    const limits = this.#deps.limits;
    const now = this.#mono.now();
    conn.tokens = Math.min(
      limits.maxMessagesPerSecond,
      conn.tokens + ((now - conn.refilledAt) / 1000) * limits.maxMessagesPerSecond,
    );
    conn.refilledAt = now;
    let error: { code: string } | null;
    if (conn.tokens < 1) {
      error = { code: 'RATE_LIMITED' };
      this.#send(conn, { type: 'error', code: 'RATE_LIMITED', message: 'too many messages' });
    } else {
      conn.tokens -= 1;
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      const handle = () => {
        const refused =
          this.dispatcher?.handleFrame(
            conn.member,
            bytes,
            (frame) => this.#send(conn, frame),
            (late) => this.#countError(conn, late),
          ) ?? null;
        if (refused !== null) this.#countError(conn, refused);
      };
      // Rate limiting above stays at receipt; the frame itself waits for its turn (in order).
      // Past maxQueuedFramesPerConnection waiting frames, stop reading this socket until half
      // are handled, so a flood queues in the peer's TCP window, not in our heap.
      const turns = this.#deps.turns;
      if (turns === undefined) handle();
      else {
        conn.queued += 1;
        if (!conn.paused && conn.queued >= limits.maxQueuedFramesPerConnection) {
          conn.paused = true;
          conn.ws.pause();
          this.#deps.metrics.connectionPauses.inc();
        }
        turns.push(() => {
          conn.queued -= 1;
          if (conn.paused && conn.queued <= limits.maxQueuedFramesPerConnection / 2) {
            conn.paused = false;
            if (conn.ws.readyState === WebSocket.OPEN) conn.ws.resume();
          }
          handle();
        });
      }
      error = null;
    }
    if (error !== null) this.#countError(conn, error);
  }

  #countError(conn: Conn, error: { code: string }): void {
    this.#deps.metrics.refused.inc({ code: error.code });
    // A write the coordinator could not make (a full disk) is not the member's fault: it does not
    // close the connection. INTERNAL still counts: a member that can provoke a bug again and again
    // is cut off like any other source of refused frames.
    if (error.code === 'STORAGE_UNAVAILABLE') return;
    conn.errors += 1;
    if (conn.errors >= this.#deps.limits.maxErrorsPerConnection) {
      conn.ws.close(1008, 'too many errors');
    }
  }

  /** Sends `frame` once the writes it may report are durable (store.afterDurable, D.48). */
  #send(conn: Conn, frame: object): void {
    this.#deps.store.afterDurable(() => this.#sendNow(conn, frame));
  }

  #sendNow(conn: Conn, frame: object): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    if (conn.ws.bufferedAmount > this.#deps.limits.maxBufferedBytes) {
      // Slow consumer (C.42): cut it off rather than queue without bound.
      conn.ws.terminate();
      return;
    }
    // A status push or a `*` envelope is the same object for every member: serialize it once.
    let text = this.#frameText.get(frame);
    if (text === undefined) {
      text = JSON.stringify(frame);
      this.#frameText.set(frame, text);
    }
    conn.ws.send(text);
  }

  /** Serialized frames, by object (frames are not mutated once handed to a send). */
  readonly #frameText = new WeakMap<object, string>();

  #beat(): void {
    for (const set of this.#byMember.values()) {
      for (const conn of set) {
        if (!conn.alive) {
          conn.ws.terminate();
          continue;
        }
        conn.alive = false;
        try {
          conn.ws.ping();
        } catch {
          conn.ws.terminate();
        }
      }
    }
  }
}
