/**
 * Verifiable complaints about a DKG round-2 box (box-complaint.ts): the recipient's revealed
 * X25519 outputs and their Chaum–Pedersen proof open the box for a judge, who then names the dealer
 * (bad box or bad share) or the accuser (sound share). One test per way evidence proves nothing.
 */
import {
  ed25519 as frost,
  type DkgRound1Package,
  type KeyPackage,
  type ReshareRound1Share,
} from '@conclave/frost';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { complaintChallenge, liftMontgomery8 } from '../src/box-complaint.js';
import {
  BoxEvidenceSchema,
  DkgFailSchema,
  KeyStartSchema,
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  judgeDkgShareComplaint,
  judgeLifecycleComplaint,
  lifecycleComplaintOf,
  openComplainedBox,
  proveBoxComplaint,
  sealSignedBox,
  signPairwiseBox,
  x25519FromIdentity,
  type BoxEvidence,
  type DkgShareComplaint,
  type IdentityKey,
  type KeyStart,
  type LifecycleBoxComplaint,
  type Result,
  type WireBox,
} from '../src/index.js';
import {
  CEREMONY,
  OTHER_CEREMONY,
  alice,
  bob,
  carol,
  numRuns,
  sealedExamples,
  seeded,
} from './fixtures.js';

const ORDER = ed25519.Point.Fn.ORDER;
const codeOf = (r: Result<unknown>): string => (r.ok ? 'OK' : r.error.code);

// alice deals, bob receives and complains; carol is a third member.
const ids = {
  alice: frost.identifier.derive('alice'),
  bob: frost.identifier.derive('bob'),
  carol: frost.identifier.derive('carol'),
};
const dealt = frost.keys.dkg.part1(ids.alice, 3, 2);
const others = [ids.bob, ids.carol].map((id) => frost.keys.dkg.part1(id, 3, 2).package);
const shares = frost.keys.dkg.part2(dealt.secretPackage, others).packages;
const round1: DkgRound1Package = dealt.package;
const ctx = { ceremonyId: CEREMONY, sender: 'alice', recipient: 'bob' };

function boxOf(
  plaintext: Uint8Array,
  sender: IdentityKey = alice,
): WireBox & { signature: string } {
  return sealSignedBox(bob.publicKey, sender, plaintext, ctx);
}

function shareBytes(corrupt = false): Uint8Array {
  const pkg = shares[ids.bob]!;
  if (!corrupt) return frost.encode.bytes('DkgRound2Package', pkg);
  const bad = pkg.signingShare.slice();
  bad[16] = bad[16]! ^ 1;
  return frost.encode.bytes('DkgRound2Package', { ...pkg, signingShare: bad });
}

function complaint(box: WireBox & { signature?: string }): DkgShareComplaint {
  return {
    ceremonyId: CEREMONY,
    accuser: 'bob',
    accuserIdentityKey: bob.publicKey,
    dealer: 'alice',
    dealerIdentityKey: alice.publicKey,
    box,
    dealerRound1: round1,
    accuserIdentifier: ids.bob,
    minSigners: 2,
  };
}

/** A wire box with this ephemeral key, signed by alice (a box no honest sender makes). */
function signedWithEphemeral(u: Uint8Array): WireBox & { signature: string } {
  const box = { ...boxOf(shareBytes()), ephemeralKey: bytesToHex(u) };
  return { ...box, signature: signPairwiseBox(alice, ctx, box) };
}

const scalarHex = (n: bigint): string => bytesToHex(numberToBytesLE(n, 32));
const ordinary = boxOf(shareBytes(true));
const evidence = proveBoxComplaint(bob, complaint(ordinary));

