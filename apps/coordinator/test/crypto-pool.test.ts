// The crypto pool (src/crypto-pool.ts): a worker's answer equals the inline one for every task, a
// worker that dies fails its task with a coded error and is replaced (and runOrInline then gives
// the inline answer, so the ceremony goes on), and workers that cannot start are not restarted
// forever. No database here (start.test.ts starts the pool with the coordinator), so CI also runs
// this file on a newer Node (.ci/run).
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ed25519 as frost } from '@conclave/frost';
import { bytesToHex } from '@conclave/protocol';
import {
  CryptoPool,
  CryptoPoolError,
  CryptoRuns,
  defaultCryptoWorkers,
  MAX_BOOT_FAILURES,
  runOrInline,
} from '../src/crypto-pool.js';
import type { Logger } from '../src/logger.js';

type LogFields = Parameters<Logger['error']>[1];
import { runCryptoTask, verifyFinal, type CryptoTask } from '../src/crypto-pool-tasks.js';
import { createPublicKey } from 'node:crypto';
import { ed25519 as noble } from '@noble/curves/ed25519.js';

const members = ['alice', 'bob', 'carol'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ids = members.map((m) => frost.identifier.derive(m));

/** A 2-of-3 dealt key, alice and bob sign two jobs: the hex inputs the coordinator would hold. */
function fixture() {
  const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers: ids });
  const keyOf = (i: number) => {
    const share = dealt.shares[ids[i]!];
    if (share === undefined) throw new Error('no share');
    return frost.keys.keyPackage(share);
  };
  const signers = [0, 1].map((i) => ({ member: members[i]!, key: keyOf(i) }));
  const messages = ['statement', 'second job'].map((t) => new TextEncoder().encode(t));
  const rounds = messages.map(() => signers.map((s) => frost.round1.commit(s.key)));
  const packages = messages.map((msg, j) =>
    frost.signingPackage(
      rounds[j]!.map((r) => r.commitments),
      msg,
    ),
  );
  const shares = signers.map((s, i) =>
    packages.map((pkg, j) =>
      bytesToHex(frost.round2.sign(pkg, rounds[j]![i]!.nonces, s.key).share),
    ),
  );
  return {
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', dealt.publicKeyPackage)),
    commitments: rounds.map((r) =>
      bytesToHex(frost.encode.bytes('SigningCommitments', r[0]!.commitments)),
    ),
    signingPackages: packages.map((p) => bytesToHex(frost.encode.bytes('SigningPackage', p))),
    hints: packages.map((p) => ({
      commitments: p.commitments.map((c) =>
        bytesToHex(frost.encode.bytes('SigningCommitments', c)),
      ),
      message: bytesToHex(p.message),
    })),
    shares,
  };
}

function tasks(): CryptoTask[] {
  const f = fixture();
  const bad = f.shares[1]!.map((s, i) => (i === 0 ? f.shares[0]![0]! : s));
  return [
    { kind: 'commitments', member: 'alice', commitments: f.commitments },
    { kind: 'commitments', member: 'alice', commitments: ['00'.repeat(69)] },
    {
      kind: 'verifyShares',
      member: 'bob',
      publicKeyPackage: f.publicKeyPackage,
      signingPackages: f.signingPackages,
      shares: f.shares[1]!,
    },
    {
      kind: 'verifyShares',
      member: 'bob',
      publicKeyPackage: f.publicKeyPackage,
      signingPackages: f.signingPackages,
      shares: bad,
    },
    {
      kind: 'aggregate',
      publicKeyPackage: f.publicKeyPackage,
      jobs: f.signingPackages.map((p, i) => ({ job: `job${i}`, signingPackage: p })),
      shares: [
        { member: 'alice', shares: f.shares[0]! },
        { member: 'bob', shares: f.shares[1]! },
      ],
    },
    {
      kind: 'aggregate',
      publicKeyPackage: f.publicKeyPackage,
      jobs: f.signingPackages.map((p, i) => ({ job: `job${i}`, signingPackage: p })),
      shares: [
        { member: 'alice', shares: f.shares[0]! },
        { member: 'bob', shares: bad },
      ],
    },
  ];
}

const pools: CryptoPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
function pool(size: number, nice = 0): CryptoPool {
  const p = new CryptoPool({ size, nice });
  pools.push(p);
  return p;
}

