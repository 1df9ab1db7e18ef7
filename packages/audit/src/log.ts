// Offline verification of the whole log (`conclave log verify [--from CHECKPOINT]`): every leaf is
// well formed, the RFC 9162 tree over the leaves has exactly the root each signed checkpoint
// states at its size, no two checkpoints disagree, the newest covers every leaf, a trusted earlier
// checkpoint (from a witness) is a prefix, and, when transcripts are given, every leaf's digest is
// recomputed from them. Any mutation, deletion, reordering or truncation shows up as a failed check.
// Governance leaves (a hotfix flagged unratified) must follow their hotfix's own completed leaf,
// and, with transcripts and the coordinator key, their signed record must verify (governance.ts).
// Which ceremonies are hotfixes, policies and ratifications is read only from ceremonies whose
// bundle passes verifyCeremonyBundle: a transcript that merely hashes to its leaf is the
// coordinator's word (it writes both), so it must not ratify a hotfix or set a policy window.
import { MerkleAccumulator, rootFromLeafHashes } from '@conclave/release';
import { encodeBase64 } from './base64.js';
import {
  CeremonyBundleSchema,
  epochInEffect,
  verifyCeremonyBundle,
  type BundleTrust,
  type CeremonyBundle,
} from './bundle.js';
import { openCheckpoint, parseCheckpointBody, type Checkpoint } from './checkpoint.js';
import { AuditError } from './errors.js';
import { verifyGovernanceEntry, type OverdueHotfix } from './governance.js';
import {
  GOVERNANCE_FLAG_GRACE_MS,
  hotfixDeadlines,
  overdueRecordProblems,
  signingFacts,
  type HotfixDeadline,
  type SigningFacts,
} from './hotfix-deadlines.js';
import {
  TranscriptEntrySchema,
  decodeLeaf,
  logLeafHash,
  transcriptDigest,
  type LogLeaf,
  type TranscriptEntry,
} from './leaf.js';
import type { NoteVerifier } from './note.js';
import { Checks, type Report } from './report.js';

export interface VerifyLogInput {
  /** Leaf bytes in index order (0 … n−1). */
  readonly leaves: readonly Uint8Array[];
  /** Checkpoint notes the log issued (any order). */
  readonly checkpoints: readonly string[];
  /** The log's pinned key. */
  readonly logKey: NoteVerifier;
  /** A checkpoint trusted from elsewhere (a witness, an earlier run): the log must extend it. */
  readonly from?: string | undefined;
  /**
   * The stored transcript behind a leaf, to recompute its digest (undefined: not available). Any
   * value is accepted: every entry is parsed here, and one that does not parse fails the leaf.
   */
  readonly transcriptOf?: ((leaf: LogLeaf) => readonly unknown[] | undefined) | undefined;
  /**
   * The ceremony bundles of the completed signing leaves (what `conclave log verify
   * --auditor-token` downloads; any value, parsed here) and the keys to check each against (the
   * auditor's pins, and the artifact bytes a bundle may need). Hotfix, policy and ratification
   * facts come only from bundles that pass verifyCeremonyBundle with the coordinator, admin and
   * log keys pinned, and whose transcript is the leaf's; without bundles no hotfix deadline is
   * derived (a transcript that hashes to its leaf is still only the coordinator's word).
   */
  readonly bundles?:
    | {
        readonly of: (leaf: LogLeaf) => unknown;
        readonly trust: (leaf: LogLeaf) => BundleTrust;
      }
    | undefined;
  /**
   * The coordinator's identity key, to check governance records (with `transcriptOf`). Without it
   * governance leaves are listed from the leaves alone (their authenticity is the checkpoint's).
   */
  readonly coordinatorKey?: Uint8Array | undefined;
  /**
   * With transcripts: how long past a hotfix's deadline the coordinator may go on appending other
   * leaves before its flag is missing or late (default GOVERNANCE_FLAG_GRACE_MS, 5 min).
   */
  readonly flagGraceMs?: number | undefined;
  /**
   * `transcriptOf` knows only the completed signing ceremonies and the governance leaves (what
   * `conclave log verify --auditor-token` fetches: enough for governance and hotfix deadlines);
   * other leaves without a transcript are not counted as missing.
   */
  readonly signingTranscriptsOnly?: boolean | undefined;
}

