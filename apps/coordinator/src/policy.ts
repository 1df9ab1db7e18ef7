// Governance over the coordinator (docs/policy.md): the group policy as signed data, enforced at
// request time (requester, artifacts, incident, validity, the governance classes' own rules) and by
// the signing machine (quorum, roles); hotfixes and their ratification; signed release revocations.
//
// The coordinator never trusts its own policy rows: a row is enforced only after its quorum
// signature verifies under the group key (verifyPolicyStatement), and members check the same before
// they obey it. Tables: migration 5.
import type Database from 'better-sqlite3';
import {
  ADMIN_ID,
  PolicyDocumentSchema,
  artifactNameMatches,
  classRuleOf,
  defaultPolicy,
  canonicalJson,
  hotfixRatifyBy,
  ratificationWindowMsOf,
  policyIdOf,
  type ClassRule,
  type ErrorCode,
  type Hotfix,
  type PolicyDocument,
  type PolicyInfo,
  type PolicyProgress,
  type Release,
  type RevocationEntry,
  type Revocations,
  type SignAborted,
} from '@conclave/protocol';
import {
  checkEvent,
  nextDeadline,
  persist,
  policyGap,
  policyQuorum,
  restore,
  signingMachine,
  type AnyCeremonySnapshot,
  type SigningContext,
  type SigningOutcome,
} from '@conclave/ceremony';
import { documentArtifact, policyDigest, verifyPolicyStatement } from '@conclave/release';
import * as z from 'zod';
import type { Actor, AnyStateMachine } from 'xstate';
import { signingSnapshot, stateName, type CeremonyRunner, type Live } from './ceremonies.js';
import type { Limits } from './limits.js';
import { logHotfixOverdue } from './log/service.js';
import { recordPolicyRejection } from './metrics.js';
import { refused } from './runtime.js';
import {
  jsonColumn,
  statementsOf,
  type GroupRecord,
  type SignatureRecord,
  type Statements,
} from './store.js';

export type GovernedClass = 'standard' | 'hotfix' | 'policy' | 'revocation';

/** A class's rule with every default filled in. */
export interface ResolvedRule {
  readonly class: GovernedClass;
  readonly quorum: number;
  readonly requiredRoles: readonly { role: string; count: number }[];
  readonly requesters: ClassRule['requesters'];
  readonly artifacts: readonly string[] | undefined;
  readonly approvalTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly maxValidityMs: number | undefined;
}

/** The rule of `cls` (a class without its own rule uses `standard`'s), for a key of `threshold`. */
export function ruleFor(
  doc: PolicyDocument,
  cls: GovernedClass,
  threshold: number,
  limits: Pick<Limits, 'approvalTimeoutMs' | 'sessionTimeoutMs'>,
): ResolvedRule {
  const r = classRuleOf(doc, cls);
  return {
    class: cls,
    quorum: Math.max(threshold, r.quorum ?? 0),
    requiredRoles: r.requiredRoles ?? [],
    requesters: r.requesters,
    artifacts: r.artifacts,
    approvalTimeoutMs:
      r.approvalTimeoutSeconds === undefined
        ? limits.approvalTimeoutMs
        : r.approvalTimeoutSeconds * 1000,
    sessionTimeoutMs:
      r.sessionTimeoutSeconds === undefined
        ? limits.sessionTimeoutMs
        : r.sessionTimeoutSeconds * 1000,
    maxValidityMs: r.maxValiditySeconds === undefined ? undefined : r.maxValiditySeconds * 1000,
  };
}

export const ratificationWindowMs = (doc: PolicyDocument): number => ratificationWindowMsOf(doc);

/** `*` any run of characters, `?` one character, everything else literal (file names only). */
export const globMatch = artifactNameMatches;

// ---------------------------------------------------------------------------------------------
// Storage (migration 5). Rows are parsed: the file is hostile until parsed (D.51).

const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
const Statement = jsonColumn(z.record(z.string(), z.unknown()));

const PolicyRow = z.object({
  grp: z.string(),
  version: z.number().int().min(1),
  document: jsonColumn(PolicyDocumentSchema),
  digest: Hex.length(64),
  ceremony_id: z.string(),
  group_public_key: Hex.length(64),
  statement: Statement,
  signature: Hex.length(128),
  at: z.number().int(),
});
type PolicyRowT = z.output<typeof PolicyRow>;

export const CeremonyPolicyRow = z.object({
  ceremony_id: z.string(),
  grp: z.string(),
  policy_version: z.number().int().min(0),
  policy_id: z.string(),
  class: z.enum(['standard', 'hotfix', 'policy', 'revocation']),
  incident: z.string().nullable(),
  ratifies: z.string().nullable(),
  revokes: z.string().nullable(),
  at: z.number().int(),
});
export type CeremonyPolicy = z.output<typeof CeremonyPolicyRow>;

export const HotfixRow = z.object({
  ceremony_id: z.string(),
  grp: z.string(),
  incident: z.string(),
  signed_at: z.number().int(),
  ratify_by: z.number().int(),
  ratified_by: z.string().nullable(),
  ratified_at: z.number().int().nullable(),
  flagged_at: z.number().int().nullable(),
});

const RevocationRow = z.object({
  ceremony_id: z.string(),
  grp: z.string(),
  revoked_ceremony: z.string(),
  statement_digest: Hex.length(64),
  at: z.number().int(),
});

export const EventRow = z.object({
  idx: z.number().int(),
  grp: z.string(),
  kind: z.string(),
  ceremony_id: z.string().nullable(),
  detail: z.string(),
  at: z.number().int(),
});
export type GovernanceEvent = z.output<typeof EventRow>;

