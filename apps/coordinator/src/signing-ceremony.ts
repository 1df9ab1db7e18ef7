// Signing ceremony, docs/ceremony-flow.md "Signing ceremony": request → approvals with round-1
// commitments (unique per group key, A.1) → sessions of exactly t signers (ROAST loop in the machine)
// → verified shares → aggregate, verified with Node's crypto and noble strict → signature stored
// with its statement in one transaction before `sign.complete` goes out (D.48).
import {
  decodeSigningCommitments,
  decodeSigningPackage,
  publicKeyPackageHashOf,
} from './decoded.js';
import {
  hintFor,
  type AggregateResult,
  type AggregateTask,
  type CommitmentsTask,
  type PrepareSharesTask,
  type VerifySharesTask,
} from './crypto-pool-tasks.js';
import { taskKey } from './crypto-pool.js';
import {
  signingMachine,
  signingPhase,
  type SigningContext,
  type SigningEffect,
  type SigningOutcome,
} from '@conclave/ceremony';
import { ed25519 as frost, type SigningCommitments, sha256 } from '@conclave/frost';
import {
  ADMIN_ID,
  MAX_JOBS,
  bytesToHex,
  hexToBytes,
  isErrorCode,
  verifyApproval,
  requestDigest,
  sessionPackagesBytes,
  verifyPackageAck,
  type Envelope,
  type ErrorCode,
  type Round2Decline,
  type Round2Share,
  type SignAborted,
  type SignCommitments,
  type SignRequest,
} from '@conclave/protocol';
import {
  CONTENT_FORMATS,
  STATEMENT_JOB,
  buildStatement,
  isFormatError,
  needsArtifactBytes,
  jobIdsFor,
  phaseCount,
  planMessages,
  rawContent,
  statementDigest,
} from '@conclave/release';
import { createActor } from 'xstate';
import {
  signingSnapshot,
  type CeremonyRunner,
  type FollowUp,
  type Incoming,
  type Live,
} from './ceremonies.js';
import {
  checkRequest,
  describeGap,
  machinePolicy,
  policyIdFor,
  recordCeremonyPolicy,
  recordSigned,
  supersededAborted,
} from './policy.js';
import { recordApprovalLatency } from './metrics.js';
import { identifierOf, refused } from './runtime.js';
import type { GroupRecord, SessionJob, SessionRecord } from './store.js';

/**
 * The policy id of ceremonies opened before policies existed. Every newer ceremony records the
 * policy it runs under, `<group>@v<version>` (policy.ts), and its statement names that.
 */
export const POLICY_ID = 'default';

const context = (live: Live): SigningContext => signingSnapshot(live).context;

function activeGroup(
  runner: CeremonyRunner,
  name: string,
): GroupRecord & {
  groupPublicKey: string;
  publicKeyPackage: string;
} {
  const group = runner.store.getGroup(name);
  if (
    group === undefined ||
    group.state !== 'active' ||
    group.groupPublicKey === null ||
    group.publicKeyPackage === null
  ) {
    throw refused('WRONG_GROUP', 'no active group of that name');
  }
  return group as GroupRecord & { groupPublicKey: string; publicKeyPackage: string };
}

/** What `sign.package` and `round2.share` name: H(the group's current public key package). */
const keyPackageHashOf = (group: { readonly publicKeyPackage: string }): string =>
  publicKeyPackageHashOf(group.publicKeyPackage);

/** Opens a signing ceremony from the requester's `sign.request` (round 0). */
export function openSigning(runner: CeremonyRunner, m: Incoming): void {
  const body = m.envelope.body as SignRequest;
  const group = activeGroup(runner, body.group);
  if (!group.members.some((x) => x.member === m.member)) {
    throw refused('FORBIDDEN', 'requester is not a member of the group');
  }
  if (runner.store.getCeremony(m.envelope.ceremonyId) !== undefined) {
    throw refused('DUPLICATE', 'ceremony id is taken');
  }
  if (needsArtifactBytes(body.release)) {
    // Content formats sign the artifact itself: the coordinator builds their packages from the
    // bytes members uploaded (PUT /v1/artifacts/<sha256>), and each signer checks them again.
    const missing = body.release.artifacts.filter(
      (a) => runner.deps.artifacts?.has(a.sha256) !== true,
    );
    if (missing.length > 0) {
      throw refused(
        'INVALID_MESSAGE',
        `formats ${CONTENT_FORMATS.join(' and ')} sign the artifact bytes themselves; upload ${missing.map((a) => a.name).join(', ')} first (\`conclave request\` does it) or request only the digest formats (sshsig, minisign, signify, dsse, sigstore, jws, git)`,
      );
    }
    // Raw signs the bytes as they are: refused now, not at the first session, when another
    // format would read them as its signed message (every signer refuses it again).
    if (body.release.formats.includes('raw')) {
      for (const a of body.release.artifacts) {
        const bytes = runner.deps.artifacts?.read(a.sha256);
        if (bytes === undefined) continue;
        try {
          rawContent(bytes, a.name);
        } catch (e) {
          if (isFormatError(e)) throw refused('INVALID_MESSAGE', e.message);
          throw e;
        }
      }
    }
  }
  let phases: number;
  try {
    phases = phaseCount(body.release);
  } catch (e) {
    if (isFormatError(e)) throw refused('INVALID_MESSAGE', e.message);
    throw e;
  }
  for (let phase = 1; phase <= phases; phase++) {
    const jobs = jobIdsFor(body.release, phase).length;
    if (jobs > MAX_JOBS) {
      throw refused(
        'INVALID_MESSAGE',
        `phase ${phase} of this request has ${jobs} signing jobs (formats × artifacts); the limit is ${MAX_JOBS}: request fewer formats, or sign a batch manifest or the signify checksum list`,
      );
    }
  }
  // The group's policy (docs/policy.md): who may request what, and the approvals a session needs.
  const policy = checkRequest(runner, group, m.member, m.envelope.ceremonyId, body.release);
  const { policy: approvalRule, roles } = machinePolicy(policy);
  const now = runner.now();
  const actor = createActor(signingMachine, {
    input: {
      ceremonyId: m.envelope.ceremonyId,
      group: { members: group.members.map((x) => x.member), threshold: group.threshold, roles },
      statementDigest: bytesToHex(requestDigest(m.envelope.ceremonyId, body)),
      createdAt: now,
      approvalDeadline: now + policy.rule.approvalTimeoutMs,
      sessionTimeoutMs: policy.rule.sessionTimeoutMs,
      phases,
      policy: approvalRule,
    },
  }).start();
  runner.create('sign', group.name, actor as never, m, () =>
    recordCeremonyPolicy(runner, m.envelope.ceremonyId, group.name, policy, body.release),
  );
}

