/**
 * Reshare: move a key to a new committee and/or a new threshold while the group public key stays
 * the same (none of the anchor libraries ships this; frost#919). Refresh is the special case
 * "same committee, same threshold" (proactive refresh, as frost-rs's refresh).
 *
 * Each of ≥ t old holders i (the dealers) shares its Lagrange-weighted share λ_i·s_i with a fresh
 * random polynomial f_i of the new degree, broadcasts its commitment (whose constant term must be
 * λ_i·PK_i, which the new members check against the old public key package), and sends f_i(j) to
 * each new member j. New share s'_j = Σ_i f_i(j); Σ_i λ_i·s_i = s, so the group key is unchanged,
 * and the new polynomial is fresh, so old shares do not combine with new ones.
 */
import { fail } from '../errors.js';
import {
  defaultRng,
  encodeElement,
  encodeScalar,
  identifierToScalar,
  lagrangeAt,
  parseElement,
  parseScalar,
  polyEval,
  randomScalar,
  vssEval,
  vssVerify,
} from '../group.js';
import type { Pt, Suite } from '../suite.js';
import type {
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  ReshareRound1Package,
  ReshareRound1Share,
  Rng,
} from '../types.js';
import {
  checkSigners,
  makeKeyPackage,
  parseCommitment,
  publicKeyPackageFromCommitment,
  shareScalar,
} from './common.js';

export interface ReshareParams {
  /** Old holders taking part as dealers: at least the old threshold. */
  readonly dealers: readonly string[];
  /** The new committee. */
  readonly newIdentifiers: readonly string[];
  readonly newMinSigners: number;
}

interface Checked {
  dealerX: bigint[];
  dealers: Identifier[];
  newIds: Identifier[];
}

function checkParams(suite: Suite, old: PublicKeyPackage, p: ReshareParams): Checked {
  if (old.suite !== suite.name) fail('WRONG_CIPHERSUITE', `public key package is for ${old.suite}`);
  checkSigners(p.newMinSigners, p.newIdentifiers.length);
  if (p.dealers.length < old.minSigners)
    fail(
      'INCORRECT_NUMBER_OF_PACKAGES',
      `at least ${old.minSigners} current holders must take part; got ${p.dealers.length}`,
    );
  const seen = new Set<bigint>();
  const dealerX = p.dealers.map((d) => {
    const x = identifierToScalar(suite, d, d);
    if (seen.has(x)) fail('DUPLICATE_IDENTIFIER', 'dealer listed twice', [d]);
    if (!old.verifyingShares[d as Identifier])
      fail('UNKNOWN_IDENTIFIER', 'dealer is not a current holder', [d]);
    seen.add(x);
    return x;
  });
  const seenNew = new Set<bigint>();
  for (const id of p.newIdentifiers) {
    const x = identifierToScalar(suite, id, id);
    if (seenNew.has(x)) fail('DUPLICATE_IDENTIFIER', 'new member listed twice', [id]);
    seenNew.add(x);
  }
  return { dealerX, dealers: p.dealers as Identifier[], newIds: p.newIdentifiers as Identifier[] };
}

export function resharePart1(
  suite: Suite,
  key: KeyPackage,
  old: PublicKeyPackage,
  params: ReshareParams,
  rng: Rng = defaultRng,
): { package: ReshareRound1Package; shares: Readonly<Record<Identifier, ReshareRound1Share>> } {
  const c = checkParams(suite, old, params);
  const s = shareScalar(suite, key);
  const myX = identifierToScalar(suite, key.identifier);
  if (!c.dealerX.includes(myX))
    fail('UNKNOWN_IDENTIFIER', 'this holder is not among the dealers', [key.identifier]);
  const a0 = suite.Fn.mul(lagrangeAt(suite, c.dealerX, myX), s);
  const coeffs = [
    a0,
    ...Array.from({ length: params.newMinSigners - 1 }, () => randomScalar(suite, rng)),
  ];
  const commitment = Object.freeze(coeffs.map((a) => encodeElement(suite.Point.BASE.multiply(a))));
  const shares: Record<Identifier, ReshareRound1Share> = {};
  for (const id of c.newIds) {
    shares[id] = Object.freeze({
      suite: suite.name,
      sender: key.identifier,
      recipient: id,
      subShare: encodeScalar(suite, polyEval(suite, coeffs, identifierToScalar(suite, id))),
    });
  }
  coeffs.fill(0n);
  return {
    package: Object.freeze({ suite: suite.name, sender: key.identifier, commitment }),
    shares: Object.freeze(shares),
  };
}

