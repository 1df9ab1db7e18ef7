import { randomUUID } from 'node:crypto';
// A member's home directory (`--home`, default `$CONCLAVE_HOME` or `~/.conclave`):
//   config.json           name, coordinator URL and the pinned coordinator/admin keys (zod-checked)
//   identity.key          the member's Ed25519 identity key, in the encrypted keystore format
//   shares/<group>.key    one FROST key package per group, encrypted (written only after dkg.complete)
//   nonce-ledger.jsonl    the nonce ledger (THREATS A.1–A.5)
//   ceremonies/<id>.json  public records of ceremonies this member took part in (request, outcome)
//   admin/members.json    for an admin working from this home: the identity keys it registered
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import {
  GroupNameSchema,
  MemberIdSchema,
  bytesToHex,
  deepFreeze,
  generateIdentityKey,
  hexToBytes,
  identityFromSecret,
  type IdentityKey,
} from '@conclave/protocol';
import { z } from 'zod';
import { ClientError, errnoCode } from './errors.js';
import { fsyncDir } from './fs-durable.js';
import {
  KEYSTORE_KDF_DEFAULTS,
  KEYSTORE_KDF_FLOOR,
  readKeystore,
  readKeystoreMetadata,
  writeKeystore,
  type ScryptParams,
} from './keystore.js';
import { NONCE_LEDGER_FILENAME, openNonceLedger, type NonceLedger } from './nonce-ledger.js';

export const CONFIG_FILENAME = 'config.json';
export const IDENTITY_FILENAME = 'identity.key';
export const PASSPHRASE_ENV = 'CONCLAVE_PASSPHRASE';
export const HOME_ENV = 'CONCLAVE_HOME';

/** `init --kdf-cost`: log2 of scrypt's N, from the keystore floor (64 MiB) to 1 GiB. */
export const KDF_COST_MIN = Math.log2(KEYSTORE_KDF_FLOOR.N);
export const KDF_COST_MAX = 20;
export const KDF_COST_DEFAULT = Math.log2(KEYSTORE_KDF_DEFAULTS.N);

/** The scrypt parameters of a home's `kdfCost`. */
export function kdfParamsOfCost(cost: number): ScryptParams {
  return { N: 2 ** cost, r: KEYSTORE_KDF_DEFAULTS.r, p: KEYSTORE_KDF_DEFAULTS.p };
}

const HexKeySchema = z.string().regex(/^[0-9a-f]{64}$/, 'expected 32 bytes of lowercase hex');

export const PinnedCoordinatorSchema = z.strictObject({
  url: z.url(),
  origin: z.string().min(1),
  coordinatorKey: HexKeySchema,
  adminKey: HexKeySchema,
  /** The transparency log's verifier key (`origin+keyid+base64`), pinned like the others. */
  logKey: z.string().min(1).max(512).optional(),
  pinnedAt: z.string(),
});
export type PinnedCoordinator = z.infer<typeof PinnedCoordinatorSchema>;

export const HomeConfigSchema = z.strictObject({
  version: z.literal(1),
  name: MemberIdSchema,
  identityKey: HexKeySchema,
  coordinator: PinnedCoordinatorSchema.optional(),
  /**
   * scrypt cost (log2 N, r 8, p 1) for every keystore this home writes, chosen at `init`; absent
   * means the keystore default. Unauthenticated, so bounded: never below the keystore's floor.
   */
  kdfCost: z.int().min(KDF_COST_MIN).max(KDF_COST_MAX).optional(),
});
export type HomeConfig = z.infer<typeof HomeConfigSchema>;

export const ParticipantSchema = z.strictObject({
  member: MemberIdSchema,
  identifier: z.string(),
  identityKey: HexKeySchema,
});

