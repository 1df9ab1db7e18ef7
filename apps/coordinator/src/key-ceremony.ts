// Key ceremony (DKG) relay, docs/ceremony-flow.md "Key ceremony". The coordinator relays public
// round-1 packages and end-to-end encrypted round-2 boxes (ciphertext only), checks the signed
// confirmations, computes the public key package itself and activates the group only when all n
// members confirmed the same round-1 hash and group key.
import { keyPhase, type KeyContext, type KeyEffect, type KeyOutcome } from '@conclave/ceremony';
import { ed25519 as frost, type DkgRound1Package, sha256 } from '@conclave/frost';
import {
  ADMIN_ID,
  BOX_COMPLAINT_CODES,
  PROTOCOL_VERSION,
  bytesToHex,
  printableText,
  hexToBytes,
  judgeDkgShareComplaint,
  judgeLifecycleComplaint as judgeLifecycleBox,
  lifecycleComplaintOf,
  round1Hash,
  verifyDkgConfirmation,
  type BoxEvidence,
  type ComplaintVerdict,
  type DkgAbort,
  type DkgConfirm,
  type DkgFail,
  type DkgParticipant,
  type DkgRound1,
  type DkgRound2,
  type Envelope,
  type ErrorCode,
  type MemberPackage,
  type Result,
} from '@conclave/protocol';
import {
  keySnapshot,
  type CeremonyRunner,
  type FollowUp,
  type Incoming,
  type Live,
} from './ceremonies.js';
import {
  boxesFor,
  checkBoxSignatures,
  handleLifecycleMessage,
  isLifecycle,
  performLifecycleEffect,
  resendLifecycleState,
  round2Pieces,
  startOf,
} from './key-lifecycle.js';
import { frostRefusal, identifierOf, refused } from './runtime.js';

const context = (live: Live): KeyContext => keySnapshot(live).context;

export function participantsOf(runner: CeremonyRunner, live: Live): DkgParticipant[] {
  const group = runner.store.getGroup(live.group);
  if (group === undefined) throw refused('STORAGE_UNAVAILABLE', 'group of ceremony missing');
  return group.members.map((m) => ({
    member: m.member,
    identifier: identifierOf(m.member),
    identityKey: m.identityKey,
  }));
}

function round1Packages(runner: CeremonyRunner, live: Live): MemberPackage[] {
  return runner.firstIncoming(live.id, 'dkg.round1').map((e) => ({
    member: e.sender,
    package: e.body.package,
  }));
}

export function decodeRound1(member: string, body: DkgRound1, threshold: number): DkgRound1Package {
  let pkg: DkgRound1Package;
  try {
    pkg = frost.decode.bytes('DkgRound1Package', hexToBytes(body.package));
  } catch (e) {
    throw frostRefusal(e, 'round-1 package');
  }
  if (pkg.identifier !== identifierOf(member)) {
    throw refused('IDENTIFIER_MISMATCH', 'round-1 package identifier is not the sender’s');
  }
  if (pkg.commitment.length !== threshold) {
    throw refused('INCORRECT_NUMBER_OF_COMMITMENTS', 'VSS commitment length is not the threshold');
  }
  return pkg;
}

/**
 * The dealer's proof of knowledge of its secret coefficient (RFC 9591 Appendix C, part2's check),
 * verified when the package arrives: a bad proof is refused here, so the ceremony never relays it,
 * and a later `dkg.fail` accusing this dealer of one is known to be false (see below).
 * Synchronous: key ceremonies are rare admin operations, ≈5–25 ms per package here.
 */
function verifyProofOfKnowledge(pkg: DkgRound1Package, threshold: number): void {
  try {
    frost.keys.dkg.verifyRound1(pkg, threshold);
  } catch (e) {
    const refusal = frostRefusal(e, 'round-1 package');
    if (refusal.code !== 'INVALID_PROOF_OF_KNOWLEDGE') throw refusal;
    throw refused(
      'INVALID_PROOF_OF_KNOWLEDGE',
      'the round-1 proof of knowledge does not verify (RFC 9591 Appendix C); nothing was recorded — send a fresh round-1 package',
    );
  }
}

