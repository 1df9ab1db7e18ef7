// Signing ceremony messages. The signer never signs opaque bytes: `sign.package` carries what it
// needs to rebuild the statement it approved (request digest, approvers, policy, time).
import * as z from 'zod';
import { ERROR_CODES } from '../errors.js';
import {
  ElementHexSchema,
  ScalarHexSchema,
  Sha256HexSchema,
  Sha512HexSchema,
  SignatureHexSchema,
  hexBetween,
} from '../hex.js';
import {
  CeremonyIdSchema,
  GroupNameSchema,
  MemberIdSchema,
  SessionSchema,
  TimestampSchema,
  text,
} from '../ids.js';
import { MAX_ARTIFACTS, MAX_JOBS, MAX_PARTICIPANTS } from '../version.js';
import { PolicyDocumentSchema, RevocationSubjectSchema } from './policy.js';
import { uniqueBy, uniqueValues } from './refine.js';

/**
 * Release classes (docs/policy.md). `policy` and `revocation` are governance ceremonies of the
 * group: their statement's subject is the policy document or the revocation record, never an
 * artifact, and release verifiers accept only `standard` and `hotfix`.
 */
export const RELEASE_CLASSES = ['standard', 'hotfix', 'policy', 'revocation'] as const;
export const SIGNATURE_FORMATS = [
  'raw',
  'sshsig',
  'git',
  'minisign',
  'signify',
  'openpgp',
  'dsse',
  'sigstore',
  'jws',
] as const;

/**
 * Where an artifact name leaves printable ASCII (U+0020..U+007E), or has a space at either end: a
 * person approves a name by reading it, and a letter from another script can pass for a Latin one
 * (Cyrillic "а" U+0430 in "аpp.tgz"), as can a trailing space. Undefined if the name is plain.
 */
export function artifactNameProblem(name: string): string | undefined {
  let position = 0;
  for (const char of name) {
    position++;
    const cp = char.codePointAt(0)!;
    if (cp < 0x20 || cp > 0x7e) {
      const hex = cp.toString(16).toUpperCase().padStart(4, '0');
      return `artifact names must be printable ASCII, so that what a person approves cannot look like another name; character ${position} (U+${hex}) is not: rename the file`;
    }
  }
  if (name.startsWith(' ') || name.endsWith(' '))
    return 'an artifact name may not begin or end with a space: rename the file';
  return undefined;
}

/** A file name, not a path: printable ASCII, no separators, no `.`/`..`. */
export const ArtifactNameSchema = text(255, 1)
  .refine((name) => !/[/\\]/.test(name) && name !== '.' && name !== '..', {
    error: 'expected a file name without path separators',
  })
  .superRefine((name, ctx) => {
    const problem = artifactNameProblem(name);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

export const ArtifactSchema = z.strictObject({
  name: ArtifactNameSchema,
  sha256: Sha256HexSchema,
  sha512: Sha512HexSchema,
  /** Unkeyed BLAKE2b-512: minisign's prehashed (`ED`) signatures sign it (FORMATS.md). */
  blake2b512: Sha512HexSchema,
});

/** A document the statement binds by digest (SBOM, build provenance). */
export const BoundDocumentSchema = z.strictObject({
  name: ArtifactNameSchema,
  sha256: Sha256HexSchema,
});

/** An annotated git tag to sign (SSHSIG, namespace `git`): the signer rebuilds the tag text. */
export const GitTagSchema = z.strictObject({
  object: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, {
    error: 'expected a 40- or 64-hex object id',
  }),
  type: z.literal('commit'),
  tag: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._/+-]{0,127}$/, { error: 'expected a tag name' }),
  tagger: z.strictObject({
    name: text(128, 1).refine((n) => !/[<>\n]/.test(n), { error: 'no <, > or newline' }),
    email: text(128, 1).refine((n) => !/[<>\s]/.test(n), { error: 'no <, > or whitespace' }),
    time: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32),
    tz: z.string().regex(/^[+-][0-9]{4}$/, { error: 'expected +HHMM or -HHMM' }),
  }),
  /** Several lines are fine (a tag message); other control and format characters are not. */
  message: text(4096, 1, { allowNewline: true }),
});

