// Who an aborted key ceremony blamed, re-judged from its transcript (docs/audit.md "Key
// ceremonies"). The coordinator signs `dkg.abort {code, culprits}`; a culprit is its word unless
// the signed messages before it show the rule the ceremony machine (packages/ceremony key-rules)
// applied:
//   DEADLINE_EXCEEDED      exactly the members that had not done their part of the round in
//                          progress: a round-1 package (dealers), every round-2 box they owe
//                          (dealers), or a confirmation (confirmers). The deadline itself is the
//                          coordinator's clock.
//   CONFIRMATION_MISMATCH  DKG: the members whose signed dkg.confirm is not the view of the relay
//                          the coordinator recorded (the round-1 hash of the dkg.round1.all
//                          packages and the group key they make, RFC 9591 Appendix C), nobody when
//                          no member holds that view; a lifecycle: the members outside the unique
//                          largest view (every confirmer when there is none). Nobody, when the
//                          members all agree (the coordinator refused a key it could not reproduce).
//   a member's dkg.fail    the dealer its first dkg.fail names, with that code (nobody when the
//                          member names itself: a failure it cannot attribute) — if the complaint
//                          is one the machine and coordinator admit: from a member of the ceremony,
//                          naming itself (from round 1, refusing the start) or a dealer after the
//                          round-1 relay; in a DKG, against another
//                          member only once round 2 is complete; never a bad-proof accusation
//                          against a round-1 package the coordinator recorded (it verified it). A
//                          complaint about a box carries evidence (a DKG's from protocol 4, a
//                          lifecycle's from 5) that opens the box for anyone: judged again here,
//                          with the registry's identity keys and the dealer's signed package (never
//                          key.start's roster or key state, the coordinator's word), the culprit is
//                          "proven" (and a complaint its evidence does not prove fails the check).
//                          One without evidence from before those versions is "named by" its
//                          accuser, not proven.
// Every member message counted must come from a member with that role (a dealer's round 1 and 2,
// a confirmer's dkg.confirm): the machine refuses the others, so a recorded one is invented.
// An abort naming nobody frames nobody, whatever its code. Still the coordinator's word: that the
// relay it recorded is the one each member received (an equivocating relay makes an honest
// member's confirmation differ; before protocol 4 it let a colluding member accuse over a box it
// was never sent, which the evidence rules out: it opens only a recorded box the dealer signed).
import { ed25519 as frost } from '@conclave/frost';
import {
  BOX_COMPLAINT_CODES,
  bytesToHex,
  hexToBytes,
  judgeDkgShareComplaint,
  judgeLifecycleComplaint,
  lifecycleComplaintOf,
  round1Hash,
  type BoxEvidence,
  type ComplaintVerdict,
  type Result,
} from '@conclave/protocol';
import { bodiesOf, type At, type Body } from './key-transcript.js';
import type { TranscriptEntry } from './leaf.js';

/** A sender's identity key at a time (the registry's; bundle.ts `keyAt`). */
export type KeyAt = (sender: string, at: number, seq: number) => Uint8Array | undefined;

/** A culprit of an aborted key ceremony, and what the transcript shows against it. */
export interface KeyCulprit {
  readonly member: string;
  readonly basis: string;
}

export type KeyBlameVerdict =
  | { readonly ok: true; readonly detail: string; readonly culprits: readonly KeyCulprit[] }
  | { readonly ok: false; readonly detail: string };

interface Roles {
  readonly dkg: Body<'dkg.start'> | undefined;
  /** Everyone in the ceremony (the machine's group members). */
  readonly members: readonly string[];
  readonly dealers: readonly string[];
  readonly recipients: readonly string[];
  readonly confirmers: readonly string[];
}

