// A small worker_threads pool for the curve arithmetic of signing ceremonies (commitment
// validation, signature-share verification, aggregation — crypto-pool-tasks.ts), so that it runs
// off the coordinator's event loop (issue 3: event-loop delay p99 ≤ 10 ms under load).
//
// - Size: `limits.cryptoWorkers` (default os.availableParallelism() − 1, at least 1). Size 0 runs
//   every task inline, on the event loop (the behaviour before the pool; tests use it).
// - Priority: each worker raises its own thread's nice value by `limits.cryptoWorkerNice` (default
//   5) as it starts, so under load the event loop gets a core first (Linux: setpriority on a
//   thread id changes that thread only). If the system refuses, the worker runs at the process's
//   priority and the pool logs it once.
// - Tasks go to the least busy worker; each worker runs one task at a time, queued in order.
// - A worker that dies (crash, out of memory, terminated) fails its queued and running tasks with
//   CryptoPoolError `CRYPTO_WORKER_FAILED` and is replaced; callers then run the task inline, so no
//   ceremony is lost to a worker failure. After close(), run() fails with `CRYPTO_POOL_CLOSED`.
// - A worker that ends before it is ready (it cannot load its module) is replaced too, but after
//   MAX_BOOT_FAILURES such ends in a row the pool stops starting workers, logs why once, and runs
//   tasks inline: the same answers, on the event loop (metrics: conclave_crypto_workers).
// - The pool only computes: results are applied to the ceremony's XState actor by the caller,
//   under the same check → commit → send rules as before.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from './logger.js';
import { runCryptoTask, type CryptoResultOf, type CryptoTask } from './crypto-pool-tasks.js';

export type CryptoPoolErrorCode = 'CRYPTO_WORKER_FAILED' | 'CRYPTO_POOL_CLOSED';

export class CryptoPoolError extends Error {
  readonly code: CryptoPoolErrorCode;
  constructor(code: CryptoPoolErrorCode, message: string) {
    super(message);
    this.name = 'CryptoPoolError';
    this.code = code;
  }
}

export const isCryptoPoolError = (e: unknown): e is CryptoPoolError => e instanceof CryptoPoolError;

/** FNV-1a (32-bit) of a string: a stable worker index for an affinity key. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Default pool size: one worker per core the event loop does not use, at least one. */
export function defaultCryptoWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

export interface CryptoPoolOptions {
  readonly size: number;
  readonly logger?: Logger;
  /**
   * Where a worker's answer is delivered (the coordinator's TurnQueue: one answer, and the
   * ceremony step it resumes, per event-loop turn). Default: at once.
   */
  readonly schedule?: (deliver: () => void) => void;
  /** The workers' module (file URL). Tests only: one that cannot load. */
  readonly workerEntry?: string;
  /** Nice increment each worker thread applies to itself (0–19). Default 0. */
  readonly nice?: number;
}

/** What a worker posts: {ready} once it has loaded, then one answer per task. */
interface WorkerMessage {
  readonly id?: number;
  readonly result?: unknown;
  readonly error?: string;
  readonly ready?: true;
  /** With ready: the worker thread's nice value after it applied its increment. */
  readonly nice?: number;
  /** With ready: the error code if setpriority was refused. */
  readonly niceRefused?: string;
}

interface Pending {
  readonly id: number;
  readonly task: CryptoTask;
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Sent to the worker, in order; the first is running. */
  readonly inFlight: Map<number, Pending>;
  /** The worker loaded its module and said so ({ready: true}). */
  ready: boolean;
  /** What ended the worker before it was ready (its 'error' event), for the log. */
  bootError?: string;
  /** The worker thread's nice value, as it reported when ready. */
  nice?: number;
}

/**
 * Workers that end before they are ready, one after another, before the pool stops starting
 * them: a worker that cannot load its module fails the same way each time, and replacing it at
 * once would start a new thread every ~100 ms for as long as the coordinator runs.
 */
export const MAX_BOOT_FAILURES = 3;