/** A batch manifest signed through its Merkle root (RFC 9162 hashing, packages/release). */
export const ManifestRefSchema = z.strictObject({
  root: Sha256HexSchema,
  size: z
    .number()
    .int()
    .min(1)
    .max(2 ** 40),
  leafFormat: z.literal('conclave-manifest-v1'),
});

export const ReleaseSchema = z.strictObject({
  version: z
    .string()
    .regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, { error: 'expected 1-64 of [0-9A-Za-z.+_-]' }),
  class: z.enum(RELEASE_CLASSES),
  note: text(1024),
  artifacts: z.array(ArtifactSchema).min(1).max(MAX_ARTIFACTS).superRefine(uniqueBy('name')),
  formats: z
    .array(z.enum(SIGNATURE_FORMATS))
    .min(1)
    .max(SIGNATURE_FORMATS.length)
    .superRefine(uniqueValues),
  sbom: BoundDocumentSchema.optional(),
  provenance: BoundDocumentSchema.optional(),
  manifest: ManifestRefSchema.optional(),
  git: GitTagSchema.optional(),
  /** Hotfix: the incident it answers (in the signed statement). */
  incident: text(128, 1).optional(),
  /** Standard: the hotfix ceremony this release ratifies (docs/policy.md). */
  ratifies: CeremonyIdSchema.optional(),
  /** The statement is valid until then (ms); the policy may cap it (maxValiditySeconds). */
  validUntil: TimestampSchema.optional(),
  /** Class `policy`: the new policy document; the single artifact is its canonical JSON. */
  policy: PolicyDocumentSchema.optional(),
  /** Class `revocation`: the release revoked; the single artifact is this record's canonical JSON. */
  revokes: RevocationSubjectSchema.optional(),
});

/** requester → coordinator: open a signing ceremony (its id is the envelope's ceremony id). */
export const SignRequestSchema = z.strictObject({
  type: z.literal('sign.request'),
  group: GroupNameSchema,
  release: ReleaseSchema,
});

/** FROST round-1 signing commitments (RFC 9591 §5.1), serialized by @conclave/frost. */
const CommitmentHexSchema = hexBetween(64, 256);

/**
 * One commitment per job of the phase, in job order (packages/release `jobIds`): a session signs
 * every format's message at once, each with its own nonce pair (RFC 9591 §5.1: never reused).
 */
const CommitmentBundleSchema = z
  .array(CommitmentHexSchema)
  .min(1)
  .max(MAX_JOBS)
  .superRefine(uniqueValues);

/** A signing job: `dsse`, `sshsig:<artifact>`, `minisign-global:<artifact>`, … */
export const JobIdSchema = text(300, 1);

/** Signing phases: formats that chain (minisign's global signature) sign in phase 2. */
export const PhaseSchema = z.number().int().min(1).max(2);

/**
 * approver → coordinator: approve the request whose canonical body hashes to `requestDigest`
 * (see `requestDigest()`), with a fresh round-1 commitment. `approval` is the approver's own
 * signature of the approval (`signApproval`): the coordinator refuses an approval without a valid
 * one and shows it to the signers in `sign.package`. Optional in the schema only so transcripts
 * stored before it existed still parse.
 */
export const SignApproveSchema = z.strictObject({
  type: z.literal('sign.approve'),
  requestDigest: Sha256HexSchema,
  commitments: CommitmentBundleSchema,
  approval: SignatureHexSchema.optional(),
});

/**
 * approver → coordinator: fresh commitments for a new session (ROAST, or the next phase), after
 * the last were used; one per job of `phase`.
 */
export const SignRecommitSchema = z.strictObject({
  type: z.literal('sign.recommit'),
  phase: PhaseSchema,
  commitments: CommitmentBundleSchema,
});

/** member → coordinator: decline the request. */
export const SignRejectSchema = z.strictObject({
  type: z.literal('sign.reject'),
  requestDigest: Sha256HexSchema,
  reason: text(512, 1),
});

