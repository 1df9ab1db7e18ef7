// A member's (or the admin's) authenticated connection to the coordinator, per
// docs/ceremony-flow.md "Connecting": POST /v1/challenge, WebSocket upgrade with the auth headers,
// auth.ok; then sealed envelopes both ways (the coordinator's verified against the pinned key),
// sealed acks, bare queries. Reconnects with backoff when asked to.
import {
  AuthChallengeSchema,
  CeremonyStatusSchema,
  PROTOCOL_VERSION,
  concatBytes,
  hexToBytes,
  openEnvelope,
  parseMessage,
  respondToChallenge,
  sealEnvelope,
  type CeremonyStatus,
  type Envelope,
  type GroupInfo,
  type IdentityKey,
  type InboxItem,
  type OpenedEnvelope,
  type SealedBody,
  type SignCommitments,
} from '@conclave/protocol';
import { openAsBlob } from 'node:fs';
import WebSocket from 'ws';
import { z } from 'zod';
import { ClientError, type ClientErrorCode } from './errors.js';
import { testFault } from './faults.js';

export const CoordinatorInfoSchema = z.object({
  protocolVersion: z.number(),
  origin: z.string(),
  coordinatorKey: z.string().regex(/^[0-9a-f]{64}$/),
  adminKey: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CoordinatorInfo = z.infer<typeof CoordinatorInfoSchema>;

/** `http://host:port` from what the user typed (`ws://` and a trailing path are accepted). */
export function normalizeCoordinatorUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ClientError(
      'INVALID_ARGUMENT',
      'coordinator URL: expected e.g. http://127.0.0.1:7420',
    );
  }
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) {
    throw new ClientError('INVALID_ARGUMENT', 'coordinator URL: expected an http(s) or ws(s) URL');
  }
  return `${scheme}//${u.host}`;
}

/** GET /v1/info: the coordinator's protocol version and public keys. */
export async function fetchCoordinatorInfo(
  url: string,
  timeoutMs = 10_000,
): Promise<CoordinatorInfo> {
  const base = normalizeCoordinatorUrl(url);
  let res: Response;
  try {
    res = await fetch(`${base}/v1/info`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    throw new ClientError(
      'COORDINATOR_UNREACHABLE',
      `could not reach the coordinator at ${base}; is \`conclave coordinator start\` running there?`,
    );
  }
  if (!res.ok) {
    throw new ClientError('COORDINATOR_UNREACHABLE', `${base}/v1/info answered HTTP ${res.status}`);
  }
  const parsed = CoordinatorInfoSchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) {
    throw new ClientError(
      'BAD_COORDINATOR_MESSAGE',
      `${base}/v1/info did not describe a coordinator`,
    );
  }
  return parsed.data;
}

/**
 * Most bytes accepted for one downloaded artifact: the coordinator's default upload limit
 * (`limits.maxArtifactBytes`); the request itself declares no size.
 */
export const MAX_ARTIFACT_DOWNLOAD_BYTES = 256 * 1024 * 1024;

/** The slowest artifact download kept: like the coordinator's uploads (THREATS C.40, slowloris). */
export interface DownloadPace {
  /** Each window must bring minBytesPerSecond × window bytes, or the rest of the body. */
  readonly windowMs?: number;
  readonly minBytesPerSecond?: number;
  /** How long the response headers may take (default 30 s). */
  readonly headersMs?: number;
}

/**
 * GET /v1/artifacts/<sha256> with `headers` (a member's signed headers, or the auditor's bearer
 * token): the coordinator's copy, at most `maxBytes` (ARTIFACT_TOO_LARGE beyond, read no further).
 * A coordinator that answers slower than `pace` (headers within 30 s, then 64 KiB/s over 10 s
 * windows, or the rest of the body) is cut off with TIMEOUT instead of holding the command for
 * ever. The caller checks the bytes against the digests it trusts.
 */
