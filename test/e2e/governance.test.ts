/**
 * Governance end to end (docs/policy.md): a coordinator and every member as their own `conclave`
 * process. A policy set by a quorum ceremony; refusals with their codes (requester, artifact,
 * incident, a missing role, a quorum below policy); a policy change without its quorum stays
 * unsigned; a hotfix through the fast path, flagged when its ratification window passes, then
 * ratified; a signed release revoked and refused by checkRevocations; a downgrade refused by
 * checkMinVersion; a coordinator database edited to loosen the policy caught by the members.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@conclave/coordinator';
import { checkMinVersion, checkRevocations } from '@conclave/release';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support.js';
import { Cluster, PASSPHRASE, doc, stop, waitFor, type Proc } from './cluster.js';

const ROLES: Record<string, string> = {
  alice: 'release-manager',
  bob: 'lead',
  carol: 'lead',
  dave: 'security,lead',
};

/** `conclave init` and `conclave member add --roles` for each member. */
async function addMembersWithRoles(c: Cluster): Promise<void> {
  for (const [name, roles] of Object.entries(ROLES)) {
    const home = join(c.dir, 'homes', name);
    const init = await runCli(
      [
        'init',
        '--name',
        name,
        '--coordinator',
        c.url,
        '--home',
        home,
        '--kdf-cost',
        '16',
        '--json',
      ],
      { env: { CONCLAVE_PASSPHRASE: PASSPHRASE } },
    );
    expect(init.code, init.stdout + init.stderr).toBe(0);
    c.homes.set(name, home);
    c.keys.set(name, doc<{ identityKey: string }>(init).identityKey);
    const add = await runCli([
      'member',
      'add',
      name,
      '--key',
      c.keys.get(name)!,
      '--roles',
      roles,
      '--admin-key',
      c.adminKey,
      '--coordinator',
      c.url,
      '--home',
      join(c.dir, 'admin'),
      '--json',
    ]);
    expect(add.code, add.stdout + add.stderr).toBe(0);
  }
}

const POLICY_V1 = {
  classes: {
    standard: {
      requesters: { roles: ['release-manager'] },
      quorum: 3,
      requiredRoles: [{ role: 'security', count: 1 }],
      artifacts: ['app-*.tgz'],
      approvalTimeoutSeconds: 180,
    },
    hotfix: {
      requesters: { roles: ['release-manager', 'lead'] },
      quorum: 2,
      requiredRoles: [{ role: 'lead', count: 1 }],
      approvalTimeoutSeconds: 120,
    },
    policy: { quorum: 3, approvalTimeoutSeconds: 25 },
    revocation: { quorum: 2 },
  },
  hotfix: { ratificationWindowSeconds: 4, requireIncident: true },
};

const errorOf = (r: { stdout: string; stderr: string }) =>
  doc<{ ok: boolean; error: { code: string; message: string } }>(r).error;

/** The ceremony id a waiting `request` / `policy set` process printed. */
async function requestedId(p: Proc): Promise<string> {
  await waitFor(p, /requested (c_[0-9a-f]+)/);
  return /requested (c_[0-9a-f]+)/.exec(p.stderr)![1]!;
}

