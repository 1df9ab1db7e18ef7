// Key ceremony (DKG) messages. FROST packages are opaque, bounded hex produced by @conclave/frost.
import * as z from 'zod';
import { ERROR_CODES } from '../errors.js';
import {
  ElementHexSchema,
  IdentityKeyHexSchema,
  ScalarHexSchema,
  Sha256HexSchema,
  SignatureHexSchema,
  hexBetween,
  hexOf,
} from '../hex.js';
import { GroupNameSchema, MemberIdSchema, text } from '../ids.js';
import { MAX_CIPHERTEXT_BYTES, MAX_FROST_PACKAGE_BYTES, MAX_PARTICIPANTS } from '../version.js';
import { AdminGroupCreateSchema } from './admin.js';
import { envelopeOf } from './envelope-schema.js';
import { uniqueBy, uniqueValues } from './refine.js';

const FrostPackageHexSchema = hexBetween(1, MAX_FROST_PACKAGE_BYTES);

export const DkgParticipantSchema = z.strictObject({
  member: MemberIdSchema,
  /** FROST identifier (RFC 9591 §4.1): a non-zero scalar, 32 bytes little-endian. */
  identifier: ScalarHexSchema,
  identityKey: IdentityKeyHexSchema,
});

/**
 * coordinator → members: the key ceremony begins. `authorization` is the admin-sealed
 * `admin.group.create`; members verify it under the pinned admin key before trusting the roster.
 */
export const DkgStartSchema = z
  .strictObject({
    type: z.literal('dkg.start'),
    group: GroupNameSchema,
    threshold: z.int().min(2).max(MAX_PARTICIPANTS),
    participants: z
      .array(DkgParticipantSchema)
      .min(2)
      .max(MAX_PARTICIPANTS)
      .superRefine(uniqueBy('member'))
      .superRefine(uniqueBy('identifier'))
      .superRefine(uniqueBy('identityKey')),
    authorization: envelopeOf(AdminGroupCreateSchema),
    /**
     * The wire version whose rules the ceremony runs under, signed with the start so an auditor
     * judges it by them: from 4, a complaint about another member's box needs evidence. Members
     * take part only in a ceremony of their own version. Optional only so transcripts from
     * before it parse.
     */
    protocolVersion: z.int().min(1).max(1000).optional(),
  })
  .refine((s) => s.threshold <= s.participants.length, {
    error: 'threshold exceeds the number of participants',
    path: ['threshold'],
  });

/** member → coordinator: this member's public round-1 package (commitment + proof of knowledge). */
export const DkgRound1Schema = z.strictObject({
  type: z.literal('dkg.round1'),
  package: FrostPackageHexSchema,
  /**
   * The dealer's wire version, signed by the dealer: from 4, a complaint against it needs
   * evidence, and an auditor knows that from the dealer's own word, not only from the
   * coordinator's dkg.start. Optional only so transcripts from before it parse.
   */
  protocolVersion: z.int().min(1).max(1000).optional(),
});

export const MemberPackageSchema = z.strictObject({
  member: MemberIdSchema,
  package: FrostPackageHexSchema,
});

/** coordinator → members: every member's round-1 package (the broadcast). */
export const DkgRound1AllSchema = z.strictObject({
  type: z.literal('dkg.round1.all'),
  packages: z
    .array(MemberPackageSchema)
    .min(2)
    .max(MAX_PARTICIPANTS)
    .superRefine(uniqueBy('member')),
});

/**
 * A pairwise box in wire form (see pairwise.ts): ephemeral X25519 key, XChaCha nonce, ciphertext,
 * and the sender's signature of it (`signPairwiseBox`), relayed as it is. Optional only so
 * transcripts and senders from before it still parse: a recipient blames a sender for a box that
 * does not open only when the sender signed it.
 */
const boxFields = {
  ephemeralKey: hexOf(32),
  nonce: hexOf(24),
  ciphertext: hexBetween(17, MAX_CIPHERTEXT_BYTES),
  signature: SignatureHexSchema.optional(),
};

export const OutgoingBoxSchema = z.strictObject({ recipient: MemberIdSchema, ...boxFields });
export const IncomingBoxSchema = z.strictObject({ sender: MemberIdSchema, ...boxFields });

