// Every resource limit of the coordinator in one object (THREATS C.38–C.43), overridable in tests.
import { isIPv4, isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { MAX_FRAME_BYTES } from '@conclave/protocol';

export interface Limits {
  /** Largest WebSocket message; larger frames close the socket with 1009 (C.38). */
  readonly maxPayload: number;
  /** ws `maxFragments`: fragments per message before the socket is closed (C.39). */
  readonly maxFragments: number;
  /** Compression stays off (C.39): no permessage-deflate bombs. */
  readonly perMessageDeflate: false;
  /** Ping every interval; a socket that has not answered the previous ping is terminated (C.43). */
  readonly heartbeatIntervalMs: number;
  /** A raw TCP socket must finish its HTTP request or upgrade (and so authenticate) in time (C.40). */
  readonly authDeadlineMs: number;
  /** Lifetime of an `auth.challenge` (C.35). */
  readonly challengeTtlMs: number;
  /**
   * Challenges per IP per window, and outstanding challenges overall (C.41). Every authenticated
   * request takes one (WebSocket upgrade, log witnessing, artifact upload/download), and a team
   * behind one NAT shares an IP: 120 a minute.
   */
  readonly challengeRateLimit: { readonly perIp: number; readonly windowMs: number };
  /** Open challenges kept; a new one past this replaces the oldest (ChallengeBook). */
  readonly maxOutstandingChallenges: number;
  /** Open WebSocket connections per remote address and in total (C.41). */
  readonly maxConnectionsPerIp: number;
  readonly maxConnections: number;
  /** `bufferedAmount` above which a slow consumer is terminated (C.42). */
  readonly maxBufferedBytes: number;
  /**
   * Received frames of one connection waiting for their turn (the turn queue, runtime.ts) above
   * which the coordinator stops reading that socket until half of them are handled: TCP
   * backpressure instead of an unbounded queue (C.41/C.42). 64 frames ≤ 4 MiB per connection.
   */
  readonly maxQueuedFramesPerConnection: number;
  /**
   * Slowloris (C.40): the request line and headers must arrive within `headersTimeoutMs` (Node's
   * `headersTimeout`), and a request body within `requestTimeoutMs` of the request's start
   * (server.ts arms it per request; Node's own `requestTimeout` is checked only every 30 s). An
   * artifact upload is exempt: it must instead deliver `minUploadBytesPerSecond` over every
   * `requestTimeoutMs` (artifacts.ts), and any socket idle for `authDeadlineMs` is closed.
   */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly minUploadBytesPerSecond: number;
  /** Refused frames on one connection before it is closed (C.44). */
  readonly maxErrorsPerConnection: number;
  /** Frames per connection per second (token bucket); beyond → RATE_LIMITED, counts as an error. */
  readonly maxMessagesPerSecond: number;
  /** Signing: how long approvals are collected; the FROST session timeout (ROAST). */
  readonly approvalTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** Key ceremony: each DKG round's timeout. */
  readonly dkgRoundTimeoutMs: number;
  /** `listen` backlog (C.41). */
  readonly backlog: number;
  /** WAL kept bounded (D.50): checked every interval, checkpointed (TRUNCATE) above this size. */
  readonly walCheckpointBytes: number;
  readonly walCheckpointIntervalMs: number;
  /** Largest artifact a member may upload for the content formats (raw, OpenPGP). */
  readonly maxArtifactBytes: number;
  /**
   * Free space an artifact upload must leave on the artifacts' file system (the database's, by
   * default): below it the upload is refused with 507, so uploads never fill the disk the
   * ceremonies write to (D.49). Default 64 MiB: room for one WAL (walCheckpointBytes).
   */
  readonly artifactMinFreeBytes: number;
  /**
   * Worker threads for signing-ceremony curve arithmetic (crypto-pool.ts): commitment checks,
   * share verification, aggregation. Default: available cores − 1, at least 1. 0 runs it inline
   * on the event loop. `conclave coordinator start` reads CONCLAVE_CRYPTO_WORKERS.
   */
  readonly cryptoWorkers: number;
  /**
   * How much lower than the event loop the crypto workers run: a nice increment (0–19) each
   * worker adds to its own thread's nice value when it starts. Under load the event loop's thread
   * then gets a core before the curve arithmetic does, so sockets, heartbeats and commits are not
   * kept waiting behind it. 0 runs the workers at the process's priority.
   * `conclave coordinator start` reads CONCLAVE_CRYPTO_WORKER_NICE.
   */
  readonly cryptoWorkerNice: number;
  /**
   * At most one `ceremony.status` push per open ceremony per interval: a transition within the
   * interval of the last push schedules one push of the status as it then is, at the interval's
   * end; a final state is pushed at once. The first push (a new request) is never delayed. A
   * 10-of-15 signing makes 22 transitions, each pushed to 15 members. 0 pushes every transition.
   */
  readonly statusPushIntervalMs: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxPayload: MAX_FRAME_BYTES,
  maxFragments: 64,
  perMessageDeflate: false,
  heartbeatIntervalMs: 15_000,
  authDeadlineMs: 10_000,
  challengeTtlMs: 30_000,
  challengeRateLimit: Object.freeze({ perIp: 120, windowMs: 60_000 }),
  maxOutstandingChallenges: 10_000,
  maxConnectionsPerIp: 10,
  maxConnections: 1_000,
  maxBufferedBytes: 1024 * 1024,
  maxQueuedFramesPerConnection: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  minUploadBytesPerSecond: 64 * 1024,
  maxErrorsPerConnection: 16,
  maxMessagesPerSecond: 200,
  approvalTimeoutMs: 24 * 60 * 60 * 1000,
  sessionTimeoutMs: 60_000,
  dkgRoundTimeoutMs: 10 * 60 * 1000,
  backlog: 511,
  walCheckpointBytes: 64 * 1024 * 1024,
  walCheckpointIntervalMs: 60_000,
  maxArtifactBytes: 256 * 1024 * 1024,
  artifactMinFreeBytes: 64 * 1024 * 1024,
  cryptoWorkers: Math.max(1, availableParallelism() - 1),
  cryptoWorkerNice: 5,
  statusPushIntervalMs: 25,
});

