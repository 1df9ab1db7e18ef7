// Governance (docs/policy.md): the versioned policy document of a group, the release subjects a
// policy change or a revocation binds, and the read-only queries for policy, hotfixes awaiting
// ratification and the signed revocation list. A policy is obeyed by members only once they have
// verified the group's signature over it, so `policy.info` carries the signed statement.
import * as z from 'zod';
import { ElementHexSchema, Sha256HexSchema, Sha512HexSchema, SignatureHexSchema } from '../hex.js';
import {
  CeremonyIdSchema,
  GroupNameSchema,
  MemberIdSchema,
  TimestampSchema,
  text,
} from '../ids.js';
import { MAX_ARTIFACTS, MAX_PARTICIPANTS } from '../version.js';
import { uniqueBy, uniqueValues } from './refine.js';

/** The document's own format tag: a new, incompatible policy format gets a new tag. */
export const POLICY_SCHEMA = 'conclave-policy/v1';

/** A role as `conclave member add --roles` records it. */
export const PolicyRoleSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, { error: 'expected 1-32 characters of [a-z0-9_-]' });

/**
 * An artifact file-name pattern: `*` matches any run of characters, `?` one character, everything
 * else itself (names carry no path separators, so there is no `**`).
 */
export const ArtifactPatternSchema = text(128, 1);

const Seconds = (max: number) => z.int().min(1).max(max);
const DAY = 86_400;
/** The longest hotfix ratification window a policy may set. */
export const MAX_RATIFICATION_WINDOW_SECONDS = 90 * DAY;

/** The rules for one release class. Absent fields take the defaults docs/policy.md lists. */
export const ClassRuleSchema = z.strictObject({
  /**
   * Who may request: a member named here or holding one of the roles. Absent: any member of the
   * group.
   */
  requesters: z
    .strictObject({
      members: z.array(MemberIdSchema).max(MAX_PARTICIPANTS).superRefine(uniqueValues).optional(),
      roles: z.array(PolicyRoleSchema).max(16).superRefine(uniqueValues).optional(),
    })
    .optional(),
  /** Approvals needed before a session opens; ≥ the key's threshold. Absent: the threshold. */
  quorum: z.int().min(2).max(MAX_PARTICIPANTS).optional(),
  /** At least `count` approvers holding `role` (e.g. one `security`). */
  requiredRoles: z
    .array(z.strictObject({ role: PolicyRoleSchema, count: z.int().min(1).max(MAX_PARTICIPANTS) }))
    .max(8)
    .superRefine(uniqueBy('role'))
    .optional(),
  /** Every artifact name must match one pattern. Absent: any name. */
  artifacts: z.array(ArtifactPatternSchema).min(1).max(32).superRefine(uniqueValues).optional(),
  /** How long approvals are collected. */
  approvalTimeoutSeconds: Seconds(30 * DAY).optional(),
  /** How long one signing session waits for shares. */
  sessionTimeoutSeconds: Seconds(DAY).optional(),
  /**
   * The longest a signed statement may stay valid: requests must carry `validUntil` no later than
   * this after the request. Absent: statements carry no expiry.
   */
  maxValiditySeconds: Seconds(3_650 * DAY).optional(),
});

/** A group's policy document, version N (N ≥ 1 once set by a policy ceremony; 0 is the default). */
export const PolicyDocumentSchema = z.strictObject({
  schema: z.literal(POLICY_SCHEMA),
  group: GroupNameSchema,
  version: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  classes: z.strictObject({
    /** The base rule; a class without its own rule uses this one. */
    standard: ClassRuleSchema,
    hotfix: ClassRuleSchema.optional(),
    policy: ClassRuleSchema.optional(),
    revocation: ClassRuleSchema.optional(),
  }),
  hotfix: z
    .strictObject({
      /** A hotfix must be ratified by a standard ceremony within this window, or it is flagged. */
      ratificationWindowSeconds: Seconds(MAX_RATIFICATION_WINDOW_SECONDS).optional(),
      /** Refuse a hotfix request without `--incident`. */
      requireIncident: z.boolean().optional(),
    })
    .optional(),
});

/** What a revocation statement names: the revoked release, its statement and artifacts, why. */
export const RevocationSubjectSchema = z.strictObject({
  ceremonyId: CeremonyIdSchema,
  statementDigest: Sha256HexSchema,
  version: text(64, 1),
  artifacts: z
    .array(z.strictObject({ name: text(255, 1), sha256: Sha256HexSchema, sha512: Sha512HexSchema }))
    .min(1)
    .max(MAX_ARTIFACTS)
    .superRefine(uniqueBy('name')),
  reason: text(512, 1),
});

/** A signed in-toto statement as stored (parsed JSON; the reader re-verifies it). */
const StatementJsonSchema = z.record(z.string().max(64), z.unknown());

/** The quorum signature over a policy version: the statement of its policy ceremony. */
export const SignedPolicySchema = z.strictObject({
  ceremonyId: CeremonyIdSchema,
  groupPublicKey: ElementHexSchema,
  statement: StatementJsonSchema,
  /** Ed25519 over the DSSE PAE of the statement. */
  signature: SignatureHexSchema,
  signedAt: TimestampSchema,
});

