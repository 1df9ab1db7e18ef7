// THREATS B.30: a revocation that cannot be applied to an open ceremony at once (a failed write) is
// retried before that ceremony's next event; until then it is only logged. It is also counted on
// /metrics, so an operator can alert on it.
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  metricsText,
  connectAdmin,
  expectAck,
  failCeremonyWrites,
  openOfflineDkg,
  testScope,
  threeMembers,
} from './helpers.js';

const { fresh } = testScope();

const METRIC = 'conclave_revocation_apply_failures_total';

async function scrape(handle: Parameters<typeof metricsText>[0]): Promise<number | undefined> {
  const text = await metricsText(handle);
  const line = text.split('\n').find((l) => l.startsWith(`${METRIC} `));
  return line === undefined ? undefined : Number(line.slice(METRIC.length + 1));
}

describe('revocation apply failures on /metrics (B.30)', () => {
  it(`counts a revocation whose write to an open ceremony failed in ${METRIC}`, async () => {
    const t = await fresh();
    const admin = await connectAdmin(t);
    // The group's DKG stays open: its members are offline.
    const id = await openOfflineDkg(admin, threeMembers());
    expect(await scrape(t.handle)).toBe(0);

    const store = t.handle.store;
    const failures = failCeremonyWrites(store, id);
    // The revocation itself commits (ack); applying it to the open key ceremony fails.
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.revoke',
        member: 'bob',
        reason: 'device lost',
      }),
    );
    expect(failures()).toBe(1);
    expect(await scrape(t.handle)).toBe(1);
    expect(store.getCeremony(id)?.open).toBe(true);
  });
});
