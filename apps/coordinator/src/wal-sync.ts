// Group commit for the embedded store (THREATS D.48, issue 3's event-loop goal).
//
// With `synchronous=FULL` SQLite fsyncs the WAL inside every COMMIT, on the event loop: 0.5 ms
// on a quiet disk and 2–4 ms while the members' ledgers fsync too, for every transition of every
// ceremony. Here the connection runs `synchronous=NORMAL` (a COMMIT writes its WAL frames to the
// OS and returns; SQLite still syncs around checkpoints) and this class makes the same promise FULL
// made for everything that leaves the process: `afterDurable(fn)` runs `fn` only after an
// fdatasync of the WAL that started after `fn` was queued. Every output (WebSocket frame, HTTP
// response) goes through it, so nothing is sent before the writes it reports are on disk; a power
// loss can only take writes that nobody was told about. The fdatasync runs on libuv's thread pool,
// and one covers every commit made before it started (group commit).
//
// Why an fdatasync that *starts* after the queueing is enough: a COMMIT has written its frames
// (write(2)) when it returns; better-sqlite3 transactions are synchronous, and the sync starts
// from a microtask, so no transaction is open when it starts. WAL frames carry cumulative
// checksums, so a crash keeps a prefix of the commits: a lost commit takes every later one with it.
//
// When the event loop has nothing else waiting (`inlineWhen`), the sync runs at once instead, as
// synchronous=FULL did: on an idle loop a background sync gains nothing, and its answer would wait
// behind the rest of the turn, on the critical path of a lone ceremony. But an inline fdatasync
// blocks the loop for as long as the disk takes, and under load it takes longest (0.3 ms idle here,
// 2–5 ms while 200 ceremonies' members fsync too): after an inline sync slower than
// `inlineSlowMs`, syncs stay in the background for `inlineBackoffMs`. A profile of 20 concurrent
// ceremonies had a third of the approvals' turns in inline fdatasync, and those turns were the
// event loop's longest.
//
// Outputs a sync released run in order, a few milliseconds' worth per event-loop turn
// (`releaseBudgetMs`): under load one sync covers the commits of dozens of transitions, and sealing
// and writing all their frames in one callback was the coordinator's longest turn. An output queued
// while released ones still wait runs after them, so the order is kept.
//
// A failed fdatasync fails closed: what waited is never sent, every later write and output is
// refused (`failed`), and the coordinator must be restarted to reload the state that is on disk.
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';

export type SyncFn = (fd: number, done: (err: Error | null) => void) => void;

interface Waiter {
  /** `changes()` when it was queued: released by a sync that started at or after that count. */
  readonly changes: number;
  readonly fn: () => void;
  readonly onFailed: (() => void) | undefined;
}

export interface WalSyncOptions {
  /** The WAL file (`<db>-wal`). */
  readonly path: string;
  /** SQLite's `total_changes()` for the connection: rows written so far (never decreases). */
  readonly changes: () => number;
  /** fdatasync(2) by default; tests inject a controllable one. */
  readonly sync?: SyncFn;
  /** The same, synchronous (the inline path); fdatasyncSync by default. */
  readonly syncNow?: (fd: number) => void;
  /**
   * True when an output may sync inline, at once: nothing else waits for the event loop and no
   * transaction is open. Default: never (always in the background).
   */
  readonly inlineWhen?: () => boolean;
  /** Told once, when a sync fails. */
  readonly onFailure?: (err: Error) => void;
  /**
   * Released outputs run until this many milliseconds have passed in one event-loop turn; the
   * rest run on the next turns (setImmediate), in order. Default 2.
   */
  readonly releaseBudgetMs?: number;
  /** An inline sync slower than this (ms) turns inline syncs off for a while. Default 1. */
  readonly inlineSlowMs?: number;
  /** For how long (ms) after a slow inline sync every sync runs in the background. Default 250. */
  readonly inlineBackoffMs?: number;
  /** Milliseconds, monotonic (performance.now by default; tests inject one). */
  readonly now?: () => number;
}

export class WalSync {
  readonly #path: string;
  readonly #changes: () => number;
  readonly #sync: SyncFn;
  readonly #syncNow: (fd: number) => void;
  readonly #inlineWhen: () => boolean;
  readonly #onFailure: ((err: Error) => void) | undefined;
  #fd: number | null = null;
  #waiters: Waiter[] = [];
  /** Released by a completed sync (durable), not yet run: run in order, a budget per turn. */
  #ready: Waiter[] = [];
  #readyHead = 0;
  /** A drain is scheduled for the next turn. */
  #draining = false;
  readonly #budgetMs: number;
  readonly #inlineSlowMs: number;
  readonly #inlineBackoffMs: number;
  readonly #now: () => number;
  /** Inline syncs are off until this time (after a slow one). */
  #inlineOffUntil = -Infinity;
  /** `changes()` when the last completed sync started: everything up to it is on disk. */
  #durable: number;
  #syncing = false;
  #scheduled = false;
  #failed: Error | null = null;
  #closed = false;
  /** Syncs completed (metrics, tests). */
  syncs = 0;

