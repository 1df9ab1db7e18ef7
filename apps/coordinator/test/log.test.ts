// The coordinator's transparency log on a real SQLite store: appends (idempotent, one transaction
// with the checkpoint), the sweep of closed ceremonies and registry operations, proofs that verify
// with @conclave/release, witness cosignatures, and refusal to start on a tampered log.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cosign,
  decodeBase64,
  formatSignatureLine,
  logLeafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyLog,
  witnessCheckpoint,
} from '@conclave/audit';
import {
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  type IdentityKey,
} from '@conclave/protocol';
import { verifyConsistency, verifyInclusion } from '@conclave/release';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAuditorToken, loadLogKey } from '../src/log/keys.js';
import {
  openTransparencyLog,
  logHotfixOverdue,
  logIfTerminal,
  witnessName,
  type TransparencyLog,
} from '../src/log/service.js';
import { createMetrics } from '../src/metrics.js';
import { openStore, type SqliteStore } from '../src/store.js';
import { isoTime } from '../src/web/html.js';
import { renderPage } from '../src/web/pages.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const now = 1_750_000_000_000;
const clock = { now: () => now };
const coordinatorKey = generateIdentityKey();
const alice = generateIdentityKey();

function fresh(dir = mkdtempSync(join(tmpdir(), 'conclave-log-'))): {
  dir: string;
  store: SqliteStore;
  log: TransparencyLog;
} {
  if (!dirs.includes(dir)) dirs.push(dir);
  const store = openStore(join(dir, 'c.db'), { now: clock.now() });
  stores.push(store);
  const key = loadLogKey(store, dir, coordinatorKey.publicKey);
  const log = openTransparencyLog({
    store,
    clock,
    key,
    coordinatorKey,
    metrics: createMetrics(store),
  });
  return { dir, store, log };
}

/** A closed signing ceremony with `n` transcript entries, written straight into the store. */
function ceremony(store: SqliteStore, n = 3, open = false, key: IdentityKey = alice): string {
  const id = newCeremonyId();
  store.insertCeremony({
    id,
    kind: 'sign',
    group: 'release',
    snapshot: '{}',
    state: open ? 'collectingApprovals' : 'completed',
    open,
    createdAt: now,
    updatedAt: now,
    deadline: null,
  });
  for (let i = 0; i < n; i++) {
    store.appendTranscript({
      ceremonyId: id,
      direction: 'in',
      sender: 'alice',
      recipient: null,
      effectSeq: null,
      at: now + i,
      envelope: sealEnvelope(key, {
        ceremonyId: id,
        round: '4',
        seq: i,
        sender: 'alice',
        body: { type: 'ceremony.cancel', reason: `entry ${i}` },
      }),
    });
  }
  return id;
}

