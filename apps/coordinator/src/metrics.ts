// Prometheus metrics (prom-client), one registry per coordinator so several can share a process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from './store.js';

export interface Metrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly approvals: Counter;
  readonly culprits: Counter<'kind'>;
  readonly signLatency: Histogram;
  readonly refused: Counter<'code'>;
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
  };
}
