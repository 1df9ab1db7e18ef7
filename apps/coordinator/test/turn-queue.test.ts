// The coordinator's run queue (src/runtime.ts TurnQueue): units run in order, one per event-loop
// turn, so a timer due meanwhile runs between two units instead of after the whole burst, and a
// unit that throws does not stop the ones after it. A ceremony's queued work (CeremonyRunner
// .serial) takes turns of the queue too, instead of running in the microtask after the work ahead.
import { describe, expect, it } from 'vitest';
import { CeremonyRunner, type RunnerDeps } from '../src/ceremonies.js';
import { CryptoPool } from '../src/crypto-pool.js';
import { silentLogger } from '../src/logger.js';
import { TurnQueue } from '../src/runtime.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: a unit of CPU work
  }
}

describe('TurnQueue', () => {
  it('runs units in order, one per turn: a due timer runs before the burst ends', async () => {
    const errors: unknown[] = [];
    const q = new TurnQueue((e) => errors.push(e));
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      for (let i = 0; i < 6; i++) {
        q.push(() => {
          busy(5);
          seen.push(`u${i}`);
          if (i === 2) throw new Error('unit failed');
          if (i === 5) resolve();
        });
      }
    });
    setTimeout(() => seen.push('timer'), 1);
    expect(q.length).toBe(6);
    await done;
    await new Promise((r) => setTimeout(r, 5));
    expect(seen.filter((s) => s !== 'timer')).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5']);
    // 30 ms of work in 5 ms units: the 1 ms timer fires between units, not after all of them.
    expect(seen.indexOf('timer')).toBeGreaterThan(-1);
    expect(seen.indexOf('timer')).toBeLessThan(seen.length - 1);
    expect(errors).toHaveLength(1);
    expect(q.length).toBe(0);
  });

  it('runs many small units per turn (2 ms budget), and a unit pushed alone ends its turn', async () => {
    // Each unit costs 0.01 ms on this clock: a turn holds 200 of them, whatever the machine's load.
    let clock = 0;
    const q = new TurnQueue(undefined, 2, () => clock);
    let ran = 0;
    for (let i = 0; i < 10_000; i++)
      q.push(() => {
        ran += 1;
        clock += 0.01;
      });
    let turns = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        turns += 1;
        if (q.length === 0) resolve();
        else setImmediate(tick);
      };
      setImmediate(tick);
    });
    expect(ran).toBe(10_000);
    expect(turns).toBeGreaterThanOrEqual(50);
    expect(turns).toBeLessThan(100);
    const order: string[] = [];
    q.push(() => order.push('a1'), { alone: true });
    q.push(() => order.push('a2'), { alone: true });
    setImmediate(() => order.push('other'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['a1', 'other', 'a2']);
  });
});

describe('CeremonyRunner.serial with a scheduler', () => {
  /** A runner with only what serial() uses; `schedule` records the units it is given. */
  function runnerWith(units: (() => void)[] | undefined): CeremonyRunner {
    return new CeremonyRunner({
      logger: silentLogger,
      crypto: new CryptoPool({ size: 0 }),
      ...(units === undefined ? {} : { schedule: (u: () => void) => units.push(u) }),
    } as unknown as RunnerDeps);
  }

  it('runs work queued behind a busy ceremony in a turn of its own, in order', async () => {
    const units: (() => void)[] = [];
    const runner = runnerWith(units);
    const seen: string[] = [];
    let finishA!: () => void;
    const a = runner.serial('c1', () => new Promise<void>((r) => (finishA = r)));
    const b = runner.serial('c1', () => void seen.push('b'));
    const c = runner.serial('c1', () => void seen.push('c'));
    // Another ceremony is not queued behind c1: it runs at once.
    runner.serial('c2', () => void seen.push('other'));
    expect(seen).toEqual(['other']);
    finishA();
    await a;
    await new Promise((r) => setImmediate(r));
    // b waits for its turn, not the microtask after a.
    expect(seen).toEqual(['other']);
    expect(units).toHaveLength(1);
    units.shift()!();
    await b;
    expect(seen).toEqual(['other', 'b']);
    await new Promise((r) => setImmediate(r));
    units.shift()!();
    await c;
    expect(seen).toEqual(['other', 'b', 'c']);
    await runner.idle();
  });

  it('without a scheduler, queued work runs right after the work ahead (as before)', async () => {
    const runner = runnerWith(undefined);
    const seen: string[] = [];
    let finishA!: () => void;
    const a = runner.serial('c1', () => new Promise<void>((r) => (finishA = r)));
    const b = runner.serial('c1', () => void seen.push('b'));
    finishA();
    await a;
    await b;
    expect(seen).toEqual(['b']);
  });
});
