// The plaintext admin secret key (--admin-key) and the auditor token (--auditor-token) are refused
// while other users can read them, as the keystore refuses a loose share; and the auditor token,
// which reads every ceremony's bundle and artifact, is not sent over plain http to another host
// unless --insecure-http says the network is trusted.
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cmdAuditExport } from '../src/commands/audit.js';
import { main } from '../src/main.js';
import type { Ctx } from '../src/output.js';
import { tempDir } from '../../../test/support.js';
import { captured } from './capture.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir('conclave-secret-files-');
  dirs.push(d);
  return d;
}

const quiet: Ctx = { json: true, progress: () => undefined, result: () => undefined };

/** The coordinator's HTTP routes, answered 404 here: who was asked, with which token. */
function fakeFetch() {
  return vi
    .spyOn(globalThis, 'fetch')
    .mockImplementation(() => Promise.resolve(new Response('no such bundle', { status: 404 })));
}

describe('--admin-key', () => {
  it('a file others can read is refused (KEYSTORE_LOOSE_PERMISSIONS, chmod 600) before it is used', async () => {
    const d = dir();
    const file = join(d, 'admin.key');
    writeFileSync(file, '{"not":"parsed: the mode is checked first"}');
    chmodSync(file, 0o644);
    const argv = ['member', 'add', 'dave', '--key', 'ab'.repeat(32), '--admin-key', file];
    const common = ['--home', join(d, 'home'), '--coordinator', 'http://127.0.0.1:9', '--json'];
    let code = -1;
    const r = await captured(async () => {
      code = await main([...argv, ...common]);
    });
    expect(code).toBe(1);
    const doc = JSON.parse(r.out) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('KEYSTORE_LOOSE_PERMISSIONS');
    expect(doc.error.message).toContain(`chmod 600 ${file}`);
    expect(doc.error.message).toContain('mode 644');
  });
});

describe('--auditor-token', () => {
  const token = (mode: number) => {
    const file = join(dir(), 'auditor.token');
    writeFileSync(file, 'the-auditor-token\n');
    chmodSync(file, mode);
    return file;
  };
  const exportFrom = (coordinator: string, auditorToken: string, insecureHttp?: boolean) =>
    cmdAuditExport(
      'c_0123456789abcdef',
      {
        coordinator,
        auditorToken,
        home: join(dir(), 'no-home'),
        out: join(dir(), 'bundle.json'),
        ...(insecureHttp === undefined ? {} : { insecureHttp }),
      },
      quiet,
    );
  const bearers = (spy: ReturnType<typeof fakeFetch>) =>
    spy.mock.calls.map(
      ([url, init]) =>
        `${String(url)} ${String((init?.headers as Record<string, string>)['authorization'])}`,
    );

  it('a token file others can read is refused (exit 2) and nothing is sent', async () => {
    const spy = fakeFetch();
    await expect(exportFrom('http://127.0.0.1:9', token(0o640))).rejects.toMatchObject({
      code: 'KEYSTORE_LOOSE_PERMISSIONS',
      exitCode: 2,
    });
    expect(spy).not.toHaveBeenCalled();
  });

  it('plain http to another host: INSECURE_TRANSPORT (exit 2), nothing sent, the token not even read', async () => {
    const spy = fakeFetch();
    for (const url of ['http://coordinator.example:7420', 'http://10.0.0.7:7420']) {
      await expect(exportFrom(url, join(dir(), 'no-such.token'))).rejects.toMatchObject({
        code: 'INSECURE_TRANSPORT',
        exitCode: 2,
        message: expect.stringMatching(/--insecure-http/) as unknown,
      });
    }
    expect(spy).not.toHaveBeenCalled();
  });

  it('https, loopback http, or --insecure-http: the token is sent', async () => {
    const spy = fakeFetch();
    const file = token(0o600);
    for (const [url, insecure] of [
      ['https://coordinator.example', undefined],
      ['http://127.0.0.1:7420', undefined],
      ['http://localhost:7420', undefined],
      ['http://[::1]:7420', undefined],
      ['http://coordinator.example:7420', true],
    ] as const) {
      // The fake coordinator has no such bundle: refused after the token was sent.
      await expect(exportFrom(url, file, insecure)).rejects.toBeDefined();
    }
    expect(bearers(spy)).toEqual(
      [
        'https://coordinator.example',
        'http://127.0.0.1:7420',
        'http://localhost:7420',
        'http://[::1]:7420',
        'http://coordinator.example:7420',
      ].map((u) => `${u}/v1/audit/bundle/c_0123456789abcdef Bearer the-auditor-token`),
    );
  });
});
