// A new user's mistakes, run through the real binary: each is told what happened and what to do
// (a coded error, `--json` a parseable `{ok:false,error:{code,message}}`), usage mistakes exit 2,
// and nothing is left half-made on disk.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { run } from '../src/main.js';
import { runCli, tempDir } from '../../../test/support.js';

const env = { CONCLAVE_PASSPHRASE: 'first-use test passphrase', CONCLAVE_HOME: '' };

async function cliJson(args: readonly string[]) {
  const r = await runCli([...args, '--json'], { env });
  let doc: { ok?: boolean; error?: { code?: string; message?: string } } = {};
  expect(() => (doc = JSON.parse(r.stdout) as typeof doc), r.stdout + r.stderr).not.toThrow();
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  return { code: r.code, ok: doc.ok, error: doc.error ?? {}, stderr: r.stderr };
}

describe('conclave init', () => {
  it('refuses a bad member name with INVALID_ARGUMENT (exit 2) and creates no home', async () => {
    const home = join(tempDir('conclave-first-use-'), 'home');
    const r = await cliJson(['init', '--name', 'Bad!Name', '--home', home]);
    expect(r.code).toBe(2);
    expect(r.error.code).toBe('INVALID_ARGUMENT');
    expect(r.error.message).toMatch(/member name "Bad!Name".*\[a-z0-9_-\]/);
    expect(existsSync(join(home, 'config.json'))).toBe(false);
  });

  it('takes --kdf-cost 16..20 for every key file of the home, and refuses others before asking anything', async () => {
    const home = join(tempDir('conclave-first-use-'), 'home');
    for (const cost of ['15', '21', 'x']) {
      const r = await cliJson(['init', '--name', 'alice', '--home', home, '--kdf-cost', cost]);
      expect(r.code).toBe(2);
      expect(r.error.code).toBe('INVALID_ARGUMENT');
      expect(r.error.message).toMatch(/--kdf-cost.*from 16 to 20/);
      expect(existsSync(join(home, 'config.json'))).toBe(false);
    }
    const ok = await runCli(
      ['init', '--name', 'alice', '--home', home, '--kdf-cost', '16', '--json'],
      { env },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { kdf: unknown }).kdf).toEqual({
      name: 'scrypt',
      N: 2 ** 16,
      r: 8,
      p: 1,
    });
    const header = JSON.parse(readFileSync(join(home, 'identity.key'), 'utf8')) as {
      kdf: { N: number };
    };
    expect(header.kdf.N).toBe(2 ** 16);
  });

  it('refuses an unreachable coordinator before creating the home, so the retry works', async () => {
    const home = join(tempDir('conclave-first-use-'), 'home');
    const r = await cliJson([
      'init',
      '--name',
      'alice',
      '--home',
      home,
      '--coordinator',
      'http://127.0.0.1:1',
    ]);
    expect(r.code).toBe(1);
    expect(r.error.code).toBe('COORDINATOR_UNREACHABLE');
    expect(r.error.message).toMatch(/could not reach the coordinator at http:\/\/127\.0\.0\.1:1/);
    expect(existsSync(join(home, 'config.json'))).toBe(false);
    const bad = await cliJson([
      'init',
      '--name',
      'alice',
      '--home',
      home,
      '--coordinator',
      'notaurl',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.error.code).toBe('INVALID_ARGUMENT');
    expect(bad.error.message).toMatch(/coordinator URL/);
    const retry = await cliJson(['init', '--name', 'alice', '--home', home]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.ok).toBe(true);
    const again = await cliJson(['init', '--name', 'alice', '--home', home]);
    expect(again.code).toBe(1);
    expect(again.error.code).toBe('HOME_EXISTS');
    expect(again.error.message).toMatch(/already holds a member home/);
  });
});

