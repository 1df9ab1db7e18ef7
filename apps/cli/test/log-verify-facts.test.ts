// `conclave log verify --auditor-token` re-derives hotfix deadlines only from completed signing
// ceremonies whose bundles verify under the pinned coordinator, admin and log keys: a completed
// leaf whose transcript merely hashes to it (the coordinator writes both) ratifies nothing. Served
// over HTTP by a small fake coordinator, with bundles from @conclave/audit's fixture.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeLeaf,
  encodeVerifierKey,
  leafFor,
  type CeremonyBundle,
  type TranscriptEntry,
} from '@conclave/audit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  inventedRatification,
  logBundleAt,
  signingBundle,
} from '../../../packages/audit/test/bundle-fixture.js';
import { MemLog } from '../../../packages/audit/test/helpers.js';
import { cmdLogVerify } from '../src/commands/audit.js';
import type { Ctx } from '../src/output.js';
import { captured } from './capture.js';

const C = 1_750_000_000_000;
const HOUR = 3_600_000;
const HOTFIX = 'c_hotfix000000001';
const RATIFY = 'c_ratify000000001';

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ctx: Ctx = { json: true, progress: () => undefined, result: () => undefined };

/**
 * A log of the real hotfix, a ratification of it an hour later (really signed, or `invented`:
 * entries in alice's and the coordinator's names that nobody signed, wrapped in a bundle), and a
 * leaf 30 days later; served as the coordinator serves it.
 */
async function coordinator(invented: boolean) {
  const hotfix = signingBundle({
    ceremonyId: HOTFIX,
    release: { class: 'hotfix', incident: 'INC-42' },
    completedAt: C,
  });
  const bundles = new Map<string, CeremonyBundle>([[HOTFIX, hotfix.bundle]]);
  let ratifyTranscript: TranscriptEntry[];
  if (invented) {
    ratifyTranscript = inventedRatification(
      { ceremonyId: HOTFIX, transcript: hotfix.bundle.transcript as TranscriptEntry[] },
      RATIFY,
      C + HOUR,
    );
    bundles.set(RATIFY, {
      ...structuredClone(hotfix.bundle),
      ceremonyId: RATIFY,
      transcript: ratifyTranscript,
    });
  } else {
    const ratify = signingBundle({
      sameKeysAs: hotfix,
      ceremonyId: RATIFY,
      release: { class: 'standard', ratifies: HOTFIX },
      completedAt: C + HOUR,
    });
    ratifyTranscript = ratify.bundle.transcript as TranscriptEntry[];
    bundles.set(RATIFY, ratify.bundle);
  }
  const leaves = [
    signLeaf(HOTFIX, C + 1, hotfix.bundle.transcript as TranscriptEntry[]),
    signLeaf(RATIFY, C + HOUR + 1, ratifyTranscript),
    signLeaf('c_later00000000001', C + 30 * 24 * HOUR, [], 'expired'),
  ];
  return serve(hotfix, leaves, bundles);
}

const signLeaf = (ceremonyId: string, at: number, t: TranscriptEntry[], outcome = 'completed') =>
  new TextDecoder().decode(
    encodeLeaf(leafFor({ ceremonyId, kind: 'sign', group: 'release', outcome, at, transcript: t })),
  );

/**
 * Serves `leaves` (logged under `keys`' log key), the bundles, and `artifacts` by SHA-256 to the
 * auditor's bearer token only, as the coordinator serves them; the options to verify them with.
 */
