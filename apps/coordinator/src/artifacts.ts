/**
 * Artifact bytes for the content formats (raw Ed25519, OpenPGP document signatures): their
 * messages are the artifact itself, so the coordinator (which builds every signing package) and
 * each signer need the bytes. Members upload them over authenticated HTTP, addressed by SHA-256:
 *
 *   PUT /v1/artifacts/<sha256>   body = the artifact (≤ limits.maxArtifactBytes); 201 stored, 200 had it
 *   GET /v1/artifacts/<sha256>   the bytes (members only)
 *
 * A body whose SHA-256 differs from its address is refused and never stored; files are written to
 * a temporary name, fsynced and renamed, so a crash leaves either nothing or the whole artifact.
 * The coordinator still signs nothing: signers check the bytes against the digests they approved.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from './logger.js';
import type { RequestAuthenticator } from './web/routes.js';

const PATH = /^\/v1\/artifacts\/([0-9a-f]{64})$/;

export interface ArtifactStoreOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly logger: Logger;
}

export class ArtifactStore {
  readonly #o: ArtifactStoreOptions;

  constructor(o: ArtifactStoreOptions) {
    this.#o = o;
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  #path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('artifact address must be 64 hex');
    return join(this.#o.dir, sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.#path(sha256));
  }

  /** The stored bytes, re-hashed: a file changed on disk is treated as missing. */
  read(sha256: string): Uint8Array | undefined {
    if (!this.has(sha256)) return undefined;
    const bytes = readFileSync(this.#path(sha256));
    return createHash('sha256').update(bytes).digest('hex') === sha256 ? bytes : undefined;
  }

  /** Handles the artifact routes; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, authenticate: RequestAuthenticator): boolean {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const m = PATH.exec(path);
    if (m === null) return false;
    const sha256 = m[1]!;
    const method = req.method ?? 'GET';
    if (method !== 'PUT' && method !== 'GET') {
      req.resume();
      json(res, 405, { code: 'UNEXPECTED_MESSAGE', message: 'use PUT or GET' });
      return true;
    }
    const auth = authenticate(req);
    if (!auth.ok) {
      req.resume();
      json(res, 401, { code: auth.code, message: auth.message });
      return true;
    }
    if (method === 'GET') {
      req.resume();
      if (!this.has(sha256)) {
        json(res, 404, { code: 'ARTIFACT_NOT_FOUND', message: 'no artifact with that SHA-256' });
        return true;
      }
      const size = statSync(this.#path(sha256)).size;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': size,
        'cache-control': 'no-store',
      });
      createReadStream(this.#path(sha256)).pipe(res);
      return true;
    }
    this.#put(req, res, sha256, auth.member);
    return true;
  }

  #put(req: IncomingMessage, res: ServerResponse, sha256: string, member: string): void {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (!Number.isSafeInteger(declared) || declared < 0) {
      req.resume();
      json(res, 411, { code: 'INVALID_MESSAGE', message: 'send a Content-Length' });
      return;
    }
    if (declared > this.#o.maxBytes) {
      req.resume();
      json(res, 413, {
        code: 'FRAME_TOO_LARGE',
        message: `artifact of ${declared} bytes exceeds this coordinator's limit of ${this.#o.maxBytes}; sign it with the digest formats instead`,
      });
      return;
    }
    if (this.has(sha256)) {
      req.resume();
      json(res, 200, { sha256, stored: false });
      return;
    }
    const tmp = join(this.#o.dir, `.${sha256}.${randomBytes(6).toString('hex')}.part`);
    const out = createWriteStream(tmp, { mode: 0o600 });
    const hash = createHash('sha256');
    let size = 0;
    let failed = false;
    const fail = (status: number, code: string, message: string) => {
      if (failed) return;
      failed = true;
      out.destroy();
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      json(res, status, { code, message });
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > declared) {
        req.destroy();
        fail(400, 'INVALID_MESSAGE', 'body longer than its Content-Length');
        return;
      }
      hash.update(chunk);
      out.write(chunk);
    });
    req.on('error', () => fail(400, 'INVALID_MESSAGE', 'upload interrupted'));
    req.on('end', () => {
      if (failed) return;
      if (size !== declared) return fail(400, 'INVALID_MESSAGE', 'body shorter than declared');
      if (hash.digest('hex') !== sha256) {
        return fail(
          400,
          'DIGEST_MISMATCH',
          'the uploaded bytes do not hash to the SHA-256 in the path; nothing was stored',
        );
      }
      out.end(() => {
        try {
          const fd = openSync(tmp, 'r');
          fsyncSync(fd);
          closeSync(fd);
          renameSync(tmp, this.#path(sha256));
        } catch {
          return fail(503, 'STORAGE_UNAVAILABLE', 'could not store the artifact');
        }
        this.#o.logger.info('artifact stored', { sha256, size, member });
        json(res, 201, { sha256, stored: true });
      });
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
