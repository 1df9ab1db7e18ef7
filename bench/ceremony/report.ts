/** The ceremony bench's printed report: one table per part, then the goals with PASS/FAIL. */
import { fmtMs, table } from '../lib/harness.js';
import type { CeremonyBenchResult } from './bench.js';
import type { EventLoopReport } from './coordinator-child.js';
import { STAGES, STAGE_FLOOR_PARTS, type Stage } from './stages.js';

/** How the coordinator's CPU per ceremony splits between its event loop and its other threads. */
function threadSplit(el: EventLoopReport, n: number): string {
  if (el.mainThreadCpuMs === undefined || n === 0) return '';
  const other = el.cpuMs - el.mainThreadCpuMs;
  return `; CPU per ceremony: main thread ${fmtMs(el.mainThreadCpuMs / n)} ms, other threads (crypto worker, GC, libuv) ${fmtMs(other / n)} ms`;
}

/** How long the event loop's thread was ready to run but had no core, against the wall time. */
function runqueue(el: EventLoopReport): string {
  if (el.mainThreadRunqueueMs === undefined || el.wallMs <= 0) return '';
  return `; main thread waited for a core ${fmtMs(el.mainThreadRunqueueMs)} ms of ${fmtMs(el.wallMs)} ms (${((el.mainThreadRunqueueMs / el.wallMs) * 100).toFixed(0)}%)`;
}

const STAGE_LABELS: Readonly<Record<Stage, string>> = {
  requestHop: 'request hop',
  approvals: 'approvals',
  packageHop: 'package hop',
  signing: 'signing',
  completionHop: 'completion hop',
};

