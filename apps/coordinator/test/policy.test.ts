// Governance over the coordinator (docs/policy.md) with fake members over real sockets: a policy set
// by a quorum ceremony, refusals with their codes, the policy quorum and roles holding sessions back,
// hotfixes and their ratification window, signed revocations, and a tampered policy row refused.
import { readFileSync } from 'node:fs';
import { openDatabase } from '../src/store.js';
import {
  newCeremonyId,
  type PolicyDocument,
  type Release,
  type SealedBody,
} from '@conclave/protocol';
import {
  buildRevocationList,
  checkRevocations,
  documentArtifact,
  verifyPolicyStatement,
} from '@conclave/release';
import { describe, expect, it } from 'vitest';
import {
  metricsText,
  FakeMember,
  connect,
  expectAck,
  sampleRelease,
  testScope,
  type Frame,
  type TestClient,
  type TestCoordinator,
} from './helpers.js';

const { cleanups, fresh } = testScope();

interface World {
  t: TestCoordinator;
  admin: TestClient;
  m: Record<string, FakeMember>;
  groupPublicKey: string;
}

const ROLES: Record<string, string[]> = {
  alice: ['release-manager'],
  bob: ['lead'],
  carol: ['lead'],
  dave: ['security'],
  erin: ['oncall', 'lead'],
};

/** Five members with roles, a 2-of-5 group `release` made by DKG. */
async function world(): Promise<World> {
  const t = await fresh();
  const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
  cleanups.push(() => void admin.close());
  const m: Record<string, FakeMember> = {};
  for (const name of Object.keys(ROLES)) {
    m[name] = new FakeMember(name);
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.add',
        member: name,
        identityKey: m[name].publicKey,
        roles: ROLES[name]!,
      }),
    );
  }
  const members = Object.values(m);
  for (const x of members) {
    await x.connect(t);
    cleanups.push(() => void x.client.close());
  }
  const id = newCeremonyId();
  for (const x of members) x.dkgGroup.set(id, 'release');
  expectAck(
    await admin.submit(id, {
      type: 'admin.group.create',
      group: 'release',
      threshold: 2,
      members: members.map((x) => ({ member: x.name, identityKey: x.publicKey })),
    }),
  );
  const complete = await admin.nextBody('dkg.complete', id, 20_000);
  await new Promise((r) => setTimeout(r, 20));
  return { t, admin, m, groupPublicKey: complete.body.groupPublicKey as string };
}

const member = (w: World, name: string): FakeMember => {
  const x = w.m[name];
  if (x === undefined) throw new Error(name);
  return x;
};

const request = (w: World, by: string, id: string, release: Release): Promise<Frame> =>
  member(w, by).client.submit(id, {
    type: 'sign.request',
    group: 'release',
    release,
  } as SealedBody);

/** Requests, has `approvers` approve in order and waits for the outcome envelope. */
async function ceremony(
  w: World,
  by: string,
  release: Release,
  approvers: string[],
): Promise<{ id: string; end: Frame }> {
  const id = newCeremonyId();
  expectAck(await request(w, by, id, release));
  const end = member(w, by).client.next(
    (f) =>
      f.type === 'envelope' &&
      f.ceremonyId === id &&
      (f.body.type === 'sign.complete' || f.body.type === 'sign.aborted'),
    20_000,
  );
  for (const a of approvers) expectAck(await member(w, a).approve(id, 'release'));
  return { id, end: await end };
}

/** The ceremony's status now (status pushes already queued for it are dropped first). */
async function statusNow(client: TestClient, id: string): Promise<Frame> {
  for (let i = client.frames.length - 1; i >= 0; i--) {
    const f = client.frames[i];
    if (f.type === 'ceremony.status' && f.ceremonyId === id) client.frames.splice(i, 1);
  }
  return client.query({ type: 'ceremony.status.get', ceremonyId: id }, 'ceremony.status');
}

const policyRelease = (doc: PolicyDocument): Release => ({
  version: `policy-${doc.version}`,
  class: 'policy',
  note: 'policy change',
  artifacts: [documentArtifact(`policy-${doc.group}-v${doc.version}.json`, doc)],
  formats: ['dsse'],
  policy: doc,
});

