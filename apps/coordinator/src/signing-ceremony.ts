// Signing ceremony, docs/ceremony-flow.md "Signing ceremony": request → approvals with round-1
// commitments (unique per group key, A.1) → sessions of exactly t signers (ROAST loop in the machine)
// → verified shares → aggregate, verified with Node's crypto and noble strict → signature stored
// with its statement in one transaction before `sign.complete` goes out (D.48).
import {
  decodePublicKeyPackage,
  decodeSigningCommitments,
  decodeSigningPackage,
} from './decoded.js';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  signingMachine,
  signingPhase,
  type SigningContext,
  type SigningEffect,
  type SigningOutcome,
} from '@conclave/ceremony';
import {
  ed25519 as frost,
  ed25519Spki,
  isFrostError,
  type SignatureShare,
  type SigningCommitments,
} from '@conclave/frost';
import {
  ADMIN_ID,
  bytesToHex,
  hexToBytes,
  requestDigest,
  verifyPackageAck,
  type Round2Share,
  type SignAborted,
  type SignRequest,
} from '@conclave/protocol';
import { buildStatement, messageToSign, statementDigest } from '@conclave/release';
import { createActor } from 'xstate';
import {
  signingSnapshot,
  type CeremonyRunner,
  type FollowUp,
  type Incoming,
  type Live,
} from './ceremonies.js';
import { frostRefusal, identifierOf, refused } from './runtime.js';
import type { GroupRecord, SessionRecord } from './store.js';

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
  const now = runner.now();
  const { limits } = runner.deps;
  const actor = createActor(signingMachine, {
    input: {
      ceremonyId: m.envelope.ceremonyId,
      group: { members: group.members.map((x) => x.member), threshold: group.threshold },
      statementDigest: bytesToHex(requestDigest(m.envelope.ceremonyId, body)),
      createdAt: now,
      approvalDeadline: now + limits.approvalTimeoutMs,
      sessionTimeoutMs: limits.sessionTimeoutMs,
    },
  }).start();
  runner.create('sign', group.name, actor as never, m);
}

/** Decodes a round-1 commitment and checks it is the authenticated member's (A.11, A.17). */
function decodeCommitment(member: string, hex: string): string {
  let c: SigningCommitments;
  try {
    c = decodeSigningCommitments(hex);
  } catch (e) {
    throw frostRefusal(e, 'commitment');
  }
  if (c.identifier !== identifierOf(member)) {
    throw refused('IDENTIFIER_MISMATCH', 'commitment identifier is not the sender’s');
  }
  const canonical = bytesToHex(frost.encode.bytes('SigningCommitments', c));
  if (canonical !== hex) throw refused('INVALID_MESSAGE', 'commitment is not canonically encoded');
  return canonical;
}

