// The CLI decides whom to trust (the group key a policy or a revocation list must verify under, the
// identity keys and group key a rebuilt statement names) from the member's share. Its header is
// authenticated only when the keystore is opened with the passphrase (packages/client keystore.ts):
// someone who can write the home but lacks the passphrase must not change an outcome by editing it.
// Each test drives a command (policy show/set, release revocations, status, fetch, release revoke)
// through a real socket against a small fake coordinator, with the header edited either before the
// command (the share then fails to open: KEYSTORE_DECRYPT_FAILED) or right after the command opened
// it (the command must keep using what it authenticated).
import { createHash, createPublicKey } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BUNDLE_FORMAT,
  cosign,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  encodeVerifierKey,
  formatSignatureLine,
  openCheckpoint,
  signCheckpoint,
} from '@conclave/audit';
import { Home, type ShareMetadata } from '@conclave/client';
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bytesToHex,
  canonicalJson,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  type CeremonyStatus,
  type IdentityKey,
  type PolicyDocument,
  type PolicyInfo,
  type Release,
  type SignRequest,
} from '@conclave/protocol';
import {
  buildStatement,
  documentArtifact,
  messageToSign,
  statementDigest,
  type StatementContext,
} from '@conclave/release';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cmdFetch } from '../src/commands.js';
import { cmdAudit, cmdLogVerify } from '../src/commands/audit.js';
import { cmdPolicySet, cmdPolicyShow } from '../src/commands/policy.js';
import {
  cmdGovernanceStatus,
  cmdReleaseRevocations,
  cmdReleaseRevoke,
} from '../src/commands/release.js';
import type { Ctx } from '../src/output.js';
import { cmdKeyExport } from '../src/verify.js';
import { captured } from './capture.js';

// ws is a dependency of @conclave/client, not of the CLI: the fake coordinator loads that copy.
interface WebSocket {
  send(data: string): void;
  on(event: 'message', listener: (data: unknown) => void): void;
  terminate(): void;
}
const { WebSocketServer } = createRequire(
  new URL('../../../packages/client/package.json', import.meta.url),
)('ws') as {
  WebSocketServer: new (o: { noServer: true }) => {
    handleUpgrade(
      req: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      done: (ws: WebSocket) => void,
    ): void;
  };
};

const PASS = 'cli-share-header-test-passphrase';
// The CLI opens homes without allowWeakKdf: the files are written at the floor (64 MiB).
const KDF = { kdfParams: { N: 2 ** 16, r: 8, p: 1 } } as const;
const MEMBERS = ['alice', 'bob', 'carol'] as const;
const GROUP = 'web';

const servers: Server[] = [];
const sockets: WebSocket[] = [];
const dirs: string[] = [];
beforeEach(() => {
  vi.stubEnv('CONCLAVE_PASSPHRASE', PASS);
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const s of sockets.splice(0)) s.terminate();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface Quorum {
  keys: KeyPackage[];
  pub: PublicKeyPackage;
  groupPublicKey: string;
}

function quorum(): Quorum {
  const identifiers = MEMBERS.map((m) => frost.identifier.derive(m));
  const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers });
  return {
    keys: identifiers.map((id) => frost.keys.keyPackage(dealt.shares[id]!)),
    pub: dealt.publicKeyPackage,
    groupPublicKey: bytesToHex(dealt.publicKeyPackage.verifyingKey),
  };
}

/** Two members sign `message` (FROST, RFC 9591 §5): an ordinary Ed25519 signature, hex. */
function quorumSign(q: Quorum, message: Uint8Array): string {
  const keys = q.keys.slice(0, 2);
  const r1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    r1.map((r) => r.commitments),
    message,
  );
  const shares = keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k));
  return bytesToHex(frost.aggregate(pkg, shares, q.pub).bytes);
}

