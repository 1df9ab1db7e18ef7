// Key ceremony refusals and endings over real sockets, plus timers and the heartbeat. Each abort's
// bundle is re-verified as an auditor would: its culprits are the ones its transcript backs.
import { ed25519 as frost } from '@conclave/frost';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  newCeremonyId,
  proveBoxComplaint,
  round1Hash,
  sealSignedBox,
  signDkgConfirmation,
  signPairwiseBox,
  type IdentityKey,
} from '@conclave/protocol';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import {
  FakeMember,
  addMembers,
  audited,
  authHeaders,
  connect,
  expectAck,
  fetchChallenge,
  sampleRelease,
  setupGroup,
  type TestClient,
  type TestCoordinator,
  testScope,
} from './helpers.js';

const { fresh: freshWith } = testScope();
const fresh = (limits = {}): Promise<TestCoordinator> => freshWith({ limits });

async function register(admin: TestClient, names: string[]): Promise<Record<string, IdentityKey>> {
  const keys: Record<string, IdentityKey> = {};
  for (const name of names) {
    const key = generateIdentityKey();
    keys[name] = key;
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.add',
        member: name,
        identityKey: bytesToHex(key.publicKey),
        roles: [],
      }),
    );
  }
  return keys;
}

/** dave and erin registered and connected, and a 2-of-2 DKG of group `ops` opened (id). */
async function openOps(t: TestCoordinator) {
  const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
  const keys = await register(admin, ['dave', 'erin']);
  const dave = await connect(t.handle.url, keys.dave!, 'dave', t.coordinatorKey);
  const erin = await connect(t.handle.url, keys.erin!, 'erin', t.coordinatorKey);
  const id = newCeremonyId();
  expectAck(
    await admin.submit(id, {
      type: 'admin.group.create',
      group: 'ops',
      threshold: 2,
      members: ['dave', 'erin'].map((m) => ({
        member: m,
        identityKey: bytesToHex(keys[m]!.publicKey),
      })),
    }),
  );
  return { admin, keys, dave, erin, id };
}

const round1 = (member: string, n: number, t: number) => ({
  type: 'dkg.round1' as const,
  package: bytesToHex(
    frost.encode.bytes(
      'DkgRound1Package',
      frost.keys.dkg.part1(frost.identifier.derive(member), n, t).package,
    ),
  ),
});

/** A round-2 box from `from` to `to`, signed by its sender as every client signs it. */
const signedBox = (
  keys: Record<string, IdentityKey>,
  ceremonyId: string,
  from: string,
  to: string,
  box: { ephemeralKey: string; nonce: string; ciphertext: string },
) => ({
  recipient: to,
  ...box,
  signature: signPairwiseBox(keys[from]!, { ceremonyId, sender: from, recipient: to }, box),
});

/**
 * A real 2-of-2 dealing by erin for dave: erin's round-1 message, and her round-2 box to dave
 * sealed and signed as every client does, holding dave's genuine share or one with a flipped byte.
 */
function erinDeals(keys: Record<string, IdentityKey>, ceremonyId: string, corrupt: boolean) {
  const erin = frost.keys.dkg.part1(frost.identifier.derive('erin'), 2, 2);
  const dave = frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2);
  const share = frost.keys.dkg.part2(erin.secretPackage, [dave.package]).packages[
    frost.identifier.derive('dave')
  ]!;
  const value = share.signingShare.slice();
  if (corrupt) value[16] = value[16]! ^ 1;
  const plaintext = frost.encode.bytes('DkgRound2Package', { ...share, signingShare: value });
  const box = sealSignedBox(keys.dave!.publicKey, keys.erin!, plaintext, {
    ceremonyId,
    sender: 'erin',
    recipient: 'dave',
  });
  const complaint = {
    ceremonyId,
    accuser: 'dave',
    accuserIdentityKey: keys.dave!.publicKey,
    dealer: 'erin',
    dealerIdentityKey: keys.erin!.publicKey,
    box,
  };
  return {
    round1: {
      type: 'dkg.round1' as const,
      package: bytesToHex(frost.encode.bytes('DkgRound1Package', erin.package)),
    },
    round2: { type: 'dkg.round2' as const, boxes: [{ recipient: 'dave', ...box }] },
    /** dave's evidence for a complaint about that box. */
    evidence: () => proveBoxComplaint(keys.dave!, complaint),
  };
}

