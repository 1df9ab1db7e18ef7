// The coordinator's transparency log (docs/audit.md). One RFC 9162 leaf per finished ceremony
// (signing, key), per registry operation (member add/revoke) and per governance event (a hotfix
// flagged unratified when its window passed: the leaf covers one `hotfix.overdue` envelope the
// coordinator signs with its identity key, kept in `log_transcripts`), appended in ONE SQLite
// transaction with a freshly signed checkpoint (c2sp.org/tlog-checkpoint), so whatever the
// transaction releases (a signature) is durably in the log first (THREATS D.48, D.51).
//
// The tree is kept in memory (leaf hashes + a compact-range accumulator) and re-derived from the
// database whenever the two disagree (a rolled-back transaction, a restart). At open, the stored
// leaves must hash to the newest signed checkpoint, or the coordinator refuses to start.
import {
  AuditError,
  GOVERNANCE_ROUND,
  cosignatureVerifier,
  decodeLeaf,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  encodeLeaf,
  governanceTranscript,
  leafFor,
  logLeafHash,
  openCheckpoint,
  parseNote,
  signCheckpoint,
  verifyLog,
  witnessName,
  type LeafKind,
  type LogLeaf,
  type LogReport,
  type VerifyLogInput,
  type NoteVerifier,
  type TranscriptEntry,
} from '@conclave/audit';
import {
  COORDINATOR_ID,
  bytesToHex,
  sealEnvelope,
  type Envelope,
  type HotfixOverdue,
  type IdentityKey,
} from '@conclave/protocol';
import { AppendOnlyMerkleTree, equalBytes } from '@conclave/release';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Clock } from '../runtime.js';
import { statementsOf, type SqliteStore, type Statements } from '../store.js';
import type { LogKey } from './keys.js';

/** Envelope body types after which a ceremony's transcript is final. */
export const TERMINAL_TYPES: ReadonlySet<string> = new Set([
  'sign.complete',
  'sign.aborted',
  'dkg.complete',
  'dkg.abort',
]);

/** Most leaves one `GET /v1/log/leaves` returns. */
export const MAX_LEAVES_PER_REQUEST = 1000;

/**
 * How far a cosignature's timestamp may lie from the coordinator's clock: a witness cosigns the
 * checkpoint it has just fetched, so its time is now give or take its clock's drift. One stamped
 * far off is refused rather than stored and shown to auditors as when the member witnessed (a
 * time of 2^53 s is not even a date the pages could print).
 */
export const COSIGNATURE_MAX_AGE_MS = 24 * 60 * 60 * 1000;
export const COSIGNATURE_MAX_AHEAD_MS = 10 * 60 * 1000;

export interface LogDeps {
  readonly store: SqliteStore;
  readonly clock: Clock;
  readonly key: LogKey;
  /** The coordinator's identity key: signs the governance records the log covers. */
  readonly coordinatorKey: IdentityKey;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
}

export interface Appended {
  readonly index: number;
  /** Tree size of `checkpoint` (≥ index + 1). */
  readonly size: number;
  /** The signed checkpoint note covering the leaf. */
  readonly checkpoint: string;
  /** False when the leaf was already in the log (appends are idempotent). */
  readonly fresh: boolean;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly root: string;
  readonly note: string;
  readonly at: number;
}

