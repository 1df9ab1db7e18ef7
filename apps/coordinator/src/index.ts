// @conclave/coordinator — the WebSocket coordinator: `startCoordinator()` is what
// `conclave coordinator start` runs. See docs/operations.md and docs/ceremony-flow.md.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bytesToHex, fingerprint, type IdentityKey } from '@conclave/protocol';
import { CeremonyRunner, type RunnerHooks } from './ceremonies.js';
import { CryptoPool } from './crypto-pool.js';
import { performKeyEffect } from './key-ceremony.js';
import {
  ADMIN_KEY_FILE,
  COORDINATOR_KEY_FILE,
  createIdentityKeyFile,
  readIdentityKeyFile,
} from './keys.js';
import { resolveLimits, type Limits } from './limits.js';
import { loadAuditorToken, loadLogKey } from './log/keys.js';
import { openTransparencyLog } from './log/service.js';
import { silentLogger, type Logger } from './logger.js';
import { Dispatcher } from './messages.js';
import { createMetrics, registerCryptoPoolMetrics, registerEventLoopMetrics } from './metrics.js';
import { FaultLog, Sealer, SeqSource, TurnQueue, systemClock, type Clock } from './runtime.js';
import { CoordinatorServer, WS_PATH, monotonicClock } from './server.js';
import { aggregateSession, performSigningEffect } from './signing-ceremony.js';
import { startGovernance } from './policy.js';
import { openStore, type Store } from './store.js';
import type { SyncFn } from './wal-sync.js';
import { AuditHttp } from './web/routes.js';
import { ArtifactStore } from './artifacts.js';

export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export { silentLogger, stderrLogger, type Logger } from './logger.js';
export type { Clock } from './runtime.js';
export type { RunnerHooks } from './ceremonies.js';
export {
  ADMIN_KEY_FILE,
  COORDINATOR_KEY_FILE,
  IdentityKeyFileSchema,
  KEY_FILE_FORMAT,
  readIdentityKeyFile,
  type IdentityKeyFile,
} from './keys.js';
export { ceremonyReport, readCeremonyReport, type CeremonyReport } from './transcript.js';
export { openDatabase, openStore, type Store } from './store.js';
export { WS_PATH } from './server.js';

export interface StartOptions {
  /** SQLite file; created on first start. */
  readonly dbPath: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Where `coordinator.key` and `admin.key` live; default: the database's directory. */
  readonly dataDir?: string;
  readonly clock?: Clock;
  /** Monotonic time for challenge TTLs and rate limits (THREATS D.52); tests drive it. */
  readonly monotonic?: Clock;
  readonly limits?: Partial<Limits>;
  readonly logger?: Logger;
  /** The origin clients dial, if not `http://HOST:PORT` (e.g. behind a TLS proxy). */
  readonly origin?: string;
  /**
   * Reverse proxies (exact IP addresses) whose `X-Forwarded-For` names the client for the
   * per-address caps; without them, behind a proxy every member shares the proxy's one cap.
   */
  readonly trustedProxies?: readonly string[];
  /** Tests only: fault injection around effects (see RunnerHooks). */
  readonly hooks?: RunnerHooks;
  /** Tests only: the WAL's fdatasync (store.ts group commit). */
  readonly syncWal?: SyncFn;
}

export interface CoordinatorHandle {
  /** Base URL (`http://HOST:PORT`): `GET /v1/info`, `POST /v1/challenge`; WebSocket at `wsUrl`. */
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  /** The origin clients sign in `auth.response`. */
  readonly origin: string;
  readonly dbPath: string;
  readonly adminKeyPath: string;
  /** Hex public keys. */
  readonly adminPublicKey: string;
  readonly coordinatorPublicKey: string;
  /** Whether this start created the admin key (first start). */
  readonly adminKeyCreated: boolean;
  /** The transparency log's verifier key (`origin+keyid+base64`), for witnesses and auditors. */
  readonly logVerifierKey: string;
  /** Where the auditor token was written at first start, and whether this start made it. */
  readonly auditorTokenPath: string;
  readonly auditorTokenCreated: boolean;
  readonly store: Store;
  /** Live crypto-pool workers (limits.cryptoWorkers while running, 0 after close()). */
  cryptoWorkers(): number;
  close(): Promise<void>;
}

