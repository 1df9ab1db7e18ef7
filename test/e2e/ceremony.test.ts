/**
 * Key and signing ceremonies end to end: a coordinator process and every member as its own
 * `conclave` process on 127.0.0.1 (docs/ceremony-flow.md). THREATS A.9, A.19–A.20, B.24–B.27.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runCli } from '../support.js';
import {
  Cluster,
  PASSPHRASE,
  artifactIn,
  auditNames,
  doc,
  requestRelease,
  stop,
  waitFor,
} from './cluster.js';

interface Fetched {
  files: {
    signature: string;
    publicKey: string;
    message: string;
    statement: string;
    readme: string;
  };
  verify: string;
  formats: Record<string, string[]>;
  keys: Record<string, string>;
  signers: string[];
}

/** Fetches the signature files from `member`'s home and checks them with Node and openssl. */
async function fetchAndVerify(c: Cluster, member: string, ceremonyId: string, artifact: string) {
  const out = join(c.dir, `fetch-${ceremonyId}`);
  const r = await c.cli(member, ['fetch', ceremonyId, '--out', out, '--json']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const f = doc<Fetched>(r);
  const key = createPublicKey(readFileSync(f.files.publicKey, 'utf8'));
  const message = readFileSync(f.files.message);
  const signature = readFileSync(f.files.signature);
  expect(verify(null, message, key, signature)).toBe(true);
  const tampered = Buffer.from(message);
  const at = tampered.length - 2;
  tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
  expect(verify(null, tampered, key, signature)).toBe(false);
  // The signed statement names the artifact by digest.
  const statement = JSON.parse(readFileSync(f.files.statement, 'utf8')) as {
    subject: { digest: { sha256: string } }[];
  };
  const sha = createHash('sha256').update(readFileSync(artifact)).digest('hex');
  expect(statement.subject.map((s) => s.digest.sha256)).toContain(sha);
  // The exact command the README gives works.
  requireTool('openssl');
  expect(readFileSync(f.files.readme, 'utf8')).toContain(f.verify);
  execFileSync('sh', ['-c', f.verify], { stdio: 'pipe', cwd: out }); // throws if it fails
  // `conclave verify` on a format file: OK for the artifact, exit 1 with a reason for another.
  const name = basename(artifact);
  const sshsig = f.formats['sshsig']?.[0];
  expect(sshsig).toBeDefined();
  const keyFile = f.keys['allowed_signers']!;
  const good = await c.cli(member, [
    'verify',
    '--key',
    keyFile,
    '--sig',
    sshsig!,
    artifact,
    '--json',
  ]);
  expect(good.code, good.stdout + good.stderr).toBe(0);
  expect(doc<{ format: string }>(good).format).toBe('sshsig');
  const other = join(c.dir, `other-${name}`);
  writeFileSync(other, 'not the release');
  const bad = await c.cli(member, ['verify', '--key', keyFile, '--sig', sshsig!, other, '--json']);
  expect(bad.code).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, code: 'SIG_INVALID' });
  // No downgrades: the signed statement's version against --min-version (read from the DSSE
  // statement, which must itself verify under the key and name this artifact).
  const withMin = (min: string) =>
    c.cli(member, [
      'verify',
      ...['--key', keyFile, '--sig', sshsig!, '--statement', join(out, 'release.intoto.json')],
      ...['--min-version', min, artifact, '--json'],
    ]);
  const newer = await withMin('99.0.0');
  expect(newer.code, newer.stdout + newer.stderr).toBe(1);
  expect(JSON.parse(newer.stdout)).toMatchObject({ ok: false, code: 'DOWNGRADE' });
  const older = await withMin('0.0.1');
  expect(older.code, older.stdout + older.stderr).toBe(0);
  return f;
}

