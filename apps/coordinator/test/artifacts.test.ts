// Artifact uploads for the content formats (raw, OpenPGP): members only, content-addressed by
// SHA-256 and hash-checked before anything is stored; a content-format request needs them first.
// Downloads: the request's group members, and the auditor (token) once a request names the bytes.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it, vi } from 'vitest';
import { ArtifactStore } from '../src/artifacts.js';
import { silentLogger } from '../src/logger.js';
import {
  FakeMember,
  authHeaders,
  connect,
  expectAck,
  fetchChallenge,
  sampleRelease,
  setupGroup,
  testScope,
} from './helpers.js';

const { fresh } = testScope();

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('artifact uploads', () => {
  it('stores only bytes that hash to their address, for members, within the size limit', async () => {
    const t = await fresh({ limits: { maxArtifactBytes: 1024 } });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const alice = members[0]!;
    const url = t.handle.url;
    const put = async (address: string, body: Uint8Array, auth = true) =>
      fetch(`${url}/v1/artifacts/${address}`, {
        method: 'PUT',
        headers: auth ? authHeaders(await fetchChallenge(url), alice.key, 'alice', url) : {},
        body,
      });
    // (More than 64 bytes: raw refuses a digest-sized file, raw-guard.ts.)
    const bytes = new TextEncoder().encode('release bytes\n'.repeat(8));
    const address = sha256(bytes);

    // Unauthenticated: refused, nothing stored.
    const anon = await put(address, bytes, false);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { code: string }).code).toBe('UNAUTHENTICATED');
    // Bytes that do not hash to the address: refused, nothing stored.
    const wrong = await put(sha256(new TextEncoder().encode('other')), bytes);
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { code: string }).code).toBe('DIGEST_MISMATCH');
    // Over the limit: refused before reading the body.
    const big = new Uint8Array(2048);
    const tooBig = await put(sha256(big), big);
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { code: string }).code).toBe('FRAME_TOO_LARGE');
    const get = async () =>
      fetch(`${url}/v1/artifacts/${address}`, {
        headers: authHeaders(await fetchChallenge(url), alice.key, 'alice', url),
      });
    expect((await get()).status).toBe(404);
    const token = readFileSync(t.handle.auditorTokenPath, 'utf8').trim();
    const asAuditor = (bearer: string, method = 'GET') =>
      fetch(`${url}/v1/artifacts/${address}`, {
        method,
        headers: { authorization: `Bearer ${bearer}` },
        ...(method === 'PUT' ? { body: bytes } : {}),
      });

    // A content-format request before the upload is refused with what to do.
    const release = {
      ...sampleRelease('1.0.0', ['raw', 'openpgp']),
      artifacts: [
        {
          name: 'app.tar.gz',
          sha256: address,
          sha512: createHash('sha512').update(bytes).digest('hex'),
          blake2b512: createHash('blake2b512').update(bytes).digest('hex'),
        },
      ],
    };
    const early = await alice.client.submit(newCeremonyId(), {
      type: 'sign.request',
      group: 'release',
      release,
    });
    expect(early.code).toBe('INVALID_MESSAGE');
    expect(early.message).toMatch(/upload app\.tar\.gz first/);

    // The real upload: stored once; the request is accepted.
    const ok = await put(address, bytes);
    expect(ok.status).toBe(201);
    expect((await put(address, bytes)).status).toBe(200);
    // No ceremony names it yet: nobody may download it, the auditor neither.
    expect((await get()).status).toBe(404);
    expect((await asAuditor(token)).status).toBe(404);
    expectAck(
      await alice.client.submit(newCeremonyId(), {
        type: 'sign.request',
        group: 'release',
        release,
      }),
    );
    // Now the members of the request's group may download it ...
    const got = await get();
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(Buffer.from(bytes));
    // ... and a member of no group with such a ceremony may not, though it knows the hash.
    const dave = new FakeMember('dave');
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.add',
        member: 'dave',
        identityKey: Buffer.from(dave.key.publicKey).toString('hex'),
        roles: ['lead'],
      }),
    );
    const outsider = await fetch(`${url}/v1/artifacts/${address}`, {
      headers: authHeaders(await fetchChallenge(url), dave.key, 'dave', url),
    });
    expect(outsider.status).toBe(404);
    expect(((await outsider.json()) as { code: string }).code).toBe('ARTIFACT_NOT_FOUND');
    // The auditor downloads what a signing request names (to re-verify raw/OpenPGP signatures),
    // with its token only, and never uploads.
    const audited = await asAuditor(token);
    expect(audited.status).toBe(200);
    expect(Buffer.from(await audited.arrayBuffer())).toEqual(Buffer.from(bytes));
    expect((await asAuditor(`${token}x`)).status).toBe(401);
    const upload = await asAuditor(token, 'PUT');
    expect(upload.status).toBe(401);
    expect(((await upload.json()) as { code: string }).code).toBe('UNAUTHENTICATED');
  });
});