/** Who deals, receives and confirms (the coordinator's key-lifecycle rolesOf, from the start). */
function rolesOf(entries: readonly TranscriptEntry[]): Roles | undefined {
  const dkg = bodiesOf(entries, 'dkg.start')[0]?.envelope.body;
  if (dkg !== undefined) {
    const all = dkg.participants.map((p) => p.member);
    return { dkg, members: all, dealers: all, recipients: all, confirmers: all };
  }
  const start = bodiesOf(entries, 'key.start')[0]?.envelope.body;
  if (start === undefined) return undefined;
  if (start.kind === 'repair') {
    const lost = start.member ?? '';
    return {
      dkg: undefined,
      members: [...start.dealers, lost],
      dealers: start.dealers,
      recipients: [lost],
      confirmers: [...start.dealers, lost],
    };
  }
  const committee = start.participants.map((p) => p.member);
  return {
    dkg: undefined,
    members: [...committee, ...start.dealers.filter((d) => !committee.includes(d))],
    dealers: start.dealers,
    recipients: committee,
    confirmers: committee,
  };
}

interface Progress {
  readonly round1: ReadonlySet<string>;
  readonly delivered: ReadonlyMap<string, ReadonlySet<string>>;
  /** Each confirmer's first dkg.confirm, in arrival order. */
  readonly confirms: readonly { member: string; view: string }[];
  readonly fails: readonly At<'dkg.fail'>[];
  /** Member messages the machine would have refused for want of a role (recorded: invented). */
  readonly strangers: readonly string[];
}

/** What the members' signed messages did (the coordinator records only accepted ones). */
function progressOf(roles: Roles, entries: readonly TranscriptEntry[]): Progress {
  const dealers = new Set(roles.dealers);
  const confirmers = new Set(roles.confirmers);
  const members = new Set(roles.members);
  const round1 = new Set<string>();
  const delivered = new Map<string, Set<string>>();
  const confirmed = new Set<string>();
  const confirms: { member: string; view: string }[] = [];
  const fails: At<'dkg.fail'>[] = [];
  const strangers: string[] = [];
  const needs = (ok: boolean, e: TranscriptEntry, role: string): boolean => {
    if (!ok)
      strangers.push(
        `entry ${e.idx}: ${e.sender} sent a ${e.envelope.body.type} but is not ${role}`,
      );
    return ok;
  };
  for (const e of entries) {
    if (e.direction !== 'in') continue;
    const body = e.envelope.body;
    switch (body.type) {
      case 'dkg.round1':
      case 'key.round1':
        if (needs(dealers.has(e.sender), e, 'a dealer')) round1.add(e.sender);
        break;
      case 'dkg.round2':
      case 'key.round2': {
        if (!needs(dealers.has(e.sender), e, 'a dealer')) break;
        const to = delivered.get(e.sender) ?? new Set<string>();
        for (const b of body.boxes) to.add(b.recipient);
        delivered.set(e.sender, to);
        break;
      }
      case 'dkg.confirm':
        if (needs(confirmers.has(e.sender), e, 'a confirmer') && !confirmed.has(e.sender)) {
          confirmed.add(e.sender);
          confirms.push({ member: e.sender, view: `${body.round1Hash}/${body.groupPublicKey}` });
        }
        break;
      case 'dkg.fail':
        if (needs(members.has(e.sender), e, 'in the ceremony')) fails.push(e as At<'dkg.fail'>);
        break;
      default:
        break;
    }
  }
  return { round1, delivered, confirms, fails, strangers };
}

/** The round in progress and who had not done their part of it (key-rules abortTimeout). */
function missingOf(roles: Roles, p: Progress): { round: 1 | 2 | 3; missing: string[] } {
  const round2Done = (m: string) =>
    roles.recipients.filter((r) => r !== m).every((r) => p.delivered.get(m)?.has(r) === true);
  if (!roles.dealers.every((m) => p.round1.has(m))) {
    return { round: 1, missing: roles.dealers.filter((m) => !p.round1.has(m)) };
  }
  if (!roles.dealers.every(round2Done)) {
    return { round: 2, missing: roles.dealers.filter((m) => !round2Done(m)) };
  }
  const confirmed = new Set(p.confirms.map((c) => c.member));
  return { round: 3, missing: roles.confirmers.filter((m) => !confirmed.has(m)) };
}

