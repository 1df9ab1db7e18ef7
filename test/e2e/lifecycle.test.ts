/**
 * Key lifecycle end to end (docs/lifecycle.md): a coordinator and every member as its own
 * `conclave` process. Refresh, reshare (3-of-5 → 4-of-6 adding a member; 3-of-5 → 2-of-4 removing
 * a revoked one) and repair keep the group public key, and a later release still verifies under it;
 * a revoked member is refused at once and its old share cannot help sign; rotate makes a new group
 * whose transition file a quorum of each group signs (transition-sign), and the bundle verifies.
 * A refresh dealer that deals a bad sub-share is named, and the complaint's evidence proves it.
 * THREATS B.25–B.27, B.30–B.33.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Home } from '@conclave/client';
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support.js';
import {
  Cluster,
  PASSPHRASE,
  auditNames,
  doc,
  requestRelease,
  spawnCli,
  stop,
  waitFor,
  type Proc,
} from './cluster.js';

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

/**
 * Runs the admin's lifecycle command and `conclave keygen GROUP` for `members` (with `env[m]`),
 * all at once.
 */
async function lifecycle(
  c: Cluster,
  args: readonly string[],
  group: string,
  members: string[],
  env: Record<string, NodeJS.ProcessEnv> = {},
) {
  const [a, ...keygens] = await Promise.all([
    admin(c, args),
    ...members.map((m) => keygen(c, group, m, env[m])),
  ]);
  expect(a!.code, a!.stdout + a!.stderr).toBe(0);
  for (const k of keygens) expect(k.code, k.stdout + k.stderr).toBe(0);
  return {
    admin: doc<Record<string, unknown>>(a!),
    members: keygens.map((k) => doc<Record<string, unknown>>(k)),
    stderr: keygens.map((k) => k.stderr),
  };
}

