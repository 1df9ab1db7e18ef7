/** Artifact digests (SHA-256 and SHA-512), streamed so large artifacts are never read whole. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';

export interface ArtifactDigest {
  readonly name: string;
  readonly sha256: string;
  readonly sha512: string;
  readonly size: number;
}

export async function digestFile(path: string): Promise<ArtifactDigest> {
  const h256 = createHash('sha256');
  const h512 = createHash('sha512');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    h256.update(b);
    h512.update(b);
    size += b.length;
  }
  return { name: basename(path), sha256: h256.digest('hex'), sha512: h512.digest('hex'), size };
}
