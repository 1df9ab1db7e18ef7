// Offline verification of one ceremony (`conclave audit ID|BUNDLE`). A bundle is what the
// coordinator stored — the transcript (every signed envelope, in order), the member registry
// operations signed by the admin key, the group's key epochs, the log leaf with its inclusion
// proof and checkpoint — and the verifier trusts none of it: it re-checks every signature against
// the registry as of that time, rebuilds every message and FROST signing package itself from the
// approved request, checks each signer's acknowledgement names those packages (so an equivocating
// coordinator is proven), re-verifies every share (culprits), recomputes every aggregate, and
// checks the statement lists exactly the approvers and the ceremony is in the log. A hotfix's
// bundle also carries its governance leaves (flagged unratified), each checked under the
// coordinator key and proven into the same checkpoint.
// What stays the coordinator's word (docs/audit.md "What a verified bundle does not prove"): the
// group's key epochs — roster, threshold and public key package — are unsigned, so culprits are
// proven under the package the bundle carries unless the auditor pins one (a member's share);
// the checkpoint is signed by the coordinator's log key, and only pinned witnesses add more.
import {
  ed25519 as frost,
  type PublicKeyPackage,
  type SignatureShare,
  type SigningCommitments,
  type SigningPackage,
  sha256,
} from '@conclave/frost';
import {
  CeremonyIdSchema,
  IdentityKeyHexSchema,
  TimestampSchema,
  bytesToHex,
  canonicalJson,
  hexToBytes,
  openEnvelope,
  requestDigest,
  publicKeyPackageHash,
  sessionPackagesBytes,
  verifyDkgConfirmation,
  verifyPackageAck,
  type SignRequest,
} from '@conclave/protocol';
import {
  STATEMENT_JOB,
  buildStatement,
  pae,
  DSSE_PAYLOAD_TYPE,
  needsArtifactBytes,
  planMessages,
  statementBytes,
  statementDigest,
  verifyInclusion,
  type StatementContext,
} from '@conclave/release';
import * as z from 'zod';
import { decodeBase64 } from './base64.js';
import { openCheckpoint, type SignedCheckpoint } from './checkpoint.js';
import { verifyCosignature } from './cosignature.js';
import { AuditError } from './errors.js';
import { verifyGovernanceEntry, type OverdueHotfix } from './governance.js';
import { dkgStartProblems, keyStartProblems } from './key-authorization.js';
import { keyPackageInconsistency } from './key-package.js';
import { bodiesOf, samePackage, verifyKeyTranscript, type At } from './key-transcript.js';
import {
  LEAF_MAX_BYTES,
  TranscriptEntrySchema,
  decodeLeaf,
  logLeafHash,
  transcriptDigest,
  type LogLeaf,
  type TranscriptEntry,
} from './leaf.js';
import { hotfixDeadlines, overdueRecordProblems, signingFacts } from './hotfix-deadlines.js';
import { NOTE_MAX_BYTES, parseVerifierKey, type NoteVerifier } from './note.js';
import { replayRegistry, type Registry } from './registry.js';
import { Checks, type Report } from './report.js';
import { activationRefused, judgeKeyAbort, type KeyAt, type KeyCulprit } from './key-outcome.js';
import { finalMessage, outcomeVerdict, type Terminal } from './signing-outcome.js';

export const BUNDLE_FORMAT = 'conclave-audit-bundle/v1';

/** Where a signing bundle's public key package comes from (docs/audit.md). */
export type KeyPackageSource = 'pinned' | 'derived' | 'bundle';

const Hex = z
  .string()
  .regex(/^(?:[0-9a-f]{2})*$/)
  .max(200_000);
const Name = z.string().min(1).max(64);

const EpochSchema = z.strictObject({
  epoch: z.int().min(0),
  /** When this key state took effect (ms). */
  at: TimestampSchema,
  threshold: z.int().min(1).max(255),
  members: z.array(z.strictObject({ member: Name, identityKey: IdentityKeyHexSchema })).max(255),
  groupPublicKey: IdentityKeyHexSchema,
  publicKeyPackage: Hex,
  /** Unix seconds the group key was made (what OpenPGP key packets carry). */
  keyCreatedAt: z.int().min(0),
  /**
   * The key ceremony that made this key state (the DKG for epoch 0, a refresh or reshare for a
   * later one): its whole transcript, its log leaf and the proof into the bundle's checkpoint. A
   * signing bundle carries it for the epoch it ran under, so the public key package is derived
   * from the members' signed messages, not taken on the coordinator's word.
   */
  keyCeremony: z
    .strictObject({
      ceremonyId: CeremonyIdSchema,
      transcript: z.array(z.unknown()).max(100_000),
      /** Its `key` leaf and the proof into the signing bundle's checkpoint. */
      log: z.strictObject({
        index: z.int().min(0),
        leaf: z.string().max(LEAF_MAX_BYTES),
        inclusionProof: z.array(z.string().max(64)).max(64),
      }),
    })
    .optional(),
});

export const CeremonyBundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  ceremonyId: CeremonyIdSchema,
  kind: z.enum(['sign', 'key']),
  /** Keys the coordinator claims; pin them with the `registry` argument. */
  keys: z.strictObject({
    coordinator: IdentityKeyHexSchema,
    admin: IdentityKeyHexSchema,
    /** Log verifier key `origin+keyid+base64`. */
    log: z.string().max(512),
  }),
  group: z
    .strictObject({
      name: Name,
      epochs: z.array(EpochSchema).max(10_000),
    })
    .nullable(),
  /** Member registry operations (admin.member.add / .revoke), each with the time it was applied. */
  registry: z
    .array(
      z.strictObject({ scopeId: CeremonyIdSchema, at: TimestampSchema, envelope: z.unknown() }),
    )
    .max(100_000),
  transcript: z.array(z.unknown()).max(100_000),
  /** What the coordinator recorded as the result (checked against the transcript). */
  recorded: z.strictObject({
    state: z.string().max(64),
    culprits: z.array(Name).max(255),
  }),
  log: z
    .strictObject({
      index: z.int().min(0),
      size: z.int().min(1),
      leaf: z.string().max(LEAF_MAX_BYTES),
      checkpoint: z.string().max(NOTE_MAX_BYTES),
      inclusionProof: z.array(z.string().max(64)).max(64),
    })
    .nullable(),
  /**
   * Governance leaves naming this ceremony (a hotfix flagged unratified), each with its one-entry
   * transcript and an inclusion proof into `log.checkpoint`. Absent in bundles of older coordinators.
   */
  governance: z
    .array(
      z.strictObject({
        index: z.int().min(0),
        leaf: z.string().max(LEAF_MAX_BYTES),
        inclusionProof: z.array(z.string().max(64)).max(64),
        transcript: z.array(z.unknown()).max(16),
      }),
    )
    .max(16)
    .optional(),
});
export type CeremonyBundle = z.infer<typeof CeremonyBundleSchema>;

/** What the auditor pins (from their own records); anything not given is taken from the bundle. */
export interface BundleTrust {
  readonly coordinatorKey?: string;
  readonly adminKey?: string;
  /** Log verifier key (`origin+keyid+base64`). */
  readonly logKey?: string;
  /** The group key the auditor expects. */
  readonly groupPublicKey?: string;
  /**
   * The artifact files, by name, for content formats (raw, OpenPGP document signatures): their
   * messages are the artifact bytes, which a bundle does not carry. The caller checks the digests.
   */
  readonly artifactBytes?: (name: string) => Uint8Array;
  /**
   * A public key package the auditor trusts for one key epoch of the group (a member's share file,
   * opened with its passphrase): share checks of a ceremony under that epoch use it, and a bundle
   * carrying another package for the epoch is refused. Without it, culprits are proven only under
   * the package the bundle carries — the coordinator's word.
   */
  readonly publicKeyPackage?: { readonly epoch: number; readonly hex: string };
  /**
   * Witnesses the auditor trusts (c2sp.org/tlog-cosignature key name, Ed25519 public key hex):
   * every one must have cosigned the bundle's checkpoint. Without them the checkpoint proves only
   * that the coordinator's log key signed it.
   */
  readonly witnesses?: readonly { readonly name: string; readonly key: string }[];
}

