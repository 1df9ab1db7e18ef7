// `conclave verify` checks the signed statement, not only the signature, whenever it has it (a DSSE
// signature, or --statement): a governance record of the group (policy, revocation) is not a
// release, and a statement past its validUntil is expired.
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '@conclave/protocol';
import {
  SSHSIG_GIT_NAMESPACE,
  buildStatement,
  digestFile,
  dsseEnvelope,
  exportPublicKey,
  gitTagObject,
  gitTagPayload,
  jwsCompactFile,
  jwsMessage,
  messageToSign,
  sigstoreBundleFile,
  sshsigArmor,
  sshsigBlob,
  sshsigSignedData,
  type GitTagInput,
  type ReleaseInput,
  type StatementContext,
} from '@conclave/release';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import type { Ctx } from '../src/output.js';
import { cmdVerify } from '../src/verify.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  process.exitCode = undefined;
});

// One Ed25519 key stands in for the quorum's (verifiers cannot tell the difference).
const privateKey = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 5)]),
  format: 'der',
  type: 'pkcs8',
});
const groupKey = bytesToHex(
  createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32),
);

const context: StatementContext = {
  ceremonyId: 'c_verifystatement0000000000000001',
  group: 'release',
  groupPublicKey: groupKey,
  requester: 'alice',
  approvers: [{ member: 'bob', identityKey: '11'.repeat(32) }],
  policyId: 'release@v1',
  issuedAt: Date.UTC(2026, 0, 2),
};

/** An artifact and a DSSE statement of it, signed by the group key. */
async function signed(over: Partial<ReleaseInput>) {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-verify-statement-'));
  dirs.push(dir);
  const artifact = join(dir, 'app-1.0.0.tgz');
  writeFileSync(artifact, 'release bytes\n');
  const d = await digestFile(artifact);
  const release: ReleaseInput = {
    version: '1.0.0',
    class: 'standard',
    note: '',
    artifacts: [{ name: 'app-1.0.0.tgz', sha256: d.sha256, sha512: d.sha512 }],
    formats: ['dsse'],
    ...over,
  };
  const statement = buildStatement(release, context);
  const signature = sign(null, messageToSign(release, context), privateKey);
  const sig = join(dir, 'release.intoto.jsonl');
  writeFileSync(sig, `${JSON.stringify(dsseEnvelope(statement, signature))}\n`);
  const key = join(dir, 'quorum.hex');
  writeFileSync(key, `${groupKey}\n`);
  const a = Buffer.from(groupKey, 'hex');
  const bundle = join(dir, 'release.sigstore.json');
  writeFileSync(bundle, sigstoreBundleFile(a, statement, signature));
  const jws = join(dir, 'release.jws');
  writeFileSync(
    jws,
    jwsCompactFile(a, statement, sign(null, jwsMessage(a, statement), privateKey)),
  );
  return { dir, artifact, sig, key, bundle, jws };
}

/**
 * The genuine envelope at `path`, dressed: a junk entry in `signatures` (the verifier skips it, a
 * strict reader refuses the envelope) and top-level fields of a newer, standard, unexpiring
 * statement that nobody signed.
 */
function dress(path: string): void {
  const env = JSON.parse(readFileSync(path, 'utf8')) as { signatures: unknown[] };
  env.signatures.push({ sig: '@' });
  writeFileSync(
    path,
    JSON.stringify({
      ...env,
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://conclave.dev/release/v1',
      subject: [],
      predicate: { class: 'standard', version: '99.0.0', ceremonyId: 'c_forged' },
    }),
  );
}

function recorder(): Ctx & { results: Record<string, unknown>[] } {
  const results: Record<string, unknown>[] = [];
  return { json: true, results, progress: () => undefined, result: (doc) => results.push(doc) };
}