// Workers load the TypeScript sources directly (the workspace has no build step): a worker that
// did not inherit a TypeScript loader (`node --import tsx` passes it on; tsx's register() in the
// main thread does not) registers tsx's ESM hooks and imports the entry again. Without a loader a
// .ts entry fails differently by Node version: Node 20 refuses the extension
// (ERR_UNKNOWN_FILE_EXTENSION); Node ≥ 22.18 strips the types itself but cannot resolve the
// sources' './x.js' specifiers (ERR_MODULE_NOT_FOUND). So any failure of a .ts entry gets the
// second try, which rethrows the real error if there is one. A failed import links nothing and runs
// nothing, so the second try starts clean.
const BOOT = `
const { workerData } = require('node:worker_threads');
import(workerData.entry).catch((first) => {
  if (!/\\.ts$/.test(new URL(workerData.entry).pathname)) throw first;
  return import(workerData.tsx).then((api) => {
    api.register();
    // A fresh URL: the failed import above stays cached under the plain one.
    return import(workerData.entry + '?tsx');
  });
});
`;

/**
 * The worker's module: the .ts beside this file when the coordinator runs from source, and the
 * .mjs beside the bundle when it runs inside the CLI's bundle (apps/cli/scripts/build.mjs builds
 * both into apps/cli/dist).
 */
const WORKER_ENTRY = new URL(
  new URL(import.meta.url).pathname.endsWith('.ts')
    ? './crypto-pool-worker.ts'
    : './crypto-pool-worker.mjs',
  import.meta.url,
).href;

/** A worker's start-up failure for the log: error code and first line, at most 300 characters. */
function describeBootError(e: unknown): string {
  if (!(e instanceof Error)) return 'exited before it was ready';
  const code = (e as { code?: unknown }).code;
  const line = (e.message.split('\n')[0] ?? '').slice(0, 300);
  return typeof code === 'string' ? `${code}: ${line}` : `${e.name}: ${line}`;
}

/** tsx's ESM API (`register()`), as a file URL. */
function tsxApi(): string {
  // require.resolve picks the CommonJS build; its ESM twin sits next to it.
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const esm = cjs.replace(/\.cjs$/, '.mjs');
  return pathToFileURL(existsSync(esm) ? esm : cjs).href;
}

export class CryptoPool {
  readonly size: number;
  readonly #logger: Logger | undefined;
  readonly #schedule: (deliver: () => void) => void;
  readonly #slots: Slot[] = [];
  readonly #entry: string;
  #next = 1;
  #closed = false;
  #bootFailures = 0;
  readonly #nice: number;
  #niceRefusalLogged = false;
  /** Workers replaced after a failure (metrics, tests). */
  restarts = 0;

