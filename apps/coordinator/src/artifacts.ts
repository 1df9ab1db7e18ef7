/**
 * Artifact bytes for the content formats (raw Ed25519, OpenPGP document signatures): their
 * messages are the artifact itself, so the coordinator (which builds every signing package) and
 * each signer need the bytes. Members upload them over authenticated HTTP, addressed by SHA-256:
 *
 *   PUT /v1/artifacts/<sha256>   body = the artifact (≤ limits.maxArtifactBytes); 201 stored, 200 had it
 *   GET /v1/artifacts/<sha256>   the bytes, for members of a group with a signing ceremony whose
 *                                request lists that SHA-256, and for the auditor (token) when any
 *                                signing request lists it: re-verifying a raw or OpenPGP
 *                                signature needs the bytes (anyone else: 404, as if absent)
 *
 * A body whose SHA-256 differs from its address is refused and never stored; files are written to
 * a temporary name, fsynced, renamed, and the directory fsynced before 201 goes out, so a crash
 * leaves either nothing or the whole artifact, and a 201 means it survives power loss (D.48).
 * Temporary files a crash left are removed at start. An upload that would leave less than
 * `minFreeBytes` free on the file system is refused (507) before a byte is read (D.49); the
 * uploads under way count as written already, so concurrent ones cannot each pass the check.
 * The body is piped to disk with backpressure, and an upload is cut off (408) when it delivers
 * less than `minBytesPerSecond` over a `progressWindowMs` window (slowloris, THREATS C.40).
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
  readdirSync,
  renameSync,
  statSync,
  statfsSync,
  unlinkSync,
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from './logger.js';
import type { Store } from './store.js';
import type { RequestAuthenticator } from './web/routes.js';

const PATH = /^\/v1\/artifacts\/([0-9a-f]{64})$/;
/** An upload's temporary file: `.<sha256>.<12 hex>.part`. */
const PART = /^\.[0-9a-f]{64}\.[0-9a-f]{12}\.part$/;

export interface ArtifactStoreOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** Free space an upload must leave (default 0: no floor). */
  readonly minFreeBytes?: number;
  /** Free bytes on the artifacts' file system, undefined if unknown (default statfs; tests fake it). */
  readonly freeBytes?: (dir: string) => number | undefined;
  readonly logger: Logger;
  /** Who may download what: groups and their signing requests. */
  readonly access: Pick<Store, 'getGroup' | 'groupsRequestingArtifact'>;
  /** Slowest upload kept (default 64 KiB/s), measured over each window (default 10 s). */
  readonly minBytesPerSecond?: number;
  readonly progressWindowMs?: number;
}

export class ArtifactStore {
  readonly #o: ArtifactStoreOptions;
  /**
   * Declared bytes of the uploads under way: free space does not show them until they are
   * written, so the floor check counts them as used (else N uploads started together could each
   * pass it and together fill the disk).
   */
  #reservedBytes = 0;

  constructor(o: ArtifactStoreOptions) {
    this.#o = o;
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    // No upload is under way at start: a temporary file is one a crash or a kill left behind.
    for (const name of readdirSync(o.dir)) {
      if (!PART.test(name)) continue;
      try {
        unlinkSync(join(o.dir, name));
      } catch {
        // gone already, or not ours to remove: the next start tries again
      }
    }
  }

  #path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('artifact address must be 64 hex');
    return join(this.#o.dir, sha256);
  }

