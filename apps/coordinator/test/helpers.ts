// Test helpers: a coordinator on 127.0.0.1:0 with a fresh database, raw `ws` clients that speak the
// wire protocol of docs/ceremony-flow.md, and fake members that run FROST with @conclave/frost.
import { request as httpRequest } from 'node:http';
import { afterEach, expect } from 'vitest';
import { MemLog } from '../../../packages/audit/test/helpers.js';
import { LOG_KEY_FILE, LogKeyFileSchema } from '../src/log/keys.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeLeaf,
  encodeLeaf,
  verifyCeremonyBundle,
  type BundleReport,
  type CeremonyBundle,
} from '@conclave/audit';
import {
  ed25519 as frost,
  type DkgRound1Package,
  type DkgRound1SecretPackage,
  type DkgRound2Package,
  type DkgRound2SecretPackage,
  type KeyPackage,
  type SigningNonces,
} from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  boxFromWire,
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  identityFromSecret,
  newCeremonyId,
  openEnvelope,
  openFrom,
  requestDigest,
  signApproval,
  respondToChallenge,
  round1Hash,
  sealEnvelope,
  sealSignedBox,
  signDkgConfirmation,
  sessionPackagesBytes,
  signPackageAck,
  x25519PublicFromIdentity,
  type AuthChallenge,
  type DkgParticipant,
  type IdentityKey,
  type Release,
  type SealedBody,
} from '@conclave/protocol';
import { jobIdsFor, planMessages } from '@conclave/release';
import WebSocket from 'ws';
import {
  readIdentityKeyFile,
  startCoordinator,
  type CoordinatorHandle,
  type StartOptions,
} from '../src/index.js';
import type { Store } from '../src/store.js';

/**
 * What a refresh's `activateGroup` commits for group `release`: key epoch 1 (same key, new shares),
 * without the follow-up that cancels the group's open signing ceremonies.
 */
export function commitRefreshEpoch(store: Store): void {
  const group = store.getGroup('release')!;
  store.transaction(() => {
    store.putGroup({ ...group, epoch: 1, updatedAt: Date.now() });
    store.putEpoch({
      group: 'release',
      epoch: 1,
      kind: 'refresh',
      ceremonyId: newCeremonyId(),
      threshold: group.threshold,
      members: group.members,
      groupPublicKey: group.groupPublicKey!,
      publicKeyPackage: group.publicKeyPackage!,
      at: Date.now(),
    });
  });
}

export const ROUNDS: Record<string, string> = {
  'dkg.round1': '1',
  'dkg.round2': '2',
  'dkg.confirm': '3',
  'dkg.fail': '4',
  'sign.request': '0',
  'sign.approve': '1',
  'sign.reject': '1',
  'sign.recommit': '1',
  'round2.share': '2',
  'round2.decline': '2',
  'ceremony.cancel': '4',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = any;

export interface TestCoordinator {
  readonly handle: CoordinatorHandle;
  readonly dir: string;
  readonly dbPath: string;
  readonly admin: IdentityKey;
  readonly coordinatorKey: Uint8Array;
  close(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'conclave-coord-'));
}

export async function startTest(
  options: Partial<StartOptions> & { dir?: string } = {},
): Promise<TestCoordinator> {
  const dir = options.dir ?? tempDir();
  const dbPath = join(dir, 'coordinator.db');
  const handle = await startCoordinator({ dbPath, port: 0, ...options });
  const admin = readIdentityKeyFile(handle.adminKeyPath);
  return {
    handle,
    dir,
    dbPath,
    admin,
    coordinatorKey: hexToBytes(handle.coordinatorPublicKey, 32),
    close: () => handle.close(),
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function fetchChallenge(url: string): Promise<AuthChallenge> {
  const res = await fetch(`${url}/v1/challenge`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`challenge: HTTP ${res.status}`);
  return (await res.json()) as AuthChallenge;
}

export function authHeaders(
  challenge: AuthChallenge,
  key: IdentityKey,
  member: string,
  origin: string,
): Record<string, string> {
  const response = respondToChallenge(key, challenge, member, origin);
  if (!response.ok) throw new Error(response.error.code);
  return {
    'x-conclave-protocol': String(PROTOCOL_VERSION),
    'x-conclave-member': member,
    'x-conclave-challenge': response.value.challenge,
    'x-conclave-signature': response.value.signature,
  };
}

/** A raw upgrade attempt: the HTTP status and JSON body of a refusal, or 101. */
export function tryUpgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Frame }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: '/v1/ws',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: null });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let body: Frame = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