/** dave's round 2 to erin: a box of well-formed ciphertext, signed, that nobody can open. */
const daveRound2 = (keys: Record<string, IdentityKey>, ceremonyId: string) => ({
  type: 'dkg.round2' as const,
  boxes: [
    signedBox(keys, ceremonyId, 'dave', 'erin', {
      ephemeralKey: '11'.repeat(32),
      nonce: '22'.repeat(24),
      ciphertext: '33'.repeat(40),
    }),
  ],
});

describe('key ceremony', () => {
  it('sends dkg.start to a member that connects late, broadcasts one round-1 list, aborts on dkg.fail', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const keys = await register(admin, ['dave', 'erin']);
    // A group naming an unregistered member, or a wrong key, is refused.
    expect(
      (
        await admin.submit(newCeremonyId(), {
          type: 'admin.group.create',
          group: 'ops',
          threshold: 2,
          members: [
            { member: 'dave', identityKey: bytesToHex(keys.dave!.publicKey) },
            { member: 'zoe', identityKey: bytesToHex(keys.erin!.publicKey) },
          ],
        })
      ).code,
    ).toBe('UNKNOWN_MEMBER');
    const dave = await connect(t.handle.url, keys.dave!, 'dave', t.coordinatorKey);
    const id = newCeremonyId();
    const roster = ['dave', 'erin'].map((m) => ({
      member: m,
      identityKey: bytesToHex(keys[m]!.publicKey),
    }));
    expectAck(
      await admin.submit(id, {
        type: 'admin.group.create',
        group: 'ops',
        threshold: 2,
        members: roster,
      }),
    );
    await dave.nextBody('dkg.start', id);
    const erin = await connect(t.handle.url, keys.erin!, 'erin', t.coordinatorKey);
    const start = await erin.nextBody('dkg.start', id);
    expect(start.body.threshold).toBe(2);

    // Complaints make no sense before the round-1 broadcast.
    expect(
      (
        await dave.submit(id, {
          type: 'dkg.fail',
          culprit: 'erin',
          code: 'INVALID_PROOF_OF_KNOWLEDGE',
          reason: 'bad proof',
        })
      ).code,
    ).toBe('UNEXPECTED_MESSAGE');

    const daveRound1 = round1('dave', 2, 2);
    expectAck(await dave.submit(id, daveRound1));
    const dealt = erinDeals(keys, id, true);
    expectAck(await erin.submit(id, dealt.round1));
    const allDave = await dave.nextBody('dkg.round1.all', id);
    const allErin = await erin.nextBody('dkg.round1.all', id);
    expect(allDave.signature).toBe(allErin.signature);
    expect(allDave.body.packages.map((p: { member: string }) => p.member)).toEqual([
      'dave',
      'erin',
    ]);

    const accuse = {
      type: 'dkg.fail' as const,
      culprit: 'erin',
      code: 'INVALID_SECRET_SHARE' as const,
      reason: 'share fails vss_verify',
    };
    // Before round 2 is delivered nobody holds a share from anyone: whatever its code, an
    // accusation of another member is false and refused, and the ceremony goes on.
    for (const code of ['INVALID_SECRET_SHARE', 'DECRYPTION_FAILED', 'INVALID_MESSAGE'] as const) {
      const early = await dave.submit(id, { ...accuse, code });
      expect(early.code).toBe('INVALID_MESSAGE');
      expect(early.message).toMatch(/no round-2 share has been delivered yet/);
    }
    expect(t.handle.store.getCeremony(id)!.open).toBe(true);
    expectAck(await dave.submit(id, daveRound2(keys, id)));
    expectAck(await erin.submit(id, dealt.round2));
    await dave.nextBody('dkg.round2.deliver', id);
    // Once delivered, a complaint about erin's box must carry the evidence that opens it.
    const bare = await dave.submit(id, accuse);
    expect(bare.code).toBe('INVALID_MESSAGE');
    expect(bare.message).toMatch(/must carry the evidence that opens erin's box/);
    // Evidence that proves nothing (its response changed) is refused too.
    const evidence = dealt.evidence();
    const changed = { ...evidence, response: evidence.challenge };
    const forged = await dave.submit(id, { ...accuse, evidence: changed });
    expect(forged.code).toBe('INVALID_MESSAGE');
    expect(forged.message).toMatch(/proof does not verify/);
    // Sound evidence under a code that would misreport it (the abort carries the complaint's code).
    const miscoded = await dave.submit(id, { ...accuse, code: 'CONFIRMATION_MISMATCH', evidence });
    expect(miscoded.code).toBe('INVALID_MESSAGE');
    expect(miscoded.message).toMatch(/not CONFIRMATION_MISMATCH/);
    expect(t.handle.store.getCeremony(id)!.open).toBe(true);
    // With it, the box opens and erin's share fails vss_verify: the ceremony aborts naming her.
    expectAck(await dave.submit(id, { ...accuse, evidence }));
    const abort = await erin.nextBody('dkg.abort', id);
    expect(abort.body).toMatchObject({ code: 'INVALID_SECRET_SHARE', culprits: ['erin'] });
    expect((await admin.nextBody('dkg.abort', id)).body.code).toBe('INVALID_SECRET_SHARE');
    expect((await audited(t, id)).keyCulprits).toEqual([
      { member: 'erin', basis: expect.stringMatching(/^proven by dave's signed dkg\.fail/) },
    ]);
    expect(t.handle.store.getGroup('ops')?.state).toBe('failed');
    // The ceremony is over: more messages are refused; a new attempt is a new ceremony.
    expect((await erin.submit(id, round1('erin', 2, 2))).code).toBe('UNEXPECTED_MESSAGE');
    const retry = newCeremonyId();
    expectAck(
      await admin.submit(retry, {
        type: 'admin.group.create',
        group: 'ops',
        threshold: 2,
        members: roster,
      }),
    );
    // The retry refuses the failed attempt's polynomial (THREATS B.28).
    await dave.nextBody('dkg.start', retry);
    expect((await dave.submit(retry, daveRound1)).code).toBe('COMMITMENT_REUSED');
    expectAck(await dave.submit(retry, round1('dave', 2, 2)));
  });

  it('verifies each proof of knowledge on arrival, and refuses an accusation against a verified one', async () => {
    const t = await fresh();
    const { dave, erin, id } = await openOps(t);
    await dave.nextBody('dkg.start', id);

    // A proof with one bit flipped in z: refused with its code, nothing recorded.
    const honest = frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2).package;
    const proof = Uint8Array.from(honest.proofOfKnowledge);
    proof[40]! ^= 0x01;
    const forged = {
      type: 'dkg.round1' as const,
      package: bytesToHex(
        frost.encode.bytes('DkgRound1Package', { ...honest, proofOfKnowledge: proof }),
      ),
    };
    const refusal = await dave.submit(id, forged);
    expect(refusal.code).toBe('INVALID_PROOF_OF_KNOWLEDGE');
    expect(refusal.message).toMatch(/send a fresh round-1 package/);
    expect(t.handle.store.transcript(id).some((e) => e.bodyType === 'dkg.round1')).toBe(false);

    // The ceremony goes on: valid packages are relayed.
    expectAck(await dave.submit(id, round1('dave', 2, 2)));
    expectAck(await erin.submit(id, round1('erin', 2, 2)));
    await erin.nextBody('dkg.round1.all', id);

    // erin falsely accuses dave of a bad proof: refused, and nothing aborts.
    const accusation = await erin.submit(id, {
      type: 'dkg.fail',
      culprit: 'dave',
      code: 'INVALID_PROOF_OF_KNOWLEDGE',
      reason: 'bad proof',
    });
    expect(accusation.code).toBe('INVALID_MESSAGE');
    expect(accusation.message).toMatch(/verified by the coordinator/);
    expect(t.handle.store.getCeremony(id)?.open).toBe(true);
    expect(t.handle.store.getGroup('ops')?.state).not.toBe('failed');
  });

  it('refuses a complaint its own evidence proves false (a sound share), and the ceremony goes on', async () => {
    const t = await fresh();
    const { keys, dave, erin, id } = await openOps(t);
    await dave.nextBody('dkg.start', id);
    const dealt = erinDeals(keys, id, false);
    expectAck(await dave.submit(id, round1('dave', 2, 2)));
    expectAck(await erin.submit(id, dealt.round1));
    await dave.nextBody('dkg.round1.all', id);
    expectAck(await dave.submit(id, daveRound2(keys, id)));
    expectAck(await erin.submit(id, dealt.round2));
    await dave.nextBody('dkg.round2.deliver', id);
    const accusation = await dave.submit(id, {
      type: 'dkg.fail',
      culprit: 'erin',
      code: 'INVALID_SECRET_SHARE',
      reason: 'share fails vss_verify',
      evidence: dealt.evidence(),
    });
    expect(accusation.code).toBe('INVALID_MESSAGE');
    expect(accusation.message).toMatch(/matches erin's commitment: the accusation is false/);
    expect(t.handle.store.getCeremony(id)?.open).toBe(true);
    expect(t.handle.store.transcript(id).some((e) => e.bodyType === 'dkg.fail')).toBe(false);
    // The client then ends it naming itself: nobody is blamed, and the audit agrees.
    expectAck(
      await dave.submit(id, {
        type: 'dkg.fail',
        culprit: 'dave',
        code: 'INCONSISTENT_VIEW',
        reason: 'my complaint against erin was refused',
      }),
    );
    expect((await erin.nextBody('dkg.abort', id)).body).toMatchObject({ culprits: [] });
    expect((await audited(t, id)).keyCulprits).toEqual([]);
  });

  it('refuses a DKG retry that reuses the failed attempt’s polynomial under a fresh proof (B.28)', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const keys = await register(admin, ['dave', 'erin']);
    const dave = await connect(t.handle.url, keys.dave!, 'dave', t.coordinatorKey);
    const erin = await connect(t.handle.url, keys.erin!, 'erin', t.coordinatorKey);
    const roster = ['dave', 'erin'].map((m) => ({
      member: m,
      identityKey: bytesToHex(keys[m]!.publicKey),
    }));
    const create = {
      type: 'admin.group.create' as const,
      group: 'ops',
      threshold: 2,
      members: roster,
    };
    const id = newCeremonyId();
    expectAck(await admin.submit(id, create));
    const first = frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2);
    const encode = (pkg: typeof first.package) => ({
      type: 'dkg.round1' as const,
      package: bytesToHex(frost.encode.bytes('DkgRound1Package', pkg)),
    });
    expectAck(await dave.submit(id, encode(first.package)));
    expectAck(await erin.submit(id, round1('erin', 2, 2)));
    await dave.nextBody('dkg.round1.all', id);
    // The attempt fails (erin cannot go on, and says so without blaming anyone).
    expectAck(
      await erin.submit(id, {
        type: 'dkg.fail',
        culprit: 'erin',
        code: 'INVALID_MESSAGE',
        reason: 'cannot continue',
      }),
    );
    await dave.nextBody('dkg.abort', id);
    const retry = newCeremonyId();
    expectAck(await admin.submit(retry, create));
    await dave.nextBody('dkg.start', retry);
    // The same coefficients with a fresh proof-of-knowledge nonce: other bytes, same polynomial.
    const again = frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2, {
      coefficients: first.secretPackage.coefficients,
    });
    expect(bytesToHex(again.package.proofOfKnowledge)).not.toBe(
      bytesToHex(first.package.proofOfKnowledge),
    );
    expect((await dave.submit(retry, encode(again.package))).code).toBe('COMMITMENT_REUSED');
    // A polynomial that keeps only the secret (constant term) is not fresh either.
    const sameSecret = frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2, {
      coefficients: [
        first.secretPackage.coefficients[0]!,
        frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2).secretPackage.coefficients[1]!,
      ],
    });
    expect((await dave.submit(retry, encode(sameSecret.package))).code).toBe('COMMITMENT_REUSED');
    expectAck(await dave.submit(retry, round1('dave', 2, 2)));
  });

  it("refuses a round-2 box its sender's signature does not cover, and relays a signed one with its signature", async () => {
    const t = await fresh();
    const { keys, dave, erin, id } = await openOps(t);
    for (const [name, c] of Object.entries({ dave, erin }))
      expectAck(await c.submit(id, round1(name, 2, 2)));
    const box = {
      ephemeralKey: '11'.repeat(32),
      nonce: '22'.repeat(24),
      ciphertext: '33'.repeat(40),
    };
    const context = { ceremonyId: id, sender: 'dave', recipient: 'erin' };
    // Signed by another key, or over another box: refused, nothing recorded.
    for (const signature of [
      signPairwiseBox(keys.erin!, context, box),
      signPairwiseBox(keys.dave!, context, { ...box, ciphertext: '44'.repeat(40) }),
    ]) {
      const refusal = await dave.submit(id, {
        type: 'dkg.round2',
        boxes: [{ recipient: 'erin', ...box, signature }],
      });
      expect(refusal).toMatchObject({ code: 'INVALID_MESSAGE' });
      expect(refusal.message).toMatch(/signature/);
    }
    const signature = signPairwiseBox(keys.dave!, context, box);
    expectAck(
      await dave.submit(id, {
        type: 'dkg.round2',
        boxes: [{ recipient: 'erin', ...box, signature }],
      }),
    );
    // An unsigned box is refused too: relayed, a dealer's garbage could be blamed on nobody.
    const unsigned = await erin.submit(id, {
      type: 'dkg.round2',
      boxes: [{ recipient: 'dave', ...box }],
    });
    expect(unsigned).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(unsigned.message).toMatch(/not signed/);
    const fromErin = signedBox(keys, id, 'erin', 'dave', box);
    expectAck(await erin.submit(id, { type: 'dkg.round2', boxes: [fromErin] }));
    // Relayed as sent: erin can tell a box dave signed from one altered on the way.
    const delivered = await erin.nextBody('dkg.round2.deliver', id);
    expect(delivered.body.boxes).toEqual([{ sender: 'dave', ...box, signature }]);
    const toDave = await dave.nextBody('dkg.round2.deliver', id);
    const { recipient: _r, ...relayed } = fromErin;
    expect(toDave.body.boxes).toEqual([{ sender: 'erin', ...relayed }]);
  });

  // Blame is judged against the view the coordinator relayed, not by majority: with two members a
  // majority cannot tell which one lies, and named both.
  it.each([
    ['blames only the member whose view differs from the one relayed', 'dave', ['erin']],
    ['blames nobody when no member holds the relayed view', null, []],
  ] as const)(
    'aborts with CONFIRMATION_MISMATCH when members confirm different views: %s',
    async (_, honest, culprits) => {
      const t = await fresh();
      const { keys, dave, erin, id } = await openOps(t);
      const clients = { dave, erin };
      const box = {
        ephemeralKey: '11'.repeat(32),
        nonce: '22'.repeat(24),
        ciphertext: '33'.repeat(40),
      };
      const sent: Record<string, string> = {};
      for (const [name, c] of Object.entries(clients)) {
        const r1 = round1(name, 2, 2);
        sent[name] = r1.package;
        expectAck(await c.submit(id, r1));
      }
      const fromDave = signedBox(keys, id, 'dave', 'erin', box);
      const fromErin = signedBox(keys, id, 'erin', 'dave', box);
      expectAck(await clients.dave.submit(id, { type: 'dkg.round2', boxes: [fromDave] }));
      expectAck(await clients.erin.submit(id, { type: 'dkg.round2', boxes: [fromErin] }));
      const delivered = await clients.dave.nextBody('dkg.round2.deliver', id);
      const { recipient: _r, ...relayed } = fromErin;
      expect(delivered.body.boxes).toEqual([{ sender: 'erin', ...relayed }]);
      // The view an honest member computes from what was relayed: the round-1 hash and the key.
      const packages = Object.entries(sent).map(([member, pkg]) => ({ member, package: pkg }));
      const relayedHash = round1Hash({
        ceremonyId: id,
        threshold: 2,
        participants: ['dave', 'erin'].map((m) => ({
          member: m,
          identifier: frost.identifier.derive(m),
          identityKey: bytesToHex(keys[m]!.publicKey),
        })),
        packages,
      });
      const relayedKey = frost.keys.dkg.publicKeyPackage(
        packages.map((p) => frost.decode.bytes('DkgRound1Package', hexToBytes(p.package))),
        2,
      ).verifyingKey;
      for (const [name, c] of Object.entries(clients)) {
        const hash =
          name === honest
            ? relayedHash
            : Uint8Array.from({ length: 32 }, () => (name === 'dave' ? 1 : 2));
        const gpk = name === honest ? relayedKey : Uint8Array.from({ length: 32 }, () => 5);
        const signature = signDkgConfirmation(keys[name]!, {
          ceremonyId: id,
          member: name,
          round1Hash: hash,
          groupPublicKey: gpk,
        });
        // A confirmation signed by someone else is refused outright.
        if (name === 'dave') {
          const forged = signDkgConfirmation(keys.erin!, {
            ceremonyId: id,
            member: name,
            round1Hash: hash,
            groupPublicKey: gpk,
          });
          expect(
            (
              await c.submit(id, {
                type: 'dkg.confirm',
                round1Hash: bytesToHex(hash),
                groupPublicKey: bytesToHex(gpk),
                signature: bytesToHex(forged),
              })
            ).code,
          ).toBe('INVALID_MESSAGE');
        }
        expectAck(
          await c.submit(id, {
            type: 'dkg.confirm',
            round1Hash: bytesToHex(hash),
            groupPublicKey: bytesToHex(gpk),
            signature: bytesToHex(signature),
          }),
        );
      }
      const abort = await clients.erin.nextBody('dkg.abort', id);
      expect(abort.body.code).toBe('CONFIRMATION_MISMATCH');
      expect(abort.body.culprits).toEqual(culprits);
      expect(t.handle.store.getGroup('ops')?.state).toBe('failed');
      expect((await audited(t, id)).keyCulprits?.map((k) => k.member)).toEqual(culprits);
    },
  );

  it('aborts at once on a member’s unattributed dkg.fail (culprit = itself), blaming nobody', async () => {
    const t = await fresh();
    const { dave, erin, id } = await openOps(t);
    expectAck(await dave.submit(id, round1('dave', 2, 2)));
    expectAck(await erin.submit(id, round1('erin', 2, 2)));
    await dave.nextBody('dkg.round1.all', id);
    // What the client sends when the coordinator altered its view (failCulprit: its own name).
    expectAck(
      await dave.submit(id, {
        type: 'dkg.fail',
        culprit: 'dave',
        code: 'INCONSISTENT_VIEW',
        reason: 'my own round-1 package was altered',
      }),
    );
    const abort = await erin.nextBody('dkg.abort', id);
    expect(abort.body).toMatchObject({ code: 'INCONSISTENT_VIEW', culprits: [] });
    expect(t.handle.store.getGroup('ops')?.state).toBe('failed');
    expect((await audited(t, id)).keyCulprits).toEqual([]);
    // The status agrees with the abort: the honest reporter is not listed as a culprit.
    erin.send({ type: 'ceremony.status.get', ceremonyId: id });
    const status = await erin.next(
      (f) => f.type === 'ceremony.status' && f.ceremonyId === id && f.state === 'aborted',
    );
    expect(status).toMatchObject({ type: 'ceremony.status', state: 'aborted', culprits: [] });
  });

  it('ends round 1 at once when a member refuses the start (naming itself): everyone is told why, nobody blamed', async () => {
    const t = await fresh();
    const { admin, dave, erin, id } = await openOps(t);
    expectAck(await dave.submit(id, round1('dave', 2, 2)));
    // What refuseStart sends: erin's check of the start failed, before any round-1 relay.
    expectAck(
      await erin.submit(id, {
        type: 'dkg.fail',
        culprit: 'erin',
        code: 'INCONSISTENT_VIEW',
        reason: 'erin refuses the start: its authorization is not sealed by the pinned admin key',
      }),
    );
    for (const who of [dave, admin]) {
      const abort = await who.nextBody('dkg.abort', id);
      expect(abort.body).toMatchObject({ code: 'INCONSISTENT_VIEW', culprits: [] });
      expect(abort.body.message).toMatch(/erin could not complete.*not sealed by the pinned admin/);
    }
    expect(t.handle.store.getGroup('ops')?.state).toBe('failed');
    expect((await audited(t, id)).keyCulprits).toEqual([]);
    // It is over: a later round-1 package is refused.
    expect((await dave.submit(id, round1('dave', 2, 2))).code).toBe('UNEXPECTED_MESSAGE');
  });

  it('relays every piece of a round-2 message sent in pieces (the key chart takes pieces)', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = [new FakeMember('alice'), new FakeMember('bob'), new FakeMember('carol')];
    await addMembers(admin, members);
    for (const m of members) await m.connect(t);
    const alice = members[0]!;
    const realSend = alice.client.send.bind(alice.client);
    alice.client.send = (frame: unknown) => {
      const f = frame as { ceremonyId: string; body: { type: string; boxes?: unknown[] } };
      if (f.body.type !== 'dkg.round2' || (f.body.boxes?.length ?? 0) < 2) return realSend(frame);
      // One envelope per recipient instead of one for all.
      for (const box of f.body.boxes ?? []) {
        realSend(alice.client.seal(f.ceremonyId, { type: 'dkg.round2', boxes: [box] } as never));
      }
    };
    const id = newCeremonyId();
    for (const m of members) m.dkgGroup.set(id, 'ops');
    expectAck(
      await admin.submit(id, {
        type: 'admin.group.create',
        group: 'ops',
        threshold: 2,
        members: members.map((m) => ({ member: m.name, identityKey: m.publicKey })),
      }),
    );
    const done = await admin.next(
      (f) =>
        f.type === 'envelope' &&
        f.ceremonyId === id &&
        (f.body.type === 'dkg.complete' || f.body.type === 'dkg.abort'),
      8_000,
    );
    expect(done.body.type).toBe('dkg.complete');
  });

  it('tells every member why the admin cancelled, its longest reason cut at a character, never inside one', async () => {
    const t = await fresh();
    const { admin, dave, id } = await openOps(t);
    // "cancelled by the admin: " (24 units) + this reason (512) is cut to 512 units: the cut
    // falls inside the emoji, which a plain slice would split into a lone surrogate that no
    // message may carry, and the dkg.abort would never go out.
    const reason = `${'x'.repeat(487)}\u{1F510}${'y'.repeat(23)}`;
    expect(reason.length).toBe(512);
    expectAck(await admin.submit(id, { type: 'ceremony.cancel', reason }));
    const abort = await dave.nextBody('dkg.abort', id, 5_000);
    expect(abort.body).toMatchObject({ code: 'CEREMONY_CLOSED', culprits: [] });
    expect(abort.body.message).toBe(`cancelled by the admin: ${'x'.repeat(487)}`);
    expect((await audited(t, id)).keyCulprits).toEqual([]);
  });

  it('aborts a key ceremony at its round deadline, naming who was missing', async () => {
    const t = await fresh({ dkgRoundTimeoutMs: 1500 });
    const { dave, id } = await openOps(t); // erin is connected but never sends her round 1
    expectAck(await dave.submit(id, round1('dave', 2, 2)));
    const abort = await dave.nextBody('dkg.abort', id, 5_000);
    expect(abort.body).toMatchObject({ code: 'DEADLINE_EXCEEDED', culprits: ['erin'] });
    expect((await audited(t, id)).keyCulprits).toEqual([
      { member: 'erin', basis: expect.stringMatching(/sent no round-1 message/) },
    ]);
  });
});