/** alice's home holding her share of `web` (group `q`); the members' identity keys. */
async function aliceHome(
  q: Quorum,
): Promise<{ dir: string; ids: Record<string, IdentityKey>; keys: Record<string, string> }> {
  const root = mkdtempSync(join(tmpdir(), 'conclave-cli-header-'));
  dirs.push(root);
  const dir = join(root, 'alice');
  const home = await Home.init(dir, 'alice', PASS, KDF);
  const ids: Record<string, IdentityKey> = {};
  for (const m of MEMBERS) ids[m] = generateIdentityKey();
  const meta: ShareMetadata = {
    kind: 'frost-key-package',
    group: GROUP,
    member: 'alice',
    suite: 'FROST-ED25519-SHA512-v1',
    threshold: 2,
    groupPublicKey: q.groupPublicKey,
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', q.pub)),
    participants: MEMBERS.map((m) => ({
      member: m,
      identifier: frost.identifier.derive(m),
      identityKey: m === 'alice' ? home.config.identityKey : bytesToHex(ids[m]!.publicKey),
    })),
    ceremonyId: 'c_keyceremony0001',
    createdAt: new Date(0).toISOString(),
  };
  await home.saveShare(q.keys[0]!, meta, PASS);
  const keys = Object.fromEntries(meta.participants.map((p) => [p.member, p.identityKey]));
  return { dir, ids, keys };
}

const sharePath = (dir: string): string => join(dir, 'shares', `${GROUP}.key`);

/** What someone who can write the home but lacks the passphrase can do: edit the header. */
function editHeader(path: string, edit: (meta: Record<string, unknown>) => void): void {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { metadata: Record<string, unknown> };
  edit(doc.metadata);
  writeFileSync(`${path}.edit`, `${canonicalJson(doc)}\n`, { mode: 0o600 });
  renameSync(`${path}.edit`, path);
}

const swapGroupKey = (to: string) => (meta: Record<string, unknown>) => {
  meta['groupPublicKey'] = to;
};

/** Edits the header right after the command's (authenticated) opening of the share. */
function editAfterLoad(path: string, edit: (meta: Record<string, unknown>) => void) {
  const load = Home.prototype.loadShare;
  return vi.spyOn(Home.prototype, 'loadShare').mockImplementation(async function (
    this: Home,
    ...args: Parameters<Home['loadShare']>
  ) {
    const loaded = await load.apply(this, args);
    editHeader(path, edit);
    return loaded;
  });
}

type Frame = { type?: string; ceremonyId?: string } & Record<string, unknown>;
type Reply = (ws: WebSocket, msg: Frame) => void;

/** /v1/info, /v1/challenge, auth.ok; every other frame goes to `reply`. */
async function fakeCoordinator(coordinator: IdentityKey, reply: Reply): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  let origin = '';
  const server = createServer((req, res) => {
    if (req.url === '/v1/info') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          protocolVersion: PROTOCOL_VERSION,
          origin,
          coordinatorKey: bytesToHex(coordinator.publicKey),
          adminKey: bytesToHex(generateIdentityKey().publicKey),
        }),
      );
      return;
    }
    if (req.url === '/v1/challenge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'auth.challenge',
          protocolVersion: PROTOCOL_VERSION,
          challenge: bytesToHex(new Uint8Array(32).fill(9)),
          origin,
          expiresAt: Date.now() + 30_000,
        }),
      );
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      ws.send(JSON.stringify({ type: 'auth.ok', member: req.headers['x-conclave-member'] }));
      ws.on('message', (data) => reply(ws, JSON.parse(String(data)) as Frame));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

/** Answers policy, revocation and hotfix queries: `policy` is what policy.get returns. */
function governanceReplies(policy: () => PolicyInfo): Reply {
  return (ws, msg) => {
    if (msg.type === 'policy.get') ws.send(JSON.stringify(policy()));
    if (msg.type === 'revocations.get')
      ws.send(JSON.stringify({ type: 'revocations', group: GROUP, offset: 0, entries: [] }));
    if (msg.type === 'hotfix.list.get')
      ws.send(JSON.stringify({ type: 'hotfix.list', hotfixes: [] }));
  };
}