interface Waiter {
  readonly pred: (f: Frame) => boolean;
  readonly resolve: (f: Frame) => void;
}

export class TestClient {
  readonly frames: Frame[] = [];
  readonly all: Frame[] = [];
  readonly #waiters: Waiter[] = [];
  seq = Date.now() * 1000;
  closed: Promise<{ code: number }>;
  onFrame: ((f: Frame) => void) | null = null;

  constructor(
    readonly ws: WebSocket,
    readonly member: string,
    readonly key: IdentityKey,
    readonly coordinatorKey: Uint8Array,
  ) {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => this.#receive(JSON.parse(data.toString()) as Frame));
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve({ code })));
  }

  #receive(frame: Frame): void {
    if (frame.type === 'envelope') {
      const opened = openEnvelope(frame, (s) =>
        s === 'coordinator' ? this.coordinatorKey : undefined,
      );
      if (!opened.ok) throw new Error(`coordinator envelope does not verify: ${opened.error.code}`);
    }
    this.all.push(frame);
    const i = this.#waiters.findIndex((w) => w.pred(frame));
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1);
      w?.resolve(frame);
    } else {
      this.frames.push(frame);
    }
    this.onFrame?.(frame);
  }

  next(pred: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const k = this.#waiters.indexOf(waiter);
        if (k >= 0) this.#waiters.splice(k, 1);
        reject(new Error(`${this.member}: timed out waiting for a frame`));
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Next sealed envelope carrying `type`. */
  nextBody(type: string, ceremonyId?: string, timeoutMs?: number): Promise<Frame> {
    return this.next(
      (f) =>
        f.type === 'envelope' &&
        f.body.type === type &&
        (ceremonyId === undefined || f.ceremonyId === ceremonyId),
      timeoutMs,
    );
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  seal(ceremonyId: string, body: SealedBody, round?: string, sender = this.member): Frame {
    this.seq += 1;
    return sealEnvelope(this.key, {
      ceremonyId,
      round: round ?? ROUNDS[body.type] ?? '0',
      seq: this.seq,
      sender,
      body,
    });
  }

  /** Sends `envelope` and resolves with its ack envelope or an error frame. */
  async call(envelope: Frame): Promise<Frame> {
    const done = this.next(
      (f) =>
        (f.type === 'envelope' && f.body.type === 'ack' && f.body.seq === envelope.seq) ||
        f.type === 'error',
    );
    this.send(envelope);
    return done;
  }

  /** Seals and sends; resolves with the ack or error. */
  submit(ceremonyId: string, body: SealedBody, round?: string): Promise<Frame> {
    return this.call(this.seal(ceremonyId, body, round));
  }

  async query(frame: { type: string; ceremonyId?: string }, type: string): Promise<Frame> {
    const id = frame.ceremonyId;
    const done = this.next(
      (f) => (f.type === type && (id === undefined || f.ceremonyId === id)) || f.type === 'error',
    );
    this.send(frame);
    return done;
  }

  close(): Promise<{ code: number }> {
    this.ws.close();
    return this.closed;
  }
}

export async function connect(
  url: string,
  key: IdentityKey,
  member: string,
  coordinatorKey: Uint8Array,
): Promise<TestClient> {
  const challenge = await fetchChallenge(url);
  const headers = authHeaders(challenge, key, member, url);
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, {
    headers,
    perMessageDeflate: false,
  });
  const client = new TestClient(ws, member, key, coordinatorKey);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  await client.next((f) => f.type === 'auth.ok');
  return client;
}

