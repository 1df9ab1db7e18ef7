// writeJsonAtomic (home.ts) carries the "durable before it goes out" promises of config pins,
// ceremony records, the log alarm and the witness checkpoint: the renamed file must survive a
// crash (the directory entry is fsynced after the rename), and a failed write leaves no temp file.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as FsDurable from '../src/fs-durable.js';

const synced: { dir: string; content: string | undefined }[] = [];
vi.mock('../src/fs-durable.js', async (importOriginal) => {
  const real = await importOriginal<typeof FsDurable>();
  return {
    ...real,
    fsyncDir: async (dir: string) => {
      // What the directory holds when it is fsynced: the rename must already be in it.
      const target = join(dir, 'rec.json');
      synced.push({ dir, content: existsSync(target) ? readFileSync(target, 'utf8') : undefined });
      await real.fsyncDir(dir);
    },
  };
});

const { writeJsonAtomic } = await import('../src/home.js');

const dirs: string[] = [];
afterEach(() => {
  synced.splice(0);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'conclave-atomic-'));
  dirs.push(d);
  return d;
};

describe('writeJsonAtomic', () => {
  it('fsyncs the directory after the rename, so the new file survives a crash', async () => {
    const d = tempDir();
    await writeJsonAtomic(join(d, 'rec.json'), { n: 1 });
    expect(synced).toEqual([{ dir: d, content: `${JSON.stringify({ n: 1 }, null, 2)}\n` }]);
  });

  it('removes its temp file when the write fails, and throws', async () => {
    const d = tempDir();
    // The target is a non-empty directory: the rename fails.
    mkdirSync(join(d, 'rec.json', 'x'), { recursive: true });
    await expect(writeJsonAtomic(join(d, 'rec.json'), { n: 1 })).rejects.toThrow();
    expect(readdirSync(d)).toEqual(['rec.json']);
  });
});
