// A member session against a small fake coordinator over a real socket: alice's home with a dealt
// share of `web` (2 of alice, bob, carol), and signing requests sealed by any identity.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 as frost } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  type CeremonyStatus,
  type IdentityKey,
  type SignRequest,
} from '@conclave/protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { Home, type MemberSession, type ShareMetadata } from '../src/index.js';

export const PASS = 'share-header-test-passphrase';
const WEAK = { kdfParams: { N: 2 ** 10, r: 8, p: 1 }, allowWeakKdf: true } as const;
export const MEMBERS = ['alice', 'bob', 'carol'] as const;

const servers: Server[] = [];
/** The fake coordinator's side of every connection, newest last. */
export const sockets: WebSocket[] = [];
/** Sessions to close after each test. */
export const sessions: MemberSession[] = [];
const dirs: string[] = [];

/** Closes what a test opened (call from afterEach). */
export async function cleanup(): Promise<void> {
  for (const s of sessions.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const s of sockets.splice(0)) s.terminate();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
}

/** The answer to POST /v1/challenge: a fixed challenge for `origin`. */
export function answerChallenge(res: ServerResponse, origin: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      type: 'auth.challenge',
      protocolVersion: PROTOCOL_VERSION,
      challenge: bytesToHex(new Uint8Array(32).fill(7)),
      origin,
      expiresAt: Date.now() + 30_000,
    }),
  );
}

/** Answers /v1/info, /v1/challenge, auth.ok, and ceremony.status.get with `statuses`. */
export async function fakeCoordinator(
  statuses: Map<string, CeremonyStatus>,
  coordinator: IdentityKey,
): Promise<string> {
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
    answerChallenge(res, origin);
  });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      ws.send(JSON.stringify({ type: 'auth.ok', member: req.headers['x-conclave-member'] }));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type?: string; ceremonyId?: string };
        if (msg.type === 'ceremony.status.get' && msg.ceremonyId !== undefined) {
          const st = statuses.get(msg.ceremonyId);
          if (st !== undefined) ws.send(JSON.stringify(st));
        }
      });
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

/** alice's home with a dealt share of `web`; the other members' identity keys. */
export async function aliceHome(): Promise<{ home: Home; ids: Record<string, IdentityKey> }> {
  const identifiers = MEMBERS.map((m) => frost.identifier.derive(m));
  const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers });
  const dir = mkdtempSync(join(tmpdir(), 'conclave-header-'));
  dirs.push(dir);
  const home = await Home.init(join(dir, 'alice'), 'alice', PASS, WEAK);
  const ids: Record<string, IdentityKey> = {};
  for (const m of MEMBERS) ids[m] = generateIdentityKey();
  const meta: ShareMetadata = {
    kind: 'frost-key-package',
    group: 'web',
    member: 'alice',
    suite: 'FROST-ED25519-SHA512-v1',
    threshold: 2,
    groupPublicKey: bytesToHex(dealt.publicKeyPackage.verifyingKey),
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', dealt.publicKeyPackage)),
    participants: MEMBERS.map((m) => ({
      member: m,
      identifier: frost.identifier.derive(m),
      // alice's own entry must match her home's identity key; the others are test keys
      identityKey: m === 'alice' ? home.config.identityKey : bytesToHex(ids[m]!.publicKey),
    })),
    ceremonyId: 'c_keyceremony0001',
    createdAt: new Date(0).toISOString(),
  };
  const kp = frost.keys.keyPackage(dealt.shares[frost.identifier.derive('alice')]!);
  await home.saveShare(kp, meta, PASS);
  return { home, ids };
}

/** A signing ceremony whose request `signer` sealed as `sender`. */
export function signStatus(signer: IdentityKey, sender: string): CeremonyStatus {
  const ceremonyId = newCeremonyId();
  const request: SignRequest = {
    type: 'sign.request',
    group: 'web',
    release: {
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
      formats: ['sshsig'],
    },
  };
  return {
    type: 'ceremony.status',
    ceremonyId,
    kind: 'sign',
    state: 'collectingApprovals',
    group: 'web',
    threshold: 2,
    members: [...MEMBERS],
    approvals: [],
    rejections: [],
    session: 0,
    culprits: [],
    request: sealEnvelope(signer, { ceremonyId, round: '0', seq: 1, sender, body: request }),
    updatedAt: Date.now(),
  };
}
