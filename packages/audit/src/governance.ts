// Governance leaves of the log (docs/audit.md): today one outcome, `hotfix.overdue` — a hotfix the
// group did not ratify within its policy's window (docs/policy.md). The leaf's transcript is ONE
// envelope the coordinator signed with its identity key, body `hotfix.overdue` {ceremonyId, group,
// incident?, ratifyBy, flaggedAt, policyVersion}, so the leaf's digest binds those details and an
// auditor checks them offline: the envelope verifies under the pinned coordinator key, and the
// body says what the leaf says (hotfix, group, outcome) with times that make sense (the window had
// passed when it was flagged; it was flagged no later than logged).
import {
  COORDINATOR_ID,
  openEnvelope,
  type Envelope,
  type HotfixOverdue,
} from '@conclave/protocol';
import { AuditError } from './errors.js';
import type { GOVERNANCE_OUTCOMES } from './leaf.js';
import {
  TranscriptEntrySchema,
  transcriptDigest,
  type LogLeaf,
  type TranscriptEntry,
} from './leaf.js';

export type GovernanceOutcome = (typeof GOVERNANCE_OUTCOMES)[number];

/** The envelope round of governance records (docs/protocol.md `hotfix.overdue`). */
export const GOVERNANCE_ROUND = 'governance';

/** A hotfix the log says was not ratified in time, with the details its signed record binds. */
export interface OverdueHotfix {
  readonly ceremonyId: string;
  readonly group: string;
  readonly incident?: string;
  readonly ratifyBy: number;
  readonly flaggedAt: number;
  readonly policyVersion: number;
  /** When the leaf was appended (the leaf's `at`). */
  readonly loggedAt: number;
}

/**
 * The one-entry transcript of a governance leaf: the coordinator's sealed record, stored as sent
 * (direction `out`, no recipient) at the time it was flagged.
 */
export function governanceTranscript(envelope: Envelope, at: number): TranscriptEntry[] {
  return [{ idx: 0, direction: 'out', sender: COORDINATOR_ID, recipient: null, at, envelope }];
}

/**
 * Checks a governance leaf against its transcript under the coordinator's identity key; returns
 * what it records. Codes: GOVERNANCE_MALFORMED (not one `hotfix.overdue` entry), LOG_LEAF_MISMATCH
 * (the transcript does not hash to the leaf), GOVERNANCE_WRONG_SIGNER (not the coordinator's
 * record), GOVERNANCE_BAD_SIGNATURE (edited, or signed by another key), GOVERNANCE_LEAF_MISMATCH
 * (the signed body and the leaf disagree, or its times are impossible).
 */
export function verifyGovernanceEntry(
  leaf: LogLeaf,
  transcript: readonly unknown[],
  coordinatorKey: Uint8Array,
): OverdueHotfix {
  if (leaf.kind !== 'governance') {
    throw new AuditError('GOVERNANCE_MALFORMED', 'not a governance leaf');
  }
  const parsed = transcript.length === 1 ? TranscriptEntrySchema.safeParse(transcript[0]) : null;
  if (parsed === null || !parsed.success) {
    throw new AuditError(
      'GOVERNANCE_MALFORMED',
      'a governance leaf covers exactly one well-formed envelope',
    );
  }
  const entry = parsed.data;
  if (leaf.entries !== 1 || transcriptDigest([entry]) !== leaf.transcript) {
    throw new AuditError(
      'LOG_LEAF_MISMATCH',
      'the governance record does not hash to its leaf: it changed after it was logged',
    );
  }
  const body = entry.envelope.body;
  if (body.type !== 'hotfix.overdue') {
    throw new AuditError('GOVERNANCE_MALFORMED', 'the governance record is not hotfix.overdue');
  }
  if (
    entry.envelope.sender !== COORDINATOR_ID ||
    entry.sender !== COORDINATOR_ID ||
    entry.direction !== 'out'
  ) {
    throw new AuditError(
      'GOVERNANCE_WRONG_SIGNER',
      'the governance record is not the coordinator’s: only the coordinator flags hotfixes',
    );
  }
  const opened = openEnvelope(entry.envelope, (s) =>
    s === COORDINATOR_ID ? coordinatorKey : undefined,
  );
  if (!opened.ok) {
    throw new AuditError(
      'GOVERNANCE_BAD_SIGNATURE',
      'the governance record does not verify under the coordinator key (edited, or signed by another key)',
    );
  }
  const problems = mismatches(leaf, entry, body);
  if (problems.length > 0) {
    throw new AuditError(
      'GOVERNANCE_LEAF_MISMATCH',
      `the signed record and its leaf disagree: ${problems.join(', ')}`,
    );
  }
  return {
    ceremonyId: body.ceremonyId,
    group: body.group,
    ...(body.incident === undefined ? {} : { incident: body.incident }),
    ratifyBy: body.ratifyBy,
    flaggedAt: body.flaggedAt,
    policyVersion: body.policyVersion,
    loggedAt: leaf.at,
  };
}

function mismatches(leaf: LogLeaf, entry: TranscriptEntry, body: HotfixOverdue): string[] {
  const out: string[] = [];
  if (leaf.outcome !== body.type) out.push('outcome');
  if (leaf.ceremonyId !== body.ceremonyId || entry.envelope.ceremonyId !== body.ceremonyId) {
    out.push('hotfix ceremony id');
  }
  if (leaf.group !== body.group) out.push('group');
  if (entry.envelope.round !== GOVERNANCE_ROUND) out.push('round');
  if (entry.at !== body.flaggedAt) out.push('entry time');
  if (body.flaggedAt < body.ratifyBy) out.push('flagged before its window closed');
  if (body.flaggedAt > leaf.at) out.push('flagged after it was logged');
  return out;
}