export class LogError extends Error {
  override readonly name = 'LogError';
  constructor(
    readonly code:
      | 'LOG_CORRUPT'
      | 'CEREMONY_NOT_FOUND'
      | 'LOG_SIZE_MISMATCH'
      | 'LOG_PROOF_INVALID'
      | 'COSIGNATURE_INVALID'
      | 'COSIGNATURE_TIME_INVALID',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  readonly kind: LeafKind;
  readonly ceremonyId: string;
}

/** COSIGNATURE_TIME_INVALID unless `seconds` lies in [now − 1 day, now + 10 min] (see above). */
function checkCosignatureTime(seconds: number, nowMs: number): void {
  const ms = seconds * 1000;
  if (ms >= nowMs - COSIGNATURE_MAX_AGE_MS && ms <= nowMs + COSIGNATURE_MAX_AHEAD_MS) return;
  throw new LogError(
    'COSIGNATURE_TIME_INVALID',
    `the cosignature is timed ${seconds} s after the epoch, not within a day before or 10 ` +
      `minutes after the coordinator's clock (${Math.floor(nowMs / 1000)} s): set this ` +
      `machine's clock right and witness the log again`,
  );
}

const logs = new WeakMap<object, TransparencyLog>();

/** The log opened on `store`, if any (how the ceremony runner reaches it without new deps). */
export function logOf(store: object): TransparencyLog | undefined {
  return logs.get(store);
}

/**
 * Hook for CeremonyRunner.emitOnce, inside its transaction after the envelopes are stored: if one
 * of them ends the ceremony, the ceremony is appended to the log in that same transaction, so
 * `sign.complete` (the released signature) is never sent for a transcript not in the log.
 */
export function logIfTerminal(
  store: object,
  ceremonyId: string,
  entries: readonly { readonly envelope: { readonly body: { readonly type: string } } }[],
): void {
  if (!entries.some((e) => TERMINAL_TYPES.has(e.envelope.body.type))) return;
  logOf(store)?.appendCeremony(ceremonyId);
}

/**
 * Appends a finished ceremony to the log of `store` in the caller's transaction (or its own),
 * with a freshly signed checkpoint; idempotent. Undefined when no log is open on that store.
 */
export function appendCeremonyToLog(store: object, ceremonyId: string): Appended | undefined {
  return logOf(store)?.appendCeremony(ceremonyId);
}

/**
 * Hook for policy.ts Governance.sweep, inside the transaction that flags a hotfix: appends its
 * governance leaf (with the coordinator's signed `hotfix.overdue` record) and a checkpoint, so the
 * flag and its log entry commit together. Idempotent.
 */
export function logHotfixOverdue(store: object, hotfixId: string): void {
  logOf(store)?.appendGovernance(hotfixId);
}

/** Hook for admin.ts recordOnly, inside its transaction: logs a member registry operation. */
export function logAdminOperation(store: object, scopeId: string): void {
  const log = logOf(store);
  // An admin operation that opened a ceremony (group create) is logged with that ceremony.
  if (log !== undefined && !log.isCeremony(scopeId)) log.appendAdmin(scopeId);
}

export class TransparencyLog {
  readonly origin: string;
  readonly verifier: NoteVerifier;
  /** `origin+keyid+base64(0x01‖pub)` for witnesses and `conclave log verify`. */
  readonly verifierKey: string;
  readonly publicKey: Uint8Array;
  readonly #deps: LogDeps;
  readonly #db: Statements;
  readonly #signer;
  /**
   * Every leaf hash and every perfect subtree over them: a proof asked for by anyone, at any size,
   * costs O(log² n) hashes on the event loop, not a pass over the whole log.
   */
  #tree = new AppendOnlyMerkleTree();
  #sweeper: NodeJS.Timeout | null = null;

  constructor(deps: LogDeps) {
    this.#deps = deps;
    this.#db = statementsOf(deps.store.db);
    this.origin = deps.key.origin;
    this.publicKey = deps.key.key.publicKey;
    this.#signer = ed25519NoteSigner(this.origin, deps.key.key);
    this.verifier = ed25519NoteVerifier(this.origin, this.publicKey);
    this.verifierKey = deps.key.verifierKey;
    this.#reload();
    this.#checkAgainstNewestCheckpoint();
    if (this.latestCheckpoint() === undefined) {
      this.#deps.store.transaction(() => this.#signAndStore(this.#deps.clock.now()));
    }
    logs.set(deps.store, this);
  }

  /**
   * Appends every closed ceremony, registry operation and flagged hotfix not yet in the log (boot,
   * then periodically).
   */
  sweep(): number {
    const pending = this.#unlogged();
    if (pending.length === 0) return 0;
    this.#deps.store.transaction(() => this.#append(pending));
    return pending.length;
  }