async function serve(
  keys: ReturnType<typeof signingBundle>,
  leaves: string[],
  bundles: ReadonlyMap<string, CeremonyBundle>,
  artifacts: ReadonlyMap<string, Uint8Array> = new Map(),
) {
  const log = new MemLog(keys.log.origin, keys.log.key);
  for (const l of leaves) log.leaves.push(new TextEncoder().encode(l));
  const checkpoint = log.checkpoint();
  // Each bundle proves its ceremony's leaf into this log, as the coordinator exports it.
  for (const [id, bundle] of bundles) {
    const index = leaves.findIndex(
      (l) => (JSON.parse(l) as { ceremonyId: string }).ceremonyId === id,
    );
    if (index >= 0) logBundleAt({ bundle, log }, log.leaves, index, log.leaves.length);
  }
  const downloads: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    const artifact = /^\/v1\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname)?.[1];
    if (url.pathname === '/v1/log/leaves')
      json({ leaves: url.searchParams.get('start') === '0' ? leaves : [] });
    else if (url.pathname === '/v1/log/checkpoints') json({ checkpoints: [checkpoint] });
    else if (url.pathname === '/v1/log/checkpoint') res.end(checkpoint);
    else if (url.pathname.startsWith('/v1/audit/bundle/')) {
      const bundle = bundles.get(
        decodeURIComponent(url.pathname.slice('/v1/audit/bundle/'.length)),
      );
      if (bundle !== undefined) json(bundle);
      else
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ code: 'CEREMONY_NOT_FOUND', message: 'no such ceremony' }));
    } else if (artifact !== undefined) {
      downloads.push(artifact);
      const bytes = artifacts.get(artifact);
      if (req.headers.authorization !== 'Bearer a-token') res.writeHead(401).end();
      else if (bytes === undefined)
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ code: 'ARTIFACT_NOT_FOUND', message: 'no such artifact' }));
      else res.writeHead(200).end(bytes);
    } else res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'conclave-cli-logverify-'));
  dirs.push(dir);
  const token = join(dir, 'auditor.token');
  writeFileSync(token, 'a-token\n', { mode: 0o600 }); // a secret file: others may not read it
  return {
    downloads,
    options: {
      json: true,
      home: join(dir, 'no-home'),
      coordinator: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      logKey: encodeVerifierKey(keys.log.origin, keys.log.key.publicKey),
      auditorToken: token,
      coordinatorKey: keys.trust.coordinatorKey,
      adminPublicKey: keys.trust.adminKey,
    },
  };
}

async function logVerify(options: Record<string, unknown>) {
  const { out, exitCode } = await captured(() => cmdLogVerify(options, ctx));
  return {
    exitCode,
    doc: JSON.parse(out) as {
      ok: boolean;
      error?: { checkCode: string | null };
      unverifiedCeremonies: string[] | null;
      hotfixDeadlines: { ceremonyId: string; status: string }[] | null;
    },
  };
}

