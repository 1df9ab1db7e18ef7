// The ratification-window timer must not spin when a sweep keeps failing (a storage error, a
// corrupt hotfix row): it retries after 1 s, doubling up to 5 min. Checked with fake timers on a
// bare SQLite table whose due row fails its schema, so every sweep throws.
import { openDatabase } from '../src/store.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CeremonyRunner } from '../src/ceremonies.js';
import { startGovernance } from '../src/policy.js';

function failingRunner(errors: string[]): CeremonyRunner {
  const db = openDatabase(':memory:');
  db.exec(`CREATE TABLE hotfixes (ceremony_id TEXT, grp TEXT, incident TEXT, signed_at INTEGER,
    ratify_by INTEGER, ratified_by TEXT, ratified_at INTEGER, flagged_at INTEGER)`);
  // incident is NULL, which the row schema refuses: every sweep throws STORAGE_UNAVAILABLE.
  db.prepare('INSERT INTO hotfixes VALUES (?, ?, NULL, ?, ?, NULL, NULL, NULL)').run(
    'c_x',
    'g',
    0,
    1,
  );
  const runner = {
    store: { db, transaction: <T>(fn: () => T): T => db.transaction(fn)() },
    now: () => Date.now(),
    deps: {
      logger: {
        info() {},
        warn() {},
        error(message: string) {
          errors.push(message);
        },
      },
    },
  };
  return runner as unknown as CeremonyRunner;
}

describe('hotfix ratification timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('backs off after failed sweeps instead of retrying in a loop', async () => {
    vi.useFakeTimers();
    const errors: string[] = [];
    const stop = startGovernance(failingRunner(errors));
    // One minute: retries at 0, +1, +2, +4, +8, +16, +32 s at most (plus the start's own sweep).
    await vi.advanceTimersByTimeAsync(60_000);
    stop();
    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(errors.length).toBeLessThanOrEqual(8);
    expect(errors.every((e) => e.startsWith('hotfix sweep failed'))).toBe(true);
    // Stopped: no further attempts.
    const n = errors.length;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(errors.length).toBe(n);
  });
});