  /** Runs `sweep` every `intervalMs` (a safety net for ceremonies closed without the hook). */
  startSweeping(intervalMs: number): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = setInterval(() => {
      try {
        this.sweep();
      } catch {
        this.#deps.logger?.error('log sweep failed');
      }
    }, intervalMs);
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
    if (logs.get(this.#deps.store) === this) logs.delete(this.#deps.store);
  }

  /** Appends a signing or key ceremony's transcript (idempotent). One transaction with its checkpoint. */
  appendCeremony(ceremonyId: string): Appended {
    const row = this.#db.prepare('SELECT kind FROM ceremonies WHERE id = ?').get(ceremonyId) as
      { kind: string } | undefined;
    if (row === undefined || (row.kind !== 'sign' && row.kind !== 'key')) {
      throw new LogError('CEREMONY_NOT_FOUND', 'no such ceremony');
    }
    return this.#appendOne({ kind: row.kind, ceremonyId });
  }

  isCeremony(id: string): boolean {
    return this.#db.prepare('SELECT 1 FROM ceremonies WHERE id = ?').get(id) !== undefined;
  }

  /** Appends a registry operation (an admin_log row that opened no ceremony); idempotent. */
  appendAdmin(scopeId: string): Appended {
    const row = this.#db.prepare('SELECT 1 FROM admin_log WHERE scope_id = ?').get(scopeId);
    if (row === undefined) throw new LogError('CEREMONY_NOT_FOUND', 'no such admin operation');
    return this.#appendOne({ kind: 'admin', ceremonyId: scopeId });
  }

  /**
   * Appends the governance leaf of a flagged hotfix (idempotent): signs its `hotfix.overdue`
   * record the first time, after the hotfix's own signing leaf (appended first if missing).
   */
  appendGovernance(hotfixId: string): Appended {
    return this.#deps.store.transaction(() => {
      if (this.#flaggedHotfix(hotfixId) === undefined) {
        throw new LogError('CEREMONY_NOT_FOUND', 'no flagged hotfix with that id');
      }
      if (this.leafIndex('sign', hotfixId) === undefined && this.isCeremony(hotfixId)) {
        this.appendCeremony(hotfixId);
      }
      return this.#appendOne({ kind: 'governance', ceremonyId: hotfixId });
    });
  }

  #flaggedHotfix(hotfixId: string):
    | {
        grp: string;
        incident: string;
        ratify_by: number;
        flagged_at: number;
        policy_version: number | null;
      }
    | undefined {
    return this.#db
      .prepare(
        `SELECT h.grp AS grp, h.incident AS incident, h.ratify_by AS ratify_by,
           h.flagged_at AS flagged_at, p.policy_version AS policy_version
         FROM hotfixes h LEFT JOIN ceremony_policies p ON p.ceremony_id = h.ceremony_id
         WHERE h.ceremony_id = ? AND h.flagged_at IS NOT NULL`,
      )
      .get(hotfixId) as
      | {
          grp: string;
          incident: string;
          ratify_by: number;
          flagged_at: number;
          policy_version: number | null;
        }
      | undefined;
  }

