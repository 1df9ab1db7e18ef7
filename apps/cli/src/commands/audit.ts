/**
 * The auditor's commands (docs/audit.md):
 *   conclave audit ID|BUNDLE        re-verify one ceremony offline with the pinned keys
 *   conclave audit export ID --out FILE
 *   conclave log verify [--from CHECKPOINT]   the whole log: every checkpoint, no rewrite
 *   conclave log witness [--clear-alarm]      one witnessing round now (members)
 * and `witnessEngine`, @conclave/audit's witnessLog bound for @conclave/client's sessions.
 *
 * Trust: nothing the coordinator serves is believed on its own. The keys come from the member
 * home's pins (`conclave init`), or from flags an auditor copied from the coordinator's start
 * banner out of band; `--trust-bundle-keys` checks a bundle against its own keys and says so.
 * Exit codes: 0 verified, 1 a check failed (named), 2 bad usage or input that cannot be read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIPv4 } from 'node:net';
import { basename, join, resolve } from 'node:path';
import {
  CeremonyBundleSchema,
  TranscriptEntrySchema,
  isAuditError,
  openCheckpoint,
  parseNote,
  parseVerifierKey,
  verifyCeremonyBundle,
  verifyCosignature,
  verifyLog,
  witnessLog,
  witnessName,
  type BundleReport,
  type BundleTrust,
  type Check,
  type HotfixDeadline,
  type NoteVerifier,
} from '@conclave/audit';
import {
  Home,
  clearAlarm,
  defaultHomeDir,
  fetchArtifact,
  memberAuthHeaders,
  normalizeCoordinatorUrl,
  readAlarm,
  readWitnessed,
  witnessOnce,
  type WitnessEngine,
} from '@conclave/client';
import { hexToBytes, type Release } from '@conclave/protocol';
import { digestFile, needsArtifactBytes } from '@conclave/release';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { readSecretFile } from '../files.js';
import {
  getPassphrase,
  jsonForTerminal,
  makeCtx,
  printError,
  type Ctx,
  type GlobalOptions,
  writeOut,
} from '../output.js';

/** audit's witnessLog for @conclave/client's MemberSession (`SessionOptions.witness`). */
export const witnessEngine: WitnessEngine = async (i) => {
  let logKey: NoteVerifier;
  try {
    logKey = parseVerifierKey(i.logKey);
  } catch (e) {
    if (isAuditError(e)) return { ok: false, error: e };
    throw e;
  }
  return witnessLog({
    transport: i.transport,
    lastSeen: i.lastSeen,
    logKey,
    witness: { name: witnessName(i.member), key: i.key },
    now: i.now,
  });
};

/** Exit status when the input was read and a check failed. */
export const AUDIT_FAILED_EXIT = 1;
const USAGE_EXIT = 2;
const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;
/** A page of leaves or checkpoints, an error body, a checkpoint: far below this. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;
const HTTP_TIMEOUT_MS = 60_000;
const CEREMONY_ID = /^[A-Za-z0-9_-]{8,64}$/;
const HEX32 = /^[0-9a-f]{64}$/;

const homeDirOf = (o: GlobalOptions) => (o.home !== undefined ? resolve(o.home) : defaultHomeDir());

async function openHome(o: GlobalOptions): Promise<Home | undefined> {
  return Home.open(homeDirOf(o)).catch(() => undefined);
}

/** One passphrase per home for the whole command (asked at most once; CONCLAVE_PASSPHRASE). */
const passphrases = new WeakMap<Home, Promise<string>>();
function passphraseFor(home: Home): Promise<string> {
  let p = passphrases.get(home);
  if (p === undefined) {
    p = getPassphrase(`Passphrase for ${home.name}: `);
    passphrases.set(home, p);
  }
  return p;
}

/**
 * The passphrase, or undefined when none is at hand (no terminal, CONCLAVE_PASSPHRASE unset).
 * Share headers are authenticated only when the share is opened with it.
 */
async function passphraseIfAtHand(home: Home): Promise<string | undefined> {
  try {
    return await passphraseFor(home);
  } catch (e) {
    if (e instanceof CliError && e.code === 'PASSPHRASE_REQUIRED') return undefined;
    throw e;
  }
}

function coordinatorUrl(o: GlobalOptions, home: Home | undefined): string {
  const url = o.coordinator ?? home?.config.coordinator?.url;
  if (url === undefined) {
    throw new CliError(
      'NO_COORDINATOR',
      'no coordinator: pass --coordinator URL (or work from a member home that pinned one)',
      USAGE_EXIT,
    );
  }
  return normalizeCoordinatorUrl(url);
}