// Per ceremony, once its round-1 packages are all in: the view every honest member confirms.
interface RelayedView {
  readonly groupPublicKey: string;
  readonly transcriptHash: string;
  /** Hex of the encoded PublicKeyPackage the round-1 packages make. */
  readonly publicKeyPackage: string;
}
const relayedViews = new WeakMap<Live, RelayedView>();

/**
 * The DKG's view as this coordinator relayed it: the hash of the round-1 packages it broadcast
 * (`round1Hash`, what members sign in dkg.confirm) and the group key those packages make (RFC 9591
 * Appendix C: the sum of the dealers' constant-term commitments). Only once round 1 is complete.
 */
function relayedView(runner: CeremonyRunner, live: Live): RelayedView {
  const cached = relayedViews.get(live);
  if (cached !== undefined) return cached;
  const c = context(live);
  const packages = round1Packages(runner, live);
  const decoded = packages.map((p) =>
    frost.decode.bytes('DkgRound1Package', hexToBytes(p.package)),
  );
  const pub = frost.keys.dkg.publicKeyPackage(decoded, c.group.threshold);
  const view: RelayedView = {
    groupPublicKey: bytesToHex(pub.verifyingKey),
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', pub)),
    transcriptHash: bytesToHex(
      round1Hash({
        ceremonyId: live.id,
        threshold: c.group.threshold,
        participants: participantsOf(runner, live),
        packages,
      }),
    ),
  };
  relayedViews.set(live, view);
  return view;
}

