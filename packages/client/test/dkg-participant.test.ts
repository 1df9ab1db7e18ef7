// The member side of the key ceremony, driven by an in-memory relay that plays an honest (or
// tampering) coordinator: the share is saved only after n valid confirmations; a bad share names
// its sender and nothing is saved (THREATS B.24–B.27).
import { FrostError, ed25519 as frost } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bodyHash,
  bytesToHex,
  findRefusedCharacter,
  generateIdentityKey,
  hexToBytes,
  judgeDkgShareComplaint,
  newCeremonyId,
  sealEnvelope,
  signPairwiseBox,
  type DkgFail,
  type DkgStart,
  type IdentityKey,
  type OpenedEnvelope,
  type SealedBody,
} from '@conclave/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DKG_ROUNDS,
  MAX_FAIL_REASON,
  culpritError,
  failCulprit,
  failureOf,
  printable,
} from '../src/dkg-participant.js';
import { ClientError, DkgParticipant, type DkgResult } from '../src/index.js';

const NAMES = ['alice', 'bob', 'carol'];

function opened(ceremonyId: string, body: SealedBody): OpenedEnvelope {
  return { ceremonyId, round: '0', seq: 1, sender: 'coordinator', body, bodyHash: bodyHash(body) };
}

async function run(
  opts: {
    faultFrom?: string;
    /** The relay alters every box from this member in transit. */
    tamperBoxFrom?: string;
    /** ... and drops the sender's signature of it too. */
    stripBoxSignatures?: boolean;
    /** The coordinator refuses every complaint naming another member (INVALID_MESSAGE). */
    refuseAccusations?: boolean;
    /** The relay drops the signature of every box from this member, leaving the box intact. */
    unsignBoxesOf?: string;
    /** This member itself sends boxes that do not open, signed by it. */
    badBoxesBy?: string;
    wrongAdmin?: boolean;
    /** dkg.start names this protocol version (null: none) instead of this client's. */
    startVersion?: number | null;
    /** This member's save fails (disk full, a share file already there, …). */
    failSaveOf?: string;
    /**
     * The connection of `member` drops as its message of this type goes out: the coordinator got
     * it (or not), and the member's send fails. Not delivered: the coordinator re-delivers what it
     * answers (dkg.start for round 1, the round-1 list for round 2, round 2 for the confirmation).
     */
    lost?: {
      member: string;
      type: 'dkg.round1' | 'dkg.round2' | 'dkg.confirm';
      delivered: boolean;
    };
    /**
     * The coordinator re-delivers to this member the start, the round-1 list and round 2 although
     * it holds its answers (they crossed): each answer, sent again, is refused as DUPLICATE.
     */
    redeliverTo?: string;
    /** What the "coordinator" answers a round message it already holds (default DUPLICATE). */
    heldRefusal?: 'DUPLICATE' | 'STORAGE_UNAVAILABLE';
    /**
     * `member` lost its round 1 with the connection, and another process of that member sent its
     * own round 1, which the coordinator holds (so it re-delivers no start) and relays.
     */
    otherProcessOf?: string;
    /** The coordinator relays this member's round-1 package with its last byte (the proof) changed. */
    tamperRound1Of?: string;
    /** When the admin signed the group creation (ms; default now). */
    authorizedAt?: number;
    /** Members stage their share before confirming (DkgParticipantOptions.staging). */
    staging?: boolean;
    /** Another process of this member already sent round 1 (the coordinator says DUPLICATE). */
    round1DuplicateOf?: string;
    /** A member's dkg.fail is answered by the dkg.abort it causes before its ack (same tick). */
    abortBeforeFailAck?: boolean;
  } = {},
) {
  const admin = generateIdentityKey();
  const ids: Record<string, IdentityKey> = Object.fromEntries(
    NAMES.map((n) => [n, generateIdentityKey()]),
  );
  const ceremonyId = newCeremonyId();
  const members = NAMES.map((m) => ({ member: m, identityKey: bytesToHex(ids[m]!.publicKey) }));
  const authorization = sealEnvelope(opts.wrongAdmin === true ? generateIdentityKey() : admin, {
    ceremonyId,
    round: '0',
    seq: (opts.authorizedAt ?? Date.now()) * 1000,
    sender: 'admin',
    body: { type: 'admin.group.create', group: 'web', threshold: 2, members },
  });
  const start: DkgStart = {
    type: 'dkg.start',
    group: 'web',
    threshold: 2,
    participants: members.map((m) => ({ ...m, identifier: frost.identifier.derive(m.member) })),
    ...(opts.startVersion === null
      ? {}
      : { protocolVersion: opts.startVersion ?? PROTOCOL_VERSION }),
    authorization,
  };
  const outbox: { from: string; body: SealedBody }[] = [];
  const lostOnce = new Set<string>();
  /** member:type of every round message the "coordinator" holds. */
  const recorded = new Set<string>();
  /** stage:M, confirm:M, commit:M, discard:M in the order they happened. */
  const events: string[] = [];
  /** Every dkg.fail sent, whenever (the outbox is emptied round by round). */
  const failed: { from: string; body: SealedBody }[] = [];
  const saved: string[] = [];
  const parts = new Map<string, DkgParticipant>();
  for (const m of NAMES) {
    parts.set(
      m,
      new DkgParticipant(
        {
          member: m,
          key: ids[m]!,
          adminKey: admin.publicKey,
          send: async (_c, _r, body) => {
            if (opts.refuseAccusations === true && body.type === 'dkg.fail' && body.culprit !== m) {
              throw new ClientError(
                'INVALID_MESSAGE',
                'coordinator refused: the accusation is false',
              );
            }
            if (opts.abortBeforeFailAck === true && body.type === 'dkg.fail') {
              await parts.get(m)!.handle(
                opened(ceremonyId, {
                  type: 'dkg.abort',
                  code: body.code,
                  message: `${m} could not complete the ceremony (nobody is blamed)`,
                  culprits: [],
                }),
              );
            }
            if (body.type === 'dkg.round1' && opts.round1DuplicateOf === m) {
              throw new ClientError('DUPLICATE', `${m} already sent its round-1 package`);
            }
            // As the coordinator: one message of each round per member.
            const held = `${m}:${body.type}`;
            if (body.type !== 'dkg.fail' && recorded.has(held)) {
              throw new ClientError(opts.heldRefusal ?? 'DUPLICATE', `${m}: not taken again`);
            }
            if (opts.lost?.type === body.type && opts.lost.member === m && !lostOnce.has(m)) {
              lostOnce.add(m);
              if (opts.lost.delivered) {
                outbox.push({ from: m, body });
                recorded.add(held);
              }
              if (opts.otherProcessOf === m && body.type === 'dkg.round1') recorded.add(held);
              throw new ClientError(
                'CONNECTION_CLOSED',
                'the connection to the coordinator closed',
              );
            }
            outbox.push({ from: m, body });
            recorded.add(held);
            if (body.type === 'dkg.fail') failed.push({ from: m, body });
            if (body.type === 'dkg.confirm') events.push(`confirm:${m}`);
          },
          ...(opts.staging === true
            ? {
                staging: {
                  stage: async (_kp, meta) => {
                    events.push(`stage:${meta.member}`);
                    return `/staged/${meta.member}`;
                  },
                  commit: async (_group, staged) => {
                    const member = staged.slice('/staged/'.length);
                    events.push(`commit:${member}`);
                    saved.push(member);
                    return `/nowhere/${member}`;
                  },
                  discard: async (staged) => {
                    events.push(`discard:${staged.slice('/staged/'.length)}`);
                  },
                },
              }
            : {}),
          save: async (_kp, meta) => {
            if (opts.failSaveOf === meta.member) {
              throw new ClientError('KEYSTORE_IO_ERROR', 'could not write keystore (ENOSPC)');
            }
            saved.push(meta.member);
            return `/nowhere/${meta.member}`;
          },
        },
        ceremonyId,
        start,
      ),
    );
  }
  const take = (type: string) => outbox.splice(0).filter((o) => o.body.type === type);
  const deliver = async (m: string, body: SealedBody) => {
    const prev = process.env['CONCLAVE_TEST_FAULT'];
    if (opts.faultFrom === m) process.env['CONCLAVE_TEST_FAULT'] = 'bad-dkg-share';
    try {
      await parts.get(m)!.handle(opened(ceremonyId, body));
    } finally {
      if (prev === undefined) delete process.env['CONCLAVE_TEST_FAULT'];
      else process.env['CONCLAVE_TEST_FAULT'] = prev;
    }
  };
  // A result that never settles is a defect of its own: report it instead of hanging the test.
  const results = NAMES.map((m) =>
    Promise.race([
      parts.get(m)!.result.then(
        (r): DkgResult | ClientError => r,
        (e: ClientError) => e,
      ),
      new Promise<'unsettled'>((resolve) => setTimeout(() => resolve('unsettled'), 2_000).unref()),
    ]),
  );
  /**
   * After `m` reconnects (its `type` was lost), the coordinator re-delivers what it still lacks
   * `m`'s answer to (resendKeyState); or, for `redeliverTo`, also what crossed that answer.
   */
  const again = (type: string, m: string) =>
    (opts.lost?.type === type && opts.lost.member === m && !recorded.has(`${m}:${type}`)) ||
    opts.redeliverTo === m;
  for (const m of NAMES)
    await parts
      .get(m)!
      .begin()
      .catch(() => undefined);
  for (const m of NAMES) if (again('dkg.round1', m)) await deliver(m, start);
  const r1 = take('dkg.round1');
  const packages = r1.map((o) => {
    const pkg = (o.body as { package: string }).package;
    const flip = (h: string) => h.slice(0, -2) + (h.endsWith('00') ? '01' : '00');
    return { member: o.from, package: opts.tamperRound1Of === o.from ? flip(pkg) : pkg };
  });
  if (opts.otherProcessOf !== undefined) {
    const other = frost.keys.dkg.part1(frost.identifier.derive(opts.otherProcessOf), 3, 2);
    const pkg = bytesToHex(frost.encode.bytes('DkgRound1Package', other.package));
    packages.push({ member: opts.otherProcessOf, package: pkg });
  }
  packages.sort((a, b) => (a.member < b.member ? -1 : 1));
  for (const m of NAMES) {
    await deliver(m, { type: 'dkg.round1.all', packages });
    if (again('dkg.round2', m)) await deliver(m, { type: 'dkg.round1.all', packages });
  }
  const r2 = take('dkg.round2');
  /** What each member was delivered in round 2 (by recipient). */
  const deliveredTo = new Map<
    string,
    {
      sender: string;
      ephemeralKey: string;
      nonce: string;
      ciphertext: string;
      signature?: string;
    }[]
  >();
  for (const m of NAMES) {
    const boxes = r2.flatMap((o) =>
      (
        o.body as {
          boxes: {
            recipient: string;
            ephemeralKey: string;
            nonce: string;
            ciphertext: string;
            signature?: string;
          }[];
        }
      ).boxes
        .filter((b) => b.recipient === m)
        .map(({ recipient: _r, ...box }) => {
          const flip = (c: string) => (c[0] === '0' ? '1' : '0') + c.slice(1);
          if (opts.unsignBoxesOf === o.from) delete box.signature;
          if (opts.tamperBoxFrom === o.from) {
            box = { ...box, ciphertext: flip(box.ciphertext) };
            if (opts.stripBoxSignatures === true) delete box.signature;
          }
          if (opts.badBoxesBy === o.from) {
            // The sender's own doing: a box that does not open, signed by the sender.
            const bad = { ...box, ciphertext: flip(box.ciphertext) };
            const context = { ceremonyId, sender: o.from, recipient: m };
            box = { ...bad, signature: signPairwiseBox(ids[o.from]!, context, bad) };
          }
          return { sender: o.from, ...box };
        }),
    );
    deliveredTo.set(m, boxes);
    await deliver(m, { type: 'dkg.round2.deliver', boxes });
    if (again('dkg.confirm', m)) await deliver(m, { type: 'dkg.round2.deliver', boxes });
  }
  const fails = failed;
  const confirms = take('dkg.confirm');
  if (fails.length === 0 && confirms.length === NAMES.length) {
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
  } else {
    const culprits = [...new Set(fails.map((f) => (f.body as { culprit: string }).culprit))];
    for (const m of NAMES) {
      await deliver(m, {
        type: 'dkg.abort',
        code: 'INVALID_SECRET_SHARE',
        message: 'aborted',
        culprits,
      });
    }
  }
  /**
   * f's complaint judged as the coordinator judges it (box-complaint.ts): the culprit's box as
   * delivered to f and the culprit's round-1 package, opened with f's evidence.
   */
  const judge = (f: { from: string; body: SealedBody }) => {
    const body = f.body as DkgFail;
    const box = deliveredTo.get(f.from)?.find((b) => b.sender === body.culprit);
    const r1 = packages.find((p) => p.member === body.culprit);
    if (body.evidence === undefined || box === undefined || r1 === undefined) return undefined;
    return judgeDkgShareComplaint(
      {
        ceremonyId,
        accuser: f.from,
        accuserIdentityKey: ids[f.from]!.publicKey,
        dealer: body.culprit,
        dealerIdentityKey: ids[body.culprit]!.publicKey,
        box,
        dealerRound1: frost.decode.bytes('DkgRound1Package', hexToBytes(r1.package)),
        accuserIdentifier: frost.identifier.derive(f.from),
        minSigners: 2,
      },
      body.evidence,
    );
  };
  return { results: await Promise.all(results), saved, fails, events, judge, round1: r1 };
}

