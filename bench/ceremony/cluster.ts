/**
 * A coordinator child process plus in-process members, set up the way the CLI does it
 * (apps/cli/src/commands.ts and real-demo.ts: `init`, admin `member add`, admin `group create`,
 * `agent [--auto-approve]`, `request`), but programmatically through @conclave/client.
 *
 * Bench-only shortcut: member keystores use a WEAK scrypt (N=2^10, Home's `allowWeakKdf`), which
 * keeps the set-up of 20 members from costing ~40 s of scrypt. Everything else is Home's own code,
 * so what a member does per ceremony (share metadata look-ups included) is what the CLI does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Connection,
  Home,
  parseAdminKeyText,
  startAgent,
  type DkgResult,
  type MemberSession,
  type ScryptParams,
} from '@conclave/client';
import type { Limits } from '@conclave/coordinator';
import {
  bytesToHex,
  hexToBytes,
  identityFromSecret,
  newCeremonyId,
  type SealedBody,
} from '@conclave/protocol';
import type { ChildReady, ChildRequest, EventLoopReport, MemReport } from './coordinator-child.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./coordinator-child.ts', import.meta.url));

/** Bench members' keystores: far below the production floor. Never use outside a bench/test. */
export const BENCH_KDF: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 10, r: 8, p: 1 });
export const BENCH_PASSPHRASE = 'bench-passphrase-not-secret';

/**
 * Limits raised for the bench (everything else is DEFAULT_LIMITS): 20 members and an admin share
 * one loopback address, and one requester connection opens hundreds of ceremonies per second.
 * The heartbeat goes from 15 s to 120 s because under 200 concurrent ceremonies the coordinator's
 * event loop stalls for seconds at a time (see the report), and a stall longer than the heartbeat
 * would drop healthy member connections and turn a throughput figure into a failure count.
 */
export const BENCH_LIMITS: Partial<Limits> = {
  heartbeatIntervalMs: 120_000,
  maxConnectionsPerIp: 100,
  challengeRateLimit: { perIp: 10_000, windowMs: 60_000 },
  maxMessagesPerSecond: 1_000_000,
};

// ---------------------------------------------------------------- coordinator child

