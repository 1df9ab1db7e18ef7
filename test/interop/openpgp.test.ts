/**
 * OpenPGP v4 EdDSALegacy: the group certificate (key + user ID + the quorum's own self-signature)
 * and detached `.asc` document signatures, all FROST aggregates. gpgv, gpg and sqv accept them;
 * a changed artifact and another group's certificate are refused; `verifySignature` agrees.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectKey, verifySignature } from '@conclave/release';
import { requireTool, tempDir } from '../support.js';
import { ARTIFACTS, enc, run, signRelease } from './release-support.js';

describe('OpenPGP with gpgv, gpg and sqv', () => {
  const s = signRelease(['openpgp']);
  const other = signRelease(['openpgp']);
  writeFileSync(join(s.dir, 'other.gpg'), other.file('quorum.gpg'));
  writeFileSync(join(s.dir, 'other.asc'), other.file('quorum.asc'));
  const changed = enc('changed\n');
  writeFileSync(join(s.dir, 'changed'), changed);
  const names = Object.keys(ARTIFACTS);

  const home = () => {
    const h = tempDir('conclave-gnupg-');
    chmodSync(h, 0o700);
    return h;
  };
  const gpgv = (keyring: string, sig: string, artifact: string) => {
    requireTool('gpgv');
    return run('gpgv', ['--keyring', `./${keyring}`, sig, artifact], {
      cwd: s.dir,
      env: { GNUPGHOME: home() },
    });
  };
  const gpg = (cert: string, sig: string, artifact: string) => {
    requireTool('gpg');
    const env = { GNUPGHOME: home() };
    expect(run('gpg', ['--batch', '--import', cert], { cwd: s.dir, env }).ok).toBe(true);
    return run('gpg', ['--batch', '--verify', sig, artifact], { cwd: s.dir, env });
  };
  const sqv = (cert: string, sig: string, artifact: string) => {
    requireTool('sqv');
    return run('sqv', ['--keyring', cert, sig, artifact], { cwd: s.dir });
  };
  const native = (key: Uint8Array, sig: string, artifact: Uint8Array) =>
    verifySignature({ key, signature: s.file(sig), artifact });

  it('the certificate carries a valid quorum self-signature', () => {
    const k = detectKey(s.file('quorum.asc'));
    expect(k.openpgp?.userIds).toEqual(['release release quorum <release@conclave.invalid>']);
    expect(k.openpgp?.createdAt).toBe(1764000000);
  });

  it('gpgv, gpg and sqv accept every artifact; verifySignature agrees', () => {
    for (const n of names) {
      const v = gpgv('quorum.gpg', `${n}.asc`, n);
      expect(v.ok, v.out).toBe(true);
      expect(v.out).toContain(
        'Good signature from "release release quorum <release@conclave.invalid>"',
      );
      const g = gpg('quorum.asc', `${n}.asc`, n);
      expect(g.ok, g.out).toBe(true);
      expect(g.out).toContain('Good signature');
      const q = sqv('quorum.asc', `${n}.asc`, n);
      expect(q.ok, q.out).toBe(true);
      for (const key of ['quorum.asc', 'quorum.gpg']) {
        expect(native(s.file(key), `${n}.asc`, ARTIFACTS[n]!)).toMatchObject({
          ok: true,
          format: 'openpgp',
        });
      }
    }
  });

  it('rejects a changed artifact', () => {
    expect(gpgv('quorum.gpg', 'app.tar.gz.asc', 'changed').ok).toBe(false);
    expect(gpg('quorum.asc', 'app.tar.gz.asc', 'changed').ok).toBe(false);
    expect(sqv('quorum.asc', 'app.tar.gz.asc', 'changed').ok).toBe(false);
    expect(native(s.file('quorum.asc'), 'app.tar.gz.asc', changed)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's certificate", () => {
    expect(gpgv('other.gpg', 'app.tar.gz.asc', 'app.tar.gz').ok).toBe(false);
    expect(gpg('other.asc', 'app.tar.gz.asc', 'app.tar.gz').ok).toBe(false);
    expect(sqv('other.asc', 'app.tar.gz.asc', 'app.tar.gz').ok).toBe(false);
    expect(
      native(other.file('quorum.asc'), 'app.tar.gz.asc', ARTIFACTS['app.tar.gz']!),
    ).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
    expect(
      native(other.file('quorum.pem'), 'app.tar.gz.asc', ARTIFACTS['app.tar.gz']!),
    ).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it('a certificate without a valid self-signature is refused by gpgv and by detectKey', () => {
    const cert = Uint8Array.from(s.file('quorum.gpg'));
    cert[cert.length - 5]! ^= 0x01; // inside S of the self-signature
    writeFileSync(join(s.dir, 'broken.gpg'), cert);
    expect(gpgv('broken.gpg', 'app.tar.gz.asc', 'app.tar.gz').ok).toBe(false);
    expect(
      verifySignature({
        key: cert,
        signature: s.file('app.tar.gz.asc'),
        artifact: ARTIFACTS['app.tar.gz']!,
      }),
    ).toMatchObject({
      ok: false,
      code: 'KEY_CERT_INVALID',
    });
  });
});
