/**
 * The job planner: which messages a ceremony signs for a release, in which order and phase, and
 * how the aggregate signatures become files. Deterministic given the context, so every signer
 * rebuilds the same messages from the structured request it approved (DESIGN.md "Signing what
 * was approved").
 *
 * Job ids (phase 1, in this order): `dsse` (always: the statement is what the ceremony is about),
 * `raw:<a>`, `sshsig:<a>`, `git-tag`, `minisign:<a>`, `signify`, `openpgp-cert`, `openpgp:<a>`,
 * `jws`; phase 2: `minisign-global:<a>`. `sigstore` reuses the `dsse` signature.
 */
import { fail } from './errors.js';
import { fromHex, hash } from './encoding.js';
import { verifyEd25519 } from './ed25519.js';
import { gitTagPayload } from './git.js';
import { minisignGlobalMessage, minisignTrustedComment } from './minisign.js';
import { certificationParts, documentParts } from './openpgp.js';
import { rawContentConflict } from './raw-guard.js';
import { signifyChecksumList } from './signify.js';
import { SSHSIG_FILE_NAMESPACE, SSHSIG_GIT_NAMESPACE, sshsigSignedData } from './sshsig.js';
import { dsseMessage, jwsMessage } from './statement-formats.js';
import { SIGNATURE_FORMATS } from './types.js';
import type { FormatContext, SignatureFormat, SigningJob } from './types.js';
import {
  checkArtifactName,
  checkArtifacts,
  checkGroup,
  checkPublicKey,
  checkUnixTime,
} from './validate.js';

/** What `jobIds` needs: known before issuedAt or any artifact bytes exist. */
export interface JobRelease {
  readonly formats: readonly string[];
  readonly artifacts: readonly { readonly name: string }[];
  readonly git?: unknown;
}

export function isSignatureFormat(f: string): f is SignatureFormat {
  return (SIGNATURE_FORMATS as readonly string[]).includes(f);
}

function requestedFormats(release: JobRelease): Set<SignatureFormat> {
  const out = new Set<SignatureFormat>();
  for (const f of release.formats) {
    if (!isSignatureFormat(f)) {
      fail(
        'FORMAT_UNKNOWN',
        `unknown signature format ${JSON.stringify(f)}; expected one of ${SIGNATURE_FORMATS.join(', ')}`,
      );
    }
    out.add(f);
  }
  return out;
}

interface JobSpec {
  readonly id: string;
  readonly format: SignatureFormat;
  readonly artifact?: string;
}

function specs(release: JobRelease, phase: 1 | 2): JobSpec[] {
  const f = requestedFormats(release);
  const names: string[] = [];
  const seen = new Set<string>();
  for (const a of release.artifacts) {
    checkArtifactName(a.name);
    if (seen.has(a.name)) fail('ARTIFACT_DUPLICATE', `artifact ${a.name} is listed twice`);
    seen.add(a.name);
    names.push(a.name);
  }
  // Refuse at request time what signify could not list (see signifyChecksumList).
  if (f.has('signify')) signifyChecksumList(names.map((name) => ({ name, sha256: '' })));
  const each = (format: SignatureFormat, prefix: string): JobSpec[] =>
    names.map((artifact) => ({ id: `${prefix}:${artifact}`, format, artifact }));
  if (phase === 2) return f.has('minisign') ? each('minisign', 'minisign-global') : [];
  const out: JobSpec[] = [{ id: 'dsse', format: 'dsse' }];
  if (f.has('raw')) out.push(...each('raw', 'raw'));
  if (f.has('sshsig')) out.push(...each('sshsig', 'sshsig'));
  if (f.has('git') && release.git !== undefined) out.push({ id: 'git-tag', format: 'git' });
  if (f.has('minisign')) out.push(...each('minisign', 'minisign'));
  if (f.has('signify')) out.push({ id: 'signify', format: 'signify' });
  if (f.has('openpgp'))
    out.push({ id: 'openpgp-cert', format: 'openpgp' }, ...each('openpgp', 'openpgp'));
  if (f.has('jws')) out.push({ id: 'jws', format: 'jws' });
  return out;
}

/**
 * The job ids of a phase, in signing order. Needs only the formats, the artifact names and whether
 * a git tag is given, so an approver knows how many nonce commitments to send before the statement
 * (issuedAt, approvers) is fixed.
 */
export function jobIds(release: JobRelease, phase: 1 | 2): string[] {
  return specs(release, phase).map((s) => s.id);
}

function checkContext(ctx: FormatContext): void {
  checkPublicKey(ctx.groupPublicKey);
  checkGroup(ctx.group);
  checkArtifacts(ctx.release.artifacts);
  checkUnixTime('keyCreatedAt', ctx.keyCreatedAt);
  checkUnixTime('signedAt', ctx.signedAt);
  // Every artifact must be a subject with the same digests (the statement may list more, e.g. an SBOM).
  const subjects = new Map(ctx.statement.subject.map((x) => [x.name, x.digest]));
  for (const a of ctx.release.artifacts) {
    const d = subjects.get(a.name);
    if (!d || d.sha256 !== a.sha256 || d.sha512 !== a.sha512) {
      fail(
        'STATEMENT_MISMATCH',
        `artifact ${a.name} is not a subject of the statement with the same digests`,
      );
    }
  }
  if (ctx.release.formats.includes('openpgp') && ctx.signedAt < ctx.keyCreatedAt) {
    fail(
      'TIME_INVALID',
      'signedAt is before keyCreatedAt: OpenPGP rejects a signature older than its key',
    );
  }
}