function parse<T extends z.ZodType>(schema: T, row: unknown, table: string): z.output<T> {
  const r = schema.safeParse(row);
  if (!r.success) throw refused('STORAGE_UNAVAILABLE', `corrupt row in ${table}`);
  return r.data;
}

function dbOf(runner: CeremonyRunner): Statements {
  const db = (runner.store as { db?: Database.Database }).db;
  if (db === undefined) throw refused('STORAGE_UNAVAILABLE', 'governance needs the SQLite store');
  return statementsOf(db);
}

function latestRow(db: Statements, group: string): PolicyRowT | undefined {
  const row = db
    .prepare('SELECT * FROM policies WHERE grp = ? ORDER BY version DESC LIMIT 1')
    .get(group);
  return row === undefined ? undefined : parse(PolicyRow, row, 'policies');
}

function versionRow(db: Statements, group: string, version: number): PolicyRowT | undefined {
  const row = db
    .prepare('SELECT * FROM policies WHERE grp = ? AND version = ?')
    .get(group, version);
  return row === undefined ? undefined : parse(PolicyRow, row, 'policies');
}

function event(
  db: Statements,
  group: string,
  kind: string,
  ceremonyId: string | null,
  detail: Record<string, unknown>,
  at: number,
): void {
  db.prepare(
    'INSERT INTO governance_events (grp, kind, ceremony_id, detail, at) VALUES (?, ?, ?, ?, ?)',
  ).run(group, kind, ceremonyId, JSON.stringify(detail), at);
}

export function governanceEvents(runner: CeremonyRunner, group?: string): GovernanceEvent[] {
  const db = dbOf(runner);
  const rows =
    group === undefined
      ? db.prepare('SELECT * FROM governance_events ORDER BY idx').all()
      : db.prepare('SELECT * FROM governance_events WHERE grp = ? ORDER BY idx').all(group);
  return rows.map((r) => parse(EventRow, r, 'governance_events'));
}

export function ceremonyPolicy(runner: CeremonyRunner, id: string): CeremonyPolicy | undefined {
  const row = dbOf(runner).prepare('SELECT * FROM ceremony_policies WHERE ceremony_id = ?').get(id);
  return row === undefined ? undefined : parse(CeremonyPolicyRow, row, 'ceremony_policies');
}

/** The policy id a ceremony's statement names (`default` for ceremonies from before policies). */
export function policyIdFor(runner: CeremonyRunner, ceremonyId: string): string {
  return ceremonyPolicy(runner, ceremonyId)?.policy_id ?? 'default';
}

// ---------------------------------------------------------------------------------------------
// The current policy, verified

export interface CurrentPolicy {
  readonly version: number;
  readonly policyId: string;
  readonly document: PolicyDocument;
  /** The stored row (absent for version 0). */
  readonly row?: PolicyRowT;
}

function verifyRow(row: PolicyRowT, group: GroupRecord): string | null {
  if (group.groupPublicKey === null) return 'the group has no key';
  const v = verifyPolicyStatement({
    group: group.name,
    version: row.version,
    document: row.document,
    statement: row.statement,
    signature: row.signature,
    groupPublicKey: group.groupPublicKey,
  });
  if (!v.ok) return v.reason;
  if (policyDigest(row.document) !== row.digest) return 'the stored digest is not the document’s';
  return null;
}

/**
 * The policy in force for `group`: its newest version whose quorum signature verifies under the
 * group key, or the default. A newest row that does not verify stops the group (POLICY_UNVERIFIED):
 * falling back to an older version would let an edited row roll the policy back.
 */
export function currentPolicy(runner: CeremonyRunner, group: GroupRecord): CurrentPolicy {
  const row = latestRow(dbOf(runner), group.name);
  if (row === undefined) {
    return { version: 0, policyId: policyIdOf(group.name, 0), document: defaultPolicy(group.name) };
  }
  const problem = verifyRow(row, group);
  if (problem !== null) {
    runner.deps.logger.error('stored policy fails verification', {
      group: group.name,
      version: row.version,
    });
    throw refused(
      'POLICY_UNVERIFIED',
      `the stored policy ${policyIdOf(group.name, row.version)} of ${group.name} does not carry a valid quorum signature (${problem}): the coordinator database was altered; nothing is signed for this group until an operator restores it`,
    );
  }
  return {
    version: row.version,
    policyId: policyIdOf(group.name, row.version),
    document: row.document,
    row,
  };
}

// ---------------------------------------------------------------------------------------------
// Request-time enforcement

export interface RequestPolicy {
  readonly policy: CurrentPolicy;
  readonly rule: ResolvedRule;
  /** Member → roles, for the signing machine's group input. */
  readonly roles: Record<string, string[]>;
}

function policyRefusal(runner: CeremonyRunner, code: ErrorCode, message: string): Error {
  recordPolicyRejection(runner.deps.metrics, code);
  return refused(code, message);
}

const list = (xs: readonly string[]): string => xs.join(', ');

function rolesOfGroup(runner: CeremonyRunner, group: GroupRecord): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const { member } of group.members) {
    const m = runner.store.getMember(member);
    if (m !== undefined && m.roles.length > 0) out[member] = [...m.roles];
  }
  return out;
}

const activeMembers = (runner: CeremonyRunner, group: GroupRecord): string[] =>
  group.members
    .map((m) => m.member)
    .filter((m) => {
      const r = runner.store.getMember(m);
      return r !== undefined && r.revokedAt === null;
    });

