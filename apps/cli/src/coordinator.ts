/** `conclave coordinator start`: run @conclave/coordinator until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import type * as CoordinatorApi from '@conclave/coordinator';
import { untilSignal, type Ctx, type GlobalOptions } from './output.js';

export type CoordinatorModule = typeof CoordinatorApi;
export type CoordinatorHandle = Awaited<ReturnType<CoordinatorModule['startCoordinator']>>;

/** Loads the coordinator lazily: member commands never pay for SQLite and the ws server. */
export async function loadCoordinator(): Promise<CoordinatorModule> {
  return import('@conclave/coordinator');
}

export async function cmdCoordinatorStart(
  o: GlobalOptions & { db: string; host: string; port: number; sessionTimeout?: number },
  ctx: Ctx,
): Promise<void> {
  const { startCoordinator, formatStartBanner } = await loadCoordinator();
  // Challenges per client address per minute (THREATS C.41, default 30). Test clusters run every
  // member from 127.0.0.1, each command taking one challenge per connection and one per witness
  // cosignature, so they raise it with CONCLAVE_CHALLENGES_PER_MINUTE.
  const perIp = Number(process.env['CONCLAVE_CHALLENGES_PER_MINUTE'] ?? '');
  const limits = {
    ...(o.sessionTimeout === undefined ? {} : { sessionTimeoutMs: o.sessionTimeout * 1000 }),
    ...(Number.isInteger(perIp) && perIp > 0
      ? { challengeRateLimit: { perIp, windowMs: 60_000 } }
      : {}),
  };
  const handle = await startCoordinator({
    dbPath: resolve(o.db),
    host: o.host,
    port: o.port,
    ...(Object.keys(limits).length === 0 ? {} : { limits }),
  });
  const info = {
    url: handle.url,
    port: handle.port,
    origin: handle.origin,
    db: resolve(o.db),
    adminKeyPath: handle.adminKeyPath,
    adminPublicKey: handle.adminPublicKey,
    coordinatorPublicKey: handle.coordinatorPublicKey,
    logVerifierKey: handle.logVerifierKey,
    auditorTokenPath: handle.auditorTokenPath,
  };
  // The banner (and, with --json, the document) is printed once the server listens.
  if (ctx.json) process.stdout.write(`${JSON.stringify({ ok: true, ...info })}\n`);
  else process.stdout.write(`${formatStartBanner(handle)}\n`);
  const sig = await untilSignal();
  ctx.progress(`coordinator stopping (${sig})`);
  await handle.close();
}