const policyDoc = (version: number): PolicyDocument =>
  ({
    schema: 'conclave-policy/v1',
    group: GROUP,
    version,
    classes: { standard: { quorum: 2 } },
  }) as PolicyDocument;

/** Policy v1 as the coordinator serves it, signed by quorum `q` for the key `q` holds. */
function signedPolicy(q: Quorum): PolicyInfo {
  const document = policyDoc(1);
  const release: Release = {
    version: 'policy-1',
    class: 'policy',
    note: '',
    artifacts: [documentArtifact('p.json', document)],
    formats: ['dsse'],
    policy: document,
  };
  const context: StatementContext = {
    ceremonyId: 'c_policy10000000000000000000000',
    group: GROUP,
    groupPublicKey: q.groupPublicKey,
    requester: 'alice',
    approvers: [],
    policyId: `${GROUP}@v0`,
    issuedAt: 0,
  };
  return {
    type: 'policy.info',
    group: GROUP,
    version: 1,
    policyId: `${GROUP}@v1`,
    latest: 1,
    threshold: 2,
    document,
    signed: {
      ceremonyId: context.ceremonyId,
      groupPublicKey: q.groupPublicKey,
      statement: JSON.parse(JSON.stringify(buildStatement(release, context))) as Record<
        string,
        unknown
      >,
      signature: quorumSign(q, messageToSign(release, context)),
      signedAt: 0,
    },
  };
}

function recorder(): Ctx & { results: Record<string, unknown>[] } {
  const results: Record<string, unknown>[] = [];
  return { json: true, results, progress: () => undefined, result: (doc) => results.push(doc) };
}

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (e as { code?: string }).code,
  );

/**
 * alice's home holding her share of group `q`; with `swapHeader`, its header is edited to name
 * mallory's group key before the command runs. The fake coordinator serves policy v1 signed by
 * `policyBy`'s quorum.
 */
async function governanceCase(o: { swapHeader: boolean; policyBy: 'alice' | 'mallory' }) {
  const q = quorum();
  const mallory = quorum();
  const { dir } = await aliceHome(q);
  if (o.swapHeader) editHeader(sharePath(dir), swapGroupKey(mallory.groupPublicKey));
  const signer = o.policyBy === 'alice' ? q : mallory;
  const url = await fakeCoordinator(
    generateIdentityKey(),
    governanceReplies(() => signedPolicy(signer)),
  );
  return { q, dir, url, ctx: recorder() };
}

describe('policy and revocation commands verify under the authenticated group key', () => {
  it('policy show: a policy signed by the true quorum verifies', async () => {
    const { dir, url, ctx } = await governanceCase({ swapHeader: false, policyBy: 'alice' });
    await cmdPolicyShow(GROUP, { home: dir, coordinator: url }, ctx);
    expect(ctx.results[0]).toMatchObject({ group: GROUP, version: 1, verified: true });
  });

  it('policy show: a header naming another group key fails to open (KEYSTORE_DECRYPT_FAILED)', async () => {
    const { dir, url, ctx } = await governanceCase({ swapHeader: true, policyBy: 'mallory' });
    expect(await codeOf(cmdPolicyShow(GROUP, { home: dir, coordinator: url }, ctx))).toBe(
      'KEYSTORE_DECRYPT_FAILED',
    );
    expect(ctx.results).toEqual([]);
  });

  it('policy set: a header naming another group key fails to open (KEYSTORE_DECRYPT_FAILED)', async () => {
    const { dir, url, ctx } = await governanceCase({ swapHeader: true, policyBy: 'mallory' });
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ classes: { standard: { quorum: 3 } } }));
    const o = { home: dir, coordinator: url, file, wait: false, timeout: 5 };
    expect(await codeOf(cmdPolicySet(GROUP, o, ctx))).toBe('KEYSTORE_DECRYPT_FAILED');
    expect(ctx.results).toEqual([]);
  });

  it('release revocations: a header naming another group key fails to open (KEYSTORE_DECRYPT_FAILED)', async () => {
    const { dir, url, ctx } = await governanceCase({ swapHeader: true, policyBy: 'alice' });
    const o = { home: dir, coordinator: url, group: GROUP, out: join(dir, 'revocations.json') };
    expect(await codeOf(cmdReleaseRevocations(o, ctx))).toBe('KEYSTORE_DECRYPT_FAILED');
    expect(ctx.results).toEqual([]);
  });

  it('release revocations: the list names the true group key', async () => {
    const { q, dir, url, ctx } = await governanceCase({ swapHeader: false, policyBy: 'alice' });
    const o = { home: dir, coordinator: url, group: GROUP, out: join(dir, 'revocations.json') };
    await cmdReleaseRevocations(o, ctx);
    expect(ctx.results[0]).toMatchObject({ groupPublicKey: q.groupPublicKey, revocations: [] });
  });

  it('status: a header naming another group key leaves the policy unverified (KEYSTORE_DECRYPT_FAILED)', async () => {
    const { dir, url, ctx } = await governanceCase({ swapHeader: true, policyBy: 'mallory' });
    await cmdGovernanceStatus(undefined, { home: dir, coordinator: url }, ctx);
    expect(ctx.results[0]?.['policies']).toEqual([
      expect.objectContaining({ group: GROUP, verified: false, code: 'KEYSTORE_DECRYPT_FAILED' }),
    ]);
  });
});