/** Can the quorum and every required role still be met by the group's members in good standing? */
function checkReachable(
  runner: CeremonyRunner,
  group: GroupRecord,
  rule: ResolvedRule,
  policyId: string,
  roles: Record<string, string[]>,
): void {
  const active = activeMembers(runner, group);
  if (active.length < rule.quorum) {
    throw policyRefusal(
      runner,
      'POLICY_QUORUM_NOT_MET',
      `${policyId} needs ${rule.quorum} approvals for ${rule.class} requests, but ${group.name} has only ${active.length} members in good standing: add members (group reshare) or lower the quorum (conclave policy set)`,
    );
  }
  for (const r of rule.requiredRoles) {
    const holders = active.filter((m) => roles[m]?.includes(r.role) === true);
    if (holders.length < r.count) {
      throw policyRefusal(
        runner,
        'POLICY_ROLE_MISSING',
        `${policyId} needs ${r.count} \`${r.role}\` approver(s) for ${rule.class} requests, but only ${holders.length} member(s) of ${group.name} hold that role: register one (conclave member add NAME --roles ${r.role}) or change the policy`,
      );
    }
  }
}

/** Refuses a request the policy does not allow, with the code and the fix; returns what applies. */
export function checkRequest(
  runner: CeremonyRunner,
  group: GroupRecord,
  requester: string,
  ceremonyId: string,
  release: Release,
): RequestPolicy {
  const policy = currentPolicy(runner, group);
  const rule = ruleFor(policy.document, release.class, group.threshold, runner.deps.limits);
  const roles = rolesOfGroup(runner, group);
  const { policyId } = policy;
  const now = runner.now();

  const allowed = rule.requesters;
  if (allowed !== undefined) {
    const mine = roles[requester] ?? [];
    const ok =
      (allowed.members ?? []).includes(requester) ||
      (allowed.roles ?? []).some((r) => mine.includes(r));
    if (!ok) {
      const who = [
        ...(allowed.members ?? []),
        ...(allowed.roles ?? []).map((r) => `holders of role \`${r}\``),
      ];
      throw policyRefusal(
        runner,
        'POLICY_REQUESTER_NOT_ALLOWED',
        `${policyId} lets only ${who.length > 0 ? list(who) : 'nobody'} request ${release.class} releases of ${group.name}; ask one of them to request it, or change the policy (conclave policy set)`,
      );
    }
  }

  if (
    rule.artifacts !== undefined &&
    release.class !== 'policy' &&
    release.class !== 'revocation'
  ) {
    const patterns = rule.artifacts;
    const outside = release.artifacts.find((a) => !patterns.some((p) => globMatch(p, a.name)));
    if (outside !== undefined) {
      throw policyRefusal(
        runner,
        'POLICY_ARTIFACT_NOT_ALLOWED',
        `artifact ${outside.name} matches none of the names ${policyId} allows for ${release.class} releases (${list(patterns)}): rename it, or change the policy`,
      );
    }
  }

  if (release.validUntil !== undefined && release.validUntil <= now) {
    throw refused('INVALID_MESSAGE', 'validUntil is in the past');
  }
  if (rule.maxValidityMs !== undefined) {
    const days = Math.floor(rule.maxValidityMs / 86_400_000);
    const max = `${rule.maxValidityMs / 1000} s${days > 0 ? ` (${days} days)` : ''}`;
    if (release.validUntil === undefined || release.validUntil > now + rule.maxValidityMs) {
      throw policyRefusal(
        runner,
        'POLICY_VALIDITY_EXCEEDED',
        `${policyId} limits ${release.class} statements to ${max} of validity: request again with --valid-for no longer than that`,
      );
    }
  }

  const classOnly = (field: keyof Release, classes: readonly string[]): void => {
    if (release[field] !== undefined && !classes.includes(release.class)) {
      throw refused('INVALID_MESSAGE', `${field} is not allowed in a ${release.class} request`);
    }
  };
  classOnly('incident', ['hotfix', 'standard']);
  classOnly('ratifies', ['standard']);
  classOnly('policy', ['policy']);
  classOnly('revokes', ['revocation']);

  switch (release.class) {
    case 'hotfix':
      if (policy.document.hotfix?.requireIncident === true && release.incident === undefined) {
        throw policyRefusal(
          runner,
          'POLICY_INCIDENT_REQUIRED',
          `${policyId} requires an incident id on hotfixes: request again with --incident ID`,
        );
      }
      break;
    case 'standard':
      if (release.ratifies !== undefined) checkRatifies(runner, group, release.ratifies);
      break;
    case 'policy':
      checkPolicyChange(runner, group, policy, release, ceremonyId);
      break;
    case 'revocation':
      checkRevocationRequest(runner, group, release);
      break;
  }
  checkReachable(runner, group, rule, policyId, roles);
  return { policy, rule, roles };
}

function onlyDsse(release: Release, what: string): void {
  if (release.formats.length !== 1 || release.formats[0] !== 'dsse') {
    throw refused(
      'INVALID_MESSAGE',
      `a ${what} is signed as a statement only: formats must be [dsse]`,
    );
  }
}

function singleDocument(release: Release, name: string, document: unknown, what: string): void {
  const expected = documentArtifact(name, document);
  const a = release.artifacts;
  if (
    a.length !== 1 ||
    a[0]!.sha256 !== expected.sha256 ||
    a[0]!.sha512 !== expected.sha512 ||
    a[0]!.blake2b512 !== expected.blake2b512
  ) {
    throw refused(
      'INVALID_MESSAGE',
      `a ${what} request has one artifact: the canonical JSON of the ${what} document (its digests)`,
    );
  }
}

