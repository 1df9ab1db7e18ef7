/**
 * `conclave verify` and `conclave key export`: offline, no coordinator, no external tools.
 * Exit codes for verify (docs/verifying.md): 0 verified, 1 the signature does not verify for the
 * reason printed, 2 bad usage or unreadable input.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as z from 'zod';
import { Home } from '@conclave/client';
import { hexToBytes } from '@conclave/protocol';
import {
  checkMinVersion,
  checkReleaseStatement,
  checkRevocations,
  detectKey,
  publicKeyFromFile,
  releaseFields,
  KEY_FORMATS,
  exportPublicKey,
  isFormatError,
  verifySignature,
  type SignedStatement,
  type VerifyResult,
} from '@conclave/release';
import { homeDir } from './commands.js';
import { CliError } from './errors.js';
import { writeOutput } from './files.js';
import { getPassphrase, type Ctx, type GlobalOptions } from './output.js';

/** Exit status of a signature that was read and checked but does not verify. */
export const VERIFY_FAILED_EXIT = 1;

/**
 * `--at`: an ISO-8601 date and time with its zone (`Z` or `±HH:MM`); a time without a zone would
 * depend on the verifier's locale. The instant in ms since the epoch.
 */
const AtSchema = z.iso.datetime({ offset: true });

export const AT_FORM = 'YYYY-MM-DDTHH:MM:SS[.sss] with Z or ±HH:MM, e.g. 2025-06-01T12:00:00Z';

/** Parse `--at`; a bad value is a usage error (exit 2) naming the accepted form. */
export function parseAt(at: string | undefined): number | undefined {
  if (at === undefined) return undefined;
  const r = AtSchema.safeParse(at);
  const t = r.success ? Date.parse(r.data) : Number.NaN;
  if (!Number.isFinite(t)) {
    throw new CliError('INVALID_ARGUMENT', `--at must be an ISO-8601 time: ${AT_FORM}`, 2);
  }
  return t;
}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch {
    throw new CliError('INVALID_ARGUMENT', `cannot read the ${what} ${path}`, 2);
  }
}

export async function cmdVerify(
  artifact: string,
  o: GlobalOptions & {
    key: string;
    sig: string;
    namespace?: string;
    revocations?: string;
    minVersion?: string;
    statement?: string;
    at?: string;
  },
  ctx: Ctx,
): Promise<void> {
  // The time of verification: now, or --at for an auditor re-verifying as of a past time. Every
  // time check (key validity windows, signature creation and expiry, the statement's validUntil)
  // uses this one instant.
  const at = parseAt(o.at);
  const now = at ?? Date.now();
  const asOf = at === undefined ? {} : { at: new Date(at).toISOString() };
  const asOfText = at === undefined ? '' : ` as of ${new Date(at).toISOString()}`;
  const [key, signature, bytes] = await Promise.all([
    readInput(o.key, 'key file'),
    readInput(o.sig, 'signature file'),
    readInput(artifact, 'artifact'),
  ]);
  // A --key that is not a usable public key is bad input (exit 2, as the help says), not a
  // signature that fails to verify (exit 1).
  try {
    detectKey(key);
  } catch (e) {
    if (!isFormatError(e)) throw e;
    throw new CliError(
      e.code,
      `--key ${o.key}: ${e.message}; give the group's public key file (\`conclave key export\`)`,
      2,
    );
  }
  const started = performance.now();
  const result: VerifyResult = verifySignature({
    key,
    signature,
    artifact: bytes,
    artifactName: basename(artifact),
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    now,
  });
  const ms = Math.round((performance.now() - started) * 1000) / 1000;
  // A git tag signs the tag object (and through it the commit it names), never a file: an OK
  // beside some other ARTIFACT would read as that file's verification.
  if (result.format === 'git' && !Buffer.from(bytes).equals(Buffer.from(signature))) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `${o.sig} is a git tag: it signs its tag object and the commit that names, not ${artifact}; give the tag file as ARTIFACT too (conclave verify --key allowed_signers --sig ${o.sig} ${o.sig}), or run git verify-tag in the repository`,
      2,
    );
  }
  if (result.ok) {
    const refusal = await releaseChecks(o, key, bytes, result.statementPayload, now);
    if (refusal !== undefined) {
      ctx.result(
        {
          ok: false,
          format: result.format,
          code: refusal.code,
          reason: refusal.reason,
          artifact,
          ...asOf,
        },
        `FAILED (${result.format})${asOfText}: ${refusal.code}: ${refusal.reason}`,
      );
      process.exitCode = VERIFY_FAILED_EXIT;
      return;
    }
    ctx.result(
      { ok: true, format: result.format, detail: result.detail, artifact, ms, ...asOf },
      `OK (${result.format})${asOfText}: ${result.detail}`,
    );
    return;
  }
  ctx.result(
    {
      ok: false,
      ...(result.format === undefined ? {} : { format: result.format }),
      code: result.code,
      reason: result.reason,
      artifact,
      ...asOf,
    },
    `FAILED${result.format === undefined ? '' : ` (${result.format})`}${asOfText}: ${result.code}: ${result.reason}`,
  );
  process.exitCode = VERIFY_FAILED_EXIT;
}