describe('the evidence opens the box, and only the recipient can make it', () => {
  it('the revealed points are the X25519 outputs the recipient computes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const me = generateIdentityKey(seed);
        const box = sealSignedBox(me.publicKey, alice, shareBytes(), ctx);
        const c = { ...complaint(box), accuser: 'bob', accuserIdentityKey: me.publicKey };
        const ev = proveBoxComplaint(me, c);
        const mine = x25519FromIdentity(me).secretKey;
        const u = (hex: string): string =>
          bytesToHex(ed25519.utils.toMontgomery(hexToBytes(hex, 32)));
        expect(u(ev.ephemeralShared!)).toBe(
          bytesToHex(x25519.getSharedSecret(mine, hexToBytes(box.ephemeralKey, 32))),
        );
        expect(u(ev.staticShared)).toBe(
          bytesToHex(x25519.getSharedSecret(mine, x25519FromIdentity(alice).publicKey)),
        );
        const opened = openComplainedBox(c, ev);
        expect(opened.ok && opened.value.opened && bytesToHex(opened.value.plaintext)).toBe(
          bytesToHex(shareBytes()),
        );
      }),
      { numRuns: Math.min(numRuns, 25) },
    );
  });

  it('the wire evidence is strict, and rides in dkg.fail', () => {
    expect(BoxEvidenceSchema.safeParse(evidence).success).toBe(true);
    expect(BoxEvidenceSchema.safeParse({ ...evidence, extra: 1 }).success).toBe(false);
    const fail = { type: 'dkg.fail', culprit: 'alice', code: 'INVALID_SECRET_SHARE', reason: 'x' };
    expect(DkgFailSchema.safeParse({ ...fail, evidence }).success).toBe(true);
    expect(DkgFailSchema.safeParse(fail).success).toBe(true);
  });

  it('another member cannot prove with its key in the accuser’s name', () => {
    expect(() => proveBoxComplaint(carol, complaint(ordinary))).toThrow(RangeError);
  });
});

describe('verdicts', () => {
  it('a share that fails vss_verify: the dealer', () => {
    const v = judgeDkgShareComplaint(complaint(ordinary), evidence);
    expect(v.ok && v.value.culprit).toBe('alice');
    expect(v.ok && v.value.reason).toMatch(/fails vss_verify/);
  });

  it('a sound share: the accuser, whose accusation is false', () => {
    const box = boxOf(shareBytes());
    const v = judgeDkgShareComplaint(complaint(box), proveBoxComplaint(bob, complaint(box)));
    expect(v.ok && v.value.culprit).toBe('bob');
    expect(v.ok && v.value.reason).toMatch(/accusation is false/);
  });

  it('a box that holds no round-2 package, or one to someone else: the dealer', () => {
    const junk = boxOf(new TextEncoder().encode('not a package'));
    const v1 = judgeDkgShareComplaint(complaint(junk), proveBoxComplaint(bob, complaint(junk)));
    expect(v1.ok && v1.value).toMatchObject({ culprit: 'alice' });
    expect(v1.ok && v1.value.reason).toMatch(/holds no round-2 package/);
    const toCarol = boxOf(frost.encode.bytes('DkgRound2Package', shares[ids.carol]!));
    const v2 = judgeDkgShareComplaint(
      complaint(toCarol),
      proveBoxComplaint(bob, complaint(toCarol)),
    );
    expect(v2.ok && v2.value.culprit).toBe('alice');
  });

  it('a box its dealer signed that does not open: the dealer', () => {
    const sealed = boxOf(shareBytes());
    const ct = hexToBytes(sealed.ciphertext);
    ct[0] = ct[0]! ^ 1;
    const bad = { ...sealed, ciphertext: bytesToHex(ct) };
    const box = { ...bad, signature: signPairwiseBox(alice, ctx, bad) };
    const v = judgeDkgShareComplaint(complaint(box), proveBoxComplaint(bob, complaint(box)));
    expect(v.ok && v.value).toMatchObject({ culprit: 'alice' });
    expect(v.ok && v.value.reason).toMatch(/does not open/);
  });

  it('an ephemeral key on the twist or of small order: the dealer, with no ephemeral output', () => {
    let twist = 2n;
    while (liftMontgomery8(numberToBytesLE(twist, 32)) !== undefined) twist++;
    for (const u of [numberToBytesLE(twist, 32), new Uint8Array(32), numberToBytesLE(1n, 32)]) {
      expect(liftMontgomery8(u)).toBeUndefined();
      const box = signedWithEphemeral(u);
      const ev = proveBoxComplaint(bob, complaint(box));
      expect(ev.ephemeralShared).toBeUndefined();
      const v = judgeDkgShareComplaint(complaint(box), ev);
      expect(v.ok && v.value.culprit).toBe('alice');
      expect(v.ok && v.value.reason).toMatch(/not a point of prime order/);
    }
  });
});

