// Nonce ledger — THREATS A.1–A.5. A durable, append-only record of the signing commitments this
// member made and whether each was consumed, so the client signs at most once per nonce.
//
// The secret nonces are NOT here: they live only in process memory (a crash loses them and the
// member commits again). The ledger only refuses reuse, and lets a byte-identical round-2 replay
// get the share already produced (A.2) instead of a new one.
//
// File (JSON Lines with a hash chain), one record per line:
//   <chain hex> <record JSON>\n
//   chain_i = SHA-256(chain_{i-1} || UTF-8(record JSON_i)), chain_0's predecessor = 32 zero bytes
// Records: header, epoch (one per open: a boot counter), reserve, consume, share, abandon.
// Each call's records (one, or a bundle's reserves) are one write(2) followed by fsync before the
// call returns. A crash can only tear the last line; a torn last line is dropped (its call never
// returned, so no share left). Anything else that does not verify — a damaged or missing line in
// the middle — fails closed with NONCE_LEDGER_CORRUPT, because silently forgetting a consume could
// let a nonce be used twice. A write that fails without a crash (a full disk) fails its call; the
// next call first reads the file again the same way and starts a new epoch (#recover).

import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sha256 } from '@conclave/frost';
import { MAX_JOBS } from '@conclave/protocol';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { ClientError, errnoCode } from './errors.js';
import { acquireFileLock, type FileLock } from './file-lock.js';
import { fsyncDir } from './fs-durable.js';

export const NONCE_LEDGER_FORMAT = 'conclave-nonce-ledger';
export const NONCE_LEDGER_VERSION = 1;
/** Conventional file name inside a member's home directory. */
export const NONCE_LEDGER_FILENAME = 'nonce-ledger.jsonl';

const CommitmentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,256}$/, 'expected 1–256 chars of [A-Za-z0-9_.:-]');
const PackageHashSchema = z
  .string()
  .regex(/^(?:[0-9a-f]{2}){16,64}$/, 'expected 16–64 bytes as lowercase hex');
const ShareHexSchema = z.string().regex(/^(?:[0-9a-f]{2}){1,512}$/, 'expected lowercase hex');
const MetaSchema = z.record(z.string(), z.json());

const RecordSchema = z.discriminatedUnion('t', [
  z.strictObject({
    t: z.literal('header'),
    format: z.literal(NONCE_LEDGER_FORMAT),
    version: z.literal(NONCE_LEDGER_VERSION),
  }),
  z.strictObject({ t: z.literal('epoch'), epoch: z.int().min(1) }),
  z.strictObject({
    t: z.literal('reserve'),
    id: CommitmentIdSchema,
    epoch: z.int().min(1),
    meta: MetaSchema,
  }),
  z.strictObject({ t: z.literal('consume'), id: CommitmentIdSchema, pkg: PackageHashSchema }),
  z.strictObject({
    t: z.literal('share'),
    id: CommitmentIdSchema,
    pkg: PackageHashSchema,
    share: ShareHexSchema,
  }),
  z.strictObject({ t: z.literal('abandon'), id: CommitmentIdSchema, reason: z.string().max(512) }),
]);
type LedgerRecord = z.infer<typeof RecordSchema>;

export type NonceState = 'reserved' | 'consumed' | 'abandoned';

export interface NonceEntry {
  commitmentId: string;
  /** The ledger epoch (process lifetime) in which the commitment was made. */
  epoch: number;
  meta: Record<string, unknown>;
  state: NonceState;
  /** Set once consumed: the signing package the nonce was spent on. */
  packageHash?: string;
  /** Set if the caller recorded the share it produced for packageHash. */
  share?: string;
}

export type ConsumeResult =
  | { firstUse: true }
  /**
   * Already consumed for exactly this package. Return `cachedShare` if present; otherwise
   * REFUSE — never compute a new share from the same nonce (THREATS A.2).
   */
  | { firstUse: false; cachedShare?: string };