/** client → coordinator: a group's policy (the current one, or `version`). */
export const PolicyGetSchema = z.strictObject({
  type: z.literal('policy.get'),
  group: GroupNameSchema,
  version: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
});

/**
 * coordinator → client: a policy version and, from version 1 on, the statement a quorum signed
 * over it. Version 0 is the default (quorum = threshold, any member requests, no roles).
 */
export const PolicyInfoSchema = z.strictObject({
  type: z.literal('policy.info'),
  group: GroupNameSchema,
  version: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  /** `<group>@v<version>`: what signed statements name as `policyId`. */
  policyId: text(64, 1),
  /** The newest version stored for the group. */
  latest: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  threshold: z.int().min(2).max(MAX_PARTICIPANTS),
  document: PolicyDocumentSchema,
  signed: SignedPolicySchema.optional(),
});

export const HOTFIX_STATES = ['unratified', 'overdue', 'ratified'] as const;

export const HotfixSchema = z.strictObject({
  ceremonyId: CeremonyIdSchema,
  group: GroupNameSchema,
  version: text(64),
  incident: text(128).optional(),
  signedAt: TimestampSchema,
  ratifyBy: TimestampSchema,
  state: z.enum(HOTFIX_STATES),
  ratifiedBy: CeremonyIdSchema.optional(),
  ratifiedAt: TimestampSchema.optional(),
  /** When the coordinator recorded that the window had passed unratified. */
  flaggedAt: TimestampSchema.optional(),
});

/** client → coordinator: hotfixes of my groups (or one group), newest first. */
export const HotfixListGetSchema = z.strictObject({
  type: z.literal('hotfix.list.get'),
  group: GroupNameSchema.optional(),
});

/** coordinator → client: hotfixes and their ratification state (≤ 100, unratified first). */
export const HotfixListSchema = z.strictObject({
  type: z.literal('hotfix.list'),
  hotfixes: z.array(HotfixSchema).max(100).superRefine(uniqueBy('ceremonyId')),
});

/**
 * Sealed, coordinator → the transparency log (never sent to a client): the coordinator's signed
 * record that a hotfix was not ratified within its window. It is the one transcript entry of the
 * hotfix's `governance` log leaf (docs/audit.md), so the leaf's digest binds these details and an
 * auditor checks them offline under the coordinator's identity key.
 */
export const HotfixOverdueSchema = z.strictObject({
  type: z.literal('hotfix.overdue'),
  /** The hotfix signing ceremony. */
  ceremonyId: CeremonyIdSchema,
  group: GroupNameSchema,
  /** The hotfix's incident id (absent when it was requested without one). */
  incident: text(128, 1).optional(),
  /** End of the ratification window (ms since the epoch). */
  ratifyBy: TimestampSchema,
  /** When the coordinator flagged it (≥ ratifyBy). */
  flaggedAt: TimestampSchema,
  /** The policy version the hotfix ran under, which set its window. */
  policyVersion: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
});

/** client → coordinator: a page of a group's signed revocations, oldest first. */
export const RevocationsGetSchema = z.strictObject({
  type: z.literal('revocations.get'),
  group: GroupNameSchema,
  offset: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
});

export const RevocationEntrySchema = z.strictObject({
  /** The revocation ceremony. */
  ceremonyId: CeremonyIdSchema,
  revokedCeremony: CeremonyIdSchema,
  groupPublicKey: ElementHexSchema,
  statement: StatementJsonSchema,
  signature: SignatureHexSchema,
  at: TimestampSchema,
});

/** coordinator → client: up to 16 revocations from `offset`; `next` when more follow. */
export const RevocationsSchema = z.strictObject({
  type: z.literal('revocations'),
  group: GroupNameSchema,
  offset: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  entries: z.array(RevocationEntrySchema).max(16),
  next: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
});

/** Where a signing ceremony stands against its policy (in `ceremony.status`). */
export const PolicyProgressSchema = z.strictObject({
  /** The policy the ceremony runs under, `<group>@v<version>`. */
  id: text(64, 1),
  quorum: z.int().min(2).max(MAX_PARTICIPANTS),
  requiredRoles: z
    .array(z.strictObject({ role: PolicyRoleSchema, count: z.int().min(1).max(MAX_PARTICIPANTS) }))
    .max(8),
  /**
   * The newest policy version stored for the group (as `policy.info`'s `latest`): a member that
   * already verified `id` compares the two without asking (client policy.ts cachedPolicyFor).
   */
  latest: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  /** Approvals still missing for the quorum, and roles still missing among the approvers. */
  missingApprovals: z.int().min(0).max(MAX_PARTICIPANTS),
  missingRoles: z
    .array(z.strictObject({ role: PolicyRoleSchema, count: z.int().min(1).max(MAX_PARTICIPANTS) }))
    .max(8),
  /**
   * Set when the coordinator cancelled the ceremony because a new policy version was stored while
   * it was open (POLICY_SUPERSEDED): the version now in force and the ceremony that set it.
   */
  superseded: z
    .strictObject({
      code: z.literal('POLICY_SUPERSEDED'),
      by: text(64, 1),
      ceremonyId: CeremonyIdSchema,
    })
    .optional(),
});