describe('DkgParticipant', () => {
  it('runs a 2-of-3 key ceremony and saves each share only after all confirmations', async () => {
    const { results, saved, round1 } = await run();
    // Each dealer signs its protocol version into round 1, for the auditors of a complaint.
    expect(round1.map((o) => o.body)).toEqual(
      NAMES.map(() => expect.objectContaining({ protocolVersion: PROTOCOL_VERSION })),
    );
    const keys = new Set(
      results.map((r) => (r instanceof ClientError || r === 'unsettled' ? r : r.groupPublicKey)),
    );
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f]{64}$/);
    expect(saved.sort()).toEqual(NAMES);
  });

  it('keeps its share when the connection drops as its confirmation goes out, and saves it on dkg.complete', async () => {
    for (const delivered of [true, false]) {
      const { results, saved, fails } = await run({
        lost: { member: 'bob', type: 'dkg.confirm', delivered },
      });
      expect(fails).toEqual([]);
      for (const r of results) expect(r).toMatchObject({ group: 'web', threshold: 2 });
      expect(saved.sort()).toEqual(NAMES);
    }
  });

  it('blames nobody for a round-1 package the coordinator altered (members cannot tell who did), and saves nothing', async () => {
    const { results, saved, fails } = await run({ tamperRound1Of: 'bob' });
    expect(saved).toEqual([]);
    // Everyone names themselves (bob sees his own package changed): an unattributed failure,
    // never bob.
    expect(fails.map((f) => [f.from, (f.body as { culprit: string }).culprit]).sort()).toEqual([
      ['alice', 'alice'],
      ['bob', 'bob'],
      ['carol', 'carol'],
    ]);
    for (const r of results) expect(r).toBeInstanceOf(ClientError);
  });

  it('with staging: writes each share before confirming, makes it the share after dkg.complete', async () => {
    const { results, saved, events } = await run({ staging: true });
    for (const r of results) expect(r).toMatchObject({ group: 'web' });
    expect(saved.sort()).toEqual(NAMES);
    for (const m of NAMES) {
      const at = (e: string) => events.indexOf(`${e}:${m}`);
      expect(at('stage')).toBeGreaterThanOrEqual(0);
      expect(at('stage')).toBeLessThan(at('confirm'));
      expect(at('confirm')).toBeLessThan(at('commit'));
    }
    expect(events.filter((e) => e.startsWith('discard'))).toEqual([]);
  });

  it('with staging: an aborted ceremony deletes every staged share and commits none', async () => {
    const { saved, events } = await run({ staging: true, faultFrom: 'alice' });
    expect(saved).toEqual([]);
    const staged = events.filter((e) => e.startsWith('stage:')).map((e) => e.slice(6));
    expect(staged.length).toBeGreaterThan(0);
    expect(
      events
        .filter((e) => e.startsWith('discard:'))
        .map((e) => e.slice(8))
        .sort(),
    ).toEqual(staged.sort());
    expect(events.some((e) => e.startsWith('commit'))).toBe(false);
  });

  it('keeps its place when the connection drops as its round 1 or round 2 goes out, and sends it again when asked', async () => {
    for (const type of ['dkg.round1', 'dkg.round2'] as const) {
      for (const delivered of [true, false]) {
        const { results, saved, fails, round1 } = await run({
          lost: { member: 'bob', type, delivered },
          staging: true,
        });
        expect(fails).toEqual([]);
        for (const r of results) expect(r).toMatchObject({ group: 'web', threshold: 2 });
        expect(saved.sort()).toEqual(NAMES);
        if (type === 'dkg.round1') expect(round1.filter((o) => o.from === 'bob')).toHaveLength(1);
      }
    }
  });

  it('stands down when its round 1 was never acknowledged and the relay shows another process’s package as its own', async () => {
    const { results, fails } = await run({
      lost: { member: 'bob', type: 'dkg.round1', delivered: false },
      otherProcessOf: 'bob',
    });
    const bob = results[NAMES.indexOf('bob')];
    expect(bob).toBeInstanceOf(ClientError);
    expect((bob as ClientError).message).toMatch(/another conclave process of bob/);
    expect(fails.filter((f) => f.from === 'bob')).toEqual([]);
  });

  it('answers sent again and refused (they crossed the first) do not abort the ceremony, whatever the refusal', async () => {
    for (const heldRefusal of ['DUPLICATE', 'STORAGE_UNAVAILABLE'] as const) {
      const { results, saved, fails } = await run({
        redeliverTo: 'carol',
        staging: true,
        heldRefusal,
      });
      expect(fails).toEqual([]);
      for (const r of results) expect(r).toMatchObject({ group: 'web' });
      expect(saved.sort()).toEqual(NAMES);
    }
  });

  it('stands down without a dkg.fail when another process of the member already sent round 1', async () => {
    const { results, fails } = await run({ round1DuplicateOf: 'bob' });
    const bob = results[NAMES.indexOf('bob')];
    expect(bob).toBeInstanceOf(ClientError);
    expect((bob as ClientError).message).toMatch(/another conclave process of bob/);
    expect(fails.filter((f) => f.from === 'bob')).toEqual([]);
  });

  it('names the sender of a share that fails vss_verify and saves nothing', async () => {
    const { results, saved, fails, judge } = await run({ faultFrom: 'bob' });
    expect(saved).toEqual([]);
    expect(fails.length).toBeGreaterThan(0);
    for (const f of fails) {
      expect(f.body).toMatchObject({ culprit: 'bob', code: 'INVALID_SECRET_SHARE' });
      // Its evidence opens bob's box for anyone, and proves the share bad.
      const verdict = judge(f);
      expect(verdict?.ok && verdict.value.culprit).toBe('bob');
      expect(verdict?.ok && verdict.value.reason).toMatch(/fails vss_verify/);
    }
    for (const r of results) {
      expect(r).toBeInstanceOf(ClientError);
      expect((r as ClientError).details?.['culprits']).toEqual(['bob']);
    }
  });

  it('a refused complaint: ends the ceremony naming itself, not waiting to be named by the deadline', async () => {
    const { fails, saved } = await run({ faultFrom: 'bob', refuseAccusations: true });
    expect(saved).toEqual([]);
    expect(fails.length).toBeGreaterThan(0);
    for (const f of fails) {
      expect(f.body).toMatchObject({ culprit: f.from, code: 'INCONSISTENT_VIEW' });
      expect((f.body as DkgFail).reason).toMatch(/my complaint against bob was refused/);
    }
  });

  it('names the sender of a box it signed that does not decrypt', async () => {
    const { saved, fails, judge } = await run({ badBoxesBy: 'carol' });
    expect(saved).toEqual([]);
    expect(fails.length).toBeGreaterThan(0);
    for (const f of fails) {
      expect(f.body).toMatchObject({ culprit: 'carol', code: 'DECRYPTION_FAILED' });
      const verdict = judge(f);
      expect(verdict?.ok && verdict.value).toMatchObject({ culprit: 'carol' });
      expect(verdict?.ok && verdict.value.reason).toMatch(/does not open/);
    }
  });

  it.each([
    ['altered in transit (its signature no longer verifies)', false],
    ['altered in transit with its signature dropped', true],
  ])('blames nobody for a box %s: the relay did it, not the sender', async (_, strip) => {
    const { saved, fails } = await run({ tamperBoxFrom: 'carol', stripBoxSignatures: strip });
    expect(saved).toEqual([]);
    expect(fails.length).toBeGreaterThan(0);
    // Each recipient names itself: "failed, cannot say who" (the coordinator blames nobody).
    for (const f of fails) {
      expect(f.body).toMatchObject({ culprit: f.from, code: 'INCONSISTENT_VIEW' });
      expect((f.body as DkgFail).evidence).toBeUndefined();
      expect(f.from).not.toBe('carol');
    }
  });

  it('never opens an unsigned box, even one that would open: nobody is blamed', async () => {
    // A complaint's evidence reveals the pair's static-static X25519 key, so after one the AEAD no
    // longer says who sealed a box between them: only the sender's signature does.
    const { saved, fails } = await run({ unsignBoxesOf: 'carol' });
    expect(saved).toEqual([]);
    expect(fails.length).toBeGreaterThan(0);
    for (const f of fails) {
      expect(f.body).toMatchObject({ culprit: f.from, code: 'INCONSISTENT_VIEW' });
      expect((f.body as DkgFail).reason).toMatch(/carries no signature/);
    }
  });

  it('reports a share that could not be saved with the save error, instead of never settling', async () => {
    const { results, saved, fails } = await run({ failSaveOf: 'bob' });
    expect(saved.sort()).toEqual(['alice', 'carol']);
    expect(fails).toEqual([]); // the ceremony completed for everyone else; nothing to blame
    const bob = results[NAMES.indexOf('bob')];
    expect(bob).toBeInstanceOf(ClientError);
    expect(bob).toMatchObject({ code: 'KEYSTORE_IO_ERROR' });
    expect((bob as ClientError).message).toMatch(/not saved|could not/);
  });

  /** Each member's one dkg.fail: naming itself, with the code and the reason of its refusal. */
  const refusals = (fails: readonly { from: string; body: SealedBody }[]) =>
    Object.fromEntries(fails.map((f) => [f.from, f.body]));

  it('refuses a key ceremony not authorized by the pinned admin key, ending it at once', async () => {
    const { results, saved, fails } = await run({ wrongAdmin: true });
    expect(saved).toEqual([]);
    for (const r of results) expect(r).toMatchObject({ code: 'DKG_FAILED' });
    // Each member refuses the start with a dkg.fail naming itself, so the ceremony ends now,
    // blaming nobody, instead of at its deadline naming every member as missing.
    expect(fails).toHaveLength(NAMES.length);
    for (const m of NAMES) {
      expect(refusals(fails)[m]).toEqual({
        type: 'dkg.fail',
        culprit: m,
        code: 'INCONSISTENT_VIEW',
        reason: expect.stringMatching(
          new RegExp(`^${m} refuses the start: .*not sealed by the pinned admin key`),
        ),
      });
    }
  });

  it('a refusing member’s result is why it refused, even when the abort its refusal causes comes before the ack', async () => {
    const { results, fails } = await run({ wrongAdmin: true, abortBeforeFailAck: true });
    expect(fails).toHaveLength(NAMES.length);
    for (const r of results) {
      expect(r).toMatchObject({ code: 'DKG_FAILED' });
      expect((r as ClientError).message).toMatch(/not sealed by the pinned admin key/);
    }
  });

  it('refuses a ceremony under another protocol’s rules, or naming none (its auditors judge by them)', async () => {
    for (const version of [PROTOCOL_VERSION - 1, null]) {
      const { results, saved, fails } = await run({ startVersion: version });
      expect(saved).toEqual([]);
      for (const r of results) {
        expect(r).toMatchObject({ code: 'DKG_FAILED' });
        expect((r as ClientError).message).toMatch(/names protocol .* and this conclave speaks/);
      }
      for (const m of NAMES) {
        expect(refusals(fails)[m]).toMatchObject({
          culprit: m,
          code: 'PROTOCOL_VERSION_MISMATCH',
          reason: expect.stringMatching(/refuses the start: .*names protocol/),
        });
      }
    }
  });

  it('refuses an admin authorization from over 24 h ago (a replay) or from the future, and saves nothing', async () => {
    const hour = 60 * 60 * 1000;
    for (const [at, why, refusals] of [
      // A replay: each member ends it at once, naming itself.
      [Date.now() - 25 * hour, /over 24 h ago/, NAMES.length],
      // Perhaps this machine's clock: set right, the member can still join; nothing is sent.
      [Date.now() + hour, /in the future/, 0],
    ] as const) {
      const { results, saved, fails } = await run({ authorizedAt: at });
      expect(saved).toEqual([]);
      for (const r of results) {
        expect(r).toMatchObject({ code: 'DKG_FAILED' });
        expect((r as ClientError).message).toMatch(why);
      }
      expect(fails).toHaveLength(refusals);
    }
    // Within the window (an admin whose clock is a few minutes ahead, a ceremony an hour old): taken.
    for (const at of [Date.now() + 5 * 60 * 1000, Date.now() - 23 * hour]) {
      const { saved } = await run({ authorizedAt: at });
      expect(saved.sort()).toEqual(NAMES);
    }
  });
});

