// A hotfix left unratified past its window enters the transparency log (docs/audit.md, policy.md):
// a real coordinator with a fake clock and fake members over real sockets. The hotfix completes;
// the clock passes its 72 h window; the sweep (run by a read) flags it and, in the same
// transaction, appends a `governance` leaf covering the coordinator's signed `hotfix.overdue`
// record, under a new checkpoint. The inclusion proof verifies, the hotfix's bundle carries and
// proves the record, a late ratification adds no governance leaf, and after a restart the log still
// verifies with exactly one governance leaf.
import { readFileSync } from 'node:fs';
import { openDatabase } from '../src/store.js';
import {
  decodeBase64,
  logLeafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyCeremonyBundle,
  verifyLog,
  type CeremonyBundle,
  type LogLeaf,
  type TranscriptEntry,
} from '@conclave/audit';
import { type Release } from '@conclave/protocol';
import { verifyInclusion } from '@conclave/release';
import { describe, expect, it } from 'vitest';
import {
  FakeMember,
  connect,
  fetchLog,
  forkedBundle,
  getOk,
  signRelease,
  signingBundlesOf,
  sampleRelease,
  setupGroup,
  testScope,
} from './helpers.js';

import { leafTranscript } from '../src/log/service.js';
const { cleanups, fresh } = testScope();

class TestClock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

const HOUR = 3_600_000;

/** Stored transcripts, read straight from the database file (what the log service hashes). */
function transcriptsOf(dbPath: string): (leaf: LogLeaf) => TranscriptEntry[] | undefined {
  const db = openDatabase(dbPath, { readonly: true });
  const out = new Map<string, TranscriptEntry[]>();
  const leaves = db.prepare('SELECT leaf FROM log_leaves ORDER BY idx').all() as { leaf: string }[];
  for (const { leaf } of leaves) {
    const l = JSON.parse(leaf) as LogLeaf;
    out.set(`${l.kind}:${l.ceremonyId}`, leafTranscript(db, l));
  }
  db.close();
  return (leaf) => out.get(`${leaf.kind}:${leaf.ceremonyId}`);
}

function governanceLeafCount(dbPath: string): number {
  const db = openDatabase(dbPath, { readonly: true });
  const row = db
    .prepare("SELECT COUNT(*) AS n FROM log_leaves WHERE kind = 'governance'")
    .get() as {
    n: number;
  };
  db.close();
  return row.n;
}

