/**
 * Auditing and witnessing end to end, every party its own `conclave` process on 127.0.0.1
 * (docs/audit.md, issue 6, THREATS D.51):
 *   - a signing ceremony re-verifies offline: `conclave audit ID` as a member (pinned keys) and as
 *     the auditor (token, keys given on the command line), `audit export` then `audit FILE`;
 *   - one edited envelope in an exported bundle fails with the check named and exit 1;
 *   - `conclave log verify` checks the whole log from the checkpoint the member witnessed;
 *   - members' agents witness: after a ceremony the agent has stored the cosigned checkpoint and
 *     the coordinator holds the cosignature;
 *   - a coordinator restored from an older backup (rollback) is caught by the agents when they
 *     reconnect, loudly, and the member refuses to approve (LOG_ROLLBACK); the restored
 *     coordinator then grows a different history of the same size (fork), which the next member
 *     to connect catches (LOG_FORK_DETECTED) with both signed checkpoints kept as evidence, and
 *     which `conclave log verify --from` that checkpoint also refuses.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openDatabase } from '@conclave/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../support.js';
import { Cluster, doc, spawnCli, stop, waitFor, type Proc } from './cluster.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  code?: string;
}
interface AuditDoc {
  ok: boolean;
  ceremonyId: string;
  kind: string;
  checks: Check[];
  approvers: string[];
  culprits: string[];
  signatures: Record<string, string>;
  trust: Record<string, { key: string; source: string } | null>;
  summary: { release?: { version: string }; requester?: string; policy: string[] };
  error?: { code: string; check: string; checkCode: string };
  artifacts: { found: { name: string; from: string }[]; missing: string[] };
}
interface StartInfo {
  url: string;
  adminKeyPath: string;
  adminPublicKey: string;
  coordinatorPublicKey: string;
  logVerifierKey: string;
  auditorTokenPath: string;
}

const ARTIFACTS = join(ROOT, 'test-artifacts');
let c: Cluster;
let info: StartInfo;
let groupKey: string;
let agents: Proc[] = [];
let releases = 0;

const coordinatorDir = () => join(c.dir, 'coordinator');

async function serverCheckpoint(): Promise<{ size: number; root: string; note: string }> {
  const note = await (await fetch(`${c.url}/v1/log/checkpoint`)).text();
  const [, size, root] = note.split('\n');
  return { size: Number(size), root: root ?? '', note };
}

/** The checkpoint `member`'s home accepted last (log/checkpoint-*.json). */
function witnessed(member: string): { size: number; checkpoint: string; cosigned: boolean } | null {
  const dir = join(c.home(member), 'log');
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith('checkpoint-')) : null;
  return file ? JSON.parse(readFileSync(join(dir, file), 'utf8')) : null;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000) {
  const start = Date.now();
  while (!(await ok())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** carol requests a release of group web; the auto-approving agents of alice and bob sign it. */
async function signRelease(): Promise<{ id: string; artifact: string }> {
  releases += 1;
  const artifact = join(c.dir, `web-3.0.${releases}.tgz`);
  writeFileSync(artifact, `web 3.0.${releases} ${Date.now()}\n`);
  const r = await c.cli('carol', [
    'request',
    '--group',
    'web',
    '--artifact',
    artifact,
    '--version',
    `3.0.${releases}`,
    '--timeout',
    '120',
    '--json',
  ]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const d = doc<{ ceremonyId: string; state: string }>(r);
  expect(d.state).toBe('completed');
  return { id: d.ceremonyId, artifact };
}

/** SIGTERM the coordinator (it closes the database cleanly). */
async function stopCoordinator(): Promise<void> {
  await stop(c.coordinator);
}

/** Start it again on the same port with whatever database is in its directory. */
async function startCoordinator(): Promise<void> {
  c.coordinator = spawnCli('coordinator', [
    'coordinator',
    'start',
    '--db',
    join(coordinatorDir(), 'conclave.db'),
    '--port',
    new URL(c.url).port,
    '--json',
  ]);
  await waitFor(c.coordinator, /\n/, 30_000, 'stdout');
}

beforeAll(async () => {
  c = await Cluster.start();
  info = JSON.parse(c.coordinator.stdout.split('\n')[0]!) as StartInfo;
  await c.addMembers(['alice', 'bob', 'carol']);
  await c.createGroup('web', 2, ['alice', 'bob', 'carol']);
  const keys = await c.keygen('web', ['alice', 'bob', 'carol']);
  for (const k of keys) expect(k.code, k.stderr).toBe(0);
  groupKey = String(keys[0]!.doc['groupPublicKey']);
  agents = await Promise.all(['alice', 'bob'].map((m) => c.agent(m, { autoApprove: true })));
}, 240_000);

afterAll(async () => {
  await c?.close();
});

describe('conclave coordinator start, init', () => {
  it('prints the log verifier key and the auditor token path; init pins the log key', async () => {
    expect(info.logVerifierKey).toMatch(/^conclave\/[0-9a-f]{16}\+[0-9a-f]{8}\+/);
    expect(existsSync(info.auditorTokenPath)).toBe(true);
    const served = (await (await fetch(`${c.url}/v1/log/key`)).json()) as { verifierKey: string };
    expect(served.verifierKey).toBe(info.logVerifierKey);
    const config = JSON.parse(readFileSync(join(c.home('carol'), 'config.json'), 'utf8')) as {
      coordinator: { logKey: string };
    };
    expect(config.coordinator.logKey).toBe(info.logVerifierKey);
  });
});

describe('auditing a ceremony', () => {
  let id: string;
  let artifact: string;
  let bundleFile: string;

  beforeAll(async () => {
    ({ id, artifact } = await signRelease());
    bundleFile = join(c.dir, `bundle-${id}.json`);
  }, 180_000);

  it('conclave audit ID as a member: every check passes with the keys pinned in the home', async () => {
    const r = await c.cli('alice', ['audit', id, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const d = doc<AuditDoc>(r);
    expect(d.ok).toBe(true);
    expect(d.checks.length).toBeGreaterThanOrEqual(15);
    for (const check of d.checks) expect(check.ok, `${check.name}: ${check.detail}`).toBe(true);
    expect(d.checks.map((x) => x.name)).toEqual(
      expect.arrayContaining([
        'keys pinned',
        'envelope signatures',
        'acknowledgements name the same packages',
        'statement lists exactly the approvers',
        'included in a signed checkpoint',
      ]),
    );
    expect(d.checks.find((x) => x.name === 'keys pinned')?.detail).toMatch(/are the pinned ones/);
    expect([...d.approvers].sort()).toEqual(['alice', 'bob']);
    expect(d.culprits).toEqual([]);
    expect(d.summary.requester).toBe('carol');
    expect(d.trust['coordinatorKey']).toMatchObject({ source: 'home' });
    expect(d.trust['logKey']).toMatchObject({ source: 'home', key: info.logVerifierKey });
    expect(d.trust['groupPublicKey']).toMatchObject({ source: 'share', key: groupKey });
    // The readable report: a ✓ per check, who approved, what was signed.
    const human = await c.cli('alice', ['audit', id]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/VERIFIED — all \d+ checks pass/);
    expect(human.stdout).toMatch(/✓ envelope signatures — /);
    expect(human.stdout).toMatch(/approvers {2}alice, bob|approvers {2}bob, alice/);
    expect(human.stdout).toMatch(/artifact {3}web-3\.0\.\d+\.tgz sha256 [0-9a-f]{64}/);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'audit-report.txt'), human.stdout);
  });

  it('conclave audit ID as the auditor: token, keys given on the command line, no home', async () => {
    const args = [
      'audit',
      id,
      '--coordinator',
      c.url,
      '--home',
      join(c.dir, 'no-such-home'),
      '--auditor-token',
      info.auditorTokenPath,
    ];
    const keys = [
      '--coordinator-key',
      info.coordinatorPublicKey,
      '--admin-public-key',
      info.adminPublicKey,
      '--log-key',
      info.logVerifierKey,
      '--group-key',
      groupKey,
    ];
    // raw and OpenPGP signed the artifact bytes themselves: the auditor brings the file ...
    const r = await runCli([...args, ...keys, '--artifact', artifact, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc<AuditDoc>(r)).toMatchObject({ ok: true, trust: { logKey: { source: 'flag' } } });
    // ... or its token downloads the coordinator's copy, used because it has the request's digests.
    const fetched = await runCli([...args, ...keys, '--json']);
    expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
    expect(doc<AuditDoc>(fetched)).toMatchObject({
      ok: true,
      artifacts: { missing: [], found: [{ from: `${c.url} (as auditor)` }] },
    });
    // Offline, a bundle exported by the auditor has no bytes to rebuild raw/OpenPGP with.
    const exported = join(c.dir, 'auditor-export.json');
    const e = await runCli([
      ...['audit', 'export', id, '--out', exported, '--coordinator', c.url],
      ...['--auditor-token', info.auditorTokenPath, '--home', join(c.dir, 'no-such-home')],
    ]);
    expect(e.code, e.stdout + e.stderr).toBe(0);
    const noBytes = await runCli([
      ...['audit', exported, '--home', join(c.dir, 'no-such-home'), ...keys, '--json'],
    ]);
    expect(noBytes.code, noBytes.stdout + noBytes.stderr).toBe(1);
    expect(doc<AuditDoc>(noBytes).error).toMatchObject({
      check: 'packages rebuilt from the approved request',
    });
    expect(noBytes.stdout).toMatch(/give the artifact files/);
    expect(noBytes.stderr).toMatch(/pass --artifact FILE for web-3\.0\.\d+\.tgz/);
    // Another file under the artifact's name is refused before anything is checked.
    const impostor = join(c.dir, 'impostor', basename(artifact));
    mkdirSync(dirname(impostor), { recursive: true });
    writeFileSync(impostor, 'not the release\n');
    const wrongFile = await runCli([...args, ...keys, '--artifact', impostor, '--json']);
    expect(wrongFile.code).toBe(2);
    expect(doc(wrongFile)).toMatchObject({ ok: false, error: { code: 'ARTIFACT_MISMATCH' } });
    // Without keys: refused, and told what to pass.
    const bare = await runCli([...args, '--json']);
    expect(bare.code).toBe(2);
    expect(doc(bare)).toMatchObject({ ok: false, error: { code: 'KEYS_NOT_PINNED' } });
    expect(JSON.stringify(doc(bare))).toMatch(/--coordinator-key HEX.*--trust-bundle-keys/);
    // --trust-bundle-keys: checked against the bundle's own keys, and the report says so.
    const self = await runCli([...args, '--trust-bundle-keys', '--artifact', artifact, '--json']);
    expect(self.code, self.stdout + self.stderr).toBe(0);
    const d = doc<AuditDoc>(self);
    expect(d.trust['coordinatorKey']).toMatchObject({ source: 'bundle' });
    expect(d.checks.find((x) => x.name === 'keys pinned')?.detail).toMatch(/0 of 3 keys pinned/);
    // A wrong pinned key fails the check that names it.
    const wrong = await runCli([
      ...args,
      ...keys.slice(0, -1),
      'ab'.repeat(32), // another group key
      '--json',
    ]);
    expect(wrong.code).toBe(1);
    expect(doc<AuditDoc>(wrong).error).toMatchObject({ code: 'AUDIT_FAILED', check: 'group key' });
    // A wrong token: the coordinator refuses, with what to do.
    const badToken = join(c.dir, 'bad.token');
    writeFileSync(badToken, 'not-the-token\n');
    const refused = await runCli([
      'audit',
      id,
      '--coordinator',
      c.url,
      '--auditor-token',
      badToken,
      '--json',
    ]);
    expect(refused.code).toBe(2);
    expect(doc(refused)).toMatchObject({ ok: false });
  });

  it('conclave audit export ID --out FILE, then conclave audit FILE offline', async () => {
    const r = await c.cli('carol', ['audit', 'export', id, '--out', bundleFile, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc(r)).toMatchObject({ ok: true, ceremonyId: id, out: bundleFile });
    const bundle = JSON.parse(readFileSync(bundleFile, 'utf8')) as { format: string };
    expect(bundle.format).toBe('conclave-audit-bundle/v1');
    // Offline: stop nothing, but point at a coordinator that does not exist.
    const v = await c.cli('carol', [
      'audit',
      bundleFile,
      '--coordinator',
      'http://127.0.0.1:9',
      '--json',
    ]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(doc<AuditDoc>(v).ok).toBe(true);
  });

  it('a bundle with one edited envelope fails, naming the check, with exit 1', async () => {
    const bundle = JSON.parse(readFileSync(bundleFile, 'utf8')) as {
      transcript: { envelope: { body: { type: string; requestDigest?: string } } }[];
    };
    const approval = bundle.transcript.find((e) => e.envelope.body.type === 'sign.approve')!;
    approval.envelope.body.requestDigest = '00'.repeat(32);
    const tampered = join(c.dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify(bundle));
    const r = await c.cli('carol', ['audit', tampered, '--json']);
    expect(r.code).toBe(1);
    const d = doc<AuditDoc>(r);
    expect(d.ok).toBe(false);
    expect(d.error).toMatchObject({
      code: 'AUDIT_FAILED',
      check: 'envelope signatures',
      checkCode: 'BAD_ENVELOPE_SIGNATURE',
    });
    expect(d.checks.find((x) => x.name === 'envelope signatures')?.ok).toBe(false);
    const human = await c.cli('carol', ['audit', tampered]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/FAILED at "envelope signatures" \(BAD_ENVELOPE_SIGNATURE\)/);
    expect(human.stdout).toMatch(/✗ envelope signatures — /);
    expect(human.stderr).toMatch(/^conclave: AUDIT_FAILED: check "envelope signatures" failed/m);
    writeFileSync(join(ARTIFACTS, 'audit-report-tampered.txt'), human.stdout + human.stderr);
    // Not JSON at all: unreadable input, exit 2.
    writeFileSync(tampered, '{"format":');
    const junk = await c.cli('carol', ['audit', tampered, '--json']);
    expect(junk.code).toBe(2);
  });

  it('conclave log verify: the whole log, from the checkpoint this member witnessed', async () => {
    const r = await c.cli('alice', ['log', 'verify', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const d = doc<{
      ok: boolean;
      size: number;
      root: string;
      checkpoints: number;
      from: { size: number; source: string } | null;
      checks: Check[];
      witnesses: { name: string; verified: boolean }[];
    }>(r);
    const now = await serverCheckpoint();
    expect(d).toMatchObject({ ok: true, size: now.size, root: now.root });
    expect(d.checkpoints).toBeGreaterThanOrEqual(now.size);
    expect(d.from?.source).toMatch(/^witnessed by alice/);
    for (const check of d.checks) expect(check.ok, check.name).toBe(true);
    const human = await c.cli('alice', ['log', 'verify']);
    expect(human.stdout).toMatch(/VERIFIED/);
    writeFileSync(join(ARTIFACTS, 'log-verify-report.txt'), human.stdout);
    expect(human.stdout).toMatch(/✓ /);
  });
});

describe('members witness the log', () => {
  let snapshot: string;
  let sizeBefore: number;

  it("after a ceremony, a member's agent has stored the cosigned checkpoint and the coordinator holds the cosignature", async () => {
    // Keep a backup of the coordinator as it is now (for the rollback below).
    await stopCoordinator();
    snapshot = join(c.dir, 'coordinator-backup');
    cpSync(coordinatorDir(), snapshot, { recursive: true });
    await startCoordinator();
    sizeBefore = (await serverCheckpoint()).size;

    await signRelease();
    const after = await serverCheckpoint();
    expect(after.size).toBeGreaterThan(sizeBefore);
    // The agents re-witness when they see the ceremony end.
    await until('alice and bob to witness the new checkpoint', () =>
      ['alice', 'bob'].every((m) => witnessed(m)?.size === after.size),
    );
    const w = witnessed('alice')!;
    expect(w.cosigned).toBe(true);
    expect(w.checkpoint.split('\n').slice(0, 3)).toEqual(after.note.split('\n').slice(0, 3));
    const served = (await serverCheckpoint()).note;
    expect(served).toContain('— conclave.member/alice ');
    expect(served).toContain('— conclave.member/bob ');
    const db = openDatabase(join(coordinatorDir(), 'conclave.db'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      const rows = db
        .prepare('SELECT witness FROM witness_cosignatures WHERE size = ? ORDER BY witness')
        .all(after.size) as { witness: string }[];
      expect(rows.map((x) => x.witness)).toEqual(expect.arrayContaining(['alice', 'bob']));
    } finally {
      db.close();
    }
    // carol witnesses now too (explicitly), then stays offline.
    const r = await c.cli('carol', ['log', 'witness', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc(r)).toMatchObject({ ok: true, status: 'cosigned', size: after.size });
  });

  it('a coordinator restored from an older backup is caught by the agents when they reconnect (LOG_ROLLBACK), and the member refuses to approve', async () => {
    const seen = (await serverCheckpoint()).size;
    await stopCoordinator();
    rmSync(coordinatorDir(), { recursive: true, force: true });
    cpSync(snapshot, coordinatorDir(), { recursive: true });
    await startCoordinator();
    expect((await serverCheckpoint()).size).toBe(sizeBefore);
    expect(sizeBefore).toBeLessThan(seen);
    for (const a of agents) await waitFor(a, /!!! LOG_ROLLBACK: /, 60_000);
    expect(agents[0]!.stderr).toMatch(/refuses to approve any request until a person has looked/);
    const alarm = JSON.parse(readFileSync(join(c.home('alice'), 'log', 'alarm.json'), 'utf8')) as {
      code: string;
      evidence: string;
    };
    expect(alarm.code).toBe('LOG_ROLLBACK');
    const evidence = JSON.parse(readFileSync(join(c.home('alice'), alarm.evidence), 'utf8')) as {
      lastSeen: string;
      next: string;
    };
    expect(Number(evidence.lastSeen.split('\n')[1])).toBe(seen);
    expect(Number(evidence.next.split('\n')[1])).toBe(sizeBefore);
    // The alarm holds: alice's own approval is refused with the code.
    await Promise.all(agents.map((a) => stop(a)));
    const artifact = join(c.dir, 'web-9.9.9.tgz');
    writeFileSync(artifact, 'after the rollback\n');
    const req = await c.cli('bob', [
      'request',
      '--group',
      'web',
      '--artifact',
      artifact,
      '--version',
      '9.9.9',
      '--no-wait',
      '--json',
    ]);
    expect(req.code, req.stdout + req.stderr).toBe(0);
    const id = doc<{ ceremonyId: string }>(req).ceremonyId;
    const approve = await c.cli('alice', ['approve', id, '--yes', '--json']);
    expect(approve.code).not.toBe(0);
    expect(doc(approve)).toMatchObject({ ok: false, error: { code: 'LOG_ROLLBACK' } });
    expect(JSON.stringify(doc(approve))).toMatch(/conclave log witness --clear-alarm/);
  });

  it('the restored coordinator grows another history of the same size: the next member to connect catches the fork (LOG_FORK_DETECTED)', async () => {
    const carolSaw = witnessed('carol')!;
    // A registry operation appends a different leaf where the lost ceremony was.
    await c.addMembers(['dave']);
    await until(
      'the forked log to reach the size carol saw',
      async () => (await serverCheckpoint()).size >= carolSaw.size,
    );
    const forked = await serverCheckpoint();
    const r = await c.cli('carol', ['log', 'witness', '--json']);
    expect(r.code).toBe(1);
    const d = doc<{ ok: boolean; alarm: { code: string; evidence: string } }>(r);
    expect(d).toMatchObject({ ok: false, alarm: { code: 'LOG_FORK_DETECTED' } });
    const evidence = JSON.parse(readFileSync(join(c.home('carol'), d.alarm.evidence), 'utf8')) as {
      lastSeen: string;
      next: string;
    };
    // Two checkpoints signed by the same log, that no consistency proof can join.
    const [o1, s1, r1] = evidence.lastSeen.split('\n');
    const [o2, s2, r2] = evidence.next.split('\n');
    expect(o1).toBe(o2);
    expect(forked.size).toBe(carolSaw.size);
    expect(s1).toBe(s2);
    expect(r1).not.toBe(r2);
    expect(evidence.lastSeen).toContain(`— ${o1} `);
    expect(evidence.next).toContain(`— ${o2} `);
    // `conclave log verify --from` the checkpoint carol had accepted refuses the new history too.
    const from = join(c.dir, 'carol-saw.checkpoint');
    writeFileSync(from, carolSaw.checkpoint);
    const v = await c.cli('carol', ['log', 'verify', '--from', from, '--json']);
    expect(v.code).toBe(1);
    expect(doc(v)).toMatchObject({ ok: false, error: { code: 'LOG_VERIFY_FAILED' } });
  });
});
