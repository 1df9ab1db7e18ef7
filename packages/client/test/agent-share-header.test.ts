// A member session decides whom to trust (the identity keys that verify a requester's signature,
// the group key that verifies a policy) from its share's header. That header is authenticated only
// when the keystore is opened with the passphrase (keystore.ts): someone who can write the home but
// lacks the passphrase must not be able to swap a key under a long-running agent. Driven through a
// real socket against a small fake coordinator.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  bytesToHex,
  canonicalJson,
  generateIdentityKey,
  type CeremonyStatus,
} from '@conclave/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemberSession } from '../src/index.js';
import {
  PASS,
  aliceHome,
  cleanup,
  fakeCoordinator,
  sessions,
  signStatus,
} from './session-fixture.js';

afterEach(cleanup);

/** What someone who can write the home but lacks the passphrase can do: edit the header. */
function editHeader(path: string, edit: (meta: Record<string, unknown>) => void): void {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { metadata: Record<string, unknown> };
  edit(doc.metadata);
  writeFileSync(`${path}.edit`, `${canonicalJson(doc)}\n`, { mode: 0o600 });
  renameSync(`${path}.edit`, path);
}

describe('MemberSession trusts only the authenticated share header', () => {
  it('an edited identity key in the share header does not make a forged request verify (REQUEST_INVALID)', async () => {
    const { home, ids } = await aliceHome();
    const statuses = new Map<string, CeremonyStatus>();
    const url = await fakeCoordinator(statuses, generateIdentityKey());
    const session = await MemberSession.open({ home, passphrase: PASS, coordinatorUrl: url });
    sessions.push(session);
    const loads = vi.spyOn(home, 'loadShare');

    // A genuine request reviews fine; the share is opened once (what approve pays anyway).
    const genuine = signStatus(ids['carol']!, 'carol');
    statuses.set(genuine.ceremonyId, genuine);
    const { review } = await session.review(genuine.ceremonyId);
    expect(review.requester).toBe('carol');
    await session.share('web'); // approve's own load: cached, no second scrypt
    expect(loads).toHaveBeenCalledTimes(1);

    // mallory swaps carol's identity key in the header of alice's share file.
    const mallory = generateIdentityKey();
    editHeader(home.sharePath('web'), (meta) => {
      for (const p of meta['participants'] as { member: string; identityKey: string }[]) {
        if (p.member === 'carol') p.identityKey = bytesToHex(mallory.publicKey);
      }
    });
    const forged = signStatus(mallory, 'carol');
    statuses.set(forged.ceremonyId, forged);
    await expect(session.review(forged.ceremonyId)).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
    });
    expect(loads).toHaveBeenCalledTimes(1);
  });

  it('an edited header that also names another key ceremony fails to open (KEYSTORE_DECRYPT_FAILED)', async () => {
    const { home } = await aliceHome();
    const statuses = new Map<string, CeremonyStatus>();
    const url = await fakeCoordinator(statuses, generateIdentityKey());
    const session = await MemberSession.open({ home, passphrase: PASS, coordinatorUrl: url });
    sessions.push(session);
    await session.share('web');

    const mallory = generateIdentityKey();
    editHeader(home.sharePath('web'), (meta) => {
      meta['ceremonyId'] = 'c_keyceremony0002';
      for (const p of meta['participants'] as { member: string; identityKey: string }[]) {
        if (p.member === 'carol') p.identityKey = bytesToHex(mallory.publicKey);
      }
    });
    const forged = signStatus(mallory, 'carol');
    statuses.set(forged.ceremonyId, forged);
    await expect(session.review(forged.ceremonyId)).rejects.toMatchObject({
      code: 'KEYSTORE_DECRYPT_FAILED',
    });
  });
});