function commitmentsTask(member: string, hexes: readonly string[]): CommitmentsTask {
  return { kind: 'commitments', member, commitments: hexes };
}

/** A signer's shares against the session's packages (hints added by withPackageHints). */
function sharesTask(
  member: string,
  group: { readonly publicKeyPackage: string },
  record: SessionRecord,
  share: Round2Share,
): VerifySharesTask {
  return {
    kind: 'verifyShares',
    member,
    publicKeyPackage: group.publicKeyPackage,
    signingPackages: record.jobs.map((j) => j.signingPackage),
    shares: share.shares,
  };
}

/** A new session's share checks, precomputed on the ceremony's worker (crypto-pool-tasks.ts). */
function prepareTask(
  group: { readonly publicKeyPackage: string },
  record: SessionRecord,
): PrepareSharesTask {
  return {
    kind: 'prepareShares',
    publicKeyPackage: group.publicKeyPackage,
    signingPackages: record.jobs.map((j) => j.signingPackage),
  };
}

/** The packages' hints, computed only for a run that is actually started (CryptoRuns). */
const withPackageHints = (task: VerifySharesTask): VerifySharesTask => ({
  ...task,
  hints: task.signingPackages.map((p) => hintFor(p)),
});

type SessionView = SigningContext['sessions'][number];
type SharesBy = { readonly member: string; readonly shares: readonly string[] };

/** A session's shares aggregated job by job (hints added by withAggregateHints). */
function aggregateTask(
  group: { readonly publicKeyPackage: string },
  record: SessionRecord,
  shares: readonly SharesBy[],
): AggregateTask {
  return {
    kind: 'aggregate',
    publicKeyPackage: group.publicKeyPackage,
    jobs: record.jobs.map((j) => ({ job: j.job, signingPackage: j.signingPackage })),
    shares,
  };
}

const withAggregateHints = (task: AggregateTask): AggregateTask => ({
  ...task,
  jobs: task.jobs.map((j) => ({ ...j, hint: hintFor(j.signingPackage) })),
});

/** The shares of `session` in the transcript, each participant's first: what it aggregates. */
const storedShares = (runner: CeremonyRunner, live: Live, session: SessionView): SharesBy[] =>
  runner
    .firstIncoming(live.id, 'round2.share', (body) => body.session === session.index)
    .filter((e) => session.participants.includes(e.sender))
    .map((e) => ({ member: e.sender, shares: e.body.shares }));

/** `member`'s share is the one the open session still waits for: it completes the session. */
const completesSession = (session: SessionView, member: string): boolean =>
  session.status === 'open' &&
  session.participants.includes(member) &&
  !session.shares.includes(member) &&
  session.shares.length === session.participants.length - 1;

/**
 * The aggregation a completing share was checked by (see the round2.share handler), for the
 * `aggregate` effect to apply at once (aggregateEarly) instead of running it again: the same task
 * (`key`), so the same result. Consulted once, by that effect.
 */
const aggregatedEarly = new WeakMap<
  Live,
  { readonly key: string; readonly result: AggregateResult }
>();

/**
 * The aggregation that checks the share completing `session`: the stored shares (each verified
 * when it arrived) and this one. If the aggregate verifies, so does this share: z·G = R + c·PK and
 * every other z_i·G = R_i + c·λ_i·PK_i give z_j·G = R_j + c·λ_j·PK_j for the last one
 * (RFC 9591 §5.3 verifies the aggregate; §5.4 checks shares one by one to find who misbehaved).
 */
function completingTask(
  runner: CeremonyRunner,
  live: Live,
  session: SessionView,
  group: { readonly publicKeyPackage: string },
  record: SessionRecord,
  member: string,
  share: Round2Share,
): AggregateTask | undefined {
  const stored = storedShares(runner, live, session);
  if (stored.length !== session.participants.length - 1) return undefined;
  if (stored.some((x) => !session.shares.includes(x.member))) return undefined;
  return aggregateTask(group, record, [...stored, { member, shares: share.shares }]);
}