/** The artifact name a policy request carries for version `version`. */
export const policyArtifactName = (group: string, version: number): string =>
  `policy-${group}-v${version}.json`;

/** A proposed policy document's own rules against the group (POLICY_INVALID otherwise). */
export function validatePolicyDocument(
  runner: CeremonyRunner,
  group: GroupRecord,
  doc: PolicyDocument,
  expectedVersion: number,
): void {
  const bad = (why: string): never => {
    throw policyRefusal(runner, 'POLICY_INVALID', `the proposed policy is refused: ${why}`);
  };
  if (doc.group !== group.name) bad(`it is for group ${doc.group}, not ${group.name}`);
  if (doc.version !== expectedVersion) {
    bad(`its version is ${doc.version}; the next version of ${group.name} is ${expectedVersion}`);
  }
  const n = group.members.length;
  const members = new Set(group.members.map((m) => m.member));
  const roles = rolesOfGroup(runner, group);
  for (const [cls, r] of Object.entries(doc.classes)) {
    if (r === undefined) continue;
    if (r.quorum !== undefined && r.quorum < group.threshold) {
      bad(
        `${cls}: quorum ${r.quorum} is below the key's threshold ${group.threshold} (a quorum can only be raised)`,
      );
    }
    if (r.quorum !== undefined && r.quorum > n)
      bad(`${cls}: quorum ${r.quorum} exceeds the ${n} members`);
    for (const rr of r.requiredRoles ?? []) {
      const holders = [...members].filter((m) => roles[m]?.includes(rr.role) === true).length;
      if (holders < rr.count) {
        bad(
          `${cls}: ${rr.count} \`${rr.role}\` approver(s) required but ${holders} member(s) hold the role`,
        );
      }
    }
    for (const m of r.requesters?.members ?? []) {
      if (!members.has(m)) bad(`${cls}: requester ${m} is not a member of ${group.name}`);
    }
    for (const role of r.requesters?.roles ?? []) {
      if (![...members].some((m) => roles[m]?.includes(role) === true))
        bad(`${cls}: requester role \`${role}\` is held by no member of ${group.name}`);
    }
  }
  // Under a policy nobody may change, the group is stuck with it: roles are fixed when a member is
  // added, so only the admin adding a member and a reshare could get it out. A current (not
  // revoked) member must be able to request the next policy change.
  const changers = classRuleOf(doc, 'policy').requesters;
  if (changers !== undefined) {
    const can = [...members].filter(
      (m) =>
        runner.store.getMember(m)?.revokedAt === null &&
        ((changers.members ?? []).includes(m) ||
          (changers.roles ?? []).some((role) => roles[m]?.includes(role) === true)),
    );
    if (can.length === 0)
      bad(
        "no current member could request a later policy change (the policy class's requesters, or standard's when it has no rule of its own): the group would be locked into this policy",
      );
  }
}

function checkPolicyChange(
  runner: CeremonyRunner,
  group: GroupRecord,
  current: CurrentPolicy,
  release: Release,
  ceremonyId: string,
): void {
  const doc = release.policy;
  if (doc === undefined)
    throw refused('INVALID_MESSAGE', 'a policy request carries the new policy document');
  onlyDsse(release, 'policy');
  validatePolicyDocument(runner, group, doc, current.version + 1);
  singleDocument(release, policyArtifactName(group.name, doc.version), doc, 'policy');
  const open = dbOf(runner)
    .prepare(
      `SELECT p.ceremony_id FROM ceremony_policies p JOIN ceremonies c ON c.id = p.ceremony_id
       WHERE p.grp = ? AND p.class = 'policy' AND c.open = 1 AND p.ceremony_id <> ?`,
    )
    .get(group.name, ceremonyId) as { ceremony_id: string } | undefined;
  if (open !== undefined) {
    throw refused(
      'GROUP_BUSY',
      `policy change ${open.ceremony_id} of ${group.name} is still open: one policy change at a time`,
    );
  }
}

/** The revoked release's signed statement and record, checked against the request. */
function checkRevocationRequest(
  runner: CeremonyRunner,
  group: GroupRecord,
  release: Release,
): void {
  const r = release.revokes;
  if (r === undefined)
    throw refused('INVALID_MESSAGE', 'a revocation request names the revoked release');
  onlyDsse(release, 'revocation');
  singleDocument(release, `revocation-${r.ceremonyId}.json`, r, 'revocation');
  const bad = (why: string): never => {
    throw refused('REVOCATION_INVALID', `cannot revoke ${r.ceremonyId}: ${why}`);
  };
  const record = runner.store.getCeremony(r.ceremonyId);
  if (record === undefined || record.kind !== 'sign' || record.group !== group.name) {
    bad(`no signing ceremony of ${group.name} has that id`);
  }
  const signature = runner.store.getSignature(r.ceremonyId);
  if (signature === undefined) bad('it has no signature (only signed releases are revoked)');
  const cls = ceremonyPolicy(runner, r.ceremonyId)?.class ?? 'standard';
  if (cls !== 'standard' && cls !== 'hotfix') bad(`it is a ${cls} record, not a release`);
  const sig = signature as SignatureRecord;
  if (sig.statementDigest !== r.statementDigest) bad('the statement digest is not the signed one');
  const predicate = sig.statement['predicate'] as { version?: unknown } | undefined;
  if (predicate?.version !== r.version) bad('the version is not the signed one');
  const subject = (sig.statement['subject'] ?? []) as {
    name: string;
    digest: { sha256: string; sha512: string };
  }[];
  const same =
    subject.length === r.artifacts.length &&
    subject.every((s, i) => {
      const a = r.artifacts[i];
      return (
        a !== undefined &&
        a.name === s.name &&
        a.sha256 === s.digest.sha256 &&
        a.sha512 === s.digest.sha512
      );
    });
  if (!same) bad('the artifacts are not the signed statement’s subjects');
  const already = dbOf(runner)
    .prepare('SELECT ceremony_id FROM revocations WHERE grp = ? AND revoked_ceremony = ?')
    .get(group.name, r.ceremonyId) as { ceremony_id: string } | undefined;
  if (already !== undefined) bad(`it was already revoked by ${already.ceremony_id}`);
}

