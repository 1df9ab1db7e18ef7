/**
 * Text report for the FROST bench: one table per suite (median / p90 ms per call, iterations),
 * the single-signer baselines, and the issue-2 target ratios with PASS/FAIL marks.
 */
import { fmtMs, table, type Stats } from '../lib/harness.js';
import { BASELINE_LABELS, type BaselineResult } from './baselines.js';
import {
  OP_KEYS,
  OP_LABELS,
  type FrostBenchResult,
  type OpKey,
  type SizeResult,
  type SuiteResult,
} from './bench.js';

export interface TargetCheck {
  readonly suite: string;
  readonly name: string;
  /** How the ratio is formed. */
  readonly formula: string;
  readonly ratio: number;
  /** PASS when ratio <= limit; undefined = informational. */
  readonly limit: number | undefined;
  readonly pass: boolean | undefined;
  readonly primary: boolean;
  /** FAIL, but the numerator's median is inside the denominator's median..p90 spread. */
  readonly withinNoise?: boolean;
}

const cell = (s: Stats | undefined): string =>
  s === undefined ? '-' : `${fmtMs(s.medianMs)} / ${fmtMs(s.p90Ms)} ×${s.iterations}`;

const med = (sz: SizeResult | undefined, k: OpKey): number | undefined => sz?.ops[k]?.medianMs;

function suiteTable(s: SuiteResult): string {
  const header = [`${s.suite}: median / p90 ms ×iterations`, ...s.sizes.map((z) => z.label)];
  const rows: string[][] = [];
  for (const k of OP_KEYS) {
    if (s.sizes.every((z) => z.ops[k] === undefined)) continue;
    rows.push([OP_LABELS[k], ...s.sizes.map((z) => cell(z.ops[k]))]);
    if (k === 'dkgParty')
      rows.push([
        'DKG, all n parties, PROJECTED = n × one-party median (not measured)',
        ...s.sizes.map((z) =>
          z.dkgProjectedAllMs === undefined ? '-' : `${fmtMs(z.dkgProjectedAllMs)} (proj.)`,
        ),
      ]);
  }
  return table(header, rows);
}

function baselineTable(b: BaselineResult): string {
  const keys = Object.keys(BASELINE_LABELS) as (keyof BaselineResult)[];
  return table(
    ['single-signer Ed25519 baselines (same run)', 'median ms', 'p90 ms', 'iters'],
    keys.map((k) => [
      BASELINE_LABELS[k],
      fmtMs(b[k].medianMs),
      fmtMs(b[k].p90Ms),
      String(b[k].iterations),
    ]),
  );
}

function ratio(a: number | undefined, b: number | undefined): number {
  return a === undefined || b === undefined || b === 0 ? Number.NaN : a / b;
}