/** Public metadata stored (authenticated, not encrypted) in a share keystore's header. */
export const ShareMetadataSchema = z.strictObject({
  kind: z.literal('frost-key-package'),
  group: GroupNameSchema,
  member: MemberIdSchema,
  suite: z.literal('FROST-ED25519-SHA512-v1'),
  threshold: z.int().min(2),
  groupPublicKey: HexKeySchema,
  publicKeyPackage: z.string().regex(/^[0-9a-f]+$/),
  participants: z.array(ParticipantSchema).min(2),
  ceremonyId: z.string(),
  createdAt: z.string(),
  /** Key epoch of this share (docs/lifecycle.md); absent means 0, the DKG's. */
  epoch: z.int().min(0).optional(),
});
export type ShareMetadata = z.infer<typeof ShareMetadataSchema>;

/**
 * The metadata of a share a key ceremony just made: its group key and public key package, and the
 * roster as this member checked it (the DKG's admin-authorized one, or a lifecycle's).
 */
export function keyCeremonyMetadata(o: {
  readonly group: string;
  readonly member: string;
  readonly threshold: number;
  readonly pub: PublicKeyPackage;
  readonly participants: readonly { member: string; identifier: string; identityKey: string }[];
  readonly ceremonyId: string;
  /** Absent for a DKG's share (epoch 0). */
  readonly epoch?: number;
}): ShareMetadata {
  return {
    kind: 'frost-key-package',
    group: o.group,
    member: o.member,
    suite: 'FROST-ED25519-SHA512-v1',
    threshold: o.threshold,
    groupPublicKey: bytesToHex(o.pub.verifyingKey),
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', o.pub)),
    participants: o.participants.map((p) => ({
      member: p.member,
      identifier: p.identifier,
      identityKey: p.identityKey,
    })),
    ceremonyId: o.ceremonyId,
    createdAt: new Date().toISOString(),
    ...(o.epoch === undefined ? {} : { epoch: o.epoch }),
  };
}

export interface LoadedShare {
  readonly metadata: ShareMetadata;
  readonly keyPackage: KeyPackage;
  readonly publicKeyPackage: PublicKeyPackage;
}

/** The default home: `$CONCLAVE_HOME`, else `~/.conclave`. */
export function defaultHomeDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[HOME_ENV];
  return resolve(fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.conclave'));
}

/** Parses config.json text; CONFIG_INVALID with the zod issues (no values echoed) otherwise. */
export function parseHomeConfig(text: string, where = CONFIG_FILENAME): HomeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ClientError('CONFIG_INVALID', `${where} is not valid JSON`);
  }
  const parsed = HomeConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ClientError('CONFIG_INVALID', `${where} is invalid (${issues})`);
  }
  return parsed.data;
}

/**
 * Replaces `path` with `value` as JSON, durably: the data is fsynced (flush) before the rename and
 * the directory after it, so once this resolves the new file survives a crash ("the approval goes
 * out after the record is durable"). A failed write removes its temp file.
 */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o600): Promise<void> {
  // A random suffix: two writes of one file in the same millisecond must not share a temp file.
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode, flush: true });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(path));
}

export interface HomeOptions {
  /** scrypt parameters for new keystores (default: the keystore's production default). */
  readonly kdfParams?: ScryptParams;
  /**
   * Accept scrypt parameters below the keystore's floor, for writing and reading: benchmark and
   * test homes only (many members set up in seconds). Never set by the CLI.
   */
  readonly allowWeakKdf?: boolean;
}

/** The keystore options a home's reads and writes pass on. */
function keystoreOptions(o: HomeOptions): { kdfParams?: ScryptParams; allowWeakKdf?: boolean } {
  return {
    ...(o.kdfParams === undefined ? {} : { kdfParams: o.kdfParams }),
    ...(o.allowWeakKdf === true ? { allowWeakKdf: true } : {}),
  };
}

/**
 * A member home must be this user's alone to change: whoever can write it can replace config.json
 * (re-pinning another coordinator, admin or log key), the nonce ledger, or the shares' directory.
 * HOME_LOOSE_PERMISSIONS for a directory another user owns or that group or others may write (the
 * keystores check their own modes; this is the directory around them).
 */
