// Share replacement after a lifecycle ceremony (docs/lifecycle.md "Shares on disk"): staged beside
// the live share, swapped in atomically with a backup only while swapping, discarded on abort, and
// a swap a crash interrupted is finished or discarded by the ceremony's outcome.
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 as frost } from '@conclave/frost';
import { bytesToHex, canonicalJson } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  Home,
  discardStagedShare,
  listPendingShares,
  promoteShare,
  recoverShares,
  stageShare,
  type ShareMetadata,
} from '../src/index.js';
import { promoteNewShare } from '../src/share-swap.js';

const KDF = { N: 2 ** 16, r: 8, p: 1 };
const PASS = 'test passphrase';

async function fixture() {
  const home = await Home.init(mkdtempSync(join(tmpdir(), 'conclave-swap-')), 'alice', PASS, {
    kdfParams: KDF,
  });
  const dealt = frost.keys.dealer({
    minSigners: 2,
    maxSigners: 3,
    identifiers: ['alice', 'bob', 'carol'].map((m) => frost.identifier.derive(m)),
  });
  const keys = Object.values(dealt.shares).map((s) => frost.keys.keyPackage(s));
  const pub = dealt.publicKeyPackage;
  const meta = (ceremonyId: string, epoch: number): ShareMetadata => ({
    kind: 'frost-key-package',
    group: 'release',
    member: 'alice',
    suite: 'FROST-ED25519-SHA512-v1',
    threshold: 2,
    groupPublicKey: bytesToHex(pub.verifyingKey),
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', pub)),
    participants: ['alice', 'bob', 'carol'].map((m) => ({
      member: m,
      identifier: frost.identifier.derive(m),
      identityKey: 'ab'.repeat(32),
    })),
    ceremonyId,
    createdAt: new Date().toISOString(),
    epoch,
  });
  await home.saveShare(keys[0]!, meta('c_dkg0000000000', 0), PASS);
  const files = () => readdirSync(join(home.dir, 'shares')).sort();
  return { home, keys, meta, files };
}

