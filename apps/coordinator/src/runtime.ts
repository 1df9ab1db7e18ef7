// Shared plumbing of the ceremony runner: clock, coordinator sequence numbers, sealing, coded errors.
import { ed25519 as frost, isFrostError, type Identifier } from '@conclave/frost';
import {
  COORDINATOR_ID,
  ProtocolError,
  isErrorCode,
  sealEnvelope,
  type ErrorCode,
  type ErrorMessage,
  type IdentityKey,
  type SealedBody,
} from '@conclave/protocol';
import type { Logger } from './logger.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/**
 * The coordinator's envelope sequence numbers: like the clients', `clock * 1000` at start, plus one
 * per message, so they keep increasing across restarts without being stored.
 */
export class SeqSource {
  #last = 0;
  readonly #clock: Clock;
  constructor(clock: Clock) {
    this.#clock = clock;
  }
  next(): number {
    this.#last = Math.max(this.#last + 1, this.#clock.now() * 1000);
    return this.#last;
  }
}

/** Envelope rounds per body type (docs/ceremony-flow.md "Rounds"). */
export const ROUNDS: Readonly<Record<string, string>> = {
  'dkg.start': '0',
  'dkg.round1': '1',
  'dkg.round1.all': '1',
  'dkg.round2': '2',
  'dkg.round2.deliver': '2',
  'dkg.confirm': '3',
  'dkg.complete': '3',
  'dkg.fail': '4',
  'dkg.abort': '4',
  'key.start': '0',
  'key.round1': '1',
  'key.round1.all': '1',
  'key.round2': '2',
  'key.round2.deliver': '2',
  'sign.request': '0',
  'sign.approve': '1',
  'sign.reject': '1',
  'sign.recommit': '1',
  'sign.package': '2',
  'round2.share': '2',
  'round2.decline': '2',
  'sign.complete': '3',
  'sign.aborted': '3',
  'ceremony.cancel': '4',
};

/**
 * The coordinator's run queue: units of work (a wire frame, a crypto-pool answer) run in arrival
 * order from `setImmediate`, a turn of the event loop at a time: each turn runs units until
 * `budgetMs` has passed (at least one), and a unit pushed `alone` (a pool answer: the ceremony step
 * it resumes runs in its microtasks, after the unit) ends its turn. An I/O callback only enqueues,
 * so a burst of frames or of pool answers is spread over many turns instead of holding the loop in
 * one: timers (deadlines, heartbeats) and new I/O get a turn in between, which bounds the
 * event-loop delay by about one unit's cost (issue 3: delay p99 ≤ 10 ms under load). A unit runs
 * exactly as it would have from the I/O callback.
 */
export class TurnQueue {
  #items: ((() => void) | undefined)[] = [];
  #alone: boolean[] = [];
  #head = 0;
  #scheduled = false;
  readonly #onError: (e: unknown) => void;
  readonly #budgetMs: number;
  readonly #now: () => number;

  /** `now`: milliseconds, monotonic (performance.now; tests inject a clock). */
  constructor(
    onError: (e: unknown) => void = () => {},
    budgetMs = 2,
    now: () => number = () => performance.now(),
  ) {
    this.#onError = onError;
    this.#budgetMs = budgetMs;
    this.#now = now;
  }

  push(unit: () => void, options: { readonly alone?: boolean } = {}): void {
    this.#items.push(unit);
    this.#alone.push(options.alone === true);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#step);
    }
  }

  /** Units waiting (tests, diagnostics). */
  get length(): number {
    return this.#items.length - this.#head;
  }

  readonly #step = (): void => {
    const start = this.#now();
    for (;;) {
      const unit = this.#items[this.#head];
      const alone = this.#alone[this.#head] === true;
      this.#items[this.#head] = undefined;
      this.#head += 1;
      if (this.#head >= this.#items.length) {
        this.#items = [];
        this.#alone = [];
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#alone = this.#alone.slice(this.#head);
        this.#head = 0;
      }
      try {
        unit?.();
      } catch (e) {
        this.#onError(e);
      }
      const more = this.#items.length > this.#head;
      if (!more) {
        this.#scheduled = false;
        return;
      }
      if (alone || this.#now() - start >= this.#budgetMs) {
        // An immediate queued during this turn runs on the next one.
        setImmediate(this.#step);
        return;
      }
    }
  };
}

export class Sealer {
  readonly #key: IdentityKey;
  readonly #seq: SeqSource;
  constructor(key: IdentityKey, seq: SeqSource) {
    this.#key = key;
    this.#seq = seq;
  }
  seal<B extends SealedBody>(ceremonyId: string, body: B, round = ROUNDS[body.type] ?? '0') {
    return sealEnvelope(this.#key, {
      ceremonyId,
      round,
      seq: this.#seq.next(),
      sender: COORDINATOR_ID,
      body,
    });
  }
}

