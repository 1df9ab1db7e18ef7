// The member side of a key lifecycle ceremony (docs/lifecycle.md), driven by an in-memory relay
// that plays an honest coordinator through a 2-of-3 refresh: the new share is staged before the
// confirmation and replaces the old one only after every confirmation verified.
import { ed25519 as frost } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bodyHash,
  judgeLifecycleComplaint,
  lifecycleComplaintOf,
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  newCeremonyId,
  sealSignedBox,
  type DkgFail,
  type IdentityKey,
  type KeyStart,
  type OpenedEnvelope,
  type SealedBody,
} from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  ClientError,
  LifecycleParticipant,
  type LifecycleResult,
  type LoadedShare,
} from '../src/index.js';
import { dealtGroup, refreshFixture } from './refresh-fixture.js';

const NAMES = ['alice', 'bob', 'carol'];
const GROUP = 'web';

function opened(ceremonyId: string, body: SealedBody): OpenedEnvelope {
  return { ceremonyId, round: '0', seq: 1, sender: 'coordinator', body, bodyHash: bodyHash(body) };
}

type Box = { ephemeralKey: string; nonce: string; ciphertext: string };

interface RefreshOptions {
  failCommitOf?: string;
  abortDuringCommitOf?: string;
  abortDuringStageOf?: string;
  /** Round 2 is delivered to this member again while its share is being staged (a reconnect). */
  redeliverDuringStageOf?: string;
  /** This dealer deals a bad sub-share (the test fault); the run stops after round 2. */
  badSubShareFrom?: string;
  /** The relay refuses (INVALID_MESSAGE) every dkg.fail naming another member. */
  refuseComplaints?: boolean;
  /**
   * This member's first message of this type: the connection closes before its ack. Delivered:
   * the coordinator recorded it anyway. On reconnect the coordinator re-delivers the start and
   * each round so far while it lacks this member's confirmation (so, for a confirmation, only
   * if not delivered).
   */
  lost?: { member: string; type: 'key.round1' | 'key.round2' | 'dkg.confirm'; delivered: boolean };
  /** This member's confirmation is refused as DUPLICATE: another process of it confirmed first. */
  confirmedElsewhere?: string;
  /** This dealer's round 2 is refused as DUPLICATE: another process of it sent one first. */
  round2Elsewhere?: string;
}