/**
 * Starts the pool work an opened envelope will need (commitment checks of an approval or
 * recommit, share checks of a round-2 share) before it waits for the ceremony's turn; the handler
 * then takes the running result (CryptoRuns). Only for what its turn could plausibly accept: a
 * live signing ceremony, a participant of an existing session, one share per job. Returns the
 * key to forget once the envelope was handled.
 */
export function prefetchSigningCrypto(
  runner: CeremonyRunner,
  member: string,
  envelope: Envelope,
): string | undefined {
  const live = runner.live.get(envelope.ceremonyId);
  if (live === undefined || live.kind !== 'sign') return undefined;
  const body = envelope.body;
  if (body.type === 'sign.approve' || body.type === 'sign.recommit') {
    if (!context(live).group.members.includes(member)) return undefined;
    return runner.crypto.prefetch(commitmentsTask(member, body.commitments), live.id);
  }
  if (body.type === 'round2.share') {
    const share = body as Round2Share;
    const session = context(live).sessions.find((s) => s.index === share.session);
    if (session === undefined || !session.participants.includes(member)) return undefined;
    const record = runner.store.getSession(live.id, share.session);
    if (record === undefined || share.shares.length !== record.jobs.length) return undefined;
    const group = activeGroup(runner, live.group);
    const completing = completesSession(session, member)
      ? completingTask(runner, live, session, group, record, member, share)
      : undefined;
    if (completing !== undefined) {
      return runner.crypto.prefetch(completing, live.id, withAggregateHints);
    }
    return runner.crypto.prefetch(
      sharesTask(member, group, record, share),
      live.id,
      withPackageHints,
    );
  }
  return undefined;
}

/**
 * Decodes round-1 commitments and checks they are the authenticated member's (A.11, A.17). The
 * element checks (on the curve, not the identity, prime-order subgroup: RFC 9591 §3.1) run on the
 * crypto pool; the decoded commitments are remembered here, so building the session's signing
 * package does not repeat them on the event loop.
 */
async function decodeCommitments(
  runner: CeremonyRunner,
  ceremonyId: string,
  member: string,
  hexes: readonly string[],
): Promise<string[]> {
  const checked = await runner.crypto.run(commitmentsTask(member, hexes), ceremonyId);
  if (!checked.ok) throw refused(checked.code as ErrorCode, checked.message);
  return checked.commitments.map((x) => {
    if (x.identifier !== identifierOf(member)) {
      throw refused('IDENTIFIER_MISMATCH', 'commitment identifier is not the sender’s');
    }
    const c: SigningCommitments = Object.freeze({
      suite: frost.suite.name,
      identifier: x.identifier as SigningCommitments['identifier'],
      hiding: hexToBytes(x.hiding),
      binding: hexToBytes(x.binding),
    });
    const canonical = bytesToHex(frost.encode.bytes('SigningCommitments', c));
    if (canonical !== x.hex) {
      throw refused('INVALID_MESSAGE', 'commitment is not canonically encoded');
    }
    decodeSigningCommitments.remember(canonical, c);
    return canonical;
  });
}

/** The id the machine knows a bundle by: SHA-256 of its canonical commitments, in order. */
export function bundleIdOf(commitments: readonly string[]): string {
  return bytesToHex(sha256(new TextEncoder().encode(commitments.join(','))));
}

function releaseOf(live: Live): SignRequest['release'] {
  const request = live.request;
  if (request === null) throw refused('STORAGE_UNAVAILABLE', 'request missing');
  return (request.body as SignRequest).release;
}

/**
 * Handles one verified signing-ceremony envelope. Runs in the ceremony's queue
 * (CeremonyRunner.serial); approvals and shares wait on the crypto pool and return a promise, and
 * repeat their state checks after it: the ceremony is only ever changed by runner.apply (check,
 * then commit, then answer).
 */
