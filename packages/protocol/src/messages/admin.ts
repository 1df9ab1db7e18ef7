// Admin operations: sealed by the admin key (sender `admin`), scope id = a fresh ceremony id.
import * as z from 'zod';
import { IdentityKeyHexSchema } from '../hex.js';
import { GroupNameSchema, MemberIdSchema, text } from '../ids.js';
import { MAX_PARTICIPANTS } from '../version.js';
import { uniqueBy, uniqueValues } from './refine.js';

const RoleSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, { error: 'expected 1-32 characters of [a-z0-9_-]' });

/** admin → coordinator: register a member's identity key. */
export const AdminMemberAddSchema = z.strictObject({
  type: z.literal('admin.member.add'),
  member: MemberIdSchema,
  identityKey: IdentityKeyHexSchema,
  roles: z.array(RoleSchema).max(16).superRefine(uniqueValues),
});

/** admin → coordinator: revoke a member; the auth layer refuses its key from now on. */
export const AdminMemberRevokeSchema = z.strictObject({
  type: z.literal('admin.member.revoke'),
  member: MemberIdSchema,
  reason: text(512),
});

export const GroupMemberSchema = z.strictObject({
  member: MemberIdSchema,
  identityKey: IdentityKeyHexSchema,
});

/**
 * admin → coordinator: create a t-of-n group and open its key ceremony. The roster carries each
 * member's identity key, so the admin's signature pins the keys the DKG encrypts to.
 */
export const AdminGroupCreateSchema = z
  .strictObject({
    type: z.literal('admin.group.create'),
    group: GroupNameSchema,
    threshold: z.int().min(2).max(MAX_PARTICIPANTS),
    members: z
      .array(GroupMemberSchema)
      .min(2)
      .max(MAX_PARTICIPANTS)
      .superRefine(uniqueBy('member'))
      .superRefine(uniqueBy('identityKey')),
  })
  .refine((g) => g.threshold <= g.members.length, {
    error: 'threshold exceeds the number of members',
    path: ['threshold'],
  });

export type AdminMemberAdd = z.infer<typeof AdminMemberAddSchema>;
export type AdminMemberRevoke = z.infer<typeof AdminMemberRevokeSchema>;
export type GroupMember = z.infer<typeof GroupMemberSchema>;
export type AdminGroupCreate = z.infer<typeof AdminGroupCreateSchema>;