function loadKeys(
  store: Store,
  dataDir: string,
): {
  coordinator: IdentityKey;
  adminPublicKey: Uint8Array;
  adminKeyPath: string;
  created: boolean;
} {
  const coordinatorPath = join(dataDir, COORDINATOR_KEY_FILE);
  const adminKeyPath = join(dataDir, ADMIN_KEY_FILE);
  const knownCoordinator = store.getSetting('coordinator_public_key');
  let coordinator: IdentityKey;
  if (existsSync(coordinatorPath)) {
    coordinator = readIdentityKeyFile(coordinatorPath);
  } else if (knownCoordinator !== undefined) {
    throw new Error(`${coordinatorPath} is missing; clients pinned ${knownCoordinator}`);
  } else {
    coordinator = createIdentityKeyFile(coordinatorPath, 'coordinator');
  }
  const coordinatorHex = bytesToHex(coordinator.publicKey);
  if (knownCoordinator !== undefined && knownCoordinator !== coordinatorHex) {
    throw new Error(`${coordinatorPath} is not the key this database was started with`);
  }
  store.setSetting('coordinator_public_key', coordinatorHex);

  let created = false;
  let adminHex = store.getSetting('admin_public_key');
  if (adminHex === undefined) {
    const admin = existsSync(adminKeyPath)
      ? readIdentityKeyFile(adminKeyPath)
      : createIdentityKeyFile(adminKeyPath, 'admin');
    created = true;
    adminHex = bytesToHex(admin.publicKey);
    store.setSetting('admin_public_key', adminHex);
  }
  return {
    coordinator,
    adminPublicKey: Uint8Array.from(Buffer.from(adminHex, 'hex')),
    adminKeyPath,
    created,
  };
}

/**
 * `limits.cryptoWorkers` from CONCLAVE_CRYPTO_WORKERS (0–256) and `limits.cryptoWorkerNice` from
 * CONCLAVE_CRYPTO_WORKER_NICE (0–19), each only when the caller did not set it. Anything that is
 * not an integer in range is refused at start.
 */
function withCryptoPoolFromEnv(limits: Partial<Limits> = {}): Partial<Limits> {
  const fromEnv = (name: string, max: number): number | undefined => {
    const env = process.env[name];
    if (env === undefined || env === '') return undefined;
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > max) {
      throw new Error(`${name} must be an integer from 0 to ${max}, got ${env}`);
    }
    return n;
  };
  const workers =
    limits.cryptoWorkers === undefined ? fromEnv('CONCLAVE_CRYPTO_WORKERS', 256) : undefined;
  const nice =
    limits.cryptoWorkerNice === undefined ? fromEnv('CONCLAVE_CRYPTO_WORKER_NICE', 19) : undefined;
  return {
    ...limits,
    ...(workers === undefined ? {} : { cryptoWorkers: workers }),
    ...(nice === undefined ? {} : { cryptoWorkerNice: nice }),
  };
}

/** Closed ceremonies the completion hook missed are swept into the log this often. */
const LOG_SWEEP_INTERVAL_MS = 5_000;