export function handleKeyMessage(runner: CeremonyRunner, live: Live, m: Incoming): void {
  const body = m.envelope.body;
  const at = runner.now();
  const c = context(live);
  const lifecycle = isLifecycle(live);
  if (lifecycle && handleLifecycleMessage(runner, live, m)) return;
  if (lifecycle && (body.type === 'dkg.round1' || body.type === 'dkg.round2')) {
    throw refused('UNEXPECTED_MESSAGE', 'a lifecycle ceremony takes key.round1 / key.round2');
  }
  switch (body.type) {
    case 'dkg.round1': {
      const pkg = decodeRound1(m.member, body, c.group.threshold);
      verifyProofOfKnowledge(pkg, c.group.threshold);
      // What the machine refuses to see twice (B.28: a retry needs a fresh polynomial) is the
      // commitment to the secret coefficient, C_0 = a_0·G (RFC 9591 Appendix C, vss_commit), not
      // the package bytes: those also carry the proof of knowledge, whose nonce is fresh each
      // time, so a reused polynomial (or secret) with a new proof would pass a byte comparison.
      const packageHash = bytesToHex(sha256(pkg.commitment[0] as Uint8Array));
      runner.apply(
        live,
        { type: 'dkg.round1', member: m.member, packageHash, at },
        { incoming: m },
      );
      return;
    }
    case 'dkg.round2': {
      const recipients = (body as DkgRound2).boxes.map((b) => b.recipient);
      const event = { type: 'dkg.round2', member: m.member, recipients, at };
      runner.check(live, event);
      checkBoxSignatures(runner, live.id, m.member, (body as DkgRound2).boxes);
      runner.apply(live, event, { incoming: m });
      return;
    }
    case 'dkg.confirm': {
      const confirm = body as DkgConfirm;
      const key = runner.memberKey(m.member);
      const ok =
        key !== undefined &&
        verifyDkgConfirmation(
          key,
          {
            ceremonyId: live.id,
            member: m.member,
            round1Hash: hexToBytes(confirm.round1Hash, 32),
            groupPublicKey: hexToBytes(confirm.groupPublicKey, 32),
          },
          hexToBytes(confirm.signature, 64),
        );
      if (!ok) throw refused('INVALID_MESSAGE', 'confirmation signature does not verify');
      // Judged against what this coordinator relayed, so a mismatch blames whoever differs from
      // it, not a majority (which, with two members, blamed the honest one too). DKG only: a
      // lifecycle ceremony's view is judged by majority.
      // Before the confirmation phase the machine refuses it anyway: no view to judge yet.
      const judged = !lifecycle && keyPhase(keySnapshot(live)) === 'confirmation';
      const relayed = judged ? relayedView(runner, live) : undefined;
      runner.apply(
        live,
        {
          type: 'dkg.confirm',
          member: m.member,
          transcriptHash: confirm.round1Hash,
          groupPublicKey: confirm.groupPublicKey,
          ...(relayed === undefined
            ? {}
            : {
                relayed:
                  relayed.transcriptHash === confirm.round1Hash &&
                  relayed.groupPublicKey === confirm.groupPublicKey,
              }),
          at,
        },
        { incoming: m },
      );
      return;
    }
    case 'dkg.fail': {
      const fail = body as DkgFail;
      // Every recorded round-1 package had its proof verified on arrival, and members receive the
      // same bytes: an accusation of a bad proof against one of them is false, so it is refused
      // and the ceremony goes on (an accuser who then stops is blamed by the round's deadline).
      if (
        fail.code === 'INVALID_PROOF_OF_KNOWLEDGE' &&
        fail.culprit !== m.member &&
        Object.hasOwn(c.round1, fail.culprit)
      ) {
        throw refused(
          'INVALID_MESSAGE',
          `${fail.culprit}'s proof of knowledge was verified by the coordinator when it arrived; the accusation is refused`,
        );
      }
      // Before round 2 is delivered (at the confirmation round) no member holds a share or a box
      // from anyone, and everything of round 1 was checked here on arrival (decoding, identifier,
      // commitment length, proof): an accusation of another member now is false, whatever its
      // code, and would abort naming an honest member. A member that cannot go on names itself.
      if (!lifecycle && fail.culprit !== m.member && keyPhase(keySnapshot(live)) === 'round2') {
        throw refused(
          'INVALID_MESSAGE',
          `no round-2 share has been delivered yet, so ${fail.culprit} cannot be accused; the accusation is refused (name yourself to abort without blame)`,
        );
      }
      // A complaint about another member's round-2 box is judged here, from its evidence, before
      // it can abort anything: it stands only if the evidence proves the dealer it names at fault
      // (THREATS B.25–B.27). A false one is refused and the ceremony goes on, as above.
      // (In another phase the machine refuses the complaint anyway, with its own code.)
      const event = {
        type: 'dkg.fail',
        member: m.member,
        culprit: fail.culprit,
        reason: fail.reason,
        at,
      };
      if (
        !lifecycle &&
        fail.culprit !== m.member &&
        keyPhase(keySnapshot(live)) === 'confirmation'
      ) {
        judgeComplaint(runner, live, m.member, fail);
      }
      // A lifecycle complaint about another member is about a box it signed: a refresh or
      // reshare sub-share, a repair delta or σ (every package was checked here on arrival). The
      // same judge, once the machine would admit the complaint at all (protocol 5).
      if (lifecycle && fail.culprit !== m.member) {
        runner.check(live, event);
        judgeLifecycleComplaint(runner, live, m.member, fail);
      }
      runner.apply(live, event, { incoming: m });
      return;
    }
    case 'ceremony.cancel': {
      if (m.member !== ADMIN_ID)
        throw refused('FORBIDDEN', 'only the admin cancels a key ceremony');
      runner.apply(
        live,
        { type: 'ceremony.cancel', by: m.member, reason: body.reason, at },
        { incoming: m },
      );
      return;
    }
    default:
      throw refused('UNEXPECTED_MESSAGE', 'not a message of this key ceremony');
  }
}

/**
 * Refuses a complaint about `fail.culprit`'s box that carries no evidence, or a code other than
 * what a box can be found to hold (BOX_COMPLAINT_CODES); returns the evidence.
 */
function evidenceOf(fail: DkgFail): BoxEvidence {
  const dealer = fail.culprit;
  if (fail.evidence === undefined) {
    throw refused(
      'INVALID_MESSAGE',
      `a complaint against ${dealer} must carry the evidence that opens ${dealer}'s box to you (protocol ${PROTOCOL_VERSION}); the accusation is refused (name yourself to abort without blame)`,
    );
  }
  if (!BOX_COMPLAINT_CODES.includes(fail.code)) {
    throw refused(
      'INVALID_MESSAGE',
      `a complaint about ${dealer}'s box says ${BOX_COMPLAINT_CODES.join(', ')}, not ${fail.code}; the accusation is refused`,
    );
  }
  return fail.evidence;
}