export function expectAck(frame: Frame): void {
  if (frame.type !== 'envelope' || frame.body.type !== 'ack') {
    throw new Error(`expected an ack, got ${JSON.stringify(frame)}`);
  }
}

export const sampleRelease = (
  version = '1.0.0',
  formats: Release['formats'] = ['dsse'],
): Release => ({
  version,
  class: 'standard',
  note: 'test release',
  artifacts: [
    {
      name: 'app.tar.gz',
      sha256: 'ab'.repeat(32),
      sha512: 'cd'.repeat(64),
      blake2b512: 'ef'.repeat(64),
    },
  ],
  formats,
});

/**
 * A member that follows the ceremony flow with @conclave/frost directly: answers the DKG rounds
 * and, once told to approve, signs the packages of sessions it is in (and recommits on demand).
 */
export class FakeMember {
  client!: TestClient;
  keyPackages = new Map<string, KeyPackage>();
  /** `ceremonyId` (and `ceremonyId:session`) → one nonce pair per job of the phase. */
  readonly nonces = new Map<string, SigningNonces[]>();
  /** ceremony id → the request it approved (release and requester), to rebuild the messages. */
  readonly requests = new Map<string, { release: Release; requester: string }>();
  /** group → its members' identity keys (from dkg.start). */
  readonly roster = new Map<string, DkgParticipant[]>();
  dkg = new Map<
    string,
    {
      threshold: number;
      participants: DkgParticipant[];
      r1?: DkgRound1SecretPackage;
      r2?: DkgRound2SecretPackage;
      r1all?: { member: string; package: string }[];
    }
  >();
  readonly approved = new Set<string>();
  /** ceremony id → group name, for recommits. */
  readonly groups = new Map<string, string>();
  silent = false;
  corruptShares = false;
  /**
   * What its shares name as the public key package signed under: by default the package's own
   * (an honest member checks it against its share's), else this hash, or nothing (null).
   */
  shareKeyPackage: string | null | undefined = undefined;
  /** Answer `sign.package` with `round2.decline` (this code and reason) instead of shares. */
  declines: { code: string; reason: string } | null = null;
  /** Keep `sign.package` frames unanswered (in `held`) instead of signing. */
  holdPackages = false;
  readonly held: Frame[] = [];
  sharesSent = 0;

  /** Stops holding packages and answers the held ones now. */
  answerHeld(): void {
    this.holdPackages = false;
    for (const f of this.held.splice(0)) this.#react(f);
  }
  errors: Frame[] = [];

  constructor(
    readonly name: string,
    readonly key: IdentityKey = generateIdentityKey(),
  ) {}

  get publicKey(): string {
    return bytesToHex(this.key.publicKey);
  }

  async connect(t: { handle: { url: string }; coordinatorKey: Uint8Array }): Promise<void> {
    this.client = await connect(t.handle.url, this.key, this.name, t.coordinatorKey);
    this.client.onFrame = (f) => {
      try {
        this.#react(f);
      } catch (e) {
        this.errors.push(String(e));
      }
    };
    for (const f of [...this.client.all]) this.#react(f);
  }

