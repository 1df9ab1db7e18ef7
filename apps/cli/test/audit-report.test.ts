// `conclave audit BUNDLE` prints only what the verifier checked: the group key of the verified
// key epoch and the digest of the verified statement, never a field the coordinator wrote into
// (another) sign.complete; culprits with the public key package their proof rests on (the
// member's share, or the coordinator's copy); and, with --witness, the cosignatures the checkpoint
// must carry. Bundles come from @conclave/audit's fixture (a coordinator that holds the
// coordinator, admin and log keys, and re-signs what it tampers with).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Home, type ShareMetadata } from '@conclave/client';
import { ed25519 as frost } from '@conclave/frost';
import { bytesToHex, hexToBytes } from '@conclave/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  abortedKeyBundle,
  corruptShare,
  framedBundle,
  keyBundle,
  secondCompleteBundle,
  sharesThenAbort,
  signingBundle,
} from '../../../packages/audit/test/bundle-fixture.js';
import { cmdAudit } from '../src/commands/audit.js';
import type { Ctx } from '../src/output.js';
import { captured } from './capture.js';

const PASS = 'cli-audit-report-test-passphrase';
// The CLI opens homes without allowWeakKdf: the files are written at the floor (64 MiB).
const KDF = { kdfParams: { N: 2 ** 16, r: 8, p: 1 } } as const;

