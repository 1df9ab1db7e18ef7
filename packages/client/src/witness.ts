// A member's client witnesses the coordinator's transparency log (issue 6, docs/audit.md
// "Witnesses"): whenever a session connects (and after each ceremony it sees end, and every few
// minutes while it stays online) it fetches the newest checkpoint, asks for a consistency proof
// from the checkpoint this home accepted last, checks it, cosigns it (c2sp.org/tlog-cosignature)
// and keeps it as the new last-seen checkpoint. A coordinator that forks, rolls back or rewrites
// its history is caught by the first member that connects afterwards: the client says so loudly,
// keeps both signed checkpoints as evidence, and refuses to approve anything until a person has
// looked (`conclave log witness --clear-alarm`).
//
// The checks themselves are @conclave/audit's `witnessLog`. The client sits beside audit on the
// import ladder (DESIGN.md), so the app passes it in as a `WitnessEngine`; this file does the
// HTTP, the pinning, the files in the home and the refusal.
//
// Files (in the member home):
//   log/checkpoint-<k>.json   the checkpoint accepted last from the log whose key hashes to <k>
//   log/alarm.json            present while this home refuses to approve (what was caught, where)
//   log/evidence/<code>-<h>.json   both signed checkpoints that prove the misbehaviour (kept)
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type IdentityKey, type OpenedEnvelope } from '@conclave/protocol';
import { z } from 'zod';
import { httpRefusal, memberAuthHeaders, normalizeCoordinatorUrl } from './connection.js';
import { ClientError, errnoCode } from './errors.js';
import { writeJsonAtomic, type Home } from './home.js';

export const LOG_DIR = 'log';
export const ALARM_FILENAME = 'alarm.json';
export const EVIDENCE_DIR = 'evidence';
export const EVIDENCE_FORMAT = 'conclave-log-evidence/v1';
/** How often a long-lived session witnesses even when it sees no ceremony end. */
export const WITNESS_INTERVAL_MS = 5 * 60_000;
/** A checkpoint note is small (c2sp signed-note); refuse anything larger than this. */
const MAX_NOTE_BYTES = 64 * 1024;
const HTTP_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- the engine (from the app)

/** The log's HTTP routes a witness needs (docs/audit.md "HTTP"). */
export interface LogTransport {
  /** GET /v1/log/checkpoint: the newest checkpoint note, with cosignatures. */
  checkpoint(): Promise<string>;
  /** GET /v1/log/proof/consistency?from=&to=: base64 hashes. */
  consistency(from: number, to: number): Promise<readonly string[]>;
  /** POST /v1/log/cosign (member-authenticated). */
  submit(checkpoint: string, cosignature: string): Promise<void>;
}

export interface WitnessEngineInput {
  readonly transport: LogTransport;
  /** The note accepted last from this log (undefined: first round, trust on first use). */
  readonly lastSeen: string | undefined;
  /** The pinned log verifier key, `origin+keyid+base64` (Go's note verifier key format). */
  readonly logKey: string;
  /** The member who cosigns (witness name `conclave.member/<member>`) with its identity key. */
  readonly member: string;
  readonly key: IdentityKey;
  readonly now: number;
}

/** What @conclave/audit's `witnessLog` answers (structurally; LogMisbehaviour carries evidence). */
export type WitnessEngineResult =
  | { ok: true; value: { accepted: string; size: number; line: string } }
  | {
      ok: false;
      error: { readonly code: string; readonly message: string } & {
        readonly lastSeen?: string;
        readonly next?: string;
      };
    };

/** One witnessing round: fetch, check consistency, cosign, submit (the app binds `witnessLog`). */
export type WitnessEngine = (input: WitnessEngineInput) => Promise<WitnessEngineResult>;

// ---------------------------------------------------------------- HTTP

const LogKeySchema = z.object({ origin: z.string().min(1), verifierKey: z.string().min(1) });
const ConsistencySchema = z.object({ proof: z.array(z.string().max(64)).max(64) });

async function request(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch {
    throw new ClientError(
      'COORDINATOR_UNREACHABLE',
      `could not reach ${new URL(url).origin}; is the coordinator running?`,
    );
  }
}

async function refusal(res: Response, what: string): Promise<ClientError> {
  return httpRefusal(res.status, await res.json().catch(() => undefined), what);
}

