// Member home: config.json parsed strictly, identity key encrypted, coordinator keys pinned.
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ed25519 as frost } from '@conclave/frost';
import { bytesToHex } from '@conclave/protocol';
import {
  ClientError,
  Home,
  checkPins,
  normalizeCoordinatorUrl,
  parseAdminKeyText,
  parseHomeConfig,
} from '../src/index.js';
import { keyCeremonyMetadata } from '../src/home.js';

const KDF = { kdfParams: { N: 2 ** 16, r: 8, p: 1 } };
const HEX = 'ab'.repeat(32);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof ClientError ? e.code : String(e);
  }
}

describe('config.json', () => {
  it('parses a valid config', () => {
    const c = parseHomeConfig(JSON.stringify({ version: 1, name: 'alice', identityKey: HEX }));
    expect(c.name).toBe('alice');
  });

  it('refuses bad JSON, unknown keys, bad names and bad keys with CONFIG_INVALID', () => {
    expect(codeOf(() => parseHomeConfig('{'))).toBe('CONFIG_INVALID');
    expect(
      codeOf(() =>
        parseHomeConfig(JSON.stringify({ version: 1, name: 'alice', identityKey: HEX, x: 1 })),
      ),
    ).toBe('CONFIG_INVALID');
    expect(
      codeOf(() =>
        parseHomeConfig(JSON.stringify({ version: 1, name: 'Admin!', identityKey: HEX })),
      ),
    ).toBe('CONFIG_INVALID');
    expect(
      codeOf(() =>
        parseHomeConfig(JSON.stringify({ version: 1, name: 'admin', identityKey: HEX })),
      ),
    ).toBe('CONFIG_INVALID');
    expect(
      codeOf(() =>
        parseHomeConfig(JSON.stringify({ version: 1, name: 'alice', identityKey: 'zz' })),
      ),
    ).toBe('CONFIG_INVALID');
  });

  it('does not echo config values in the error', () => {
    try {
      parseHomeConfig(
        JSON.stringify({ version: 1, name: 'alice', identityKey: 'secret-looking-value' }),
      );
    } catch (e) {
      expect((e as Error).message).not.toContain('secret-looking-value');
    }
  });
});

