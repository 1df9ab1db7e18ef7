/**
 * Key lifecycle end to end (docs/lifecycle.md): a coordinator and every member as its own
 * `conclave` process. Refresh, reshare (3-of-5 → 4-of-6 adding a member; 3-of-5 → 2-of-4 removing
 * a revoked one) and repair keep the group public key, and a later release still verifies under it;
 * a revoked member is refused at once and its old share cannot help sign. THREATS B.30–B.33.
 */
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Home } from '@conclave/client';
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support.js';
import { Cluster, PASSPHRASE, doc, stop, waitFor, type Proc } from './cluster.js';

const FIVE = ['alice', 'bob', 'carol', 'dave', 'erin'];

/** An admin command of the cluster (admin key, coordinator, the admin's registry home). */
function admin(c: Cluster, args: readonly string[]) {
  return runCli(
    [
      ...args,
      '--admin-key',
      c.adminKey,
      '--coordinator',
      c.url,
      '--home',
      join(c.dir, 'admin'),
      '--json',
    ],
    { timeoutMs: 200_000 },
  );
}

/** Runs the admin's lifecycle command and `conclave keygen GROUP` for `members`, all at once. */
async function lifecycle(c: Cluster, args: readonly string[], group: string, members: string[]) {
  const [a, ...keygens] = await Promise.all([
    admin(c, args),
    ...members.map((m) => keygen(c, group, m)),
  ]);
  expect(a!.code, a!.stdout + a!.stderr).toBe(0);
  for (const k of keygens) expect(k.code, k.stdout + k.stderr).toBe(0);
  return {
    admin: doc<Record<string, unknown>>(a!),
    members: keygens.map((k) => doc<Record<string, unknown>>(k)),
  };
}

function keygen(c: Cluster, group: string, member: string) {
  return c.cli(member, ['keygen', group, '--timeout', '150', '--json']);
}

/** Every file in a member's shares directory, dot-files (pending, backups) included. */
const allShareFiles = (c: Cluster, member: string): string[] => {
  const dir = join(c.home(member), 'shares');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

let releases = 0;

/** `requester` asks for a signature; `approvers` approve; returns the request's JSON result. */
async function signRelease(c: Cluster, group: string, requester: string, approvers: string[]) {
  releases += 1;
  const version = `7.0.${releases}`;
  const artifact = join(c.dir, `${group}-${version}.tgz`);
  writeFileSync(artifact, `artifact ${group} ${version} ${Date.now()}\n`);
  const request = c.spawn(requester, [
    'request',
    '--group',
    group,
    '--artifact',
    artifact,
    '--version',
    version,
    '--json',
  ]);
  await waitFor(request, /requested (c_[0-9a-f]+)/);
  const id = /requested (c_[0-9a-f]+)/.exec(request.stderr)?.[1] ?? '';
  const approvals: Proc[] = approvers.map((m) => c.spawn(m, ['approve', id, '--yes', '--json']));
  const codes = await Promise.all(approvals.map((p) => p.exited));
  codes.forEach((code, i) => expect(code, approvals[i]!.stderr).toBe(0));
  expect(await request.exited, request.stderr).toBe(0);
  const d = doc<{ ceremonyId: string; state: string; signers: string[]; groupPublicKey: string }>(
    request,
  );
  expect(d.state).toBe('completed');
  return { ...d, artifact };
}

/** Fetches the ceremony's files and checks the statement signature with Node under `key`. */
async function verifiesUnder(c: Cluster, member: string, ceremonyId: string, key: string) {
  const out = join(c.dir, `fetch-${ceremonyId}`);
  const r = await c.cli(member, ['fetch', ceremonyId, '--out', out, '--json']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const f = doc<{ files: { signature: string; publicKey: string; message: string } }>(r);
  const pem = createPublicKey(readFileSync(f.files.publicKey, 'utf8'));
  const raw = pem.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  expect(raw).toBe(key);
  const message = readFileSync(f.files.message);
  expect(verify(null, message, pem, readFileSync(f.files.signature))).toBe(true);
}

async function loadShare(c: Cluster, member: string, group: string) {
  const home = await Home.open(c.home(member));
  return home.loadShare(group, PASSPHRASE);
}

function signsWith(keys: readonly KeyPackage[], pub: PublicKeyPackage): boolean {
  const message = new TextEncoder().encode('a release the old share should not be able to sign');
  const r1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    r1.map((r) => r.commitments),
    message,
  );
  try {
    const sig = frost.aggregate(
      pkg,
      keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k)),
      pub,
    );
    return frost.verify(message, sig, pub.verifyingKey);
  } catch {
    return false;
  }
}

