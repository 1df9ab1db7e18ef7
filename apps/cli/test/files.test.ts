// files.ts: how the CLI writes the files people publish (atomically, never through a symlink,
// replacing an old file only where the command says it does) and reads its secret files. And the
// `request --batch` manifest, which is written only once the request is checked (README: names,
// --formats … are checked before anything is written).
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cmdRequest } from '../src/commands.js';
import { checkDistinctOutputs, readSecretFile, writeOutput } from '../src/files.js';
import type { Ctx } from '../src/output.js';
import { tempDir } from '../../../test/support.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir('conclave-files-');
  dirs.push(d);
  return d;
}

describe('writeOutput', () => {
  it('writes a new file and leaves no temporary file', async () => {
    const d = dir();
    await writeOutput(join(d, 'a.sig'), 'sig');
    expect(readFileSync(join(d, 'a.sig'), 'utf8')).toBe('sig');
    expect(readdirSync(d)).toEqual(['a.sig']);
  });

  it('refuses an existing file (OUTPUT_EXISTS, exit 2) unless told to replace it', async () => {
    const d = dir();
    const path = join(d, 'a.sig');
    writeFileSync(path, 'old');
    await expect(writeOutput(path, 'new', { instead: 'pass --force' })).rejects.toMatchObject({
      code: 'OUTPUT_EXISTS',
      exitCode: 2,
      message: expect.stringMatching(/a\.sig exists already.*pass --force/) as unknown,
    });
    expect(readFileSync(path, 'utf8')).toBe('old');
    await writeOutput(path, 'new', { overwrite: true });
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(d)).toEqual(['a.sig']);
  });

  it('never writes through a symlink, not even when replacing', async () => {
    const d = dir();
    const victim = join(d, 'victim');
    writeFileSync(victim, 'keep');
    symlinkSync(victim, join(d, 'revocations.json'));
    for (const overwrite of [false, true]) {
      await expect(
        writeOutput(join(d, 'revocations.json'), 'x', { overwrite }),
      ).rejects.toMatchObject({ code: 'OUTPUT_IS_SYMLINK' });
    }
    expect(readFileSync(victim, 'utf8')).toBe('keep');
  });

  it('a secret file is 0600', async () => {
    const d = dir();
    await writeOutput(join(d, 'secret'), 's', { secret: true });
    expect(statSync(join(d, 'secret')).mode & 0o077).toBe(0);
  });

  it('two outputs of one command with the same path: OUTPUT_COLLISION', () => {
    expect(() => checkDistinctOutputs(['/o/a.sig', '/o/SHA256.sig', '/o/SHA256.sig'])).toThrow(
      expect.objectContaining({ code: 'OUTPUT_COLLISION' }) as Error,
    );
  });
});

describe('readSecretFile', () => {
  it('reads a 0600 file; refuses one others can read, saying to chmod 600', async () => {
    const d = dir();
    const path = join(d, 'token');
    writeFileSync(path, 't');
    chmodSync(path, 0o600);
    await expect(readSecretFile(path, 'the token')).resolves.toBe('t');
    chmodSync(path, 0o604);
    await expect(readSecretFile(path, 'the token')).rejects.toMatchObject({
      code: 'KEYSTORE_LOOSE_PERMISSIONS',
      message: expect.stringContaining(`chmod 600 ${path}`) as unknown,
    });
  });
});

describe('request --batch', () => {
  it('writes no manifest when the request is refused (an unknown format)', async () => {
    const d = dir();
    const batch = join(d, 'dist');
    mkdirSync(batch);
    writeFileSync(join(batch, 'a.tgz'), 'a');
    writeFileSync(join(batch, 'b.tgz'), 'b');
    const manifest = join(d, 'web.manifest.jsonl');
    const ctx: Ctx = { json: true, progress: () => undefined, result: () => undefined };
    await expect(
      cmdRequest(
        {
          home: join(d, 'no-home'),
          group: 'web',
          artifact: [],
          version: '2.0.0',
          class: 'standard',
          formats: 'dsse,no-such-format',
          wait: false,
          timeout: 5,
          batch,
          manifestOut: manifest,
        },
        ctx,
      ),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /--formats/ });
    expect(existsSync(manifest)).toBe(false);
  });
});
