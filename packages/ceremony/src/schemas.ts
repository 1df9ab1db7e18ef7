// Shapes of machine inputs and events, parsed once at the edge (checkEvent, the context factories).
// The machines deal in abstract, already-verified facts: payloads are opaque lowercase hex.
import { z } from 'zod';

/** Member ids double as object keys, so `__proto__` and friends are impossible by construction. */
export const MemberIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'member id: letters, digits, . _ @ -');

export const HexSchema = z
  .string()
  .min(2)
  .max(4096)
  .regex(/^(?:[0-9a-f]{2})+$/, 'lowercase hex, even length');

/** Milliseconds on the runner's clock (server-side, THREATS D.52), never a participant's. */
export const TimeSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const ReasonSchema = z.string().min(1).max(512);

const uniqueMembers = (members: readonly string[]): boolean =>
  new Set(members).size === members.length;

export const GroupSchema = z
  .strictObject({
    members: z
      .array(MemberIdSchema)
      .min(2)
      .max(255)
      .refine(uniqueMembers, 'members must be unique'),
    threshold: z.number().int().min(2),
    roles: z.record(MemberIdSchema, z.array(z.string().min(1).max(64))).default({}),
  })
  .refine((g) => g.threshold <= g.members.length, 'threshold must not exceed the member count')
  .refine(
    (g) => Object.keys(g.roles).every((m) => g.members.includes(m)),
    'roles may only name members',
  );
export type Group = z.infer<typeof GroupSchema>;
export type GroupInput = z.input<typeof GroupSchema>;

// ---------------------------------------------------------------------------------------------
// Signing ceremony

const RoleRequirementSchema = z.strictObject({
  role: z.string().min(1).max(64),
  count: z.number().int().min(1).max(255),
});

/**
 * What the group's policy asks of the approvals before a session may open (docs/policy.md): at
 * least `quorum` approvers (never fewer than the threshold) and, among them, `count` holders of
 * each required role (`group.roles`). A session still has exactly t signers.
 */
export const SigningPolicySchema = z.strictObject({
  quorum: z.number().int().min(2).max(255),
  requiredRoles: z
    .array(RoleRequirementSchema)
    .max(16)
    .refine((r) => new Set(r.map((x) => x.role)).size === r.length, 'roles must be unique')
    .default([]),
});
export type SigningPolicy = z.infer<typeof SigningPolicySchema>;
export type RoleRequirement = z.infer<typeof RoleRequirementSchema>;

export const SigningInputSchema = z
  .strictObject({
    ceremonyId: z.string().min(1).max(128),
    group: GroupSchema,
    statementDigest: HexSchema,
    createdAt: TimeSchema,
    approvalDeadline: TimeSchema,
    sessionTimeoutMs: z.number().int().positive().max(86_400_000),
    /** Signing phases: 2 when a format chains on a first signature (minisign). */
    phases: z.number().int().min(1).max(2).default(1),
    /** The policy's approval rule. Absent: quorum = threshold, no roles (the default policy). */
    policy: SigningPolicySchema.optional(),
  })
  .refine((i) => i.approvalDeadline > i.createdAt, 'approvalDeadline must be after createdAt')
  .refine(
    (i) => i.policy === undefined || i.policy.quorum <= i.group.members.length,
    'policy quorum must not exceed the member count',
  );
export type SigningInput = z.input<typeof SigningInputSchema>;

export const OutboxFlushedSchema = z.strictObject({
  type: z.literal('outbox.flushed'),
  upTo: z.number().int().nonnegative(),
});
const DeadlineReachedSchema = z.strictObject({
  type: z.literal('deadline.reached'),
  at: TimeSchema,
});
const CancelSchema = z.strictObject({
  type: z.literal('ceremony.cancel'),
  by: z.string().min(1).max(128),
  reason: ReasonSchema,
  at: TimeSchema,
});
const RevokedSchema = z.strictObject({
  type: z.literal('member.revoked'),
  member: MemberIdSchema,
  at: TimeSchema,
});

export const SigningEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('sign.approve'),
    member: MemberIdSchema,
    commitment: HexSchema,
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('sign.reject'),
    member: MemberIdSchema,
    reason: ReasonSchema,
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('sign.recommit'),
    member: MemberIdSchema,
    commitment: HexSchema,
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('round2.share'),
    member: MemberIdSchema,
    sessionId: z.string().min(1).max(160),
    valid: z.boolean(),
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('round2.decline'),
    member: MemberIdSchema,
    sessionId: z.string().min(1).max(160),
    /** The signer's own words (its error code and reason), kept with its exclusion. */
    detail: z.string().min(1).max(600),
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('session.aggregated'),
    sessionId: z.string().min(1).max(160),
    ok: z.boolean(),
    culprits: z.array(MemberIdSchema).refine(uniqueMembers, 'culprits must be unique'),
    at: TimeSchema,
  }),
  DeadlineReachedSchema,
  CancelSchema,
  RevokedSchema,
  OutboxFlushedSchema,
]);
export type SigningEvent = z.infer<typeof SigningEventSchema>;

// ---------------------------------------------------------------------------------------------
// Key ceremony (DKG; refresh / reshare / repair run the same chart with dealer/recipient roles)

export const KeyCeremonyKindSchema = z.enum(['dkg', 'refresh', 'reshare', 'repair']);
export type KeyCeremonyKind = z.infer<typeof KeyCeremonyKindSchema>;

const RoleListSchema = z
  .array(MemberIdSchema)
  .min(1)
  .max(255)
  .refine(uniqueMembers, 'members must be unique');

export const KeyInputSchema = z
  .strictObject({
    ceremonyId: z.string().min(1).max(128),
    kind: KeyCeremonyKindSchema.default('dkg'),
    /** Everyone taking part (DKG: the group; lifecycle: old and new holders involved). */
    group: GroupSchema,
    startedAt: TimeSchema,
    roundTimeoutMs: z.number().int().positive().max(86_400_000),
    /** Round-1 package hashes of earlier, aborted attempts: a retry must use a fresh polynomial (B.28). */
    priorPackageHashes: z.array(HexSchema).default([]),
    /** Who sends round 1 and round 2 (reshare dealers, repair helpers). Default: every member. */
    dealers: RoleListSchema.optional(),
    /** Who round-2 envelopes go to (the new committee; the repaired member). Default: every member. */
    recipients: RoleListSchema.optional(),
    /** Who must confirm before anything is saved. Default: every member. */
    confirmers: RoleListSchema.optional(),
  })
  .refine(
    (i) =>
      [i.dealers, i.recipients, i.confirmers].every(
        (list) => list === undefined || list.every((m) => i.group.members.includes(m)),
      ),
    'dealers, recipients and confirmers must be members',
  );
export type KeyInput = z.input<typeof KeyInputSchema>;

export const KeyEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('dkg.round1'),
    member: MemberIdSchema,
    packageHash: HexSchema,
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('dkg.round2'),
    member: MemberIdSchema,
    recipients: z.array(MemberIdSchema).min(1).max(255),
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('dkg.confirm'),
    member: MemberIdSchema,
    transcriptHash: HexSchema,
    groupPublicKey: HexSchema,
    /** The runner's judgement: this is the view it relayed (see key-rules `Confirmation`). */
    relayed: z.boolean().optional(),
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal('dkg.fail'),
    member: MemberIdSchema,
    culprit: MemberIdSchema,
    reason: ReasonSchema,
    at: TimeSchema,
  }),
  DeadlineReachedSchema,
  CancelSchema,
  RevokedSchema,
  OutboxFlushedSchema,
]);
export type KeyEvent = z.infer<typeof KeyEventSchema>;
