/**
 * Verifiable complaints about a DKG round-2 box (box-complaint.ts): the recipient's revealed
 * X25519 outputs and their Chaum–Pedersen proof open the box for a judge, who then names the dealer
 * (bad box or bad share) or the accuser (sound share). One test per way evidence proves nothing.
 */
import { ed25519 as frost, type DkgRound1Package } from '@conclave/frost';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { complaintChallenge, liftMontgomery8 } from '../src/box-complaint.js';
import {
  BoxEvidenceSchema,
  DkgFailSchema,
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  judgeDkgShareComplaint,
  openComplainedBox,
  proveBoxComplaint,
  sealSignedBox,
  signPairwiseBox,
  x25519FromIdentity,
  type BoxEvidence,
  type DkgShareComplaint,
  type IdentityKey,
  type Result,
  type WireBox,
} from '../src/index.js';
import { CEREMONY, OTHER_CEREMONY, alice, bob, carol, numRuns } from './fixtures.js';

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