/**
 * A PUT or POST whose body is sent in `chunks` pieces, one every `everyMs`, on its own connection;
 * settles when that connection closes, with the response (status 0 if none came).
 */
function slowRequest(
  url: string,
  path: string,
  headers: Record<string, string>,
  size: number,
  chunks: number,
  everyMs: number,
  method = 'PUT',
  keepAlive = false,
): Promise<{ status: number; body: string; ms: number }> {
  const u = new URL(url);
  const piece = Buffer.alloc(Math.ceil(size / chunks), 0x61);
  const started = Date.now();
  let status = 0;
  let body = '';
  return new Promise((resolve) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        agent: false,
        headers: {
          ...headers,
          connection: keepAlive ? 'keep-alive' : 'close',
          'content-length': String(size),
        },
      },
      (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('error', () => {});
      },
    );
    req.on('error', () => {});
    req.on('socket', (socket) =>
      socket.on('close', () => {
        clearInterval(tick);
        resolve({ status, body, ms: Date.now() - started });
      }),
    );
    let sent = 0;
    const tick = setInterval(() => {
      if (req.destroyed || sent >= size) {
        clearInterval(tick);
        if (!req.destroyed) req.end();
        return;
      }
      const n = Math.min(piece.length, size - sent);
      req.write(piece.subarray(0, n));
      sent += n;
    }, everyMs);
  });
}

describe('artifact upload timeouts', () => {
  const limits = {
    requestTimeoutMs: 300,
    headersTimeoutMs: 300,
    minUploadBytesPerSecond: 64 * 1024,
  };
  const member = async () => {
    const t = await fresh({ limits });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const alice = new FakeMember('alice');
    expectAck(
      await admin.submit(newCeremonyId(), {
        type: 'admin.member.add',
        member: 'alice',
        identityKey: Buffer.from(alice.key.publicKey).toString('hex'),
        roles: ['lead'],
      }),
    );
    const headers = async () =>
      authHeaders(await fetchChallenge(t.handle.url), alice.key, 'alice', t.handle.url);
    return { url: t.handle.url, headers };
  };

  it('stores an upload that takes longer than requestTimeoutMs while it keeps progressing', async () => {
    const { url, headers } = await member();
    const size = 4 * 1024 * 1024;
    const address = sha256(new Uint8Array(Buffer.alloc(size, 0x61)));
    const r = await slowRequest(url, `/v1/artifacts/${address}`, await headers(), size, 16, 100);
    expect(r.ms).toBeGreaterThan(1000);
    expect(r.status).toBe(201);
  });

  it('cuts off an upload slower than minUploadBytesPerSecond (slowloris)', async () => {
    const { url, headers } = await member();
    const size = 1024 * 1024;
    const address = sha256(new Uint8Array(Buffer.alloc(size, 0x61)));
    const r = await slowRequest(
      url,
      `/v1/artifacts/${address}`,
      await headers(),
      size,
      1 << 20,
      50,
    );
    expect(r.status).toBe(408);
    expect((JSON.parse(r.body) as { code: string }).code).toBe('DEADLINE_EXCEEDED');
    expect(r.ms).toBeLessThan(3000);
  });

  it('still cuts off a slow body on any other route after requestTimeoutMs', async () => {
    const { url } = await member();
    const r = await slowRequest(url, '/v1/log/cosign', {}, 100_000, 100_000, 50, 'POST', true);
    // Answered at once (401), but the connection is closed once the body is late.
    expect(r.ms).toBeLessThan(3000);
  });
});

