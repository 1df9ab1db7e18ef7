// memberAuthHeaders (connection.ts): the one way a member authenticates an HTTP request — used by
// Connection (uploads, audit routes) and by the log witness (cosignatures). A coded refusal keeps
// its code; an unreachable coordinator says so; an answer that is not a challenge is refused.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateIdentityKey } from '@conclave/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { memberAuthHeaders } from '../src/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A fake coordinator answering POST /v1/challenge with `status` and `body`. */
async function answering(status: number, body: unknown): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const key = generateIdentityKey();

describe('memberAuthHeaders', () => {
  it('keeps the code of a refusal (RATE_LIMITED) and names the coordinator', async () => {
    const url = await answering(429, { code: 'RATE_LIMITED', message: 'too many challenges' });
    await expect(memberAuthHeaders({ url, member: 'alice', key })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      message: expect.stringContaining('too many challenges'),
    });
  });

  it('refuses an answer that is not a challenge, and an uncoded error status', async () => {
    const url = await answering(200, { type: 'auth.challenge' });
    await expect(memberAuthHeaders({ url, member: 'alice', key })).rejects.toMatchObject({
      code: 'BAD_COORDINATOR_MESSAGE',
    });
    const bare = await answering(502, 'bad gateway');
    await expect(memberAuthHeaders({ url: bare, member: 'alice', key })).rejects.toMatchObject({
      code: 'CONNECTION_REFUSED',
    });
  });

  it('says the coordinator is unreachable when nothing listens', async () => {
    const url = await answering(200, {});
    await new Promise((r) => servers.pop()!.close(r));
    await expect(memberAuthHeaders({ url, member: 'alice', key })).rejects.toMatchObject({
      code: 'COORDINATOR_UNREACHABLE',
      message: expect.stringContaining(url),
    });
  });
});
