// Key lifecycle over real sockets (docs/lifecycle.md): refresh, reshare and repair driven by fake
// members that run @conclave/frost themselves, and every refusal with its code. THREATS B.24,
// B.28, B.30, B.31.
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import {
  sealSignedBox,
  boxFromWire,
  bytesToHex,
  hexToBytes,
  lifecycleHash,
  newCeremonyId,
  openFrom,
  PROTOCOL_VERSION,
  proveBoxComplaint,
  signDkgConfirmation,
  x25519PublicFromIdentity,
  type SealedBody,
} from '@conclave/protocol';
import {
  parseVerifierKey,
  verifyCeremonyBundle,
  verifyLog,
  type CeremonyBundle,
} from '@conclave/audit';
import { describe, expect, it } from 'vitest';
import {
  FakeMember,
  audited,
  bundleJson,
  pinnedTrust,
  connect,
  expectAck,
  fetchLog,
  forkedBundle,
  openRefresh,
  sampleRelease,
  setupGroup,
  signRelease,
  signingBundlesOf,
  type Frame,
  type TestClient,
  type TestCoordinator,
  testScope,
} from './helpers.js';

const { fresh: freshWith } = testScope();
const fresh = (limits = {}): Promise<TestCoordinator> => freshWith({ limits });
const id = (m: string) => frost.identifier.derive(m);
/** Resolves once `cond` holds (polled; the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}
/** Envelope rounds of lifecycle messages (docs/ceremony-flow.md "Rounds"). */
const ROUND: Record<string, string> = {
  'key.round1': '1',
  'key.round2': '2',
  'dkg.confirm': '3',
  'dkg.fail': '4',
  'dkg.round1': '1',
};
const submit = (client: TestClient, ceremonyId: string, body: SealedBody) =>
  client.submit(ceremonyId, body, ROUND[body.type]);

interface Ceremony {
  start: Frame['body'];
  subShares?: Record<string, { subShare: Uint8Array }>;
  deltas?: Record<string, Uint8Array>;
  packages: { member: string; package: string }[];
  newKey?: KeyPackage;
}

/**
 * A holder that takes part in lifecycle ceremonies with frost directly (an independent
 * implementation of the client's LifecycleParticipant). `tamper` corrupts what it sends.
 */
class Holder {
  readonly ceremonies = new Map<string, Ceremony>();
  /**
   * `subshare`: every sub-share it deals is off by one (a canonical scalar that fails
   * vss_verify); `sigma`: the σ it sends a repaired member is no scalar at all; `delta`: nor are
   * the repair deltas it sends the other helpers.
   */
  tamper: 'none' | 'confirm' | 'silent' | 'subshare' | 'sigma' | 'delta' = 'none';
  readonly errors: unknown[] = [];
  /** The boxes last delivered to this holder (round 1 of a repair, else round 2), by ceremony. */
  readonly delivered = new Map<string, Frame[]>();

  constructor(readonly m: FakeMember) {}

  get name(): string {
    return this.m.name;
  }

  attach(): void {
    const previous = this.m.client.onFrame;
    this.m.client.onFrame = (f) => {
      previous?.(f);
      try {
        this.#react(f);
      } catch (e) {
        this.errors.push(e);
      }
    };
    for (const f of [...this.m.client.all]) this.#react(f);
  }

