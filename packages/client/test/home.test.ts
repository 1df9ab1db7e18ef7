// Member home: config.json parsed strictly, identity key encrypted, coordinator keys pinned.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@conclave/protocol';
import {
  ClientError,
  Home,
  checkPins,
  normalizeCoordinatorUrl,
  parseAdminKeyText,
  parseHomeConfig,
} from '../src/index.js';

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