/** A governance leaf found in the log (e.g. a hotfix flagged unratified). */
export interface GovernanceFinding {
  readonly index: number;
  readonly ceremonyId: string;
  readonly group: string | null;
  readonly outcome: string;
  /** When it was logged. */
  readonly at: number;
  /** The signed record's details, when its transcript was given and verified. */
  readonly record?: OverdueHotfix;
  /** The ceremony that ratified the hotfix afterwards, when transcripts show one (late). */
  readonly ratifiedBy?: {
    readonly ceremonyId: string;
    readonly index: number;
    readonly at: number;
  };
}

/** A completed standard release whose request names a hotfix in `release.ratifies`. */
interface Ratification {
  readonly hotfix: string;
  readonly ceremonyId: string;
  readonly index: number;
  /** When it completed (its `sign.complete` entry). */
  readonly at: number;
}

export interface LogReport extends Report {
  readonly size: number;
  /** Base64 root over all leaves. */
  readonly root: string;
  /** Leaf indices that failed a check (malformed, digest mismatch, duplicate ceremony). */
  readonly badLeaves: readonly number[];
  /** Ceremony ids whose transcript does not match their leaf (or does not parse). */
  readonly badCeremonies: readonly string[];
  /** Completed signing ceremonies whose bundle was missing or did not verify (no facts used). */
  readonly unverifiedCeremonies: readonly string[];
  readonly leaves: readonly (LogLeaf | null)[];
  /** Governance leaves in index order (hotfixes flagged unratified when their window passed). */
  readonly governance: readonly GovernanceFinding[];
  /**
   * With transcripts: every completed hotfix, its deadline re-derived from the log and whether the
   * coordinator flagged it in time (hotfix-deadlines.ts). Empty without transcripts.
   */
  readonly hotfixes: readonly HotfixDeadline[];
}

const MAX_LISTED = 10;
const list = (xs: readonly (string | number)[]): string =>
  xs.length <= MAX_LISTED
    ? xs.join(', ')
    : `${xs.slice(0, MAX_LISTED).join(', ')} and ${xs.length - MAX_LISTED} more`;

/**
 * Verifies the whole log. Never throws on hostile input: what cannot be read ends in a failed
 * check (a throw would reach the CLI as INTERNAL, and say nothing about which rule broke).
 */
export function verifyLog(input: VerifyLogInput): LogReport {
  try {
    return verifyLogChecked(input);
  } catch (e) {
    const checks = new Checks();
    checks.fail(
      'log well formed',
      e instanceof AuditError ? e.code : 'LOG_LEAF_MALFORMED',
      'the leaves, checkpoints or transcripts given are not in a form the verifier can read',
    );
    return {
      ...checks.report(),
      size: Array.isArray(input.leaves) ? input.leaves.length : 0,
      root: '',
      badLeaves: [],
      badCeremonies: [],
      unverifiedCeremonies: [],
      leaves: [],
      governance: [],
      hotfixes: [],
    };
  }
}

