// Artifact uploads for the content formats (raw, OpenPGP): members only, content-addressed by
// SHA-256 and hash-checked before anything is stored; a content-format request needs them first.
import { createHash } from 'node:crypto';
import { newCeremonyId } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
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
    const bytes = new TextEncoder().encode('release bytes');
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

    // The real upload: stored once, then downloadable by members; the request is accepted.
    const ok = await put(address, bytes);
    expect(ok.status).toBe(201);
    expect((await put(address, bytes)).status).toBe(200);
    const got = await get();
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).toString()).toBe('release bytes');
    expectAck(
      await alice.client.submit(newCeremonyId(), {
        type: 'sign.request',
        group: 'release',
        release,
      }),
    );
  });
});
