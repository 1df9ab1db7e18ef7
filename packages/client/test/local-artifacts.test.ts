// `approve --artifact FILE` checks the files it is given against the request; it must also say which
// of the request's artifacts it did not check, so one match never reads as a check of them all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLocalArtifacts, uncheckedArtifacts } from '../src/index.js';
import { digestFile } from '@conclave/release';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('approve --artifact: what was and was not checked', () => {
  it('names the request artifacts no local file was given for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-local-'));
    dirs.push(dir);
    const files = { 'app.tgz': 'the app\n', 'extra.sh': 'echo extra\n' };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const artifacts = await Promise.all(
      Object.keys(files).map(async (name) => ({ ...(await digestFile(join(dir, name))), name })),
    );
    const release = { artifacts } as unknown as Parameters<typeof uncheckedArtifacts>[0];
    const app = join(dir, 'app.tgz');
    await checkLocalArtifacts(release, [app]); // matches
    expect(uncheckedArtifacts(release, [app])).toEqual(['extra.sh']);
    expect(uncheckedArtifacts(release, [app, join(dir, 'extra.sh')])).toEqual([]);
    expect(uncheckedArtifacts(release, [])).toEqual(['app.tgz', 'extra.sh']);
  });
});
