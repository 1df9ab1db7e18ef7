// fetchArtifact against a coordinator that answers too slowly (THREATS C.40, slowloris): cut off
// with TIMEOUT instead of holding `conclave approve`, `audit` or `log verify` for ever; a prompt
// one is read whole, and a body over the limit is refused without reading it all.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchArtifact } from '../src/index.js';

const servers: Server[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => answer(res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const SHA = 'ab'.repeat(32);
const pace = { windowMs: 200, minBytesPerSecond: 1_000, headersMs: 300 };

describe('fetchArtifact', () => {
  it('reads a prompt answer whole', async () => {
    const origin = await serve((res) => res.end('the bytes'));
    const bytes = await fetchArtifact(origin, SHA, {}, 1024, pace);
    expect(Buffer.from(bytes).toString()).toBe('the bytes');
  });

  it('cuts off a body that trickles in (one byte every 100 ms): TIMEOUT', async () => {
    const origin = await serve((res) => {
      res.writeHead(200, { 'content-length': '1000' });
      timers.push(setInterval(() => res.write('x'), 100));
    });
    await expect(fetchArtifact(origin, SHA, {}, 1024, pace)).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
  });

  it('headers slower than a window count apart from the body, which keeps the pace', async () => {
    // Headers after 250 ms (their own deadline is 300 ms, a window is 200 ms); then 200 bytes at
    // once (one window's worth) and the last 50 within the next window.
    const origin = await serve((res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-length': '250' });
        res.write(Buffer.alloc(200, 0x61));
        setTimeout(() => res.end(Buffer.alloc(50, 0x62)), 300);
      }, 250);
    });
    const bytes = await fetchArtifact(origin, SHA, {}, 1024, pace);
    expect(bytes.length).toBe(250);
  });

  it('cuts off a coordinator that never answers: TIMEOUT', async () => {
    const origin = await serve(() => undefined);
    await expect(fetchArtifact(origin, SHA, {}, 1024, pace)).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
  });

  it('refuses a body over the limit: ARTIFACT_TOO_LARGE', async () => {
    const origin = await serve((res) => res.end(Buffer.alloc(2048)));
    await expect(fetchArtifact(origin, SHA, {}, 1024, pace)).rejects.toMatchObject({
      code: 'ARTIFACT_TOO_LARGE',
    });
  });
});
