// The one catalogue of wire messages: every type in one discriminated union on `type`, and for
// each type whether it travels sealed in an envelope and who may send it.
import * as z from 'zod';
import {
  AdminGroupCreateSchema,
  AdminMemberAddSchema,
  AdminMemberRevokeSchema,
} from './messages/admin.js';
import {
  DkgAbortSchema,
  DkgCompleteSchema,
  DkgFailSchema,
  DkgConfirmSchema,
  DkgRound1AllSchema,
  DkgRound1Schema,
  DkgRound2DeliverSchema,
  DkgRound2Schema,
  DkgStartSchema,
} from './messages/dkg.js';
import { envelopeOf } from './messages/envelope-schema.js';
import { KeyOutcomeGetSchema, KeyOutcomeSchema } from './messages/key-outcome.js';
import {
  AdminGroupRefreshSchema,
  AdminGroupRepairSchema,
  AdminGroupReshareSchema,
  GroupListGetSchema,
  GroupListSchema,
  KeyRound1AllSchema,
  KeyRound1Schema,
  KeyRound2DeliverSchema,
  KeyRound2Schema,
  KeyStartSchema,
} from './messages/lifecycle.js';
import {
  AuthChallengeSchema,
  AuthOkSchema,
  AuthResponseSchema,
  ErrorMessageSchema,
  HelloSchema,
} from './messages/handshake.js';
import {
  HotfixListGetSchema,
  HotfixListSchema,
  HotfixOverdueSchema,
  PolicyGetSchema,
  PolicyInfoSchema,
  RevocationsGetSchema,
  RevocationsSchema,
} from './messages/policy.js';
import {
  CeremonyCancelSchema,
  Round2DeclineSchema,
  Round2ShareSchema,
  SignAbortedSchema,
  SignApproveSchema,
  SignCommitmentsSchema,
  SignCompleteSchema,
  SignPackageSchema,
  SignRecommitSchema,
  SignRejectSchema,
  SignRequestSchema,
} from './messages/sign.js';
import {
  AckSchema,
  CeremonyStatusGetSchema,
  CeremonyStatusSchema,
  InboxGetSchema,
  InboxSchema,
} from './messages/status.js';

/** Bodies that only travel inside a signed envelope. */
export const SealedBodySchema = z.discriminatedUnion('type', [
  AdminMemberAddSchema,
  AdminMemberRevokeSchema,
  AdminGroupCreateSchema,
  DkgStartSchema,
  DkgRound1Schema,
  DkgRound1AllSchema,
  DkgRound2Schema,
  DkgRound2DeliverSchema,
  DkgConfirmSchema,
  DkgCompleteSchema,
  DkgFailSchema,
  DkgAbortSchema,
  AdminGroupRefreshSchema,
  AdminGroupReshareSchema,
  AdminGroupRepairSchema,
  KeyStartSchema,
  KeyRound1Schema,
  KeyRound1AllSchema,
  KeyRound2Schema,
  KeyRound2DeliverSchema,
  SignRequestSchema,
  SignApproveSchema,
  SignRecommitSchema,
  SignRejectSchema,
  CeremonyCancelSchema,
  SignPackageSchema,
  Round2ShareSchema,
  Round2DeclineSchema,
  SignCompleteSchema,
  SignAbortedSchema,
  AckSchema,
  HotfixOverdueSchema,
]);
export type SealedBody = z.infer<typeof SealedBodySchema>;
export type SealedType = SealedBody['type'];

/** A signed envelope around a sealed body (see envelope.ts). */
export const EnvelopeSchema = envelopeOf(SealedBodySchema);
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** Every wire message, one discriminated union. Sealed types are also valid standalone here. */
export const MessageSchema = z.discriminatedUnion('type', [
  HelloSchema,
  AuthChallengeSchema,
  AuthResponseSchema,
  AuthOkSchema,
  ErrorMessageSchema,
  EnvelopeSchema,
  InboxGetSchema,
  InboxSchema,
  CeremonyStatusGetSchema,
  CeremonyStatusSchema,
  GroupListGetSchema,
  GroupListSchema,
  KeyOutcomeGetSchema,
  KeyOutcomeSchema,
  PolicyGetSchema,
  PolicyInfoSchema,
  HotfixListGetSchema,
  HotfixListSchema,
  RevocationsGetSchema,
  RevocationsSchema,
  SignCommitmentsSchema,
  ...SealedBodySchema.options,
]);
export type Message = z.infer<typeof MessageSchema>;
export type MessageType = Message['type'];