describe('signing ceremony endings and requests', () => {
  it('expires a request nobody approves, and refuses requests for unknown groups or by outsiders', async () => {
    const t = await fresh({ approvalTimeoutMs: 1000 });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice] = members as [FakeMember];
    expect(
      (
        await alice.client.submit(newCeremonyId(), {
          type: 'sign.request',
          group: 'nope',
          release: sampleRelease(),
        })
      ).code,
    ).toBe('WRONG_GROUP');
    const keys = await register(admin, ['mallory']);
    const mallory = await connect(t.handle.url, keys.mallory!, 'mallory', t.coordinatorKey);
    expect(
      (
        await mallory.submit(newCeremonyId(), {
          type: 'sign.request',
          group: 'release',
          release: sampleRelease(),
        })
      ).code,
    ).toBe('FORBIDDEN');
    const id = newCeremonyId();
    await alice.requestRelease(id);
    // An outsider can neither read nor act on it.
    expect(
      (await mallory.query({ type: 'ceremony.status.get', ceremonyId: id }, 'ceremony.status'))
        .code,
    ).toBe('FORBIDDEN');
    const aborted = await alice.client.nextBody('sign.aborted', id, 5_000);
    expect(aborted.body).toMatchObject({ reason: 'expired', code: 'DEADLINE_EXCEEDED' });
  });
});

