/**
 * The auditors' pages in a real browser: Debian's chromium driven by playwright-core against a
 * coordinator process that ran real key and signing ceremonies through the `conclave` CLI. The list
 * filters work, a ceremony page names the right approvers, and a transcript row edited in SQLite
 * behind the coordinator's back is shown as failing verification. Screenshots go to
 * test-artifacts/. Without chromium this test FAILS (requireTool), it never skips.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@conclave/coordinator';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, doc, waitFor } from '../e2e/cluster.js';
import { ROOT, requireTool } from '../support.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let c: Cluster;
let browser: Browser;
let page: Page;
let token: string;
const ids: Record<string, string> = {};

function artifactIn(name: string): string {
  const path = join(c.dir, name);
  writeFileSync(path, `artifact ${name} ${Date.now()}\n`);
  return path;
}

/** `requester` asks `group` to sign; `approvers` approve with `--yes`; resolves with the id. */
async function signRelease(
  group: string,
  requester: string,
  approvers: string[],
  version: string,
  releaseClass = 'standard',
): Promise<string> {
  const artifact = artifactIn(`${group}-${version}.tgz`);
  const req = await c.cli(requester, [
    'request',
    '--group',
    group,
    '--artifact',
    artifact,
    '--version',
    version,
    '--class',
    releaseClass,
    '--no-wait',
    '--json',
  ]);
  expect(req.code, req.stdout + req.stderr).toBe(0);
  const id = doc<{ ceremonyId: string }>(req).ceremonyId;
  const procs = approvers.map((m) =>
    c.spawn(m, ['approve', id, '--artifact', artifact, '--yes', '--json']),
  );
  for (const p of procs) await waitFor(p, /approved|completed/, 90_000);
  const codes = await Promise.all(procs.map((p) => p.exited));
  expect(codes, procs.map((p) => p.stderr).join('\n')).toEqual(approvers.map(() => 0));
  return id;
}

async function shot(name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `audit-${name}.png`), fullPage: true });
}

const rowsShown = async (): Promise<string[]> =>
  page
    .locator('#ceremonies tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-ceremony') ?? ''));

beforeAll(async () => {
  // Fails (never skips) when Debian's chromium is not installed.
  const executablePath = requireTool('chromium');
  c = await Cluster.start();
  await c.addMembers(['alice', 'bob', 'carol', 'dave']);
  await c.createGroup('web', 2, ['alice', 'bob', 'carol']);
  for (const r of await c.keygen('web', ['alice', 'bob', 'carol']))
    expect(r.code, r.stderr).toBe(0);
  await c.createGroup('ops', 2, ['bob', 'carol', 'dave']);
  for (const r of await c.keygen('ops', ['bob', 'carol', 'dave'])) expect(r.code, r.stderr).toBe(0);
  ids['web'] = await signRelease('web', 'carol', ['alice', 'bob'], '2.0.0');
  ids['ops'] = await signRelease('ops', 'bob', ['carol', 'dave'], '9.9.1', 'hotfix');
  token = readFileSync(join(c.dir, 'coordinator', 'auditor.token'), 'utf8').trim();
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const context = await browser.newContext({
    httpCredentials: { username: 'auditor', password: token },
    viewport: { width: 1280, height: 900 },
  });
  page = await context.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await c?.close();
});