function checkRatifies(runner: CeremonyRunner, group: GroupRecord, hotfixId: string): void {
  const row = dbOf(runner).prepare('SELECT * FROM hotfixes WHERE ceremony_id = ?').get(hotfixId);
  if (row === undefined) {
    throw refused(
      'RATIFICATION_INVALID',
      `${hotfixId} is not a signed hotfix: --ratifies names the ceremony id of a completed hotfix (conclave status lists them)`,
    );
  }
  const h = parse(HotfixRow, row, 'hotfixes');
  if (h.grp !== group.name)
    throw refused('RATIFICATION_INVALID', `${hotfixId} is a hotfix of ${h.grp}`);
  if (h.ratified_by !== null) {
    throw refused('RATIFICATION_INVALID', `${hotfixId} was already ratified by ${h.ratified_by}`);
  }
}

/** The signing machine's input parts the policy decides. */
export function machinePolicy(p: RequestPolicy): {
  readonly policy: { quorum: number; requiredRoles: { role: string; count: number }[] };
  readonly roles: Record<string, string[]>;
} {
  return {
    policy: { quorum: p.rule.quorum, requiredRoles: p.rule.requiredRoles.map((r) => ({ ...r })) },
    roles: p.roles,
  };
}

/** Records the policy a new ceremony runs under (in the transaction that creates it). */
export function recordCeremonyPolicy(
  runner: CeremonyRunner,
  ceremonyId: string,
  group: string,
  p: RequestPolicy,
  release: Release,
): void {
  dbOf(runner)
    .prepare(
      `INSERT INTO ceremony_policies
         (ceremony_id, grp, policy_version, policy_id, class, incident, ratifies, revokes, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      ceremonyId,
      group,
      p.policy.version,
      p.policy.policyId,
      release.class,
      release.incident ?? null,
      release.ratifies ?? null,
      release.revokes?.ceremonyId ?? null,
      runner.now(),
    );
}

// ---------------------------------------------------------------------------------------------
// Completion: called inside the transaction that stores `sign.complete` (idempotent)

/** Stores what a signed governance ceremony decided: a policy version, a hotfix, a ratification, a revocation. */
export function recordSigned(runner: CeremonyRunner, live: Live): void {
  const cp = ceremonyPolicy(runner, live.id);
  const sig = runner.store.getSignature(live.id);
  const group = runner.store.getGroup(live.group);
  if (cp === undefined || sig === undefined || group === undefined) return;
  const db = dbOf(runner);
  const at = runner.now();
  const release = live.request?.body.release;
  if (release === undefined) return;
  switch (cp.class) {
    case 'policy': {
      const doc = release.policy;
      if (doc === undefined || group.groupPublicKey === null) return;
      if (versionRow(db, group.name, doc.version) !== undefined) return;
      const latest = latestRow(db, group.name)?.version ?? 0;
      if (doc.version !== latest + 1) {
        event(db, group.name, 'policy.stale', live.id, { version: doc.version, latest }, at);
        return;
      }
      db.prepare(
        `INSERT INTO policies (grp, version, document, digest, ceremony_id, group_public_key, statement, signature, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        group.name,
        doc.version,
        canonicalJson(doc),
        policyDigest(doc),
        live.id,
        group.groupPublicKey,
        JSON.stringify(sig.statement),
        sig.signature,
        at,
      );
      event(
        db,
        group.name,
        'policy.set',
        live.id,
        { version: doc.version, signedUnder: cp.policy_id },
        at,
      );
      supersedeOpenCeremonies(runner, group.name, doc.version, live.id, at);
      return;
    }
    case 'hotfix': {
      const doc = policyVersionDocument(runner, group.name, cp.policy_version);
      // The rule auditors re-derive from the log (@conclave/audit hotfixDeadlines).
      const ratifyBy = hotfixRatifyBy(sig.at, doc);
      const inserted = db
        .prepare(
          `INSERT OR IGNORE INTO hotfixes (ceremony_id, grp, incident, signed_at, ratify_by)
           VALUES (?, ?, ?, ?, ?)`,
        )
        .run(live.id, group.name, cp.incident ?? '', sig.at, ratifyBy);
      if (inserted.changes > 0) {
        event(db, group.name, 'hotfix.signed', live.id, { incident: cp.incident, ratifyBy }, at);
      }
      governance(runner).rearm();
      return;
    }
    case 'standard': {
      if (cp.ratifies === null) return;
      const row = db.prepare('SELECT * FROM hotfixes WHERE ceremony_id = ?').get(cp.ratifies);
      if (row === undefined) return;
      const h = parse(HotfixRow, row, 'hotfixes');
      if (h.ratified_by !== null) return;
      db.prepare('UPDATE hotfixes SET ratified_by = ?, ratified_at = ? WHERE ceremony_id = ?').run(
        live.id,
        sig.at,
        h.ceremony_id,
      );
      event(
        db,
        group.name,
        'hotfix.ratified',
        h.ceremony_id,
        { ratifiedBy: live.id, late: sig.at > h.ratify_by },
        at,
      );
      return;
    }
    case 'revocation': {
      const r = release.revokes;
      if (r === undefined) return;
      const inserted = db
        .prepare(
          `INSERT OR IGNORE INTO revocations (ceremony_id, grp, revoked_ceremony, statement_digest, at)
           VALUES (?, ?, ?, ?, ?)`,
        )
        .run(live.id, group.name, r.ceremonyId, r.statementDigest, sig.at);
      if (inserted.changes > 0) {
        event(
          db,
          group.name,
          'release.revoked',
          live.id,
          { revoked: r.ceremonyId, reason: r.reason },
          at,
        );
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A new policy version cancels the signing ceremonies still open under an older one

/** Who cancels a superseded ceremony (`ceremony.cancel.by`). */
export const SUPERSEDED_BY = 'coordinator';
const SUPERSEDED_EVENT = 'ceremony.superseded';

const SupersededDetail = z.object({ policyId: z.string(), ceremonyId: z.string() });

/**
 * Cancels every open signing ceremony of `group` that runs under a version older than `version`
 * (ceremonies from before policies run under v0), inside the caller's transaction — the one that
 * stores the new version. Each becomes `cancelled` with a `ceremony.superseded` governance event;
 * once that transaction has committed, the runner performs its `close` effect as for any other
 * cancellation: `sign.aborted` with POLICY_SUPERSEDED to every member, in the transcript.
 *
 * The new snapshot is built on a copy of the actor, so a rolled-back transaction leaves the live
 * ceremony exactly as it was.
 */
function supersedeOpenCeremonies(
  runner: CeremonyRunner,
  group: string,
  version: number,
  setBy: string,
  at: number,
): void {
  const db = dbOf(runner);
  const policyId = policyIdOf(group, version);
  const stale = db
    .prepare(
      `SELECT c.id AS id, COALESCE(p.policy_version, 0) AS version
       FROM ceremonies c LEFT JOIN ceremony_policies p ON p.ceremony_id = c.id
       WHERE c.grp = ? AND c.kind = 'sign' AND c.open = 1 AND c.id <> ?
         AND COALESCE(p.policy_version, 0) < ?
       ORDER BY c.created_at`,
    )
    .all(group, setBy, version) as { id: string; version: number }[];
  const done: { live: Live; next: Actor<AnyStateMachine>; json: string }[] = [];
  for (const { id, version: was } of stale) {
    const live = runner.live.get(id) ?? runner.get(id);
    if (live === undefined || live.kind !== 'sign') continue;
    const snapshot = signingSnapshot(live);
    if (snapshot.status !== 'active') continue; // already closed, only its outbox is left
    const cancel = {
      type: 'ceremony.cancel',
      by: SUPERSEDED_BY,
      reason: `policy ${policyId} (set by ${setBy}) replaced ${policyIdOf(group, was)} while this request was open; request again under ${policyId}`,
      at,
    };
    if (!checkEvent(snapshot as unknown as AnyCeremonySnapshot, cancel).ok) continue;
    const next = restore(signingMachine as AnyStateMachine, persist(live.actor));
    next.send(cancel as never);
    const after = next.getSnapshot() as unknown as AnyCeremonySnapshot;
    if ((after.status as string) === 'error') {
      next.stop();
      continue;
    }
    const json = persist(next);
    runner.store.updateCeremony(id, {
      snapshot: json,
      state: stateName(after),
      open: after.status === 'active' || after.context.outbox.length > 0,
      updatedAt: at,
      deadline: nextDeadline(after),
    });
    event(db, group, SUPERSEDED_EVENT, id, { policyId, ceremonyId: setBy, was }, at);
    runner.deps.logger.info('open ceremony cancelled: its policy was superseded', {
      ceremony: id,
      policy: policyId,
    });
    done.push({ live, next, json });
  }
  if (done.length === 0) return;
  // After the caller's transaction: the synchronous effect runner finishes first, and no socket
  // message or timer runs before a microtask.
  queueMicrotask(() => {
    for (const { live, next, json } of done) {
      if (runner.store.getCeremony(live.id)?.snapshot !== json) {
        next.stop(); // rolled back: the live actor is still the stored one
        continue;
      }
      live.actor.stop();
      live.actor = next;
      try {
        runner.afterTransition(live, []);
      } catch {
        runner.deps.logger.error('superseded ceremony could not be closed', { ceremony: live.id });
      }
    }
  });
}

/** Why a superseded ceremony ended (for its status), or undefined. */
function supersededOf(
  runner: CeremonyRunner,
  ceremonyId: string,
): { code: 'POLICY_SUPERSEDED'; by: string; ceremonyId: string } | undefined {
  const row = dbOf(runner)
    .prepare(
      'SELECT * FROM governance_events WHERE ceremony_id = ? AND kind = ? ORDER BY idx LIMIT 1',
    )
    .get(ceremonyId, SUPERSEDED_EVENT);
  if (row === undefined) return undefined;
  const detail = SupersededDetail.safeParse(
    JSON.parse(parse(EventRow, row, 'governance_events').detail),
  );
  if (!detail.success) return undefined;
  return {
    code: 'POLICY_SUPERSEDED',
    by: detail.data.policyId,
    ceremonyId: detail.data.ceremonyId,
  };
}

/**
 * The `sign.aborted` of a ceremony cancelled because its policy was superseded (POLICY_SUPERSEDED,
 * with what replaced it); null for every other ending.
 */
export function supersededAborted(
  runner: CeremonyRunner,
  ceremonyId: string,
  outcome: SigningOutcome,
): SignAborted | null {
  if (outcome.status !== 'cancelled' || outcome.by !== SUPERSEDED_BY) return null;
  let s: ReturnType<typeof supersededOf>;
  try {
    s = supersededOf(runner, ceremonyId);
  } catch {
    return null;
  }
  if (s === undefined) return null;
  return {
    type: 'sign.aborted',
    reason: 'cancelled',
    code: 'POLICY_SUPERSEDED',
    message: outcome.reason.slice(0, 512),
    culprits: [],
  };
}

function policyVersionDocument(
  runner: CeremonyRunner,
  group: string,
  version: number,
): PolicyDocument {
  if (version === 0) return defaultPolicy(group);
  return versionRow(dbOf(runner), group, version)?.document ?? defaultPolicy(group);
}

// ---------------------------------------------------------------------------------------------
// Hotfix ratification windows: flagged when they pass (a record and an event), on a timer armed at
// the earliest open window, and on every read.

class Governance {
  readonly #runner: CeremonyRunner;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Consecutive failed timer sweeps (for the retry backoff). */
  #failures = 0;

  constructor(runner: CeremonyRunner) {
    this.#runner = runner;
  }

  /** Flags every unratified hotfix whose window has passed; returns how many were flagged now. */
  sweep(): number {
    const db = dbOf(this.#runner);
    const now = this.#runner.now();
    return this.#runner.store.transaction(() => {
      const due = db
        .prepare(
          'SELECT * FROM hotfixes WHERE ratified_at IS NULL AND flagged_at IS NULL AND ratify_by <= ?',
        )
        .all(now)
        .map((r) => parse(HotfixRow, r, 'hotfixes'));
      for (const h of due) {
        db.prepare('UPDATE hotfixes SET flagged_at = ? WHERE ceremony_id = ?').run(
          now,
          h.ceremony_id,
        );
        event(
          db,
          h.grp,
          'hotfix.overdue',
          h.ceremony_id,
          { incident: h.incident, ratifyBy: h.ratify_by },
          now,
        );
        // The flag enters the transparency log in this transaction (docs/audit.md).
        logHotfixOverdue(this.#runner.store, h.ceremony_id);
        this.#runner.deps.logger.warn('hotfix not ratified within its window', {
          ceremony: h.ceremony_id,
          group: h.grp,
        });
      }
      return due.length;
    });
  }

  /** Arms one timer at the earliest open ratification window. */
  rearm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#stopped) return;
    const next = dbOf(this.#runner)
      .prepare(
        'SELECT MIN(ratify_by) AS due FROM hotfixes WHERE ratified_at IS NULL AND flagged_at IS NULL',
      )
      .get() as { due: number | null } | undefined;
    if (next?.due === null || next?.due === undefined) return;
    // After a failed sweep (storage error), wait before retrying: 1 s, doubling, at most 5 min,
    // instead of spinning on a window that is already due.
    const backoff = this.#failures === 0 ? 0 : Math.min(1000 * 2 ** (this.#failures - 1), 300_000);
    const delay = Math.min(Math.max(backoff, next.due - this.#runner.now()), 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      try {
        this.sweep();
        this.#failures = 0;
      } catch {
        this.#failures += 1;
        this.#runner.deps.logger.error('hotfix sweep failed; retrying later', {
          attempt: this.#failures,
        });
      }
      this.rearm();
    }, delay);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

