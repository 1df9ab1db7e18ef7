// `conclave coordinator start` that cannot start says why with a coded error (it printed INTERNAL,
// EADDRINUSE or SQLITE_NOTADB), and what to do.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, runCli, tempDir } from '../../../test/support.js';

async function start(args: readonly string[]) {
  const r = await runCli(['coordinator', 'start', ...args, '--json'], { timeoutMs: 30_000 });
  const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { code: r.code, ...doc };
}

describe('coordinator start refuses', () => {
  let server: Server;
  let busy: number;
  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    busy = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('a port in use: PORT_IN_USE naming the address and --port', async () => {
    const r = await start(['--port', String(busy), '--db', join(tempDir(), 'c.db')]);
    expect(r.code).toBe(1);
    expect(r.error.code).toBe('PORT_IN_USE');
    expect(r.error.message).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${busy} is already in use.*--port`),
    );
  });

  it('a port out of range: INVALID_ARGUMENT, exit 2', async () => {
    const r = await start(['--port', '99999', '--db', join(tempDir(), 'c.db')]);
    expect(r.code).toBe(2);
    expect(r.error.code).toBe('INVALID_ARGUMENT');
    expect(r.error.message).toMatch(/port from 0 to 65535/);
  });

  it('an --origin that is not an origin, a --trusted-proxy that is not an address: INVALID_ARGUMENT, exit 2', async () => {
    for (const [flag, value, words] of [
      ['--origin', 'https://conclave.example.com/conclave', /no path/],
      ['--origin', 'ftp://conclave.example.com', /http\(s\)/],
      ['--origin', 'conclave.example.com', /such as https/],
      ['--trusted-proxy', '10.0.0.1,proxy.internal', /"proxy\.internal" is not one/],
    ] as const) {
      const r = await start([flag, value, '--port', '0', '--db', join(tempDir(), 'c.db')]);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.error.code).toBe('INVALID_ARGUMENT');
      expect(r.error.message).toMatch(words);
    }
  });

  it('a file that is not a database: DB_INVALID naming --db', async () => {
    const db = join(tempDir(), 'c.db');
    writeFileSync(db, 'not sqlite at all, long enough to have a header'.repeat(4));
    const r = await start(['--port', '0', '--db', db]);
    expect(r.code).toBe(1);
    expect(r.error.code).toBe('DB_INVALID');
    expect(r.error.message).toMatch(/--db .*c\.db: file is not a database/);
  });
});

describe('coordinator start runs', () => {
  it('logs to stderr, one JSON line per event (it logged nothing: a full disk went unseen)', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'coordinator', 'start', '--port', '0', '--db', join(tempDir(), 'c.db'), '--json'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise((r) => child.on('close', r));
    try {
      // The log line comes while it starts; the JSON document on stdout once it has started.
      const started = () => stderr.includes('coordinator listening') && stdout.includes('\n');
      for (const t0 = Date.now(); !started();) {
        if (Date.now() - t0 > 30_000 || child.exitCode !== null)
          throw new Error(`no log line:\n${stderr}\n${stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = (JSON.parse(stdout.split('\n')[0]!) as { url: string }).url;
      const line = stderr.split('\n').find((l) => l.includes('coordinator listening'))!;
      expect(JSON.parse(line)).toMatchObject({ level: 'info', origin: url });
    } finally {
      child.kill('SIGTERM');
      await closed;
    }
  });

  it('--origin: the origin members sign, in the start document and /v1/info', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'coordinator',
        'start',
        ...['--port', '0', '--db', join(tempDir(), 'c.db'), '--json'],
        ...['--origin', 'https://Conclave.Example.com:443/', '--trusted-proxy', '127.0.0.1'],
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const closed = new Promise((r) => child.on('close', r));
    try {
      for (const t0 = Date.now(); !stdout.includes('\n');) {
        if (Date.now() - t0 > 30_000 || child.exitCode !== null) throw new Error('did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      const doc = JSON.parse(stdout.split('\n')[0]!) as { origin: string; port: number };
      expect(doc.origin).toBe('https://conclave.example.com');
      const info = (await (await fetch(`http://127.0.0.1:${doc.port}/v1/info`)).json()) as {
        origin: string;
      };
      expect(info.origin).toBe('https://conclave.example.com');
    } finally {
      child.kill('SIGTERM');
      await closed;
    }
  });
});
