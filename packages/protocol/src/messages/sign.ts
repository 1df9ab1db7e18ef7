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
import { GroupNameSchema, MemberIdSchema, SessionSchema, TimestampSchema, text } from '../ids.js';
import { MAX_ARTIFACTS, MAX_PARTICIPANTS, MAX_SIGNING_PACKAGE_BYTES } from '../version.js';
import { uniqueBy, uniqueValues } from './refine.js';

export const RELEASE_CLASSES = ['standard', 'hotfix'] as const;
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

/** A file name, not a path: no separators, no `.`/`..`, no control characters. */
export const ArtifactNameSchema = text(255, 1).refine(
  (name) => !/[/\\]/.test(name) && name !== '.' && name !== '..',
  { error: 'expected a file name without path separators' },
);

export const ArtifactSchema = z.strictObject({
  name: ArtifactNameSchema,
  sha256: Sha256HexSchema,
  sha512: Sha512HexSchema,
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
 * approver → coordinator: approve the request whose canonical body hashes to `requestDigest`
 * (see `requestDigest()`), with a fresh round-1 commitment.
 */
export const SignApproveSchema = z.strictObject({
  type: z.literal('sign.approve'),
  requestDigest: Sha256HexSchema,
  commitment: CommitmentHexSchema,
});

/** approver → coordinator: a fresh commitment for a new session (ROAST), after the last was used. */
export const SignRecommitSchema = z.strictObject({
  type: z.literal('sign.recommit'),
  commitment: CommitmentHexSchema,
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

/**
 * coordinator → this session's signers: the FROST signing package (RFC 9591 §5.2 input) and what
 * the signer needs to rebuild and check the statement: it must hash to `statementDigest` and be
 * the message inside `signingPackage`.
 */
export const SignPackageSchema = z.strictObject({
  type: z.literal('sign.package'),
  session: SessionSchema,
  signingPackage: hexBetween(1, MAX_SIGNING_PACKAGE_BYTES),
  requestDigest: Sha256HexSchema,
  statementDigest: Sha256HexSchema,
  approvers: MemberListSchema,
  signers: MemberListSchema,
  policyId: text(64, 1),
  issuedAt: TimestampSchema,
});

/** A signer's signed acknowledgement of H(signing package) (THREATS A7: equivocation proof). */
export const PackageAckSchema = z.strictObject({
  packageHash: Sha256HexSchema,
  signature: SignatureHexSchema,
});

/** signer → coordinator: its signature share (RFC 9591 §5.2 output, one scalar). */
export const Round2ShareSchema = z.strictObject({
  type: z.literal('round2.share'),
  session: SessionSchema,
  share: ScalarHexSchema,
  ack: PackageAckSchema,
});

/** coordinator → participants: the aggregate (RFC 9591 §5.3), an RFC 8032 signature. */
export const SignCompleteSchema = z.strictObject({
  type: z.literal('sign.complete'),
  groupPublicKey: ElementHexSchema,
  signature: SignatureHexSchema,
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
export type Release = z.infer<typeof ReleaseSchema>;
export type SignRequest = z.infer<typeof SignRequestSchema>;
export type SignApprove = z.infer<typeof SignApproveSchema>;
export type SignRecommit = z.infer<typeof SignRecommitSchema>;
export type SignReject = z.infer<typeof SignRejectSchema>;
export type CeremonyCancel = z.infer<typeof CeremonyCancelSchema>;
export type SignPackage = z.infer<typeof SignPackageSchema>;
export type PackageAck = z.infer<typeof PackageAckSchema>;
export type Round2Share = z.infer<typeof Round2ShareSchema>;
export type SignComplete = z.infer<typeof SignCompleteSchema>;
export type SignAborted = z.infer<typeof SignAbortedSchema>;
