import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(ROOT, 'apps/cli/bin/conclave.mjs');

export function tempDir(prefix = 'conclave-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Run the real `conclave` binary as its own OS process. */
export function runCli(
  args: readonly string[],
  opts: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    /** A command the CLI runs under (e.g. `nsenter …`): its argv, before node's. */
    prefix?: readonly string[];
  } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [file, ...before] = [...(opts.prefix ?? []), process.execPath];
    const child = spawn(file!, [...before, CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A verifier from Debian that CI installs: missing means the test fails, never skips. */
export function requireTool(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `${name} is not installed; .ci/run installs it (apt-get install ...). Interop tests never skip.`,
    );
  }
}

/** A small file system of its own for a test (`mountTmpfs`). */
export interface TestFs {
  /** The namespace's process (a `sleep`): it holds the mount for as long as it runs. */
  readonly holder: ChildProcess;
  /** The mount point, as processes inside the namespace see it. */
  readonly dir: string;
  /** The same directory seen from outside (through /proc/PID/root): this process's path to it. */
  readonly view: string;
  /** Runs a command inside the namespace (`nsenter …`): prefix its argv with this. */
  readonly prefix: readonly string[];
  /** Ends the namespace, and with it the mount. */
  close(): void;
}

/**
 * A tmpfs of `size` (e.g. '16m') in a user and mount namespace of its own (`unshare`): no root
 * needed, nothing mounted outside it, gone when `close()` ends the holder. For tests of what a
 * full disk does: `fillFs(join(fs.view, 'filler'))` fills it until ENOSPC. util-linux provides
 * unshare and nsenter on every Debian; missing means the test fails, never skips.
 */
export async function mountTmpfs(size: string): Promise<TestFs> {
  requireTool('unshare');
  requireTool('nsenter');
  const dir = join(tempDir('conclave-tmpfs-'), 'fs');
  mkdirSync(dir);
  const holder = spawn(
    'unshare',
    [
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${size},mode=0700 tmpfs "$0" && echo mounted && exec sleep 100000`,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  holder.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  holder.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  holder.on('close', () => (exited = true));
  for (const start = Date.now(); !out.includes('mounted');) {
    if (exited || Date.now() - start > 10_000)
      throw new Error(`could not mount a tmpfs in a user namespace (unshare): ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = String(holder.pid);
  return {
    holder,
    dir,
    view: `/proc/${pid}/root${dir}`,
    prefix: ['nsenter', '-t', pid, '-U', '-m', '--preserve-credentials'],
    close: () => void holder.kill('SIGKILL'),
  };
}

/** Writes `file` until its file system is full (ENOSPC); returns the bytes written. */
export function fillFs(file: string): number {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 0x5a);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return written;
}