const x = (v: number) => `${v.toFixed(2)}×`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function formatCeremonyReport(r: CeremonyBenchResult): string {
  const out: string[] = [];
  const m = r.meta;
  out.push(
    `Ceremony bench${m.quick ? ' (BENCH_QUICK)' : ''} — ${m.node} ${m.platform}, ${m.cpu}, ${m.cores} cores, load ${m.loadavgStart.map((l) => l.toFixed(2)).join(' ')} → ${m.loadavgEnd.map((l) => l.toFixed(2)).join(' ')}`,
  );
  out.push(
    `coordinator: child process, real loopback WebSocket, SQLite WAL with group commit (fdatasync before every output); members: in-process agents (weak KDF N=2^10); fsync probe ${fmtMs(m.fsyncProbeMs)} ms; set-up ${(m.setupMs / 1000).toFixed(1)} s`,
  );
  out.push('');
  out.push('1. Ceremony latency (request sent → sign.complete at the requester), ms');
  out.push(
    table(
      [
        'ceremony',
        'iters',
        'p50',
        'p90',
        'p99',
        'floor p50',
        'minimal',
        'p50/floor',
        'p99/floor',
        'coord CPU/cer',
        'members CPU/cer',
        'sig ok',
      ],
      r.latency.map((l) => [
        l.label,
        String(l.latency.iterations),
        fmtMs(l.latency.medianMs),
        fmtMs(l.latency.p90Ms),
        fmtMs(l.latency.p99Ms),
        fmtMs(l.floor.floor.medianMs),
        fmtMs(l.floor.minimal.medianMs),
        x(l.p50OverFloor),
        x(l.p99OverFloor),
        fmtMs(l.coordinatorCpuMsPerCeremony),
        fmtMs(l.membersCpuMsPerCeremony),
        l.signatureVerified ? 'yes' : 'NO',
      ]),
    ),
  );
  out.push('');
  out.push('   floor parts (median ms per ceremony; per-signer parts summed over t)');
  out.push(
    table(
      ['ceremony', 'statement', 'commit', 'package', 'sign', 'aggregate', 'verify'],
      r.latency.map((l) => [
        l.label,
        fmtMs(l.floor.partsMedianMs.statement),
        fmtMs(l.floor.partsMedianMs.commit),
        fmtMs(l.floor.partsMedianMs.package),
        fmtMs(l.floor.partsMedianMs.sign),
        fmtMs(l.floor.partsMedianMs.aggregate),
        fmtMs(l.floor.partsMedianMs.verify),
      ]),
    ),
  );
  out.push('');
  out.push(
    '   stages (p50 ms, seen from the members; stages.ts): each beside the floor parts it contains',
  );
  out.push(
    table(
      ['ceremony', 'ceremonies', ...STAGES.map((st) => `${STAGE_LABELS[st]} (floor)`)],
      r.latency.map((l) => [
        l.label,
        String(l.stages.samples),
        ...STAGES.map((st) => {
          const floorPart = STAGE_FLOOR_PARTS[st].reduce(
            (sum, part) => sum + l.floor.partsMedianMs[part],
            0,
          );
          return `${fmtMs(l.stages.medianMs[st])} (${fmtMs(floorPart)})`;
        }),
      ]),
    ),
  );
  for (const l of r.latency) {
    const fp = l.floor.partsMedianMs;
    out.push(
      `   ${l.label} CPU split per ceremony: coordinator ${fmtMs(l.coordinatorCpuMsPerCeremony)} ms (its floor part: package + aggregate + verify ${fmtMs(fp.package + fp.aggregate + fp.verify)} ms), members ${fmtMs(l.membersCpuMsPerCeremony)} ms (their floor part: commit + sign ${fmtMs(fp.commit + fp.sign)} ms); latency p50 ${fmtMs(l.latency.medianMs)} ms`,
    );
  }
  for (const l of r.latency) {
    const el = l.coordinatorEventLoop;
    const n = l.latency.iterations;
    if (el.commits === undefined || n === 0) continue;
    out.push(
      `   ${l.label} coordinator: ${(el.commits / n).toFixed(1)} durable commits per ceremony (${fmtMs(el.commitMs / n)} ms inside transactions), event loop busy ${(el.utilization * 100).toFixed(0)}%, EL p99 ${fmtMs(el.p99Ms)} ms${threadSplit(el, n)}${runqueue(el)}`,
    );
  }
  const p50 = r.latency[0]?.latency.medianMs;
  out.push(
    `   frost-tools (2 s polling): ≥ ${r.frostToolsPollingMs} ms per ceremony` +
      (p50 === undefined ? '' : ` — ${(r.frostToolsPollingMs / p50).toFixed(0)}× our 3-of-5 p50`),
  );
  out.push('');
  const t = r.throughput;
  out.push('2. Throughput (concurrent 3-of-5, durable)');
  out.push(
    table(
      [
        'run',
        'done',
        'wall ms',
        'cer/s',
        'ceiling/s',
        'ratio',
        'lat p50',
        'lat p99',
        'EL p50',
        'EL p99',
        'EL max',
        'EL util',
        'coord CPU/cer',
        'members CPU/cer',
      ],
      [
        [
          t.label,
          `${t.completed}/${t.concurrency}`,
          fmtMs(t.wallMs),
          t.perSecond.toFixed(1),
          t.ceilingPerSecond.toFixed(1),
          x(t.overCeiling),
          fmtMs(t.latencyUnderLoad.medianMs),
          fmtMs(t.latencyUnderLoad.p99Ms),
          fmtMs(t.eventLoop.p50Ms),
          fmtMs(t.eventLoop.p99Ms),
          fmtMs(t.eventLoop.maxMs),
          `${(t.eventLoop.utilization * 100).toFixed(0)}%`,
          fmtMs(t.coordinatorCpuMsPerCeremony),
          fmtMs(t.membersCpuMsPerCeremony),
        ],
      ],
    ),
  );
  if (t.eventLoop.commits !== undefined && t.completed > 0)
    out.push(
      `   coordinator: ${(t.eventLoop.commits / t.completed).toFixed(1)} durable commits per ceremony (${fmtMs(t.eventLoop.commitMs / t.completed)} ms inside transactions)${threadSplit(t.eventLoop, t.completed)}${runqueue(t.eventLoop)}`,
    );
  if (t.membersNice > 0)
    out.push(
      `   members ran at nice ${t.membersNice} (BENCH_MEMBERS_NICE): the coordinator gets the CPU first, as on its own machine`,
    );
  if (t.notCompleted.length > 0) out.push(`   not completed: ${t.notCompleted.join('; ')}`);
  out.push('');
  const mem = r.memory;
  out.push(`3. Coordinator memory (${mem.open} open signing ceremonies, no approvals)`);
  out.push(
    table(
      ['figure', 'before', 'after', 'per ceremony'],
      [
        [
          'heapUsed',
          mib(mem.before.heapUsed),
          mib(mem.after.heapUsed),
          kib(mem.heapPerCeremonyBytes),
        ],
        [
          'external',
          mib(mem.before.external),
          mib(mem.after.external),
          kib(mem.externalPerCeremonyBytes),
        ],
        ['rss', mib(mem.before.rss), mib(mem.after.rss), kib(mem.rssPerCeremonyBytes)],
      ],
    ),
  );
  out.push(
    `   retained per COMPLETED ceremony (after the throughput run, gc'd): heap ${kib(mem.retainedHeapPerCompletedBytes)}, RSS ${kib(mem.retainedRssPerCompletedBytes)}`,
  );
  const s = r.secrets;
  out.push(
    `   secrets: ${s.secretHitsInProcess} hits in coordinator memory (${mib(s.processScan.bytesScanned)} in ${s.processScan.regions} mappings, ${fmtMs(s.processScan.ms)} ms${s.processScan.error === undefined ? '' : `, ERROR ${s.processScan.error}`}), ${s.secretHitsInDatabase} in its database files (${mib(s.databaseScan.bytesScanned)}); ${s.needles} needles`,
  );
  out.push(
    `   controls found (process/db): ${Object.entries(s.controls)
      .map(([k, v]) => `${k.replace('control: ', '')} ${v.process}/${v.database}`)
      .join(', ')}`,
  );
  out.push(
    `   schema columns named like nonce/secret/share/private: ${s.schemaColumnsMatching.length === 0 ? 'none' : s.schemaColumnsMatching.join(', ')}`,
  );
  out.push('');
  out.push('Goals');
  out.push(
    table(
      ['goal', 'value', 'limit', 'result'],
      r.goals.map((g) => [
        g.name,
        `${g.value.toFixed(2)}${g.unit === '×' ? '×' : ` ${g.unit}`}`,
        `${g.comparison} ${g.limit}${g.unit === '×' ? '×' : ` ${g.unit}`}`,
        g.pass ? 'PASS' : 'FAIL',
      ]),
    ),
  );
  return out.join('\n');
}