describe('2-of-3 through the CLI: init, member add, group create, keygen, request, approve, fetch', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start();
  });
  afterEach(async () => c?.stopMembers());
  afterAll(async () => c?.close());

  it('makes a key by DKG and signs a release with two `approve --yes` processes', async () => {
    await c.addMembers(['alice', 'bob', 'carol']);
    const keyCeremony = await c.createGroup('web', 2, ['alice', 'bob', 'carol']);
    // bob's connection drops as his round 1 and his round 2 go out, unsent: he reconnects, the
    // coordinator re-delivers what he has still to answer, and he sends each again.
    const results = await c.keygen('web', ['alice', 'bob', 'carol'], {
      bob: { CONCLAVE_TEST_FAULT: 'drop-round-sends' },
    });
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const dropped = results[1]!.stderr;
    expect(dropped).toMatch(/round 1 may not have reached the coordinator/);
    expect(dropped).toMatch(/round 2 may not have reached the coordinator/);
    const keys = new Set(results.map((r) => r.doc['groupPublicKey']));
    expect(keys.size).toBe(1);
    expect(results[0]!.doc['ceremonyId']).toBe(keyCeremony);
    for (const m of ['alice', 'bob', 'carol']) expect(c.shareFiles(m)).toEqual(['web.key']);

    const artifact = artifactIn(c, 'web-2.0.0.tgz');
    const req = await c.cli('carol', [
      'request',
      '--group',
      'web',
      '--artifact',
      artifact,
      '--version',
      '2.0.0',
      '--no-wait',
      '--json',
    ]);
    expect(req.code, req.stdout + req.stderr).toBe(0);
    const id = doc<{ ceremonyId: string }>(req).ceremonyId;

    const inbox = await c.cli('alice', ['inbox', '--json']);
    expect(inbox.code, inbox.stderr).toBe(0);
    expect(
      doc<{ items: { ceremonyId: string }[] }>(inbox).items.map((i) => i.ceremonyId),
    ).toContain(id);

    const alice = c.spawn('alice', ['approve', id, '--artifact', artifact, '--yes', '--json']);
    await waitFor(alice, /approved/);
    const bob = c.spawn('bob', ['approve', id, '--yes', '--json']);
    const [ca, cb] = await Promise.all([alice.exited, bob.exited]);
    expect(ca, alice.stderr).toBe(0);
    expect(cb, bob.stderr).toBe(0);
    expect(alice.stderr).toMatch(/1 of 2 approvals: alice — waiting for 1 more/);
    const a = doc<{ state: string; signers: string[] }>(alice);
    expect(a.state).toBe('completed');
    expect([...a.signers].sort()).toEqual(['alice', 'bob']);

    const status = await c.cli('carol', ['status', id, '--json']);
    expect(doc<{ status: { state: string } }>(status).status.state).toMatch(/completed/);
    // The requester did not sign: fetch rebuilds the statement from the request it verified.
    const f = await fetchAndVerify(c, 'carol', id, artifact);
    expect([...f.signers].sort()).toEqual(['alice', 'bob']);
  });

  it('refuses to approve when the local artifact differs from the request', async () => {
    const artifact = artifactIn(c, 'web-2.0.1.tgz');
    const req = await c.cli('carol', [
      'request',
      '--group',
      'web',
      '--artifact',
      artifact,
      '--version',
      '2.0.1',
      '--no-wait',
      '--json',
    ]);
    const id = doc<{ ceremonyId: string }>(req).ceremonyId;
    writeFileSync(artifact, 'something else\n');
    const r = await c.cli('bob', ['approve', id, '--artifact', artifact, '--yes', '--json']);
    expect(r.code).not.toBe(0);
    expect(doc(r)).toMatchObject({ ok: false, error: { code: 'ARTIFACT_MISMATCH' } });
    const status = await c.cli('carol', ['status', id, '--json']);
    expect(doc<{ status: { approvals: string[] } }>(status).status.approvals).toEqual([]);
  });
  it('cancels a request: only its requester or the admin, and a closed ceremony stays closed', async () => {
    const request = async (version: string) => {
      const r = await c.cli('carol', [
        'request',
        '--group',
        'web',
        '--artifact',
        artifactIn(c, `web-${version}.tgz`),
        '--version',
        version,
        '--no-wait',
        '--json',
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return doc<{ ceremonyId: string }>(r).ceremonyId;
    };
    const id = await request('2.0.2');
    const byBob = await c.cli('bob', ['cancel', id, '--reason', 'not mine', '--json']);
    expect(byBob.code).not.toBe(0);
    expect(doc(byBob)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const plain = await c.cli('bob', ['cancel', id, '--reason', 'not mine']);
    expect(plain.stderr).toMatch(/^conclave: FORBIDDEN: only the requester of .+ or the admin/m);

    const byCarol = await c.cli('carol', ['cancel', id, '--reason', 'wrong artifact', '--json']);
    expect(byCarol.code, byCarol.stdout + byCarol.stderr).toBe(0);
    expect(doc(byCarol)).toMatchObject({ ceremonyId: id, status: { state: 'cancelled' } });
    const again = await c.cli('carol', ['cancel', id, '--reason', 'twice', '--json']);
    expect(doc(again)).toMatchObject({ ok: false, error: { code: 'UNEXPECTED_MESSAGE' } });
    const approve = await c.cli('alice', ['approve', id, '--yes', '--json']);
    expect(approve.code).not.toBe(0);
    const status = await c.cli('alice', ['status', id, '--json']);
    expect(doc<{ status: { state: string; approvals: string[] } }>(status).status).toMatchObject({
      state: 'cancelled',
      approvals: [],
    });

    const other = await request('2.0.3');
    const byAdmin = await c.cli('carol', [
      'cancel',
      other,
      '--reason',
      'release withdrawn',
      '--admin-key',
      c.adminKey,
      '--json',
    ]);
    expect(byAdmin.code, byAdmin.stdout + byAdmin.stderr).toBe(0);
    expect(doc(byAdmin)).toMatchObject({ status: { state: 'cancelled' } });

    const bad = await c.cli('carol', ['cancel', 'no/such id', '--reason', 'x', '--json']);
    expect(doc(bad)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    const unknown = await c.cli('carol', ['cancel', 'no-such-ceremony', '--reason', 'x', '--json']);
    expect(doc(unknown)).toMatchObject({ ok: false, error: { code: 'CEREMONY_NOT_FOUND' } });
  });

  it('signs a batch: one ceremony, a Merkle root in the statement, a proof per artifact', async () => {
    const dir = join(c.dir, 'batch');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 5; i++)
      writeFileSync(join(dir, `part-${i}.bin`), `part ${i} ${Date.now()}\n`);
    const manifest = join(c.dir, 'web-3.0.0.manifest.jsonl');
    const sbom = join(c.dir, 'web-3.0.0.spdx.json');
    writeFileSync(sbom, '{"spdxVersion":"SPDX-2.3"}\n');
    const req = await c.cli('carol', [
      'request',
      '--group',
      'web',
      '--batch',
      dir,
      '--manifest-out',
      manifest,
      '--version',
      '3.0.0',
      '--formats',
      'minisign,dsse',
      '--sbom',
      sbom,
      '--no-wait',
      '--json',
    ]);
    expect(req.code, req.stdout + req.stderr).toBe(0);
    const { ceremonyId: id, release } = doc<{
      ceremonyId: string;
      release: { manifest: { root: string; size: number } };
    }>(req);
    expect(release.manifest.size).toBe(5);
    // alice checks the manifest file against the signed root; bob approves from the digests.
    const alice = c.spawn('alice', ['approve', id, '--artifact', manifest, '--yes', '--json']);
    await waitFor(alice, /root and size match the request/);
    expect(alice.stderr).toMatch(/SBOM: +web-3\.0\.0\.spdx\.json sha256 [0-9a-f]{64}/);
    const bob = c.spawn('bob', ['approve', id, '--yes', '--json']);
    expect(await alice.exited, alice.stderr).toBe(0);
    expect(await bob.exited, bob.stderr).toBe(0);

    const out = join(c.dir, 'batch-out');
    const f = await c.cli('carol', ['fetch', id, '--out', out, '--manifest', manifest, '--json']);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(doc<{ batch: { proofs: number } }>(f).batch.proofs).toBe(5);
    // The signed statement binds the SBOM by digest.
    const signedStatement = JSON.parse(readFileSync(join(out, 'statement.json'), 'utf8')) as {
      predicate: { sbom?: { name: string; sha256: string } };
    };
    expect(signedStatement.predicate.sbom).toEqual({
      name: 'web-3.0.0.spdx.json',
      sha256: createHash('sha256').update(readFileSync(sbom)).digest('hex'),
    });
    const verifyBatch = (file: string, name = basename(file), extra: string[] = []) =>
      c.cli('carol', [
        'verify',
        '--batch',
        '--key',
        join(out, 'quorum.pem'),
        '--proof',
        join(out, `${name}.proof.json`),
        '--statement',
        join(out, 'release.intoto.json'),
        file,
        '--json',
        ...extra,
      ]);
    const good = await verifyBatch(join(dir, 'part-3.bin'));
    expect(good.code, good.stdout + good.stderr).toBe(0);
    // The release checks apply to a batch as to any signature: --min-version reads the signed
    // statement's version (3.0.0).
    const current = await verifyBatch(join(dir, 'part-3.bin'), 'part-3.bin', [
      '--min-version',
      '3.0.0',
    ]);
    expect(current.code, current.stdout + current.stderr).toBe(0);
    const downgrade = await verifyBatch(join(dir, 'part-3.bin'), 'part-3.bin', [
      '--min-version',
      '3.0.1',
    ]);
    expect(downgrade.code).toBe(1);
    expect(JSON.parse(downgrade.stdout)).toMatchObject({ ok: false, code: 'DOWNGRADE' });
    // A changed artifact, or another artifact's proof, is refused with the failed check named.
    const changed = join(c.dir, 'part-3.bin');
    writeFileSync(changed, 'tampered\n');
    const bad = await verifyBatch(changed);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, code: 'BATCH_DIGEST_MISMATCH' });
    const wrongProof = await c.cli('carol', [
      'verify',
      '--batch',
      '--key',
      join(out, 'quorum.pem'),
      '--proof',
      join(out, 'part-1.bin.proof.json'),
      '--statement',
      join(out, 'release.intoto.json'),
      join(dir, 'part-3.bin'),
      '--json',
    ]);
    expect(wrongProof.code).toBe(1);
    // The ordinary-tool path: minisign verifies the manifest file the quorum signed.
    copyFileSync(manifest, join(out, basename(manifest)));
    execFileSync(
      requireTool('minisign'),
      ['-V', '-H', '-p', 'minisign.pub', '-m', basename(manifest)],
      { cwd: out, stdio: 'pipe' },
    );
  });

  it('makes a quorum-signed git tag that git verify-tag accepts', async () => {
    const repo = join(c.dir, 'repo');
    mkdirSync(repo, { recursive: true });
    const g = (...args: string[]) =>
      execFileSync(requireTool('git'), ['-C', repo, ...args], { stdio: 'pipe' }).toString();
    g('init', '-q');
    g('config', 'user.name', 'Carol');
    g('config', 'user.email', 'carol@example.com');
    writeFileSync(join(repo, 'README'), 'hello\n');
    g('add', 'README');
    g('commit', '-q', '-m', 'first');
    const tagger = c.spawn('carol', ['tag', 'v3.1.0', '--group', 'web', '--repo', repo, '--json']);
    await waitFor(tagger, /approvers run: conclave approve (c_[0-9a-f]+)/);
    const id = /conclave approve (c_[0-9a-f]+)/.exec(tagger.stderr)![1]!;
    const alice = c.spawn('alice', ['approve', id, '--yes', '--json']);
    await waitFor(alice, /approved/);
    const bob = c.spawn('bob', ['approve', id, '--yes', '--json']);
    expect(await tagger.exited, tagger.stderr).toBe(0);
    await Promise.all([alice.exited, bob.exited]);
    const r = doc<{ allowedSigners: string; object: string }>(tagger);
    expect(r.object).toBe(g('rev-parse', 'HEAD').trim());
    const verifyTag = (allowed: string) =>
      execFileSync(
        'git',
        [
          '-C',
          repo,
          '-c',
          'gpg.format=ssh',
          '-c',
          `gpg.ssh.allowedSignersFile=${allowed}`,
          'verify-tag',
          'v3.1.0',
        ],
        { stdio: 'pipe' },
      );
    expect(() => verifyTag(r.allowedSigners)).not.toThrow();
    // Under another key (an empty allowed_signers) the same tag does not verify.
    const none = join(c.dir, 'no_signers');
    writeFileSync(none, '');
    expect(() => verifyTag(none)).toThrow();
  });

  it('refuses a member the admin never registered, with a coded error and what to do', async () => {
    const home = join(c.dir, 'homes', 'mallory');
    const init = await runCli(
      ['init', '--name', 'mallory', '--coordinator', c.url, '--home', home, '--kdf-cost', '16'],
      {
        env: { CONCLAVE_PASSPHRASE: PASSPHRASE },
      },
    );
    expect(init.code, init.stderr).toBe(0);
    const plain = await runCli(['inbox', '--home', home], {
      env: { CONCLAVE_PASSPHRASE: PASSPHRASE },
    });
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/^conclave: UNKNOWN_MEMBER: .+ — ask the admin/m);
    const json = await runCli(['inbox', '--home', home, '--json'], {
      env: { CONCLAVE_PASSPHRASE: PASSPHRASE },
    });
    expect(json.code).not.toBe(0);
    expect(doc(json)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_MEMBER' } });
  });

  it('refuses a revoked member from the moment the admin revokes it', async () => {
    await c.addMembers(['trent']);
    const before = await c.cli('trent', ['inbox', '--json']);
    expect(before.code, before.stderr).toBe(0);
    const revoke = await runCli([
      'member',
      'revoke',
      'trent',
      '--reason',
      'left the team',
      '--admin-key',
      c.adminKey,
      '--coordinator',
      c.url,
      '--home',
      join(c.dir, 'admin'),
      '--json',
    ]);
    expect(revoke.code, revoke.stdout + revoke.stderr).toBe(0);
    const after = await c.cli('trent', ['inbox', '--json']);
    expect(after.code).not.toBe(0);
    expect(doc(after)).toMatchObject({ ok: false, error: { code: 'MEMBER_REVOKED' } });
  });
});