export async function fetchArtifact(
  origin: string,
  sha256: string,
  headers: Record<string, string>,
  maxBytes = MAX_ARTIFACT_DOWNLOAD_BYTES,
  pace: DownloadPace = {},
): Promise<Uint8Array> {
  const windowMs = pace.windowMs ?? 10_000;
  const minPerWindow = ((pace.minBytesPerSecond ?? 64 * 1024) * windowMs) / 1000;
  const abort = new AbortController();
  let received = 0;
  let atLastCheck = 0;
  let declared = Number.NaN;
  let stalled = false;
  const cut = () => {
    stalled = true;
    abort.abort();
  };
  // The headers get their own deadline; the pace counts from the first byte of the body on.
  const headersTimer = setTimeout(cut, pace.headersMs ?? 30_000);
  headersTimer.unref();
  let timer: NodeJS.Timeout | undefined;
  const pacing = () => {
    clearTimeout(headersTimer);
    timer = setInterval(() => {
      const rest = Number.isFinite(declared) ? declared - atLastCheck : Number.POSITIVE_INFINITY;
      if (received - atLastCheck < Math.min(minPerWindow, rest)) cut();
      atLastCheck = received;
    }, windowMs);
    timer.unref();
  };
  const tooSlow = () =>
    new ClientError(
      'TIMEOUT',
      `the coordinator sent artifact ${sha256} slower than ${pace.minBytesPerSecond ?? 64 * 1024} bytes/s; gave up (retry, or use your own copy: --artifact FILE)`,
    );
  const tooLarge = () =>
    new ClientError(
      'ARTIFACT_TOO_LARGE',
      `the coordinator's copy of artifact ${sha256} is larger than ${maxBytes} bytes; refusing it (use your own copy: --artifact FILE)`,
    );
  try {
    const res = await fetch(`${origin}/v1/artifacts/${sha256}`, {
      headers,
      signal: abort.signal,
    }).catch(() => {
      throw stalled
        ? tooSlow()
        : new ClientError('COORDINATOR_UNREACHABLE', `could not reach ${origin}`);
    });
    pacing();
    if (!res.ok) await httpResult(res);
    declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    const reader = res.body?.getReader();
    if (reader !== undefined) {
      for (;;) {
        const { done, value } = await reader.read().catch(() => {
          throw stalled
            ? tooSlow()
            : new ClientError('COORDINATOR_UNREACHABLE', `the download of ${sha256} broke off`);
        });
        if (done) break;
        received += value.byteLength;
        if (received > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge();
        }
        chunks.push(value);
      }
    }
    return concatBytes(...chunks);
  } finally {
    clearTimeout(headersTimer);
    clearInterval(timer);
  }
}

/** Default ping interval of the client's heartbeat, as the coordinator's (THREATS C.43). */
export const DEFAULT_HEARTBEAT_MS = 15_000;

export interface ConnectionOptions {
  /** What the user dialed, e.g. `http://127.0.0.1:7420`. */
  readonly url: string;
  /** The authenticated sender id: a member name, or `admin`. */
  readonly member: string;
  readonly key: IdentityKey;
  /** The pinned coordinator identity key: every coordinator envelope must verify under it. */
  readonly coordinatorKey: Uint8Array;
  /** Reconnect with backoff after an unexpected close (default false). */
  readonly reconnect?: boolean;
  /** Default timeout for a request or an ack, ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Liveness check (THREATS C.43): a WebSocket ping every this many ms; a connection that sent no
   * pong (nor any frame) since the previous ping is terminated, and with `reconnect` dialed again.
   * Default 15 000; 0 turns it off.
   */
  readonly heartbeatMs?: number;
  /** Progress lines (never secrets). */
  readonly log?: (line: string) => void;
}