export async function startCoordinator(options: StartOptions): Promise<CoordinatorHandle> {
  const dbPath = resolve(options.dbPath);
  const dataDir = resolve(options.dataDir ?? dirname(dbPath));
  mkdirSync(dirname(dbPath), { recursive: true, mode: 0o700 });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const clock = options.clock ?? systemClock;
  const limits = resolveLimits(withCryptoPoolFromEnv(options.limits));
  const logger = options.logger ?? silentLogger;
  // Frames and pool answers are handled one per event-loop turn (runtime.ts TurnQueue).
  const turns = new TurnQueue(() => logger.error('unit of work failed', { code: 'INTERNAL' }));
  const store = openStore(dbPath, {
    now: clock.now(),
    // An output syncs the WAL at once when no other unit waits, else in the background (group commit).
    // (A test's injected sync replaces both paths: every sync goes through it.)
    ...(options.syncWal === undefined
      ? { loopIdle: () => turns.length === 0 }
      : { syncWal: options.syncWal }),
    // Fail closed (D.48, D.49): memory may now be ahead of the disk, so nothing more is sent.
    onSyncFailure: (e) =>
      logger.error('the database could not be synced to disk; restart the coordinator', {
        code: 'STORAGE_UNAVAILABLE',
        error: e.message,
      }),
  });
  const closers: (() => void)[] = [];
  try {
    const keys = loadKeys(store, dataDir);
    const metrics = createMetrics(store);
    const stopEventLoopMetrics = registerEventLoopMetrics(metrics);
    closers.push(stopEventLoopMetrics);
    const auditor = loadAuditorToken(store, dataDir);
    const log = openTransparencyLog({
      store,
      clock,
      key: loadLogKey(store, dataDir, keys.coordinator.publicKey),
      coordinatorKey: keys.coordinator,
      metrics,
      logger,
    });
    log.startSweeping(LOG_SWEEP_INTERVAL_MS);
    closers.push(() => log.stop());
    const artifacts = new ArtifactStore({
      dir: join(dataDir, 'artifacts'),
      maxBytes: limits.maxArtifactBytes,
      minFreeBytes: limits.artifactMinFreeBytes,
      logger,
      access: store,
      minBytesPerSecond: limits.minUploadBytesPerSecond,
      progressWindowMs: limits.requestTimeoutMs,
    });
    // One limiter for every path that reports a server fault (WebSocket, HTTP, the auditors'
    // routes): a full disk fails all of them at once, and the log says so in one line per burst.
    const monotonic = options.monotonic ?? monotonicClock;
    const faults = new FaultLog(logger, () => monotonic.now());
    const server = new CoordinatorServer({
      turns,
      faults,
      limits,
      logger,
      clock,
      ...(options.monotonic === undefined ? {} : { monotonic: options.monotonic }),
      store,
      metrics,
      coordinatorPublicKey: keys.coordinator.publicKey,
      adminPublicKey: keys.adminPublicKey,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.trustedProxies === undefined ? {} : { trustedProxies: options.trustedProxies }),
      artifacts,
      audit: new AuditHttp({
        store,
        artifacts,
        log,
        auditor,
        keys: {
          coordinator: bytesToHex(keys.coordinator.publicKey),
          admin: bytesToHex(keys.adminPublicKey),
        },
        logger,
        faults,
      }),
    });
    const crypto = new CryptoPool({
      size: limits.cryptoWorkers,
      nice: limits.cryptoWorkerNice,
      logger,
      schedule: (deliver) => turns.push(deliver, { alone: true }),
    });
    closers.push(() => void crypto.close());
    registerCryptoPoolMetrics(metrics, crypto);
    const runner = new CeremonyRunner({
      store,
      clock,
      limits,
      logger,
      metrics,
      sealer: new Sealer(keys.coordinator, new SeqSource(clock)),
      adminPublicKey: keys.adminPublicKey,
      hub: server.hub,
      artifacts,
      crypto,
      schedule: (unit) => turns.push(unit, { alone: true }),
      ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
    });
    runner.performer = {
      performKey: (live, effect, followUps) => performKeyEffect(runner, live, effect, followUps),
      performSigning: (live, effect, followUps) =>
        performSigningEffect(runner, live, effect, followUps),
      resumeAggregation: (live, followUps) => {
        const session = (
          live.actor.getSnapshot() as { context: { sessions: { id: string }[] } }
        ).context.sessions.at(-1);
        if (session !== undefined) {
          followUps.push(() =>
            runner.serial(live.id, () => aggregateSession(runner, live, session.id)),
          );
        }
      },
    };
    const dispatcher = new Dispatcher(runner, { disconnect: (m) => server.disconnect(m) }, faults);
    server.runner = runner;
    server.dispatcher = dispatcher;
    // Hotfixes whose window passed while the coordinator was down are flagged before any resumed
    // ceremony appends a leaf: a leaf dated past a deadline (plus grace) that precedes the flag is
    // what auditors report as GOVERNANCE_FLAG_LATE / _MISSING (docs/audit.md).
    const stopGovernance = startGovernance(runner);
    closers.push(stopGovernance);
    runner.boot();
    // Resumed work that waits on the crypto pool (an interrupted aggregation) ends before listening.
    await runner.idle();
    // What start-up wrote (keys' public halves, settings, resumed ceremonies) is on disk before
    // anything is served or `coordinator start` prints the admin key (group commit, D.48).
    store.syncNow();
    const port = await server.listen(options.host ?? '127.0.0.1', options.port ?? 0);
    const origin = server.origin;
    logger.info('coordinator listening', { origin, openCeremonies: runner.live.size });
    const checkpoints = setInterval(() => {
      try {
        if (store.checkpointIfLarger(limits.walCheckpointBytes)) logger.info('wal checkpointed');
      } catch {
        logger.warn('wal checkpoint failed');
      }
    }, limits.walCheckpointIntervalMs);
    checkpoints.unref();
    let closed = false;
    return {
      url: origin,
      wsUrl: `${origin.replace(/^http/, 'ws')}${WS_PATH}`,
      port,
      origin,
      dbPath,
      adminKeyPath: keys.adminKeyPath,
      adminPublicKey: bytesToHex(keys.adminPublicKey),
      coordinatorPublicKey: bytesToHex(keys.coordinator.publicKey),
      adminKeyCreated: keys.created,
      logVerifierKey: log.verifierKey,
      auditorTokenPath: auditor.path,
      auditorTokenCreated: auditor.created,
      store,
      cryptoWorkers: () => crypto.threadIds.length,
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(checkpoints);
        stopEventLoopMetrics();
        log.stop();
        stopGovernance();
        runner.close();
        await server.close();
        // Work still waiting on the pool ends (CRYPTO_POOL_CLOSED) before the store closes.
        await crypto.close();
        await runner.idle();
        store.close();
      },
    };
  } catch (e) {
    for (const close of closers) close();
    store.close();
    throw e;
  }
}