export function handleSigningMessage(
  runner: CeremonyRunner,
  live: Live,
  m: Incoming,
): void | Promise<void> {
  const body = m.envelope.body;
  const at = runner.now();
  const c = context(live);
  const group = activeGroup(runner, live.group);
  const groupKey = group.groupPublicKey;
  switch (body.type) {
    case 'sign.approve':
    case 'sign.recommit': {
      const phase = body.type === 'sign.approve' ? 1 : body.phase;
      // Cheap refusals first (no pool round trip for them), again after the pool answered.
      const precheck = () => {
        const now = context(live);
        if (body.type === 'sign.approve' && body.requestDigest !== now.statementDigest) {
          throw refused('STATEMENT_MISMATCH', 'approval is for another request');
        }
        if (phase !== now.phase) {
          throw refused(
            'UNEXPECTED_MESSAGE',
            `these commitments are for phase ${phase}; the ceremony is signing phase ${now.phase}`,
          );
        }
        const expected = jobIdsFor(releaseOf(live), phase).length;
        if (body.commitments.length !== expected) {
          throw refused(
            'INCORRECT_NUMBER_OF_COMMITMENTS',
            `phase ${phase} signs ${expected} jobs: send exactly one commitment per job`,
          );
        }
        // Accepted commitments are their canonical encodings, so this is the bundle's final id.
        runner.check(live, {
          type: body.type,
          member: m.member,
          commitment: bundleIdOf(body.commitments),
          at,
        });
      };
      precheck();
      return decodeCommitments(runner, live.id, m.member, body.commitments).then((commitments) => {
        precheck();
        const bundleId = bundleIdOf(commitments);
        const event = { type: body.type, member: m.member, commitment: bundleId, at };
        runner.check(live, event);
        if (commitments.some((x) => runner.store.hasCommitment(groupKey, x))) {
          throw refused('COMMITMENT_REUSED', 'commitment was already used for this group key');
        }
        if (body.type === 'sign.approve') checkApprovalSignature(group, live.id, m.member, body);
        runner.apply(live, event, {
          incoming: m,
          writes: () => {
            for (const x of commitments) {
              runner.store.recordCommitment(groupKey, x, live.id, m.member, at);
            }
            runner.store.putBundle({
              ceremonyId: live.id,
              bundleId,
              member: m.member,
              phase,
              commitments,
              at,
            });
          },
        });
        hintCommitments(runner, live);
        if (body.type === 'sign.approve') {
          runner.deps.metrics.approvals.inc();
          recordApprovalLatency(runner.deps.metrics, m.member, live.createdAt, at);
        }
      });
    }
    case 'sign.reject': {
      if (body.requestDigest !== c.statementDigest) {
        throw refused('STATEMENT_MISMATCH', 'rejection is for another request');
      }
      runner.apply(
        live,
        { type: 'sign.reject', member: m.member, reason: body.reason, at },
        { incoming: m },
      );
      return;
    }
    case 'round2.share': {
      const share = body as Round2Share;
      const sessionId = `${live.id}/s${share.session}`;
      const probe = { type: 'round2.share', member: m.member, sessionId, valid: true, at };
      runner.check(live, probe);
      const record = runner.store.getSession(live.id, share.session);
      if (record === undefined) throw refused('UNEXPECTED_MESSAGE', 'no package for that session');
      const key = runner.memberKey(m.member);
      const packageBytes = sessionPackagesBytes(
        record.jobs.map((j) => hexToBytes(j.signingPackage)),
      );
      const context = { ceremonyId: live.id, session: share.session, member: m.member };
      if (key === undefined || !verifyPackageAck(key, context, packageBytes, share.ack)) {
        throw refused('BAD_ACK_SIGNATURE', 'package acknowledgement does not verify');
      }
      // The share names the key package it was made under, signed: an auditor judges it under
      // that one. Refused, not judged here: a share of another epoch is no evidence against its
      // sender that a third party could check, and an honest signer declines instead. The
      // group's current package is the session's (and what the share is checked under below): a
      // key change cancels the group's open signing ceremonies.
      if (share.publicKeyPackage !== keyPackageHashOf(group)) {
        throw refused(
          'KEY_PACKAGE_MISMATCH',
          share.publicKeyPackage === undefined
            ? "the share does not name the public key package it was made under: upgrade this member's conclave"
            : "the share was made under another public key package than the group's current one: this member's share is of another key epoch (see `conclave group show`)",
        );
      }
      // A signer is blamed for a share list of the wrong length as for a bad share: it is
      // authenticated, and it acknowledged the packages it answers.
      const alone = () =>
        runner.crypto.run(sharesTask(m.member, group, record, share), live.id, withPackageHints);
      const session = c.sessions.find((s) => s.index === share.session);
      const completing =
        share.shares.length === record.jobs.length &&
        session !== undefined &&
        completesSession(session, m.member)
          ? completingTask(runner, live, session, group, record, m.member, share)
          : undefined;
      // The share completing a session is checked by aggregating (the aggregate is needed next
      // anyway): one pool task on the way to sign.complete instead of two. On its own only when
      // the aggregate fails, to find whether it is the culprit.
      const verified =
        share.shares.length !== record.jobs.length
          ? Promise.resolve(false)
          : completing === undefined
            ? alone()
            : runner.crypto.run(completing, live.id, withAggregateHints).then((result) => {
                if (!result.ok) return alone();
                aggregatedEarly.set(live, { key: taskKey(completing), result });
                return true;
              });
      return verified.then((valid) => {
        runner.apply(live, { ...probe, valid }, { incoming: m });
        if (!valid) runner.deps.metrics.culprits.inc({ kind: 'invalid_share' });
      });
    }
    case 'round2.decline': {
      // Sent instead of a share: the session is abandoned now, not at its deadline, and the
      // signer is excluded without blame. Its words go to the status and the transcript.
      const decline = body as Round2Decline;
      runner.apply(
        live,
        {
          type: 'round2.decline',
          member: m.member,
          sessionId: `${live.id}/s${decline.session}`,
          detail: `${decline.code}: ${decline.reason}`,
          at,
        },
        { incoming: m },
      );
      runner.deps.metrics.declines.inc({ code: declineLabel(decline.code) });
      return;
    }
    case 'ceremony.cancel': {
      if (m.member !== ADMIN_ID && m.member !== live.request?.sender) {
        throw refused('FORBIDDEN', 'only the requester or the admin cancels a signing ceremony');
      }
      runner.apply(
        live,
        { type: 'ceremony.cancel', by: m.member, reason: body.reason, at },
        { incoming: m },
      );
      return;
    }
    default:
      throw refused('UNEXPECTED_MESSAGE', 'not a signing ceremony message');
  }
}

/**
 * The reference signer's own refusal codes (packages/client signer.ts, refuse()), which are not
 * protocol codes but are what an honest signer declines with most.
 */
