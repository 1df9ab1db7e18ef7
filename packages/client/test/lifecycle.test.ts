// attachLifecycle (the member session's lifecycle glue). A dealer that leaves the committee in a
// reshare deletes its old share when the ceremony completes — only when the new committee's
// confirmations prove it did: a dkg.complete anyone could make (the group key is public) must
// never make a member destroy a share that may still be needed.
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PROTOCOL_VERSION,
  bodyHash,
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  type Envelope,
  type IdentityKey,
  sealEnvelope,
  type KeyStart,
  type OpenedEnvelope,
  type SealedBody,
} from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/connection.js';
import { ClientError } from '../src/errors.js';
import { Home } from '../src/home.js';
import { attachLifecycle } from '../src/lifecycle.js';
import { stageShare } from '../src/share-swap.js';
import { dealtGroup } from './refresh-fixture.js';

const GROUP = 'web';

/**
 * A coordinator connection for the glue: what it sends is recorded (`events`: "send TYPE"),
 * `deliver` hands it a coordinator envelope of `ceremonyId`, `connect` runs its connect handler,
 * and `query` answers key.outcome.get.
 */
function fakeConnection(
  query?: (frame: { type: string }) => Promise<unknown>,
  /** A refusal the coordinator answers a body with, if any. */
  refuse?: (body: SealedBody) => Error | undefined,
) {
  let onEnvelope: (env: OpenedEnvelope) => void = () => undefined;
  let onConnect: () => void = () => undefined;
  const sent: SealedBody[] = [];
  const events: string[] = [];
  const connection = {
    onEnvelope: (f: (env: OpenedEnvelope) => void) => {
      onEnvelope = f;
    },
    onConnect: (f: () => void) => {
      onConnect = f;
    },
    send: async (_c: string, _r: string, body: SealedBody) => {
      const refused = refuse?.(body);
      if (refused !== undefined) throw refused;
      sent.push(body);
      events.push(`send ${body.type}`);
    },
    status: async () => ({ state: 'open' }),
    query,
  } as unknown as Connection;
  const deliver = (ceremonyId: string, body: SealedBody) =>
    onEnvelope({
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'coordinator',
      body,
      bodyHash: bodyHash(body),
    });
  return { connection, sent, events, deliver, connect: () => onConnect() };
}

