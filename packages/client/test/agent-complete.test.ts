// A signer's local record of a completed ceremony holds the statement and the exact bytes it signed.
// sign.complete can arrive while the signer is still finishing its package (awaiting the share's
// ack and its ledger record: slow disks, many ceremonies): the record must still get them.
import {
  bytesToHex,
  generateIdentityKey,
  sealEnvelope,
  type CeremonyStatus,
  type SealedBody,
  type SignComplete,
  type SignPackage,
} from '@conclave/protocol';
import { messageToSign } from '@conclave/release';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemberSession } from '../src/index.js';
import {
  PASS,
  aliceHome,
  cleanup,
  fakeCoordinator,
  sessions,
  signStatus,
  sockets,
} from './session-fixture.js';

afterEach(cleanup);

const hex = (bytes: number, fill = 'ab') => fill.repeat(bytes);

/** alice's home, signing, connected to a fake coordinator serving `statuses`. */
async function signingSession() {
  const { home, ids } = await aliceHome();
  const statuses = new Map<string, CeremonyStatus>();
  const coordinator = generateIdentityKey();
  const url = await fakeCoordinator(statuses, coordinator);
  const session = await MemberSession.open({
    home,
    passphrase: PASS,
    coordinatorUrl: url,
    signing: true,
  });
  sessions.push(session);
  return { home, ids, statuses, coordinator, session };
}

describe('MemberSession: sign.complete that overtakes the package', () => {
  it("records the signed statement and message even when sign.complete arrives before the package's end", async () => {
    const { home, ids, statuses, coordinator, session } = await signingSession();
    const status = signStatus(ids['carol']!, 'carol');
    statuses.set(status.ceremonyId, status);
    const id = status.ceremonyId;
    const { review } = await session.review(id);

    // The signer is still finishing its package (its share's ack, its ledger record) …
    const signer = session.signer!;
    vi.spyOn(signer, 'has').mockReturnValue(true);
    let finish = (): void => undefined;
    const finishing = new Promise<{ ceremonyId: string; session: number }>((resolve) => {
      finish = () => resolve({ ceremonyId: id, session: 1 });
    });
    vi.spyOn(signer, 'onPackage').mockReturnValue(finishing);

    const issuedAt = Date.now();
    const pkg: SignPackage = {
      type: 'sign.package',
      session: 1,
      phase: 1,
      jobs: ['dsse', 'sshsig:a.tgz'],
      commitments: ['alice', 'bob'].map((m) => ({
        member: m,
        commitments: [hex(100, m === 'alice' ? '0a' : '0b'), hex(100, m === 'alice' ? '1a' : '1b')],
      })),
      packageHashes: [hex(32), hex(32, 'ef')],
      previous: [],
      keyCreatedAt: 0,
      requestDigest: review.requestDigest,
      statementDigest: hex(32, 'cd'),
      approvers: ['alice', 'bob'],
      approvals: [hex(64), hex(64)],
      signers: ['alice', 'bob'],
      policyId: 'default',
      issuedAt,
    };
    const complete: SignComplete = {
      type: 'sign.complete',
      groupPublicKey: hex(32),
      signature: hex(64),
      signatures: [{ job: 'dsse', signature: hex(64) }],
      keyCreatedAt: 0,
      statementDigest: pkg.statementDigest,
      approvers: pkg.approvers,
      signers: pkg.signers,
      policyId: 'default',
      issuedAt,
    };
    const ended = session.waitForEnd(id);
    const ws = sockets.at(-1)!;
    let seq = 1;
    const push = (body: SealedBody) =>
      ws.send(
        JSON.stringify(
          sealEnvelope(coordinator, {
            ceremonyId: id,
            round: '3',
            seq: seq++,
            sender: 'coordinator',
            body,
          }),
        ),
      );
    push(pkg);
    push(complete); // … when sign.complete arrives.
    await new Promise((r) => setTimeout(r, 200));
    finish();
    await ended;

    const record = await home.loadRecord(id);
    const meta = (await session.share('web')).metadata;
    const keys = new Map(meta.participants.map((p) => [p.member, p.identityKey]));
    const message = messageToSign(review.release, {
      ceremonyId: id,
      group: 'web',
      groupPublicKey: meta.groupPublicKey,
      requester: 'carol',
      approvers: ['alice', 'bob'].map((m) => ({ member: m, identityKey: keys.get(m)! })),
      policyId: 'default',
      issuedAt,
    });
    expect(record?.['message']).toBe(bytesToHex(message));
    expect(record?.['statement']).toMatchObject({ _type: 'https://in-toto.io/Statement/v1' });
    expect(record?.['outcome']).toMatchObject({
      state: 'completed',
      signature: complete.signature,
    });
  });
});