describe('raw: an artifact another format would read as its signed message', () => {
  it('is refused when the request opens (INVALID_MESSAGE), and no ceremony opens', async () => {
    const t = await fresh();
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const alice = members[0]!;
    const url = t.handle.url;
    // A DSSE pre-authentication encoding of a statement nobody approved, as an "artifact".
    const forged = new TextEncoder().encode(
      'DSSEv1 28 application/vnd.in-toto+json 40 {"_type":"https://in-toto.io/Statement/v1"}',
    );
    const put = await fetch(`${url}/v1/artifacts/${sha256(forged)}`, {
      method: 'PUT',
      headers: authHeaders(await fetchChallenge(url), alice.key, 'alice', url),
      body: forged,
    });
    expect(put.status).toBe(201);
    const artifact = {
      name: 'notes.txt',
      sha256: sha256(forged),
      sha512: createHash('sha512').update(forged).digest('hex'),
      blake2b512: createHash('blake2b512').update(forged).digest('hex'),
    };
    const id = newCeremonyId();
    const refusedRaw = await alice.client.submit(id, {
      type: 'sign.request',
      group: 'release',
      release: { ...sampleRelease('1.0.0', ['raw', 'dsse']), artifacts: [artifact] },
    });
    expect(refusedRaw.code).toBe('INVALID_MESSAGE');
    expect(refusedRaw.message).toMatch(/DSSE pre-authentication encoding.*without raw/);
    expect(t.handle.store.getCeremony(id)).toBeUndefined();
    // The same file by digest only is fine.
    expectAck(
      await alice.client.submit(newCeremonyId(), {
        type: 'sign.request',
        group: 'release',
        release: { ...sampleRelease('1.0.0', ['minisign', 'dsse']), artifacts: [artifact] },
      }),
    );
  });
});

describe('artifact storage on disk', () => {
  it('refuses an upload that would leave the disk below the free-space floor (507), storing nothing', async () => {
    const t = await fresh({ limits: { artifactMinFreeBytes: Number.MAX_SAFE_INTEGER } });
    const admin = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const members = ['alice', 'bob', 'carol'].map((n) => new FakeMember(n));
    await setupGroup(t, admin, members, 'release', 2);
    const bytes = new TextEncoder().encode('release bytes\n'.repeat(8));
    const url = t.handle.url;
    const put = await fetch(`${url}/v1/artifacts/${sha256(bytes)}`, {
      method: 'PUT',
      headers: authHeaders(await fetchChallenge(url), members[0]!.key, 'alice', url),
      body: bytes,
    });
    expect(put.status).toBe(507);
    expect(((await put.json()) as { code: string }).code).toBe('STORAGE_UNAVAILABLE');
    expect(readdirSync(join(t.dir, 'artifacts'))).toEqual([]);
  });

  it('counts the uploads under way against the free-space floor: two at once cannot both pass it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-artifacts-'));
    const refused: Record<string, unknown>[] = [];
    // Room above the floor for one upload of 1000 bytes, not for two.
    const store = new ArtifactStore({
      dir,
      maxBytes: 1 << 20,
      minFreeBytes: 10_000,
      freeBytes: () => 10_000 + 1500,
      logger: { ...silentLogger, error: (_, fields) => refused.push(fields ?? {}) },
      access: { getGroup: () => undefined, groupsRequestingArtifact: () => [] },
    });
    const server = createServer((req, res) => {
      store.handle(req, res, () => ({ ok: true, member: 'alice' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const put = (body: Buffer) =>
      fetch(`http://127.0.0.1:${port}/v1/artifacts/${sha256(body)}`, { method: 'PUT', body });
    try {
      const first = Buffer.alloc(1000, 0x61);
      const slow = request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `/v1/artifacts/${sha256(first)}`,
        headers: { 'content-length': String(first.length) },
      });
      const firstStatus = new Promise<number>((resolve) =>
        slow.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }),
      );
      slow.write(first.subarray(0, 500));
      // The first upload is under way (its temporary file exists) and has written half its bytes.
      await vi.waitFor(() => expect(readdirSync(dir)).toHaveLength(1));
      const second = Buffer.alloc(1000, 0x62);
      const refusedPut = await put(second);
      expect(refusedPut.status).toBe(507);
      expect(((await refusedPut.json()) as { code: string }).code).toBe('STORAGE_UNAVAILABLE');
      expect(refused).toContainEqual(expect.objectContaining({ reservedBytes: 1000 }));
      slow.end(first.subarray(500));
      expect(await firstStatus).toBe(201);
      // The reservation ends with the upload: the next one is measured against the disk alone.
      expect((await put(second)).status).toBe(201);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('removes the temporary files a crash left at start, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-artifacts-'));
    const part = `.${'a'.repeat(64)}.${'0'.repeat(12)}.part`;
    writeFileSync(join(dir, part), 'half an upload');
    writeFileSync(join(dir, 'b'.repeat(64)), 'a stored artifact');
    writeFileSync(join(dir, 'notes.part'), 'not ours');
    new ArtifactStore({
      dir,
      maxBytes: 1024,
      logger: silentLogger,
      access: { getGroup: () => undefined, groupsRequestingArtifact: () => [] },
    });
    expect(readdirSync(dir).sort()).toEqual(['b'.repeat(64), 'notes.part'].sort());
    rmSync(dir, { recursive: true, force: true });
  });
});
