// THREATS D.51 where the runner restores a machine from a stored snapshot: reading a closed
// ceremony (runner.get), taking an actor back after a failed write (#reload) and boot. A snapshot
// that is not JSON, or JSON that is not the machine's snapshot (XState restores any context as
// given), gives STORAGE_UNAVAILABLE naming the ceremony and saying to restore from a backup — never
// a TypeError (INTERNAL); boot skips and logs such a ceremony and restores the others.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/index.js';
import {
  connectAdmin,
  expectAck,
  failCeremonyWrites,
  openOfflineDkg,
  startTest,
  testScope,
  threeMembers,
  type TestClient,
} from './helpers.js';

const { cleanups, fresh } = testScope();

/** Not JSON; and JSON with the outline restore() used to check (status, value, ceremony, outbox). */
const CORRUPT = {
  'text that is not JSON': 'not json {',
  'JSON without the machine’s context': JSON.stringify({
    status: 'active',
    value: 'waitingForRound1',
    context: { ceremony: 'key', outbox: [] },
  }),
} as const;

function expectCorrupt(frame: { type: string; code?: string; message?: string }, id: string) {
  expect(frame).toMatchObject({ type: 'error', code: 'STORAGE_UNAVAILABLE' });
  expect(frame.message).toContain(id);
  expect(frame.message).toMatch(/restore .*backup/);
}

/** Registers three members who stay offline and opens the group's DKG: an open key ceremony. */
async function openKeyCeremony(t: Awaited<ReturnType<typeof fresh>>, admin: TestClient) {
  const id = await openOfflineDkg(admin, threeMembers());
  expect(t.handle.store.getCeremony(id)?.open).toBe(true);
  return id;
}

const setSnapshot = (t: Awaited<ReturnType<typeof fresh>>, id: string, snapshot: string) =>
  (
    t.handle.store as unknown as {
      db: { prepare(sql: string): { run(...a: unknown[]): unknown } };
    }
  ).db
    .prepare('UPDATE ceremonies SET snapshot = ? WHERE id = ?')
    .run(snapshot, id);