export function refused(code: ErrorCode, message: string): ProtocolError {
  return new ProtocolError(code, message);
}

/**
 * What the sender of a request that failed on our side is told, over HTTP or in an error frame:
 * a failed write is STORAGE_UNAVAILABLE (503, D.49), anything else INTERNAL (500), fixed text.
 */
export function serverFault(e: unknown): {
  readonly status: 500 | 503;
  readonly code: 'STORAGE_UNAVAILABLE' | 'INTERNAL';
  readonly message: string;
} {
  return isStorageError(e)
    ? {
        status: 503,
        code: 'STORAGE_UNAVAILABLE',
        message: 'storage unavailable; nothing was recorded',
      }
    : { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/** The bare `error` frame for any failure; unknown failures become INTERNAL with fixed text. */
export function errorFrame(e: unknown, ceremonyId?: string): ErrorMessage {
  const { code, message } = e instanceof ProtocolError ? e : serverFault(e);
  const base = { code, message };
  return ceremonyId === undefined
    ? { type: 'error', ...base }
    : { type: 'error', ...base, ceremonyId };
}

/** better-sqlite3 errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, …): fail closed (D.49). */
export function isStorageError(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.name === 'SqliteError' ||
      ('code' in e && String((e as { code: unknown }).code).startsWith('SQLITE_')))
  );
}

/** Codes that report the coordinator's own failure, not the sender's: only its log says why. */
const SERVER_FAULTS: ReadonlySet<string> = new Set(['STORAGE_UNAVAILABLE', 'INTERNAL']);

/**
 * The operator's view of a refusal the sender saw as STORAGE_UNAVAILABLE or INTERNAL: the sender
 * learns only the code, so the log must say what happened (a full disk fails every write, D.49).
 * The first failure of a burst is logged at once, then at most one line per `everyMs`, which
 * counts the ones not logged. Fixed text and codes only (SQLite's `SQLITE_FULL`, an error's
 * class name): never the input.
 */
export class FaultLog {
  #last = -Infinity;
  #unlogged = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly everyMs = 10_000,
  ) {}

  /** Logs `e` if the frame sent for it reports a server fault. */
  report(e: unknown, frame: { readonly code: string }, where: string, ceremony?: string): void {
    if (!SERVER_FAULTS.has(frame.code)) return;
    const t = this.now();
    if (t - this.#last < this.everyMs) {
      this.#unlogged += 1;
      return;
    }
    const cause = isStorageError(e)
      ? String((e as { code?: unknown }).code ?? 'SqliteError')
      : e instanceof Error
        ? e.name
        : typeof e;
    this.logger.error(
      frame.code === 'STORAGE_UNAVAILABLE'
        ? 'a write to the database failed: the sender was refused with STORAGE_UNAVAILABLE and nothing was recorded; check the disk (space, I/O errors): writes resume by themselves once it works'
        : 'a message could not be handled: the sender was told INTERNAL',
      {
        code: frame.code,
        cause,
        where,
        ...(ceremony === undefined ? {} : { ceremony }),
        ...(this.#unlogged > 0 ? { notLogged: this.#unlogged } : {}),
      },
    );
    this.#last = t;
    this.#unlogged = 0;
  }
}

const FROST_TO_PROTOCOL: Readonly<Record<string, ErrorCode>> = {
  IDENTITY_ELEMENT: 'INVALID_ELEMENT',
  INVALID_IDENTIFIER: 'INVALID_MESSAGE',
  DUPLICATE_IDENTIFIER: 'DUPLICATE_PARTICIPANT',
  UNKNOWN_IDENTIFIER: 'UNKNOWN_PARTICIPANT',
  MALFORMED_ENCODING: 'INVALID_MESSAGE',
  UNSUPPORTED_VERSION: 'INVALID_MESSAGE',
  WRONG_CIPHERSUITE: 'INVALID_MESSAGE',
};

/** A FrostError (or anything else thrown while decoding attacker bytes) as a coded refusal. */
export function frostRefusal(e: unknown, what: string): ProtocolError {
  if (e instanceof ProtocolError) return e;
  if (isFrostError(e)) {
    const mapped = FROST_TO_PROTOCOL[e.code];
    const code: ErrorCode = mapped ?? (isErrorCode(e.code) ? e.code : 'INVALID_MESSAGE');
    return new ProtocolError(code, `${what} rejected: ${code}`);
  }
  return new ProtocolError('INVALID_MESSAGE', `${what} could not be decoded`);
}

/** FROST identifier of a member (docs/ceremony-flow.md). */
export const identifierOf = (member: string): Identifier => frost.identifier.derive(member);
