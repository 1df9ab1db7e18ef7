// HTTP for the transparency log and the auditors (docs/audit.md):
//   GET  /v1/log/checkpoint                       newest checkpoint note, with witness cosignatures
//   GET  /v1/log/key                              the log's origin and verifier key
//   GET  /v1/log/proof/inclusion?index=&size=     RFC 9162 inclusion proof (or ?ceremony=ID[&kind=])
//   GET  /v1/log/proof/consistency?from=&to=      RFC 9162 consistency proof
//   GET  /v1/log/leaves?start=&end=               leaves [start, end), at most 1000
//   POST /v1/log/cosign                           a member's witness cosignature (member-authenticated)
//   GET  /v1/audit/bundle/<id>                    the ceremony's audit bundle (auditor or group member)
//   GET  /audit/…                                 the read-only auditors' pages (auditor token)
// Log data is public (it is a transparency log); bundles and pages need a credential. Nothing
// here writes except the cosignature, which only adds a verified signature line.
import type { ArtifactStore } from '../artifacts.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeBase64 } from '@conclave/audit';
import { hexToBytes } from '@conclave/protocol';
import * as z from 'zod';
import { buildBundle } from '../log/bundle.js';
import type { AuditorToken } from '../log/keys.js';
import { LogError, MAX_LEAVES_PER_REQUEST, type TransparencyLog } from '../log/service.js';
import { silentLogger, type Logger } from '../logger.js';
import { FaultLog, serverFault } from '../runtime.js';
import type { SqliteStore } from '../store.js';
import { renderPage, STYLE_CSS } from './pages.js';

/** The server's member authentication of a plain HTTP request (x-conclave-* headers). */
export type RequestAuthenticator = (
  req: IncomingMessage,
) => { ok: true; member: string } | { ok: false; code: string; message: string };

export interface AuditHttpDeps {
  readonly store: SqliteStore;
  readonly log: TransparencyLog;
  readonly auditor: AuditorToken;
  readonly keys: { readonly coordinator: string; readonly admin: string };
  readonly logger?: Logger;
  /** The coordinator's uploaded artifacts (raw/OpenPGP jobs are re-verified from them). */
  readonly artifacts?: ArtifactStore;
  /** The coordinator's one log of server faults (shared with the server and the dispatcher). */
  readonly faults?: FaultLog;
}

const MAX_COSIGN_BODY = 16 * 1024;

const CosignBodySchema = z.strictObject({
  checkpoint: z.string().min(1).max(MAX_COSIGN_BODY),
  cosignature: z.string().min(1).max(1024),
});

/** Headers every auditors' page carries: no scripts, no external loads, no framing, no caching. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

const json = (res: ServerResponse, status: number, body: unknown, headers = {}): void =>
  send(res, status, 'application/json', JSON.stringify(body), headers);

const problem = (res: ServerResponse, status: number, code: string, message: string): void =>
  json(res, status, { code, message });

/** A ceremony id from a URL path; bad percent-encoding is the asker's error (400), not ours. */
function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new LogError(
      'CEREMONY_NOT_FOUND',
      'the ceremony id in the path is not valid percent-encoding',
    );
  }
}

function intParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || !/^(?:0|[1-9][0-9]{0,15})$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

export class AuditHttp {
  readonly #deps: AuditHttpDeps;
  readonly #faults: FaultLog;

  constructor(deps: AuditHttpDeps) {
    this.#deps = deps;
    this.#faults = deps.faults ?? new FaultLog(deps.logger ?? silentLogger, () => Date.now());
  }