describe('MemberSession: the OpenPGP key creation time', () => {
  it('signs OpenPGP packages under the keyCreatedAt of its first OpenPGP signature only', async () => {
    const { home, ids, statuses, coordinator, session } = await signingSession();
    const ceremonies = [0, 1, 2].map(() => signStatus(ids['carol']!, 'carol'));
    for (const c of ceremonies) statuses.set(c.ceremonyId, c);
    const reviews: { requestDigest: string }[] = [];
    for (const c of ceremonies) reviews.push((await session.review(c.ceremonyId)).review);
    const signer = session.signer!;
    vi.spyOn(signer, 'has').mockReturnValue(true);
    const onPackage = vi
      .spyOn(signer, 'onPackage')
      .mockImplementation(async (ceremonyId) => ({ ceremonyId, session: 1 }));
    const decline = vi.spyOn(signer, 'decline').mockResolvedValue(undefined);

    const ws = sockets.at(-1)!;
    let seq = 1;
    const send = (i: number, keyCreatedAt: number, jobs = ['openpgp-cert', 'openpgp:a.tgz']) => {
      const body: SignPackage = {
        type: 'sign.package',
        session: 1,
        phase: 1,
        jobs,
        commitments: ['alice', 'bob'].map((m) => ({
          member: m,
          commitments: jobs.map((_, j) => hex(100, m === 'alice' ? `a${j}` : `b${j}`)),
        })),
        packageHashes: jobs.map(() => hex(32)),
        previous: [],
        keyCreatedAt,
        requestDigest: reviews[i]!.requestDigest,
        statementDigest: hex(32, 'cd'),
        approvers: ['alice', 'bob'],
        approvals: [hex(64), hex(64)],
        signers: ['alice', 'bob'],
        policyId: 'default',
        issuedAt: Date.now(),
      };
      const ceremonyId = ceremonies[i]!.ceremonyId;
      ws.send(
        JSON.stringify(
          sealEnvelope(coordinator, {
            ceremonyId,
            round: '3',
            seq: seq++,
            sender: 'coordinator',
            body,
          }),
        ),
      );
    };
    const pins = async () =>
      Object.values(
        JSON.parse(
          await readFile(join(home.dir, 'key-pins.json'), 'utf8').catch(() => '{}'),
        ) as Record<string, { keyCreatedAt: number }>,
      ).map((p) => p.keyCreatedAt);
    const created = 1_750_000_000;

    // A package without OpenPGP jobs signs whatever it names, and pins nothing.
    send(0, created - 99, ['dsse', 'sshsig:a.tgz']);
    await vi.waitFor(() => expect(onPackage).toHaveBeenCalledTimes(1));
    expect(await pins()).toEqual([]);
    // The first OpenPGP signature pins its time.
    send(1, created);
    await vi.waitFor(() => expect(onPackage).toHaveBeenCalledTimes(2));
    await vi.waitFor(async () => expect(await pins()).toEqual([created]));
    // The coordinator now names another time: the key would get another fingerprint.
    send(2, created + 1);
    // Refused, and said to the coordinator (round2.decline) instead of left to time out.
    await vi.waitFor(() =>
      expect(decline).toHaveBeenCalledWith(
        ceremonies[2]!.ceremonyId,
        1,
        expect.objectContaining({ code: 'SIGNING_REFUSED' }),
      ),
    );
    expect(onPackage).toHaveBeenCalledTimes(2);
    // The same time again is signed.
    send(2, created);
    await vi.waitFor(() => expect(onPackage).toHaveBeenCalledTimes(3));
    expect(await pins()).toEqual([created]);
  });
});

describe('MemberSession.approve', () => {
  it('approves only a review this session made (a hand-built one would skip its checks)', async () => {
    const { ids, statuses, session } = await signingSession();
    const c = signStatus(ids['carol']!, 'carol');
    statuses.set(c.ceremonyId, c);
    const { review } = await session.review(c.ceremonyId);
    // Same fields, not the review this session verified and keeps for the package checks.
    await expect(session.approve({ ...review })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      session.approve({ ...review, ceremonyId: `c_${'f'.repeat(32)}` }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