describe('conclave verify: the signed statement', () => {
  it('accepts a standard release statement', async () => {
    const f = await signed({});
    const ctx = recorder();
    await cmdVerify(f.artifact, { key: f.key, sig: f.sig }, ctx);
    expect(ctx.results[0]).toMatchObject({ ok: true, format: 'dsse' });
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('refuses a policy record of the group with NOT_A_RELEASE, though its signature verifies', async () => {
    const f = await signed({ class: 'policy' });
    const ctx = recorder();
    await cmdVerify(f.artifact, { key: f.key, sig: f.sig }, ctx);
    expect(ctx.results[0]).toMatchObject({ ok: false, format: 'dsse', code: 'NOT_A_RELEASE' });
    expect(process.exitCode).toBe(1);
  });

  it('refuses a statement past its validUntil with STATEMENT_EXPIRED', async () => {
    const f = await signed({ class: 'hotfix', validUntil: Date.UTC(2026, 0, 3) });
    const ctx = recorder();
    await cmdVerify(f.artifact, { key: f.key, sig: f.sig }, ctx);
    expect(ctx.results[0]).toMatchObject({ ok: false, format: 'dsse', code: 'STATEMENT_EXPIRED' });
    expect(process.exitCode).toBe(1);
  });

  it('reads the statement the signature covers, never unsigned fields dressed onto the envelope', async () => {
    // An expired hotfix stays expired, and 1.0.0 stays older than 2.0.0, whatever the file adds.
    const hotfix = await signed({ class: 'hotfix', validUntil: Date.UTC(2026, 0, 3) });
    dress(hotfix.sig);
    let ctx = recorder();
    await cmdVerify(hotfix.artifact, { key: hotfix.key, sig: hotfix.sig }, ctx);
    expect(ctx.results[0]).toMatchObject({ ok: false, format: 'dsse', code: 'STATEMENT_EXPIRED' });
    const old = await signed({});
    dress(old.sig);
    ctx = recorder();
    await cmdVerify(old.artifact, { key: old.key, sig: old.sig, minVersion: '2.0.0' }, ctx);
    expect(ctx.results[0]).toMatchObject({ ok: false, format: 'dsse', code: 'DOWNGRADE' });
    // The same through --statement, beside a signature that carries no statement.
    ctx = recorder();
    const raw = join(old.dir, 'app-1.0.0.tgz.sig');
    writeFileSync(raw, sign(null, readFileSync(old.artifact), privateKey));
    await cmdVerify(
      old.artifact,
      { key: old.key, sig: raw, statement: old.sig, minVersion: '2.0.0' },
      ctx,
    );
    expect(ctx.results[0]).toMatchObject({ ok: false, format: 'raw', code: 'DOWNGRADE' });
  });

  it('checks the statement of a Sigstore bundle and of a JWS as it does a DSSE envelope’s', async () => {
    const policy = await signed({ class: 'policy' });
    const expired = await signed({ class: 'hotfix', validUntil: Date.UTC(2026, 0, 3) });
    const old = await signed({});
    for (const [f, format] of [
      ['bundle', 'sigstore'],
      ['jws', 'jws'],
    ] as const) {
      const cases = [
        [policy, {}, 'NOT_A_RELEASE'],
        [expired, {}, 'STATEMENT_EXPIRED'],
        [old, { minVersion: '2.0.0' }, 'DOWNGRADE'],
      ] as const;
      for (const [x, extra, code] of cases) {
        const ctx = recorder();
        await cmdVerify(x.artifact, { key: x.key, sig: x[f], ...extra }, ctx);
        expect(ctx.results[0], `${format} ${code}`).toMatchObject({ ok: false, format, code });
      }
      const ctx = recorder();
      await cmdVerify(old.artifact, { key: old.key, sig: old[f], minVersion: '1.0.0' }, ctx);
      expect(ctx.results[0]).toMatchObject({ ok: true, format });
    }
  });

  it('a git tag verifies only with the tag file as ARTIFACT: beside another file it is a usage error', async () => {
    const f = await signed({});
    const input: GitTagInput = {
      object: '0123456789abcdef0123456789abcdef01234567',
      type: 'commit',
      tag: 'v1.0.0',
      tagger: { name: 'Release Bot', email: 'release@example.com', time: 1764072000, tz: '+0000' },
      message: 'Release v1.0.0',
    };
    const payload = gitTagPayload(input);
    const a = Buffer.from(groupKey, 'hex');
    const digest = createHash('sha512').update(payload).digest();
    const signature = sign(null, sshsigSignedData(SSHSIG_GIT_NAMESPACE, digest), privateKey);
    const armored = sshsigArmor(sshsigBlob(a, SSHSIG_GIT_NAMESPACE, signature));
    const tag = join(f.dir, 'v1.0.0.tag');
    writeFileSync(tag, gitTagObject(input, armored).object);
    const signers = join(f.dir, 'allowed_signers');
    writeFileSync(signers, exportPublicKey(a, 'allowed-signers', { group: 'release' }).bytes);
    const ctx = recorder();
    await cmdVerify(tag, { key: signers, sig: tag }, ctx);
    expect(ctx.results[0]).toMatchObject({ ok: true, format: 'git' });
    await expect(cmdVerify(f.artifact, { key: signers, sig: tag }, recorder())).rejects.toSatisfy(
      (e) => e instanceof CliError && e.code === 'INVALID_ARGUMENT' && e.exitCode === 2,
    );
  });
});