export interface BundleReport extends Report {
  readonly ceremonyId: string | null;
  readonly kind: string | null;
  /** Who approved, in order (signing ceremonies), as the verified transcript shows it. */
  readonly approvers: readonly string[];
  /** Members proven to have sent an invalid share. */
  readonly culprits: readonly string[];
  /** Verified aggregate signatures by job. */
  readonly signatures: Readonly<Record<string, string>>;
  /** Verified governance records of this ceremony (a hotfix flagged unratified). */
  readonly governance?: readonly OverdueHotfix[];
  /**
   * Where the public key package the culprits were judged under came from: `pinned` (the
   * auditor's, e.g. a member's share), `derived` (from the members' signed messages of the key
   * ceremony that made it) or `bundle` (unsigned coordinator data).
   */
  readonly keyPackage?: KeyPackageSource;
  /**
   * Every share judged named that package's hash, signed in its envelope (protocol 3): each
   * signer vouched for the verifying shares its share was judged under, whatever `keyPackage` is.
   * False for a transcript from before protocol 3 (or with no share to judge).
   */
  readonly keyPackageSigned?: boolean;
  /**
   * An aborted key ceremony's culprits (its dkg.abort), each with what the transcript shows
   * against it (key-outcome.ts); present only when the check "key ceremony culprits judged" passed.
   */
  readonly keyCulprits?: readonly KeyCulprit[];
  /** Signers who declined a session's package (a signed `round2.decline`): never culprits. */
  readonly declines?: readonly {
    readonly member: string;
    readonly session: number;
    readonly code: string;
    readonly reason: string;
  }[];
  /** The group key the checks verified (the epoch's for a signing ceremony; the confirmed one). */
  readonly groupPublicKey?: string;
  /** The statement digest and policy of the statement the checks rebuilt and verified. */
  readonly statementDigest?: string;
  readonly policyId?: string;
  /** Pinned witnesses whose cosignature on the checkpoint verified. */
  readonly witnessedBy?: readonly string[];
}

/** What the checks establish, filled in as they pass. */
interface Result {
  ceremonyId: string | null;
  kind: string | null;
  approvers: string[];
  culprits: string[];
  signatures: Record<string, string>;
  governance: OverdueHotfix[];
  declines: { member: string; session: number; code: string; reason: string }[];
  witnessedBy: string[];
  keyPackage?: KeyPackageSource;
  keyPackageSigned?: boolean;
  keyCulprits?: KeyCulprit[];
  groupPublicKey?: string;
  statementDigest?: string;
  policyId?: string;
}

const MAX_LISTED = 8;
const list = (xs: readonly (string | number)[]): string =>
  xs.length <= MAX_LISTED
    ? xs.join(', ')
    : `${xs.slice(0, MAX_LISTED).join(', ')} and ${xs.length - MAX_LISTED} more`;

/**
 * Verifies a ceremony bundle (any JSON value: it is parsed here). Never throws on hostile input:
 * what the verifier cannot read ends in a failed check (a throw would reach the CLI as INTERNAL).
 */
export function verifyCeremonyBundle(input: unknown, trust: BundleTrust = {}): BundleReport {
  const result: Result = {
    ceremonyId: null,
    kind: null,
    approvers: [],
    culprits: [],
    signatures: {},
    governance: [],
    declines: [],
    witnessedBy: [],
  };
  const checks = new Checks();
  try {
    verifyBundleInto(input, trust, checks, result);
  } catch (e) {
    checks.fail(
      'bundle well formed',
      e instanceof AuditError ? e.code : 'BUNDLE_MALFORMED',
      'the bundle holds a value the verifier cannot read; nothing it says is proven',
    );
  }
  return { ...checks.report(), ...result };
}

function verifyBundleInto(
  input: unknown,
  trust: BundleTrust,
  checks: Checks,
  result: Result,
): void {
  const parsed = CeremonyBundleSchema.safeParse(input);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path.join('.') ?? '';
    checks.fail(
      'bundle well formed',
      'BUNDLE_MALFORMED',
      `not a ceremony bundle (at ${path || 'top'})`,
    );
    return;
  }
  const b = parsed.data;
  result.ceremonyId = b.ceremonyId;
  result.kind = b.kind;
  const entries: TranscriptEntry[] = [];
  const badEntries: number[] = [];
  b.transcript.forEach((raw, i) => {
    const e = TranscriptEntrySchema.safeParse(raw);
    if (e.success) entries.push(e.data);
    else badEntries.push(i);
  });
  checks.add(
    'bundle well formed',
    badEntries.length === 0,
    'BUNDLE_MALFORMED',
    `${b.transcript.length} transcript entries parse`,
    `transcript entries ${list(badEntries)} are not valid envelopes`,
  );

  // Pinned keys.
  const mismatched: string[] = [];
  if (trust.coordinatorKey !== undefined && trust.coordinatorKey !== b.keys.coordinator) {
    mismatched.push('coordinator');
  }
  if (trust.adminKey !== undefined && trust.adminKey !== b.keys.admin) mismatched.push('admin');
  if (trust.logKey !== undefined && trust.logKey !== b.keys.log) mismatched.push('log');
  const pinned = [trust.coordinatorKey, trust.adminKey, trust.logKey].filter(
    (k) => k !== undefined,
  );
  checks.add(
    'keys pinned',
    mismatched.length === 0,
    'NOTE_KEY_INVALID',
    pinned.length === 3
      ? 'coordinator, admin and log keys are the pinned ones'
      : `${pinned.length} of 3 keys pinned; the others are taken from the bundle`,
    `the bundle's ${mismatched.join(', ')} key differs from the pinned one`,
  );

  // Member registry as of each time, from admin-signed operations (registry.ts).
  const adminKey = hexToBytes(b.keys.admin, 32);
  const registry = replayRegistry(b.registry, adminKey);
  checks.add(
    'registry signed by the admin key',
    registry.unsigned.length === 0,
    'BAD_ENVELOPE_SIGNATURE',
    `${b.registry.length} member registry operations verify under the admin key`,
    `registry operations ${list(registry.unsigned)} do not verify under the admin key`,
  );
  checks.add(
    'registry replayed once, in the admin’s order',
    registry.replayed.length === 0,
    'REGISTRY_REPLAYED',
    'every operation appears once; each name is added once and revoked at most once after it, in the order of the admin’s signed times',
    `${list(registry.replayed)}: the coordinator served operations again or out of order (the admin signs each once)`,
  );
  const coordinatorKey = hexToBytes(b.keys.coordinator, 32);
  const keyAt = (sender: string, at: number, seq: number): Uint8Array | undefined => {
    if (sender === 'coordinator') return coordinatorKey;
    if (sender === 'admin') return adminKey;
    return registry.keyAt(sender, at, seq);
  };

  // Order and sequence.
  const orderProblems: string[] = [];
  entries.forEach((e, i) => {
    if (e.idx !== i) orderProblems.push(`entry ${i} has index ${e.idx}`);
    if (i > 0 && e.at < (entries[i - 1] as TranscriptEntry).at)
      orderProblems.push(`entry ${i} goes back in time`);
    if (e.envelope.ceremonyId !== b.ceremonyId)
      orderProblems.push(`entry ${i} belongs to another ceremony`);
    if (e.envelope.sender !== e.sender) orderProblems.push(`entry ${i} names another sender`);
    if ((e.direction === 'out') !== (e.sender === 'coordinator')) {
      orderProblems.push(`entry ${i} has the wrong direction`);
    }
  });
  const lastSeq = new Map<string, number>();
  entries.forEach((e, i) => {
    const prev = lastSeq.get(e.sender);
    if (prev !== undefined && e.envelope.seq <= prev)
      orderProblems.push(`entry ${i} repeats a sequence number`);
    lastSeq.set(e.sender, e.envelope.seq);
  });
  const opener = entries[0]?.envelope.body.type;
  const opens =
    b.kind === 'sign' ? opener === 'sign.request' : opener?.startsWith('admin.') === true;
  if (!opens) orderProblems.push('the first entry does not open the ceremony');
  checks.add(
    'transcript order',
    orderProblems.length === 0,
    'UNEXPECTED_MESSAGE',
    'indices contiguous, time and sequence numbers increasing, the ceremony opened by its first entry',
    list(orderProblems),
  );

  // Every envelope's signature, under the sender's key at that time: the recorded time and, for
  // members, the time the sender signed (registry.ts says which decides).
  const unsigned: number[] = [];
  for (const e of entries) {
    const opened = openEnvelope(e.envelope, (s) => keyAt(s, e.at, e.envelope.seq));
    if (!opened.ok) unsigned.push(e.idx);
  }
  checks.add(
    'envelope signatures',
    unsigned.length === 0 && entries.length > 0,
    'BAD_ENVELOPE_SIGNATURE',
    `all ${entries.length} envelopes verify under their sender's key at the time`,
    entries.length === 0
      ? 'no transcript'
      : `entries ${list(unsigned)} do not verify (edited, or the sender was not registered then: neither its recorded nor its signed time may fall after a revocation)`,
  );

  const epoch = epochInEffect(b, entries[0]?.at ?? 0);

  if (b.kind === 'sign') {
    verifySigning(b, entries, epoch, registry, trust, checks, result, keyAt, adminKey);
  } else {
    verifyKeyAuthorization(b, entries, adminKey, checks);
    const complete = entries.find((e) => e.envelope.body.type === 'dkg.complete');
    const state = b.recorded.state;
    const final = finalMessage<At<'dkg.complete'> | At<'dkg.abort'>>(entries, KEY_TERMINALS);
    const terminal = final.ok ? final.terminal : undefined;
    // The machine completes when every confirmation agrees; the coordinator may still refuse to
    // activate a key it cannot reproduce, and ends the ceremony with a dkg.abort naming nobody.
    const refusedActivation =
      state === 'completed' &&
      terminal?.envelope.body.type === 'dkg.abort' &&
      activationRefused(entries, terminal.envelope.body);
    checks.add(
      'outcome',
      refusedActivation || (complete !== undefined) === (state === 'completed'),
      'LOG_LEAF_MISMATCH',
      refusedActivation
        ? 'recorded as completed: every member confirmed the same key, and the coordinator refused to activate it (dkg.abort naming nobody), as it does with a key it cannot reproduce'
        : `recorded as ${state}, and the transcript agrees`,
      `recorded as ${state}, but the transcript ${complete === undefined ? 'has no' : 'has a'} dkg.complete`,
    );
    addFinalCheck(checks, final);
    if (terminal?.envelope.body.type === 'dkg.abort') {
      const verdict = judgeKeyAbort(b.ceremonyId, entries, terminal.envelope.body, keyAt);
      checks.add('key ceremony culprits judged', verdict.ok, 'OUTCOME_UNPROVEN', verdict.detail);
      if (verdict.ok) result.keyCulprits = [...verdict.culprits];
    }
    if (complete !== undefined) {
      const ok = verifyKeyConfirmations(
        b,
        entries,
        complete as At<'dkg.complete'>,
        trust,
        checks,
        keyAt,
      );
      if (ok) result.groupPublicKey = (complete as At<'dkg.complete'>).envelope.body.groupPublicKey;
      verifyKeyTranscript(b, entries, (complete as At<'dkg.complete'>).envelope.body, checks);
    }
  }

  result.witnessedBy = verifyInclusionInLog(b, entries, badEntries.length === 0, trust, checks);
  if (b.governance !== undefined && b.governance.length > 0) {
    result.governance = verifyBundleGovernance(b, b.governance, trust, checks);
    if (result.governance.length > 0)
      checkRecordsAgainstHotfix(b, entries, result.governance, checks);
  }
}