describe('DKG faults: a bad round-2 share; the coordinator killed mid-ceremony', () => {
  const members = ['alice', 'bob', 'carol'];
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start();
    await c.addMembers(members);
  });
  afterEach(async () => c?.stopMembers());
  afterAll(async () => c?.close());

  it('aborts with the culprit named and no share file written anywhere', async () => {
    const id = await c.createGroup('ops', 2, members);
    const results = await c.keygen('ops', members, {
      bob: { CONCLAVE_TEST_FAULT: 'bad-dkg-share' },
    });
    for (const r of results) {
      expect(r.code, r.stderr).not.toBe(0);
      const error = (r.doc as { error: { code: string; culprits?: string[]; ceremonyId?: string } })
        .error;
      expect(['DKG_ABORTED', 'DKG_FAILED']).toContain(error.code);
      expect(error.culprits).toEqual(['bob']);
    }
    for (const m of members) expect(c.shareFiles(m)).toEqual([]);
    const status = await c.cli('alice', ['status', id, '--json']);
    expect(doc<{ status: { state: string } }>(status).status.state).toMatch(/aborted/);
    // An auditor trusting nobody reaches the same culprit: the complaints carry the evidence
    // that opens bob's boxes, so his bad share is proven, not the accusers' word.
    await auditNames(c, 'carol', id, 'bob', /^proven by .*fails vss_verify/);
  });

  it('survives SIGKILL after round 1 began: members reconnect, the one that joins later too, and the key is made', async () => {
    const id = await c.createGroup('infra', 2, members);
    const env = { CONCLAVE_PASSPHRASE: PASSPHRASE };
    const keygen = (m: string) => c.spawn(m, ['keygen', 'infra', '--timeout', '90', '--json'], env);
    // alice and bob send round 1; carol is not there yet, so the ceremony waits in round 1.
    const early = [keygen('alice'), keygen('bob')];
    for (const p of early) await waitFor(p, /round 1 \(2-of-3 infra\)/);
    await c.restartCoordinator();
    // The restarted coordinator reloads the ceremony with both round-1 packages, and sends carol
    // the start when she connects.
    const carol = keygen('carol');
    const all = [...early, carol];
    const done = await Promise.all(all.map((p) => p.exited));
    for (const [i, code] of done.entries()) expect(code, all[i]!.stderr).toBe(0);
    const keys = all.map((p) => doc<{ groupPublicKey: string; ceremonyId: string }>(p));
    expect(new Set(keys.map((k) => k.groupPublicKey)).size).toBe(1);
    expect(keys.map((k) => k.ceremonyId)).toEqual([id, id, id]);
    for (const m of members) expect(c.shareFiles(m)).toEqual(['infra.key']);
    // Each early member reconnected after the restart.
    for (const p of early) expect(p.stderr).toMatch(/reconnected/);
  });
});