export interface NonceLedgerRecovery {
  /** Bytes of a torn final line that were dropped (a write the crash interrupted). */
  droppedBytes: number;
  /** A final record that was complete but lacked its newline was kept and terminated. */
  completedLastLine: boolean;
}

const ZERO_CHAIN = new Uint8Array(32);
const MAX_META_BYTES = 16 * 1024;

function chainNext(prev: Uint8Array, json: string): Uint8Array {
  return sha256(concatBytes(prev, utf8ToBytes(json)));
}

function arg<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `${name}: ${z.prettifyError(r.error).replace(/\n/g, '; ')}`,
    );
  }
  return r.data;
}

/** Ledger state: the result of applying records in order. Shared by load and live appends. */
class LedgerState {
  epoch = 0;
  readonly entries = new Map<string, NonceEntry>();
  headerSeen = false;

  /** Returns an error message if `rec` is not a legal next record, else undefined. */
  check(rec: LedgerRecord): string | undefined {
    if (!this.headerSeen) return rec.t === 'header' ? undefined : 'first record is not the header';
    const e = 'id' in rec ? this.entries.get(rec.id) : undefined;
    switch (rec.t) {
      case 'header':
        return 'second header';
      case 'epoch':
        return rec.epoch === this.epoch + 1 ? undefined : `epoch ${rec.epoch} after ${this.epoch}`;
      case 'reserve':
        if (this.epoch === 0) return 'reserve before any epoch';
        if (rec.epoch !== this.epoch) return `reserve in epoch ${rec.epoch} during ${this.epoch}`;
        return e ? `commitment ${rec.id} reserved twice` : undefined;
      case 'consume':
        return e?.state === 'reserved'
          ? undefined
          : `consume of a ${e?.state ?? 'unknown'} commitment`;
      case 'share':
        if (e?.state !== 'consumed' || e.packageHash !== rec.pkg)
          return 'share for an unconsumed package';
        return e.share === undefined ? undefined : 'second share';
      case 'abandon':
        return e?.state === 'reserved'
          ? undefined
          : `abandon of a ${e?.state ?? 'unknown'} commitment`;
    }
  }

  apply(rec: LedgerRecord): void {
    switch (rec.t) {
      case 'header':
        this.headerSeen = true;
        return;
      case 'epoch':
        this.epoch = rec.epoch;
        return;
      case 'reserve':
        this.entries.set(rec.id, {
          commitmentId: rec.id,
          epoch: rec.epoch,
          meta: rec.meta,
          state: 'reserved',
        });
        return;
      case 'consume': {
        const e = this.entries.get(rec.id);
        if (e) Object.assign(e, { state: 'consumed', packageHash: rec.pkg });
        return;
      }
      case 'share': {
        const e = this.entries.get(rec.id);
        if (e) e.share = rec.share;
        return;
      }
      case 'abandon': {
        const e = this.entries.get(rec.id);
        if (e) e.state = 'abandoned';
        return;
      }
    }
  }
}

function parseLine(
  line: string,
  prevChain: Uint8Array,
): { rec: LedgerRecord; chain: Uint8Array } | undefined {
  if (line.length < 66 || line[64] !== ' ') return undefined;
  const chainHex = line.slice(0, 64);
  if (!/^[0-9a-f]{64}$/.test(chainHex)) return undefined;
  const json = line.slice(65);
  const chain = chainNext(prevChain, json);
  if (bytesToHex(chain) !== chainHex) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  const r = RecordSchema.safeParse(raw);
  return r.success ? { rec: r.data, chain } : undefined;
}