export type PolicyDocument = z.infer<typeof PolicyDocumentSchema>;
export type ClassRule = z.infer<typeof ClassRuleSchema>;
export type RevocationSubject = z.infer<typeof RevocationSubjectSchema>;
export type SignedPolicy = z.infer<typeof SignedPolicySchema>;
export type PolicyGet = z.infer<typeof PolicyGetSchema>;
export type PolicyInfo = z.infer<typeof PolicyInfoSchema>;
export type Hotfix = z.infer<typeof HotfixSchema>;
export type HotfixState = (typeof HOTFIX_STATES)[number];
export type HotfixListGet = z.infer<typeof HotfixListGetSchema>;
export type HotfixList = z.infer<typeof HotfixListSchema>;
export type HotfixOverdue = z.infer<typeof HotfixOverdueSchema>;
export type RevocationsGet = z.infer<typeof RevocationsGetSchema>;
export type RevocationEntry = z.infer<typeof RevocationEntrySchema>;
export type Revocations = z.infer<typeof RevocationsSchema>;
export type PolicyProgress = z.infer<typeof PolicyProgressSchema>;

/** `<group>@v<version>`, the policy id signed statements carry. */
export function policyIdOf(group: string, version: number): string {
  return `${group}@v${version}`;
}

/** Parses a policy id back into group and version; undefined if it is not one. */
export function parsePolicyId(id: string): { group: string; version: number } | undefined {
  const m = /^([a-z0-9][a-z0-9_-]{0,31})@v(0|[1-9][0-9]{0,9})$/.exec(id);
  if (m === null) return undefined;
  const version = Number(m[2]);
  return version > 2 ** 31 - 1 ? undefined : { group: m[1]!, version };
}

/** A hotfix left unratified this long is flagged, unless the policy says otherwise (72 h). */
export const DEFAULT_RATIFICATION_WINDOW_SECONDS = 72 * 3600;

/** A policy's hotfix ratification window in milliseconds (72 h when the document sets none). */
export function ratificationWindowMsOf(doc: PolicyDocument): number {
  return (doc.hotfix?.ratificationWindowSeconds ?? DEFAULT_RATIFICATION_WINDOW_SECONDS) * 1000;
}

/**
 * When a hotfix must be ratified by (docs/policy.md): the time its ceremony completed plus the
 * ratification window of the policy version it ran under. The one rule the coordinator uses for
 * `hotfixes.ratify_by` (with its signature time) and auditors re-derive from the log
 * (`@conclave/audit` hotfixDeadlines, with the `sign.complete` time, never earlier).
 */
export function hotfixRatifyBy(completedAt: number, doc: PolicyDocument): number {
  return completedAt + ratificationWindowMsOf(doc);
}

/**
 * Version 0, in force until a quorum sets one: any member of the group requests, quorum = the
 * key's threshold, no roles, the coordinator's timeouts, no expiry, hotfixes need no incident id
 * and are flagged if unratified after 72 h. Members use this built-in document for v0, never a
 * served one.
 */
export function defaultPolicy(group: string): PolicyDocument {
  return {
    schema: POLICY_SCHEMA,
    group,
    version: 0,
    classes: { standard: {} },
    hotfix: {
      ratificationWindowSeconds: DEFAULT_RATIFICATION_WINDOW_SECONDS,
      requireIncident: false,
    },
  };
}

export type PolicyClass = keyof PolicyDocument['classes'];

/** The rule of a class: its own, or `standard`'s when it has none. */
export function classRuleOf(doc: PolicyDocument, cls: PolicyClass): ClassRule {
  return doc.classes[cls] ?? doc.classes.standard;
}

/** The approvals a class needs: the rule's quorum, never fewer than the key's threshold. */
export function quorumOf(doc: PolicyDocument, cls: PolicyClass, threshold: number): number {
  return Math.max(threshold, classRuleOf(doc, cls).quorum ?? 0);
}

/**
 * Whether an artifact name matches a policy pattern: `*` any run of characters, `?` exactly one,
 * every other character itself (names carry no path separators). Characters are code points.
 *
 * Linear-time wildcard matching (two cursors; on a mismatch, only the last `*` is tried again with
 * one more character): O(|pattern|·|name|) at worst. A backtracking RegExp of `.*` runs took time
 * exponential in the stars for a name that does not match (`app-*-*-*-*.tar.gz` against 254
 * characters: 1.7 s), and a member may send 64 names to be tried against 32 patterns, on the
 * coordinator's event loop and on every approver's machine.
 */
export function artifactNameMatches(pattern: string, name: string): boolean {
  const p = [...pattern];
  const s = [...name];
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (j < s.length) {
    if (i < p.length && p[i] !== '*' && (p[i] === '?' || p[i] === s[j])) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      resume = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++resume;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}