describe('transparency log (coordinator)', () => {
  it('starts with a signed empty checkpoint and a log key pinned in the database', () => {
    const { log, store, dir } = fresh();
    const cp = log.latestCheckpoint()!;
    expect(cp.size).toBe(0);
    const v = parseVerifierKey(log.verifierKey);
    expect(openCheckpoint(cp.note, v).origin).toBe(log.origin);
    expect(log.origin).toMatch(/^conclave\/[0-9a-f]{16}$/);
    // A second start with the same files reuses the key; a different key file is refused.
    expect(loadLogKey(store, dir, coordinatorKey.publicKey).created).toBe(false);
    rmSync(join(dir, 'log.key'));
    expect(() => loadLogKey(store, dir, coordinatorKey.publicKey)).toThrow(/missing/);
  });

  it('appends a ceremony with its checkpoint in one transaction; appends are idempotent', () => {
    const { log, store } = fresh();
    const id = ceremony(store);
    const a = log.appendCeremony(id);
    expect(a).toMatchObject({ index: 0, size: 1, fresh: true });
    expect(log.appendCeremony(id)).toMatchObject({ index: 0, size: 1, fresh: false });
    const cp = openCheckpoint(a.checkpoint, log.verifier);
    expect(cp.size).toBe(1);
    const leaf = log.leaves(0, 1)[0]!;
    expect(JSON.parse(leaf.leaf)).toMatchObject({
      ceremonyId: id,
      kind: 'sign',
      outcome: 'completed',
      entries: 3,
    });
  });

  it('rolls back the leaf with the surrounding transaction (no signature without a leaf, no leaf without it)', () => {
    const { log, store } = fresh();
    const id = ceremony(store);
    expect(() =>
      store.transaction(() => {
        log.appendCeremony(id);
        throw new Error('crash after the append');
      }),
    ).toThrow('crash');
    expect(log.size).toBe(0);
    expect(log.latestCheckpoint()!.size).toBe(0);
    expect(log.appendCeremony(id).index).toBe(0);
  });

  it('logs a ceremony from the emitOnce hook only when a terminal envelope is stored', () => {
    const { log, store } = fresh();
    const id = ceremony(store);
    logIfTerminal(store, id, [{ envelope: { body: { type: 'sign.package' } } }]);
    expect(log.size).toBe(0);
    logIfTerminal(store, id, [{ envelope: { body: { type: 'sign.complete' } } }]);
    expect(log.size).toBe(1);
  });

  it('sweeps closed ceremonies and registry operations that were not logged, never open ones', () => {
    const { log, store } = fresh();
    const closed = [ceremony(store), ceremony(store)];
    ceremony(store, 2, true);
    store.logAdmin(
      newCeremonyId(),
      'admin.member.add',
      now,
      sealEnvelope(alice, {
        ceremonyId: newCeremonyId(),
        round: '0',
        seq: 1,
        sender: 'admin',
        body: { type: 'admin.member.add', member: 'bob', identityKey: 'ab'.repeat(32), roles: [] },
      }),
    );
    expect(log.sweep()).toBe(3);
    expect(log.sweep()).toBe(0);
    expect(log.size).toBe(3);
    expect(closed.every((id) => log.leafIndex('sign', id) !== undefined)).toBe(true);
    expect(log.verify().ok).toBe(true);
  });

  it('serves inclusion and consistency proofs that verify against signed checkpoints', () => {
    const { log, store } = fresh();
    const checkpoints: string[] = [];
    for (let i = 0; i < 13; i++)
      checkpoints.push(log.appendCeremony(ceremony(store, 1)).checkpoint);
    for (const [index, size] of [
      [0, 1],
      [3, 7],
      [12, 13],
      [5, 13],
    ] as const) {
      const cp = openCheckpoint(checkpoints[size - 1]!, log.verifier);
      const leaf = new TextEncoder().encode(log.leaves(index, index + 1)[0]!.leaf);
      expect(
        verifyInclusion(logLeafHash(leaf), index, size, log.inclusionProof(index, size), cp.root),
      ).toBe(true);
    }
    for (const [from, to] of [
      [1, 13],
      [4, 8],
      [7, 13],
    ] as const) {
      const a = openCheckpoint(checkpoints[from - 1]!, log.verifier);
      const b = openCheckpoint(checkpoints[to - 1]!, log.verifier);
      expect(verifyConsistency(from, to, a.root, b.root, log.consistencyProof(from, to))).toBe(
        true,
      );
    }
    expect(() => log.inclusionProof(13, 13)).toThrow();
    expect(() => log.consistencyProof(2, 14)).toThrow();
    expect(() => log.leaves(0, 14)).toThrow();
  });

  it('records a member witness cosignature and refuses a forged one', () => {
    const { log, store } = fresh();
    log.appendCeremony(ceremony(store));
    const note = log.latestCheckpoint()!.note;
    const w = witnessCheckpoint({
      next: note,
      consistencyProof: [],
      coordinatorKey: log.verifier,
      witness: { name: witnessName('alice'), key: alice },
      now,
    });
    expect(w.ok).toBe(true);
    if (!w.ok) return;
    expect(log.addCosignature('alice', alice.publicKey, note, w.value.line)).toBe(1);
    expect(log.cosignatures(1).map((c) => c.witness)).toEqual(['alice']);
    expect(log.cosignedCheckpoint()).toBe(note + w.value.line);
    const forged = formatSignatureLine(
      cosign(
        { name: witnessName('alice'), key: generateIdentityKey() },
        openCheckpoint(note, log.verifier).body,
        1,
      ),
    );
    expect(() => log.addCosignature('alice', alice.publicKey, note, forged)).toThrow(
      /does not verify/,
    );
    // A checkpoint the log never signed (its own key, another size): refused.
    const other = fresh();
    expect(() =>
      log.addCosignature(
        'alice',
        alice.publicKey,
        other.log.latestCheckpoint()!.note,
        w.value.line,
      ),
    ).toThrow(/not a checkpoint of this log/);
  });

  it('refuses a cosignature timed more than a day before or 10 minutes after its clock (COSIGNATURE_TIME_INVALID)', () => {
    const { log, store } = fresh();
    log.appendCeremony(ceremony(store));
    const note = log.latestCheckpoint()!.note;
    const body = openCheckpoint(note, log.verifier).body;
    const line = (seconds: number) =>
      formatSignatureLine(cosign({ name: witnessName('alice'), key: alice }, body, seconds));
    const nowS = now / 1000;
    for (const seconds of [nowS - 86_400 - 1, nowS + 601, Number.MAX_SAFE_INTEGER, 0]) {
      expect(() => log.addCosignature('alice', alice.publicKey, note, line(seconds))).toThrow(
        expect.objectContaining({
          code: 'COSIGNATURE_TIME_INVALID',
          message: expect.stringMatching(/clock/),
        }),
      );
    }
    expect(log.cosignatures(1)).toEqual([]);
    // The edges of the window are taken.
    for (const seconds of [nowS - 86_400, nowS + 600]) {
      expect(log.addCosignature('alice', alice.publicKey, note, line(seconds))).toBe(1);
      expect(log.cosignatures(1).map((c) => c.timestamp)).toEqual([seconds]);
    }
  });

  it('renders the log page with "—" for a stored cosignature time no Date can hold', () => {
    const { log, store } = fresh();
    log.appendCeremony(ceremony(store));
    // A row stored before cosignature times were checked: 2^53 − 1 s is past Date's range.
    store.db
      .prepare(
        'INSERT INTO witness_cosignatures (size, witness, line, timestamp, at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(1, 'alice', 'x\n', Number.MAX_SAFE_INTEGER, now);
    const page = renderPage(
      { store, log, keys: { coordinator: '', admin: '' } },
      '/audit/log',
      new URLSearchParams(),
    );
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/<td>alice<\/td>\s*<td>—<\/td>/);
    expect(isoTime(Number.MAX_SAFE_INTEGER * 1000)).toBe('—');
    expect(isoTime(Number.NaN)).toBe('—');
    expect(isoTime(now)).toBe('2025-06-15T15:06:40Z');
  });

  /** A completed hotfix `id` flagged unratified, written straight into the governance tables. */
  function flagHotfix(store: SqliteStore, id: string, incident = 'INC-1'): void {
    store.db
      .prepare(
        `INSERT INTO ceremony_policies (ceremony_id, grp, policy_version, policy_id, class, incident, at)
         VALUES (?, 'release', 2, 'release@v2', 'hotfix', ?, ?)`,
      )
      .run(id, incident, now);
    store.db
      .prepare(
        `INSERT INTO hotfixes (ceremony_id, grp, incident, signed_at, ratify_by, flagged_at)
         VALUES (?, 'release', ?, ?, ?, ?)`,
      )
      .run(id, incident, now - 10_000, now - 1_000, now - 500);
  }

  it('sweeps a flagged hotfix into a governance leaf after its signing leaf, once, with the coordinator-signed record', () => {
    const { log, store } = fresh();
    const hotfix = ceremony(store);
    flagHotfix(store, hotfix);
    // Nothing logged yet (a hotfix flagged before governance leaves existed): the sweep appends
    // the hotfix's own leaf, then its governance leaf.
    expect(log.sweep()).toBe(2);
    expect(log.sweep()).toBe(0);
    expect(log.leafIndex('sign', hotfix)).toBe(0);
    expect(log.leafIndex('governance', hotfix)).toBe(1);
    expect(log.leafAt(1)).toMatchObject({
      kind: 'governance',
      ceremonyId: hotfix,
      group: 'release',
      outcome: 'hotfix.overdue',
      entries: 1,
    });
    const [entry] = log.transcriptOf({ kind: 'governance', ceremonyId: hotfix });
    expect(entry).toMatchObject({ idx: 0, direction: 'out', sender: 'coordinator', at: now - 500 });
    expect(entry?.envelope.body).toEqual({
      type: 'hotfix.overdue',
      ceremonyId: hotfix,
      group: 'release',
      incident: 'INC-1',
      ratifyBy: now - 1_000,
      flaggedAt: now - 500,
      policyVersion: 2,
    });
    const r = log.verify();
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.governance.map((g) => g.record?.policyVersion)).toEqual([2]);
    // Idempotent: asking again returns the same leaf, signs nothing new.
    expect(log.appendGovernance(hotfix)).toMatchObject({ index: 1, fresh: false });
    expect(log.size).toBe(2);
    expect(() => log.appendGovernance(ceremony(store))).toThrow(/no flagged hotfix/);
  });

  it('appends the governance leaf inside the flag’s transaction: both roll back together', () => {
    const { log, store } = fresh();
    const hotfix = ceremony(store);
    log.appendCeremony(hotfix);
    expect(() =>
      store.transaction(() => {
        flagHotfix(store, hotfix);
        logHotfixOverdue(store, hotfix);
        expect(log.leafIndex('governance', hotfix)).toBe(1);
        throw new Error('crash after the append');
      }),
    ).toThrow('crash');
    expect(log.size).toBe(1);
    expect(log.transcriptOf({ kind: 'governance', ceremonyId: hotfix })).toEqual([]);
    store.transaction(() => {
      flagHotfix(store, hotfix);
      logHotfixOverdue(store, hotfix);
    });
    expect(log.size).toBe(2);
    expect(log.latestCheckpoint()?.size).toBe(2);
    expect(log.verify().ok).toBe(true);
  });

  it('names a governance record edited in the database (LOG_LEAF_MISMATCH) and refuses UPDATE of it', () => {
    const { log, store } = fresh();
    const hotfix = ceremony(store);
    flagHotfix(store, hotfix);
    log.sweep();
    expect(() => store.db.prepare("UPDATE log_transcripts SET envelope = 'x'").run()).toThrow(
      /append-only/,
    );
    store.db.exec('DROP TRIGGER log_transcripts_no_update');
    store.db
      .prepare("UPDATE log_transcripts SET envelope = replace(envelope, 'INC-1', 'INC-2')")
      .run();
    const r = log.verify();
    expect(r.ok).toBe(false);
    expect(r.badCeremonies).toEqual([hotfix]);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.code)).toEqual([
      'LOG_LEAF_MISMATCH',
      'LOG_LEAF_MISMATCH',
    ]);
  });

  it('verifies the stored log and names a ceremony whose transcript row was edited', () => {
    const { log, store } = fresh();
    const ids = [ceremony(store), ceremony(store), ceremony(store)];
    log.sweep();
    expect(log.verify().ok).toBe(true);
    store.db
      .prepare(
        "UPDATE transcript SET envelope = replace(envelope, 'entry 1', 'entry X') WHERE ceremony_id = ? AND idx = 1",
      )
      .run(ids[1]);
    const r = log.verify();
    expect(r.ok).toBe(false);
    expect(r.badCeremonies).toEqual([ids[1]]);
  });

  it('refuses to start when a stored leaf no longer hashes to the newest checkpoint', () => {
    const { dir, log, store } = fresh();
    for (let i = 0; i < 3; i++) log.appendCeremony(ceremony(store));
    log.stop();
    store.db.exec('DROP TRIGGER log_leaves_no_update');
    store.db
      .prepare("UPDATE log_leaves SET leaf = replace(leaf, 'completed', 'cancelled') WHERE idx = 1")
      .run();
    store.close();
    const reopened = openStore(join(dir, 'c.db'), { now: clock.now() });
    stores.push(reopened);
    const key = loadLogKey(reopened, dir, coordinatorKey.publicKey);
    expect(() => openTransparencyLog({ store: reopened, clock, key, coordinatorKey })).toThrow(
      /do not hash to the newest checkpoint/,
    );
  });

  it('refuses UPDATE and DELETE of leaves and checkpoints (append-only triggers)', () => {
    const { log, store } = fresh();
    log.appendCeremony(ceremony(store));
    expect(() => store.db.prepare('DELETE FROM log_leaves').run()).toThrow(/append-only/);
    expect(() => store.db.prepare("UPDATE checkpoints SET note = 'x'").run()).toThrow(
      /append-only/,
    );
  });

  it('makes an auditor token once, stores only its hash and checks it in constant time', () => {
    const { store, dir } = fresh();
    const t = loadAuditorToken(store, dir);
    expect(t.created).toBe(true);
    const token = readFileSync(t.path, 'utf8').trim();
    expect(store.getSetting('auditor_token_sha256')).toMatch(/^[0-9a-f]{64}$/);
    expect(store.getSetting('auditor_token_sha256')).not.toContain(token);
    expect(t.check(token)).toBe(true);
    expect(t.check(`${token}x`)).toBe(false);
    expect(t.check('')).toBe(false);
    expect(loadAuditorToken(store, dir).created).toBe(false);
  });

  it('appends a leaf with its checkpoint quickly, and the log of 2000 verifies (timings printed)', () => {
    const { log, store } = fresh();
    const ids = store.transaction(() => Array.from({ length: 2000 }, () => ceremony(store, 1)));
    const t0 = performance.now();
    for (const id of ids.slice(0, 200)) log.appendCeremony(id);
    const perAppend = (performance.now() - t0) / 200;
    log.sweep();
    const t1 = performance.now();
    const r = log.verify();
    const verifyMs = performance.now() - t1;
    expect(r.ok).toBe(true);
    console.log(
      `log append+checkpoint: ${perAppend.toFixed(2)} ms each (synchronous=FULL); verify 2000 leaves with transcripts: ${verifyMs.toFixed(0)} ms`,
    );
    const root = decodeBase64(r.root)!;
    expect(verifyLog({ leaves: [], checkpoints: [], logKey: log.verifier }).ok).toBe(false);
    expect(root.length).toBe(32);
  });
});