describe('Home', () => {
  it('creates an encrypted identity (0600), reopens it, and refuses a wrong passphrase', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'alice');
    const home = await Home.init(dir, 'alice', 'correct horse', KDF);
    expect((statSync(home.identityPath).mode & 0o777).toString(8)).toBe('600');
    expect(readFileSync(home.identityPath, 'utf8')).not.toContain('correct horse');
    const again = await Home.open(dir);
    const key = await again.loadIdentity('correct horse');
    expect(Buffer.from(key.publicKey).toString('hex')).toBe(again.config.identityKey);
    await expect(again.loadIdentity('wrong')).rejects.toMatchObject({
      code: 'KEYSTORE_DECRYPT_FAILED',
    });
    await expect(Home.init(dir, 'alice', 'x', KDF)).rejects.toMatchObject({ code: 'HOME_EXISTS' });
  });

  it('writes and reads weak-scrypt keystores only when opened with allowWeakKdf (bench homes)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'dora');
    const weak = { kdfParams: { N: 2 ** 10, r: 8, p: 1 } };
    await expect(Home.init(dir, 'dora', 'pw', weak)).rejects.toMatchObject({
      code: 'KEYSTORE_WEAK_KDF',
    });
    const home = await Home.init(dir, 'dora', 'pw', { ...weak, allowWeakKdf: true });
    expect(bytesToHex((await home.loadIdentity('pw')).publicKey)).toBe(home.config.identityKey);
    // The same files, opened as the CLI opens them: refused, with what to do.
    await expect((await Home.open(dir)).loadIdentity('pw')).rejects.toMatchObject({
      code: 'KEYSTORE_WEAK_KDF',
    });
  });

  it('records the kdf cost chosen at init and writes every keystore of the home with it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'fay');
    const home = await Home.init(dir, 'fay', 'pw', {}, 16);
    const header = (path: string) =>
      (JSON.parse(readFileSync(path, 'utf8')) as { kdf: { N: number } }).kdf.N;
    expect(header(home.identityPath)).toBe(2 ** 16);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({
      kdfCost: 16,
    });
    // Opened as the CLI opens it (no options): the share it writes has the home's cost too.
    const again = await Home.open(dir);
    expect(again.kdfParams).toEqual({ N: 2 ** 16, r: 8, p: 1 });
    const dealt = frost.keys.dealer({
      minSigners: 2,
      maxSigners: 2,
      identifiers: ['fay', 'gus'].map((m) => frost.identifier.derive(m)),
    });
    const share = frost.keys.keyPackage(Object.values(dealt.shares)[0]!);
    const path = await again.saveShare(
      share,
      keyCeremonyMetadata({
        group: 'web',
        member: 'fay',
        threshold: 2,
        pub: dealt.publicKeyPackage,
        participants: ['fay', 'gus'].map((m) => ({
          member: m,
          identifier: frost.identifier.derive(m),
          identityKey: HEX,
        })),
        ceremonyId: 'c_dkg0000000000',
      }),
      'pw',
    );
    expect(header(path)).toBe(2 ** 16);
    // A home without a choice writes at the keystore default.
    const plain = await Home.init(join(dir, '..', 'gus'), 'gus', 'pw');
    expect(header(plain.identityPath)).toBe(2 ** 17);
    expect(plain.kdfParams.N).toBe(2 ** 17);
  });

  it('refuses a share whose public key package does not hold its verifying share or threshold (KEYSTORE_MALFORMED)', async () => {
    // A signer names its share's package in every share it signs: it must be this share's own.
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'ivy');
    const home = await Home.init(dir, 'ivy', 'pw', KDF);
    const ids = ['ivy', 'jon', 'kim'].map((m) => frost.identifier.derive(m));
    const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers: ids });
    const mine = frost.keys.keyPackage(dealt.shares[ids[0]!]!);
    const participants = ['ivy', 'jon', 'kim'].map((m) => ({
      member: m,
      identifier: frost.identifier.derive(m),
      identityKey: HEX,
    }));
    const meta = (pub: typeof dealt.publicKeyPackage, group: string, threshold = 2) =>
      keyCeremonyMetadata({
        group,
        member: 'ivy',
        threshold,
        pub,
        participants,
        ceremonyId: 'c_dkg0000000000',
      });
    const jon = dealt.publicKeyPackage.verifyingShares[ids[1]!]!;
    const swapped = {
      ...dealt.publicKeyPackage,
      verifyingShares: { ...dealt.publicKeyPackage.verifyingShares, [ids[0]!]: jon },
    };
    await home.saveShare(mine, meta(dealt.publicKeyPackage, 'good'), 'pw');
    await home.saveShare(mine, meta(swapped, 'swapped'), 'pw');
    await home.saveShare(mine, meta({ ...dealt.publicKeyPackage, minSigners: 3 }, 'mint', 3), 'pw');
    expect((await home.loadShare('good', 'pw')).metadata.group).toBe('good');
    for (const group of ['swapped', 'mint']) {
      await expect(home.loadShare(group, 'pw')).rejects.toMatchObject({
        code: 'KEYSTORE_MALFORMED',
        message: expect.stringMatching(/does not hold this share's verifying share/) as string,
      });
    }
  });

  it('refuses a kdf cost outside 16..20 at init (INVALID_ARGUMENT) and in config.json (CONFIG_INVALID)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'hal');
    for (const cost of [15, 21, 16.5]) {
      await expect(Home.init(dir, 'hal', 'pw', {}, cost)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    // Both a caller's parameters and a cost: which one the files get would be unclear.
    await expect(Home.init(dir, 'hal', 'pw', KDF, 17)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
    for (const kdfCost of [15, 21]) {
      expect(
        codeOf(() =>
          parseHomeConfig(JSON.stringify({ version: 1, name: 'hal', identityKey: HEX, kdfCost })),
        ),
      ).toBe('CONFIG_INVALID');
    }
  });

  it('says how to start when there is no home', async () => {
    await expect(Home.open(join(tmpdir(), 'conclave-no-such-home'))).rejects.toMatchObject({
      code: 'HOME_NOT_INITIALIZED',
    });
  });

  it('refuses a tampered config.json', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'bob');
    await Home.init(dir, 'bob', 'pw', KDF);
    writeFileSync(join(dir, 'config.json'), '{"version":1,"name":"bob"}');
    await expect(Home.open(dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('reports a missing share with what to run', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'conclave-home-')), 'carol');
    const home = await Home.init(dir, 'carol', 'pw', KDF);
    await expect(home.shareMetadata('web')).rejects.toMatchObject({ code: 'SHARE_NOT_FOUND' });
  });
});