function verifyLogChecked(input: VerifyLogInput): LogReport {
  const checks = new Checks();
  const n = input.leaves.length;
  const leaves: (LogLeaf | null)[] = [];
  const malformed: number[] = [];
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = input.leaves[i] as Uint8Array;
    try {
      leaves.push(decodeLeaf(bytes));
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      leaves.push(null);
      malformed.push(i);
    }
    hashes.push(logLeafHash(bytes));
  }
  checks.add(
    'leaves well formed',
    malformed.length === 0,
    'LOG_LEAF_MALFORMED',
    `${n} leaves parse as canonical leaf records`,
    `malformed leaves at index ${list(malformed)}`,
  );

  const firstIndex = new Map<string, number>();
  const duplicates: number[] = [];
  leaves.forEach((leaf, i) => {
    if (leaf === null) return;
    const key = `${leaf.kind}:${leaf.ceremonyId}`;
    if (firstIndex.has(key)) duplicates.push(i);
    else firstIndex.set(key, i);
  });
  checks.add(
    'each ceremony logged once',
    duplicates.length === 0,
    'LOG_LEAF_MISMATCH',
    'no ceremony appears twice',
    `ceremonies logged again at index ${list(duplicates)}`,
  );

  // Checkpoints: signature, then root at their size.
  const opened: Checkpoint[] = [];
  let unsigned = 0;
  for (const note of input.checkpoints) {
    try {
      opened.push(openCheckpoint(note, input.logKey));
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      unsigned += 1;
    }
  }
  checks.add(
    'checkpoints signed by the log key',
    unsigned === 0 && opened.length > 0,
    opened.length === 0 ? 'NOTE_UNVERIFIED' : 'NOTE_BAD_SIGNATURE',
    // The log key is the coordinator's: this proves it signed these checkpoints, not that anyone
    // else saw them (witness cosignatures are not required here; `conclave audit --witness` does).
    `${opened.length} checkpoints verify under ${input.logKey.name} — signed by the coordinator's log key only`,
    opened.length === 0
      ? 'no checkpoint signed by the log key'
      : `${unsigned} checkpoints do not verify under the log key`,
  );

  let from: Checkpoint | undefined;
  if (input.from !== undefined) {
    try {
      from = parseCheckpointBody(bodyOf(input.from));
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      checks.fail('trusted checkpoint', e.code, 'the --from checkpoint is not a checkpoint');
    }
  }

  const wanted = new Map<number, Checkpoint[]>();
  for (const cp of [...opened, ...(from === undefined ? [] : [from])]) {
    const at = wanted.get(cp.size) ?? [];
    at.push(cp);
    wanted.set(cp.size, at);
  }
  const rootAt = new Map<number, Uint8Array>();
  const acc = new MerkleAccumulator();
  if (wanted.has(0)) rootAt.set(0, acc.root());
  for (let i = 0; i < n; i++) {
    acc.append(hashes[i] as Uint8Array);
    if (wanted.has(i + 1)) rootAt.set(i + 1, acc.root());
  }
  const root = acc.root();

  const beyond = opened.filter((cp) => cp.size > n).map((cp) => cp.size);
  checks.add(
    'no checkpoint beyond the leaves',
    beyond.length === 0,
    'LOG_SIZE_MISMATCH',
    `every checkpoint size ≤ ${n}`,
    `checkpoints of size ${list([...new Set(beyond)])} but only ${n} leaves: entries were removed`,
  );
  const wrongRoot = opened
    .filter((cp) => cp.size <= n && !equal(rootAt.get(cp.size), cp.root))
    .map((cp) => cp.size);
  checks.add(
    'checkpoint roots match the leaves',
    wrongRoot.length === 0,
    'LOG_ROOT_MISMATCH',
    `the tree over the leaves has the signed root at all ${opened.length} checkpoint sizes`,
    `the tree over the leaves differs from the signed root at size ${list([...new Set(wrongRoot)])}`,
  );
  const forks: number[] = [];
  for (const [size, cps] of wanted) {
    const first = cps[0];
    if (first !== undefined && cps.some((c) => !equal(c.root, first.root))) forks.push(size);
  }
  checks.add(
    'no conflicting checkpoints',
    forks.length === 0,
    'LOG_FORK_DETECTED',
    'no two checkpoints of one size disagree',
    `two different roots were signed for size ${list(forks)}`,
  );
  const newest = opened.reduce((m, cp) => Math.max(m, cp.size), -1);
  if (opened.length > 0) {
    checks.add(
      'newest checkpoint covers every leaf',
      newest >= n,
      'LOG_SIZE_MISMATCH',
      `checkpoint of size ${newest} covers all ${n} leaves`,
      `${n - newest} leaves after the newest checkpoint (size ${newest}) are not signed`,
    );
  }
  if (from !== undefined) {
    const origin = from.origin === input.logKey.name;
    const atSize = rootAt.get(from.size);
    const ok = origin && from.size <= n && equal(atSize, from.root);
    checks.add(
      'extends the trusted checkpoint',
      ok,
      !origin ? 'CHECKPOINT_ORIGIN_MISMATCH' : from.size > n ? 'LOG_ROLLBACK' : 'LOG_FORK_DETECTED',
      `the first ${from.size} leaves have the trusted root`,
      !origin
        ? 'the trusted checkpoint is from another log'
        : from.size > n
          ? `the log has ${n} leaves, fewer than the ${from.size} of the trusted checkpoint`
          : `the first ${from.size} leaves do not have the trusted root: history was rewritten`,
    );
  }

  const badCeremonies: string[] = [];
  const badDigest: number[] = [];
  const signed: SigningFacts[] = [];
  const keyStates: KeyStateClaim[] = [];
  const unverified: string[] = [];
  if (input.transcriptOf !== undefined) {
    let missing = 0;
    let hashed = 0;
    let malformedTranscripts = 0;
    leaves.forEach((leaf, i) => {
      if (leaf === null) return;
      const raw = input.transcriptOf?.(leaf);
      if (raw === undefined) {
        const expected =
          input.signingTranscriptsOnly !== true ||
          leaf.kind === 'governance' ||
          (leaf.kind === 'sign' && leaf.outcome === 'completed');
        if (expected) missing += 1;
        return;
      }
      hashed += 1;
      const t = parseTranscript(raw);
      if (t === undefined) malformedTranscripts += 1;
      if (t === undefined || t.length !== leaf.entries || transcriptDigest(t) !== leaf.transcript) {
        badCeremonies.push(leaf.ceremonyId);
        badDigest.push(i);
      }
    });
    checks.add(
      'transcripts match their leaves',
      badCeremonies.length === 0 && missing === 0,
      'LOG_LEAF_MISMATCH',
      hashed === n - malformed.length
        ? `${hashed} transcripts hash to their leaves`
        : `${hashed} transcripts (every completed signing ceremony and governance record) hash to their leaves; ${n - malformed.length - hashed} others not fetched`,
      badCeremonies.length > 0
        ? `transcripts changed since they were logged${malformedTranscripts > 0 ? ` (${malformedTranscripts} with entries that are not transcript entries)` : ''}: ${list(badCeremonies)}`
        : `${missing} logged transcripts are missing`,
    );
  }
  if (input.bundles !== undefined) {
    // The member revocations logged so far (admin leaves), in one pass over the log.
    const revocations: string[] = [];
    const elsewhere: string[] = [];
    const rootOfPrefix = prefixRoots(hashes, rootAt);
    leaves.forEach((leaf, i) => {
      if (leaf?.kind === 'admin' && leaf.outcome === 'admin.member.revoke') {
        revocations.push(leaf.ceremonyId);
      }
      if (leaf?.kind !== 'sign' || leaf.outcome !== 'completed') return;
      const verified = verifiedFacts(input, leaf, i, revocations, rootOfPrefix);
      if (verified === 'unverified') unverified.push(leaf.ceremonyId);
      else if (verified === 'elsewhere') {
        unverified.push(leaf.ceremonyId);
        elsewhere.push(leaf.ceremonyId);
      } else {
        if (verified.facts !== null) signed.push(verified.facts);
        if (verified.keyState !== undefined) keyStates.push(verified.keyState);
      }
    });
    checks.add(
      'completed signing ceremonies verified',
      unverified.length === elsewhere.length,
      'BUNDLE_UNVERIFIED',
      `${signed.length} completed signing ceremonies' bundles verify (verifyCeremonyBundle): hotfix, policy and ratification facts are taken from them only`,
      `the bundles of ${list(unverified.filter((id) => !elsewhere.includes(id)))} are missing or do not verify: nothing they say (hotfix, policy, ratification) is used; run conclave audit ID on each`,
    );
    checks.add(
      'bundles prove leaves of this log',
      elsewhere.length === 0,
      'LOG_FORK_DETECTED',
      "every verified bundle's leaf, key ceremony and governance leaves are this log's, and its checkpoint is this log's root at its size",
      `the bundles of ${list(elsewhere)} verify, but prove their leaves into a tree that is not this log (another leaf at their index, or another root at their checkpoint's size): the coordinator keeps two histories; nothing they say is used`,
    );
  }
  const forked = input.bundles === undefined ? [] : checkKeyHistory(keyStates, leaves, checks);
  const ratifications = new Map<string, Ratification>();
  for (const s of signed) {
    const standard = s.class === undefined || s.class === 'standard';
    if (standard && s.ratifies !== undefined && !ratifications.has(s.ratifies)) {
      ratifications.set(s.ratifies, {
        hotfix: s.ratifies,
        ceremonyId: s.leaf.ceremonyId,
        index: s.index,
        at: s.completedAt,
      });
    }
  }

  const governance = verifyGovernance(input, leaves, firstIndex, ratifications, checks);
  const badGovernance = governance.filter((g) => g.bad).map((g) => g.finding.index);
  const hotfixes =
    input.bundles === undefined
      ? []
      : checkFlags(
          hotfixDeadlines(leaves, signed, input.flagGraceMs ?? GOVERNANCE_FLAG_GRACE_MS),
          input.flagGraceMs ?? GOVERNANCE_FLAG_GRACE_MS,
          checks,
        );
  const contradicting = recordsAgainstDeadlines(
    governance.map((g) => g.finding),
    hotfixes,
    checks,
  );

  const badLeaves = [
    ...new Set([
      ...malformed,
      ...duplicates,
      ...badDigest,
      ...badGovernance,
      ...contradicting,
      ...forked,
    ]),
  ].sort((a, b) => a - b);
  return {
    ...checks.report(),
    size: n,
    root: encodeBase64(root),
    badLeaves,
    badCeremonies,
    unverifiedCeremonies: unverified,
    leaves,
    governance: governance.map((g) => g.finding),
    hotfixes,
  };
}

