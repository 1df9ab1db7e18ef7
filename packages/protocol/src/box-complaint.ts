// Verifiable complaints about a DKG round-2 box (THREATS B.25–B.27), and from protocol 5 about a
// lifecycle ceremony's boxes: a refresh or reshare sub-share, a repair delta or σ.
//
// A round-2 share travels in a pairwise box (pairwise.ts) keyed by two X25519 outputs the
// recipient holds: X25519(r, E) with the sender's fresh key E, and X25519(r, S) with the sender's
// static key. A complaint "this box holds a bad share" was the recipient's word: nobody else could
// open the box. Here the recipient reveals both outputs, as the Edwards points D_E = r·E and
// D_S = r·S, with one Chaum–Pedersen proof of equal discrete logarithms (CRYPTO '92; the
// Fiat–Shamir form of RFC 9497 §2.2) that the scalar behind them is the one behind its identity
// key A. Anyone holding the signed box, the two identity keys and the dealer's round-1 commitment
// can then open the box and run vss_verify (RFC 9591 Appendix C.2) on the share: the complaint
// names the dealer when the share (or the box) is bad, and the accuser when it is not.
//
// The group is edwards25519's prime-order subgroup. An identity's X25519 scalar x is RFC 8032's
// clamped secret (identity.ts), a multiple of 8, and its Edwards public key is A = x·B. With
// x = 8·w: A = w·(8B) and x·P = w·(8P) for any P, so the witness is w mod ℓ over the bases 8B,
// 8·lift(E) and 8S, all of prime order. X25519 sees only u-coordinates, so E is lifted to the
// Edwards point with that u (y = (u−1)/(u+1), RFC 7748 §4.1) and either sign: x·(−P) = −(x·P) has
// the same u. A box whose E has no such point of prime order (on the twist, or of small order) is
// one no honest sender makes (E = e·9): whoever signed it is at fault, with no proof needed.
//
// What the complaint reveals: the two outputs, so this one box opens for everyone. Its share
// belongs to a key ceremony that is aborting (or, if the accusation is false, to a liar's own
// share). D_S is the static pair's output; it alone opens no box (each box needs its own D_E),
// but it lets anyone seal a box that key authenticates, so a recipient opens only boxes their
// sender signed (the client's openPairwiseBox refuses unsigned ones): it lets nobody pass as the
// sender.
import {
  ed25519 as frost,
  FrostError,
  type DkgRound1Package,
  type ReshareRound1Package,
} from '@conclave/frost';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { domainEncode } from './encoding.js';
import { fail, ok, type ErrorCode, type Result } from './errors.js';
import { bytesToHex, hexToBytes } from './hex.js';
import { x25519SecretOf, type IdentityKey } from './identity.js';
import type { BoxEvidence } from './messages/dkg.js';
import type { KeyStart } from './messages/lifecycle.js';
import {
  boxFromWire,
  openWithSharedSecrets,
  verifyPairwiseBox,
  type PairwiseContext,
  type WireBox,
} from './pairwise.js';

type Point = typeof ed25519.Point.BASE;
const Point = ed25519.Point;
const ORDER = Point.Fn.ORDER;
const P = Point.Fp.ORDER;
const B8 = Point.BASE.multiply(8n);

/** The box a complaint is about, and who sent it to whom. */
export interface BoxComplaintContext {
  readonly ceremonyId: string;
  /** The recipient, who complains. */
  readonly accuser: string;
  readonly accuserIdentityKey: Uint8Array;
  /** The sender, whom the complaint names. */
  readonly dealer: string;
  readonly dealerIdentityKey: Uint8Array;
  /** The box as the dealer signed it (the coordinator's record of its `dkg.round2`). */
  readonly box: WireBox & { readonly signature?: string | undefined };
}

/** What a box turned out to hold, once opened by a judge. */
export type BoxContents =
  | { readonly opened: true; readonly plaintext: Uint8Array }
  | { readonly opened: false; readonly reason: string };

function pairwiseContext(c: BoxComplaintContext): PairwiseContext {
  return { ceremonyId: c.ceremonyId, sender: c.dealer, recipient: c.accuser };
}

function scalarOf(hash: Uint8Array): bigint {
  return bytesToNumberLE(hash) % ORDER;
}

