/**
 * The coordinator under test, in its own process (`node --import tsx --expose-gc`), so that its
 * event-loop delay, CPU time and memory are its own and not the in-process members'. Started by
 * bench/ceremony/cluster.ts; talks to it over the IPC channel:
 *   → {id, op: 'el-reset' | 'el-report' | 'mem' | 'schema' | 'close'}   ← {id, ...answer}
 * It announces itself with {type: 'ready', url, adminKeyPath, coordinatorPublicKey, dbPath, pid}.
 * Configuration comes from the environment: BENCH_COORDINATOR_DB, BENCH_COORDINATOR_LIMITS (JSON).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startCoordinator, type Limits } from '@conclave/coordinator';

export type ChildRequest =
  | { readonly id: number; readonly op: 'el-reset' }
  | { readonly id: number; readonly op: 'el-report' }
  | { readonly id: number; readonly op: 'mem' }
  | { readonly id: number; readonly op: 'schema' }
  | { readonly id: number; readonly op: 'close' };

export interface ChildReady {
  readonly type: 'ready';
  readonly url: string;
  readonly adminKeyPath: string;
  readonly coordinatorPublicKey: string;
  readonly dbPath: string;
  readonly pid: number;
}

export interface EventLoopReport {
  readonly samples: number;
  readonly minMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Coordinator CPU time (user + system) since the last reset, ms. */
  readonly cpuMs: number;
  /**
   * Of `cpuMs`, the main thread's (the event loop's), from /proc/self/task (Linux); the rest is the
   * crypto workers, V8's collector and compiler threads and libuv's pool. Absent without /proc.
   */
  readonly mainThreadCpuMs?: number;
  /**
   * Time the main thread was ready to run but waited for a core (the scheduler's run queue), ms,
   * from /proc/self/task/<pid>/schedstat (Linux with schedstats). A timer that fires late while
   * the thread waits here counts as event-loop delay though no JavaScript ran. Absent without it.
   */
  readonly mainThreadRunqueueMs?: number;
  readonly wallMs: number;
  /** Event-loop utilization since the last reset (0..1). */
  readonly utilization: number;
  /** Outermost store transactions (each one a durable commit) since the last reset, and their time. */
  readonly commits: number;
  readonly commitMs: number;
}

export interface MemReport {
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}

const dbPath = process.env['BENCH_COORDINATOR_DB'];
if (dbPath === undefined || process.send === undefined) {
  process.stderr.write('coordinator-child: run by bench/ceremony/cluster.ts only\n');
  process.exit(2);
}
const limits = JSON.parse(process.env['BENCH_COORDINATOR_LIMITS'] ?? '{}') as Partial<Limits>;

const handle = await startCoordinator({ dbPath, host: '127.0.0.1', port: 0, limits });

// Count the store's outermost transactions (each a commit; its fdatasync is group-committed off the loop).
let commits = 0;
let commitMs = 0;
{
  const store = handle.store as unknown as {
    transaction<T>(fn: () => T): T;
    db?: { inTransaction: boolean };
  };
  const inner = store.transaction.bind(store);
  store.transaction = <T>(fn: () => T): T => {
    if (store.db?.inTransaction === true) return inner(fn);
    const t0 = performance.now();
    try {
      return inner(fn);
    } finally {
      commits += 1;
      commitMs += performance.now() - t0;
    }
  };
}

// The event-loop delay: how late a repeating 1 ms timer fires. Node's histogram does not record
// that lateness but the whole interval between two firings, the timer's own period included
// (measured on Node 20, idle: p50 1.12 ms at resolution 1, 10.18 ms at resolution 10; the same
// was reported to prom-client, prometheus/client_js#370). So every figure in the report is the
// recorded interval minus the period (`delayMs`); before this, each was 1 ms too high.
const EL_RESOLUTION_MS = 1;
let histogram = monitorEventLoopDelay({ resolution: EL_RESOLUTION_MS });
const delayMs = (ns: number): number => Math.max(0, ns / 1e6 - EL_RESOLUTION_MS);
histogram.enable();
let cpuBase = process.cpuUsage();

/** CPU time of the main thread (its tid is the pid), ms; undefined where /proc is not there. */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, in parentheses): utime is the 12th,
    // stime the 13th, in clock ticks (100 a second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