/**
 * Each verified `hotfix.overdue` record must agree with its hotfix as the log shows it
 * (overdueRecordProblems: its policy version, and the deadline its completion and window give).
 * Returns the leaf indices that disagree.
 */
function recordsAgainstDeadlines(
  findings: readonly GovernanceFinding[],
  hotfixes: readonly HotfixDeadline[],
  checks: Checks,
): number[] {
  const byId = new Map(hotfixes.map((h) => [h.ceremonyId, h]));
  const compared = findings.filter((f) => f.record !== undefined && byId.has(f.record.ceremonyId));
  if (compared.length === 0) return [];
  const bad = compared
    .filter((f) => overdueRecordProblems(f.record!, byId.get(f.record!.ceremonyId)!).length > 0)
    .map((f) => f.index);
  checks.add(
    'governance records agree with their hotfix',
    bad.length === 0,
    'GOVERNANCE_LEAF_MISMATCH',
    `${compared.length} flags name their hotfix's policy version and its deadline (completion + window), and were logged after it`,
    `governance records at index ${list(bad)} name another policy version or another deadline than their hotfix's completion + window, or were logged before it`,
  );
  return bad;
}

/**
 * With transcripts: every completed hotfix past its deadline (plus grace, with leaves dated after
 * it) must have been flagged before those leaves. GOVERNANCE_FLAG_MISSING: never flagged;
 * GOVERNANCE_FLAG_LATE: flagged only after them. Both fail verification: the coordinator's own
 * signed log shows it running past the deadline without doing what its rule says.
 */
