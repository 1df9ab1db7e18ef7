// Group commit (wal-sync.ts, THREATS D.48): an output waits for an fdatasync of the WAL that
// started after it was queued; one sync covers every commit before it; a failed sync fails closed.
import { fdatasync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newCeremonyId } from '@conclave/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store.js';
import { ceremonyReport } from '../src/transcript.js';
import { WalSync, type SyncFn } from '../src/wal-sync.js';
import {
  approveHoldingPackages,
  expectAck,
  releaseGroup,
  removeDir,
  tempDir,
  testScope,
} from './helpers.js';

/** A sync the test completes by hand; records the `changes` count each one started at. */
function manualSync(changes: () => number) {
  const started: number[] = [];
  const pending: ((err: Error | null) => void)[] = [];
  const sync: SyncFn = (_fd, done) => {
    started.push(changes());
    pending.push(done);
  };
  return {
    sync,
    started,
    /** Completes the oldest sync in flight. */
    finish(err: Error | null = null): void {
      const done = pending.shift();
      if (done === undefined) throw new Error('no sync in flight');
      done(err);
    },
    get inFlight(): number {
      return pending.length;
    },
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * `clock` is the WalSync's time: it stands still unless the test moves it, so a release's budget
 * (2 ms a turn) runs out only where a test says so, never on a slow machine.
 */
function harness(clock: { ms: number } = { ms: 0 }) {
  let rows = 0;
  const changes = () => rows;
  const m = manualSync(changes);
  const failures: Error[] = [];
  const wal = new WalSync({
    path: fileURLToPath(import.meta.url), // any file opens; the sync itself is the fake
    changes,
    sync: m.sync,
    onFailure: (e) => failures.push(e),
    now: () => clock.ms,
    releaseBudgetMs: 2,
  });
  /** After a write each, queues one output per label, each taking `costMs` of the clock. */
  const queueTimed = <T>(labels: readonly T[], costMs: number, out: T[]): void => {
    for (const label of labels) {
      rows += 1;
      wal.afterDurable(() => {
        out.push(label);
        clock.ms += costMs;
      });
    }
  };
  return { wal, m, failures, write: () => (rows += 1), queueTimed };
}

describe('WalSync', () => {
  it('runs an output at once when nothing was written since the last sync', () => {
    const { wal, m } = harness();
    const out: string[] = [];
    wal.afterDurable(() => out.push('a'));
    expect(out).toEqual(['a']);
    expect(m.started).toEqual([]);
  });

  it('holds an output until a sync that started after it completes', async () => {
    const { wal, m, write } = harness();
    const out: string[] = [];
    write();
    wal.afterDurable(() => out.push('a'));
    expect(out).toEqual([]);
    expect(m.started).toEqual([]); // not from inside the caller's synchronous code
    await Promise.resolve();
    expect(m.started).toEqual([1]);
    expect(out).toEqual([]);
    m.finish();
    expect(out).toEqual(['a']);
    // nothing new written: the next output goes at once
    wal.afterDurable(() => out.push('b'));
    expect(out).toEqual(['a', 'b']);
    expect(wal.syncs).toBe(1);
  });

  it('does not release an output queued during a sync with a write after that sync started', async () => {
    const { wal, m, write } = harness();
    const out: string[] = [];
    write();
    wal.afterDurable(() => out.push('a'));
    await Promise.resolve();
    expect(m.inFlight).toBe(1);
    write(); // committed while the first sync runs: not covered by it
    wal.afterDurable(() => out.push('b'));
    m.finish();
    expect(out).toEqual(['a']);
    await Promise.resolve();
    expect(m.started).toEqual([1, 2]);
    m.finish();
    expect(out).toEqual(['a', 'b']);
  });

  it('covers many commits and outputs with one sync (group commit), in order', async () => {
    const { wal, m, write } = harness();
    const out: number[] = [];
    for (let i = 0; i < 50; i++) {
      write();
      wal.afterDurable(() => out.push(i));
    }
    await tick();
    expect(m.started).toEqual([50]);
    m.finish();
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(wal.syncs).toBe(1);
  });

  it('keeps order: an output with nothing new to sync still waits behind earlier ones', async () => {
    const { wal, m, write } = harness();
    const out: string[] = [];
    write();
    wal.afterDurable(() => out.push('a'));
    await Promise.resolve();
    wal.afterDurable(() => out.push('b')); // no write since, but 'a' is still waiting
    expect(out).toEqual([]);
    m.finish();
    expect(out).toEqual(['a', 'b']);
  });

  it('runs released outputs a budget per event-loop turn, in order, and later ones wait behind them', async () => {
    const clock = { ms: 0 };
    const { wal, m, queueTimed } = harness(clock);
    const out: number[] = [];
    queueTimed([0, 1, 2, 3, 4], 1, out); // each output takes 1 ms; the budget is 2 ms a turn
    await Promise.resolve();
    m.finish();
    expect(out).toEqual([0, 1]);
    expect(wal.pending).toBe(3);
    // Durable already (nothing written since), but released outputs still wait: it goes behind them.
    wal.afterDurable(() => out.push(99));
    expect(out).toEqual([0, 1]);
    await tick();
    expect(out).toEqual([0, 1, 2, 3]);
    await tick();
    expect(out).toEqual([0, 1, 2, 3, 4, 99]);
    expect(wal.pending).toBe(0);
    wal.afterDurable(() => out.push(100)); // nothing waits now: at once
    expect(out).toEqual([0, 1, 2, 3, 4, 99, 100]);
    expect(wal.syncs).toBe(1);
  });

  it('keeps order and drops nothing over a long run of released outputs', async () => {
    const clock = { ms: 0 };
    const { wal, m, queueTimed } = harness(clock);
    const out: number[] = [];
    const n = 3000; // past the point where the queue drops what already ran
    queueTimed(
      Array.from({ length: n }, (_, i) => i),
      1,
      out,
    );
    await Promise.resolve();
    m.finish();
    let turns = 0;
    while (out.length < n / 2) {
      await tick();
      turns += 1;
    }
    wal.afterDurable(() => out.push(-1)); // durable already: behind the 1,500 still waiting
    while (wal.pending > 0) {
      await tick();
      turns += 1;
    }
    expect(out).toEqual([...Array.from({ length: n }, (_, i) => i), -1]);
    expect(turns).toBeGreaterThanOrEqual(n / 2 - 1); // two outputs (2 ms) a turn
  });

  it('a sync completing while released outputs wait runs its own after them', async () => {
    const clock = { ms: 0 };
    const { wal, m, write, queueTimed } = harness(clock);
    const out: string[] = [];
    queueTimed(['a', 'b', 'c'], 2, out);
    await Promise.resolve();
    m.finish();
    expect(out).toEqual(['a']);
    write();
    wal.afterDurable(() => out.push('d'));
    await Promise.resolve();
    m.finish(); // released 'd' while 'b' and 'c' still wait for their turn
    expect(out).toEqual(['a']);
    await tick();
    await tick();
    await tick();
    expect(out).toEqual(['a', 'b', 'c', 'd']);
  });

  it('an output that throws does not hold back the ones after it', async () => {
    const { wal, m, write } = harness();
    const out: string[] = [];
    write();
    wal.afterDurable(() => {
      throw new Error('boom');
    });
    wal.afterDurable(() => out.push('b'));
    await Promise.resolve();
    m.finish();
    expect(out).toEqual(['b']);
  });

  it('fails closed: a failed sync drops what waited, runs onFailed, and refuses later outputs', async () => {
    const { wal, m, write, failures } = harness();
    const out: string[] = [];
    write();
    wal.afterDurable(
      () => out.push('sent'),
      () => out.push('failed-1'),
    );
    await Promise.resolve();
    m.finish(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    expect(out).toEqual(['failed-1']);
    expect(failures.map((e) => e.message)).toEqual(['EIO: i/o error, fdatasync']);
    expect(wal.failed?.message).toMatch(/EIO/);
    wal.afterDurable(
      () => out.push('sent-2'),
      () => out.push('failed-2'),
    );
    wal.afterDurable(() => out.push('sent-3')); // no onFailed: dropped
    expect(out).toEqual(['failed-1', 'failed-2']);
    await tick();
    expect(m.inFlight).toBe(0);
  });

  it('syncNow syncs at once only when something was written, and throws a failed sync', () => {
    let rows = 0;
    const synced: number[] = [];
    const wal = new WalSync({
      path: fileURLToPath(import.meta.url),
      changes: () => rows,
      syncNow: () => synced.push(rows),
    });
    wal.syncNow(); // nothing written
    expect(synced).toEqual([]);
    rows += 1;
    wal.syncNow();
    wal.syncNow(); // nothing new
    expect(synced).toEqual([1]);
    const failing = new WalSync({
      path: fileURLToPath(import.meta.url),
      changes: () => rows,
      syncNow: () => {
        throw new Error('EIO');
      },
    });
    rows += 1;
    expect(() => failing.syncNow()).toThrow('EIO');
    expect(failing.failed?.message).toBe('EIO');
    expect(() => failing.syncNow()).toThrow('EIO');
  });

  it('a failure while starting the background sync fails closed, not the process', async () => {
    let rows = 0;
    let broken = false;
    const wal = new WalSync({
      path: fileURLToPath(import.meta.url),
      changes: () => {
        if (broken) throw new Error('database is closed');
        return rows;
      },
      sync: (_fd, done) => done(null),
    });
    const out: string[] = [];
    rows += 1;
    wal.afterDurable(
      () => out.push('sent'),
      () => out.push('failed'),
    );
    broken = true;
    await tick();
    expect(out).toEqual(['failed']);
    expect(wal.failed?.message).toBe('database is closed');
  });

  it('after close() nothing runs and no sync starts', async () => {
    const { wal, m, write } = harness();
    const out: string[] = [];
    write();
    wal.afterDurable(() => out.push('a'));
    wal.close();
    await tick();
    expect(m.started).toEqual([]);
    expect(out).toEqual([]);
  });
});

describe('WalSync inline (nothing else waits for the event loop)', () => {
  function inlineHarness(idle: { value: boolean }, fail = false) {
    let rows = 0;
    const changes = () => rows;
    const m = manualSync(changes);
    const now: number[] = [];
    /** The injected clock, and how long (ms) each inline sync takes on it. */
    const clock = { ms: 0, syncMs: 0.3 };
    const wal = new WalSync({
      path: fileURLToPath(import.meta.url),
      changes,
      sync: m.sync,
      syncNow: () => {
        if (fail) throw new Error('EIO');
        now.push(rows);
        clock.ms += clock.syncMs;
      },
      inlineWhen: () => idle.value,
      now: () => clock.ms,
    });
    return { wal, m, now, clock, write: () => (rows += 1) };
  }

  it('syncs at once and sends at once on an idle loop (as synchronous=FULL did)', () => {
    const { wal, m, now, write } = inlineHarness({ value: true });
    const out: string[] = [];
    write();
    wal.afterDurable(() => out.push('a'));
    expect(out).toEqual(['a']);
    expect(now).toEqual([1]);
    expect(m.started).toEqual([]);
    wal.afterDurable(() => out.push('b')); // nothing new: no second sync
    expect(now).toEqual([1]);
    expect(out).toEqual(['a', 'b']);
  });

  it('goes to the background when the loop is busy, and never overtakes what waits there', async () => {
    const idle = { value: false };
    const { wal, m, now, write } = inlineHarness(idle);
    const out: string[] = [];
    write();
    wal.afterDurable(() => out.push('a'));
    idle.value = true;
    write();
    wal.afterDurable(() => out.push('b')); // 'a' waits: 'b' queues behind it
    expect(now).toEqual([]);
    await Promise.resolve();
    m.finish();
    expect(out).toEqual(['a', 'b']);
  });

  it('after a slow inline sync, syncs stay in the background for a while', async () => {
    const { wal, m, now, clock, write } = inlineHarness({ value: true });
    const out: string[] = [];
    clock.syncMs = 4; // the disk is busy: over inlineSlowMs (1 ms)
    write();
    wal.afterDurable(() => out.push('a'));
    expect(out).toEqual(['a']); // this one still went inline
    expect(now).toEqual([1]);
    clock.syncMs = 0.3;
    write();
    wal.afterDurable(() => out.push('b'));
    expect(out).toEqual(['a']); // in the background now: the loop is not blocked
    await Promise.resolve();
    expect(m.started).toEqual([2]);
    m.finish();
    expect(out).toEqual(['a', 'b']);
    clock.ms += 251; // past inlineBackoffMs (250 ms)
    write();
    wal.afterDurable(() => out.push('c'));
    expect(out).toEqual(['a', 'b', 'c']);
    expect(now).toEqual([1, 3]);
  });

  it('fails closed when the inline sync fails', () => {
    const { wal, write } = inlineHarness({ value: true }, true);
    const out: string[] = [];
    write();
    wal.afterDurable(
      () => out.push('sent'),
      () => out.push('failed'),
    );
    expect(out).toEqual(['failed']);
    expect(wal.failed?.message).toBe('EIO');
  });
});

describe('the store syncs its real WAL before outputs', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d);
  });

  function open(sync: SyncFn) {
    const dir = tempDir();
    dirs.push(dir);
    return openStore(join(dir, 'c.db'), { now: 1, syncWal: sync });
  }

  it('syncs the -wal file that holds the commit, then releases the output', async () => {
    const synced: number[] = [];
    const store = open((fd, done) => {
      synced.push(fstatSync(fd).size);
      done(null);
    });
    const out: string[] = [];
    store.transaction(() => store.setSetting('k', 'v'));
    store.afterDurable(() => out.push('sent'));
    expect(out).toEqual([]);
    await tick();
    expect(out).toEqual(['sent']);
    expect(synced).toHaveLength(1);
    expect(synced[0]).toBeGreaterThan(0); // the WAL, with the commit's frames in it
    store.afterDurable(() => out.push('again')); // nothing new: at once
    expect(out).toEqual(['sent', 'again']);
    store.close();
  });

  it('with an idle loop, a real fdatasync runs inline and the output goes at once', () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = openStore(join(dir, 'c.db'), { now: 1, loopIdle: () => true });
    const out: string[] = [];
    store.transaction(() => {
      store.setSetting('k', 'v');
      store.afterDurable(() => out.push('inside')); // inside a transaction: never inline
    });
    expect(out).toEqual([]);
    store.afterDurable(() => out.push('after'));
    expect(out).toEqual([]); // behind 'inside', which waits for the background sync
    store.close();
    const again = openStore(join(dir, 'c.db'), { now: 1, loopIdle: () => true });
    again.transaction(() => again.setSetting('k', 'w'));
    again.afterDurable(() => out.push('idle'));
    expect(out).toEqual(['idle']);
    again.close();
  });

  it('after a failed sync: transactions refused with a storage code, ping false', async () => {
    const store = open((_fd, done) => done(new Error('EIO')));
    store.transaction(() => store.setSetting('k', 'v'));
    const out: string[] = [];
    store.afterDurable(
      () => out.push('sent'),
      () => out.push('failed'),
    );
    await tick();
    expect(out).toEqual(['failed']);
    expect(store.ping()).toBe(false);
    let code: unknown;
    try {
      store.transaction(() => store.setSetting('k', 'w'));
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    expect(code).toBe('SQLITE_IOERR_FSYNC');
    expect(store.getSetting('k')).toBe('v');
    store.close();
  });
});