// One rule for what a failed key-ceremony check reports, shared by the DKG and lifecycle participants.
describe('failureOf / failCulprit', () => {
  const memberOf = (id: string) => (id === 'aa' ? 'bob' : 'unknown');

  it('takes the culprit and wire code a check named', () => {
    const err = culpritError('carol', 'INVALID_PROOF_OF_KNOWLEDGE', 'bad proof from carol');
    expect(failureOf(err, memberOf)).toEqual({
      culprit: 'carol',
      code: 'INVALID_PROOF_OF_KNOWLEDGE',
      reason: 'bad proof from carol',
    });
  });

  it.each([
    'INVALID_SECRET_SHARE',
    'INVALID_PROOF_OF_KNOWLEDGE',
    'INCORRECT_COMMITMENT',
    'INCORRECT_NUMBER_OF_COMMITMENTS',
  ] as const)('passes the FROST code %s on and names its culprit', (code) => {
    expect(failureOf(new FrostError(code, 'x', ['aa']), memberOf)).toEqual({
      culprit: 'bob',
      code,
      reason: `FROST check failed: ${code}`,
    });
  });

  it('sends any other FROST error as INVALID_MESSAGE', () => {
    expect(failureOf(new FrostError('INVALID_ELEMENT', 'x', ['zz']), memberOf)).toMatchObject({
      culprit: 'unknown',
      code: 'INVALID_MESSAGE',
    });
  });

  it('blames no one for its own failures', () => {
    expect(failureOf(new ClientError('INVALID_MESSAGE', 'round 2 is late'), memberOf)).toEqual({
      culprit: undefined,
      code: 'INCONSISTENT_VIEW',
      reason: 'round 2 is late',
    });
    expect(failureOf(new Error('boom'), memberOf)).toEqual({
      culprit: undefined,
      code: 'INCONSISTENT_VIEW',
      reason: 'key ceremony check failed',
    });
  });

  it('says a failure of its own storage as such (STORAGE_UNAVAILABLE), not as a view of the others', () => {
    const eacces = Object.assign(new Error('EACCES: permission denied, mkdir'), {
      code: 'EACCES',
      syscall: 'mkdir',
    });
    expect(failureOf(eacces, memberOf)).toEqual({
      culprit: undefined,
      code: 'STORAGE_UNAVAILABLE',
      reason: 'this member could not store its share (EACCES); no other member is to blame',
    });
    expect(failureOf(new ClientError('KEYSTORE_IO_ERROR', 'disk full'), memberOf)).toMatchObject({
      culprit: undefined,
      code: 'STORAGE_UNAVAILABLE',
    });
    // A read or a socket failing is not this disk refusing the share.
    const reset = Object.assign(new Error('read ECONNRESET'), {
      code: 'ECONNRESET',
      syscall: 'read',
    });
    expect(failureOf(reset, memberOf).code).toBe('INCONSISTENT_VIEW');
  });

  it('names only members in dkg.fail: a coordinator fault or an unknown culprit is its own view', () => {
    expect(failCulprit('bob', 'alice')).toBe('bob');
    expect(failCulprit(undefined, 'alice')).toBe('alice');
    expect(failCulprit('coordinator', 'alice')).toBe('alice');
    expect(failCulprit('unknown', 'alice')).toBe('alice');
  });
});