export interface NonceLedger {
  readonly path: string;
  /**
   * Monotonic boot counter: +1 on every open (and after a failed write, which starts a new epoch).
   * It is not sent to the coordinator: against a ledger restored from a backup (A.5) the defence
   * is the coordinator's unique index of every commitment ever used per group key, which refuses
   * an old commitment as COMMITMENT_REUSED, and nonces that never leave memory.
   */
  readonly epoch: number;
  /** What open had to repair after a crash, or null if the file was intact. */
  readonly recovery: NonceLedgerRecovery | null;
  /** Record a fresh commitment (round 1), durably, before it is sent. */
  reserve(commitmentId: string, meta?: Record<string, unknown>): Promise<void>;
  /**
   * Record fresh commitments (one bundle: one per job) in one write and one fsync. All or none
   * are accepted: a repeat of any refuses the whole call, and nothing is written.
   */
  reserveAll(commitmentIds: readonly string[], meta?: Record<string, unknown>): Promise<void>;
  /**
   * Durably mark the commitment's nonce as spent on `signingPackageHash`. Call BEFORE computing
   * the share (A.4). `firstUse: false` means a replay of the same package: return the cached
   * share or refuse — never compute a second share.
   */
  consume(commitmentId: string, signingPackageHash: string): Promise<ConsumeResult>;
  /** Store the share produced for a consumed commitment, so an identical replay gets it back (A.2). */
  recordShare(commitmentId: string, signingPackageHash: string, shareHex: string): Promise<void>;
  /** Mark a reserved commitment as never to be used (ceremony aborted, A.3). */
  abandon(commitmentId: string, reason?: string): Promise<void>;
  get(commitmentId: string): NonceEntry | undefined;
  close(): Promise<void>;
}

class FileNonceLedger implements NonceLedger {
  readonly path: string;
  readonly recovery: NonceLedgerRecovery | null;
  readonly #lock: FileLock;
  #state: LedgerState;
  #fh: FileHandle | undefined;
  #chain: Uint8Array;
  #queue: Promise<unknown> = Promise.resolve();
  #failed: unknown = undefined;

  constructor(
    path: string,
    lock: FileLock,
    fh: FileHandle,
    state: LedgerState,
    chain: Uint8Array,
    recovery: NonceLedgerRecovery | null,
  ) {
    this.path = path;
    this.#lock = lock;
    this.#fh = fh;
    this.#state = state;
    this.#chain = chain;
    this.recovery = recovery;
  }

  get epoch(): number {
    return this.#state.epoch;
  }

  /** Run `op` after every earlier operation: check-then-append is atomic within this process. */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      if (this.#fh === undefined) {
        throw new ClientError('NONCE_LEDGER_CLOSED', `nonce ledger ${this.path} is closed`);
      }
      if (this.#failed !== undefined) await this.#recover();
      return op();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * After a failed write (a full disk): the file is read again and taken as it is, as a new open
   * would (a torn last line dropped, a complete one kept), and a new epoch starts. What the failed
   * write left decides: a record that reached the disk counts, one that did not never happened (its
   * call threw, so nothing it guarded left). The new epoch makes every commitment made before it
   * stale (NONCE_STALE_EPOCH), so no nonce in memory from before the failure can sign: the member
   * commits again. A long-running agent thus carries on once space is freed, without a restart.
   * If the disk still refuses, the ledger stays failed and the error says why.
   */
  async #recover(): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined) return;
    try {
      const loaded = loadLedger(this.path, await readFile(this.path));
      await repairTail(fh, loaded);
      this.#state = loaded.state;
      this.#chain = loaded.chain;
      this.#failed = undefined;
    } catch (err) {
      if (err instanceof ClientError) throw err; // NONCE_LEDGER_CORRUPT: never past it
      this.#failed = err;
      throw new ClientError(
        'NONCE_LEDGER_IO_ERROR',
        `nonce ledger ${this.path} could not be written earlier and still cannot be (${errnoCode(err) ?? 'unknown error'})`,
        { cause: err },
      );
    }
    await this.#append({ t: 'epoch', epoch: this.#state.epoch + 1 });
  }