/** The DKG view the coordinator relayed: the round-1 hash and group key of dkg.round1.all. */
function relayedView(
  ceremonyId: string,
  start: Body<'dkg.start'>,
  entries: readonly TranscriptEntry[],
): string | undefined {
  const relay = bodiesOf(entries, 'dkg.round1.all')[0]?.envelope.body;
  if (relay === undefined) return undefined;
  try {
    const decoded = relay.packages.map((p) =>
      frost.decode.bytes('DkgRound1Package', hexToBytes(p.package)),
    );
    const key = bytesToHex(frost.keys.dkg.publicKeyPackage(decoded, start.threshold).verifyingKey);
    const hash = bytesToHex(
      round1Hash({
        ceremonyId,
        threshold: start.threshold,
        participants: start.participants,
        packages: relay.packages,
      }),
    );
    return `${hash}/${key}`;
  } catch {
    return undefined;
  }
}

/** Who disagrees, by the machine's rule (key-rules disagreeingMembers), and on what basis. */
function disagreeing(
  ceremonyId: string,
  roles: Roles,
  p: Progress,
  entries: readonly TranscriptEntry[],
): { members: string[]; basis: string } {
  const members = p.confirms.map((c) => c.member);
  const relayed = roles.dkg === undefined ? undefined : relayedView(ceremonyId, roles.dkg, entries);
  if (relayed !== undefined) {
    const matched = new Set(p.confirms.filter((c) => c.view === relayed).map((c) => c.member));
    return {
      members: matched.size === 0 ? [] : members.filter((m) => !matched.has(m)),
      basis:
        'its signed dkg.confirm differs from the relay the coordinator recorded (round-1 hash and group key of dkg.round1.all), which another member confirmed',
    };
  }
  const counts = new Map<string, number>();
  for (const c of p.confirms) counts.set(c.view, (counts.get(c.view) ?? 0) + 1);
  const largest = Math.max(0, ...counts.values());
  const leaders = [...counts].filter(([, n]) => n === largest);
  const agreeing = leaders.length === 1 ? leaders[0]?.[0] : undefined;
  return {
    members: p.confirms.filter((c) => c.view !== agreeing).map((c) => c.member),
    basis:
      agreeing === undefined
        ? 'the confirmations split with no largest view, so every confirmer is named (majority rule)'
        : 'its signed dkg.confirm is outside the largest view (majority rule)',
  };
}

/**
 * Why the machine or the coordinator would have refused `fail` (key-rules checkKey 'dkg.fail',
 * apps/coordinator key-ceremony.ts), judged from what came before it; undefined if admitted.
 */
function refusedComplaint(
  roles: Roles,
  entries: readonly TranscriptEntry[],
  fail: At<'dkg.fail'>,
): string | undefined {
  const { culprit, code } = fail.envelope.body;
  const self = culprit === fail.sender;
  if (!roles.members.includes(culprit)) return `${culprit} is not in the ceremony`;
  if (!self && !roles.dealers.includes(culprit)) return `${culprit} deals nothing in it`;
  const before = entries.filter((e) => e.idx < fail.idx);
  const { round } = missingOf(roles, progressOf(roles, before));
  // In round 1 a member may refuse the start by naming itself (it blames nobody); naming another
  // is a complaint about something nobody has relayed yet.
  if (round === 1 && !self) return 'nothing is relayed before round 1 is complete';
  if (!self && roles.dkg !== undefined && round === 2) {
    return 'no round-2 share is delivered before round 2 is complete';
  }
  if (!self && code === 'INVALID_PROOF_OF_KNOWLEDGE') {
    const own = before.find(
      (e) =>
        e.direction === 'in' &&
        e.sender === culprit &&
        (e.envelope.body.type === 'dkg.round1' || e.envelope.body.type === 'key.round1'),
    );
    if (own !== undefined) return `the coordinator verified ${culprit}'s proof when it arrived`;
  }
  return undefined;
}

/**
 * A complaint's evidence judged as the coordinator judged it (box-complaint.ts): the box its
 * culprit signed to its sender and the culprit's round-1 package, both as recorded before it.
 * `proven` is the reason the culprit is at fault; `refused` why the coordinator should have
 * refused the complaint (evidence that proves nothing, or a sound box); undefined when there is
 * no evidence to judge (a complaint naming its sender, or one from before protocol 4 for a DKG,
 * 5 for a lifecycle ceremony), which leaves the complaint its sender's word.
 */
