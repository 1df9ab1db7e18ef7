// Hotfix deadlines from the log alone (docs/audit.md "A flag that never came"): for every completed
// hotfix signing ceremony, the auditor re-derives when it had to be ratified — the same rule the
// coordinator uses (`hotfixRatifyBy` in @conclave/protocol: completion + the ratification window of
// the policy version it ran under) — and checks that the coordinator flagged it (a `governance`
// leaf) before it appended anything dated past that deadline plus a grace. A coordinator that never
// flags, or flags only after it went on logging other ceremonies, contradicts its own signed log.
//
// What is provable, and what is not:
// - Every time used here is the coordinator's own (leaf `at`, transcript entry times), bound by the
//   leaves' digests under signed checkpoints. A finding is therefore "the coordinator's signed log
//   says it was running past the deadline and had not flagged": its own record against its rule.
// - The coordinator sets `ratify_by` from its signature time, which precedes the `sign.complete`
//   entry the auditor sees; the auditor's deadline is therefore never earlier than the coordinator's
//   (a restart between aggregation and `sign.complete` only makes the auditor more lenient).
// - The coordinator flags from a timer armed at the deadline, on every read, and at start before
//   any resumed ceremony can append a leaf. The grace covers timer latency and a few failed sweeps
//   (their backoff); only leaves of other kinds than `governance` count as evidence it was running
//   (one sweep flags several hotfixes in one transaction, one leaf after the other).
// - A coordinator that appends nothing after the deadline (down, or refusing service) is not
//   caught here: that is visible as a log that stops growing, not as a broken rule.
import {
  MAX_RATIFICATION_WINDOW_SECONDS,
  PolicyDocumentSchema,
  defaultPolicy,
  hotfixRatifyBy,
  parsePolicyId,
  ratificationWindowMsOf,
  type PolicyDocument,
} from '@conclave/protocol';
import type { OverdueHotfix } from './governance.js';
import type { LogLeaf, TranscriptEntry } from './leaf.js';

/**
 * How long after a hotfix's deadline the coordinator may still be about to flag it while it
 * appends other leaves: its sweep timer fires at the deadline, and a failed sweep retries with a
 * backoff of at most 5 minutes (apps/coordinator/src/policy.ts). 5 minutes.
 */
export const GOVERNANCE_FLAG_GRACE_MS = 5 * 60_000;

/**
 * - `flagged`: a governance leaf flags it before any evidence the deadline had passed (or with none)
 * - `ratified`: a ratification completed by the deadline plus the grace; no flag is due
 * - `pending`: not ratified, not flagged, and the log shows nothing dated past deadline + grace
 * - `missing`: GOVERNANCE_FLAG_MISSING — no flag, though later leaves are dated past deadline + grace
 * - `late`: GOVERNANCE_FLAG_LATE — flagged, but only after leaves dated past deadline + grace
 */
export type HotfixFlagStatus = 'flagged' | 'ratified' | 'pending' | 'missing' | 'late';

/** A leaf position and the time it records. */
export interface LeafAt {
  readonly index: number;
  readonly at: number;
}

/** One completed hotfix with the deadline the log implies and what the log shows about it. */
export interface HotfixDeadline {
  readonly ceremonyId: string;
  readonly group: string;
  /** The hotfix's own `sign` leaf. */
  readonly index: number;
  /** Its `sign.complete` entry time. */
  readonly completedAt: number;
  /** The policy version it ran under (its `sign.complete` policyId; `default` is 0). */
  readonly policyVersion: number;
  /** Where that version's window came from: the built-in v0, or a policy ceremony in this log. */
  readonly policySource: 'default' | 'log';
  readonly windowMs: number;
  /** completedAt + windowMs (`hotfixRatifyBy`). */
  readonly ratifyBy: number;
  readonly status: HotfixFlagStatus;
  /** Its governance leaf, if any. */
  readonly flag?: LeafAt;
  /** The first ratification that completed (any time), if any. */
  readonly ratifiedBy?: LeafAt & { readonly ceremonyId: string };
  /** The first non-governance leaf after the hotfix dated past ratifyBy + grace. */
  readonly evidence?: LeafAt;
}

