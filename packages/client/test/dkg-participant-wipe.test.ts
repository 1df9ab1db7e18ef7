// THREATS B.34 / brief: no secret is kept after it is needed. The round-2 packages part 2 makes
// hold the other members' secret shares f_i(j) in plaintext; once sealed into their boxes they are
// wiped, like the encoded plaintext already was.
import type * as FrostModule from '@conclave/frost';
import type { DkgRound2Package } from '@conclave/frost';
import {
  PROTOCOL_VERSION,
  bodyHash,
  bytesToHex,
  generateIdentityKey,
  newCeremonyId,
  sealEnvelope,
  type DkgStart,
  type SealedBody,
} from '@conclave/protocol';
import { describe, expect, it, vi } from 'vitest';

const captured: DkgRound2Package[] = [];

vi.mock('@conclave/frost', async (importOriginal) => {
  const mod = await importOriginal<typeof FrostModule>();
  const real = mod.ed25519;
  const dkg = {
    ...real.keys.dkg,
    part2: (...args: Parameters<typeof real.keys.dkg.part2>) => {
      const out = real.keys.dkg.part2(...args);
      captured.push(...Object.values(out.packages));
      return out;
    },
  };
  return { ...mod, ed25519: { ...real, keys: { ...real.keys, dkg } } };
});

const { ed25519: frost } = await import('@conclave/frost');
const { DkgParticipant } = await import('../src/index.js');

describe('dkg participant: round-2 plaintext shares', () => {
  it('wipes the shares it made for the others once they are sealed', async () => {
    const names = ['alice', 'bob', 'carol'];
    const admin = generateIdentityKey();
    const ids = Object.fromEntries(names.map((n) => [n, generateIdentityKey()]));
    const ceremonyId = newCeremonyId();
    const members = names.map((m) => ({ member: m, identityKey: bytesToHex(ids[m]!.publicKey) }));
    const authorization = sealEnvelope(admin, {
      ceremonyId,
      round: '0',
      seq: Date.now() * 1000,
      sender: 'admin',
      body: { type: 'admin.group.create', group: 'web', threshold: 2, members },
    });
    const start: DkgStart = {
      type: 'dkg.start',
      group: 'web',
      threshold: 2,
      participants: members.map((m) => ({ ...m, identifier: frost.identifier.derive(m.member) })),
      protocolVersion: PROTOCOL_VERSION,
      authorization,
    };
    const outbox: { from: string; body: SealedBody }[] = [];
    const parts = names.map(
      (m) =>
        new DkgParticipant(
          {
            member: m,
            key: ids[m]!,
            adminKey: admin.publicKey,
            send: async (_c, _r, body) => {
              outbox.push({ from: m, body });
            },
            save: async () => '/nowhere',
          },
          ceremonyId,
          start,
        ),
    );
    for (const p of parts) await p.begin();
    const packages = outbox.map((o) => ({
      member: o.from,
      package: (o.body as { package: string }).package,
    }));
    const body: SealedBody = { type: 'dkg.round1.all', packages };
    await parts[0]!.handle({
      ceremonyId,
      round: '0',
      seq: 1,
      sender: 'coordinator',
      body,
      bodyHash: bodyHash(body),
    });
    expect(outbox.at(-1)?.body.type).toBe('dkg.round2');
    expect(captured).toHaveLength(2);
    for (const pkg of captured) expect(pkg.signingShare.every((b) => b === 0)).toBe(true);
  });
});