function artifactOf(ctx: FormatContext, name: string) {
  const a = ctx.release.artifacts.find((x) => x.name === name);
  if (!a) fail('ARTIFACT_NAME_INVALID', `no artifact named ${name}`);
  return a;
}

/** The artifact's bytes for a content format, checked against the approved SHA-256. */
export function artifactContent(
  ctx: FormatContext,
  name: string,
  format: SignatureFormat,
): Uint8Array {
  if (!ctx.artifactBytes) {
    fail(
      'ARTIFACT_REQUIRED',
      `${format} signs the content of ${name}: pass artifactBytes (the file itself is needed, not only its digest)`,
    );
  }
  const bytes = ctx.artifactBytes(name);
  const want = artifactOf(ctx, name).sha256;
  if (
    !(bytes instanceof Uint8Array) ||
    Buffer.from(hash('sha256', bytes)).toString('hex') !== want
  ) {
    fail(
      'ARTIFACT_BYTES_MISMATCH',
      `the bytes given for ${name} do not match its approved SHA-256 ${want}`,
    );
  }
  return bytes;
}

/**
 * An artifact's bytes for the raw format, refused (RAW_CONTENT_AMBIGUOUS) when another format
 * would read them as its signed message (raw-guard.ts). The coordinator checks this when the
 * request opens, and every signer again as it rebuilds the job.
 */
export function rawContent(bytes: Uint8Array, name: string): Uint8Array {
  const conflict = rawContentConflict(bytes);
  if (conflict !== undefined) {
    fail(
      'RAW_CONTENT_AMBIGUOUS',
      `the raw format would sign ${name} byte for byte, and its content reads as ${conflict}: its raw signature would also be a signature in that format over something nobody approved; request ${name} without raw (sshsig, minisign, openpgp, dsse and the others sign it by digest)`,
    );
  }
  return bytes;
}

function digestBytes(hex: string, n: number): Uint8Array {
  const b = fromHex(hex, n);
  if (!b) fail('ARTIFACT_DIGEST_INVALID', `bad digest ${hex}`);
  return b;
}

/** minisign's trusted comment for an artifact in this context. */
export function trustedCommentFor(ctx: FormatContext, name: string): string {
  return minisignTrustedComment({
    signedAt: ctx.signedAt,
    file: name,
    version: ctx.release.version,
    ceremony: ctx.statement.predicate.ceremonyId,
  });
}

function phase1Message(ctx: FormatContext, s: JobSpec): Uint8Array {
  const a = ctx.groupPublicKey;
  switch (s.id.split(':')[0]) {
    case 'dsse':
      return dsseMessage(ctx.statement);
    case 'raw':
      return rawContent(artifactContent(ctx, s.artifact!, 'raw'), s.artifact!);
    case 'sshsig':
      return sshsigSignedData(
        SSHSIG_FILE_NAMESPACE,
        digestBytes(artifactOf(ctx, s.artifact!).sha512, 64),
      );
    case 'git-tag': {
      if (!ctx.release.git) fail('GIT_TAG_INVALID', 'git format requested without release.git');
      return sshsigSignedData(SSHSIG_GIT_NAMESPACE, hash('sha512', gitTagPayload(ctx.release.git)));
    }
    case 'minisign':
      // Prehashed `ED`: the quorum signs the 64-byte BLAKE2b-512 digest, never the file.
      trustedCommentFor(ctx, s.artifact!); // refuse now, not in phase 2, if the comment cannot be built
      return digestBytes(artifactOf(ctx, s.artifact!).blake2b512, 64);
    case 'signify':
      return signifyChecksumList(ctx.release.artifacts);
    case 'openpgp-cert':
      return certificationParts(a, ctx.group, ctx.keyCreatedAt).digest;
    case 'openpgp':
      return documentParts(
        a,
        ctx.keyCreatedAt,
        ctx.signedAt,
        artifactContent(ctx, s.artifact!, 'openpgp'),
      ).digest;
    case 'jws':
      return jwsMessage(a, ctx.statement);
    default:
      return fail('FORMAT_UNKNOWN', `no builder for job ${s.id}`);
  }
}

/** Phase 2 (minisign global signature) needs the phase-1 signature of each artifact. */
function phase2Message(
  ctx: FormatContext,
  s: JobSpec,
  phase1: ReadonlyMap<string, Uint8Array>,
): Uint8Array {
  const name = s.artifact!;
  const first = phase1.get(`minisign:${name}`);
  if (!first)
    fail('SIGNATURE_MISSING', `phase 2 needs the phase-1 signature of job minisign:${name}`);
  const digest = digestBytes(artifactOf(ctx, name).blake2b512, 64);
  if (!verifyEd25519(digest, first, ctx.groupPublicKey)) {
    fail(
      'SIGNATURE_INVALID',
      `the phase-1 signature of job minisign:${name} does not verify under the group key`,
    );
  }
  return minisignGlobalMessage(first, trustedCommentFor(ctx, name));
}

export function planJobs(ctx: FormatContext, phase: 1): SigningJob[];
export function planJobs(
  ctx: FormatContext,
  phase: 2,
  phase1: ReadonlyMap<string, Uint8Array>,
): SigningJob[];
export function planJobs(
  ctx: FormatContext,
  phase: 1 | 2,
  phase1?: ReadonlyMap<string, Uint8Array>,
): SigningJob[] {
  checkContext(ctx);
  return specs(ctx.release, phase).map((s) => ({
    id: s.id,
    format: s.format,
    ...(s.artifact !== undefined ? { artifact: s.artifact } : {}),
    phase,
    message: phase === 1 ? phase1Message(ctx, s) : phase2Message(ctx, s, phase1 ?? new Map()),
  }));
}