async function checkHomeDirectory(abs: string): Promise<void> {
  let s;
  try {
    s = await stat(abs);
  } catch (err) {
    throw new ClientError('CONFIG_INVALID', `could not read ${abs} (${errnoCode(err) ?? '?'})`);
  }
  if (!s.isDirectory()) {
    throw new ClientError('CONFIG_INVALID', `${abs} is not a directory; pass another --home`);
  }
  await checkNotWritableByOthers(abs, `the member home ${abs}`, s);
}

/** HOME_LOOSE_PERMISSIONS if `path` is another user's or group/other-writable. */
async function checkNotWritableByOthers(
  path: string,
  what: string,
  known?: { mode: number; uid: number },
): Promise<void> {
  const s = known ?? (await stat(path));
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && s.uid !== uid) {
    throw new ClientError(
      'HOME_LOOSE_PERMISSIONS',
      `${what} belongs to another user (uid ${s.uid}): use a home of your own (--home DIR)`,
    );
  }
  if ((s.mode & 0o022) !== 0) {
    throw new ClientError(
      'HOME_LOOSE_PERMISSIONS',
      `${what} may be written by group or others (mode ${(s.mode & 0o777).toString(8)}): run chmod go-w ${path} (chmod 700 for the home directory)`,
    );
  }
}

/** A member's home directory. Construct with `Home.open` (existing) or `Home.init` (new). */
export class Home {
  readonly dir: string;
  #config: HomeConfig;
  readonly #options: HomeOptions;

  private constructor(dir: string, config: HomeConfig, options: HomeOptions) {
    this.dir = dir;
    this.#config = config;
    // The caller's parameters win (tests, benchmarks); else the cost chosen at `init`.
    this.#options =
      options.kdfParams === undefined && config.kdfCost !== undefined
        ? { ...options, kdfParams: kdfParamsOfCost(config.kdfCost) }
        : options;
  }

  get config(): HomeConfig {
    return this.#config;
  }

  get name(): string {
    return this.#config.name;
  }