/**
 * After the signature verifies: `--revocations` refuses a revoked release, `--min-version` a
 * downgrade. Both read the signed statement: the bytes the signature itself was verified over when
 * it carries one (DSSE, Sigstore bundle, JWS), otherwise `--statement release.intoto.json`, which
 * must verify under the same key and name this artifact. Never the signature file parsed again:
 * its unsigned fields (a DSSE envelope's, say) could say another version or class.
 */
async function releaseChecks(
  o: { key: string; revocations?: string; minVersion?: string; statement?: string },
  key: Uint8Array,
  artifact: Uint8Array,
  signedPayload: Uint8Array | undefined,
  now: number,
): Promise<{ code: string; reason: string } | undefined> {
  // Every signed statement at hand is checked: the signature's own and --statement's.
  const statements: SignedStatement[] = signedPayload === undefined ? [] : [{ signedPayload }];
  if (o.statement !== undefined) {
    const file = await readInput(o.statement, 'statement');
    const r = verifySignature({ key, signature: file, artifact, now });
    if (!r.ok || r.statementPayload === undefined) {
      return {
        code: r.ok ? 'STATEMENT_INVALID' : r.code,
        reason: `--statement ${o.statement} is not a statement (DSSE, Sigstore bundle or JWS) of this artifact signed by this key${r.ok ? '' : `: ${r.reason}`}`,
      };
    }
    statements.push({ signedPayload: r.statementPayload });
  }
  return signedReleaseChecks(o, key, artifact, statements, now);
}

/**
 * What a release verifier must check in the signed statements at hand (each already verified under
 * `key`, given as the bytes it was verified over) besides the signature: each is a release, not a
 * governance record of the group (a policy or revocation statement's subject is not software to
 * install), and not past its validUntil; then `--revocations` and `--min-version`.
 */
export async function signedReleaseChecks(
  o: { revocations?: string; minVersion?: string },
  key: Uint8Array,
  artifact: Uint8Array,
  statements: readonly SignedStatement[],
  now: number,
): Promise<{ code: string; reason: string } | undefined> {
  for (const statement of statements) {
    const r = checkReleaseStatement(statement, now);
    if (!r.ok) return { code: r.code, reason: r.reason };
  }
  if (o.revocations === undefined && o.minVersion === undefined) return undefined;
  const groupPublicKey = publicKeyFromFile(key);
  if (o.revocations !== undefined) {
    const h = (alg: string) => createHash(alg).update(artifact).digest('hex');
    const revocations = await readInput(o.revocations, 'revocation list');
    for (const statement of statements.length === 0 ? [undefined] : statements) {
      const r = checkRevocations({
        artifacts: [{ sha256: h('sha256'), sha512: h('sha512') }],
        ...(statement === undefined ? {} : { statement }),
        revocations,
        groupPublicKey,
      });
      if (!r.ok) return { code: r.code, reason: r.reason };
    }
  }
  if (o.minVersion !== undefined) {
    if (statements.length === 0) {
      return {
        code: 'STATEMENT_REQUIRED',
        reason: `--min-version needs the signed statement: pass --statement release.intoto.json (from conclave fetch)`,
      };
    }
    for (const statement of statements) {
      const version = releaseFields(statement)?.version;
      const r =
        version === undefined
          ? { ok: false, code: 'STATEMENT_INVALID', reason: 'the statement names no version' }
          : checkMinVersion(version, o.minVersion);
      if (!r.ok) return { code: r.code, reason: r.reason };
    }
  }
  return undefined;
}