function keygen(c: Cluster, group: string, member: string, env: NodeJS.ProcessEnv = {}) {
  return c.cli(member, ['keygen', group, '--timeout', '150', '--json'], env);
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
  const { artifact, request } = requestRelease(c, requester, version, group);
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

/**
 * `conclave audit` of a signing ceremony from `member`'s home with only the group key pinned: the
 * public key package its culprits would be judged under is derived from the signed messages of
 * the key ceremony that made the epoch (a refresh or reshare here), not taken from the coordinator.
 */
async function auditDerivesPackage(c: Cluster, member: string, ceremonyId: string, key: string) {
  const r = await c.cli(member, ['audit', ceremonyId, '--group-key', key, '--json']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(doc<{ ok: boolean; keyPackage: string }>(r)).toMatchObject({
    ok: true,
    keyPackage: 'derived',
  });
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
  /** alice's release share file at epoch 0, kept by the refresh test (a "backup" restored later). */
  let aliceEpoch0: Buffer | undefined;
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

  it('refresh with a dealer that deals a bad sub-share: aborted naming it, proven to an auditor trusting nobody; no share changes', async () => {
    const [a, ...keygens] = await Promise.all([
      admin(c, ['group', 'refresh', 'release']),
      ...FIVE.map((m) =>
        c.cli(
          m,
          ['keygen', 'release', '--timeout', '150', '--json'],
          m === 'bob' ? { CONCLAVE_TEST_FAULT: 'bad-sub-share' } : {},
        ),
      ),
    ]);
    expect(a!.code, a!.stdout + a!.stderr).not.toBe(0);
    const error = doc<{ error: { code: string; message: string } }>(a!).error;
    expect(error.code).toBe('DKG_ABORTED');
    expect(error.message).toMatch(/culprits: bob\b/);
    const id = /key ceremony (c_[0-9a-f]+)/.exec(error.message)?.[1] ?? '';
    for (const k of keygens) {
      expect(k.code, k.stdout + k.stderr).not.toBe(0);
      const e = doc<{ error: { code: string; culprits?: string[] } }>(k).error;
      expect(['DKG_ABORTED', 'DKG_FAILED']).toContain(e.code);
      expect(e.culprits).toEqual(['bob']);
    }
    // Nothing changed: every member keeps its epoch-0 share, with no pending file left behind.
    for (const m of FIVE) expect(allShareFiles(c, m)).toEqual(['release.key', 'web.key']);
    expect((await loadShare(c, 'alice', 'release')).metadata.epoch ?? 0).toBe(0);
    // bob's first recipient complained with the evidence that opens his box: the culprit is
    // proven from the transcript, not taken on the accuser's word (protocol 5).
    await auditNames(c, 'carol', id, 'bob', /^proven by alice's .*fails vss_verify/);
  }, 600_000);

  it('refresh: new shares (epoch 1), same key and threshold; a later release verifies under the same key', async () => {
    aliceEpoch0 = readFileSync(join(c.home('alice'), 'shares', 'release.key'));
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
    await auditDerivesPackage(c, 'alice', signed.ceremonyId, releaseKey);
  }, 600_000);

  it('a member holding a share of an older epoch (a restored backup) refuses the next refresh: it ends at once, blaming nobody, and says why', async () => {
    const file = join(c.home('alice'), 'shares', 'release.key');
    const epoch1 = readFileSync(file);
    writeFileSync(file, aliceEpoch0!, { mode: 0o600 });
    try {
      const others = FIVE.filter((m) => m !== 'alice').map((m) =>
        c.spawn(m, ['keygen', 'release', '--timeout', '150', '--json']),
      );
      for (const k of others) await waitFor(k, /waiting for a key ceremony of release/);
      const a = spawnCli('admin', [
        ...['group', 'refresh', 'release', '--admin-key', c.adminKey, '--coordinator', c.url],
        ...['--home', join(c.dir, 'admin'), '--json'],
      ]);
      // Everyone else has sent round 1: only alice is missing, as her keygen starts.
      await waitFor(a, /waiting for alice \(/, 120_000);
      const alice = await c.cli('alice', ['keygen', 'release', '--timeout', '150', '--json']);
      expect(alice.code, alice.stdout + alice.stderr).not.toBe(0);
      expect(doc<{ error: { code: string } }>(alice).error.code).toBe('STALE_EPOCH');
      // Her refusal ended it for everyone, long before the round's deadline, naming nobody.
      expect(await a.exited, a.stdout + a.stderr).not.toBe(0);
      const error = doc<{ error: { code: string; message: string } }>(a).error;
      expect(error.code).toBe('DKG_ABORTED');
      expect(error.message).toMatch(
        /alice refuses the start: .*not of key epoch 1 \(yours is epoch 0\)/,
      );
      expect(error.message).not.toMatch(/culprits:/);
      for (const k of others) {
        expect(await k.exited, k.stdout + k.stderr).not.toBe(0);
        const e = doc<{ error: { code: string; culprits?: string[] } }>(k).error;
        expect(e).toMatchObject({ code: 'DKG_ABORTED', culprits: [] });
      }
      const id = /key ceremony (c_[0-9a-f]+)/.exec(error.message)?.[1] ?? '';
      const audit = await c.cli('carol', ['audit', id, '--json']);
      expect(audit.code, audit.stdout + audit.stderr).toBe(0);
      expect(doc<{ ok: boolean; keyCulprits: unknown[] }>(audit)).toMatchObject({
        ok: true,
        keyCulprits: [],
      });
    } finally {
      writeFileSync(file, epoch1, { mode: 0o600 });
    }
    // Nothing was staged anywhere; the group stays at epoch 1 for what follows.
    for (const m of FIVE) expect(allShareFiles(c, m)).toEqual(['release.key', 'web.key']);
    expect((await loadShare(c, 'bob', 'release')).metadata.epoch).toBe(1);
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
      // carol's connection drops as her round 1 and round 2 go out, unsent: she sends each again.
      { carol: { CONCLAVE_TEST_FAULT: 'drop-round-sends' } },
    );
    for (const round of [1, 2])
      expect(r.stderr[six.indexOf('carol')]).toMatch(
        new RegExp(`round ${round} may not have reached the coordinator`),
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
      // A helper's deltas (round 1) and σ (round 2), each lost once with its connection.
      { bob: { CONCLAVE_TEST_FAULT: 'drop-round-sends' } },
    );
    for (const round of [1, 2])
      expect(repair.stderr[2]).toMatch(
        new RegExp(`round ${round} may not have reached the coordinator`),
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
    await auditDerivesPackage(c, 'frank', signed.ceremonyId, releaseKey);
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

  it('rotate: a new key for web-v2 by DKG; a quorum of web and a quorum of web-v2 each sign the transition file; the bundle verifies, a swapped or tampered one fails with the check named', async () => {
    const out = join(c.dir, 'web-to-web-v2.transition.json');
    const bundlePath = join(c.dir, 'web-to-web-v2.transition-bundle.json');
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
    const r = doc<{
      newGroup: string;
      oldKey: string;
      newKey: string;
      transition: string;
      sha256: string;
      version: string;
      next: { transitionSign: string };
    }>(a!);
    expect(r).toMatchObject({
      newGroup: 'web-v2',
      oldKey: webKey,
      transition: out,
      version: 'rotation-2',
    });
    expect(r.newKey).not.toBe(webKey);
    expect(r.next.transitionSign).toContain(`conclave group transition-sign web --file ${out}`);
    expect(doc(keygens[0]!)).toMatchObject({
      kind: 'dkg',
      group: 'web-v2',
      groupPublicKey: r.newKey,
    });
    // The transition file is the artifact: its sha256 is what both quorums will sign.
    const fileBytes = readFileSync(out);
    expect(createHash('sha256').update(fileBytes).digest('hex')).toBe(r.sha256);
    expect(JSON.parse(fileBytes.toString('utf8'))).toMatchObject({
      oldKey: { group: 'web', publicKey: webKey },
      newKey: { group: 'web-v2', publicKey: r.newKey, threshold: 3 },
      reason: 'erin revoked',
    });

    // alice (in both groups) asks both quorums; each approver holds a copy of the file.
    const webThreshold = doc<{ groups: { threshold: number }[] }>(
      await admin(c, ['group', 'show', 'web']),
    ).groups[0]!.threshold;
    const sign = c.spawn('alice', [
      'group',
      'transition-sign',
      'web',
      '--file',
      out,
      '--out',
      bundlePath,
      '--timeout',
      '300',
      '--json',
    ]);
    await waitFor(sign, /\[web\] requested (c_[0-9a-f]+)/);
    await waitFor(sign, /\[web-v2\] requested (c_[0-9a-f]+)/);
    const oldId = /\[web\] requested (c_[0-9a-f]+)/.exec(sign.stderr)![1]!;
    const newId = /\[web-v2\] requested (c_[0-9a-f]+)/.exec(sign.stderr)![1]!;
    expect(sign.stderr).toContain(`conclave approve ${oldId} --artifact ${out}`);

    // An approver whose copy differs (same name) is stopped before approving.
    const forged = join(c.dir, 'forged', 'web-to-web-v2.transition.json');
    mkdirSync(join(c.dir, 'forged'));
    writeFileSync(forged, fileBytes.toString('utf8').replace('erin revoked', 'nobody revoked'));
    const refused = await c.cli('dave', [
      'approve',
      oldId,
      '--artifact',
      forged,
      '--yes',
      '--json',
    ]);
    expect(refused.code).not.toBe(0);
    expect(doc(refused)).toMatchObject({ ok: false, error: { code: 'ARTIFACT_MISMATCH' } });

    const approve = async (id: string, members: string[]) => {
      const ps = members.map((m) =>
        c.spawn(m, ['approve', id, '--artifact', out, '--yes', '--json']),
      );
      const codes = await Promise.all(ps.map((p) => p.exited));
      codes.forEach((code, i) => expect(code, ps[i]!.stderr).toBe(0));
    };
    await approve(oldId, four.slice(0, webThreshold));
    await approve(newId, ['bob', 'carol', 'dave']);
    expect(await sign.exited, sign.stderr).toBe(0);
    const signed = doc<{
      bundle: string;
      old: { ceremonyId: string; approvers: string[] };
      new: { ceremonyId: string; approvers: string[] };
    }>(sign);
    expect(signed).toMatchObject({
      bundle: bundlePath,
      old: { ceremonyId: oldId },
      new: { ceremonyId: newId },
    });
    // Approvers in the order they arrived.
    expect([...signed.new.approvers].sort()).toEqual(['bob', 'carol', 'dave']);
    expect(signed.old.approvers).toHaveLength(webThreshold);

    // A verifier who trusted web's key follows the rotation.
    const extract = join(c.dir, 'transition-files');
    const v = await runCli([
      'group',
      'verify-transition',
      bundlePath,
      '--old-key',
      webKey,
      '--new-key',
      r.newKey,
      '--extract',
      extract,
      '--json',
    ]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(doc(v)).toMatchObject({
      ok: true,
      valid: true,
      old: { group: 'web', publicKey: webKey, ceremonyId: oldId },
      new: { group: 'web-v2', publicKey: r.newKey, ceremonyId: newId },
    });
    expect(readFileSync(join(extract, 'transition.json'))).toEqual(fileBytes);
    for (const [role, key] of [
      ['old', webKey],
      ['new', r.newKey],
    ] as const) {
      const pem = createPublicKey(readFileSync(join(extract, `${role}.pem`), 'utf8'));
      expect(pem.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')).toBe(key);
      expect(
        verify(
          null,
          readFileSync(join(extract, `${role}.statement.pae`)),
          pem,
          readFileSync(join(extract, `${role}.statement.sig`)),
        ),
      ).toBe(true);
    }

    // The new group's envelope replaced by one signed by the OLD key: refused, check named.
    const bundle = JSON.parse(readFileSync(bundlePath, 'utf8')) as {
      old: unknown;
      new: unknown;
      transition: { name: string; statement: { reason: string } };
    };
    const swapped = join(c.dir, 'swapped-bundle.json');
    writeFileSync(swapped, JSON.stringify({ ...bundle, new: bundle.old }));
    const s = await runCli(['group', 'verify-transition', swapped, '--old-key', webKey, '--json']);
    expect(s.code).toBe(1);
    expect(doc(s)).toMatchObject({ ok: false, code: 'TRANSITION_INVALID', check: 'NEW_SIGNATURE' });
    // A tampered statement no longer has the digest both quorums signed.
    const tampered = join(c.dir, 'tampered-bundle.json');
    writeFileSync(
      tampered,
      JSON.stringify({
        ...bundle,
        transition: {
          ...bundle.transition,
          statement: { ...bundle.transition.statement, reason: 'routine' },
        },
      }),
    );
    const t = await runCli(['group', 'verify-transition', tampered, '--json']);
    expect(t.code).toBe(1);
    expect(doc(t)).toMatchObject({ ok: false, check: 'OLD_SUBJECT' });
    // Another key than the one the verifier trusted.
    const w = await runCli([
      'group',
      'verify-transition',
      bundlePath,
      '--old-key',
      r.newKey,
      '--json',
    ]);
    expect(doc(w)).toMatchObject({ ok: false, check: 'OLD_KEY_PINNED' });
  }, 600_000);
});
