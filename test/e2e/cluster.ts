/**
 * A coordinator and members as real OS processes on 127.0.0.1, driven through the `conclave` CLI
 * exactly as people run it (each member has its own --home; passphrases via CONCLAVE_PASSPHRASE).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CLI, ROOT, runCli, tempDir } from '../support.js';

export const PASSPHRASE = 'e2e-passphrase-not-secret';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/**
 * The test coordinator's environment. Every member of a cluster runs from 127.0.0.1, and a file
 * runs many commands a minute (each takes a challenge to connect, and one to cosign the log), so
 * the per-address challenge rate (THREATS C.41) is raised: at the default, a fast machine ran into
 * RATE_LIMITED partway through a file.
 */
const COORDINATOR_ENV = { CONCLAVE_CHALLENGES_PER_MINUTE: '1000' };

export function spawnCli(
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  /** A command the CLI runs under (e.g. `nsenter …`): its argv, before node's. */
  prefix: readonly string[] = [],
): Proc {
  const [file, ...before] = [...prefix, process.execPath];
  const child = spawn(file!, [...before, CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, CONCLAVE_PASSPHRASE: PASSPHRASE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = {
    name,
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
  child.stdout?.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

export async function waitFor(
  p: Proc,
  pattern: RegExp,
  timeoutMs = 60_000,
  stream: 'stderr' | 'stdout' = 'stderr',
): Promise<void> {
  const start = Date.now();
  let done = false;
  void p.exited.then(() => (done = true));
  for (;;) {
    if (pattern.test(p[stream])) return;
    if (done) {
      throw new Error(`${p.name} exited before ${String(pattern)}:\n${p.stderr}\n${p.stdout}`);
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`${p.name}: no ${String(pattern)} within ${timeoutMs} ms:\n${p.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5_000);
  await p.exited;
  clearTimeout(t);
}

/** A fresh artifact file `name` in the cluster's directory (its content unique to this run). */
export function artifactIn(c: Cluster, name: string): string {
  const path = join(c.dir, name);
  writeFileSync(path, `artifact ${name} ${Date.now()}\n`);
  return path;
}

/** `conclave request` of a new artifact by `member`, as a process that waits for the signature. */
export function requestRelease(c: Cluster, member: string, version: string, group = 'release') {
  const artifact = artifactIn(c, `${group}-${version}.tgz`);
  const request = c.spawn(member, [
    'request',
    '--group',
    group,
    '--artifact',
    artifact,
    '--version',
    version,
    '--json',
  ]);
  return { artifact, request };
}

/** Parses the single JSON document a `--json` command printed. */
export function doc<T = Record<string, unknown>>(r: { stdout: string; stderr: string }): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not one JSON document on stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/**
 * `conclave audit ID --json` from `member`'s home, trusting nobody: the key ceremony's culprits
 * are exactly `culprit`, with a basis matching `basis` (proven from the transcript, say).
 */
export async function auditNames(
  c: Cluster,
  member: string,
  ceremonyId: string,
  culprit: string,
  basis: RegExp,
): Promise<void> {
  const audit = await c.cli(member, ['audit', ceremonyId, '--json']);
  expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  expect(
    doc<{ ok: boolean; keyCulprits: { member: string; basis: string }[] }>(audit),
  ).toMatchObject({
    ok: true,
    keyCulprits: [{ member: culprit, basis: expect.stringMatching(basis) }],
  });
}

export class Cluster {
  readonly dir: string;
  coordinator: Proc;
  readonly url: string;
  readonly adminKey: string;
  /** Where each member's home is (set one before `addMembers` to choose it). */
  readonly homes = new Map<string, string>();
  /** A command a member's CLI runs under (e.g. `nsenter …` into a namespace with its own disk). */
  readonly prefixes = new Map<string, readonly string[]>();
  readonly keys = new Map<string, string>();
  readonly procs: Proc[] = [];

  private constructor(dir: string, coordinator: Proc, url: string, adminKey: string) {
    this.dir = dir;
    this.coordinator = coordinator;
    this.url = url;
    this.adminKey = adminKey;
  }

  /**
   * `conclave coordinator start` on a free port with a fresh database: `db` (default
   * DIR/coordinator/conclave.db), run under `prefix` if given; `adminKey` maps the admin key
   * path the coordinator printed to one this process can read (default: as printed).
   */
  static async start(
    opts: {
      sessionTimeoutS?: number;
      db?: string;
      prefix?: readonly string[];
      adminKey?: (printed: string) => string;
    } = {},
  ): Promise<Cluster> {
    const dir = tempDir('conclave-e2e-');
    const args = [
      'coordinator',
      'start',
      '--db',
      opts.db ?? join(dir, 'coordinator', 'conclave.db'),
      '--port',
      '0',
      '--json',
    ];
    if (opts.sessionTimeoutS !== undefined)
      args.push('--session-timeout', String(opts.sessionTimeoutS));
    const coordinator = spawnCli('coordinator', args, COORDINATOR_ENV, opts.prefix);
    await waitFor(coordinator, /\n/, 30_000, 'stdout');
    const info = JSON.parse(coordinator.stdout.split('\n')[0]!) as {
      url: string;
      adminKeyPath: string;
    };
    const adminKey = opts.adminKey?.(info.adminKeyPath) ?? info.adminKeyPath;
    return new Cluster(dir, coordinator, info.url, adminKey);
  }

  /** SIGKILL the coordinator and start it again on the same port with the same database. */
  async restartCoordinator(opts: { sessionTimeoutS?: number } = {}): Promise<void> {
    this.coordinator.child.kill('SIGKILL');
    await this.coordinator.exited;
    const port = new URL(this.url).port;
    const args = [
      'coordinator',
      'start',
      '--db',
      join(this.dir, 'coordinator', 'conclave.db'),
      '--port',
      port,
      '--json',
    ];
    if (opts.sessionTimeoutS !== undefined)
      args.push('--session-timeout', String(opts.sessionTimeoutS));
    this.coordinator = spawnCli('coordinator', args, COORDINATOR_ENV);
    await waitFor(this.coordinator, /\n/, 30_000, 'stdout');
  }

  home(name: string): string {
    const h = this.homes.get(name);
    if (h === undefined) throw new Error(`no member ${name}`);
    return h;
  }

  /** `conclave init` (pinning the coordinator) for each, then `conclave member add` by the admin. */
  async addMembers(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const home = this.homes.get(name) ?? join(this.dir, 'homes', name);
        const r = await runCli(
          // The keystore floor (half the default's work): these homes are opened hundreds of
          // times a run, and the default's cost is tested by the demo and the keystore tests.
          [
            'init',
            '--name',
            name,
            '--coordinator',
            this.url,
            '--home',
            home,
            '--kdf-cost',
            '16',
            '--json',
          ],
          {
            env: { CONCLAVE_PASSPHRASE: PASSPHRASE },
            ...this.#prefix(name),
          },
        );
        if (r.code !== 0) throw new Error(`init ${name} failed: ${r.stdout}${r.stderr}`);
        this.homes.set(name, home);
        this.keys.set(name, doc<{ identityKey: string }>(r).identityKey);
      }),
    );
    await Promise.all(
      names.map(async (name) => {
        const r = await runCli([
          'member',
          'add',
          name,
          '--key',
          this.keys.get(name)!,
          '--roles',
          'lead',
          '--admin-key',
          this.adminKey,
          '--coordinator',
          this.url,
          '--home',
          join(this.dir, 'admin'),
          '--json',
        ]);
        if (r.code !== 0) throw new Error(`member add ${name} failed: ${r.stdout}${r.stderr}`);
      }),
    );
  }

  /** `conclave group create` (members given as name=PUB), returns the key ceremony id. */
  async createGroup(group: string, threshold: number, members: readonly string[]): Promise<string> {
    const r = await runCli([
      'group',
      'create',
      group,
      '--threshold',
      String(threshold),
      '--members',
      members.map((m) => `${m}=${this.keys.get(m)!}`).join(','),
      '--admin-key',
      this.adminKey,
      '--coordinator',
      this.url,
      '--home',
      join(this.dir, 'admin'),
      '--json',
    ]);
    if (r.code !== 0) throw new Error(`group create failed: ${r.stdout}${r.stderr}`);
    return doc<{ ceremonyId: string }>(r).ceremonyId;
  }

  #prefix(member: string): { prefix?: readonly string[] } {
    const prefix = this.prefixes.get(member);
    return prefix === undefined ? {} : { prefix };
  }

  /** A member command as its own process. */
  cli(member: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    return runCli([...args, '--home', this.home(member)], {
      env: { CONCLAVE_PASSPHRASE: PASSPHRASE, ...env },
      timeoutMs: 150_000,
      ...this.#prefix(member),
    });
  }

  /** A long-running member process (agent, approve, request). */
  spawn(member: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
    const p = spawnCli(
      member,
      [...args, '--home', this.home(member)],
      env,
      this.prefixes.get(member),
    );
    this.procs.push(p);
    return p;
  }

  async agent(
    member: string,
    /** `true`: a bare `--auto-approve` (standard only); a string: `--auto-approve CLASSES`. */
    opts: { autoApprove?: boolean | string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<Proc> {
    const flag =
      opts.autoApprove === true
        ? ['--auto-approve']
        : typeof opts.autoApprove === 'string'
          ? ['--auto-approve', opts.autoApprove]
          : [];
    const p = this.spawn(member, ['agent', ...flag], opts.env);
    await waitFor(p, /agent ready/);
    return p;
  }

  /** `conclave keygen GROUP` for every member at once; resolves with their JSON results. */
  async keygen(
    group: string,
    members: readonly string[],
    env: Record<string, NodeJS.ProcessEnv> = {},
  ) {
    return Promise.all(
      members.map(async (m) => {
        const r = await this.cli(m, ['keygen', group, '--timeout', '90', '--json'], env[m] ?? {});
        return { member: m, code: r.code, doc: doc<Record<string, unknown>>(r), stderr: r.stderr };
      }),
    );
  }

  shareFiles(member: string): string[] {
    const dir = join(this.home(member), 'shares');
    return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
  }

  /** Stops every member process this cluster started (agents, approvals, requests). */
  async stopMembers(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => stop(p)));
  }

  async close(): Promise<void> {
    await this.stopMembers();
    await stop(this.coordinator);
  }
}
