// The store: versioned migrations, durable pragmas, unique constraints as coded refusals, and rows
// that do not parse are refused rather than used (THREATS D.48, D.51).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolError, generateIdentityKey, sealEnvelope } from '@conclave/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/migrations.js';
import { openStore, statementsOf } from '../src/store.js';
import { removeDir, sampleRelease, tempDir } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

function fresh() {
  const dir = tempDir();
  dirs.push(dir);
  return { dir, path: join(dir, 'c.db') };
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof ProtocolError ? e.code : 'not a ProtocolError';
  }
  return undefined;
};

/** A signing ceremony row for tables that reference one (sessions, transcript). */
const openSigning = (id: string) => ({
  id,
  kind: 'sign' as const,
  group: 'g',
  snapshot: '{}',
  state: 'signing',
  open: true,
  createdAt: 1,
  updatedAt: 1,
  deadline: null,
});

describe('sqlite store', () => {
  it('applies migrations once, with WAL, group commit (synchronous=NORMAL) and foreign keys', () => {
    const { path } = fresh();
    const a = openStore(path, { now: 1 });
    expect(a.db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    // NORMAL: a COMMIT writes the WAL; wal-sync.ts syncs it before any output (group-commit.test.ts).
    expect(a.db.prepare('PRAGMA synchronous').get()).toEqual({ synchronous: 1 });
    expect(a.db.prepare('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 });
    a.close();
    const b = openStore(path, { now: 2 });
    const rows = b.db.prepare('SELECT version, applied_at FROM schema_migrations').all();
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, applied_at: 1 })));
    b.db.prepare('INSERT INTO schema_migrations VALUES (999, ?, 3)').run('future');
    b.close();
    expect(() => openStore(path, { now: 4 })).toThrow(/newer than this coordinator/);
  });

  it('prepares each statement once per database and keeps it, and lets nothing drop one (Node ≥ 24.19)', () => {
    const { path } = fresh();
    const a = openStore(path, { now: 1 });
    const b = openStore(path, { now: 1 });
    const sql = 'SELECT version FROM schema_migrations WHERE version = ?';
    const first = statementsOf(a.db).prepare(sql);
    expect(statementsOf(a.db).prepare(sql)).toBe(first);
    expect(statementsOf(b.db).prepare(sql)).not.toBe(first);
    expect(first.get(1)).toEqual({ version: 1 });
    // Kept, however many there are: a dropped statement is what aborts the process (store.ts).
    for (let i = 0; i < 300; i++) statementsOf(a.db).prepare(`SELECT ${i} AS n`);
    expect(statementsOf(a.db).prepare(sql)).toBe(first);
    // db.prepare itself goes through the cache, and pragma(), which drops a statement, is refused.
    expect(a.db.prepare(sql)).toBe(first);
    expect(() => a.db.pragma('journal_mode')).toThrow(/PRAGMA/);
    b.close();
    a.close();
  });

  it('keeps a read session frozen, and sees its signatures and a rolled-back write as stored', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    s.insertCeremony(openSigning('c_sessions1'));
    const record = {
      ceremonyId: 'c_sessions1',
      session: 1,
      sessionId: 's1',
      signingPackage: 'ab'.repeat(40),
      statement: { _type: 'x' },
      statementDigest: 'cd'.repeat(32),
      approvers: [{ member: 'alice', identityKey: 'ef'.repeat(32) }],
      issuedAt: 5,
      phase: 1,
      jobs: [{ job: 'statement', signingPackage: 'ab'.repeat(40) }],
      signatures: null,
    };
    // Written and read inside a transaction that then fails: nothing of it may stay behind.
    expect(() =>
      s.transaction(() => {
        s.putSession(record);
        expect(s.getSession('c_sessions1', 1)?.sessionId).toBe('s1');
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expect(s.getSession('c_sessions1', 1)).toBeUndefined();
    s.putSession(record);
    const first = s.getSession('c_sessions1', 1);
    expect(first).toEqual(record);
    expect(s.getSession('c_sessions1', 1)).toBe(first); // cached
    expect(Object.isFrozen(first?.jobs[0])).toBe(true);
    s.setSessionSignatures('c_sessions1', 1, { statement: '12'.repeat(64) });
    expect(s.getSession('c_sessions1', 1)?.signatures).toEqual({ statement: '12'.repeat(64) });
    s.close();
  });

  it('reads the transcript entries of one body type, in order, and only those', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    const id = 'c_transcript';
    s.insertCeremony(openSigning(id));
    const key = generateIdentityKey();
    const bodies = [
      { type: 'ceremony.cancel', reason: 'first' },
      { type: 'sign.reject', requestDigest: 'ab'.repeat(32), reason: 'no' },
      { type: 'ceremony.cancel', reason: 'second' },
    ] as const;
    bodies.forEach((body, seq) =>
      s.appendTranscript({
        ceremonyId: id,
        direction: 'in',
        sender: 'alice',
        recipient: null,
        effectSeq: null,
        at: 10 + seq,
        envelope: sealEnvelope(key, { ceremonyId: id, round: '4', seq, sender: 'alice', body }),
      }),
    );
    const cancels = s.transcriptOfType(id, 'ceremony.cancel');
    expect(cancels.map((e) => e.envelope.body)).toEqual([bodies[0], bodies[2]]);
    expect(cancels.map((e) => e.idx)).toEqual([0, 2]);
    expect(s.transcriptOfType(id, 'round2.share')).toEqual([]);
    expect(s.transcript(id)).toHaveLength(3);
    s.close();
  });

  it('indexes the artifacts a signing request names, by the group that asked (migration 7)', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    const key = generateIdentityKey();
    const release = sampleRelease();
    const second = { ...release.artifacts[0]!, name: 'b.tar.gz', sha256: '12'.repeat(32) };
    const append = (id: string, direction: 'in' | 'out', body: object, seq = 0) =>
      s.appendTranscript({
        ceremonyId: id,
        direction,
        sender: 'alice',
        recipient: null,
        effectSeq: null,
        at: 10,
        envelope: sealEnvelope(key, {
          ceremonyId: id,
          round: '0',
          seq,
          sender: 'alice',
          body: body as never,
        }),
      });
    s.insertCeremony(openSigning('c_request1'));
    s.insertCeremony({ ...openSigning('c_request2'), group: 'other' });
    append('c_request1', 'in', {
      type: 'sign.request',
      group: 'g',
      release: { ...release, artifacts: [...release.artifacts, second] },
    });
    append('c_request2', 'in', { type: 'sign.request', group: 'other', release });
    // Only what a requester sent counts: an outgoing copy or another body type adds nothing.
    s.insertCeremony({ ...openSigning('c_request3'), group: 'third' });
    append('c_request3', 'out', {
      type: 'sign.request',
      group: 'third',
      release: { ...release, artifacts: [{ ...second, sha256: '34'.repeat(32) }] },
    });
    append('c_request3', 'in', { type: 'ceremony.cancel', reason: 'x' }, 1);

    const sha = release.artifacts[0]!.sha256;
    expect(s.groupsRequestingArtifact(sha).sort()).toEqual(['g', 'other']);
    expect(s.groupsRequestingArtifact(second.sha256)).toEqual(['g']);
    expect(s.groupsRequestingArtifact('34'.repeat(32))).toEqual([]);
    expect(s.groupsRequestingArtifact('56'.repeat(32))).toEqual([]);

    // A database from before migration 7: the index is rebuilt from the stored transcripts.
    s.db.exec('DROP TABLE request_artifacts; DELETE FROM schema_migrations WHERE version = 7');
    s.close();
    const again = openStore(path, { now: 2 });
    expect(again.groupsRequestingArtifact(sha).sort()).toEqual(['g', 'other']);
    expect(again.groupsRequestingArtifact(second.sha256)).toEqual(['g']);
    expect(again.groupsRequestingArtifact('34'.repeat(32))).toEqual([]);
    again.close();
  });

  it('migration 7 skips a malformed transcript envelope and artifact entries that are not objects', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    const release = sampleRelease();
    s.insertCeremony(openSigning('c_goodreq'));
    s.appendTranscript({
      ceremonyId: 'c_goodreq',
      direction: 'in',
      sender: 'alice',
      recipient: null,
      effectSeq: null,
      at: 10,
      envelope: sealEnvelope(generateIdentityKey(), {
        ceremonyId: 'c_goodreq',
        round: '0',
        seq: 0,
        sender: 'alice',
        body: { type: 'sign.request', group: 'g', release },
      }),
    });
    // Rows no schema would have let in, written straight into the table (a damaged database).
    s.insertCeremony({ ...openSigning('c_badreq1'), group: 'bad' });
    const insert = s.db.prepare(
      `INSERT INTO transcript (ceremony_id, idx, direction, sender, recipient, body_type, effect_seq, at, envelope)
       VALUES ('c_badreq1', ?, 'in', 'alice', NULL, 'sign.request', NULL, 10, ?)`,
    );
    insert.run(0, 'not json {');
    const entries = ['x', 5, null, [1], { sha256: '78'.repeat(32) }];
    insert.run(1, JSON.stringify({ body: { release: { artifacts: entries } } }));
    // Back to a database at migration 6: opening it runs migration 7 over those rows.
    s.db.exec('DROP TABLE request_artifacts; DELETE FROM schema_migrations WHERE version = 7');
    s.close();
    const again = openStore(path, { now: 2 });
    expect(again.groupsRequestingArtifact(release.artifacts[0]!.sha256)).toEqual(['g']);
    expect(again.groupsRequestingArtifact('78'.repeat(32))).toEqual(['bad']);
    again.close();
  });

  it('turns unique violations into coded refusals', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    const key = { sender: 'alice', ceremonyId: 'c_12345678', round: '1', seq: 7 };
    s.markSeen(key, 1);
    expect(s.hasSeen(key)).toBe(true);
    expect(codeOf(() => s.markSeen(key, 2))).toBe('REPLAYED_MESSAGE');
    s.recordCommitment('aa'.repeat(32), 'bb'.repeat(69), 'c_1', 'alice', 1);
    expect(
      codeOf(() => s.recordCommitment('aa'.repeat(32), 'bb'.repeat(69), 'c_2', 'bob', 2)),
    ).toBe('COMMITMENT_REUSED');
    // Another group key may see the same bytes (it cannot, in practice: identifiers differ).
    s.recordCommitment('cc'.repeat(32), 'bb'.repeat(69), 'c_3', 'alice', 3);
    const member = {
      name: 'alice',
      identityKey: 'dd'.repeat(32),
      roles: [],
      createdAt: 1,
      revokedAt: null,
    };
    s.addMember(member);
    expect(codeOf(() => s.addMember(member))).toBe('DUPLICATE');
    s.close();
  });

  it('refuses a row that does not parse instead of using it', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    s.db
      .prepare('INSERT INTO members (name, identity_key, roles, created_at) VALUES (?, ?, ?, ?)')
      .run('eve', 'not-hex', '[]', 1);
    s.db
      .prepare('INSERT INTO members (name, identity_key, roles, created_at) VALUES (?, ?, ?, ?)')
      .run('frank', 'ee'.repeat(32), '{"__proto__": 1}', 1);
    expect(codeOf(() => s.getMember('eve'))).toBe('STORAGE_UNAVAILABLE');
    expect(codeOf(() => s.getMember('frank'))).toBe('STORAGE_UNAVAILABLE');
    s.close();
  });

  it('keeps the WAL bounded with a checkpoint above the size limit', () => {
    const { path } = fresh();
    const s = openStore(path, { now: 1 });
    for (let i = 0; i < 200; i++) s.setSetting(`k${i}`, 'x'.repeat(1000));
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(100_000);
    expect(s.checkpointIfLarger(1 << 30)).toBe(false);
    expect(s.checkpointIfLarger(1024)).toBe(true);
    expect(statSync(`${path}-wal`).size).toBe(0);
    expect(s.getSetting('k199')).toBe('x'.repeat(1000));
    s.close();
  });
});