  #send(ceremonyId: string, body: SealedBody): void {
    this.client.send(this.client.seal(ceremonyId, body));
  }

  #react(f: Frame): void {
    if (f.type === 'error') this.errors.push(f);
    if (f.type === 'ceremony.status') {
      if (
        f.needsCommitment?.includes(this.name) &&
        this.approved.has(f.ceremonyId) &&
        !this.silent
      ) {
        const group = f.group as string;
        const kp = this.keyPackages.get(group);
        if (kp === undefined) return;
        if (this.nonces.has(`${f.ceremonyId}:${f.session}`)) return;
        const request = this.requests.get(f.ceremonyId);
        if (request === undefined) return;
        const phase = (f.phase as number | undefined) ?? 1;
        const { nonces, commitments } = this.#commit(kp, jobIdsFor(request.release, phase).length);
        this.nonces.set(`${f.ceremonyId}:${f.session}`, nonces);
        this.nonces.set(f.ceremonyId, nonces);
        this.#send(f.ceremonyId, { type: 'sign.recommit', phase, commitments });
      }
      return;
    }
    if (f.type !== 'envelope') return;
    const id = f.ceremonyId as string;
    const body = f.body;
    switch (body.type) {
      case 'dkg.start': {
        if (this.dkg.has(id)) return;
        const groupName = this.dkgGroup.get(id);
        if (groupName !== undefined) this.roster.set(groupName, body.participants);
        const n = body.participants.length;
        const r1 = frost.keys.dkg.part1(frost.identifier.derive(this.name), n, body.threshold);
        this.dkg.set(id, {
          threshold: body.threshold,
          participants: body.participants,
          r1: r1.secretPackage,
        });
        this.#send(id, {
          type: 'dkg.round1',
          package: bytesToHex(frost.encode.bytes('DkgRound1Package', r1.package)),
        });
        return;
      }
      case 'dkg.round1.all': {
        const st = this.dkg.get(id);
        if (st?.r1 === undefined || st.r2 !== undefined) return;
        st.r1all = body.packages;
        const others = body.packages
          .filter((p: { member: string }) => p.member !== this.name)
          .map((p: { package: string }) =>
            frost.decode.bytes('DkgRound1Package', hexToBytes(p.package)),
          ) as DkgRound1Package[];
        const r2 = frost.keys.dkg.part2(st.r1, others);
        st.r2 = r2.secretPackage;
        const boxes = st.participants
          .filter((p) => p.member !== this.name)
          .map((p) => {
            const pkg = r2.packages[p.identifier as never] as DkgRound2Package;
            const box = sealSignedBox(
              hexToBytes(p.identityKey, 32),
              this.key,
              frost.encode.bytes('DkgRound2Package', pkg),
              { ceremonyId: id, sender: this.name, recipient: p.member },
            );
            return { recipient: p.member, ...box };
          });
        this.#send(id, { type: 'dkg.round2', boxes });
        return;
      }
      case 'dkg.round2.deliver': {
        const st = this.dkg.get(id);
        if (st?.r2 === undefined || st.r1all === undefined) return;
        const r2pkgs = body.boxes.map(
          (b: { sender: string; ephemeralKey: string; nonce: string; ciphertext: string }) => {
            const sender = st.participants.find((p) => p.member === b.sender);
            if (sender === undefined) throw new Error('unknown sender');
            const opened = openFrom(
              this.key,
              x25519PublicFromIdentity(hexToBytes(sender.identityKey, 32)),
              boxFromWire(b),
              { ceremonyId: id, sender: b.sender, recipient: this.name },
            );
            if (!opened.ok) throw new Error(opened.error.code);
            return frost.decode.bytes('DkgRound2Package', opened.value);
          },
        );
        const others = st.r1all
          .filter((p) => p.member !== this.name)
          .map((p) => frost.decode.bytes('DkgRound1Package', hexToBytes(p.package)));
        const { keyPackage } = frost.keys.dkg.part3(st.r2, others, r2pkgs);
        const hash = round1Hash({
          ceremonyId: id,
          threshold: st.threshold,
          participants: st.participants,
          packages: st.r1all,
        });
        this.pendingKey = keyPackage;
        const groupPublicKey = keyPackage.verifyingKey;
        const signature = signDkgConfirmation(this.key, {
          ceremonyId: id,
          member: this.name,
          round1Hash: hash,
          groupPublicKey,
        });
        this.#send(id, {
          type: 'dkg.confirm',
          round1Hash: bytesToHex(hash),
          groupPublicKey: bytesToHex(groupPublicKey),
          signature: bytesToHex(signature),
        });
        return;
      }
      case 'dkg.complete': {
        const group = this.dkgGroup.get(id);
        if (this.pendingKey !== null && group !== undefined) {
          this.keyPackages.set(group, this.pendingKey);
        }
        this.pendingKey = null;
        return;
      }
      case 'sign.package': {
        if (this.holdPackages) {
          this.held.push(f);
          return;
        }
        if (this.silent || !this.approved.has(id)) return;
        if (this.declines !== null) {
          this.#send(id, { type: 'round2.decline', session: body.session, ...this.declines });
          return;
        }
        const nonces = this.nonces.get(id);
        const group = this.groups.get(id);
        const kp = group === undefined ? undefined : this.keyPackages.get(group);
        const request = this.requests.get(id);
        if (nonces === undefined || kp === undefined || request === undefined) return;
        const packages = this.#packages(id, group ?? '', kp, request, body);
        const ack = signPackageAck(
          this.key,
          { ceremonyId: id, session: body.session, member: this.name },
          sessionPackagesBytes(packages.map((p) => frost.encode.bytes('SigningPackage', p))),
        );
        const shares = packages.map((pkg, i) => {
          const share = frost.round2.sign(pkg, nonces[i]!, kp);
          return this.corruptShares
            ? bytesToHex(Uint8Array.from(share.share, (b, j) => (j === 0 ? b ^ 1 : b)))
            : bytesToHex(share.share);
        });
        this.nonces.delete(id);
        this.sharesSent += 1;
        const named =
          this.shareKeyPackage === undefined ? body.publicKeyPackage : this.shareKeyPackage;
        this.#send(id, {
          type: 'round2.share',
          session: body.session,
          shares,
          ack,
          ...(named === null || named === undefined ? {} : { publicKeyPackage: named }),
        });
        return;
      }
      default:
        return;
    }
  }

  #commit(kp: KeyPackage, count: number): { nonces: SigningNonces[]; commitments: string[] } {
    const made = Array.from({ length: count }, () => frost.round1.commit(kp));
    return {
      nonces: made.map((m) => m.nonces),
      commitments: made.map((m) =>
        bytesToHex(frost.encode.bytes('SigningCommitments', m.commitments)),
      ),
    };
  }

  /** Rebuilds every job's signing package from the request, as a real signer does. */
  #packages(
    ceremonyId: string,
    group: string,
    kp: KeyPackage,
    request: { release: Release; requester: string },
    body: {
      phase: number;
      jobs: string[];
      commitments: { member: string; commitments: string[] }[];
      previous: { job: string; signature: string }[];
      approvers: string[];
      policyId: string;
      issuedAt: number;
      keyCreatedAt: number;
    },
  ) {
    const keys = new Map((this.roster.get(group) ?? []).map((p) => [p.member, p.identityKey]));
    const planned = planMessages(
      {
        release: request.release,
        context: {
          ceremonyId,
          group,
          groupPublicKey: bytesToHex(kp.verifyingKey),
          requester: request.requester,
          approvers: body.approvers.map((m) => ({ member: m, identityKey: keys.get(m) ?? '' })),
          policyId: body.policyId,
          issuedAt: body.issuedAt,
        },
        keyCreatedAt: body.keyCreatedAt,
      },
      body.phase,
      new Map(body.previous.map((p) => [p.job, hexToBytes(p.signature)])),
    );
    return planned.map((job, i) =>
      frost.signingPackage(
        body.commitments.map((c) =>
          frost.decode.bytes('SigningCommitments', hexToBytes(c.commitments[i]!)),
        ),
        job.message,
      ),
    );
  }

  pendingKey: KeyPackage | null = null;
  readonly dkgGroup = new Map<string, string>();

  /** Asks the group to sign the sample release under `ceremonyId`; expects the coordinator's ack. */
  async requestRelease(
    ceremonyId: string,
    group = 'release',
    formats: Release['formats'] = ['dsse'],
  ): Promise<void> {
    expectAck(
      await this.client.submit(ceremonyId, {
        type: 'sign.request',
        group,
        release: sampleRelease('1.0.0', formats),
      }),
    );
  }

  /** Fetches the status, checks the request, commits and approves. Resolves with the ack/error. */
  async approve(ceremonyId: string, group: string): Promise<Frame> {
    const status = await this.client.query(
      { type: 'ceremony.status.get', ceremonyId },
      'ceremony.status',
    );
    const kp = this.keyPackages.get(group);
    if (kp === undefined) throw new Error(`${this.name} has no share for ${group}`);
    const digest = bytesToHex(requestDigest(ceremonyId, status.request.body));
    const release = status.request.body.release as Release;
    this.requests.set(ceremonyId, { release, requester: status.request.sender as string });
    const { nonces, commitments } = this.#commit(kp, jobIdsFor(release, 1).length);
    this.nonces.set(ceremonyId, nonces);
    this.approved.add(ceremonyId);
    this.groups.set(ceremonyId, group);
    return this.client.submit(ceremonyId, {
      type: 'sign.approve',
      requestDigest: digest,
      commitments,
      approval: signApproval(this.key, ceremonyId, this.name, digest),
    });
  }
}