async function refresh(opts: RefreshOptions = {}) {
  const { admin, ids, ceremonyId, start, share } = refreshFixture(NAMES, GROUP);
  const abort: SealedBody = {
    type: 'dkg.abort',
    code: 'DEADLINE_EXCEEDED',
    message: 'round 3 deadline passed',
    culprits: [],
  };
  const outbox: { from: string; body: SealedBody }[] = [];
  let lostOnce = false;
  /** member:type of every round message the "coordinator" holds. */
  const recorded = new Set<string>();
  /** Every dkg.fail sent, whenever (the outbox is emptied round by round). */
  const fails: { from: string; body: SealedBody }[] = [];
  let redelivered = false;
  /** The key.round2.deliver each member was sent. */
  const round2Of = new Map<string, SealedBody>();
  const staged = new Set<string>();
  const discarded: string[] = [];
  const committed: string[] = [];
  const parts = new Map<string, LifecycleParticipant>();
  for (const m of NAMES) {
    parts.set(
      m,
      new LifecycleParticipant(
        {
          member: m,
          key: ids[m]!,
          adminKey: admin.publicKey,
          send: async (_c, _r, body) => {
            const confirmsSoFar = () =>
              outbox.filter((o) => o.from === m && o.body.type === 'dkg.confirm').length;
            // As the coordinator: one message of each round per dealer.
            const held = `${m}:${body.type}`;
            if (body.type.startsWith('key.round') && recorded.has(held))
              throw new ClientError('DUPLICATE', `${m} already sent ${body.type}`);
            if (opts.lost?.type === body.type && opts.lost.member === m && !lostOnce) {
              lostOnce = true;
              if (opts.lost.delivered) {
                outbox.push({ from: m, body });
                recorded.add(held);
              }
              throw new ClientError(
                'CONNECTION_CLOSED',
                'the connection to the coordinator closed',
              );
            }
            if (body.type === 'key.round2' && opts.round2Elsewhere === m)
              throw new ClientError('DUPLICATE', `${m} already delivered round 2`);
            if (body.type === 'dkg.confirm' && opts.confirmedElsewhere === m) {
              // The other process's confirmation (the same bytes: Ed25519 is deterministic).
              if (confirmsSoFar() === 0) outbox.push({ from: m, body });
              throw new ClientError('DUPLICATE', `${m} already confirmed`);
            }
            outbox.push({ from: m, body });
            recorded.add(held);
            if (body.type === 'dkg.fail') fails.push({ from: m, body });
            if (opts.refuseComplaints && body.type === 'dkg.fail' && body.culprit !== m)
              throw new ClientError('INVALID_MESSAGE', 'the accusation is refused');
          },
          loadShare: async () => share(m),
          stage: async (_kp, meta) => {
            const path = `/pending/${meta.member}`;
            staged.add(path);
            if (opts.abortDuringStageOf === m)
              await parts.get(m)!.handle(opened(ceremonyId, abort));
            if (opts.redeliverDuringStageOf === m && !redelivered) {
              redelivered = true;
              await parts.get(m)!.handle(opened(ceremonyId, round2Of.get(m)!));
            }
            return path;
          },
          commit: async (_group, path) => {
            if (opts.failCommitOf === m) {
              throw new ClientError('KEYSTORE_IO_ERROR', 'could not replace the share (EIO)');
            }
            // A dkg.abort that arrives while the swap runs (a late or forged one).
            if (opts.abortDuringCommitOf === m)
              await parts.get(m)!.handle(opened(ceremonyId, abort));
            committed.push(m);
            return path;
          },
          discard: async (path) => {
            discarded.push(path);
          },
        },
        ceremonyId,
        start,
      ),
    );
  }
  const take = (type: string) => outbox.splice(0).filter((o) => o.body.type === type);
  const deliver = (m: string, body: SealedBody) => parts.get(m)!.handle(opened(ceremonyId, body));
  const results = NAMES.map((m) =>
    Promise.race([
      parts.get(m)!.result.then(
        (r): LifecycleResult | ClientError => r,
        (e: ClientError) => e,
      ),
      new Promise<'unsettled'>((resolve) => setTimeout(() => resolve('unsettled'), 2_000).unref()),
    ]),
  );
  /** On reconnect: the start and each round so far, in order (resendLifecycleState). */
  const reconnect = async (m: string, ...rounds: SealedBody[]) => {
    for (const body of [start, ...rounds]) await deliver(m, body);
  };
  const lostAt = (type: string) => (opts.lost?.type === type ? opts.lost.member : undefined);
  for (const m of NAMES) await parts.get(m)!.begin();
  if (lostAt('key.round1') !== undefined) await reconnect(lostAt('key.round1')!);
  const packages = take('key.round1').map((o) => ({
    member: o.from,
    package: (o.body as { package: string }).package,
  }));
  const round1All: SealedBody = { type: 'key.round1.all', packages, boxes: [] };
  for (const m of NAMES) {
    if (m === opts.badSubShareFrom) process.env['CONCLAVE_TEST_FAULT'] = 'bad-sub-share';
    try {
      await deliver(m, round1All);
    } finally {
      delete process.env['CONCLAVE_TEST_FAULT'];
    }
  }
  if (lostAt('key.round2') !== undefined) await reconnect(lostAt('key.round2')!, round1All);
  const r2 = take('key.round2');
  const delivered = new Map<string, (Box & { sender: string })[]>();
  for (const m of NAMES) {
    const boxes = r2.flatMap((o) =>
      (o.body as { boxes: (Box & { recipient: string })[] }).boxes
        .filter((b) => b.recipient === m)
        .map(({ recipient: _r, ...box }) => ({ sender: o.from, ...box })),
    );
    delivered.set(m, boxes);
    round2Of.set(m, { type: 'key.round2.deliver', boxes });
    await deliver(m, { type: 'key.round2.deliver', boxes });
    // The coordinator lacks the confirmation: on reconnect it delivers round 2 again.
    if (lostAt('dkg.confirm') === m && opts.lost?.delivered === false)
      await reconnect(m, round1All, { type: 'key.round2.deliver', boxes });
  }
  const run = { ceremonyId, start, delivered, packages, staged, discarded, committed, fails };
  if (opts.round2Elsewhere !== undefined) {
    // Its round 2 is another process's: the run stops here, with what that member made of it.
    const theirs = await results[NAMES.indexOf(opts.round2Elsewhere)]!;
    return { ...run, results: [theirs], outbox: outbox.splice(0) };
  }
  if (opts.badSubShareFrom !== undefined) {
    const none: (LifecycleResult | ClientError | 'unsettled')[] = [];
    return { ...run, results: none, outbox: outbox.splice(0) };
  }
  const confirms = take('dkg.confirm');
  expect(confirms).toHaveLength(NAMES.length - (opts.abortDuringStageOf === undefined ? 0 : 1));
  const first = confirms[0]!.body as { round1Hash: string; groupPublicKey: string };
  for (const m of NAMES) {
    await deliver(m, {
      type: 'dkg.complete',
      groupPublicKey: first.groupPublicKey,
      round1Hash: first.round1Hash,
      confirmations: confirms.map((c) => ({
        member: c.from,
        signature: (c.body as { signature: string }).signature,
      })),
    });
  }
  return { ...run, results: await Promise.all(results), outbox };
}

