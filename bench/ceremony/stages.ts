/**
 * Where a ceremony's time goes, seen from the members (no coordinator instrumentation): each
 * latency ceremony is cut at five moments the in-process agents see, so the stages add up to the
 * ceremony's latency exactly:
 *
 *   sent     the requester sends `sign.request`                       (t0)
 *   status   the first approver receives the ceremony's status        → coordinator: request hop
 *   approved the last approver has sent `sign.approve`                → members: review + commit
 *   package  the first signer receives `sign.package`                 → coordinator: package hop
 *   shares   the last signer has sent `round2.share`                  → members: check + sign
 *   complete the requester receives `sign.complete`                   → coordinator: completion hop
 *
 * Each stage is printed beside the floor parts it contains, so its overhead can be read off.
 */
import { performance } from 'node:perf_hooks';
import type { Connection } from '@conclave/client';
import type { BenchGroup } from './cluster.js';
import type { FloorPart } from './floor.js';

export const STAGES = [
  'requestHop',
  'approvals',
  'packageHop',
  'signing',
  'completionHop',
] as const;
export type Stage = (typeof STAGES)[number];

/** What each stage's floor part is made of (FloorResult.partsMedianMs keys). */
export const STAGE_FLOOR_PARTS: Readonly<Record<Stage, readonly FloorPart[]>> = {
  requestHop: ['statement'],
  approvals: ['commit'],
  packageHop: ['package'],
  signing: ['sign'],
  completionHop: ['aggregate', 'verify'],
};

interface Marks {
  status?: number;
  approved: Map<string, number>;
  package?: number;
  shares: Map<string, number>;
  complete?: number;
}

/**
 * Watches one group's agents. Call `start(id)` right before a ceremony's request is sent and
 * `stages(id)` once it ended: the five stage durations in ms, or undefined if a moment was missed.
 */
export class StageTracer {
  readonly #marks = new Map<string, Marks & { t0: number }>();
  readonly #detach: (() => void)[] = [];

  constructor(readonly group: BenchGroup) {
    const approvers = new Set(group.approvers.map((a) => a.name));
    for (const m of group.members) {
      const c = m.session.connection;
      this.#detach.push(
        c.onStatus((s) => {
          const k = this.#marks.get(s.ceremonyId);
          if (k !== undefined && k.status === undefined && approvers.has(m.name)) {
            k.status = performance.now();
          }
        }),
        c.onEnvelope((env) => {
          const k = this.#marks.get(env.ceremonyId);
          if (k === undefined) return;
          if (env.body.type === 'sign.package' && k.package === undefined) {
            k.package = performance.now();
          } else if (env.body.type === 'sign.complete' && m === group.requester) {
            k.complete ??= performance.now();
          }
        }),
      );
      this.#detach.push(this.#watchSends(m.name, c));
    }
  }

  /** Times this member's sign.approve and round2.share as they are handed to the socket. */
  #watchSends(member: string, c: Connection): () => void {
    const send = c.send.bind(c);
    c.send = (ceremonyId, round, body, timeoutMs) => {
      const k = this.#marks.get(ceremonyId);
      const sent = send(ceremonyId, round, body, timeoutMs);
      if (k !== undefined && body.type === 'sign.approve')
        k.approved.set(member, performance.now());
      if (k !== undefined && body.type === 'round2.share') k.shares.set(member, performance.now());
      return sent;
    };
    return () => {
      c.send = send;
    };
  }

  start(ceremonyId: string): void {
    this.#marks.set(ceremonyId, { t0: performance.now(), approved: new Map(), shares: new Map() });
  }

  stages(ceremonyId: string): Record<Stage, number> | undefined {
    const k = this.#marks.get(ceremonyId);
    this.#marks.delete(ceremonyId);
    if (k === undefined) return undefined;
    const approved = Math.max(...k.approved.values());
    const shares = Math.max(...k.shares.values());
    const { status, package: pkg, complete } = k;
    if (status === undefined || pkg === undefined || complete === undefined) return undefined;
    if (k.approved.size === 0 || k.shares.size === 0) return undefined;
    return {
      requestHop: status - k.t0,
      approvals: approved - status,
      packageHop: pkg - approved,
      signing: shares - pkg,
      completionHop: complete - shares,
    };
  }

  close(): void {
    for (const d of this.#detach.splice(0)) d();
  }
}
