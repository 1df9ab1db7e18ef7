/**
 * Batches: one ceremony signs a manifest of many artifacts (RFC 9162 Merkle root inside the signed
 * statement); each artifact gets an inclusion proof file; `conclave verify --batch` checks an
 * artifact + its proof + the signed statement. The manifest file itself is an ordinary artifact of
 * the request, so every format (minisign, SSHSIG, signify, …) signs it for tools without Merkle
 * support: verify the manifest, then look the artifact's digest up in it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  DSSE_PAYLOAD_TYPE,
  buildManifest,
  digestFile,
  isManifestError,
  parseManifest,
  proofFileName,
  publicKeyFromFile,
  serializeManifest,
  serializeProofFile,
  verifyBatchMember,
  verifyEd25519,
  type Manifest,
  type ManifestRef,
} from '@conclave/release';
import { z } from 'zod';
import { CliError } from './errors.js';
import type { Ctx, GlobalOptions } from './output.js';
import { signedReleaseChecks } from './verify.js';

/** Digests every regular file in `dir` (not recursive) and builds the batch manifest. */
export async function buildBatch(
  dir: string,
  ctx: Ctx,
): Promise<{ manifest: Manifest; text: string }> {
  const names = (
    await readdir(dir).catch(() => {
      throw new CliError('INVALID_ARGUMENT', `cannot read the batch directory ${dir}`);
    })
  ).sort();
  const entries = [];
  let done = 0;
  for (const name of names) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile()) continue;
    const d = await digestFile(path);
    entries.push({ name, sha256: d.sha256, sha512: d.sha512 });
    done += 1;
    if (done % 10_000 === 0) ctx.progress(`hashed ${done} of ${names.length} artifacts`);
  }
  try {
    const manifest = buildManifest(entries);
    return { manifest, text: serializeManifest(manifest) };
  } catch (e) {
    if (isManifestError(e)) throw new CliError('INVALID_ARGUMENT', `${e.code}: ${e.message}`);
    throw e;
  }
}

/** ARTIFACT_MISMATCH unless the manifest file's root and size are those in the request. */
export function checkManifestFile(text: string, ref: ManifestRef, name: string): void {
  let m: Manifest;
  try {
    m = parseManifest(text);
  } catch (e) {
    throw new CliError(
      'ARTIFACT_MISMATCH',
      `${name} is not a valid batch manifest (${isManifestError(e) ? e.message : String(e)})`,
    );
  }
  if (m.rootHex !== ref.root || m.size !== ref.size) {
    throw new CliError(
      'ARTIFACT_MISMATCH',
      `${name} hashes to root ${m.rootHex} over ${m.size} artifacts, but the request signs root ${ref.root} over ${ref.size}; do not approve`,
    );
  }
}

/**
 * `<name>.proof.json` for every artifact of the batch, bound to the statement: the files `fetch
 * --manifest` writes (with its other outputs, through the same checks: files.ts).
 */
export function proofFiles(
  manifestText: string,
  ref: ManifestRef,
  statementPayload: Uint8Array,
): { path: string; bytes: string }[] {
  checkManifestFile(manifestText, ref, 'the manifest');
  const m = parseManifest(manifestText);
  const statement = { sha256: createHash('sha256').update(statementPayload).digest('hex') };
  return m.entries.map((e) => ({
    path: proofFileName(e.name),
    bytes: serializeProofFile(m.proofFor(e.name, statement)),
  }));
}

const DsseSchema = z.object({
  payload: z.base64().max(16 * 1024 * 1024),
  payloadType: z.literal(DSSE_PAYLOAD_TYPE),
  signatures: z
    .array(z.object({ sig: z.base64().max(256), keyid: z.string().max(256).optional() }))
    .min(1)
    .max(16),
});

function pae(type: string, body: Uint8Array): Uint8Array {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${t.length} `),
    t,
    Buffer.from(` ${body.length} `),
    body,
  ]);
}

/**
 * `conclave verify --batch`: the statement envelope's signature under the key, then the artifact
 * against its proof and the root inside that statement, then the same release checks as any
 * signature (a release, not expired; `--revocations`, `--min-version`) on the signed statement.
 */
export async function cmdVerifyBatch(
  artifact: string,
  o: GlobalOptions & {
    key: string;
    proof?: string;
    statement?: string;
    revocations?: string;
    minVersion?: string;
  },
  ctx: Ctx,
): Promise<void> {
  if (o.proof === undefined || o.statement === undefined) {
    throw new CliError(
      'INVALID_ARGUMENT',
      '--batch needs --proof FILE.proof.json and --statement release.intoto.json (from conclave fetch)',
      2,
    );
  }
  const read = (p: string, what: string) =>
    readFile(p).catch(() => {
      throw new CliError('INVALID_ARGUMENT', `cannot read the ${what} ${p}`, 2);
    });
  const [keyFile, envBytes, proof, bytes] = await Promise.all([
    read(o.key, 'key file'),
    read(o.statement, 'statement envelope'),
    read(o.proof, 'proof file'),
    read(artifact, 'artifact'),
  ]);
  const failed = (code: string, reason: string) => {
    ctx.result(
      { ok: false, format: 'batch', code, reason, artifact },
      `FAILED (batch): ${code}: ${reason}`,
    );
    process.exitCode = 1;
  };
  let key: Uint8Array;
  try {
    key = publicKeyFromFile(keyFile);
  } catch (e) {
    return failed('KEY_FORMAT_UNKNOWN', e instanceof Error ? e.message : String(e));
  }
  let env: z.infer<typeof DsseSchema>;
  try {
    env = DsseSchema.parse(JSON.parse(envBytes.toString('utf8')));
  } catch {
    return failed(
      'SIG_MALFORMED',
      `${o.statement} is not a DSSE envelope of an in-toto statement (${DSSE_PAYLOAD_TYPE})`,
    );
  }
  const payload = Buffer.from(env.payload, 'base64');
  const signed = env.signatures.some((s) =>
    verifyEd25519(pae(env.payloadType, payload), Buffer.from(s.sig, 'base64'), key),
  );
  if (!signed) return failed('SIG_INVALID', 'the statement is not signed by this key');
  const r = verifyBatchMember({
    artifactBytes: bytes,
    name: basename(artifact),
    proofFile: proof.toString('utf8'),
    statement: payload,
  });
  if (!r.ok) return failed(r.code, r.reason);
  const refusal = await signedReleaseChecks(
    o,
    keyFile,
    bytes,
    [{ signedPayload: new Uint8Array(payload) }],
    Date.now(),
  );
  if (refusal !== undefined) return failed(refusal.code, refusal.reason);
  ctx.result(
    { ok: true, format: 'batch', artifact, detail: 'in the signed batch' },
    `OK (batch): ${basename(artifact)} is in the batch whose Merkle root the quorum signed`,
  );
}