const SIGNER_REFUSAL_CODES: ReadonlySet<string> = new Set(['SIGNING_REFUSED', 'REQUEST_INVALID']);

/**
 * A decline's code as the `code` label of conclave_declines_total. The member chooses it (the
 * schema checks only its form), and each new label value is a series Prometheus keeps for good:
 * a known code is kept, any other counts as OTHER (its words are in the status and transcript).
 */
function declineLabel(code: string): string {
  return isErrorCode(code) || SIGNER_REFUSAL_CODES.has(code) ? code : 'OTHER';
}

/** Every job signature of the ceremony's succeeded sessions (earlier phases). */
function earlierSignatures(runner: CeremonyRunner, live: Live): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const session of context(live).sessions) {
    if (session.status !== 'succeeded') continue;
    const record = runner.store.getSession(live.id, session.index);
    for (const [job, sig] of Object.entries(record?.signatures ?? {})) {
      out.set(job, hexToBytes(sig, 64));
    }
  }
  return out;
}

/** The group key's creation time in Unix seconds (OpenPGP key packets carry it). */
const keyCreatedAtOf = (group: GroupRecord): number => Math.floor(group.createdAt / 1000);

/**
 * An approval must carry the approver's own signature of it (`signApproval`), valid under the
 * identity key the group names for the authenticated sender: the signers see it in `sign.package`
 * and refuse a package whose approvers did not sign, so an approval without one could never be
 * signed under.
 */
function checkApprovalSignature(
  group: { readonly members: readonly { readonly member: string; readonly identityKey: string }[] },
  ceremonyId: string,
  member: string,
  body: { readonly requestDigest: string; readonly approval?: string | undefined },
): void {
  const key = group.members.find((x) => x.member === member)?.identityKey;
  if (body.approval === undefined) {
    throw refused(
      'BAD_APPROVAL_SIGNATURE',
      'the approval carries no approval signature: update conclave and approve again',
    );
  }
  if (
    key === undefined ||
    !verifyApproval(hexToBytes(key, 32), ceremonyId, member, body.requestDigest, body.approval)
  ) {
    throw refused(
      'BAD_APPROVAL_SIGNATURE',
      'the approval signature does not verify under your identity key for this ceremony and request',
    );
  }
}

/**
 * Each approver's approval signature, in `approvers` order, from their `sign.approve` in the
 * transcript. An approval recorded before approval signatures existed has none: its place holds
 * zeros, which no signer accepts (such a ceremony must be requested again).
 */
function approvalSignatures(runner: CeremonyRunner, live: Live, approvers: readonly string[]) {
  const byMember = new Map<string, string>();
  for (const e of runner.store.transcriptOfType(live.id, 'sign.approve')) {
    const body = e.envelope.body;
    if (e.direction === 'in' && body.type === 'sign.approve' && body.approval !== undefined) {
      byMember.set(e.sender, body.approval);
    }
  }
  return approvers.map((m) => byMember.get(m) ?? '0'.repeat(128));
}

function buildSession(
  runner: CeremonyRunner,
  live: Live,
  effect: Extract<SigningEffect, { kind: 'startSession' }>,
  index: number,
): SessionRecord {
  const c = context(live);
  const group = activeGroup(runner, live.group);
  const request = live.request;
  if (request === null) throw refused('STORAGE_UNAVAILABLE', 'request missing');
  const keyOf = (member: string): string =>
    group.members.find((x) => x.member === member)?.identityKey ?? '';
  // Later phases sign under phase 1's statement (same approvers and time): the minisign trusted
  // comment's timestamp and the statement the outputs name are one.
  const first = effect.phase > 1 ? firstPhaseRecord(runner, live) : undefined;
  const approvers =
    first?.approvers.map((a) => ({ ...a })) ??
    c.approvals.map((a) => ({ member: a.member, identityKey: keyOf(a.member) }));
  const issuedAt = first?.issuedAt ?? runner.now();
  const statementContext = {
    ceremonyId: live.id,
    group: live.group,
    groupPublicKey: group.groupPublicKey,
    requester: request.sender,
    approvers,
    policyId: policyIdFor(runner, live.id),
    issuedAt,
  };
  const release = releaseOf(live);
  const statement = buildStatement(release, statementContext);
  const planned = planMessages(
    {
      release,
      context: statementContext,
      keyCreatedAt: keyCreatedAtOf(group),
      artifactBytes: (name) => {
        const sha = release.artifacts.find((a) => a.name === name)?.sha256;
        const bytes = sha === undefined ? undefined : runner.deps.artifacts?.read(sha);
        if (bytes === undefined) throw refused('STORAGE_UNAVAILABLE', `artifact ${name} is gone`);
        return bytes;
      },
    },
    effect.phase,
    earlierSignatures(runner, live),
  );
  const bundles = effect.participants.map((p) => {
    const bundle = runner.store.getBundle(live.id, effect.commitments[p] ?? '');
    if (bundle === undefined || bundle.commitments.length !== planned.length) {
      throw refused('INTERNAL', `commitment bundle of ${p} is missing or of the wrong size`);
    }
    return bundle.commitments.map((hex) => decodeSigningCommitments(hex));
  });
  const jobs: SessionJob[] = planned.map((job, i) => {
    const pkg = frost.signingPackage(
      bundles.map((b) => b[i]!),
      job.message,
    );
    const pkgHex = bytesToHex(frost.encode.bytes('SigningPackage', pkg));
    decodeSigningPackage.remember(pkgHex, pkg);
    return { job: job.id, signingPackage: pkgHex };
  });
  const primary = jobs.find((j) => j.job === STATEMENT_JOB) ?? jobs[0];
  if (primary === undefined) throw refused('INTERNAL', 'a session with no jobs');
  return {
    ceremonyId: live.id,
    session: index,
    sessionId: effect.sessionId,
    signingPackage: primary.signingPackage,
    statement: JSON.parse(JSON.stringify(statement)) as Record<string, unknown>,
    statementDigest: statementDigest(statement),
    approvers,
    issuedAt,
    phase: effect.phase,
    jobs,
    signatures: null,
  };
}