interface PendingSend {
  readonly seq: number;
  readonly ceremonyId: string;
  readonly type: string;
  readonly resolve: () => void;
  readonly reject: (err: ClientError) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingQuery {
  /** The bare message type that answers it (`inbox`, `ceremony.status`, `policy.info`, …). */
  readonly answer: string;
  readonly ceremonyId?: string;
  readonly resolve: (msg: unknown) => void;
  readonly reject: (err: ClientError) => void;
  readonly timer: NodeJS.Timeout;
}

export type EnvelopeHandler = (envelope: OpenedEnvelope, raw: Envelope) => void;
export type StatusHandler = (status: CeremonyStatus, raw: Record<string, unknown>) => void;
export type ErrorHandler = (error: ClientError) => void;

/** Per-process seq counter (flow doc: start at Date.now() * 1000, +1 per message). */
let nextSeq = Date.now() * 1000;
export function takeSeq(): number {
  nextSeq += 1;
  return nextSeq;
}

function remoteError(code: string, message: string, ceremonyId?: string, prefix = ''): ClientError {
  return new ClientError(
    code as ClientErrorCode,
    `${prefix}coordinator refused: ${message}`,
    ceremonyId === undefined ? {} : { details: { ceremonyId } },
  );
}

const ProblemSchema = z.object({ code: z.string(), message: z.string() });

/**
 * A refused HTTP answer (`body` already read) as a ClientError: the coordinator's own code when it
 * sent one, else CONNECTION_REFUSED with the status. `what` names the request in the message.
 */
export function httpRefusal(status: number, body: unknown, what?: string): ClientError {
  const err = ProblemSchema.safeParse(body);
  const prefix = what === undefined ? '' : `${what}: `;
  if (err.success) return remoteError(err.data.code, err.data.message, undefined, prefix);
  return new ClientError(
    'CONNECTION_REFUSED',
    what === undefined ? `the coordinator answered HTTP ${status}` : `${what}: HTTP ${status}`,
  );
}

/** A JSON answer of the coordinator's HTTP routes, or its coded error as a ClientError. */
async function httpResult(res: Response): Promise<Record<string, unknown>> {
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) throw httpRefusal(res.status, body);
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

/**
 * The x-conclave-* headers of one member-authenticated HTTP request (as the WebSocket upgrade,
 * docs/ceremony-flow.md "Connecting"): a fresh single-use challenge from the coordinator at `url`,
 * answered with the member's identity key. Used by Connection and the log witness alike.
 */
export async function memberAuthHeaders(o: {
  readonly url: string;
  readonly member: string;
  readonly key: IdentityKey;
}): Promise<Record<string, string>> {
  const origin = normalizeCoordinatorUrl(o.url);
  let res: Response;
  try {
    res = await fetch(`${origin}/v1/challenge`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new ClientError(
      'COORDINATOR_UNREACHABLE',
      `could not reach the coordinator at ${origin}; is it running?`,
    );
  }
  const challenge = AuthChallengeSchema.safeParse(await httpResult(res));
  if (!challenge.success) {
    throw new ClientError('BAD_COORDINATOR_MESSAGE', 'the challenge is not an auth.challenge');
  }
  const response = respondToChallenge(o.key, challenge.data, o.member, origin);
  if (!response.ok) throw remoteError(response.error.code, response.error.message);
  return {
    'x-conclave-protocol': String(PROTOCOL_VERSION),
    'x-conclave-member': response.value.member,
    'x-conclave-challenge': response.value.challenge,
    'x-conclave-signature': response.value.signature,
  };
}

export class Connection {
  readonly options: ConnectionOptions;
  readonly origin: string;
  #ws: WebSocket | undefined;
  #closed = false;
  #sends: PendingSend[] = [];
  #queries: PendingQuery[] = [];
  readonly #envelopeHandlers = new Set<EnvelopeHandler>();
  readonly #statusHandlers = new Set<StatusHandler>();
  readonly #commitmentHandlers = new Set<(hint: SignCommitments) => void>();
  readonly #errorHandlers = new Set<ErrorHandler>();
  readonly #connectHandlers = new Set<() => void>();
  readonly #closeHandlers = new Set<() => void>();
  #reconnectAttempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.origin = normalizeCoordinatorUrl(options.url);
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  onEnvelope(handler: EnvelopeHandler): () => void {
    this.#envelopeHandlers.add(handler);
    return () => this.#envelopeHandlers.delete(handler);
  }

  onStatus(handler: StatusHandler): () => void {
    this.#statusHandlers.add(handler);
    return () => this.#statusHandlers.delete(handler);
  }

  /** `sign.commitments` hints (a signer validates its peers' commitments before the package). */
  onCommitments(handler: (hint: SignCommitments) => void): () => void {
    this.#commitmentHandlers.add(handler);
    return () => this.#commitmentHandlers.delete(handler);
  }

  onError(handler: ErrorHandler): () => void {
    this.#errorHandlers.add(handler);
    return () => this.#errorHandlers.delete(handler);
  }

  /** Called once when this client closes the connection for good. */
  onClose(handler: () => void): () => void {
    this.#closeHandlers.add(handler);
    return () => this.#closeHandlers.delete(handler);
  }

  /** Called after every successful authentication (first connect and each reconnect). */
  onConnect(handler: () => void): () => void {
    this.#connectHandlers.add(handler);
    return () => this.#connectHandlers.delete(handler);
  }

  #log(line: string): void {
    this.options.log?.(line);
  }

  async connect(): Promise<void> {
    await this.#dial();
    this.#reconnectAttempt = 0;
    for (const h of this.#connectHandlers) h();
  }

  /**
   * Credentials for one authenticated request: a fresh single-use challenge from the coordinator,
   * answered with this member's identity key (the WebSocket upgrade and the HTTP routes alike).
   */
  authHeaders(): Promise<Record<string, string>> {
    return memberAuthHeaders({
      url: this.origin,
      member: this.options.member,
      key: this.options.key,
    });
  }

  /** Uploads an artifact for the content formats (PUT /v1/artifacts/<sha256>), streamed. */
  async uploadArtifact(path: string, sha256: string): Promise<{ stored: boolean }> {
    const blob = await openAsBlob(path);
    const res = await fetch(`${this.origin}/v1/artifacts/${sha256}`, {
      method: 'PUT',
      headers: { ...(await this.authHeaders()), 'content-type': 'application/octet-stream' },
      body: blob,
    }).catch(() => {
      throw new ClientError(
        'COORDINATOR_UNREACHABLE',
        `could not upload ${path} to ${this.origin}`,
      );
    });
    return { stored: (await httpResult(res)).stored === true };
  }

  /**
   * Downloads an uploaded artifact; the caller checks it against the approved digests. The request
   * declares no size, so the answer is capped at `maxBytes` (default the coordinator's default
   * upload limit): a coordinator that sends more gets ARTIFACT_TOO_LARGE, not our memory.
   */
  async downloadArtifact(
    sha256: string,
    maxBytes = MAX_ARTIFACT_DOWNLOAD_BYTES,
  ): Promise<Uint8Array> {
    return fetchArtifact(this.origin, sha256, await this.authHeaders(), maxBytes);
  }

  async #dial(): Promise<WebSocket> {
    const headers = await this.authHeaders();
    const wsUrl = `${this.origin.replace(/^http/, 'ws')}/v1/ws`;
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, {
        headers,
        perMessageDeflate: false,
        maxPayload: 1024 * 1024,
        handshakeTimeout: 10_000,
      });
      let settled = false;
      // handshakeTimeout ends at the upgrade; a coordinator that then never says auth.ok must not
      // hold connect() (or a reconnect, which would then never retry) forever.
      const authTimer = setTimeout(
        () => fail(new ClientError('TIMEOUT', `no auth.ok from the coordinator at ${wsUrl}`)),
        this.options.requestTimeoutMs ?? 30_000,
      );
      authTimer.unref();
      const fail = (err: ClientError) => {
        if (settled) return;
        settled = true;
        clearTimeout(authTimer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(err);
      };
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString('utf8')));
        res.on('end', () => {
          let parsed: { code?: unknown; message?: unknown } = {};
          try {
            parsed = JSON.parse(text) as typeof parsed;
          } catch {
            // not JSON
          }
          const code = typeof parsed.code === 'string' ? parsed.code : 'CONNECTION_REFUSED';
          const message =
            typeof parsed.message === 'string' ? parsed.message : `HTTP ${res.statusCode ?? '?'}`;
          fail(remoteError(code, message));
        });
      });
      ws.on('error', () =>
        fail(new ClientError('COORDINATOR_UNREACHABLE', `WebSocket to ${wsUrl} failed`)),
      );
      ws.on('close', () =>
        fail(new ClientError('CONNECTION_CLOSED', 'the coordinator closed the connection')),
      );
      ws.once('message', (data) => {
        const parsed = parseMessage(data as Buffer);
        if (parsed.ok && parsed.msg.type === 'auth.ok') {
          if (parsed.msg.member !== this.options.member) {
            fail(new ClientError('BAD_COORDINATOR_MESSAGE', 'auth.ok names another member'));
            return;
          }
          settled = true;
          clearTimeout(authTimer);
          ws.removeAllListeners();
          // Attach now, synchronously: frames right behind auth.ok (e.g. dkg.start) are not lost.
          this.#attach(ws);
          resolve(ws);
          return;
        }
        if (parsed.ok && parsed.msg.type === 'error') {
          fail(remoteError(parsed.msg.code, parsed.msg.message));
          return;
        }
        fail(new ClientError('BAD_COORDINATOR_MESSAGE', 'expected auth.ok'));
      });
    });
  }

  #attach(ws: WebSocket): void {
    this.#ws = ws;
    // A half-open TCP connection (peer gone, no FIN) would otherwise look connected forever.
    let alive = true;
    const heartbeatMs = this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const heartbeat =
      heartbeatMs > 0
        ? setInterval(() => {
            if (!alive) {
              this.#log(
                `no pong from the coordinator in ${heartbeatMs} ms; dropping the connection`,
              );
              ws.terminate(); // emits 'close': pending requests fail, the reconnect loop takes over
              return;
            }
            alive = false;
            ws.ping();
          }, heartbeatMs)
        : undefined;
    heartbeat?.unref();
    ws.on('pong', () => (alive = true));
    ws.on('message', (data) => {
      alive = true;
      this.#onFrame(data as Buffer);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearInterval(heartbeat);
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      const err = new ClientError('CONNECTION_CLOSED', 'the connection to the coordinator closed');
      this.#failPending(err);
      if (this.#closed) return;
      if (this.options.reconnect === true) {
        this.#scheduleReconnect();
      } else {
        for (const h of this.#errorHandlers) h(err);
      }
    });
  }

  #scheduleReconnect(): void {
    const delay = Math.min(5_000, 250 * 2 ** this.#reconnectAttempt);
    this.#reconnectAttempt += 1;
    this.#log(`connection lost; reconnecting in ${delay} ms`);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed) return;
      this.#dial().then(
        (ws) => {
          if (this.#closed) {
            ws.close();
            return;
          }
          this.#reconnectAttempt = 0;
          this.#log('reconnected');
          for (const h of this.#connectHandlers) h();
        },
        (err: unknown) => {
          const code = err instanceof ClientError ? err.code : 'COORDINATOR_UNREACHABLE';
          // Refusals that will not change by retrying end the connection.
          if (['UNKNOWN_MEMBER', 'MEMBER_REVOKED', 'PROTOCOL_VERSION_MISMATCH'].includes(code)) {
            this.#closed = true;
            for (const h of this.#errorHandlers)
              h(err instanceof ClientError ? err : new ClientError('CONNECTION_CLOSED', 'closed'));
            return;
          }
          this.#scheduleReconnect();
        },
      );
    }, delay);
  }

  #failPending(err: ClientError): void {
    for (const p of this.#sends) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    for (const q of this.#queries) {
      clearTimeout(q.timer);
      q.reject(err);
    }
    this.#sends = [];
    this.#queries = [];
  }

  #onFrame(data: Buffer): void {
    const parsed = parseMessage(data);
    if (!parsed.ok) {
      // A ceremony.status carrying fields this client does not know (a newer coordinator's, as
      // `declines` once was) is still useful: parse what it knows, pass the raw object along.
      const raw = safeJson(data);
      if (raw !== undefined && raw['type'] === 'ceremony.status') {
        const known = Object.fromEntries(
          Object.entries(raw).filter(([k]) => Object.hasOwn(CeremonyStatusSchema.shape, k)),
        );
        const again = parseMessage(JSON.stringify(known));
        if (again.ok && again.msg.type === 'ceremony.status') {
          this.#deliverStatus(again.msg, raw);
          return;
        }
      }
      this.#log(`ignored a frame from the coordinator (${parsed.error.code})`);
      return;
    }
    const msg = parsed.msg;
    switch (msg.type) {
      case 'envelope': {
        const opened = openEnvelope(msg, (sender) =>
          sender === 'coordinator' ? this.options.coordinatorKey : undefined,
        );
        if (!opened.ok) {
          this.#log(
            `refused an envelope not sealed by the pinned coordinator key (${opened.error.code})`,
          );
          return;
        }
        const body = opened.value.body;
        if (body.type === 'ack') {
          const i = this.#sends.findIndex((p) => p.seq === body.seq);
          const p = this.#sends[i];
          if (p !== undefined) {
            this.#sends.splice(i, 1);
            clearTimeout(p.timer);
            p.resolve();
          }
          return;
        }
        for (const h of this.#envelopeHandlers) h(opened.value, msg);
        return;
      }
      case 'error': {
        const err = remoteError(msg.code, msg.message, msg.ceremonyId);
        let i =
          msg.ceremonyId === undefined
            ? -1
            : this.#sends.findIndex((p) => p.ceremonyId === msg.ceremonyId);
        if (i < 0 && msg.ceremonyId === undefined) i = this.#sends.length > 0 ? 0 : -1;
        const p = i < 0 ? undefined : this.#sends[i];
        if (p !== undefined) {
          this.#sends.splice(i, 1);
          clearTimeout(p.timer);
          p.reject(err);
          return;
        }
        const q = this.#takeQuery(
          (x) => msg.ceremonyId === undefined || x.ceremonyId === msg.ceremonyId,
        );
        if (q !== undefined) {
          q.reject(err);
          return;
        }
        for (const h of this.#errorHandlers) h(err);
        return;
      }
      case 'ceremony.status':
        this.#deliverStatus(msg, safeJson(data) ?? {});
        return;
      case 'sign.commitments':
        for (const h of this.#commitmentHandlers) h(msg);
        return;
      default: {
        // Answers of the bare queries (inbox, group.list, policy.info, hotfix.list, revocations).
        const q = this.#takeQuery((x) => x.answer === msg.type);
        if (q !== undefined) {
          q.resolve(msg);
          return;
        }
        if (msg.type !== 'inbox' && msg.type !== 'group.list') {
          this.#log(`ignored an unexpected ${msg.type} from the coordinator`);
        }
      }
    }
  }

  /** The oldest pending query `match` accepts, removed and its timer cleared. */
  #takeQuery(match: (q: PendingQuery) => boolean): PendingQuery | undefined {
    const i = this.#queries.findIndex(match);
    const q = this.#queries[i];
    if (q === undefined) return undefined;
    this.#queries.splice(i, 1);
    clearTimeout(q.timer);
    return q;
  }

  #deliverStatus(status: CeremonyStatus, raw: Record<string, unknown>): void {
    this.#takeQuery(
      (q) => q.answer === 'ceremony.status' && q.ceremonyId === status.ceremonyId,
    )?.resolve(status);
    for (const h of this.#statusHandlers) h(status, raw);
  }

  #raw(frame: unknown): void {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) {
      throw new ClientError('CONNECTION_CLOSED', 'not connected to the coordinator');
    }
    ws.send(JSON.stringify(frame));
  }

  /** Seals `body` and sends it; resolves when the coordinator's sealed ack arrives. */
  send(ceremonyId: string, round: string, body: SealedBody, timeoutMs?: number): Promise<number> {
    const envelope = this.#seal(ceremonyId, round, body);
    return this.sendSealed(envelope, timeoutMs).then(() => envelope.seq);
  }

  /** `body` sealed by this member under a fresh sequence number. */
  #seal(ceremonyId: string, round: string, body: SealedBody): Envelope {
    return sealEnvelope(this.options.key, {
      ceremonyId,
      round,
      seq: takeSeq(),
      sender: this.options.member,
      body,
    });
  }

  /**
   * Seals `body` once and sends it until the coordinator holds it, for a message whose loss would
   * cost this member its place (an approval: its commitments would be counted while this member
   * no longer expects a package). After a lost connection, or no ack in time, the very same
   * envelope goes again on the next connect; REPLAYED_MESSAGE then says the first copy was
   * recorded, since the coordinator marks an envelope seen only when it accepts it, keyed by
   * (sender, ceremony, round, seq), and this envelope's seq is this process's own. Any other
   * refusal rejects at once; so does a connection this client closed, or `giveUpMs` passing.
   */
  async sendUntilRecorded(
    ceremonyId: string,
    round: string,
    body: SealedBody,
    giveUpMs = 120_000,
  ): Promise<number> {
    const envelope = this.#seal(ceremonyId, round, body);
    const deadline = Date.now() + giveUpMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sendSealed(envelope);
        return envelope.seq;
      } catch (err) {
        if (attempt > 0 && err instanceof ClientError && err.code === 'REPLAYED_MESSAGE') {
          return envelope.seq;
        }
        const lost =
          err instanceof ClientError &&
          (err.code === 'CONNECTION_CLOSED' || err.code === 'TIMEOUT');
        const left = deadline - Date.now();
        // Without reconnect a lost connection stays lost: nothing would ever send it again.
        const never = this.#closed || (this.options.reconnect !== true && !this.connected);
        if (!lost || never || left <= 0) throw err;
        this.#log(`${body.type} for ${ceremonyId} may not have arrived; sending it again`);
        await this.#reconnected(left);
      }
    }
  }

  /**
   * Resolves once the connection is up again (at once if it is), after at least a short pause so a
   * send that keeps failing never spins; or after `withinMs` (the send then fails once more).
   */
  #reconnected(withinMs: number): Promise<void> {
    return new Promise((resolve) => {
      let finished = false;
      let off = (): void => undefined;
      const done = (): void => {
        finished = true;
        off();
        clearTimeout(limit);
        resolve();
      };
      // Both timers keep the process alive (a bounded wait): a command whose only other handle
      // is the reconnect loop must not exit with its approval unsent.
      const limit = setTimeout(done, withinMs);
      setTimeout(() => {
        if (finished) return;
        if (this.connected || this.#closed) done();
        else off = this.onConnect(done);
      }, 250);
    });
  }

  /** Sends an already sealed envelope (e.g. a fault-injection test); resolves on its ack. */
  sendSealed(envelope: Envelope, timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#sends = this.#sends.filter((p) => p.seq !== envelope.seq);
          reject(
            new ClientError('TIMEOUT', `no ack from the coordinator for ${envelope.body.type}`),
          );
        },
        timeoutMs ?? this.options.requestTimeoutMs ?? 30_000,
      );
      timer.unref();
      this.#sends.push({
        seq: envelope.seq,
        ceremonyId: envelope.ceremonyId,
        type: envelope.body.type,
        resolve,
        reject,
        timer,
      });
      if (dropForTest(envelope)) {
        this.#ws?.terminate(); // 'close' fails this send: CONNECTION_CLOSED
        return;
      }
      try {
        this.#raw(envelope);
      } catch (err) {
        clearTimeout(timer);
        this.#sends = this.#sends.filter((p) => p.seq !== envelope.seq);
        reject(err as ClientError);
      }
    });
  }

  #query<T>(
    frame: Record<string, unknown>,
    answer: PendingQuery['answer'],
    ceremonyId?: string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#queries = this.#queries.filter((q) => q.timer !== timer);
        reject(new ClientError('TIMEOUT', `no ${answer} answer from the coordinator`));
      }, this.options.requestTimeoutMs ?? 30_000);
      timer.unref();
      this.#queries.push({
        answer,
        ...(ceremonyId === undefined ? {} : { ceremonyId }),
        resolve: (msg) => resolve(msg as T),
        reject,
        timer,
      });
      try {
        this.#raw(frame);
      } catch (err) {
        clearTimeout(timer);
        this.#queries = this.#queries.filter((q) => q.timer !== timer);
        reject(err as ClientError);
      }
    });
  }

  async inbox(): Promise<InboxItem[]> {
    const msg = await this.#query<{ items: InboxItem[] }>({ type: 'inbox.get' }, 'inbox');
    return msg.items;
  }

  /** The groups this identity may see (admin: all); `member` keeps those whose roster names it. */
  async groups(member?: string): Promise<GroupInfo[]> {
    const msg = await this.#query<{ groups: GroupInfo[] }>(
      member === undefined ? { type: 'group.list.get' } : { type: 'group.list.get', member },
      'group.list',
    );
    return msg.groups;
  }

  /**
   * A bare query answered by a message of type `answer` (e.g. `policy.get` → `policy.info`). One
   * that names a ceremony (`key.outcome.get`) is refused by an error naming it, which ends it at
   * once (rather than at the query's timeout).
   */
  query<T>(frame: { readonly type: string } & Record<string, unknown>, answer: string): Promise<T> {
    const ceremonyId = typeof frame['ceremonyId'] === 'string' ? frame['ceremonyId'] : undefined;
    return this.#query<T>(frame, answer, ceremonyId);
  }

  status(ceremonyId: string): Promise<CeremonyStatus> {
    return this.#query<CeremonyStatus>(
      { type: 'ceremony.status.get', ceremonyId },
      'ceremony.status',
      ceremonyId,
    );
  }

  async close(): Promise<void> {
    if (!this.#closed) for (const h of this.#closeHandlers) h();
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    const ws = this.#ws;
    this.#ws = undefined;
    this.#failPending(new ClientError('CONNECTION_CLOSED', 'connection closed by this client'));
    if (ws === undefined) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000);
      t.unref();
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000);
    });
  }
}

