/**
 * minisign (prehashed `ED`, two FROST sessions: signature, then global signature over signature ‖
 * trusted comment): `minisign -V -H` accepts; a changed artifact, another group's key and an
 * edited trusted comment are refused; `verifySignature` agrees in every case.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '@conclave/release';
import { requireTool } from '../support.js';
import { ARTIFACTS, dec, enc, run, signRelease } from './release-support.js';

describe('minisign -V -H', () => {
  const s = signRelease(['minisign']);
  const other = signRelease(['minisign']);
  writeFileSync(join(s.dir, 'other.pub'), other.file('minisign.pub'));
  const changed = enc('changed\n');
  writeFileSync(join(s.dir, 'changed'), changed);
  const edited = enc(dec(s.file('app.tar.gz.minisig')).replace('version:2.0.0', 'version:9.9.9'));
  writeFileSync(join(s.dir, 'edited.minisig'), edited);

  const minisign = (key: string, artifact: string, sig: string) => {
    requireTool('minisign');
    return run('minisign', ['-V', '-H', '-p', key, '-m', artifact, '-x', sig], { cwd: s.dir });
  };
  const native = (key: Uint8Array, sig: Uint8Array, artifact: Uint8Array) =>
    verifySignature({ key, signature: sig, artifact });

  it('accepts every artifact and shows the trusted comment; verifySignature agrees', () => {
    for (const [name, bytes] of Object.entries(ARTIFACTS)) {
      const r = minisign('minisign.pub', name, `${name}.minisig`);
      expect(r.ok, r.out).toBe(true);
      expect(r.out).toContain(
        `file:${name}\tprehashed\tversion:2.0.0\tceremony:c_interop0123456789abcdef01234567`,
      );
      expect(native(s.file('minisign.pub'), s.file(`${name}.minisig`), bytes)).toMatchObject({
        ok: true,
        format: 'minisign',
        artifactName: name,
      });
    }
  });

  it('rejects a changed artifact', () => {
    expect(minisign('minisign.pub', 'changed', 'app.tar.gz.minisig').ok).toBe(false);
    expect(native(s.file('minisign.pub'), s.file('app.tar.gz.minisig'), changed)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's key", () => {
    expect(minisign('other.pub', 'app.tar.gz', 'app.tar.gz.minisig').ok).toBe(false);
    expect(
      native(other.file('minisign.pub'), s.file('app.tar.gz.minisig'), ARTIFACTS['app.tar.gz']!),
    ).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
  });

  it('rejects an edited trusted comment', () => {
    const r = minisign('minisign.pub', 'app.tar.gz', 'edited.minisig');
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/[Cc]omment signature verification failed/);
    expect(native(s.file('minisign.pub'), edited, ARTIFACTS['app.tar.gz']!)).toMatchObject({
      ok: false,
      code: 'TRUSTED_COMMENT_INVALID',
    });
  });

  it('signify reads the same public key (same keynum)', () => {
    expect(dec(s.file('minisign.pub')).split('\n')[1]).toBe(
      dec(signRelease(['signify'], { group: s.group }).file('signify.pub')).split('\n')[1],
    );
  });
});
