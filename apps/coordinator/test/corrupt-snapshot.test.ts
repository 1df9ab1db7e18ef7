// THREATS D.51: the database is hostile until parsed. A ceremony snapshot that is not JSON, or not
// the shape the reader needs, gives STORAGE_UNAVAILABLE with a message naming the ceremony — never
// a TypeError (INTERNAL), and never a silent default.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { ceremonyReport } from '../src/index.js';
import { addMembers, connectAdmin, testScope, threeMembers } from './helpers.js';

const { fresh } = testScope();

const CORRUPT = ['not json {', '{"status":"done","context":{}}'] as const;

describe('corrupt ceremony snapshots (D.51)', () => {
  it('ceremonyReport: STORAGE_UNAVAILABLE naming the ceremony', async () => {
    const t = await fresh();
    for (const snapshot of CORRUPT) {
      const id = newCeremonyId();
      t.handle.store.insertCeremony({
        id,
        kind: 'sign',
        group: 'release',
        snapshot,
        state: 'completed',
        open: false,
        createdAt: 1,
        updatedAt: 1,
        deadline: null,
      });
      let thrown: unknown;
      try {
        ceremonyReport(t.handle.store, id);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect(String((thrown as Error).message)).toContain(id);
    }
  });

  it('a DKG retry after a failed attempt whose snapshot is corrupt: STORAGE_UNAVAILABLE, not INTERNAL or unchecked (B.28)', async () => {
    const t = await fresh();
    const admin = await connectAdmin(t);
    const members = threeMembers();
    await addMembers(admin, members);
    const roster = members.map((m) => ({ member: m.name, identityKey: m.publicKey }));
    for (const [i, snapshot] of CORRUPT.entries()) {
      const group = `release${i}`;
      const failed = newCeremonyId();
      t.handle.store.insertCeremony({
        id: failed,
        kind: 'key',
        group,
        snapshot,
        state: 'aborted',
        open: false,
        createdAt: 1,
        updatedAt: 1,
        deadline: null,
      });
      t.handle.store.putGroup({
        name: group,
        threshold: 2,
        members: roster,
        state: 'failed',
        ceremonyId: failed,
        groupPublicKey: null,
        publicKeyPackage: null,
        createdAt: 1,
        updatedAt: 1,
        epoch: 0,
      });
      const answer = await admin.submit(newCeremonyId(), {
        type: 'admin.group.create',
        group,
        threshold: 2,
        members: roster,
      });
      expect(answer).toMatchObject({ type: 'error', code: 'STORAGE_UNAVAILABLE' });
      expect(answer.message).toContain(failed);
    }
  });
});
