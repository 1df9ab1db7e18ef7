// Read-only queries and their answers (bare: not part of any ceremony transcript), and the
// coordinator's sealed receipt `ack`.
import * as z from 'zod';
import {
  CeremonyIdSchema,
  GroupNameSchema,
  MemberIdSchema,
  SeqSchema,
  TimestampSchema,
  text,
} from '../ids.js';
import { MAX_INBOX_ITEMS, MAX_PARTICIPANTS } from '../version.js';
import { envelopeOf } from './envelope-schema.js';
import { PolicyProgressSchema } from './policy.js';
import { uniqueBy, uniqueValues } from './refine.js';
import { RELEASE_CLASSES, SignRequestSchema } from './sign.js';

export const CEREMONY_KINDS = ['key', 'sign'] as const;

/** Machine state name, e.g. `collectingApprovals`. */
const StateSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9._-]{0,63}$/, { error: 'expected a state name' });

/** client → coordinator: list ceremonies that concern me. */
export const InboxGetSchema = z.strictObject({ type: z.literal('inbox.get') });

export const InboxItemSchema = z.strictObject({
  ceremonyId: CeremonyIdSchema,
  kind: z.enum(CEREMONY_KINDS),
  group: GroupNameSchema,
  state: StateSchema,
  requester: MemberIdSchema.optional(),
  version: text(64).optional(),
  class: z.enum(RELEASE_CLASSES).optional(),
  createdAt: TimestampSchema,
  deadline: TimestampSchema.optional(),
});

/** coordinator → client: ceremonies awaiting or involving this member. */
export const InboxSchema = z.strictObject({
  type: z.literal('inbox'),
  items: z.array(InboxItemSchema).max(MAX_INBOX_ITEMS).superRefine(uniqueBy('ceremonyId')),
});

/** client → coordinator: ask for one ceremony's status. */
export const CeremonyStatusGetSchema = z.strictObject({
  type: z.literal('ceremony.status.get'),
  ceremonyId: CeremonyIdSchema,
});

const MembersSchema = z.array(MemberIdSchema).max(MAX_PARTICIPANTS).superRefine(uniqueValues);

export const RejectionSchema = z.strictObject({ member: MemberIdSchema, reason: text(512, 1) });

/**
 * coordinator → client: one ceremony's progress ("2 of 3 approvals"). For signing ceremonies
 * `request` is the requester-sealed `sign.request`, so the approver can check who asked for what.
 */
export const CeremonyStatusSchema = z.strictObject({
  type: z.literal('ceremony.status'),
  ceremonyId: CeremonyIdSchema,
  kind: z.enum(CEREMONY_KINDS),
  state: StateSchema,
  group: GroupNameSchema,
  threshold: z.int().min(2).max(MAX_PARTICIPANTS),
  members: MembersSchema,
  approvals: MembersSchema,
  rejections: z.array(RejectionSchema).max(MAX_PARTICIPANTS).superRefine(uniqueBy('member')),
  session: z.int().min(0).max(1024),
  culprits: MembersSchema,
  /**
   * Signing: signers who declined a session's package (`round2.decline`), with the code and reason
   * they gave. Excluded from later sessions, never named culprits. Absent when there are none.
   */
  declines: z
    .array(RejectionSchema)
    .max(MAX_PARTICIPANTS)
    .superRefine(uniqueBy('member'))
    .optional(),
  /**
   * Signing (ROAST): approvers in good standing whose commitment a session spent; each answers
   * `sign.recommit` with a fresh commitment.
   */
  needsCommitment: MembersSchema.optional(),
  /** Signing: the phase whose commitments `needsCommitment` members must send. */
  phase: z.int().min(1).max(2).optional(),
  /** Signing: the policy the ceremony runs under and what it still waits for (docs/policy.md). */
  policy: PolicyProgressSchema.optional(),
  request: envelopeOf(SignRequestSchema).optional(),
  updatedAt: TimestampSchema,
  deadline: TimestampSchema.optional(),
});

/** coordinator → sender: your envelope `seq` (a `messageType`) is durably recorded. */
export const AckSchema = z.strictObject({
  type: z.literal('ack'),
  seq: SeqSchema,
  messageType: z.string().regex(/^[a-z0-9.]{1,64}$/, { error: 'expected a message type' }),
});

export type CeremonyKind = (typeof CEREMONY_KINDS)[number];
export type InboxGet = z.infer<typeof InboxGetSchema>;
export type InboxItem = z.infer<typeof InboxItemSchema>;
export type Inbox = z.infer<typeof InboxSchema>;
export type CeremonyStatusGet = z.infer<typeof CeremonyStatusGetSchema>;
export type Rejection = z.infer<typeof RejectionSchema>;
export type CeremonyStatus = z.infer<typeof CeremonyStatusSchema>;
export type Ack = z.infer<typeof AckSchema>;