/** member → coordinator: round-2 secret packages, one encrypted box per other member. */
export const DkgRound2Schema = z.strictObject({
  type: z.literal('dkg.round2'),
  boxes: z
    .array(OutgoingBoxSchema)
    .min(1)
    .max(MAX_PARTICIPANTS - 1)
    .superRefine(uniqueBy('recipient')),
});

/** coordinator → one member: the boxes addressed to it. The coordinator sees ciphertext only. */
export const DkgRound2DeliverSchema = z.strictObject({
  type: z.literal('dkg.round2.deliver'),
  boxes: z
    .array(IncomingBoxSchema)
    .min(1)
    .max(MAX_PARTICIPANTS - 1)
    .superRefine(uniqueBy('sender')),
});

/**
 * member → coordinator: confirmation that this member derived `groupPublicKey` from the round-1
 * packages hashing to `round1Hash`; `signature` is over `dkgConfirmationBytes` (dkg-confirmation.ts).
 */
export const DkgConfirmSchema = z.strictObject({
  type: z.literal('dkg.confirm'),
  round1Hash: Sha256HexSchema,
  groupPublicKey: ElementHexSchema,
  signature: SignatureHexSchema,
});

export const ConfirmationSchema = z.strictObject({
  member: MemberIdSchema,
  signature: SignatureHexSchema,
});

/** coordinator → members: all n confirmations matched; the group is active. */
export const DkgCompleteSchema = z.strictObject({
  type: z.literal('dkg.complete'),
  groupPublicKey: ElementHexSchema,
  round1Hash: Sha256HexSchema,
  confirmations: z
    .array(ConfirmationSchema)
    .min(2)
    .max(MAX_PARTICIPANTS)
    .superRefine(uniqueBy('member')),
});

/**
 * The evidence of a complaint about a round-2 box (box-complaint.ts): the accuser's two X25519
 * outputs for that box as Edwards points (`ephemeralShared` absent when the box's ephemeral key is
 * no point of prime order, which anyone can see), and a Chaum–Pedersen proof (challenge,
 * response) that they are its own. With them anyone can open that one box and check its share.
 */
export const BoxEvidenceSchema = z.strictObject({
  ephemeralShared: ElementHexSchema.optional(),
  staticShared: ElementHexSchema,
  challenge: ScalarHexSchema,
  response: ScalarHexSchema,
});

/**
 * member → coordinator: a complaint naming `culprit`, e.g. a round-2 share that fails vss_verify
 * (`INVALID_SECRET_SHARE`) or a bad proof of knowledge (`INVALID_PROOF_OF_KNOWLEDGE`). In a DKG a
 * complaint about another member's round-2 box carries `evidence` (protocol 4), which the
 * coordinator judges before it acts; without it the complaint is refused. Optional only so that
 * complaints naming the sender itself, lifecycle complaints and transcripts from before still parse.
 */
export const DkgFailSchema = z.strictObject({
  type: z.literal('dkg.fail'),
  culprit: MemberIdSchema,
  code: z.enum(ERROR_CODES),
  reason: text(512, 1),
  evidence: BoxEvidenceSchema.optional(),
});

/** coordinator → members: the ceremony ended, nothing is saved; `culprits` names the blamed. */
export const DkgAbortSchema = z.strictObject({
  type: z.literal('dkg.abort'),
  code: z.enum(ERROR_CODES),
  message: text(512),
  culprits: z.array(MemberIdSchema).max(MAX_PARTICIPANTS).superRefine(uniqueValues),
});

export type DkgParticipant = z.infer<typeof DkgParticipantSchema>;
export type DkgStart = z.infer<typeof DkgStartSchema>;
export type DkgRound1 = z.infer<typeof DkgRound1Schema>;
export type MemberPackage = z.infer<typeof MemberPackageSchema>;
export type DkgRound1All = z.infer<typeof DkgRound1AllSchema>;
export type OutgoingBox = z.infer<typeof OutgoingBoxSchema>;
export type IncomingBox = z.infer<typeof IncomingBoxSchema>;
export type DkgRound2 = z.infer<typeof DkgRound2Schema>;
export type DkgRound2Deliver = z.infer<typeof DkgRound2DeliverSchema>;
export type DkgConfirm = z.infer<typeof DkgConfirmSchema>;
export type DkgComplete = z.infer<typeof DkgCompleteSchema>;
export type DkgFail = z.infer<typeof DkgFailSchema>;
export type BoxEvidence = z.infer<typeof BoxEvidenceSchema>;
export type DkgAbort = z.infer<typeof DkgAbortSchema>;