  get identityPublicKey(): Uint8Array {
    return hexToBytes(this.#config.identityKey);
  }

  get identityPath(): string {
    return join(this.dir, IDENTITY_FILENAME);
  }

  get ledgerPath(): string {
    return join(this.dir, NONCE_LEDGER_FILENAME);
  }

  sharePath(group: string): string {
    GroupNameSchema.parse(group);
    return join(this.dir, 'shares', `${group}.key`);
  }

  /**
   * Creates a new home with a fresh identity key encrypted under `passphrase`. `kdfCost` (log2 of
   * scrypt's N, KDF_COST_MIN..KDF_COST_MAX) is recorded in config.json and used for every keystore
   * the home writes from then on; absent, the keystore default.
   */
  static async init(
    dir: string,
    name: string,
    passphrase: string,
    options: HomeOptions = {},
    kdfCost?: number,
  ): Promise<Home> {
    if (kdfCost !== undefined && options.kdfParams !== undefined) {
      throw new ClientError('INVALID_ARGUMENT', 'give either kdfParams or a kdf cost, not both');
    }
    if (
      kdfCost !== undefined &&
      !(Number.isInteger(kdfCost) && kdfCost >= KDF_COST_MIN && kdfCost <= KDF_COST_MAX)
    ) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `kdf cost: expected an integer from ${KDF_COST_MIN} to ${KDF_COST_MAX} (log2 of scrypt's N)`,
      );
    }
    const parsedName = MemberIdSchema.safeParse(name);
    if (!parsedName.success) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        'member name: expected 1-32 characters of [a-z0-9_-] (not "admin" or "coordinator")',
      );
    }
    const abs = resolve(dir);
    await mkdir(abs, { recursive: true, mode: 0o700 });
    // mkdir keeps the mode of a directory that was there already (a shared /tmp/x, 0777).
    await checkHomeDirectory(abs);
    const existing = await readFile(join(abs, CONFIG_FILENAME), 'utf8').catch(() => undefined);
    if (existing !== undefined) {
      throw new ClientError(
        'HOME_EXISTS',
        `${abs} already holds a member home; use another --home or remove it`,
      );
    }
    const key = generateIdentityKey();
    const publicKey = bytesToHex(key.publicKey);
    const config: HomeConfig = {
      version: 1,
      name: parsedName.data,
      identityKey: publicKey,
      ...(kdfCost === undefined ? {} : { kdfCost }),
    };
    const home = new Home(abs, config, options);
    try {
      await writeKeystore(
        join(abs, IDENTITY_FILENAME),
        {
          secret: key.secretKey,
          metadata: { kind: 'identity', member: parsedName.data, publicKey },
        },
        passphrase,
        keystoreOptions(home.#options),
      );
    } finally {
      key.secretKey.fill(0);
    }
    await writeJsonAtomic(join(abs, CONFIG_FILENAME), config);
    return home;
  }

  static async open(dir: string, options: HomeOptions = {}): Promise<Home> {
    const abs = resolve(dir);
    const path = join(abs, CONFIG_FILENAME);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new ClientError(
          'HOME_NOT_INITIALIZED',
          `no member home at ${abs}; run \`conclave init --name NAME\` (or pass --home)`,
        );
      }
      throw new ClientError('CONFIG_INVALID', `could not read ${path} (${errnoCode(err) ?? '?'})`);
    }
    await checkHomeDirectory(abs);
    await checkNotWritableByOthers(path, `${path} (the pinned coordinator, admin and log keys)`);
    return new Home(abs, parseHomeConfig(text, path), options);
  }

  async saveConfig(config: HomeConfig): Promise<void> {
    const checked = HomeConfigSchema.parse(config);
    await writeJsonAtomic(join(this.dir, CONFIG_FILENAME), checked);
    this.#config = checked;
  }

  /**
   * The pinned coordinator answers at another URL with the same keys: only its URL and origin
   * change; the pinned keys (log key included) and the time they were pinned stay.
   */
  async movePinnedCoordinator(url: string, origin: string): Promise<void> {
    const pinned = this.#config.coordinator;
    if (pinned === undefined) throw new ClientError('NO_COORDINATOR', 'no coordinator is pinned');
    await this.saveConfig({ ...this.#config, coordinator: { ...pinned, url, origin } });
  }

  async pinCoordinator(pin: Omit<PinnedCoordinator, 'pinnedAt'>): Promise<void> {
    await this.saveConfig({
      ...this.#config,
      coordinator: { ...pin, pinnedAt: new Date().toISOString() },
    });
  }

  /** Decrypts the identity key. The caller should zero `secretKey` when done. */
  async loadIdentity(passphrase: string): Promise<IdentityKey> {
    const { secret } = await readKeystore(
      this.identityPath,
      passphrase,
      keystoreOptions(this.#options),
    );
    try {
      const key = identityFromSecret(secret);
      if (bytesToHex(key.publicKey) !== this.#config.identityKey) {
        throw new ClientError(
          'CONFIG_INVALID',
          `${this.identityPath} does not hold the identity key named in config.json`,
        );
      }
      return key;
    } finally {
      secret.fill(0);
    }
  }

  /** The scrypt parameters this home writes keystores with. */
  get kdfParams(): ScryptParams {
    return { ...(this.#options.kdfParams ?? KEYSTORE_KDF_DEFAULTS) };
  }

  /** How this home writes keystores (its KDF parameters; tests use weaker ones). */
  get keystoreWriteOptions(): { kdfParams?: ScryptParams; allowWeakKdf?: boolean } {
    return keystoreOptions(this.#options);
  }

  /** Writes a key share (never overwrites one). */
  async saveShare(
    keyPackage: KeyPackage,
    metadata: ShareMetadata,
    passphrase: string,
  ): Promise<string> {
    const checked = ShareMetadataSchema.parse(metadata);
    await mkdir(join(this.dir, 'shares'), { recursive: true, mode: 0o700 });
    const path = this.sharePath(checked.group);
    const secret = frost.encode.bytes('KeyPackage', keyPackage);
    try {
      await writeKeystore(
        path,
        { secret, metadata: checked },
        passphrase,
        keystoreOptions(this.#options),
      );
    } finally {
      secret.fill(0);
    }
    return path;
  }

  /**
   * Parsed share metadata by path, with the file's identity when it was read: an agent looks at it
   * several times per ceremony, and re-reading and re-parsing the keystore each time was about a
   * tenth of its work. Any write (the keystore is replaced by rename), chmod or replacement
   * changes ino, size, mtime or ctime, and the next look reads the file again with every check.
   */
  readonly #metadataCache = new Map<string, { stamp: string; metadata: ShareMetadata }>();

  async shareMetadata(group: string): Promise<ShareMetadata> {
    const path = this.sharePath(group);
    const stamp = await fileStamp(path);
    const hit = this.#metadataCache.get(path);
    if (stamp !== undefined && hit !== undefined && hit.stamp === stamp) return hit.metadata;
    const metadata = deepFreeze(await this.#readShareMetadata(group, path));
    if (stamp !== undefined) this.#metadataCache.set(path, { stamp, metadata });
    return metadata;
  }

  async #readShareMetadata(group: string, path: string): Promise<ShareMetadata> {
    let raw: unknown;
    try {
      raw = await readKeystoreMetadata(path, keystoreOptions(this.#options));
    } catch (err) {
      if (err instanceof ClientError && err.code === 'KEYSTORE_NOT_FOUND') {
        throw new ClientError(
          'SHARE_NOT_FOUND',
          `${this.name} holds no share of group ${group}; run \`conclave keygen ${group}\` while its key ceremony is open`,
        );
      }
      throw err;
    }
    const parsed = ShareMetadataSchema.safeParse(raw);
    if (!parsed.success)
      throw new ClientError('KEYSTORE_MALFORMED', `share of ${group}: metadata is invalid`);
    return parsed.data;
  }

  async loadShare(group: string, passphrase: string): Promise<LoadedShare> {
    await this.shareMetadata(group); // SHARE_NOT_FOUND with advice
    const { secret, metadata } = await readKeystore(
      this.sharePath(group),
      passphrase,
      keystoreOptions(this.#options),
    );
    const parsed = ShareMetadataSchema.safeParse(metadata);
    if (!parsed.success)
      throw new ClientError('KEYSTORE_MALFORMED', `share of ${group}: metadata is invalid`);
    try {
      const keyPackage = frost.decode.bytes('KeyPackage', secret);
      const publicKeyPackage = frost.decode.bytes(
        'PublicKeyPackage',
        hexToBytes(parsed.data.publicKeyPackage),
      );
      if (bytesToHex(publicKeyPackage.verifyingKey) !== parsed.data.groupPublicKey) {
        throw new ClientError('KEYSTORE_MALFORMED', `share of ${group}: group key mismatch`);
      }
      // A signer names this package's hash in every share it signs (protocol 3): it must be the
      // package of this very share, with its threshold.
      const own = publicKeyPackage.verifyingShares[keyPackage.identifier];
      if (
        own === undefined ||
        bytesToHex(own) !== bytesToHex(keyPackage.verifyingShare) ||
        publicKeyPackage.minSigners !== keyPackage.minSigners ||
        keyPackage.minSigners !== parsed.data.threshold
      ) {
        throw new ClientError(
          'KEYSTORE_MALFORMED',
          `share of ${group}: its public key package does not hold this share's verifying share and threshold`,
        );
      }
      return { metadata: parsed.data, keyPackage, publicKeyPackage };
    } finally {
      secret.fill(0);
    }
  }

  async listShares(): Promise<string[]> {
    const names = await readdir(join(this.dir, 'shares')).catch(() => [] as string[]);
    return names
      .filter((n) => n.endsWith('.key') && !n.startsWith('.'))
      .map((n) => n.slice(0, -4))
      .sort();
  }

  async openLedger(): Promise<NonceLedger> {
    return openNonceLedger(this.ledgerPath);
  }

  /**
   * Hands an approval to this home's running agent (which holds the nonce ledger): the agent
   * approves `ceremonyId` only if its own review of the request has the same `requestDigest`.
   */
  async writeApprovalIntent(ceremonyId: string, requestDigest: string): Promise<void> {
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(ceremonyId) || !/^[0-9a-f]{64}$/.test(requestDigest)) {
      throw new ClientError('INVALID_ARGUMENT', 'approval intent: bad ceremony id or digest');
    }
    await mkdir(join(this.dir, 'approvals'), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(join(this.dir, 'approvals', `${ceremonyId}.json`), {
      ceremonyId,
      requestDigest,
    });
  }

  /** Reads and removes pending approval intents (for the agent). */
  async takeApprovalIntents(): Promise<{ ceremonyId: string; requestDigest: string }[]> {
    const dir = join(this.dir, 'approvals');
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: { ceremonyId: string; requestDigest: string }[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const path = join(dir, name);
      const text = await readFile(path, 'utf8').catch(() => undefined);
      await unlink(path).catch(() => undefined);
      if (text === undefined) continue;
      try {
        const v = JSON.parse(text) as { ceremonyId?: unknown; requestDigest?: unknown };
        if (typeof v.ceremonyId === 'string' && typeof v.requestDigest === 'string') {
          out.push({ ceremonyId: v.ceremonyId, requestDigest: v.requestDigest });
        }
      } catch {
        // a torn or foreign file: ignore it
      }
    }
    return out;
  }

  /** Public, local records of ceremonies (request envelope, outcome) — for `fetch`. */
  async saveRecord(ceremonyId: string, record: Record<string, unknown>): Promise<void> {
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(ceremonyId))
      throw new ClientError('INVALID_ARGUMENT', 'ceremony id: unexpected characters');
    await mkdir(join(this.dir, 'ceremonies'), { recursive: true, mode: 0o700 });
    const path = join(this.dir, 'ceremonies', `${ceremonyId}.json`);
    const previous = await this.loadRecord(ceremonyId);
    await writeJsonAtomic(path, { ...previous, ...record });
  }

  /** Ceremony ids with a local record, oldest file first (by modification time). */
  async listRecords(): Promise<string[]> {
    const dir = join(this.dir, 'ceremonies');
    const names = await readdir(dir).catch(() => [] as string[]);
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    const times = await Promise.all(
      ids.map((id) =>
        stat(join(dir, `${id}.json`))
          .then((s) => s.mtimeMs)
          .catch(() => 0),
      ),
    );
    return ids
      .map((id, i) => ({ id, t: times[i] ?? 0 }))
      .sort((x, y) => x.t - y.t)
      .map((x) => x.id);
  }

  async loadRecord(ceremonyId: string): Promise<Record<string, unknown> | undefined> {
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(ceremonyId)) return undefined;
    const text = await readFile(join(this.dir, 'ceremonies', `${ceremonyId}.json`), 'utf8').catch(
      () => undefined,
    );
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

/**
 * A directory used only for admin bookkeeping (no member identity): `member add` records keys in
 * `<dir>/admin/members.json` so `group create` can pin them.
 */
export async function adminRegistryAt(dir: string): Promise<Record<string, string>> {
  const text = await readFile(join(dir, 'admin', 'members.json'), 'utf8').catch(() => '{}');
  try {
    const parsed = z.record(z.string(), HexKeySchema).safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export async function recordAdminMemberAt(
  dir: string,
  member: string,
  identityKey: string,
): Promise<void> {
  await mkdir(join(dir, 'admin'), { recursive: true, mode: 0o700 });
  const current = await adminRegistryAt(dir);
  await writeJsonAtomic(join(dir, 'admin', 'members.json'), { ...current, [member]: identityKey });
}

/** A file's identity and version (device, inode, size, mtime, ctime in ns); undefined if absent. */
async function fileStamp(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}`;
  } catch {
    return undefined;
  }
}
