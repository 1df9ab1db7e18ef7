/**
 * Release revocation and downgrade checks for verifiers (docs/policy.md "Revoking a release"). Pure:
 * bytes and strings in, a verdict out, never a thrown exception for bad input.
 *
 * A revocation is an in-toto statement of class `revocation` that a quorum of the group signed (a
 * governance ceremony like any release). Its predicate names the revoked release: ceremony id,
 * statement digest, version and every artifact digest. The revocation list a coordinator exports is
 * one JSON file holding those statements as DSSE envelopes:
 *
 *   { "type": "conclave-revocations/v1", "group", "groupPublicKey": hex, "exportedAt",
 *     "revocations": [ { "payloadType", "payload": base64, "signatures": [{ "keyid", "sig" }] } ] }
 *
 * Each envelope is checked on its own (DSSE v1 PAE, RFC 8032 Ed25519 under the group key), so the
 * file needs no signature of its own: nobody but a quorum can add an entry. Removing one is
 * possible for whoever hands out the file, so verifiers fetch it from where they trust.
 */
import { createHash } from 'node:crypto';
import { sha256 } from '@conclave/frost';
import { bytesToHex } from '@noble/hashes/utils.js';
import semver from 'semver';
import { z } from 'zod';
import { verifyEd25519 } from './formats/ed25519.js';
import {
  DSSE_PAYLOAD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  canonicalJson,
  pae,
  type ReleaseStatement,
} from './statement.js';

export const REVOCATION_LIST_TYPE = 'conclave-revocations/v1';

/** Release classes a release verifier accepts; `policy` and `revocation` are governance records. */
export const RELEASE_VERIFY_CLASSES = ['standard', 'hotfix'] as const;

export const RELEASE_CHECK_CODES = [
  /** A valid revocation statement names this release (ceremony, statement or an artifact digest). */
  'REVOKED',
  /** The revocation list cannot be used: unreadable, another key, or an entry that does not verify. */
  'REVOCATIONS_INVALID',
  /** The release's version is lower than the minimum the verifier accepts. */
  'DOWNGRADE',
  /** A version is not SemVer 2.0.0 (nor dotted numbers), so it cannot be ordered. */
  'VERSION_INVALID',
  /** The statement's `validUntil` has passed. */
  'STATEMENT_EXPIRED',
  /** The statement is a governance record (`policy`, `revocation`), not a release. */
  'NOT_A_RELEASE',
  /** Nothing to check: no ceremony id, statement digest or artifact digest given. */
  'INVALID_INPUT',
] as const;
export type ReleaseCheckCode = (typeof RELEASE_CHECK_CODES)[number];

export type ReleaseCheck =
  | { readonly ok: true; readonly reason: string }
  | { readonly ok: false; readonly code: ReleaseCheckCode; readonly reason: string };

/** One verified revocation, as `checkRevocations` reports the one that matched. */
export interface RevocationRecord {
  /** The revocation ceremony. */
  readonly ceremonyId: string;
  readonly revokedCeremony: string;
  readonly revokedStatementDigest: string;
  readonly revokedVersion: string;
  readonly artifacts: readonly { name: string; sha256: string; sha512: string }[];
  readonly reason: string;
  readonly issuedAt: string;
}

const Hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes} bytes of hex`);

const DsseEnvelopeSchema = z.object({
  payloadType: z.literal(DSSE_PAYLOAD_TYPE),
  payload: z.base64().max(1 << 20),
  signatures: z
    .array(z.object({ keyid: z.string().max(256).optional(), sig: z.base64().max(256) }))
    .min(1)
    .max(16),
});
export type DsseEnvelopeJson = z.infer<typeof DsseEnvelopeSchema>;

const RevocationListSchema = z.object({
  type: z.literal(REVOCATION_LIST_TYPE),
  group: z.string().min(1).max(64),
  groupPublicKey: Hex(32),
  exportedAt: z.string().max(64).optional(),
  revocations: z.array(DsseEnvelopeSchema).max(100_000),
});
export type RevocationList = z.infer<typeof RevocationListSchema>;

const SubjectSchema = z.object({
  name: z.string().min(1).max(255),
  digest: z.object({ sha256: Hex(32), sha512: Hex(64) }),
});

/** The parts of a revocation statement this check relies on (other fields may be present). */
const RevocationStatementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: z.object({
    class: z.literal('revocation'),
    group: z.string(),
    groupPublicKey: Hex(32),
    ceremonyId: z.string().min(1).max(128),
    issuedAt: z.string().max(64),
    revokes: z.object({
      ceremonyId: z.string().min(1).max(128),
      statementDigest: Hex(32),
      version: z.string().min(1).max(64),
      subject: z.array(SubjectSchema).min(1).max(4096),
      reason: z.string().max(512),
    }),
  }),
});

/** The parts of a release statement the checks read. */
const ReleaseStatementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  predicateType: z.literal(PREDICATE_TYPE),
  subject: z.array(
    z.object({
      name: z.string(),
      digest: z.object({ sha256: z.string().optional(), sha512: z.string().optional() }),
    }),
  ),
  predicate: z.object({
    class: z.string(),
    version: z.string(),
    ceremonyId: z.string(),
    validUntil: z.string().optional(),
  }),
});

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const fromB64 = (b64: string): Uint8Array => Uint8Array.from(Buffer.from(b64, 'base64'));
const toText = (bytes: Uint8Array | string): string =>
  typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);

const fail = (code: ReleaseCheckCode, reason: string): ReleaseCheck => ({
  ok: false,
  code,
  reason,
});

/**
 * The artifact entry for a governance document (a policy document, a revocation record): its
 * canonical JSON bytes' digests. A `policy` or `revocation` request carries exactly this one
 * artifact, so the statement's subject is the document itself, never a release artifact.
 */
export function documentArtifact(
  name: string,
  document: unknown,
): { name: string; sha256: string; sha512: string; blake2b512: string } {
  const bytes = Buffer.from(canonicalJson(document), 'utf8');
  const d = (alg: string) => createHash(alg).update(bytes).digest('hex');
  return { name, sha256: d('sha256'), sha512: d('sha512'), blake2b512: d('blake2b512') };
}

/** The revocation list file for these signed statements (what `conclave release revocations` writes). */
export function buildRevocationList(input: {
  readonly group: string;
  readonly groupPublicKey: string;
  readonly entries: readonly { readonly statement: unknown; readonly signature: string }[];
  readonly exportedAt?: number;
}): Uint8Array {
  const list: RevocationList = {
    type: REVOCATION_LIST_TYPE,
    group: input.group,
    groupPublicKey: input.groupPublicKey,
    ...(input.exportedAt === undefined
      ? {}
      : { exportedAt: new Date(input.exportedAt).toISOString() }),
    revocations: input.entries.map((e) => ({
      payloadType: DSSE_PAYLOAD_TYPE,
      payload: Buffer.from(canonicalJson(e.statement), 'utf8').toString('base64'),
      signatures: [{ keyid: '', sig: Buffer.from(e.signature, 'hex').toString('base64') }],
    })),
  };
  return new TextEncoder().encode(`${JSON.stringify(list, null, 2)}\n`);
}

/**
 * Parses a revocation list and verifies every entry under `groupPublicKey`: a quorum-signed
 * statement of class `revocation` for that key. Any entry that fails makes the whole list unusable
 * (fail closed: a verifier should not guess which half of a tampered file to believe).
 */
export function readRevocationList(
  bytes: Uint8Array | string,
  groupPublicKey: Uint8Array | string,
):
  | { ok: true; revocations: RevocationRecord[] }
  | { ok: false; code: ReleaseCheckCode; reason: string } {
  const keyHex =
    typeof groupPublicKey === 'string' ? groupPublicKey.toLowerCase() : bytesToHex(groupPublicKey);
  if (!/^[0-9a-f]{64}$/.test(keyHex)) {
    return { ok: false, code: 'INVALID_INPUT', reason: 'the group public key is not 32 bytes' };
  }
  let parsed: RevocationList;
  try {
    const r = RevocationListSchema.safeParse(JSON.parse(toText(bytes)));
    if (!r.success) {
      return {
        ok: false,
        code: 'REVOCATIONS_INVALID',
        reason: `not a ${REVOCATION_LIST_TYPE} file (${r.error.issues[0]?.path.join('.') ?? 'shape'})`,
      };
    }
    parsed = r.data;
  } catch {
    return {
      ok: false,
      code: 'REVOCATIONS_INVALID',
      reason: 'the revocation list is not UTF-8 JSON',
    };
  }
  if (parsed.groupPublicKey !== keyHex) {
    return {
      ok: false,
      code: 'REVOCATIONS_INVALID',
      reason: `the revocation list is for key ${parsed.groupPublicKey}, not ${keyHex}; fetch the list of this group`,
    };
  }
  const key = fromHex(keyHex);
  const out: RevocationRecord[] = [];
  for (const [i, env] of parsed.revocations.entries()) {
    const payload = fromB64(env.payload);
    const message = pae(env.payloadType, payload);
    const signed = env.signatures.some((s) => verifyEd25519(message, fromB64(s.sig), key));
    if (!signed) {
      return {
        ok: false,
        code: 'REVOCATIONS_INVALID',
        reason: `revocation ${i} is not signed by the group key; the list was altered — fetch it again from the coordinator`,
      };
    }
    let statement: z.infer<typeof RevocationStatementSchema>;
    try {
      const r = RevocationStatementSchema.safeParse(JSON.parse(toText(payload)));
      if (!r.success) {
        return {
          ok: false,
          code: 'REVOCATIONS_INVALID',
          reason: `entry ${i} is signed by the group but is not a revocation statement`,
        };
      }
      statement = r.data;
    } catch {
      return { ok: false, code: 'REVOCATIONS_INVALID', reason: `entry ${i} is not JSON` };
    }
    if (statement.predicate.groupPublicKey !== keyHex) {
      return {
        ok: false,
        code: 'REVOCATIONS_INVALID',
        reason: `entry ${i} names another group key`,
      };
    }
    const r = statement.predicate.revokes;
    out.push({
      ceremonyId: statement.predicate.ceremonyId,
      revokedCeremony: r.ceremonyId,
      revokedStatementDigest: r.statementDigest,
      revokedVersion: r.version,
      artifacts: r.subject.map((s) => ({ name: s.name, ...s.digest })),
      reason: r.reason,
      issuedAt: statement.predicate.issuedAt,
    });
  }
  return { ok: true, revocations: out };
}

export interface RevocationQuery {
  /**
   * The release's signed statement: best the verified payload (SignedStatement); else the object,
   * its JSON bytes, or a DSSE envelope (object or JSON) around it. Its ceremony id, statement digest and subject digests are all checked.
   */
  readonly statement?: unknown;
  /** Artifact digests (hex) of the release, e.g. of the file being verified. */
  readonly artifacts?: readonly { readonly sha256?: string; readonly sha512?: string }[];
  readonly ceremonyId?: string;
  readonly statementDigest?: string;
  /** The revocation list file's bytes (or text). */
  readonly revocations: Uint8Array | string;
  /** The group public key (32 bytes or 64 hex) the verifier trusts. */
  readonly groupPublicKey: Uint8Array | string;
}

/**
 * The statement bytes a signature was verified over (`verifySignature`'s `statementPayload`):
 * what a release check should be given, so that it reads exactly what was signed.
 */
export interface SignedStatement {
  readonly signedPayload: Uint8Array;
}

/** The top-level fields of a DSSE envelope: an object with any of them is never a bare statement. */
const ENVELOPE_FIELDS = Object.keys(DsseEnvelopeSchema.shape);

/**
 * A statement given as the verified payload (SignedStatement), an object, JSON text/bytes, or a
 * DSSE envelope; undefined if none of these. An object with an envelope's fields that is not a
 * well-formed envelope is undefined too: read as a bare statement, its unsigned fields would
 * speak for the release.
 */
export function statementOf(input: unknown): { statement: unknown; digest: string } | undefined {
  if (
    typeof input === 'object' &&
    input !== null &&
    (input as Partial<SignedStatement>).signedPayload instanceof Uint8Array
  ) {
    return fromPayload((input as SignedStatement).signedPayload);
  }
  let value: unknown = input;
  try {
    if (value instanceof Uint8Array || typeof value === 'string') value = JSON.parse(toText(value));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const env = DsseEnvelopeSchema.safeParse(value);
  if (env.success) {
    let payload: Uint8Array;
    try {
      payload = fromB64(env.data.payload);
    } catch {
      return undefined;
    }
    return fromPayload(payload);
  }
  if (ENVELOPE_FIELDS.some((f) => f in value)) return undefined;
  try {
    return {
      statement: value,
      digest: bytesToHex(sha256(new TextEncoder().encode(canonicalJson(value)))),
    };
  } catch {
    return undefined;
  }
}

function fromPayload(payload: Uint8Array): { statement: unknown; digest: string } | undefined {
  try {
    return { statement: JSON.parse(toText(payload)), digest: bytesToHex(sha256(payload)) };
  } catch {
    return undefined;
  }
}

/**
 * Refuses (`REVOKED`) a release that a valid revocation in the list names: by ceremony id, by
 * statement digest, or by any artifact digest (the artifact bytes themselves are revoked, in
 * whatever release they appear). The signature of the release itself is the caller's job
 * (`verifySignature`); this runs after it, so a revoked release fails even though it verifies.
 */
export function checkRevocations(q: RevocationQuery): ReleaseCheck {
  const ids = new Set<string>();
  const digests = new Set<string>();
  const artifactDigests = new Set<string>();
  if (q.statement !== undefined) {
    const s = statementOf(q.statement);
    const parsed = s === undefined ? undefined : ReleaseStatementSchema.safeParse(s.statement);
    if (s === undefined || parsed === undefined || !parsed.success) {
      return fail('INVALID_INPUT', 'the statement given is not an in-toto release statement');
    }
    ids.add(parsed.data.predicate.ceremonyId);
    digests.add(s.digest);
    for (const sub of parsed.data.subject) {
      for (const d of [sub.digest.sha256, sub.digest.sha512])
        if (d !== undefined) artifactDigests.add(d.toLowerCase());
    }
  }
  if (q.ceremonyId !== undefined) ids.add(q.ceremonyId);
  if (q.statementDigest !== undefined) digests.add(q.statementDigest.toLowerCase());
  for (const a of q.artifacts ?? []) {
    for (const d of [a.sha256, a.sha512]) if (d !== undefined) artifactDigests.add(d.toLowerCase());
  }
  if (ids.size + digests.size + artifactDigests.size === 0) {
    return fail('INVALID_INPUT', 'give the release statement, its ceremony id or artifact digests');
  }
  const list = readRevocationList(q.revocations, q.groupPublicKey);
  if (!list.ok) return list;
  for (const r of list.revocations) {
    const byArtifact = r.artifacts.find(
      (a) => artifactDigests.has(a.sha256) || artifactDigests.has(a.sha512),
    );
    if (
      ids.has(r.revokedCeremony) ||
      digests.has(r.revokedStatementDigest) ||
      byArtifact !== undefined
    ) {
      const what =
        byArtifact !== undefined && !ids.has(r.revokedCeremony)
          ? `artifact ${byArtifact.name} of release ${r.revokedVersion} (${r.revokedCeremony})`
          : `release ${r.revokedVersion} (${r.revokedCeremony})`;
      return fail(
        'REVOKED',
        `${what} was revoked by ${r.ceremonyId} at ${r.issuedAt}: ${r.reason}. Its signature is valid, but the group withdrew it; do not install it`,
      );
    }
  }
  return {
    ok: true,
    reason: `not revoked (${list.revocations.length} signed revocations checked)`,
  };
}

const DOTTED = /^v?(\d{1,15})(?:\.(\d{1,15}))*$/;

function dotted(v: string): number[] | undefined {
  if (!DOTTED.test(v)) return undefined;
  return v.replace(/^v/, '').split('.').map(Number);
}

/**
 * Orders two versions: SemVer 2.0.0 precedence (§11: prereleases sort before their release, build
 * metadata is ignored) when both are SemVer, else dotted numbers (`2024.11`, `1.2.3.4`) compared
 * part by part; undefined when they cannot be ordered.
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  const sa = semver.parse(a);
  const sb = semver.parse(b);
  if (sa !== null && sb !== null) return semver.compare(sa, sb);
  const da = dotted(a);
  const db = dotted(b);
  if (da === undefined || db === undefined) return undefined;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const x = da[i] ?? 0;
    const y = db[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Refuses (`DOWNGRADE`) a release whose version is lower than `min` (`--min-version`). */
export function checkMinVersion(version: string, min: string): ReleaseCheck {
  const order = compareVersions(version, min);
  if (order === undefined) {
    return fail(
      'VERSION_INVALID',
      `cannot order version ${JSON.stringify(version)} against the minimum ${JSON.stringify(min)}: use SemVer (1.2.3, 2.0.0-rc.1) or dotted numbers`,
    );
  }
  if (order < 0) {
    return fail(
      'DOWNGRADE',
      `version ${version} is older than the minimum ${min}: refusing a downgrade (an old, validly signed release may carry fixed vulnerabilities)`,
    );
  }
  return { ok: true, reason: `version ${version} ≥ ${min}` };
}

/**
 * Checks what a release verifier must check in the statement besides its signature: it is a release
 * (`standard` or `hotfix`, not a governance record) and, if it carries `validUntil`, not expired.
 */
export function checkReleaseStatement(statement: unknown, now: number): ReleaseCheck {
  const s = statementOf(statement);
  const parsed = s === undefined ? undefined : ReleaseStatementSchema.safeParse(s.statement);
  if (s === undefined || parsed === undefined || !parsed.success) {
    return fail('INVALID_INPUT', 'not an in-toto release statement');
  }
  const p = parsed.data.predicate;
  if (!(RELEASE_VERIFY_CLASSES as readonly string[]).includes(p.class)) {
    return fail(
      'NOT_A_RELEASE',
      `the statement is a ${p.class} record of the group, not a release: do not install its subject`,
    );
  }
  if (p.validUntil !== undefined) {
    const until = Date.parse(p.validUntil);
    if (!Number.isFinite(until) || now > until) {
      return fail('STATEMENT_EXPIRED', `the statement was valid until ${p.validUntil}`);
    }
  }
  return { ok: true, reason: `${p.class} release ${p.version}` };
}

/** A statement's class, version and ceremony (for callers that print them). */
export function releaseFields(
  statement: ReleaseStatement | unknown,
): { class: string; version: string; ceremonyId: string } | undefined {
  const s = statementOf(statement);
  const parsed = s === undefined ? undefined : ReleaseStatementSchema.safeParse(s.statement);
  if (parsed === undefined || !parsed.success) return undefined;
  return {
    class: parsed.data.predicate.class,
    version: parsed.data.predicate.version,
    ceremonyId: parsed.data.predicate.ceremonyId,
  };
}
