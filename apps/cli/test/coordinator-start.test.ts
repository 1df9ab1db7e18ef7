// `conclave coordinator start` that cannot start says why with a coded error (it printed INTERNAL,
// EADDRINUSE or SQLITE_NOTADB), and what to do.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../../test/support.js';

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

  it('a file that is not a database: DB_INVALID naming --db', async () => {
    const db = join(tempDir(), 'c.db');
    writeFileSync(db, 'not sqlite at all, long enough to have a header'.repeat(4));
    const r = await start(['--port', '0', '--db', db]);
    expect(r.code).toBe(1);
    expect(r.error.code).toBe('DB_INVALID');
    expect(r.error.message).toMatch(/--db .*c\.db: file is not a database/);
  });
});