export function computeTargets(r: FrostBenchResult): TargetCheck[] {
  const out: TargetCheck[] = [];
  const native = r.baselines.nativeVerify.medianMs;
  const add = (
    suite: string,
    name: string,
    formula: string,
    value: number,
    limit: number | undefined,
    primary: boolean,
  ): void => {
    if (Number.isNaN(value)) return;
    out.push({
      suite,
      name,
      formula,
      ratio: value,
      limit,
      pass: limit === undefined ? undefined : value <= limit,
      primary,
    });
  };
  for (const s of r.suites) {
    const big = s.sizes.find((z) => z.t === 67 && z.n === 100);
    const small = s.sizes.find((z) => z.t === 3 && z.n === 5);
    const bigL = big?.label ?? '67-of-100';
    // 1. honest aggregate vs (group commitment + one final verify)
    add(
      s.suite,
      `honest aggregate ${bigL} ÷ (group commitment + one final verify) — aggregate's own overhead`,
      'aggValidated / (groupCommitment + verify)',
      ratio(
        med(big, 'aggValidated'),
        (med(big, 'groupCommitment') ?? NaN) + (med(big, 'verify') ?? NaN),
      ),
      1.1,
      true,
    );
    add(
      s.suite,
      `honest aggregate ${bigL}, FRESH ÷ (FRESH group commitment + one final verify)`,
      'aggFresh / (groupCommitmentFresh + verify)',
      ratio(
        med(big, 'aggFresh'),
        (med(big, 'groupCommitmentFresh') ?? NaN) + (med(big, 'verify') ?? NaN),
      ),
      1.1,
      false,
    );
    // 2. one corrupted share among t named in <= 2x honest
    add(
      s.suite,
      `one corrupted share among 67 named, FRESH ÷ honest FRESH (coordinator view)`,
      'aggCorruptFresh / aggFresh',
      ratio(med(big, 'aggCorruptFresh'), med(big, 'aggFresh')),
      2,
      true,
    );
    add(
      s.suite,
      `one corrupted share among 67 named, elements pre-validated ÷ honest pre-validated`,
      'aggCorruptValidated / aggValidated',
      ratio(med(big, 'aggCorruptValidated'), med(big, 'aggValidated')),
      2,
      false,
    );
    // 3. linear, not quadratic
    add(
      s.suite,
      'aggregate cost 67-of-100 ÷ 3-of-5, FRESH',
      'aggFresh(67/100) / aggFresh(3/5)',
      ratio(med(big, 'aggFresh'), med(small, 'aggFresh')),
      25,
      true,
    );
    add(
      s.suite,
      'aggregate cost 67-of-100 ÷ 3-of-5, elements pre-validated',
      'aggValidated(67/100) / aggValidated(3/5)',
      ratio(med(big, 'aggValidated'), med(small, 'aggValidated')),
      25,
      false,
    );
    // 4. never slower than noble's own aggregate — at every size
    for (const z of s.sizes) {
      add(
        s.suite,
        `our aggregate FRESH ÷ noble's aggregate, ${z.label}`,
        'aggFresh / nobleAgg',
        ratio(med(z, 'aggFresh'), med(z, 'nobleAgg')),
        1,
        true,
      );
      const last = out[out.length - 1];
      const ours = z.ops.aggFresh;
      const theirs = z.ops.nobleAgg;
      if (last?.pass === false && ours !== undefined && theirs !== undefined)
        out[out.length - 1] = { ...last, withinNoise: ours.medianMs <= theirs.p90Ms };
    }
    // 5. informational ratios to native Ed25519 verify
    const top = big ?? s.sizes[s.sizes.length - 1];
    if (top !== undefined) {
      add(
        s.suite,
        `final verify (timed alone) ÷ native Ed25519 verify`,
        'verifyAlone / nativeVerify',
        ratio(med(top, 'verifyAlone'), native),
        undefined,
        false,
      );
      add(
        s.suite,
        `honest aggregate ${top.label} FRESH ÷ native Ed25519 verify`,
        'aggFresh / nativeVerify',
        ratio(med(top, 'aggFresh'), native),
        undefined,
        false,
      );
      add(
        s.suite,
        `honest aggregate ${top.label} pre-validated ÷ native Ed25519 verify`,
        'aggValidated / nativeVerify',
        ratio(med(top, 'aggValidated'), native),
        undefined,
        false,
      );
    }
  }
  return out;
}

function targetsTable(checks: readonly TargetCheck[]): string {
  return table(
    ['suite', 'target', 'ratio', 'limit', 'result'],
    checks.map((c) => [
      c.suite,
      `${c.primary ? '* ' : '  '}${c.name}`,
      c.ratio.toFixed(2),
      c.limit === undefined ? 'info' : `<= ${c.limit}`,
      c.pass === undefined ? '' : c.pass ? 'PASS' : c.withinNoise ? 'FAIL~' : 'FAIL',
    ]),
  );
}

export function formatFrostReport(r: FrostBenchResult, checks: readonly TargetCheck[]): string {
  const m = r.meta;
  const parts: string[] = [];
  parts.push(
    `FROST bench — ${m.quick ? 'QUICK smoke mode (tiny iteration counts, sizes up to 7-of-10: numbers are indicative only)' : 'full run'}`,
    `${m.startedAt}, ${(m.durationMs / 1000).toFixed(1)} s, Node ${m.node}, ${m.platform}, ${m.cores} × ${m.cpu}`,
    `load average at start ${m.loadavgStart.map((x) => x.toFixed(2)).join(' ')}, at end ${m.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}`,
    '',
    'Notes:',
    ...m.notes.map((x) => `  - ${x}`),
    '',
    baselineTable(r.baselines),
    '',
  );
  for (const s of r.suites) parts.push(suiteTable(s), '');
  parts.push(
    'Targets (issue 2, ratios of medians in this run; * = the figure the target is judged on, others shown for context):',
    targetsTable(checks),
    "FAIL~ = over the limit, but our median lies inside noble's median..p90 spread in this run.",
  );
  const fails = checks.filter((c) => c.pass === false);
  parts.push(
    '',
    fails.length === 0
      ? 'All targets PASS.'
      : `${fails.length} target check(s) FAIL (${fails.filter((c) => c.primary).length} primary). The bench does not fail the process.`,
  );
  return parts.join('\n');
}
