// The lifecycle confirmation hash and message rules (docs/lifecycle.md): members agree iff they saw
// the same ceremony — every field counts, list order does not.
import { describe, expect, it } from 'vitest';
import {
  AdminGroupRepairSchema,
  AdminGroupReshareSchema,
  KeyStartSchema,
  bytesToHex,
  lifecycleHash,
  type LifecycleView,
} from '../src/index.js';
import { hex, sealedExamples } from './fixtures.js';

const participant = (member: string, n: number) => ({
  member,
  identifier: bytesToHex(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n : 0))),
  identityKey: hex(32, n),
});

const view: LifecycleView = {
  ceremonyId: 'c_0123456789abcdef',
  kind: 'reshare',
  group: 'release',
  fromEpoch: 1,
  toEpoch: 2,
  previousPublicKeyPackage: new Uint8Array(100).fill(1),
  threshold: 2,
  participants: [participant('alice', 1), participant('bob', 2), participant('carol', 3)],
  dealers: ['alice', 'bob'],
  packages: [
    { member: 'alice', package: hex(70, 1) },
    { member: 'bob', package: hex(70, 2) },
  ],
  publicKeyPackage: new Uint8Array(140).fill(2),
};

describe('lifecycleHash', () => {
  it('does not depend on list order', () => {
    const shuffled: LifecycleView = {
      ...view,
      participants: [...view.participants].reverse(),
      dealers: [...view.dealers].reverse(),
      packages: [...view.packages].reverse(),
    };
    expect(bytesToHex(lifecycleHash(shuffled))).toBe(bytesToHex(lifecycleHash(view)));
  });

  it('changes with every field: epochs, threshold, roster, dealers, packages, key packages', () => {
    const base = bytesToHex(lifecycleHash(view));
    const variants: LifecycleView[] = [
      { ...view, ceremonyId: 'c_fedcba9876543210' },
      { ...view, kind: 'refresh' },
      { ...view, group: 'web' },
      { ...view, fromEpoch: 0 },
      { ...view, toEpoch: 3 },
      { ...view, threshold: 3 },
      { ...view, participants: view.participants.slice(0, 2) },
      { ...view, dealers: ['alice', 'carol'] },
      { ...view, member: 'carol' },
      { ...view, packages: [view.packages[0]!, { member: 'bob', package: hex(70, 3) }] },
      { ...view, previousPublicKeyPackage: new Uint8Array(100).fill(3) },
      { ...view, publicKeyPackage: new Uint8Array(140).fill(4) },
    ];
    const hashes = variants.map((v) => bytesToHex(lifecycleHash(v)));
    for (const h of hashes) expect(h).not.toBe(base);
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe('lifecycle message rules', () => {
  it('refuses a repair helped by the member being repaired, and a reshare above its roster', () => {
    const repair = sealedExamples['admin.group.repair'];
    expect(
      AdminGroupRepairSchema.safeParse({ ...repair, helpers: ['alice', 'carol'] }).success,
    ).toBe(false);
    const reshare = sealedExamples['admin.group.reshare'];
    expect(AdminGroupReshareSchema.safeParse({ ...reshare, threshold: 4 }).success).toBe(false);
  });

  it('key.start names the repaired member for a repair, and only then', () => {
    const start = sealedExamples['key.start'];
    expect(KeyStartSchema.safeParse(start).success).toBe(true);
    expect(KeyStartSchema.safeParse({ ...start, member: 'carol' }).success).toBe(false);
    expect(KeyStartSchema.safeParse({ ...start, kind: 'repair' }).success).toBe(false);
  });
});
