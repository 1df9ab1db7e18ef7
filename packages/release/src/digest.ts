/**
 * Artifact digests (SHA-256, SHA-512, and BLAKE2b-512 for minisign's prehashed signatures),
 * streamed so large artifacts are never read whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';

export interface ArtifactDigest {
  readonly name: string;
  readonly sha256: string;
  readonly sha512: string;
  readonly blake2b512: string;
  readonly size: number;
}

export async function digestFile(path: string): Promise<ArtifactDigest> {
  const h256 = createHash('sha256');
  const h512 = createHash('sha512');
  const b2 = createHash('blake2b512');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    h256.update(b);
    h512.update(b);
    b2.update(b);
    size += b.length;
  }
  return {
    name: basename(path),
    sha256: h256.digest('hex'),
    sha512: h512.digest('hex'),
    blake2b512: b2.digest('hex'),
    size,
  };
}
