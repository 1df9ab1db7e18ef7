// The tools the CLI runs never get its secrets: `conclave tag` runs git, and git runs the
// repository's hooks and configured programs, which whoever can write the repository chose. And
// `conclave tag` leaves no copy of the source tree behind in the temporary directory.
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { childEnv, SECRET_ENV } from '../src/child-env.js';
import { cmdTag } from '../src/tag.js';
import type { Ctx } from '../src/output.js';
import { tempDir } from '../../../test/support.js';

const dirs: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('childEnv', () => {
  it('keeps the environment but drops CONCLAVE_PASSPHRASE', () => {
    const env = childEnv(
      { EXTRA: '1' },
      { PATH: '/bin', CONCLAVE_PASSPHRASE: 's', CONCLAVE_HOME: '/h' },
    );
    expect(env).toEqual({ PATH: '/bin', CONCLAVE_HOME: '/h', EXTRA: '1' });
    expect(SECRET_ENV).toContain('CONCLAVE_PASSPHRASE');
  });

  it('drops a secret passed as an extra too', () => {
    expect(childEnv({ CONCLAVE_PASSPHRASE: 's' }, {})).toEqual({});
  });
});

/**
 * A `git` on PATH that records its environment and answers what `conclave tag` asks before the
 * request: the commit, no existing tag, the tagger, and an archive file.
 */
function fakeGit(root: string): { bin: string; dumps: string } {
  const bin = join(root, 'bin');
  const dumps = join(root, 'dumps');
  mkdirSync(bin);
  mkdirSync(dumps);
  const script = `#!/bin/sh
env > "$FAKE_GIT_DUMPS/env-$$"
shift 2 # -C REPO
case "$1" in
  rev-parse) echo 0123456789abcdef0123456789abcdef01234567 ;;
  tag) ;;
  config) if [ "$2" = user.name ]; then echo Rel; else echo rel@example.com; fi ;;
  archive)
    while [ "$#" -gt 0 ]; do
      if [ "$1" = -o ]; then printf 'a tar of the source tree, long enough for the raw format\\n' > "$2"; fi
      shift
    done ;;
  *) exit 1 ;;
esac
`;
  writeFileSync(join(bin, 'git'), script);
  chmodSync(join(bin, 'git'), 0o755);
  return { bin, dumps };
}

const quiet: Ctx = { json: true, progress: () => undefined, result: () => undefined };

describe('conclave tag', () => {
  it('runs git without CONCLAVE_PASSPHRASE, and removes its temporary directory when the request fails', async () => {
    const root = tempDir('conclave-tag-env-');
    dirs.push(root);
    const git = fakeGit(root);
    const tmp = join(root, 'tmp');
    mkdirSync(tmp);
    vi.stubEnv('PATH', `${git.bin}:${process.env['PATH'] ?? ''}`);
    vi.stubEnv('FAKE_GIT_DUMPS', git.dumps);
    vi.stubEnv('TMPDIR', tmp);
    vi.stubEnv('CONCLAVE_PASSPHRASE', 'the-passphrase-hooks-must-not-see');

    await expect(
      cmdTag(
        'v1.0.0',
        {
          group: 'web',
          commit: 'HEAD',
          repo: root,
          timeout: 5,
          home: join(root, 'no-such-home'),
          coordinator: 'http://127.0.0.1:9',
        },
        quiet,
      ),
    ).rejects.toMatchObject({ code: 'HOME_NOT_INITIALIZED' });

    const dumps = readdirSync(git.dumps);
    expect(dumps.length).toBe(5); // rev-parse, tag --list, config x2, archive
    for (const d of dumps) {
      const env = readFileSync(join(git.dumps, d), 'utf8');
      expect(env).toContain('FAKE_GIT_DUMPS=');
      expect(env).not.toContain('CONCLAVE_PASSPHRASE');
      expect(env).not.toContain('the-passphrase-hooks-must-not-see');
    }
    expect(readdirSync(tmp)).toEqual([]);
  });
});