/** The policy id the session's statement names (what the signers rebuild it with). */
function statementPolicyId(r: SessionRecord): string {
  const id = (r.statement['predicate'] as { policyId?: unknown } | undefined)?.policyId;
  return typeof id === 'string' ? id : POLICY_ID;
}

/** An ending the policy caused: the code and what was missing, for the requester and approvers. */
function policyEnding(
  outcome: Extract<SigningOutcome, { status: 'rejected' | 'expired' }>,
  policyId: string,
): { code: 'POLICY_ROLE_MISSING' | 'POLICY_QUORUM_NOT_MET'; message: string } | null {
  const gap = outcome.policy;
  if (gap === undefined) return null;
  const what = describeGap(gap);
  return {
    code: gap.missingRoles.length > 0 ? 'POLICY_ROLE_MISSING' : 'POLICY_QUORUM_NOT_MET',
    message:
      outcome.status === 'expired'
        ? `the approval window closed waiting for ${what} (policy ${policyId}); request again once they can approve`
        : `the policy ${policyId} can no longer be met: ${what} would be needed from members who have not rejected`,
  };
}

function abortedMessage(outcome: SigningOutcome, policyId = POLICY_ID): SignAborted | null {
  if (outcome.status === 'rejected' || outcome.status === 'expired') {
    const ending = policyEnding(outcome, policyId);
    if (ending !== null) {
      return {
        type: 'sign.aborted',
        reason: outcome.status,
        code: ending.code,
        message: ending.message.slice(0, 512),
        culprits: [],
      };
    }
  }
  switch (outcome.status) {
    case 'completed':
      return null;
    case 'rejected':
      return {
        type: 'sign.aborted',
        reason: 'rejected',
        code: 'CEREMONY_CLOSED',
        message: 'too many members rejected the request',
        culprits: [],
      };
    case 'expired':
      return {
        type: 'sign.aborted',
        reason: 'expired',
        code: 'DEADLINE_EXCEEDED',
        message: 'the approval window closed',
        culprits: [],
      };
    case 'cancelled':
      return {
        type: 'sign.aborted',
        reason: 'cancelled',
        code: 'CEREMONY_CLOSED',
        // Who and why, as they signed it (`ceremony.cancel`, in the transcript): members waiting
        // on the request see it where the ceremony ends for them.
        message: [...`cancelled by ${outcome.by}: ${outcome.reason}`].slice(0, 512).join(''),
        culprits: [],
      };
    case 'aborted':
      return {
        type: 'sign.aborted',
        reason: 'failed',
        code: outcome.code,
        message:
          outcome.code === 'AGGREGATE_INVALID'
            ? 'the aggregate signature did not verify'
            : 'fewer than t members in good standing remain',
        culprits: [...new Set(outcome.culprits)],
      };
  }
}

