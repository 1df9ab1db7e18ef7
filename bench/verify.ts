/**
 * `pnpm bench verify` (issue 4): `conclave verify`'s check (`verifySignature`: detect the key and
 * signature formats, parse, hash, Ed25519-verify) for every format over a 1 MiB artifact, next to
 * its floor measured in the same run — Node's native Ed25519 verify of that format's signed bytes
 * plus hashing the artifact with the hash the format needs. Goal: ≤ 2× the floor. Signatures are
 * made with one ordinary Ed25519 key (a FROST aggregate is the same kind of signature).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  assemble,
  formatContext,
  planMessages,
  verifySignature,
  KEY_FILES,
  type OutputFile,
} from '@conclave/release';
import { fmtMs, measureInterleaved, table, type Stats } from './lib/harness.js';

const GOAL = 2;

/** The hash each format's verifier computes over the artifact. */
const HASH: Record<string, string | null> = {
  raw: null, // the message is the artifact itself: the native verify hashes it
  sshsig: 'sha512',
  minisign: 'blake2b512',
  signify: 'sha256',
  openpgp: 'sha512',
  dsse: 'sha256',
  sigstore: 'sha256',
  jws: 'sha256',
};

const KEY_FOR: Record<string, string> = {
  raw: KEY_FILES.pem,
  sshsig: KEY_FILES['allowed-signers'],
  minisign: KEY_FILES.minisign,
  signify: KEY_FILES.signify,
  openpgp: KEY_FILES.openpgp,
  dsse: KEY_FILES.pem,
  sigstore: KEY_FILES.pem,
  jws: KEY_FILES.jwk,
};

export function runVerifyBench(o: { readonly quick: boolean }) {
  const seed = Buffer.alloc(32, 7);
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const pub = createPublicKey(priv);
  const a = new Uint8Array(pub.export({ format: 'der', type: 'spki' }).subarray(-32));
  const artifact = randomBytes(1024 * 1024);
  const h = (alg: string) => createHash(alg).update(artifact).digest('hex');
  const release = {
    version: '1.0.0',
    class: 'standard' as const,
    note: 'bench',
    artifacts: [
      { name: 'app.tar.gz', sha256: h('sha256'), sha512: h('sha512'), blake2b512: h('blake2b512') },
    ],
    formats: Object.keys(HASH),
  };
  const context = {
    ceremonyId: 'c_bench0000000000',
    group: 'release',
    groupPublicKey: Buffer.from(a).toString('hex'),
    requester: 'alice',
    approvers: [],
    policyId: 'default',
    issuedAt: Date.now(),
  };
  const input = { release, context, keyCreatedAt: 1_700_000_000, artifactBytes: () => artifact };
  const sigs = new Map<string, Uint8Array>();
  const messages = new Map<string, Uint8Array>();
  for (const job of planMessages(input, 1)) {
    sigs.set(job.id, sign(null, job.message, priv));
    messages.set(job.id, job.message);
  }
  for (const job of planMessages(input, 2, sigs)) {
    sigs.set(job.id, sign(null, job.message, priv));
    messages.set(job.id, job.message);
  }
  const files = assemble(formatContext(input), sigs);
  const file = (path: string): OutputFile => {
    const f = files.find((x) => x.path === path);
    if (f === undefined) throw new Error(`no ${path}`);
    return f;
  };
  // The signed bytes per format (the floor verifies exactly these).
  const signed: Record<string, string> = {
    raw: 'raw:app.tar.gz',
    sshsig: 'sshsig:app.tar.gz',
    minisign: 'minisign:app.tar.gz',
    signify: 'signify',
    openpgp: 'openpgp:app.tar.gz',
    dsse: 'dsse',
    sigstore: 'dsse',
    jws: 'jws',
  };
  const opts = o.quick
    ? { warmup: 3, warmupMs: 200, minIters: 10, maxIters: 30, budgetMs: 500 }
    : { warmup: 10, warmupMs: 1000, minIters: 50, maxIters: 400, budgetMs: 4000 };
  const rows: { format: string; ours: Stats; floor: Stats; ratio: number }[] = [];
  for (const f of files.filter((x) => x.kind === 'signature')) {
    const format = f.format!;
    const key = file(KEY_FOR[format]!).bytes;
    const msg = messages.get(signed[format]!)!;
    const sig = sigs.get(signed[format]!)!;
    const alg = HASH[format];
    const stats = measureInterleaved(opts, [
      {
        key: 'ours',
        setup: () => undefined,
        run: () => {
          const r = verifySignature({
            key,
            signature: f.bytes,
            artifact,
            artifactName: 'app.tar.gz',
          });
          if (!r.ok) throw new Error(`${format}: ${r.code} ${r.reason}`);
          return r;
        },
      },
      {
        key: 'floor',
        setup: () => undefined,
        run: () => {
          const d =
            alg === null || alg === undefined ? null : createHash(alg).update(artifact).digest();
          return [d, verify(null, msg, pub, sig)];
        },
      },
    ]);
    const ours = stats['ours']!;
    const floor = stats['floor']!;
    rows.push({ format, ours, floor, ratio: ours.medianMs / floor.medianMs });
  }
  return {
    artifactBytes: artifact.length,
    goal: GOAL,
    rows,
    at: new Date().toISOString(),
    quick: o.quick,
  };
}

export function mainVerify(o: { readonly quick: boolean }): void {
  const r = runVerifyBench(o);
  process.stdout.write(
    `conclave verify over a 1 MiB artifact vs native Ed25519 verify + the format's artifact hash (goal ≤ ${GOAL}×)\n` +
      table(
        ['format', 'conclave verify', 'native floor', 'ratio', 'goal'],
        r.rows.map((x) => [
          x.format,
          fmtMs(x.ours.medianMs),
          fmtMs(x.floor.medianMs),
          `${x.ratio.toFixed(2)}×`,
          x.ratio <= GOAL ? 'pass' : 'MISS',
        ]),
      ) +
      '\n',
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}verify-latest.json`, `${JSON.stringify(r, null, 2)}\n`);
}