const STRICT: PolicyDocument = {
  schema: 'conclave-policy/v1',
  group: 'release',
  version: 1,
  classes: {
    standard: {
      requesters: { roles: ['release-manager'] },
      quorum: 3,
      requiredRoles: [{ role: 'security', count: 1 }],
      artifacts: ['app*.tar.gz'],
    },
    hotfix: {
      requesters: { roles: ['oncall', 'release-manager'] },
      quorum: 2,
      requiredRoles: [{ role: 'lead', count: 1 }],
      approvalTimeoutSeconds: 600,
    },
    policy: { quorum: 3 },
  },
  hotfix: { ratificationWindowSeconds: 1, requireIncident: true },
};

const policyInfo = (w: World, version?: number): Promise<Frame> =>
  member(w, 'alice').client.query(
    {
      type: 'policy.get',
      group: 'release',
      ...(version === undefined ? {} : { version }),
    } as never,
    'policy.info',
  );

async function setStrict(w: World): Promise<string> {
  const { id, end } = await ceremony(w, 'alice', policyRelease(STRICT), ['bob', 'carol']);
  expect(end.body.type).toBe('sign.complete');
  expect(end.body.policyId).toBe('release@v0');
  return id;
}

describe('policy as data', () => {
  it('serves the default policy (v0) until one is set; ceremonies name release@v0', async () => {
    const w = await world();
    const info = await policyInfo(w);
    expect(info).toMatchObject({
      type: 'policy.info',
      version: 0,
      policyId: 'release@v0',
      latest: 0,
    });
    expect(info.signed).toBeUndefined();
    const { end } = await ceremony(w, 'bob', sampleRelease(), ['carol', 'dave']);
    expect(end.body.policyId).toBe('release@v0');
  });

  it('a policy change is a quorum ceremony: stored once signed, its statement verifies under the group key', async () => {
    const w = await world();
    const id = await setStrict(w);
    const info = await policyInfo(w);
    expect(info).toMatchObject({ version: 1, policyId: 'release@v1', latest: 1 });
    expect(info.document).toEqual(STRICT);
    expect(info.signed.ceremonyId).toBe(id);
    expect(
      verifyPolicyStatement({
        group: 'release',
        version: 1,
        document: info.document,
        statement: info.signed.statement,
        signature: info.signed.signature,
        groupPublicKey: w.groupPublicKey,
      }),
    ).toMatchObject({ ok: true, ceremonyId: id, signedUnder: 'release@v0' });
  });

  it('a policy change without its quorum stores nothing', async () => {
    const w = await world();
    const id = newCeremonyId();
    expectAck(await request(w, 'alice', id, policyRelease(STRICT)));
    expectAck(await member(w, 'bob').approve(id, 'release'));
    await new Promise((r) => setTimeout(r, 200));
    expect((await policyInfo(w)).version).toBe(0);
    // The next change names version 1 again; a second one while this is open is refused.
    const again = await request(w, 'bob', newCeremonyId(), policyRelease(STRICT));
    expect(again).toMatchObject({ type: 'error', code: 'GROUP_BUSY' });
  });

  it('refuses a proposed policy that breaks the rules (POLICY_INVALID)', async () => {
    const w = await world();
    const wrongVersion: PolicyDocument = { ...STRICT, version: 2 };
    const impossibleRole: PolicyDocument = {
      ...STRICT,
      classes: { standard: { requiredRoles: [{ role: 'auditor', count: 1 }] } },
    };
    // A requester role nobody holds (a typo, or a role never given), and a policy under which
    // nobody could request the next policy change (the group would be locked into it).
    const unheldRequesterRole: PolicyDocument = {
      ...STRICT,
      classes: { ...STRICT.classes, hotfix: { requesters: { roles: ['on-call'] } } },
    };
    const lockedIn: PolicyDocument = {
      ...STRICT,
      classes: { ...STRICT.classes, policy: { requesters: { members: [] } } },
    };
    for (const [doc, why] of [
      [wrongVersion, /its version is 2/],
      [impossibleRole, /`auditor` approver\(s\) required/],
      [unheldRequesterRole, /requester role `on-call` is held by no member/],
      [lockedIn, /locked into this policy/],
    ] as const) {
      const r = await request(w, 'alice', newCeremonyId(), policyRelease(doc));
      expect(r, JSON.stringify(doc.classes)).toMatchObject({
        type: 'error',
        code: 'POLICY_INVALID',
      });
      expect(r.message).toMatch(why);
    }
    // An artifact that is not the document: refused.
    const swapped = { ...policyRelease(STRICT), artifacts: sampleRelease().artifacts };
    expect(await request(w, 'alice', newCeremonyId(), swapped)).toMatchObject({
      code: 'INVALID_MESSAGE',
    });
  });

  it('refuses a requester the policy does not allow, and an artifact outside its patterns', async () => {
    const w = await world();
    await setStrict(w);
    const byBob = await request(w, 'bob', newCeremonyId(), {
      ...sampleRelease(),
      artifacts: [{ ...sampleRelease().artifacts[0]!, name: 'app-1.tar.gz' }],
    });
    expect(byBob).toMatchObject({ type: 'error', code: 'POLICY_REQUESTER_NOT_ALLOWED' });
    expect(byBob.message).toContain('release-manager');
    const odd = await request(w, 'alice', newCeremonyId(), {
      ...sampleRelease(),
      artifacts: [{ ...sampleRelease().artifacts[0]!, name: 'tool.zip' }],
    });
    expect(odd).toMatchObject({ type: 'error', code: 'POLICY_ARTIFACT_NOT_ALLOWED' });
    expect(odd.message).toContain('app*.tar.gz');
    const metrics = await metricsText(w.t.handle);
    expect(metrics).toMatch(
      /conclave_policy_rejections_total\{reason="POLICY_REQUESTER_NOT_ALLOWED"\} 1/,
    );
  });

  it('waits for the quorum and a `security` approver; status says what is missing', async () => {
    const w = await world();
    await setStrict(w);
    const id = newCeremonyId();
    expectAck(await request(w, 'alice', id, sampleRelease()));
    const done = member(w, 'alice').client.nextBody('sign.complete', id, 20_000);
    expectAck(await member(w, 'bob').approve(id, 'release'));
    expectAck(await member(w, 'carol').approve(id, 'release'));
    const status = await statusNow(member(w, 'alice').client, id);
    // t = 2 fresh approvers, but quorum 3 and no security approver yet: no session.
    expect(status.state).toBe('collectingApprovals');
    expect(status.policy).toEqual({
      id: 'release@v1',
      latest: 1, // the newest stored: an agent that verified v1 approves without asking again
      quorum: 3,
      requiredRoles: [{ role: 'security', count: 1 }],
      missingApprovals: 1,
      missingRoles: [{ role: 'security', count: 1 }],
    });
    expectAck(await member(w, 'dave').approve(id, 'release'));
    const complete = await done;
    expect(complete.body.policyId).toBe('release@v1');
    expect(complete.body.approvers).toEqual(['bob', 'carol', 'dave']);
    expect(complete.body.signers).toHaveLength(2);
  });

  it('ends with POLICY_ROLE_MISSING or POLICY_QUORUM_NOT_MET when the window closes short', async () => {
    const w = await world();
    const short: PolicyDocument = {
      schema: 'conclave-policy/v1',
      group: 'release',
      version: 1,
      classes: {
        standard: { quorum: 3, approvalTimeoutSeconds: 1 },
        hotfix: { requiredRoles: [{ role: 'security', count: 1 }], approvalTimeoutSeconds: 1 },
      },
    };
    const { end: set } = await ceremony(w, 'alice', policyRelease(short), ['bob', 'carol', 'dave']);
    expect(set.body.type).toBe('sign.complete');
    const quorum = await ceremony(w, 'alice', sampleRelease(), ['bob', 'carol']);
    expect(quorum.end.body).toMatchObject({
      type: 'sign.aborted',
      reason: 'expired',
      code: 'POLICY_QUORUM_NOT_MET',
    });
    expect(quorum.end.body.message).toContain('1 more approval');
    const role = await ceremony(w, 'alice', { ...sampleRelease(), class: 'hotfix' }, [
      'bob',
      'carol',
    ]);
    expect(role.end.body).toMatchObject({ code: 'POLICY_ROLE_MISSING' });
    expect(role.end.body.message).toContain('`security` approver');
  });

  it('a new policy version cancels the requests still open under the old one (POLICY_SUPERSEDED), in the transaction that stores it', async () => {
    const w = await world();
    const open = newCeremonyId();
    expectAck(await request(w, 'bob', open, sampleRelease()));
    expectAck(await member(w, 'dave').approve(open, 'release'));
    // A second one already signing: its session's packages are held by both signers.
    const signing = newCeremonyId();
    member(w, 'dave').holdPackages = true;
    member(w, 'erin').holdPackages = true;
    expectAck(await request(w, 'alice', signing, sampleRelease()));
    expectAck(await member(w, 'dave').approve(signing, 'release'));
    expectAck(await member(w, 'erin').approve(signing, 'release'));
    for (let i = 0; i < 200 && member(w, 'erin').held.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await statusNow(member(w, 'alice').client, signing)).state).toMatch(/^signing\./);
    const aborted = member(w, 'bob').client.nextBody('sign.aborted', open, 20_000);
    const abortedSigning = member(w, 'alice').client.nextBody('sign.aborted', signing, 20_000);
    const policyId = await setStrict(w);
    expect((await abortedSigning).body).toMatchObject({ code: 'POLICY_SUPERSEDED' });
    expect((await statusNow(member(w, 'alice').client, signing)).state).toBe('cancelled');
    const end = await aborted;
    expect(end.body).toMatchObject({
      type: 'sign.aborted',
      reason: 'cancelled',
      code: 'POLICY_SUPERSEDED',
      culprits: [],
    });
    expect(end.body.message).toContain('release@v1');
    expect(end.body.message).toContain(policyId);
    const status = await statusNow(member(w, 'bob').client, open);
    expect(status.state).toBe('cancelled');
    expect(status.policy).toMatchObject({
      id: 'release@v0',
      superseded: { code: 'POLICY_SUPERSEDED', by: 'release@v1', ceremonyId: policyId },
    });
    // One transaction: the cancelled state and the governance event carry the policy's time.
    const db = openDatabase(w.t.dbPath, { readonly: true });
    try {
      const policyAt = (
        db.prepare('SELECT at FROM policies WHERE grp = ? AND version = 1').get('release') as {
          at: number;
        }
      ).at;
      const ev = db
        .prepare('SELECT * FROM governance_events WHERE ceremony_id = ? AND kind = ?')
        .get(open, 'ceremony.superseded') as { detail: string; at: number };
      expect(JSON.parse(ev.detail)).toEqual({
        policyId: 'release@v1',
        ceremonyId: policyId,
        was: 0,
      });
      expect(ev.at).toBe(policyAt);
      const row = db.prepare('SELECT state, open FROM ceremonies WHERE id = ?').get(open);
      expect(row).toEqual({ state: 'cancelled', open: 0 });
      // The cancellation is in the ceremony's transcript, addressed to every member.
      const out = db
        .prepare(
          "SELECT recipient FROM transcript WHERE ceremony_id = ? AND direction = 'out' ORDER BY idx",
        )
        .all(open);
      expect(out).toEqual([{ recipient: '*' }]);
    } finally {
      db.close();
    }
    // Approving it now is refused: it is closed.
    const late = await member(w, 'carol').approve(open, 'release');
    expect(late).toMatchObject({ type: 'error' });
  });

  it('a coordinator database edited to loosen the policy is refused (POLICY_UNVERIFIED), and the served row does not verify', async () => {
    const w = await world();
    await setStrict(w);
    const db = openDatabase(w.t.dbPath);
    try {
      db.exec('DROP TRIGGER policies_no_update');
      const loose = { ...STRICT, classes: { standard: {} } };
      db.prepare('UPDATE policies SET document = ? WHERE grp = ? AND version = 1').run(
        JSON.stringify(loose),
        'release',
      );
    } finally {
      db.close();
    }
    const r = await request(w, 'bob', newCeremonyId(), sampleRelease());
    expect(r).toMatchObject({ type: 'error', code: 'POLICY_UNVERIFIED' });
    const info = await policyInfo(w);
    expect(
      verifyPolicyStatement({
        group: 'release',
        version: 1,
        document: info.document,
        statement: info.signed.statement,
        signature: info.signed.signature,
        groupPublicKey: w.groupPublicKey,
      }).ok,
    ).toBe(false);
  });
});