export function resharePart2(
  suite: Suite,
  identifier: string,
  old: PublicKeyPackage,
  params: ReshareParams,
  packages: readonly ReshareRound1Package[],
  shares: readonly ReshareRound1Share[],
  mode: 'reshare' | 'refresh' = 'reshare',
): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage } {
  const c = checkParams(suite, old, params);
  const me = identifier as Identifier;
  const myX = identifierToScalar(suite, me);
  if (!c.newIds.includes(me))
    fail('UNKNOWN_IDENTIFIER', 'this participant is not in the new committee', [me]);
  const byDealer = new Map<string, Pt[]>();
  for (const p of packages) {
    if (p.suite !== suite.name) fail('WRONG_CIPHERSUITE', `package is for ${p.suite}`, [p.sender]);
    const i = c.dealers.indexOf(p.sender);
    if (i < 0) fail('UNKNOWN_IDENTIFIER', 'package from someone who is not a dealer', [p.sender]);
    if (byDealer.has(p.sender))
      fail('DUPLICATE_IDENTIFIER', 'two packages from one dealer', [p.sender]);
    if (p.commitment.length !== params.newMinSigners)
      fail(
        mode === 'refresh' ? 'THRESHOLD_CHANGE_REFUSED' : 'INCORRECT_NUMBER_OF_COMMITMENTS',
        `dealer committed to ${p.commitment.length} coefficients; the threshold is ${params.newMinSigners}`,
        [p.sender],
      );
    const C = parseCommitment(suite, p.commitment, p.sender);
    // The constant term must be λ_i·PK_i: a dealer cannot shift the group key.
    const PKi = parseElement(
      suite,
      old.verifyingShares[p.sender] as Uint8Array,
      'old verifying share',
    );
    const lambda = lagrangeAt(suite, c.dealerX, c.dealerX[i] as bigint);
    if (!(C[0] as Pt).equals(PKi.multiplyUnsafe(lambda)))
      fail('INCORRECT_COMMITMENT', 'dealer’s commitment does not match its old verifying share', [
        p.sender,
      ]);
    byDealer.set(p.sender, C);
  }
  if (byDealer.size !== c.dealers.length)
    fail(
      'INCORRECT_NUMBER_OF_PACKAGES',
      `expected ${c.dealers.length} dealer packages, got ${byDealer.size}`,
    );
  const sub = new Map<string, bigint>();
  for (const s of shares) {
    if (!byDealer.has(s.sender))
      fail('UNKNOWN_IDENTIFIER', 'sub-share from someone who is not a dealer', [s.sender]);
    if (s.recipient !== me)
      fail('INVALID_PARAMETER', 'sub-share addressed to someone else', [s.sender]);
    if (sub.has(s.sender))
      fail('DUPLICATE_IDENTIFIER', 'two sub-shares from one dealer', [s.sender]);
    sub.set(s.sender, parseScalar(suite, s.subShare, 'sub-share', s.sender));
  }
  if (sub.size !== c.dealers.length)
    fail('INCORRECT_NUMBER_OF_SHARES', `expected ${c.dealers.length} sub-shares, got ${sub.size}`);
  const F = suite.Fn;
  let total = F.ZERO;
  let merged: Pt[] | undefined;
  for (const d of c.dealers) {
    total = F.add(total, sub.get(d) as bigint);
    const C = byDealer.get(d) as Pt[];
    merged = merged ? merged.map((m, k) => m.add(C[k] as Pt)) : C.slice();
  }
  const M = merged as Pt[];
  if (!suite.Point.BASE.multiply(total).equals(vssEval(suite, M, myX))) {
    const culprits = c.dealers.filter(
      (d) => !vssVerify(suite, byDealer.get(d) as Pt[], sub.get(d) as bigint, myX),
    );
    fail('INVALID_SECRET_SHARE', 'a sub-share does not match its dealer’s commitment', culprits);
  }
  const pub = publicKeyPackageFromCommitment(suite, M, c.newIds, params.newMinSigners);
  if (
    !parseElement(suite, pub.verifyingKey, 'new group key').equals(
      parseElement(suite, old.verifyingKey, 'group key'),
    )
  )
    fail('INCORRECT_COMMITMENT', 'reshare changed the group key');
  return { keyPackage: makeKeyPackage(suite, me, total, pub), publicKeyPackage: pub };
}

/**
 * One sub-share against the package its dealer signed, on its own (the check part2 makes of each
 * when the sum fails), for whoever judges a complaint about it: the sub-share is from that dealer
 * to `recipient`, and f_i(recipient)·G equals the dealer's commitment evaluated there (vss_verify,
 * RFC 9591 Appendix C.2). Whether the package itself fits the key state (its degree, its constant
 * term λ_i·PK_i) is not judged here: that needs the public key package, which the coordinator
 * checks when the package arrives. Throws naming the dealer (INVALID_SECRET_SHARE when the
 * sub-share does not match).
 */
export function reshareVerifySubShare(
  suite: Suite,
  pkg: ReshareRound1Package,
  share: ReshareRound1Share,
  recipient: string,
): void {
  if (pkg.suite !== suite.name || share.suite !== suite.name)
    fail('WRONG_CIPHERSUITE', `packages are for ${pkg.suite} and ${share.suite}`, [pkg.sender]);
  const dealerX = identifierToScalar(suite, pkg.sender, pkg.sender);
  const recipientX = identifierToScalar(suite, recipient);
  if (identifierToScalar(suite, share.sender, pkg.sender) !== dealerX)
    fail('INVALID_PARAMETER', 'sub-share names another dealer', [pkg.sender]);
  if (identifierToScalar(suite, share.recipient, pkg.sender) !== recipientX)
    fail('INVALID_PARAMETER', 'sub-share addressed to someone else', [pkg.sender]);
  const C = parseCommitment(suite, pkg.commitment, pkg.sender);
  const s = parseScalar(suite, share.subShare, 'sub-share', pkg.sender);
  if (!vssVerify(suite, C, s, recipientX))
    fail('INVALID_SECRET_SHARE', 'the sub-share does not match its dealer’s commitment', [
      pkg.sender,
    ]);
}

/** Proactive refresh: new shares for the same members, same threshold, same key. */
export function refreshParams(
  suite: Suite,
  old: PublicKeyPackage,
  dealers: readonly string[],
  minSigners?: number,
): ReshareParams {
  if (minSigners !== undefined && minSigners !== old.minSigners)
    fail(
      'THRESHOLD_CHANGE_REFUSED',
      `refresh keeps the threshold (${old.minSigners}); use reshare to change it`,
    );
  void suite;
  return {
    dealers,
    newIdentifiers: Object.keys(old.verifyingShares),
    newMinSigners: old.minSigners,
  };
}

export { encodeScalar };