describe('evidence that proves nothing is refused (INVALID_MESSAGE)', () => {
  const judge = (ev: BoxEvidence, box = ordinary): string =>
    codeOf(judgeDkgShareComplaint(complaint(box), ev));
  const other = ed25519.Point.BASE.multiply(12345n).toHex();

  it('a changed response or challenge', () => {
    const s = bytesToNumberLE(hexToBytes(evidence.response, 32));
    expect(judge({ ...evidence, response: scalarHex((s + 1n) % ORDER) })).toBe('INVALID_MESSAGE');
    const e = bytesToNumberLE(hexToBytes(evidence.challenge, 32));
    expect(judge({ ...evidence, challenge: scalarHex((e + 1n) % ORDER) })).toBe('INVALID_MESSAGE');
  });

  it('a non-canonical scalar', () => {
    const s = bytesToNumberLE(hexToBytes(evidence.response, 32));
    expect(judge({ ...evidence, response: scalarHex(s + ORDER) })).toBe('INVALID_MESSAGE');
  });

  it('another revealed output, ephemeral or static', () => {
    expect(judge({ ...evidence, ephemeralShared: other })).toBe('INVALID_MESSAGE');
    expect(judge({ ...evidence, staticShared: other })).toBe('INVALID_MESSAGE');
  });

  it('no ephemeral output for a box whose ephemeral key is a point', () => {
    const { ephemeralShared: _dropped, ...rest } = evidence;
    expect(judge(rest)).toBe('INVALID_MESSAGE');
  });

  it('a revealed output with a small-order part, with a proof that holds for it', () => {
    // The accuser adds the point (0, −1) of order 2 to its genuine output D_E (so the box would
    // open under another key) and grinds a proof: with T_E = k·8E + t, the check s·8E + c·D' =
    // T_E holds whenever c is odd. Only the prime-order check on D' refuses it.
    const P = ed25519.Point;
    const t2 = P.fromBytes(numberToBytesLE(P.Fp.ORDER - 1n, 32));
    const w = (bytesToNumberLE(x25519FromIdentity(bob).secretKey) >> 3n) % ORDER;
    const c = complaint(ordinary);
    const B8 = P.BASE.multiply(8n);
    const E8 = liftMontgomery8(hexToBytes(ordinary.ephemeralKey, 32))!;
    const S8 = P.fromBytes(alice.publicKey).clearCofactor();
    const dE = E8.multiply(w).add(t2);
    const dS = S8.multiply(w);
    for (let k = 1n; ; k++) {
      const e = complaintChallenge(
        c,
        dE,
        dS,
        B8.multiply(k),
        E8.multiply(k).add(t2),
        S8.multiply(k),
      );
      if (e % 2n === 0n) continue;
      const forged = {
        ephemeralShared: dE.toHex(),
        staticShared: dS.toHex(),
        challenge: scalarHex(e),
        response: scalarHex((((k - e * w) % ORDER) + ORDER) % ORDER),
      };
      expect(judge(forged)).toBe('INVALID_MESSAGE');
      break;
    }
  });

  it('evidence made for another ceremony, or for another box', () => {
    const elsewhere = proveBoxComplaint(bob, {
      ...complaint(ordinary),
      ceremonyId: OTHER_CEREMONY,
    });
    expect(judge(elsewhere)).toBe('INVALID_MESSAGE');
    const another = boxOf(shareBytes(true));
    expect(judge(proveBoxComplaint(bob, complaint(another)))).toBe('INVALID_MESSAGE');
  });

  it('a box without its dealer’s signature, or signed by someone else', () => {
    const { signature: _s, ...unsigned } = ordinary;
    expect(judge(evidence, unsigned as typeof ordinary)).toBe('INVALID_MESSAGE');
    const byCarol = { ...ordinary, signature: signPairwiseBox(carol, ctx, ordinary) };
    expect(judge(evidence, byCarol)).toBe('INVALID_MESSAGE');
  });
});