function checkFlags(hotfixes: HotfixDeadline[], graceMs: number, checks: Checks): HotfixDeadline[] {
  if (hotfixes.length === 0) return hotfixes;
  const missing = hotfixes.filter((h) => h.status === 'missing');
  const late = hotfixes.filter((h) => h.status === 'late');
  const iso = (t: number) => new Date(t).toISOString();
  const grace = `${Math.round(graceMs / 1000)} s`;
  checks.add(
    'overdue hotfixes flagged',
    missing.length === 0,
    'GOVERNANCE_FLAG_MISSING',
    `${hotfixes.length} hotfixes: ${hotfixes.filter((h) => h.status === 'flagged').length} flagged, ${
      hotfixes.filter((h) => h.status === 'ratified').length
    } ratified in time, ${hotfixes.filter((h) => h.status === 'pending').length} not yet provably due`,
    `hotfixes never flagged though the log went on past their deadline + ${grace}: ${list(
      missing.map(
        (h) =>
          `${h.ceremonyId} (due ${iso(h.ratifyBy)}, leaf ${String(h.evidence?.index)} logged ${iso(h.evidence?.at ?? 0)})`,
      ),
    )}`,
  );
  checks.add(
    'overdue hotfixes flagged in time',
    late.length === 0,
    'GOVERNANCE_FLAG_LATE',
    `no flag follows a leaf dated past its hotfix's deadline + ${grace}`,
    `hotfixes flagged only after the log went on past their deadline + ${grace}: ${list(
      late.map(
        (h) =>
          `${h.ceremonyId} (due ${iso(h.ratifyBy)}, leaf ${String(h.evidence?.index)} logged ${iso(h.evidence?.at ?? 0)} before its flag at leaf ${String(h.flag?.index)})`,
      ),
    )}`,
  );
  return hotfixes;
}

/**
 * Governance leaves: each names a hotfix whose own leaf (kind `sign`, `completed`) comes first;
 * with transcripts, each signed record verifies under the coordinator key and matches its leaf.
 */