/**
 * The Edwards point of prime order whose Montgomery u-coordinate is `uBytes` (RFC 7748 §5
 * decoding: the top bit ignored, reduced mod p), times the cofactor 8; undefined when there is
 * none (a point of the twist, u = −1, or a point of small order).
 */
export function liftMontgomery8(uBytes: Uint8Array): Point | undefined {
  if (uBytes.length !== 32) return undefined;
  const masked = Uint8Array.from(uBytes);
  masked[31] = masked[31]! & 0x7f;
  const u = bytesToNumberLE(masked) % P;
  if (u === P - 1n) return undefined;
  const Fp = Point.Fp;
  const y = Fp.mul(Fp.sub(u, 1n), Fp.inv(Fp.add(u, 1n)));
  let pt: Point;
  try {
    pt = Point.fromBytes(numberToBytesLE(y, 32));
  } catch {
    return undefined; // no x for this y: u is on the twist
  }
  const cleared = pt.clearCofactor();
  return cleared.is0() ? undefined : cleared;
}

/** A point of the wire: canonical, of prime order, not the identity; else undefined. */
function primeOrderPoint(hex: string): Point | undefined {
  try {
    const pt = Point.fromBytes(hexToBytes(hex, 32));
    return pt.is0() || !pt.isTorsionFree() ? undefined : pt;
  } catch {
    return undefined;
  }
}

/** The proof's challenge (exported for the tests that forge proofs). */
export function complaintChallenge(
  c: BoxComplaintContext,
  ephemeralShared: Point | undefined,
  staticShared: Point,
  t0: Point,
  tE: Point | undefined,
  tS: Point,
): bigint {
  const none = new Uint8Array(0);
  return scalarOf(
    sha512(
      domainEncode('box-complaint-dleq', [
        c.ceremonyId,
        c.accuser,
        c.dealer,
        c.accuserIdentityKey,
        c.dealerIdentityKey,
        hexToBytes(c.box.ephemeralKey, 32),
        ephemeralShared?.toBytes() ?? none,
        staticShared.toBytes(),
        t0.toBytes(),
        tE?.toBytes() ?? none,
        tS.toBytes(),
      ]),
    ),
  );
}

/**
 * The recipient's evidence for a complaint about the box `c.box`: its two X25519 outputs as
 * Edwards points and the proof that they are its own. `me` must be the accuser's identity.
 * Throws RangeError for a key that is not the accuser's or a dealer key that is not a valid point.
 */
export function proveBoxComplaint(
  me: IdentityKey,
  c: BoxComplaintContext,
  random: (length: number) => Uint8Array = randomBytes,
): BoxEvidence {
  const clamped = x25519SecretOf(me);
  const w = (bytesToNumberLE(clamped) >> 3n) % ORDER;
  clamped.fill(0); // (JavaScript cannot wipe bigints: w lives until collected)
  const wBytes = numberToBytesLE(w, 32);
  try {
    return prove(c, w, wBytes, random);
  } finally {
    wBytes.fill(0);
  }
}

function prove(
  c: BoxComplaintContext,
  w: bigint,
  wBytes: Uint8Array,
  random: (length: number) => Uint8Array,
): BoxEvidence {
  const A = Point.fromBytes(c.accuserIdentityKey);
  if (!B8.multiply(w).equals(A)) throw new RangeError('the identity key is not the accuser’s');
  const S8 = Point.fromBytes(c.dealerIdentityKey).clearCofactor();
  if (S8.is0()) throw new RangeError('the dealer key is of small order');
  const E8 = liftMontgomery8(hexToBytes(c.box.ephemeralKey, 32));
  const dE = E8?.multiply(w);
  const dS = S8.multiply(w);
  for (;;) {
    // RFC 9591 §4.1's nonce_generate pattern: fresh randomness hashed with the secret, so a weak
    // generator alone does not give the nonce away.
    const seed = random(32);
    const input = domainEncode('box-complaint-nonce', [seed, wBytes, A.toBytes()]);
    const k = scalarOf(sha512(input));
    seed.fill(0);
    input.fill(0);
    if (k === 0n) continue;
    const t0 = B8.multiply(k);
    const tE = E8?.multiply(k);
    const tS = S8.multiply(k);
    const e = complaintChallenge(c, dE, dS, t0, tE, tS);
    const s = (((k - e * w) % ORDER) + ORDER) % ORDER;
    return {
      ...(dE === undefined ? {} : { ephemeralShared: dE.toHex() }),
      staticShared: dS.toHex(),
      challenge: bytesToHex(numberToBytesLE(e, 32)),
      response: bytesToHex(numberToBytesLE(s, 32)),
    };
  }
}