export function handleSigningMessage(runner: CeremonyRunner, live: Live, m: Incoming): void {
  const body = m.envelope.body;
  const at = runner.now();
  const c = context(live);
  const group = activeGroup(runner, live.group);
  const groupKey = group.groupPublicKey;
  switch (body.type) {
    case 'sign.approve':
    case 'sign.recommit': {
      if (body.type === 'sign.approve' && body.requestDigest !== c.statementDigest) {
        throw refused('STATEMENT_MISMATCH', 'approval is for another request');
      }
      const commitment = decodeCommitment(m.member, body.commitment);
      const event = { type: body.type, member: m.member, commitment, at };
      runner.check(live, event);
      if (runner.store.hasCommitment(groupKey, commitment)) {
        throw refused('COMMITMENT_REUSED', 'commitment was already used for this group key');
      }
      runner.apply(live, event, {
        incoming: m,
        writes: () => runner.store.recordCommitment(groupKey, commitment, live.id, m.member, at),
      });
      if (body.type === 'sign.approve') runner.deps.metrics.approvals.inc();
      return;
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
      const packageBytes = hexToBytes(record.signingPackage);
      const context = { ceremonyId: live.id, session: share.session, member: m.member };
      if (key === undefined || !verifyPackageAck(key, context, packageBytes, share.ack)) {
        throw refused('BAD_ACK_SIGNATURE', 'package acknowledgement does not verify');
      }
      const valid = verifyShare(group, record, m.member, share.share);
      runner.apply(live, { ...probe, valid }, { incoming: m });
      if (!valid) runner.deps.metrics.culprits.inc({ kind: 'invalid_share' });
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

function shareOf(member: string, shareHex: string): SignatureShare {
  return {
    suite: frost.suite.name,
    identifier: identifierOf(member),
    share: hexToBytes(shareHex, 32),
  };
}

function verifyShare(
  group: { publicKeyPackage: string },
  record: SessionRecord,
  member: string,
  shareHex: string,
): boolean {
  try {
    const pkg = decodeSigningPackage(record.signingPackage);
    const pub = decodePublicKeyPackage(group.publicKeyPackage);
    frost.verifySignatureShare(shareOf(member, shareHex), pkg, pub);
    return true;
  } catch {
    // INVALID_SCALAR (non-canonical, A.10) and INVALID_SIGNATURE_SHARE (A.9) alike: the sender
    // is blamed by the machine (valid: false).
    return false;
  }
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
  const approvers = c.approvals.map((a) => ({ member: a.member, identityKey: keyOf(a.member) }));
  const issuedAt = runner.now();
  const statementContext = {
    ceremonyId: live.id,
    group: live.group,
    groupPublicKey: group.groupPublicKey,
    requester: request.sender,
    approvers,
    policyId: POLICY_ID,
    issuedAt,
  };
  const release = request.body.release;
  const statement = buildStatement(release, statementContext);
  const message = messageToSign(release, statementContext);
  const commitments = effect.participants.map((p) =>
    decodeSigningCommitments(effect.commitments[p] ?? ''),
  );
  const pkg = frost.signingPackage(commitments, message);
  const pkgHex = bytesToHex(frost.encode.bytes('SigningPackage', pkg));
  decodeSigningPackage.remember(pkgHex, pkg);
  return {
    ceremonyId: live.id,
    session: index,
    sessionId: effect.sessionId,
    signingPackage: pkgHex,
    statement: JSON.parse(JSON.stringify(statement)) as Record<string, unknown>,
    statementDigest: statementDigest(statement),
    approvers,
    issuedAt,
  };
}

function abortedMessage(outcome: SigningOutcome): SignAborted | null {
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
        message: 'the request was cancelled',
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
      let record: SessionRecord | undefined;
      runner.emitOnce(
        live,
        effect.seq,
        () => {
          record =
            runner.store.getSession(live.id, session.index) ??
            buildSession(runner, live, effect, session.index);
          const r = record;
          return effect.participants.map((member) => ({
            recipient: member,
            body: {
              type: 'sign.package' as const,
              session: session.index,
              signingPackage: r.signingPackage,
              requestDigest: c.statementDigest,
              statementDigest: r.statementDigest,
              approvers: r.approvers.map((a) => a.member),
              signers: [...effect.participants],
              policyId: POLICY_ID,
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
      return;
    }
    case 'abandonSession':
      if (effect.culprits.length > 0) {
        runner.deps.metrics.culprits.inc({ kind: effect.reason }, effect.culprits.length);
      }
      return;
    case 'aggregate':
      followUps.push(() => aggregateSession(runner, live, effect.sessionId));
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
      runner.emitOnce(live, effect.seq, () => [
        {
          recipient: '*',
          body: {
            type: 'sign.complete' as const,
            groupPublicKey: group.groupPublicKey,
            signature: signature.signature,
            statementDigest: signature.statementDigest,
            approvers: (record?.approvers ?? []).map((a) => a.member),
            signers: [...effect.signers],
            policyId: POLICY_ID,
            issuedAt: record?.issuedAt ?? 0,
          },
        },
      ]);
      return;
    }
    case 'close': {
      const message = abortedMessage(effect.outcome);
      if (message !== null)
        runner.emitOnce(live, effect.seq, () => [{ recipient: '*', body: message }]);
      return;
    }
  }
}

/** Aggregates a session's shares, verifies the signature and feeds `session.aggregated`. */
export function aggregateSession(runner: CeremonyRunner, live: Live, sessionId: string): void {
  const c = context(live);
  const session = c.sessions.find((s) => s.id === sessionId);
  if (session === undefined || session.status !== 'aggregating') return;
  const group = activeGroup(runner, live.group);
  const record = runner.store.getSession(live.id, session.index);
  if (record === undefined) throw refused('INTERNAL', 'session package missing');
  const pkg = decodeSigningPackage(record.signingPackage);
  const pub = decodePublicKeyPackage(group.publicKeyPackage);
  const seen = new Set<string>();
  const shares: SignatureShare[] = [];
  for (const e of runner.store.transcript(live.id)) {
    const body = e.envelope.body;
    if (e.direction !== 'in' || body.type !== 'round2.share' || body.session !== session.index) {
      continue;
    }
    if (!session.participants.includes(e.sender) || seen.has(e.sender)) continue;
    seen.add(e.sender);
    shares.push(shareOf(e.sender, body.share));
  }
  const at = runner.now();
  const event = (ok: boolean, culprits: string[]) => ({
    type: 'session.aggregated',
    sessionId,
    ok,
    culprits,
    at,
  });
  let signature: Uint8Array;
  try {
    signature = frost.aggregate(pkg, shares, pub).bytes;
  } catch (e) {
    const byIdentifier = new Map(session.participants.map((m) => [identifierOf(m) as string, m]));
    const culprits = isFrostError(e)
      ? e.culprits.map((id) => byIdentifier.get(id)).filter((m): m is string => m !== undefined)
      : [];
    runner.apply(live, event(false, [...new Set(culprits)]));
    return;
  }
  const key = createPublicKey({
    key: Buffer.from(ed25519Spki(pub.verifyingKey)),
    format: 'der',
    type: 'spki',
  });
  const ok =
    nodeVerify(null, pkg.message, key, signature) &&
    frost.verify(pkg.message, signature, pub.verifyingKey);
  if (!ok) {
    runner.apply(live, event(false, []));
    return;
  }
  runner.apply(live, event(true, []), {
    writes: () => {
      if (runner.store.getSignature(live.id) !== undefined) return;
      runner.store.putSignature({
        ceremonyId: live.id,
        signature: bytesToHex(signature),
        statement: record.statement,
        statementDigest: record.statementDigest,
        signers: [...session.participants],
        at,
      });
    },
  });
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
