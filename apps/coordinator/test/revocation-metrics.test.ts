// THREATS B.30: a revocation that cannot be applied to an open ceremony at once (a failed write) is
// retried before that ceremony's next event; until then it is only logged. It is also counted on
// /metrics, so an operator can alert on it.
import { ProtocolError, newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { FakeMember, connect, expectAck, testScope } from './helpers.js';

const { fresh } = testScope();

const METRIC = 'conclave_revocation_apply_failures_total';

async function scrape(url: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${METRIC} `));
  return line === undefined ? undefined : Number(line.slice(METRIC.length + 1));
}

describe('revocation apply failures on /metrics (B.30)', () => {
  it(`counts a revocation whose write to an open ceremony failed in ${METRIC}`, async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    for (const m of members) {
      expectAck(
        await admin.submit(newCeremonyId(), {
          type: 'admin.member.add',
          member: m.name,
          identityKey: m.publicKey,
          roles: [],
        }),
      );
    }
    // The group's DKG stays open: its members are offline.
    const id = newCeremonyId();
    expectAck(
      await admin.submit(id, {
        type: 'admin.group.create',
        group: 'release',
        threshold: 2,
        members: members.map((m) => ({ member: m.name, identityKey: m.publicKey })),
      }),
    );
    expect(await scrape(t.handle.url)).toBe(0);

    const store = t.handle.store;
    const update = store.updateCeremony.bind(store);
    let failures = 0;
    store.updateCeremony = (cid, u) => {
      if (cid === id) {
        failures += 1;
        throw new ProtocolError('STORAGE_UNAVAILABLE', 'disk I/O error');
      }
      update(cid, u);
    };
    // The revocation itself commits (ack); applying it to the open key ceremony fails.
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'bob',
        reason: 'device lost',
      }),
    );
    expect(failures).toBe(1);
    expect(await scrape(t.handle.url)).toBe(1);
    expect(store.getCeremony(id)?.open).toBe(true);
  });
});