function complaintProof(
  roles: Roles,
  entries: readonly TranscriptEntry[],
  fail: At<'dkg.fail'>,
  keyAt: KeyAt,
): { readonly proven: string } | { readonly refused: string } | undefined {
  const { culprit, evidence, code } = fail.envelope.body;
  if (culprit === fail.sender) return undefined;
  // From protocol 4 (a DKG) or 5 (a lifecycle ceremony) the coordinator judges a complaint about
  // another member, and refuses one without evidence. The version is signed into each member's
  // start (by the coordinator) and each dealer's round 1 (by the dealer): the highest any of them
  // names decides, so neither a start without one shown to a colluding accuser, nor a record that
  // leaves out every start naming one, makes the ceremony "old" while the accused dealer's own
  // round 1 says otherwise. Before it, the coordinator took the complaint on its sender's word and
  // ignored any evidence, so evidence then (a lifecycle dkg.fail could carry it) judges nothing.
  const [since, versions] =
    roles.dkg !== undefined
      ? [
          4,
          [
            ...bodiesOf(entries, 'dkg.start').map((e) => e.envelope.body.protocolVersion),
            ...bodiesOf(entries, 'dkg.round1').map((e) => e.envelope.body.protocolVersion),
          ],
        ]
      : [
          5,
          [
            ...bodiesOf(entries, 'key.start').map((e) => e.envelope.body.protocolVersion),
            ...bodiesOf(entries, 'key.round1').map((e) => e.envelope.body.protocolVersion),
          ],
        ];
  const version = Math.max(0, ...versions.map((v) => v ?? 0));
  if (version < since) return undefined;
  if (evidence !== undefined && !BOX_COMPLAINT_CODES.includes(code)) {
    return { refused: `a complaint about a box does not say ${code}` };
  }
  if (evidence === undefined) {
    return {
      refused: `a ceremony of protocol ${version} takes no complaint about another member without the evidence that opens its box`,
    };
  }
  const before = entries.filter(
    (e) => e.idx < fail.idx && e.direction === 'in' && e.sender === culprit,
  );
  const verdict =
    roles.dkg === undefined
      ? judgeLifecycle(entries, before, fail, evidence, keyAt)
      : judgeDkg(roles.dkg, before, fail, evidence);
  if ('refused' in verdict) return verdict;
  if (!verdict.ok) return { refused: `its evidence proves nothing: ${verdict.error.message}` };
  return verdict.value.culprit === culprit
    ? { proven: verdict.value.reason }
    : { refused: verdict.value.reason };
}

type Judged = Result<ComplaintVerdict> | { readonly refused: string };

/** A DKG complaint: the dealer's round-2 box to the accuser and its round-1 package. */
function judgeDkg(
  start: Body<'dkg.start'>,
  before: readonly TranscriptEntry[],
  fail: At<'dkg.fail'>,
  evidence: BoxEvidence,
): Judged {
  const culprit = fail.envelope.body.culprit;
  const accuser = start.participants.find((p) => p.member === fail.sender);
  const dealer = start.participants.find((p) => p.member === culprit);
  const r1 = before.find((e) => e.envelope.body.type === 'dkg.round1')?.envelope.body;
  let box;
  for (const e of before) {
    const body = e.envelope.body;
    if (body.type !== 'dkg.round2') continue;
    box ??= body.boxes.find((b) => b.recipient === fail.sender);
  }
  if (
    accuser === undefined ||
    dealer === undefined ||
    box === undefined ||
    r1?.type !== 'dkg.round1'
  ) {
    return { refused: `${culprit} is recorded sending ${fail.sender} no round-2 box before it` };
  }
  let dealerRound1;
  try {
    dealerRound1 = frost.decode.bytes('DkgRound1Package', hexToBytes(r1.package));
  } catch {
    return { refused: `${culprit}'s recorded round-1 package does not decode` };
  }
  return judgeDkgShareComplaint(
    {
      ceremonyId: fail.envelope.ceremonyId,
      accuser: fail.sender,
      accuserIdentityKey: hexToBytes(accuser.identityKey, 32),
      dealer: culprit,
      dealerIdentityKey: hexToBytes(dealer.identityKey, 32),
      box,
      dealerRound1,
      accuserIdentifier: accuser.identifier,
      minSigners: start.threshold,
    },
    evidence,
  );
}