  /** Append one record and fsync. The in-memory state changes only after the record is durable. */
  #append(rec: LedgerRecord): Promise<void> {
    return this.#appendAll([rec]);
  }

  /**
   * Append records in one write and one fsync; the in-memory state changes only after all are
   * durable. Each must be a legal next record given the ones before it: callers batch only
   * reserves of distinct new commitments, checked here too.
   */
  async #appendAll(recs: readonly LedgerRecord[]): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined)
      throw new ClientError('NONCE_LEDGER_CLOSED', `nonce ledger ${this.path} is closed`);
    const batch = new Set<string>();
    let chain = this.#chain;
    const lines: string[] = [];
    for (const rec of recs) {
      // Distinct reserves do not depend on each other, so each is checked against the state as is.
      const batchable = recs.length === 1 || (rec.t === 'reserve' && !batch.has(rec.id));
      const problem = batchable ? this.#state.check(rec) : `batched ${rec.t} record`;
      if (problem !== undefined) throw new Error(`nonce ledger internal error: ${problem}`);
      if (rec.t === 'reserve') batch.add(rec.id);
      const json = JSON.stringify(rec);
      chain = chainNext(chain, json);
      lines.push(`${bytesToHex(chain)} ${json}\n`);
    }
    try {
      await writeAll(fh, Buffer.from(lines.join(''), 'utf8'));
      await fh.sync();
    } catch (err) {
      this.#failed = err;
      throw new ClientError(
        'NONCE_LEDGER_IO_ERROR',
        `could not write nonce ledger ${this.path} (${errnoCode(err) ?? 'unknown error'})`,
        { cause: err },
      );
    }
    this.#chain = chain;
    for (const rec of recs) this.#state.apply(rec);
  }

  /** Called once by openNonceLedger: write the header of a new file and start a new epoch. */
  async start(): Promise<void> {
    if (!this.#state.headerSeen) {
      await this.#append({
        t: 'header',
        format: NONCE_LEDGER_FORMAT,
        version: NONCE_LEDGER_VERSION,
      });
    }
    await this.#append({ t: 'epoch', epoch: this.#state.epoch + 1 });
  }

  reserve(commitmentId: string, meta: Record<string, unknown> = {}): Promise<void> {
    return this.reserveAll([commitmentId], meta);
  }

  async reserveAll(
    commitmentIds: readonly string[],
    meta: Record<string, unknown> = {},
  ): Promise<void> {
    const ids = arg(
      z.array(CommitmentIdSchema).min(1).max(MAX_JOBS),
      commitmentIds,
      'commitmentIds',
    );
    const m = arg(MetaSchema, meta, 'meta');
    if (JSON.stringify(m).length > MAX_META_BYTES) {
      throw new ClientError('INVALID_ARGUMENT', `meta: larger than ${MAX_META_BYTES} bytes`);
    }
    return this.#serial(async () => {
      const seen = new Set<string>();
      for (const id of ids) {
        const e = this.#state.entries.get(id);
        if (e?.state === 'consumed') {
          throw new ClientError(
            'NONCE_ALREADY_USED',
            `commitment ${id} was already used to sign; commit again`,
          );
        }
        if (e || seen.has(id)) {
          // Commitments are random: a repeat means a bug or a broken RNG (A.6).
          throw new ClientError(
            'NONCE_ALREADY_RESERVED',
            `commitment ${id} is already in the ledger${e ? ` (epoch ${e.epoch})` : ''}; generate fresh nonces`,
          );
        }
        seen.add(id);
      }
      const epoch = this.#state.epoch;
      await this.#appendAll(ids.map((id) => ({ t: 'reserve' as const, id, epoch, meta: m })));
    });
  }

  async consume(commitmentId: string, signingPackageHash: string): Promise<ConsumeResult> {
    const id = arg(CommitmentIdSchema, commitmentId, 'commitmentId');
    const pkg = arg(PackageHashSchema, signingPackageHash, 'signingPackageHash');
    return this.#serial(async (): Promise<ConsumeResult> => {
      const e = this.#state.entries.get(id);
      if (e === undefined) {
        throw new ClientError(
          'NONCE_UNKNOWN',
          `commitment ${id} was never made by this member; refusing to sign`,
        );
      }
      if (e.state === 'abandoned') {
        throw new ClientError(
          'NONCE_ABANDONED',
          `commitment ${id} belongs to an aborted ceremony; commit again`,
        );
      }
      if (e.state === 'consumed') {
        if (e.packageHash !== pkg) {
          throw new ClientError(
            'NONCE_ALREADY_USED',
            `commitment ${id} was already used to sign a different package; refusing (nonce reuse)`,
          );
        }
        return e.share === undefined
          ? { firstUse: false }
          : { firstUse: false, cachedShare: e.share };
      }
      if (e.epoch !== this.#state.epoch) {
        throw new ClientError(
          'NONCE_STALE_EPOCH',
          `commitment ${id} was made in epoch ${e.epoch}, before this client restarted (epoch ${this.#state.epoch}); ` +
            `its nonce is gone — commit again`,
        );
      }
      await this.#append({ t: 'consume', id, pkg });
      return { firstUse: true };
    });
  }

  async recordShare(
    commitmentId: string,
    signingPackageHash: string,
    shareHex: string,
  ): Promise<void> {
    const id = arg(CommitmentIdSchema, commitmentId, 'commitmentId');
    const pkg = arg(PackageHashSchema, signingPackageHash, 'signingPackageHash');
    const share = arg(ShareHexSchema, shareHex, 'shareHex');
    return this.#serial(async () => {
      const e = this.#state.entries.get(id);
      if (e === undefined)
        throw new ClientError('NONCE_UNKNOWN', `commitment ${id} was never made by this member`);
      if (e.state !== 'consumed') {
        throw new ClientError(
          'NONCE_NOT_CONSUMED',
          `commitment ${id} is ${e.state}, not consumed; call consume() before computing a share`,
        );
      }
      if (e.packageHash !== pkg) {
        throw new ClientError(
          'NONCE_ALREADY_USED',
          `commitment ${id} was used for a different package`,
        );
      }
      if (e.share !== undefined) {
        if (e.share === share) return;
        throw new ClientError(
          'NONCE_ALREADY_USED',
          `commitment ${id} already has a different share recorded for this package`,
        );
      }
      await this.#append({ t: 'share', id, pkg, share });
    });
  }

  async abandon(commitmentId: string, reason = ''): Promise<void> {
    const id = arg(CommitmentIdSchema, commitmentId, 'commitmentId');
    const why = arg(z.string().max(512), reason, 'reason');
    return this.#serial(async () => {
      const e = this.#state.entries.get(id);
      if (e === undefined)
        throw new ClientError('NONCE_UNKNOWN', `commitment ${id} was never made by this member`);
      if (e.state === 'abandoned') return;
      if (e.state === 'consumed') {
        throw new ClientError(
          'NONCE_ALREADY_USED',
          `commitment ${id} was already used to sign; cannot abandon`,
        );
      }
      await this.#append({ t: 'abandon', id, reason: why });
    });
  }

  get(commitmentId: string): NonceEntry | undefined {
    const e = this.#state.entries.get(commitmentId);
    return e === undefined ? undefined : structuredClone(e);
  }

  async close(): Promise<void> {
    await this.#queue;
    const fh = this.#fh;
    if (fh === undefined) return;
    this.#fh = undefined;
    await fh.close();
    await this.#lock.release();
  }
}