describe('governance through the CLI: policy, hotfix, revocation', () => {
  let c: Cluster;
  const ids: Record<string, string> = {};
  // Two requests that can never get what policy v1 asks, left open until their 180 s approval
  // window closes. The tests in between run meanwhile (none approves a `standard` request on its
  // own: the auto-approving agents come after), so the wait costs the suite nothing.
  let expiring: { missingRole: Proc; belowQuorum: Proc } | undefined;
  const artifact = (name: string) => {
    const path = join(c.dir, name);
    writeFileSync(path, `${name} ${Date.now()}\n`);
    return path;
  };
  const request = (member: string, file: string, version: string, extra: string[] = []) => [
    'request',
    '--group',
    'release',
    '--artifact',
    file,
    '--version',
    version,
    '--formats',
    'dsse,sshsig',
    ...extra,
    '--json',
  ];
  const approve = (member: string, id: string) =>
    c.spawn(member, ['approve', id, '--yes', '--json']);

  beforeAll(async () => {
    c = await Cluster.start();
    await addMembersWithRoles(c);
    await c.createGroup('release', 2, Object.keys(ROLES));
    for (const r of await c.keygen('release', Object.keys(ROLES))) expect(r.code, r.stderr).toBe(0);
  });
  afterEach(async () => c?.stopMembers());
  afterAll(async () => {
    if (expiring !== undefined) await Promise.all(Object.values(expiring).map((p) => stop(p)));
    await c?.close();
  });

  it('the default policy applies until a quorum ceremony sets one; the new version is verified by members', async () => {
    const before = await c.cli('bob', ['policy', 'show', 'release', '--json']);
    expect(before.code, before.stderr).toBe(0);
    expect(doc(before)).toMatchObject({ version: 0, policyId: 'release@v0', verified: true });

    // A request still open under v0 when v1 lands is cancelled (POLICY_SUPERSEDED).
    const open = await c.cli(
      'alice',
      request('alice', artifact('app-0.tgz'), '0.9.0', ['--no-wait']),
    );
    expect(open.code, open.stderr).toBe(0);
    const staleId = doc<{ ceremonyId: string }>(open).ceremonyId;

    const file = join(c.dir, 'policy-v1.json');
    writeFileSync(file, JSON.stringify(POLICY_V1, null, 2));
    const set = c.spawn('alice', ['policy', 'set', 'release', '--file', file, '--json']);
    const id = await requestedId(set);
    const [b, k] = [approve('bob', id), approve('carol', id)];
    expect(await set.exited, set.stderr).toBe(0);
    expect(doc(set)).toMatchObject({ ceremonyId: id, version: 1, policyId: 'release@v1' });
    await Promise.all([b.exited, k.exited]);

    const stale = await c.cli('alice', ['status', staleId]);
    expect(stale.stdout, stale.stderr).toMatch(
      new RegExp(
        `cancelled: POLICY_SUPERSEDED — policy release@v1 \\(set by ${id}\\) replaced release@v0 while the request was open; request again`,
      ),
    );
    const staleJson = await c.cli('alice', ['status', staleId, '--json']);
    expect(
      doc<{ status: { state: string; policy: { superseded: unknown } } }>(staleJson).status,
    ).toMatchObject({
      state: 'cancelled',
      policy: { superseded: { code: 'POLICY_SUPERSEDED', by: 'release@v1', ceremonyId: id } },
    });
    expect(b.stderr).toMatch(/policy release@v0 \(default policy\)/);
    expect(b.stderr).toMatch(/PROPOSED POLICY release@v1 — approving adopts it/);

    const after = await c.cli('dave', ['policy', 'show', '--json']);
    expect(doc(after)).toMatchObject({
      version: 1,
      policyId: 'release@v1',
      verified: true,
      signedIn: id,
      signedUnder: 'release@v0',
    });
    const human = await c.cli('dave', ['policy', 'show']);
    expect(human.stdout).toMatch(/standard\s+quorum 3; 1 `security`/);
  });

  it('refuses a requester, an artifact and a hotfix without incident, each with its code', async () => {
    const byBob = await c.cli('bob', request('bob', artifact('app-1.tgz'), '1.0.0', ['--no-wait']));
    expect(byBob.code).not.toBe(0);
    expect(errorOf(byBob).code).toBe('POLICY_REQUESTER_NOT_ALLOWED');
    expect(errorOf(byBob).message).toMatch(/release-manager/);
    const odd = await c.cli(
      'alice',
      request('alice', artifact('tool.zip'), '1.0.0', ['--no-wait']),
    );
    expect(errorOf(odd).code).toBe('POLICY_ARTIFACT_NOT_ALLOWED');
    const hotfix = await c.cli(
      'bob',
      request('bob', artifact('app-hf.tgz'), '1.0.1', ['--class', 'hotfix', '--no-wait']),
    );
    expect(errorOf(hotfix).code).toBe('POLICY_INCIDENT_REQUIRED');
  });

  it('a missing `security` approver and a quorum below policy keep the session closed', async () => {
    const missingRole = c.spawn('alice', request('alice', artifact('app-2.tgz'), '2.0.0'));
    const belowQuorum = c.spawn('alice', request('alice', artifact('app-3.tgz'), '3.0.0'));
    const [roleId, quorumId] = [await requestedId(missingRole), await requestedId(belowQuorum)];
    const approvals = [
      approve('alice', roleId),
      approve('bob', roleId),
      approve('carol', quorumId),
      approve('dave', quorumId),
    ];
    await waitFor(approvals[1]!, /and a `security` approver \(policy release@v1\)/);
    const status = await c.cli('bob', ['status', roleId]);
    expect(status.stdout, status.stdout + status.stderr).toMatch(
      /waiting for [12] more approvals? and a `security` approver \(policy release@v1\)/,
    );
    await waitFor(approvals[3]!, /waiting for 1 more approval \(policy release@v1\)/);
    // The approvers stop (their commitments stay recorded; the next tests need their homes). The
    // two requests go on waiting, past this test's afterEach.
    await Promise.all(approvals.map((p) => stop(p)));
    c.procs.splice(
      0,
      c.procs.length,
      ...c.procs.filter((p) => p !== missingRole && p !== belowQuorum),
    );
    expiring = { missingRole, belowQuorum };
  });

  it('signs once the quorum and the `security` approver are in; the statement names release@v1', async () => {
    const req = c.spawn('alice', request('alice', artifact('app-4.tgz'), '4.0.0'));
    const id = await requestedId(req);
    // All three at once: under CI load a CLI process can take many seconds to start, and the
    // window is 180 s (a 60 s one expired once in a loaded run). That the session stays closed
    // without the `security` approver is the previous test's; here the quorum with dave signs.
    const early = [approve('bob', id), approve('carol', id)];
    const dave = approve('dave', id);
    expect(await req.exited, req.stderr).toBe(0);
    expect(doc(req)).toMatchObject({ state: 'completed' });
    await Promise.all([...early, dave].map((p) => p.exited));
    ids['v4'] = id;
    const out = join(c.dir, 'fetch-v4');
    const f = await c.cli('dave', ['fetch', id, '--out', out, '--json']);
    expect(f.code, f.stderr).toBe(0);
    ids['v4statement'] = doc<{ files: { statement: string } }>(f).files.statement;
    const statement = JSON.parse(readFileSync(ids['v4statement'], 'utf8')) as {
      predicate: { policyId: string; approvers: { member: string }[] };
    };
    expect(statement.predicate.policyId).toBe('release@v1');
    // The three approve at the same time: their order is the coordinator's arrival order.
    expect(statement.predicate.approvers.map((a) => a.member).sort()).toEqual([
      'bob',
      'carol',
      'dave',
    ]);
  });

  it('a policy change without its quorum (3 under release@v1) is never stored', async () => {
    const file = join(c.dir, 'policy-v2.json');
    writeFileSync(file, JSON.stringify({ classes: { standard: {} } }));
    const set = c.spawn('alice', ['policy', 'set', 'release', '--file', file, '--json']);
    const id = await requestedId(set);
    const b = approve('bob', id);
    const k = approve('carol', id);
    expect(await set.exited).not.toBe(0);
    expect(errorOf(set).code).toBe('POLICY_QUORUM_NOT_MET');
    await Promise.all([b.exited, k.exited]);
    const show = await c.cli('carol', ['policy', 'show', '--json']);
    expect(doc(show)).toMatchObject({ version: 1 });
  });

  it('hotfix fast path: every agent shows it, a quorum signs it, it is flagged when unratified, then ratified', async () => {
    const agent = await c.agent('carol');
    const req = c.spawn(
      'bob',
      request('bob', artifact('app-4.0.1.tgz'), '4.0.1', [
        '--class',
        'hotfix',
        '--incident',
        'INC-42',
      ]),
    );
    const id = await requestedId(req);
    await waitFor(agent, new RegExp(`HOTFIX ${id} for release 4.0.1 \\(incident INC-42\\)`));
    const approvals = [approve('alice', id), approve('dave', id)];
    expect(await req.exited, req.stderr).toBe(0);
    await Promise.all(approvals.map((p) => p.exited));
    await c.stopMembers();

    const listed = await c.cli('alice', ['status', '--json']);
    const hotfixes = () =>
      c
        .cli('alice', ['status', '--json'])
        .then((r) =>
          doc<{ hotfixes: { ceremonyId: string; state: string }[]; unratified: number }>(r),
        );
    expect(doc<{ unratified: number }>(listed).unratified).toBe(1);
    await new Promise((r) => setTimeout(r, 4_500)); // the 4 s ratification window passes
    const flagged = await hotfixes();
    expect(flagged.hotfixes.find((h) => h.ceremonyId === id)?.state).toBe('overdue');
    const human = await c.cli('alice', ['status']);
    expect(human.stdout).toMatch(new RegExp(`${id} release 4.0.1 incident INC-42: NOT RATIFIED`));
    // Metrics are the operator's: the auditor token (made at first start) as a bearer credential.
    const token = readFileSync(join(c.dir, 'coordinator', 'auditor.token'), 'utf8').trim();
    const metrics = await (
      await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    expect(metrics).toMatch(/conclave_unratified_hotfixes 1/);
    expect(metrics).toMatch(/conclave_overdue_hotfixes 1/);
    // The flag is in the transparency log: `conclave log verify` finds it among the leaves, and
    // `conclave audit ID` checks the coordinator-signed record the governance leaf covers.
    const logged = await c.cli('alice', ['log', 'verify', '--json']);
    expect(logged.code, logged.stdout + logged.stderr).toBe(0);
    expect(
      doc<{ ok: boolean; overdueHotfixes: { ceremonyId: string; group: string }[] }>(logged),
    ).toMatchObject({ ok: true, overdueHotfixes: [{ ceremonyId: id, group: 'release' }] });
    const loggedHuman = await c.cli('alice', ['log', 'verify']);
    expect(loggedHuman.stdout).toMatch(
      new RegExp(`1 hotfix flagged unratified[^\\n]*\\n\\s+${id} \\(release\\)`),
    );
    const audited = await c.cli('alice', ['audit', id, '--json']);
    expect(audited.code, audited.stdout + audited.stderr).toBe(0);
    expect(
      doc<{ ok: boolean; governance: { ceremonyId: string; incident?: string }[] }>(audited),
    ).toMatchObject({ ok: true, governance: [{ ceremonyId: id, incident: 'INC-42' }] });

    const ratify = c.spawn(
      'alice',
      request('alice', artifact('app-4.0.2.tgz'), '4.0.2', ['--ratifies', id]),
    );
    const rid = await requestedId(ratify);
    const votes = [approve('bob', rid), approve('carol', rid), approve('dave', rid)];
    expect(await ratify.exited, ratify.stderr).toBe(0);
    await Promise.all(votes.map((p) => p.exited));
    const after = await hotfixes();
    expect(after.unratified).toBe(0);
    expect(after.hotfixes.find((h) => h.ceremonyId === id)?.state).toBe('ratified');

    // With the auditor token, `log verify` also reads every signing transcript: it re-derives the
    // hotfix's deadline under the policy version it ran under (4 s, set by a logged policy
    // ceremony) and finds the flag logged before anything dated past deadline + grace.
    const deep = await c.cli('alice', [
      'log',
      'verify',
      '--json',
      '--auditor-token',
      join(c.dir, 'coordinator', 'auditor.token'),
    ]);
    expect(deep.code, deep.stdout + deep.stderr).toBe(0);
    expect(
      doc<{
        ok: boolean;
        hotfixDeadlines: { ceremonyId: string; status: string; windowMs: number }[];
      }>(deep),
    ).toMatchObject({
      ok: true,
      hotfixDeadlines: [
        { ceremonyId: id, status: 'flagged', windowMs: 4_000, policySource: 'log' },
      ],
    });
  });

  it('revokes a signed release: a quorum signs the revocation, the exported list makes checkRevocations refuse it', async () => {
    const id = ids['v4']!;
    const revoke = c.spawn('bob', [
      'release',
      'revoke',
      id,
      '--reason',
      'build host compromised',
      '--json',
    ]);
    const rid = await requestedId(revoke);
    const votes = [approve('carol', rid), approve('dave', rid)];
    expect(await revoke.exited, revoke.stderr).toBe(0);
    expect(doc(revoke)).toMatchObject({ ceremonyId: rid, revokes: id, version: '4.0.0' });
    await Promise.all(votes.map((p) => p.exited));

    const file = join(c.dir, 'revocations.json');
    const list = await c.cli('alice', ['release', 'revocations', '--out', file, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const { groupPublicKey } = doc<{ groupPublicKey: string }>(list);
    const statement = JSON.parse(readFileSync(ids['v4statement']!, 'utf8')) as {
      subject: { digest: { sha256: string } }[];
    };
    const revoked = checkRevocations({
      statement,
      revocations: readFileSync(file),
      groupPublicKey,
    });
    expect(revoked).toMatchObject({ ok: false, code: 'REVOKED' });
    expect(revoked.ok ? '' : revoked.reason).toMatch(/build host compromised/);
    const artifactOnly = checkRevocations({
      artifacts: [{ sha256: statement.subject[0]!.digest.sha256 }],
      revocations: readFileSync(file),
      groupPublicKey,
    });
    expect(artifactOnly).toMatchObject({ code: 'REVOKED' });
    // Versions carried by statements: an older release is a downgrade.
    expect(checkMinVersion('4.0.0', '4.0.2')).toMatchObject({ ok: false, code: 'DOWNGRADE' });
    expect(checkMinVersion('4.0.2', '4.0.2').ok).toBe(true);
  });

  it('the two requests policy v1 could not serve end, when their window closes, with their codes', async () => {
    const { missingRole, belowQuorum } = expiring!;
    expect(await missingRole.exited).not.toBe(0);
    expect(errorOf(missingRole)).toMatchObject({ code: 'POLICY_ROLE_MISSING' });
    expect(errorOf(missingRole).message).toMatch(/`security` approver/);
    expect(await belowQuorum.exited).not.toBe(0);
    expect(errorOf(belowQuorum)).toMatchObject({ code: 'POLICY_QUORUM_NOT_MET' });
  });

  it('a bare --auto-approve agent leaves a hotfix to a person; agents that list hotfix approve it', async () => {
    const bare = await c.agent('carol', { autoApprove: true });
    expect(bare.stderr).toMatch(/auto-approve: standard\)/);
    const req = c.spawn(
      'bob',
      request('bob', artifact('app-4.0.3.tgz'), '4.0.3', [
        '--class',
        'hotfix',
        '--incident',
        'INC-43',
      ]),
    );
    const id = await requestedId(req);
    await waitFor(
      bare,
      new RegExp(`${id}: a hotfix request \\(4\\.0\\.3, requested by bob\\) is not auto-approved`),
    );
    const pending = await c.cli('bob', ['status', id, '--json']);
    // Nobody approved it: the bare agent left it to a person.
    expect(doc<{ status: { approvals: string[] } }>(pending).status.approvals).toEqual([]);
    const listing = await Promise.all([
      c.agent('alice', { autoApprove: 'hotfix' }),
      c.agent('dave', { autoApprove: 'standard,hotfix' }),
    ]);
    await Promise.all(listing.map((a) => waitFor(a, new RegExp(`auto-approving ${id}`))));
    expect(await req.exited, req.stderr).toBe(0);
    expect(doc<{ approvers: string[] }>(req).approvers.sort()).toEqual(['alice', 'dave']);
    expect(bare.stderr).not.toMatch(new RegExp(`auto-approving ${id}`));
    // A standard request that is a key rotation's statement (version rotation-…) needs a person
    // whatever the classes listed: auto-approved, any member could move the group's trust to a
    // key of its own (verify-transition takes a standard rotation-… statement of the old quorum).
    const rotation = await c.cli(
      'alice',
      request('alice', artifact('app-rotation-9.tgz'), 'rotation-9', ['--no-wait']),
    );
    expect(rotation.code, rotation.stdout + rotation.stderr).toBe(0);
    const rid = doc<{ ceremonyId: string }>(rotation).ceremonyId;
    const refused = new RegExp(
      `${rid}: a key rotation's statement \\(version rotation-9\\), requested by alice, is never auto-approved`,
    );
    // carol's agent auto-approves standard, dave's standard and hotfix: both leave it to a person.
    await Promise.all([bare, listing[1]!].map((a) => waitFor(a, refused)));
    const untouched = await c.cli('alice', ['status', rid, '--json']);
    expect(doc<{ status: { approvals: string[] } }>(untouched).status.approvals).toEqual([]);
    const withdrawn = await c.cli('alice', ['cancel', rid, '--reason', 'test over', '--json']);
    expect(withdrawn.code, withdrawn.stderr).toBe(0);
    // A class that is not one is refused before the agent starts.
    const wrong = await c.cli('bob', ['agent', '--auto-approve', 'all', '--json']);
    expect(wrong.code).not.toBe(0);
    expect(errorOf(wrong).code).toBe('INVALID_ARGUMENT');
  });

  it('a coordinator database edited to loosen the policy is caught: members refuse it, the coordinator too', async () => {
    const pending = await c.cli(
      'alice',
      request('alice', artifact('app-5.tgz'), '5.0.0', ['--no-wait']),
    );
    expect(pending.code, pending.stderr).toBe(0);
    const id = doc<{ ceremonyId: string }>(pending).ceremonyId;
    const db = openDatabase(join(c.dir, 'coordinator', 'conclave.db'));
    try {
      db.exec('DROP TRIGGER policies_no_update');
      const row = db
        .prepare('SELECT document FROM policies WHERE grp = ? AND version = 1')
        .get('release') as {
        document: string;
      };
      const loose = { ...(JSON.parse(row.document) as object), classes: { standard: {} } };
      db.prepare('UPDATE policies SET document = ? WHERE grp = ? AND version = 1').run(
        JSON.stringify(loose),
        'release',
      );
    } finally {
      db.close();
    }
    const show = await c.cli('bob', ['policy', 'show', '--json']);
    expect(show.code).not.toBe(0);
    expect(errorOf(show).code).toBe('POLICY_UNVERIFIED');
    const approveIt = await c.cli('bob', ['approve', id, '--yes', '--json']);
    expect(approveIt.code).not.toBe(0);
    expect(errorOf(approveIt).code).toBe('POLICY_UNVERIFIED');
    const again = await c.cli(
      'alice',
      request('alice', artifact('app-6.tgz'), '6.0.0', ['--no-wait']),
    );
    expect(errorOf(again).code).toBe('POLICY_UNVERIFIED');
  });
});