  /**
   * Inside a transaction: the stored governance record of a flagged hotfix, or a new one signed by
   * the coordinator's identity key and stored (`seq` = flaggedAt × 1000: one record per hotfix).
   */
  #governanceRecord(hotfixId: string): { group: string; transcript: TranscriptEntry[] } {
    const h = this.#flaggedHotfix(hotfixId);
    if (h === undefined) throw new LogError('CEREMONY_NOT_FOUND', 'no flagged hotfix with that id');
    const stored = this.transcriptOf({ kind: 'governance', ceremonyId: hotfixId });
    if (stored.length > 0) return { group: h.grp, transcript: stored };
    const body: HotfixOverdue = {
      type: 'hotfix.overdue',
      ceremonyId: hotfixId,
      group: h.grp,
      ...(h.incident === '' ? {} : { incident: h.incident }),
      ratifyBy: h.ratify_by,
      flaggedAt: h.flagged_at,
      policyVersion: h.policy_version ?? 0,
    };
    const envelope = sealEnvelope(this.#deps.coordinatorKey, {
      ceremonyId: hotfixId,
      round: GOVERNANCE_ROUND,
      seq: h.flagged_at * 1000,
      sender: COORDINATOR_ID,
      body,
    });
    const transcript = governanceTranscript(envelope, h.flagged_at);
    const insert = this.#db.prepare(
      `INSERT INTO log_transcripts (kind, ceremony_id, idx, direction, sender, recipient, at, envelope)
       VALUES ('governance', ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const e of transcript) {
      insert.run(
        hotfixId,
        e.idx,
        e.direction,
        e.sender,
        e.recipient,
        e.at,
        JSON.stringify(e.envelope),
      );
    }
    return { group: h.grp, transcript };
  }

  #appendOne(item: Pending): Appended {
    return this.#deps.store.transaction(() => {
      const existing = this.leafIndex(item.kind, item.ceremonyId);
      if (existing !== undefined) {
        const cp = this.latestCheckpoint();
        if (cp === undefined) throw new LogError('LOG_CORRUPT', 'leaves without a checkpoint');
        return { index: existing, size: cp.size, checkpoint: cp.note, fresh: false };
      }
      const [index] = this.#append([item]);
      const cp = this.latestCheckpoint();
      if (index === undefined || cp === undefined) throw new LogError('LOG_CORRUPT', 'append lost');
      return { index, size: cp.size, checkpoint: cp.note, fresh: true };
    });
  }

  /** Inside a transaction: appends leaves, then signs and stores one checkpoint. */
  #append(items: readonly Pending[]): number[] {
    this.#sync();
    const now = this.#deps.clock.now();
    const insert = this.#db.prepare(
      'INSERT INTO log_leaves (idx, ceremony_id, kind, leaf, at) VALUES (?, ?, ?, ?, ?)',
    );
    const indices: number[] = [];
    for (const item of items) {
      const leaf = this.#leafFor(item, now);
      const bytes = encodeLeaf(leaf);
      const index = this.#tree.size;
      insert.run(index, item.ceremonyId, item.kind, new TextDecoder().decode(bytes), now);
      const h = logLeafHash(bytes);
      this.#tree.append(h);
      indices.push(index);
      this.#observe(item, leaf, now);
    }
    this.#signAndStore(now);
    return indices;
  }

  #signAndStore(now: number): void {
    const root = this.#tree.root();
    const size = this.#tree.size;
    const note = signCheckpoint(this.#signer, { origin: this.origin, size, root });
    this.#db
      .prepare('INSERT OR IGNORE INTO checkpoints (size, root, note, at) VALUES (?, ?, ?, ?)')
      .run(size, bytesToHex(root), note, now);
  }

  #observe(item: Pending, leaf: LogLeaf, now: number): void {
    const metrics = this.#deps.metrics;
    if (metrics === undefined) return;
    metrics.ceremonyOutcomes.inc({ kind: item.kind, outcome: leaf.outcome });
    if (item.kind === 'sign') {
      const sig = this.#db
        .prepare('SELECT at FROM signatures WHERE ceremony_id = ?')
        .get(item.ceremonyId) as { at: number } | undefined;
      if (sig !== undefined) metrics.logInclusion.observe(Math.max(0, now - sig.at) / 1000);
    }
  }

  #leafFor(item: Pending, now: number): LogLeaf {
    if (item.kind === 'governance') {
      const record = this.#governanceRecord(item.ceremonyId);
      return leafFor({
        ceremonyId: item.ceremonyId,
        kind: 'governance',
        group: record.group,
        outcome: 'hotfix.overdue',
        // Never before the flag it logs, even if the system clock stepped back in between.
        at: Math.max(now, record.transcript[0]?.at ?? now),
        transcript: record.transcript,
      });
    }
    if (item.kind === 'admin') {
      const row = this.#db
        .prepare('SELECT body_type, at, envelope FROM admin_log WHERE scope_id = ?')
        .get(item.ceremonyId) as { body_type: string; at: number; envelope: string } | undefined;
      if (row === undefined) throw new LogError('CEREMONY_NOT_FOUND', 'no such admin operation');
      return leafFor({
        ceremonyId: item.ceremonyId,
        kind: 'admin',
        group: null,
        outcome: row.body_type,
        at: now,
        transcript: this.transcriptOf({ kind: 'admin', ceremonyId: item.ceremonyId }),
      });
    }
    const row = this.#db
      .prepare('SELECT grp, state FROM ceremonies WHERE id = ?')
      .get(item.ceremonyId) as { grp: string; state: string } | undefined;
    if (row === undefined) throw new LogError('CEREMONY_NOT_FOUND', 'no such ceremony');
    return leafFor({
      ceremonyId: item.ceremonyId,
      kind: item.kind,
      group: row.grp,
      outcome: row.state,
      at: now,
      transcript: this.transcriptOf(item),
    });
  }

  /** The transcript behind a leaf (leafTranscript on this coordinator's database). */
  transcriptOf(leaf: { kind: LeafKind; ceremonyId: string }): TranscriptEntry[] {
    return leafTranscript(this.#db, leaf);
  }

  #unlogged(): Pending[] {
    const ceremonies = this.#db
      .prepare(
        `SELECT c.id AS id, c.kind AS kind FROM ceremonies c WHERE c.open = 0 AND NOT EXISTS
           (SELECT 1 FROM log_leaves l WHERE l.kind = c.kind AND l.ceremony_id = c.id)
         ORDER BY c.updated_at, c.id`,
      )
      .all() as { id: string; kind: 'sign' | 'key' }[];
    const admin = this.#db
      .prepare(
        `SELECT a.scope_id AS id FROM admin_log a WHERE NOT EXISTS
           (SELECT 1 FROM ceremonies c WHERE c.id = a.scope_id) AND NOT EXISTS
           (SELECT 1 FROM log_leaves l WHERE l.kind = 'admin' AND l.ceremony_id = a.scope_id)
         ORDER BY a.at, a.scope_id`,
      )
      .all() as { id: string }[];
    // Flagged hotfixes last: their governance leaf follows the hotfix's own leaf.
    const flagged = this.#db
      .prepare(
        `SELECT h.ceremony_id AS id FROM hotfixes h WHERE h.flagged_at IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM log_leaves l WHERE l.kind = 'governance' AND l.ceremony_id = h.ceremony_id)
         ORDER BY h.flagged_at, h.ceremony_id`,
      )
      .all() as { id: string }[];
    return [
      ...admin.map((a) => ({ kind: 'admin' as const, ceremonyId: a.id })),
      ...ceremonies.map((c) => ({ kind: c.kind, ceremonyId: c.id })),
      ...flagged.map((h) => ({ kind: 'governance' as const, ceremonyId: h.id })),
    ];
  }

  /** Re-derives the in-memory tree if the database has another size (rollback, restart). */
  #sync(): void {
    // idx is the rowid and leaves are contiguous from 0 (#reload checks): one b-tree lookup.
    const row = this.#db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM log_leaves').get() as {
      n: number;
    };
    if (row.n !== this.#tree.size) this.#reload();
  }

  #reload(): void {
    const rows = this.#db.prepare('SELECT idx, leaf FROM log_leaves ORDER BY idx').all() as {
      idx: number;
      leaf: string;
    }[];
    const enc = new TextEncoder();
    this.#tree = new AppendOnlyMerkleTree();
    rows.forEach((r, i) => {
      if (r.idx !== i) throw new LogError('LOG_CORRUPT', `log leaf ${i} is missing`);
      const h = logLeafHash(enc.encode(r.leaf));
      this.#tree.append(h);
    });
  }

  /** THREATS D.51: the stored leaves must have the newest signed root, or we do not start. */
  #checkAgainstNewestCheckpoint(): void {
    const cp = this.latestCheckpoint();
    if (cp === undefined) {
      if (this.#tree.size > 0) throw new LogError('LOG_CORRUPT', 'log leaves without a checkpoint');
      return;
    }
    let opened;
    try {
      opened = openCheckpoint(cp.note, this.verifier);
    } catch {
      throw new LogError('LOG_CORRUPT', `checkpoint ${cp.size} is not signed by this log's key`);
    }
    if (opened.size !== this.#tree.size) {
      throw new LogError(
        'LOG_CORRUPT',
        `the log has ${this.#tree.size} leaves but its newest checkpoint says ${opened.size}`,
      );
    }
    if (!equalBytes(opened.root, this.#tree.root())) {
      throw new LogError('LOG_CORRUPT', 'the stored leaves do not hash to the newest checkpoint');
    }
  }

  get size(): number {
    this.#sync();
    return this.#tree.size;
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.#db
      .prepare('SELECT size, root, note, at FROM checkpoints ORDER BY size DESC LIMIT 1')
      .get() as StoredCheckpoint | undefined;
  }

  checkpointAt(size: number): StoredCheckpoint | undefined {
    return this.#db
      .prepare('SELECT size, root, note, at FROM checkpoints WHERE size = ?')
      .get(size) as StoredCheckpoint | undefined;
  }

  /** Every checkpoint note (for `log verify`), oldest first. */
  checkpoints(): StoredCheckpoint[] {
    return this.#db
      .prepare('SELECT size, root, note, at FROM checkpoints ORDER BY size')
      .all() as StoredCheckpoint[];
  }

  /** At most `limit` checkpoints of size ≥ `from`, smallest first: one bounded query. */
  checkpointsFrom(from: number, limit: number): StoredCheckpoint[] {
    return this.#db
      .prepare('SELECT size, root, note, at FROM checkpoints WHERE size >= ? ORDER BY size LIMIT ?')
      .all(from, limit) as StoredCheckpoint[];
  }

  leafIndex(kind: LeafKind, ceremonyId: string): number | undefined {
    const row = this.#db
      .prepare('SELECT idx FROM log_leaves WHERE kind = ? AND ceremony_id = ?')
      .get(kind, ceremonyId) as { idx: number } | undefined;
    return row?.idx;
  }

  /** Leaf texts [start, end) (end exclusive, at most MAX_LEAVES_PER_REQUEST). */
  leaves(start: number, end: number): { index: number; leaf: string }[] {
    const size = this.size;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new LogError('LOG_SIZE_MISMATCH', 'expected 0 ≤ start ≤ end');
    }
    if (end > size) throw new LogError('LOG_SIZE_MISMATCH', `the log has ${size} leaves`);
    if (end - start > MAX_LEAVES_PER_REQUEST) {
      throw new LogError('LOG_SIZE_MISMATCH', `at most ${MAX_LEAVES_PER_REQUEST} leaves at once`);
    }
    return (
      this.#db
        .prepare('SELECT idx, leaf FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx')
        .all(start, end) as { idx: number; leaf: string }[]
    ).map((r) => ({ index: r.idx, leaf: r.leaf }));
  }

  /** RFC 9162 §2.1.3 inclusion proof of leaf `index` in the tree of `size` leaves. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    this.#checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new LogError('LOG_SIZE_MISMATCH', 'index must be below size');
    }
    return this.#tree.inclusionProof(index, size);
  }

  /** RFC 9162 §2.1.4 consistency proof from `from` to `to` leaves. */
  consistencyProof(from: number, to: number): Uint8Array[] {
    this.#checkSize(to);
    if (!Number.isSafeInteger(from) || from < 0 || from > to) {
      throw new LogError('LOG_SIZE_MISMATCH', 'expected 0 ≤ from ≤ to');
    }
    return this.#tree.consistencyProof(from, to);
  }

  #checkSize(size: number): void {
    const n = this.size;
    if (!Number.isSafeInteger(size) || size < 1 || size > n) {
      throw new LogError('LOG_SIZE_MISMATCH', `size must be between 1 and ${n}`);
    }
  }

  /**
   * Records a member's witness cosignature of a checkpoint this log signed (tlog-cosignature).
   * `line` is the signature line; the witness name must be `witnessName(member)` and the key the
   * member's registered identity key. COSIGNATURE_INVALID otherwise.
   */
  addCosignature(
    member: string,
    identityKey: Uint8Array,
    checkpointNote: string,
    line: string,
  ): number {
    let size: number;
    let body: string;
    try {
      const cp = openCheckpoint(checkpointNote, this.verifier);
      size = cp.size;
      body = cp.body;
    } catch {
      throw new LogError('COSIGNATURE_INVALID', 'not a checkpoint of this log');
    }
    const stored = this.checkpointAt(size);
    if (stored === undefined || parseNote(stored.note).text !== body) {
      throw new LogError('COSIGNATURE_INVALID', 'this log never signed that checkpoint');
    }
    let timestamp: number;
    try {
      const name = witnessName(member);
      const note = parseNote(`${body}\n${line.endsWith('\n') ? line : `${line}\n`}`);
      const sig = note.signatures[0];
      const v = cosignatureVerifier(name, identityKey);
      if (
        note.signatures.length !== 1 ||
        sig === undefined ||
        sig.name !== name ||
        sig.keyId !== v.keyId ||
        !v.verify(new TextEncoder().encode(body), sig.signature)
      ) {
        throw new AuditError('COSIGNATURE_INVALID', 'bad cosignature');
      }
      timestamp = Number(
        new DataView(sig.signature.buffer, sig.signature.byteOffset, 8).getBigUint64(0),
      );
    } catch {
      throw new LogError(
        'COSIGNATURE_INVALID',
        'the cosignature does not verify under this member',
      );
    }
    const now = this.#deps.clock.now();
    checkCosignatureTime(timestamp, now);
    this.#db
      .prepare(
        `INSERT INTO witness_cosignatures (size, witness, line, timestamp, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line,
           timestamp = excluded.timestamp, at = excluded.at`,
      )
      .run(size, member, line.endsWith('\n') ? line : `${line}\n`, timestamp, now);
    return size;
  }

  /** Cosignature lines of the checkpoint of `size`, by member. */
  cosignatures(size: number): { witness: string; line: string; timestamp: number; at: number }[] {
    return this.#db
      .prepare(
        'SELECT witness, line, timestamp, at FROM witness_cosignatures WHERE size = ? ORDER BY witness',
      )
      .all(size) as { witness: string; line: string; timestamp: number; at: number }[];
  }

  /** The newest checkpoint with every witness cosignature appended. */
  cosignedCheckpoint(): string | undefined {
    const cp = this.latestCheckpoint();
    if (cp === undefined) return undefined;
    return (
      cp.note +
      this.cosignatures(cp.size)
        .map((c) => c.line)
        .join('')
    );
  }

  /**
   * Verifies the whole stored log, transcripts included (what the auditors' pages show). Hotfix
   * deadlines and ratifications are derived only from `bundles` that verify (verifyLog): the
   * caller builds them (buildBundle) with the keys to check them against.
   */
  verify(bundles?: VerifyLogInput['bundles']): LogReport {
    const rows = this.#db.prepare('SELECT leaf FROM log_leaves ORDER BY idx').all() as {
      leaf: string;
    }[];
    const enc = new TextEncoder();
    return verifyLog({
      leaves: rows.map((r) => enc.encode(r.leaf)),
      checkpoints: this.checkpoints().map((c) => c.note),
      logKey: this.verifier,
      transcriptOf: (leaf) => this.transcriptOf(leaf),
      coordinatorKey: this.#deps.coordinatorKey.publicKey,
      ...(bundles === undefined ? {} : { bundles }),
    });
  }

  /** The decoded leaf at `index`, or undefined. */
  leafAt(index: number): LogLeaf | undefined {
    const row = this.#db.prepare('SELECT leaf FROM log_leaves WHERE idx = ?').get(index) as
      { leaf: string } | undefined;
    if (row === undefined) return undefined;
    try {
      return decodeLeaf(new TextEncoder().encode(row.leaf));
    } catch {
      return undefined;
    }
  }

  /** Hash of the leaf at `index` as the in-memory tree has it. */
  leafHash(index: number): Uint8Array | undefined {
    this.#sync();
    return Number.isSafeInteger(index) && index >= 0 && index < this.#tree.size
      ? this.#tree.leafHash(index)
      : undefined;
  }
}