  #send(ceremonyId: string, body: SealedBody): void {
    this.m.client.send(this.m.client.seal(ceremonyId, body, ROUND[body.type]));
  }

  #seal(c: Ceremony, cid: string, to: string, plain: Uint8Array) {
    const p = [...c.start.previous, ...c.start.participants].find(
      (x: { member: string }) => x.member === to,
    );
    const box = sealSignedBox(hexToBytes(p.identityKey, 32), this.m.key, plain, {
      ceremonyId: cid,
      sender: this.name,
      recipient: to,
    });
    return { recipient: to, ...box };
  }

  #open(c: Ceremony, cid: string, b: Frame): Uint8Array {
    const p = [...c.start.previous, ...c.start.participants].find(
      (x: { member: string }) => x.member === b.sender,
    );
    const opened = openFrom(
      this.m.key,
      x25519PublicFromIdentity(hexToBytes(p.identityKey, 32)),
      boxFromWire(b),
      { ceremonyId: cid, sender: b.sender, recipient: this.name },
    );
    if (!opened.ok) throw new Error(opened.error.code);
    return opened.value;
  }

  #params(start: Frame['body']) {
    return {
      dealers: start.dealers.map(id),
      newIdentifiers: start.participants.map((p: { identifier: string }) => p.identifier),
      newMinSigners: start.threshold,
    };
  }

  /** A sub-share as this holder sends it (off by one when it tampers). */
  #dealt(share: { subShare: Uint8Array }): Uint8Array {
    const sub =
      this.tamper === 'subshare'
        ? frost.suite.Fn.toBytes(frost.suite.Fn.add(frost.suite.Fn.fromBytes(share.subShare), 1n))
        : share.subShare;
    return frost.encode.bytes('ReshareRound1Share', { ...share, subShare: sub } as never);
  }

  #react(f: Frame): void {
    if (f.type !== 'envelope' || this.tamper === 'silent') return;
    const cid = f.ceremonyId as string;
    const body = f.body;
    const old = (s: Frame['body']): PublicKeyPackage =>
      frost.decode.bytes('PublicKeyPackage', hexToBytes(s.publicKeyPackage));
    switch (body.type) {
      case 'key.start': {
        if (this.ceremonies.has(cid)) return;
        const c: Ceremony = { start: body, packages: [] };
        this.ceremonies.set(cid, c);
        if (!body.dealers.includes(this.name)) return;
        const kp = this.m.keyPackages.get(body.group) as KeyPackage;
        if (body.kind === 'repair') {
          c.deltas = frost.keys.repair.step1(body.dealers.map(id), kp, id(body.member)) as Record<
            string,
            Uint8Array
          >;
          const delta = (h: string) =>
            this.tamper === 'delta' ? new Uint8Array(32).fill(0xff) : c.deltas![id(h)]!;
          const boxes = body.dealers
            .filter((h: string) => h !== this.name)
            .map((h: string) => this.#seal(c, cid, h, delta(h)));
          this.#send(cid, { type: 'key.round1', boxes });
          return;
        }
        const out = frost.keys.reshare.part1(kp, old(body), this.#params(body));
        c.subShares = out.shares as never;
        this.#send(cid, {
          type: 'key.round1',
          package: bytesToHex(frost.encode.bytes('ReshareRound1Package', out.package)),
          boxes: [],
        });
        return;
      }
      case 'key.round1.all': {
        const c = this.ceremonies.get(cid);
        if (c === undefined) return;
        c.packages = body.packages;
        this.delivered.set(cid, body.boxes);
        if (!c.start.dealers.includes(this.name)) return;
        if (c.start.kind === 'repair') {
          const mine = c.deltas![id(this.name)]!;
          const sigma = frost.keys.repair.step2([
            mine,
            ...body.boxes.map((b: Frame) => this.#open(c, cid, b)),
          ]);
          if (this.tamper === 'sigma') sigma.fill(0xff);
          this.#send(cid, {
            type: 'key.round2',
            boxes: [this.#seal(c, cid, c.start.member, sigma)],
          });
          return;
        }
        const boxes = c.start.participants
          .filter((p: { member: string }) => p.member !== this.name)
          .map((p: { member: string; identifier: string }) =>
            this.#seal(c, cid, p.member, this.#dealt(c.subShares![p.identifier]!)),
          );
        this.#send(cid, { type: 'key.round2', boxes });
        return;
      }
      case 'key.round2.deliver': {
        const c = this.ceremonies.get(cid);
        if (c === undefined) return;
        this.delivered.set(cid, body.boxes);
        const s = c.start;
        let pub = old(s);
        if (s.kind === 'repair') {
          if (s.member === this.name) {
            const sigmas = body.boxes.map((b: Frame) => this.#open(c, cid, b));
            c.newKey = frost.keys.repair.step3(sigmas, id(this.name), pub);
          }
        } else {
          const shares = body.boxes.map((b: Frame) =>
            frost.decode.bytes('ReshareRound1Share', this.#open(c, cid, b)),
          );
          const own = c.subShares?.[id(this.name)];
          if (own !== undefined) shares.push(own as never);
          const out = frost.keys.reshare.part2(
            id(this.name),
            pub,
            this.#params(s),
            c.packages.map((p) =>
              frost.decode.bytes('ReshareRound1Package', hexToBytes(p.package)),
            ),
            shares,
          );
          c.newKey = out.keyPackage;
          pub = out.publicKeyPackage;
        }
        let hash = lifecycleHash({
          ceremonyId: cid,
          kind: s.kind,
          group: s.group,
          fromEpoch: s.fromEpoch,
          toEpoch: s.toEpoch,
          previousPublicKeyPackage: hexToBytes(s.publicKeyPackage),
          threshold: s.threshold,
          participants: s.participants,
          dealers: s.dealers,
          ...(s.member === undefined ? {} : { member: s.member }),
          packages: c.packages,
          publicKeyPackage: frost.encode.bytes('PublicKeyPackage', pub),
        });
        if (this.tamper === 'confirm') hash = hash.map((b, i) => (i === 0 ? b ^ 1 : b));
        this.#send(cid, {
          type: 'dkg.confirm',
          round1Hash: bytesToHex(hash),
          groupPublicKey: bytesToHex(pub.verifyingKey),
          signature: bytesToHex(
            signDkgConfirmation(this.m.key, {
              ceremonyId: cid,
              member: this.name,
              round1Hash: hash,
              groupPublicKey: pub.verifyingKey,
            }),
          ),
        });
        return;
      }
      case 'dkg.complete': {
        const c = this.ceremonies.get(cid);
        if (c?.newKey !== undefined) this.m.keyPackages.set(c.start.group, c.newKey);
        return;
      }
      default:
        return;
    }
  }
}

