// Prometheus metrics (prom-client), one registry per coordinator so several can share a process.
import { createHistogram, performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from './store.js';

export interface Metrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly connectionPauses: Counter;
  readonly approvals: Counter;
  readonly culprits: Counter<'kind'>;
  /** Signers that declined a session's package (round2.decline), by their code. */
  readonly declines: Counter<'code'>;
  readonly signLatency: Histogram;
  readonly refused: Counter<'code'>;
  /** Signature stored → its transcript's leaf under a signed checkpoint (docs/audit.md). */
  readonly logInclusion: Histogram;
  /** Finished ceremonies and registry operations, by kind and outcome, as they enter the log. */
  readonly ceremonyOutcomes: Counter<'kind' | 'outcome'>;
  /** sign.request → this member's sign.approve. */
  readonly approvalLatency: Histogram<'member'>;
  /** Requests or approvals the policy refused, by reason. */
  readonly policyRejections: Counter<'reason'>;
  /** Hotfix ceremonies signed but not yet ratified (read from the hotfixes table when scraped). */
  readonly unratifiedHotfixes: Gauge;
  /** Unratified hotfixes whose ratification window has passed (flagged). */
  readonly overdueHotfixes: Gauge;
  /** admin.member.revoke → the first refusal of that member. */
  readonly revocationPropagation: Histogram;
  /**
   * A member's revocation that could not be applied to an open ceremony (a failed write); it is
   * retried before that ceremony's next event, which is refused until it applies (B.30).
   */
  readonly revocationApplyFailures: Counter;
  /** Members whose first refusal after revocation was already observed (in memory). */
  readonly revocationsSeen: Set<string>;
}

/** sign.approve accepted at `at` for a ceremony requested at `requestedAt` (ms). */
export function recordApprovalLatency(
  metrics: Metrics,
  member: string,
  requestedAt: number,
  at: number,
): void {
  metrics.approvalLatency.observe({ member }, Math.max(0, at - requestedAt) / 1000);
}

/** The policy refused something (a request, an approval): `reason` is a short fixed code. */
export function recordPolicyRejection(metrics: Metrics, reason: string): void {
  metrics.policyRejections.inc({ reason });
}

/** A revoked member was refused at `at`; the first refusal per revocation is observed. */
export function recordRevokedRefusal(
  metrics: Metrics,
  member: string,
  revokedAt: number,
  at: number,
): void {
  const key = `${member}@${revokedAt}`;
  if (metrics.revocationsSeen.has(key)) return;
  if (metrics.revocationsSeen.size > 10_000) metrics.revocationsSeen.clear();
  metrics.revocationsSeen.add(key);
  metrics.revocationPropagation.observe(Math.max(0, at - revokedAt) / 1000);
}

/** Governance counts straight from migration 5's table (docs/policy.md), or null without it. */
function hotfixCounts(store: Store): { unratified: number; overdue: number } | null {
  const db = (store as { db?: { prepare(sql: string): { get(): unknown } } }).db;
  if (db === undefined) return null;
  return db
    .prepare(
      `SELECT COUNT(*) AS unratified, COALESCE(SUM(flagged_at IS NOT NULL), 0) AS overdue
       FROM hotfixes WHERE ratified_at IS NULL`,
    )
    .get() as { unratified: number; overdue: number };
}

/**
 * The crypto pool's workers (crypto-pool.ts): how many run, and how many were replaced. Zero
 * running with a pool configured means its workers could not start and curve arithmetic runs on
 * the event loop (the log says why).
 */
export function registerCryptoPoolMetrics(
  metrics: Metrics,
  pool: { readonly threadIds: readonly number[]; readonly size: number; readonly restarts: number },
): void {
  new Gauge({
    name: 'conclave_crypto_workers',
    help: 'Crypto-pool workers running, and configured (limits.cryptoWorkers)',
    labelNames: ['kind'],
    registers: [metrics.registry],
    collect() {
      this.set({ kind: 'running' }, pool.threadIds.length);
      this.set({ kind: 'configured' }, pool.size);
    },
  });
  new Gauge({
    name: 'conclave_crypto_worker_restarts',
    help: 'Crypto-pool workers replaced after they ended (since start)',
    registers: [metrics.registry],
    collect() {
      this.set(pool.restarts);
    },
  });
}

/** The period of the event-loop delay sampler's timer, ms. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * `conclave_event_loop_delay_seconds{quantile}`: how late the event loop ran a timer since the
 * previous scrape (p50, p99 and the maximum as quantile "1"). A coordinator whose delay grows is
 * saturated: a frame that arrives may wait about that long. The sampler is a timer of our own, not
 * `monitorEventLoopDelay`: that histogram records the whole interval between two firings, the
 * period included (an idle loop reads 10.2 ms; prometheus/client_js#370), and its `reset()` also
 * forgets the last firing, so a stall that starts just after a scrape would be lost. Here each
 * firing records its lateness past the period, and a scrape only empties the histogram.
 * Returns the function that stops the sampler (the coordinator's close).
 */