const instances = new WeakMap<CeremonyRunner, Governance>();

function governance(runner: CeremonyRunner): Governance {
  let g = instances.get(runner);
  if (g === undefined) {
    g = new Governance(runner);
    instances.set(runner, g);
  }
  return g;
}

/** Starts the ratification-window timer (at coordinator start); returns its stop function. */
export function startGovernance(runner: CeremonyRunner): () => void {
  const g = governance(runner);
  try {
    g.sweep();
  } catch {
    runner.deps.logger.error('hotfix sweep failed');
  }
  g.rearm();
  return () => g.stop();
}

/** Flags overdue hotfixes now (tests, reads). */
export function sweepHotfixes(runner: CeremonyRunner): number {
  return governance(runner).sweep();
}

// ---------------------------------------------------------------------------------------------
// Queries

function readableGroup(runner: CeremonyRunner, member: string, name: string): GroupRecord {
  const group = runner.store.getGroup(name);
  if (
    group === undefined ||
    (member !== ADMIN_ID && !group.members.some((m) => m.member === member))
  ) {
    throw refused('FORBIDDEN', 'not a member of that group');
  }
  return group;
}

/** `policy.get`: the stored (or default) policy with its signature, as stored: members verify it. */
export function policyInfo(
  runner: CeremonyRunner,
  member: string,
  name: string,
  version?: number,
): PolicyInfo {
  const group = readableGroup(runner, member, name);
  const db = dbOf(runner);
  const latest = latestRow(db, name)?.version ?? 0;
  const v = version ?? latest;
  const base = { type: 'policy.info' as const, group: name, latest, threshold: group.threshold };
  if (v === 0) {
    return { ...base, version: 0, policyId: policyIdOf(name, 0), document: defaultPolicy(name) };
  }
  const row = versionRow(db, name, v);
  if (row === undefined) throw refused('CEREMONY_NOT_FOUND', `${name} has no policy version ${v}`);
  return {
    ...base,
    version: v,
    policyId: policyIdOf(name, v),
    document: row.document,
    signed: {
      ceremonyId: row.ceremony_id,
      groupPublicKey: row.group_public_key,
      statement: row.statement,
      signature: row.signature,
      signedAt: row.at,
    },
  };
}