describe('crypto pool', () => {
  it('answers every task as the inline code does (valid and invalid inputs)', async () => {
    const all = tasks();
    const inline = all.map((t) => runCryptoTask(t));
    // The fixture exercises both outcomes of each task.
    expect(inline.map((r) => (typeof r === 'boolean' ? r : r.ok))).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
    ]);
    const aggregated = inline[4] as { signatures: Record<string, string> };
    expect(Object.keys(aggregated.signatures)).toEqual(['job0', 'job1']);
    expect((inline[5] as { culprits: readonly string[] }).culprits).toEqual(['bob']);
    const p = pool(2);
    expect(await Promise.all(all.map((t) => p.run(t)))).toEqual(inline);
    // …from its two workers: on this Node they start and answer (none failed and was replaced).
    expect(p.threadIds).toHaveLength(2);
    expect(p.restarts).toBe(0);
    // Size 0 runs inline, on the caller's thread.
    expect(await Promise.all(all.map((t) => pool(0).run(t)))).toEqual(inline);
  });

  it('fails a task whose worker dies with CRYPTO_WORKER_FAILED, replaces the worker, and runOrInline still answers', async () => {
    const [task] = tasks().filter((t) => t.kind === 'aggregate');
    if (task === undefined) throw new Error('no task');
    const expected = runCryptoTask(task);
    const p = pool(1);
    const first = p.threadIds[0];
    const running = p.run(task);
    await p.killWorkerForTest(0);
    const error = await running.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CryptoPoolError);
    expect((error as CryptoPoolError).code).toBe('CRYPTO_WORKER_FAILED');
    expect(p.restarts).toBe(1);
    expect(p.threadIds[0]).not.toBe(first);
    // The replacement works.
    expect(await p.run(task)).toEqual(expected);
    // What the signing ceremony calls: a worker death costs event-loop time, not the ceremony.
    const again = runOrInline(p, task);
    await p.killWorkerForTest(0);
    expect(await again).toEqual(expected);
    expect(p.restarts).toBe(2);
  });

  it('stops starting workers that cannot load their module, says why once, and answers inline', async () => {
    const logged: { message: string; fields: LogFields | undefined }[] = [];
    const logger: Logger = {
      error: (message, fields) => void logged.push({ message, fields }),
      warn: () => undefined,
      info: () => undefined,
    };
    const p = new CryptoPool({
      size: 2,
      logger,
      workerEntry: 'data:text/javascript,throw new Error("the module cannot load")',
    });
    pools.push(p);
    for (let i = 0; i < 500 && p.threadIds.length > 0; i++) await sleep(20);
    expect(p.threadIds).toEqual([]);
    // Two started, two replacements, then no more: MAX_BOOT_FAILURES ends in a row.
    expect(p.restarts).toBe(MAX_BOOT_FAILURES - 1);
    await sleep(300);
    expect(p.restarts).toBe(MAX_BOOT_FAILURES - 1);
    const gaveUp = logged.filter((l) => l.message.startsWith('crypto workers cannot start'));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]?.fields).toMatchObject({
      reason: 'Error: the module cannot load',
      workers: 0,
    });
    // Every task still gets the inline answer, without a worker failure on the way.
    const all = tasks();
    expect(await Promise.all(all.map((t) => p.run(t)))).toEqual(all.map((t) => runCryptoTask(t)));
    const [task] = all;
    if (task === undefined) throw new Error('no task');
    expect(await runOrInline(p, task, logger)).toEqual(runCryptoTask(task));
    expect(logged).toHaveLength(MAX_BOOT_FAILURES + 1);
  });

  it('counts only start-up failures in a row: a worker that was ready and dies is always replaced', async () => {
    const p = pool(1);
    const [task] = tasks();
    if (task === undefined) throw new Error('no task');
    for (let i = 0; i < MAX_BOOT_FAILURES + 1; i++) {
      await p.run(task); // answered, so this worker was ready
      await p.killWorkerForTest(0);
      for (let j = 0; j < 100 && p.restarts <= i; j++) await sleep(10);
    }
    expect(p.restarts).toBe(MAX_BOOT_FAILURES + 1);
    expect(p.threadIds).toHaveLength(1);
    expect(await p.run(task)).toEqual(runCryptoTask(task));
  });

  it('refuses work after close with CRYPTO_POOL_CLOSED and fails what was queued', async () => {
    const [task] = tasks();
    if (task === undefined) throw new Error('no task');
    const p = pool(1);
    const queued = p.run(task).then(
      () => null,
      (e: unknown) => e,
    );
    await p.close();
    expect(await queued).toMatchObject({ code: 'CRYPTO_POOL_CLOSED' });
    await expect(p.run(task)).rejects.toMatchObject({ code: 'CRYPTO_POOL_CLOSED' });
    expect(p.threadIds).toEqual([]);
  });

  it('uses a package hint only when it rebuilds the same package: a wrong hint changes nothing', async () => {
    const f = fixture();
    const base = {
      kind: 'verifyShares' as const,
      member: 'bob',
      publicKeyPackage: f.publicKeyPackage,
      signingPackages: f.signingPackages,
      shares: f.shares[1]!,
    };
    const swapped = [f.hints[1]!, f.hints[0]!];
    const p = pool(1);
    expect(await p.run({ ...base, hints: f.hints }, 'c1')).toBe(true);
    // Hints naming the other job's package: rebuilt bytes differ, so the package is decoded.
    expect(await pool(1).run({ ...base, hints: swapped }, 'c2')).toBe(true);
    expect(runCryptoTask({ ...base, hints: swapped })).toBe(true);
    const forged = { ...base, shares: [f.shares[1]![1]!, f.shares[1]![0]!] };
    expect(await pool(1).run({ ...forged, hints: f.hints }, 'c3')).toBe(false);
  });

  it('sizes itself from the cores by default and refuses a bad size', () => {
    expect(defaultCryptoWorkers()).toBeGreaterThanOrEqual(1);
    expect(() => new CryptoPool({ size: -1 })).toThrow(RangeError);
    expect(() => new CryptoPool({ size: 1.5 })).toThrow(RangeError);
  });

  it('runs its workers at a lower priority than the event loop, and refuses a bad increment', async () => {
    // The nice value of every thread of this process, from /proc (field 19 of each task's stat).
    const threadNices = () =>
      readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const base = getPriority();
    const want = Math.min(19, base + 3);
    const before = threadNices().filter((n) => n === want).length;
    const p = pool(2, 3);
    for (let i = 0; i < 500 && p.workerNice.length < 2; i++) await sleep(20);
    expect(p.workerNice).toEqual([want, want]);
    // Only the two worker threads moved: the event loop (this thread) keeps its priority.
    expect(getPriority()).toBe(base);
    if (want !== base) expect(threadNices().filter((n) => n === want).length).toBe(before + 2);
    // And they still answer as the inline code does.
    const t = tasks()[0]!;
    expect(await p.run(t)).toEqual(runCryptoTask(t));
    // Increment 0: the worker keeps the process's priority.
    const same = pool(1, 0);
    for (let i = 0; i < 500 && same.workerNice.length < 1; i++) await sleep(20);
    expect(same.workerNice).toEqual([base]);
    for (const bad of [-1, 20, 2.5]) {
      expect(() => new CryptoPool({ size: 1, nice: bad })).toThrow(RangeError);
    }
  });
});

