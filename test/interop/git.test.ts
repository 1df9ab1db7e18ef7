/**
 * git SSH signing (gpg.format=ssh): the quorum's FROST aggregate over the tag object text
 * (SSHSIG namespace "git") makes a tag `git verify-tag` accepts; an edited tag, another group's
 * allowed_signers and a signature under namespace "file" are refused; `verifySignature` agrees.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  gitTagObject,
  sshsigArmor,
  sshsigBlob,
  sshsigSignedData,
  verifySignature,
} from '@conclave/release';
import { requireTool, tempDir } from '../support.js';
import { dec, enc, frostGroup, run, signRelease } from './release-support.js';

const env = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
  GIT_AUTHOR_DATE: '1764000000 +0000',
  GIT_COMMITTER_DATE: '1764000000 +0000',
};

function repo(): { dir: string; head: string; git: (...a: string[]) => ReturnType<typeof run> } {
  requireTool('git');
  const dir = tempDir('conclave-git-');
  const git = (...a: string[]) => run('git', a, { cwd: dir, env });
  expect(git('init', '-q').ok).toBe(true);
  writeFileSync(join(dir, 'README'), 'hello\n');
  expect(git('add', 'README').ok).toBe(true);
  expect(git('commit', '-q', '-m', 'initial').ok).toBe(true);
  const head = git('rev-parse', 'HEAD').out.trim();
  return { dir, head, git };
}

describe('git verify-tag with a quorum-signed tag', () => {
  const r = repo();
  const tag = {
    object: r.head,
    type: 'commit' as const,
    tag: 'v2.0.0',
    tagger: { name: 'Release Bot', email: 'release@example.com', time: 1764072000, tz: '+0000' },
    message: 'Release v2.0.0',
  };
  const group = frostGroup();
  const s = signRelease(['git'], { git: tag, group });
  const other = signRelease(['git'], { git: tag });
  writeFileSync(join(r.dir, '.git', 'allowed_signers'), s.file('allowed_signers'));
  writeFileSync(join(r.dir, '.git', 'other_signers'), other.file('allowed_signers'));

  const store = (object: Uint8Array, name: string) => {
    const sha = run('git', ['hash-object', '-t', 'tag', '-w', '--stdin'], {
      cwd: r.dir,
      env,
      input: object,
    });
    expect(sha.ok, sha.out).toBe(true);
    expect(r.git('update-ref', `refs/tags/${name}`, sha.out.trim()).ok).toBe(true);
  };
  const verifyTag = (name: string, signers = 'allowed_signers') =>
    r.git(
      '-c',
      'gpg.format=ssh',
      '-c',
      `gpg.ssh.allowedSignersFile=.git/${signers}`,
      'verify-tag',
      name,
    );

  it('accepts the tag; verifySignature agrees', () => {
    store(s.file('v2.0.0.tag'), 'v2.0.0');
    const v = verifyTag('v2.0.0');
    expect(v.out).toContain('Good "git" signature for release@conclave');
    expect(v.ok).toBe(true);
    expect(
      verifySignature({
        key: s.file('allowed_signers'),
        signature: s.file('v2.0.0.tag'),
        artifact: new Uint8Array(),
      }),
    ).toMatchObject({
      ok: true,
      format: 'git',
    });
    expect(r.git('cat-file', 'tag', 'v2.0.0').out).toBe(dec(s.file('v2.0.0.tag')));
  });

  it('rejects an edited tag (the signed payload changed)', () => {
    const edited = enc(dec(s.file('v2.0.0.tag')).replace('Release v2.0.0', 'Release v2.0.1'));
    store(edited, 'edited');
    expect(verifyTag('edited').ok).toBe(false);
    expect(
      verifySignature({
        key: s.file('allowed_signers'),
        signature: edited,
        artifact: new Uint8Array(),
      }),
    ).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's allowed_signers", () => {
    store(s.file('v2.0.0.tag'), 'v2.0.0-again');
    expect(verifyTag('v2.0.0-again', 'other_signers').ok).toBe(false);
    expect(
      verifySignature({
        key: other.file('allowed_signers'),
        signature: s.file('v2.0.0.tag'),
        artifact: new Uint8Array(),
      }),
    ).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
  });

  it('rejects a quorum signature made under namespace "file"', () => {
    const { payload } = gitTagObject({ ...tag, tag: 'wrong-ns' });
    const digest = new Uint8Array(createHash('sha512').update(payload).digest());
    const sig = group.sign(sshsigSignedData('file', digest));
    const { object } = gitTagObject(
      { ...tag, tag: 'wrong-ns' },
      sshsigArmor(sshsigBlob(group.publicKey, 'file', sig)),
    );
    store(object, 'wrong-ns');
    expect(verifyTag('wrong-ns').ok).toBe(false);
    expect(
      verifySignature({
        key: s.file('allowed_signers'),
        signature: object,
        artifact: new Uint8Array(),
      }),
    ).toMatchObject({
      ok: false,
      code: 'NAMESPACE_MISMATCH',
    });
  });
});
