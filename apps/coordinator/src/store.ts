// Storage behind a small repository interface (DESIGN.md "Storage"). SQLite (better-sqlite3) is the
// embedded default: WAL, busy_timeout (D.50), foreign keys, and group commit: COMMIT writes the WAL
// (synchronous=NORMAL) and every output waits in afterDurable() for an fdatasync of it, off the
// event loop (wal-sync.ts; THREATS D.48). Every row read back is parsed with a zod schema: the
// file is hostile until parsed (D.51).
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EnvelopeSchema, ProtocolError, deepFreeze, type Envelope } from '@conclave/protocol';
import * as z from 'zod';
import { migrate } from './migrations.js';
import { WalSync, type SyncFn } from './wal-sync.js';

const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
const Name = z.string().min(1).max(64);
const Time = z.number().int().nonnegative();
/** A TEXT column holding JSON, parsed with `schema` (a hostile row fails its parse, never throws). */
export const jsonColumn = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx) => {
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data as z.output<T>;
    } catch {
      // fall through
    }
    ctx.addIssue({ code: 'custom', message: 'invalid JSON column' });
    return z.NEVER;
  });

const MemberRow = z.object({
  name: Name,
  identity_key: Hex.length(64),
  roles: jsonColumn(z.array(z.string())),
  created_at: Time,
  revoked_at: Time.nullable(),
});
export interface MemberRecord {
  readonly name: string;
  readonly identityKey: string;
  readonly roles: readonly string[];
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

export const GROUP_STATES = ['keygen', 'active', 'failed'] as const;
export type GroupState = (typeof GROUP_STATES)[number];
const RosterSchema = z.array(z.strictObject({ member: Name, identityKey: Hex.length(64) }));
const GroupRow = z.object({
  name: Name,
  threshold: z.number().int().min(2),
  members: jsonColumn(RosterSchema),
  state: z.enum(GROUP_STATES),
  ceremony_id: Name,
  group_public_key: Hex.length(64).nullable(),
  public_key_package: Hex.nullable(),
  created_at: Time,
  updated_at: Time,
  epoch: z.number().int().nonnegative(),
});
export interface GroupRecord {
  readonly name: string;
  readonly threshold: number;
  readonly members: readonly { readonly member: string; readonly identityKey: string }[];
  readonly state: GroupState;
  readonly ceremonyId: string;
  readonly groupPublicKey: string | null;
  readonly publicKeyPackage: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Key epoch: 0 after the DKG, +1 per completed refresh or reshare (docs/lifecycle.md). */
  readonly epoch: number;
}

const SharesChangeRow = z.object({ epoch: z.number().int().nonnegative(), at: Time });
const EpochRow = z.object({
  grp: Name,
  epoch: z.number().int().nonnegative(),
  kind: z.enum(['dkg', 'refresh', 'reshare']),
  ceremony_id: Name,
  threshold: z.number().int().min(2),
  members: jsonColumn(RosterSchema),
  group_public_key: Hex.length(64),
  public_key_package: Hex,
  at: Time,
});
/** One epoch of a group's key: the key state a refresh or reshare produced (or the DKG's). */
export interface EpochRecord {
  readonly group: string;
  readonly epoch: number;
  readonly kind: 'dkg' | 'refresh' | 'reshare';
  readonly ceremonyId: string;
  readonly threshold: number;
  readonly members: readonly { readonly member: string; readonly identityKey: string }[];
  readonly groupPublicKey: string;
  readonly publicKeyPackage: string;
  readonly at: number;
}

export const CEREMONY_KINDS = ['key', 'sign'] as const;
export type StoredKind = (typeof CEREMONY_KINDS)[number];
const CeremonyRow = z.object({
  id: Name,
  kind: z.enum(CEREMONY_KINDS),
  grp: Name,
  snapshot: z.string().min(2),
  state: z.string().min(1).max(64),
  open: z.union([z.literal(0), z.literal(1)]),
  created_at: Time,
  updated_at: Time,
  deadline: Time.nullable(),
});
export interface CeremonyRecord {
  readonly id: string;
  readonly kind: StoredKind;
  readonly group: string;
  /** persist() output of the ceremony's actor. */
  readonly snapshot: string;
  readonly state: string;
  readonly open: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deadline: number | null;
}
/**
 * One row of a ceremony listing: its record, or, for a row that does not parse, the id as stored
 * (cut, for the log) and the error. A listing hands each row back on its own so that the reader
 * can skip a damaged one and go on with the others (boot, inbox; D.51).
 */
export type CeremonyListing =
  | { readonly ok: true; readonly record: CeremonyRecord }
  | { readonly ok: false; readonly rawId: string; readonly error: ProtocolError };
export interface CeremonyUpdate {
  readonly snapshot: string;
  readonly state: string;
  readonly open: boolean;
  readonly updatedAt: number;
  readonly deadline: number | null;
}

const TranscriptRow = z.object({
  ceremony_id: Name,
  idx: z.number().int().nonnegative(),
  direction: z.enum(['in', 'out']),
  sender: Name,
  recipient: Name.nullable(),
  body_type: z.string().min(1).max(64),
  effect_seq: z.number().int().nullable(),
  at: Time,
  envelope: jsonColumn(EnvelopeSchema),
});
export interface TranscriptEntry {
  readonly ceremonyId: string;
  readonly idx: number;
  readonly direction: 'in' | 'out';
  readonly sender: string;
  /** For outgoing envelopes: one member, or `*` for every participant. */
  readonly recipient: string | null;
  readonly bodyType: string;
  /** The machine effect that produced an outgoing envelope (idempotency key with the ceremony). */
  readonly effectSeq: number | null;
  readonly at: number;
  readonly envelope: Envelope;
}
export type NewTranscriptEntry = Omit<TranscriptEntry, 'idx' | 'bodyType'>;

const SessionRow = z.object({
  ceremony_id: Name,
  session: z.number().int().min(1),
  session_id: z.string().min(1),
  signing_package: Hex,
  statement: jsonColumn(z.record(z.string(), z.unknown())),
  statement_digest: Hex.length(64),
  approvers: jsonColumn(z.array(z.strictObject({ member: Name, identityKey: Hex.length(64) }))),
  issued_at: Time,
  phase: z.number().int().min(1).max(2),
  jobs: jsonColumn(
    z.array(z.strictObject({ job: z.string().min(1).max(300), signingPackage: Hex })),
  ),
  signatures: z.union([z.null(), jsonColumn(z.record(z.string().max(300), Hex.length(128)))]),
});
/** One job of a session: its id and the FROST signing package the coordinator built for it. */
export interface SessionJob {
  readonly job: string;
  readonly signingPackage: string;
}
export interface SessionRecord {
  readonly ceremonyId: string;
  readonly session: number;
  readonly sessionId: string;
  readonly signingPackage: string;
  readonly statement: Record<string, unknown>;
  readonly statementDigest: string;
  readonly approvers: readonly { readonly member: string; readonly identityKey: string }[];
  readonly issuedAt: number;
  readonly phase: number;
  readonly jobs: readonly SessionJob[];
  /** job → signature once the session aggregated; null before. */
  readonly signatures: Readonly<Record<string, string>> | null;
}

const BundleRow = z.object({
  ceremony_id: Name,
  bundle_id: Hex.length(64),
  member: Name,
  phase: z.number().int().min(1).max(2),
  commitments: jsonColumn(z.array(Hex).min(1)),
  at: Time,
});
/** An approver's commitments for one phase, one per job; the machine knows it by `bundleId`. */
export interface CommitmentBundle {
  readonly ceremonyId: string;
  readonly bundleId: string;
  readonly member: string;
  readonly phase: number;
  readonly commitments: readonly string[];
  readonly at: number;
}

const SignatureRow = z.object({
  ceremony_id: Name,
  signature: Hex.length(128),
  statement: jsonColumn(z.record(z.string(), z.unknown())),
  statement_digest: Hex.length(64),
  signers: jsonColumn(z.array(Name)),
  at: Time,
  jobs: jsonColumn(z.record(z.string().max(300), Hex.length(128))),
});
export interface SignatureRecord {
  readonly ceremonyId: string;
  /** The statement's signature (job `dsse`). */
  readonly signature: string;
  /** Every job's signature, the statement's included. */
  readonly jobs: Readonly<Record<string, string>>;
  readonly statement: Record<string, unknown>;
  readonly statementDigest: string;
  readonly signers: readonly string[];
  readonly at: number;
}

export interface SeenKey {
  readonly sender: string;
  readonly ceremonyId: string;
  readonly round: string;
  readonly seq: number;
}

/** What the coordinator needs from storage. SQLite today; a PostgreSQL store can implement it later. */
export interface Store {
  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE … COMMIT); rolls back if it throws. Committed is
   * not yet durable: whatever reports the writes goes out through afterDurable().
   */
  transaction<T>(fn: () => T): T;
  /**
   * Runs `fn` once every write committed so far is on disk (THREATS D.48): at once when none is
   * pending. Every output of the coordinator goes through it. Never runs after a failed sync:
   * `onFailed` (if given) runs instead.
   */
  afterDurable(fn: () => void, onFailed?: () => void): void;
  /** Syncs every write made so far to disk now (start-up, before serving); throws if it cannot. */
  syncNow(): void;
  /**
   * Inside a transaction: runs `fn` in a SAVEPOINT, so if it throws only its own writes are rolled
   * back (the error propagates). Outside one: as transaction().
   */
  savepoint<T>(fn: () => T): T;
  ping(): boolean;
  close(): void;
  /** Checkpoints the WAL (TRUNCATE) if it is larger than `maxBytes`; returns whether it did. */
  checkpointIfLarger(maxBytes: number): boolean;

  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;

