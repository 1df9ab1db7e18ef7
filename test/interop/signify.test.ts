/**
 * signify checksum list (`SHA256.sig`, embedded form): `signify-openbsd -C` accepts the quorum's
 * FROST aggregate over the list and every artifact's line; a changed artifact and another group's
 * key are refused; `verifySignature` agrees in every case (including the artifact's own line).
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '@conclave/release';
import { requireTool, tempDir } from '../support.js';
import { ARTIFACTS, enc, run, signRelease } from './release-support.js';

describe('signify-openbsd -C', () => {
  const s = signRelease(['signify']);
  const other = signRelease(['signify']);
  writeFileSync(join(s.dir, 'other.pub'), other.file('signify.pub'));
  const names = Object.keys(ARTIFACTS);

  const signify = (cwd: string, key: string, files: readonly string[]) => {
    requireTool('signify-openbsd');
    return run('signify-openbsd', ['-C', '-p', key, '-x', 'SHA256.sig', ...files], { cwd });
  };
  const native = (key: Uint8Array, artifact: Uint8Array, artifactName?: string) =>
    verifySignature({
      key,
      signature: s.file('SHA256.sig'),
      artifact,
      ...(artifactName ? { artifactName } : {}),
    });

  it('accepts the list and every artifact; verifySignature agrees', () => {
    const r = signify(s.dir, 'signify.pub', names);
    expect(r.ok, r.out).toBe(true);
    for (const n of names) expect(r.out).toContain(`${n}: OK`);
    expect(signify(s.dir, 'signify.pub', []).ok).toBe(true);
    for (const [n, b] of Object.entries(ARTIFACTS)) {
      expect(native(s.file('signify.pub'), b)).toMatchObject({
        ok: true,
        format: 'signify',
        artifactName: n,
      });
      expect(native(s.file('signify.pub'), b, n)).toMatchObject({ ok: true });
    }
  });

  it('rejects a changed artifact', () => {
    const dir = tempDir('conclave-signify-');
    copyFileSync(join(s.dir, 'SHA256.sig'), join(dir, 'SHA256.sig'));
    copyFileSync(join(s.dir, 'signify.pub'), join(dir, 'signify.pub'));
    const changed = enc('changed\n');
    writeFileSync(join(dir, 'app.tar.gz'), changed);
    const r = signify(dir, 'signify.pub', ['app.tar.gz']);
    expect(r.ok).toBe(false);
    expect(r.out).toContain('app.tar.gz: FAIL');
    expect(native(s.file('signify.pub'), changed, 'app.tar.gz')).toMatchObject({
      ok: false,
      code: 'DIGEST_MISMATCH',
    });
    expect(native(s.file('signify.pub'), changed)).toMatchObject({
      ok: false,
      code: 'ARTIFACT_NOT_LISTED',
    });
  });

  it("rejects another group's key", () => {
    expect(signify(s.dir, 'other.pub', names).ok).toBe(false);
    expect(native(other.file('signify.pub'), ARTIFACTS['app.tar.gz']!)).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
  });

  it('rejects an artifact the list does not name', () => {
    writeFileSync(join(s.dir, 'extra.bin'), 'extra');
    expect(signify(s.dir, 'signify.pub', ['extra.bin']).ok).toBe(false);
    expect(native(s.file('signify.pub'), enc('extra'), 'extra.bin')).toMatchObject({
      ok: false,
      code: 'ARTIFACT_NOT_LISTED',
    });
  });
});