function verifyGovernance(
  input: VerifyLogInput,
  leaves: readonly (LogLeaf | null)[],
  firstIndex: ReadonlyMap<string, number>,
  ratifications: ReadonlyMap<string, Ratification>,
  checks: Checks,
): { finding: GovernanceFinding; bad: boolean }[] {
  const out: { finding: GovernanceFinding; bad: boolean }[] = [];
  const orphans: number[] = [];
  const ratifiedInTime: number[] = [];
  const unverified: { index: number; code: string }[] = [];
  leaves.forEach((leaf, index) => {
    if (leaf?.kind !== 'governance') return;
    let bad = false;
    const signed = firstIndex.get(`sign:${leaf.ceremonyId}`);
    const signLeaf = signed === undefined ? undefined : leaves[signed];
    if (
      signed === undefined ||
      signed > index ||
      signLeaf?.outcome !== 'completed' ||
      signLeaf.group !== leaf.group
    ) {
      orphans.push(index);
      bad = true;
    }
    let record: OverdueHotfix | undefined;
    const transcript = input.transcriptOf?.(leaf);
    if (transcript !== undefined) {
      if (input.coordinatorKey === undefined) {
        unverified.push({ index, code: 'GOVERNANCE_BAD_SIGNATURE' });
        bad = true;
      } else {
        try {
          record = verifyGovernanceEntry(leaf, transcript, input.coordinatorKey);
        } catch (e) {
          if (!(e instanceof AuditError)) throw e;
          unverified.push({ index, code: e.code });
          bad = true;
        }
      }
    }
    // A hotfix ratified before its window closed must never be flagged.
    const ratified = ratifications.get(leaf.ceremonyId);
    if (record !== undefined && ratified !== undefined && ratified.at <= record.ratifyBy) {
      ratifiedInTime.push(index);
      bad = true;
    }
    const finding: GovernanceFinding = {
      index,
      ceremonyId: leaf.ceremonyId,
      group: leaf.group,
      outcome: leaf.outcome,
      at: leaf.at,
      ...(record === undefined ? {} : { record }),
      ...(ratified === undefined
        ? {}
        : {
            ratifiedBy: { ceremonyId: ratified.ceremonyId, index: ratified.index, at: ratified.at },
          }),
    };
    out.push({ finding, bad });
  });
  if (out.length === 0) return out;
  checks.add(
    'governance leaves follow their hotfix',
    orphans.length === 0,
    'GOVERNANCE_LEAF_MISMATCH',
    `${out.length} governance leaves each follow their hotfix's completed signing leaf`,
    `governance leaves at index ${list(orphans)} name no earlier completed hotfix of their group`,
  );
  if (input.transcriptOf !== undefined) {
    checks.add(
      'governance records signed by the coordinator',
      unverified.length === 0,
      unverified[0]?.code ?? 'GOVERNANCE_BAD_SIGNATURE',
      `${out.length} governance records verify under the coordinator key and match their leaves`,
      input.coordinatorKey === undefined
        ? 'no coordinator key to check the governance records against'
        : `governance records at index ${list(unverified.map((u) => u.index))} fail (${[
            ...new Set(unverified.map((u) => u.code)),
          ].join(', ')})`,
    );
    checks.add(
      'flags only hotfixes not ratified in time',
      ratifiedInTime.length === 0,
      'GOVERNANCE_LEAF_MISMATCH',
      `no flagged hotfix was ratified within its window (${
        out.filter((g) => g.finding.ratifiedBy !== undefined).length
      } ratified late)`,
      `governance leaves at index ${list(ratifiedInTime)} flag hotfixes ratified within their window`,
    );
  }
  return out;
}

/** Every entry parsed with the transcript entry schema; undefined if any does not parse. */
function parseTranscript(raw: readonly unknown[]): TranscriptEntry[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: TranscriptEntry[] = [];
  for (const e of raw) {
    const parsed = TranscriptEntrySchema.safeParse(e);
    if (!parsed.success) return undefined;
    out.push(parsed.data);
  }
  return out;
}

/**
 * The key state a verified signing bundle says its ceremony ran under: the group's epoch in effect
 * when it opened, and the key ceremony that made it when the bundle carries one (the bundle check
 * then derived the epoch's public key package from that ceremony's signed messages, found
 * completed in the log: `derived`). Without it, epoch number and package are the coordinator's
 * word (signing messages name the package's hash, never the epoch).
 */
interface KeyStateClaim {
  /** The signing ceremony's leaf. */
  readonly index: number;
  readonly ceremonyId: string;
  readonly group: string;
  readonly epoch: number;
  readonly publicKeyPackage: string;
  readonly keyCeremony?: string;
  readonly derived: boolean;
}