function safeJson(data: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(data.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the coordinator's current keys against the pins: COORDINATOR_KEY_CHANGED if either
 * differs (the client refuses to continue, as with an SSH host key).
 */
export function checkPins(
  info: CoordinatorInfo,
  pinned: { coordinatorKey: string; adminKey: string },
): void {
  if (info.coordinatorKey !== pinned.coordinatorKey || info.adminKey !== pinned.adminKey) {
    throw new ClientError(
      'COORDINATOR_KEY_CHANGED',
      'the coordinator now presents different keys than the ones pinned at `conclave init`; ' +
        'refusing to continue. If the change is expected, re-run `conclave init --coordinator URL` in a fresh home',
    );
  }
}

/** Admin key file: 64 hex characters (the seed), or JSON `{ secretKey }`/`{ privateKey }`. */
export function parseAdminKeyText(text: string): Uint8Array {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return hexToBytes(trimmed.toLowerCase());
  try {
    const obj = JSON.parse(trimmed) as Record<string, unknown>;
    for (const k of ['secretKey', 'privateKey', 'seed', 'secret']) {
      const v = obj[k];
      if (typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v)) return hexToBytes(v.toLowerCase());
    }
  } catch {
    // fall through
  }
  throw new ClientError('INVALID_ARGUMENT', 'admin key file: not a recognised key format');
}

/** Key-ceremony round messages dropped once each (TEST-ONLY: faults.ts drop-round-sends). */
const droppedForTest = new Set<string>();
const DROPPED_ROUNDS = new Set(['dkg.round1', 'dkg.round2', 'key.round1', 'key.round2']);

function dropForTest(envelope: Envelope): boolean {
  if (!DROPPED_ROUNDS.has(envelope.body.type) || testFault() !== 'drop-round-sends') return false;
  const key = `${envelope.ceremonyId} ${envelope.body.type}`;
  if (droppedForTest.has(key)) return false;
  droppedForTest.add(key);
  return true;
}