export function registerEventLoopMetrics(metrics: Metrics): () => void {
  const histogram = createHistogram();
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // Recorded in µs (the histogram takes integers ≥ 1).
    histogram.record(Math.max(1, Math.round((now - last - EVENT_LOOP_RESOLUTION_MS) * 1000)));
    last = now;
  }, EVENT_LOOP_RESOLUTION_MS);
  timer.unref();
  const seconds = (us: number) => us / 1e6;
  new Gauge({
    name: 'conclave_event_loop_delay_seconds',
    help: 'How late the event loop ran a timer since the previous scrape, by quantile (1 = max)',
    labelNames: ['quantile'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      // No sample yet: a scrape within one period of the start or of the previous scrape.
      if (histogram.count === 0) return;
      this.set({ quantile: '0.5' }, seconds(histogram.percentile(50)));
      this.set({ quantile: '0.99' }, seconds(histogram.percentile(99)));
      this.set({ quantile: '1' }, seconds(histogram.max));
      histogram.reset();
    },
  });
  return () => clearInterval(timer);
}

export function createMetrics(store: Store): Metrics {
  const registry = new Registry();
  new Gauge({
    name: 'conclave_ceremonies',
    help: 'Ceremonies by kind and state',
    labelNames: ['kind', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      try {
        for (const row of store.countCeremoniesByState()) {
          this.set({ kind: row.kind, state: row.state }, row.count);
        }
      } catch {
        // the store is closed or unavailable: /healthz says so
      }
    },
  });
  return {
    registry,
    connections: new Gauge({
      name: 'conclave_connections',
      help: 'Authenticated WebSocket connections',
      registers: [registry],
    }),
    connectionPauses: new Counter({
      name: 'conclave_connection_pauses_total',
      help: 'Times a connection stopped being read: too many of its frames waited to be handled',
      registers: [registry],
    }),
    approvals: new Counter({
      name: 'conclave_approvals_total',
      help: 'Accepted sign.approve messages',
      registers: [registry],
    }),
    culprits: new Counter({
      name: 'conclave_culprits_total',
      help: 'Members blamed (invalid share, timeout, DKG complaint)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    declines: new Counter({
      name: 'conclave_declines_total',
      help: 'Signers that declined a session package (excluded, not blamed), by the code they gave',
      labelNames: ['code'],
      registers: [registry],
    }),
    signLatency: new Histogram({
      name: 'conclave_sign_latency_seconds',
      help: 'From sign.request to the aggregate signature',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    refused: new Counter({
      name: 'conclave_refused_messages_total',
      help: 'Frames refused with a coded error',
      labelNames: ['code'],
      registers: [registry],
    }),
    logInclusion: new Histogram({
      name: 'conclave_log_inclusion_seconds',
      help: 'From a stored aggregate signature to its transcript under a signed checkpoint',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
      registers: [registry],
    }),
    ceremonyOutcomes: new Counter({
      name: 'conclave_ceremony_outcomes_total',
      help: 'Finished ceremonies and registry operations entering the log, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    approvalLatency: new Histogram({
      name: 'conclave_approval_latency_seconds',
      help: 'From sign.request to each member’s approval',
      labelNames: ['member'],
      buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
      registers: [registry],
    }),
    policyRejections: new Counter({
      name: 'conclave_policy_rejections_total',
      help: 'Requests or approvals refused by policy, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    unratifiedHotfixes: new Gauge({
      name: 'conclave_unratified_hotfixes',
      help: 'Hotfix releases signed but not yet ratified',
      registers: [registry],
      collect() {
        try {
          const counts = hotfixCounts(store);
          if (counts !== null) this.set(counts.unratified);
        } catch {
          // the store is closed or unavailable: /healthz says so
        }
      },
    }),
    overdueHotfixes: new Gauge({
      name: 'conclave_overdue_hotfixes',
      help: 'Hotfix releases not ratified within their policy window (flagged)',
      registers: [registry],
      collect() {
        try {
          const counts = hotfixCounts(store);
          if (counts !== null) this.set(counts.overdue);
        } catch {
          // the store is closed or unavailable
        }
      },
    }),
    revocationPropagation: new Histogram({
      name: 'conclave_revocation_propagation_seconds',
      help: 'From member revocation to the first refusal of that member',
      buckets: [0.01, 0.1, 1, 10, 60, 600, 3600],
      registers: [registry],
    }),
    revocationApplyFailures: new Counter({
      name: 'conclave_revocation_apply_failures_total',
      help: 'Revocations that could not be applied to an open ceremony (retried before its next event)',
      registers: [registry],
    }),
    revocationsSeen: new Set<string>(),
  };
}