  getMember(name: string): MemberRecord | undefined;
  memberByKey(identityKey: string): MemberRecord | undefined;
  addMember(member: MemberRecord): void;
  revokeMember(name: string, at: number): void;

  getGroup(name: string): GroupRecord | undefined;
  listGroups(): GroupRecord[];
  /** Inserts, or replaces a group whose key ceremony failed. */
  putGroup(group: GroupRecord): void;
  /** Records one epoch's key state (history; DUPLICATE if that epoch is already recorded). */
  putEpoch(epoch: EpochRecord): void;
  listEpochs(group: string): EpochRecord[];
  /**
   * The group's newest epoch that changed its shares (a refresh or reshare, not its DKG): epoch and
   * time only, cheap enough to ask before every event (CeremonyRunner.apply).
   */
  lastSharesChange(group: string): { readonly epoch: number; readonly at: number } | undefined;

  getCeremony(id: string): CeremonyRecord | undefined;
  insertCeremony(record: CeremonyRecord): void;
  updateCeremony(id: string, update: CeremonyUpdate): void;
  /** Each open ceremony's row, parsed on its own (a damaged one is not fatal to the others). */
  listOpenCeremonies(): CeremonyListing[];
  /** Newest first, at most `limit`, of the ceremonies of these groups, each parsed on its own. */
  listCeremoniesOfGroups(groups: readonly string[], limit: number): CeremonyListing[];
  countCeremoniesByState(): { kind: string; state: string; count: number }[];

