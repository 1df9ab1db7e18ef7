// A dkg.abort that arrives once dkg.complete verified (every member's signed confirmation in
// hand: the group key exists for everyone) must not touch the share being saved. The abort used
// to wipe the key package while the save was still awaiting, so the member saved a zeroed share
// (or none) of an active group — a coordinator could do that to any member it liked.
import { ed25519 as frost, type KeyPackage } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bodyHash,
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  type DkgStart,
  type OpenedEnvelope,
  type SealedBody,
} from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { DkgParticipant } from '../src/index.js';

const NAMES = ['alice', 'bob', 'carol'];

describe('dkg participant: a dkg.abort after a verified dkg.complete', () => {
  it('leaves the share being saved intact and the result a success', async () => {
    const admin = generateIdentityKey();
    const ids = Object.fromEntries(NAMES.map((n) => [n, generateIdentityKey()]));
    const ceremonyId = newCeremonyId();
    const members = NAMES.map((m) => ({ member: m, identityKey: bytesToHex(ids[m]!.publicKey) }));
    const start: DkgStart = {
      type: 'dkg.start',
      group: 'web',
      threshold: 2,
      participants: members.map((m) => ({ ...m, identifier: frost.identifier.derive(m.member) })),
      protocolVersion: PROTOCOL_VERSION,
      authorization: sealEnvelope(admin, {
        ceremonyId,
        round: '0',
        seq: Date.now() * 1000,
        sender: 'admin',
        body: { type: 'admin.group.create', group: 'web', threshold: 2, members },
      }),
    };
    const outbox: { from: string; body: SealedBody }[] = [];
    const saved = new Map<string, string>();
    const parts = new Map(
      NAMES.map((m) => [
        m,
        new DkgParticipant(
          {
            member: m,
            key: ids[m]!,
            adminKey: admin.publicKey,
            send: async (_c, _r, body) => {
              outbox.push({ from: m, body });
            },
            // A real save awaits the file system (mkdir) before it encodes the key package.
            save: async (kp: KeyPackage) => {
              await new Promise((r) => setTimeout(r, 20));
              saved.set(m, bytesToHex(frost.encode.bytes('KeyPackage', kp)));
              return `/nowhere/${m}`;
            },
          },
          ceremonyId,
          start,
        ),
      ]),
    );
    const env = (body: SealedBody): OpenedEnvelope => ({
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'coordinator',
      body,
      bodyHash: bodyHash(body),
    });
    const take = (type: string) => outbox.splice(0).filter((o) => o.body.type === type);
    for (const p of parts.values()) await p.begin();
    const packages = take('dkg.round1').map((o) => ({
      member: o.from,
      package: (o.body as { package: string }).package,
    }));
    for (const p of parts.values()) await p.handle(env({ type: 'dkg.round1.all', packages }));
    const r2 = take('dkg.round2');
    for (const [m, p] of parts) {
      const boxes = r2.flatMap((o) =>
        (o.body as { boxes: { recipient: string }[] }).boxes
          .filter((b) => b.recipient === m)
          .map(({ recipient: _r, ...box }) => ({ sender: o.from, ...box })),
      );
      await p.handle(env({ type: 'dkg.round2.deliver', boxes } as SealedBody));
    }
    const confirms = take('dkg.confirm');
    const first = confirms[0]!.body as { round1Hash: string; groupPublicKey: string };
    const complete = {
      type: 'dkg.complete',
      groupPublicKey: first.groupPublicKey,
      round1Hash: first.round1Hash,
      confirmations: confirms.map((c) => ({
        member: c.from,
        signature: (c.body as { signature: string }).signature,
      })),
    } as SealedBody;
    const alice = parts.get('alice')!;
    const completing = alice.handle(env(complete));
    await alice.handle(
      env({ type: 'dkg.abort', code: 'DEADLINE_EXCEEDED', message: 'late', culprits: [] }),
    );
    await completing;
    const result = await alice.result.then(
      (r) => r.groupPublicKey,
      (e: Error) => e.message,
    );
    expect(result).toBe(first.groupPublicKey);
    const kp = frost.decode.bytes('KeyPackage', Buffer.from(saved.get('alice')!, 'hex'));
    expect(kp.signingShare.some((b) => b !== 0)).toBe(true);
  });
});