/** A participant whose sends land in `outbox`, staging nowhere (no disk), holding `share`. */
function recording(
  who: {
    member: string;
    key: IdentityKey;
    adminKey: Uint8Array;
    /** An Error: loading the share fails with it (a wrong passphrase, say). */
    share: LoadedShare | undefined | Error;
  },
  ceremonyId: string,
  start: KeyStart,
  outbox: SealedBody[],
  more: {
    /** Before a body is recorded (throw to refuse it; the participant is `p`). */
    readonly onSend?: (body: SealedBody, p: LifecycleParticipant) => Promise<void>;
    /** A newer share of the group is staged here. */
    readonly pending?: boolean;
  } = {},
): LifecycleParticipant {
  const p: LifecycleParticipant = new LifecycleParticipant(
    {
      member: who.member,
      key: who.key,
      adminKey: who.adminKey,
      send: async (_c, _r, body) => {
        await more.onSend?.(body, p);
        outbox.push(body);
      },
      ...(more.pending === undefined ? {} : { hasPendingShare: async () => more.pending === true }),
      loadShare: async () => {
        if (who.share instanceof Error) throw who.share;
        return who.share;
      },
      stage: async () => `/pending/${who.member}`,
      commit: async (_g, path) => path,
      discard: async () => undefined,
    },
    ceremonyId,
    start,
  );
  return p;
}

type Fixture = ReturnType<typeof refreshFixture>;

/**
 * alice of refresh `fx` (`recording`), taking `start` (default the fixture's) and holding `share`
 * (default her own); what she sends lands in `sent`.
 */
function aliceOf(
  fx: Fixture,
  o: {
    readonly share?: LoadedShare | undefined | Error;
    readonly start?: KeyStart;
    readonly more?: Parameters<typeof recording>[4];
  } = {},
): { p: LifecycleParticipant; sent: SealedBody[] } {
  const sent: SealedBody[] = [];
  const share = 'share' in o ? o.share : fx.share('alice');
  const p = recording(
    { member: 'alice', key: fx.ids['alice']!, adminKey: fx.admin.publicKey, share },
    fx.ceremonyId,
    o.start ?? fx.start,
    sent,
    o.more,
  );
  p.result.catch(() => undefined);
  return { p, sent };
}

/** alice's share of `fx`, its metadata naming another key state (a share of another epoch). */
function staleOf(fx: Fixture): LoadedShare {
  const mine = fx.share('alice') as LoadedShare;
  return { ...mine, metadata: { ...mine.metadata, publicKeyPackage: '00' } };
}

/** `member` with its identity key, as the registry (which the start's roster matches) holds it. */
function keyed(start: KeyStart, member: string) {
  const p = [...start.previous, ...start.participants].find((x) => x.member === member)!;
  return { member, identityKey: hexToBytes(p.identityKey, 32) };
}

/** Judges `accuser`'s dkg.fail against its culprit as the coordinator and the audit do. */
function judged(
  run: {
    ceremonyId: string;
    start: KeyStart;
    delivered: Map<string, (Box & { sender: string })[]>;
  },
  accuser: string,
  fail: DkgFail,
  dealerPackage: string | undefined,
) {
  const box = run.delivered.get(accuser)!.find((b) => b.sender === fail.culprit)!;
  const complaint = lifecycleComplaintOf(
    run.ceremonyId,
    run.start,
    keyed(run.start, accuser),
    keyed(run.start, fail.culprit),
    box,
    dealerPackage,
  );
  if (!complaint.ok) return complaint;
  return judgeLifecycleComplaint(complaint.value, fail.evidence!);
}