describe('auditors’ pages in headless chromium', () => {
  it('lists every ceremony and filters by group, class, member, state and date', async () => {
    const res = await page.goto(`${c.url}/audit/`);
    expect(res?.status()).toBe(200);
    const all = await rowsShown();
    expect(all).toContain(ids['web']);
    expect(all).toContain(ids['ops']);
    expect(all).toHaveLength(4); // two key ceremonies, two signing ceremonies
    await shot('list');

    await page.selectOption('select[name=group]', 'ops');
    await page.click('button[type=submit]');
    await page.waitForURL(/group=ops/);
    const ops = await rowsShown();
    expect(ops).toContain(ids['ops']);
    expect(ops).not.toContain(ids['web']);
    expect(ops).toHaveLength(2);

    await page.goto(`${c.url}/audit/?class=hotfix`);
    expect(await rowsShown()).toEqual([ids['ops']]);
    await page.goto(`${c.url}/audit/?member=alice`);
    expect(await rowsShown()).toEqual([ids['web']]);
    await page.goto(`${c.url}/audit/?kind=key`);
    expect(await rowsShown()).toHaveLength(2);
    await page.goto(`${c.url}/audit/?state=completed&kind=sign`);
    expect(await rowsShown()).toHaveLength(2);
    const today = new Date().toISOString().slice(0, 10);
    await page.goto(`${c.url}/audit/?from=${today}&to=${today}`);
    expect(await rowsShown()).toHaveLength(4);
    await page.goto(`${c.url}/audit/?to=2000-01-01`);
    expect(await rowsShown()).toHaveLength(0);
    await page.goto(`${c.url}/audit/`);
    expect(await page.locator('#ceremonies .ok').count()).toBe(4);
    expect(await page.textContent('#checkpoint')).toMatch(/^conclave\/[0-9a-f]{16}\n\d+\n/);
  });

  it('shows a ceremony with its approvers, sessions, outcome, statement and a passing verification', async () => {
    await page.goto(`${c.url}/audit/`);
    await page.click(`a[href="/audit/ceremony/${ids['web']}"]`);
    await page.waitForURL(new RegExp(`/audit/ceremony/${ids['web']}$`));
    expect(await page.textContent('#verdict')).toContain('Verification PASSED');
    const approvers = await page.locator('#approvals td.approver').allTextContents();
    expect([...approvers].sort()).toEqual(['alice', 'bob']);
    expect((await page.textContent('#statement-approvers'))?.split(', ').sort()).toEqual([
      'alice',
      'bob',
    ]);
    expect(await page.textContent('#request')).toContain('carol');
    expect(await page.locator('#sessions tbody tr').count()).toBeGreaterThanOrEqual(1);
    const statement = JSON.parse((await page.textContent('#statement')) ?? '{}') as {
      predicate: { approvers: { member: string }[]; requester: string };
    };
    expect(statement.predicate.approvers.map((a) => a.member).sort()).toEqual(['alice', 'bob']);
    expect(statement.predicate.requester).toBe('carol');
    expect(await page.textContent('#outcome')).toContain('Signed at');
    // The bundle link downloads JSON the page was built from.
    const bundle = await page.request.get(`${c.url}/audit/ceremony/${ids['web']}/bundle.json`);
    expect(bundle.status()).toBe(200);
    expect(bundle.headers()['content-disposition']).toContain('attachment');
    await shot('ceremony');
  });

  it('shows each group’s policy with its signing ceremony, the hotfixes, and the policy a ceremony ran under; a <script> in a policy stays inert text', async () => {
    const hostile = '<script>window.__pwned=1</script>web-*.tgz';
    const file = join(c.dir, 'policy-web.json');
    writeFileSync(
      file,
      JSON.stringify({
        classes: {
          standard: { artifacts: [hostile, 'web-*.tgz'], approvalTimeoutSeconds: 3600 },
          hotfix: { quorum: 2, approvalTimeoutSeconds: 1800 },
        },
        hotfix: { ratificationWindowSeconds: 259_200 },
      }),
    );
    const set = c.spawn('alice', ['policy', 'set', 'web', '--file', file, '--json']);
    await waitFor(set, /requested (c_[0-9a-f]+)/);
    const setBy = /requested (c_[0-9a-f]+)/.exec(set.stderr)![1]!;
    const votes = ['bob', 'carol'].map((m) => c.spawn(m, ['approve', setBy, '--yes', '--json']));
    expect(await set.exited, set.stderr).toBe(0);
    await Promise.all(votes.map((p) => p.exited));

    await page.goto(`${c.url}/audit/`);
    await page.click('a[href="/audit/governance"]');
    await page.waitForURL(/\/audit\/governance$/);
    const web = page.locator('#policy-web');
    expect(await web.locator('.policy-id').first().textContent()).toBe('web@v1');
    expect(await web.locator('.policy-source').textContent()).toContain(setBy);
    expect(await web.locator('.policy-verdict').textContent()).toContain(
      'Quorum signature verifies under the group key',
    );
    const patterns = await web
      .locator('tr[data-class="standard"] td.artifacts code')
      .allTextContents();
    expect(patterns).toEqual([hostile, 'web-*.tgz']);
    expect(await web.locator('tr[data-class="hotfix"] td.quorum').textContent()).toContain('2');
    expect(await web.locator('.hotfix-rules').textContent()).toMatch(/within\s+3 days/);
    // Text, not markup: no script element, and it never ran.
    expect(await page.locator('main script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('#policy-ops .policy-id').first().textContent()).toBe('ops@v0');
    expect(
      await page.locator(`#hotfixes tr[data-hotfix="${ids['ops']}"]`).getAttribute('data-state'),
    ).toBe('unratified');
    await shot('governance');

    await page.click(`#policy-web .policy-source a[href="/audit/ceremony/${setBy}"]`);
    await page.waitForURL(new RegExp(`/audit/ceremony/${setBy}$`));
    expect(await page.textContent('#ceremony-policy')).toMatch(/web@v0[\s\S]*Sets\s+policy web@v1/);
    await page.goto(`${c.url}/audit/ceremony/${ids['ops']}`);
    expect(await page.locator('#ceremony-policy .policy-id').textContent()).toBe('ops@v0');
    expect(await page.textContent('#ceremony-policy')).toContain('hotfix');
  });

  it('shows a transcript row edited in SQLite as failing verification, in the ceremony, the list and the log', async () => {
    const db = openDatabase(join(c.dir, 'coordinator', 'conclave.db'));
    db.exec('PRAGMA busy_timeout = 5000');
    try {
      // Make bob's approval name another request: its signature no longer verifies, and the
      // transcript no longer hashes to its log leaf.
      const row = db
        .prepare(
          "SELECT idx, envelope FROM transcript WHERE ceremony_id = ? AND sender = 'bob' AND body_type = 'sign.approve'",
        )
        .get(ids['web']) as { idx: number; envelope: string };
      const env = JSON.parse(row.envelope) as { body: { requestDigest: string } };
      env.body.requestDigest = `${env.body.requestDigest[0] === '0' ? '1' : '0'}${env.body.requestDigest.slice(1)}`;
      db.prepare('UPDATE transcript SET envelope = ? WHERE ceremony_id = ? AND idx = ?').run(
        JSON.stringify(env),
        ids['web'],
        row.idx,
      );
    } finally {
      db.close();
    }
    await page.goto(`${c.url}/audit/ceremony/${ids['web']}`);
    expect(await page.textContent('#verdict')).toContain('Verification FAILED');
    const failed = await page.locator('#checks tr.check-fail td:first-child').allTextContents();
    expect(failed).toContain('transcript matches its log leaf');
    expect(failed).toContain('envelope signatures');
    await shot('tampered-ceremony');

    await page.goto(`${c.url}/audit/`);
    const tampered = page.locator(`#ceremonies tr[data-ceremony="${ids['web']}"] .fail`);
    expect(await tampered.textContent()).toBe('TAMPERED');
    expect(await page.locator(`#ceremonies tr[data-ceremony="${ids['ops']}"] .ok`).count()).toBe(1);
    await shot('tampered-list');

    await page.goto(`${c.url}/audit/log`);
    expect(await page.textContent('#verdict')).toContain('Log verification FAILED');
    expect(await page.locator(`a[href="/audit/ceremony/${ids['web']}"]`).count()).toBe(1);
    await shot('tampered-log');
  });

  it('refuses the pages without the auditor credential', async () => {
    const ctx = await browser.newContext();
    // A browser without credentials gets the Basic challenge (chromium then refuses to navigate).
    const res = await ctx.request.get(`${c.url}/audit/`);
    expect(res.status()).toBe(401);
    expect(res.headers()['www-authenticate']).toContain('Basic');
    await expect(ctx.newPage().then((p) => p.goto(`${c.url}/audit/`))).rejects.toThrow(/AUTH/);
    await ctx.close();
  });
});