describe('dkg.fail reasons are text the protocol accepts (printable)', () => {
  const NUM_RUNS = Number(process.env['FC_NUM_RUNS'] ?? 20);
  const key = generateIdentityKey();
  const seal = (reason: string) =>
    sealEnvelope(key, {
      ceremonyId: newCeremonyId(),
      round: DKG_ROUNDS.fail,
      seq: 1,
      sender: 'alice',
      body: { type: 'dkg.fail', culprit: 'bob', code: 'INVALID_SECRET_SHARE', reason },
    });
  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };

  // Each is refused by the protocol's text() (INVALID_MESSAGE: the dkg.fail would never be sent).
  it.each([
    ['a C0 control (ESC)', 'bad share \u001b[2J from bob'],
    ['DEL', 'bad share \u007f from bob'],
    ['a C1 control (8-bit CSI)', 'bad share \u009b2J from bob'],
    ['a bidi override', 'bad share from \u202ebob'],
    ['an invisible format character (zero-width space)', 'bad\u200bshare'],
    ['a line separator', 'bad share\u2028from bob'],
    ['an unpaired surrogate', 'bad share \ud800 from bob'],
    ['a noncharacter', 'bad share \ufffe from bob'],
  ])('%s: refused raw (INVALID_MESSAGE), replaced by a space in the reason', (_what, reason) => {
    expect(codeOf(() => seal(reason))).toBe('INVALID_MESSAGE');
    const clean = printable(reason);
    expect(findRefusedCharacter(clean)).toBeUndefined();
    expect([...clean]).toHaveLength([...reason].length);
    expect(codeOf(() => seal(clean))).toBeUndefined();
  });

  it('a reason cut at its maximum never splits a surrogate pair (INVALID_MESSAGE otherwise)', () => {
    const reason = `${'x'.repeat(MAX_FAIL_REASON - 1)}\u{1F510}tail`;
    expect(codeOf(() => seal(reason.slice(0, MAX_FAIL_REASON)))).toBe('INVALID_MESSAGE');
    const clean = printable(reason);
    expect(clean).toBe('x'.repeat(MAX_FAIL_REASON - 1));
    expect(codeOf(() => seal(clean))).toBeUndefined();
  });

  it('keeps allowed text in any script as it is', () => {
    const reason = 'bad share from bob — Ünïcode, 日本語, עברית, emoji \u{1F510}\ufe0f';
    expect(printable(reason)).toBe(reason);
  });

  it('property: any non-empty reason becomes one that seals, at most MAX_FAIL_REASON long', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 700 }), (reason) => {
        const clean = printable(reason);
        expect(clean.length).toBeLessThanOrEqual(MAX_FAIL_REASON);
        expect(findRefusedCharacter(clean)).toBeUndefined();
        expect(codeOf(() => seal(clean))).toBeUndefined();
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
