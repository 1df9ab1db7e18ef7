// Artifact bytes for the content formats (raw Ed25519, OpenPGP document signatures), whose
// messages are the artifact itself. A signer signs them only from bytes it checked against every
// digest it approved (SHA-256, SHA-512, BLAKE2b-512): its own file (`approve --artifact`) or the
// coordinator's copy, downloaded and checked here. Kept in `<home>/artifacts/<sha256>`.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Release } from '@conclave/protocol';
import { needsArtifactBytes } from '@conclave/release';
import type { Connection } from './connection.js';
import { ClientError } from './errors.js';
import type { Home } from './home.js';

type Artifact = Release['artifacts'][number];

/** Whether `bytes` have every digest the request names for `a` (SHA-256, SHA-512, BLAKE2b-512). */
export function artifactMatches(bytes: Uint8Array, a: Artifact): boolean {
  const h = (alg: string) => createHash(alg).update(bytes).digest('hex');
  return h('sha256') === a.sha256 && h('sha512') === a.sha512 && h('blake2b512') === a.blake2b512;
}

const cachePath = (home: Home, a: Artifact): string => join(home.dir, 'artifacts', a.sha256);

async function cached(home: Home, a: Artifact): Promise<boolean> {
  const bytes = await readFile(cachePath(home, a)).catch(() => undefined);
  return bytes !== undefined && artifactMatches(bytes, a);
}

/** Copies local files (already checked by `checkLocalArtifacts`) into the home's cache. */
export async function cacheLocalArtifacts(
  home: Home,
  release: Release,
  paths: readonly string[],
): Promise<void> {
  if (!needsArtifactBytes(release)) return;
  await mkdir(join(home.dir, 'artifacts'), { recursive: true, mode: 0o700 });
  for (const path of paths) {
    const a = release.artifacts.find((x) => x.name === basename(path));
    if (a === undefined || (await cached(home, a))) continue;
    const tmp = `${cachePath(home, a)}.part`;
    await copyFile(path, tmp);
    await rename(tmp, cachePath(home, a));
  }
}

/**
 * Makes sure every artifact of a content-format request is at hand and checked, downloading what
 * is missing from the coordinator; returns the reader the signer plans its messages with, or
 * undefined when the request has no content format.
 */
export async function prepareArtifacts(
  home: Home,
  connection: Connection,
  release: Release,
  log?: (line: string) => void,
): Promise<((name: string) => Uint8Array) | undefined> {
  if (!needsArtifactBytes(release)) return undefined;
  await mkdir(join(home.dir, 'artifacts'), { recursive: true, mode: 0o700 });
  for (const a of release.artifacts) {
    if (await cached(home, a)) continue;
    log?.(`downloading ${a.name} from the coordinator to check and sign its bytes`);
    const bytes = await connection.downloadArtifact(a.sha256);
    if (!artifactMatches(bytes, a)) {
      throw new ClientError(
        'ARTIFACT_MISMATCH',
        `the coordinator's copy of ${a.name} does not match the digests in the request; refusing to sign it`,
      );
    }
    const tmp = `${cachePath(home, a)}.part`;
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, cachePath(home, a));
  }
  return (name) => {
    const a = release.artifacts.find((x) => x.name === name);
    if (a === undefined)
      throw new ClientError('ARTIFACT_MISMATCH', `${name} is not in the request`);
    const bytes = readFileSync(cachePath(home, a));
    if (!artifactMatches(bytes, a)) {
      throw new ClientError('ARTIFACT_MISMATCH', `the cached ${name} changed on disk`);
    }
    return bytes;
  };
}
