/**
 * `pnpm bench ceremony`: run the ceremony bench, print the report, write the JSON result to
 * bench/results/ceremony-<timestamp>.json and bench/results/ceremony-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCeremonyBench, type CeremonyBenchOptions, type CeremonyBenchResult } from './bench.js';
import { formatCeremonyReport } from './report.js';

export { runCeremonyBench, formatCeremonyReport };
export type { CeremonyBenchOptions, CeremonyBenchResult };

export async function mainCeremony(o: { readonly quick: boolean }): Promise<void> {
  const result = await runCeremonyBench({ quick: o.quick });
  process.stdout.write(`${formatCeremonyReport(result)}\n`);
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = result.meta.startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const file = `${dir}ceremony-${stamp}${result.meta.quick ? '-quick' : ''}.json`;
  writeFileSync(file, json);
  writeFileSync(`${dir}ceremony-latest.json`, json);
  process.stderr.write(`[ceremony] wrote ${file} and ${dir}ceremony-latest.json\n`);
}