  constructor(options: CryptoPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 0) {
      throw new RangeError('crypto pool size must be a non-negative integer');
    }
    this.size = options.size;
    this.#logger = options.logger;
    this.#schedule = options.schedule ?? ((deliver) => deliver());
    this.#entry = options.workerEntry ?? WORKER_ENTRY;
    this.#nice = options.nice ?? 0;
    if (!Number.isInteger(this.#nice) || this.#nice < 0 || this.#nice > 19) {
      throw new RangeError('crypto worker nice increment must be an integer from 0 to 19');
    }
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  /**
   * Runs `task` on a worker (inline when the pool has none). Tasks with the same `affinity` (a
   * ceremony id) go to the same worker, whose caches then hold that ceremony's validated
   * commitments and packages; without one, the least busy worker.
   */
  run<T extends CryptoTask>(task: T, affinity?: string): Promise<CryptoResultOf<T>> {
    if (this.#closed) {
      return Promise.reject(new CryptoPoolError('CRYPTO_POOL_CLOSED', 'the crypto pool is closed'));
    }
    // No workers: size 0, or none could start (#onExit). The same answers, on this thread.
    if (this.#slots.length === 0) {
      try {
        return Promise.resolve(runCryptoTask(task));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    const slot =
      affinity === undefined
        ? this.#slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a))
        : (this.#slots[fnv1a(affinity) % this.#slots.length] as Slot);
    const id = this.#next++;
    return new Promise<CryptoResultOf<T>>((resolve, reject) => {
      slot.inFlight.set(id, { id, task, resolve: resolve as (v: unknown) => void, reject });
      // Referenced while it has work, so a pending task keeps the process alive.
      slot.worker.ref();
      slot.worker.postMessage({ id, task });
    });
  }

  /** Stops every worker; tasks still queued fail with CRYPTO_POOL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const slots = this.#slots.splice(0);
    for (const slot of slots) {
      for (const p of slot.inFlight.values()) {
        p.reject(new CryptoPoolError('CRYPTO_POOL_CLOSED', 'the crypto pool is closed'));
      }
      slot.inFlight.clear();
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Thread ids of the live workers (tests and diagnostics). */
  get threadIds(): number[] {
    return this.#slots.map((s) => s.worker.threadId);
  }

  /** Nice value of each live worker that is ready (tests and diagnostics). */
  get workerNice(): number[] {
    return this.#slots.flatMap((s) => (s.nice === undefined ? [] : [s.nice]));
  }

  /** Tests: terminate worker `index` as a crash would end it. */
  async killWorkerForTest(index: number): Promise<void> {
    await this.#slots[index]?.worker.terminate();
  }

  #spawn(): Slot {
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: { entry: this.#entry, tsx: tsxApi(), nice: this.#nice },
      name: 'conclave-crypto',
    });
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map(), ready: false };
    worker.on('message', (m: WorkerMessage) => {
      if (m.ready === true) {
        slot.ready = true;
        this.#bootFailures = 0;
        if (m.nice !== undefined) slot.nice = m.nice;
        if (m.niceRefused !== undefined && !this.#niceRefusalLogged) {
          this.#niceRefusalLogged = true;
          this.#logger?.warn(
            'crypto workers run at the event loop priority: the system refused to lower theirs',
            { code: m.niceRefused },
          );
        }
        return;
      }
      if (m.id === undefined) return;
      const p = slot.inFlight.get(m.id);
      if (p === undefined) return;
      slot.inFlight.delete(m.id);
      if (slot.inFlight.size === 0) slot.worker.unref();
      if (m.error !== undefined) {
        const error = new Error(`crypto task failed (${m.error})`);
        this.#schedule(() => p.reject(error));
      } else {
        const result = m.result;
        this.#schedule(() => p.resolve(result));
      }
    });
    worker.on('error', (e: unknown) => {
      // Followed by 'exit'; the failure is handled there. Names and paths only, never task data
      // (the worker catches its tasks' errors itself).
      if (!slot.ready) slot.bootError = describeBootError(e);
    });
    worker.on('exit', () => this.#onExit(slot));
    return slot;
  }

  #onExit(slot: Slot): void {
    const failed = [...slot.inFlight.values()];
    slot.inFlight.clear();
    if (this.#closed) return;
    const index = this.#slots.indexOf(slot);
    if (index >= 0 && !slot.ready && ++this.#bootFailures >= MAX_BOOT_FAILURES) {
      // It cannot start: stop trying (a restart of the coordinator tries again).
      this.#slots.splice(index, 1);
      this.#logger?.error(
        this.#slots.length === 0
          ? 'crypto workers cannot start: curve arithmetic now runs on the event loop (same answers, slower under load); restart the coordinator once the cause is fixed'
          : 'a crypto worker cannot start; running with fewer workers',
        { reason: slot.bootError ?? 'exited before it was ready', workers: this.#slots.length },
      );
    } else if (index >= 0) {
      this.restarts += 1;
      this.#logger?.error(
        slot.ready ? 'crypto worker exited; replaced' : 'crypto worker failed to start; replaced',
        { pending: failed.length, ...(slot.ready ? {} : { reason: slot.bootError ?? 'unknown' }) },
      );
      this.#slots[index] = this.#spawn();
    }
    for (const p of failed) {
      p.reject(new CryptoPoolError('CRYPTO_WORKER_FAILED', 'a crypto worker exited mid-task'));
    }
  }
}

/**
 * Runs `task` on the pool; if its worker failed, runs it inline instead (logged), so a worker
 * crash costs event-loop time, not the ceremony. Other errors propagate.
 */
