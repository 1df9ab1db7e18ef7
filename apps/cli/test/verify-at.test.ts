// `conclave verify --at TIME`: every time check is made as of TIME instead of now, so an auditor can
// re-verify as of a past time and these tests do not depend on today's date.
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildStatement,
  digestFile,
  dsseEnvelope,
  messageToSign,
  sshPublicKeyLine,
  sshsigArmor,
  sshsigBlob,
  sshsigSignedData,
  type ReleaseInput,
} from '@conclave/release';
import { afterEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/main.js';
import type { Ctx } from '../src/output.js';
import { cmdVerify, parseAt } from '../src/verify.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  process.exitCode = undefined;
});

// One Ed25519 key stands in for the quorum's (verifiers cannot tell the difference).
const privateKey = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]),
  format: 'der',
  type: 'pkcs8',
});
const A = new Uint8Array(
  createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32),
);

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-verify-at-'));
  dirs.push(dir);
  return dir;
}

function recorder(): Ctx & { results: Record<string, unknown>[] } {
  const results: Record<string, unknown>[] = [];
  return { json: true, results, progress: () => undefined, result: (doc) => results.push(doc) };
}

/** An SSHSIG of an artifact, and an allowed_signers line valid during 2025 (UTC) only. */
function sshFiles() {
  const dir = tmp();
  const artifact = join(dir, 'app.tar.gz');
  const bytes = Buffer.from('release bytes\n');
  writeFileSync(artifact, bytes);
  const digest = new Uint8Array(createHash('sha512').update(bytes).digest());
  const s = sign(null, sshsigSignedData('file', digest), privateKey);
  const sig = join(dir, 'app.tar.gz.sshsig');
  writeFileSync(sig, sshsigArmor(sshsigBlob(A, 'file', new Uint8Array(s))));
  const key = join(dir, 'allowed_signers');
  writeFileSync(
    key,
    `release@example.com valid-after="20250101Z",valid-before="20260101Z" ${sshPublicKeyLine(A)}\n`,
  );
  return { artifact, sig, key };
}

/** A DSSE hotfix statement valid until 2026-01-03T00:00:00Z. */
async function dsseFiles() {
  const dir = tmp();
  const artifact = join(dir, 'app-1.0.0.tgz');
  writeFileSync(artifact, 'release bytes\n');
  const d = await digestFile(artifact);
  const release: ReleaseInput = {
    version: '1.0.0',
    class: 'hotfix',
    note: '',
    artifacts: [{ name: 'app-1.0.0.tgz', sha256: d.sha256, sha512: d.sha512 }],
    formats: ['dsse'],
    validUntil: Date.UTC(2026, 0, 3),
  };
  const context = {
    ceremonyId: 'c_verifyat00000000000000000000001',
    group: 'release',
    groupPublicKey: Buffer.from(A).toString('hex'),
    requester: 'alice',
    approvers: [{ member: 'bob', identityKey: '11'.repeat(32) }],
    policyId: 'release@v1',
    issuedAt: Date.UTC(2026, 0, 2),
  };
  const signature = sign(null, messageToSign(release, context), privateKey);
  const sig = join(dir, 'release.intoto.jsonl');
  writeFileSync(
    sig,
    `${JSON.stringify(dsseEnvelope(buildStatement(release, context), signature))}\n`,
  );
  const key = join(dir, 'quorum.hex');
  writeFileSync(key, `${Buffer.from(A).toString('hex')}\n`);
  return { artifact, sig, key };
}

async function verifyAt(f: { artifact: string; sig: string; key: string }, at: string) {
  const ctx = recorder();
  await cmdVerify(f.artifact, { key: f.key, sig: f.sig, at }, ctx);
  return { doc: ctx.results[0], exit: process.exitCode ?? 0 };
}

describe('conclave verify --at', () => {
  it('allowed_signers: OK inside valid-after..valid-before, KEY_CERT_INVALID outside', async () => {
    const f = sshFiles();
    expect(await verifyAt(f, '2025-06-01T12:00:00Z')).toMatchObject({
      doc: { ok: true, format: 'sshsig', at: '2025-06-01T12:00:00.000Z' },
      exit: 0,
    });
    process.exitCode = undefined;
    expect(await verifyAt(f, '2026-01-01T00:00:01Z')).toMatchObject({
      doc: { ok: false, code: 'KEY_CERT_INVALID', at: '2026-01-01T00:00:01.000Z' },
      exit: 1,
    });
    process.exitCode = undefined;
    // The same instant written with an offset: 2025-01-01T00:30+01:00 is 2024-12-31T23:30Z.
    expect(await verifyAt(f, '2025-01-01T00:30:00+01:00')).toMatchObject({
      doc: { ok: false, code: 'KEY_CERT_INVALID' },
      exit: 1,
    });
  });

  it("the statement's validUntil: OK before it, STATEMENT_EXPIRED after it", async () => {
    const f = await dsseFiles();
    expect(await verifyAt(f, '2026-01-02T12:00:00Z')).toMatchObject({
      doc: { ok: true, format: 'dsse' },
      exit: 0,
    });
    process.exitCode = undefined;
    expect(await verifyAt(f, '2026-01-03T00:00:01Z')).toMatchObject({
      doc: { ok: false, code: 'STATEMENT_EXPIRED' },
      exit: 1,
    });
  });

  it('INVALID_ARGUMENT (exit 2) naming the accepted form for a time that is not ISO-8601 with a zone', async () => {
    const f = sshFiles();
    for (const bad of [
      'yesterday',
      '2025-06-01',
      '2025-06-01T12:00:00',
      '2025-06-01T12:00Z',
      '2025-02-30T00:00:00Z',
      '1748779200000',
      '',
    ]) {
      await expect(
        cmdVerify(f.artifact, { key: f.key, sig: f.sig, at: bad }, recorder()),
        bad,
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        exitCode: 2,
        message: expect.stringContaining('2025-06-01T12:00:00Z'),
      });
    }
    expect(parseAt(undefined)).toBeUndefined();
    expect(parseAt('2025-06-01T14:00:00.5+02:00')).toBe(Date.UTC(2025, 5, 1, 12, 0, 0, 500));
  });

  it('is documented in --help and refused with --batch (not supported there yet)', async () => {
    const program = buildProgram();
    const verify = program.commands.find((c) => c.name() === 'verify')!;
    expect(verify.helpInformation()).toContain('--at <time>');
    await expect(
      program.parseAsync(['verify', 'x', '--key', 'k', '--batch', '--at', '2025-06-01T12:00:00Z'], {
        from: 'user',
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', exitCode: 2 });
  });
});