describe('coordinator pins and URLs', () => {
  const pinned = { coordinatorKey: HEX, adminKey: 'cd'.repeat(32) };
  it('accepts the pinned keys and refuses changed ones', () => {
    const info = { protocolVersion: 1, origin: 'http://127.0.0.1:1', ...pinned };
    expect(() => checkPins(info, pinned)).not.toThrow();
    expect(codeOf(() => checkPins({ ...info, coordinatorKey: 'ef'.repeat(32) }, pinned))).toBe(
      'COORDINATOR_KEY_CHANGED',
    );
    expect(codeOf(() => checkPins({ ...info, adminKey: 'ef'.repeat(32) }, pinned))).toBe(
      'COORDINATOR_KEY_CHANGED',
    );
  });

  it('normalizes what people type to the origin', () => {
    expect(normalizeCoordinatorUrl('ws://127.0.0.1:7420/v1/ws')).toBe('http://127.0.0.1:7420');
    expect(normalizeCoordinatorUrl('http://localhost:7420/')).toBe('http://localhost:7420');
    expect(codeOf(() => normalizeCoordinatorUrl('not a url'))).toBe('INVALID_ARGUMENT');
  });

  it('reads the admin key file the coordinator writes', () => {
    const file = JSON.stringify({
      format: 'conclave-identity-key',
      version: 1,
      role: 'admin',
      publicKey: HEX,
      secretKey: '11'.repeat(32),
    });
    expect(Buffer.from(parseAdminKeyText(file)).toString('hex')).toBe('11'.repeat(32));
    expect(codeOf(() => parseAdminKeyText('nope'))).toBe('INVALID_ARGUMENT');
  });
});

describe('a member home is this user’s alone to change', () => {
  it('init and open refuse a home directory group or others may write (HOME_LOOSE_PERMISSIONS)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-loose-'));
    chmodSync(dir, 0o777);
    await expect(Home.init(dir, 'alice', 'x', KDF)).rejects.toMatchObject({
      code: 'HOME_LOOSE_PERMISSIONS',
      message: expect.stringMatching(/mode 777\): run chmod go-w/),
    });
    chmodSync(dir, 0o700);
    await Home.init(dir, 'alice', 'x', KDF);
    await Home.open(dir);
    chmodSync(dir, 0o770);
    await expect(Home.open(dir)).rejects.toMatchObject({ code: 'HOME_LOOSE_PERMISSIONS' });
    chmodSync(dir, 0o700);
    // config.json holds the pins: group-writable is refused too.
    chmodSync(join(dir, 'config.json'), 0o664);
    await expect(Home.open(dir)).rejects.toMatchObject({
      code: 'HOME_LOOSE_PERMISSIONS',
      message: expect.stringContaining('config.json'),
    });
  });
});