export async function runOrInline<T extends CryptoTask>(
  pool: CryptoPool,
  task: T,
  logger?: Logger,
  affinity?: string,
): Promise<CryptoResultOf<T>> {
  try {
    return await pool.run(task, affinity);
  } catch (e) {
    if (!isCryptoPoolError(e) || e.code !== 'CRYPTO_WORKER_FAILED') throw e;
    logger?.warn('crypto task rerun inline after a worker failure', {
      task: task.kind,
      code: e.code,
    });
    return runCryptoTask(task);
  }
}

/** What identifies a task's result: every input except the hints, which only save work. */
export function taskKey(task: CryptoTask): string {
  switch (task.kind) {
    case 'commitments':
      return JSON.stringify([task.kind, task.member, task.commitments]);
    case 'verifyShares':
      return JSON.stringify([
        task.kind,
        task.member,
        task.publicKeyPackage,
        task.signingPackages,
        task.shares,
      ]);
    case 'prepareShares':
      return JSON.stringify([task.kind, task.publicKeyPackage, task.signingPackages]);
    case 'aggregate':
      return JSON.stringify([
        task.kind,
        task.publicKeyPackage,
        task.jobs.map((j) => [j.job, j.signingPackage]),
        task.shares,
      ]);
  }
}

/**
 * Pool work started as soon as an authenticated envelope is opened, before it waits for its
 * ceremony's turn (CeremonyRunner.serial): the shares (or approvals) of a burst are then checked
 * on the workers while the ones ahead of them commit, instead of one after the other. The handler
 * asks for the same task at its turn and is given the running promise. A task's result is a pure
 * function of its public inputs, so only when it is computed changes, never what the ceremony
 * does with it. Without workers nothing is started early (inline work would only move).
 */
export class CryptoRuns {
  readonly #started = new Map<string, Promise<unknown>>();

  constructor(
    private readonly pool: CryptoPool,
    private readonly logger?: Logger,
  ) {}

  /** Starts `task` now (unless it is running or the pool is inline); returns its key. */
  prefetch<T extends CryptoTask>(
    task: T,
    affinity: string,
    withHints: (task: T) => T = (t) => t,
  ): string | undefined {
    if (this.pool.size === 0) return undefined;
    const key = taskKey(task);
    if (!this.#started.has(key)) {
      const run = runOrInline(this.pool, withHints(task), this.logger, affinity);
      run.catch(() => undefined); // whoever takes it sees the failure
      this.#started.set(key, run);
    }
    return key;
  }

  /**
   * `task`'s result: the prefetched run if one was started (and is now taken), else a new run.
   * `withHints` adds what only saves a worker work (package hints, not part of the key); it is
   * called only when a run is started, so a taken prefetch costs nothing more here.
   */
  run<T extends CryptoTask>(
    task: T,
    affinity: string,
    withHints: (task: T) => T = (t) => t,
  ): Promise<CryptoResultOf<T>> {
    const key = taskKey(task);
    const started = this.#started.get(key);
    if (started !== undefined) {
      this.#started.delete(key);
      return started as Promise<CryptoResultOf<T>>;
    }
    return runOrInline(this.pool, withHints(task), this.logger, affinity);
  }

  /**
   * Runs `task` on a worker for its side effect on the worker's caches only (prepareShares); its
   * result is not kept. Nothing runs without workers (inline it would only add work to the loop).
   */
  warm<T extends CryptoTask>(
    task: T,
    affinity: string,
    withHints: (task: T) => T = (t) => t,
  ): void {
    if (this.pool.size === 0) return;
    this.pool.run(withHints(task), affinity).catch((e: unknown) => {
      this.logger?.warn('crypto warm-up failed (only time is lost)', {
        task: task.kind,
        code:
          e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'INTERNAL',
      });
    });
  }

  /** Drops a prefetched run nobody took (its envelope was refused before it asked). */
  forget(key: string): void {
    this.#started.delete(key);
  }

  /** Prefetched runs not taken yet (tests, metrics). */
  get pending(): number {
    return this.#started.size;
  }
}