  appendTranscript(entry: NewTranscriptEntry): number;
  transcript(ceremonyId: string): TranscriptEntry[];
  /** The first entry (the request or authorization that opened it): one row read and parsed. */
  firstTranscriptEntry(ceremonyId: string): TranscriptEntry | undefined;
  /** The entries of one body type (e.g. `round2.share`), in order: only those are parsed. */
  transcriptOfType(ceremonyId: string, bodyType: string): TranscriptEntry[];
  /** Groups with a signing request that names the artifact `sha256`. */
  groupsRequestingArtifact(sha256: string): string[];
  transcriptForEffect(ceremonyId: string, effectSeq: number): TranscriptEntry[];

  hasSeen(key: SeenKey): boolean;
  /** Records a message; REPLAYED_MESSAGE if it was recorded before (persisted: survives restarts). */
  markSeen(key: SeenKey, at: number): void;

  /** Records a signing commitment for a group key; COMMITMENT_REUSED if it was ever seen (A.1). */
  recordCommitment(
    groupKey: string,
    commitment: string,
    ceremonyId: string,
    member: string,
    at: number,
  ): void;
  hasCommitment(groupKey: string, commitment: string): boolean;

  getSession(ceremonyId: string, session: number): SessionRecord | undefined;
  putSession(record: SessionRecord): void;
  /** Stores a session's aggregated signatures (before any later phase starts). */
  setSessionSignatures(ceremonyId: string, session: number, jobs: Record<string, string>): void;
  putBundle(bundle: CommitmentBundle): void;
  getBundle(ceremonyId: string, bundleId: string): CommitmentBundle | undefined;
  getSignature(ceremonyId: string): SignatureRecord | undefined;
  putSignature(record: SignatureRecord): void;

  /** Records an admin operation by its scope id; DUPLICATE if the scope was used. */
  logAdmin(scopeId: string, bodyType: string, at: number, envelope: Envelope): void;
}

export interface OpenStoreOptions {
  readonly now: number;
  readonly readonly?: boolean;
  /** The WAL's fdatasync (tests inject a controllable one). */
  readonly syncWal?: SyncFn;
  /** Told when an fdatasync fails: the store then refuses writes until restarted. */
  readonly onSyncFailure?: (err: Error) => void;
  /**
   * Whether the event loop has nothing else waiting (the coordinator's TurnQueue is empty): then
   * an output syncs inline, at once (wal-sync.ts). Default: always in the background.
   */
  readonly loopIdle?: () => boolean;
}

function parseRow<T extends z.ZodType>(schema: T, row: unknown, table: string): z.output<T> {
  const parsed = schema.safeParse(row);
  if (!parsed.success) {
    throw new ProtocolError('STORAGE_UNAVAILABLE', `corrupt row in ${table}`);
  }
  return parsed.data;
}

/**
 * The id column of a ceremony row that did not parse, for the log line that names it: ids are
 * public (they name ceremonies on the wire), but the column is hostile, so it is cut to the
 * longest valid id (the logger writes fields as JSON, so no character of it can forge a line).
 */
function rawCeremonyId(row: unknown): string {
  const id = typeof row === 'object' && row !== null ? (row as { id?: unknown }).id : undefined;
  if (typeof id !== 'string' && typeof id !== 'number') return `(${typeof id})`;
  return String(id).slice(0, 64);
}

