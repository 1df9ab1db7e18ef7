// THREATS B.34: no secret is kept after it is needed. A refresh or reshare dealer's part 1 makes a
// sub-share for every new member in plaintext; once sealed into their boxes the others' are wiped
// (its own is kept for its own part 2, and wiped there).
import type * as FrostModule from '@conclave/frost';
import type { ReshareRound1Share } from '@conclave/frost';
import { bodyHash, bytesToHex, type SealedBody } from '@conclave/protocol';
import { describe, expect, it, vi } from 'vitest';

/** Per dealer identifier: the sub-shares its part 1 made, by recipient identifier. */
const captured: Record<string, ReshareRound1Share>[] = [];

vi.mock('@conclave/frost', async (importOriginal) => {
  const mod = await importOriginal<typeof FrostModule>();
  const real = mod.ed25519;
  const refresh = {
    ...real.keys.refresh,
    part1: (...args: Parameters<typeof real.keys.refresh.part1>) => {
      const out = real.keys.refresh.part1(...args);
      captured.push(out.shares as Record<string, ReshareRound1Share>);
      return out;
    },
  };
  return { ...mod, ed25519: { ...real, keys: { ...real.keys, refresh } } };
});

const { ed25519: frost } = await import('@conclave/frost');
const { LifecycleParticipant } = await import('../src/index.js');
const { refreshFixture } = await import('./refresh-fixture.js');

const zero = (b: Uint8Array) => b.every((x) => x === 0);

describe('lifecycle participant: dealt sub-shares', () => {
  it('wipes the sub-shares it made for the others once they are sealed', async () => {
    const names = ['alice', 'bob', 'carol'];
    const { admin, ids, dealt, pub, ceremonyId, start, share } = refreshFixture(names, 'web');
    const outbox: { from: string; body: SealedBody }[] = [];
    const alice = new LifecycleParticipant(
      {
        member: 'alice',
        key: ids['alice']!,
        adminKey: admin.publicKey,
        send: async (_c, _r, body) => {
          outbox.push({ from: 'alice', body });
        },
        loadShare: async () => share('alice'),
        stage: async () => '/pending/alice',
        commit: async (_g, path) => path,
        discard: async () => undefined,
      },
      ceremonyId,
      start,
    );
    await alice.begin();
    expect(captured).toHaveLength(1);
    const made = captured[0]!;
    const own = frost.identifier.derive('alice');
    const others = Object.keys(made).filter((k) => k !== own);
    expect(others).toHaveLength(2);
    for (const k of others) expect(zero(made[k]!.subShare)).toBe(false);
    // The other dealers' round-1 packages (real ones: alice checks them only in round 2).
    const packages = names.map((m) => {
      if (m === 'alice') {
        const mine = outbox.find((o) => o.body.type === 'key.round1')!.body as { package: string };
        return { member: m, package: mine.package };
      }
      const kp = frost.keys.keyPackage(dealt.shares[frost.identifier.derive(m)]!);
      const out = frost.keys.refresh.part1(
        kp,
        pub,
        names.map((d) => frost.identifier.derive(d)),
      );
      return {
        member: m,
        package: bytesToHex(frost.encode.bytes('ReshareRound1Package', out.package)),
      };
    });
    await alice.handle({
      ceremonyId,
      round: '0',
      seq: 2,
      sender: 'coordinator',
      body: { type: 'key.round1.all', packages, boxes: [] },
      bodyHash: bodyHash({ type: 'key.round1.all', packages, boxes: [] }),
    });
    expect(outbox.map((o) => o.body.type)).toEqual(['key.round1', 'key.round2']);
    // Sealed and sent: the plaintext sub-shares for bob and carol are gone; alice's own is still
    // needed for her part 2.
    for (const k of others) expect(zero(made[k]!.subShare)).toBe(true);
    expect(zero(made[own]!.subShare)).toBe(false);
  });
});