describe('LifecycleParticipant (refresh)', () => {
  it('stages each new share before confirming and commits it after every confirmation', async () => {
    const { results, staged, discarded, committed } = await refresh();
    expect(staged.size).toBe(3);
    expect(committed.sort()).toEqual(NAMES);
    expect(discarded).toEqual([]);
    for (const r of results) expect(r).toMatchObject({ kind: 'refresh', epoch: 1 });
  });

  it('keeps the staged share when the swap fails after completion, and reports the swap error', async () => {
    const { results, discarded, committed, outbox } = await refresh({ failCommitOf: 'bob' });
    expect(committed.sort()).toEqual(['alice', 'carol']);
    // The ceremony completed: bob's staged share is his only share of the new epoch. Deleting it
    // would leave him with an old-epoch share the others no longer sign with.
    expect(discarded).toEqual([]);
    // Nothing to blame on anyone: no dkg.fail for a ceremony that completed.
    expect(outbox.filter((o) => o.body.type === 'dkg.fail')).toEqual([]);
    const bob = results[NAMES.indexOf('bob')];
    expect(bob).toBeInstanceOf(ClientError);
    expect(bob).toMatchObject({ code: 'KEYSTORE_IO_ERROR' });
    expect((bob as ClientError).message).toContain('/pending/bob');
  });
});

/**
 * alice deals in a reshare of a 2-of-3 group to {bob, carol} and leaves: she confirms nothing, so
 * her only proof that the ceremony completed is the new committee's signed confirmations.
 */
async function leavingDealer() {
  const {
    admin,
    ids,
    pub,
    gpk,
    keyPackage: kp,
    share,
    confirmations,
    reshareStart,
  } = dealtGroup(NAMES, GROUP);
  const committee = ['bob', 'carol'];
  const dealers = ['alice', 'bob'];
  const ceremonyId = newCeremonyId();
  const start = reshareStart(ceremonyId, committee, dealers);
  const outbox: SealedBody[] = [];
  const alice = recording(
    { member: 'alice', key: ids['alice']!, adminKey: admin.publicKey, share: share('alice') },
    ceremonyId,
    start,
    outbox,
  );
  const settled = Promise.race([
    alice.result.then(
      (r): LifecycleResult | ClientError => r,
      (e: ClientError) => e,
    ),
    new Promise<'unsettled'>((resolve) => setTimeout(() => resolve('unsettled'), 1_000).unref()),
  ]);
  await alice.begin();
  const bobPackage = frost.keys.reshare.part1(kp('bob'), pub, {
    dealers: dealers.map((d) => frost.identifier.derive(d)),
    newIdentifiers: committee.map((m) => frost.identifier.derive(m)),
    newMinSigners: 2,
  }).package;
  const mine = outbox.find((b) => b.type === 'key.round1') as { package: string };
  await alice.handle(
    opened(ceremonyId, {
      type: 'key.round1.all',
      packages: [
        { member: 'alice', package: mine.package },
        {
          member: 'bob',
          package: bytesToHex(frost.encode.bytes('ReshareRound1Package', bobPackage)),
        },
      ],
      boxes: [],
    }),
  );
  expect(outbox.map((b) => b.type)).toEqual(['key.round1', 'key.round2']);
  const hash = new Uint8Array(32).fill(3);
  const complete = (signed: boolean): SealedBody => ({
    type: 'dkg.complete',
    groupPublicKey: gpk,
    round1Hash: bytesToHex(hash),
    confirmations: confirmations(ceremonyId, committee, hash, { signed }),
  });
  const finish = async (body: SealedBody) => {
    await alice.handle(opened(ceremonyId, body));
    return settled;
  };
  return { finish, complete, outbox };
}

