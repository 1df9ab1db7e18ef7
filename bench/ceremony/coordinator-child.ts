/**
 * The coordinator under test, in its own process (`node --import tsx --expose-gc`), so that its
 * event-loop delay, CPU time and memory are its own and not the in-process members'. Started by
 * bench/ceremony/cluster.ts; talks to it over the IPC channel:
 *   → {id, op: 'el-reset' | 'el-report' | 'mem' | 'schema' | 'close'}   ← {id, ...answer}
 * It announces itself with {type: 'ready', url, adminKeyPath, coordinatorPublicKey, dbPath, pid}.
 * Configuration comes from the environment: BENCH_COORDINATOR_DB, BENCH_COORDINATOR_LIMITS (JSON).
 */
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
  readonly wallMs: number;
  /** Event-loop utilization since the last reset (0..1). */
  readonly utilization: number;
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

// 1 ms sampling resolution: the histogram records how late each 1 ms timer fired.
let histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
let cpuBase = process.cpuUsage();
let wallBase = performance.now();
let eluBase = performance.eventLoopUtilization();

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
  const ms = (ns: number) => ns / 1e6;
  switch (raw.op) {
    case 'el-reset':
      histogram.disable();
      histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      cpuBase = process.cpuUsage();
      wallBase = performance.now();
      eluBase = performance.eventLoopUtilization();
      answer(raw.id, {});
      return;
    case 'el-report': {
      const cpu = process.cpuUsage(cpuBase);
      const report: EventLoopReport = {
        samples: histogram.count,
        minMs: ms(histogram.min),
        meanMs: ms(histogram.mean),
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        cpuMs: (cpu.user + cpu.system) / 1000,
        wallMs: performance.now() - wallBase,
        utilization: performance.eventLoopUtilization(eluBase).utilization,
      };
      answer(raw.id, { report });
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