describe('CryptoRuns (pool work started before the ceremony turn)', () => {
  it('hands the handler the run prefetched for the same inputs, whatever its hints', async () => {
    const f = fixture();
    const p = pool(1);
    const runs = vi.spyOn(p, 'run');
    const r = new CryptoRuns(p);
    const task = (hints: boolean): CryptoTask => ({
      kind: 'verifyShares',
      member: 'bob',
      publicKeyPackage: f.publicKeyPackage,
      signingPackages: f.signingPackages,
      ...(hints ? { hints: f.hints } : {}),
      shares: f.shares[1]!,
    });
    const key = r.prefetch(task(false), 'c1');
    expect(key).toBeDefined();
    expect(r.prefetch(task(false), 'c1')).toBe(key); // running already: not started twice
    expect(r.pending).toBe(1);
    expect(await r.run(task(true), 'c1')).toBe(true);
    expect(runs).toHaveBeenCalledTimes(1);
    expect(r.pending).toBe(0);
    // Taken once: asking again computes again.
    expect(await r.run(task(true), 'c1')).toBe(true);
    expect(runs).toHaveBeenCalledTimes(2);
  });

  it('computes other inputs afresh, and forgets a run nobody took', async () => {
    const f = fixture();
    const p = pool(1);
    const r = new CryptoRuns(p);
    const good: CryptoTask = { kind: 'commitments', member: 'alice', commitments: f.commitments };
    const other: CryptoTask = { kind: 'commitments', member: 'bob', commitments: f.commitments };
    const key = r.prefetch(good, 'c1');
    // Same commitments under another member: a different question, a different answer.
    expect(await r.run(other, 'c1')).toEqual(runCryptoTask(other));
    expect(r.pending).toBe(1);
    r.forget(key!);
    expect(r.pending).toBe(0);
    expect(await r.run(good, 'c1')).toEqual(runCryptoTask(good));
  });

  it('warm: share checks prepared on the worker change no answer, and are not kept', async () => {
    const f = fixture();
    const p = pool(1);
    const r = new CryptoRuns(p);
    const prepare: CryptoTask = {
      kind: 'prepareShares',
      publicKeyPackage: f.publicKeyPackage,
      signingPackages: f.signingPackages,
      hints: f.hints,
    };
    expect(runCryptoTask(prepare)).toBe(true);
    expect(runCryptoTask({ ...prepare, signingPackages: ['00'] })).toBe(false);
    const runs = vi.spyOn(p, 'run');
    r.warm(prepare, 'c1');
    expect(runs).toHaveBeenCalledTimes(1);
    expect(r.pending).toBe(0); // nothing kept for a handler to take
    // Then, on the same worker (affinity), every check answers as before: honest and bad shares,
    // aggregation with and without a culprit.
    const checks = tasks().slice(2);
    const expected = checks.map((t) => runCryptoTask(t));
    expect(await Promise.all(checks.map((t) => p.run(t, 'c1')))).toEqual(expected);
    // Without workers, warm runs nothing.
    const inline = pool(0);
    const inlineRuns = vi.spyOn(inline, 'run');
    new CryptoRuns(inline).warm(prepare, 'c1');
    expect(inlineRuns).not.toHaveBeenCalled();
  });

  it('starts nothing early without workers (inline work would only move)', async () => {
    const f = fixture();
    const r = new CryptoRuns(pool(0));
    const task: CryptoTask = { kind: 'commitments', member: 'alice', commitments: f.commitments };
    expect(r.prefetch(task, 'c1')).toBeUndefined();
    expect(r.pending).toBe(0);
    expect(await r.run(task, 'c1')).toEqual(runCryptoTask(task));
  });
});