describe('LifecycleParticipant (complaints, protocol 5)', () => {
  it('names the dealer of a bad sub-share with evidence the judge upholds against it', async () => {
    const run = await refresh({ badSubShareFrom: 'bob' });
    // bob's first recipient (by name) is alice: her part2 finds his sub-share bad.
    const fails = run.outbox.filter((o) => o.body.type === 'dkg.fail');
    expect(fails.map((o) => o.from)).toEqual(['alice']);
    const fail = fails[0]!.body as DkgFail;
    expect(fail).toMatchObject({ culprit: 'bob', code: 'INVALID_SECRET_SHARE' });
    expect(fail.evidence).toBeDefined();
    expect(run.outbox.some((o) => o.from === 'alice' && o.body.type === 'dkg.confirm')).toBe(false);
    const bobPackage = run.packages.find((p) => p.member === 'bob')?.package;
    const verdict = judged(run, 'alice', fail, bobPackage);
    expect(verdict.ok && verdict.value.culprit).toBe('bob');
    expect(verdict.ok && verdict.value.reason).toMatch(/fails vss_verify/);
  });

  it('a refused complaint ends the ceremony naming the member itself, so nobody is blamed', async () => {
    const run = await refresh({ badSubShareFrom: 'bob', refuseComplaints: true });
    const fails = run.outbox.filter((o) => o.body.type === 'dkg.fail').map((o) => o.body);
    expect(fails).toEqual([
      expect.objectContaining({ culprit: 'bob', evidence: expect.any(Object) }),
      expect.objectContaining({ culprit: 'alice', code: 'INCONSISTENT_VIEW' }),
    ]);
    expect((fails[1] as DkgFail).evidence).toBeUndefined();
  });

  it('refuses a refresh whose committee lists another identity key than the previous roster (its boxes would be sealed to it), ending it at once', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    const other = generateIdentityKey();
    const rekeyed: KeyStart = {
      ...fx.start,
      participants: fx.start.participants.map((p) =>
        p.member === 'bob' ? { ...p, identityKey: bytesToHex(other.publicKey) } : p,
      ),
    };
    const { p, sent } = aliceOf(fx, { start: rekeyed });
    await expect(p.begin()).rejects.toThrow(/a refresh keeps the roster, with its identity keys/);
    // Nothing of round 1; a dkg.fail naming alice herself, so the ceremony ends now, nobody blamed.
    expect(sent).toEqual([
      {
        type: 'dkg.fail',
        culprit: 'alice',
        code: 'INCONSISTENT_VIEW',
        reason: expect.stringMatching(/^alice refuses the start: .*keeps the roster/),
      },
    ]);
  });

  it('refuses a key.start of another protocol version, ending it at once', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    for (const version of [undefined, PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1]) {
      const { protocolVersion: _v, ...rest } = fx.start;
      const other: KeyStart = version === undefined ? rest : { ...rest, protocolVersion: version };
      const { p, sent } = aliceOf(fx, { start: other });
      await expect(p.begin()).rejects.toThrow(/names protocol .* this conclave speaks/);
      expect(sent).toEqual([
        expect.objectContaining({
          type: 'dkg.fail',
          culprit: 'alice',
          code: 'PROTOCOL_VERSION_MISMATCH',
        }),
      ]);
    }
  });

  it('refuses a start its own share is not of (another epoch): ends it at once, saying so', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    const { p, sent } = aliceOf(fx, { share: staleOf(fx) });
    await expect(p.begin()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(sent).toEqual([expect.objectContaining({ culprit: 'alice', code: 'STALE_EPOCH' })]);
  });

  it('refuses a start whose admin authorization is over 24 h old (a replay), ending it; one dated ahead of this clock waits', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    const HOUR = 3_600_000;
    const signed = (at: number): KeyStart => ({
      ...fx.start,
      authorization: fx.authorize(fx.ceremonyId, fx.start.authorization.body, at),
    });
    const old = aliceOf(fx, { start: signed(Date.now() - 25 * HOUR) });
    await expect(old.p.begin()).rejects.toThrow(
      /over 24 h ago: a replay, or ask the admin to open the refresh again/,
    );
    expect(old.sent).toEqual([expect.objectContaining({ type: 'dkg.fail', culprit: 'alice' })]);
    const ahead = aliceOf(fx, { start: signed(Date.now() + HOUR) });
    await expect(ahead.p.begin()).rejects.toThrow(/in the future: check this machine's clock/);
    expect(ahead.sent).toEqual([]);
    // Signed an hour ago (the ceremony re-sent at a reconnect): taken part in.
    const recent = aliceOf(fx, { start: signed(Date.now() - HOUR) });
    await recent.p.begin();
    expect(recent.sent.map((b) => b.type)).toEqual(['key.round1']);
  });

  it('a former member a reshare brings back, still holding its old share, receives instead of refusing', async () => {
    const g = dealtGroup(['alice', 'bob', 'carol', 'dave'], GROUP, ['alice', 'bob', 'carol']);
    const ceremonyId = newCeremonyId();
    const start = g.reshareStart(ceremonyId, ['alice', 'bob', 'dave'], ['alice', 'bob']);
    // dave's share of a key state before it left (another public key package).
    const kept = g.share('alice') as LoadedShare;
    const stale = { ...kept, metadata: { ...kept.metadata, publicKeyPackage: '00' } };
    const sent: SealedBody[] = [];
    const dave = recording(
      { member: 'dave', key: g.ids['dave']!, adminKey: g.admin.publicKey, share: stale },
      ceremonyId,
      start,
      sent,
    );
    dave.result.catch(() => undefined);
    await dave.begin();
    expect(sent).toEqual([]);
  });

  it('its result is why it refused, even when the abort its refusal causes arrives before the ack', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    const { p, sent } = aliceOf(fx, {
      share: staleOf(fx),
      more: {
        // As the coordinator does: the dkg.abort goes out in the same tick as the ack.
        onSend: async (body, self) => {
          if (body.type !== 'dkg.fail') return;
          await self.handle(
            opened(fx.ceremonyId, {
              type: 'dkg.abort',
              code: 'STALE_EPOCH',
              message: 'alice could not complete the ceremony (nobody is blamed)',
              culprits: [],
            }),
          );
        },
      },
    });
    await expect(p.begin()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(p.result).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(sent).toEqual([expect.objectContaining({ type: 'dkg.fail', culprit: 'alice' })]);
  });

  it('does not refuse over its share while a newer one of the group is staged (its outcome not yet learnt)', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    for (const pending of [true, false]) {
      const { p, sent } = aliceOf(fx, { share: staleOf(fx), more: { pending } });
      await expect(p.begin()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
      expect(sent.map((b) => b.type)).toEqual(pending ? [] : ['dkg.fail']);
    }
  });

  it('a second process of the dealer (round 1 refused as DUPLICATE) stands down, sending no dkg.fail', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    const { p, sent } = aliceOf(fx, {
      more: {
        onSend: async (body) => {
          if (body.type === 'key.round1')
            throw new ClientError('DUPLICATE', 'alice already sent its round-1 package');
        },
      },
    });
    await expect(p.begin()).rejects.toThrow(/another conclave process of alice/);
    // The relay then carries the other process's round 1 as "alice's": not a complaint.
    const other = refreshFixture(NAMES, GROUP);
    const theirs = frost.keys.refresh.part1(
      (other.share('alice') as LoadedShare).keyPackage,
      frost.decode.bytes('PublicKeyPackage', hexToBytes(other.start.publicKeyPackage)),
      NAMES.map((m) => frost.identifier.derive(m)),
    );
    await p.handle(
      opened(fx.ceremonyId, {
        type: 'key.round1.all',
        packages: [
          {
            member: 'alice',
            package: bytesToHex(frost.encode.bytes('ReshareRound1Package', theirs.package)),
          },
        ],
        boxes: [],
      }),
    );
    expect(sent).toEqual([]);
  });

  it('sends nothing when its share cannot be loaded (a wrong passphrase is its own to mend): the ceremony waits', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    for (const err of [
      new ClientError('KEYSTORE_DECRYPT_FAILED', 'wrong passphrase or damaged share file'),
      new ClientError('SHARE_NOT_FOUND', 'no share of this group in this home'),
    ]) {
      const { p, sent } = aliceOf(fx, { share: err });
      await expect(p.begin()).rejects.toBe(err);
      expect(sent).toEqual([]);
    }
    // A dealer holding no share at all (another home): the same.
    const { p, sent } = aliceOf(fx, { share: undefined });
    await expect(p.begin()).rejects.toMatchObject({ code: 'SHARE_NOT_FOUND' });
    expect(sent).toEqual([]);
  });
});

