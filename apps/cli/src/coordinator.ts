/** `conclave coordinator start`: run @conclave/coordinator until SIGINT/SIGTERM. */
import { dirname, resolve } from 'node:path';
import type * as CoordinatorApi from '@conclave/coordinator';
import { CliError } from './errors.js';
import { untilSignal, type Ctx, type GlobalOptions } from './output.js';

export type CoordinatorModule = typeof CoordinatorApi;
export type CoordinatorHandle = Awaited<ReturnType<CoordinatorModule['startCoordinator']>>;

/** Loads the coordinator lazily: member commands never pay for SQLite and the ws server. */
export async function loadCoordinator(): Promise<CoordinatorModule> {
  return import('@conclave/coordinator');
}

/** `coordinator start`'s options, as commander parses them (main.ts). */
export type CoordinatorStartOptions = GlobalOptions & {
  db: string;
  host: string;
  port: number;
  sessionTimeout?: number;
  origin?: string;
  trustedProxy?: string[];
};

export async function cmdCoordinatorStart(o: CoordinatorStartOptions, ctx: Ctx): Promise<void> {
  const { startCoordinator, formatStartBanner, stderrLogger } = await loadCoordinator();
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
    // Its log, one JSON line per event on stderr (docs/operations.md, "The log"): a full disk, a
    // failed sync, crypto workers that cannot start, an overdue hotfix.
    logger: stderrLogger,
    ...(Object.keys(limits).length === 0 ? {} : { limits }),
    ...(o.origin === undefined ? {} : { origin: o.origin }),
    ...(o.trustedProxy === undefined ? {} : { trustedProxies: o.trustedProxy }),
  }).catch((e: unknown) => {
    throw startError(e, o);
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

/**
 * Why the coordinator did not start, as a coded error a person can act on (the raw Node or SQLite
 * error said e.g. `INTERNAL: …auditor.token already exists` or `EADDRINUSE`).
 */
export function startError(e: unknown, o: { db: string; host: string; port: number }): unknown {
  if (!(e instanceof Error)) return e;
  const code = 'code' in e && typeof e.code === 'string' ? e.code : '';
  if (code === 'EADDRINUSE') {
    return new CliError(
      'PORT_IN_USE',
      `${o.host}:${o.port} is already in use (another coordinator?); stop it, or pass another --port (0: any free port)`,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL' || code === 'EAI_AGAIN') {
    return new CliError(
      'INVALID_ARGUMENT',
      `--host ${o.host}: cannot listen there (${e.message}); use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0`,
      2,
    );
  }
  if (code === 'EACCES') {
    return new CliError(
      'PERMISSION_DENIED',
      `${e.message}; use a port above 1023, or another --db directory`,
    );
  }
  if (code.startsWith('SQLITE_')) {
    return new CliError(
      'DB_INVALID',
      `--db ${resolve(o.db)}: ${e.message} (SQLite ${code}); pass the coordinator's own database file, or a new path to start afresh`,
    );
  }
  if (/ already exists$/.test(e.message)) {
    return new CliError(
      'COORDINATOR_FILES_EXIST',
      `${e.message}, left by another coordinator database in ${dirname(resolve(o.db))}; give each coordinator a directory of its own (--db DIR/conclave.db)`,
    );
  }
  return e;
}