async function leavingDealer() {
  const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const old = ['alice', 'bob', 'carol'];
  const committee = ['dave', 'erin'];
  const { admin, ids, gpk, share, confirmations, reshareStart } = dealtGroup(names, GROUP, old);
  const ceremonyId = newCeremonyId();
  const start = reshareStart(ceremonyId, committee, ['alice', 'bob']);
  const dir = await mkdtemp(join(tmpdir(), 'conclave-lc-'));
  const sharePath = join(dir, `${GROUP}.key`);
  await writeFile(sharePath, 'old share of alice');
  const home = {
    name: 'alice',
    dir,
    config: { coordinator: { adminKey: bytesToHex(admin.publicKey) } },
    listShares: async () => [GROUP],
    loadShare: async () => share('alice'),
    sharePath: () => sharePath,
  } as unknown as Home;
  const fake = fakeConnection();
  const { connection, sent } = fake;
  const lc = attachLifecycle({ connection, home, key: ids['alice']!, passphrase: 'pw' });
  const deliver = (body: SealedBody) => fake.deliver(ceremonyId, body);
  deliver(start);
  for (let i = 0; i < 50 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(sent[0]?.type).toBe('key.round1');
  const settled = async () => {
    const p = lc.participants.get(ceremonyId);
    await p?.result.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
  };
  /** The committee's signed confirmations of `hash`. */
  const confirmed = (hash: Uint8Array) => confirmations(ceremonyId, committee, hash);
  return { deliver, settled, sharePath, gpk, confirmed, committee };
}

describe('attachLifecycle: a dealer leaving in a reshare', () => {
  it('keeps its share on a dkg.complete without the committee’s confirmations', async () => {
    const l = await leavingDealer();
    l.deliver({
      type: 'dkg.complete',
      groupPublicKey: l.gpk,
      round1Hash: bytesToHex(new Uint8Array(32).fill(7)),
      // Schema-valid, but signed by nobody: what a coordinator can write without the committee.
      confirmations: l.committee.map((m) => ({ member: m, signature: '00'.repeat(64) })),
    });
    await l.settled();
    expect(await readFile(l.sharePath, 'utf8')).toBe('old share of alice');
  });

  it('deletes its old share once every new member confirmed the same transcript', async () => {
    const l = await leavingDealer();
    const hash = new Uint8Array(32).fill(9);
    l.deliver({
      type: 'dkg.complete',
      groupPublicKey: l.gpk,
      round1Hash: bytesToHex(hash),
      confirmations: l.confirmed(hash),
    });
    await l.settled();
    await expect(readFile(l.sharePath, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

/** alice's home (a fast KDF), with `coordinator` and `admin` pinned. */
async function pinnedHome(
  prefix: string,
  passphrase: string,
  admin: IdentityKey,
  coordinator: IdentityKey,
): Promise<Home> {
  const home = await Home.init(await mkdtemp(join(tmpdir(), prefix)), 'alice', passphrase, {
    kdfParams: { N: 2 ** 16, r: 8, p: 1 },
  });
  await home.pinCoordinator({
    url: 'http://127.0.0.1:1',
    origin: 'http://127.0.0.1:1',
    coordinatorKey: bytesToHex(coordinator.publicKey),
    adminKey: bytesToHex(admin.publicKey),
  });
  return home;
}

/**
 * A member session reconnecting to a coordinator whose status says `completed` and whose
 * key.outcome is `outcome`: what the lifecycle glue logged while it recovered staged shares.
 */
async function reconnected(
  home: Home,
  key: IdentityKey,
  passphrase: string,
  outcome: Record<string, unknown>,
  inFlight = false,
): Promise<string[]> {
  let connected: () => void = () => undefined;
  const connection = {
    onEnvelope: () => undefined,
    onConnect: (f: () => void) => {
      connected = f;
    },
    send: async () => undefined,
    status: async () => ({ state: 'completed' }),
    query: async (frame: { type: string }) => {
      if (frame.type !== 'key.outcome.get') throw new Error(`unexpected ${frame.type}`);
      return { type: 'key.outcome', ...outcome };
    },
  } as unknown as Connection;
  const log: string[] = [];
  attachLifecycle({
    connection,
    home,
    key,
    passphrase,
    log: (l) => log.push(l),
    inFlight: () => inFlight,
  });
  connected();
  for (let i = 0; i < 300 && log.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  return log;
}

// Crash recovery of a share swap: a member restarts with a staged new-epoch share. The unsigned
// ceremony.status state proves nothing (a coordinator can say `completed` for a ceremony nobody
// else finished, and an honest one can refuse activation after the machine completed): the share
// is promoted only on a sealed dkg.complete whose confirmations verify, deleted only on a sealed
// dkg.abort, and otherwise kept.
describe('attachLifecycle: recovering a staged share after a restart', { timeout: 40_000 }, () => {
  const KDF = { N: 2 ** 16, r: 8, p: 1 };
  const PASS = 'recovery passphrase';

  async function restarted() {
    const coordinator = generateIdentityKey();
    const names = ['alice', 'bob', 'carol'];
    const g = dealtGroup(names, GROUP);
    const { admin, ids, gpk, keyPackage: keyOf, metadata, confirmations } = g;
    const home = await pinnedHome('conclave-rec-', PASS, admin, coordinator);
    await home.saveShare(keyOf('alice'), metadata('alice'), PASS);
    const ceremonyId = newCeremonyId();
    // The refreshed share, staged before alice confirmed; then the process stopped.
    await stageShare(home, keyOf('bob'), metadata('alice', ceremonyId, 1), PASS, KDF);
    const start = (keys = ids): KeyStart => refreshOf(g, names, ceremonyId, keys);
    const hash = new Uint8Array(32).fill(5);
    const complete = (keys = ids, signed = true): SealedBody => ({
      type: 'dkg.complete',
      groupPublicKey: gpk,
      round1Hash: bytesToHex(hash),
      confirmations: confirmations(ceremonyId, names, hash, { keys, signed }),
    });
    const seal = (body: SealedBody, seq: number) =>
      sealEnvelope(coordinator, { ceremonyId, round: '3', seq, sender: 'coordinator', body });
    /** Connects with a coordinator whose status says `completed` and whose key.outcome is `answer`. */
    const recover = async (answer: Record<string, unknown>) => {
      const log = await reconnected(home, ids['alice']!, PASS, { ceremonyId, ...answer });
      const shares = await readdir(join(home.dir, 'shares'));
      const live = await home.loadShare(GROUP, PASS);
      return {
        log,
        pending: shares.filter((f) => f.includes('pending')),
        epoch: live.metadata.epoch,
      };
    };
    return { ids, start, complete, seal, recover, home, ceremonyId };
  }

  it('stood down for another process of the member: a re-sent start makes no second participant, and the completion puts the staged share in place', async () => {
    const r = await restarted();
    // Another process of alice sent her round 1 and confirmed (its share is the staged one);
    // this session's round 1 is refused as DUPLICATE, so it stands down.
    const fake = fakeConnection(
      async () => ({
        type: 'key.outcome',
        ceremonyId: r.ceremonyId,
        start: r.seal(r.start(), 1),
        outcome: r.seal(r.complete(), 9),
      }),
      (body) =>
        body.type === 'key.round1'
          ? new ClientError('DUPLICATE', 'alice already sent its round-1 package')
          : undefined,
    );
    const lc = attachLifecycle({
      connection: fake.connection,
      home: r.home,
      key: r.ids['alice']!,
      passphrase: PASS,
      standDownGraceMs: 0,
    });
    const ended: unknown[] = [];
    lc.onParticipant((p) => p.result.catch((e: unknown) => ended.push(e)));
    fake.deliver(r.ceremonyId, r.start());
    for (let i = 0; i < 200 && ended.length === 0; i++) await new Promise((t) => setTimeout(t, 50));
    expect(ended).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/stands down/) }),
    ]);
    // The start, re-sent on a reconnect, makes no second participant beside the other process.
    fake.deliver(r.ceremonyId, r.start());
    await new Promise((t) => setTimeout(t, 2_000));
    expect(ended).toHaveLength(1);
    // The other process dies before the end; the completion reaches this session.
    fake.deliver(r.ceremonyId, r.complete());
    const pending = async () =>
      (await readdir(join(r.home.dir, 'shares'))).filter((f) => f.includes('pending'));
    for (let i = 0; i < 300 && (await pending()).length > 0; i++)
      await new Promise((t) => setTimeout(t, 50));
    expect(await pending()).toEqual([]);
    expect((await r.home.loadShare(GROUP, PASS)).metadata.epoch).toBe(1);
  });

  it('restarted while the others had not yet confirmed: the completion, when it comes, puts the staged share in place', async () => {
    const r = await restarted();
    // At connect the ceremony is still open (no outcome): the staged share is kept. The
    // coordinator sends nothing more to a member that confirmed, until the end.
    const stored: { outcome?: Envelope } = {};
    const fake = fakeConnection(async () => ({
      type: 'key.outcome',
      ceremonyId: r.ceremonyId,
      start: r.seal(r.start(), 1),
      ...stored,
    }));
    attachLifecycle({
      connection: fake.connection,
      home: r.home,
      key: r.ids['alice']!,
      passphrase: PASS,
    });
    fake.connect();
    const pending = async () =>
      (await readdir(join(r.home.dir, 'shares'))).filter((f) => f.includes('pending'));
    await new Promise((t) => setTimeout(t, 500));
    expect(await pending()).toHaveLength(1);
    // The last confirmation arrives; the coordinator broadcasts the completion, and stores it.
    stored.outcome = r.seal(r.complete(), 9);
    fake.deliver(r.ceremonyId, r.complete());
    for (let i = 0; i < 300 && (await pending()).length > 0; i++)
      await new Promise((t) => setTimeout(t, 50));
    expect(await pending()).toEqual([]);
    expect((await r.home.loadShare(GROUP, PASS)).metadata.epoch).toBe(1);
  });

  it('keeps the staged share when the sealed dkg.complete carries unsigned confirmations', async () => {
    const r = await restarted();
    const out = await r.recover({
      start: r.seal(r.start(), 1),
      outcome: r.seal(r.complete(r.ids, false), 9),
    });
    expect(out.epoch).toBe(0);
    expect(out.pending).toHaveLength(1);
    expect(out.log.join('\n')).toMatch(/kept/);
  });

  it('keeps it when the start lists other identity keys that signed the confirmations', async () => {
    const r = await restarted();
    const forged = Object.fromEntries(
      Object.keys(r.ids).map((m) => [m, m === 'alice' ? r.ids[m]! : generateIdentityKey()]),
    );
    const out = await r.recover({
      start: r.seal(r.start(forged), 1),
      outcome: r.seal(r.complete(forged), 9),
    });
    expect(out.epoch).toBe(0);
    expect(out.pending).toHaveLength(1);
  });

  it('keeps it when no outcome is stored, whatever the status says', async () => {
    const r = await restarted();
    const out = await r.recover({ start: r.seal(r.start(), 1) });
    expect(out.epoch).toBe(0);
    expect(out.pending).toHaveLength(1);
  });

  it('deletes it on a sealed dkg.abort even though the status says completed', async () => {
    const r = await restarted();
    const out = await r.recover({
      start: r.seal(r.start(), 1),
      outcome: r.seal(
        {
          type: 'dkg.abort',
          code: 'CONFIRMATION_MISMATCH',
          message: 'confirmed key differs from the public key package of the round-1 packages',
          culprits: [],
        },
        9,
      ),
    });
    expect(out.epoch).toBe(0);
    expect(out.pending).toHaveLength(0);
  });

  it('promotes it once every confirmer’s signature verifies', async () => {
    const r = await restarted();
    const out = await r.recover({
      start: r.seal(r.start(), 1),
      outcome: r.seal(r.complete(), 9),
    });
    expect(out.epoch).toBe(1);
    expect(out.pending).toHaveLength(0);
  });

  it('promotes it for a ceremony completed before protocol 5, whose start names no version', async () => {
    // Staged by this member before it upgraded: taking part needs the version, recovering does not.
    const r = await restarted();
    const { protocolVersion: _v, ...versionless } = r.start();
    const out = await r.recover({
      start: r.seal(versionless, 1),
      outcome: r.seal(r.complete(), 9),
    });
    expect(out.epoch).toBe(1);
    expect(out.pending).toHaveLength(0);
  });
});

// The same after a DKG: the member staged its first share of the group before confirming, then
// its process stopped. The coordinator keeps no key.start for a DKG; the staged share's own
// metadata (the admin-authorized roster the member checked at dkg.start) says whose confirmations
// the sealed dkg.complete must carry, this member's own included.
describe(
  'attachLifecycle: recovering a share a key ceremony (DKG) staged',
  { timeout: 40_000 },
  () => {
    const PASS = 'recovery passphrase';

    async function staged() {
      const coordinator = generateIdentityKey();
      const names = ['alice', 'bob', 'carol'];
      const { admin, ids, gpk, keyPackage, metadata, confirmations } = dealtGroup(names, GROUP);
      const home = await pinnedHome('conclave-dkgrec-', PASS, admin, coordinator);
      const ceremonyId = newCeremonyId();
      // A DKG's share records no epoch (a lifecycle's always does).
      const { epoch: _epoch, ...dkgMetadata } = metadata('alice', ceremonyId);
      await stageShare(home, keyPackage('alice'), dkgMetadata, PASS);
      const hash = new Uint8Array(32).fill(7);
      const complete = (
        opts: { keys?: typeof ids; members?: string[]; key?: string } = {},
      ): SealedBody => ({
        type: 'dkg.complete',
        groupPublicKey: opts.key ?? gpk,
        round1Hash: bytesToHex(hash),
        confirmations: confirmations(ceremonyId, opts.members ?? names, hash, {
          keys: opts.keys ?? ids,
        }),
      });
      const seal = (body: SealedBody) =>
        sealEnvelope(coordinator, { ceremonyId, round: '3', seq: 9, sender: 'coordinator', body });
      const recover = async (answer: Record<string, unknown>, inFlight = false) => {
        const log = await reconnected(
          home,
          ids['alice']!,
          PASS,
          { ceremonyId, ...answer },
          inFlight,
        );
        const files = await readdir(join(home.dir, 'shares'));
        return { log, files: files.map((f) => (f.includes('pending') ? 'pending' : f)).sort() };
      };
      return { ids, complete, seal, recover, home, keyPackage, metadata, ceremonyId };
    }

    it('makes it the share on a sealed dkg.complete confirmed by every member of its roster', async () => {
      const r = await staged();
      const out = await r.recover({ outcome: r.seal(r.complete()) });
      expect(out.files).toEqual([`${GROUP}.key`]);
      expect((await r.home.loadShare(GROUP, PASS)).metadata).toMatchObject({
        ceremonyId: r.ceremonyId,
      });
      expect((await r.home.loadShare(GROUP, PASS)).metadata.epoch).toBeUndefined();
      expect(out.log.join('\n')).toMatch(/completed/);
    });

    it('never saves it over a share of the group already there: both stay, and the log says why', async () => {
      const r = await staged();
      await r.home.saveShare(r.keyPackage('bob'), r.metadata('alice'), PASS);
      const before = await readFile(join(r.home.dir, 'shares', `${GROUP}.key`));
      const out = await r.recover({ outcome: r.seal(r.complete()) });
      expect(out.files).toEqual(['pending', `${GROUP}.key`].sort());
      expect(await readFile(join(r.home.dir, 'shares', `${GROUP}.key`))).toEqual(before);
      expect(out.log.join('\n')).toMatch(/already/);
    });

    it('takes the lifecycle path, not this one, for a staged share that records an epoch', async () => {
      const r = await staged();
      const shares = join(r.home.dir, 'shares');
      const [pending] = (await readdir(shares)).filter((f) => f.includes('pending'));
      const ceremonyId = pending!.slice(pending!.indexOf('pending-') + 8);
      // The same ceremony's share staged as an epoch-0 lifecycle share (a repair keeps the epoch).
      await stageShare(r.home, r.keyPackage('alice'), r.metadata('alice', ceremonyId, 0), PASS);
      const out = await r.recover({ outcome: r.seal(r.complete()) });
      expect(out.files).toEqual(['pending']);
    });

    it('keeps it staged when a confirmation is missing, signed by another key, or for another group key', async () => {
      const cases: ((r: Awaited<ReturnType<typeof staged>>) => SealedBody)[] = [
        (r) => r.complete({ members: ['alice', 'bob'] }),
        (r) => r.complete({ keys: { ...r.ids, carol: generateIdentityKey() } }),
        (r) => r.complete({ key: 'ee'.repeat(32) }),
      ];
      for (const body of cases) {
        const r = await staged();
        const out = await r.recover({ outcome: r.seal(body(r)) });
        expect(out.files).toEqual(['pending']);
        expect(out.log.join('\n')).toMatch(/kept/);
      }
    });

    it('deletes it on a sealed dkg.abort, and leaves one a running key ceremony owns alone', async () => {
      const abort: SealedBody = {
        type: 'dkg.abort',
        code: 'DEADLINE_EXCEEDED',
        message: 'round deadline',
        culprits: [],
      };
      const busy = await staged();
      const mine = await busy.recover({ outcome: busy.seal(abort) }, true);
      expect(mine.files).toEqual(['pending']);
      const r = await staged();
      const out = await r.recover({ outcome: r.seal(abort) });
      expect(out.files).toEqual([]);
    });
  },
);

/**
 * The admin's refresh `ceremonyId` of epoch 0 of group `g`, dealt by all of `names`, whose roster
 * lists the identity keys of `keys` (default the group's).
 */
function refreshOf(
  g: ReturnType<typeof dealtGroup>,
  names: readonly string[],
  ceremonyId: string,
  keys = g.ids,
): KeyStart {
  return {
    type: 'key.start',
    protocolVersion: PROTOCOL_VERSION,
    kind: 'refresh',
    group: GROUP,
    fromEpoch: 0,
    toEpoch: 1,
    groupPublicKey: g.gpk,
    publicKeyPackage: g.pubHex,
    previousThreshold: 2,
    previous: names.map((m) => g.entry(m, keys)),
    threshold: 2,
    participants: names.map((m) => g.entry(m, keys)),
    dealers: [...names],
    authorization: g.authorize(ceremonyId, {
      type: 'admin.group.refresh',
      group: GROUP,
      epoch: 0,
      groupPublicKey: g.gpk,
    }),
  };
}

/**
 * alice's home (prefix `prefix`) holding her epoch-0 share of a dealt 2-of-3 group under
 * `passphrase`, and the admin's refresh `open` of it (`start`).
 */
async function aliceRefresh(prefix: string, passphrase: string) {
  const names = ['alice', 'bob', 'carol'];
  const g = dealtGroup(names, GROUP);
  const home = await pinnedHome(prefix, passphrase, g.admin, generateIdentityKey());
  await home.saveShare(g.keyPackage('alice'), g.metadata('alice'), passphrase);
  const open = newCeremonyId();
  return { g, home, open, start: refreshOf(g, names, open) };
}

// A member reconnects with a share staged by an earlier ceremony, and the coordinator re-sends the
// start of an open one at once: the glue takes part only once the recovery of the staged share
// is done. Otherwise begin() would check (and deal from) the share the recovery may be about to
// replace, and refuse a start from the new epoch as STALE_EPOCH.
describe('attachLifecycle: a start re-sent at connect waits for the recovery of staged shares', () => {
  it('sends round 1 only after key.outcome.get for the staged share is answered, and handles the round re-sent with the start only then', async () => {
    const PASS = 'recovery passphrase';
    const names = ['alice', 'bob', 'carol'];
    const coordinator = generateIdentityKey();
    const g = dealtGroup(names, GROUP);
    const home = await pinnedHome('conclave-wait-', PASS, g.admin, coordinator);
    await home.saveShare(g.keyPackage('alice'), g.metadata('alice'), PASS);
    const earlier = newCeremonyId();
    await stageShare(home, g.keyPackage('alice'), g.metadata('alice', earlier, 1), PASS, {
      N: 2 ** 16,
      r: 8,
      p: 1,
    });
    const open = newCeremonyId();
    const start = refreshOf(g, names, open);
    const fake = fakeConnection(async (frame) => {
      if (frame.type !== 'key.outcome.get') throw new Error(`unexpected ${frame.type}`);
      // The earlier ceremony's outcome is slow to come, and proves nothing (none stored).
      await new Promise((r) => setTimeout(r, 400));
      fake.events.push('key.outcome answered');
      return { type: 'key.outcome', ceremonyId: earlier };
    });
    const { connection, events } = fake;
    attachLifecycle({ connection, home, key: g.ids['alice']!, passphrase: PASS });
    // The re-sent start arrives in the same turn as the connect, and the round-1 relay right
    // after it (resendLifecycleState sends both). This relay lacks alice's package: once she has
    // sent hers, she finds it altered and says so; handled before begin(), it would be judged
    // against nothing (no package of hers yet, no key state), and the ceremony ended for that.
    fake.deliver(open, start);
    fake.deliver(open, { type: 'key.round1.all', packages: [], boxes: [] });
    fake.connect();
    for (let i = 0; i < 200 && !events.includes('send dkg.fail'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['key.outcome answered', 'send key.round1', 'send dkg.fail']);
  }, 40_000);

  it('forgets a start it stood aside from (its share did not load), so the next connect takes it again', async () => {
    const { g, home, open, start } = await aliceRefresh('conclave-aside-', 'right');
    const { connection, sent, deliver } = fakeConnection();
    const lc = attachLifecycle({ connection, home, key: g.ids['alice']!, passphrase: 'wrong' });
    const outcomes: unknown[] = [];
    lc.onParticipant((p) => p.result.catch((e: unknown) => outcomes.push(e)));
    deliver(open, start);
    for (let i = 0; i < 200 && outcomes.length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 50));
    expect(outcomes).toEqual([expect.objectContaining({ code: 'KEYSTORE_DECRYPT_FAILED' })]);
    expect(sent).toEqual([]);
    expect(lc.participants.has(open)).toBe(false);
  }, 40_000);
});

// The connection closes as a dealer's round 1 goes out, unrecorded: the coordinator re-delivers
// the start on reconnect. The session's participant for it, not a new one, takes it, and sends
// the same round 1 again; otherwise the ceremony waited for its round deadline.
describe('attachLifecycle: a round 1 lost with the connection', () => {
  it('a start re-delivered goes to its participant, which sends the same round 1 again', async () => {
    const { g, home, open, start } = await aliceRefresh('conclave-lost-', 'pw');
    const attempts: SealedBody[] = [];
    const { connection, sent, deliver } = fakeConnection(undefined, (body) => {
      if (body.type !== 'key.round1') return undefined;
      attempts.push(body);
      return attempts.length === 1
        ? new ClientError('CONNECTION_CLOSED', 'the connection to the coordinator closed')
        : undefined;
    });
    const lc = attachLifecycle({ connection, home, key: g.ids['alice']!, passphrase: 'pw' });
    deliver(open, start);
    for (let i = 0; i < 200 && attempts.length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    const first = lc.participants.get(open);
    expect(first?.phase).toBe('round1');
    deliver(open, start);
    for (let i = 0; i < 200 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(lc.participants.get(open)).toBe(first);
    expect(sent).toEqual([attempts[0]]);
    expect(attempts).toHaveLength(2);
  }, 40_000);
});