/**
 * One key history per group. Each verified signing bundle proves, by itself, the key state it ran
 * under; only the log as a whole shows two of them at odds: a coordinator that ran two key
 * ceremonies to the same epoch (a replayed admin authorization, say; a reshare to two disjoint
 * committees) and let some members sign under each. Fails when, for one group:
 * - two claims of one epoch differ in public key package or key ceremony;
 * - one public key package is claimed under two epoch numbers (each epoch has its own);
 * - a claim is not derived though the log holds a completed key ceremony of the group before
 *   its signing leaf: the coordinator left the key ceremony out, and so could have numbered the
 *   epoch as it liked, hiding a second key state of an epoch under another number (an honest
 *   coordinator attaches it whenever the leaf is in the bundle's tree).
 * Returns the signing leaves involved.
 */
function checkKeyHistory(
  claims: readonly KeyStateClaim[],
  leaves: readonly (LogLeaf | null)[],
  checks: Checks,
): number[] {
  const problems: string[] = [];
  const involved = new Set<number>();
  const flag = (what: string, at: readonly KeyStateClaim[]) => {
    problems.push(`${what} (${at.map((c) => c.ceremonyId).join(', ')})`);
    for (const c of at) involved.add(c.index);
  };
  const grouped = (key: (c: KeyStateClaim) => string) => {
    const out = new Map<string, KeyStateClaim[]>();
    for (const c of claims) out.set(key(c), [...(out.get(key(c)) ?? []), c]);
    return out;
  };
  const byEpoch = grouped((c) => `${c.group}@${c.epoch}`);
  for (const [at, claimsAt] of byEpoch) {
    const first = claimsAt[0] as KeyStateClaim;
    const made = claimsAt.find((c) => c.keyCeremony !== undefined)?.keyCeremony;
    const differs = claimsAt.some(
      (c) =>
        c.publicKeyPackage !== first.publicKeyPackage ||
        (made !== undefined && c.keyCeremony !== undefined && c.keyCeremony !== made),
    );
    if (differs) flag(`two key states of ${at}`, claimsAt);
  }
  for (const claimsOf of grouped((c) => `${c.group} ${c.publicKeyPackage}`).values()) {
    const epochs = [...new Set(claimsOf.map((c) => c.epoch))];
    if (epochs.length > 1)
      flag(
        `one key state as epochs ${epochs.join(' and ')} of ${claimsOf[0]?.group ?? ''}`,
        claimsOf,
      );
  }
  // The first completed key ceremony of each group in the log.
  const firstKey = new Map<string, number>();
  leaves.forEach((leaf, i) => {
    if (leaf?.kind === 'key' && leaf.outcome === 'completed' && leaf.group !== null)
      if (!firstKey.has(leaf.group)) firstKey.set(leaf.group, i);
  });
  const unproven = claims.filter((c) => !c.derived && (firstKey.get(c.group) ?? c.index) < c.index);
  if (unproven.length > 0) flag('a key state without the key ceremony the log holds', unproven);
  const epochs = byEpoch.size;
  checks.add(
    'one key history per group',
    problems.length === 0,
    'KEY_HISTORY_FORKED',
    `the ${claims.length} verified signing ceremonies name one key state per epoch (${epochs} group epochs; ${claims.filter((c) => c.derived).length} derived from their key ceremony)`,
    `${list(problems)}: the coordinator forked the group's key history, or hides which key ceremony made a key state; run conclave audit ID on each ceremony named`,
  );
  return [...involved];
}

/** A verified signing bundle's facts (null: none to take) and the key state it ran under. */
interface Verified {
  readonly facts: SigningFacts | null;
  readonly keyState: KeyStateClaim | undefined;
}

/**
 * The facts of a completed signing leaf from its bundle, and the key state it ran under, when the
 * bundle verifies under the auditor's keys and its transcript is exactly the one the leaf covers;
 * undefined when it is missing or does not verify (facts null: it verifies but is no source of
 * facts).
 */
function verifiedFacts(
  input: VerifyLogInput,
  leaf: LogLeaf,
  index: number,
  /** The member revocations the log holds before this leaf (applied before it ended). */
  revocations: readonly string[],
  rootAt: (size: number) => Uint8Array,
): Verified | 'unverified' | 'elsewhere' {
  const facts = verifiedBundle(input, leaf, index, revocations);
  if (facts === undefined) return 'unverified';
  return loggedHere(facts.bundle, index, input.leaves, rootAt) ? facts.verified : 'elsewhere';
}