describe('conclave log verify --auditor-token: facts only from verified bundles', () => {
  it('a really signed ratification counts: the hotfix is ratified, the log verifies', async () => {
    const { options } = await coordinator(false);
    const { exitCode, doc } = await logVerify(options);
    expect(exitCode).toBeUndefined();
    expect(doc).toMatchObject({
      ok: true,
      unverifiedCeremonies: [],
      hotfixDeadlines: [{ ceremonyId: HOTFIX, status: 'ratified' }],
    });
  });

  it('an invented ratification (w.ts) ratifies nothing: exit 1, BUNDLE_UNVERIFIED, the flag is missing', async () => {
    const { options } = await coordinator(true);
    const { exitCode, doc } = await logVerify(options);
    expect(exitCode).toBe(1);
    expect(doc.error?.checkCode).toBe('BUNDLE_UNVERIFIED');
    expect(doc.unverifiedCeremonies).toEqual([RATIFY]);
    expect(doc.hotfixDeadlines).toMatchObject([{ ceremonyId: HOTFIX, status: 'missing' }]);
  });

  it('a bundle the coordinator does not serve, or serves as something else: exit 1, that ceremony unverified (not a usage error)', async () => {
    for (const served of [undefined, { format: 'not a bundle' }]) {
      const hotfix = signingBundle({
        ceremonyId: HOTFIX,
        release: { class: 'hotfix', incident: 'INC-42' },
        completedAt: C,
      });
      const bundles = new Map<string, CeremonyBundle>();
      if (served !== undefined) bundles.set(HOTFIX, served as unknown as CeremonyBundle);
      const leaves = [signLeaf(HOTFIX, C + 1, hotfix.bundle.transcript as TranscriptEntry[])];
      const { options } = await serve(hotfix, leaves, bundles);
      const { exitCode, doc } = await logVerify(options);
      expect(exitCode).toBe(1);
      expect(doc.unverifiedCeremonies).toEqual([HOTFIX]);
    }
  });

  it("a refusal's body is read up to 64 KiB: a larger one is not taken as the coordinator's code", async () => {
    const { options } = await coordinator(false);
    const big = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'FORGED_CODE', message: 'x'.repeat(100 * 1024) }));
    });
    servers.push(big);
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(big.address() as AddressInfo).port}`;
    await expect(cmdLogVerify({ ...options, coordinator: url }, ctx)).rejects.toMatchObject({
      code: 'CONNECTION_REFUSED',
    });
  });

  it('without the admin key to verify the bundles against: KEYS_NOT_PINNED', async () => {
    const { options } = await coordinator(false);
    const { adminPublicKey: _, ...withoutAdmin } = options;
    await expect(cmdLogVerify(withoutAdmin, ctx)).rejects.toMatchObject({
      code: 'KEYS_NOT_PINNED',
    });
  });
});

describe('conclave log verify --auditor-token: raw and OpenPGP ceremonies', () => {
  const RAW = 'c_rawformat000001';
  const bytes = new TextEncoder().encode('the release tarball');
  const digest = (alg: string, b: Uint8Array = bytes) => createHash(alg).update(b).digest('hex');
  const artifact = {
    name: 'app.tar.gz',
    sha256: digest('sha256'),
    sha512: digest('sha512'),
    blake2b512: digest('blake2b512'),
  };

  /** A completed raw-format ceremony (its messages are the artifact bytes), logged and served. */
  async function rawCeremony(served: Uint8Array | undefined) {
    const raw = signingBundle({
      ceremonyId: RAW,
      release: { formats: ['dsse', 'raw'], artifacts: [artifact] },
      artifactBytes: () => bytes,
      completedAt: C,
    });
    const leaves = [signLeaf(RAW, C + 1, raw.bundle.transcript as TranscriptEntry[])];
    const artifacts = new Map(served === undefined ? [] : [[artifact.sha256, served]]);
    return serve(raw, leaves, new Map([[RAW, raw.bundle]]), artifacts);
  }

  it("verifies with the coordinator's copy of the bytes when the home has none, and keeps no copy", async () => {
    const { options, downloads } = await rawCeremony(bytes);
    // Copies go to a temporary directory (never all in memory), removed when the log is verified.
    const tmp = mkdtempSync(join(tmpdir(), 'conclave-cli-tmp-'));
    dirs.push(tmp);
    const before = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    try {
      const { exitCode, doc } = await logVerify(options);
      expect(exitCode).toBeUndefined();
      expect(doc).toMatchObject({ ok: true, unverifiedCeremonies: [] });
    } finally {
      if (before === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = before;
    }
    expect(downloads).toEqual([artifact.sha256]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('without the bytes the ceremony stays unverified: exit 1, BUNDLE_UNVERIFIED', async () => {
    const { options } = await rawCeremony(undefined);
    const { exitCode, doc } = await logVerify(options);
    expect(exitCode).toBe(1);
    expect(doc.error?.checkCode).toBe('BUNDLE_UNVERIFIED');
    expect(doc.unverifiedCeremonies).toEqual([RAW]);
  });

  it("a coordinator copy without the request's digests is not used: exit 1", async () => {
    const { options } = await rawCeremony(new TextEncoder().encode('other bytes'));
    const { exitCode, doc } = await logVerify(options);
    expect(exitCode).toBe(1);
    expect(doc.unverifiedCeremonies).toEqual([RAW]);
  });
});