describe('LifecycleParticipant (a message whose ack is lost, or sent by another process)', () => {
  for (const delivered of [true, false]) {
    it(`keeps the staged share when the connection closes as it confirms (${delivered ? 'recorded anyway' : 'confirming again when round 2 is re-delivered'}), and completes`, async () => {
      const run = await refresh({ lost: { member: 'bob', type: 'dkg.confirm', delivered } });
      expect(run.outbox.filter((o) => o.body.type === 'dkg.fail')).toEqual([]);
      expect(run.discarded).toEqual([]);
      expect(run.committed.sort()).toEqual(NAMES);
      for (const r of run.results) expect(r).toMatchObject({ kind: 'refresh', epoch: 1 });
    });
  }

  for (const type of ['key.round1', 'key.round2'] as const) {
    for (const delivered of [true, false]) {
      it(`keeps its place when the connection closes as its ${type} goes out (${delivered ? 'recorded anyway' : 'sent again when the coordinator re-delivers'}), and completes`, async () => {
        const run = await refresh({ lost: { member: 'bob', type, delivered } });
        expect(run.fails).toEqual([]);
        expect(run.discarded).toEqual([]);
        expect(run.committed.sort()).toEqual(NAMES);
        for (const r of run.results) expect(r).toMatchObject({ kind: 'refresh', epoch: 1 });
      });
    }
  }

  it('stands down when its round 1 was never acknowledged and the relay, re-sent with the start, shows another process’s package as its own', async () => {
    const fx = refreshFixture(NAMES, GROUP);
    let round1Sends = 0;
    const { p, sent } = aliceOf(fx, {
      more: {
        onSend: async (body) => {
          if (body.type !== 'key.round1') return;
          round1Sends += 1;
          if (round1Sends === 1)
            throw new ClientError('CONNECTION_CLOSED', 'the connection to the coordinator closed');
          // The coordinator holds the other process's round 1 (its answer comes a while later).
          await new Promise((r) => setTimeout(r, 20));
          throw new ClientError('DUPLICATE', 'alice already sent its round-1 package');
        },
      },
    });
    await p.begin();
    expect(p.phase).toBe('round1');
    // On reconnect the coordinator re-sends the start and the round-1 list at once; alice's entry
    // is the other process's package.
    const packages = NAMES.map((m) => ({
      member: m,
      package: m === 'alice' ? 'aa'.repeat(40) : '00',
    }));
    await Promise.all([
      p.handle(opened(fx.ceremonyId, fx.start)),
      p.handle(opened(fx.ceremonyId, { type: 'key.round1.all', packages, boxes: [] })),
    ]);
    await expect(p.result).rejects.toThrow(/another conclave process of alice/);
    expect(p.stoodDown).toBe(true);
    expect(sent.filter((b) => b.type === 'dkg.fail')).toEqual([]);
  });

  it('stands down when its first round 2 is refused as DUPLICATE (another process of it dealt first)', async () => {
    const run = await refresh({ round2Elsewhere: 'bob' });
    expect(run.results[0]).toBeInstanceOf(ClientError);
    expect((run.results[0] as ClientError).message).toMatch(/another conclave process of bob/);
    expect(run.fails.filter((o) => o.from === 'bob')).toEqual([]);
  });

  it('a round 2 delivered again while the share is being staged changes nothing: one confirmation, the staged share kept', async () => {
    const run = await refresh({ redeliverDuringStageOf: 'bob' });
    expect(run.discarded).toEqual([]);
    expect(run.committed.sort()).toEqual(NAMES);
    for (const r of run.results) expect(r).toMatchObject({ kind: 'refresh', epoch: 1 });
  });

  it('a second process of a member whose confirmation is refused as DUPLICATE stands down: no dkg.fail, the staged share left to the other', async () => {
    const run = await refresh({ confirmedElsewhere: 'bob' });
    expect(run.outbox.filter((o) => o.body.type === 'dkg.fail')).toEqual([]);
    expect(run.discarded).toEqual([]);
    const bob = run.results[NAMES.indexOf('bob')];
    expect(bob).toBeInstanceOf(ClientError);
    expect((bob as ClientError).message).toMatch(/another conclave process of bob/);
    // Everyone else completes (bob's other process puts the staged share in place).
    expect(run.committed.sort()).toEqual(NAMES.filter((m) => m !== 'bob'));
  });
});