async function httpGet(url: string, headers: Record<string, string> = {}): Promise<Response> {
  try {
    return await fetch(url, { headers, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch {
    throw new CliError(
      'COORDINATOR_UNREACHABLE',
      `could not reach ${new URL(url).origin}; is the coordinator running there?`,
      USAGE_EXIT,
    );
  }
}

/**
 * The body of a coordinator's answer as text, read up to `max` bytes: what a coordinator sends is
 * hostile until parsed, a body without end included. Over `max`: BAD_COORDINATOR_MESSAGE.
 */
async function bodyText(res: Response, max: number, what: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  const tooLarge = () =>
    new CliError(
      'BAD_COORDINATOR_MESSAGE',
      `${what}: the coordinator's answer is larger than ${max} bytes`,
      USAGE_EXIT,
    );
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (;;) {
    const next = reader === undefined ? { done: true as const } : await reader.read();
    if (next.done) break;
    size += next.value.byteLength;
    if (size > max) {
      await reader?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The body parsed as JSON (undefined if it is not JSON), read up to `max` bytes. */
async function bodyJson(res: Response, max: number, what: string): Promise<unknown> {
  const text = await bodyText(res, max, what);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function refused(res: Response, what: string): Promise<CliError> {
  const body = (await bodyJson(res, MAX_ERROR_BYTES, what).catch(() => undefined)) as
    { code?: unknown; message?: unknown } | undefined;
  const code = typeof body?.code === 'string' ? body.code : 'CONNECTION_REFUSED';
  const message = typeof body?.message === 'string' ? body.message : `HTTP ${res.status}`;
  return new CliError(
    code,
    `${what}: the coordinator answered ${res.status}: ${message}`,
    USAGE_EXIT,
  );
}

async function getJson(url: string, what: string): Promise<unknown> {
  const res = await httpGet(url);
  if (!res.ok) throw await refused(res, what);
  const text = await bodyText(res, MAX_ANSWER_BYTES, what);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError('BAD_COORDINATOR_MESSAGE', `${what}: not JSON`, USAGE_EXIT);
  }
}

// ---------------------------------------------------------------- getting a bundle

/** The options of the commands that may send the auditor token. */
interface TokenOptions {
  auditorToken?: string;
  /** Send it over plain http to a host that is not this machine (a network you trust). */
  insecureHttp?: boolean;
}

interface BundleOptions extends GlobalOptions, TokenOptions {}

/** A host name of this machine: localhost, 127.0.0.0/8 or ::1 (URL keeps IPv6 in brackets). */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/**
 * The auditor token from `file`, to send to `base`. It reads every ceremony's bundle and artifact:
 * never over plain http to another host (anyone on the path could copy it) unless --insecure-http,
 * and never from a file others can read.
 */
async function auditorToken(file: string, base: string, o: TokenOptions): Promise<string> {
  const url = new URL(base);
  if (url.protocol === 'http:' && !isLoopback(url.hostname) && o.insecureHttp !== true) {
    throw new CliError(
      'INSECURE_TRANSPORT',
      `refusing to send the auditor token over plain http to ${url.host}: anyone on the way could copy it; use the coordinator's https:// URL, or pass --insecure-http if you trust every network in between`,
      USAGE_EXIT,
    );
  }
  let token: string;
  try {
    token = (await readSecretFile(file, 'the auditor token file', USAGE_EXIT)).trim();
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(
      'INVALID_ARGUMENT',
      `cannot read the auditor token file ${file}`,
      USAGE_EXIT,
    );
  }
  if (token === '' || /\s/.test(token)) {
    throw new CliError('INVALID_ARGUMENT', `${file} does not hold an auditor token`, USAGE_EXIT);
  }
  return token;
}

/** GET /v1/audit/bundle/<id> with the auditor token, or as a member of the ceremony's group. */
async function downloadBundle(
  id: string,
  o: BundleOptions,
  home: Home | undefined,
  ctx: Ctx,
): Promise<{ bundle: unknown; text: string; from: string }> {
  const base = coordinatorUrl(o, home);
  let headers: Record<string, string>;
  let as: string;
  if (o.auditorToken !== undefined) {
    headers = { authorization: `Bearer ${await auditorToken(o.auditorToken, base, o)}` };
    as = 'auditor';
  } else {
    if (home === undefined) {
      throw new CliError(
        'HOME_NOT_INITIALIZED',
        'fetching a bundle needs the auditor token (--auditor-token FILE) or a member home (--home DIR)',
        USAGE_EXIT,
      );
    }
    const key = await home.loadIdentity(await passphraseFor(home));
    try {
      headers = await memberAuthHeaders({ url: base, member: home.name, key });
    } finally {
      key.secretKey.fill(0);
    }
    as = `member ${home.name}`;
  }
  ctx.progress(`fetching the bundle of ${id} from ${base} as ${as}`);
  const res = await httpGet(`${base}/v1/audit/bundle/${encodeURIComponent(id)}`, headers);
  if (!res.ok) throw await refused(res, `bundle ${id}`);
  const text = await bodyText(res, MAX_BUNDLE_BYTES, `bundle ${id}`);
  try {
    return { bundle: JSON.parse(text) as unknown, text, from: `${base} (as ${as})` };
  } catch {
    throw new CliError('BAD_COORDINATOR_MESSAGE', `bundle ${id}: not JSON`, USAGE_EXIT);
  }
}

async function loadBundle(
  target: string,
  o: BundleOptions,
  home: Home | undefined,
  ctx: Ctx,
): Promise<{ bundle: unknown; from: string }> {
  const file = await stat(target).catch(() => undefined);
  if (file?.isFile() === true) {
    if (file.size > MAX_BUNDLE_BYTES) {
      throw new CliError('INVALID_ARGUMENT', `${target} is too large for a bundle`, USAGE_EXIT);
    }
    const text = await readFile(target, 'utf8');
    try {
      return { bundle: JSON.parse(text) as unknown, from: resolve(target) };
    } catch {
      throw new CliError(
        'BUNDLE_MALFORMED',
        `${target} is not JSON; export a bundle with \`conclave audit export ID --out FILE\``,
        USAGE_EXIT,
      );
    }
  }
  if (!CEREMONY_ID.test(target)) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `${target} is neither a bundle file nor a ceremony id (8-64 of [A-Za-z0-9_-])`,
      USAGE_EXIT,
    );
  }
  return downloadBundle(target, o, home, ctx);
}

// ---------------------------------------------------------------- trust

type Source = 'flag' | 'home' | 'share' | 'bundle';
interface TrustedKey {
  readonly key: string;
  readonly source: Source;
  /** A public key package: the key epoch it belongs to. */
  readonly epoch?: number;
}

const SOURCE_TEXT: Record<Source, string> = {
  flag: 'given on the command line',
  home: 'pinned in the member home',
  share: "from this member's share of the group",
  bundle: 'taken from the bundle itself (NOT pinned)',
};

interface TrustOptions {
  coordinatorKey?: string;
  adminPublicKey?: string;
  logKey?: string;
  groupKey?: string;
  trustBundleKeys?: boolean;
  /** `NAME=HEX` (repeatable): witnesses whose cosignature the checkpoint must carry. */
  witness?: string[];
}

/**
 * The pinned witnesses of `--witness NAME=HEX`: NAME is a member (its witness name is
 * `conclave.member/NAME`, witness-client.ts) or a full tlog-cosignature key name; HEX its
 * Ed25519 public key (for a member, its identity key).
 */
function witnessFlags(values: readonly string[] | undefined): { name: string; key: string }[] {
  return (values ?? []).map((v) => {
    const eq = v.lastIndexOf('=');
    const name = eq > 0 ? v.slice(0, eq) : '';
    const key =
      eq > 0
        ? v
            .slice(eq + 1)
            .trim()
            .toLowerCase()
        : '';
    if (name === '' || !HEX32.test(key)) {
      throw new CliError(
        'INVALID_ARGUMENT',
        '--witness: expected NAME=HEX (a member name or witness key name, and its 64-hex public key)',
        USAGE_EXIT,
      );
    }
    return { name: name.includes('/') ? name : witnessName(name), key };
  });
}

function hexFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (!HEX32.test(v)) {
    throw new CliError('INVALID_ARGUMENT', `${flag}: expected 64 hex characters`, USAGE_EXIT);
  }
  return v;
}

type TrustName = 'coordinatorKey' | 'adminKey' | 'logKey' | 'groupPublicKey' | 'publicKeyPackage';

/**
 * The keys to check a bundle against: flags, else the home's pins, else (if allowed) the bundle.
 * From a member's share (opened with the passphrase) also the public key package of its epoch:
 * culprits are then proven under the package the member holds, not the coordinator's copy.
 */
async function resolveTrust(
  bundle: unknown,
  o: TrustOptions,
  home: Home | undefined,
): Promise<Record<TrustName, TrustedKey | null>> {
  const pin = home?.config.coordinator;
  const b = CeremonyBundleSchema.safeParse(bundle);
  const pick = (flag: string | undefined, pinned: string | undefined): TrustedKey | undefined =>
    flag !== undefined
      ? { key: flag, source: 'flag' }
      : pinned !== undefined
        ? { key: pinned, source: 'home' }
        : undefined;
  if (o.logKey !== undefined) {
    try {
      parseVerifierKey(o.logKey);
    } catch {
      throw new CliError(
        'INVALID_ARGUMENT',
        '--log-key: expected a note verifier key origin+keyid+base64 (GET /v1/log/key)',
        USAGE_EXIT,
      );
    }
  }
  const coordinatorKey = pick(hexFlag(o.coordinatorKey, '--coordinator-key'), pin?.coordinatorKey);
  const adminKey = pick(hexFlag(o.adminPublicKey, '--admin-public-key'), pin?.adminKey);
  const logKey = pick(o.logKey, pin?.logKey);
  let groupPublicKey: TrustedKey | undefined;
  let publicKeyPackage: TrustedKey | undefined;
  const groupKeyFlag = hexFlag(o.groupKey, '--group-key');
  const group = b.success ? b.data.group?.name : undefined;
  const needsGroup = b.success && b.data.kind === 'sign';
  if (groupKeyFlag !== undefined) groupPublicKey = { key: groupKeyFlag, source: 'flag' };
  else if (
    home !== undefined &&
    group !== undefined &&
    needsGroup &&
    (await home.listShares()).includes(group)
  ) {
    // The group key comes from the share opened with the passphrase, never its header alone,
    // which anyone who can write the home could edit (a share that does not open with it fails
    // the command: KEYSTORE_DECRYPT_FAILED).
    const passphrase = await passphraseIfAtHand(home);
    if (passphrase !== undefined) {
      const meta = (await home.loadShare(group, passphrase)).metadata;
      groupPublicKey = { key: meta.groupPublicKey, source: 'share' };
      publicKeyPackage = { key: meta.publicKeyPackage, source: 'share', epoch: meta.epoch ?? 0 };
    } else if (o.trustBundleKeys !== true) {
      throw new CliError(
        'KEYS_NOT_PINNED',
        `no group key to check the bundle against: this home's share of ${group} is trusted only when opened with ${home.name}'s passphrase, and none is at hand (no terminal; CONCLAVE_PASSPHRASE unset). ` +
          `Set CONCLAVE_PASSPHRASE, or pass --group-key HEX (\`conclave key export ${group} --format pem\` prints it on a member's machine; get it out of band)`,
        USAGE_EXIT,
      );
    }
  }
  const missing = [
    coordinatorKey === undefined ? '--coordinator-key HEX' : undefined,
    adminKey === undefined ? '--admin-public-key HEX' : undefined,
    logKey === undefined ? '--log-key KEY' : undefined,
    needsGroup && groupPublicKey === undefined ? '--group-key HEX' : undefined,
  ].filter((x) => x !== undefined);
  if (missing.length > 0 && o.trustBundleKeys !== true) {
    throw new CliError(
      'KEYS_NOT_PINNED',
      `nothing to check the bundle against for ${missing.join(', ')}: pass them (the coordinator's start banner and \`conclave key export\` print them; get them out of band), ` +
        'work from a member home that pinned them (`conclave log witness` pins the log key in a home made before the log), or pass --trust-bundle-keys to check the bundle only against the keys it carries',
      USAGE_EXIT,
    );
  }
  const fromBundle = (k: string | undefined): TrustedKey | null =>
    k === undefined ? null : { key: k, source: 'bundle' };
  const epochKey = b.success ? b.data.group?.epochs.map((e) => e.groupPublicKey).at(-1) : undefined;
  return {
    coordinatorKey: coordinatorKey ?? fromBundle(b.success ? b.data.keys.coordinator : undefined),
    adminKey: adminKey ?? fromBundle(b.success ? b.data.keys.admin : undefined),
    logKey: logKey ?? fromBundle(b.success ? b.data.keys.log : undefined),
    groupPublicKey: groupPublicKey ?? (needsGroup ? fromBundle(epochKey) : null),
    // The key epoch's package from the share; absent means the bundle's (the coordinator's word).
    publicKeyPackage: publicKeyPackage ?? null,
  };
}

// ---------------------------------------------------------------- artifact bytes

/** The request of a bundle (its first transcript entry), if it parses. */
function requestOf(bundle: unknown): Release | undefined {
  const b = CeremonyBundleSchema.safeParse(bundle);
  const first = b.success ? TranscriptEntrySchema.safeParse(b.data.transcript[0]) : undefined;
  const body = first?.success === true ? first.data.envelope.body : undefined;
  return body?.type === 'sign.request' ? body.release : undefined;
}

/**
 * Content formats (raw, OpenPGP) sign the artifact bytes, which a bundle does not carry: take
 * them from --artifact files, else from the member home's copy (`<home>/artifacts/<sha256>`, kept
 * when it approved or requested), each checked against all three digests of the request.
 */
/**
 * Where missing artifact bytes can be downloaded: the coordinator, as the auditor. `get` answers
 * the path of a local copy that had every digest the signed request names, else undefined (after
 * saying why through `ctx.progress`). Copies go to a private temporary directory, one per address,
 * so a log of many large artifacts is never held in memory at once; `close` removes it.
 */
interface ArtifactSource {
  readonly from: string;
  get(artifact: Release['artifacts'][number]): Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * The coordinator's artifact route with the auditor's token. `base` and `token` are resolved on the
 * first download only, so a bundle that needs no bytes never needs a coordinator.
 */
function auditorArtifacts(
  base: () => string,
  token: () => Promise<string>,
  ctx: Ctx,
): ArtifactSource {
  type Copy = { path: string; sha512: string; blake2b512: string } | undefined;
  const fetched = new Map<string, Promise<Copy>>();
  let dir: Promise<string> | undefined;
  let bearer: Promise<string> | undefined;
  const from = () => `${base()} (as auditor)`;
  const hex = (alg: string, bytes: Uint8Array) => createHash(alg).update(bytes).digest('hex');
  const download = async (a: Release['artifacts'][number]): Promise<Copy> => {
    ctx.progress(`downloading ${a.name} (sha256 ${a.sha256.slice(0, 16)}…) from ${from()}`);
    bearer ??= token();
    let bytes: Uint8Array;
    try {
      bytes = await fetchArtifact(base(), a.sha256, { authorization: `Bearer ${await bearer}` });
    } catch (e) {
      if (e instanceof CliError) throw e;
      ctx.progress(`could not download ${a.name}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    if (hex('sha256', bytes) !== a.sha256) {
      ctx.progress(`${from()}: its copy of ${a.name} is not the bytes of its address; not used`);
      return undefined;
    }
    try {
      dir ??= mkdtemp(join(tmpdir(), 'conclave-audit-'));
      const path = join(await dir, a.sha256);
      await writeFile(path, bytes, { mode: 0o600 });
      return { path, sha512: hex('sha512', bytes), blake2b512: hex('blake2b512', bytes) };
    } catch (e) {
      ctx.progress(
        `could not keep a copy of ${a.name} in ${tmpdir()} (${e instanceof Error ? e.message : String(e)}); not used`,
      );
      return undefined;
    }
  };
  return {
    get from() {
      return from();
    },
    async get(a) {
      let p = fetched.get(a.sha256);
      if (p === undefined) {
        p = download(a);
        fetched.set(a.sha256, p);
      }
      const copy = await p;
      if (copy === undefined) return undefined;
      // One copy per address; each artifact naming it must also have its other two digests.
      if (copy.sha512 === a.sha512 && copy.blake2b512 === a.blake2b512) return copy.path;
      ctx.progress(
        `${from()}: its copy of ${a.name} does not have the request's digests; not used`,
      );
      return undefined;
    },
    async close() {
      try {
        if (dir !== undefined) await rm(await dir, { recursive: true, force: true });
      } catch {
        // best effort: a copy left in the temporary directory holds nothing secret to the auditor
      }
    },
  };
}

/** A local artifact copy changed under the audit: a usage error, never a verdict on the bundle. */
function throwIfChanged(changed: readonly string[]): void {
  if (changed.length === 0) return;
  throw new CliError(
    'ARTIFACT_MISMATCH',
    `${[...new Set(changed)].join(', ')} changed while being audited (its SHA-256 is no longer the one checked): leave the files alone and run it again`,
    USAGE_EXIT,
  );
}

/**
 * The request's artifacts at hand, each checked against every digest the request names: the given
 * files, the home's cache, then `source`. `bytes` reads a checked copy when verification asks for
 * it (only for content formats, and only when none is missing).
 */
async function artifactsFor(
  bundle: unknown,
  files: readonly string[],
  home: Home | undefined,
  source?: ArtifactSource,
): Promise<{
  bytes?: (name: string) => Uint8Array;
  found: { name: string; from: string }[];
  missing: string[];
  /** Copies that no longer had their SHA-256 when verification read them. */
  changed?: () => readonly string[];
}> {
  const release = requestOf(bundle);
  if (release === undefined || (!needsArtifactBytes(release) && files.length === 0)) {
    return { found: [], missing: [] };
  }
  const byName = new Map<string, { path: string; from: string }>();
  const matches = async (path: string, a: Release['artifacts'][number]) => {
    const d = await digestFile(path).catch(() => undefined);
    return (
      d !== undefined &&
      d.sha256 === a.sha256 &&
      d.sha512 === a.sha512 &&
      d.blake2b512 === a.blake2b512
    );
  };
  for (const path of files) {
    const a = release.artifacts.find((x) => x.name === basename(path));
    if (a === undefined) {
      throw new CliError(
        'ARTIFACT_MISMATCH',
        `${basename(path)} is not one of the artifacts of this ceremony (${release.artifacts.map((x) => x.name).join(', ')})`,
        USAGE_EXIT,
      );
    }
    if (!(await matches(path, a))) {
      throw new CliError(
        'ARTIFACT_MISMATCH',
        `${path} is not the artifact the request names (its digests differ from sha256 ${a.sha256})`,
        USAGE_EXIT,
      );
    }
    byName.set(a.name, { path, from: resolve(path) });
  }
  if (home !== undefined) {
    for (const a of release.artifacts) {
      const path = join(home.dir, 'artifacts', a.sha256);
      if (!byName.has(a.name) && (await matches(path, a))) byName.set(a.name, { path, from: path });
    }
  }
  if (source !== undefined && needsArtifactBytes(release)) {
    for (const a of release.artifacts) {
      if (byName.has(a.name)) continue;
      const path = await source.get(a);
      if (path !== undefined) byName.set(a.name, { path, from: source.from });
    }
  }
  const missing = release.artifacts.map((a) => a.name).filter((n) => !byName.has(n));
  const found = [...byName].map(([name, v]) => ({ name, from: v.from }));
  if (!needsArtifactBytes(release) || missing.length > 0) return { found, missing };
  // Read when a message is rebuilt. A copy that changed since its check is noted here, so the
  // command can say so: inside the verifier it would read as a coordinator's fault.
  const changed: string[] = [];
  return {
    found,
    missing,
    changed: () => changed,
    bytes: (name) => {
      const v = byName.get(name);
      const a = release.artifacts.find((x) => x.name === name);
      if (v === undefined || a === undefined)
        throw new CliError('ARTIFACT_MISMATCH', `no bytes for ${name}`);
      const bytes = readFileSync(v.path);
      if (createHash('sha256').update(bytes).digest('hex') !== a.sha256) {
        changed.push(v.from);
        throw new CliError('ARTIFACT_MISMATCH', `${v.from} changed while it was being audited`);
      }
      return bytes;
    },
  };
}

// ---------------------------------------------------------------- what the transcript says

interface Summary {
  group: string | null;
  requester?: string;
  release?: {
    version: string;
    class: string;
    note: string;
    formats: readonly string[];
    artifacts: { name: string; sha256: string }[];
  };
  /** Approvals by the approvers the verifier proved, with the coordinator's recorded times. */
  approvals: { member: string; at: string }[];
  /** The policy of the statement the verifier rebuilt and verified (none if it did not). */
  policy: string[];
  /** The digest of that statement. */
  statementDigest?: string;
  outcome: string | null;
  /** The group key the checks verified (the epoch's; a key ceremony's confirmed one). */
  groupPublicKey?: string;
  log: { index: number; size: number } | null;
}

/**
 * What the report prints beside the checks: only what the verifier checked. The request is the
 * requester's signed envelope (checked with every envelope); the approvals, statement, policy and
 * group key are those the report proved — never a field of sign.complete or sign.package as the
 * coordinator wrote it (a second sign.complete could name any key and any statement).
 */
function summarize(bundle: unknown, report: BundleReport): Summary | undefined {
  const parsed = CeremonyBundleSchema.safeParse(bundle);
  if (!parsed.success) return undefined;
  const b = parsed.data;
  const s: Summary = {
    group: b.group?.name ?? null,
    approvals: [],
    policy: report.policyId === undefined ? [] : [report.policyId],
    outcome: b.recorded.state,
    log: b.log === null ? null : { index: b.log.index, size: b.log.size },
    ...(report.statementDigest === undefined ? {} : { statementDigest: report.statementDigest }),
    ...(report.groupPublicKey === undefined ? {} : { groupPublicKey: report.groupPublicKey }),
  };
  const first = TranscriptEntrySchema.safeParse(b.transcript[0]);
  if (first.success && first.data.envelope.body.type === 'sign.request') {
    const release = first.data.envelope.body.release;
    s.requester = first.data.sender;
    s.release = {
      version: release.version,
      class: release.class,
      note: release.note,
      formats: release.formats,
      artifacts: release.artifacts.map((a) => ({ name: a.name, sha256: a.sha256 })),
    };
  }
  const approved = new Set(report.approvers);
  for (const raw of b.transcript) {
    const e = TranscriptEntrySchema.safeParse(raw);
    if (!e.success || e.data.envelope.body.type !== 'sign.approve') continue;
    if (!approved.has(e.data.sender)) continue;
    approved.delete(e.data.sender);
    s.approvals.push({ member: e.data.sender, at: new Date(e.data.at).toISOString() });
  }
  return s;
}

const mark = (c: Check) => (c.ok ? '✓' : '✗');

/** The culprits, and the public key package their proof rests on (docs/audit.md). */
function culpritsLine(report: BundleReport): string {
  // Key-ceremony blame: a dkg.abort's culprits, each with what the transcript shows against it.
  if (report.kind === 'key') {
    const judged = report.checks.find((c) => c.name === 'key ceremony culprits judged');
    if (judged !== undefined && !judged.ok) {
      return 'NOT PROVEN: the dkg.abort names culprits its transcript does not back (see the checks)';
    }
    const k = report.keyCulprits;
    if (k === undefined) {
      return report.checks.some((c) => c.name === 'one final message, last' && !c.ok)
        ? 'not judged: the transcript has no single final envelope'
        : 'none (no dkg.abort)';
    }
    return k.length === 0 ? 'none' : k.map((c) => `${c.member} (${c.basis})`).join('; ');
  }
  if (report.culprits.length === 0) return 'none';
  const basis =
    report.keyPackage === 'pinned'
      ? 'proven under the public key package of your share'
      : report.keyPackageSigned === true
        ? 'proven under the public key package each of them named, signed, in its own share'
        : report.keyPackage === 'derived'
          ? `proven under the public key package derived from its key ceremony's signed messages${
              (report.witnessedBy ?? []).length > 0
                ? ''
                : "; that the key ceremony completed rests on the coordinator's log key (--witness to have members vouch)"
            }`
          : "proven only under the coordinator-supplied public key package: compare it with a member's share";
  return `${report.culprits.join(', ')} (${basis})`;
}
const short = (hex: string) => (hex.length > 20 ? `${hex.slice(0, 16)}…` : hex);

function humanReport(
  report: BundleReport,
  summary: Summary | undefined,
  trust: Record<string, TrustedKey | null>,
  from: string,
  artifacts: { found: { name: string; from: string }[]; missing: string[] },
): string {
  const failed = report.checks.find((c) => !c.ok);
  const lines = [
    `Ceremony ${report.ceremonyId ?? '?'} (${report.kind ?? '?'}${summary?.group ? `, group ${summary.group}` : ''}): ` +
      (report.ok
        ? `VERIFIED — all ${report.checks.length} checks pass`
        : `FAILED at "${failed?.name ?? '?'}" (${failed?.code ?? '?'})`),
    `  bundle     ${from}`,
  ];
  if (summary !== undefined) {
    if (summary.release !== undefined) {
      const r = summary.release;
      lines.push(
        `  request    ${r.version} (${r.class}) by ${summary.requester ?? '?'}${r.note === '' ? '' : ` — “${r.note}”`}`,
        ...r.artifacts.map((a) => `  artifact   ${a.name} sha256 ${a.sha256}`),
        `  formats    ${r.formats.join(', ')}`,
      );
    }
    if (report.kind === 'sign') {
      lines.push(
        `  approvals  ${summary.approvals.length === 0 ? 'none' : summary.approvals.map((a) => `${a.member} (${a.at})`).join(', ')}`,
        `  approvers  ${report.approvers.length === 0 ? 'none' : report.approvers.join(', ')} (verified from the transcript)`,
        `  policy     ${summary.policy.length === 0 ? 'none recorded' : summary.policy.join(', ')}`,
      );
      if (summary.statementDigest !== undefined)
        lines.push(`  statement  sha256 ${summary.statementDigest}`);
    }
    lines.push(`  outcome    ${summary.outcome ?? '?'}`);
    if (summary.groupPublicKey !== undefined) lines.push(`  group key  ${summary.groupPublicKey}`);
    for (const [job, sig] of Object.entries(report.signatures))
      lines.push(`  signature  ${job}: ${short(sig)}`);
    lines.push(`  culprits   ${culpritsLine(report)}`);
    for (const d of report.declines ?? []) {
      lines.push(`  declined   ${d.member} in session ${d.session} (${d.code}: ${d.reason})`);
    }
    const witnessed = report.witnessedBy ?? [];
    lines.push(
      `  log        ${summary.log === null ? 'not in the log' : `leaf ${summary.log.index} of ${summary.log.size}`}` +
        (summary.log === null
          ? ''
          : witnessed.length === 0
            ? ", checkpoint signed by the coordinator's log key only (pass --witness NAME=HEX to require cosignatures)"
            : `, checkpoint cosigned by ${witnessed.join(', ')}`),
    );
  }
  for (const g of report.governance ?? []) {
    lines.push(
      `  OVERDUE    not ratified by ${new Date(g.ratifyBy).toISOString()}: flagged ${new Date(g.flaggedAt).toISOString()}` +
        `${g.incident === undefined ? '' : ` (incident ${g.incident})`}, policy v${g.policyVersion}, in the log`,
    );
  }
  for (const a of artifacts.found) lines.push(`  bytes      ${a.name} from ${a.from}`);
  if (artifacts.missing.length > 0)
    lines.push(`  bytes      missing: ${artifacts.missing.join(', ')} (--artifact FILE)`);
  for (const [name, k] of Object.entries(trust)) {
    if (k !== null) lines.push(`  trust      ${name}: ${SOURCE_TEXT[k.source]} (${short(k.key)})`);
  }
  lines.push('', ...report.checks.map((c) => `  ${mark(c)} ${c.name} — ${c.detail}`));
  return lines.join('\n');
}

// ---------------------------------------------------------------- conclave audit

type AuditOptions = BundleOptions & TrustOptions & { artifact?: string[] };

export async function cmdAudit(target: string, o: AuditOptions, ctx: Ctx): Promise<void> {
  // Key flags are usage: a typo is refused before the bundle is fetched (or a passphrase asked).
  hexFlag(o.groupKey, '--group-key');
  hexFlag(o.coordinatorKey, '--coordinator-key');
  hexFlag(o.adminPublicKey, '--admin-public-key');
  const witnesses = witnessFlags(o.witness);
  const home = await openHome(o);
  const { bundle, from } = await loadBundle(target, o, home, ctx);
  const trust = await resolveTrust(bundle, o, home);
  const pinned: BundleTrust = {
    ...(trust.coordinatorKey?.source === 'bundle' || trust.coordinatorKey === null
      ? {}
      : { coordinatorKey: trust.coordinatorKey.key }),
    ...(trust.adminKey?.source === 'bundle' || trust.adminKey === null
      ? {}
      : { adminKey: trust.adminKey.key }),
    ...(trust.logKey?.source === 'bundle' || trust.logKey === null
      ? {}
      : { logKey: trust.logKey.key }),
    ...(trust.groupPublicKey?.source === 'bundle' || trust.groupPublicKey === null
      ? {}
      : { groupPublicKey: trust.groupPublicKey.key }),
    ...(trust.publicKeyPackage === null
      ? {}
      : {
          publicKeyPackage: {
            epoch: trust.publicKeyPackage.epoch ?? 0,
            hex: trust.publicKeyPackage.key,
          },
        }),
    ...(witnesses.length === 0 ? {} : { witnesses }),
  };
  const tokenFile = o.auditorToken;
  const source =
    tokenFile === undefined
      ? undefined
      : auditorArtifacts(
          () => coordinatorUrl(o, home),
          () => auditorToken(tokenFile, coordinatorUrl(o, home), o),
          ctx,
        );
  // Downloaded copies live in a temporary directory until the bundle is verified.
  const { artifacts, report, ms } = await (async () => {
    try {
      const artifacts = await artifactsFor(bundle, o.artifact ?? [], home, source);
      if (
        artifacts.missing.length > 0 &&
        needsArtifactBytes(requestOf(bundle) ?? { formats: [] })
      ) {
        ctx.progress(
          `raw/OpenPGP signed the artifact bytes: pass --artifact FILE for ${artifacts.missing.join(', ')} to rebuild those messages`,
        );
      }
      const started = performance.now();
      const report = verifyCeremonyBundle(bundle, {
        ...pinned,
        ...(artifacts.bytes === undefined ? {} : { artifactBytes: artifacts.bytes }),
      });
      const ms = Math.round(performance.now() - started);
      throwIfChanged(artifacts.changed?.() ?? []);
      return { artifacts, report, ms };
    } finally {
      await source?.close();
    }
  })();
  const summary = summarize(bundle, report);
  const failed = report.checks.find((c) => !c.ok);
  const doc = {
    ok: report.ok,
    ceremonyId: report.ceremonyId,
    kind: report.kind,
    bundle: from,
    checks: report.checks,
    approvers: report.approvers,
    culprits: report.culprits,
    // What the culprits' proof rests on: `pinned` (your share's package), `derived` (from the
    // signed messages of the key ceremony the bundle carries) or `bundle` (the coordinator's
    // unsigned copy); null when no share was judged.
    keyPackage: report.keyPackage ?? null,
    keyPackageSigned: report.keyPackageSigned ?? false,
    // An aborted key ceremony's culprits, each with its basis; null when none was judged.
    keyCulprits: report.keyCulprits ?? null,
    declines: report.declines ?? [],
    witnessedBy: report.witnessedBy ?? [],
    signatures: report.signatures,
    governance: report.governance ?? [],
    summary: summary ?? null,
    trust,
    artifacts: { found: artifacts.found, missing: artifacts.missing },
    ms,
    ...(failed === undefined
      ? {}
      : {
          error: {
            code: 'AUDIT_FAILED',
            check: failed.name,
            checkCode: failed.code ?? null,
            message: `check "${failed.name}" failed: ${failed.detail}`,
          },
        }),
  };
  if (ctx.json) process.stdout.write(`${jsonForTerminal(doc, 2)}\n`);
  else writeOut(`${humanReport(report, summary, trust, from, artifacts)}\n`);
  if (failed !== undefined) {
    if (!ctx.json) {
      printError(
        new CliError(
          'AUDIT_FAILED',
          `check "${failed.name}" failed (${failed.code ?? '?'}): ${failed.detail}`,
        ),
        false,
      );
    }
    process.exitCode = AUDIT_FAILED_EXIT;
  }
}

export async function cmdAuditExport(
  id: string,
  o: BundleOptions & { out: string },
  ctx: Ctx,
): Promise<void> {
  if (!CEREMONY_ID.test(id)) {
    throw new CliError('INVALID_ARGUMENT', `${id} is not a ceremony id`, USAGE_EXIT);
  }
  const home = await openHome(o);
  const { text, from } = await downloadBundle(id, o, home, ctx);
  const out = resolve(o.out);
  await writeFile(out, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
  const sha256 = createHash('sha256')
    .update(await readFile(out))
    .digest('hex');
  ctx.result(
    { ceremonyId: id, out, bytes: Buffer.byteLength(text), sha256, from },
    `Bundle of ${id} written to ${out} (${Buffer.byteLength(text)} bytes, sha256 ${sha256}).\n` +
      `Verify it offline: conclave audit ${out}`,
  );
}

// ---------------------------------------------------------------- conclave log verify

const PAGE = 1000;

/** Every leaf (paged by `start` until an empty page) and every checkpoint note. */
async function fetchLog(base: string): Promise<{ leaves: string[]; checkpoints: string[] }> {
  const leaves: string[] = [];
  for (;;) {
    const page = (await getJson(`${base}/v1/log/leaves?start=${leaves.length}`, 'log leaves')) as {
      leaves?: unknown;
    };
    if (!Array.isArray(page.leaves) || page.leaves.some((l) => typeof l !== 'string')) {
      throw new CliError('BAD_COORDINATOR_MESSAGE', 'log leaves: unexpected answer', USAGE_EXIT);
    }
    if (page.leaves.length === 0) break;
    leaves.push(...(page.leaves as string[]));
  }
  const checkpoints: string[] = [];
  let fromSize = 0;
  for (;;) {
    const page = (await getJson(`${base}/v1/log/checkpoints?from=${fromSize}`, 'checkpoints')) as {
      checkpoints?: unknown;
    };
    if (!Array.isArray(page.checkpoints) || page.checkpoints.some((c) => typeof c !== 'string')) {
      throw new CliError('BAD_COORDINATOR_MESSAGE', 'checkpoints: unexpected answer', USAGE_EXIT);
    }
    const notes = page.checkpoints as string[];
    checkpoints.push(...notes);
    if (notes.length < PAGE) break;
    const sizes = notes.map((n) => Number(n.split('\n')[1]));
    const next = Math.max(...sizes) + 1;
    if (!Number.isSafeInteger(next) || next <= fromSize) break;
    fromSize = next;
  }
  return { leaves, checkpoints };
}

async function readFrom(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliError('INVALID_ARGUMENT', `cannot read the checkpoint file ${file}`, USAGE_EXIT);
  }
  // A home's witnessed checkpoint (log/checkpoint-*.json) or the note itself.
  try {
    const v = JSON.parse(text) as { checkpoint?: unknown };
    if (typeof v.checkpoint === 'string') return v.checkpoint;
  } catch {
    // a note
  }
  return text;
}

const WITNESS_PREFIX = 'conclave.member/';

/**
 * Other members' identity keys, for their witness signatures: from this home's shares opened with
 * the passphrase, never their headers alone, which anyone who can write the home could edit (a
 * share that does not open fails the command: KEYSTORE_DECRYPT_FAILED). Asked only when a witness
 * other than this member signed; with no passphrase at hand their signatures stay unverified.
 */
async function memberKeys(home: Home, ctx: Ctx): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  const groups = await home.listShares();
  if (groups.length === 0) return keys;
  const passphrase = await passphraseIfAtHand(home);
  if (passphrase === undefined) {
    ctx.progress(
      "other members' witness signatures are not checked: their keys come from your shares, opened with your passphrase (set CONCLAVE_PASSPHRASE)",
    );
    return keys;
  }
  for (const g of groups) {
    const meta = (await home.loadShare(g, passphrase)).metadata;
    for (const p of meta.participants) keys.set(p.member, p.identityKey);
  }
  return keys;
}

/** Names of the newest checkpoint's witnesses; verified when this home knows their keys. */
async function witnessesOf(
  note: string | undefined,
  origin: string,
  home: Home | undefined,
  ctx: Ctx,
): Promise<{ name: string; verified: boolean }[]> {
  if (note === undefined) return [];
  const keys = new Map<string, string>();
  if (home !== undefined) {
    keys.set(home.name, home.config.identityKey);
    const names = (() => {
      try {
        return parseNote(note).signatures.map((s) => s.name);
      } catch {
        return [];
      }
    })();
    if (names.some((n) => n.startsWith(WITNESS_PREFIX) && n !== `${WITNESS_PREFIX}${home.name}`)) {
      for (const [member, key] of await memberKeys(home, ctx)) keys.set(member, key);
    }
  }
  try {
    const parsed = parseNote(note);
    return parsed.signatures
      .filter((s) => s.name !== origin)
      .map((s) => {
        const member = s.name.startsWith(WITNESS_PREFIX)
          ? s.name.slice(WITNESS_PREFIX.length)
          : undefined;
        const key = member === undefined ? undefined : keys.get(member);
        let verified = false;
        if (key !== undefined) {
          try {
            verifyCosignature(s, parsed.text, s.name, hexToBytes(key));
            verified = true;
          } catch {
            verified = false;
          }
        }
        return { name: s.name, verified };
      });
  } catch {
    return [];
  }
}

/**
 * With the auditor token: the bundle of every completed signing ceremony, one `GET
 * /v1/audit/bundle/<id>` each — its transcript (which must hash to the leaf), its governance
 * records, and the bundle itself, which verifyLog verifies under the pinned keys before it takes
 * any hotfix, policy or ratification fact from it.
 */
async function fetchSigningBundles(
  base: string,
  token: string,
  leaves: readonly string[],
  ctx: Ctx,
): Promise<{ transcripts: Map<string, unknown[]>; bundles: Map<string, unknown> }> {
  const ids = new Set<string>();
  for (const text of leaves) {
    try {
      const l = JSON.parse(text) as { kind?: unknown; outcome?: unknown; ceremonyId?: unknown };
      if (l.kind === 'sign' && l.outcome === 'completed' && typeof l.ceremonyId === 'string') {
        ids.add(l.ceremonyId);
      }
    } catch {
      // a malformed leaf is verifyLog's to report
    }
  }
  ctx.progress(`fetching the bundles of ${ids.size} completed signing ceremonies as the auditor`);
  const transcripts = new Map<string, unknown[]>();
  const bundles = new Map<string, unknown>();
  for (const id of ids) {
    const res = await httpGet(`${base}/v1/audit/bundle/${encodeURIComponent(id)}`, {
      authorization: `Bearer ${token}`,
    });
    // A bundle the coordinator does not have, or serves as something else, is the log's finding
    // (BUNDLE_UNVERIFIED, exit 1: the ceremony's facts are not used), not a usage error; a
    // refused token or a failing server still stops here.
    if (res.status === 404) {
      await res.body?.cancel().catch(() => undefined);
      continue;
    }
    if (!res.ok) throw await refused(res, `bundle ${id}`);
    const raw = await bodyJson(res, MAX_BUNDLE_BYTES, `bundle ${id}`);
    const parsed = CeremonyBundleSchema.safeParse(raw);
    if (!parsed.success) continue;
    // Entries and bundles are checked by verifyLog: parsed there, hashed against the leaf the
    // checkpoints sign, and the bundle verified before anything it says is used.
    bundles.set(id, raw);
    transcripts.set(`sign:${id}`, parsed.data.transcript);
    for (const g of parsed.data.governance ?? []) {
      let ceremonyId: unknown;
      try {
        ceremonyId = (JSON.parse(g.leaf) as { ceremonyId?: unknown }).ceremonyId;
      } catch {
        continue;
      }
      if (typeof ceremonyId === 'string') transcripts.set(`governance:${ceremonyId}`, g.transcript);
    }
  }
  return { transcripts, bundles };
}

const HOTFIX_STATUS_TEXT: Record<HotfixDeadline['status'], string> = {
  flagged: 'flagged',
  ratified: 'ratified in time',
  pending: 'not yet provably due',
  missing: 'FLAG MISSING (GOVERNANCE_FLAG_MISSING)',
  late: 'FLAGGED LATE (GOVERNANCE_FLAG_LATE)',
};

type LogVerifyOptions = GlobalOptions &
  TokenOptions & {
    from?: string;
    logKey?: string;
    coordinatorKey?: string;
    adminPublicKey?: string;
  };

export async function cmdLogVerify(o: LogVerifyOptions, ctx: Ctx): Promise<void> {
  const home = await openHome(o);
  const base = coordinatorUrl(o, home);
  const keyText = o.logKey ?? home?.config.coordinator?.logKey;
  if (keyText === undefined) {
    throw new CliError(
      'KEYS_NOT_PINNED',
      "no log key to check against: pass --log-key KEY (the coordinator's start banner prints it; get it out of band), or work from a member home that pinned it",
      USAGE_EXIT,
    );
  }
  let logKey: NoteVerifier;
  try {
    logKey = parseVerifierKey(keyText);
  } catch {
    throw new CliError(
      'INVALID_ARGUMENT',
      '--log-key: expected a note verifier key origin+keyid+base64',
      USAGE_EXIT,
    );
  }
  let from: { note: string; source: string } | undefined;
  if (o.from !== undefined) from = { note: await readFrom(o.from), source: resolve(o.from) };
  else if (home !== undefined) {
    const w = await readWitnessed(home, keyText).catch(() => undefined);
    if (w !== undefined) {
      from = { note: w.checkpoint, source: `witnessed by ${home.name} at ${w.acceptedAt}` };
    }
  }
  ctx.progress(`fetching the log from ${base}`);
  const started = performance.now();
  const fetched = await fetchLog(base);
  let transcripts: Map<string, unknown[]> | undefined;
  let bundles: Map<string, unknown> | undefined;
  let coordinatorKey: Uint8Array | undefined;
  let bundleTrust: BundleTrust | undefined;
  let token: string | undefined;
  if (o.auditorToken !== undefined) {
    const keyHex =
      hexFlag(o.coordinatorKey, '--coordinator-key') ?? home?.config.coordinator?.coordinatorKey;
    const adminHex =
      hexFlag(o.adminPublicKey, '--admin-public-key') ?? home?.config.coordinator?.adminKey;
    if (keyHex === undefined || adminHex === undefined) {
      throw new CliError(
        'KEYS_NOT_PINNED',
        "--auditor-token checks the coordinator's signed governance records and verifies every completed signing ceremony's bundle: pass --coordinator-key HEX and --admin-public-key HEX (from its start banner, out of band), or work from a member home that pinned them",
        USAGE_EXIT,
      );
    }
    coordinatorKey = hexToBytes(keyHex);
    bundleTrust = { coordinatorKey: keyHex, adminKey: adminHex, logKey: keyText };
    token = await auditorToken(o.auditorToken, base, o);
    ({ transcripts, bundles } = await fetchSigningBundles(base, token, fetched.leaves, ctx));
  }
  // Content formats (raw, OpenPGP) sign the artifact bytes: the home's copies when it has them,
  // else the coordinator's, downloaded as the auditor and checked against the signed digests.
  const source =
    token === undefined
      ? undefined
      : auditorArtifacts(
          () => base,
          () => Promise.resolve(token),
          ctx,
        );
  // Downloaded copies live in a temporary directory until the log is verified.
  const { report, fetchMs, verifyMs } = await (async () => {
    try {
      const artifactBytes = new Map<string, (name: string) => Uint8Array>();
      const changed: (() => readonly string[])[] = [];
      for (const [id, bundle] of bundles ?? []) {
        const found = await artifactsFor(bundle, [], home, source);
        if (found.bytes !== undefined) artifactBytes.set(id, found.bytes);
        if (found.changed !== undefined) changed.push(found.changed);
      }
      const fetchMs = Math.round(performance.now() - started);
      const enc = new TextEncoder();
      const t0 = performance.now();
      const report = verifyLog({
        leaves: fetched.leaves.map((l) => enc.encode(l)),
        checkpoints: fetched.checkpoints,
        logKey,
        from: from?.note,
        ...(transcripts === undefined || bundles === undefined || bundleTrust === undefined
          ? {}
          : {
              transcriptOf: (leaf) => transcripts.get(`${leaf.kind}:${leaf.ceremonyId}`),
              coordinatorKey,
              signingTranscriptsOnly: true,
              bundles: {
                of: (leaf) => bundles.get(leaf.ceremonyId),
                trust: (leaf) => {
                  const bytes = artifactBytes.get(leaf.ceremonyId);
                  return bytes === undefined
                    ? bundleTrust
                    : { ...bundleTrust, artifactBytes: bytes };
                },
              },
            }),
      });
      const verifyMs = Math.round(performance.now() - t0);
      throwIfChanged(changed.flatMap((f) => f()));
      return { report, fetchMs, verifyMs };
    } finally {
      await source?.close();
    }
  })();
  const newest = await httpGet(`${base}/v1/log/checkpoint`)
    .then((r) => (r.ok ? bodyText(r, MAX_ERROR_BYTES, 'the newest checkpoint') : undefined))
    .catch(() => undefined);
  // The cosigners shown are those of the coordinator's newest checkpoint, fetched apart from the
  // leaves: shown only if it is this log's root. One of the same size with another root is two
  // log-key-signed histories of one size, the split view witnesses exist to catch.
  let newestCheckpoint: ReturnType<typeof openCheckpoint> | undefined;
  if (newest !== undefined) {
    try {
      newestCheckpoint = openCheckpoint(newest, logKey);
    } catch {
      newestCheckpoint = undefined;
    }
  }
  const newestRoot =
    newestCheckpoint === undefined
      ? undefined
      : Buffer.from(newestCheckpoint.root).toString('base64');
  const newestMatches = newestCheckpoint?.size === report.size && newestRoot === report.root;
  const checks: Check[] = [...report.checks];
  if (newestCheckpoint !== undefined && newestCheckpoint.size === report.size) {
    checks.push(
      newestMatches
        ? {
            name: 'newest checkpoint is this log',
            ok: true,
            detail: `the coordinator's newest checkpoint has this root at size ${report.size}: its cosigners witnessed this history`,
          }
        : {
            name: 'newest checkpoint is this log',
            ok: false,
            code: 'LOG_FORK_DETECTED',
            detail: `the coordinator's newest checkpoint, signed by the log key, has root ${newestRoot ?? '?'} at size ${report.size}, not this log's ${report.root}: two histories of one size (a split view); its cosigners witnessed the other`,
          },
    );
  }
  const witnesses = newestMatches ? await witnessesOf(newest, logKey.name, home, ctx) : [];
  let fromSize: number | undefined;
  if (from !== undefined) fromSize = Number(from.note.split('\n')[1]);
  const failed = checks.find((c) => !c.ok);
  // Hotfixes the log says were not ratified in time (governance leaves; each leaf is as authentic
  // as the checkpoint over it; `conclave audit ID` checks the coordinator-signed details).
  const overdueHotfixes = report.governance
    .filter((g) => g.outcome === 'hotfix.overdue')
    .map((g) => ({
      ceremonyId: g.ceremonyId,
      group: g.group,
      index: g.index,
      loggedAt: new Date(g.at).toISOString(),
    }));
  const doc = {
    ok: failed === undefined,
    coordinator: base,
    origin: logKey.name,
    logKey: keyText,
    logKeySource: o.logKey !== undefined ? 'flag' : 'home',
    size: report.size,
    root: report.root,
    checkpoints: fetched.checkpoints.length,
    from: from === undefined ? null : { size: fromSize ?? null, source: from.source },
    witnesses,
    checks,
    badLeaves: report.badLeaves,
    badCeremonies: report.badCeremonies,
    // Completed signing ceremonies whose bundle did not verify: nothing they say was used.
    unverifiedCeremonies: transcripts === undefined ? null : report.unverifiedCeremonies,
    overdueHotfixes,
    // Every completed hotfix with the deadline re-derived from its transcript and whether it was
    // flagged in time; null without --auditor-token (the leaves alone do not say which is a hotfix).
    hotfixDeadlines:
      transcripts === undefined
        ? null
        : report.hotfixes.map((h) => ({
            ...h,
            ratifyByIso: new Date(h.ratifyBy).toISOString(),
          })),
    ms: { fetch: fetchMs, verify: verifyMs },
    ...(failed === undefined
      ? {}
      : {
          error: {
            code: 'LOG_VERIFY_FAILED',
            check: failed.name,
            checkCode: failed.code ?? null,
            message: `check "${failed.name}" failed: ${failed.detail}`,
          },
        }),
  };
  if (ctx.json) process.stdout.write(`${jsonForTerminal(doc, 2)}\n`);
  else {
    writeOut(
      [
        `Log ${logKey.name} at ${base}: ${failed === undefined ? 'VERIFIED' : `FAILED at "${failed.name}" (${failed.code ?? '?'})`}`,
        `  size        ${report.size} leaves, ${fetched.checkpoints.length} signed checkpoints`,
        `  root        ${report.root}`,
        `  from        ${from === undefined ? 'nothing trusted before (pass --from CHECKPOINT)' : `size ${fromSize ?? '?'}, ${from.source}`}`,
        `  witnesses   ${witnesses.length === 0 ? 'none on the newest checkpoint' : witnesses.map((w) => `${w.name}${w.verified ? ' ✓' : ' (key unknown here)'}`).join(', ')}`,
        `  overdue     ${overdueHotfixes.length === 0 ? 'no hotfix flagged unratified' : `${overdueHotfixes.length} hotfix${overdueHotfixes.length === 1 ? '' : 'es'} flagged unratified (details: conclave audit ID)`}`,
        ...overdueHotfixes.map(
          (h) => `    ${h.ceremonyId} (${h.group ?? '?'}) leaf ${h.index}, logged ${h.loggedAt}`,
        ),
        `  deadlines   ${
          transcripts === undefined
            ? 'not checked (pass --auditor-token FILE to re-derive every hotfix deadline from the verified bundles)'
            : `${report.hotfixes.length} completed hotfix${report.hotfixes.length === 1 ? '' : 'es'}, from the bundles that verify${
                report.unverifiedCeremonies.length === 0
                  ? ''
                  : ` (${report.unverifiedCeremonies.length} do not: ${report.unverifiedCeremonies.join(', ')})`
              }`
        }`,
        ...report.hotfixes.map(
          (h) =>
            `    ${h.ceremonyId} (${h.group}, policy v${h.policyVersion}) due ${new Date(h.ratifyBy).toISOString()}: ${HOTFIX_STATUS_TEXT[h.status]}${
              h.evidence !== undefined && (h.status === 'missing' || h.status === 'late')
                ? ` — leaf ${h.evidence.index} logged ${new Date(h.evidence.at).toISOString()}${h.flag === undefined ? '' : `, flag at leaf ${h.flag.index}`}`
                : ''
            }`,
        ),
        '',
        ...checks.map((c) => `  ${mark(c)} ${c.name} — ${c.detail}`),
      ].join('\n') + '\n',
    );
  }
  if (failed !== undefined) {
    if (!ctx.json) {
      printError(
        new CliError(
          'LOG_VERIFY_FAILED',
          `check "${failed.name}" failed (${failed.code ?? '?'}): ${failed.detail}`,
        ),
        false,
      );
    }
    process.exitCode = AUDIT_FAILED_EXIT;
  }
}

// ---------------------------------------------------------------- conclave log witness

export async function cmdLogWitness(
  o: GlobalOptions & { clearAlarm?: boolean },
  ctx: Ctx,
): Promise<void> {
  const home = await Home.open(homeDirOf(o));
  const base = coordinatorUrl(o, home);
  let cleared: unknown = null;
  if (o.clearAlarm === true) {
    const alarm = await clearAlarm(home);
    cleared = alarm ?? null;
    ctx.progress(
      alarm === undefined
        ? 'no alarm to clear'
        : `cleared the ${alarm.code} alarm of ${alarm.detectedAt}; the evidence stays in ${home.dir}/log/evidence; the log's current state is trusted from now on`,
    );
  } else {
    const alarm = await readAlarm(home);
    if (alarm !== undefined) ctx.progress(`this home is under a ${alarm.code} alarm`);
  }
  const key = await home.loadIdentity(await getPassphrase(`Passphrase for ${home.name}: `));
  let result;
  try {
    result = await witnessOnce({
      home,
      url: base,
      member: home.name,
      key,
      engine: witnessEngine,
      log: (l) => ctx.progress(l),
    });
  } finally {
    key.secretKey.fill(0);
  }
  const alarm = await readAlarm(home);
  if (result.status === 'unavailable') {
    throw new CliError(result.code, `could not witness the log: ${result.reason}`);
  }
  if (result.status === 'alarm') {
    const doc = { ok: false, status: 'alarm', alarm: result.alarm, cleared };
    if (ctx.json)
      process.stdout.write(
        `${jsonForTerminal({ ...doc, error: { code: result.alarm.code, message: result.alarm.message } })}\n`,
      );
    else printError(new CliError(result.alarm.code, result.alarm.message), false);
    process.exitCode = 1;
    return;
  }
  ctx.result(
    {
      status: 'cosigned',
      size: result.size,
      root: result.root,
      previousSize: result.previousSize ?? null,
      submitted: result.submitted,
      alarm: alarm ?? null,
      cleared,
    },
    `Log witnessed at size ${result.size} (root ${result.root})` +
      (result.previousSize === undefined
        ? ', trusted on first use'
        : `, consistent with size ${result.previousSize} seen before`) +
      (result.submitted ? '; cosignature taken by the coordinator' : `; ${result.warning ?? ''}`) +
      (alarm === undefined ? '' : `\nStill under the ${alarm.code} alarm: approvals are refused`),
  );
}

// ---------------------------------------------------------------- registration

function common(cmd: Command): Command {
  return cmd
    .option('--json', 'print exactly one JSON document on stdout (progress goes to stderr)')
    .option('--home <dir>', 'member home directory (default: $CONCLAVE_HOME or ~/.conclave)')
    .option(
      '--coordinator <url>',
      'coordinator URL, e.g. http://127.0.0.1:7420 (default: the pinned one)',
    );
}

/** Commander calls actions with (positional..., opts, command); parent options count too. */
function run<O extends GlobalOptions>(
  fn: (opts: O, ctx: Ctx, ...positional: string[]) => Promise<void>,
) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals<O>();
    await fn(opts, makeCtx(opts), ...args.slice(0, -2).map(String));
  };
}

const TRUST_HELP = `
Keys (nothing the coordinator sends is believed on its own):
  coordinator, admin and log keys   --coordinator-key, --admin-public-key, --log-key, else the
                                    member home's pins (conclave init), else refused
  group key                         --group-key, else this member's share of the group, opened
                                    with the passphrase (asked on the terminal; for automation
                                    set CONCLAVE_PASSPHRASE), else refused
  --trust-bundle-keys               check the bundle against the keys it carries (internal
                                    consistency only; the report says which keys were not pinned)
  public key package                this member's share of the group (its key epoch), else the
                                    bundle's: culprits are then proven only under the coordinator's copy
  witnesses                         --witness NAME=HEX (repeatable), else none: the checkpoint then
                                    proves only that the coordinator's log key signed it
Exit: 0 every check passed, 1 a check failed (named), 2 bad usage or unreadable input.
`;

const INSECURE_HTTP_HELP =
  'send the auditor token over plain http to a coordinator on another host (only where you trust every network in between; loopback needs no flag)';

/** `conclave audit …` and `conclave log …` (main.ts registers them). */
export function registerAudit(program: Command): void {
  const audit = common(
    program
      .command('audit')
      .argument('<target>', 'a ceremony id (fetched from the coordinator) or a bundle file')
      .description(
        're-verify a ceremony offline: every envelope, package, share, aggregate, approver, the policy and the log inclusion',
      )
      .option('--auditor-token <file>', 'fetch as the auditor (the token file of the coordinator)')
      .option('--insecure-http', INSECURE_HTTP_HELP)
      .option('--group-key <hex>', 'the group public key you expect')
      .option('--coordinator-key <hex>', 'the coordinator identity key you expect')
      .option('--admin-public-key <hex>', 'the admin public key you expect')
      .option('--log-key <key>', 'the log verifier key you expect (origin+keyid+base64)')
      .option('--trust-bundle-keys', 'take unpinned keys from the bundle (says so in the report)')
      .option(
        '--witness <name=hex>',
        "a witness whose cosignature the checkpoint must carry: a member name (or witness key name) and its public key (repeatable); without one the checkpoint proves only the coordinator's log key signed it",
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .option(
        '--artifact <file>',
        'the artifact file, for raw/OpenPGP signatures (repeatable; default: the home copy)',
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .addHelpText('after', TRUST_HELP),
  ).action(run<AuditOptions>((o, ctx, target) => cmdAudit(target ?? '', o, ctx)));

  common(
    audit
      .command('export <id>')
      .description("save a ceremony's bundle (transcript, registry, key epochs, log proof) to FILE")
      .requiredOption('--out <file>', 'where to write the bundle (JSON)')
      .option('--auditor-token <file>', 'fetch as the auditor (else as a member of the group)')
      .option('--insecure-http', INSECURE_HTTP_HELP),
  ).action(run<BundleOptions & { out: string }>((o, ctx, id) => cmdAuditExport(id ?? '', o, ctx)));

  const log = program.command('log').description("the coordinator's transparency log");
  common(
    log
      .command('verify')
      .description(
        'fetch every leaf and checkpoint and check the whole log: signed roots, no fork, no rewrite since --from',
      )
      .option(
        '--from <file>',
        'a checkpoint you trust (note text, or a home log/checkpoint-*.json); default: the one this home witnessed',
      )
      .option('--log-key <key>', 'the log verifier key (default: the one pinned in the home)')
      .option(
        '--auditor-token <file>',
        "also fetch every completed signing ceremony's bundle: verify each, verify the governance records, and check each hotfix was flagged by its deadline (facts only from the bundles that verify)",
      )
      .option('--insecure-http', INSECURE_HTTP_HELP)
      .option(
        '--coordinator-key <hex>',
        'the coordinator identity key, for the governance records (default: the home pin)',
      )
      .option(
        '--admin-public-key <hex>',
        "the admin public key, to verify each ceremony's bundle with --auditor-token (default: the home pin)",
      )
      .addHelpText(
        'after',
        "\nWitnesses: another member's cosignature is checked under the key your shares name, opened with\nyour passphrase (asked on the terminal; for automation set CONCLAVE_PASSPHRASE); without one it\nshows unverified.\n",
      ),
  ).action(run<LogVerifyOptions>((o, ctx) => cmdLogVerify(o, ctx)));
  common(
    log
      .command('witness')
      .description(
        'witness the log now: check it extends what this member saw, cosign it, keep it (agents do this on their own)',
      )
      .option(
        '--clear-alarm',
        'after investigating a LOG_* alarm: lift it and trust the log as it is now (the evidence stays)',
      ),
  ).action(run<GlobalOptions & { clearAlarm?: boolean }>((o, ctx) => cmdLogWitness(o, ctx)));
}
