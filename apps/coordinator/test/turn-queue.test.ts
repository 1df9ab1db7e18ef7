// The coordinator's run queue (src/runtime.ts TurnQueue): units run in order, one per event-loop
// turn, so a timer due meanwhile runs between two units instead of after the whole burst, and a
// unit that throws does not stop the ones after it.
import { describe, expect, it } from 'vitest';
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
    const q = new TurnQueue(undefined, 2);
    let ran = 0;
    for (let i = 0; i < 10_000; i++) q.push(() => (ran += 1));
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
    expect(turns).toBeLessThan(100);
    const order: string[] = [];
    q.push(() => order.push('a1'), { alone: true });
    q.push(() => order.push('a2'), { alone: true });
    setImmediate(() => order.push('other'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['a1', 'other', 'a2']);
  });
});