describe('LifecycleParticipant (an abort while the share is swapped)', () => {
  it('ignores a dkg.abort once committing: the staged share is not deleted mid-swap', async () => {
    const { results, discarded, committed } = await refresh({ abortDuringCommitOf: 'bob' });
    expect(committed.sort()).toEqual(NAMES);
    expect(discarded).toEqual([]);
    expect(results[NAMES.indexOf('bob')]).toMatchObject({ kind: 'refresh', epoch: 1 });
  });
});

describe('LifecycleParticipant (an abort while the share is staged)', () => {
  it('does not confirm after a dkg.abort that arrived while staging, and deletes the staged file', async () => {
    const { results, discarded, committed, outbox } = await refresh({ abortDuringStageOf: 'bob' });
    expect(outbox.filter((o) => o.from === 'bob' && o.body.type === 'dkg.confirm')).toEqual([]);
    expect(discarded).toContain('/pending/bob');
    expect(committed).not.toContain('bob');
    expect(results[NAMES.indexOf('bob')]).toMatchObject({ code: 'DKG_ABORTED' });
  });
});

describe('LifecycleParticipant (a dealer leaving in a reshare)', () => {
  it('does not report success on a dkg.complete the new committee did not sign', async () => {
    const l = await leavingDealer();
    const outcome = await l.finish(l.complete(false));
    expect(outcome).not.toMatchObject({ kind: 'reshare' });
    // "failed, cannot say who": the dkg.fail names alice herself.
    const fail = l.outbox.find((b) => b.type === 'dkg.fail');
    expect(fail).toMatchObject({ culprit: 'alice', code: 'CONFIRMATION_MISMATCH' });
  });

  it('reports success once every new member’s confirmation verifies', async () => {
    const l = await leavingDealer();
    expect(await l.finish(l.complete(true))).toMatchObject({ kind: 'reshare', epoch: 1 });
    expect(l.outbox.some((b) => b.type === 'dkg.fail')).toBe(false);
  });
});