const isUnique = (e: unknown): boolean =>
  typeof e === 'object' &&
  e !== null &&
  'code' in e &&
  (e as { code: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';

const isPrimaryKey = (e: unknown): boolean =>
  typeof e === 'object' &&
  e !== null &&
  'code' in e &&
  (e as { code: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';

/** What reads and writes outside the store need of a database: statements by SQL text. */
export interface Statements {
  prepare(source: string): Database.Statement;
}

/**
 * Every better-sqlite3 database this process opened, with its statements, kept until the process
 * exits. better-sqlite3 12 wraps databases and statements in `node::ObjectWrap`; built against the
 * headers of Node ≥ 24.19, the wrapper's destructor aborts the whole process when a garbage
 * collection that runs outside JavaScript collects one (`Assertion failed: (env) != nullptr` in
 * `node::RemoveEnvironmentCleanupHook`; nodejs/node#65446, open). Node 24.21 with better-sqlite3
 * built from source here aborted the demo within 4 s. better-sqlite3 13 moved to node-addon-api,
 * but needs Node ≥ 22 and we support Node 20, so instead no such object is ever let go:
 * - a database's statements are prepared once per SQL text and kept (`retainStatements`, which
 *   also makes `db.prepare` itself go through the cache, so no call site can drop one);
 * - pragmas run through `exec` (better-sqlite3's `pragma()` makes a statement and drops it);
 * - a closed database stays here with its statements (a few KiB; a coordinator opens one).
 * The SQL texts are the code's own plus `IN (?, …)` lists up to the number of groups, so the
 * cache is bounded by the code, not by input. Cached statements are shared: never switch one to
 * `pluck`, `raw`, `expand` or `bind` it.
 */
const retained = new Map<Database.Database, Statements>();

/**
 * `db`'s statements, each prepared once and reused (better-sqlite3 statements are reusable, and
 * preparing one costs about as much as running it), kept with `db` for the life of the process.
 */
export function statementsOf(db: Database.Database): Statements {
  return retained.get(db) ?? retainStatements(db);
}

/**
 * A better-sqlite3 database kept with its statements for the life of the process (`retained`):
 * what the store opens, and what tools and tests that read the file directly should open.
 */
export function openDatabase(path: string, options?: Database.Options): Database.Database {
  const db = new Database(path, options);
  retainStatements(db);
  return db;
}

function retainStatements(db: Database.Database): Statements {
  const cache = new Map<string, Database.Statement>();
  const prepareNew = Database.prototype.prepare.bind(db) as (source: string) => Database.Statement;
  const statements: Statements = {
    prepare(source: string): Database.Statement {
      let stmt = cache.get(source);
      if (stmt === undefined) {
        stmt = prepareNew(source);
        cache.set(source, stmt);
      }
      return stmt;
    },
  };
  db.prepare = statements.prepare as typeof db.prepare;
  db.pragma = () => {
    throw new Error('use db.exec("PRAGMA …") or a cached statement (store.ts: retained)');
  };
  retained.set(db, statements);
  return statements;
}

const SESSION_CACHE_LIMIT = 1024;
const sessionKey = (ceremonyId: string, session: number): string => `${ceremonyId}#${session}`;

export class SqliteStore implements Store {
  readonly db: Database.Database;
  /**
   * Parsed rows of the two tables read on every envelope (members: its sender's key; groups: its
   * ceremony's group), by name, frozen. Only filled outside a transaction (committed data), and an
   * entry is dropped by every write to its row, so a rolled-back write leaves no stale entry. The
   * store's methods are the only writers of these tables.
   */
  readonly #memberCache = new Map<string, MemberRecord>();
  readonly #groupCache = new Map<string, GroupRecord>();
  /**
   * Signing sessions, by ceremony and index, under the same rules (read for every share, and their
   * packages' hex made parsing them costly); bounded, oldest dropped first.
   */
  readonly #sessionCache = new Map<string, SessionRecord>();

  /**
   * `cache`'s entry for `key`, else `load()` (a parsed row, or undefined for none), kept frozen
   * only when read outside a transaction; past `limit` entries the oldest is dropped.
   */
  #readThrough<T extends object>(
    cache: Map<string, T>,
    key: string,
    load: () => T | undefined,
    limit = Number.POSITIVE_INFINITY,
  ): T | undefined {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const value = load();
    if (value !== undefined && !this.db.inTransaction) {
      cache.set(key, deepFreeze(value));
      if (cache.size > limit) cache.delete(cache.keys().next().value as string);
    }
    return value;
  }

  /** Group commit of the WAL; null for a read-only or in-memory database (nothing to sync). */
  readonly #wal: WalSync | null = null;

  constructor(path: string, options: OpenStoreOptions) {
    this.db = openDatabase(path, options.readonly === true ? { readonly: true } : {});
    this.db.exec('PRAGMA busy_timeout = 5000');
    if (options.readonly !== true) {
      this.db.exec('PRAGMA journal_mode = WAL');
      // Migrations commit with a sync of their own, before anything is served.
      this.db.exec('PRAGMA synchronous = FULL');
      this.db.exec('PRAGMA foreign_keys = ON');
      migrate(this.db, options.now);
      if (!this.db.memory) {
        this.db.exec('PRAGMA synchronous = NORMAL');
        const changes = this.#stmt('SELECT total_changes() AS n');
        const loopIdle = options.loopIdle;
        this.#wal = new WalSync({
          path: `${this.db.name}-wal`,
          changes: () => (changes.get() as { n: number }).n,
          ...(options.syncWal === undefined ? {} : { sync: options.syncWal }),
          ...(options.onSyncFailure === undefined ? {} : { onFailure: options.onSyncFailure }),
          ...(loopIdle === undefined
            ? {}
            : {
                // Never inside a transaction: its COMMIT has not written the WAL yet.
                inlineWhen: () => !this.db.inTransaction && loopIdle(),
              }),
        });
      }
    }
  }

  afterDurable(fn: () => void, onFailed?: () => void): void {
    if (this.#wal === null) fn();
    else this.#wal.afterDurable(fn, onFailed);
  }

  syncNow(): void {
    this.#wal?.syncNow();
  }

  /** Fails closed after a failed WAL sync (D.48, D.49): memory may be ahead of the disk. */
  #checkSync(): void {
    const failed = this.#wal?.failed;
    if (failed === null || failed === undefined) return;
    throw Object.assign(new Error('the WAL could not be synced to disk; restart the coordinator'), {
      name: 'SqliteError',
      code: 'SQLITE_IOERR_FSYNC',
    });
  }

  #stmt(sql: string): Database.Statement {
    return statementsOf(this.db).prepare(sql);
  }

  transaction<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.#checkSync();
    return this.db.transaction(fn).immediate();
  }

  savepoint<T>(fn: () => T): T {
    // better-sqlite3 runs a transaction function nested in an open transaction as a savepoint.
    if (this.db.inTransaction) return this.db.transaction(fn)();
    return this.transaction(fn);
  }

  ping(): boolean {
    if (this.#wal?.failed) return false;
    try {
      const row = this.#stmt('SELECT 1 AS ok').get() as { ok: number } | undefined;
      return row?.ok === 1;
    } catch {
      return false;
    }
  }

  close(): void {
    this.#wal?.close();
    if (this.db.open) this.db.close();
  }

  checkpointIfLarger(maxBytes: number): boolean {
    let size: number;
    try {
      size = statSync(`${this.db.name}-wal`).size;
    } catch {
      return false;
    }
    if (size <= maxBytes) return false;
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return true;
  }

  getSetting(key: string): string | undefined {
    const row = this.#stmt('SELECT value FROM settings WHERE key = ?').get(key);
    return row === undefined
      ? undefined
      : parseRow(z.object({ value: z.string() }), row, 'settings').value;
  }

  setSetting(key: string, value: string): void {
    this.#stmt(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  #member(row: unknown): MemberRecord {
    const r = parseRow(MemberRow, row, 'members');
    return {
      name: r.name,
      identityKey: r.identity_key,
      roles: r.roles,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    };
  }

  getMember(name: string): MemberRecord | undefined {
    return this.#readThrough(this.#memberCache, name, () => {
      const row = this.#stmt('SELECT * FROM members WHERE name = ?').get(name);
      return row === undefined ? undefined : this.#member(row);
    });
  }

  memberByKey(identityKey: string): MemberRecord | undefined {
    const row = this.#stmt('SELECT * FROM members WHERE identity_key = ?').get(identityKey);
    return row === undefined ? undefined : this.#member(row);
  }

  addMember(m: MemberRecord): void {
    this.#memberCache.delete(m.name);
    try {
      this.#stmt(
        'INSERT INTO members (name, identity_key, roles, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)',
      ).run(m.name, m.identityKey, JSON.stringify(m.roles), m.createdAt, m.revokedAt);
    } catch (e) {
      if (isUnique(e) || isPrimaryKey(e)) throw new ProtocolError('DUPLICATE', 'member exists');
      throw e;
    }
  }

  revokeMember(name: string, at: number): void {
    this.#memberCache.delete(name);
    this.#stmt('UPDATE members SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(
      at,
      name,
    );
  }

  getGroup(name: string): GroupRecord | undefined {
    return this.#readThrough(this.#groupCache, name, () => {
      const row = this.#stmt('SELECT * FROM groups WHERE name = ?').get(name);
      return row === undefined ? undefined : this.#group(row);
    });
  }

  listGroups(): GroupRecord[] {
    return this.#stmt('SELECT * FROM groups ORDER BY name')
      .all()
      .map((r) => this.#group(r));
  }

  #group(row: unknown): GroupRecord {
    const r = parseRow(GroupRow, row, 'groups');
    return {
      name: r.name,
      threshold: r.threshold,
      members: r.members,
      state: r.state,
      ceremonyId: r.ceremony_id,
      groupPublicKey: r.group_public_key,
      publicKeyPackage: r.public_key_package,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      epoch: r.epoch,
    };
  }

  putGroup(g: GroupRecord): void {
    this.#groupCache.delete(g.name);
    this.#stmt(
      `INSERT INTO groups (name, threshold, members, state, ceremony_id, group_public_key,
         public_key_package, created_at, updated_at, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET threshold = excluded.threshold, members = excluded.members,
         state = excluded.state, ceremony_id = excluded.ceremony_id,
         group_public_key = excluded.group_public_key,
         public_key_package = excluded.public_key_package, updated_at = excluded.updated_at,
         epoch = excluded.epoch`,
    ).run(
      g.name,
      g.threshold,
      JSON.stringify(g.members),
      g.state,
      g.ceremonyId,
      g.groupPublicKey,
      g.publicKeyPackage,
      g.createdAt,
      g.updatedAt,
      g.epoch,
    );
  }

  putEpoch(e: EpochRecord): void {
    try {
      this.#stmt(
        `INSERT INTO group_epochs (grp, epoch, kind, ceremony_id, threshold, members,
           group_public_key, public_key_package, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        e.group,
        e.epoch,
        e.kind,
        e.ceremonyId,
        e.threshold,
        JSON.stringify(e.members),
        e.groupPublicKey,
        e.publicKeyPackage,
        e.at,
      );
    } catch (err) {
      if (isPrimaryKey(err) || isUnique(err))
        throw new ProtocolError('DUPLICATE', 'this epoch is already recorded');
      throw err;
    }
  }

  lastSharesChange(group: string): { readonly epoch: number; readonly at: number } | undefined {
    const row = this.#stmt(
      "SELECT epoch, at FROM group_epochs WHERE grp = ? AND kind != 'dkg' ORDER BY epoch DESC LIMIT 1",
    ).get(group);
    if (row === undefined) return undefined;
    const r = parseRow(SharesChangeRow, row, 'group_epochs');
    return { epoch: r.epoch, at: r.at };
  }

  listEpochs(group: string): EpochRecord[] {
    return this.#stmt('SELECT * FROM group_epochs WHERE grp = ? ORDER BY epoch')
      .all(group)
      .map((row) => {
        const r = parseRow(EpochRow, row, 'group_epochs');
        return {
          group: r.grp,
          epoch: r.epoch,
          kind: r.kind,
          ceremonyId: r.ceremony_id,
          threshold: r.threshold,
          members: r.members,
          groupPublicKey: r.group_public_key,
          publicKeyPackage: r.public_key_package,
          at: r.at,
        };
      });
  }

  #ceremony(row: unknown): CeremonyRecord {
    const r = parseRow(CeremonyRow, row, 'ceremonies');
    return {
      id: r.id,
      kind: r.kind,
      group: r.grp,
      snapshot: r.snapshot,
      state: r.state,
      open: r.open === 1,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      deadline: r.deadline,
    };
  }

  /** One listed row: parsed, or its stored id and why not (never thrown: see CeremonyListing). */
  #listing(row: unknown): CeremonyListing {
    try {
      return { ok: true, record: this.#ceremony(row) };
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return { ok: false, rawId: rawCeremonyId(row), error: e };
    }
  }

  getCeremony(id: string): CeremonyRecord | undefined {
    const row = this.#stmt('SELECT * FROM ceremonies WHERE id = ?').get(id);
    return row === undefined ? undefined : this.#ceremony(row);
  }

  insertCeremony(c: CeremonyRecord): void {
    try {
      this.#stmt(
        `INSERT INTO ceremonies (id, kind, grp, snapshot, state, open, created_at, updated_at, deadline)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        c.id,
        c.kind,
        c.group,
        c.snapshot,
        c.state,
        c.open ? 1 : 0,
        c.createdAt,
        c.updatedAt,
        c.deadline,
      );
    } catch (e) {
      if (isPrimaryKey(e) || isUnique(e)) throw new ProtocolError('DUPLICATE', 'ceremony exists');
      throw e;
    }
  }

  updateCeremony(id: string, u: CeremonyUpdate): void {
    this.#stmt(
      'UPDATE ceremonies SET snapshot = ?, state = ?, open = ?, updated_at = ?, deadline = ? WHERE id = ?',
    ).run(u.snapshot, u.state, u.open ? 1 : 0, u.updatedAt, u.deadline, id);
  }

  listOpenCeremonies(): CeremonyListing[] {
    return this.#stmt('SELECT * FROM ceremonies WHERE open = 1 ORDER BY created_at')
      .all()
      .map((r) => this.#listing(r));
  }

  listCeremoniesOfGroups(groups: readonly string[], limit: number): CeremonyListing[] {
    if (groups.length === 0) return [];
    const marks = groups.map(() => '?').join(', ');
    return this.db
      .prepare(
        `SELECT * FROM ceremonies WHERE grp IN (${marks}) ORDER BY open DESC, updated_at DESC LIMIT ?`,
      )
      .all(...groups, limit)
      .map((r) => this.#listing(r));
  }

  countCeremoniesByState(): { kind: string; state: string; count: number }[] {
    return this.#stmt('SELECT kind, state, COUNT(*) AS count FROM ceremonies GROUP BY kind, state')
      .all()
      .map((r) =>
        parseRow(
          z.object({ kind: z.string(), state: z.string(), count: z.number().int() }),
          r,
          'ceremonies',
        ),
      );
  }

  appendTranscript(e: NewTranscriptEntry): number {
    const row = this.#stmt(
      'SELECT COALESCE(MAX(idx) + 1, 0) AS next FROM transcript WHERE ceremony_id = ?',
    ).get(e.ceremonyId) as { next: number };
    this.#stmt(
      `INSERT INTO transcript (ceremony_id, idx, direction, sender, recipient, body_type, effect_seq, at, envelope)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      e.ceremonyId,
      row.next,
      e.direction,
      e.sender,
      e.recipient,
      e.envelope.body.type,
      e.effectSeq,
      e.at,
      JSON.stringify(e.envelope),
    );
    const body = e.envelope.body;
    if (e.direction === 'in' && body.type === 'sign.request') {
      const insert = this.#stmt(
        'INSERT OR IGNORE INTO request_artifacts (sha256, ceremony_id) VALUES (?, ?)',
      );
      for (const a of body.release.artifacts) insert.run(a.sha256, e.ceremonyId);
    }
    return row.next;
  }

  groupsRequestingArtifact(sha256: string): string[] {
    return this.#stmt(
      `SELECT DISTINCT c.grp AS grp FROM request_artifacts r JOIN ceremonies c ON c.id = r.ceremony_id
       WHERE r.sha256 = ?`,
    )
      .all(sha256)
      .map((r) => parseRow(z.object({ grp: z.string() }), r, 'request_artifacts').grp);
  }

  #entry(row: unknown): TranscriptEntry {
    const r = parseRow(TranscriptRow, row, 'transcript');
    return {
      ceremonyId: r.ceremony_id,
      idx: r.idx,
      direction: r.direction,
      sender: r.sender,
      recipient: r.recipient,
      bodyType: r.body_type,
      effectSeq: r.effect_seq,
      at: r.at,
      envelope: r.envelope,
    };
  }

  transcript(ceremonyId: string): TranscriptEntry[] {
    return this.#stmt('SELECT * FROM transcript WHERE ceremony_id = ? ORDER BY idx')
      .all(ceremonyId)
      .map((r) => this.#entry(r));
  }

  firstTranscriptEntry(ceremonyId: string): TranscriptEntry | undefined {
    const row = this.#stmt(
      'SELECT * FROM transcript WHERE ceremony_id = ? ORDER BY idx LIMIT 1',
    ).get(ceremonyId);
    return row === undefined ? undefined : this.#entry(row);
  }

  transcriptOfType(ceremonyId: string, bodyType: string): TranscriptEntry[] {
    return this.#stmt(
      'SELECT * FROM transcript WHERE ceremony_id = ? AND body_type = ? ORDER BY idx',
    )
      .all(ceremonyId, bodyType)
      .map((r) => this.#entry(r));
  }

  transcriptForEffect(ceremonyId: string, effectSeq: number): TranscriptEntry[] {
    return this.#stmt(
      'SELECT * FROM transcript WHERE ceremony_id = ? AND effect_seq = ? ORDER BY idx',
    )
      .all(ceremonyId, effectSeq)
      .map((r) => this.#entry(r));
  }

  hasSeen(k: SeenKey): boolean {
    return (
      this.#stmt(
        'SELECT 1 FROM seen_messages WHERE sender = ? AND ceremony = ? AND round = ? AND seq = ?',
      ).get(k.sender, k.ceremonyId, k.round, k.seq) !== undefined
    );
  }

  markSeen(k: SeenKey, at: number): void {
    try {
      this.#stmt(
        'INSERT INTO seen_messages (sender, ceremony, round, seq, at) VALUES (?, ?, ?, ?, ?)',
      ).run(k.sender, k.ceremonyId, k.round, k.seq, at);
    } catch (e) {
      if (isUnique(e)) throw new ProtocolError('REPLAYED_MESSAGE', 'message was already received');
      throw e;
    }
  }

  recordCommitment(
    groupKey: string,
    commitment: string,
    ceremonyId: string,
    member: string,
    at: number,
  ): void {
    try {
      this.#stmt(
        'INSERT INTO commitments (group_key, commitment, ceremony_id, member, at) VALUES (?, ?, ?, ?, ?)',
      ).run(groupKey, commitment, ceremonyId, member, at);
    } catch (e) {
      if (isUnique(e)) {
        throw new ProtocolError('COMMITMENT_REUSED', 'commitment was already used for this key');
      }
      throw e;
    }
  }

  hasCommitment(groupKey: string, commitment: string): boolean {
    return (
      this.#stmt('SELECT 1 FROM commitments WHERE group_key = ? AND commitment = ?').get(
        groupKey,
        commitment,
      ) !== undefined
    );
  }

  getSession(ceremonyId: string, session: number): SessionRecord | undefined {
    return this.#readThrough(
      this.#sessionCache,
      sessionKey(ceremonyId, session),
      () => {
        const row = this.#stmt('SELECT * FROM sessions WHERE ceremony_id = ? AND session = ?').get(
          ceremonyId,
          session,
        );
        return row === undefined ? undefined : this.#session(row);
      },
      SESSION_CACHE_LIMIT,
    );
  }

  #session(row: unknown): SessionRecord {
    const r = parseRow(SessionRow, row, 'sessions');
    return {
      ceremonyId: r.ceremony_id,
      session: r.session,
      sessionId: r.session_id,
      signingPackage: r.signing_package,
      statement: r.statement,
      statementDigest: r.statement_digest,
      approvers: r.approvers,
      issuedAt: r.issued_at,
      phase: r.phase,
      jobs: r.jobs,
      signatures: r.signatures,
    };
  }

  putSession(s: SessionRecord): void {
    this.#sessionCache.delete(sessionKey(s.ceremonyId, s.session));
    this.#stmt(
      `INSERT INTO sessions (ceremony_id, session, session_id, signing_package, statement,
         statement_digest, approvers, issued_at, phase, jobs, signatures)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      s.ceremonyId,
      s.session,
      s.sessionId,
      s.signingPackage,
      JSON.stringify(s.statement),
      s.statementDigest,
      JSON.stringify(s.approvers),
      s.issuedAt,
      s.phase,
      JSON.stringify(s.jobs),
      s.signatures === null ? null : JSON.stringify(s.signatures),
    );
  }

  setSessionSignatures(ceremonyId: string, session: number, jobs: Record<string, string>): void {
    this.#sessionCache.delete(sessionKey(ceremonyId, session));
    this.#stmt('UPDATE sessions SET signatures = ? WHERE ceremony_id = ? AND session = ?').run(
      JSON.stringify(jobs),
      ceremonyId,
      session,
    );
  }

  putBundle(b: CommitmentBundle): void {
    this.#stmt(
      `INSERT INTO commitment_bundles (ceremony_id, bundle_id, member, phase, commitments, at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(b.ceremonyId, b.bundleId, b.member, b.phase, JSON.stringify(b.commitments), b.at);
  }

  getBundle(ceremonyId: string, bundleId: string): CommitmentBundle | undefined {
    const row = this.#stmt(
      'SELECT * FROM commitment_bundles WHERE ceremony_id = ? AND bundle_id = ?',
    ).get(ceremonyId, bundleId);
    if (row === undefined) return undefined;
    const r = parseRow(BundleRow, row, 'commitment_bundles');
    return {
      ceremonyId: r.ceremony_id,
      bundleId: r.bundle_id,
      member: r.member,
      phase: r.phase,
      commitments: r.commitments,
      at: r.at,
    };
  }

  getSignature(ceremonyId: string): SignatureRecord | undefined {
    const row = this.#stmt('SELECT * FROM signatures WHERE ceremony_id = ?').get(ceremonyId);
    if (row === undefined) return undefined;
    const r = parseRow(SignatureRow, row, 'signatures');
    return {
      ceremonyId: r.ceremony_id,
      signature: r.signature,
      jobs: r.jobs,
      statement: r.statement,
      statementDigest: r.statement_digest,
      signers: r.signers,
      at: r.at,
    };
  }

  putSignature(s: SignatureRecord): void {
    this.#stmt(
      `INSERT INTO signatures (ceremony_id, signature, statement, statement_digest, signers, at, jobs)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      s.ceremonyId,
      s.signature,
      JSON.stringify(s.statement),
      s.statementDigest,
      JSON.stringify(s.signers),
      s.at,
      JSON.stringify(s.jobs),
    );
  }

  logAdmin(scopeId: string, bodyType: string, at: number, envelope: Envelope): void {
    try {
      this.#stmt(
        'INSERT INTO admin_log (scope_id, body_type, at, envelope) VALUES (?, ?, ?, ?)',
      ).run(scopeId, bodyType, at, JSON.stringify(envelope));
    } catch (e) {
      if (isPrimaryKey(e) || isUnique(e)) {
        throw new ProtocolError('DUPLICATE', 'this admin scope id was already used');
      }
      throw e;
    }
  }
}

export function openStore(path: string, options: OpenStoreOptions): SqliteStore {
  return new SqliteStore(path, options);
}