/** The admin's connection to `t`. */
export function connectAdmin(t: {
  handle: { url: string };
  admin: IdentityKey;
  coordinatorKey: Uint8Array;
}): Promise<TestClient> {
  return connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
}

/** alice, bob and carol, not yet registered nor connected. */
export function threeMembers(): [FakeMember, FakeMember, FakeMember] {
  return [new FakeMember('alice'), new FakeMember('bob'), new FakeMember('carol')];
}

/** Registers `members` (admin.member.add, no roles), each acked. */
export async function addMembers(adminClient: TestClient, members: FakeMember[]): Promise<void> {
  for (const m of members) {
    const ack = await adminClient.submit(newCeremonyId(), {
      type: 'admin.member.add',
      member: m.name,
      identityKey: m.publicKey,
      roles: [],
    });
    expectAck(ack);
  }
}

/** Registers members, creates the group and runs the DKG with fake members to completion. */
export async function setupGroup(
  t: { handle: { url: string }; coordinatorKey: Uint8Array },
  adminClient: TestClient,
  members: FakeMember[],
  group: string,
  threshold: number,
): Promise<{ ceremonyId: string; groupPublicKey: string }> {
  await addMembers(adminClient, members);
  for (const m of members) if (m.client === undefined) await m.connect(t);
  const ceremonyId = newCeremonyId();
  for (const m of members) m.dkgGroup.set(ceremonyId, group);
  const ack = await adminClient.submit(ceremonyId, {
    type: 'admin.group.create',
    group,
    threshold,
    members: members.map((m) => ({ member: m.name, identityKey: m.publicKey })),
  });
  expectAck(ack);
  const complete = await adminClient.nextBody('dkg.complete', ceremonyId, 20_000);
  // Give members a tick to store their key packages.
  await new Promise((r) => setTimeout(r, 20));
  return { ceremonyId, groupPublicKey: complete.body.groupPublicKey };
}

