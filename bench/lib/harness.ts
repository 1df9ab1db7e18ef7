/**
 * A deliberately small benchmark harness: warm up, then time one call per iteration until a
 * minimum count and a time budget are both met (or a hard cap is hit), and report the median and
 * p90 in milliseconds. Per-iteration setup runs outside the timed region.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/** What every bench's result says about its run and the machine it ran on. */
export interface RunMeta {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly quick: boolean;
  readonly node: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  readonly loadavgStart: readonly number[];
  readonly loadavgEnd: readonly number[];
}

/** Starts a run's clock and load reading; `finish()` gives its RunMeta. */
export function startRun(quick: boolean): { readonly t0: number; finish(): RunMeta } {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const loadavgStart = loadavg();
  return {
    t0,
    finish: () => {
      const cpu = cpus();
      return {
        startedAt,
        finishedAt: new Date().toISOString(),
        durationMs: performance.now() - t0,
        quick,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        loadavgStart,
        loadavgEnd: loadavg(),
      };
    },
  };
}

export interface MeasureOptions {
  /** Untimed warm-up iterations (cut short once `warmupMs` of warm-up has elapsed). */
  readonly warmup: number;
  readonly warmupMs: number;
  /** Always time at least this many iterations. */
  readonly minIters: number;
  /** Never time more than this many iterations. */
  readonly maxIters: number;
  /** After `minIters`, keep going until this much wall time (setup included) has passed. */
  readonly budgetMs: number;
}

export interface Stats {
  readonly iterations: number;
  readonly warmup: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function summarize(samples: readonly number[], warmup: number): Stats {
  const sorted = [...samples].sort((x, y) => x - y);
  const sum = sorted.reduce((s, x) => s + x, 0);
  return {
    iterations: sorted.length,
    warmup,
    medianMs: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    meanMs: sum / sorted.length,
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Time `run(setup())`; `setup` is not timed. `run`'s result is kept alive so it is not elided. */
export function measureWith<S>(
  opts: MeasureOptions,
  setup: () => S,
  run: (s: S) => unknown,
): Stats {
  let sink: unknown;
  let warm = 0;
  const warmStart = performance.now();
  while (warm < opts.warmup && (warm === 0 || performance.now() - warmStart < opts.warmupMs)) {
    sink = run(setup());
    warm++;
  }
  const samples: number[] = [];
  const start = performance.now();
  while (
    samples.length < opts.maxIters &&
    (samples.length < opts.minIters || performance.now() - start < opts.budgetMs)
  ) {
    const s = setup();
    const t0 = performance.now();
    sink = run(s);
    samples.push(performance.now() - t0);
  }
  keep(sink);
  return summarize(samples, warm);
}

export function measure(opts: MeasureOptions, run: () => unknown): Stats {
  return measureWith(opts, () => undefined, run);
}

let kept: unknown;
function keep(x: unknown): void {
  kept = x;
}
export function lastKept(): unknown {
  return kept;
}

/** Format milliseconds with about three significant digits. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return 'n/a';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** Render rows of cells as a fixed-width text table (first column left-aligned). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join(' | ');
  const sep = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

export interface InterleavedCase {
  readonly key: string;
  readonly setup: () => unknown;
  readonly run: (s: unknown) => unknown;
}

/**
 * Time several cases round-robin (one call of each per round, starting position rotated every
 * round), so that load changes on a shared machine hit all of them alike and ratios between them
 * stay meaningful. The round budget is shared: rounds continue until `minIters` rounds and
 * `budgetMs` have both passed, or `maxIters` rounds.
 */
export function measureInterleaved(
  opts: MeasureOptions,
  cases: readonly InterleavedCase[],
): Record<string, Stats> {
  let sink: unknown;
  const samples = cases.map(() => [] as number[]);
  let warm = 0;
  const warmStart = performance.now();
  while (warm < opts.warmup && (warm === 0 || performance.now() - warmStart < opts.warmupMs)) {
    for (const c of cases) sink = c.run(c.setup());
    warm++;
  }
  const start = performance.now();
  let rounds = 0;
  while (
    rounds < opts.maxIters &&
    (rounds < opts.minIters || performance.now() - start < opts.budgetMs)
  ) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + rounds) % cases.length;
      const c = cases[i] as InterleavedCase;
      const s = c.setup();
      const t0 = performance.now();
      sink = c.run(s);
      (samples[i] as number[]).push(performance.now() - t0);
    }
    rounds++;
  }
  keep(sink);
  const out: Record<string, Stats> = {};
  cases.forEach((c, i) => {
    out[c.key] = summarize(samples[i] as number[], warm);
  });
  return out;
}