/**
 * A flag in a bundle is about this ceremony: it must be a completed hotfix, and each record must
 * name the policy version and deadline its own `sign.complete` gives (overdueRecordProblems; the
 * window is known here for version 0 only: a later version's policy is in its own ceremony, which
 * `conclave log verify --auditor-token` checks against).
 */
function checkRecordsAgainstHotfix(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  records: readonly OverdueHotfix[],
  checks: Checks,
): void {
  const name = 'governance records agree with the hotfix';
  let leaf: LogLeaf | undefined;
  try {
    leaf = b.log === null ? undefined : decodeLeaf(new TextEncoder().encode(b.log.leaf));
  } catch (e) {
    if (!(e instanceof AuditError)) throw e;
  }
  const facts = leaf === undefined ? undefined : signingFacts(leaf, 0, entries);
  const hotfix =
    leaf === undefined || facts?.class !== 'hotfix'
      ? undefined
      : hotfixDeadlines([leaf], [facts])[0];
  if (hotfix === undefined) {
    checks.fail(
      name,
      'GOVERNANCE_LEAF_MISMATCH',
      "the coordinator flagged this ceremony as an overdue hotfix, but it is not a completed hotfix of a policy version its group's leaf names",
    );
    return;
  }
  const problems = records.flatMap((r) => overdueRecordProblems(r, hotfix));
  checks.add(
    name,
    problems.length === 0,
    'GOVERNANCE_LEAF_MISMATCH',
    `the flag names policy version ${hotfix.policyVersion} and a deadline ${
      hotfix.policyVersion === 0
        ? `of completion + ${Math.round(hotfix.windowMs / 3_600_000)} h`
        : 'after completion and within the longest window a policy may set'
    }, and was logged after it`,
    `the coordinator's flag does not agree with the hotfix's own completion: ${problems.join('; ')}`,
  );
}

const KEY_TERMINALS: readonly string[] = ['dkg.complete', 'dkg.abort'];

/** The check "one final message, last" (signing-outcome.ts finalMessage). */
function addFinalCheck(checks: Checks, final: ReturnType<typeof finalMessage>): void {
  checks.add(
    'one final message, last',
    final.ok,
    'UNEXPECTED_MESSAGE',
    final.ok
      ? final.terminal === undefined
        ? 'no final envelope (the ceremony is not closed)'
        : `entry ${final.terminal.idx} (${final.terminal.envelope.body.type}) ends the transcript, and is its only final envelope`
      : '',
    final.ok ? '' : final.problem,
  );
}

/**
 * The admin-signed authorization a key ceremony's start carries (key-authorization.ts): the
 * roster, threshold and group the members worked with are the admin's, not the coordinator's.
 */
function verifyKeyAuthorization(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  adminKey: Uint8Array,
  checks: Checks,
): void {
  const dkgStart = bodiesOf(entries, 'dkg.start')[0]?.envelope.body;
  const keyStart = bodiesOf(entries, 'key.start')[0]?.envelope.body;
  const problems =
    dkgStart !== undefined
      ? dkgStartProblems(b.ceremonyId, dkgStart, adminKey)
      : keyStart !== undefined
        ? keyStartProblems(b.ceremonyId, keyStart, adminKey)
        : ['no dkg.start or key.start is in the transcript'];
  checks.add(
    'key ceremony authorized by the admin',
    problems.length === 0,
    'KEY_CEREMONY_UNAUTHORIZED',
    dkgStart !== undefined
      ? `dkg.start carries the admin-signed admin.group.create of its group, roster of ${dkgStart.participants.length} and threshold ${dkgStart.threshold}`
      : `key.start (${keyStart?.kind ?? '?'}) carries the admin-signed operation that asked for it`,
    `${list(problems)}: the coordinator started a key ceremony the admin did not ask for`,
  );
}

/** Each governance leaf: its signed record (governance.ts), then its inclusion in the checkpoint. */
function verifyBundleGovernance(
  b: CeremonyBundle,
  parts: NonNullable<CeremonyBundle['governance']>,
  trust: BundleTrust,
  checks: Checks,
): OverdueHotfix[] {
  const name = 'governance records';
  const coordinatorKey = hexToBytes(b.keys.coordinator, 32);
  let cp: { size: number; root: Uint8Array } | undefined;
  try {
    if (b.log !== null)
      cp = openCheckpoint(b.log.checkpoint, parseVerifierKey(trust.logKey ?? b.keys.log));
  } catch (e) {
    if (!(e instanceof AuditError)) throw e;
  }
  const records: OverdueHotfix[] = [];
  const enc = new TextEncoder();
  for (const part of parts) {
    const bytes = enc.encode(part.leaf);
    let record: OverdueHotfix;
    try {
      const leaf = decodeLeaf(bytes);
      if (leaf.kind !== 'governance' || leaf.ceremonyId !== b.ceremonyId) {
        throw new AuditError('GOVERNANCE_LEAF_MISMATCH', 'not a governance leaf of this ceremony');
      }
      record = verifyGovernanceEntry(leaf, part.transcript, coordinatorKey);
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      checks.fail(name, e.code, `governance leaf ${part.index}: ${e.message}`);
      return records;
    }
    const proof = part.inclusionProof.map(decodeBase64);
    const included =
      cp !== undefined &&
      proof.every((p) => p !== undefined && p.length === 32) &&
      verifyInclusion(logLeafHash(bytes), part.index, cp.size, proof as Uint8Array[], cp.root);
    if (!included) {
      checks.fail(
        name,
        'LOG_PROOF_INVALID',
        `governance leaf ${part.index} is not proven into the signed checkpoint`,
      );
      return records;
    }
    records.push(record);
  }
  checks.pass(
    name,
    records
      .map(
        (r) =>
          `hotfix.overdue: ratify by ${new Date(r.ratifyBy).toISOString()}, flagged ${new Date(r.flaggedAt).toISOString()} (signed by the coordinator, in the checkpoint)`,
      )
      .join('; '),
  );
  return records;
}

