// THREATS D.49: when a write fails the coordinator fails closed — the sender gets
// STORAGE_UNAVAILABLE, the transition is rolled back in memory too, nothing is sent — and the
// ceremony carries on once storage works again.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/logger.js';
import { FaultLog } from '../src/runtime.js';
import { expectAck, releaseGroup, testScope } from './helpers.js';

/** A logger that keeps what it was given. */
function capture(): {
  logger: Logger;
  lines: { message: string; fields: Record<string, unknown> }[];
} {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const keep = (message: string, fields: Record<string, unknown> = {}) =>
    lines.push({ message, fields });
  return { logger: { info: () => {}, warn: keep, error: keep }, lines };
}

const { fresh } = testScope();

describe('storage failure', () => {
  it('refuses with STORAGE_UNAVAILABLE, changes nothing, and recovers', async () => {
    const log = capture();
    // Two refused frames close a connection, but not refusals that are the coordinator's fault.
    const t = await fresh({ logger: log.logger, limits: { maxErrorsPerConnection: 2 } });
    const { members } = await releaseGroup(t);
    const [alice, bob, carol] = members;
    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    const db = (t.handle.store as unknown as { db: { exec(s: string): unknown } }).db;
    const before = t.handle.store.getCeremony(id)!;

    db.exec('PRAGMA query_only = ON');
    for (let i = 0; i < 3; i++) {
      const refused = await carol.approve(id, 'release');
      expect(refused.code).toBe('STORAGE_UNAVAILABLE');
    }
    db.exec('PRAGMA query_only = OFF');
    // The operator is told once (then at most every 10 s), with SQLite's code; nothing of the input.
    const faults = log.lines.filter((l) => l.fields['code'] === 'STORAGE_UNAVAILABLE');
    expect(faults).toHaveLength(1);
    expect(faults[0]!.fields).toMatchObject({
      cause: 'SQLITE_READONLY',
      where: 'envelope',
      ceremony: id,
    });
    const after = t.handle.store.getCeremony(id)!;
    expect(after.snapshot).toBe(before.snapshot);
    expect(t.handle.store.transcript(id).some((e) => e.bodyType === 'sign.package')).toBe(false);
    const status = await carol.client.query(
      { type: 'ceremony.status.get', ceremonyId: id },
      'ceremony.status',
    );
    expect(status.approvals).toEqual(['bob']);

    // Storage is back: carol approves again (fresh nonces) and the ceremony completes.
    expectAck(await carol.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id);
    expect(complete.body.signers).toEqual(['bob', 'carol']);
  });

  it('FaultLog: server faults only, the first of a burst at once, then one line per interval with the count', () => {
    const log = capture();
    let now = 0;
    const faults = new FaultLog(log.logger, () => now, 10_000);
    const full = Object.assign(new Error('database or disk is full'), {
      name: 'SqliteError',
      code: 'SQLITE_FULL',
    });
    faults.report(new Error('x'), { code: 'INVALID_MESSAGE' }, 'envelope');
    expect(log.lines).toHaveLength(0);
    faults.report(full, { code: 'STORAGE_UNAVAILABLE' }, 'envelope', 'c_1');
    now = 9_999;
    faults.report(full, { code: 'STORAGE_UNAVAILABLE' }, 'envelope', 'c_2');
    faults.report(new TypeError('boom'), { code: 'INTERNAL' }, 'inbox.get');
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]!.fields).toEqual({
      code: 'STORAGE_UNAVAILABLE',
      cause: 'SQLITE_FULL',
      where: 'envelope',
      ceremony: 'c_1',
    });
    now = 10_000;
    faults.report(new TypeError('boom'), { code: 'INTERNAL' }, 'inbox.get');
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]!.fields).toEqual({
      code: 'INTERNAL',
      cause: 'TypeError',
      where: 'inbox.get',
      notLogged: 2,
    });
    expect(JSON.stringify(log.lines)).not.toContain('boom');
  });
});