describe('heartbeat', () => {
  it('terminates a peer that stops answering pings', async () => {
    const t = await fresh({ heartbeatIntervalMs: 100 });
    const challenge = await fetchChallenge(t.handle.url);
    const ws = new WebSocket(`${t.handle.url.replace('http', 'ws')}/v1/ws`, {
      headers: authHeaders(challenge, t.admin, 'admin', t.handle.url),
      autoPong: false,
    });
    ws.on('error', () => {});
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    expect(await closed).toBe(1006);
  });
});

describe('key ceremony outcome after a dropped connection (D.47)', () => {
  it('resends dkg.complete on reconnect to a member that confirmed and was offline at the end', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const [alice, bob, carol] = [
      new FakeMember('alice'),
      new FakeMember('bob'),
      new FakeMember('carol'),
    ];
    await addMembers(admin, [alice, bob, carol]);
    for (const m of [alice, bob, carol]) await m.connect(t);
    // bob's confirmation is held back until carol is gone.
    const held: unknown[] = [];
    const bobSend = bob.client.send.bind(bob.client);
    bob.client.send = (frame: unknown) => {
      const f = frame as { type?: string; body?: { type?: string } };
      if (f.type === 'envelope' && f.body?.type === 'dkg.confirm') held.push(frame);
      else bobSend(frame);
    };
    const id = newCeremonyId();
    for (const m of [alice, bob, carol]) m.dkgGroup.set(id, 'ops');
    expectAck(
      await admin.submit(id, {
        type: 'admin.group.create',
        group: 'ops',
        threshold: 2,
        members: [alice, bob, carol].map((m) => ({ member: m.name, identityKey: m.publicKey })),
      }),
    );
    // alice and carol confirmed; bob's confirmation waits.
    for (let i = 0; ; i += 1) {
      const s = await admin.query(
        { type: 'ceremony.status.get', ceremonyId: id },
        'ceremony.status',
      );
      if (s.approvals?.includes('alice') && s.approvals.includes('carol') && held.length > 0) break;
      if (i > 200) throw new Error(`confirmations not in: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(held).toHaveLength(1);
    await carol.client.close();
    bobSend(held[0]);
    await admin.nextBody('dkg.complete', id, 20_000);
    expect(t.handle.store.getGroup('ops')?.state).toBe('active');
    expect(carol.keyPackages.has('ops')).toBe(false);
    // carol comes back after the ceremony closed: it is owed the sealed dkg.complete.
    await carol.connect(t);
    const complete = await carol.client.nextBody('dkg.complete', id, 5_000);
    expect(complete.body.groupPublicKey).toBe(t.handle.store.getGroup('ops')?.groupPublicKey);
    await new Promise((r) => setTimeout(r, 20));
    expect(carol.keyPackages.has('ops')).toBe(true);
  });
});
