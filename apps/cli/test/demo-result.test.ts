// The demos' verdict and their --json document. A machine without openssl skips that check (both
// demos), it does not fail the demo; and a failed in-process demo prints exactly one JSON document
// (its own, `ok: false`, exit 1), not its document followed by an error document.
import { describe, expect, it, vi } from 'vitest';
import type * as DemoModule from '../src/demo.js';
import type { DemoResult } from '../src/demo.js';
import { demoPassed } from '../src/demo.js';
import { main } from '../src/main.js';
import { captured } from './capture.js';

const failed: DemoResult = {
  ok: false,
  mode: 'in-process',
  groupPublicKey: '00'.repeat(32),
  threshold: 2,
  signers: ['alice', 'bob'],
  approvers: ['alice', 'bob'],
  ceremonyId: 'c_demo0000000000',
  artifact: '/nowhere/release-1.0.0.tar.gz',
  publicKeys: { pem: '/nowhere/conclave-group.pub.pem' },
  signatures: { raw: '/nowhere/release-1.0.0.tar.gz.sig' },
  verified: { nodeCrypto: false, openssl: 'not installed' },
  timingsMs: {},
};

vi.mock('../src/demo.js', async (original) => ({
  ...(await original<typeof DemoModule>()),
  runDemo: () => failed,
}));

describe('demoPassed', () => {
  it('openssl not installed is skipped, not failed (with every format checked, as the default demo)', () => {
    expect(demoPassed({ nodeCrypto: true, openssl: 'not installed', formats: true })).toBe(true);
    expect(demoPassed({ nodeCrypto: true, openssl: 'not installed' })).toBe(true);
  });

  it('fails on a failed check', () => {
    expect(demoPassed({ nodeCrypto: true, openssl: false, formats: true })).toBe(false);
    expect(demoPassed({ nodeCrypto: false, openssl: true, formats: true })).toBe(false);
    expect(demoPassed({ nodeCrypto: true, openssl: true, formats: false })).toBe(false);
  });
});

describe('conclave demo --in-process --json, failing', () => {
  it('prints one JSON document with ok false and exits 1', async () => {
    let code = -1;
    const r = await captured(async () => {
      // runDemo is mocked: nothing is written to --out.
      code = await main(['demo', '--in-process', '--json', '--out', '/nonexistent/demo']);
    });
    expect(code).toBe(1);
    const lines = r.out.trim().split('\n');
    const doc = JSON.parse(r.out) as { ok: boolean; mode: string };
    expect(doc).toMatchObject({ ok: false, mode: 'in-process' });
    expect(lines.filter((l) => l.startsWith('{'))).toHaveLength(1);
  });
});