describe('LifecycleParticipant (repair)', () => {
  /** carol, whose share is lost, receives a σ box from each helper (made by `sigma`). */
  async function repairCarol(sigma: (helper: string, i: number) => Uint8Array) {
    const { admin, ids, pubHex, gpk, roster, authorize } = dealtGroup(NAMES, GROUP);
    const helpers = ['alice', 'bob'];
    const ceremonyId = newCeremonyId();
    const start: KeyStart = {
      type: 'key.start',
      protocolVersion: PROTOCOL_VERSION,
      kind: 'repair',
      group: GROUP,
      fromEpoch: 0,
      toEpoch: 0,
      groupPublicKey: gpk,
      publicKeyPackage: pubHex,
      previousThreshold: 2,
      previous: roster,
      threshold: 2,
      participants: roster,
      dealers: helpers,
      member: 'carol',
      authorization: authorize(ceremonyId, {
        type: 'admin.group.repair',
        group: GROUP,
        epoch: 0,
        groupPublicKey: gpk,
        member: 'carol',
        helpers,
      }),
    };
    const outbox: SealedBody[] = [];
    const carol = recording(
      { member: 'carol', key: ids['carol']!, adminKey: admin.publicKey, share: undefined },
      ceremonyId,
      start,
      outbox,
    );
    await carol.begin();
    await carol.handle(opened(ceremonyId, { type: 'key.round1.all', packages: [], boxes: [] }));
    // Signed by each helper, as every sender signs its boxes (an unsigned one is never opened).
    const boxes = helpers.map((h, i) => ({
      sender: h,
      ...sealSignedBox(ids['carol']!.publicKey, ids[h]!, sigma(h, i), {
        ceremonyId,
        sender: h,
        recipient: 'carol',
      }),
    }));
    await carol.handle(opened(ceremonyId, { type: 'key.round2.deliver', boxes }));
    expect(outbox.some((b) => b.type === 'dkg.confirm')).toBe(false);
    return { ceremonyId, start, boxes, fail: outbox.find((b) => b.type === 'dkg.fail') as DkgFail };
  }

  it('a rebuilt share that does not verify blames nobody: dkg.fail names the member itself', async () => {
    // Each helper's σ is a scalar, but their sum is not carol's share: which helper lied (or
    // whether the coordinator swapped a box) carol cannot tell.
    const { fail } = await repairCarol((_h, i) => {
      const s = new Uint8Array(32);
      s[0] = i + 1;
      return s;
    });
    expect(fail).toMatchObject({
      type: 'dkg.fail',
      culprit: 'carol',
      code: 'INVALID_SECRET_SHARE',
    });
    expect(fail.reason).toMatch(/which helper sent a bad σ cannot be told/);
    expect(fail.evidence).toBeUndefined();
  });

  it('a σ that is no scalar names its helper, with evidence the judge upholds', async () => {
    const run = await repairCarol((h, i) => new Uint8Array(32).fill(h === 'bob' ? 0xff : i + 1));
    expect(run.fail).toMatchObject({ culprit: 'bob', code: 'INVALID_SECRET_SHARE' });
    const complaint = lifecycleComplaintOf(
      run.ceremonyId,
      run.start,
      keyed(run.start, 'carol'),
      keyed(run.start, 'bob'),
      run.boxes.find((b) => b.sender === 'bob')!,
      undefined,
    );
    const verdict = complaint.ok
      ? judgeLifecycleComplaint(complaint.value, run.fail.evidence!)
      : complaint;
    expect(verdict.ok && verdict.value.culprit).toBe('bob');
    expect(verdict.ok && verdict.value.reason).toMatch(/no canonical scalar/);
  });
});