/**
 * Writes all of `data`: a short write (a disk that fills part way) is followed by another, which
 * then fails with the reason (ENOSPC) instead of a count.
 */
async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length;) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    if (bytesWritten <= 0) throw new Error(`short write (${off} of ${data.length})`);
    off += bytesWritten;
  }
}

/**
 * Makes the file what `loaded` verified, durably: a torn last line cut off, or a complete last
 * record given its newline. What open does, and what a ledger does after a failed write.
 */
async function repairTail(fh: FileHandle, loaded: Loaded): Promise<NonceLedgerRecovery | null> {
  let recovery: NonceLedgerRecovery | null = null;
  if (loaded.droppedBytes > 0) {
    await fh.truncate(loaded.keepBytes);
    recovery = { droppedBytes: loaded.droppedBytes, completedLastLine: false };
  } else if (loaded.terminate) {
    await writeAll(fh, Buffer.from('\n'));
    recovery = { droppedBytes: 0, completedLastLine: true };
  }
  await fh.sync();
  return recovery;
}

interface Loaded {
  state: LedgerState;
  chain: Uint8Array;
  /** Length in bytes of the verified prefix to keep. */
  keepBytes: number;
  /** Bytes to append to terminate a complete final record that lacks its newline. */
  terminate: boolean;
  droppedBytes: number;
}

