/**
 * One ceremony, every format: real FROST aggregates for all jobs of both phases, assembled, and
 * every shell command VERIFY.md tells a user to run is run verbatim in the output directory (with
 * Debian's `signify-openbsd` standing in for `signify`) and must succeed; `verifySignature`
 * accepts every signature file with every key file.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '@conclave/release';
import { requireTool, tempDir } from '../support.js';
import { ARTIFACTS, dec, run, signRelease } from './release-support.js';

const ALL = ['raw', 'sshsig', 'git', 'minisign', 'signify', 'openpgp', 'dsse', 'sigstore', 'jws'];
const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

describe('VERIFY.md', () => {
  const s = signRelease(ALL, {
    git: {
      object: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
      type: 'commit',
      tag: 'release/v2.0.0',
      tagger: { name: 'Release Bot', email: 'release@example.com', time: 1764072000, tz: '-0500' },
      message: 'Release 2.0.0',
    },
  });

  it('signs every job of both phases', () => {
    expect([...s.signatures.keys()]).toEqual([
      'dsse',
      'raw:app.tar.gz',
      'raw:app tools.zip',
      'sshsig:app.tar.gz',
      'sshsig:app tools.zip',
      'git-tag',
      'minisign:app.tar.gz',
      'minisign:app tools.zip',
      'signify',
      'openpgp-cert',
      'openpgp:app.tar.gz',
      'openpgp:app tools.zip',
      'jws',
      'minisign-global:app.tar.gz',
      'minisign-global:app tools.zip',
    ]);
  });

  it('every command it lists succeeds, run verbatim', () => {
    for (const t of [
      'openssl',
      'ssh-keygen',
      'git',
      'minisign',
      'signify-openbsd',
      'gpgv',
      'gpg',
      'sqv',
    ])
      requireTool(t);
    const bin = tempDir('conclave-bin-');
    symlinkSync(requireTool('signify-openbsd'), join(bin, 'signify'));
    const gnupg = join(tempDir('conclave-gnupg-'), 'home');
    mkdirSync(gnupg, { mode: 0o700 });
    expect(run('git', ['init', '-q'], { cwd: s.dir, env: GIT_ENV }).ok).toBe(true);
    const note = dec(s.file('VERIFY.md'));
    const blocks = [...note.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBe(6);
    let commands = 0;
    for (const block of blocks) {
      const script = block
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'))
        .join('\n');
      commands += script.split('\n').length;
      writeFileSync(join(s.dir, 'block.sh'), `set -e\n${script}\n`);
      const r = run('sh', ['block.sh'], {
        cwd: s.dir,
        env: { ...GIT_ENV, PATH: `${bin}:${process.env.PATH}`, GNUPGHOME: gnupg },
      });
      expect(r.ok, `${script}\n${r.out}`).toBe(true);
    }
    expect(commands).toBeGreaterThanOrEqual(12);
  });

  it('verifySignature accepts every signature file with every key file', () => {
    const sigs = [...s.files.values()].filter((f) => f.kind === 'signature');
    const keys = [...s.files.values()].filter((f) => f.kind === 'key');
    for (const sig of sigs) {
      const artifact = ARTIFACTS[sig.artifact ?? 'app.tar.gz']!;
      for (const key of keys) {
        const r = verifySignature({ key: key.bytes, signature: sig.bytes, artifact });
        expect(r, `${sig.path} with ${key.path}`).toMatchObject({ ok: true, format: sig.format });
      }
    }
  });
});