describe('corrupt ceremony snapshots where the runner restores them (D.51)', () => {
  it.each(Object.entries(CORRUPT))(
    'ceremony.status.get of a closed ceremony stored as %s: STORAGE_UNAVAILABLE naming it',
    async (_, snapshot) => {
      const t = await fresh();
      const admin = await connectAdmin(t);
      for (const kind of ['key', 'sign'] as const) {
        const id = newCeremonyId();
        t.handle.store.insertCeremony({
          id,
          kind,
          group: 'release',
          snapshot,
          state: 'completed',
          open: false,
          createdAt: 1,
          updatedAt: 1,
          deadline: null,
        });
        expectCorrupt(
          await admin.query({ type: 'ceremony.status.get', ceremonyId: id }, 'ceremony.status'),
          id,
        );
      }
    },
  );

  it.each(Object.entries(CORRUPT))(
    'a failed write whose stored snapshot is %s: STORAGE_UNAVAILABLE naming the ceremony, which stops',
    async (_, snapshot) => {
      const t = await fresh();
      const admin = await connectAdmin(t);
      const id = await openKeyCeremony(t, admin);
      // The row is damaged under the live actor, then the next transition's write fails: the
      // runner takes the actor back from that row (#reload).
      setSnapshot(t, id, snapshot);
      failCeremonyWrites(t.handle.store, id);
      expectCorrupt(await admin.submit(id, { type: 'ceremony.cancel', reason: 'stop' }), id);
      // Nothing goes on from the actor that is ahead of the stored row: the ceremony is not
      // live any more (a new connection gets no status push of it) and reading it says what is
      // wrong.
      const again = await connectAdmin(t);
      expectCorrupt(
        await again.query({ type: 'ceremony.status.get', ceremonyId: id }, 'ceremony.status'),
        id,
      );
      await again.close();
    },
  );

  it('boot skips and logs each corrupt open ceremony and restores the others', async () => {
    const t1 = await fresh();
    const admin = await connectAdmin(t1);
    const good = await openKeyCeremony(t1, admin);
    const bad = Object.values(CORRUPT).map((snapshot) => {
      const id = newCeremonyId();
      t1.handle.store.insertCeremony({
        id,
        kind: 'key',
        group: 'release',
        snapshot,
        state: 'waitingForRound1',
        open: true,
        createdAt: 2,
        updatedAt: 2,
        deadline: null,
      });
      return id;
    });
    await admin.close();
    await t1.close();

    const errors: { message: string; fields?: Record<string, unknown> }[] = [];
    let listening: Record<string, unknown> | undefined;
    const logger: Logger = {
      info: (message, fields) => {
        if (message === 'coordinator listening') listening = fields;
      },
      warn: () => {},
      error: (message, fields) => errors.push({ message, ...(fields ? { fields } : {}) }),
    };
    const t2 = await startTest({ dir: t1.dir, logger });
    cleanups.push(() => t2.close());
    expect(listening?.['openCeremonies']).toBe(1);
    const health = (await (await fetch(`${t2.handle.url}/healthz`)).json()) as {
      openCeremonies: number;
    };
    expect(health.openCeremonies).toBe(1);
    for (const id of bad) {
      expect(errors).toContainEqual({
        message: 'ceremony could not be restored',
        fields: expect.objectContaining({ ceremony: id, code: 'STORAGE_UNAVAILABLE' }),
      });
    }
    expect(errors.some((e) => e.fields?.['ceremony'] === good)).toBe(false);
    const admin2 = await connectAdmin(t2);
    const status = await admin2.query(
      { type: 'ceremony.status.get', ceremonyId: good },
      'ceremony.status',
    );
    expect(status).toMatchObject({ type: 'ceremony.status', state: 'waitingForRound1' });
    await admin2.close();
  });

  it('boot skips and logs each open ceremony row that does not parse (deadline -1, empty snapshot) and restores the others', async () => {
    const t1 = await fresh();
    const admin = await connectAdmin(t1);
    const good = await openKeyCeremony(t1, admin);
    const bad = DAMAGED_ROWS.map((damage) => insertDamagedRow(t1, damage));
    // The inbox of the group leaves the damaged rows out, not the whole group with them.
    const inbox = await admin.query({ type: 'inbox.get' }, 'inbox');
    expect(inbox.items.map((i: { ceremonyId: string }) => i.ceremonyId)).toEqual([good]);
    await admin.close();
    await t1.close();

    const errors: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      info: () => {},
      warn: () => {},
      error: (message, fields) => errors.push({ message, ...(fields ? { fields } : {}) }),
    };
    const t2 = await startTest({ dir: t1.dir, logger });
    cleanups.push(() => t2.close());
    for (const id of bad) {
      expect(errors).toContainEqual({
        message: 'ceremony could not be restored',
        fields: { ceremony: id, code: 'STORAGE_UNAVAILABLE' },
      });
    }
    const admin2 = await connectAdmin(t2);
    const status = await admin2.query(
      { type: 'ceremony.status.get', ceremonyId: good },
      'ceremony.status',
    );
    expect(status).toMatchObject({ type: 'ceremony.status', state: 'waitingForRound1' });
    // The good ceremony still runs: it can be cancelled.
    expectAck(await admin2.submit(good, { type: 'ceremony.cancel', reason: 'stop' }));
    expect(t2.handle.store.getCeremony(good)?.open).toBe(false);
    const again = await admin2.query({ type: 'inbox.get' }, 'inbox');
    expect(again.items.map((i: { ceremonyId: string }) => i.ceremonyId)).toEqual([good]);
    expect(errors).toContainEqual({
      message: 'ceremony left out of the inbox',
      fields: { ceremony: bad[0], code: 'STORAGE_UNAVAILABLE' },
    });
    await admin2.close();
  });
});

/** Rows the store's row schema refuses (not only a snapshot the machine cannot restore). */
const DAMAGED_ROWS = [{ deadline: -1 }, { snapshot: '' }] as const;

function insertDamagedRow(
  t: Awaited<ReturnType<typeof fresh>>,
  damage: (typeof DAMAGED_ROWS)[number],
): string {
  const id = newCeremonyId();
  t.handle.store.insertCeremony({
    id,
    kind: 'key',
    group: 'release',
    snapshot: '{}',
    state: 'waitingForRound1',
    open: true,
    createdAt: 3,
    updatedAt: 3,
    deadline: null,
    ...damage,
  });
  return id;
}