/**
 * A lifecycle complaint: the box the dealer signed to the accuser in its key.round1 (a repair
 * delta) or key.round2 (a sub-share or σ), judged against its recorded package and the ceremony's
 * key.start (the first recorded, as the roles are).
 */
function judgeLifecycle(
  entries: readonly TranscriptEntry[],
  before: readonly TranscriptEntry[],
  fail: At<'dkg.fail'>,
  evidence: BoxEvidence,
  keyAt: KeyAt,
): Judged {
  const culprit = fail.envelope.body.culprit;
  const start = bodiesOf(entries, 'key.start')[0]?.envelope.body;
  let box;
  let carrier: TranscriptEntry | undefined;
  let dealerPackage: string | undefined;
  for (const e of before) {
    const body = e.envelope.body;
    if (body.type === 'key.round1') dealerPackage ??= body.package;
    if (body.type !== 'key.round1' && body.type !== 'key.round2') continue;
    if (box !== undefined) continue;
    box = body.boxes.find((b) => b.recipient === fail.sender);
    if (box !== undefined) carrier = e;
  }
  // The identity keys are the registry's that verified the two members' envelopes (the dkg.fail,
  // and the message carrying the box), not key.start's roster: for a refresh or repair that is
  // the coordinator's word, and a key it made up would let a colluding accuser's evidence "prove"
  // that a sound box does not open.
  const accuserKey = keyAt(fail.sender, fail.at, fail.envelope.seq);
  const dealerKey =
    carrier === undefined ? undefined : keyAt(culprit, carrier.at, carrier.envelope.seq);
  if (start === undefined || box === undefined) {
    return { refused: `${culprit} is recorded sending ${fail.sender} no box before it` };
  }
  if (accuserKey === undefined || dealerKey === undefined) {
    return { refused: `the registry holds no key for ${fail.sender} or ${culprit} at the time` };
  }
  const complaint = lifecycleComplaintOf(
    fail.envelope.ceremonyId,
    start,
    { member: fail.sender, identityKey: accuserKey },
    { member: culprit, identityKey: dealerKey },
    box,
    dealerPackage,
  );
  return complaint.ok ? judgeLifecycleComplaint(complaint.value, evidence) : complaint;
}

/**
 * An honest ending of a key ceremony the coordinator records as completed: every confirmer
 * confirmed one view, and the coordinator refused to activate a key it could not reproduce
 * (`dkg.abort` CONFIRMATION_MISMATCH naming nobody; key-ceremony.ts, key-lifecycle.ts).
 */