/** The key formats `conclave key export` writes (the release package's list). */
export const KEY_EXPORT_FORMATS = KEY_FORMATS;
export type KeyExportFormat = (typeof KEY_EXPORT_FORMATS)[number];

/**
 * The OpenPGP certificate needs the quorum's self-signature (job `openpgp-cert`): the newest
 * ceremony recorded in this home that signed one for this key.
 */
async function openpgpSelfSignature(
  home: Home,
  groupPublicKey: string,
): Promise<{ keyCreatedAt: number; selfSignature: Uint8Array } | undefined> {
  for (const id of (await home.listRecords()).reverse()) {
    const record = await home.loadRecord(id);
    const outcome = record?.['outcome'] as
      | {
          groupPublicKey?: string;
          keyCreatedAt?: number;
          signatures?: { job: string; signature: string }[];
        }
      | undefined;
    if (outcome?.groupPublicKey !== groupPublicKey || outcome.keyCreatedAt === undefined) continue;
    const cert = outcome.signatures?.find((s) => s.job === 'openpgp-cert');
    if (cert !== undefined)
      return { keyCreatedAt: outcome.keyCreatedAt, selfSignature: hexToBytes(cert.signature, 64) };
  }
  return undefined;
}

export async function cmdKeyExport(
  group: string,
  o: GlobalOptions & { format: string; out?: string; principal?: string },
  ctx: Ctx,
): Promise<void> {
  if (!(KEY_EXPORT_FORMATS as readonly string[]).includes(o.format)) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `unknown key format ${o.format}; expected one of ${KEY_EXPORT_FORMATS.join(', ')}`,
    );
  }
  const format = o.format as KeyExportFormat;
  const home = await Home.open(homeDir(o));
  await home.shareMetadata(group).catch(() => {
    throw new CliError(
      'NO_SHARE',
      `this home holds no share of group ${group}: run it where a member's share lives, or pass --home`,
    );
  });
  // The key verifiers will trust comes from the share opened with the passphrase: the file's
  // header alone is not authenticated, and anyone who can write the home could change it.
  const passphrase = await getPassphrase(`Passphrase for ${home.name}: `);
  const meta = (await home.loadShare(group, passphrase)).metadata;
  const a = hexToBytes(meta.groupPublicKey, 32);
  let openpgp: { keyCreatedAt: number; selfSignature: Uint8Array } | undefined;
  if (format === 'openpgp') {
    openpgp = await openpgpSelfSignature(home, meta.groupPublicKey);
    if (openpgp === undefined) {
      throw new CliError(
        'OPENPGP_CERT_UNSIGNED',
        `no ceremony recorded here has signed the group's OpenPGP certificate yet: request a release with --formats openpgp (the quorum signs the certificate once), fetch it, then export again`,
      );
    }
  }
  let file;
  try {
    file = exportPublicKey(a, format, {
      group,
      ...(o.principal === undefined ? {} : { principal: o.principal }),
      ...(openpgp === undefined ? {} : { openpgp }),
    });
  } catch (e) {
    if (isFormatError(e)) throw new CliError('INVALID_ARGUMENT', e.message);
    throw e;
  }
  // Replaced when there (export again after a rotation), atomically, never through a symlink.
  if (o.out !== undefined) await writeOutput(o.out, file.bytes, { overwrite: true });
  const text = Buffer.from(file.bytes).toString('utf8');
  ctx.result(
    {
      group,
      format,
      groupPublicKey: meta.groupPublicKey,
      file: o.out ?? null,
      suggestedName: file.path,
      key: text,
    },
    o.out !== undefined ? `Wrote ${o.out} (${format})` : text.replace(/\n$/, ''),
  );
}