describe('verifyFinal (THREATS A.23: OpenSSL and noble strict must both accept)', () => {
  const nodeKey = (a: Uint8Array) =>
    createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(a)]),
      format: 'der',
      type: 'spki',
    });

  it('accepts an honest signature and refuses a flipped bit', () => {
    const sk = noble.utils.randomSecretKey();
    const pk = noble.getPublicKey(sk);
    const msg = new TextEncoder().encode('release statement');
    const sig = noble.sign(msg, sk);
    expect(verifyFinal(msg, sig, pk, nodeKey(pk))).toBe(true);
    const bad = Uint8Array.from(sig);
    bad[40]! ^= 1;
    expect(verifyFinal(msg, bad, pk, nodeKey(pk))).toBe(false);
  });

  it('refuses what OpenSSL accepts but strict RFC 8032 does not: a non-canonical key encoding', () => {
    // y = p + 1: the identity point, encoded non-canonically. The OpenSSL in Node 20 decodes it
    // and, the key being the identity, accepts (R = [r]B, S = r) for any message (newer OpenSSL
    // builds, as in Node 26, refuse it); noble strict refuses the encoding. With OpenSSL asked
    // twice (frost.verify is OpenSSL for Ed25519) it passed on Node 20.
    const a = new Uint8Array(32).fill(0xff);
    a[0] = 0xee;
    a[31] = 0x7f;
    const r = 12345n;
    const s = new Uint8Array(32);
    for (let i = 0, x = r; i < 32; i++, x >>= 8n) s[i] = Number(x & 0xffn);
    const sig = new Uint8Array([...noble.Point.BASE.multiply(r).toBytes(), ...s]);
    const msg = new TextEncoder().encode('anything at all');
    // A real edge case: valid by the permissive rules (ZIP 215), not by strict RFC 8032.
    expect(noble.verify(sig, msg, a, { zip215: true })).toBe(true);
    expect(noble.verify(sig, msg, a, { zip215: false })).toBe(false);
    if (process.versions.node.split('.')[0] === '20') expect(frost.verify(msg, sig, a)).toBe(true);
    expect(verifyFinal(msg, sig, a, nodeKey(a))).toBe(false);
  });
});