describe('a home without a coordinator', () => {
  it('says to pass --coordinator once (not to init again, which HOME_EXISTS refuses), before any passphrase', async () => {
    const home = join(tempDir('conclave-first-use-'), 'home');
    expect((await cliJson(['init', '--name', 'erin', '--home', home])).code).toBe(0);
    const r = await runCli(['inbox', '--home', home, '--json'], {
      env: { CONCLAVE_PASSPHRASE: '' },
    });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('NO_COORDINATOR');
    expect(doc.error.message).toMatch(/no coordinator pinned yet; pass --coordinator URL once/);
    expect(doc.error.message).not.toMatch(/conclave init/);
  });
});

describe('usage mistakes exit 2 with INVALID_ARGUMENT, before anything is sent', () => {
  it.each([
    ['a --timeout of 0', ['keygen', 'web', '--timeout', '0'], /--timeout.*at least 1/],
    ['a negative --timeout', ['approve', 'c_0123456789abcdef', '--timeout', '-5'], /at least 1/],
    [
      'a group name the protocol refuses',
      ['group', 'create', 'Web!', '--threshold', '2', '--members', 'a,b', '--admin-key', 'x'],
      /group name "Web!": expected 1-32 characters of \[a-z0-9_-\]/,
    ],
    ['a bad group name to keygen', ['keygen', 'Web!'], /group name "Web!"/],
    [
      'a bad hex member key',
      ['member', 'add', 'dave', '--key', '00', '--admin-key', 'x'],
      /64 hex/,
    ],
    [
      'a role the protocol refuses',
      [
        'member',
        'add',
        'dave',
        '--key',
        'ab'.repeat(32),
        '--roles',
        'lead,Bad Role',
        '--admin-key',
        'x',
      ],
      /role name "Bad Role": expected 1-32 characters/,
    ],
    [
      'a bad member name to revoke',
      ['member', 'revoke', 'Dave!', '--reason', 'r', '--admin-key', 'x'],
      /member name "Dave!"/,
    ],
    [
      'a member list with no members',
      ['group', 'create', 'web', '--threshold', '2', '--members', ',', '--admin-key', 'x'],
      /--members names 0 members; a group needs at least 2/,
    ],
  ])('%s', async (_, args, message) => {
    const r = await cliJson([...args, '--home', tempDir('conclave-first-use-')]);
    expect(r.code).toBe(2);
    expect(r.error.code).toBe('INVALID_ARGUMENT');
    expect(r.error.message).toMatch(message);
  });

  it('an unknown --formats entry names the accepted formats (nothing uploaded)', async () => {
    const dir = tempDir('conclave-first-use-');
    const artifact = join(dir, 'app.tgz');
    writeFileSync(artifact, 'bytes');
    const r = await cliJson([
      'request',
      '--group',
      'web',
      '--artifact',
      artifact,
      '--version',
      '1.0.0',
      '--formats',
      'raw,bogus',
      '--home',
      join(dir, 'no-home'),
    ]);
    expect(r.code).toBe(2);
    expect(r.error.code).toBe('INVALID_ARGUMENT');
    expect(r.error.message).toMatch(/--formats: "bogus" is not a signature format.*raw, sshsig/);
  });
});

describe('optional positional arguments', () => {
  it('reach the command as undefined when left out (not the string "undefined")', async () => {
    const seen: unknown[] = [];
    const action = run(async (_o, _ctx, name) => {
      seen.push(name);
    });
    const cmd = new Command('show');
    await action(undefined, {}, cmd);
    await action('web', {}, cmd);
    expect(seen).toEqual([undefined, 'web']);
  });
});

describe('conclave audit', () => {
  it('refuses a malformed --group-key (exit 2) before it fetches anything', async () => {
    // A coordinator that is not there: reaching for it would fail with another code.
    const r = await cliJson([
      'audit',
      'c_0123456789abcdef0123456789abcdef',
      '--group-key',
      'zz',
      '--coordinator',
      'http://127.0.0.1:1',
    ]);
    expect(r.code).toBe(2);
    expect(r.error.code).toBe('INVALID_ARGUMENT');
    expect(r.error.message).toMatch(/--group-key: expected 64 hex characters/);
  });
});