/** Whether a log leaf is this ceremony's, with this outcome and exactly these entries' digest. */
function leafDescribes(
  leaf: ReturnType<typeof decodeLeaf>,
  c: {
    ceremonyId: string;
    kind: string;
    outcome: string;
    group: string | null;
    entries: readonly TranscriptEntry[];
  },
): boolean {
  return (
    leaf.ceremonyId === c.ceremonyId &&
    leaf.kind === c.kind &&
    leaf.outcome === c.outcome &&
    leaf.group === c.group &&
    leaf.entries === c.entries.length &&
    leaf.transcript === transcriptDigest(c.entries)
  );
}

/** An inclusion proof's base64 hashes (LOG_PROOF_INVALID for anything but 32 bytes each). */
function proofHashes(proof: readonly string[]): Uint8Array[] {
  return proof.map((p) => {
    const bytes = decodeBase64(p);
    if (bytes === undefined || bytes.length !== 32)
      throw new AuditError('LOG_PROOF_INVALID', 'bad proof hash');
    return bytes;
  });
}

/**
 * The transcript is the logged one, its leaf is in a checkpoint the log key signed, and every
 * witness the auditor pinned cosigned that checkpoint. Returns the witnesses that did.
 */
function verifyInclusionInLog(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  complete: boolean,
  trust: BundleTrust,
  checks: Checks,
): string[] {
  if (b.log === null) {
    checks.fail('in the log', 'LOG_LEAF_MISMATCH', 'the ceremony is not in the log (still open?)');
    return [];
  }
  const enc = new TextEncoder();
  const leafBytes = enc.encode(b.log.leaf);
  let digestOk = false;
  let leafDetail: string;
  try {
    const leaf = decodeLeaf(leafBytes);
    digestOk =
      complete &&
      leafDescribes(leaf, {
        ceremonyId: b.ceremonyId,
        kind: b.kind,
        outcome: b.recorded.state,
        group: b.group?.name ?? null,
        entries,
      });
    leafDetail = digestOk
      ? `leaf ${b.log.index} holds the digest of these ${entries.length} entries`
      : `leaf ${b.log.index} does not describe this ceremony and transcript: it changed after it was logged`;
  } catch {
    leafDetail = 'the log leaf is malformed';
  }
  checks.add('transcript matches its log leaf', digestOk, 'LOG_LEAF_MISMATCH', leafDetail);

  let logKey: NoteVerifier;
  try {
    logKey = parseVerifierKey(trust.logKey ?? b.keys.log);
  } catch {
    checks.fail('included in a signed checkpoint', 'NOTE_KEY_INVALID', 'the log key is malformed');
    return [];
  }
  let cp: SignedCheckpoint;
  try {
    cp = openCheckpoint(b.log.checkpoint, logKey);
    const proof = proofHashes(b.log.inclusionProof);
    const ok =
      cp.size === b.log.size &&
      verifyInclusion(logLeafHash(leafBytes), b.log.index, cp.size, proof, cp.root);
    const witnessed = (trust.witnesses ?? []).length > 0;
    checks.add(
      'included in a signed checkpoint',
      ok,
      'LOG_PROOF_INVALID',
      `leaf ${b.log.index} is in the tree of ${cp.size} signed by ${logKey.name}${
        witnessed ? '' : " — the coordinator's log key only: no witness cosignature was checked"
      }`,
      `the inclusion proof of leaf ${b.log.index} does not lead to the signed root of size ${cp.size}`,
    );
  } catch (e) {
    if (!(e instanceof AuditError)) throw e;
    checks.fail(
      'included in a signed checkpoint',
      e.code,
      `checkpoint or proof rejected: ${e.code}`,
    );
    return [];
  }
  return verifyWitnesses(cp, trust, checks);
}

/**
 * Each pinned witness (c2sp.org/tlog-cosignature) cosigned the checkpoint. A member's client
 * cosigns only a tree that extends what it saw (witness.ts), so a checkpoint it cosigned is one
 * history that member was shown, not merely one the coordinator's log key signed.
 */
function verifyWitnesses(cp: SignedCheckpoint, trust: BundleTrust, checks: Checks): string[] {
  const pinned = trust.witnesses ?? [];
  if (pinned.length === 0) return [];
  const verified: string[] = [];
  const missing: string[] = [];
  for (const w of pinned) {
    const ok = cp.signatures.some((sig) => {
      if (sig.name !== w.name) return false;
      try {
        verifyCosignature(sig, cp.body, w.name, hexToBytes(w.key, 32));
        return true;
      } catch (e) {
        if (e instanceof AuditError) return false;
        throw e;
      }
    });
    (ok ? verified : missing).push(w.name);
  }
  checks.add(
    'checkpoint cosigned by the pinned witnesses',
    missing.length === 0,
    'COSIGNATURE_INVALID',
    `cosigned by ${list(verified)}: they checked this tree extends what they saw`,
    `no valid cosignature by ${list(missing)} on the checkpoint (not witnessed yet, or forged): export the bundle again after they witness the log, or compare with their checkpoint`,
  );
  return verified;
}

type Epoch = z.infer<typeof EpochSchema>;

/** The group's key state in effect at `openedAt` (when a ceremony opened), as the bundle lists it. */
export function epochInEffect(b: CeremonyBundle, openedAt: number): Epoch | undefined {
  return b.group?.epochs
    .filter((x) => x.at <= openedAt)
    .sort((x, y) => y.at - x.at || y.epoch - x.epoch)[0];
}

/**
 * THREATS B24 (echo broadcast): a key ceremony is complete only when every member who must confirm
 * — the DKG roster of `dkg.start`, or the committee of a lifecycle `key.start` (a repair: the
 * helpers and the repaired member) — sent a `dkg.confirm` of the round-1 (lifecycle) hash and group
 * key that `dkg.complete` states, its signature over them (`dkgConfirmationBytes`) verifies under
 * the member's identity key, and `dkg.complete` lists exactly those confirmations. `dkg.complete`
 * is the coordinator's word: without this a coordinator could activate a key some member never
 * derived. The group key is also the pinned one, when given, and a lifecycle keeps its key.
 */
function verifyKeyConfirmations(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  complete: At<'dkg.complete'>,
  trust: BundleTrust,
  checks: Checks,
  keyAt: (sender: string, at: number, seq: number) => Uint8Array | undefined,
): boolean {
  const c = complete.envelope.body;
  const dkgStart = bodiesOf(entries, 'dkg.start')[0]?.envelope.body;
  const keyStart = bodiesOf(entries, 'key.start')[0]?.envelope.body;
  const confirmers =
    dkgStart !== undefined
      ? dkgStart.participants.map((p) => p.member)
      : keyStart === undefined
        ? undefined
        : keyStart.kind === 'repair'
          ? [...keyStart.dealers, keyStart.member ?? '']
          : keyStart.participants.map((p) => p.member);
  const problems: string[] = [];
  if (confirmers === undefined) {
    problems.push('no dkg.start or key.start names who must confirm');
  } else {
    const listed = new Map(c.confirmations.map((x) => [x.member, x.signature]));
    for (const m of confirmers) {
      const sent = entries.find(
        (e) => e.direction === 'in' && e.sender === m && e.envelope.body.type === 'dkg.confirm',
      ) as At<'dkg.confirm'> | undefined;
      if (sent === undefined) {
        problems.push(`${m} sent no dkg.confirm`);
        continue;
      }
      const mine = sent.envelope.body;
      if (mine.round1Hash !== c.round1Hash || mine.groupPublicKey !== c.groupPublicKey) {
        problems.push(`${m} confirmed another round-1 hash or group key than dkg.complete states`);
        continue;
      }
      const key = keyAt(m, sent.at, sent.envelope.seq);
      const signed =
        key !== undefined &&
        verifyDkgConfirmation(
          key,
          {
            ceremonyId: b.ceremonyId,
            member: m,
            round1Hash: hexToBytes(c.round1Hash, 32),
            groupPublicKey: hexToBytes(c.groupPublicKey, 32),
          },
          hexToBytes(mine.signature, 64),
        );
      if (!signed) problems.push(`${m}'s confirmation signature does not verify`);
      if (listed.get(m) !== mine.signature) {
        problems.push(`dkg.complete does not carry ${m}'s confirmation`);
      }
    }
    const strangers = [...listed.keys()].filter((m) => !confirmers.includes(m));
    if (strangers.length > 0) {
      problems.push(
        `dkg.complete lists confirmations by ${list(strangers)}, who were not to confirm`,
      );
    }
    if (
      keyStart !== undefined &&
      dkgStart === undefined &&
      c.groupPublicKey !== keyStart.groupPublicKey
    ) {
      problems.push('a lifecycle ceremony completed with another group key than it started with');
    }
  }
  checks.add(
    'every member confirmed the same key',
    problems.length === 0,
    'CONFIRMATION_MISMATCH',
    `${confirmers?.length ?? 0} members each signed round-1 hash ${c.round1Hash.slice(0, 16)}… and group key ${c.groupPublicKey.slice(0, 16)}…, as dkg.complete states`,
    list(problems),
  );
  const pinnedOk = trust.groupPublicKey === undefined || trust.groupPublicKey === c.groupPublicKey;
  if (trust.groupPublicKey !== undefined) {
    checks.add(
      'group key',
      pinnedOk,
      'WRONG_GROUP',
      `the completed group key ${c.groupPublicKey.slice(0, 16)}… is the pinned one`,
      'the completed group key is not the pinned one',
    );
  }
  return problems.length === 0 && pinnedOk;
}