export function performSigningEffect(
  runner: CeremonyRunner,
  live: Live,
  effect: SigningEffect,
  followUps: FollowUp[],
): void {
  const c = context(live);
  switch (effect.kind) {
    case 'notify':
      // ceremony.status is pushed to every connected member after each transition.
      return;
    case 'startSession': {
      const session = c.sessions.find((s) => s.id === effect.sessionId);
      if (session === undefined) throw refused('INTERNAL', 'session missing from context');
      // Still pending once the ceremony closed (cancelled, aborted): every earlier attempt failed,
      // so nothing of it was stored or sent (an effect's writes and sends share its savepoint).
      // Nobody can use these packages now, and one that can never be built (an uploaded artifact
      // deleted by hand) must not hold back what queued behind it: the close's sign.aborted.
      // A session abandoned while the ceremony goes on (a signer revoked) still sends them: its
      // other signers treat their commitments as unused until a package spends them, and only
      // then commit again for the next session.
      if (c.outcome !== null) return;
      let record: SessionRecord | undefined;
      runner.emitOnce(
        live,
        effect.seq,
        () => {
          record =
            runner.store.getSession(live.id, session.index) ??
            buildSession(runner, live, effect, session.index);
          const r = record;
          const commitments = effect.participants.map((member) => ({
            member,
            commitments: [
              ...(runner.store.getBundle(live.id, effect.commitments[member] ?? '')?.commitments ??
                []),
            ],
          }));
          const group = activeGroup(runner, live.group);
          const approvals = approvalSignatures(
            runner,
            live,
            r.approvers.map((a) => a.member),
          );
          // Every earlier signature, the statement's included: the signers check each against
          // the phase-1 messages they rebuild, which ties this phase to phase 1's statement.
          const previous = [...earlierSignatures(runner, live)].map(([job, sig]) => ({
            job,
            signature: bytesToHex(sig),
          }));
          return effect.participants.map((member) => ({
            recipient: member,
            body: {
              type: 'sign.package' as const,
              session: session.index,
              phase: r.phase,
              jobs: r.jobs.map((j) => j.job),
              commitments,
              packageHashes: r.jobs.map((j) => bytesToHex(sha256(hexToBytes(j.signingPackage)))),
              previous,
              keyCreatedAt: keyCreatedAtOf(group),
              publicKeyPackage: keyPackageHashOf(group),
              requestDigest: c.statementDigest,
              statementDigest: r.statementDigest,
              approvers: r.approvers.map((a) => a.member),
              approvals,
              signers: [...effect.participants],
              policyId: statementPolicyId(r),
              issuedAt: r.issuedAt,
            },
          }));
        },
        () => {
          if (
            record !== undefined &&
            runner.store.getSession(live.id, session.index) === undefined
          ) {
            runner.store.putSession(record);
          }
        },
      );
      // After the commit: while the signers compute their shares, the ceremony's worker
      // precomputes what each share must match (prepareShares), so checking one that arrives is
      // one fixed-base multiplication. Only saves time; a miss or failure changes nothing.
      if (record !== undefined) {
        const r = record;
        followUps.push(() => {
          runner.crypto.warm(prepareTask(activeGroup(runner, live.group), r), live.id, (t) => ({
            ...t,
            hints: t.signingPackages.map((p) => hintFor(p)),
          }));
        });
      }
      return;
    }
    case 'abandonSession':
      if (effect.culprits.length > 0) {
        runner.deps.metrics.culprits.inc({ kind: effect.reason }, effect.culprits.length);
      }
      return;
    case 'aggregate':
      followUps.push(() => {
        // The share completing the session was checked by aggregating (the round2.share
        // handler): that aggregate is recorded now, in the same turn as the share, so the WAL
        // sync that releases the share's ack releases sign.complete too (one fdatasync on the way
        // to sign.complete, not two one after the other). Otherwise it waits for the pool.
        if (aggregateEarly(runner, live, effect.sessionId)) return undefined;
        return runner.serial(live.id, () => aggregateSession(runner, live, effect.sessionId));
      });
      return;
    case 'phaseComplete':
      // The status push after this transition lists every approver in needsCommitment.
      return;
    case 'complete': {
      const signature = runner.store.getSignature(live.id);
      const session = c.sessions.find((s) => s.id === effect.sessionId);
      const group = activeGroup(runner, live.group);
      if (signature === undefined || session === undefined) {
        throw refused('INTERNAL', 'completed without a stored signature');
      }
      const record = runner.store.getSession(live.id, session.index);
      if (runner.store.transcriptForEffect(live.id, effect.seq).length === 0) {
        runner.deps.metrics.signLatency.observe((runner.now() - live.createdAt) / 1000);
      }
      runner.emitOnce(
        live,
        effect.seq,
        () => [
          {
            recipient: '*',
            body: {
              type: 'sign.complete' as const,
              groupPublicKey: group.groupPublicKey,
              signature: signature.signature,
              signatures: Object.entries(signature.jobs).map(([job, sig]) => ({
                job,
                signature: sig,
              })),
              keyCreatedAt: keyCreatedAtOf(group),
              statementDigest: signature.statementDigest,
              approvers: (record?.approvers ?? []).map((a) => a.member),
              signers: [...effect.signers],
              policyId:
                record === undefined ? policyIdFor(runner, live.id) : statementPolicyId(record),
              issuedAt: record?.issuedAt ?? 0,
            },
          },
        ],
        // A signed policy, hotfix, ratification or revocation takes effect with its sign.complete.
        () => recordSigned(runner, live),
      );
      return;
    }
    case 'close': {
      const message =
        supersededAborted(runner, live.id, effect.outcome) ??
        abortedMessage(effect.outcome, policyIdFor(runner, live.id));
      if (message !== null)
        runner.emitOnce(live, effect.seq, () => [{ recipient: '*', body: message }]);
      return;
    }
  }
}

/** The session `sessionId` of `live`, if it still waits for its aggregate. */
function stillAggregating(
  runner: CeremonyRunner,
  live: Live,
  sessionId: string,
): SessionView | undefined {
  const session = context(live).sessions.find((x) => x.id === sessionId);
  return session !== undefined &&
    session.status === 'aggregating' &&
    runner.live.get(live.id) === live
    ? session
    : undefined;
}

/** The session `sessionId` of `live` while it waits for its aggregate, with what it needs. */
function aggregating(runner: CeremonyRunner, live: Live, sessionId: string) {
  const session = stillAggregating(runner, live, sessionId);
  if (session === undefined) return undefined;
  const group = activeGroup(runner, live.group);
  const record = runner.store.getSession(live.id, session.index);
  if (record === undefined) throw refused('INTERNAL', 'session package missing');
  return {
    session,
    record,
    task: aggregateTask(group, record, storedShares(runner, live, session)),
  };
}

/**
 * Applies the session's aggregate as `session.aggregated` (with the signature when it is the last
 * phase) if the share completing it was checked by that very aggregation (`aggregatedEarly`, the
 * same task): synchronously, in the caller's turn. False if there is no such result.
 */
