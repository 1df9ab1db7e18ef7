/**
 * SSHSIG (`<artifact>.sshsig` + allowed_signers): ssh-keygen -Y verify accepts the quorum's FROST
 * aggregate with namespace "file"; refuses a changed artifact, another group's allowed_signers and
 * namespace "git"; `verifySignature` agrees in every case.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '@conclave/release';
import { requireTool } from '../support.js';
import { ARTIFACTS, enc, run, signRelease } from './release-support.js';

describe('SSHSIG with ssh-keygen -Y verify', () => {
  const s = signRelease(['sshsig']);
  const other = signRelease(['sshsig']);
  writeFileSync(join(s.dir, 'other_allowed_signers'), other.file('allowed_signers'));
  const changed = enc('changed artifact\n');
  writeFileSync(join(s.dir, 'changed'), changed);

  const sshVerify = (signers: string, ns: string, sig: string, artifact: string) => {
    requireTool('ssh-keygen');
    const input = ARTIFACTS[artifact] ?? changed;
    return run(
      'ssh-keygen',
      ['-Y', 'verify', '-f', signers, '-I', 'release@conclave', '-n', ns, '-s', sig],
      {
        cwd: s.dir,
        input,
      },
    );
  };
  const native = (key: Uint8Array, sig: string, artifact: Uint8Array, namespace?: string) =>
    verifySignature({ key, signature: s.file(sig), artifact, ...(namespace ? { namespace } : {}) });

  it('accepts every artifact with the allowed_signers file; verifySignature agrees', () => {
    for (const [name, bytes] of Object.entries(ARTIFACTS)) {
      const r = sshVerify('allowed_signers', 'file', `${name}.sshsig`, name);
      expect(r.out).toContain('Good "file" signature for release@conclave');
      expect(r.ok).toBe(true);
      expect(native(s.file('allowed_signers'), `${name}.sshsig`, bytes)).toMatchObject({
        ok: true,
        format: 'sshsig',
      });
      expect(native(s.file('quorum.ssh.pub'), `${name}.sshsig`, bytes)).toMatchObject({ ok: true });
    }
  });

  it('check-novalidate accepts it too', () => {
    requireTool('ssh-keygen');
    const r = run(
      'ssh-keygen',
      ['-Y', 'check-novalidate', '-n', 'file', '-s', 'app.tar.gz.sshsig'],
      {
        cwd: s.dir,
        input: ARTIFACTS['app.tar.gz']!,
      },
    );
    expect(r.ok).toBe(true);
  });

  it('rejects a changed artifact', () => {
    expect(sshVerify('allowed_signers', 'file', 'app.tar.gz.sshsig', 'changed').ok).toBe(false);
    expect(native(s.file('allowed_signers'), 'app.tar.gz.sshsig', changed)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's key", () => {
    expect(sshVerify('other_allowed_signers', 'file', 'app.tar.gz.sshsig', 'app.tar.gz').ok).toBe(
      false,
    );
    expect(
      native(other.file('allowed_signers'), 'app.tar.gz.sshsig', ARTIFACTS['app.tar.gz']!),
    ).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
  });

  it('rejects the wrong namespace', () => {
    expect(sshVerify('allowed_signers', 'git', 'app.tar.gz.sshsig', 'app.tar.gz').ok).toBe(false);
    expect(
      native(s.file('allowed_signers'), 'app.tar.gz.sshsig', ARTIFACTS['app.tar.gz']!, 'git'),
    ).toMatchObject({
      ok: false,
      code: 'NAMESPACE_MISMATCH',
    });
  });
});