export class CoordinatorChild {
  readonly ready: ChildReady;
  readonly #child: ChildProcess;
  #next = 1;
  readonly #pending = new Map<number, (m: Record<string, unknown>) => void>();
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, ready: ChildReady) {
    this.#child = child;
    this.ready = ready;
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
    child.on('message', (m: Record<string, unknown>) => {
      const id = m['id'];
      if (typeof id !== 'number') return;
      const w = this.#pending.get(id);
      this.#pending.delete(id);
      w?.(m);
    });
  }

  static async start(dbPath: string, limits: Partial<Limits>): Promise<CoordinatorChild> {
    const child = fork(CHILD, [], {
      cwd: ROOT,
      execArgv: [
        '--import',
        'tsx',
        '--expose-gc',
        // BENCH_CEREMONY_CPU_PROF=DIR: write a V8 CPU profile of the coordinator into DIR.
        ...(process.env['BENCH_CEREMONY_CPU_PROF'] === undefined
          ? []
          : ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CEREMONY_CPU_PROF']}`]),
      ],
      env: {
        ...process.env,
        BENCH_COORDINATOR_DB: dbPath,
        BENCH_COORDINATOR_LIMITS: JSON.stringify(limits),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<ChildReady>((resolve, reject) => {
      const onMessage = (m: { type?: string }) => {
        if (m.type === 'ready') {
          child.off('message', onMessage);
          resolve(m as ChildReady);
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`coordinator child exited (${code})`)));
    });
    return new CoordinatorChild(child, ready);
  }

  get pid(): number {
    return this.ready.pid;
  }

  #ask(op: ChildRequest['op']): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#child.send({ id, op });
    });
  }

  async resetEventLoop(): Promise<void> {
    await this.#ask('el-reset');
  }

  async eventLoop(): Promise<EventLoopReport> {
    return (await this.#ask('el-report'))['report'] as EventLoopReport;
  }

  async memory(): Promise<MemReport> {
    return (await this.#ask('mem'))['mem'] as MemReport;
  }

  async schema(): Promise<{ name: string; sql: string }[]> {
    return (await this.#ask('schema'))['tables'] as { name: string; sql: string }[];
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await Promise.race([this.#ask('close'), this.exited]);
    await this.exited;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------- members

/** A member home whose keystores use the bench's weak scrypt (see the file comment). */
function benchHome(dir: string, name: string): Promise<Home> {
  return Home.init(dir, name, BENCH_PASSPHRASE, {
    kdfParams: { ...BENCH_KDF },
    allowWeakKdf: true,
  });
}

export interface BenchMember {
  readonly name: string;
  readonly home: Home;
  readonly session: MemberSession;
}

export interface BenchGroup {
  readonly name: string;
  readonly threshold: number;
  readonly members: readonly BenchMember[];
  /** The first `threshold` members: their agents auto-approve. */
  readonly approvers: readonly BenchMember[];
  /** The last member (not an approver): sends the requests over its agent's connection. */
  readonly requester: BenchMember;
  readonly groupPublicKey: string;
}

/** What the admin does with `conclave member add` / `group create`: one sealed admin envelope. */
class Admin {
  readonly #conn: Connection;
  private constructor(conn: Connection) {
    this.#conn = conn;
  }
  static async connect(c: CoordinatorChild): Promise<Admin> {
    const secret = parseAdminKeyText(await readFile(c.ready.adminKeyPath, 'utf8'));
    const key = identityFromSecret(secret);
    secret.fill(0);
    const conn = new Connection({
      url: c.ready.url,
      member: 'admin',
      key,
      coordinatorKey: hexToBytes(c.ready.coordinatorPublicKey),
    });
    await conn.connect();
    return new Admin(conn);
  }
  async send(body: SealedBody): Promise<string> {
    const id = newCeremonyId();
    await this.#conn.send(id, '0', body);
    return id;
  }
  close(): Promise<void> {
    return this.#conn.close();
  }
}

export interface GroupSpec {
  readonly name: string;
  readonly threshold: number;
  readonly size: number;
}

export class Cluster {
  readonly coordinator: CoordinatorChild;
  readonly groups: ReadonlyMap<string, BenchGroup>;
  readonly dir: string;

  private constructor(dir: string, c: CoordinatorChild, groups: Map<string, BenchGroup>) {
    this.dir = dir;
    this.coordinator = c;
    this.groups = groups;
  }

  group(name: string): BenchGroup {
    const g = this.groups.get(name);
    if (g === undefined) throw new Error(`no bench group ${name}`);
    return g;
  }

  get members(): BenchMember[] {
    return [...this.groups.values()].flatMap((g) => g.members);
  }

  /**
   * Coordinator child on 127.0.0.1:0 with a fresh SQLite file; for each group spec, `size` new
   * members (init, registered by the admin), each running an agent (the first `threshold` with
   * auto-approve); then every group's DKG, waited for.
   */
  static async start(
    dir: string,
    specs: readonly GroupSpec[],
    log: (line: string) => void,
  ): Promise<Cluster> {
    const coordinator = await CoordinatorChild.start(
      join(dir, 'coordinator', 'conclave.db'),
      BENCH_LIMITS,
    );
    log(`[ceremony] coordinator child pid ${coordinator.pid} on ${coordinator.ready.url}`);
    const groups = new Map<string, BenchGroup>();
    try {
      const admin = await Admin.connect(coordinator);
      const pendingDkg: Promise<DkgResult>[] = [];
      const built: { spec: GroupSpec; members: BenchMember[] }[] = [];
      let k = 0;
      for (const spec of specs) {
        const members: BenchMember[] = [];
        for (let i = 0; i < spec.size; i++) {
          k++;
          const name = `m${String(k).padStart(2, '0')}`;
          const home = await benchHome(join(dir, 'homes', name), name);
          await admin.send({
            type: 'admin.member.add',
            member: name,
            identityKey: bytesToHex(home.identityPublicKey),
            roles: ['lead'],
          });
          const session = await startAgent({
            home,
            passphrase: BENCH_PASSPHRASE,
            autoApprove: i < spec.threshold,
            coordinatorUrl: coordinator.ready.url,
            beforeConnect: (s) =>
              s.onKeyCeremony((p) => {
                if (p.start.group === spec.name) pendingDkg.push(p.result);
              }),
          });
          members.push({ name, home, session });
        }
        built.push({ spec, members });
      }
      log(`[ceremony] ${k} members online; running ${specs.length} DKGs …`);
      for (const { spec, members } of built) {
        await admin.send({
          type: 'admin.group.create',
          group: spec.name,
          threshold: spec.threshold,
          members: members.map((m) => ({
            member: m.name,
            identityKey: bytesToHex(m.home.identityPublicKey),
          })),
        });
      }
      await admin.close();
      const total = specs.reduce((s, g) => s + g.size, 0);
      const deadline = Date.now() + 300_000;
      while (pendingDkg.length < total && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const results = await Promise.all(pendingDkg);
      for (const { spec, members } of built) {
        const keys = new Set(
          results.filter((r) => r.group === spec.name).map((r) => r.groupPublicKey),
        );
        const key = [...keys][0];
        if (keys.size !== 1 || key === undefined)
          throw new Error(`DKG of ${spec.name}: ${keys.size} distinct group keys`);
        const requester = members[members.length - 1];
        if (requester === undefined || spec.threshold >= spec.size)
          throw new Error(`group ${spec.name}: needs a non-approving requester`);
        groups.set(spec.name, {
          name: spec.name,
          threshold: spec.threshold,
          members,
          approvers: members.slice(0, spec.threshold),
          requester,
          groupPublicKey: key,
        });
      }
      return new Cluster(dir, coordinator, groups);
    } catch (e) {
      for (const g of groups.values()) for (const m of g.members) await m.session.close();
      await coordinator.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    for (const m of this.members) await m.session.close().catch(() => undefined);
    await this.coordinator.close();
  }
}