/** GET /v1/log/key: the log's origin and verifier key. */
export async function fetchLogKey(url: string): Promise<{ origin: string; verifierKey: string }> {
  const base = normalizeCoordinatorUrl(url);
  const res = await request(`${base}/v1/log/key`);
  if (!res.ok) throw await refusal(res, 'log key');
  const parsed = LogKeySchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) {
    throw new ClientError('BAD_COORDINATOR_MESSAGE', `${base}/v1/log/key is not a log key`);
  }
  return parsed.data;
}

/**
 * The log's routes over HTTP. `authHeaders` answers a fresh challenge for the cosignature POST
 * (memberAuthHeaders).
 */
export function httpLogTransport(o: {
  readonly url: string;
  readonly authHeaders: () => Promise<Record<string, string>>;
}): LogTransport {
  const base = normalizeCoordinatorUrl(o.url);
  return {
    async checkpoint() {
      const res = await request(`${base}/v1/log/checkpoint`);
      if (!res.ok) throw await refusal(res, 'log checkpoint');
      const text = await res.text();
      if (Buffer.byteLength(text) > MAX_NOTE_BYTES) {
        throw new ClientError('BAD_COORDINATOR_MESSAGE', 'the log checkpoint is too large');
      }
      return text;
    },
    async consistency(from, to) {
      const res = await request(`${base}/v1/log/proof/consistency?from=${from}&to=${to}`);
      if (!res.ok) throw await refusal(res, 'consistency proof');
      const parsed = ConsistencySchema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success) {
        throw new ClientError('BAD_COORDINATOR_MESSAGE', 'the consistency proof is malformed');
      }
      return parsed.data.proof;
    },
    async submit(checkpoint, cosignature) {
      const res = await request(`${base}/v1/log/cosign`, {
        method: 'POST',
        headers: { ...(await o.authHeaders()), 'content-type': 'application/json' },
        body: JSON.stringify({ checkpoint, cosignature }),
      });
      if (!res.ok) throw await refusal(res, 'cosignature');
      await res.body?.cancel().catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------- state in the home

export const WitnessedCheckpointSchema = z.strictObject({
  version: z.literal(1),
  /** The log's verifier key this checkpoint verified under. */
  logKey: z.string().min(1).max(512),
  size: z.int().min(0),
  /** The note as the log served it (its signature and the cosignatures it carried then). */
  checkpoint: z.string().min(1).max(MAX_NOTE_BYTES),
  acceptedAt: z.string(),
  /** The coordinator took this member's cosignature of it. */
  cosigned: z.boolean(),
});
export type WitnessedCheckpoint = z.infer<typeof WitnessedCheckpointSchema>;

export const ALARM_CODES = [
  'LOG_FORK_DETECTED',
  'LOG_ROLLBACK',
  'LOG_KEY_CHANGED',
  'LOG_UNVERIFIABLE',
] as const;
export type AlarmCode = (typeof ALARM_CODES)[number];

export const LogAlarmSchema = z.strictObject({
  version: z.literal(1),
  code: z.enum(ALARM_CODES),
  message: z.string().max(2000),
  detectedAt: z.string(),
  coordinator: z.string(),
  /** The audit code behind it (e.g. NOTE_BAD_SIGNATURE for LOG_UNVERIFIABLE). */
  cause: z.string().max(64),
  /** The evidence file, relative to the home (fork, rollback and key change). */
  evidence: z.string().nullable(),
  /**
   * Proven misbehaviour stays until a person clears it; LOG_UNVERIFIABLE (something that did
   * not verify, but proves nothing on its own) clears at the next good round.
   */
  persistent: z.boolean(),
});
export type LogAlarm = z.infer<typeof LogAlarmSchema>;

const logDir = (home: Home) => join(home.dir, LOG_DIR);
const keyTag = (logKey: string) => createHash('sha256').update(logKey).digest('hex').slice(0, 16);

export function witnessedCheckpointPath(home: Home, logKey: string): string {
  return join(logDir(home), `checkpoint-${keyTag(logKey)}.json`);
}

export function alarmPath(home: Home): string {
  return join(logDir(home), ALARM_FILENAME);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new ClientError('CONFIG_INVALID', `could not read ${path} (${errnoCode(e) ?? '?'})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ClientError('CONFIG_INVALID', `${path} is not valid JSON`);
  }
}

/** The checkpoint this home accepted last from the log with verifier key `logKey`. */
export async function readWitnessed(
  home: Home,
  logKey: string,
): Promise<WitnessedCheckpoint | undefined> {
  const path = witnessedCheckpointPath(home, logKey);
  const raw = await readJson(path);
  if (raw === undefined) return undefined;
  const parsed = WitnessedCheckpointSchema.safeParse(raw);
  if (!parsed.success || parsed.data.logKey !== logKey) {
    throw new ClientError('CONFIG_INVALID', `${path} is not a witnessed checkpoint of this log`);
  }
  return parsed.data;
}

/** The alarm this home is under, if any. */
export async function readAlarm(home: Home): Promise<LogAlarm | undefined> {
  const raw = await readJson(alarmPath(home));
  if (raw === undefined) return undefined;
  const parsed = LogAlarmSchema.safeParse(raw);
  // A damaged alarm file still means "do not approve": never read it as "no alarm".
  return parsed.success
    ? parsed.data
    : {
        version: 1,
        code: 'LOG_UNVERIFIABLE',
        message: `${alarmPath(home)} is damaged`,
        detectedAt: new Date(0).toISOString(),
        coordinator: '',
        cause: 'CONFIG_INVALID',
        evidence: null,
        persistent: true,
      };
}

/**
 * After a person has looked at the evidence: lift the alarm and forget the last-seen checkpoint
 * of the pinned log, so the next round trusts the log's current state (the evidence files stay).
 */
export async function clearAlarm(home: Home): Promise<LogAlarm | undefined> {
  const alarm = await readAlarm(home);
  await unlink(alarmPath(home)).catch(() => undefined);
  const logKey = home.config.coordinator?.logKey;
  if (alarm !== undefined && logKey !== undefined) {
    await unlink(witnessedCheckpointPath(home, logKey)).catch(() => undefined);
  }
  return alarm;
}

/** The error a home under an alarm answers to any approval. */
export function alarmError(home: Home, alarm: LogAlarm): ClientError {
  const where = alarm.evidence === null ? '' : ` Evidence: ${join(home.dir, alarm.evidence)}.`;
  return new ClientError(
    alarm.code,
    `refusing to approve: ${alarm.message} (detected ${alarm.detectedAt}).${where} ` +
      'Tell your security lead and the other members; once investigated, run `conclave log witness --clear-alarm`',
    {
      details: {
        detectedAt: alarm.detectedAt,
        ...(alarm.evidence === null ? {} : { evidence: join(home.dir, alarm.evidence) }),
      },
    },
  );
}

// ---------------------------------------------------------------- one round

export type WitnessRoundResult =
  | {
      readonly status: 'cosigned';
      readonly size: number;
      /** Base64 root hash (line 3 of the checkpoint). */
      readonly root: string;
      /** The size accepted before (undefined on the first round). */
      readonly previousSize: number | undefined;
      /** The coordinator took the cosignature (false: it refused it; the check still stands). */
      readonly submitted: boolean;
      readonly warning?: string;
    }
  | { readonly status: 'unavailable'; readonly code: string; readonly reason: string }
  | { readonly status: 'alarm'; readonly alarm: LogAlarm };

export interface WitnessRoundOptions {
  readonly home: Home;
  /** The coordinator URL (the pinned one). */
  readonly url: string;
  readonly member: string;
  readonly key: IdentityKey;
  readonly engine: WitnessEngine;
  /** Credentials for the cosignature POST (default: memberAuthHeaders with `key`). */
  readonly authHeaders?: () => Promise<Record<string, string>>;
  /** Swap the HTTP transport (tests). */
  readonly transport?: LogTransport;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/**
 * One witnessing round for this home. Never throws for what the coordinator does: a transport
 * failure is `unavailable` (nothing learned), a misbehaviour is `alarm` (kept in the home).
 */
export async function witnessOnce(o: WitnessRoundOptions): Promise<WitnessRoundResult> {
  const log = o.log ?? (() => undefined);
  const now = o.now ?? Date.now;
  const pin = o.home.config.coordinator;
  if (pin === undefined) {
    return {
      status: 'unavailable',
      code: 'NO_COORDINATOR',
      reason: 'no coordinator pinned in this home',
    };
  }
  let served: { origin: string; verifierKey: string };
  try {
    served = await fetchLogKey(o.url);
  } catch (e) {
    return unavailable(e);
  }
  let logKey = pin.logKey;
  if (logKey === undefined) {
    // Trust on first use, like the coordinator and admin keys at `conclave init`.
    await o.home.saveConfig({
      ...o.home.config,
      coordinator: { ...pin, logKey: served.verifierKey },
    });
    logKey = served.verifierKey;
    log(`pinned the coordinator's log key ${logKey} (trust on first use)`);
  } else if (served.verifierKey !== logKey) {
    const evidence = await keepEvidence(o.home, 'LOG_KEY_CHANGED', {
      pinned: logKey,
      served: served.verifierKey,
    });
    return raise(o, {
      code: 'LOG_KEY_CHANGED',
      cause: 'LOG_KEY_CHANGED',
      message: `the coordinator now signs its log with another key (${served.verifierKey}) than the one pinned (${logKey}): it can start a new history`,
      evidence,
      persistent: true,
      detectedAt: new Date(now()).toISOString(),
    });
  }
  const state = await readWitnessed(o.home, logKey).catch((e: unknown) => {
    log(`ignoring a damaged last-seen checkpoint: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  });
  const base =
    o.transport ??
    httpLogTransport({ url: o.url, authHeaders: o.authHeaders ?? (() => memberAuthHeaders(o)) });
  let note: string | undefined;
  let submitError: unknown;
  const transport: LogTransport = {
    checkpoint: async () => (note = await base.checkpoint()),
    consistency: (from, to) => base.consistency(from, to),
    // The check stands even if the coordinator does not take the cosignature.
    submit: (cp, line) => base.submit(cp, line).catch((e: unknown) => void (submitError = e)),
  };
  let result: WitnessEngineResult;
  try {
    result = await o.engine({
      transport,
      lastSeen: state?.checkpoint,
      logKey,
      member: o.member,
      key: o.key,
      now: now(),
    });
  } catch (e) {
    return unavailable(e);
  }
  const detectedAt = new Date(now()).toISOString();
  if (!result.ok) {
    const { code, message } = result.error;
    if (code === 'LOG_FORK_DETECTED' || code === 'LOG_ROLLBACK') {
      const evidence = await keepEvidence(o.home, code, {
        message,
        // What this home accepted before (the log's own signature on it) and what it shows now.
        lastSeen: state?.checkpoint ?? result.error.lastSeen ?? null,
        lastSeenAcceptedAt: state?.acceptedAt ?? null,
        next: result.error.next ?? note ?? null,
        logKey,
      });
      return raise(o, { code, cause: code, message, evidence, persistent: true, detectedAt });
    }
    return raise(o, {
      code: 'LOG_UNVERIFIABLE',
      cause: code,
      message: `the log's checkpoint does not verify under the pinned log key (${code}: ${message})`,
      evidence: null,
      persistent: false,
      detectedAt,
    });
  }
  const { size, accepted } = result.value;
  const stored = await readWitnessed(o.home, logKey).catch(() => undefined);
  // Another process of this home may have accepted a newer one meanwhile: never go back.
  if (stored === undefined || stored.size <= size) {
    await mkdir(logDir(o.home), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(witnessedCheckpointPath(o.home, logKey), {
      version: 1,
      logKey,
      size,
      checkpoint: note ?? accepted,
      acceptedAt: detectedAt,
      cosigned: submitError === undefined,
    } satisfies WitnessedCheckpoint);
  }
  // Something that merely failed to verify before is lifted by a good round.
  const alarm = await readAlarm(o.home);
  if (alarm !== undefined && !alarm.persistent) {
    await unlink(alarmPath(o.home)).catch(() => undefined);
    log(`log witnessed again (size ${size}); the earlier ${alarm.cause} is lifted`);
  }
  const root = accepted.split('\n')[2] ?? '';
  const warning =
    submitError === undefined
      ? undefined
      : `the coordinator did not take the cosignature (${submitError instanceof ClientError ? submitError.code : 'error'})`;
  if (warning !== undefined) log(`log checkpoint ${size} checked, but ${warning}`);
  return {
    status: 'cosigned',
    size,
    root,
    previousSize: state?.size,
    submitted: submitError === undefined,
    ...(warning === undefined ? {} : { warning }),
  };
}

function unavailable(e: unknown): WitnessRoundResult {
  const code = e instanceof ClientError ? e.code : 'COORDINATOR_UNREACHABLE';
  return {
    status: 'unavailable',
    code,
    reason: e instanceof Error ? e.message : String(e),
  };
}

async function keepEvidence(
  home: Home,
  code: AlarmCode,
  facts: Record<string, unknown>,
): Promise<string> {
  const body = JSON.stringify(facts);
  const name = `${code}-${createHash('sha256').update(body).digest('hex').slice(0, 16)}.json`;
  const rel = join(LOG_DIR, EVIDENCE_DIR, name);
  await mkdir(join(home.dir, LOG_DIR, EVIDENCE_DIR), { recursive: true, mode: 0o700 });
  const path = join(home.dir, rel);
  // Same evidence twice (every reconnect sees it again): one file, never rewritten.
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) return rel;
  await writeJsonAtomic(path, {
    format: EVIDENCE_FORMAT,
    code,
    member: home.name,
    coordinator: home.config.coordinator?.url ?? null,
    recordedAt: new Date().toISOString(),
    ...facts,
    howToCheck:
      code === 'LOG_KEY_CHANGED'
        ? 'compare both keys with the one the coordinator printed at its first start'
        : 'both checkpoints verify under logKey (Go note.Open, or @conclave/audit openCheckpoint); no RFC 9162 consistency proof can join them',
  });
  return rel;
}

async function raise(
  o: WitnessRoundOptions,
  a: Omit<LogAlarm, 'version' | 'coordinator'>,
): Promise<WitnessRoundResult> {
  const alarm: LogAlarm = { version: 1, coordinator: o.url, ...a };
  const existing = await readAlarm(o.home);
  // Keep the first proven misbehaviour; a proof replaces a mere verification failure.
  if (existing === undefined || !existing.persistent) {
    await mkdir(logDir(o.home), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(alarmPath(o.home), alarm);
  }
  const log = o.log ?? (() => undefined);
  const where =
    alarm.evidence === null ? '' : `; evidence kept in ${join(o.home.dir, alarm.evidence)}`;
  log(`!!! ${alarm.code}: ${alarm.message}`);
  log(
    `!!! ${o.member} refuses to approve any request until a person has looked${where}. ` +
      'Tell your security lead and the other members; once investigated: conclave log witness --clear-alarm',
  );
  return { status: 'alarm', alarm: existing?.persistent === true ? existing : alarm };
}

// ---------------------------------------------------------------- a session's witness

/** The parts of a Connection a witness listens to. */
export interface WitnessedConnection {
  onConnect(handler: () => void): () => void;
  onEnvelope(handler: (envelope: OpenedEnvelope) => void): () => void;
  onClose(handler: () => void): () => void;
}

export interface LogWitnessOptions extends WitnessRoundOptions {
  readonly connection: WitnessedConnection;
  /** Periodic rounds while connected (default WITNESS_INTERVAL_MS; 0: none). */
  readonly intervalMs?: number;
}

/**
 * A session's witness: a round on every (re)connect, after every ceremony end it sees, and
 * periodically; rounds never overlap. `assertMayApprove` waits for the round in flight and throws
 * the alarm's code (LOG_FORK_DETECTED, …) while the home is under one.
 */
export class LogWitness {
  readonly #o: LogWitnessOptions;
  #current: Promise<WitnessRoundResult> | undefined;
  #queued: Promise<WitnessRoundResult> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  last: WitnessRoundResult | undefined;

  constructor(o: LogWitnessOptions) {
    this.#o = o;
    o.connection.onConnect(() => void this.run());
    o.connection.onEnvelope((env) => {
      if (/\.(complete|aborted|abort)$/.test(env.body.type)) void this.run();
    });
    o.connection.onClose(() => this.stop());
    const every = o.intervalMs ?? WITNESS_INTERVAL_MS;
    if (every > 0) {
      this.#timer = setInterval(() => void this.run(), every);
      this.#timer.unref();
    }
  }

  /** Runs a round after the one in flight (a round already waiting is shared). */
  run(): Promise<WitnessRoundResult> {
    if (this.#queued !== undefined) return this.#queued;
    const before = this.#current ?? Promise.resolve(undefined);
    const next = before.then(() => {
      this.#queued = undefined;
      if (this.#closed) {
        return {
          status: 'unavailable',
          code: 'CONNECTION_CLOSED',
          reason: 'session closed',
        } as const;
      }
      return witnessOnce(this.#o).catch((e: unknown) => unavailable(e));
    });
    this.#queued = next;
    this.#current = next.then((r) => (this.last = r));
    return next;
  }

  /** Throws the alarm's code while this home refuses to approve (after the round in flight). */
  async assertMayApprove(): Promise<void> {
    await this.#current;
    const alarm = await readAlarm(this.#o.home);
    if (alarm !== undefined) throw alarmError(this.#o.home, alarm);
  }

  stop(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