describe('3-of-5 with agents (ROAST)', () => {
  const members = ['alice', 'bob', 'carol', 'dave', 'erin'];
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start({ sessionTimeoutS: 4 });
    await c.addMembers(members);
    await c.createGroup('release', 3, members);
    const results = await c.keygen('release', members);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
  });
  afterEach(async () => c?.stopMembers());
  afterAll(async () => c?.close());

  it('signs with agents online: two approve automatically, one through `approve` handed to its agent', async () => {
    await Promise.all([
      c.agent('alice', { autoApprove: true }),
      c.agent('bob', { autoApprove: true }),
      c.agent('carol'),
      c.agent('dave'),
    ]);
    const { artifact, request } = requestRelease(c, 'erin', '3.0.0');
    await waitFor(request, /2 of 3 approvals: .* — waiting for 1 more/);
    const id = /requested (c_[0-9a-f]+)/.exec(request.stderr)?.[1] ?? '';
    // carol's agent holds her nonce ledger: `approve` reviews here and hands the approval over.
    const approve = await c.cli('carol', [
      'approve',
      id,
      '--artifact',
      artifact,
      '--yes',
      '--json',
    ]);
    expect(approve.code, approve.stdout + approve.stderr).toBe(0);
    expect(doc(approve)).toMatchObject({ ok: true, state: 'completed', handedToAgent: true });
    expect(await request.exited, request.stderr).toBe(0);
    const d = doc<{ ceremonyId: string; state: string; signers: string[] }>(request);
    expect(d.state).toBe('completed');
    expect([...d.signers].sort()).toEqual(['alice', 'bob', 'carol']);
    await fetchAndVerify(c, 'bob', d.ceremonyId, artifact);
  });

  it('completes without a signer whose process is killed after it committed', async () => {
    const { artifact, request } = requestRelease(c, 'erin', '3.0.1');
    await waitFor(request, /requested (c_[0-9a-f]+)/);
    const victim = await c.agent('alice', { autoApprove: true });
    await waitFor(victim, /approved c_/);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const others = await Promise.all(
      ['bob', 'carol', 'dave'].map((m) => c.agent(m, { autoApprove: true })),
    );
    expect(await request.exited, request.stderr).toBe(0);
    const d = doc<{
      ceremonyId: string;
      state: string;
      signers: string[];
      culprits: string[];
      sessions: number;
    }>(request);
    expect(d.state).toBe('completed');
    expect(d.signers).not.toContain('alice');
    expect(d.culprits).toContain('alice');
    expect(d.sessions).toBeGreaterThanOrEqual(2);
    await fetchAndVerify(c, 'bob', d.ceremonyId, artifact);
    await Promise.all(others.map((a) => stop(a)));
  });

  it('survives a coordinator killed with SIGKILL mid-ceremony: members reconnect and it completes', async () => {
    await Promise.all([
      c.agent('alice', { autoApprove: true }),
      c.agent('bob', { autoApprove: true }),
      c.agent('carol'),
    ]);
    const { artifact, request } = requestRelease(c, 'erin', '3.1.0');
    await waitFor(request, /2 of 3 approvals: .* — waiting for 1 more/);
    const id = /requested (c_[0-9a-f]+)/.exec(request.stderr)?.[1] ?? '';
    await c.restartCoordinator({ sessionTimeoutS: 4 });
    // The approvals so far were durable; carol's approval arrives after the restart.
    const approve = await c.cli('carol', ['approve', id, '--yes', '--json']);
    expect(approve.code, approve.stdout + approve.stderr).toBe(0);
    expect(await request.exited, request.stderr).toBe(0);
    const d = doc<{ ceremonyId: string; state: string; signers: string[] }>(request);
    expect(d.state).toBe('completed');
    expect([...d.signers].sort()).toEqual(['alice', 'bob', 'carol']);
    await fetchAndVerify(c, 'alice', d.ceremonyId, artifact);
  });

  it('names and excludes a signer that sends a corrupted share, and still completes', async () => {
    const { artifact, request } = requestRelease(c, 'erin', '3.0.2');
    await waitFor(request, /requested (c_[0-9a-f]+)/);
    const cheat = await c.agent('dave', {
      autoApprove: true,
      env: { CONCLAVE_TEST_FAULT: 'bad-sign-share' },
    });
    await waitFor(cheat, /approved c_/);
    const others = await Promise.all(
      ['alice', 'bob', 'carol'].map((m) => c.agent(m, { autoApprove: true })),
    );
    expect(await request.exited, request.stderr).toBe(0);
    const d = doc<{ ceremonyId: string; state: string; signers: string[]; culprits: string[] }>(
      request,
    );
    expect(d.state).toBe('completed');
    expect(d.culprits).toEqual(['dave']);
    expect(d.signers).not.toContain('dave');
    const status = doc<{ status: { culprits: string[] } }>(
      await c.cli('erin', ['status', d.ceremonyId, '--json']),
    );
    expect(status.status.culprits).toEqual(['dave']);
    await fetchAndVerify(c, d.signers[0]!, d.ceremonyId, artifact);
    await Promise.all([cheat, ...others].map((a) => stop(a)));
  });
});