  /** Handles the request if it is one of ours; returns false to let the server go on. */
  handle(req: IncomingMessage, res: ServerResponse, authenticate: RequestAuthenticator): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const ours =
      path.startsWith('/v1/log/') ||
      path.startsWith('/v1/audit/') ||
      path === '/audit' ||
      path.startsWith('/audit/');
    if (!ours) return false;
    try {
      if (method === 'POST' && path === '/v1/log/cosign') {
        this.#cosign(req, res, authenticate);
        return true;
      }
      req.resume();
      if (method !== 'GET' && method !== 'HEAD') {
        problem(res, 405, 'FORBIDDEN', 'read-only');
        return true;
      }
      if (path.startsWith('/v1/log/')) this.#logApi(path, url.searchParams, res);
      else if (path.startsWith('/v1/audit/bundle/')) {
        this.#bundleApi(decodePath(path.slice('/v1/audit/bundle/'.length)), req, res, authenticate);
      } else if (path === '/audit/style.css') {
        send(res, 200, 'text/css; charset=utf-8', STYLE_CSS, { 'cache-control': 'max-age=300' });
      } else this.#pages(path, url.searchParams, req, res);
    } catch (e) {
      if (e instanceof LogError) problem(res, 400, e.code, e.message);
      else this.#fault(res, e, 'audit http');
    }
    return true;
  }

  /** A failure of ours: 503 STORAGE_UNAVAILABLE for a failed write (D.49), else 500; logged. */
  #fault(res: ServerResponse, e: unknown, where: string): void {
    const fault = serverFault(e);
    this.#faults.report(e, fault, where);
    problem(res, fault.status, fault.code, fault.message);
  }

  #logApi(path: string, params: URLSearchParams, res: ServerResponse): void {
    const log = this.#deps.log;
    switch (path) {
      case '/v1/log/checkpoint': {
        const note = log.cosignedCheckpoint();
        if (note === undefined)
          return problem(res, 503, 'STORAGE_UNAVAILABLE', 'no checkpoint yet');
        return send(res, 200, 'text/plain; charset=utf-8', note);
      }
      case '/v1/log/key':
        return json(res, 200, { origin: log.origin, verifierKey: log.verifierKey });
      case '/v1/log/proof/inclusion': {
        let index = intParam(params, 'index');
        const ceremony = params.get('ceremony');
        if (ceremony !== null) {
          const kind = params.get('kind') ?? 'sign';
          if (kind !== 'sign' && kind !== 'key' && kind !== 'admin' && kind !== 'governance') {
            return problem(res, 400, 'INVALID_MESSAGE', 'kind is sign, key, admin or governance');
          }
          index = log.leafIndex(kind, ceremony);
          if (index === undefined) return problem(res, 404, 'CEREMONY_NOT_FOUND', 'not in the log');
        }
        const size = intParam(params, 'size') ?? log.size;
        if (index === undefined)
          return problem(res, 400, 'INVALID_MESSAGE', 'index and size are decimal numbers');
        const proof = log.inclusionProof(index, size);
        const leaf = log.leaves(index, index + 1)[0]?.leaf;
        return json(res, 200, { index, size, leaf, proof: proof.map(encodeBase64) });
      }
      case '/v1/log/proof/consistency': {
        const from = intParam(params, 'from');
        const to = intParam(params, 'to') ?? log.size;
        if (from === undefined)
          return problem(res, 400, 'INVALID_MESSAGE', 'from and to are decimal numbers');
        return json(res, 200, {
          from,
          to,
          proof: log.consistencyProof(from, to).map(encodeBase64),
        });
      }
      case '/v1/log/leaves': {
        const start = intParam(params, 'start') ?? 0;
        const end = intParam(params, 'end') ?? Math.min(log.size, start + MAX_LEAVES_PER_REQUEST);
        return json(res, 200, { start, end, leaves: log.leaves(start, end).map((l) => l.leaf) });
      }
      case '/v1/log/checkpoints': {
        const from = intParam(params, 'from') ?? 0;
        const page = log.checkpointsFrom(from, MAX_LEAVES_PER_REQUEST);
        return json(res, 200, { checkpoints: page.map((c) => c.note) });
      }
      default:
        return problem(res, 404, 'UNEXPECTED_MESSAGE', 'not found');
    }
  }

  #cosign(req: IncomingMessage, res: ServerResponse, authenticate: RequestAuthenticator): void {
    const auth = authenticate(req);
    if (!auth.ok) {
      req.resume();
      return problem(res, 401, auth.code, auth.message);
    }
    const member = this.#deps.store.getMember(auth.member);
    if (member === undefined || member.revokedAt !== null) {
      req.resume();
      return problem(res, 403, 'FORBIDDEN', 'only registered members witness the log');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_COSIGN_BODY && !done) {
        done = true;
        problem(res, 413, 'FRAME_TOO_LARGE', 'body too large');
        req.destroy();
        return;
      }
      if (!done) chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      let body: z.infer<typeof CosignBodySchema>;
      try {
        const parsed = CosignBodySchema.safeParse(
          JSON.parse(Buffer.concat(chunks).toString('utf8')),
        );
        if (!parsed.success)
          return problem(res, 400, 'INVALID_MESSAGE', 'expected {checkpoint, cosignature}');
        body = parsed.data;
      } catch {
        return problem(res, 400, 'MALFORMED_JSON', 'body is not JSON');
      }
      try {
        const at = this.#deps.log.addCosignature(
          auth.member,
          hexToBytes(member.identityKey, 32),
          body.checkpoint,
          body.cosignature,
        );
        json(res, 200, { size: at, witnesses: this.#deps.log.cosignatures(at).length });
      } catch (e) {
        if (e instanceof LogError) problem(res, 400, e.code, e.message);
        else this.#fault(res, e, 'cosignature');
      }
    });
  }

  /** Who may read bundles: the auditor (token), or a member of the ceremony's group. */
  #bundleApi(
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    authenticate: RequestAuthenticator,
  ): void {
    // Who asks is settled before the bundle is built: building one reads the whole transcript, the
    // registry and log proofs, work no unauthenticated request may cause.
    if (!this.isAuditor(req)) {
      const auth = authenticate(req);
      if (!auth.ok) return problem(res, 401, auth.code, auth.message);
      const group = this.#deps.store.getCeremony(id)?.group;
      const roster = group === undefined ? undefined : this.#deps.store.getGroup(group);
      if (roster === undefined || !roster.members.some((m) => m.member === auth.member)) {
        return problem(res, 403, 'FORBIDDEN', 'not a member of this ceremony’s group');
      }
    }
    const bundle = buildBundle(this.#deps.store, this.#deps.log, id, this.#deps.keys);
    if (bundle === undefined) return problem(res, 404, 'CEREMONY_NOT_FOUND', 'no such ceremony');
    json(res, 200, bundle);
  }

  /** Bearer token, or HTTP Basic with the token as password (browsers prompt for it: no login form). */
  isAuditor(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (typeof header !== 'string') return false;
    const [scheme, value = ''] = header.split(' ', 2);
    if (scheme?.toLowerCase() === 'bearer') return this.#deps.auditor.check(value);
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 && this.#deps.auditor.check(decoded.slice(colon + 1));
    }
    return false;
  }

  #pages(path: string, params: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    if (!this.isAuditor(req)) {
      return send(res, 401, 'text/plain; charset=utf-8', 'auditor credential required\n', {
        ...PAGE_HEADERS,
        'www-authenticate': 'Basic realm="Conclave audit", charset="UTF-8"',
      });
    }
    if (path.startsWith('/audit/ceremony/') && path.endsWith('/bundle.json')) {
      const id = decodePath(path.slice('/audit/ceremony/'.length, -'/bundle.json'.length));
      const bundle = buildBundle(this.#deps.store, this.#deps.log, id, this.#deps.keys);
      if (bundle === undefined) return problem(res, 404, 'CEREMONY_NOT_FOUND', 'no such ceremony');
      return json(res, 200, bundle, {
        ...PAGE_HEADERS,
        'content-disposition': `attachment; filename="conclave-bundle-${id.replace(/[^A-Za-z0-9_-]/g, '')}.json"`,
      });
    }
    const page = renderPage(
      {
        store: this.#deps.store,
        log: this.#deps.log,
        keys: this.#deps.keys,
        ...(this.#deps.artifacts === undefined
          ? {}
          : { artifact: (sha: string) => this.#deps.artifacts?.read(sha) }),
      },
      path,
      params,
    );
    send(res, page.status, 'text/html; charset=utf-8', page.html, PAGE_HEADERS);
  }
}