/** requester (signing) or admin (key ceremony) → coordinator: withdraw the ceremony. */
export const CeremonyCancelSchema = z.strictObject({
  type: z.literal('ceremony.cancel'),
  reason: text(512, 1),
});

const MemberListSchema = z
  .array(MemberIdSchema)
  .min(1)
  .max(MAX_PARTICIPANTS)
  .superRefine(uniqueValues);

const KeyCreatedAtSchema = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const JobSignatureSchema = z.strictObject({ job: JobIdSchema, signature: SignatureHexSchema });
const JobSignaturesSchema = z
  .array(JobSignatureSchema)
  .max(2 * MAX_JOBS)
  .superRefine(uniqueBy('job'));

/**
 * coordinator → this session's signers: per job, every signer's commitment and the hash of the
 * FROST signing package (RFC 9591 §5.2 input) the coordinator built. The messages are never sent:
 * each signer rebuilds every job's message from the request it approved plus the approvers, policy
 * and time below, builds the packages itself and refuses unless their hashes match.
 */
export const SignPackageSchema = z.strictObject({
  type: z.literal('sign.package'),
  session: SessionSchema,
  phase: PhaseSchema,
  jobs: z.array(JobIdSchema).min(1).max(MAX_JOBS).superRefine(uniqueValues),
  /** In `signers` order; each member's bundle in `jobs` order. */
  commitments: z
    .array(z.strictObject({ member: MemberIdSchema, commitments: CommitmentBundleSchema }))
    .min(1)
    .max(MAX_PARTICIPANTS)
    .superRefine(uniqueBy('member')),
  /** SHA-256 of each job's encoded signing package, in `jobs` order. */
  packageHashes: z.array(Sha256HexSchema).min(1).max(MAX_JOBS),
  /**
   * Every signature of the earlier phases (the statement's included): a signer requires them all and
   * verifies each against the phase-1 message it rebuilds, which ties this phase to phase 1.
   */
  previous: JobSignaturesSchema,
  /** Unix seconds: the group key's creation time, which its OpenPGP key packet carries. */
  keyCreatedAt: KeyCreatedAtSchema,
  /**
   * SHA-256 of the encoded public key package (verifying shares) of the key epoch this session
   * signs under (`publicKeyPackageHash`). A signer whose own share's package hashes otherwise
   * declines (KEY_PACKAGE_MISMATCH), and names the hash in its share, signed. Optional in the
   * schema only so transcripts stored before protocol 3 still parse; the coordinator always sends it.
   */
  publicKeyPackage: Sha256HexSchema.optional(),
  requestDigest: Sha256HexSchema,
  statementDigest: Sha256HexSchema,
  approvers: MemberListSchema,
  /**
   * Each approver's own approval signature (`sign.approve`'s `approval`), in `approvers` order: a
   * signer verifies every one against its roster and refuses a package naming someone who did not
   * sign an approval of this request, or one without this list. Optional in the schema only so
   * transcripts stored before it existed still parse; the coordinator always sends it.
   */
  approvals: z.array(SignatureHexSchema).min(1).max(MAX_PARTICIPANTS).optional(),
  signers: MemberListSchema,
  policyId: text(64, 1),
  issuedAt: TimestampSchema,
});

/**
 * coordinator → approvers (bare): the unspent commitments the coordinator has recorded so far, sent
 * each time it records a new one. A hint only: it lets an approver validate its peers' commitments
 * (RFC 9591 §3.1 DeserializeElement, the costly part of checking a package) while the quorum is
 * still forming, so `sign.package` costs little more than the signature share. It carries nothing
 * the package does not, decides nothing, and is not part of the transcript: a signer still checks
 * every commitment of the package it signs against the bytes it validated.
 */
export const SignCommitmentsSchema = z.strictObject({
  type: z.literal('sign.commitments'),
  ceremonyId: CeremonyIdSchema,
  phase: PhaseSchema,
  commitments: z
    .array(z.strictObject({ member: MemberIdSchema, commitments: CommitmentBundleSchema }))
    .min(1)
    .max(MAX_PARTICIPANTS)
    .superRefine(uniqueBy('member')),
});