let mainCpuBase = mainThreadCpuMs();

/** The main thread's run-queue wait so far, ms (schedstat's second field, in ns). */
function mainThreadRunqueueMs(): number | undefined {
  try {
    const wait = Number(
      readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[1],
    );
    return Number.isFinite(wait) ? wait / 1e6 : undefined;
  } catch {
    return undefined;
  }
}
let runqueueBase = mainThreadRunqueueMs();
let wallBase = performance.now();
let eluBase = performance.eventLoopUtilization();

// BENCH_CEREMONY_PHASE_PROF=DIR: a V8 CPU profile of each measured phase (el-reset → el-report),
// written as DIR/phase-<n>.cpuprofile, so set-up (DKGs, module loading) stays out of it.
const phaseProfDir = process.env['BENCH_CEREMONY_PHASE_PROF'];
const inspector = phaseProfDir === undefined ? null : new Session();
let phase = 0;
inspector?.connect();
function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    inspector?.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))),
  );
}
async function profileStart(): Promise<void> {
  if (inspector === null) return;
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
}
async function profileStop(): Promise<void> {
  if (inspector === null || phaseProfDir === undefined) return;
  const res = (await post('Profiler.stop')) as { profile: unknown };
  phase += 1;
  writeFileSync(join(phaseProfDir, `phase-${phase}.cpuprofile`), JSON.stringify(res.profile));
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
}

function answer(id: number, body: Record<string, unknown>): void {
  process.send?.({ id, ...body });
}

process.on('message', (raw: ChildRequest) => {
  switch (raw.op) {
    case 'el-reset':
      histogram.disable();
      histogram = monitorEventLoopDelay({ resolution: EL_RESOLUTION_MS });
      histogram.enable();
      cpuBase = process.cpuUsage();
      mainCpuBase = mainThreadCpuMs();
      runqueueBase = mainThreadRunqueueMs();
      wallBase = performance.now();
      eluBase = performance.eventLoopUtilization();
      commits = 0;
      commitMs = 0;
      void profileStart().then(() => answer(raw.id, {}));
      return;
    case 'el-report': {
      const cpu = process.cpuUsage(cpuBase);
      const mainCpu = mainThreadCpuMs();
      const runqueue = mainThreadRunqueueMs();
      const report: EventLoopReport = {
        samples: histogram.count,
        minMs: delayMs(histogram.min),
        meanMs: delayMs(histogram.mean),
        p50Ms: delayMs(histogram.percentile(50)),
        p99Ms: delayMs(histogram.percentile(99)),
        maxMs: delayMs(histogram.max),
        cpuMs: (cpu.user + cpu.system) / 1000,
        ...(mainCpu === undefined || mainCpuBase === undefined
          ? {}
          : { mainThreadCpuMs: mainCpu - mainCpuBase }),
        ...(runqueue === undefined || runqueueBase === undefined
          ? {}
          : { mainThreadRunqueueMs: runqueue - runqueueBase }),
        wallMs: performance.now() - wallBase,
        utilization: performance.eventLoopUtilization(eluBase).utilization,
        commits,
        commitMs,
      };
      void profileStop().then(() => answer(raw.id, { report }));
      return;
    }
    case 'mem': {
      gc();
      const m = process.memoryUsage();
      const mem: MemReport = {
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        rss: m.rss,
      };
      answer(raw.id, { mem });
      return;
    }
    case 'schema': {
      // The store's own schema (table definitions), to check that no column can hold a secret.
      const db = (
        handle.store as unknown as {
          db?: { prepare(sql: string): { all(): unknown[] } };
        }
      ).db;
      const tables =
        db === undefined
          ? []
          : (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all() as {
              name: string;
              sql: string;
            }[]);
      answer(raw.id, { tables });
      return;
    }
    case 'close':
      histogram.disable();
      void handle.close().then(() => {
        answer(raw.id, {});
        process.disconnect();
      });
      return;
  }
});

const ready: ChildReady = {
  type: 'ready',
  url: handle.url,
  adminKeyPath: handle.adminKeyPath,
  coordinatorPublicKey: handle.coordinatorPublicKey,
  dbPath: handle.dbPath,
  pid: process.pid,
};
process.send(ready);
