// `conclave fetch` writes into --out, often a shared release directory: it must not replace files
// of an earlier fetch unless --force, never write through a symlink someone planted there (not even
// with --force), never leave a half-written signature, and refuse two outputs of the same name
// (an artifact named `statement` makes a raw `statement.sig` beside the statement's) before it
// writes anything. Each case drives cmdFetch offline from a home that recorded a completed ceremony.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Home, type ShareMetadata } from '@conclave/client';
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import { bytesToHex, generateIdentityKey, newCeremonyId, type Release } from '@conclave/protocol';
import {
  buildStatement,
  planMessages,
  statementDigest,
  type StatementContext,
} from '@conclave/release';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cmdFetch } from '../src/commands.js';
import type { CliError } from '../src/errors.js';
import type { Ctx } from '../src/output.js';

const PASS = 'cli-fetch-output-test-passphrase';
const KDF = { kdfParams: { N: 2 ** 16, r: 8, p: 1 } } as const;
const MEMBERS = ['alice', 'bob', 'carol'] as const;
const GROUP = 'web';

const dirs: string[] = [];
beforeEach(() => {
  vi.stubEnv('CONCLAVE_PASSPHRASE', PASS);
});
afterEach(() => {
  vi.unstubAllEnvs();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Quorum {
  keys: KeyPackage[];
  pub: PublicKeyPackage;
  groupPublicKey: string;
}

function quorum(): Quorum {
  const identifiers = MEMBERS.map((m) => frost.identifier.derive(m));
  const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers });
  return {
    keys: identifiers.map((id) => frost.keys.keyPackage(dealt.shares[id]!)),
    pub: dealt.publicKeyPackage,
    groupPublicKey: bytesToHex(dealt.publicKeyPackage.verifyingKey),
  };
}

/** Two members sign `message` (FROST): an ordinary Ed25519 signature, hex. */
function quorumSign(q: Quorum, message: Uint8Array): string {
  const keys = q.keys.slice(0, 2);
  const r1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    r1.map((r) => r.commitments),
    message,
  );
  const shares = keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k));
  return bytesToHex(frost.aggregate(pkg, shares, q.pub).bytes);
}

/**
 * alice's home with her share of `web` and the record of a completed ceremony over one artifact
 * named `artifactName` (its bytes cached in the home, as after `approve --artifact`), signed in
 * `formats` by the quorum.
 */
async function completedHome(
  artifactName: string,
  formats: Release['formats'],
): Promise<{ dir: string; id: string }> {
  const q = quorum();
  const root = mkdtempSync(join(tmpdir(), 'conclave-cli-fetch-'));
  dirs.push(root);
  const dir = join(root, 'alice');
  const home = await Home.init(dir, 'alice', PASS, KDF);
  const ids = Object.fromEntries(MEMBERS.map((m) => [m, generateIdentityKey()]));
  const meta: ShareMetadata = {
    kind: 'frost-key-package',
    group: GROUP,
    member: 'alice',
    suite: 'FROST-ED25519-SHA512-v1',
    threshold: 2,
    groupPublicKey: q.groupPublicKey,
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', q.pub)),
    participants: MEMBERS.map((m) => ({
      member: m,
      identifier: frost.identifier.derive(m),
      identityKey: m === 'alice' ? home.config.identityKey : bytesToHex(ids[m]!.publicKey),
    })),
    ceremonyId: 'c_keyceremony0001',
    createdAt: new Date(0).toISOString(),
  };
  await home.saveShare(q.keys[0]!, meta, PASS);
  const keys = Object.fromEntries(meta.participants.map((p) => [p.member, p.identityKey]));

  // More than 64 bytes: never the size of a digest, which raw refuses (raw-guard.ts).
  const bytes = Buffer.from(`the release artifact ${artifactName}\n`.repeat(4));
  const hex = (alg: string) => createHash(alg).update(bytes).digest('hex');
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  writeFileSync(join(dir, 'artifacts', hex('sha256')), bytes);
  const release: Release = {
    version: '1.2.3',
    class: 'standard',
    note: '',
    artifacts: [
      {
        name: artifactName,
        sha256: hex('sha256'),
        sha512: hex('sha512'),
        blake2b512: hex('blake2b512'),
      },
    ],
    formats,
  };
  const id = newCeremonyId();
  const context: StatementContext = {
    ceremonyId: id,
    group: GROUP,
    groupPublicKey: q.groupPublicKey,
    requester: 'carol',
    approvers: ['alice', 'bob'].map((m) => ({ member: m, identityKey: keys[m]! })),
    policyId: `${GROUP}@v0`,
    issuedAt: 1_700_000_000_000,
  };
  const jobs = planMessages({ release, context, keyCreatedAt: 0, artifactBytes: () => bytes }, 1);
  const signatures = jobs.map((j) => ({ job: j.id, signature: quorumSign(q, j.message) }));
  await home.saveRecord(id, {
    group: GROUP,
    requester: 'carol',
    release,
    outcome: {
      state: 'completed',
      groupPublicKey: q.groupPublicKey,
      signature: signatures.find((s) => s.job === 'dsse')!.signature,
      signatures,
      keyCreatedAt: 0,
      statementDigest: statementDigest(buildStatement(release, context)),
      approvers: ['alice', 'bob'],
      signers: ['alice', 'bob'],
      policyId: context.policyId,
      issuedAt: context.issuedAt,
    },
  });
  return { dir, id };
}