// Lifecycle complaints (protocol 5): a refresh or reshare sub-share, or a repair delta or σ, in a
// box its dealer signed, judged from the accuser's evidence against the ceremony's key.start. The
// key is 2-of-4 (alice, bob, carol, dave) at epoch 0: a refresh by all four; a reshare by alice and
// bob to alice, bob and carol, threshold 3 (dave leaves); a repair of carol's share by the helpers
// alice and bob (dave neither helps nor is repaired).
describe('lifecycle complaints: judgeLifecycleComplaint and lifecycleComplaintOf', () => {
  const dave = seeded(6);
  const people: Record<string, IdentityKey> = { alice, bob, carol, dave };
  const members = ['alice', 'bob', 'carol', 'dave'] as const;
  const idOf = (m: string): string => frost.identifier.derive(m);
  const held = frost.keys.dealer({ minSigners: 2, maxSigners: 4, identifiers: members.map(idOf) });
  const oldPub = held.publicKeyPackage;
  const keyOf = (m: string): KeyPackage =>
    frost.keys.keyPackage(held.shares[frost.identifier.derive(m)]!);
  const participant = (m: string) => ({
    member: m,
    identifier: idOf(m),
    identityKey: bytesToHex(people[m]!.publicKey),
  });

  function lifecycleStart(kind: 'refresh' | 'reshare' | 'repair'): KeyStart {
    const all = members.map(participant);
    return KeyStartSchema.parse({
      type: 'key.start',
      kind,
      group: 'release-leads',
      fromEpoch: 0,
      toEpoch: kind === 'repair' ? 0 : 1,
      groupPublicKey: bytesToHex(oldPub.verifyingKey),
      publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', oldPub)),
      previousThreshold: 2,
      previous: all,
      threshold: kind === 'reshare' ? 3 : 2,
      participants: kind === 'reshare' ? all.slice(0, 3) : all,
      dealers: kind === 'refresh' ? [...members] : ['alice', 'bob'],
      ...(kind === 'repair' ? { member: 'carol' } : {}),
      authorization: sealedExamples['key.start'].authorization,
      protocolVersion: 5,
    });
  }
  const refreshStart = lifecycleStart('refresh');
  const reshareStart = lifecycleStart('reshare');
  const repairStart = lifecycleStart('repair');

  const refreshFromAlice = frost.keys.refresh.part1(
    keyOf('alice'),
    oldPub,
    refreshStart.dealers.map(idOf),
  );
  const reshareFromAlice = frost.keys.reshare.part1(keyOf('alice'), oldPub, {
    dealers: reshareStart.dealers.map(idOf),
    newIdentifiers: reshareStart.participants.map((p) => p.identifier),
    newMinSigners: 3,
  });
  const packageHex = (out: typeof refreshFromAlice): string =>
    bytesToHex(frost.encode.bytes('ReshareRound1Package', out.package));
  const refreshPackage = packageHex(refreshFromAlice);
  const resharePackage = packageHex(reshareFromAlice);

  /** The encoded sub-share `out` deals to `to`; `corrupt` flips a middle byte (still canonical). */
  function subShare(out: typeof refreshFromAlice, to: string, corrupt = false): Uint8Array {
    const share: ReshareRound1Share = out.shares[frost.identifier.derive(to)]!;
    const value = share.subShare.slice();
    if (corrupt) value[16] = value[16]! ^ 1;
    return frost.encode.bytes('ReshareRound1Share', { ...share, subShare: value });
  }

  /** `plaintext` sealed from `dealer` to `accuser` in this ceremony, signed by `dealer`. */
  const sealFrom = (dealer: string, accuser: string, plaintext: Uint8Array) =>
    sealSignedBox(people[accuser]!.publicKey, people[dealer]!, plaintext, {
      ceremonyId: CEREMONY,
      sender: dealer,
      recipient: accuser,
    });

  /** `m` with its identity key, as the registry holds it (the coordinator and audit pass these). */
  const keyed = (m: string) => ({
    member: m,
    identityKey: people[m]?.publicKey ?? new Uint8Array(32),
  });

  function complaintOf(
    start: KeyStart,
    accuser: string,
    dealer: string,
    box: WireBox & { signature?: string },
    pkg: string | undefined,
  ): LifecycleBoxComplaint {
    const c = lifecycleComplaintOf(CEREMONY, start, keyed(accuser), keyed(dealer), box, pkg);
    if (!c.ok) throw new Error(`no complaint: ${c.error.message}`);
    return c.value;
  }
  /** The verdict on `c`, judged from the evidence its accuser really makes. */
  const judged = (c: LifecycleBoxComplaint) =>
    judgeLifecycleComplaint(c, proveBoxComplaint(people[c.accuser]!, c));

  const refreshComplaint = (plaintext: Uint8Array) =>
    complaintOf(refreshStart, 'bob', 'alice', sealFrom('alice', 'bob', plaintext), refreshPackage);
  const reshareComplaint = (plaintext: Uint8Array) =>
    complaintOf(reshareStart, 'bob', 'alice', sealFrom('alice', 'bob', plaintext), resharePackage);

  // Repair: alice's and bob's deltas (round 1, helper to helper) and bob's σ (round 2, to carol).
  const repairHelpers = repairStart.dealers.map(idOf);
  const aliceDeltas = frost.keys.repair.step1(repairHelpers, keyOf('alice'), idOf('carol'));
  const bobDeltas = frost.keys.repair.step1(repairHelpers, keyOf('bob'), idOf('carol'));
  const deltaOf = (deltas: typeof aliceDeltas, to: string): Uint8Array =>
    Uint8Array.from(deltas[frost.identifier.derive(to)]!);
  const bobSigma = frost.keys.repair.step2([
    deltaOf(aliceDeltas, 'bob'),
    deltaOf(bobDeltas, 'bob'),
  ]);
  const sigmaComplaint = (plaintext: Uint8Array) =>
    complaintOf(repairStart, 'carol', 'bob', sealFrom('bob', 'carol', plaintext), undefined);
  const deltaComplaint = (plaintext: Uint8Array) =>
    complaintOf(repairStart, 'bob', 'alice', sealFrom('alice', 'bob', plaintext), undefined);

  it('the start is a valid key.start of each kind, and the genuine packages verify', () => {
    for (const s of [refreshStart, reshareStart, repairStart]) {
      expect(KeyStartSchema.safeParse(s).success).toBe(true);
    }
    // The honest data is sound by frost's own check: a wrong verdict below is the judge's.
    expect(() =>
      frost.keys.reshare.verifySubShare(
        refreshFromAlice.package,
        refreshFromAlice.shares[frost.identifier.derive('bob')]!,
        idOf('bob'),
      ),
    ).not.toThrow();
  });

  it('lifecycleComplaintOf: the identity keys given, identifiers from the names, the dealer’s package', () => {
    const c = refreshComplaint(subShare(refreshFromAlice, 'bob'));
    expect(c.kind).toBe('refresh');
    expect(c.ceremonyId).toBe(CEREMONY);
    expect(bytesToHex(c.accuserIdentityKey)).toBe(bytesToHex(bob.publicKey));
    expect(bytesToHex(c.dealerIdentityKey)).toBe(bytesToHex(alice.publicKey));
    if (c.kind === 'repair') throw new Error('a refresh complaint');
    expect(c.accuserIdentifier).toBe(idOf('bob'));
    expect(c.dealerPackage.sender).toBe(idOf('alice'));
    const r = complaintOf(reshareStart, 'carol', 'bob', ordinary, resharePackage);
    expect(r.kind === 'reshare' && r.accuserIdentifier).toBe(idOf('carol'));
    // The start's roster is not where the keys come from: a key listed there for bob is unused.
    const listed = {
      ...refreshStart,
      previous: refreshStart.previous.map((p) =>
        p.member === 'bob' ? { ...p, identityKey: bytesToHex(carol.publicKey) } : p,
      ),
    };
    const given = complaintOf(listed, 'bob', 'alice', ordinary, refreshPackage);
    expect(bytesToHex(given.accuserIdentityKey)).toBe(bytesToHex(bob.publicKey));
    const repair = complaintOf(repairStart, 'carol', 'bob', ordinary, undefined);
    expect(repair.kind).toBe('repair');
    expect(bytesToHex(repair.dealerIdentityKey)).toBe(bytesToHex(bob.publicKey));
  });

  it('refresh: a sub-share that fails vss_verify: the dealer', () => {
    const v = judged(refreshComplaint(subShare(refreshFromAlice, 'bob', true)));
    expect(v.ok && v.value.culprit).toBe('alice');
    expect(v.ok && v.value.reason).toMatch(/alice signed to bob.*fails vss_verify/);
  });

  it('refresh: a sound sub-share: the accuser, whose accusation is false', () => {
    const v = judged(refreshComplaint(subShare(refreshFromAlice, 'bob')));
    expect(v.ok && v.value.culprit).toBe('bob');
    expect(v.ok && v.value.reason).toMatch(/the accusation is false/);
  });

  it('reshare: a sound sub-share is the accuser; a bad one, or one to another member, the dealer', () => {
    const sound = judged(reshareComplaint(subShare(reshareFromAlice, 'bob')));
    expect(sound.ok && sound.value.culprit).toBe('bob');
    expect(sound.ok && sound.value.reason).toMatch(/the accusation is false/);
    const bad = judged(reshareComplaint(subShare(reshareFromAlice, 'bob', true)));
    expect(bad.ok && bad.value.culprit).toBe('alice');
    expect(bad.ok && bad.value.reason).toMatch(/fails vss_verify/);
    // carol's genuine sub-share, in the box to bob.
    const toCarol = judged(reshareComplaint(subShare(reshareFromAlice, 'carol')));
    expect(toCarol.ok && toCarol.value.culprit).toBe('alice');
    expect(toCarol.ok && toCarol.value.reason).toMatch(/addressed to someone else/);
  });

  it('a sub-share is judged against the package its dealer signed, not against the key state the start names', () => {
    // alice's refresh package (degree 1) under a reshare start of threshold 3: whether the package
    // fits the key state the coordinator checked on arrival. Her sub-share matches what she signed.
    const c = complaintOf(
      reshareStart,
      'bob',
      'alice',
      sealFrom('alice', 'bob', subShare(refreshFromAlice, 'bob')),
      refreshPackage,
    );
    const v = judged(c);
    expect(v.ok && v.value.culprit).toBe('bob');
    expect(v.ok && v.value.reason).toMatch(/the accusation is false/);
    // Nor does a start whose public key package was made up change a verdict (THREATS B.26): the
    // coordinator alone signs it, so a colluding accuser could otherwise "prove" an honest dealer's
    // package wrong.
    const madeUp = { ...refreshStart, publicKeyPackage: 'abcd' };
    const same = judged(
      complaintOf(
        madeUp,
        'bob',
        'alice',
        sealFrom('alice', 'bob', subShare(refreshFromAlice, 'bob')),
        refreshPackage,
      ),
    );
    expect(same.ok && same.value.culprit).toBe('bob');
  });

  it('under an accuser key that is not the one the box was sealed to, a sound box looks unopenable: why the judge takes the registry’s keys', () => {
    // A coordinator that listed another key for bob (the accuser) in the start, and judged by it,
    // would blame alice for her sound box: the evidence under that key does not open it.
    const c = refreshComplaint(subShare(refreshFromAlice, 'bob'));
    const mallory = generateIdentityKey();
    const underOther = { ...c, accuserIdentityKey: mallory.publicKey };
    const v = judgeLifecycleComplaint(underOther, proveBoxComplaint(mallory, underOther));
    // The box does not open under mallory's keys: judged against alice. This is why the keys
    // must be the registry's (lifecycleComplaintOf's callers), never the start's roster.
    expect(v.ok && v.value.culprit).toBe('alice');
    expect(v.ok && v.value.reason).toMatch(/does not open/);
  });

  it('a box that holds no sub-share: the dealer', () => {
    for (const plaintext of [
      new TextEncoder().encode('not a sub-share'),
      Uint8Array.from(bobSigma), // a scalar: a repair's plaintext, not a ReshareRound1Share
      shareBytes(), // a DKG round-2 package
    ]) {
      for (const v of [judged(refreshComplaint(plaintext)), judged(reshareComplaint(plaintext))]) {
        expect(v.ok && v.value.culprit).toBe('alice');
        expect(v.ok && v.value.reason).toMatch(/holds no sub-share/);
      }
    }
  });

  it('a lifecycle box its dealer signed that does not open: the dealer', () => {
    const sealed = sealFrom('alice', 'bob', subShare(refreshFromAlice, 'bob'));
    const ct = hexToBytes(sealed.ciphertext);
    ct[0] = ct[0]! ^ 1;
    const bad = { ...sealed, ciphertext: bytesToHex(ct) };
    const box = {
      ...bad,
      signature: signPairwiseBox(
        alice,
        { ceremonyId: CEREMONY, sender: 'alice', recipient: 'bob' },
        bad,
      ),
    };
    const v = judged(complaintOf(refreshStart, 'bob', 'alice', box, refreshPackage));
    expect(v.ok && v.value.culprit).toBe('alice');
    expect(v.ok && v.value.reason).toMatch(/does not open/);
  });

  it('repair σ: 0xff×32 is no canonical scalar (the dealer); a scalar is the accuser', () => {
    const bad = judged(sigmaComplaint(new Uint8Array(32).fill(0xff)));
    expect(bad.ok && bad.value.culprit).toBe('bob');
    expect(bad.ok && bad.value.reason).toMatch(/bob signed to carol.*no canonical scalar/);
    const sound = judged(sigmaComplaint(Uint8Array.from(bobSigma)));
    expect(sound.ok && sound.value.culprit).toBe('carol');
    expect(sound.ok && sound.value.reason).toMatch(/the accusation cannot be proven/);
    // Any canonical scalar is sound: a repair's value is checked only as a sum.
    const other = judged(sigmaComplaint(numberToBytesLE(12345n, 32)));
    expect(other.ok && other.value.culprit).toBe('carol');
  });

  it('repair delta (helper to helper): a scalar is sound; a short or unreduced one, the dealer', () => {
    const sound = judged(deltaComplaint(deltaOf(aliceDeltas, 'bob')));
    expect(sound.ok && sound.value.culprit).toBe('bob');
    for (const plaintext of [
      deltaOf(aliceDeltas, 'bob').slice(0, 31),
      numberToBytesLE(ORDER, 32),
    ]) {
      const v = judged(deltaComplaint(plaintext));
      expect(v.ok && v.value.culprit).toBe('alice');
      expect(v.ok && v.value.reason).toMatch(/no canonical scalar/);
    }
  });

  it('lifecycleComplaintOf refuses an accuser that receives no box from that dealer', () => {
    const refusedFor = (start: KeyStart, accuser: string, dealer: string, pkg?: string) => {
      const c = lifecycleComplaintOf(CEREMONY, start, keyed(accuser), keyed(dealer), ordinary, pkg);
      expect(codeOf(c)).toBe('INVALID_MESSAGE');
      expect(!c.ok && c.error.message).toMatch(/receives no box from/);
    };
    // Repair: dave neither helps nor is repaired; carol (repaired) deals nothing; no helper
    // sends itself a delta.
    refusedFor(repairStart, 'dave', 'alice');
    refusedFor(repairStart, 'bob', 'carol');
    refusedFor(repairStart, 'alice', 'alice');
    // Reshare: carol holds a share but deals nothing; dave leaves the committee, so receives none.
    refusedFor(reshareStart, 'bob', 'carol', resharePackage);
    refusedFor(reshareStart, 'dave', 'alice', resharePackage);
    // Someone outside the ceremony, either way.
    refusedFor(refreshStart, 'mallory', 'alice', refreshPackage);
    refusedFor(refreshStart, 'bob', 'mallory', refreshPackage);
    // The genuine roles are admitted (the refusals above are about the roles alone).
    for (const [start, accuser, dealer, pkg] of [
      [repairStart, 'bob', 'alice', undefined],
      [repairStart, 'carol', 'alice', undefined],
      [reshareStart, 'carol', 'bob', resharePackage],
      [refreshStart, 'dave', 'carol', refreshPackage],
    ] as const) {
      expect(
        codeOf(lifecycleComplaintOf(CEREMONY, start, keyed(accuser), keyed(dealer), ordinary, pkg)),
      ).toBe('OK');
    }
  });

  it('lifecycleComplaintOf refuses a refresh or reshare package that does not decode', () => {
    const box = sealFrom('alice', 'bob', subShare(refreshFromAlice, 'bob'));
    for (const [start, pkg] of [
      [refreshStart, 'abcd'],
      [refreshStart, undefined],
      [refreshStart, bytesToHex(frost.encode.bytes('DkgRound1Package', round1))],
      [reshareStart, 'zz'],
    ] as const) {
      const c = lifecycleComplaintOf(CEREMONY, start, keyed('bob'), keyed('alice'), box, pkg);
      expect(codeOf(c)).toBe('INVALID_MESSAGE');
      expect(!c.ok && c.error.message).toMatch(/no recorded round-1 package that decodes/);
    }
  });

  it('forged evidence (the response replaced by the challenge) proves nothing: INVALID_MESSAGE', () => {
    for (const c of [
      refreshComplaint(subShare(refreshFromAlice, 'bob', true)),
      reshareComplaint(subShare(reshareFromAlice, 'bob', true)),
      sigmaComplaint(new Uint8Array(32).fill(0xff)),
      deltaComplaint(deltaOf(aliceDeltas, 'bob').slice(0, 31)),
    ]) {
      const genuine = proveBoxComplaint(people[c.accuser]!, c);
      expect(codeOf(judgeLifecycleComplaint(c, genuine))).toBe('OK');
      const forged = { ...genuine, response: genuine.challenge };
      expect(codeOf(judgeLifecycleComplaint(c, forged))).toBe('INVALID_MESSAGE');
      // Evidence for the same box in another ceremony proves nothing here either.
      const elsewhere = proveBoxComplaint(people[c.accuser]!, { ...c, ceremonyId: OTHER_CEREMONY });
      expect(codeOf(judgeLifecycleComplaint(c, elsewhere))).toBe('INVALID_MESSAGE');
    }
  });

  it('a box its dealer did not sign proves nothing of the dealer: INVALID_MESSAGE', () => {
    const { signature: _s, ...unsigned } = sealFrom(
      'alice',
      'bob',
      subShare(refreshFromAlice, 'bob', true),
    );
    const c = complaintOf(refreshStart, 'bob', 'alice', unsigned, refreshPackage);
    expect(codeOf(judgeLifecycleComplaint(c, proveBoxComplaint(bob, c)))).toBe('INVALID_MESSAGE');
  });
});