/**
 * `signers` approve `ceremonyId` and keep the signing packages they get unanswered (in `held`;
 * `answerHeld()` signs): a session opened and waiting for its shares.
 */
export async function approveHoldingPackages(
  ceremonyId: string,
  signers: readonly FakeMember[],
  group = 'release',
): Promise<void> {
  for (const m of signers) m.holdPackages = true;
  for (const m of signers) expectAck(await m.approve(ceremonyId, group));
}

/** Opens a refresh of group `release` at `epoch` as the admin; returns its ceremony id. */
export async function openRefresh(admin: TestClient, groupPublicKey: string, epoch: number) {
  const cid = newCeremonyId();
  expectAck(
    await admin.submit(cid, {
      type: 'admin.group.refresh',
      group: 'release',
      epoch,
      groupPublicKey,
    }),
  );
  return cid;
}

/**
 * The admin and alice, bob and carol holding shares of `release` (2 of 3): the group most
 * ceremony tests start from.
 */
export async function releaseGroup(t: TestCoordinator): Promise<{
  admin: TestClient;
  members: [FakeMember, FakeMember, FakeMember];
}> {
  const admin = await connectAdmin(t);
  const members = threeMembers();
  await setupGroup(t, admin, members, 'release', 2);
  return { admin, members };
}