/** What one verified completed signing ceremony's transcript says, for deadlines. */
export interface SigningFacts {
  readonly index: number;
  readonly leaf: LogLeaf;
  readonly class?: string;
  readonly ratifies?: string;
  /** The document a `policy` ceremony set (parsed). */
  readonly policy?: PolicyDocument;
  /** The `sign.complete` entry time. */
  readonly completedAt: number;
  /** The `sign.complete` policyId. */
  readonly policyId?: string;
}

type Body = { type?: unknown; release?: Record<string, unknown>; policyId?: unknown };
const bodyOf = (e: TranscriptEntry | undefined): Body | undefined =>
  (e?.envelope as { body?: unknown } | undefined)?.body as Body | undefined;

/**
 * Facts of a completed `sign` leaf from its transcript; undefined when it is not one. Only as true
 * as the transcript: verifyLog calls it only for ceremonies whose bundle verified (log.ts), since a
 * transcript that merely hashes to its leaf is the coordinator's word.
 */
export function signingFacts(
  leaf: LogLeaf,
  index: number,
  transcript: readonly TranscriptEntry[],
): SigningFacts | undefined {
  if (leaf.kind !== 'sign' || leaf.outcome !== 'completed') return undefined;
  const request = bodyOf(transcript[0]);
  if (request?.type !== 'sign.request') return undefined;
  const complete = transcript.findLast((e) => bodyOf(e)?.type === 'sign.complete');
  if (complete === undefined || typeof complete.at !== 'number') return undefined;
  const release = request.release ?? {};
  const cls = release['class'];
  const ratifies = release['ratifies'];
  const policyId = bodyOf(complete)?.policyId;
  const policy = cls === 'policy' ? PolicyDocumentSchema.safeParse(release['policy']) : undefined;
  return {
    index,
    leaf,
    completedAt: complete.at,
    ...(typeof cls === 'string' ? { class: cls } : {}),
    ...(typeof ratifies === 'string' ? { ratifies } : {}),
    ...(policy?.success === true ? { policy: policy.data } : {}),
    ...(typeof policyId === 'string' ? { policyId } : {}),
  };
}

/** The version a policy id names (`default`: ceremonies from before policies, version 0). */
function versionOf(policyId: string | undefined, group: string): number | undefined {
  if (policyId === 'default') return 0;
  const p = policyId === undefined ? undefined : parsePolicyId(policyId);
  return p !== undefined && p.group === group ? p.version : undefined;
}

/**
 * Derives every completed hotfix's deadline and flag status from the leaves and the facts of the
 * completed signing ceremonies (in index order). Policy versions are taken as the coordinator
 * stores them: a completed `policy` ceremony of the group sets version N only when N is the next
 * one; a hotfix under version 0 — or a version the log does not show, as the coordinator does —
 * uses the built-in default (72 h).
 */