/**
 * Whether the key ceremony a signing bundle carries for `epoch` made exactly its key state. It must
 * be the completed key ceremony the log holds: its whole transcript, hashed into a `key` leaf of
 * this group with outcome `completed`, in the tree of the signing bundle's own signed checkpoint
 * (so the coordinator cannot present an aborted ceremony, or one of another group, with a
 * dkg.complete it signed afterwards), ending with its one dkg.complete. Then the same checks as a
 * key bundle's (key-transcript.ts): every entry signed by its sender's key at the time, the admin's
 * authorization of its roster, every confirmer's signed confirmation of the round-1 hash and group
 * key, that hash recomputed from the signed round-1 packages, and the key state the round-1
 * commitments give (RFC 9591 Appendix C.2) — roster, threshold, group key and every verifying
 * share of `epoch`, the one epoch of that number the bundle lists.
 */
function derivedPackageProblem(
  b: CeremonyBundle,
  epoch: Epoch,
  keyCeremony: NonNullable<Epoch['keyCeremony']>,
  trust: BundleTrust,
  keyAt: KeyAt,
  adminKey: Uint8Array,
): { ok: true } | { ok: false; problem: string } {
  const fail = (problem: string) => ({ ok: false as const, problem });
  if ((b.group?.epochs ?? []).filter((e) => e.epoch === epoch.epoch).length !== 1)
    return fail(`the bundle lists epoch ${epoch.epoch} more than once`);
  const entries: TranscriptEntry[] = [];
  for (const [i, raw] of keyCeremony.transcript.entries()) {
    const e = TranscriptEntrySchema.safeParse(raw);
    if (!e.success) return fail(`its entry ${i} is not a transcript entry`);
    const x = e.data;
    if (
      x.idx !== i ||
      x.envelope.ceremonyId !== keyCeremony.ceremonyId ||
      x.envelope.sender !== x.sender
    )
      return fail(`its entry ${i} is out of place, or of another ceremony or sender`);
    if (!openEnvelope(x.envelope, (s) => keyAt(s, x.at, x.envelope.seq)).ok)
      return fail(`its entry ${i} does not verify under its sender's key at the time`);
    entries.push(x);
  }
  // The log: the leaf of this completed key ceremony, in the signing bundle's signed tree.
  const linked = keyCeremonyLogged(b, keyCeremony, entries, trust);
  if (linked !== undefined) return fail(linked);
  // A signing ceremony runs under a key state made before it opened, whose leaf the log holds
  // before its own: a key ceremony that completed later (a refresh keeps the group key) made
  // shares the signers did not hold, and must not be presented as the one they signed under.
  const openedAt = (b.transcript[0] as { at?: unknown } | undefined)?.at;
  if (
    b.log === null ||
    keyCeremony.log.index >= b.log.index ||
    typeof openedAt !== 'number' ||
    (entries.at(-1)?.at ?? Number.POSITIVE_INFINITY) > openedAt
  ) {
    return fail('it completed, or was logged, after this signing ceremony opened');
  }
  const final = finalMessage<At<'dkg.complete'> | At<'dkg.abort'>>(entries, KEY_TERMINALS);
  const complete = final.ok ? final.terminal : undefined;
  if (complete === undefined || complete.envelope.body.type !== 'dkg.complete')
    return fail('it does not end with one dkg.complete');
  const dkgStart = bodiesOf(entries, 'dkg.start')[0]?.envelope.body;
  const keyStart = bodiesOf(entries, 'key.start')[0]?.envelope.body;
  const made =
    dkgStart !== undefined
      ? {
          group: dkgStart.group,
          epoch: 0,
          threshold: dkgStart.threshold,
          roster: dkgStart.participants,
        }
      : keyStart !== undefined && keyStart.kind !== 'repair'
        ? {
            group: keyStart.group,
            epoch: keyStart.toEpoch,
            threshold: keyStart.threshold,
            roster: keyStart.participants,
          }
        : undefined;
  if (made === undefined) return fail('it is neither a DKG nor a refresh or reshare');
  const rosterOf = (r: readonly { member: string; identityKey: string }[]) =>
    r
      .map((m) => `${m.member}=${m.identityKey}`)
      .sort()
      .join(',');
  if (
    made.group !== b.group?.name ||
    made.epoch !== epoch.epoch ||
    made.threshold !== epoch.threshold ||
    rosterOf(made.roster) !== rosterOf(epoch.members) ||
    complete.envelope.body.groupPublicKey !== epoch.groupPublicKey
  ) {
    return fail(
      `it made another group, epoch, roster, threshold or group key than epoch ${epoch.epoch}`,
    );
  }
  const scratch = new Checks();
  // The key checks look the epoch up by number: give them this one only.
  const ceremony: CeremonyBundle = {
    ...b,
    ceremonyId: keyCeremony.ceremonyId,
    kind: 'key',
    group: { name: b.group?.name ?? '', epochs: [epoch] },
    transcript: keyCeremony.transcript,
  };
  verifyKeyAuthorization(ceremony, entries, adminKey, scratch);
  verifyKeyConfirmations(ceremony, entries, complete as At<'dkg.complete'>, {}, scratch, keyAt);
  verifyKeyTranscript(ceremony, entries, complete.envelope.body, scratch);
  const failed = scratch.list.filter((c) => !c.ok);
  if (failed.length > 0) return fail(failed.map((c) => `${c.name}: ${c.code ?? ''}`).join('; '));
  // verifyKeyTranscript compared the derived key state with this epoch's record only if it found
  // it: require that it ran.
  if (!scratch.list.some((c) => c.name === 'key state from the round-1 commitments' && c.ok))
    return fail('its key state could not be derived');
  return { ok: true };
}

/**
 * Why `keyCeremony` is not the completed key ceremony of this group that the log holds in the
 * signing bundle's signed tree; undefined if it is.
 */
function keyCeremonyLogged(
  b: CeremonyBundle,
  keyCeremony: NonNullable<Epoch['keyCeremony']>,
  entries: readonly TranscriptEntry[],
  trust: BundleTrust,
): string | undefined {
  if (b.log === null)
    return 'the signing ceremony is not in the log, so its key ceremony cannot be tied to it';
  const leafBytes = new TextEncoder().encode(keyCeremony.log.leaf);
  try {
    const leaf = decodeLeaf(leafBytes);
    const described = leafDescribes(leaf, {
      ceremonyId: keyCeremony.ceremonyId,
      kind: 'key',
      outcome: 'completed',
      group: b.group?.name ?? null,
      entries,
    });
    if (!described) {
      return `its log leaf ${keyCeremony.log.index} is not this group's completed key ceremony with these entries`;
    }
    const cp = openCheckpoint(b.log.checkpoint, parseVerifierKey(trust.logKey ?? b.keys.log));
    const proof = proofHashes(keyCeremony.log.inclusionProof);
    if (!verifyInclusion(logLeafHash(leafBytes), keyCeremony.log.index, cp.size, proof, cp.root))
      return `its log leaf ${keyCeremony.log.index} is not in the signed tree of size ${cp.size}`;
  } catch (e) {
    if (e instanceof AuditError) return `its log leaf or proof is malformed (${e.code})`;
    throw e;
  }
  return undefined;
}