/** Returns if `verdict` proves `dealer` at fault; otherwise throws saying why the complaint is refused. */
function upheld(dealer: string, verdict: Result<ComplaintVerdict>): void {
  if (!verdict.ok) {
    throw refused(verdict.error.code, `${verdict.error.message}; the accusation is refused`);
  }
  if (verdict.value.culprit !== dealer) {
    throw refused(
      'INVALID_MESSAGE',
      `${verdict.value.reason}, so it is refused (name yourself to abort without blame)`,
    );
  }
}

/**
 * Judges `accuser`'s complaint against the dealer `fail.culprit` (box-complaint.ts): the box the
 * dealer signed to the accuser, as recorded, opened with the accuser's proven keys, and its share
 * checked against the dealer's recorded round-1 package. Returns if the dealer is proven at
 * fault; otherwise throws INVALID_MESSAGE saying why (no evidence, evidence that proves nothing,
 * or a sound share: the accusation is false).
 */
function judgeComplaint(runner: CeremonyRunner, live: Live, accuser: string, fail: DkgFail): void {
  const dealer = fail.culprit;
  const evidence = evidenceOf(fail);
  const participants = participantsOf(runner, live);
  const dealerOf = participants.find((p) => p.member === dealer);
  const accuserOf = participants.find((p) => p.member === accuser);
  const box = boxesFor(
    round2Pieces(runner, live.id, 'dkg.round2').filter((e) => e.sender === dealer),
    accuser,
  )[0];
  const r1 = round1Packages(runner, live).find((p) => p.member === dealer);
  if (dealerOf === undefined || accuserOf === undefined || box === undefined || r1 === undefined) {
    throw refused(
      'INVALID_MESSAGE',
      `${dealer} relayed no round-2 box to ${accuser} here, so the accusation is refused`,
    );
  }
  upheld(
    dealer,
    judgeDkgShareComplaint(
      {
        ceremonyId: live.id,
        accuser,
        accuserIdentityKey: hexToBytes(accuserOf.identityKey, 32),
        dealer,
        dealerIdentityKey: hexToBytes(dealerOf.identityKey, 32),
        box,
        dealerRound1: decodeRound1(
          dealer,
          { type: 'dkg.round1', package: r1.package },
          context(live).group.threshold,
        ),
        accuserIdentifier: accuserOf.identifier,
        minSigners: context(live).group.threshold,
      },
      evidence,
    ),
  );
}

/**
 * The same for a lifecycle ceremony: the box the dealer signed to the accuser is its sub-share
 * (refresh, reshare), its delta (repair, round 1) or its σ (repair, round 2), as recorded, judged
 * against the dealer's recorded package and the ceremony's start (judgeLifecycleComplaint).
 */
function judgeLifecycleComplaint(
  runner: CeremonyRunner,
  live: Live,
  accuser: string,
  fail: DkgFail,
): void {
  const dealer = fail.culprit;
  const evidence = evidenceOf(fail);
  const round1 = runner.firstIncoming(live.id, 'key.round1').filter((e) => e.sender === dealer);
  const round2 = round2Pieces(runner, live.id, 'key.round2').filter((e) => e.sender === dealer);
  const box = boxesFor([...round1, ...round2], accuser)[0];
  // The registry's keys, which verified both members' envelopes, not the start's roster.
  const accuserKey = runner.memberKey(accuser);
  const dealerKey = runner.memberKey(dealer);
  if (box === undefined) {
    throw refused(
      'INVALID_MESSAGE',
      `${dealer} relayed no box to ${accuser} here, so the accusation is refused`,
    );
  }
  if (accuserKey === undefined || dealerKey === undefined) {
    throw refused(
      'INVALID_MESSAGE',
      `the registry holds no identity key for ${accuserKey === undefined ? accuser : dealer} (revoked?), so the box cannot be judged and the accusation is refused; the admin can cancel the ceremony`,
    );
  }
  const complaint = lifecycleComplaintOf(
    live.id,
    startOf(runner, live),
    { member: accuser, identityKey: accuserKey },
    { member: dealer, identityKey: dealerKey },
    box,
    round1.find((e) => e.body.package !== undefined)?.body.package,
  );
  upheld(dealer, complaint.ok ? judgeLifecycleBox(complaint.value, evidence) : complaint);
}

