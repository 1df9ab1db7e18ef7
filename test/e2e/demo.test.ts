/** `conclave demo` as a user runs it: its own OS process, a 3-of-5 key, a verified signature. */
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support.js';

describe('conclave demo', () => {
  it('makes a 3-of-5 key, signs a release, and the signature verifies with Node and openssl', async () => {
    const out = tempDir();
    const r = await runCli(['demo', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      threshold: number;
      signers: string[];
      approvers: string[];
      artifact: string;
      publicKeys: { pem: string };
      signatures: { raw: string };
      verified: { nodeCrypto: boolean; openssl: boolean | string };
    };
    expect(doc.ok).toBe(true);
    expect(doc.threshold).toBe(3);
    expect(doc.signers).toHaveLength(5);
    expect(doc.approvers).toHaveLength(3);
    expect(doc.verified.openssl).toBe(true);
    // Check it ourselves rather than trusting the demo's own verdict.
    const key = createPublicKey(readFileSync(doc.publicKeys.pem, 'utf8'));
    expect(verify(null, readFileSync(doc.artifact), key, readFileSync(doc.signatures.raw))).toBe(
      true,
    );
    expect(verify(null, Buffer.from('tampered'), key, readFileSync(doc.signatures.raw))).toBe(
      false,
    );
  });

  it('refuses a threshold above the number of signers with a coded error', async () => {
    const r = await runCli([
      'demo',
      '--threshold',
      '6',
      '--signers',
      '5',
      '--json',
      '--out',
      tempDir(),
    ]);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('has --help', async () => {
    const r = await runCli(['demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--threshold');
  });
});
