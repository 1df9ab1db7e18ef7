// Many ceremonies at once on one coordinator (a child process on 127.0.0.1, SQLite with group
// commit: every output waits for an fdatasync of the WAL) with in-process member agents that
// auto-approve: every ceremony completes.
// This is the ceremony bench's throughput run as a pass/fail check without a speed goal (speed is
// measured by `pnpm bench`). Its reason to exist: a member-side lock taken by every approval once
// made 176 of 200 concurrent ceremonies hang, while the one-at-a-time tests all passed.
import { rmSync } from 'node:fs';
import { newCeremonyId, type Release } from '@conclave/protocol';
import type { CeremonyEnd } from '@conclave/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../bench/ceremony/cluster.js';
import { tempDir } from '../support.js';

const CONCURRENT = 200;

const RELEASE: Release = {
  version: '2.0.0',
  class: 'standard',
  note: 'concurrency check',
  artifacts: [
    {
      name: 'app-2.0.0.tgz',
      sha256: 'ab'.repeat(32),
      sha512: 'cd'.repeat(64),
      blake2b512: 'ef'.repeat(64),
    },
  ],
  formats: ['dsse'],
};

describe('concurrent ceremonies', () => {
  const dir = tempDir('conclave-concurrency-');
  let cluster: Cluster;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    cluster = await Cluster.start(dir, [{ name: 'g', threshold: 3, size: 5 }], () => undefined);
  });

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('approvers verify the policy once per session, not once per approval (no policy.get round trip)', async () => {
    const g = cluster.group('g');
    const s = g.requester.session;
    const asked: string[] = [];
    const restore: (() => void)[] = [];
    for (const a of g.approvers) {
      const conn = a.session.connection;
      const query = conn.query.bind(conn);
      conn.query = (<T>(
        frame: { readonly type: string } & Record<string, unknown>,
        answer: string,
      ) => {
        asked.push(`${a.name} ${frame.type}`);
        return query<T>(frame, answer);
      }) as typeof conn.query;
      restore.push(() => {
        conn.query = query;
      });
    }
    const sign = async () => {
      const id = newCeremonyId();
      const ended = s.waitForEnd(id);
      await s.connection.send(id, '0', { type: 'sign.request', group: g.name, release: RELEASE });
      expect((await ended).state).toBe('completed');
    };
    try {
      await sign(); // the first approval of each member verifies the policy (and may ask)
      const afterFirst = asked.filter((q) => q.endsWith(' policy.get')).length;
      await sign();
      await sign();
      expect(asked.filter((q) => q.endsWith(' policy.get')).length).toBe(afterFirst);
    } finally {
      for (const r of restore) r();
    }
  });

  it(`completes ${CONCURRENT} concurrent 3-of-5 signing ceremonies, every one`, async () => {
    const g = cluster.group('g');
    const s = g.requester.session;
    const ids = Array.from({ length: CONCURRENT }, () => newCeremonyId());
    const ends = await Promise.all(
      ids.map(async (id) => {
        const ended = s.waitForEnd(id);
        await s.connection.send(id, '0', { type: 'sign.request', group: g.name, release: RELEASE });
        return ended;
      }),
    );
    const states = ends.map((e: CeremonyEnd) => e.state);
    expect(states.filter((st) => st !== 'completed')).toEqual([]);
    const signatures = new Set<string>();
    for (const end of ends) {
      if (!('complete' in end)) continue;
      expect(end.complete.groupPublicKey).toBe(g.groupPublicKey);
      expect(end.complete.signers).toHaveLength(3);
      expect(end.complete.approvers).toHaveLength(3);
      signatures.add(end.complete.signature);
    }
    // Each ceremony signs its own statement (its id is in it): no two signatures are alike.
    expect(signatures.size).toBe(CONCURRENT);
    expect(rejections).toEqual([]);
  });
});
