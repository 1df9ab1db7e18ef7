// Bad frames and bad ceremony messages over real sockets: each is refused with its code, nothing is
// written for it, the server stays up and another ceremony goes on (THREATS A.1, A.11, A.17, C.36,
// C.38, C.44, C.45).
import { ed25519 as frost } from '@conclave/frost';
import {
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  signApproval,
  requestDigest,
  sealEnvelope,
} from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import type { TestClient } from './helpers.js';
import {
  FakeMember,
  connect,
  expectAck,
  sampleRelease,
  setupGroup,
  type Frame,
  type TestCoordinator,
  testScope,
} from './helpers.js';

const { fresh: freshWith } = testScope();
const fresh = (limits = {}): Promise<TestCoordinator> => freshWith({ limits });

function count(t: TestCoordinator, sql: string, ...args: unknown[]): number {
  const db = (
    t.handle.store as unknown as {
      db: { prepare(s: string): { get(...a: unknown[]): { n: number } } };
    }
  ).db;
  return db.prepare(sql).get(...args).n;
}

const rowsFor = (t: TestCoordinator, id: string) => ({
  transcript: count(t, 'SELECT COUNT(*) AS n FROM transcript WHERE ceremony_id = ?', id),
  seen: count(t, 'SELECT COUNT(*) AS n FROM seen_messages WHERE ceremony = ?', id),
  commitments: count(t, 'SELECT COUNT(*) AS n FROM commitments'),
});

async function refusal(client: TestClient, send: () => void): Promise<Frame> {
  const frame = client.next((f) => f.type === 'error');
  send();
  return frame;
}