/** A completed signing ceremony of `web` that carol requested. */
function completedCeremony(carol: IdentityKey): { status: CeremonyStatus; release: Release } {
  const ceremonyId = newCeremonyId();
  const release: Release = {
    version: '1.2.3',
    class: 'standard',
    note: '',
    artifacts: [
      {
        name: 'a.tgz',
        sha256: 'a'.repeat(64),
        sha512: 'b'.repeat(128),
        blake2b512: 'c'.repeat(128),
      },
    ],
    formats: ['dsse'],
  };
  const request: SignRequest = { type: 'sign.request', group: GROUP, release };
  const status: CeremonyStatus = {
    type: 'ceremony.status',
    ceremonyId,
    kind: 'sign',
    state: 'completed',
    group: GROUP,
    threshold: 2,
    members: [...MEMBERS],
    approvals: ['alice', 'bob'],
    rejections: [],
    session: 1,
    culprits: [],
    request: sealEnvelope(carol, {
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'carol',
      body: request,
    }),
    updatedAt: Date.now(),
  };
  return { status, release };
}

/**
 * A coordinator that answers the status of `status` and then re-sends its sign.complete: the
 * statement it signed names `groupPublicKey` (mallory's key), and mallory's quorum signed it.
 */
function completingCoordinator(
  coordinator: IdentityKey,
  status: CeremonyStatus,
  release: Release,
  signer: Quorum,
  identityKeys: Record<string, string>,
  statementKey = signer.groupPublicKey,
): Reply {
  return (ws, msg) => {
    if (msg.type !== 'ceremony.status.get' || msg.ceremonyId !== status.ceremonyId) return;
    ws.send(JSON.stringify(status));
    const context: StatementContext = {
      ceremonyId: status.ceremonyId,
      group: GROUP,
      groupPublicKey: statementKey,
      requester: 'carol',
      approvers: ['alice', 'bob'].map((m) => ({ member: m, identityKey: identityKeys[m]! })),
      policyId: `${GROUP}@v0`,
      issuedAt: status.updatedAt,
    };
    const signature = quorumSign(signer, messageToSign(release, context));
    const body = {
      type: 'sign.complete' as const,
      groupPublicKey: signer.groupPublicKey,
      signature,
      signatures: [{ job: 'dsse', signature }],
      keyCreatedAt: 0,
      statementDigest: statementDigest(buildStatement(release, context)),
      approvers: ['alice', 'bob'],
      signers: ['alice', 'bob'],
      policyId: context.policyId,
      issuedAt: context.issuedAt,
    };
    ws.send(
      JSON.stringify(
        sealEnvelope(coordinator, {
          ceremonyId: status.ceremonyId,
          round: '3',
          seq: 1,
          sender: 'coordinator',
          body,
        }),
      ),
    );
  };
}

