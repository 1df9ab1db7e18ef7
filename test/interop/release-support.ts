/**
 * Interop fixture: a real FROST(Ed25519) 2-of-3 group (trusted dealer) signs every job of a
 * release — both phases — and `assemble` writes the files into a temp directory, next to the
 * artifacts. A second, unrelated group provides the "wrong key" files.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 as frost } from '@conclave/frost';
import {
  assemble,
  buildStatement,
  planJobs,
  type FormatContext,
  type FormatRelease,
  type GitTagInput,
  type OutputFile,
} from '@conclave/release';
import { tempDir } from '../support.js';

export interface FrostGroup {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** A 2-of-3 dealer group; each signature is a fresh two-round FROST session of signers 2 and 3. */
export function frostGroup(): FrostGroup {
  const { shares, publicKeyPackage: pub } = frost.keys.dealer({ minSigners: 2, maxSigners: 3 });
  const keys = Object.values(shares)
    .map((s) => frost.keys.keyPackage(s))
    .slice(1);
  return {
    publicKey: pub.verifyingKey,
    sign(message) {
      const r1 = keys.map((k) => frost.round1.commit(k));
      const pkg = frost.signingPackage(
        r1.map((r) => r.commitments),
        message,
      );
      const shares2 = keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k));
      return frost.aggregate(pkg, shares2, pub).bytes;
    },
  };
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export const ARTIFACTS: Record<string, Uint8Array> = {
  'app.tar.gz': enc('conclave interop artifact\n'.repeat(100)),
  'app tools.zip': enc('second artifact, with a space in its name\n'),
};

export interface Signed {
  readonly dir: string;
  readonly ctx: FormatContext;
  readonly group: FrostGroup;
  readonly files: ReadonlyMap<string, OutputFile>;
  readonly signatures: ReadonlyMap<string, Uint8Array>;
  /** Bytes of a written file. */
  file(path: string): Uint8Array;
}

export function makeContext(
  group: FrostGroup,
  formats: readonly string[],
  opts: { git?: GitTagInput; name?: string; artifacts?: Record<string, Uint8Array> } = {},
): FormatContext {
  const artifacts = opts.artifacts ?? ARTIFACTS;
  const h = (alg: string, b: Uint8Array) => createHash(alg).update(b).digest('hex');
  const release: FormatRelease = {
    version: '2.0.0',
    class: 'standard',
    note: 'interop',
    artifacts: Object.entries(artifacts).map(([name, b]) => ({
      name,
      sha256: h('sha256', b),
      sha512: h('sha512', b),
      blake2b512: h('blake2b512', b),
    })),
    formats,
    ...(opts.git ? { git: opts.git } : {}),
  };
  const issuedAt = Date.UTC(2026, 10, 25, 12, 0, 0);
  const name = opts.name ?? 'release';
  const statement = buildStatement(
    {
      ...release,
      artifacts: release.artifacts.map(({ name: n, sha256, sha512 }) => ({
        name: n,
        sha256,
        sha512,
      })),
    },
    {
      ceremonyId: 'c_interop0123456789abcdef01234567',
      group: name,
      groupPublicKey: Buffer.from(group.publicKey).toString('hex'),
      requester: 'alice',
      approvers: [
        { member: 'bob', identityKey: '22'.repeat(32) },
        { member: 'carol', identityKey: '33'.repeat(32) },
      ],
      policyId: 'default',
      issuedAt,
    },
  );
  return {
    groupPublicKey: group.publicKey,
    group: name,
    statement,
    release,
    keyCreatedAt: 1764000000,
    signedAt: Math.floor(issuedAt / 1000),
    artifactBytes: (n) => artifacts[n]!,
  };
}

/** Sign every job of both phases with real FROST aggregates and write everything into a temp dir. */
export function signRelease(
  formats: readonly string[],
  opts: {
    git?: GitTagInput;
    group?: FrostGroup;
    name?: string;
    artifacts?: Record<string, Uint8Array>;
  } = {},
): Signed {
  const group = opts.group ?? frostGroup();
  const ctx = makeContext(group, formats, opts);
  const signatures = new Map<string, Uint8Array>();
  for (const j of planJobs(ctx, 1)) signatures.set(j.id, group.sign(j.message));
  for (const j of planJobs(ctx, 2, signatures)) signatures.set(j.id, group.sign(j.message));
  const dir = tempDir('conclave-interop-');
  const out = assemble(ctx, signatures);
  for (const f of out) writeFileSync(join(dir, f.path), f.bytes);
  const artifacts = opts.artifacts ?? ARTIFACTS;
  for (const [n, b] of Object.entries(artifacts)) writeFileSync(join(dir, n), b);
  const files = new Map(out.map((f) => [f.path, f]));
  return {
    dir,
    ctx,
    group,
    files,
    signatures,
    file: (p) => {
      const f = files.get(p);
      if (!f) throw new Error(`no output file ${p}`);
      return f.bytes;
    },
  };
}

/** Run a tool; `ok` is exit status 0. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; input?: Uint8Array | string; env?: NodeJS.ProcessEnv } = {},
): { ok: boolean; status: number | null; out: string } {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    env: { ...process.env, ...opts.env },
    stdio: 'pipe',
    timeout: 60_000,
  });
  return {
    ok: r.status === 0,
    status: r.status,
    out: `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`,
  };
}