describe('key lifecycle through the CLI', () => {
  let c: Cluster;
  let releaseKey = '';
  let webKey = '';
  beforeAll(async () => {
    c = await Cluster.start();
    await c.addMembers([...FIVE, 'frank']);
    await c.createGroup('release', 3, FIVE);
    const r = await c.keygen('release', FIVE);
    for (const x of r) expect(x.code, x.stderr).toBe(0);
    releaseKey = String(r[0]!.doc['groupPublicKey']);
    await c.createGroup('web', 3, FIVE);
    const w = await c.keygen('web', FIVE);
    for (const x of w) expect(x.code, x.stderr).toBe(0);
    webKey = String(w[0]!.doc['groupPublicKey']);
  }, 600_000);
  afterAll(async () => c?.close());

  it('refresh: new shares (epoch 1), same key and threshold; a later release verifies under the same key', async () => {
    const before = await loadShare(c, 'alice', 'release');
    const r = await lifecycle(c, ['group', 'refresh', 'release'], 'release', FIVE);
    expect(r.admin).toMatchObject({
      kind: 'refresh',
      epoch: 1,
      threshold: 3,
      groupPublicKey: releaseKey,
    });
    for (const m of r.members) {
      expect(m).toMatchObject({ kind: 'refresh', epoch: 1, groupPublicKey: releaseKey });
      expect(m['sharePath']).toMatch(/release\.key$/);
    }
    // The swap left no pending file and no backup behind.
    for (const m of FIVE) expect(allShareFiles(c, m)).toEqual(['release.key', 'web.key']);
    const after = await loadShare(c, 'alice', 'release');
    expect(after.metadata.epoch).toBe(1);
    expect(
      Buffer.from(after.keyPackage.signingShare).equals(
        Buffer.from(before.keyPackage.signingShare),
      ),
    ).toBe(false);
    // An epoch-0 share does not combine with epoch-1 shares.
    const bob = await loadShare(c, 'bob', 'release');
    const carol = await loadShare(c, 'carol', 'release');
    expect(
      signsWith([before.keyPackage, bob.keyPackage, carol.keyPackage], after.publicKeyPackage),
    ).toBe(false);
    expect(
      signsWith([after.keyPackage, bob.keyPackage, carol.keyPackage], after.publicKeyPackage),
    ).toBe(true);

    const signed = await signRelease(c, 'release', 'erin', ['alice', 'bob', 'carol']);
    expect(signed.groupPublicKey).toBe(releaseKey);
    await verifiesUnder(c, 'alice', signed.ceremonyId, releaseKey);
  }, 600_000);

  it('reshare 3-of-5 → 4-of-6 adding frank, then repair frank’s lost share; frank signs; same key', async () => {
    const six = [...FIVE, 'frank'];
    const r = await lifecycle(
      c,
      [
        'group',
        'reshare',
        'release',
        // A new member's identity key: name=PUB (or registered from the admin's --home).
        '--members',
        [...FIVE, `frank=${c.keys.get('frank')!}`].join(','),
        '--threshold',
        '4',
      ],
      'release',
      six,
    );
    expect(r.admin).toMatchObject({
      kind: 'reshare',
      epoch: 2,
      threshold: 4,
      added: ['frank'],
      groupPublicKey: releaseKey,
    });
    expect(c.shareFiles('frank')).toEqual(['release.key']);
    const show = await admin(c, ['group', 'show', 'release']);
    expect(
      doc<{ groups: { epoch: number; threshold: number; members: unknown[] }[] }>(show).groups[0],
    ).toMatchObject({
      epoch: 2,
      threshold: 4,
    });

    // frank loses his share file; alice, bob, carol and dave rebuild it (repair keeps the epoch).
    rmSync(join(c.home('frank'), 'shares', 'release.key'));
    const repair = await lifecycle(
      c,
      ['group', 'repair', 'release', '--member', 'frank'],
      'release',
      ['frank', 'alice', 'bob', 'carol', 'dave'],
    );
    expect(repair.admin).toMatchObject({
      kind: 'repair',
      epoch: 2,
      helpers: ['alice', 'bob', 'carol', 'dave'],
    });
    expect(c.shareFiles('frank')).toEqual(['release.key']);

    const signed = await signRelease(c, 'release', 'alice', ['frank', 'bob', 'dave', 'erin']);
    expect([...signed.signers].sort()).toEqual(['bob', 'dave', 'erin', 'frank']);
    await verifiesUnder(c, 'frank', signed.ceremonyId, releaseKey);
  }, 600_000);

  it('revoke erin: refused at once (open connection too), a reshare 3-of-5 → 2-of-4 removes her, her old share cannot help sign', async () => {
    const agent = await c.agent('erin');
    const revoke = await admin(c, ['member', 'revoke', 'erin', '--reason', 'left the team']);
    expect(revoke.code, revoke.stdout + revoke.stderr).toBe(0);
    const proposal = doc<{ proposals: { group: string; action: string; command: string }[] }>(
      revoke,
    );
    const web = proposal.proposals.find((p) => p.group === 'web');
    expect(web).toMatchObject({ action: 'reshare' });
    expect(web!.command).toContain(
      'conclave group reshare web --members alice,bob,carol,dave --threshold 3',
    );
    // Her running agent is cut off and cannot come back.
    await waitFor(agent, /connection lost/, 30_000);
    await stop(agent);
    const after = await c.cli('erin', ['inbox', '--json']);
    expect(doc(after)).toMatchObject({ ok: false, error: { code: 'MEMBER_REVOKED' } });

    const erinOld = await loadShare(c, 'erin', 'web');
    // The proposed command, with the threshold lowered to 2: 3-of-5 → 2-of-4.
    const four = ['alice', 'bob', 'carol', 'dave'];
    const r = await lifecycle(
      c,
      ['group', 'reshare', 'web', '--members', four.join(','), '--threshold', '2'],
      'web',
      four,
    );
    expect(r.admin).toMatchObject({
      epoch: 1,
      threshold: 2,
      removed: ['erin'],
      groupPublicKey: webKey,
    });
    const alice = await loadShare(c, 'alice', 'web');
    expect(alice.metadata.epoch).toBe(1);
    // erin's old share together with a new one: no valid signature under the new key state.
    expect(signsWith([erinOld.keyPackage, alice.keyPackage], alice.publicKeyPackage)).toBe(false);
    const bob = await loadShare(c, 'bob', 'web');
    expect(signsWith([bob.keyPackage, alice.keyPackage], alice.publicKeyPackage)).toBe(true);

    const signed = await signRelease(c, 'web', 'carol', ['alice', 'dave']);
    expect(signed.groupPublicKey).toBe(webKey);
    await verifiesUnder(c, 'dave', signed.ceremonyId, webKey);
  }, 600_000);

  it('rotate: a new key for web-v2 by DKG and the transition statement, unsigned until both quorums sign', async () => {
    const out = join(c.dir, 'web-to-web-v2.transition.json');
    const four = ['alice', 'bob', 'carol', 'dave'];
    const [a, ...keygens] = await Promise.all([
      admin(c, [
        'group',
        'rotate',
        'web',
        '--members',
        four.join(','),
        '--threshold',
        '3',
        '--reason',
        'erin revoked',
        '--out',
        out,
      ]),
      ...four.map((m) => keygen(c, 'web-v2', m)),
    ]);
    expect(a!.code, a!.stdout + a!.stderr).toBe(0);
    for (const k of keygens) expect(k.code, k.stdout + k.stderr).toBe(0);
    const r = doc<{ newGroup: string; oldKey: string; newKey: string; transition: string }>(a!);
    expect(r).toMatchObject({ newGroup: 'web-v2', oldKey: webKey, transition: out });
    expect(r.newKey).not.toBe(webKey);
    expect(doc(keygens[0]!)).toMatchObject({
      kind: 'dkg',
      group: 'web-v2',
      groupPublicKey: r.newKey,
    });
    // The statement names both keys; with no signatures yet a verifier refuses it.
    const pae = join(c.dir, 'transition.pae');
    const v = await runCli([
      'group',
      'verify-transition',
      out,
      '--old-key',
      webKey,
      '--message-out',
      pae,
      '--json',
    ]);
    expect(v.code).not.toBe(0);
    expect(doc(v)).toMatchObject({ ok: false, error: { code: 'VERIFY_FAILED' } });
    expect(readFileSync(pae, 'utf8')).toContain(`"publicKey":"${r.newKey}"`);
  }, 600_000);
});