/** What `conclave coordinator start` prints: where it listens and how to use the admin key. */
export function formatStartBanner(
  info: Pick<
    CoordinatorHandle,
    | 'url'
    | 'dbPath'
    | 'adminKeyPath'
    | 'adminPublicKey'
    | 'coordinatorPublicKey'
    | 'adminKeyCreated'
  > &
    Partial<Pick<CoordinatorHandle, 'logVerifierKey' | 'auditorTokenPath' | 'auditorTokenCreated'>>,
): string {
  const fp = (hex: string) => fingerprint(Uint8Array.from(Buffer.from(hex, 'hex')));
  return [
    `Conclave coordinator listening on ${info.url}`,
    `  database:        ${info.dbPath}`,
    `  coordinator key: ${info.coordinatorPublicKey} (${fp(info.coordinatorPublicKey)})`,
    `  admin key:       ${info.adminPublicKey} (${fp(info.adminPublicKey)})`,
    info.adminKeyCreated
      ? `  admin key file:  ${info.adminKeyPath} (new, mode 0600)`
      : `  admin key file:  ${info.adminKeyPath} (made at first start; may have been moved off this host)`,
    ...(info.logVerifierKey === undefined ? [] : [`  log key:         ${info.logVerifierKey}`]),
    ...(info.auditorTokenPath === undefined
      ? []
      : [
          info.auditorTokenCreated === true
            ? `  auditor token:   ${info.auditorTokenPath} (new, mode 0600; give it to the auditors for ${info.url}/audit/, then move it off this host)`
            : `  auditor token:   ${info.auditorTokenPath} (made at first start; only its hash is kept)`,
        ]),
    '',
    'Members pin both keys with: conclave init --name NAME --coordinator ' + info.url,
    'Admin operations use the admin key file, for example:',
    `  conclave member add alice --key PUB --admin-key ${info.adminKeyPath} --coordinator ${info.url}`,
    `  conclave group create release --threshold 2 --members alice,bob,carol --admin-key ${info.adminKeyPath}`,
    'Keep the admin key off the server when not in use (see docs/operations.md).',
  ].join('\n');
}
