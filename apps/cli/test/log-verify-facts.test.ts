// `conclave log verify --auditor-token` re-derives hotfix deadlines only from completed signing
// ceremonies whose bundles verify under the pinned coordinator, admin and log keys: a completed
// leaf whose transcript merely hashes to it (the coordinator writes both) ratifies nothing. Served
// over HTTP by a small fake coordinator, with bundles from @conclave/audit's fixture.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  const log = new MemLog(hotfix.log.origin, hotfix.log.key);
  const signLeaf = (ceremonyId: string, outcome: string, at: number, t: TranscriptEntry[]) =>
    new TextDecoder().decode(
      encodeLeaf(
        leafFor({ ceremonyId, kind: 'sign', group: 'release', outcome, at, transcript: t }),
      ),
    );
  const leaves = [
    signLeaf(HOTFIX, 'completed', C + 1, hotfix.bundle.transcript as TranscriptEntry[]),
    signLeaf(RATIFY, 'completed', C + HOUR + 1, ratifyTranscript),
    signLeaf('c_later00000000001', 'expired', C + 30 * 24 * HOUR, []),
  ];
  for (const l of leaves) log.leaves.push(new TextEncoder().encode(l));
  const checkpoint = log.checkpoint();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (url.pathname === '/v1/log/leaves')
      json({ leaves: url.searchParams.get('start') === '0' ? leaves : [] });
    else if (url.pathname === '/v1/log/checkpoints') json({ checkpoints: [checkpoint] });
    else if (url.pathname === '/v1/log/checkpoint') res.end(checkpoint);
    else if (url.pathname.startsWith('/v1/audit/bundle/'))
      json(bundles.get(decodeURIComponent(url.pathname.slice('/v1/audit/bundle/'.length))));
    else res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'conclave-cli-logverify-'));
  dirs.push(dir);
  const token = join(dir, 'auditor.token');
  writeFileSync(token, 'a-token\n');
  return {
    options: {
      json: true,
      home: join(dir, 'no-home'),
      coordinator: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      logKey: encodeVerifierKey(hotfix.log.origin, hotfix.log.key.publicKey),
      auditorToken: token,
      coordinatorKey: hotfix.trust.coordinatorKey,
      adminPublicKey: hotfix.trust.adminKey,
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

  it('without the admin key to verify the bundles against: KEYS_NOT_PINNED', async () => {
    const { options } = await coordinator(false);
    const { adminPublicKey: _, ...withoutAdmin } = options;
    await expect(cmdLogVerify(withoutAdmin, ctx)).rejects.toMatchObject({
      code: 'KEYS_NOT_PINNED',
    });
  });
});