function abortMessage(o: KeyOutcome, failCode: ErrorCode | undefined): DkgAbort {
  if (o.status !== 'aborted') throw refused('INTERNAL', 'not an abort');
  switch (o.code) {
    case 'CONFIRMATION_MISMATCH':
      return {
        type: 'dkg.abort',
        code: 'CONFIRMATION_MISMATCH',
        message: 'members confirmed different round-1 views or group keys',
        culprits: [...o.disagreeing],
      };
    case 'CULPRIT_REPORTED':
      // A member naming itself reports a failure it cannot attribute (client failCulprit, e.g.
      // its view was altered in transit) or refuses the start: it is the honest reporter, never
      // the culprit. Its reason (signed, in the transcript) goes to everyone: it is what tells the
      // admin what to mend, say a start its pinned admin key does not verify.
      return o.culprit === o.reportedBy
        ? {
            type: 'dkg.abort',
            code: failCode ?? 'INCONSISTENT_VIEW',
            message: printableText(
              `${o.reportedBy} could not complete the ceremony (nobody is blamed): "${o.reason}"`,
              512,
            ),
            culprits: [],
          }
        : {
            type: 'dkg.abort',
            code: failCode ?? 'INVALID_SECRET_SHARE',
            message: 'a member reported a faulty package',
            culprits: [o.culprit],
          };
    case 'TIMEOUT':
      return {
        type: 'dkg.abort',
        code: 'DEADLINE_EXCEEDED',
        message: `round ${o.round} deadline passed`,
        culprits: [...o.missing],
      };
    case 'CANCELLED':
      return {
        type: 'dkg.abort',
        code: 'CEREMONY_CLOSED',
        // The admin's reason (or the coordinator's own, for one left open across an upgrade),
        // so every member sees why.
        message: printableText(
          `cancelled by ${o.by === ADMIN_ID ? 'the admin' : o.by}: ${o.reason}`,
          512,
        ),
        culprits: [],
      };
    case 'MEMBER_REVOKED':
      return {
        type: 'dkg.abort',
        code: 'MEMBER_REVOKED',
        message: 'a member was revoked',
        culprits: [],
      };
  }
}

