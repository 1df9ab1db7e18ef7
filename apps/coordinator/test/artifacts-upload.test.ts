// Artifact uploads stream to disk with backpressure (THREATS C.42): a disk slower than the network
// holds the body in the peer's TCP window, not in the coordinator's heap.
import { createHash } from 'node:crypto';
import type * as NodeFs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { ArtifactStore } from '../src/artifacts.js';
import { silentLogger } from '../src/logger.js';

const seen = vi.hoisted(() => ({ peakBuffered: 0, writes: 0 }));

// The artifact's temporary file is written 2 ms per chunk late: a slow disk.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const createWriteStream = ((path: string, options?: object) => {
    const s = fs.createWriteStream(path, options);
    if (!String(path).endsWith('.part')) return s;
    const later =
      <A extends unknown[]>(f: (...a: A) => void) =>
      (...a: A) =>
        void setTimeout(() => f(...a), 2);
    const slow = s as unknown as Record<string, unknown>;
    slow['_write'] = later(s._write.bind(s));
    if (typeof s._writev === 'function') slow['_writev'] = later(s._writev.bind(s));
    const write = s.write.bind(s) as (...a: unknown[]) => boolean;
    slow['write'] = (...a: unknown[]) => {
      const r = write(...a);
      seen.writes += 1;
      seen.peakBuffered = Math.max(seen.peakBuffered, s.writableLength);
      return r;
    };
    return s;
  }) as typeof fs.createWriteStream;
  return { ...fs, default: { ...fs, createWriteStream }, createWriteStream };
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('streams an upload to disk with backpressure: buffered bytes stay bounded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-artifacts-'));
  dirs.push(dir);
  const store = new ArtifactStore({
    dir,
    maxBytes: 64 * 1024 * 1024,
    logger: silentLogger,
    access: { getGroup: () => undefined, groupsRequestingArtifact: () => [] },
  });
  const server = createServer((req, res) => {
    store.handle(req, res, () => ({ ok: true, member: 'alice' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const size = 16 * 1024 * 1024;
  const body = Buffer.alloc(size, 0x5a);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'PUT', path: `/v1/artifacts/${sha256}` },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.setHeader('content-length', size);
    req.end(body);
  });
  server.close();
  expect(status).toBe(201);
  expect(seen.writes).toBeGreaterThan(0);
  // Without backpressure the whole body piles up in the write stream (≈ 16 MiB here).
  expect(seen.peakBuffered).toBeLessThanOrEqual(1024 * 1024);
});
