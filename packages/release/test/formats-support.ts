/**
 * A deterministic release for golden tests: one fixed RFC 8032 seed (Ed25519 signatures are
 * deterministic, so every file is byte-stable) and a fixed statement.
 */
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { buildStatement, planJobs } from '../src/index.js';
import type { FormatContext, FormatRelease, GitTagInput } from '../src/index.js';

export const SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const A = ed25519.getPublicKey(SEED);
export const sign = (m: Uint8Array) => ed25519.sign(m, SEED);

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export function artifactRef(name: string, content: Uint8Array) {
  const h = (alg: string) => createHash(alg).update(content).digest('hex');
  return { name, sha256: h('sha256'), sha512: h('sha512'), blake2b512: h('blake2b512') };
}

export const CONTENT: Record<string, Uint8Array> = {
  'app.tar.gz': enc('conclave golden artifact\n'),
  'app-arm64.tar.gz': enc('second artifact\n'),
};

export const GIT: GitTagInput = {
  object: '0123456789abcdef0123456789abcdef01234567',
  type: 'commit',
  tag: 'v1.2.3',
  tagger: { name: 'Release Bot', email: 'release@example.com', time: 1764072000, tz: '+0000' },
  message: 'Release v1.2.3',
};

export const ALL_FORMATS = [
  'raw',
  'sshsig',
  'git',
  'minisign',
  'signify',
  'openpgp',
  'dsse',
  'sigstore',
  'jws',
];

export function makeRelease(
  formats: readonly string[] = ALL_FORMATS,
  content: Record<string, Uint8Array> = CONTENT,
  git: GitTagInput | undefined = GIT,
): FormatRelease {
  return {
    version: '1.2.3',
    class: 'standard',
    note: 'golden',
    artifacts: Object.entries(content).map(([n, c]) => artifactRef(n, c)),
    formats,
    ...(git ? { git } : {}),
  };
}

export const ISSUED_AT = Date.UTC(2025, 10, 25, 12, 0, 0);

export function makeContext(
  release: FormatRelease = makeRelease(),
  opts: { publicKey?: Uint8Array; content?: Record<string, Uint8Array>; group?: string } = {},
): FormatContext {
  const publicKey = opts.publicKey ?? A;
  const content = opts.content ?? CONTENT;
  const group = opts.group ?? 'release';
  const statement = buildStatement(
    {
      ...release,
      artifacts: release.artifacts.map((a) => ({
        name: a.name,
        sha256: a.sha256,
        sha512: a.sha512,
      })),
    },
    {
      ceremonyId: 'c_00112233445566778899aabbccddeeff',
      group,
      groupPublicKey: hex(publicKey),
      requester: 'alice',
      approvers: [
        { member: 'bob', identityKey: '22'.repeat(32) },
        { member: 'carol', identityKey: '33'.repeat(32) },
      ],
      policyId: 'default',
      issuedAt: ISSUED_AT,
    },
  );
  return {
    groupPublicKey: publicKey,
    group,
    statement,
    release,
    keyCreatedAt: 1700000000,
    signedAt: Math.floor(ISSUED_AT / 1000),
    artifactBytes: (name) => {
      const c = content[name];
      if (!c) throw new Error(`no artifact ${name}`);
      return c;
    },
  };
}

/** Sign every job of both phases with `signer` (the fixed key by default). */
export function signAll(
  ctx: FormatContext,
  signer: (m: Uint8Array) => Uint8Array = sign,
): Map<string, Uint8Array> {
  const sigs = new Map<string, Uint8Array>();
  for (const j of planJobs(ctx, 1)) sigs.set(j.id, signer(j.message));
  for (const j of planJobs(ctx, 2, sigs)) sigs.set(j.id, signer(j.message));
  return sigs;
}