/**
 * Registers `members`, who stay offline, and opens the DKG of `release` (2 of n): a key ceremony
 * that stays open. Returns its id.
 */
export async function openOfflineDkg(
  adminClient: TestClient,
  members: FakeMember[],
): Promise<string> {
  await addMembers(adminClient, members);
  const id = newCeremonyId();
  expectAck(
    await adminClient.submit(id, {
      type: 'admin.group.create',
      group: 'release',
      threshold: 2,
      members: members.map((m) => ({ member: m.name, identityKey: m.publicKey })),
    }),
  );
  return id;
}

/**
 * Makes the store's writes of ceremony `id` fail (STORAGE_UNAVAILABLE, as a full or failing disk
 * would), the first `times` of them (all by default); other ceremonies write normally. Returns how
 * many writes failed so far.
 */
export function failCeremonyWrites(
  store: CoordinatorHandle['store'],
  id: string,
  times = Infinity,
): () => number {
  const update = store.updateCeremony.bind(store);
  let failures = 0;
  store.updateCeremony = (cid, u) => {
    if (cid === id && failures < times) {
      failures += 1;
      throw new ProtocolError('STORAGE_UNAVAILABLE', 'disk I/O error');
    }
    update(cid, u);
  };
  return () => failures;
}

export function ceremonyIdOf(): string {
  return newCeremonyId();
}

/**
 * One test file's scope: `cleanups` run in reverse after each test, and `fresh()` starts a
 * coordinator on a new database that is closed and removed afterwards.
 */
export function testScope(): {
  cleanups: (() => Promise<void> | void)[];
  fresh: (options?: Parameters<typeof startTest>[0]) => Promise<TestCoordinator>;
} {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const fresh = async (options: Parameters<typeof startTest>[0] = {}) => {
    const t = await startTest(options);
    cleanups.push(() => removeDir(t.dir));
    cleanups.push(() => t.close());
    return t;
  };
  return { cleanups, fresh };
}

/**
 * The ceremony's bundle as the auditor downloads it, verified under the coordinator's pinned
 * keys; every check must pass (an honest abort is never a false alarm).
 */
export async function audited(t: TestCoordinator, id: string): Promise<BundleReport> {
  const report = verifyCeremonyBundle(await bundleJson(t, id), pinnedTrust(t));
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  return report;
}

/** The coordinator's keys, as an auditor pins them. */
export const pinnedTrust = (t: TestCoordinator) => ({
  coordinatorKey: t.handle.coordinatorPublicKey,
  adminKey: t.handle.adminPublicKey,
  logKey: t.handle.logVerifierKey,
});