function recorder(): Ctx & { results: Record<string, unknown>[] } {
  const results: Record<string, unknown>[] = [];
  return { json: true, results, progress: () => undefined, result: (doc) => results.push(doc) };
}

const refusal = async (p: Promise<unknown>): Promise<CliError> =>
  p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => e as CliError,
  );

/** No coordinator anywhere: the statement is rebuilt offline from the home's record. */
const offline = (dir: string, extra: { out?: string; force?: boolean } = {}) => ({
  home: dir,
  coordinator: 'http://127.0.0.1:9',
  out: join(dir, 'out'),
  ...extra,
});

describe('conclave fetch into a directory that has files', () => {
  it('a second fetch into the same --out is refused (OUTPUT_EXISTS, exit 2) and changes nothing; --force replaces the files', async () => {
    const { dir, id } = await completedHome('app.tgz', ['dsse', 'raw']);
    await cmdFetch(id, offline(dir), recorder());
    const sig = join(dir, 'out', 'app.tgz.sig');
    expect(statSync(sig).mode & 0o022).toBe(0); // 0644 less the umask: nobody else may write it
    writeFileSync(sig, 'published earlier');

    const e = await refusal(cmdFetch(id, offline(dir), recorder()));
    expect(e.code).toBe('OUTPUT_EXISTS');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/--force/);
    expect(e.message).toMatch(/--out/);
    expect(readFileSync(sig, 'utf8')).toBe('published earlier');

    await cmdFetch(id, offline(dir, { force: true }), recorder());
    expect(readFileSync(sig).length).toBe(64);
    // Written atomically: no temporary file is left beside the outputs.
    expect(readdirSync(join(dir, 'out')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a symlink at an output path is refused, even with --force, and its target is untouched', async () => {
    const { dir, id } = await completedHome('app.tgz', ['dsse', 'raw']);
    const out = join(dir, 'out');
    mkdirSync(out);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'not yours');
    symlinkSync(victim, join(out, 'statement.sig'));
    for (const force of [false, true]) {
      const e = await refusal(cmdFetch(id, offline(dir, { force }), recorder()));
      expect(e.code).toBe('OUTPUT_IS_SYMLINK');
      expect(e.message).toContain(join(out, 'statement.sig'));
    }
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
    expect(lstatSync(join(out, 'statement.sig')).isSymbolicLink()).toBe(true);
    // Every output is checked before the first is written: nothing else appeared.
    expect(readdirSync(out)).toEqual(['statement.sig']);
  });

  it("an artifact named `statement` (raw: statement.sig, the statement's own signature's name) is refused before anything is written", async () => {
    const { dir, id } = await completedHome('statement', ['dsse', 'raw']);
    const e = await refusal(cmdFetch(id, offline(dir), recorder()));
    expect(e.code).toBe('OUTPUT_COLLISION');
    expect(e.message).toContain('statement.sig');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('an artifact named `SHA256` (raw: SHA256.sig, signify: SHA256.sig) is OUTPUT_COLLISION, not AGGREGATE_INVALID', async () => {
    const { dir, id } = await completedHome('SHA256', ['dsse', 'raw', 'signify']);
    const e = await refusal(cmdFetch(id, offline(dir), recorder()));
    expect(e.code).toBe('OUTPUT_COLLISION');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