function verifySigning(
  b: CeremonyBundle,
  entries: readonly TranscriptEntry[],
  epoch: Epoch | undefined,
  registry: Registry,
  trust: BundleTrust,
  checks: Checks,
  result: Result,
  keyAt: KeyAt,
  adminKey: Uint8Array,
): void {
  const first = entries[0];
  if (first === undefined || first.envelope.body.type !== 'sign.request') return;
  const request = first.envelope.body as SignRequest;
  const requester = first.sender;
  if (epoch === undefined || b.group === null) {
    checks.fail(
      'group key',
      'WRONG_GROUP',
      'the bundle has no key state of the group for that time',
    );
    return;
  }
  const roster = new Map(epoch.members.map((m) => [m.member, m.identityKey]));
  const groupOk =
    request.group === b.group.name &&
    (trust.groupPublicKey === undefined || trust.groupPublicKey === epoch.groupPublicKey);
  let pub: PublicKeyPackage | undefined;
  try {
    pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(epoch.publicKeyPackage));
  } catch {
    pub = undefined;
  }
  const pubOk = pub !== undefined && bytesToHex(pub.verifyingKey) === epoch.groupPublicKey;
  checks.add(
    'group key',
    groupOk && pubOk,
    'WRONG_GROUP',
    `group ${b.group.name}, epoch ${epoch.epoch}, ${epoch.threshold}-of-${epoch.members.length}, key ${epoch.groupPublicKey.slice(0, 16)}…${
      trust.groupPublicKey === undefined ? ' (not pinned: taken from the bundle)' : ' (pinned)'
    }`,
    !groupOk
      ? 'the request names another group, or the group key is not the pinned one'
      : 'the public key package does not match the group key',
  );
  if (pub === undefined || !pubOk) return;
  if (groupOk) result.groupPublicKey = epoch.groupPublicKey;
  // The package is the coordinator's word: refuse it unless its verifying shares are those of the
  // roster and lie on one polynomial through the group key, before any share is judged against it;
  // and unless it is the package the auditor pinned for this epoch (a member's share), if any.
  const pinnedPackage =
    trust.publicKeyPackage !== undefined && trust.publicKeyPackage.epoch === epoch.epoch
      ? trust.publicKeyPackage.hex
      : undefined;
  // With the epoch's key ceremony in the bundle, the package must be the one the members' signed
  // messages of that ceremony give (a made-up package consistent with the group key would make
  // honest signers' genuine shares fail, and frame them).
  const derivation =
    epoch.keyCeremony === undefined
      ? undefined
      : derivedPackageProblem(b, epoch, epoch.keyCeremony, trust, keyAt, adminKey);
  const inconsistency =
    pinnedPackage !== undefined && !samePackage(pinnedPackage, epoch.publicKeyPackage)
      ? 'it is not the public key package of the pinned share for that epoch'
      : derivation !== undefined && !derivation.ok
        ? `its key ceremony ${epoch.keyCeremony?.ceremonyId ?? ''} does not give it (${derivation.problem})`
        : keyPackageProblem(pub, epoch);
  const packageSource: KeyPackageSource =
    pinnedPackage !== undefined ? 'pinned' : derivation?.ok === true ? 'derived' : 'bundle';
  checks.add(
    'public key package consistent',
    inconsistency === undefined,
    'INCONSISTENT_KEY_PACKAGE',
    `the ${epoch.members.length} members' verifying shares lie on one polynomial of degree ${epoch.threshold - 1} through the group key (RFC 9591 §4.2)${
      packageSource === 'pinned'
        ? `, and the package is the pinned one of epoch ${epoch.epoch}`
        : packageSource === 'derived'
          ? `, and the package is the one key ceremony ${epoch.keyCeremony?.ceremonyId ?? ''} made: derived from its members' signed round-1 packages and confirmations; that it completed before this ceremony rests on its log leaf${
              (trust.witnesses ?? []).length > 0
                ? ''
                : ", under the coordinator's log key only (pin witnesses to have members vouch for the tree)"
            }`
          : '; the package itself is the coordinator’s (unsigned: the bundle does not carry its key ceremony)'
    }`,
    `the public key package of epoch ${epoch.epoch} is refused: ${inconsistency ?? ''}. No share was judged against it and no member is blamed; get the group's public key package from its key ceremony's bundle or from a member's share file and compare`,
  );
  if (inconsistency !== undefined) return;
  result.keyPackage = packageSource;

  // Approvals.
  const digest = bytesToHex(requestDigest(b.ceremonyId, request));
  const approvals = bodiesOf(entries, 'sign.approve');
  const strangers = [requester, ...approvals.map((a) => a.sender)].filter((m) => !roster.has(m));
  const wrongDigest = approvals
    .filter((a) => a.envelope.body.requestDigest !== digest)
    .map((a) => a.sender);
  const approvers = [
    ...new Set(
      approvals.filter((a) => a.envelope.body.requestDigest === digest).map((a) => a.sender),
    ),
  ];
  result.approvers = approvers;
  checks.add(
    'approvals name this request',
    wrongDigest.length === 0 && strangers.length === 0,
    'STATEMENT_MISMATCH',
    `${approvers.length} approvals (${list(approvers)}) by group members, each naming request ${digest.slice(0, 16)}…`,
    strangers.length > 0
      ? `${list(strangers)} are not members of the group`
      : `approvals by ${list(wrongDigest)} name another request`,
  );

  // Commitments each member really sent, by phase.
  const sent = new Map<string, Set<string>>();
  const remember = (member: string, phase: number, commitments: readonly string[]) => {
    const key = `${member}/${phase}`;
    const set = sent.get(key) ?? new Set<string>();
    set.add(commitments.join(','));
    sent.set(key, set);
  };
  for (const a of approvals) remember(a.sender, 1, a.envelope.body.commitments);
  for (const r of bodiesOf(entries, 'sign.recommit'))
    remember(r.sender, r.envelope.body.phase, r.envelope.body.commitments);

  // Sessions, as the coordinator announced them.
  const packages = bodiesOf(entries, 'sign.package');
  const sessions = [...new Set(packages.map((p) => p.envelope.body.session))].sort((x, y) => x - y);
  const shares = bodiesOf(entries, 'round2.share');
  // A signer who refuses a session's package says so, signed (round2.decline): excluded without
  // blame by the coordinator, so never a timeout, never a culprit here.
  const declines = bodiesOf(entries, 'round2.decline');
  const equivocations: string[] = [];
  const rebuildProblems: string[] = [];
  const ackProblems: string[] = [];
  // Protocol 3: each session names H(the public key package it signs under), and each share the
  // one its sender signed with. The epoch's package must be that one, or no share is judged.
  const keyPackageHash = publicKeyPackageHash(hexToBytes(epoch.publicKeyPackage));
  const keyPackageProblems: string[] = [];
  let judgedShares = 0;
  let signedShares = 0;
  const invalid = new Set<string>();
  const timedOut = new Set<string>();
  const declined = new Set<string>();
  const aggregates = new Map<string, Uint8Array>();
  const messages = new Map<string, Uint8Array>();
  let aggregateFailures = 0;
  let completingSession: number | undefined;
  let completingSigners: readonly string[] = [];
  for (const session of sessions) {
    const copies = packages.filter((p) => p.envelope.body.session === session);
    const body = (copies[0] as At<'sign.package'>).envelope.body;
    const canonical = canonicalJson(body);
    const recipients = copies.map((c) => c.recipient ?? '');
    if (copies.some((c) => canonicalJson(c.envelope.body) !== canonical)) {
      equivocations.push(
        `session ${session}: the coordinator sent different packages to different signers`,
      );
    }
    if ([...body.signers].sort().join(',') !== [...recipients].sort().join(',')) {
      equivocations.push(`session ${session}: packages went to others than the named signers`);
    }
    if (body.publicKeyPackage !== undefined && body.publicKeyPackage !== keyPackageHash) {
      keyPackageProblems.push(
        `session ${session} signed under public key package ${body.publicKeyPackage.slice(0, 16)}…, not epoch ${epoch.epoch}'s (${keyPackageHash.slice(0, 16)}…)`,
      );
      continue;
    }
    // Declines of this session by its signers, each signer's first (the coordinator takes no second).
    const sessionDeclines = new Map<string, At<'round2.decline'>>();
    for (const d of declines) {
      if (d.envelope.body.session !== session || !body.signers.includes(d.sender)) continue;
      if (!sessionDeclines.has(d.sender)) sessionDeclines.set(d.sender, d);
    }
    // Rebuild every job's message and signing package from the approved request.
    const context: StatementContext = {
      ceremonyId: b.ceremonyId,
      group: b.group.name,
      groupPublicKey: epoch.groupPublicKey,
      requester,
      approvers: body.approvers.map((m) => ({ member: m, identityKey: roster.get(m) ?? '' })),
      policyId: body.policyId,
      issuedAt: body.issuedAt,
    };
    const previous = new Map<string, Uint8Array>();
    for (const p of body.previous) {
      const mine = aggregates.get(p.job);
      if (mine === undefined || bytesToHex(mine) !== p.signature) {
        rebuildProblems.push(
          `session ${session}: earlier signature of ${p.job} is not the one the quorum made`,
        );
      }
      previous.set(p.job, hexToBytes(p.signature, 64));
    }
    let planned: { id: string; message: Uint8Array }[];
    try {
      planned = planMessages(
        {
          release: request.release,
          context,
          keyCreatedAt: epoch.keyCreatedAt,
          ...(trust.artifactBytes === undefined ? {} : { artifactBytes: trust.artifactBytes }),
        },
        body.phase,
        previous,
      );
    } catch {
      rebuildProblems.push(
        needsArtifactBytes(request.release) && trust.artifactBytes === undefined
          ? `session ${session}: raw/OpenPGP sign the artifact bytes, which the bundle does not carry: give the artifact files (--artifact FILE), or the auditor token to download them`
          : `session ${session}: the request's messages cannot be rebuilt`,
      );
      continue;
    }
    if (planned.map((j) => j.id).join('\n') !== body.jobs.join('\n')) {
      rebuildProblems.push(`session ${session}: the jobs are not the ones the request asks for`);
      continue;
    }
    if (body.commitments.map((c) => c.member).join(',') !== body.signers.join(',')) {
      rebuildProblems.push(`session ${session}: commitments are not in signer order`);
      continue;
    }
    for (const c of body.commitments) {
      if (!sent.get(`${c.member}/${body.phase}`)?.has(c.commitments.join(','))) {
        rebuildProblems.push(`session ${session}: ${c.member}'s commitments are not ones it sent`);
      }
      if (!approvers.includes(c.member))
        rebuildProblems.push(`session ${session}: ${c.member} did not approve`);
    }
    let pkgs: SigningPackage[];
    try {
      pkgs = planned.map((job, i) => {
        const commitments: SigningCommitments[] = body.commitments.map((c) =>
          frost.decode.bytes('SigningCommitments', hexToBytes(c.commitments[i] ?? '')),
        );
        return frost.signingPackage(commitments, job.message);
      });
    } catch {
      rebuildProblems.push(`session ${session}: the commitments do not decode`);
      continue;
    }
    const encoded = pkgs.map((p) => frost.encode.bytes('SigningPackage', p));
    const hashes = encoded.map((e) => bytesToHex(sha256(e)));
    if (hashes.join(',') !== body.packageHashes.join(',')) {
      rebuildProblems.push(
        `session ${session}: the package hashes are not those of the rebuilt packages`,
      );
      continue;
    }
    // Acknowledgements and shares.
    const ackBytes = sessionPackagesBytes(encoded);
    const sessionShares = new Map<string, string[]>();
    // Shares made under another package than the session names: no evidence either way.
    const unjudged = new Set<string>();
    for (const s of shares.filter((x) => x.envelope.body.session === session)) {
      const key = s.sender;
      const identity = roster.get(key);
      if (
        identity === undefined ||
        !verifyPackageAck(
          hexToBytes(identity, 32),
          { ceremonyId: b.ceremonyId, session, member: key },
          ackBytes,
          s.envelope.body.ack,
        )
      ) {
        ackProblems.push(`session ${session}: ${key} acknowledged other packages`);
        // In the transcript, so not silent: never a timeout the coordinator could blame.
        if (body.signers.includes(key)) unjudged.add(key);
        continue;
      }
      if (!body.signers.includes(key) || sessionShares.has(key) || unjudged.has(key)) continue;
      if (s.envelope.body.publicKeyPackage !== body.publicKeyPackage) {
        // The coordinator refuses such a share (KEY_PACKAGE_MISMATCH) and an honest signer
        // declines instead: recorded, it means the recorded package is not the one sent.
        ackProblems.push(
          `session ${session}: ${key} signed its share under ${
            s.envelope.body.publicKeyPackage === undefined
              ? 'no named public key package'
              : `public key package ${s.envelope.body.publicKeyPackage.slice(0, 16)}…`
          }, not the one the session's package names`,
        );
        unjudged.add(key);
        continue;
      }
      judgedShares += 1;
      if (s.envelope.body.publicKeyPackage !== undefined) signedShares += 1;
      sessionShares.set(key, s.envelope.body.shares);
      const ok =
        s.envelope.body.shares.length === pkgs.length &&
        pkgs.every((pkg, i) => shareVerifies(key, s.envelope.body.shares[i] ?? '', pkg, pub));
      if (!ok) invalid.add(key);
    }
    for (const signer of body.signers) {
      if (sessionShares.has(signer) || unjudged.has(signer)) continue;
      const d = sessionDeclines.get(signer);
      if (d === undefined) {
        timedOut.add(signer);
        continue;
      }
      declined.add(signer);
      result.declines.push({
        member: signer,
        session,
        code: d.envelope.body.code,
        reason: d.envelope.body.reason,
      });
    }
    // Aggregate when every signer sent a valid share.
    if (body.signers.every((m) => sessionShares.has(m) && !invalid.has(m))) {
      try {
        pkgs.forEach((pkg, i) => {
          const job = planned[i] as { id: string; message: Uint8Array };
          const sig = frost.aggregate(
            pkg,
            body.signers.map((m) => shareOf(m, (sessionShares.get(m) as string[])[i] ?? '')),
            pub,
          ).bytes;
          if (!frost.verify(job.message, sig, pub.verifyingKey)) throw new Error('aggregate');
          aggregates.set(job.id, sig);
          messages.set(job.id, job.message);
        });
        completingSession = session;
        completingSigners = body.signers;
      } catch {
        aggregateFailures += 1;
        rebuildProblems.push(
          `session ${session}: the shares do not aggregate to a valid signature`,
        );
      }
    }
  }
  checks.add(
    'one package per session for every signer',
    equivocations.length === 0,
    'INCONSISTENT_VIEW',
    `${sessions.length} sessions; every signer of a session got the same package`,
    list(equivocations),
  );
  checks.add(
    'packages rebuilt from the approved request',
    rebuildProblems.length === 0,
    'STATEMENT_MISMATCH',
    `every job's message and FROST signing package rebuilt and hashed as the coordinator announced`,
    list(rebuildProblems),
  );
  checks.add(
    'sessions signed under the epoch’s key package',
    keyPackageProblems.length === 0,
    'INCONSISTENT_KEY_PACKAGE',
    namedSessionsDetail(
      sessions.length,
      sessions.filter(
        (x) =>
          packages.find((p) => p.envelope.body.session === x)?.envelope.body.publicKeyPackage !==
          undefined,
      ).length,
      keyPackageHash,
      epoch.epoch,
    ),
    `${list(keyPackageProblems)}: the bundle's epoch is not the one its signers were asked to sign under, so nothing of that session was judged against it and nobody of it is blamed`,
  );
  checks.add(
    'acknowledgements name the same packages',
    ackProblems.length === 0,
    'INCONSISTENT_VIEW',
    `${shares.length} signers' signed acknowledgements name the rebuilt packages`,
    list(ackProblems),
  );
  const keyPackageSigned = judgedShares > 0 && signedShares === judgedShares;
  result.keyPackageSigned = keyPackageSigned;
  verifyCulprits(
    b.recorded.culprits,
    invalid,
    timedOut,
    declined,
    { source: packageSource, signed: keyPackageSigned },
    epoch,
    checks,
  );
  result.culprits = [...invalid].sort();

  // The one final envelope, and the evidence the recorded state needs (signing-outcome.ts).
  const final = finalMessage(entries);
  addFinalCheck(checks, final);
  const terminal: Terminal | undefined = final.ok ? final.terminal : undefined;
  const laterEpoch = b.group.epochs.find(
    (x) => x.at > epoch.at && x.at <= (terminal?.at ?? Number.POSITIVE_INFINITY),
  )?.epoch;
  const verdict: ReturnType<typeof outcomeVerdict> = !final.ok
    ? {
        ok: false,
        code: 'OUTCOME_UNPROVEN',
        detail: `recorded as ${b.recorded.state}, but no single final envelope ends the transcript (see "one final message, last")`,
      }
    : outcomeVerdict({
        state: b.recorded.state,
        terminal,
        entries,
        requester,
        requestDigest: digest,
        roster: new Set(roster.keys()),
        threshold: epoch.threshold,
        recordedCulprits: b.recorded.culprits,
        invalid,
        timedOut,
        declined,
        revokedAt: (m) => registry.revokedAt(m),
        aggregateFailures,
        laterEpoch,
      });
  checks.add('outcome', verdict.ok, verdict.ok ? '' : verdict.code, verdict.detail);
  if (terminal === undefined || terminal.envelope.body.type !== 'sign.complete') return;
  verifyCompletion(
    b,
    terminal as At<'sign.complete'>,
    { group: b.group.name, request, requester, roster, approvers, epoch },
    { aggregates, messages, completingSession, completingSigners },
    checks,
    result,
  );
}