/** Signs `message` with these key packages and aggregates under `pub`; true iff it verifies. */
function signsWith(keys: readonly KeyPackage[], pub: PublicKeyPackage): boolean {
  const message = new TextEncoder().encode('release 9.9.9');
  const round1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    round1.map((r) => r.commitments),
    message,
  );
  try {
    const signature = frost.aggregate(
      pkg,
      keys.map((k, i) => frost.round2.sign(pkg, round1[i]!.nonces, k)),
      pub,
    );
    return frost.verify(message, signature, pub.verifyingKey);
  } catch {
    return false;
  }
}

async function setup(names: string[], t: number) {
  const c = await fresh();
  const admin = await connect(c.handle.url, c.admin, 'admin', c.coordinatorKey);
  const members = names.map((n) => new FakeMember(n));
  const { groupPublicKey } = await setupGroup(c, admin, members, 'release', t);
  const holders = new Map(members.map((m) => [m.name, new Holder(m)]));
  for (const h of holders.values()) h.attach();
  return { c, admin, members, holders, groupPublicKey };
}

async function addMember(c: TestCoordinator, admin: TestClient, name: string): Promise<Holder> {
  const m = new FakeMember(name);
  expectAck(
    await admin.submit(newCeremonyId(), {
      type: 'admin.member.add',
      member: name,
      identityKey: m.publicKey,
      roles: [],
    }),
  );
  await m.connect(c);
  const h = new Holder(m);
  h.attach();
  return h;
}

/**
 * The ceremony aborts with INVALID_SECRET_SHARE naming `culprit`, and its audit reports the culprit
 * with a basis matching `basis` (proven by the complaint's evidence).
 */
async function abortsProven(
  c: TestCoordinator,
  admin: TestClient,
  id: string,
  culprit: string,
  basis: RegExp,
): Promise<void> {
  const abort = await admin.nextBody('dkg.abort', id, 20_000);
  expect(abort.body).toMatchObject({ code: 'INVALID_SECRET_SHARE', culprits: [culprit] });
  expect((await audited(c, id)).keyCulprits).toEqual([
    { member: culprit, basis: expect.stringMatching(basis) },
  ]);
}

/** Opens a repair of carol's share of `release` by alice and bob at `epoch`; returns its id. */
async function openRepair(admin: TestClient, groupPublicKey: string, epoch: number) {
  const rid = newCeremonyId();
  expectAck(
    await admin.submit(rid, {
      type: 'admin.group.repair',
      group: 'release',
      epoch,
      groupPublicKey,
      member: 'carol',
      helpers: ['alice', 'bob'],
    }),
  );
  return rid;
}

/**
 * A 2-of-3 group of alice, bob and carol where carol lost her share, and the admin's repair of it
 * by alice and bob, opened with `helper` misbehaving as `tamper`.
 */