/** The ceremony's bundle as the auditor downloads it. */
export async function bundleJson(t: TestCoordinator, id: string): Promise<CeremonyBundle> {
  const token = readFileSync(t.handle.auditorTokenPath, 'utf8').trim();
  const res = await fetch(`${t.handle.url}/v1/audit/bundle/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await res.json()) as CeremonyBundle;
}

/** GET `path` of the coordinator; it must answer 200. */
export async function getOk(
  t: TestCoordinator,
  path: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const res = await fetch(`${t.handle.url}${path}`, { headers });
  expect(res.status, path).toBe(200);
  return res;
}

/** Every leaf and checkpoint as `conclave log verify` fetches them (one page is enough here). */
export async function fetchLog(
  t: TestCoordinator,
): Promise<{ leaves: Uint8Array[]; checkpoints: string[] }> {
  const page = (await (await getOk(t, '/v1/log/leaves?start=0')).json()) as { leaves: string[] };
  const cps = (await (await getOk(t, '/v1/log/checkpoints?from=0')).json()) as {
    checkpoints: string[];
  };
  return {
    leaves: page.leaves.map((l) => new TextEncoder().encode(l)),
    checkpoints: cps.checkpoints,
  };
}

/**
 * The audit bundles of the log's completed signing ceremonies, as an auditor downloads them
 * (`/v1/audit/bundle/ID`), and the keys it pins (verifyLog's `bundles`).
 */
export async function signingBundlesOf(t: TestCoordinator, leaves: readonly Uint8Array[]) {
  const bundles = new Map<string, unknown>();
  for (const bytes of leaves) {
    const leaf = JSON.parse(new TextDecoder().decode(bytes)) as {
      kind?: string;
      ceremonyId?: string;
      outcome?: string;
    };
    if (leaf.kind !== 'sign' || leaf.outcome !== 'completed' || leaf.ceremonyId === undefined)
      continue;
    bundles.set(leaf.ceremonyId, await bundleJson(t, leaf.ceremonyId));
  }
  const trust = pinnedTrust(t);
  return { of: (leaf: { ceremonyId: string }) => bundles.get(leaf.ceremonyId), trust: () => trust };
}

/** GET /metrics as the operator's Prometheus does: the auditor token as a bearer credential. */
export async function metricsText(handle: {
  readonly url: string;
  readonly auditorTokenPath: string;
}): Promise<string> {
  const token = readFileSync(handle.auditorTokenPath, 'utf8').trim();
  const res = await fetch(`${handle.url}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return res.text();
}

/**
 * What a coordinator keeping two histories under its log key can serve: `bundle` proven into
 * another tree, the log fetched (`leaves`) with the leaf at `replaced` logged again at another
 * time and one more leaf after it (larger than the log fetched, so no root there to compare). Its
 * own leaf, its key ceremonies' and its governance leaves are re-proven into that tree with a
 * checkpoint the real log key signs; the bundle still verifies alone.
 */
export function forkedBundle(
  t: TestCoordinator,
  bundle: CeremonyBundle,
  leaves: readonly Uint8Array[],
  replaced: number,
): CeremonyBundle {
  const file = LogKeyFileSchema.parse(JSON.parse(readFileSync(join(t.dir, LOG_KEY_FILE), 'utf8')));
  const other = new MemLog(file.origin, identityFromSecret(hexToBytes(file.secretKey)));
  other.leaves.push(...leaves);
  const moved = decodeLeaf(other.leaves[replaced]!);
  other.leaves[replaced] = encodeLeaf({ ...moved, at: moved.at + 1 });
  other.appendLeaf();
  const proof = (i: number) => other.inclusion(i).map((h) => Buffer.from(h).toString('base64'));
  const leafAt = (i: number) => new TextDecoder().decode(other.leaves[i]);
  const forked = structuredClone(bundle);
  if (forked.log === null) throw new Error('the bundle is not in the log');
  forked.log = {
    ...forked.log,
    leaf: leafAt(forked.log.index),
    size: other.leaves.length,
    checkpoint: other.checkpoint(),
    inclusionProof: proof(forked.log.index),
  };
  for (const e of forked.group?.epochs ?? []) {
    const made = e.keyCeremony?.log;
    if (made !== undefined)
      Object.assign(made, { leaf: leafAt(made.index), inclusionProof: proof(made.index) });
  }
  for (const g of forked.governance ?? [])
    Object.assign(g, { leaf: leafAt(g.index), inclusionProof: proof(g.index) });
  return forked;
}

/**
 * `requester` asks `group` to sign `release`, and each of `approvers` approves (their fake members
 * commit and sign); resolves with the ceremony's end as the requester sees it (sign.complete or
 * sign.aborted).
 */
export async function signRelease(
  requester: FakeMember,
  approvers: readonly FakeMember[],
  release: Release,
  group = 'release',
): Promise<{ id: string; end: Frame }> {
  const id = newCeremonyId();
  const end = requester.client.next(
    (f) =>
      f.type === 'envelope' &&
      f.ceremonyId === id &&
      (f.body.type === 'sign.complete' || f.body.type === 'sign.aborted'),
    20_000,
  );
  expectAck(await requester.client.submit(id, { type: 'sign.request', group, release }));
  for (const a of approvers) await a.approve(id, group);
  return { id, end: await end };
}