const dirs: string[] = [];
beforeEach(() => {
  vi.stubEnv('CONCLAVE_PASSPHRASE', PASS);
});
afterEach(() => {
  vi.unstubAllEnvs();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Case = ReturnType<typeof signingBundle>;
interface AuditDoc {
  ok: boolean;
  error?: { code: string; check: string; checkCode: string | null };
  summary: { groupPublicKey?: string; statementDigest?: string; policy: string[] } | null;
  culprits: string[];
  keyPackage: 'pinned' | 'bundle' | null;
  keyCulprits: { member: string; basis: string }[] | null;
  witnessedBy: string[];
  trust: Record<string, { source: string; epoch?: number } | null>;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-cli-audit-'));
  dirs.push(dir);
  return dir;
}

function bundleFile(c: Case): string {
  const file = join(tempDir(), 'bundle.json');
  writeFileSync(file, JSON.stringify(c.bundle));
  return file;
}

/** Every key pinned on the command line, as an auditor without a home passes them. */
const pins = (c: Case) => ({
  home: join(tempDir(), 'no-home'),
  coordinatorKey: c.trust.coordinatorKey,
  adminPublicKey: c.trust.adminKey,
  logKey: c.trust.logKey,
  groupKey: c.trust.groupPublicKey,
});

const ctx = (json: boolean): Ctx => ({
  json,
  progress: () => undefined,
  result: () => undefined,
});

/** Runs cmdAudit; its stdout and exit status (reset after: not the test process's). */
function audit(
  target: string,
  options: Record<string, unknown>,
  json = true,
): Promise<{ out: string; exitCode: number | undefined }> {
  return captured(() => cmdAudit(target, { json, ...options }, ctx(json)));
}

const secondComplete = secondCompleteBundle;

describe('conclave audit prints only what the verifier checked', () => {
  it('an honest bundle: the epoch’s group key and the verified statement’s digest', async () => {
    const c = signingBundle();
    const { out, exitCode } = await audit(bundleFile(c), pins(c));
    const doc = JSON.parse(out) as AuditDoc;
    expect(exitCode).toBeUndefined();
    const complete = (
      c.bundle.transcript.at(-1) as { envelope: { body: { statementDigest: string } } }
    ).envelope.body;
    expect(doc.summary).toMatchObject({
      groupPublicKey: c.bundle.group!.epochs[0]!.groupPublicKey,
      statementDigest: complete.statementDigest,
      policy: ['default'],
    });
  });

  it('a second sign.complete: exit 1 (UNEXPECTED_MESSAGE), and none of its fields printed', async () => {
    const c = secondComplete();
    const { out, exitCode } = await audit(bundleFile(c), pins(c));
    const doc = JSON.parse(out) as AuditDoc;
    expect(exitCode).toBe(1);
    expect(doc.error).toMatchObject({ code: 'AUDIT_FAILED', checkCode: 'UNEXPECTED_MESSAGE' });
    expect(doc.summary?.groupPublicKey).toBe(c.bundle.group!.epochs[0]!.groupPublicKey);
    expect(doc.summary?.statementDigest).toBeUndefined();
    expect(doc.summary?.policy).toEqual([]);
    const human = await audit(bundleFile(c), pins(c), false);
    expect(human.out).toMatch(/FAILED at "one final message, last" \(UNEXPECTED_MESSAGE\)/);
    expect(human.out).not.toContain('1111111111111111');
    expect(human.out).not.toContain('2222222222222222');
    expect(human.out).not.toMatch(/statement {2}sha256/);
  });
});

describe('conclave audit says what the culprits’ proof rests on', () => {
  const framed = framedBundle;

  it('keys on the command line only, before protocol 3: the culprits are said to rest on the coordinator’s package', async () => {
    const c = framed({ beforeProtocol3: true });
    const json = JSON.parse((await audit(bundleFile(c), pins(c))).out) as AuditDoc;
    expect(json).toMatchObject({
      culprits: ['alice', 'bob'],
      keyPackage: 'bundle',
      keyPackageSigned: false,
    });
    const human = await audit(bundleFile(c), pins(c), false);
    expect(human.out).toMatch(
      /culprits {3}alice, bob \(proven only under the coordinator-supplied public key package/,
    );
  });

  it('protocol 3: culprits rest on the package each named in its own signed share; a made-up one fails', async () => {
    const bad = sharesThenAbort(
      [
        ['alice', corruptShare],
        ['bob', corruptShare],
      ],
      ['alice', 'bob'],
    );
    const json = JSON.parse((await audit(bundleFile(bad), pins(bad))).out) as AuditDoc;
    expect(json).toMatchObject({ culprits: ['alice', 'bob'], keyPackageSigned: true });
    const human = await audit(bundleFile(bad), pins(bad), false);
    expect(human.out).toMatch(
      /culprits {3}alice, bob \(proven under the public key package each of them named, signed, in its own share\)/,
    );
    const c = framed();
    const refused = await audit(bundleFile(c), pins(c), false);
    expect(refused.exitCode).toBe(1);
    expect(refused.out).toMatch(/sessions signed under the epoch’s key package/);
    expect(refused.out).toMatch(/INCONSISTENT_KEY_PACKAGE/);
  });

  it('a bundle file that needs no artifact bytes verifies offline: --auditor-token is not even read', async () => {
    const c = signingBundle();
    const { exitCode } = await audit(bundleFile(c), {
      ...pins(c),
      auditorToken: join(tempDir(), 'no-such.token'),
    });
    expect(exitCode).toBeUndefined();
  });

  it('a completed key ceremony blames nobody: no dkg.abort', async () => {
    const c = keyBundle() as unknown as Case;
    const human = await audit(bundleFile(c), pins(c), false);
    expect(human.exitCode).toBeUndefined();
    expect(human.out).toMatch(/culprits {3}none \(no dkg\.abort\)/);
  });

  it('an aborted key ceremony: each culprit with its basis; an unbacked one is NOT PROVEN', async () => {
    const named = abortedKeyBundle({
      round2: ['alice', 'bob', 'carol'],
      badShare: { from: 'carol', to: 'bob' },
      fail: { from: 'bob', culprit: 'carol', code: 'INVALID_SECRET_SHARE', evidence: 'genuine' },
      abort: { code: 'INVALID_SECRET_SHARE', culprits: ['carol'] },
    }) as unknown as Case;
    const human = await audit(bundleFile(named), pins(named), false);
    expect(human.exitCode).toBeUndefined();
    expect(human.out).toMatch(/culprits {3}carol \(proven by bob's signed dkg\.fail/);
    const json = JSON.parse((await audit(bundleFile(named), pins(named))).out) as AuditDoc;
    expect(json).toMatchObject({ keyCulprits: [{ member: 'carol' }] });
    const framedKey = abortedKeyBundle({
      round1: ['alice', 'bob'],
      abort: { code: 'DEADLINE_EXCEEDED', culprits: ['alice'] },
    }) as unknown as Case;
    const refused = await audit(bundleFile(framedKey), pins(framedKey), false);
    expect(refused.exitCode).toBe(1);
    expect(refused.out).toMatch(/culprits {3}NOT PROVEN/);
  });

  it("a member's home: the share's package is pinned, and the forged one refused (INCONSISTENT_KEY_PACKAGE)", async () => {
    const c = framed();
    const dir = join(tempDir(), 'carol');
    const home = await Home.init(dir, 'carol', PASS, KDF);
    const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(c.original));
    const meta: ShareMetadata = {
      kind: 'frost-key-package',
      group: 'release',
      member: 'carol',
      suite: 'FROST-ED25519-SHA512-v1',
      threshold: 2,
      groupPublicKey: bytesToHex(pub.verifyingKey),
      publicKeyPackage: c.original,
      participants: c.bundle.group!.epochs[0]!.members.map((m) => ({
        member: m.member,
        identifier: frost.identifier.derive(m.member),
        identityKey: m.identityKey,
      })),
      ceremonyId: 'c_keyceremony0001',
      createdAt: new Date(0).toISOString(),
      epoch: 1,
    };
    // carol's real share (its package is the dealt one, the bundle's before the forgery).
    await home.saveShare(c.keyPackage('carol'), meta, PASS);
    const { groupKey: _, home: _h, ...keys } = pins(c);
    const { out, exitCode } = await audit(bundleFile(c), { ...keys, home: dir });
    const doc = JSON.parse(out) as AuditDoc;
    expect(exitCode).toBe(1);
    expect(doc.trust['publicKeyPackage']).toMatchObject({ source: 'share', epoch: 1 });
    expect(doc.error?.checkCode).toBe('INCONSISTENT_KEY_PACKAGE');
    expect(doc.culprits).toEqual([]);
  });
});

describe('conclave audit --witness', () => {
  it('a malformed --witness is refused as usage (INVALID_ARGUMENT)', async () => {
    const c = signingBundle();
    await expect(
      cmdAudit(bundleFile(c), { ...pins(c), json: true, witness: ['bob'] }, ctx(true)),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a pinned witness that did not cosign the checkpoint: exit 1 (COSIGNATURE_INVALID); none: the report says log key only', async () => {
    const c = signingBundle();
    const bob = bytesToHex(c.ids['bob']!.publicKey);
    const { out, exitCode } = await audit(bundleFile(c), { ...pins(c), witness: [`bob=${bob}`] });
    expect(exitCode).toBe(1);
    expect((JSON.parse(out) as AuditDoc).error?.checkCode).toBe('COSIGNATURE_INVALID');
    const plain = await audit(bundleFile(c), pins(c), false);
    expect(plain.exitCode).toBeUndefined();
    expect(plain.out).toMatch(/checkpoint signed by the coordinator's log key only/);
  });
});