export function hotfixDeadlines(
  leaves: readonly (LogLeaf | null)[],
  signed: readonly SigningFacts[],
  graceMs = GOVERNANCE_FLAG_GRACE_MS,
): HotfixDeadline[] {
  const policies = new Map<string, PolicyDocument[]>();
  const ratifications = new Map<string, LeafAt & { ceremonyId: string }>();
  for (const s of signed) {
    const group = s.leaf.group;
    if (group === null) continue;
    if (s.class === 'policy' && s.policy !== undefined) {
      const versions = policies.get(group) ?? [defaultPolicy(group)];
      if (s.policy.version === versions.length) versions.push(s.policy);
      policies.set(group, versions);
    }
    const standard = s.class === undefined || s.class === 'standard';
    if (standard && s.ratifies !== undefined && !ratifications.has(s.ratifies)) {
      ratifications.set(s.ratifies, {
        ceremonyId: s.leaf.ceremonyId,
        index: s.index,
        at: s.completedAt,
      });
    }
  }
  const flags = new Map<string, LeafAt>();
  leaves.forEach((leaf, index) => {
    if (leaf?.kind === 'governance' && leaf.outcome === 'hotfix.overdue') {
      if (!flags.has(leaf.ceremonyId)) flags.set(leaf.ceremonyId, { index, at: leaf.at });
    }
  });

  const out: HotfixDeadline[] = [];
  for (const s of signed) {
    const group = s.leaf.group;
    if (s.class !== 'hotfix' || group === null) continue;
    const version = versionOf(s.policyId, group);
    if (version === undefined) continue;
    const known = version === 0 ? undefined : policies.get(group)?.[version];
    const doc = known ?? defaultPolicy(group);
    const ratifyBy = hotfixRatifyBy(s.completedAt, doc);
    const due = ratifyBy + graceMs;
    let evidence: LeafAt | undefined;
    for (let i = s.index + 1; i < leaves.length; i++) {
      const l = leaves[i];
      if (l !== null && l !== undefined && l.kind !== 'governance' && l.at > due) {
        evidence = { index: i, at: l.at };
        break;
      }
    }
    const flag = flags.get(s.leaf.ceremonyId);
    const ratifiedBy = ratifications.get(s.leaf.ceremonyId);
    const status: HotfixFlagStatus =
      flag !== undefined && (evidence === undefined || flag.index < evidence.index)
        ? 'flagged'
        : ratifiedBy !== undefined && ratifiedBy.at <= due
          ? 'ratified'
          : evidence === undefined
            ? 'pending'
            : flag !== undefined
              ? 'late'
              : 'missing';
    out.push({
      ceremonyId: s.leaf.ceremonyId,
      group,
      index: s.index,
      completedAt: s.completedAt,
      policyVersion: version,
      policySource: known === undefined ? 'default' : 'log',
      windowMs: ratificationWindowMsOf(doc),
      ratifyBy,
      status,
      ...(flag === undefined ? {} : { flag }),
      ...(ratifiedBy === undefined ? {} : { ratifiedBy }),
      ...(evidence === undefined ? {} : { evidence }),
    });
  }
  return out;
}

/**
 * How far a `hotfix.overdue` record's deadline may fall before the one re-derived from its
 * hotfix's `sign.complete`: the coordinator takes its signature's time, stored in the same
 * transaction, so they agree to the millisecond; a minute covers clocks read apart.
 */
export const RATIFY_BY_TOLERANCE_MS = 60_000;

/**
 * Why a verified `hotfix.overdue` record disagrees with its hotfix as its transcript shows it
 * (empty: it agrees). It must name the policy version the hotfix ran under, and a deadline no later
 * than the one re-derived from its `sign.complete` (the coordinator's comes from its signature
 * time, which precedes it). A later deadline would make a late flag look timely; an earlier one, or
 * a flag logged before the real deadline, accuses the group of missing a window it was still inside.
 * The window is known for version 0 and for a version whose policy ceremony the auditor verified
 * (`policySource: 'log'`); otherwise only the bounds every policy keeps are checked (after the
 * completion, within the longest window a policy may set).
 */
export function overdueRecordProblems(
  record: OverdueHotfix,
  hotfix: Pick<HotfixDeadline, 'completedAt' | 'policyVersion' | 'policySource' | 'ratifyBy'>,
): string[] {
  const problems: string[] = [];
  if (record.policyVersion !== hotfix.policyVersion)
    problems.push(
      `it names policy version ${record.policyVersion}, the hotfix ran under ${hotfix.policyVersion}`,
    );
  const windowKnown = hotfix.policyVersion === 0 || hotfix.policySource === 'log';
  const latest = windowKnown
    ? hotfix.ratifyBy
    : hotfix.completedAt + MAX_RATIFICATION_WINDOW_SECONDS * 1000;
  const earliest = windowKnown ? hotfix.ratifyBy - RATIFY_BY_TOLERANCE_MS : hotfix.completedAt;
  const iso = (t: number) => new Date(t).toISOString();
  if (record.ratifyBy > latest)
    problems.push(`its deadline ${iso(record.ratifyBy)} is after the hotfix's (${iso(latest)})`);
  if (record.ratifyBy < earliest)
    problems.push(`its deadline ${iso(record.ratifyBy)} is before the hotfix's (${iso(earliest)})`);
  else if (record.loggedAt < earliest)
    problems.push(`it was logged ${iso(record.loggedAt)}, before the hotfix's deadline`);
  return problems;
}