export type Role = 'member' | 'admin' | 'coordinator';
export interface MessageRule {
  /** Travels only inside an `envelope` (true) or bare at the top level of a frame (false). */
  readonly sealed: boolean;
  /** Who may send it (for sealed types, checked against the envelope's sender). */
  readonly from: readonly Role[];
}

const client: readonly Role[] = ['member', 'admin'];
const member: readonly Role[] = ['member'];
const coordinator: readonly Role[] = ['coordinator'];
const admin: readonly Role[] = ['admin'];

/** Sealing and sender rules per type; `satisfies` keeps it exhaustive over the union. */
export const MESSAGE_RULES = {
  hello: { sealed: false, from: client },
  'auth.challenge': { sealed: false, from: coordinator },
  'auth.response': { sealed: false, from: client },
  'auth.ok': { sealed: false, from: coordinator },
  error: { sealed: false, from: coordinator },
  envelope: { sealed: false, from: ['member', 'admin', 'coordinator'] },
  'inbox.get': { sealed: false, from: client },
  inbox: { sealed: false, from: coordinator },
  'ceremony.status.get': { sealed: false, from: client },
  'ceremony.status': { sealed: false, from: coordinator },
  'admin.member.add': { sealed: true, from: admin },
  'admin.member.revoke': { sealed: true, from: admin },
  'admin.group.create': { sealed: true, from: admin },
  'dkg.start': { sealed: true, from: coordinator },
  'dkg.round1': { sealed: true, from: member },
  'dkg.round1.all': { sealed: true, from: coordinator },
  'dkg.round2': { sealed: true, from: member },
  'dkg.round2.deliver': { sealed: true, from: coordinator },
  'dkg.confirm': { sealed: true, from: member },
  'dkg.complete': { sealed: true, from: coordinator },
  'dkg.fail': { sealed: true, from: member },
  'dkg.abort': { sealed: true, from: coordinator },
  'admin.group.refresh': { sealed: true, from: admin },
  'admin.group.reshare': { sealed: true, from: admin },
  'admin.group.repair': { sealed: true, from: admin },
  'key.start': { sealed: true, from: coordinator },
  'key.round1': { sealed: true, from: member },
  'key.round1.all': { sealed: true, from: coordinator },
  'key.round2': { sealed: true, from: member },
  'key.round2.deliver': { sealed: true, from: coordinator },
  'group.list.get': { sealed: false, from: client },
  'group.list': { sealed: false, from: coordinator },
  'key.outcome.get': { sealed: false, from: client },
  'key.outcome': { sealed: false, from: coordinator },
  'policy.get': { sealed: false, from: client },
  'policy.info': { sealed: false, from: coordinator },
  'hotfix.list.get': { sealed: false, from: client },
  'hotfix.list': { sealed: false, from: coordinator },
  'revocations.get': { sealed: false, from: client },
  revocations: { sealed: false, from: coordinator },
  'sign.commitments': { sealed: false, from: coordinator },
  'sign.request': { sealed: true, from: member },
  'sign.approve': { sealed: true, from: member },
  'sign.recommit': { sealed: true, from: member },
  'sign.reject': { sealed: true, from: member },
  'ceremony.cancel': { sealed: true, from: client },
  'sign.package': { sealed: true, from: coordinator },
  'round2.share': { sealed: true, from: member },
  'round2.decline': { sealed: true, from: member },
  'sign.complete': { sealed: true, from: coordinator },
  'sign.aborted': { sealed: true, from: coordinator },
  ack: { sealed: true, from: coordinator },
  'hotfix.overdue': { sealed: true, from: coordinator },
} as const satisfies Record<MessageType, MessageRule>;

/** Every message type name, in catalogue order. */
export const MESSAGE_TYPES: readonly MessageType[] = MessageSchema.options.map(
  (option) => option.shape.type.value,
);

/** Sealed body type names. */
export const SEALED_TYPES: readonly SealedType[] = SealedBodySchema.options.map(
  (option) => option.shape.type.value,
);

const TYPE_SET: ReadonlySet<string> = new Set(MESSAGE_TYPES);

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && TYPE_SET.has(value);
}

/** The role an envelope sender id stands for. */
export function roleOf(sender: string): Role {
  if (sender === 'coordinator') return 'coordinator';
  if (sender === 'admin') return 'admin';
  return 'member';
}