describe('auditors’ governance page', () => {
  const HOSTILE = '<script>window.__pwned=1</script>app*.tar.gz';
  const auditorGet = async (w: World, path: string) => {
    const token = readFileSync(w.t.handle.auditorTokenPath, 'utf8').trim();
    const res = await fetch(`${w.t.handle.url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, text: await res.text() };
  };

  it('shows each group’s policy in words with its signing ceremony, the hotfixes, and each ceremony’s policy version; a hostile pattern stays text', async () => {
    const w = await world();
    const open = newCeremonyId();
    expectAck(await request(w, 'bob', open, sampleRelease()));
    const doc: PolicyDocument = {
      ...STRICT,
      classes: {
        ...STRICT.classes,
        standard: { ...STRICT.classes.standard, artifacts: [HOSTILE, 'app*.tgz'] },
      },
      hotfix: { ratificationWindowSeconds: 3 * 86_400, requireIncident: true },
    };
    const { id: setBy, end } = await ceremony(w, 'alice', policyRelease(doc), ['bob', 'carol']);
    expect(end.body.type).toBe('sign.complete');
    const hotfix = await ceremony(
      w,
      'erin',
      { ...sampleRelease(), class: 'hotfix', incident: 'INC-<b>7</b>' },
      ['bob', 'carol'],
    );
    expect(hotfix.end.body.type).toBe('sign.complete');

    const page = await auditorGet(w, '/audit/governance');
    expect(page.status).toBe(200);
    const text = page.text;
    expect(text).toContain('id="policy-release"');
    expect(text).toMatch(/policy <span class="policy-id">release@v1<\/span>/);
    expect(text).toContain(`href="/audit/ceremony/${setBy}"`);
    expect(text).toContain('Quorum signature verifies under the group key');
    expect(text).toContain('holders of role <code>release-manager</code>');
    expect(text).toMatch(/<td class="roles">\s*1 <code>security<\/code>/);
    expect(text).toMatch(/<strong>3 days<\/strong\s*>/);
    expect(text).toMatch(/an incident id is\s+required/);
    // Escaped, never markup: the pattern and the incident id are shown as text.
    expect(text).not.toContain('<script>');
    expect(text).not.toContain('<b>7</b>');
    expect(text).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;app*.tar.gz');
    expect(text).toContain('INC-&lt;b&gt;7&lt;/b&gt;');
    expect(text).toMatch(new RegExp(`data-hotfix="${hotfix.id}" data-state="unratified"`));
    expect(text).toContain('ceremony.superseded');

    const ran = await auditorGet(w, `/audit/ceremony/${hotfix.id}`);
    expect(ran.text).toMatch(
      /class="policy-id" href="\/audit\/governance#policy-release">release@v1</,
    );
    const stale = await auditorGet(w, `/audit/ceremony/${open}`);
    expect(stale.text).toMatch(/>release@v0</);
    expect(stale.text).toContain('POLICY_SUPERSEDED: release@v1 was stored');
    const setter = await auditorGet(w, `/audit/ceremony/${setBy}`);
    expect(setter.text).toContain('policy release@v1');

    // A policy row edited behind the coordinator's back fails verification on the page.
    const db = openDatabase(w.t.dbPath);
    try {
      db.exec('DROP TRIGGER policies_no_update');
      db.prepare('UPDATE policies SET document = ? WHERE grp = ? AND version = 1').run(
        JSON.stringify({ ...doc, classes: { standard: {} } }),
        'release',
      );
    } finally {
      db.close();
    }
    const edited = await auditorGet(w, '/audit/governance');
    expect(edited.text).toContain('Quorum signature FAILED');
    const none = await fetch(`${w.t.handle.url}/audit/governance`);
    expect(none.status).toBe(401);
  });
});

describe('hotfixes', () => {
  const hotfix = (incident?: string): Release => ({
    ...sampleRelease('1.0.1'),
    class: 'hotfix',
    ...(incident === undefined ? {} : { incident }),
  });

  it('requires the incident id, completes with the hotfix quorum, and is flagged when its window passes', async () => {
    const w = await world();
    await setStrict(w);
    expect(await request(w, 'erin', newCeremonyId(), hotfix())).toMatchObject({
      code: 'POLICY_INCIDENT_REQUIRED',
    });
    expect(await request(w, 'bob', newCeremonyId(), hotfix('INC-7'))).toMatchObject({
      code: 'POLICY_REQUESTER_NOT_ALLOWED',
    });
    const { id, end } = await ceremony(w, 'erin', hotfix('INC-7'), ['bob', 'carol']);
    expect(end.body.type).toBe('sign.complete');
    const list = async () =>
      (await member(w, 'bob').client.query({ type: 'hotfix.list.get' }, 'hotfix.list')).hotfixes;
    const [h] = await list();
    expect(h).toMatchObject({ ceremonyId: id, incident: 'INC-7', version: '1.0.1' });
    expect(['unratified', 'overdue']).toContain(h.state);
    // The window is 1 s: the coordinator's timer flags it without anyone asking.
    await new Promise((r) => setTimeout(r, 1_300));
    const metrics = await metricsText(w.t.handle);
    expect(metrics).toMatch(/conclave_unratified_hotfixes 1/);
    expect(metrics).toMatch(/conclave_overdue_hotfixes 1/);
    const [flagged] = await list();
    expect(flagged).toMatchObject({ ceremonyId: id, state: 'overdue' });
    expect(flagged.flaggedAt).toBeGreaterThanOrEqual(flagged.ratifyBy);
    const db = openDatabase(w.t.dbPath, { readonly: true });
    const events = db.prepare('SELECT kind FROM governance_events ORDER BY idx').all() as {
      kind: string;
    }[];
    db.close();
    expect(events.map((e) => e.kind)).toEqual(['policy.set', 'hotfix.signed', 'hotfix.overdue']);

    // A standard ceremony ratifies it (late, so it stays in the record as overdue-then-ratified).
    expect(
      await request(w, 'alice', newCeremonyId(), {
        ...sampleRelease(),
        ratifies: 'c_nosuchhotfix0000',
      }),
    ).toMatchObject({ code: 'RATIFICATION_INVALID' });
    const r = await ceremony(w, 'alice', { ...sampleRelease(), ratifies: id }, [
      'bob',
      'carol',
      'dave',
    ]);
    expect(r.end.body.type).toBe('sign.complete');
    const [ratified] = await list();
    expect(ratified).toMatchObject({ state: 'ratified', ratifiedBy: r.id });
    const after = await metricsText(w.t.handle);
    expect(after).toMatch(/conclave_unratified_hotfixes 0/);
    expect(
      await request(w, 'alice', newCeremonyId(), { ...sampleRelease(), ratifies: id }),
    ).toMatchObject({ code: 'RATIFICATION_INVALID' });
  });
});

describe('release revocation', () => {
  it('signs a revocation statement a verifier then refuses the release with', async () => {
    const w = await world();
    const released = await ceremony(w, 'alice', sampleRelease('1.0.0'), ['bob', 'carol']);
    expect(released.end.body.type).toBe('sign.complete');
    const revokes = {
      ceremonyId: released.id,
      statementDigest: released.end.body.statementDigest as string,
      version: '1.0.0',
      artifacts: sampleRelease().artifacts.map((a) => ({
        name: a.name,
        sha256: a.sha256,
        sha512: a.sha512,
      })),
      reason: 'signing key of the build host leaked',
    };
    const revocation = (r: typeof revokes): Release => ({
      version: '1.0.0',
      class: 'revocation',
      note: 'revoke',
      artifacts: [documentArtifact(`revocation-${r.ceremonyId}.json`, r)],
      formats: ['dsse'],
      revokes: r,
    });
    const wrong = { ...revokes, statementDigest: 'ee'.repeat(32) };
    expect(await request(w, 'bob', newCeremonyId(), revocation(wrong))).toMatchObject({
      code: 'REVOCATION_INVALID',
    });
    const done = await ceremony(w, 'bob', revocation(revokes), ['carol', 'dave']);
    expect(done.end.body.type).toBe('sign.complete');
    expect(await request(w, 'bob', newCeremonyId(), revocation(revokes))).toMatchObject({
      code: 'REVOCATION_INVALID',
    });

    const page = await member(w, 'erin').client.query(
      { type: 'revocations.get', group: 'release' } as never,
      'revocations',
    );
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0]).toMatchObject({ ceremonyId: done.id, revokedCeremony: released.id });
    const file = buildRevocationList({
      group: 'release',
      groupPublicKey: w.groupPublicKey,
      entries: page.entries,
    });
    const verdict = checkRevocations({
      ceremonyId: released.id,
      revocations: file,
      groupPublicKey: w.groupPublicKey,
    });
    expect(verdict).toMatchObject({ ok: false, code: 'REVOKED' });
    expect(
      checkRevocations({
        artifacts: [{ sha256: 'ab'.repeat(32) }],
        revocations: file,
        groupPublicKey: w.groupPublicKey,
      }),
    ).toMatchObject({ code: 'REVOKED' });
  });
});