/** Defaults with `overrides` applied (shallow; `challengeRateLimit` merged one level down). */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({
    ...DEFAULT_LIMITS,
    ...overrides,
    challengeRateLimit: Object.freeze({
      ...DEFAULT_LIMITS.challengeRateLimit,
      ...(overrides.challengeRateLimit ?? {}),
    }),
  });
}

/**
 * The key an address is counted under by the per-address caps (C.41): connections per IP and
 * challenge rate windows. An IPv4 address is itself; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
 * what a dual-stack socket reports for an IPv4 peer) is that IPv4 address; any other IPv6 address
 * is its /64 (`2001:db8:1:2::/64`), because a /64 is what one subscriber or host is given
 * (RFC 4291 §2.5.4, RFC 6177): keyed by /128, one host could take 2^64 addresses and walk round
 * every per-IP cap. A zone (`%eth0`) is ignored. Text that is no address is its own key.
 */
export function addressKey(address: string): string {
  const zone = address.indexOf('%');
  const a = zone < 0 ? address : address.slice(0, zone);
  if (isIPv4(a)) return a;
  if (!isIPv6(a)) return address;
  const w = ipv6Words(a);
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) {
    const [hi, lo] = [w[6]!, w[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${w
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}

/** One address in one spelling: IPv4-mapped IPv6 as IPv4, IPv6 fully written out; else undefined. */
export function canonicalAddress(address: string): string | undefined {
  const zone = address.indexOf('%');
  const a = (zone < 0 ? address : address.slice(0, zone)).trim();
  if (isIPv4(a)) return a;
  if (!isIPv6(a)) return undefined;
  const w = ipv6Words(a);
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return addressKey(a);
  return w.map((x) => x.toString(16)).join(':');
}

/**
 * The client's address for the per-address caps, behind reverse proxies the operator trusts
 * (`trustedProxies`, exact addresses): a connection from one of them is counted under the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy, which is the address the
 * outermost trusted proxy saw. A client can put anything at the left of that header, never at the
 * right, where its proxy appends. From any other peer the header is ignored; an entry that is no
 * address falls back to the peer, so a misconfigured proxy shares one cap rather than none.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | readonly string[] | undefined,
  trustedProxies: ReadonlySet<string>,
): string {
  const trusted = (a: string): boolean => {
    const c = canonicalAddress(a);
    return c !== undefined && trustedProxies.has(c);
  };
  if (trustedProxies.size === 0 || !trusted(peer) || forwardedFor === undefined) return peer;
  const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(','))
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (trusted(hop)) continue;
    return canonicalAddress(hop) === undefined ? peer : hop;
  }
  return peer;
}

/** The eight 16-bit words of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two words). */
function ipv6Words(address: string): number[] {
  const group = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [Number.parseInt(g, 16)];
          const [p, q, r, s] = g.split('.').map(Number) as [number, number, number, number];
          return [(p << 8) | q, (r << 8) | s];
        });
  const gap = address.indexOf('::');
  if (gap < 0) return group(address);
  const head = group(address.slice(0, gap));
  const tail = group(address.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * Fixed-window rate limits per key (the challenge endpoint, C.41), in a bounded table: past
 * `maxKeys` windows the oldest window is dropped (it is the one nearest its end), so a flood of
 * new addresses cannot reset the windows of the addresses already being limited.
 */
export class RateWindows {
  /** In order of window start: a window that restarts is moved to the end. */
  readonly #windows = new Map<string, { start: number; count: number }>();
  readonly #o: { readonly perKey: number; readonly windowMs: number; readonly maxKeys: number };

  constructor(o: { readonly perKey: number; readonly windowMs: number; readonly maxKeys: number }) {
    this.#o = o;
  }

  get size(): number {
    return this.#windows.size;
  }

  /** Counts one use of `key` at `now`; false (and not counted) when its window is used up. */
  take(key: string, now: number): boolean {
    const { perKey, windowMs, maxKeys } = this.#o;
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.start < windowMs) {
      if (window.count >= perKey) return false;
      window.count += 1;
      return true;
    }
    this.#windows.delete(key);
    for (const oldest of this.#windows.keys()) {
      if (this.#windows.size < maxKeys) break;
      this.#windows.delete(oldest);
    }
    this.#windows.set(key, { start: now, count: 1 });
    return true;
  }
}
