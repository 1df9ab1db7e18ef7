/**
 * `conclave demo --in-process`: a t-of-n key made by DKG and a signed, verified release, with every
 * member in this one process (no coordinator, no sockets), and says so; the signature is checked
 * with Node's crypto and, when installed, openssl. The default demo is real-demo.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ed25519 as frost,
  ed25519Spki,
  type KeyPackage,
  type PublicKeyPackage,
} from '@conclave/frost';
import { childEnv } from './child-env.js';
import { CliError } from './errors.js';

export interface DemoOptions {
  readonly out: string;
  readonly threshold: number;
  readonly signers: number;
  readonly json: boolean;
  readonly progress: (line: string) => void;
}

export interface DemoResult {
  ok: boolean;
  mode: 'in-process';
  groupPublicKey: string;
  threshold: number;
  signers: string[];
  approvers: string[];
  ceremonyId: string;
  artifact: string;
  publicKeys: { pem: string };
  signatures: { raw: string };
  verified: { nodeCrypto: boolean; openssl: boolean | 'not installed' };
  timingsMs: Record<string, number>;
}

/**
 * Whether a demo passed (both demos): Node's check and every format must pass; openssl counts only
 * when it is installed. A missing tool is skipped, not failed (tool-checks.ts does the same), so
 * the demo passes on a machine without openssl.
 */
export function demoPassed(v: {
  nodeCrypto: boolean;
  openssl: boolean | 'not installed';
  formats?: boolean;
}): boolean {
  return v.nodeCrypto && v.openssl !== false && v.formats !== false;
}

/** The demo's member names, in order (both demos). */
export const DEMO_MEMBERS = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
];

/**
 * The demos' release artifact: text of more than 64 bytes, so never a digest's size (20 to 64
 * bytes), which the raw format refuses (raw-guard.ts).
 */
export function demoArtifactText(): string {
  return `Conclave demo artifact: it stands in for a release tarball\n${new Date().toISOString()}\n`;
}

/** The names of a demo's n members, refusing a shape it cannot run. */
export function demoMembers(signers: number, threshold: number): string[] {
  const n = signers;
  if (!Number.isInteger(n) || n < 2 || n > DEMO_MEMBERS.length)
    throw new CliError(
      'INVALID_ARGUMENT',
      `--signers must be between 2 and ${DEMO_MEMBERS.length}`,
    );
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > n)
    throw new CliError('INVALID_ARGUMENT', `--threshold must be between 2 and --signers (${n})`);
  return DEMO_MEMBERS.slice(0, n);
}

export function runDemo(o: DemoOptions): DemoResult {
  const t = o.threshold;
  const names = demoMembers(o.signers, t);
  const n = names.length;
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const ids = names.map((m) => frost.identifier.derive(m));
  const timings: Record<string, number> = {};
  const time = <T>(label: string, fn: () => T): T => {
    const start = performance.now();
    const r = fn();
    timings[label] = Math.round((performance.now() - start) * 10) / 10;
    return r;
  };

  o.progress(`Key ceremony: ${t}-of-${n} DKG among ${names.join(', ')} (all in this process)`);
  const { keys, pub } = time('dkg', () => {
    const r1 = ids.map((id) => frost.keys.dkg.part1(id, n, t));
    o.progress('  round 1: every member broadcast a commitment and proof of knowledge');
    const r2 = ids.map((_, i) =>
      frost.keys.dkg.part2(
        r1[i]!.secretPackage,
        r1.filter((_, j) => j !== i).map((x) => x.package),
      ),
    );
    o.progress('  round 2: every member sent each other member a share');
    const res = ids.map((id, i) =>
      frost.keys.dkg.part3(
        r2[i]!.secretPackage,
        r1.filter((_, j) => j !== i).map((x) => x.package),
        r2.filter((_, j) => j !== i).map((x) => x.packages[id]!),
      ),
    );
    const first = Buffer.from(frost.encode.bytes('PublicKeyPackage', res[0]!.publicKeyPackage));
    for (const r of res)
      if (!first.equals(Buffer.from(frost.encode.bytes('PublicKeyPackage', r.publicKeyPackage))))
        throw new CliError('DKG_MISMATCH', 'members disagree on the group key');
    o.progress('  confirmed: all members computed the same group public key');
    return {
      keys: res.map((r) => r.keyPackage) as KeyPackage[],
      pub: res[0]!.publicKeyPackage as PublicKeyPackage,
    };
  });

  const artifactPath = join(out, 'release-1.0.0.tar.gz');
  const artifact = Buffer.from(demoArtifactText());
  writeFileSync(artifactPath, artifact);
  const ceremonyId = createHash('sha256').update(artifact).digest('hex').slice(0, 16);
  const approvers = names.slice(0, t);
  o.progress(
    `Release request: ${artifactPath} (sha256 ${createHash('sha256').update(artifact).digest('hex').slice(0, 16)}…)`,
  );
  o.progress(`Approvals: ${approvers.join(', ')} — ${t} of ${n} members approved; ${t} needed`);

  const sig = time('sign', () => {
    const signerKeys = approvers.map((a) => keys[names.indexOf(a)]!);
    const r1 = signerKeys.map((k) => frost.round1.commit(k));
    const pkg = frost.signingPackage(
      r1.map((r) => r.commitments),
      artifact,
    );
    const shares = signerKeys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k));
    return frost.aggregate(pkg, shares, pub);
  });
  o.progress('Aggregated one Ed25519 signature from the approvers’ shares');

  const spki = Buffer.from(ed25519Spki(pub.verifyingKey));
  const pem = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({
    type: 'spki',
    format: 'pem',
  }) as string;
  const pemPath = join(out, 'conclave-group.pub.pem');
  const sigPath = join(out, 'release-1.0.0.tar.gz.sig');
  writeFileSync(pemPath, pem);
  writeFileSync(sigPath, sig.bytes);
  const nodeOk = nodeVerify(null, artifact, createPublicKey(pem), sig.bytes);
  let opensslOk: boolean | 'not installed';
  try {
    execFileSync(
      'openssl',
      [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        pemPath,
        '-rawin',
        '-in',
        artifactPath,
        '-sigfile',
        sigPath,
      ],
      { stdio: 'pipe', env: childEnv() },
    );
    opensslOk = true;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number };
    opensslOk = err.code === 'ENOENT' ? 'not installed' : false;
  }
  o.progress(
    `Verified with Node's crypto: ${nodeOk ? 'OK' : 'FAILED'}; with openssl: ${opensslOk === true ? 'OK' : String(opensslOk)}`,
  );
  return {
    ok: demoPassed({ nodeCrypto: nodeOk, openssl: opensslOk }),
    mode: 'in-process',
    groupPublicKey: Buffer.from(pub.verifyingKey).toString('hex'),
    threshold: t,
    signers: names,
    approvers,
    ceremonyId,
    artifact: artifactPath,
    publicKeys: { pem: pemPath },
    signatures: { raw: sigPath },
    verified: { nodeCrypto: nodeOk, openssl: opensslOk },
    timingsMs: timings,
  };
}