/** A signer's signed acknowledgement of H(signing package) (THREATS A7: equivocation proof). */
export const PackageAckSchema = z.strictObject({
  packageHash: Sha256HexSchema,
  signature: SignatureHexSchema,
});

/** signer → coordinator: its signature shares (RFC 9591 §5.2 output, one scalar per job). */
export const Round2ShareSchema = z.strictObject({
  type: z.literal('round2.share'),
  session: SessionSchema,
  shares: z.array(ScalarHexSchema).min(1).max(MAX_JOBS),
  /** Signed over H(the session's package hashes), see `sessionPackagesBytes`. */
  ack: PackageAckSchema,
  /**
   * SHA-256 of the public key package of the share this signer signed with (its share file's),
   * equal to the package's `publicKeyPackage`: signed with the envelope, so an auditor judges the
   * share under the verifying shares its sender vouched for, never under ones the coordinator
   * chose. Optional in the schema only so transcripts stored before protocol 3 still parse.
   */
  publicKeyPackage: Sha256HexSchema.optional(),
});

/**
 * signer → coordinator: this signer will not sign the session's package, and says why (a policy
 * it holds, a pinned key creation time, a package that does not rebuild). Sent instead of a share,
 * before any nonce is spent: the coordinator abandons the session at once and excludes the signer
 * without naming it a culprit, where silence would cost a session timeout and a false blame.
 */
export const Round2DeclineSchema = z.strictObject({
  type: z.literal('round2.decline'),
  session: SessionSchema,
  /** The signer's own error code (a client code such as `SIGNING_REFUSED`, or a wire code). */
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, { error: 'expected an error code' }),
  reason: text(512, 1),
});

/** coordinator → participants: the aggregate (RFC 9591 §5.3), an RFC 8032 signature. */
export const SignCompleteSchema = z.strictObject({
  type: z.literal('sign.complete'),
  groupPublicKey: ElementHexSchema,
  /** The statement's signature (job `dsse`): the DSSE PAE of the in-toto statement. */
  signature: SignatureHexSchema,
  /** Every job's signature, statement included. */
  signatures: JobSignaturesSchema,
  keyCreatedAt: KeyCreatedAtSchema,
  statementDigest: Sha256HexSchema,
  approvers: MemberListSchema,
  signers: MemberListSchema,
  /** With approvers (and the request), what anyone needs to rebuild the signed statement. */
  policyId: text(64, 1),
  issuedAt: TimestampSchema,
});

export const ABORT_REASONS = ['rejected', 'expired', 'cancelled', 'failed'] as const;

/** coordinator → participants: the ceremony ended without a signature. */
export const SignAbortedSchema = z.strictObject({
  type: z.literal('sign.aborted'),
  reason: z.enum(ABORT_REASONS),
  code: z.enum(ERROR_CODES),
  message: text(512),
  culprits: z.array(MemberIdSchema).max(MAX_PARTICIPANTS).superRefine(uniqueValues),
});

export type ReleaseClass = (typeof RELEASE_CLASSES)[number];
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];
export type Artifact = z.infer<typeof ArtifactSchema>;
export type GitTag = z.infer<typeof GitTagSchema>;
export type BoundDocument = z.infer<typeof BoundDocumentSchema>;
export type JobSignature = z.infer<typeof JobSignatureSchema>;
export type Release = z.infer<typeof ReleaseSchema>;
export type SignRequest = z.infer<typeof SignRequestSchema>;
export type SignApprove = z.infer<typeof SignApproveSchema>;
export type SignRecommit = z.infer<typeof SignRecommitSchema>;
export type SignReject = z.infer<typeof SignRejectSchema>;
export type CeremonyCancel = z.infer<typeof CeremonyCancelSchema>;
export type SignPackage = z.infer<typeof SignPackageSchema>;
export type SignCommitments = z.infer<typeof SignCommitmentsSchema>;
export type PackageAck = z.infer<typeof PackageAckSchema>;
export type Round2Share = z.infer<typeof Round2ShareSchema>;
export type Round2Decline = z.infer<typeof Round2DeclineSchema>;
export type SignComplete = z.infer<typeof SignCompleteSchema>;
export type SignAborted = z.infer<typeof SignAbortedSchema>;