  /** Bytes free for this process on the artifacts' file system; undefined if it cannot tell. */
  #freeBytes(): number | undefined {
    if (this.#o.freeBytes !== undefined) return this.#o.freeBytes(this.#o.dir);
    try {
      const s = statfsSync(this.#o.dir);
      return s.bavail * s.bsize;
    } catch {
      return undefined;
    }
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

  /**
   * Whether `member` belongs to a group with a signing request that lists `sha256` (one indexed
   * lookup, migration 7): the signers who must check the bytes. A hash is no secret (statements
   * are logged), the bytes may be.
   */
  mayRead(member: string, sha256: string): boolean {
    const { access } = this.#o;
    return access
      .groupsRequestingArtifact(sha256)
      .some((g) => access.getGroup(g)?.members.some((m) => m.member === member) === true);
  }

  /** Whether the auditor may download `sha256`: some signing request lists it. */
  auditorMayRead(sha256: string): boolean {
    return this.#o.access.groupsRequestingArtifact(sha256).length > 0;
  }

  /**
   * Handles the artifact routes; false for any other path. `liftRequestDeadline` ends the
   * server's whole-body deadline for an upload, which keeps its own progress timeout instead.
   * `isAuditor` says whether a request carries the auditor's token (downloads only).
   */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    authenticate: RequestAuthenticator,
    liftRequestDeadline: () => void = () => {},
    isAuditor: (req: IncomingMessage) => boolean = () => false,
  ): boolean {
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
    // The auditor only downloads; everyone else is a member authenticated by signature.
    let member: string | undefined;
    if (method === 'PUT' || !isAuditor(req)) {
      const auth = authenticate(req);
      if (!auth.ok) {
        req.resume();
        json(res, 401, { code: auth.code, message: auth.message });
        return true;
      }
      member = auth.member;
    }
    if (method === 'GET') {
      req.resume();
      const allowed =
        member === undefined ? this.auditorMayRead(sha256) : this.mayRead(member, sha256);
      if (!this.has(sha256) || !allowed) {
        json(res, 404, {
          code: 'ARTIFACT_NOT_FOUND',
          message:
            'no artifact with that SHA-256 in a signing request of a group you are in; it is downloadable once such a request names it',
        });
        return true;
      }
      const size = statSync(this.#path(sha256)).size;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': size,
        'cache-control': 'no-store',
      });
      // A read that fails after the headers went out (the file removed by hand) cuts the response.
      createReadStream(this.#path(sha256))
        .on('error', () => res.destroy())
        .pipe(res);
      return true;
    }
    this.#put(req, res, sha256, member!, liftRequestDeadline);
    return true;
  }

  #put(
    req: IncomingMessage,
    res: ServerResponse,
    sha256: string,
    member: string,
    liftRequestDeadline: () => void,
  ): void {
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
    const free = this.#freeBytes();
    const reserved = this.#reservedBytes;
    if (free !== undefined && free - reserved - declared < (this.#o.minFreeBytes ?? 0)) {
      req.resume();
      this.#o.logger.error('artifact upload refused: the disk is nearly full', {
        sha256,
        size: declared,
        freeBytes: free,
        reservedBytes: reserved,
        member,
      });
      json(res, 507, {
        code: 'STORAGE_UNAVAILABLE',
        message: `the coordinator's disk is too full to store ${declared} more bytes; tell its operator, or sign it with the digest formats instead`,
      });
      return;
    }
    // Held from here until the body is written or the upload fails (released below).
    this.#reservedBytes += declared;
    const release = () => {
      this.#reservedBytes -= declared;
    };
    liftRequestDeadline();
    const tmp = join(this.#o.dir, `.${sha256}.${randomBytes(6).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    let failed = false;
    const abort = new AbortController();
    const fail = (status: number, code: string, message: string) => {
      if (failed) return;
      failed = true;
      clearInterval(progress);
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      if (res.headersSent || res.destroyed) return abort.abort();
      res.shouldKeepAlive = false;
      json(res, status, { code, message });
      // Answer first, then stop reading (aborting destroys the request and its socket).
      res.once('finish', () => abort.abort());
      res.once('close', () => abort.abort());
    };
    // Progress timeout (slowloris): each window must bring minBytesPerSecond × window bytes.
    const windowMs = this.#o.progressWindowMs ?? 10_000;
    const minBytes = this.#o.minBytesPerSecond ?? 64 * 1024;
    let atLastCheck = 0;
    const progress = setInterval(() => {
      if (size - atLastCheck < (minBytes * windowMs) / 1000 && size < declared) {
        fail(
          408,
          'DEADLINE_EXCEEDED',
          `upload slower than ${minBytes} bytes/s; retry on a faster link or sign it with the digest formats instead`,
        );
      }
      atLastCheck = size;
    }, windowMs);
    progress.unref();
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > declared) return done(new Error('body longer than its Content-Length'));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // pipeline: the request is read only as fast as the file is written (backpressure). Once it
    // ends, the bytes are in the file system (or the upload failed): the reservation is released.
    const written = pipeline(req, meter, createWriteStream(tmp, { mode: 0o600 }), {
      signal: abort.signal,
    });
    written.then(release, release);
    written.then(
      () => {
        clearInterval(progress);
        if (failed) return;
        if (size !== declared) return fail(400, 'INVALID_MESSAGE', 'body shorter than declared');
        if (hash.digest('hex') !== sha256) {
          return fail(
            400,
            'DIGEST_MISMATCH',
            'the uploaded bytes do not hash to the SHA-256 in the path; nothing was stored',
          );
        }
        try {
          const fd = openSync(tmp, 'r');
          fsyncSync(fd);
          closeSync(fd);
          renameSync(tmp, this.#path(sha256));
          // The rename is durable only once the directory is: 201 says the artifact is stored.
          const dir = openSync(this.#o.dir, 'r');
          try {
            fsyncSync(dir);
          } finally {
            closeSync(dir);
          }
        } catch {
          return fail(503, 'STORAGE_UNAVAILABLE', 'could not store the artifact');
        }
        this.#o.logger.info('artifact stored', { sha256, size, member });
        json(res, 201, { sha256, stored: true });
      },
      (e: unknown) => {
        clearInterval(progress);
        const interrupted = req.destroyed && !req.complete;
        if (interrupted || failed) return fail(400, 'INVALID_MESSAGE', 'upload interrupted');
        const tooLong = e instanceof Error && e.message.startsWith('body longer');
        if (tooLong) return fail(400, 'INVALID_MESSAGE', 'body longer than its Content-Length');
        fail(503, 'STORAGE_UNAVAILABLE', 'could not store the artifact');
      },
    );
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
