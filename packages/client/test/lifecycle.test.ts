// attachLifecycle (the member session's lifecycle glue). A dealer that leaves the committee in a
// reshare deletes its old share when the ceremony completes — only when the new committee's
// confirmations prove it did: a dkg.complete anyone could make (the group key is public) must
// never make a member destroy a share that may still be needed.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 as frost } from '@conclave/frost';
import {
  bodyHash,
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  signDkgConfirmation,
  type IdentityKey,
  type KeyStart,
  type OpenedEnvelope,
  type SealedBody,
} from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/connection.js';
import type { Home, LoadedShare } from '../src/home.js';
import { attachLifecycle } from '../src/lifecycle.js';

const GROUP = 'web';

async function leavingDealer() {
  const admin = generateIdentityKey();
  const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const ids: Record<string, IdentityKey> = Object.fromEntries(
    names.map((n) => [n, generateIdentityKey()]),
  );
  const entry = (m: string) => ({
    member: m,
    identifier: frost.identifier.derive(m),
    identityKey: bytesToHex(ids[m]!.publicKey),
  });
  const old = ['alice', 'bob', 'carol'];
  const committee = ['dave', 'erin'];
  const dealt = frost.keys.dealer({
    minSigners: 2,
    maxSigners: 3,
    identifiers: old.map((m) => frost.identifier.derive(m)),
  });
  const pub = dealt.publicKeyPackage;
  const pubHex = bytesToHex(frost.encode.bytes('PublicKeyPackage', pub));
  const gpk = bytesToHex(pub.verifyingKey);
  const ceremonyId = newCeremonyId();
  const start: KeyStart = {
    type: 'key.start',
    kind: 'reshare',
    group: GROUP,
    fromEpoch: 0,
    toEpoch: 1,
    groupPublicKey: gpk,
    publicKeyPackage: pubHex,
    previousThreshold: 2,
    previous: old.map(entry),
    threshold: 2,
    participants: committee.map(entry),
    dealers: ['alice', 'bob'],
    authorization: sealEnvelope(admin, {
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'admin',
      body: {
        type: 'admin.group.reshare',
        group: GROUP,
        epoch: 0,
        groupPublicKey: gpk,
        threshold: 2,
        members: committee.map((m) => ({ member: m, identityKey: entry(m).identityKey })),
        dealers: ['alice', 'bob'],
      },
    }),
  };
  const dir = await mkdtemp(join(tmpdir(), 'conclave-lc-'));
  const sharePath = join(dir, `${GROUP}.key`);
  await writeFile(sharePath, 'old share of alice');
  const share: LoadedShare = {
    metadata: {
      kind: 'frost-key-package',
      group: GROUP,
      member: 'alice',
      suite: 'FROST-ED25519-SHA512-v1',
      threshold: 2,
      groupPublicKey: gpk,
      publicKeyPackage: pubHex,
      participants: old.map(entry),
      ceremonyId: 'c_dkg0000000000',
      createdAt: new Date().toISOString(),
      epoch: 0,
    },
    keyPackage: frost.keys.keyPackage(dealt.shares[frost.identifier.derive('alice')]!),
    publicKeyPackage: pub,
  };
  const home = {
    name: 'alice',
    dir,
    config: { coordinator: { adminKey: bytesToHex(admin.publicKey) } },
    listShares: async () => [GROUP],
    loadShare: async () => share,
    sharePath: () => sharePath,
  } as unknown as Home;
  let onEnvelope: (env: OpenedEnvelope) => void = () => undefined;
  const sent: SealedBody[] = [];
  const connection = {
    onEnvelope: (f: (env: OpenedEnvelope) => void) => {
      onEnvelope = f;
    },
    onConnect: () => undefined,
    send: async (_c: string, _r: string, body: SealedBody) => {
      sent.push(body);
    },
    status: async () => ({ state: 'open' }),
  } as unknown as Connection;
  const lc = attachLifecycle({ connection, home, key: ids['alice']!, passphrase: 'pw' });
  const deliver = (body: SealedBody) =>
    onEnvelope({
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'coordinator',
      body,
      bodyHash: bodyHash(body),
    });
  deliver(start);
  for (let i = 0; i < 50 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(sent[0]?.type).toBe('key.round1');
  const settled = async () => {
    const p = lc.participants.get(ceremonyId);
    await p?.result.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
  };
  const confirm = (m: string, hash: Uint8Array) => ({
    member: m,
    signature: bytesToHex(
      signDkgConfirmation(ids[m]!, {
        ceremonyId,
        member: m,
        round1Hash: hash,
        groupPublicKey: pub.verifyingKey,
      }),
    ),
  });
  return { deliver, settled, sharePath, gpk, confirm, committee };
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
      confirmations: l.committee.map((m) => l.confirm(m, hash)),
    });
    await l.settled();
    await expect(readFile(l.sharePath, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