/**
 * Whether a verified bundle's proofs are into this log. verifyCeremonyBundle checks each leaf the
 * bundle carries (its own, its key ceremony's, its governance leaves) is in the tree its checkpoint
 * signs; a coordinator keeping two histories under one log key could sign both, so that tree must
 * be this one: the same bytes at those indices, and this log's root at the checkpoint's size. A
 * checkpoint newer than the leaves fetched (a ceremony completed in between) is compared leaf by
 * leaf only.
 */
function loggedHere(
  b: CeremonyBundle,
  index: number,
  leaves: readonly Uint8Array[],
  rootAt: (size: number) => Uint8Array,
): boolean {
  const log = b.log;
  if (log === null) return false;
  const enc = new TextEncoder();
  const same = (i: number, text: string) => i < leaves.length && equal(leaves[i], enc.encode(text));
  if (log.index !== index || !same(index, log.leaf)) return false;
  for (const epoch of b.group?.epochs ?? []) {
    const made = epoch.keyCeremony?.log;
    if (made !== undefined && !same(made.index, made.leaf)) return false;
  }
  for (const g of b.governance ?? [])
    if (g.index < leaves.length && !same(g.index, g.leaf)) return false;
  if (log.size > leaves.length) return true;
  try {
    return equal(rootAt(log.size), parseCheckpointBody(bodyOf(log.checkpoint)).root);
  } catch (e) {
    if (e instanceof AuditError) return false;
    throw e;
  }
}

/**
 * The RFC 9162 root of the first `size` leaves: the roots already computed at the signed
 * checkpoints' sizes (a bundle's checkpoint is nearly always one of them), else computed once per
 * size asked for.
 */
function prefixRoots(
  hashes: readonly Uint8Array[],
  known: ReadonlyMap<number, Uint8Array>,
): (size: number) => Uint8Array {
  const cache = new Map(known);
  return (size) => {
    let root = cache.get(size);
    if (root === undefined) {
      root = rootFromLeafHashes(hashes.slice(0, size));
      cache.set(size, root);
    }
    return root;
  };
}

function verifiedBundle(
  input: VerifyLogInput,
  leaf: LogLeaf,
  index: number,
  revocations: readonly string[],
): { bundle: CeremonyBundle; verified: Verified } | undefined {
  if (input.bundles === undefined) return undefined;
  const trust = input.bundles.trust(leaf);
  // A bundle checked against the keys it carries proves only its own consistency: the
  // coordinator could have made up the registry and every member's key with it.
  if (
    trust.adminKey === undefined ||
    trust.coordinatorKey === undefined ||
    trust.logKey === undefined
  ) {
    return undefined;
  }
  const raw = input.bundles.of(leaf);
  if (raw === undefined) return undefined;
  const parsed = CeremonyBundleSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const b = parsed.data;
  // A bundle's registry is the coordinator's selection of operations: one that leaves out a
  // revocation the log holds would let the revoked member's approvals count. Every revocation
  // logged before this ceremony's leaf must be in it.
  const listed = new Set(b.registry.map((op) => op.scopeId));
  if (revocations.some((scopeId) => !listed.has(scopeId))) return undefined;
  const entries = parseTranscript(b.transcript);
  if (
    entries === undefined ||
    b.ceremonyId !== leaf.ceremonyId ||
    b.kind !== 'sign' ||
    b.group?.name !== leaf.group ||
    b.recorded.state !== leaf.outcome ||
    entries.length !== leaf.entries ||
    transcriptDigest(entries) !== leaf.transcript
  ) {
    return undefined;
  }
  const report = verifyCeremonyBundle(raw, trust);
  if (!report.ok) return undefined;
  const epoch = epochInEffect(b, entries[0]?.at ?? 0);
  const keyState: KeyStateClaim | undefined =
    epoch === undefined || b.group === null
      ? undefined
      : {
          index,
          ceremonyId: leaf.ceremonyId,
          group: b.group.name,
          epoch: epoch.epoch,
          publicKeyPackage: epoch.publicKeyPackage,
          derived: report.keyPackage === 'derived',
          ...(epoch.keyCeremony === undefined ? {} : { keyCeremony: epoch.keyCeremony.ceremonyId }),
        };
  return { bundle: b, verified: { facts: signingFacts(leaf, index, entries) ?? null, keyState } };
}

function bodyOf(note: string): string {
  const blank = note.indexOf('\n\n');
  return blank < 0 ? note : note.slice(0, blank + 1);
}

function equal(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