export function activationRefused(
  entries: readonly TranscriptEntry[],
  abort: Body<'dkg.abort'>,
): boolean {
  const roles = rolesOf(entries);
  if (roles === undefined || abort.code !== 'CONFIRMATION_MISMATCH' || abort.culprits.length > 0)
    return false;
  const p = progressOf(roles, entries);
  return (
    p.strangers.length === 0 &&
    p.confirms.length === roles.confirmers.length &&
    new Set(p.confirms.map((c) => c.view)).size === 1
  );
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  [...new Set(a)].sort().join(',') === [...new Set(b)].sort().join(',');

/** Judges the culprits of `abort` (the one final dkg.abort) against the transcript before it. */
export function judgeKeyAbort(
  ceremonyId: string,
  entries: readonly TranscriptEntry[],
  abort: Body<'dkg.abort'>,
  keyAt: KeyAt,
): KeyBlameVerdict {
  const named = [...abort.culprits];
  const roles = rolesOf(entries);
  if (roles === undefined) {
    return { ok: false, detail: 'no dkg.start or key.start says who was to act' };
  }
  const p = progressOf(roles, entries);
  if (p.strangers.length > 0) {
    return {
      ok: false,
      detail: `the transcript holds member messages the ceremony would have refused: ${p.strangers.slice(0, 4).join('; ')}`,
    };
  }
  const wrong = (expected: readonly string[], why: string): KeyBlameVerdict => ({
    ok: false,
    detail: `dkg.abort (${abort.code}) names ${named.length === 0 ? 'nobody' : named.join(', ')}, but ${why} ${expected.length === 0 ? 'nobody' : expected.join(', ')}`,
  });
  const judged = (basis: (m: string) => string, detail: string): KeyBlameVerdict => ({
    ok: true,
    detail,
    culprits: named.map((member) => ({ member, basis: basis(member) })),
  });
  // A member's complaint aborts at once, with its code: the first accepted one decides.
  const fail = p.fails[0];
  if (fail !== undefined) {
    const f = fail.envelope.body;
    const refused = refusedComplaint(roles, entries, fail);
    if (refused !== undefined) {
      return {
        ok: false,
        detail: `${fail.sender}'s dkg.fail (entry ${fail.idx}) is one the ceremony refuses (${refused}), so it blames nobody`,
      };
    }
    const proof = complaintProof(roles, entries, fail, keyAt);
    if (proof !== undefined && 'refused' in proof) {
      return {
        ok: false,
        detail: `${fail.sender}'s dkg.fail (entry ${fail.idx}) is one the coordinator must refuse (${proof.refused}), so it blames nobody`,
      };
    }
    const expected = f.culprit === fail.sender ? [] : [f.culprit];
    if (!sameSet(named, expected) || (expected.length > 0 && abort.code !== f.code)) {
      return wrong(
        expected,
        `${fail.sender}'s signed dkg.fail (${f.code}, entry ${fail.idx}) names`,
      );
    }
    return judged(
      () =>
        proof === undefined
          ? `named by ${fail.sender} in its signed dkg.fail (${f.code}), which carries no evidence to open the box with (a complaint from before protocol 4, or 5 in a lifecycle ceremony), so this is ${fail.sender}'s word, not proven`
          : `proven by ${fail.sender}'s signed dkg.fail (${f.code}), whose evidence is checked: ${proof.proven}`,
      expected.length === 0
        ? `${fail.sender} ended it naming itself, a failure it could not attribute or a start it refused (its signed dkg.fail, entry ${fail.idx}: "${f.reason}"); nobody is blamed`
        : `${f.culprit} is named by ${fail.sender}'s signed dkg.fail (${f.code}, entry ${fail.idx}), as dkg.abort says`,
    );
  }
  if (named.length === 0) {
    return {
      ok: true,
      detail: `dkg.abort (${abort.code}) names nobody`,
      culprits: [],
    };
  }
  switch (abort.code) {
    case 'DEADLINE_EXCEEDED': {
      const { round, missing } = missingOf(roles, p);
      if (round === 3 && new Set(p.confirms.map((c) => c.view)).size > 1) {
        return wrong(
          disagreeing(ceremonyId, roles, p, entries).members,
          'the confirmations disagree, so the machine aborts with CONFIRMATION_MISMATCH, naming',
        );
      }
      if (!sameSet(named, missing)) {
        return wrong(
          missing,
          `the round in progress was round ${round}, whose part was missing from`,
        );
      }
      return judged(
        () =>
          `sent no round-${round} message before the deadline (as recorded: the deadline and the record are the coordinator's)`,
        `round ${round} was in progress and ${missing.join(', ')} had not done their part of it`,
      );
    }
    case 'CONFIRMATION_MISMATCH': {
      const d = disagreeing(ceremonyId, roles, p, entries);
      if (!sameSet(named, d.members)) {
        return wrong(d.members, 'the signed confirmations, judged by the machine’s rule, name');
      }
      return judged(
        () => d.basis,
        `the signed confirmations, judged by the machine's rule, name ${d.members.join(', ')}`,
      );
    }
    default:
      return {
        ok: false,
        detail: `dkg.abort (${abort.code}) names ${named.join(', ')}, but no message in the transcript blames anyone for that`,
      };
  }
}
