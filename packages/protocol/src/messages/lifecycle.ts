// Key lifecycle ceremonies (refresh, reshare, repair) and the group queries they need. The group
// public key never changes in these ceremonies; the shares, the roster or the threshold do, and the
// group's epoch counts each new set of shares (docs/lifecycle.md).
import * as z from 'zod';
import { ElementHexSchema, hexBetween } from '../hex.js';
import { CeremonyIdSchema, GroupNameSchema, MemberIdSchema, TimestampSchema } from '../ids.js';
import { MAX_FROST_PACKAGE_BYTES, MAX_PARTICIPANTS } from '../version.js';
import { GroupMemberSchema } from './admin.js';
import {
  DkgParticipantSchema,
  IncomingBoxSchema,
  MemberPackageSchema,
  OutgoingBoxSchema,
} from './dkg.js';
import { envelopeOf } from './envelope-schema.js';
import { uniqueBy, uniqueValues } from './refine.js';

export const LIFECYCLE_KINDS = ['refresh', 'reshare', 'repair'] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

/** A group's key epoch: 0 after the DKG, +1 for every refresh or reshare that completes. */
export const EpochSchema = z.int().min(0).max(2_147_483_647);

const MemberListSchema = z
  .array(MemberIdSchema)
  .min(2)
  .max(MAX_PARTICIPANTS)
  .superRefine(uniqueValues);

/**
 * admin → coordinator: new shares for the same members, same threshold, same group key (proactive
 * refresh). `epoch` and `groupPublicKey` name the key state the admin means: a stale one is refused.
 */
export const AdminGroupRefreshSchema = z.strictObject({
  type: z.literal('admin.group.refresh'),
  group: GroupNameSchema,
  epoch: EpochSchema,
  groupPublicKey: ElementHexSchema,
});

/**
 * admin → coordinator: move the key to a new roster and/or threshold, same group key. `dealers`
 * (at least the current threshold, all current holders) share their shares out to `members`.
 */
export const AdminGroupReshareSchema = z
  .strictObject({
    type: z.literal('admin.group.reshare'),
    group: GroupNameSchema,
    epoch: EpochSchema,
    groupPublicKey: ElementHexSchema,
    threshold: z.int().min(2).max(MAX_PARTICIPANTS),
    members: z
      .array(GroupMemberSchema)
      .min(2)
      .max(MAX_PARTICIPANTS)
      .superRefine(uniqueBy('member'))
      .superRefine(uniqueBy('identityKey')),
    dealers: MemberListSchema,
  })
  .refine((g) => g.threshold <= g.members.length, {
    error: 'threshold exceeds the number of members',
    path: ['threshold'],
  });

/** admin → coordinator: `helpers` (at least the threshold) rebuild `member`'s lost share. */
export const AdminGroupRepairSchema = z
  .strictObject({
    type: z.literal('admin.group.repair'),
    group: GroupNameSchema,
    epoch: EpochSchema,
    groupPublicKey: ElementHexSchema,
    member: MemberIdSchema,
    helpers: MemberListSchema,
  })
  .refine((r) => !r.helpers.includes(r.member), {
    error: 'the member being repaired cannot help',
    path: ['helpers'],
  });

export const LifecycleAuthorizationSchema = z.discriminatedUnion('type', [
  AdminGroupRefreshSchema,
  AdminGroupReshareSchema,
  AdminGroupRepairSchema,
]);

const ParticipantsSchema = z
  .array(DkgParticipantSchema)
  .min(2)
  .max(MAX_PARTICIPANTS)
  .superRefine(uniqueBy('member'))
  .superRefine(uniqueBy('identifier'))
  .superRefine(uniqueBy('identityKey'));

/**
 * coordinator → everyone involved: a lifecycle ceremony begins. `previous` and `publicKeyPackage`
 * are the current key state (epoch `fromEpoch`); `participants`/`threshold` the committee after it.
 * Members check `authorization` (admin-sealed, this ceremony) and that the key state is their own.
 */
export const KeyStartSchema = z
  .strictObject({
    type: z.literal('key.start'),
    kind: z.enum(LIFECYCLE_KINDS),
    group: GroupNameSchema,
    fromEpoch: EpochSchema,
    toEpoch: EpochSchema,
    groupPublicKey: ElementHexSchema,
    publicKeyPackage: hexBetween(1, MAX_FROST_PACKAGE_BYTES),
    previousThreshold: z.int().min(2).max(MAX_PARTICIPANTS),
    previous: ParticipantsSchema,
    threshold: z.int().min(2).max(MAX_PARTICIPANTS),
    participants: ParticipantsSchema,
    /** Reshare/refresh: the dealers; repair: the helpers. */
    dealers: MemberListSchema,
    /** Repair: the member whose share is rebuilt. */
    member: MemberIdSchema.optional(),
    authorization: envelopeOf(LifecycleAuthorizationSchema),
    /**
     * The wire version whose rules the ceremony runs under, signed with the start so an auditor
     * judges it by them: from 5, a complaint about another member's box needs evidence. Members
     * take part only in a ceremony of their own version. Optional only so transcripts from
     * before it parse.
     */
    protocolVersion: z.int().min(1).max(1000).optional(),
  })
  .refine((s) => s.threshold <= s.participants.length, {
    error: 'threshold exceeds the number of participants',
    path: ['threshold'],
  })
  .refine((s) => (s.kind === 'repair') === (s.member !== undefined), {
    error: 'member is given for a repair, and only then',
    path: ['member'],
  });