function aggregateEarly(runner: CeremonyRunner, live: Live, sessionId: string): boolean {
  const early = aggregatedEarly.get(live);
  aggregatedEarly.delete(live); // taken now, or stale
  if (early === undefined) return false;
  const a = aggregating(runner, live, sessionId);
  if (a === undefined || early.key !== taskKey(a.task)) return false;
  applyAggregate(runner, live, sessionId, a.session, a.record, early.result);
  return true;
}

/**
 * Aggregates a session's shares job by job on the crypto pool (each signature verified with Node's
 * crypto and noble strict there), then feeds `session.aggregated`. Runs in the ceremony's queue.
 */
export async function aggregateSession(
  runner: CeremonyRunner,
  live: Live,
  sessionId: string,
): Promise<void> {
  const a = aggregating(runner, live, sessionId);
  if (a === undefined) return;
  const result = await runner.crypto.run(a.task, live.id, withAggregateHints);
  // Nothing else of this ceremony ran meanwhile (its queue), but the coordinator may be closing.
  if (stillAggregating(runner, live, sessionId) === undefined) return;
  applyAggregate(runner, live, sessionId, a.session, a.record, result);
}

function applyAggregate(
  runner: CeremonyRunner,
  live: Live,
  sessionId: string,
  session: SessionView,
  record: SessionRecord,
  result: AggregateResult,
): void {
  const c = context(live);
  const at = runner.now();
  const event = (ok: boolean, culprits: string[]) => ({
    type: 'session.aggregated',
    sessionId,
    ok,
    culprits,
    at,
  });
  if (!result.ok) {
    runner.apply(live, event(false, [...result.culprits]));
    return;
  }
  const signatures = { ...result.signatures };
  const last = c.phase >= c.phases;
  runner.apply(live, event(true, []), {
    writes: () => {
      runner.store.setSessionSignatures(live.id, session.index, signatures);
      if (!last || runner.store.getSignature(live.id) !== undefined) return;
      const all = {
        ...Object.fromEntries(
          [...earlierSignatures(runner, live)].map(([j, sig]) => [j, bytesToHex(sig)]),
        ),
        ...signatures,
      };
      const statementSig = all[STATEMENT_JOB];
      if (statementSig === undefined) throw refused('INTERNAL', 'no statement signature');
      // The statement (and its approvers, time) is phase 1's: later phases sign other bytes.
      const first = firstPhaseRecord(runner, live) ?? record;
      runner.store.putSignature({
        ceremonyId: live.id,
        signature: statementSig,
        jobs: all,
        statement: first.statement,
        statementDigest: first.statementDigest,
        signers: [...session.participants],
        at,
      });
    },
  });
}

/**
 * `sign.commitments` (docs/protocol.md): after a commitment is recorded, each member who may still
 * sign learns the unspent commitments of the others, so it can validate them (RFC 9591 §3.1
 * DeserializeElement: two subgroup checks each, most of a package's cost) while the quorum forms,
 * not after the package arrived. A hint: bare, outside the transcript, and sent after the commit
 * like every other output. Nothing is sent when no unspent commitment is left (the event opened a
 * session that took them all: the package carries them).
 */
function hintCommitments(runner: CeremonyRunner, live: Live): void {
  const s = signingSnapshot(live);
  const phase = signingPhase(s);
  if (phase !== 'collectingApprovals' && phase !== 'awaitingCommitments' && phase !== 'inSession')
    return;
  const c = s.context;
  const standing = (m: string) => !c.excluded.some((x) => x.member === m);
  const entries: SignCommitments['commitments'][number][] = [];
  for (const [member, bundleId] of Object.entries(c.freshCommitments)) {
    if (!standing(member)) continue;
    const bundle = runner.store.getBundle(live.id, bundleId);
    if (bundle === undefined || bundle.phase !== c.phase) continue;
    entries.push({ member, commitments: [...bundle.commitments] });
  }
  if (entries.length === 0) return;
  const hint: SignCommitments = {
    type: 'sign.commitments',
    ceremonyId: live.id,
    phase: c.phase,
    commitments: entries,
  };
  // Every member who may still sign, not only the approvers recorded so far: an approval that is
  // on its way (sent while this one was being recorded) is the one that completes the quorum, and
  // its sender would otherwise validate these commitments only when the package arrives.
  const rejected = (m: string) => c.rejections.some((r) => r.member === m);
  for (const m of c.group.members) {
    if (!standing(m) || rejected(m) || !entries.some((e) => e.member !== m)) continue;
    runner.deps.hub.send(m, hint);
  }
}

/** The succeeded phase-1 session's record (its statement is the one the ceremony signed). */
function firstPhaseRecord(runner: CeremonyRunner, live: Live): SessionRecord | undefined {
  for (const s of context(live).sessions) {
    if (s.phase !== 1 || s.status !== 'succeeded') continue;
    return runner.store.getSession(live.id, s.index);
  }
  return undefined;
}

/** On (re)connect: a signer of the open session that has not sent its share gets the package again. */
export function resendSigningState(runner: CeremonyRunner, live: Live, member: string): void {
  const s = signingSnapshot(live);
  if (signingPhase(s) !== 'inSession') return;
  const session = s.context.sessions.at(-1);
  if (session === undefined || !session.participants.includes(member)) return;
  if (session.shares.includes(member)) return;
  const entry = runner.latestOutgoing(live.id, 'sign.package', member);
  if (entry !== undefined) runner.deps.hub.send(member, entry.envelope);
}