describe('bad input on an authenticated connection', () => {
  it('refuses bad frames with their codes while a signing ceremony goes on', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const kp = bob.keyPackages.get('release')!;

    const id = newCeremonyId();
    await alice.requestRelease(id);
    expectAck(await bob.approve(id, 'release'));
    const before = rowsFor(t, id);

    // A second, raw connection for the bad frames, so the fake members' error lists stay clean.
    const raw = await connect(t.handle.url, carol.key, 'carol', t.coordinatorKey);
    expect((await refusal(raw, () => raw.sendRaw('{"type": "inbox.get"'))).code).toBe(
      'MALFORMED_JSON',
    );
    expect((await refusal(raw, () => raw.send({ type: 'sign.teleport' }))).code).toBe(
      'UNKNOWN_MESSAGE_TYPE',
    );
    expect(
      (
        await refusal(raw, () =>
          raw.send({ type: 'sign.reject', requestDigest: '00'.repeat(32), reason: 'x' }),
        )
      ).code,
    ).toBe('UNEXPECTED_MESSAGE');
    expect(
      (await refusal(raw, () => raw.send({ type: 'inbox.get', __proto__x: 1, extra: true }))).code,
    ).toBe('INVALID_MESSAGE');

    const status = await raw.query(
      { type: 'ceremony.status.get', ceremonyId: id },
      'ceremony.status',
    );
    const digest = bytesToHex(requestDigest(id, status.request.body));

    // Renamed envelope: carol's connection, sender "bob" (signed with carol's key).
    const renamed = sealEnvelope(carol.key, {
      ceremonyId: id,
      round: '1',
      seq: 1,
      sender: 'bob',
      body: { type: 'sign.reject', requestDigest: digest, reason: 'not me' },
    });
    expect((await raw.call(renamed)).code).toBe('IDENTIFIER_MISMATCH');

    // Renamed commitment: bob's commitment under carol's authenticated name.
    const bobCommit = frost.round1.commit(kp).commitments;
    const bobHex = bytesToHex(frost.encode.bytes('SigningCommitments', bobCommit));
    expect(
      (await raw.submit(id, { type: 'sign.approve', requestDigest: digest, commitments: [bobHex] }))
        .code,
    ).toBe('IDENTIFIER_MISMATCH');

    // Invalid element: carol's own commitment with the hiding point replaced by the identity.
    const carolKp = carol.keyPackages.get('release')!;
    const good = frost.round1.commit(carolKp).commitments;
    const bytes = frost.encode.bytes('SigningCommitments', good);
    const at = Buffer.from(bytes).indexOf(Buffer.from(good.hiding));
    expect(at).toBeGreaterThan(0);
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const bad = Uint8Array.from(bytes);
    bad.set(identity, at);
    expect(
      (
        await raw.submit(id, {
          type: 'sign.approve',
          requestDigest: digest,
          commitments: [bytesToHex(bad)],
        })
      ).code,
    ).toBe('INVALID_ELEMENT');

    // Approval of another request.
    expect(
      (
        await raw.submit(id, {
          type: 'sign.approve',
          requestDigest: '11'.repeat(32),
          commitments: [bytesToHex(bytes)],
        })
      ).code,
    ).toBe('STATEMENT_MISMATCH');

    // An approval without carol's own approval signature, or with one for another ceremony or in
    // another member's name: the signers could never sign under it (BAD_APPROVAL_SIGNATURE).
    const carolApproval = (ceremonyId: string, member: string) =>
      signApproval(carol.key, ceremonyId, member, digest);
    for (const approval of [
      undefined,
      carolApproval(newCeremonyId(), 'carol'),
      carolApproval(id, 'bob'),
    ]) {
      expect(
        (
          await raw.submit(id, {
            type: 'sign.approve',
            requestDigest: digest,
            commitments: [bytesToHex(bytes)],
            ...(approval === undefined ? {} : { approval }),
          })
        ).code,
      ).toBe('BAD_APPROVAL_SIGNATURE');
    }

    // Out of order: a share before any session started.
    expect(
      (
        await raw.submit(id, {
          type: 'round2.share',
          session: 1,
          shares: ['00'.repeat(32)],
          ack: { packageHash: '00'.repeat(32), signature: '00'.repeat(64) },
        })
      ).code,
    ).toBe('UNEXPECTED_MESSAGE');

    // Wrong round label for the type.
    expect(
      (await raw.submit(id, { type: 'sign.reject', requestDigest: digest, reason: 'no' }, '2'))
        .code,
    ).toBe('INVALID_MESSAGE');

    // Nothing of the above was written.
    expect(rowsFor(t, id)).toEqual(before);

    // The ceremony still completes: carol approves through her agent connection.
    expectAck(await carol.approve(id, 'release'));
    const complete = await alice.client.nextBody('sign.complete', id);
    expect(complete.body.signers).toEqual(['bob', 'carol']);

    // Commitment reuse (A.1): bob offers the commitment spent in this ceremony to a new one.
    const spent = t.handle.store
      .transcript(id)
      .find((e) => e.sender === 'bob' && e.envelope.body.type === 'sign.approve')!;
    const id2 = newCeremonyId();
    expectAck(
      await alice.client.submit(id2, {
        type: 'sign.request',
        group: 'release',
        release: sampleRelease('1.0.1'),
      }),
    );
    const status2 = await bob.client.query(
      { type: 'ceremony.status.get', ceremonyId: id2 },
      'ceremony.status',
    );
    const digest2 = bytesToHex(requestDigest(id2, status2.request.body));
    const commitments = (spent.envelope.body as { commitments: string[] }).commitments;
    const before2 = rowsFor(t, id2);
    const reused = await bob.client.submit(id2, {
      type: 'sign.approve',
      requestDigest: digest2,
      commitments,
    });
    expect(reused.code).toBe('COMMITMENT_REUSED');
    expect(rowsFor(t, id2)).toEqual(before2);

    // Replayed envelope (same seq) after it was accepted.
    const accepted = bob.client.seal(id2, {
      type: 'sign.reject',
      requestDigest: digest2,
      reason: 'not this week',
    });
    expectAck(await bob.client.call(accepted));
    expect((await bob.client.call(accepted)).code).toBe('REPLAYED_MESSAGE');
    // And a fresh copy of the same decision is a duplicate.
    expect(
      (
        await bob.client.submit(id2, {
          type: 'sign.reject',
          requestDigest: digest2,
          reason: 'again',
        })
      ).code,
    ).toBe('DUPLICATE');
  });

  it('refuses a DKG round-2 before the round-1 broadcast, a replay and a renamed sender', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const keys = { dave: generateIdentityKey(), erin: generateIdentityKey() };
    for (const [name, key] of Object.entries(keys)) {
      expectAck(
        await admin.submit(newCeremonyId(), {
          type: 'admin.member.add',
          member: name,
          identityKey: bytesToHex(key.publicKey),
          roles: [],
        }),
      );
    }
    const dave = await connect(t.handle.url, keys.dave, 'dave', t.coordinatorKey);
    const id = newCeremonyId();
    expectAck(
      await admin.submit(id, {
        type: 'admin.group.create',
        group: 'ops',
        threshold: 2,
        members: Object.entries(keys).map(([member, key]) => ({
          member,
          identityKey: bytesToHex(key.publicKey),
        })),
      }),
    );
    const start = await dave.nextBody('dkg.start', id);
    expect(start.body.participants.map((p: { member: string }) => p.member)).toEqual([
      'dave',
      'erin',
    ]);
    expect(start.body.authorization.sender).toBe('admin');

    const box = {
      ephemeralKey: '00'.repeat(32),
      nonce: '00'.repeat(24),
      ciphertext: '00'.repeat(32),
    };
    expect(
      (await dave.submit(id, { type: 'dkg.round2', boxes: [{ recipient: 'erin', ...box }] })).code,
    ).toBe('UNEXPECTED_MESSAGE');

    // A round-1 package under another member's identifier.
    const erinPkg = frost.keys.dkg.part1(frost.identifier.derive('erin'), 2, 2).package;
    expect(
      (
        await dave.submit(id, {
          type: 'dkg.round1',
          package: bytesToHex(frost.encode.bytes('DkgRound1Package', erinPkg)),
        })
      ).code,
    ).toBe('IDENTIFIER_MISMATCH');

    const r1 = frost.keys.dkg.part1(frost.identifier.derive('dave'), 2, 2).package;
    const env = dave.seal(id, {
      type: 'dkg.round1',
      package: bytesToHex(frost.encode.bytes('DkgRound1Package', r1)),
    });
    expectAck(await dave.call(env));
    expect((await dave.call(env)).code).toBe('REPLAYED_MESSAGE');
    expect(
      (
        await dave.call(
          sealEnvelope(keys.dave, { ...env, seq: env.seq + 5, sender: 'erin', body: env.body }),
        )
      ).code,
    ).toBe('IDENTIFIER_MISMATCH');
    // A signature that does not verify under dave's registered key.
    const forged = { ...env, seq: env.seq + 6, signature: 'ab'.repeat(64) };
    expect((await dave.call(forged)).code).toBe('BAD_ENVELOPE_SIGNATURE');
    // Only the admin's envelope, the two dkg.start and dave's one accepted round-1 were written.
    expect(t.handle.store.transcript(id).map((e) => e.envelope.body.type)).toEqual([
      'admin.group.create',
      'dkg.start',
      'dkg.start',
      'dkg.round1',
    ]);
  });

  it('closes a frame over 64 KiB with 1009 and stays up', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    admin.sendRaw(JSON.stringify({ type: 'inbox.get', pad: 'x'.repeat(70 * 1024) }));
    expect((await admin.closed).code).toBe(1009);
    const health = await fetch(`${t.handle.url}/healthz`);
    expect(health.status).toBe(200);
    const again = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const inbox = await again.query({ type: 'inbox.get' }, 'inbox');
    expect(inbox.items).toEqual([]);
  });

  it('closes a connection after too many refused frames', async () => {
    const t = await fresh({ maxErrorsPerConnection: 3 });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    for (let i = 0; i < 3; i++) admin.sendRaw('not json');
    expect((await admin.closed).code).toBe(1008);
  });
});