describe('an unratified hotfix in the transparency log', () => {
  it('is a governance leaf, signed by the coordinator, appended with the flag; idempotent across restarts', async () => {
    const clock = new TestClock();
    const t = await fresh({ clock });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    cleanups.push(() => void admin.close());
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    for (const m of members) cleanups.push(() => void m.client.close());
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];

    const sign = (release: Release) => signRelease(alice, [bob, carol], release);
    const hotfixes = async () =>
      (await bob.client.query({ type: 'hotfix.list.get' }, 'hotfix.list')).hotfixes;

    const { id, end } = await sign({
      ...sampleRelease('1.0.1'),
      class: 'hotfix',
      incident: 'INC-9',
    });
    expect(end.body.type).toBe('sign.complete');
    expect((await hotfixes())[0]).toMatchObject({ ceremonyId: id, state: 'unratified' });
    expect(governanceLeafCount(t.dbPath)).toBe(0);

    // The default policy's window is 72 h; the read after it sweeps and flags.
    clock.offset = 72 * HOUR + 1_000;
    const [flagged] = await hotfixes();
    expect(flagged).toMatchObject({ ceremonyId: id, state: 'overdue' });
    expect(governanceLeafCount(t.dbPath)).toBe(1);

    // The leaf, and the checkpoint the same transaction signed over it.
    const logKey = parseVerifierKey(t.handle.logVerifierKey);
    const proof = (await (
      await getOk(t, `/v1/log/proof/inclusion?ceremony=${id}&kind=governance`)
    ).json()) as { index: number; size: number; leaf: string; proof: string[] };
    const leaf = JSON.parse(proof.leaf) as LogLeaf;
    expect(leaf).toMatchObject({
      kind: 'governance',
      ceremonyId: id,
      group: 'release',
      outcome: 'hotfix.overdue',
      entries: 1,
    });
    const cp = openCheckpoint(await (await getOk(t, '/v1/log/checkpoint')).text(), logKey);
    expect(cp.size).toBe(proof.index + 1);
    const hashes = proof.proof.map((p) => decodeBase64(p)!);
    expect(
      verifyInclusion(
        logLeafHash(new TextEncoder().encode(proof.leaf)),
        proof.index,
        cp.size,
        hashes,
        cp.root,
      ),
    ).toBe(true);

    // The whole log verifies; with the stored transcripts, the record verifies under the
    // coordinator key and carries the details.
    const fetched = await fetchLog(t);
    const report = verifyLog({
      ...fetched,
      logKey,
      transcriptOf: transcriptsOf(t.dbPath),
      coordinatorKey: t.coordinatorKey,
      bundles: await signingBundlesOf(t, fetched.leaves),
    });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.governance).toHaveLength(1);
    expect(report.governance[0]?.record).toMatchObject({
      ceremonyId: id,
      group: 'release',
      incident: 'INC-9',
      ratifyBy: flagged.ratifyBy,
      flaggedAt: flagged.flaggedAt,
      policyVersion: 0,
    });
    // The deadline the auditor re-derives from the log (sign.complete + the v0 window) is the
    // coordinator's, up to the moments between aggregation and sign.complete; flagged in time.
    expect(report.hotfixes).toMatchObject([
      { ceremonyId: id, policyVersion: 0, windowMs: 72 * HOUR, status: 'flagged' },
    ]);
    const derived = report.hotfixes[0]!.ratifyBy;
    expect(derived).toBeGreaterThanOrEqual(flagged.ratifyBy);
    expect(derived - flagged.ratifyBy).toBeLessThan(1_000);

    // The hotfix's bundle carries the governance record and proves it into the checkpoint.
    const token = readFileSync(t.handle.auditorTokenPath, 'utf8').trim();
    const bundle = (await (
      await getOk(t, `/v1/audit/bundle/${id}`, { authorization: `Bearer ${token}` })
    ).json()) as CeremonyBundle;
    const trust = {
      coordinatorKey: t.handle.coordinatorPublicKey,
      adminKey: t.handle.adminPublicKey,
      logKey: t.handle.logVerifierKey,
    };
    const checked = verifyCeremonyBundle(bundle, trust);
    expect(checked.checks.filter((c) => !c.ok)).toEqual([]);
    expect(checked.checks.map((c) => c.name)).toContain('governance records');
    expect(checked.governance).toMatchObject([{ ceremonyId: id, incident: 'INC-9' }]);
    // An edited record in the bundle is caught.
    const tampered = structuredClone(bundle);
    const entry = tampered.governance![0]!.transcript[0] as {
      envelope: { body: { incident: string } };
    };
    entry.envelope.body.incident = 'INC-10';
    const bad = verifyCeremonyBundle(tampered, trust);
    expect(bad.checks.find((c) => !c.ok)).toMatchObject({
      name: 'governance records',
      code: 'LOG_LEAF_MISMATCH',
    });
    // Its governance leaf proven into another history (the flag logged there at another time):
    // the bundle verifies alone, the log shows its flag is not this log's leaf.
    const forked = forkedBundle(t, bundle, fetched.leaves, proof.index);
    expect(verifyCeremonyBundle(forked, trust).ok).toBe(true);
    const pinned = await signingBundlesOf(t, fetched.leaves);
    const split = verifyLog({
      ...fetched,
      logKey,
      transcriptOf: transcriptsOf(t.dbPath),
      coordinatorKey: t.coordinatorKey,
      bundles: { ...pinned, of: (l) => (l.ceremonyId === id ? forked : pinned.of(l)) },
    });
    expect(split.checks.filter((c) => !c.ok).map((c) => c.code)).toEqual(['LOG_FORK_DETECTED']);
    expect(split.unverifiedCeremonies).toEqual([id]);

    // Further sweeps (reads, the log's own sweep) add nothing.
    await hotfixes();
    await hotfixes();
    expect(governanceLeafCount(t.dbPath)).toBe(1);

    // A late ratification is recorded; its own signing leaf is its log entry (no governance leaf).
    const sizeBefore = (await fetchLog(t)).leaves.length;
    const r = await sign({ ...sampleRelease('1.0.2'), ratifies: id });
    expect(r.end.body.type).toBe('sign.complete');
    expect((await hotfixes())[0]).toMatchObject({ state: 'ratified', ratifiedBy: r.id });
    const afterRatify = await fetchLog(t);
    expect(afterRatify.leaves.length).toBe(sizeBefore + 1);
    expect(JSON.parse(new TextDecoder().decode(afterRatify.leaves.at(-1)))).toMatchObject({
      kind: 'sign',
      ceremonyId: r.id,
      outcome: 'completed',
    });
    expect(governanceLeafCount(t.dbPath)).toBe(1);

    // Restart on the same directory: the log is re-checked at open, still verifies, no duplicate.
    for (const m of members) await m.client.close();
    await admin.close();
    await t.close();
    const again = await fresh({ clock, dir: t.dir });
    expect(governanceLeafCount(again.dbPath)).toBe(1);
    const refetched = await fetchLog(again);
    const reopened = verifyLog({
      ...refetched,
      logKey,
      transcriptOf: transcriptsOf(again.dbPath),
      coordinatorKey: again.coordinatorKey,
      bundles: await signingBundlesOf(again, refetched.leaves),
    });
    expect(reopened.checks.filter((c) => !c.ok)).toEqual([]);
    expect(reopened.governance.map((g) => g.ceremonyId)).toEqual([id]);
    // With transcripts, the log also shows the late ratification next to the flag.
    expect(reopened.governance[0]?.ratifiedBy?.ceremonyId).toBe(r.id);
    // …and the hotfix, flagged before the ratification that came after its deadline.
    expect(reopened.hotfixes).toMatchObject([
      { ceremonyId: id, status: 'flagged', ratifiedBy: { ceremonyId: r.id } },
    ]);
    expect(reopened.checks.map((c) => c.name)).toContain(
      'flags only hotfixes not ratified in time',
    );
  });
});