export function performKeyEffect(
  runner: CeremonyRunner,
  live: Live,
  effect: KeyEffect,
  followUps: FollowUp[],
): void {
  if (isLifecycle(live) && performLifecycleEffect(runner, live, effect, followUps)) return;
  const c = context(live);
  switch (effect.kind) {
    case 'notify': {
      const group = runner.store.getGroup(live.group);
      const authorization = runner.store.firstTranscriptEntry(live.id)?.envelope;
      if (group === undefined || authorization?.body.type !== 'admin.group.create') {
        throw refused('STORAGE_UNAVAILABLE', 'key ceremony without its authorization');
      }
      const participants = participantsOf(runner, live);
      runner.emitOnce(live, effect.seq, () =>
        effect.to.map((member) => ({
          recipient: member,
          body: {
            type: 'dkg.start' as const,
            group: live.group,
            threshold: c.group.threshold,
            participants,
            protocolVersion: PROTOCOL_VERSION,
            authorization: authorization as Envelope & {
              body: Extract<Envelope['body'], { type: 'admin.group.create' }>;
            },
          },
        })),
      );
      return;
    }
    case 'broadcastRound1':
      runner.emitOnce(live, effect.seq, () => [
        {
          recipient: '*',
          body: { type: 'dkg.round1.all', packages: round1Packages(runner, live) },
        },
      ]);
      return;
    case 'deliverRound2':
      // Boxes are delivered all at once when every member sent round 2 (requestConfirmation).
      return;
    case 'requestConfirmation': {
      const round2 = round2Pieces(runner, live.id, 'dkg.round2');
      runner.emitOnce(live, effect.seq, () =>
        effect.to.map((member) => ({
          recipient: member,
          body: {
            type: 'dkg.round2.deliver' as const,
            boxes: boxesFor(round2, member),
          },
        })),
      );
      return;
    }
    case 'activateGroup': {
      const group = runner.store.getGroup(live.group);
      if (group === undefined) throw refused('STORAGE_UNAVAILABLE', 'group missing');
      const {
        groupPublicKey: ownKey,
        transcriptHash: ownHash,
        publicKeyPackage,
      } = relayedView(runner, live);
      const confirms = runner.firstIncoming(live.id, 'dkg.confirm');
      if (ownKey !== effect.groupPublicKey || ownHash !== effect.transcriptHash) {
        // All members agree with each other but not with what the coordinator relayed: never
        // activate a key the coordinator cannot reproduce.
        runner.emitOnce(
          live,
          effect.seq,
          () => [
            {
              recipient: '*',
              body: {
                type: 'dkg.abort' as const,
                code: 'CONFIRMATION_MISMATCH' as const,
                message:
                  'confirmed key differs from the public key package of the round-1 packages',
                culprits: [],
              },
            },
          ],
          () => runner.store.putGroup({ ...group, state: 'failed', updatedAt: runner.now() }),
        );
        return;
      }
      runner.emitOnce(
        live,
        effect.seq,
        () => [
          {
            recipient: '*',
            body: {
              type: 'dkg.complete' as const,
              groupPublicKey: ownKey,
              round1Hash: ownHash,
              confirmations: confirms.map((e) => ({
                member: e.sender,
                signature: e.body.signature,
              })),
            },
          },
        ],
        () => {
          runner.store.putGroup({
            ...group,
            state: 'active',
            groupPublicKey: ownKey,
            publicKeyPackage,
            epoch: 0,
            updatedAt: runner.now(),
          });
          // Epoch 0 of the key's history (docs/lifecycle.md); a retried DKG records it once.
          if (!runner.store.listEpochs(group.name).some((e) => e.epoch === 0)) {
            runner.store.putEpoch({
              group: group.name,
              epoch: 0,
              kind: 'dkg',
              ceremonyId: live.id,
              threshold: group.threshold,
              members: group.members,
              groupPublicKey: ownKey,
              publicKeyPackage,
              at: runner.now(),
            });
          }
        },
      );
      return;
    }
    case 'abort': {
      const group = runner.store.getGroup(live.group);
      const lastFail = runner.firstIncoming(live.id, 'dkg.fail').at(-1);
      const message = abortMessage(effect.outcome, lastFail?.body.code);
      runner.deps.metrics.culprits.inc({ kind: 'dkg' }, message.culprits.length);
      runner.emitOnce(
        live,
        effect.seq,
        () => [{ recipient: '*', body: message }],
        () => {
          if (group !== undefined && group.ceremonyId === live.id && group.state === 'keygen') {
            runner.store.putGroup({ ...group, state: 'failed', updatedAt: runner.now() });
          }
        },
      );
      return;
    }
  }
}

/** On (re)connect: what this member still needs to see to continue the key ceremony. */
export function resendKeyState(runner: CeremonyRunner, live: Live, member: string): void {
  if (isLifecycle(live)) return resendLifecycleState(runner, live, member);
  const s = keySnapshot(live);
  const c = s.context;
  if (!c.group.members.includes(member)) return;
  const phase = keyPhase(s);
  let type: string | null = null;
  if (phase === 'round1' && !Object.hasOwn(c.round1, member)) type = 'dkg.start';
  if (phase === 'round2' && !Object.hasOwn(c.round2, member)) type = 'dkg.round1.all';
  if (phase === 'confirmation' && !c.confirmations.some((x) => x.member === member)) {
    type = 'dkg.round2.deliver';
  }
  if (type === null) return;
  const entry = runner.latestOutgoing(live.id, type, member);
  if (entry !== undefined) runner.deps.hub.send(member, entry.envelope);
}