describe('the coordinator sends nothing before it is durable', () => {
  const { fresh } = testScope();

  /** A real fdatasync that waits in `held`, to be run by the test, while `held` is an array. */
  function holdableSync(): { held: (() => void)[] | null; readonly syncWal: SyncFn } {
    const s: { held: (() => void)[] | null; readonly syncWal: SyncFn } = {
      held: null,
      syncWal: (fd, done) => {
        const run = () => fdatasync(fd, done);
        if (s.held === null) run();
        else s.held.push(run);
      },
    };
    return s;
  }

  it("an approval is committed, and its ack waits for the WAL's fdatasync", async () => {
    const sync = holdableSync();
    const t = await fresh({ syncWal: sync.syncWal });
    const { members } = await releaseGroup(t);
    const [alice, bob] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);

    sync.held = [];
    let acked = false;
    const reply = bob.approve(id, 'release').then((f) => {
      acked = true;
      return f;
    });
    await until(() => t.handle.store.transcript(id).some((e) => e.bodyType === 'sign.approve'));
    for (let i = 0; i < 5; i++) await tick();
    expect(acked).toBe(false); // committed, but not yet on disk: nothing went out
    expect(sync.held.length).toBeGreaterThan(0);

    const waiting: (() => void)[] = sync.held;
    sync.held = null;
    for (const run of waiting) run();
    expectAck(await reply);
    expect(acked).toBe(true);
  });

  it('the share completing a session and its aggregation are released by one sync', async () => {
    const sync = holdableSync();
    const t = await fresh({ syncWal: sync.syncWal });
    const { members } = await releaseGroup(t);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    await approveHoldingPackages(id, [bob, carol]);
    await until(() => bob.held.length === 1 && carol.held.length === 1);
    const shares = () =>
      t.handle.store.transcript(id).filter((e) => e.bodyType === 'round2.share').length;
    bob.answerHeld();
    await until(() => shares() === 1);
    for (let i = 0; i < 5; i++) await tick();

    sync.held = []; // every sync from here on waits for the test
    let completed = false;
    void alice.client.nextBody('sign.complete', id).then(() => (completed = true));
    carol.answerHeld(); // completes the session
    await until(() => ceremonyReport(t.handle.store, id)?.state === 'completed');
    for (let i = 0; i < 5; i++) await tick();
    expect(shares()).toBe(2);
    expect(completed).toBe(false); // committed, not yet on disk: nothing went out

    // One sync: it started after both commits (the share's and the aggregation's), so it
    // releases sign.complete; no second sync is asked for.
    const first = sync.held.splice(0);
    expect(first).toHaveLength(1);
    for (const run of first) run();
    await until(() => completed);
    expect(sync.held).toHaveLength(0);
    sync.held = null;
  });
});