/**
 * Every recorded culprit sent an invalid share (proven under the public key package, above) or
 * none in a session it was sent a package for; a signer who declined (signed round2.decline) is
 * never one; and every proven invalid-share sender is recorded.
 */
function verifyCulprits(
  recordedCulprits: readonly string[],
  invalid: ReadonlySet<string>,
  timedOut: ReadonlySet<string>,
  declined: ReadonlySet<string>,
  keyPackage: { source: KeyPackageSource; signed: boolean },
  epoch: Epoch,
  checks: Checks,
): void {
  const proven = [...invalid].sort();
  const recorded = new Set(recordedCulprits);
  const unrecorded = proven.filter((m) => !recorded.has(m));
  const blamedDecliners = [...recorded].filter((m) => !invalid.has(m) && declined.has(m));
  const unproven = [...recorded].filter(
    (m) => !invalid.has(m) && !declined.has(m) && !timedOut.has(m),
  );
  // The share check is only as good as the verifying shares it uses (7a in docs/audit.md). A
  // package whose hash each sender signed with its share is the one it vouched for.
  const signed = keyPackage.signed ? ', whose hash each share’s sender signed with it' : '';
  const basis =
    keyPackage.source === 'pinned'
      ? `under the pinned public key package of epoch ${epoch.epoch}${signed}`
      : keyPackage.source === 'derived'
        ? `under the public key package of epoch ${epoch.epoch} derived from its key ceremony's signed messages${signed}`
        : keyPackage.signed
          ? `under the public key package of epoch ${epoch.epoch}${signed}`
          : `under the coordinator-supplied public key package of epoch ${epoch.epoch} (unsigned: compare it with a member's share, or pass one, before taking a culprit as proven)`;
  checks.add(
    'shares verified and culprits match',
    unrecorded.length === 0 && unproven.length === 0 && blamedDecliners.length === 0,
    'INVALID_SIGNATURE_SHARE',
    proven.length === 0
      ? `every share verifies (RFC 9591 §5.4) ${basis}; no culprit recorded without cause`
      : `invalid shares from ${list(proven)} ${basis}, all recorded as culprits`,
    unrecorded.length > 0
      ? `${list(unrecorded)} sent invalid shares but were not recorded as culprits`
      : blamedDecliners.length > 0
        ? `${list(blamedDecliners)} declined the package (signed round2.decline) but were recorded as culprits`
        : `${list(unproven)} were recorded as culprits with neither an invalid share nor a missed one`,
  );
}

