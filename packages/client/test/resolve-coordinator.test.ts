// Pinned keys never change behind the member's back (README: "a later change of either key is
// refused with COORDINATOR_KEY_CHANGED"): passing another --coordinator URL once re-pinned whatever
// keys it served, admin key included, and the admin key authorizes the refreshes and reshares an
// agent joins by itself. Another URL is now taken only when it serves the pinned keys.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, generateIdentityKey, PROTOCOL_VERSION } from '@conclave/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Home, resolveCoordinator } from '../src/index.js';

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A coordinator that only answers GET /v1/info, with these keys. */
async function infoServer(keys: { coordinatorKey: string; adminKey: string }): Promise<string> {
  let origin = '';
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ protocolVersion: PROTOCOL_VERSION, origin, ...keys }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

const keys = () => ({
  coordinatorKey: bytesToHex(generateIdentityKey().publicKey),
  adminKey: bytesToHex(generateIdentityKey().publicKey),
});

async function pinnedHome(url: string): Promise<Home> {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-pins-'));
  dirs.push(dir);
  const home = await Home.init(join(dir, 'alice'), 'alice', 'pins test passphrase', {
    kdfParams: { N: 2 ** 10, r: 8, p: 1 },
    allowWeakKdf: true,
  });
  expect((await resolveCoordinator(home, url)).pinnedNow).toBe(true);
  await home.saveConfig({
    ...home.config,
    coordinator: { ...home.config.coordinator!, logKey: 'conclave/example+01020304+AAAA' },
  });
  return home;
}

describe('resolveCoordinator with a pinned home', () => {
  it('refuses another URL that serves other keys (COORDINATOR_KEY_CHANGED), and keeps the pins', async () => {
    const pinned = keys();
    const home = await pinnedHome(await infoServer(pinned));
    const before = home.config.coordinator;
    for (const other of [
      keys(),
      { ...pinned, adminKey: keys().adminKey },
      { ...pinned, coordinatorKey: keys().coordinatorKey },
    ]) {
      await expect(resolveCoordinator(home, await infoServer(other))).rejects.toMatchObject({
        code: 'COORDINATOR_KEY_CHANGED',
      });
    }
    expect((await Home.open(home.dir)).config.coordinator).toEqual(before);
  });

  it('follows the pinned coordinator to another URL with the same keys, keeping the log key', async () => {
    const pinned = keys();
    const home = await pinnedHome(await infoServer(pinned));
    const moved = await infoServer(pinned);
    const lines: string[] = [];
    const r = await resolveCoordinator(home, moved, (l) => lines.push(l));
    expect(r.pinnedNow).toBe(false);
    const after = (await Home.open(home.dir)).config.coordinator!;
    expect(after).toMatchObject({
      url: moved,
      ...pinned,
      logKey: 'conclave/example+01020304+AAAA',
    });
    expect(lines.join('\n')).toMatch(/now answers at/);
  });
});
