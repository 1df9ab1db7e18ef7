/** `conclave coordinator start`: run @conclave/coordinator until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { CliError } from './errors.js';
import { untilSignal, type Ctx, type GlobalOptions } from './output.js';

/** What `startCoordinator` returns (docs/ceremony-flow.md; apps/coordinator). */
export interface CoordinatorHandle {
  readonly url: string;
  readonly port: number;
  readonly origin: string;
  readonly adminKeyPath: string;
  readonly adminPublicKey: string;
  readonly coordinatorPublicKey: string;
  readonly store?: unknown;
  close(): Promise<void>;
}

interface CoordinatorModule {
  startCoordinator(o: {
    dbPath: string;
    host: string;
    port: number;
    limits?: { sessionTimeoutMs?: number; approvalTimeoutMs?: number };
  }): Promise<CoordinatorHandle>;
  formatStartBanner(info: CoordinatorHandle): string;
  /** One ceremony's report incl. its transcript (every accepted envelope, in order). */
  ceremonyReport?(store: unknown, ceremonyId: string): Record<string, unknown> | undefined;
}

/** Loads the coordinator lazily: member commands never pay for SQLite and ws server code. */
export async function loadCoordinator(): Promise<CoordinatorModule> {
  const spec = '@conclave/coordinator';
  const mod = (await import(spec)) as Partial<CoordinatorModule>;
  if (typeof mod.startCoordinator !== 'function') {
    throw new CliError('INTERNAL', '@conclave/coordinator does not export startCoordinator');
  }
  return mod as CoordinatorModule;
}

export async function cmdCoordinatorStart(
  o: GlobalOptions & { db: string; host: string; port: number; sessionTimeout?: number },
  ctx: Ctx,
): Promise<void> {
  const { startCoordinator, formatStartBanner } = await loadCoordinator();
  const handle = await startCoordinator({
    dbPath: resolve(o.db),
    host: o.host,
    port: o.port,
    ...(o.sessionTimeout === undefined
      ? {}
      : { limits: { sessionTimeoutMs: o.sessionTimeout * 1000 } }),
  });
  const info = {
    url: handle.url,
    port: handle.port,
    origin: handle.origin,
    db: resolve(o.db),
    adminKeyPath: handle.adminKeyPath,
    adminPublicKey: handle.adminPublicKey,
    coordinatorPublicKey: handle.coordinatorPublicKey,
  };
  // The banner (and, with --json, the document) is printed once the server listens.
  if (ctx.json) process.stdout.write(`${JSON.stringify({ ok: true, ...info })}\n`);
  else
    process.stdout.write(
      `${typeof formatStartBanner === 'function' ? formatStartBanner(handle) : JSON.stringify(info, null, 2)}\n`,
    );
  const sig = await untilSignal();
  ctx.progress(`coordinator stopping (${sig})`);
  await handle.close();
}