/**
 * alice's home of group `q`, and a coordinator whose sign.complete for a ceremony carol requested
 * is signed by mallory's quorum over a statement naming `statementKey` (mallory's key unless
 * given).
 */
async function completedCase(statementKey?: (q: Quorum) => string) {
  const q = quorum();
  const mallory = quorum();
  const { dir, ids, keys } = await aliceHome(q);
  const coordinator = generateIdentityKey();
  const { status, release } = completedCeremony(ids['carol']!);
  const url = await fakeCoordinator(
    coordinator,
    completingCoordinator(
      coordinator,
      status,
      release,
      mallory,
      keys,
      statementKey?.(q) ?? mallory.groupPublicKey,
    ),
  );
  return { mallory, dir, ceremonyId: status.ceremonyId, url, ctx: recorder() };
}

describe('statements are rebuilt from the authenticated share, not a header edited under the command', () => {
  it('fetch: a group key swapped after the share was opened does not make a foreign signature match (STATEMENT_MISMATCH)', async () => {
    const { mallory, dir, ceremonyId, url, ctx } = await completedCase();
    const loads = editAfterLoad(sharePath(dir), swapGroupKey(mallory.groupPublicKey));
    const o = { home: dir, coordinator: url, out: join(dir, 'out') };
    expect(await codeOf(cmdFetch(ceremonyId, o, ctx))).toBe('STATEMENT_MISMATCH');
    expect(loads).toHaveBeenCalledTimes(1); // one scrypt for the command
    expect(ctx.results).toEqual([]);
  });

  it('release revoke: a group key swapped after the share was opened does not make a foreign signature match (STATEMENT_MISMATCH)', async () => {
    const { mallory, dir, ceremonyId, url, ctx } = await completedCase();
    const loads = editAfterLoad(sharePath(dir), swapGroupKey(mallory.groupPublicKey));
    const o = { home: dir, coordinator: url, reason: 'test', wait: false, timeout: 5 };
    expect(await codeOf(cmdReleaseRevoke(ceremonyId, o, ctx))).toBe('STATEMENT_MISMATCH');
    expect(loads).toHaveBeenCalledTimes(1); // one scrypt for the command
    expect(ctx.results).toEqual([]);
  });
});

describe('fetch checks the signature under the group key the statement names', () => {
  it('a sign.complete whose signature is under another key is refused (WRONG_GROUP)', async () => {
    // The statement names alice's true group key, but mallory's quorum signed it.
    const { dir, ceremonyId, url, ctx } = await completedCase((q) => q.groupPublicKey);
    const o = { home: dir, coordinator: url, out: join(dir, 'out') };
    expect(await codeOf(cmdFetch(ceremonyId, o, ctx))).toBe('WRONG_GROUP');
    expect(ctx.results).toEqual([]);
  });
});