/**
 * member → coordinator, round 1. Refresh/reshare dealers: `package` is the public commitment to
 * their sub-polynomial (ReshareRound1Package), no boxes. Repair helpers: no package, `boxes` are the
 * encrypted deltas for the other helpers.
 */
export const KeyRound1Schema = z.strictObject({
  type: z.literal('key.round1'),
  package: hexBetween(1, MAX_FROST_PACKAGE_BYTES).optional(),
  boxes: z
    .array(OutgoingBoxSchema)
    .max(MAX_PARTICIPANTS - 1)
    .superRefine(uniqueBy('recipient')),
  /**
   * The dealer's wire version, signed by the dealer: from 5, a complaint against it needs
   * evidence, and an auditor knows that from the dealer's own word, not only from the
   * coordinator's key.start. Optional only so transcripts from before it parse.
   */
  protocolVersion: z.int().min(1).max(1000).optional(),
});

/** coordinator → each participant: every round-1 package, and the round-1 boxes addressed to it. */
export const KeyRound1AllSchema = z.strictObject({
  type: z.literal('key.round1.all'),
  packages: z.array(MemberPackageSchema).max(MAX_PARTICIPANTS).superRefine(uniqueBy('member')),
  boxes: z
    .array(IncomingBoxSchema)
    .max(MAX_PARTICIPANTS - 1)
    .superRefine(uniqueBy('sender')),
});

/** member → coordinator, round 2: sub-shares (reshare/refresh) or the σ for the repaired member. */
export const KeyRound2Schema = z.strictObject({
  type: z.literal('key.round2'),
  boxes: z
    .array(OutgoingBoxSchema)
    .min(1)
    .max(MAX_PARTICIPANTS - 1)
    .superRefine(uniqueBy('recipient')),
});

/**
 * coordinator → each confirmer: the round-2 boxes addressed to it (none for a repair helper); the
 * answer is `dkg.confirm` over the lifecycle transcript hash (`lifecycleHash`).
 */
export const KeyRound2DeliverSchema = z.strictObject({
  type: z.literal('key.round2.deliver'),
  boxes: z
    .array(IncomingBoxSchema)
    .max(MAX_PARTICIPANTS - 1)
    .superRefine(uniqueBy('sender')),
});

/** client → coordinator (bare): the groups I may see (admin: all; a member: its own). */
export const GroupListGetSchema = z.strictObject({
  type: z.literal('group.list.get'),
  member: MemberIdSchema.optional(),
});

export const GroupInfoSchema = z.strictObject({
  group: GroupNameSchema,
  state: z.enum(['keygen', 'active', 'failed', 'retired']),
  epoch: EpochSchema,
  threshold: z.int().min(2).max(MAX_PARTICIPANTS),
  members: z.array(GroupMemberSchema).min(2).max(MAX_PARTICIPANTS).superRefine(uniqueBy('member')),
  groupPublicKey: ElementHexSchema.optional(),
  /** The ceremony that produced the current shares. */
  ceremonyId: CeremonyIdSchema,
  /** Members of the roster the registry has revoked since (their shares must be reshared away). */
  revoked: z.array(MemberIdSchema).max(MAX_PARTICIPANTS).superRefine(uniqueValues),
  updatedAt: TimestampSchema,
});

/** coordinator → client (bare): the answer to `group.list.get`. */
export const GroupListSchema = z.strictObject({
  type: z.literal('group.list'),
  groups: z.array(GroupInfoSchema).max(256).superRefine(uniqueBy('group')),
});

export type AdminGroupRefresh = z.infer<typeof AdminGroupRefreshSchema>;
export type AdminGroupReshare = z.infer<typeof AdminGroupReshareSchema>;
export type AdminGroupRepair = z.infer<typeof AdminGroupRepairSchema>;
export type LifecycleAuthorization = z.infer<typeof LifecycleAuthorizationSchema>;
export type KeyStart = z.infer<typeof KeyStartSchema>;
export type KeyRound1 = z.infer<typeof KeyRound1Schema>;
export type KeyRound1All = z.infer<typeof KeyRound1AllSchema>;
export type KeyRound2 = z.infer<typeof KeyRound2Schema>;
export type KeyRound2Deliver = z.infer<typeof KeyRound2DeliverSchema>;
export type GroupListGet = z.infer<typeof GroupListGetSchema>;
export type GroupInfo = z.infer<typeof GroupInfoSchema>;
export type GroupList = z.infer<typeof GroupListSchema>;