async function repairTampered(helper: string, tamper: Holder['tamper']) {
  const { c, admin, holders, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
  holders.get('carol')!.m.keyPackages.delete('release');
  holders.get(helper)!.tamper = tamper;
  const rid = await openRepair(admin, groupPublicKey, 0);
  return { c, admin, holders, rid };
}

/** The evidence `accuser` makes for a complaint about `box`, from `dealer` in ceremony `cid`. */
function evidenceOf(accuser: Holder, cid: string, dealer: Holder, box: unknown) {
  return proveBoxComplaint(accuser.m.key, {
    ceremonyId: cid,
    accuser: accuser.name,
    accuserIdentityKey: accuser.m.key.publicKey,
    dealer: dealer.name,
    dealerIdentityKey: hexToBytes(dealer.m.publicKey, 32),
    box: box as never,
  });
}

const roster = (holders: Iterable<Holder>) =>
  [...holders].map((h) => ({ member: h.name, identityKey: h.m.publicKey }));

const pubOf = (c: TestCoordinator): PublicKeyPackage =>
  frost.decode.bytes(
    'PublicKeyPackage',
    hexToBytes(c.handle.store.getGroup('release')!.publicKeyPackage!),
  );

describe('lifecycle ceremonies', () => {
  it('reshares 2-of-3 → 3-of-4 adding dave: same key, epoch 1, old and new shares do not mix', async () => {
    const { c, admin, holders, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
    const oldKeys = [...holders.values()].map((h) => h.m.keyPackages.get('release')!);
    const oldPub = pubOf(c);
    const dave = await addMember(c, admin, 'dave');
    const all = [...holders.values(), dave];
    const cid = newCeremonyId();
    expectAck(
      await admin.submit(cid, {
        type: 'admin.group.reshare',
        group: 'release',
        epoch: 0,
        groupPublicKey,
        threshold: 3,
        members: roster(all),
        dealers: ['alice', 'bob'],
      }),
    );
    const done = await admin.nextBody('dkg.complete', cid, 20_000);
    expect(done.body.groupPublicKey).toBe(groupPublicKey);
    expect(done.body.confirmations.map((x: { member: string }) => x.member).sort()).toEqual([
      'alice',
      'bob',
      'carol',
      'dave',
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const g = c.handle.store.getGroup('release')!;
    expect(g).toMatchObject({ epoch: 1, threshold: 3, groupPublicKey, ceremonyId: cid });
    expect(g.members.map((m) => m.member)).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(c.handle.store.listEpochs('release').map((e) => [e.epoch, e.kind])).toEqual([
      [0, 'dkg'],
      [1, 'reshare'],
    ]);
    const pub = pubOf(c);
    expect(pub.minSigners).toBe(3);
    const newKeys = all.map((h) => h.m.keyPackages.get('release')!);
    expect(newKeys.map((k) => bytesToHex(k.verifyingKey))).toEqual(Array(4).fill(groupPublicKey));
    // Any 3 new shares sign under the unchanged key; 2 old shares no longer make a quorum with a
    // new one, nor do 3 old ones verify against the new package (B.30).
    expect(signsWith([newKeys[0]!, newKeys[2]!, newKeys[3]!], pub)).toBe(true);
    expect(signsWith([oldKeys[0]!, oldKeys[1]!, newKeys[3]!], pub)).toBe(false);
    expect(signsWith([oldKeys[0]!, oldKeys[1]!], oldPub)).toBe(true); // history, not current
    // The lifecycle ceremony left a transcript: authorization, start, rounds, confirmations, end.
    const types = c.handle.store.transcript(cid).map((e) => e.bodyType);
    expect(types[0]).toBe('admin.group.reshare');
    expect(types).toEqual(
      expect.arrayContaining(['key.start', 'key.round1', 'key.round1.all', 'key.round2']),
    );
    expect(types.at(-1)).toBe('dkg.complete');

    // Then 3-of-4 → 2-of-3 without carol; carol's share is useless afterwards.
    const c2 = newCeremonyId();
    const remaining = all.filter((h) => h.name !== 'carol');
    expectAck(
      await admin.submit(c2, {
        type: 'admin.group.reshare',
        group: 'release',
        epoch: 1,
        groupPublicKey,
        threshold: 2,
        members: roster(remaining),
        dealers: ['alice', 'carol', 'dave'],
      }),
    );
    await admin.nextBody('dkg.complete', c2, 20_000);
    await new Promise((r) => setTimeout(r, 50));
    const pub2 = pubOf(c);
    expect(c.handle.store.getGroup('release')).toMatchObject({ epoch: 2, threshold: 2 });
    const k2 = remaining.map((h) => h.m.keyPackages.get('release')!);
    expect(signsWith([k2[0]!, k2[2]!], pub2)).toBe(true);
    const carolOld = holders.get('carol')!.m.keyPackages.get('release')!;
    expect(signsWith([carolOld, k2[1]!], pub2)).toBe(false);
  });

  it('signs under epoch 0, refreshes, signs under epoch 1: the log with every bundle shows one key history', async () => {
    const { c, admin, members, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const sign = async (version: string) => {
      const { id, end } = await signRelease(alice, [bob, carol], sampleRelease(version));
      return { sid: id, end: end.body.type as string };
    };
    expect((await sign('1.0.0')).end).toBe('sign.complete');
    const cid = await openRefresh(admin, groupPublicKey, 0);
    await admin.nextBody('dkg.complete', cid, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    const { sid: second, end } = await sign('1.0.1');
    expect(end).toBe('sign.complete');
    const fetched = await fetchLog(c);
    const logKey = parseVerifierKey(c.handle.logVerifierKey);
    const bundles = await signingBundlesOf(c, fetched.leaves);
    const report = verifyLog({ ...fetched, logKey, bundles });
    expect(report.checks.filter((x) => !x.ok)).toEqual([]);
    // Each bundle carries the key ceremony that made its epoch: the DKG, then the refresh.
    expect(report.checks.find((x) => x.name === 'one key history per group')?.detail).toMatch(
      /the 2 verified signing ceremonies name one key state per epoch \(2 group epochs; 2 derived from their key ceremony\)/,
    );
    // A coordinator serving the second bundle without the refresh that made its key state (it
    // could then number that epoch as it liked): the log holds the group's key ceremonies.
    const stripped = {
      ...bundles,
      of: (leaf: { ceremonyId: string }) => {
        const b = structuredClone(bundles.of(leaf)) as CeremonyBundle;
        if (leaf.ceremonyId === second)
          for (const e of b.group?.epochs ?? [])
            delete (e as { keyCeremony?: unknown }).keyCeremony;
        return b;
      },
    };
    const hidden = verifyLog({ ...fetched, logKey, bundles: stripped });
    expect(hidden.checks.filter((x) => !x.ok).map((x) => x.code)).toEqual(['KEY_HISTORY_FORKED']);
    expect(hidden.checks.find((x) => !x.ok)?.detail).toContain(
      `a key state without the key ceremony the log holds (${second})`,
    );

    // A coordinator keeping two histories under its log key: the second bundle proven into a tree
    // larger than the log fetched (no root to compare), whose leaf for the refresh is another. The
    // bundle verifies alone; only the log shows the refresh it names is not this log's leaf.
    const original = bundles.of({ ceremonyId: second }) as CeremonyBundle;
    const refresh = original.group?.epochs.find((e) => e.epoch === 1)?.keyCeremony?.log.index;
    if (refresh === undefined) throw new Error('the bundle names its refresh');
    const forked = forkedBundle(c, original, fetched.leaves, refresh);
    expect(verifyCeremonyBundle(forked, pinnedTrust(c)).ok).toBe(true);
    const split = verifyLog({
      ...fetched,
      logKey,
      bundles: {
        ...bundles,
        of: (leaf: { ceremonyId: string }) =>
          leaf.ceremonyId === second ? forked : bundles.of(leaf),
      },
    });
    expect(split.checks.filter((x) => !x.ok).map((x) => x.code)).toEqual(['LOG_FORK_DETECTED']);
    expect(split.unverifiedCeremonies).toEqual([second]);
  });

  it('refreshes 2-of-3 (epoch 1), cancels open signing ceremonies (whose audit never takes the refresh as their key state), repairs a lost share', async () => {
    const { c, admin, members, holders, groupPublicKey } = await setup(
      ['alice', 'bob', 'carol'],
      2,
    );
    const [alice] = members as [FakeMember];
    const before = alice.keyPackages.get('release')!;
    const signing = newCeremonyId();
    await alice.requestRelease(signing);
    const cid = await openRefresh(admin, groupPublicKey, 0);
    await admin.nextBody('dkg.complete', cid, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.handle.store.getGroup('release')?.epoch).toBe(1);
    expect(bytesToHex(alice.keyPackages.get('release')!.signingShare)).not.toBe(
      bytesToHex(before.signingShare),
    );
    // The request made under epoch 0 was cancelled, not left to mix epochs.
    expect(c.handle.store.getCeremony(signing)?.state).toBe('cancelled');
    // Honest: the signing ceremony (cancelled by the refresh) ran under epoch 0, from the DKG.
    expect((await audited(c, signing)).keyPackage).toBe('derived');
    // A coordinator dates epoch 1 before the signing ceremony and attaches the real refresh: the
    // same group key, genuine confirmations, a leaf in the signed tree — but made afterwards, so
    // honest signers' epoch-0 shares would fail under it.
    const b = await bundleJson(c, signing);
    const refresh = await bundleJson(c, cid);
    const opened = (b.transcript[0] as { at: number }).at;
    const epochs = b.group!.epochs;
    for (const e of epochs) delete (e as { keyCeremony?: unknown }).keyCeremony;
    const one = epochs.find((e) => e.epoch === 1)!;
    one.at = opened - 1;
    one.keyCeremony = {
      ceremonyId: cid,
      transcript: refresh.transcript,
      log: {
        index: refresh.log!.index,
        leaf: refresh.log!.leaf,
        inclusionProof: refresh.log!.inclusionProof,
      },
    };
    expect(refresh.log!.size).toBe(b.log!.size);
    const r = verifyCeremonyBundle(b, pinnedTrust(c));
    expect(r.checks.filter((x) => !x.ok).map((x) => x.code)).toEqual(['INCONSISTENT_KEY_PACKAGE']);
    expect(r.checks.find((x) => !x.ok)?.detail).toMatch(/after this signing ceremony opened/);

    // carol loses her share; alice and bob rebuild it (repair keeps the epoch).
    const carol = holders.get('carol')!;
    const lostShare = carol.m.keyPackages.get('release')!;
    carol.m.keyPackages.delete('release');
    const rid = await openRepair(admin, groupPublicKey, 1);
    await admin.nextBody('dkg.complete', rid, 20_000);
    await new Promise((r) => setTimeout(r, 50));
    const repaired = carol.m.keyPackages.get('release')!;
    expect(bytesToHex(repaired.signingShare)).toBe(bytesToHex(lostShare.signingShare));
    expect(signsWith([repaired, alice.keyPackages.get('release')!], pubOf(c))).toBe(true);
    expect(c.handle.store.getGroup('release')?.epoch).toBe(1);
  });
});

describe('lifecycle refusals (each with its code; nothing saved)', () => {
  it('refuses stale epochs, wrong keys, busy groups, revoked members and non-admins', async () => {
    const { c, admin, members, holders, groupPublicKey } = await setup(
      ['alice', 'bob', 'carol'],
      2,
    );
    const refresh = (epoch: number, key = groupPublicKey) =>
      admin.submit(newCeremonyId(), {
        type: 'admin.group.refresh',
        group: 'release',
        epoch,
        groupPublicKey: key,
      });
    expect((await refresh(1)).code).toBe('STALE_EPOCH');
    expect((await refresh(0, 'ab'.repeat(32))).code).toBe('WRONG_GROUP');
    expect(
      (
        await admin.submit(newCeremonyId(), {
          type: 'admin.group.refresh',
          group: 'nope',
          epoch: 0,
          groupPublicKey,
        })
      ).code,
    ).toBe('WRONG_GROUP');
    // Only the admin key opens a lifecycle ceremony.
    expect(
      (
        await members[0]!.client.submit(newCeremonyId(), {
          type: 'admin.group.refresh',
          group: 'release',
          epoch: 0,
          groupPublicKey,
        })
      ).code,
    ).toBe('FORBIDDEN');
    // Too few dealers for the current threshold.
    expect(
      (
        await admin.submit(newCeremonyId(), {
          type: 'admin.group.reshare',
          group: 'release',
          epoch: 0,
          groupPublicKey,
          threshold: 2,
          members: roster(holders.values()),
          dealers: ['alice', 'zed'],
        })
      ).code,
    ).toBe('UNKNOWN_PARTICIPANT');

    // One key ceremony per group at a time.
    for (const h of holders.values()) h.tamper = 'silent';
    const open = await openRefresh(admin, groupPublicKey, 0);
    expect((await refresh(0)).code).toBe('GROUP_BUSY');
    // A member outside the ceremony, or one without the role, is refused (wrong member).
    const outsider = await addMember(c, admin, 'mallory');
    expect(
      (await submit(outsider.m.client, open, { type: 'key.round1', package: 'ab', boxes: [] }))
        .code,
    ).toBe('UNKNOWN_PARTICIPANT');
    // A DKG message in a lifecycle ceremony is refused.
    expect(
      (await submit(members[0]!.client, open, { type: 'dkg.round1', package: 'ab' })).code,
    ).toBe('UNEXPECTED_MESSAGE');
    // A refresh keeps the threshold: a dealer committing to t+1 coefficients is refused (B.31).
    const aliceKey = members[0]!.keyPackages.get('release')!;
    const longer = frost.keys.reshare.part1(aliceKey, pubOf(c), {
      dealers: ['alice', 'bob', 'carol'].map(id),
      newIdentifiers: ['alice', 'bob', 'carol'].map(id),
      newMinSigners: 3,
    });
    expect(
      (
        await submit(members[0]!.client, open, {
          type: 'key.round1',
          package: bytesToHex(frost.encode.bytes('ReshareRound1Package', longer.package)),
          boxes: [],
        })
      ).code,
    ).toBe('INCORRECT_NUMBER_OF_COMMITMENTS');
    // A dealer package that does not fit the key (constant term ≠ λ·PK_i) is refused.
    const bogus = frost.keys.dealer({ minSigners: 2, maxSigners: 3 });
    const alienKey = frost.keys.keyPackage(Object.values(bogus.shares)[0]!);
    const alien = frost.keys.reshare.part1(
      { ...alienKey, identifier: frost.identifier.derive('alice') } as KeyPackage,
      {
        ...bogus.publicKeyPackage,
        verifyingShares: {
          [id('alice')]: alienKey.verifyingShare,
          [id('bob')]: alienKey.verifyingShare,
          [id('carol')]: alienKey.verifyingShare,
        },
      } as PublicKeyPackage,
      {
        dealers: ['alice', 'bob', 'carol'].map(id),
        newIdentifiers: ['alice', 'bob', 'carol'].map(id),
        newMinSigners: 2,
      },
    );
    const alienHex = bytesToHex(frost.encode.bytes('ReshareRound1Package', alien.package));
    expect(
      (await submit(members[0]!.client, open, { type: 'key.round1', package: alienHex, boxes: [] }))
        .code,
    ).toBe('INCORRECT_COMMITMENT');
    // Revoking a participant aborts the open key ceremony at once; the group stays at epoch 0.
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'carol',
        reason: 'left',
      }),
    );
    const abort = await admin.nextBody('dkg.abort', open);
    expect(abort.body.code).toBe('MEMBER_REVOKED');
    expect((await audited(c, open)).keyCulprits).toEqual([]);
    // carol's open connection was closed by the coordinator.
    expect((await holders.get('carol')!.m.client.closed).code).toBe(1008);
    expect(c.handle.store.getGroup('release')).toMatchObject({ epoch: 0, groupPublicKey });
    // A refresh cannot include a revoked member: reshare without it instead.
    expect((await refresh(0)).code).toBe('MEMBER_REVOKED');
    const groups = await admin.query(
      { type: 'group.list.get', member: 'carol' } as never,
      'group.list',
    );
    expect(groups.groups[0]).toMatchObject({ group: 'release', epoch: 0, revoked: ['carol'] });
  });

  it('aborts with CONFIRMATION_MISMATCH when one confirmer saw another view; nothing saved', async () => {
    const { c, admin, holders, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
    const before = c.handle.store.getGroup('release')!;
    holders.get('bob')!.tamper = 'confirm';
    const cid = await openRefresh(admin, groupPublicKey, 0);
    const abort = await admin.nextBody('dkg.abort', cid, 20_000);
    expect(abort.body).toMatchObject({ code: 'CONFIRMATION_MISMATCH', culprits: ['bob'] });
    // A lifecycle's mismatch is judged by majority, from the signed confirmations.
    expect((await audited(c, cid)).keyCulprits).toEqual([
      { member: 'bob', basis: expect.stringMatching(/outside the largest view/) },
    ]);
    const after = c.handle.store.getGroup('release')!;
    expect(after.epoch).toBe(0);
    expect(after.publicKeyPackage).toBe(before.publicKeyPackage);
    expect(c.handle.store.listEpochs('release').map((e) => e.epoch)).toEqual([0]);
  });

  it('judges a complaint about a refresh sub-share from its evidence: refused without it or when false, proven against the dealer (protocol 5)', async () => {
    const { c, admin, holders, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
    const before = c.handle.store.getGroup('release')!;
    holders.get('bob')!.tamper = 'subshare';
    const carol = holders.get('carol')!;
    const cid = await openRefresh(admin, groupPublicKey, 0);
    // carol's part2 finds bob's sub-share bad; the holder stops there and the test complains.
    await until(() => carol.errors.length > 0);
    expect(carol.errors[0]).toMatchObject({ code: 'INVALID_SECRET_SHARE', culprits: [id('bob')] });
    const start = (await carol.m.client.nextBody('key.start', cid)).body;
    expect(start.protocolVersion).toBe(PROTOCOL_VERSION);
    const boxes = carol.delivered.get(cid)!;
    const evidenceAbout = (dealer: string) =>
      evidenceOf(
        carol,
        cid,
        holders.get(dealer)!,
        boxes.find((b) => b.sender === dealer),
      );
    const accuse = {
      type: 'dkg.fail' as const,
      culprit: 'bob',
      code: 'INVALID_SECRET_SHARE' as const,
      reason: 'sub-share fails vss_verify',
    };
    const bare = await submit(carol.m.client, cid, accuse);
    expect(bare.code).toBe('INVALID_MESSAGE');
    expect(bare.message).toMatch(/must carry the evidence that opens bob's box/);
    // alice's sub-share is sound: the evidence shows it, and the accusation is refused.
    const against = await submit(carol.m.client, cid, {
      ...accuse,
      culprit: 'alice',
      evidence: evidenceAbout('alice'),
    });
    expect(against.code).toBe('INVALID_MESSAGE');
    expect(against.message).toMatch(/matches alice's commitment: the accusation is false/);
    const evidence = evidenceAbout('bob');
    const forged = await submit(carol.m.client, cid, {
      ...accuse,
      evidence: { ...evidence, response: evidence.challenge },
    });
    expect(forged.code).toBe('INVALID_MESSAGE');
    expect(forged.message).toMatch(/proof does not verify/);
    expect(c.handle.store.getCeremony(cid)!.open).toBe(true);
    expectAck(await submit(carol.m.client, cid, { ...accuse, evidence }));
    await abortsProven(
      c,
      admin,
      cid,
      'bob',
      /^proven by carol's signed dkg\.fail .*fails vss_verify/,
    );
    const after = c.handle.store.getGroup('release')!;
    expect(after.epoch).toBe(0);
    expect(after.publicKeyPackage).toBe(before.publicKeyPackage);
  });

  it('judges a complaint about a repair σ: a box without a scalar is the helper’s fault, a scalar names nobody', async () => {
    const { c, admin, holders, rid } = await repairTampered('bob', 'sigma');
    const carol = holders.get('carol')!;
    await until(() => carol.errors.length > 0);
    const boxes = carol.delivered.get(rid)!;
    const complain = (dealer: string) =>
      submit(carol.m.client, rid, {
        type: 'dkg.fail',
        culprit: dealer,
        code: 'INVALID_SECRET_SHARE',
        reason: 'σ is not a scalar',
        evidence: evidenceOf(
          carol,
          rid,
          holders.get(dealer)!,
          boxes.find((b) => b.sender === dealer),
        ),
      });
    const honest = await complain('alice');
    expect(honest.code).toBe('INVALID_MESSAGE');
    expect(honest.message).toMatch(/can be checked only as a sum/);
    expectAck(await complain('bob'));
    await abortsProven(
      c,
      admin,
      rid,
      'bob',
      /^proven by carol's signed dkg\.fail .*no canonical scalar/,
    );
  });

  it('ends a repair in round 1 when the repaired member (who deals nothing) refuses the start: nobody blamed, the audit agrees', async () => {
    const { c, admin, holders, rid } = await repairTampered('bob', 'silent');
    const carol = holders.get('carol')!;
    // alice's round 1 is in, bob's is not: round 1 is still in progress.
    await admin.next(
      (f) =>
        f.type === 'ceremony.status' &&
        f.ceremonyId === rid &&
        Array.isArray(f.approvals) &&
        f.approvals.includes('alice'),
    );
    // Naming a helper now accuses it of something nobody has relayed.
    expect(
      (
        await submit(carol.m.client, rid, {
          type: 'dkg.fail',
          culprit: 'alice',
          code: 'INVALID_SECRET_SHARE',
          reason: 'x',
        })
      ).code,
    ).toBe('UNEXPECTED_MESSAGE');
    expectAck(
      await submit(carol.m.client, rid, {
        type: 'dkg.fail',
        culprit: 'carol',
        code: 'INCONSISTENT_VIEW',
        reason: 'carol refuses the start: the roster differs',
      }),
    );
    const abort = await admin.nextBody('dkg.abort', rid);
    expect(abort.body).toMatchObject({ code: 'INCONSISTENT_VIEW', culprits: [] });
    expect(abort.body.message).toMatch(/carol could not complete .*"carol refuses the start/);
    expect(c.handle.store.getGroup('release')?.state).toBe('active');
    expect((await audited(c, rid)).keyCulprits).toEqual([]);
  });

  it('judges a complaint about a repair delta (a helper’s round-1 box to another helper): no scalar is that helper’s fault', async () => {
    const { c, admin, holders, rid } = await repairTampered('alice', 'delta');
    const bob = holders.get('bob')!;
    // bob cannot make his σ from alice's delta; the holder stops there and the test complains.
    await until(() => bob.errors.length > 0);
    const box = bob.delivered.get(rid)!.find((b) => b.sender === 'alice');
    expectAck(
      await submit(bob.m.client, rid, {
        type: 'dkg.fail',
        culprit: 'alice',
        code: 'INVALID_SECRET_SHARE',
        reason: 'the delta from alice is not a scalar',
        evidence: evidenceOf(bob, rid, holders.get('alice')!, box),
      }),
    );
    await abortsProven(
      c,
      admin,
      rid,
      'alice',
      /^proven by bob's signed dkg\.fail .*no canonical scalar/,
    );
  });

  it('refuses a dealer that deals from a share of an earlier epoch with STALE_EPOCH', async () => {
    const { c, admin, holders, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
    const alice = holders.get('alice')!;
    const epoch0 = alice.m.keyPackages.get('release')!;
    const pub0 = pubOf(c);
    const first = await openRefresh(admin, groupPublicKey, 0);
    await admin.nextBody('dkg.complete', first, 20_000);
    await new Promise((r) => setTimeout(r, 50));
    alice.tamper = 'silent';
    const second = await openRefresh(admin, groupPublicKey, 1);
    // alice restored her epoch-0 share from a backup and deals with it.
    const stale = frost.keys.refresh.part1(epoch0, pub0, ['alice', 'bob', 'carol'].map(id));
    const reply = await submit(alice.m.client, second, {
      type: 'key.round1',
      package: bytesToHex(frost.encode.bytes('ReshareRound1Package', stale.package)),
      boxes: [],
    });
    expect(reply.code).toBe('STALE_EPOCH');
  });
});

describe('key.outcome.get (crash recovery of a share swap)', () => {
  it('returns the sealed key.start and dkg.complete as stored; refuses outsiders and signing ceremonies', async () => {
    const { c, admin, members, groupPublicKey } = await setup(['alice', 'bob', 'carol'], 2);
    const [alice] = members as [FakeMember];
    const cid = await openRefresh(admin, groupPublicKey, 0);
    const complete = await admin.nextBody('dkg.complete', cid, 20_000);
    const answer = await alice.client.query(
      { type: 'key.outcome.get', ceremonyId: cid },
      'key.outcome',
    );
    expect(answer.type).toBe('key.outcome');
    expect(answer.start.body).toMatchObject({ type: 'key.start', kind: 'refresh', toEpoch: 1 });
    expect(answer.start.sender).toBe('coordinator');
    // The very envelope of the transcript, as it was sent to everyone.
    expect(answer.outcome.signature).toBe(complete.signature);
    expect(answer.outcome.body.type).toBe('dkg.complete');

    const outsider = await addMember(c, admin, 'mallory');
    const refused = await outsider.m.client.query(
      { type: 'key.outcome.get', ceremonyId: cid },
      'key.outcome',
    );
    expect(refused).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    const signing = newCeremonyId();
    await alice.requestRelease(signing);
    const notKey = await alice.client.query(
      { type: 'key.outcome.get', ceremonyId: signing },
      'key.outcome',
    );
    expect(notKey).toMatchObject({ type: 'error', code: 'CEREMONY_NOT_FOUND' });
  });
});