const hotfixOf = (h: z.output<typeof HotfixRow>, version: string): Hotfix => ({
  ceremonyId: h.ceremony_id,
  group: h.grp,
  version,
  ...(h.incident === '' ? {} : { incident: h.incident }),
  signedAt: h.signed_at,
  ratifyBy: h.ratify_by,
  state: h.ratified_at !== null ? 'ratified' : h.flagged_at !== null ? 'overdue' : 'unratified',
  ...(h.ratified_by === null ? {} : { ratifiedBy: h.ratified_by }),
  ...(h.ratified_at === null ? {} : { ratifiedAt: h.ratified_at }),
  ...(h.flagged_at === null ? {} : { flaggedAt: h.flagged_at }),
});

/** `hotfix.list.get`: unratified (overdue first) then ratified, newest first, ≤ 100. */
export function hotfixList(runner: CeremonyRunner, member: string, group?: string): Hotfix[] {
  sweepHotfixes(runner);
  const groups =
    group !== undefined
      ? [readableGroup(runner, member, group).name]
      : runner.store
          .listGroups()
          .filter((g) => member === ADMIN_ID || g.members.some((m) => m.member === member))
          .map((g) => g.name);
  if (groups.length === 0) return [];
  const rows = dbOf(runner)
    .prepare(
      `SELECT * FROM hotfixes WHERE grp IN (${groups.map(() => '?').join(',')})
       ORDER BY (ratified_at IS NOT NULL), (flagged_at IS NULL), signed_at DESC LIMIT 100`,
    )
    .all(...groups)
    .map((r) => parse(HotfixRow, r, 'hotfixes'));
  return rows.map((h) => {
    const release = runner.store.firstTranscriptEntry(h.ceremony_id)?.envelope.body;
    return hotfixOf(h, release?.type === 'sign.request' ? release.release.version : '');
  });
}