  constructor(options: WalSyncOptions) {
    this.#path = options.path;
    this.#changes = options.changes;
    this.#sync = options.sync ?? ((fd, done) => fdatasync(fd, done));
    this.#syncNow = options.syncNow ?? fdatasyncSync;
    this.#inlineWhen = options.inlineWhen ?? (() => false);
    this.#onFailure = options.onFailure;
    this.#budgetMs = options.releaseBudgetMs ?? 2;
    this.#inlineSlowMs = options.inlineSlowMs ?? 1;
    this.#inlineBackoffMs = options.inlineBackoffMs ?? 250;
    this.#now = options.now ?? (() => performance.now());
    this.#durable = options.changes();
  }

  /** The sync failure, once one happened (the store then refuses writes). */
  get failed(): Error | null {
    return this.#failed;
  }

  /** Outputs waiting for a sync (tests, diagnostics). */
  get pending(): number {
    return this.#waiters.length + this.#ready.length - this.#readyHead;
  }

  /**
   * Runs `fn` once every write committed before this call is durable: at once when nothing was
   * written since the last sync started and nothing is waiting (so order is kept). Never after a
   * failed sync (then `onFailed`, if given, instead) or after close().
   */
  afterDurable(fn: () => void, onFailed?: () => void): void {
    if (this.#closed) return;
    if (this.#failed !== null) {
      onFailed?.();
      return;
    }
    const changes = this.#changes();
    const released = this.#ready.length > this.#readyHead;
    if (this.#waiters.length === 0 && changes === this.#durable) {
      // Durable already: at once, or behind the released outputs that have not run yet.
      if (!released) fn();
      else this.#ready.push({ changes, fn, onFailed });
      return;
    }
    if (
      this.#waiters.length === 0 &&
      !released &&
      !this.#syncing &&
      this.#now() >= this.#inlineOffUntil &&
      this.#inlineWhen()
    ) {
      if (!this.#syncInline(changes)) {
        onFailed?.();
        return;
      }
      fn();
      return;
    }
    this.#waiters.push({ changes, fn, onFailed });
    this.#schedule();
  }

  /**
   * Syncs now if anything was written since the last sync (start-up: keys and settings written
   * before anything is served or printed). Throws what the sync threw; the store is then failed.
   */
  syncNow(): void {
    if (this.#failed !== null) throw this.#failed;
    const changes = this.#changes();
    if (changes === this.#durable) return;
    if (!this.#syncInline(changes)) throw this.#failed ?? new Error('WAL sync failed');
  }

  close(): void {
    this.#closed = true;
    this.#waiters = [];
    this.#ready = [];
    this.#readyHead = 0;
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {
        // already gone
      }
      this.#fd = null;
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#syncing) return;
    this.#scheduled = true;
    // A microtask runs only once the current synchronous code, and so any open transaction, is done.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#start();
    });
  }

  /** Syncs now; false (and failed) if it could not. */
  #syncInline(changes: number): boolean {
    const start = this.#now();
    try {
      this.#syncNow((this.#fd ??= openSync(this.#path, 'r')));
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)));
      return false;
    }
    const end = this.#now();
    if (end - start > this.#inlineSlowMs) this.#inlineOffUntil = end + this.#inlineBackoffMs;
    this.syncs += 1;
    this.#durable = Math.max(this.#durable, changes);
    return true;
  }

  #start(): void {
    if (this.#syncing || this.#closed || this.#failed !== null || this.#waiters.length === 0) {
      return;
    }
    // From a microtask: whatever throws here fails the store closed instead of the process.
    let startedAt: number;
    let fd: number;
    try {
      startedAt = this.#changes();
      fd = this.#fd ??= openSync(this.#path, 'r');
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.#syncing = true;
    this.#sync(fd, (err) => {
      this.#syncing = false;
      if (this.#closed) return;
      if (err !== null) {
        this.#fail(err);
        return;
      }
      this.syncs += 1;
      this.#durable = Math.max(this.#durable, startedAt);
      let released = 0;
      while (released < this.#waiters.length && this.#waiters[released]!.changes <= startedAt) {
        released += 1;
      }
      for (let i = 0; i < released; i++) this.#ready.push(this.#waiters[i]!);
      this.#waiters = this.#waiters.slice(released);
      if (this.#waiters.length > 0) this.#schedule();
      // A drain already scheduled runs these after the ones before them, in a turn of its own.
      if (!this.#draining) this.#drain();
    });
  }

  /** Runs released outputs in order until the turn's budget is spent; the rest next turn. */
  readonly #drain = (): void => {
    this.#draining = false;
    const start = this.#now();
    while (this.#readyHead < this.#ready.length && !this.#closed) {
      const w = this.#ready[this.#readyHead]!;
      this.#readyHead += 1;
      try {
        w.fn();
      } catch {
        // An output that throws must not hold back the ones after it.
      }
      if (this.#readyHead < this.#ready.length && this.#now() - start >= this.#budgetMs) {
        if (this.#readyHead >= 1024 && this.#readyHead * 2 >= this.#ready.length) {
          // Under a steady stream the queue never empties: drop what already ran.
          this.#ready = this.#ready.slice(this.#readyHead);
          this.#readyHead = 0;
        }
        this.#draining = true;
        setImmediate(this.#drain);
        return;
      }
    }
    this.#ready = [];
    this.#readyHead = 0;
  };

  #fail(err: Error): void {
    this.#failed = err;
    const waiting = this.#waiters;
    this.#waiters = [];
    this.#onFailure?.(err);
    for (const w of waiting) {
      try {
        w.onFailed?.();
      } catch {
        // as above
      }
    }
  }
}