describe('share swap', () => {
  it('stages, then replaces the share, leaving no pending file or backup', async () => {
    const { home, keys, meta, files } = await fixture();
    const staged = await stageShare(home, keys[1]!, meta('c_refresh0000001', 1), PASS, KDF);
    expect(files()).toEqual(['.release.key.pending-c_refresh0000001', 'release.key']);
    // The live share is untouched until the swap.
    expect((await home.shareMetadata('release')).epoch).toBe(0);
    expect(await home.listShares()).toEqual(['release']);
    await promoteShare(home, 'release', staged, 0);
    expect(files()).toEqual(['release.key']);
    const now = await home.loadShare('release', PASS);
    expect(now.metadata).toMatchObject({ epoch: 1, ceremonyId: 'c_refresh0000001' });
    expect(bytesToHex(now.keyPackage.signingShare)).toBe(bytesToHex(keys[1]!.signingShare));
  });

  it('discards a staged share when the ceremony aborts', async () => {
    const { home, keys, meta, files } = await fixture();
    const staged = await stageShare(home, keys[1]!, meta('c_aborted0000001', 1), PASS, KDF);
    await discardStagedShare(staged);
    expect(files()).toEqual(['release.key']);
    expect((await home.shareMetadata('release')).epoch).toBe(0);
  });

  it('after a crash, finishes a completed swap and drops an aborted one', async () => {
    const { home, keys, meta, files } = await fixture();
    await stageShare(home, keys[1]!, meta('c_completed00001', 1), PASS, KDF);
    // A crash in the middle of a swap leaves a backup hard link too; it is replaced, then removed.
    linkSync(
      join(home.dir, 'shares', 'release.key'),
      join(home.dir, 'shares', '.release.key.epoch-0.bak'),
    );
    await stageShare(home, keys[2]!, meta('c_abortedxx00001', 2), PASS, KDF);
    expect((await listPendingShares(home)).map((p) => p.ceremonyId).sort()).toEqual([
      'c_abortedxx00001',
      'c_completed00001',
    ]);
    const log: string[] = [];
    await recoverShares(
      home,
      PASS,
      async (id) => (id === 'c_completed00001' ? 'completed' : 'aborted'),
      (l) => log.push(l),
    );
    expect(files()).toEqual(['release.key']);
    expect((await home.loadShare('release', PASS)).metadata.ceremonyId).toBe('c_completed00001');
    expect(log).toHaveLength(2);
  });

  // An agent beside `conclave keygen` (one stood down, recovering by the signed outcome) may both
  // put one staged share in place: one at a time, and the second finds it done.
  it('two processes putting one staged share in place: both succeed, the new share is live, no backup is left', async () => {
    const { home, keys, meta, files } = await fixture();
    const staged = await stageShare(home, keys[1]!, meta('c_twoprocs000001', 1), PASS, KDF);
    const other = await Home.open(home.dir);
    const done = await Promise.all([
      promoteShare(home, 'release', staged, 0),
      promoteShare(other, 'release', staged, 0),
    ]);
    expect(done).toEqual([home.sharePath('release'), other.sharePath('release')]);
    expect(files()).toEqual(['release.key']);
    expect((await home.loadShare('release', PASS)).metadata.ceremonyId).toBe('c_twoprocs000001');
    expect(readdirSync(home.dir).filter((f) => f.includes('swap'))).toEqual([]);
  });

  it('a DKG’s staged share put in place twice: the second finds it done, not KEYSTORE_EXISTS', async () => {
    const { home, keys, meta } = await fixture();
    const fresh = await Home.init(mkdtempSync(join(tmpdir(), 'conclave-swap-')), 'alice', PASS, {
      kdfParams: KDF,
    });
    const staged = await stageShare(fresh, keys[1]!, meta('c_dkgtwice000001', 0), PASS, KDF);
    const done = await Promise.all([
      promoteNewShare(fresh, 'release', staged),
      promoteNewShare(await Home.open(fresh.dir), 'release', staged),
    ]);
    expect(done).toEqual([fresh.sharePath('release'), fresh.sharePath('release')]);
    expect(readdirSync(join(fresh.dir, 'shares'))).toEqual(['release.key']);
    // A staged file that is gone for another reason (deleted: an aborted ceremony) still fails.
    const lost = await stageShare(home, keys[2]!, meta('c_discarded00001', 1), PASS, KDF);
    await discardStagedShare(lost);
    await expect(promoteShare(home, 'release', lost, 0)).rejects.toMatchObject({
      code: 'KEYSTORE_IO_ERROR',
    });
    expect((await home.shareMetadata('release')).ceremonyId).toBe('c_dkg0000000000');
  });

  it('a DKG killed between linking its share in and unlinking the staged name: done, the second link removed', async () => {
    const { keys, meta } = await fixture();
    const fresh = await Home.init(mkdtempSync(join(tmpdir(), 'conclave-swap-')), 'alice', PASS, {
      kdfParams: KDF,
    });
    const staged = await stageShare(fresh, keys[1]!, meta('c_dkgkilled00001', 0), PASS, KDF);
    linkSync(staged, fresh.sharePath('release')); // the link happened; the unlink did not
    expect(await promoteNewShare(fresh, 'release', staged)).toBe(fresh.sharePath('release'));
    expect(readdirSync(join(fresh.dir, 'shares'))).toEqual(['release.key']);
    // Another file at the live name is still never replaced.
    const other = await stageShare(fresh, keys[2]!, meta('c_dkgother000001', 0), PASS, KDF);
    await expect(promoteNewShare(fresh, 'release', other)).rejects.toMatchObject({
      code: 'KEYSTORE_EXISTS',
    });
  });

  it('a swap that fails leaves its staged share and the others are still finished', async () => {
    const { home, keys, meta, files } = await fixture();
    const good = await stageShare(home, keys[1]!, meta('c_completed00002', 1), PASS, KDF);
    // `aaa` (listed first): its live share is a directory, so the swap cannot replace it.
    const shares = join(home.dir, 'shares');
    mkdirSync(join(shares, 'aaa.key', 'inside'), { recursive: true });
    const bad = join(shares, '.aaa.key.pending-c_aaa000000001');
    writeFileSync(bad, readFileSync(good));
    const log: string[] = [];
    await recoverShares(
      home,
      PASS,
      async () => 'completed',
      (l) => log.push(l),
    );
    expect((await home.loadShare('release', PASS)).metadata.ceremonyId).toBe('c_completed00002');
    expect(files()).toContain('.aaa.key.pending-c_aaa000000001');
    expect(log.some((l) => /^aaa: could not replace the share of aaa/.test(l))).toBe(true);
  });

  it('removes the backup a crash left after the rename once the live share is of a later epoch', async () => {
    const { home, keys, meta, files } = await fixture();
    const staged = await stageShare(home, keys[1]!, meta('c_refreshed00001', 1), PASS, KDF);
    // SIGKILL between the rename and the backup's unlink: epoch 0's share is still on disk.
    linkSync(home.sharePath('release'), join(home.dir, 'shares', '.release.key.epoch-0.bak'));
    renameSync(staged, home.sharePath('release'));
    // Backups of the live epoch (a swap that never happened) or of no known epoch stay.
    writeFileSync(join(home.dir, 'shares', '.release.key.epoch-1.bak'), 'x', { mode: 0o600 });
    writeFileSync(join(home.dir, 'shares', '.release.key.epoch-unknown.bak'), 'x', { mode: 0o600 });
    const log: string[] = [];
    await recoverShares(
      home,
      PASS,
      async () => 'open',
      (l) => log.push(l),
    );
    expect(files()).toEqual([
      '.release.key.epoch-1.bak',
      '.release.key.epoch-unknown.bak',
      'release.key',
    ]);
    expect(log).toContain(
      'release: removed the backup of its epoch-0 share (the share is at epoch 1)',
    );
  });

  it('leaves a swap of a ceremony that is still open alone', async () => {
    const { home, keys, meta, files } = await fixture();
    await stageShare(home, keys[1]!, meta('c_stillopen00001', 1), PASS, KDF);
    await recoverShares(home, PASS, async () => 'open');
    expect(files()).toEqual(['.release.key.pending-c_stillopen00001', 'release.key']);
  });
});