export { witnessName };

export function openTransparencyLog(deps: LogDeps): TransparencyLog {
  const log = new TransparencyLog(deps);
  log.sweep();
  return log;
}

/**
 * The transcript behind a leaf, read raw from a coordinator database: the envelope column is parsed
 * as plain JSON (no schema), so a hand-edited row still hashes (to something else) instead of
 * hiding behind a parse error. The log service hashes it; tests read a stopped coordinator's file.
 */
export function leafTranscript(
  db: Statements,
  leaf: { kind: LeafKind; ceremonyId: string },
): TranscriptEntry[] {
  const parse = (text: string): Envelope => {
    try {
      return JSON.parse(text) as Envelope;
    } catch {
      return text as unknown as Envelope;
    }
  };
  // Both tables store entries with the same columns; only where they live differs.
  const entries = (sql: string): TranscriptEntry[] =>
    (
      db.prepare(sql).all(leaf.ceremonyId) as {
        idx: number;
        direction: 'in' | 'out';
        sender: string;
        recipient: string | null;
        at: number;
        envelope: string;
      }[]
    ).map((r) => ({
      idx: r.idx,
      direction: r.direction,
      sender: r.sender,
      recipient: r.recipient,
      at: r.at,
      envelope: parse(r.envelope),
    }));
  if (leaf.kind === 'governance') {
    return entries(
      `SELECT idx, direction, sender, recipient, at, envelope FROM log_transcripts
         WHERE kind = 'governance' AND ceremony_id = ? ORDER BY idx`,
    );
  }
  if (leaf.kind === 'admin') {
    const row = db
      .prepare('SELECT at, envelope FROM admin_log WHERE scope_id = ?')
      .get(leaf.ceremonyId) as { at: number; envelope: string } | undefined;
    if (row === undefined) return [];
    return [
      {
        idx: 0,
        direction: 'in',
        sender: 'admin',
        recipient: null,
        at: row.at,
        envelope: parse(row.envelope),
      },
    ];
  }
  return entries(
    'SELECT idx, direction, sender, recipient, at, envelope FROM transcript WHERE ceremony_id = ? ORDER BY idx',
  );
}
