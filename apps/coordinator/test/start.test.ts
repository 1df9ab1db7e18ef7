// First start makes the coordinator and admin keys (0600) and records them; later starts reuse
// them, start without admin.key, and refuse a missing or swapped coordinator.key.
import { readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatStartBanner, readIdentityKeyFile, startCoordinator } from '../src/index.js';
import { metricsText, removeDir, startTest, tempDir } from './helpers.js';

const dirs: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

describe('startCoordinator', () => {
  it('starts and stops its crypto pool, and shows the workers in /metrics', async () => {
    const t = await startTest({ limits: { cryptoWorkers: 2 } });
    expect(t.handle.cryptoWorkers()).toBe(2);
    const metrics = await metricsText(t.handle);
    expect(metrics).toMatch(/^conclave_crypto_workers\{kind="running"\} 2$/m);
    expect(metrics).toMatch(/^conclave_crypto_workers\{kind="configured"\} 2$/m);
    expect(metrics).toMatch(/^conclave_crypto_worker_restarts 0$/m);
    await t.close();
    expect(t.handle.cryptoWorkers()).toBe(0);
  });

  it('takes its crypto pool from CONCLAVE_CRYPTO_WORKERS and CONCLAVE_CRYPTO_WORKER_NICE, and refuses bad values', async () => {
    const saved = {
      workers: process.env['CONCLAVE_CRYPTO_WORKERS'],
      nice: process.env['CONCLAVE_CRYPTO_WORKER_NICE'],
    };
    const restore = (name: string, v: string | undefined) => {
      if (v === undefined) delete process.env[name];
      else process.env[name] = v;
    };
    // Threads of this process at each nice value (/proc, field 19 of each task's stat).
    const atNice = (nice: number) =>
      readdirSync('/proc/self/task').filter((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === nice;
      }).length;
    try {
      const want = Math.min(19, getPriority() + 2);
      const before = atNice(want);
      process.env['CONCLAVE_CRYPTO_WORKERS'] = '2';
      process.env['CONCLAVE_CRYPTO_WORKER_NICE'] = '2';
      const t = await startTest();
      expect(t.handle.cryptoWorkers()).toBe(2);
      if (want !== getPriority()) {
        for (let i = 0; i < 500 && atNice(want) < before + 2; i++) await sleep(20);
        expect(atNice(want)).toBe(before + 2);
      }
      await t.close();
      for (const bad of ['20', '-1', 'low']) {
        process.env['CONCLAVE_CRYPTO_WORKER_NICE'] = bad;
        await expect(startTest()).rejects.toThrow(
          `CONCLAVE_CRYPTO_WORKER_NICE must be an integer from 0 to 19, got ${bad}`,
        );
      }
    } finally {
      restore('CONCLAVE_CRYPTO_WORKERS', saved.workers);
      restore('CONCLAVE_CRYPTO_WORKER_NICE', saved.nice);
    }
  });

  it('shows its event-loop delay since the previous scrape in /metrics, the timer period left out', async () => {
    const t = await startTest();
    const delay = async (): Promise<Record<string, number>> => {
      const text = await metricsText(t.handle);
      const out: Record<string, number> = {};
      for (const m of text.matchAll(
        /^conclave_event_loop_delay_seconds\{quantile="([^"]+)"\} (\S+)$/gm,
      ))
        out[m[1] ?? ''] = Number(m[2]);
      return out;
    };
    await delay(); // starts a fresh window
    // Block the event loop for 300 ms: the next timer fires about that late.
    const until = performance.now() + 300;
    while (performance.now() < until);
    // Then about 20 timers on an idle loop, so the median is one of them.
    await new Promise((r) => setTimeout(r, 200));
    const blocked = await delay();
    expect(blocked['1']).toBeGreaterThanOrEqual(0.28);
    // Most timers were on time: the 10 ms period is not counted as delay.
    expect(blocked['0.5']).toBeLessThan(0.01);
    await new Promise((r) => setTimeout(r, 100));
    const after = await delay();
    expect(Object.keys(after).sort()).toEqual(['0.5', '0.99', '1']);
    expect(after['1']).toBeLessThan(0.28);
    await t.close();
  });

  it('makes, keeps and checks its key files', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const dbPath = join(dir, 'state', 'coordinator.db');
    const first = await startCoordinator({ dbPath });
    expect(first.adminKeyCreated).toBe(true);
    expect(first.adminKeyPath).toBe(join(dir, 'state', 'admin.key'));
    expect(statSync(first.adminKeyPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state', 'coordinator.key')).mode & 0o777).toBe(0o600);
    const admin = readIdentityKeyFile(first.adminKeyPath);
    expect(Buffer.from(admin.publicKey).toString('hex')).toBe(first.adminPublicKey);
    const banner = formatStartBanner(first);
    expect(banner).toContain(first.url);
    expect(banner).toContain(first.adminKeyPath);
    expect(banner).toContain(first.adminPublicKey);
    expect(banner).toContain('--admin-key');
    await first.close();

    // The admin key file may leave the server: the public key is in the database.
    renameSync(first.adminKeyPath, join(dir, 'offline-admin.key'));
    const second = await startCoordinator({ dbPath });
    expect(second.adminKeyCreated).toBe(false);
    expect(second.adminPublicKey).toBe(first.adminPublicKey);
    expect(second.coordinatorPublicKey).toBe(first.coordinatorPublicKey);
    await second.close();

    unlinkSync(join(dir, 'state', 'coordinator.key'));
    await expect(startCoordinator({ dbPath })).rejects.toThrow(/coordinator.key is missing/);
  });
});