/** What someone who can write the home but lacks the passphrase can do: edit the header. */
function editHeader(path: string, edit: (meta: Record<string, unknown>) => void): void {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { metadata: Record<string, unknown> };
  edit(doc.metadata);
  writeFileSync(`${path}.edit`, `${canonicalJson(doc)}\n`, { mode: 0o600 });
  renameSync(`${path}.edit`, path);
}

describe('recovering a swap names the old share by its authenticated epoch', () => {
  /**
   * A completed swap whose staged file is gone by the time it is promoted (the rename fails right
   * after the old share was hard-linked to its backup): the error names the backup, which stays.
   */
  async function interruptedRecovery(edit?: (meta: Record<string, unknown>) => void) {
    const { home, keys, meta, files } = await fixture();
    const staged = await stageShare(home, keys[1]!, meta('c_completed00002', 1), PASS, KDF);
    if (edit !== undefined) editHeader(home.sharePath('release'), edit);
    const log: string[] = [];
    await recoverShares(
      home,
      PASS,
      async () => {
        unlinkSync(staged);
        return 'completed';
      },
      (l) => log.push(l),
    );
    // The swap's KEYSTORE_IO_ERROR is logged (the other staged shares would still be finished).
    const failure = log.find((l) =>
      l.startsWith('release: could not replace the share of release'),
    );
    return { failure, log, files };
  }

  it('an intact share is backed up under its epoch', async () => {
    const { failure, files } = await interruptedRecovery();
    expect(failure).toContain('.release.key.epoch-0.bak');
    expect(files()).toEqual(['.release.key.epoch-0.bak', 'release.key']);
  });

  it('a header claiming another epoch is not believed: the backup is epoch-unknown (KEYSTORE_DECRYPT_FAILED logged)', async () => {
    const { failure, log, files } = await interruptedRecovery((m) => {
      m['epoch'] = 7;
    });
    expect(failure).toContain('.release.key.epoch-unknown.bak');
    expect(files()).toEqual(['.release.key.epoch-unknown.bak', 'release.key']);
    expect(log.join('\n')).toContain('KEYSTORE_DECRYPT_FAILED');
  });
});

describe('share metadata cache (Home.shareMetadata)', () => {
  it('sees a swapped-in share, a permission change and a removal at the next look', async () => {
    const { home, keys, meta } = await fixture();
    const first = await home.shareMetadata('release');
    expect(first.epoch).toBe(0);
    // Served from the cache while the file is unchanged, and frozen: no reader can edit it.
    expect(await home.shareMetadata('release')).toBe(first);
    expect(Object.isFrozen(first.participants[0])).toBe(true);
    const staged = await stageShare(home, keys[1]!, meta('c_refresh0000002', 1), PASS, KDF);
    await promoteShare(home, 'release', staged, 0);
    expect((await home.shareMetadata('release')).epoch).toBe(1);
    const path = home.sharePath('release');
    chmodSync(path, 0o644);
    await expect(home.shareMetadata('release')).rejects.toMatchObject({
      code: 'KEYSTORE_LOOSE_PERMISSIONS',
    });
    chmodSync(path, 0o600);
    expect((await home.shareMetadata('release')).epoch).toBe(1);
    rmSync(path);
    await expect(home.shareMetadata('release')).rejects.toMatchObject({ code: 'SHARE_NOT_FOUND' });
  });
});
