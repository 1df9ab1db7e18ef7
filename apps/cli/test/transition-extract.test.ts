// `group verify-transition --extract DIR` writes each side's signed bytes, signature and key. Files
// beside a bundle that failed a check, or that no trusted key anchors, would read as checked (and
// `old.pem` as the key to trust): they are written only when the verdict is valid and anchored by
// --old-key, and otherwise nothing is, and the command says so.
import { existsSync, readdirSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildTransitionBundle,
  buildTransitionStatement,
  rotationVersion,
  transitionDigest,
  type TransitionStatement,
} from '@conclave/client';
import { ed25519 as frost } from '@conclave/frost';
import {
  DSSE_PAYLOAD_TYPE,
  buildStatement,
  dsseEnvelope,
  pae,
  statementBytes,
} from '@conclave/release';
import { afterEach, describe, expect, it } from 'vitest';
import { cmdVerifyTransition } from '../src/commands/group.js';
import type { Ctx } from '../src/output.js';
import { tempDir } from '../../../test/support.js';
import { captured } from './capture.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function quorum(t: number, n: number) {
  const { shares, publicKeyPackage } = frost.keys.dealer({ minSigners: t, maxSigners: n });
  return {
    keys: Object.values(shares).map((s) => frost.keys.keyPackage(s)),
    pub: publicKeyPackage,
  };
}

function sign(q: ReturnType<typeof quorum>, t: number, message: Uint8Array): Uint8Array {
  const keys = q.keys.slice(0, t);
  const r1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    r1.map((r) => r.commitments),
    message,
  );
  return frost.aggregate(
    pkg,
    keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k)),
    q.pub,
  ).bytes;
}

/** One group's DSSE envelope over the transition file, as its rotation ceremony signs it. */
function envelope(
  statement: TransitionStatement,
  side: 'old' | 'new',
  q: ReturnType<typeof quorum>,
  name: string,
): object {
  const key = side === 'old' ? statement.oldKey : statement.newKey;
  const d = transitionDigest(statement);
  const s = buildStatement(
    {
      version: rotationVersion(statement),
      class: 'standard',
      note: `key rotation: ${statement.reason}`,
      artifacts: [{ name, sha256: d.sha256, sha512: d.sha512 }],
      formats: ['dsse'],
    },
    {
      ceremonyId: `c_${side}00112233445566778899`,
      group: key.group,
      groupPublicKey: key.publicKey,
      requester: 'alice',
      approvers: key.members
        .slice(0, key.threshold)
        .map((member) => ({ member, identityKey: '11'.repeat(32) })),
      policyId: `${key.group}@v0`,
      issuedAt: Date.now(),
    },
  );
  const sig = sign(q, key.threshold, pae(DSSE_PAYLOAD_TYPE, statementBytes(s)));
  return dsseEnvelope(s, sig, side);
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A valid rotation bundle of `release` (2-of-3) to `release-v2` (2-of-3) in a file. */
function bundleCase() {
  const dir = tempDir('conclave-extract-');
  dirs.push(dir);
  const old = quorum(2, 3);
  const next = quorum(2, 3);
  const members = ['alice', 'bob', 'carol'];
  const statement = buildTransitionStatement({
    oldKey: {
      group: 'release',
      publicKey: hex(old.pub.verifyingKey),
      epoch: 0,
      threshold: 2,
      members,
    },
    newKey: {
      group: 'release-v2',
      publicKey: hex(next.pub.verifyingKey),
      epoch: 0,
      threshold: 2,
      members,
    },
    time: new Date(),
    reason: 'annual rotation',
    rotationCeremony: 'c_00112233445566778899aabbccddeeff',
  });
  const name = 'release-to-release-v2.transition.json';
  const bundle = buildTransitionBundle({
    statement,
    name,
    old: envelope(statement, 'old', old, name),
    new: envelope(statement, 'new', next, name),
  });
  const file = join(dir, 'bundle.json');
  writeFileSync(file, JSON.stringify(bundle));
  const swapped = join(dir, 'swapped.json');
  writeFileSync(swapped, JSON.stringify({ ...bundle, new: bundle.old }));
  return { dir, file, swapped, oldKey: hex(old.pub.verifyingKey) };
}

function recorder(): Ctx & { results: Record<string, unknown>[]; lines: string[] } {
  const results: Record<string, unknown>[] = [];
  const lines: string[] = [];
  return {
    json: true,
    results,
    lines,
    progress: (l) => lines.push(l),
    result: (doc) => results.push(doc),
  };
}

describe('group verify-transition --extract', () => {
  it('unanchored (no --old-key): exit 1, nothing extracted, and it says so', async () => {
    const c = bundleCase();
    const out = join(c.dir, 'extracted');
    const ctx = recorder();
    const r = await captured(() => cmdVerifyTransition(c.file, { extract: out }, ctx));
    expect(r.exitCode).toBe(1);
    expect(ctx.results[0]).toMatchObject({ code: 'TRANSITION_UNANCHORED', extracted: null });
    expect(existsSync(out)).toBe(false);
    expect(ctx.lines.join('\n')).toMatch(/--extract: nothing written/);
  });

  it('a failed check (a swapped envelope): exit 1, nothing extracted', async () => {
    const c = bundleCase();
    const out = join(c.dir, 'extracted');
    const ctx = recorder();
    const r = await captured(() =>
      cmdVerifyTransition(c.swapped, { oldKey: c.oldKey, extract: out }, ctx),
    );
    expect(r.exitCode).toBe(1);
    expect(ctx.results[0]).toMatchObject({ code: 'TRANSITION_INVALID', extracted: null });
    expect(existsSync(out)).toBe(false);
    expect(ctx.lines.join('\n')).toMatch(/--extract: nothing written .*not valid/);
  });

  it('valid and anchored: every file is extracted (again over an earlier run), never through a symlink', async () => {
    const c = bundleCase();
    const out = join(c.dir, 'extracted');
    const ctx = recorder();
    const r = await captured(() =>
      cmdVerifyTransition(c.file, { oldKey: c.oldKey, extract: out }, ctx),
    );
    expect(r.exitCode).toBeUndefined();
    expect(ctx.results[0]).toMatchObject({ valid: true, extracted: out });
    const files = [
      'new.pem',
      'new.statement.json',
      'new.statement.pae',
      'new.statement.sig',
      'old.pem',
      'old.statement.json',
      'old.statement.pae',
      'old.statement.sig',
      'transition.json',
    ];
    expect(readdirSync(out).sort()).toEqual(files);
    await cmdVerifyTransition(c.file, { oldKey: c.oldKey, extract: out }, recorder());
    expect(readdirSync(out).sort()).toEqual(files);

    const planted = join(c.dir, 'planted');
    mkdirSync(planted);
    symlinkSync(join(c.dir, 'victim'), join(planted, 'transition.json'));
    await expect(
      cmdVerifyTransition(c.file, { oldKey: c.oldKey, extract: planted }, recorder()),
    ).rejects.toMatchObject({ code: 'OUTPUT_IS_SYMLINK' });
    expect(existsSync(join(c.dir, 'victim'))).toBe(false);
  });
});