function scalarFromHex(hex: string): bigint | undefined {
  try {
    const n = bytesToNumberLE(hexToBytes(hex, 32));
    return n < ORDER ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the box of a complaint with the accuser's revealed outputs, after checking the proof.
 * An error (INVALID_MESSAGE) means the evidence proves nothing: a malformed or wrong proof, or a
 * box without its dealer's signature (nobody but the relay is then known to have made it). A box
 * that does not open, or whose fresh key is no point of prime order, is `opened: false`: the
 * dealer signed it.
 */
export function openComplainedBox(
  c: BoxComplaintContext,
  evidence: BoxEvidence,
): Result<BoxContents> {
  const ctx = pairwiseContext(c);
  if (
    c.box.signature === undefined ||
    !verifyPairwiseBox(c.dealerIdentityKey, ctx, c.box, c.box.signature)
  ) {
    return fail(
      'INVALID_MESSAGE',
      `the box is not one ${c.dealer} signed, so it proves nothing of ${c.dealer}`,
    );
  }
  let A: Point;
  let S8: Point;
  try {
    A = Point.fromBytes(c.accuserIdentityKey);
    S8 = Point.fromBytes(c.dealerIdentityKey).clearCofactor();
  } catch {
    return fail('INVALID_MESSAGE', 'an identity key is not a point');
  }
  const E8 = liftMontgomery8(hexToBytes(c.box.ephemeralKey, 32));
  if (E8 === undefined) {
    return ok({
      opened: false,
      reason: `the box's ephemeral key is not a point of prime order, which ${c.dealer} signed and no honest sender makes`,
    });
  }
  const dS = primeOrderPoint(evidence.staticShared);
  const dE =
    evidence.ephemeralShared === undefined ? undefined : primeOrderPoint(evidence.ephemeralShared);
  const e = scalarFromHex(evidence.challenge);
  const s = scalarFromHex(evidence.response);
  if (dS === undefined || dE === undefined || e === undefined || s === undefined) {
    return fail(
      'INVALID_MESSAGE',
      'the complaint’s evidence is malformed (points of prime order and canonical scalars expected)',
    );
  }
  const mul = (pt: Point, n: bigint): Point => (n === 0n ? Point.ZERO : pt.multiplyUnsafe(n));
  const t0 = mul(B8, s).add(mul(A, e));
  const tE = mul(E8, s).add(mul(dE, e));
  const tS = mul(S8, s).add(mul(dS, e));
  if (complaintChallenge(c, dE, dS, t0, tE, tS) !== e) {
    return fail(
      'INVALID_MESSAGE',
      `the complaint’s proof does not verify: the revealed keys are not ${c.accuser}'s`,
    );
  }
  const dhE = ed25519.utils.toMontgomery(dE.toBytes());
  const dhS = ed25519.utils.toMontgomery(dS.toBytes());
  const opened = openWithSharedSecrets(
    dhE,
    dhS,
    x25519PublicOf(c.dealerIdentityKey),
    x25519PublicOf(c.accuserIdentityKey),
    boxFromWire(c.box),
    ctx,
  );
  return ok(
    opened.ok
      ? { opened: true, plaintext: opened.value }
      : {
          opened: false,
          reason: `the box ${c.dealer} signed does not open under ${c.accuser}'s proven keys`,
        },
  );
}

function x25519PublicOf(identityKey: Uint8Array): Uint8Array {
  return ed25519.utils.toMontgomery(identityKey);
}

/**
 * The codes a complaint about a round-2 box may carry: what a recipient finds wrong with a box
 * (DECRYPTION_FAILED), its package (IDENTIFIER_MISMATCH, INVALID_MESSAGE) or its share
 * (INVALID_SECRET_SHARE). A proven complaint aborts with its code, so any other (say,
 * CONFIRMATION_MISMATCH) would misreport what the evidence showed: it is refused.
 */
export const BOX_COMPLAINT_CODES: readonly ErrorCode[] = Object.freeze([
  'INVALID_SECRET_SHARE',
  'DECRYPTION_FAILED',
  'IDENTIFIER_MISMATCH',
  'INVALID_MESSAGE',
]);

/** Whom a complaint proves at fault, and why (a sentence for reports). */
export interface ComplaintVerdict {
  readonly culprit: string;
  readonly reason: string;
}

/**
 * What a judge found in an opened box: the dealer's fault, nothing wrong, or nothing that can be
 * shown wrong (a repair's scalar: its value is checked only in a sum).
 */
type ContentsVerdict =
  { readonly fault: string } | { readonly sound: string } | { readonly unproven: string };

/**
 * The common part of judging a complaint about a box: the evidence proves nothing (an error), the
 * box does not open (the dealer), or `judge` decides from its plaintext, which is wiped after.
 */
function judgeBox(
  c: BoxComplaintContext,
  evidence: BoxEvidence,
  judge: (plaintext: Uint8Array) => ContentsVerdict,
): Result<ComplaintVerdict> {
  const contents = openComplainedBox(c, evidence);
  if (!contents.ok) return contents;
  if (!contents.value.opened) return ok({ culprit: c.dealer, reason: contents.value.reason });
  const plaintext = contents.value.plaintext;
  try {
    const v = judge(plaintext);
    if ('fault' in v) {
      return ok({
        culprit: c.dealer,
        reason: `the box ${c.dealer} signed to ${c.accuser}, opened with ${c.accuser}'s proven keys, ${v.fault}`,
      });
    }
    return ok({
      culprit: c.accuser,
      reason:
        'sound' in v
          ? `${v.sound}: the accusation is false`
          : `${v.unproven}: the accusation cannot be proven`,
    });
  } finally {
    plaintext.fill(0);
  }
}

/** What a share that fails its check is, in a verdict's words. */
function shareFault(what: string, err: FrostError): string {
  return err.code === 'INVALID_SECRET_SHARE'
    ? `holds ${what} that fails vss_verify: ${err.message}`
    : `holds ${what} that fails its checks: ${err.message}`;
}

/** A complaint about a DKG round-2 share: the box, plus what judging the share needs. */
export interface DkgShareComplaint extends BoxComplaintContext {
  /** The dealer's round-1 package, as recorded and relayed. */
  readonly dealerRound1: DkgRound1Package;
  /** The accuser's FROST identifier (the share is f(x) at it). */
  readonly accuserIdentifier: string;
  readonly minSigners: number;
}

/**
 * Judges a complaint about a DKG round-2 share from its evidence: the dealer when its box does not
 * open under the accuser's proven keys, does not hold a round-2 package from it to the accuser, or
 * holds a share that fails vss_verify against its round-1 commitment; the accuser when the share
 * is sound (the accusation is false). INVALID_MESSAGE when the evidence proves nothing
 * (openComplainedBox). Deterministic, from public data only: the coordinator and every auditor
 * reach the same verdict.
 */
export function judgeDkgShareComplaint(
  c: DkgShareComplaint,
  evidence: BoxEvidence,
): Result<ComplaintVerdict> {
  return judgeBox(c, evidence, (plaintext) => {
    let share;
    try {
      share = frost.decode.bytes('DkgRound2Package', plaintext);
    } catch {
      return { fault: 'holds no round-2 package' };
    }
    try {
      frost.keys.dkg.verifyShare(c.dealerRound1, share, c.accuserIdentifier, c.minSigners);
    } catch (err) {
      if (!(err instanceof FrostError)) throw err;
      return { fault: shareFault('a share', err) };
    } finally {
      share.signingShare.fill(0);
    }
    return { sound: `the share ${c.dealer} sent ${c.accuser} matches ${c.dealer}'s commitment` };
  });
}

/**
 * A complaint about a lifecycle box (docs/lifecycle.md): a refresh or reshare dealer's sub-share
 * to a member of the new committee, or a repair helper's delta (to another helper) or σ (to the
 * member being repaired).
 */
export type LifecycleBoxComplaint = BoxComplaintContext &
  (
    | {
        readonly kind: 'refresh' | 'reshare';
        /** The dealer's ReshareRound1Package, as recorded (signed by the dealer) and relayed. */
        readonly dealerPackage: ReshareRound1Package;
        /** The accuser's FROST identifier (derived from its name). */
        readonly accuserIdentifier: string;
      }
    | { readonly kind: 'repair' }
  );

/**
 * Judges a complaint about a lifecycle box from its evidence, like judgeDkgShareComplaint. A
 * refresh or reshare sub-share is checked against the package its dealer signed
 * (keys.reshare.verifySubShare: sender, recipient, vss_verify). Whether that package fits the key
 * state is the coordinator's check on arrival, not part of the verdict, so the judge needs nothing
 * the coordinator alone says. A repair box holds a scalar whose value nobody but the sum can check (Σσ against the
 * verifying share): the helper is at fault only when its box does not open or holds no canonical
 * scalar.
 */
export function judgeLifecycleComplaint(
  c: LifecycleBoxComplaint,
  evidence: BoxEvidence,
): Result<ComplaintVerdict> {
  if (c.kind === 'repair') {
    return judgeBox(c, evidence, (plaintext) => {
      // step2 parses each delta or σ as the helper and the repaired member do (a canonical scalar).
      try {
        frost.keys.repair.step2([plaintext]).fill(0);
      } catch (err) {
        if (!(err instanceof FrostError)) throw err;
        return { fault: 'holds no canonical scalar' };
      }
      return {
        unproven: `the box ${c.dealer} sent ${c.accuser} opens and holds a scalar, and a repair's value can be checked only as a sum, which names nobody`,
      };
    });
  }
  return judgeBox(c, evidence, (plaintext) => {
    let share;
    try {
      share = frost.decode.bytes('ReshareRound1Share', plaintext);
    } catch {
      return { fault: 'holds no sub-share' };
    }
    try {
      frost.keys.reshare.verifySubShare(c.dealerPackage, share, c.accuserIdentifier);
    } catch (err) {
      if (!(err instanceof FrostError)) throw err;
      return { fault: shareFault('a sub-share', err) };
    } finally {
      share.subShare.fill(0);
    }
    return {
      sound: `the sub-share ${c.dealer} sent ${c.accuser} matches ${c.dealer}'s commitment`,
    };
  });
}

/**
 * The complaint `accuser` makes against `dealer` about `box` in the lifecycle ceremony `start`
 * describes, for judgeLifecycleComplaint. The identity keys are the caller's: the registry's keys
 * that signed the accuser's dkg.fail and the dealer's box-carrying message, never the start's
 * roster (a coordinator's word for a refresh or repair: a key it made up there would let a
 * colluding accuser's evidence "prove" a sound box does not open). Identifiers are derived from
 * the names, as members require. The start says only who deals and who receives. INVALID_MESSAGE
 * when it makes them no dealer and recipient of such a box, or the dealer's package does not
 * decode: the complaint then proves nothing. The coordinator and the audit both build it here, so
 * they judge the same complaint.
 */
export function lifecycleComplaintOf(
  ceremonyId: string,
  start: KeyStart,
  accuser: { readonly member: string; readonly identityKey: Uint8Array },
  dealer: { readonly member: string; readonly identityKey: Uint8Array },
  box: BoxComplaintContext['box'],
  dealerPackage: string | undefined,
): Result<LifecycleBoxComplaint> {
  const receives =
    start.kind === 'repair'
      ? accuser.member !== dealer.member &&
        (accuser.member === start.member || start.dealers.includes(accuser.member))
      : start.participants.some((p) => p.member === accuser.member);
  if (!start.dealers.includes(dealer.member) || !receives) {
    return fail(
      'INVALID_MESSAGE',
      `${accuser.member} receives no box from ${dealer.member} in this ceremony`,
    );
  }
  const base = {
    ceremonyId,
    accuser: accuser.member,
    accuserIdentityKey: accuser.identityKey,
    dealer: dealer.member,
    dealerIdentityKey: dealer.identityKey,
    box,
  };
  if (start.kind === 'repair') return ok({ ...base, kind: 'repair' });
  let dealerPkg: ReshareRound1Package;
  try {
    if (dealerPackage === undefined) throw new RangeError('no package');
    dealerPkg = frost.decode.bytes('ReshareRound1Package', hexToBytes(dealerPackage));
  } catch {
    return fail('INVALID_MESSAGE', `${dealer.member} has no recorded round-1 package that decodes`);
  }
  return ok({
    ...base,
    kind: start.kind,
    dealerPackage: dealerPkg,
    accuserIdentifier: frost.identifier.derive(accuser.member),
  });
}