/** Counts for /metrics: hotfixes not ratified, and those past their window. */
export function hotfixCounts(db: Statements): { unratified: number; overdue: number } {
  const row = db
    .prepare(
      `SELECT COUNT(*) AS unratified, COALESCE(SUM(flagged_at IS NOT NULL), 0) AS overdue
       FROM hotfixes WHERE ratified_at IS NULL`,
    )
    .get() as { unratified: number; overdue: number };
  return row;
}

const PAGE = 16;

/** `revocations.get`: a page of the group's signed revocations, oldest first. */
export function revocationPage(
  runner: CeremonyRunner,
  member: string,
  name: string,
  offset = 0,
): Revocations {
  readableGroup(runner, member, name);
  const rows = dbOf(runner)
    .prepare('SELECT * FROM revocations WHERE grp = ? ORDER BY at, ceremony_id LIMIT ? OFFSET ?')
    .all(name, PAGE + 1, offset)
    .map((r) => parse(RevocationRow, r, 'revocations'));
  const entries: RevocationEntry[] = [];
  for (const r of rows.slice(0, PAGE)) {
    const sig = runner.store.getSignature(r.ceremony_id);
    if (sig === undefined) continue;
    const predicate = sig.statement['predicate'] as { groupPublicKey?: unknown } | undefined;
    entries.push({
      ceremonyId: r.ceremony_id,
      revokedCeremony: r.revoked_ceremony,
      groupPublicKey: typeof predicate?.groupPublicKey === 'string' ? predicate.groupPublicKey : '',
      statement: sig.statement,
      signature: sig.signature,
      at: r.at,
    });
  }
  return {
    type: 'revocations',
    group: name,
    offset,
    entries,
    ...(rows.length > PAGE ? { next: offset + PAGE } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Status

/** The policy progress of a signing ceremony for `ceremony.status` (none for old ceremonies). */
export function policyProgress(
  runner: CeremonyRunner,
  live: Live,
  c: SigningContext,
): { policy: PolicyProgress } | Record<string, never> {
  let cp: CeremonyPolicy | undefined;
  try {
    cp = ceremonyPolicy(runner, live.id);
  } catch {
    return {};
  }
  if (cp === undefined) return {};
  const gap = policyGap(c);
  const superseded =
    c.outcome?.status === 'cancelled' && c.outcome.by === SUPERSEDED_BY
      ? supersededOf(runner, live.id)
      : undefined;
  return {
    policy: {
      id: cp.policy_id,
      latest: latestRow(dbOf(runner), live.group)?.version ?? 0,
      quorum: policyQuorum(c),
      requiredRoles: (c.policy?.requiredRoles ?? []).map((r) => ({ ...r })),
      missingApprovals: gap.missingApprovals,
      missingRoles: gap.missingRoles.map((r) => ({ ...r })),
      ...(superseded === undefined ? {} : { superseded }),
    },
  };
}

/** A person's sentence for what a policy gap waits for. */
export function describeGap(gap: {
  missingApprovals: number;
  missingRoles: readonly { role: string; count: number }[];
}): string {
  const parts: string[] = [];
  if (gap.missingApprovals > 0) {
    parts.push(`${gap.missingApprovals} more approval${gap.missingApprovals === 1 ? '' : 's'}`);
  }
  for (const r of gap.missingRoles) {
    parts.push(
      r.count === 1 ? `a \`${r.role}\` approver` : `${r.count} more \`${r.role}\` approvers`,
    );
  }
  return parts.join(' and ');
}