function corrupt(path: string, lineNo: number, why: string): ClientError {
  return new ClientError(
    'NONCE_LEDGER_CORRUPT',
    `nonce ledger ${path} is damaged at line ${lineNo} (${why}); refusing to run, since a used nonce ` +
      `could be forgotten. Keep a copy for inspection; secret nonces are never stored, so after moving ` +
      `it aside this member only needs to commit again`,
  );
}

function loadLedger(path: string, buf: Buffer): Loaded {
  const state = new LedgerState();
  let chain: Uint8Array = ZERO_CHAIN;
  let offset = 0;
  let lineNo = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, offset);
    if (nl < 0) break;
    lineNo++;
    const parsed = parseLine(buf.toString('utf8', offset, nl), chain);
    if (parsed === undefined) throw corrupt(path, lineNo, 'record does not verify');
    const problem = state.check(parsed.rec);
    if (problem !== undefined) throw corrupt(path, lineNo, problem);
    state.apply(parsed.rec);
    chain = parsed.chain;
    offset = nl + 1;
  }
  const tail = buf.subarray(offset);
  if (tail.length === 0)
    return { state, chain, keepBytes: offset, terminate: false, droppedBytes: 0 };
  lineNo++;
  // A complete record that only lacks its newline: the write finished; keep it (the safe side).
  const whole = parseLine(tail.toString('utf8'), chain);
  if (whole !== undefined) {
    const problem = state.check(whole.rec);
    if (problem !== undefined) throw corrupt(path, lineNo, problem);
    state.apply(whole.rec);
    return { state, chain: whole.chain, keepBytes: buf.length, terminate: true, droppedBytes: 0 };
  }
  // A valid record followed by junk is damage, not a torn write (which leaves a strict prefix).
  for (let i = tail.indexOf(0x7d); i >= 0; i = tail.indexOf(0x7d, i + 1)) {
    if (i + 1 < tail.length && parseLine(tail.toString('utf8', 0, i + 1), chain) !== undefined) {
      throw corrupt(path, lineNo, 'bytes after the last record');
    }
  }
  return { state, chain, keepBytes: offset, terminate: false, droppedBytes: tail.length };
}

/**
 * Open (or create) the nonce ledger at `path`, taking an exclusive lock (`<path>.lock`) for this
 * process, repairing a torn final line, and starting a new epoch. Keep it open for the lifetime of
 * the process that holds the secret nonces; close() releases the lock.
 */
export async function openNonceLedger(path: string): Promise<NonceLedger> {
  arg(z.string().min(1), path, 'path');
  const lockPath = `${path}.lock`;
  const lock = await acquireFileLock(lockPath, {
    busyCode: 'NONCE_LEDGER_LOCKED',
    ioCode: 'NONCE_LEDGER_IO_ERROR',
    what: `nonce ledger ${path}`,
  });
  let fh: FileHandle | undefined;
  try {
    let buf: Buffer;
    let created = false;
    try {
      buf = await readFile(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      buf = Buffer.alloc(0);
      created = true;
    }
    const loaded = loadLedger(path, buf);
    fh = await open(path, 'a', 0o600);
    const recovery = await repairTail(fh, loaded);
    if (created) await fsyncDir(dirname(path));
    const ledger = new FileNonceLedger(path, lock, fh, loaded.state, loaded.chain, recovery);
    const handle = fh;
    fh = undefined; // owned by the ledger now
    try {
      await ledger.start();
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    return ledger;
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await lock.release();
    if (err instanceof ClientError) throw err;
    throw new ClientError(
      'NONCE_LEDGER_IO_ERROR',
      `could not open nonce ledger ${path} (${errnoCode(err) ?? 'unknown error'})`,
      { cause: err },
    );
  }
}
