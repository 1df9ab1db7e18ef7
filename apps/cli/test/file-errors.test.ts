// A path the command cannot read or write is a coded error naming the path (it printed Node's raw
// `ENOENT: ENOENT: no such file or directory, open '…'` with the generic advice).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { humanError, toError } from '../src/output.js';
import { runCli, tempDir } from '../../../test/support.js';

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('file-system errors', () => {
  it('a missing file or directory is FILE_NOT_FOUND naming the path', () => {
    const path = join(tempDir(), 'no-such-dir', 'quorum.pem');
    const err = toError(thrown(() => writeFileSync(path, 'x')));
    expect(err).toEqual({ code: 'FILE_NOT_FOUND', message: `${path}: no such file or directory` });
    expect(humanError(err)).toMatch(/— check the path/);
  });

  it('a directory where a file goes is IS_A_DIRECTORY', () => {
    const dir = tempDir();
    expect(toError(thrown(() => writeFileSync(dir, 'x')))).toEqual({
      code: 'IS_A_DIRECTORY',
      message: `${dir}: is a directory; give a file path`,
    });
  });

  it('a file where a directory goes is FILE_EXISTS', () => {
    const path = join(tempDir(), 'out');
    writeFileSync(path, 'x');
    expect(toError(thrown(() => mkdirSync(path)))).toMatchObject({ code: 'FILE_EXISTS' });
  });

  it('init under a file: FILE_NOT_FOUND in --json, no stack trace', async () => {
    const file = join(tempDir(), 'plain-file');
    writeFileSync(file, 'x');
    const r = await runCli(['init', '--name', 'alice', '--home', join(file, 'home'), '--json'], {
      env: { CONCLAVE_PASSPHRASE: 'file-errors test passphrase' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { code: 'FILE_NOT_FOUND', message: expect.stringContaining('plain-file') as unknown },
    });
  });

  it('group rotate --new-group with a name the protocol refuses: INVALID_ARGUMENT, exit 2', async () => {
    const r = await runCli([
      'group',
      'rotate',
      'web',
      '--members',
      'a,b',
      '--threshold',
      '2',
      '--reason',
      'r',
      '--new-group',
      'Bad!',
      '--admin-key',
      'none',
      '--home',
      tempDir(),
      '--json',
    ]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: {
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/group name "Bad!"/) as unknown,
      },
    });
  });
});
