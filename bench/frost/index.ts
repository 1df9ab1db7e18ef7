/**
 * `pnpm bench frost`: run the FROST bench, print the report, write the JSON result to
 * bench/results/frost-<timestamp>.json and bench/results/frost-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runFrostBench, type FrostBenchOptions, type FrostBenchResult } from './bench.js';
import { computeTargets, formatFrostReport, type TargetCheck } from './report.js';

export { runFrostBench, computeTargets, formatFrostReport };
export type { FrostBenchOptions, FrostBenchResult, TargetCheck };

export interface FrostBenchCliOptions {
  readonly quick: boolean;
  readonly suites?: readonly string[];
}

export function mainFrost(o: FrostBenchCliOptions): void {
  const opts: FrostBenchOptions = o.suites
    ? { quick: o.quick, suites: o.suites }
    : { quick: o.quick };
  const result = runFrostBench(opts);
  const targets = computeTargets(result);
  process.stdout.write(`${formatFrostReport(result, targets)}\n`);
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = result.meta.startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify({ ...result, targets }, null, 2)}\n`;
  const file = `${dir}frost-${stamp}${result.meta.quick ? '-quick' : ''}.json`;
  writeFileSync(file, json);
  writeFileSync(`${dir}frost-latest.json`, json);
  process.stderr.write(`[frost] wrote ${file} and ${dir}frost-latest.json\n`);
}