/** What "sessions signed under the epoch's key package" says when it passes. */
function namedSessionsDetail(
  sessions: number,
  named: number,
  keyPackageHash: string,
  epoch: number,
): string {
  const name = `public key package ${keyPackageHash.slice(0, 16)}…, epoch ${epoch}'s`;
  const byTimes =
    'judged under the epoch in effect when the ceremony opened, by the recorded times';
  if (sessions === 0) return 'no signing session was opened';
  if (named === sessions) return `every session (${sessions}) names ${name}`;
  if (named === 0)
    return `no session names its public key package (packages built before protocol 3): ${byTimes}`;
  return `${named} of ${sessions} sessions name ${name}; the other ${sessions - named} (packages built before protocol 3) are ${byTimes}`;
}

/**
 * A completed ceremony: the released signatures are the aggregates of the shares, the statement
 * is the one rebuilt from the request and the approvals, and the signers are a quorum of them.
 */
function verifyCompletion(
  b: CeremonyBundle,
  complete: At<'sign.complete'>,
  ctx: {
    group: string;
    request: SignRequest;
    requester: string;
    roster: ReadonlyMap<string, string>;
    approvers: readonly string[];
    epoch: Epoch;
  },
  made: {
    aggregates: ReadonlyMap<string, Uint8Array>;
    messages: ReadonlyMap<string, Uint8Array>;
    completingSession: number | undefined;
    completingSigners: readonly string[];
  },
  checks: Checks,
  result: Result,
): void {
  const { group, request, requester, roster, approvers, epoch } = ctx;
  const state = b.recorded.state;
  const c = complete.envelope.body;
  const announced = new Map(c.signatures.map((s) => [s.job, s.signature]));
  const mismatch = [...announced].filter(([job, sig]) => {
    const mine = made.aggregates.get(job);
    return mine === undefined || bytesToHex(mine) !== sig;
  });
  const statementSig = announced.get(STATEMENT_JOB);
  const aggregateOk =
    mismatch.length === 0 &&
    announced.size > 0 &&
    statementSig === c.signature &&
    c.groupPublicKey === epoch.groupPublicKey &&
    made.completingSession !== undefined;
  for (const [job, sig] of made.aggregates) result.signatures[job] = bytesToHex(sig);
  checks.add(
    'aggregate signatures',
    aggregateOk && state === 'completed',
    'AGGREGATE_INVALID',
    `${announced.size} released signatures recomputed from the shares and verified under the group key`,
    mismatch.length > 0
      ? `released signatures of ${list(mismatch.map(([j]) => j))} are not what the shares aggregate to`
      : state !== 'completed'
        ? `a signature was released but the ceremony is recorded as ${state}`
        : c.groupPublicKey !== epoch.groupPublicKey
          ? 'sign.complete names another group key than the epoch’s'
          : 'the released signature is not the statement job’s aggregate',
  );

  // The statement lists exactly the approvers; the signers are a quorum of them, and exactly the
  // members whose shares made the released signature (the last session that aggregated, RFC 9591
  // §5.3): sign.complete is the coordinator's word, so it must not credit or blame anyone else.
  let statementOk = false;
  let digest: string | undefined;
  try {
    const statement = buildStatement(request.release, {
      ceremonyId: b.ceremonyId,
      group,
      groupPublicKey: epoch.groupPublicKey,
      requester,
      approvers: c.approvers.map((m) => ({ member: m, identityKey: roster.get(m) ?? '' })),
      policyId: c.policyId,
      issuedAt: c.issuedAt,
    });
    digest = statementDigest(statement);
    const signedStatement = made.messages.get(STATEMENT_JOB);
    statementOk =
      c.approvers.join(',') === approvers.join(',') &&
      c.statementDigest === digest &&
      signedStatement !== undefined &&
      equalBytes(signedStatement, pae(DSSE_PAYLOAD_TYPE, statementBytes(statement)));
  } catch {
    // A statement that cannot be built (an approver outside the roster has no key) is not it.
  }
  checks.add(
    'statement lists exactly the approvers',
    statementOk,
    'STATEMENT_MISMATCH',
    `the signed statement names ${list(c.approvers)} — the members whose approvals are in the transcript`,
    c.approvers.join(',') !== approvers.join(',')
      ? `the statement names ${list(c.approvers)} but the transcript has approvals by ${list(approvers)}`
      : 'the signed statement is not the one rebuilt from the request and approvals',
  );
  // Only what was checked goes into the report (the CLI prints these, never sign.complete's word).
  if (statementOk && aggregateOk && digest !== undefined) {
    result.statementDigest = digest;
    result.policyId = c.policyId;
  }
  const signers = c.signers;
  const sameSigners =
    [...signers].sort().join(',') === [...made.completingSigners].sort().join(',');
  const policyOk =
    sameSigners &&
    signers.length === epoch.threshold &&
    signers.every((m) => approvers.includes(m) && roster.has(m)) &&
    approvers.length >= epoch.threshold;
  checks.add(
    'quorum',
    policyOk,
    'INCORRECT_NUMBER_OF_COMMITMENTS',
    `${signers.length} signers (${list(signers)}), all approvers, threshold ${epoch.threshold}; policy ${c.policyId}`,
    sameSigners
      ? `signers ${list(signers)} are not ${epoch.threshold} of the approvers`
      : `sign.complete names signers ${list(signers)}, but the released signature was made by ${list(made.completingSigners)}`,
  );
}

/** Why `pub` cannot be epoch's public key package: shares not the roster's, or inconsistent. */
function keyPackageProblem(pub: PublicKeyPackage, epoch: Epoch): string | undefined {
  const expected = epoch.members.map((m) => frost.identifier.derive(m.member) as string).sort();
  const actual = Object.keys(pub.verifyingShares).sort();
  if (expected.join(',') !== actual.join(',')) {
    return `its verifying shares are not exactly those of the ${epoch.members.length} members of the epoch`;
  }
  return keyPackageInconsistency(pub, epoch.threshold);
}

function shareOf(member: string, hex: string): SignatureShare {
  return {
    suite: frost.suite.name,
    identifier: frost.identifier.derive(member),
    share: hexToBytes(hex, 32),
  };
}

function shareVerifies(
  member: string,
  hex: string,
  pkg: SigningPackage,
  pub: PublicKeyPackage,
): boolean {
  try {
    frost.verifySignatureShare(shareOf(member, hex), pkg, pub);
    return true;
  } catch {
    return false;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