describe('key export takes the group key from the authenticated share', () => {
  it('exports the true group key', async () => {
    const q = quorum();
    const { dir } = await aliceHome(q);
    const out = join(dir, 'quorum.pem');
    await cmdKeyExport(GROUP, { home: dir, format: 'pem', out }, recorder());
    const spki = createPublicKey(readFileSync(out, 'utf8')).export({ format: 'der', type: 'spki' });
    expect(bytesToHex(spki.subarray(-32))).toBe(q.groupPublicKey);
  });

  it('a header naming another group key fails to open (KEYSTORE_DECRYPT_FAILED); nothing is written', async () => {
    const q = quorum();
    const mallory = quorum();
    const { dir } = await aliceHome(q);
    editHeader(sharePath(dir), swapGroupKey(mallory.groupPublicKey));
    const out = join(dir, 'quorum.pem');
    const ctx = recorder();
    expect(await codeOf(cmdKeyExport(GROUP, { home: dir, format: 'pem', out }, ctx))).toBe(
      'KEYSTORE_DECRYPT_FAILED',
    );
    expect(existsSync(out)).toBe(false);
    expect(ctx.results).toEqual([]);
  });

  it('--out replaces an earlier export, but never writes through a symlink (OUTPUT_IS_SYMLINK)', async () => {
    const q = quorum();
    const { dir } = await aliceHome(q);
    const out = join(dir, 'quorum.pem');
    writeFileSync(out, 'an earlier export');
    await cmdKeyExport(GROUP, { home: dir, format: 'pem', out }, recorder());
    expect(readFileSync(out, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    rmSync(out);
    symlinkSync(victim, out);
    expect(await codeOf(cmdKeyExport(GROUP, { home: dir, format: 'pem', out }, recorder()))).toBe(
      'OUTPUT_IS_SYMLINK',
    );
    expect(readFileSync(victim, 'utf8')).toBe('keep');
  });
});

/**
 * A record of a completed ceremony carol requested, as alice's home keeps it (release, requester,
 * group, the sign.complete outcome; no statement context yet): signed by `signer`'s quorum over a
 * statement naming `signer`'s group key.
 */
async function recordCompleted(dir: string, signer: Quorum, keys: Record<string, string>) {
  const ceremonyId = newCeremonyId();
  const { release } = completedCeremony(generateIdentityKey());
  const context: StatementContext = {
    ceremonyId,
    group: GROUP,
    groupPublicKey: signer.groupPublicKey,
    requester: 'carol',
    approvers: ['alice', 'bob'].map((m) => ({ member: m, identityKey: keys[m]! })),
    policyId: `${GROUP}@v0`,
    issuedAt: 1_700_000_000_000,
  };
  const signature = quorumSign(signer, messageToSign(release, context));
  const home = await Home.open(dir, KDF);
  await home.saveRecord(ceremonyId, {
    group: GROUP,
    requester: 'carol',
    release,
    outcome: {
      state: 'completed',
      groupPublicKey: signer.groupPublicKey,
      signature,
      signatures: [{ job: 'dsse', signature }],
      keyCreatedAt: 0,
      statementDigest: statementDigest(buildStatement(release, context)),
      approvers: ['alice', 'bob'],
      signers: ['alice', 'bob'],
      policyId: context.policyId,
      issuedAt: context.issuedAt,
    },
  });
  return ceremonyId;
}

describe('fetch rebuilds a recorded statement offline from the authenticated share', () => {
  // No coordinator anywhere: the rebuild is offline or the command fails to connect.
  const offline = (dir: string) => ({
    home: dir,
    coordinator: 'http://127.0.0.1:9',
    out: join(dir, 'out'),
  });

  it('a record signed by the true quorum is rebuilt and written without the coordinator', async () => {
    const q = quorum();
    const { dir, keys } = await aliceHome(q);
    const id = await recordCompleted(dir, q, keys);
    const ctx = recorder();
    await cmdFetch(id, offline(dir), ctx);
    expect(ctx.results).toHaveLength(1);
    expect(existsSync(join(dir, 'out'))).toBe(true);
    const saved = await (await Home.open(dir, KDF)).loadRecord(id);
    expect(saved?.['context']).toMatchObject({ groupPublicKey: q.groupPublicKey });
  });

  it("a header naming another group key fails to open (KEYSTORE_DECRYPT_FAILED); mallory's signature is not written", async () => {
    const q = quorum();
    const mallory = quorum();
    const { dir, keys } = await aliceHome(q);
    const id = await recordCompleted(dir, mallory, keys);
    editHeader(sharePath(dir), swapGroupKey(mallory.groupPublicKey));
    const ctx = recorder();
    expect(await codeOf(cmdFetch(id, offline(dir), ctx))).toBe('KEYSTORE_DECRYPT_FAILED');
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(ctx.results).toEqual([]);
    const saved = await (await Home.open(dir, KDF)).loadRecord(id);
    expect(saved?.['context']).toBeUndefined();
  });

  it('without a passphrase at hand the rebuild is refused (PASSPHRASE_REQUIRED)', async () => {
    const q = quorum();
    const { dir, keys } = await aliceHome(q);
    const id = await recordCompleted(dir, q, keys);
    vi.stubEnv('CONCLAVE_PASSPHRASE', '');
    const ctx = recorder();
    expect(await codeOf(cmdFetch(id, offline(dir), ctx))).toBe('PASSPHRASE_REQUIRED');
    expect(ctx.results).toEqual([]);
  });
});

/** Runs `fn` with stdout captured (the bundle below fails its checks: not this test's subject). */
const captureStdout = async (fn: () => Promise<void>): Promise<string> => (await captured(fn)).out;

describe('audit checks a bundle under the group key of the authenticated share', () => {
  /** A signing bundle of `web` (its checks fail: only the keys it is checked against matter). */
  function bundleFile(dir: string): string {
    const file = join(dir, 'bundle.json');
    const key = bytesToHex(generateIdentityKey().publicKey);
    writeFileSync(
      file,
      JSON.stringify({
        format: BUNDLE_FORMAT,
        ceremonyId: newCeremonyId(),
        kind: 'sign',
        keys: { coordinator: key, admin: key, log: 'log.example/x+00000000+AA' },
        group: { name: GROUP, epochs: [] },
        registry: [],
        transcript: [],
        recorded: { state: 'completed', culprits: [] },
        log: null,
      }),
    );
    return file;
  }
  const pins = () => ({
    coordinatorKey: bytesToHex(generateIdentityKey().publicKey),
    adminPublicKey: bytesToHex(generateIdentityKey().publicKey),
    logKey: encodeVerifierKey('log.example/test', generateIdentityKey().publicKey),
  });

  it("uses the share's group key, opened with the passphrase", async () => {
    const q = quorum();
    const { dir } = await aliceHome(q);
    const out = await captureStdout(() =>
      cmdAudit(bundleFile(dir), { home: dir, ...pins() }, recorder()),
    );
    const doc = JSON.parse(out) as { trust: { groupPublicKey: unknown } };
    expect(doc.trust.groupPublicKey).toEqual({ key: q.groupPublicKey, source: 'share' });
  });

  it('a header naming another group key fails to open (KEYSTORE_DECRYPT_FAILED); no report', async () => {
    const q = quorum();
    const mallory = quorum();
    const { dir } = await aliceHome(q);
    editHeader(sharePath(dir), swapGroupKey(mallory.groupPublicKey));
    let code: string | undefined;
    const out = await captureStdout(async () => {
      code = await codeOf(cmdAudit(bundleFile(dir), { home: dir, ...pins() }, recorder()));
    });
    expect(code).toBe('KEYSTORE_DECRYPT_FAILED');
    expect(out).toBe('');
  });

  it('without a passphrase at hand it says --group-key is needed (KEYS_NOT_PINNED)', async () => {
    const q = quorum();
    const { dir } = await aliceHome(q);
    vi.stubEnv('CONCLAVE_PASSPHRASE', '');
    let err: { code?: string; message?: string } | undefined;
    const out = await captureStdout(async () => {
      await cmdAudit(bundleFile(dir), { home: dir, ...pins() }, recorder()).catch(
        (e: unknown) => (err = e as typeof err),
      );
    });
    expect(err?.code).toBe('KEYS_NOT_PINNED');
    expect(err?.message).toContain('--group-key HEX');
    expect(err?.message).toContain('CONCLAVE_PASSPHRASE');
    expect(out).toBe('');
  });
});

describe('log verify marks witness signatures verified only under keys of the authenticated share', () => {
  const ORIGIN = 'log.example/test';

  /**
   * An empty log whose newest checkpoint bob cosigned, or `forger` in bob's name; served
   * over HTTP as the coordinator serves it.
   */
  async function cosignedLog(bob: IdentityKey, forger?: IdentityKey, split = false) {
    const log = generateIdentityKey();
    const root = createHash('sha256').digest(); // RFC 9162 §2.1.1: MTH({}) = HASH()
    const cosigned = (r: Uint8Array) => {
      const signed = signCheckpoint(ed25519NoteSigner(ORIGIN, log), {
        origin: ORIGIN,
        size: 0,
        root: r,
      });
      const body = openCheckpoint(signed, ed25519NoteVerifier(ORIGIN, log.publicKey)).body;
      return (
        signed +
        formatSignatureLine(
          cosign({ name: 'conclave.member/bob', key: forger ?? bob }, body, 1_700_000_000),
        )
      );
    };
    const note = cosigned(root);
    // A split view: the newest checkpoint (what members witness) has another root, same size.
    const newest = split ? cosigned(createHash('sha256').update('another history').digest()) : note;
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.startsWith('/v1/log/leaves')) res.end(JSON.stringify({ leaves: [] }));
      else if (url.startsWith('/v1/log/checkpoints'))
        res.end(JSON.stringify({ checkpoints: [note] }));
      else if (url === '/v1/log/checkpoint') res.end(newest);
      else res.end('{}');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      logKey: encodeVerifierKey(ORIGIN, log.publicKey),
    };
  }

  async function witnesses(dir: string, url: string, logKey: string) {
    const out = await captureStdout(() =>
      cmdLogVerify({ home: dir, coordinator: url, logKey }, recorder()),
    );
    return (JSON.parse(out) as { witnesses: { name: string; verified: boolean }[] }).witnesses;
  }

  it("bob's cosignature verifies under bob's key from the share opened with the passphrase", async () => {
    const { dir, ids } = await aliceHome(quorum());
    const { url, logKey } = await cosignedLog(ids['bob']!);
    expect(await witnesses(dir, url, logKey)).toEqual([
      { name: 'conclave.member/bob', verified: true },
    ]);
  });

  it("a header naming mallory's key as bob's fails to open (KEYSTORE_DECRYPT_FAILED); mallory's cosignature is not shown verified", async () => {
    const { dir, ids } = await aliceHome(quorum());
    const mallory = generateIdentityKey();
    const { url, logKey } = await cosignedLog(ids['bob']!, mallory);
    editHeader(sharePath(dir), (meta) => {
      const participants = meta['participants'] as { member: string; identityKey: string }[];
      participants.find((p) => p.member === 'bob')!.identityKey = bytesToHex(mallory.publicKey);
    });
    let code: string | undefined;
    const out = await captureStdout(async () => {
      code = await codeOf(cmdLogVerify({ home: dir, coordinator: url, logKey }, recorder()));
    });
    expect(code).toBe('KEYSTORE_DECRYPT_FAILED');
    expect(out).toBe('');
  });

  it('a newest checkpoint of the same size with another root: LOG_FORK_DETECTED, and its cosigners are not shown', async () => {
    const { dir, ids } = await aliceHome(quorum());
    const { url, logKey } = await cosignedLog(ids['bob']!, undefined, true);
    const { out, exitCode } = await captured(() =>
      cmdLogVerify({ home: dir, coordinator: url, logKey }, recorder()),
    );
    const doc = JSON.parse(out) as {
      ok: boolean;
      witnesses: unknown[];
      error: { checkCode: string };
    };
    expect(doc.ok).toBe(false);
    expect(doc.witnesses).toEqual([]);
    expect(doc.error.checkCode).toBe('LOG_FORK_DETECTED');
    expect(exitCode).toBe(1);
  });

  it("without a passphrase at hand other members' cosignatures stay unverified", async () => {
    const { dir, ids } = await aliceHome(quorum());
    const { url, logKey } = await cosignedLog(ids['bob']!);
    vi.stubEnv('CONCLAVE_PASSPHRASE', '');
    expect(await witnesses(dir, url, logKey)).toEqual([
      { name: 'conclave.member/bob', verified: false },
    ]);
  });
});
