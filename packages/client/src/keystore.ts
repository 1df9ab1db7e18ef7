// Encrypted keystore for a member's secrets (FROST key share, identity key) — DESIGN.md "Storage",
// THREATS B.32–B.34. The secret is opaque bytes; the public header (KDF, nonce, caller metadata such
// as the group id and the public key package fingerprint) is the AEAD associated data, so editing
// any of it makes the file fail to open.
//
// File: one line of canonical JSON (sorted keys, no whitespace) and a newline:
//   {"cipher":"xchacha20poly1305","ciphertext":"<hex>","format":"conclave-keystore",
//    "kdf":{"N":131072,"name":"scrypt","p":1,"r":8,"salt":"<64 hex>"},"metadata":{...},
//    "nonce":"<48 hex>","version":1}
// key = scrypt(NFC(passphrase) as UTF-8, salt, N, r, p, dkLen 32)
// AAD = canonical JSON of the document without "ciphertext"
// Only the canonical encoding is accepted, so every byte of the file is covered: a changed byte
// either breaks the format (KEYSTORE_MALFORMED) or the tag (KEYSTORE_DECRYPT_FAILED).

import { canonicalJson } from '@conclave/protocol';
import { constants as fsConstants } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { ClientError, errnoCode } from './errors.js';
import { fsyncDir } from './fs-durable.js';

export const KEYSTORE_FORMAT = 'conclave-keystore';
export const KEYSTORE_VERSION = 1;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Production default (OWASP's scrypt minimum): 128 MiB, about a second in JS. */
export const KEYSTORE_KDF_DEFAULTS: Readonly<ScryptParams> = Object.freeze({
  N: 2 ** 17,
  r: 8,
  p: 1,
});
/** Below this a file is refused unless `allowWeakKdf` is set (tests only). */
export const KEYSTORE_KDF_FLOOR: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 16, r: 8, p: 1 });
/** Above this a file is refused as malformed: a hostile header must not make us allocate GiBs. */
const KDF_MAX_MEMORY = 1024 ** 3; // 128 * N * r * p bytes
const MAX_FILE_BYTES = 1024 * 1024;
const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const KEY_BYTES = 32;
const TAG_BYTES = 16;

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type KeystoreMetadata = { [key: string]: JsonValue };

export interface KeystoreContents {
  /** The opaque secret (e.g. a serialized key package). The caller owns it and should zero it after use. */
  secret: Uint8Array;
  /** Public, caller-defined header data; authenticated (AEAD associated data). */
  metadata: Record<string, unknown>;
}

export interface KeystoreOpened {
  secret: Uint8Array;
  metadata: KeystoreMetadata;
}

export interface KeystoreKdfOptions {
  /** Refuse KDF parameters below KEYSTORE_KDF_FLOOR unless this is true. Tests only. */
  allowWeakKdf?: boolean;
  /** Called with a fraction in 0..1 while the passphrase is stretched. */
  onProgress?: (fraction: number) => void;
}

export interface WriteKeystoreOptions extends KeystoreKdfOptions {
  /** scrypt parameters; default KEYSTORE_KDF_DEFAULTS. */
  kdfParams?: ScryptParams;
  /** Replace an existing file. Default false: a key share is never overwritten by accident. */
  overwrite?: boolean;
}

export type ReadKeystoreOptions = KeystoreKdfOptions;

export interface ReadKeystoreMetadataOptions {
  allowWeakKdf?: boolean;
}

const hex = (bytes: number) =>
  z
    .string()
    .length(bytes * 2)
    .regex(/^[0-9a-f]*$/, 'expected lowercase hex');

const KdfSchema = z.strictObject({
  name: z.literal('scrypt'),
  N: z
    .int()
    .min(2)
    .max(2 ** 30)
    .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.int().min(1).max(1024),
  p: z.int().min(1).max(1024),
  salt: hex(SALT_BYTES),
});

export const KeystoreFileSchema = z.strictObject({
  format: z.literal(KEYSTORE_FORMAT),
  version: z.literal(KEYSTORE_VERSION),
  kdf: KdfSchema,
  cipher: z.literal('xchacha20poly1305'),
  nonce: hex(NONCE_BYTES),
  metadata: z.record(z.string(), z.json()),
  ciphertext: z
    .string()
    .min((TAG_BYTES + 1) * 2)
    .regex(/^(?:[0-9a-f]{2})*$/, 'expected lowercase hex'),
});
export type KeystoreFile = z.infer<typeof KeystoreFileSchema>;

function assertKdfStrength(kdf: ScryptParams, allowWeak: boolean, where: string): void {
  const memory = 128 * kdf.N * kdf.r * kdf.p;
  if (memory > KDF_MAX_MEMORY) {
    throw new ClientError(
      'KEYSTORE_MALFORMED',
      `${where}: scrypt parameters N=${kdf.N} r=${kdf.r} p=${kdf.p} need more than 1 GiB; refusing`,
    );
  }
  if (allowWeak) return;
  const floor = KEYSTORE_KDF_FLOOR;
  if (kdf.N < floor.N || kdf.r < floor.r || kdf.p < floor.p) {
    throw new ClientError(
      'KEYSTORE_WEAK_KDF',
      `${where}: scrypt parameters N=${kdf.N} r=${kdf.r} p=${kdf.p} are below the minimum ` +
        `N=${floor.N} r=${floor.r} p=${floor.p}; re-encrypt the share with the default parameters`,
    );
  }
}

function passphraseBytes(passphrase: string | Uint8Array): Uint8Array {
  if (typeof passphrase === 'string') {
    if (passphrase.length === 0) {
      throw new ClientError('INVALID_ARGUMENT', 'passphrase: expected a non-empty string');
    }
    return utf8ToBytes(passphrase.normalize('NFC'));
  }
  if (passphrase instanceof Uint8Array) {
    if (passphrase.length === 0) {
      throw new ClientError('INVALID_ARGUMENT', 'passphrase: expected at least 1 byte, got 0');
    }
    return Uint8Array.from(passphrase);
  }
  throw new ClientError('INVALID_ARGUMENT', 'passphrase: expected a string or Uint8Array');
}

async function deriveKey(
  passphrase: string | Uint8Array,
  kdf: ScryptParams,
  salt: Uint8Array,
  onProgress: ((fraction: number) => void) | undefined,
): Promise<Uint8Array> {
  const pw = passphraseBytes(passphrase);
  try {
    return await scryptAsync(pw, salt, {
      N: kdf.N,
      r: kdf.r,
      p: kdf.p,
      dkLen: KEY_BYTES,
      maxmem: KDF_MAX_MEMORY + 1024 * 1024,
      ...(onProgress ? { onProgress } : {}),
    });
  } finally {
    pw.fill(0);
  }
}

function headerAad(file: Omit<KeystoreFile, 'ciphertext'> | Record<string, unknown>): Uint8Array {
  return utf8ToBytes(canonicalJson(file));
}

/**
 * Encrypt `contents.secret` under `passphrase` and write it atomically to `path` with mode 0600
 * (temp file in the same directory, fsync, rename or link, fsync the directory).
 */
export async function writeKeystore(
  path: string,
  contents: KeystoreContents,
  passphrase: string | Uint8Array,
  opts: WriteKeystoreOptions = {},
): Promise<void> {
  const { secret, metadata } = contents;
  if (!(secret instanceof Uint8Array) || secret.length === 0) {
    throw new ClientError('INVALID_ARGUMENT', 'secret: expected a non-empty Uint8Array');
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new ClientError('INVALID_ARGUMENT', 'metadata: expected a plain JSON object');
  }
  const kdfParams = opts.kdfParams ?? KEYSTORE_KDF_DEFAULTS;
  const kdfCheck = KdfSchema.omit({ salt: true }).safeParse({ name: 'scrypt', ...kdfParams });
  if (!kdfCheck.success) {
    throw new ClientError('INVALID_ARGUMENT', `kdfParams: ${z.prettifyError(kdfCheck.error)}`);
  }
  assertKdfStrength(kdfParams, opts.allowWeakKdf === true, 'kdfParams');

  let metadataJson: string;
  try {
    metadataJson = canonicalJson(metadata);
  } catch (err) {
    throw new ClientError('INVALID_ARGUMENT', `metadata: ${(err as Error).message}`);
  }

  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const header = {
    format: KEYSTORE_FORMAT,
    version: KEYSTORE_VERSION,
    kdf: {
      name: 'scrypt' as const,
      N: kdfParams.N,
      r: kdfParams.r,
      p: kdfParams.p,
      salt: bytesToHex(salt),
    },
    cipher: 'xchacha20poly1305' as const,
    nonce: bytesToHex(nonce),
    metadata: JSON.parse(metadataJson) as KeystoreMetadata,
  };
  const key = await deriveKey(passphrase, kdfParams, salt, opts.onProgress);
  let ciphertext: Uint8Array;
  try {
    ciphertext = xchacha20poly1305(key, nonce, headerAad(header)).encrypt(secret);
  } finally {
    key.fill(0);
  }
  const text = `${canonicalJson({ ...header, ciphertext: bytesToHex(ciphertext) })}\n`;
  await atomicWrite(path, text, opts.overwrite === true);
}

async function atomicWrite(path: string, text: string, overwrite: boolean): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${bytesToHex(randomBytes(8))}.tmp`);
  let fh: FileHandle | undefined;
  let placed = false;
  try {
    fh = await open(tmp, 'wx', 0o600);
    await fh.chmod(0o600); // the umask may have removed bits; never more than 0600 either way
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (overwrite) {
      await rename(tmp, path);
      placed = true;
    } else {
      // link(2) refuses to replace an existing file, atomically (no check-then-write race).
      await link(tmp, path);
      placed = true;
      await unlink(tmp);
    }
    await fsyncDir(dir);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    if (!placed || !overwrite) await unlink(tmp).catch(() => undefined);
    if (errnoCode(err) === 'EEXIST' && !placed) {
      throw new ClientError(
        'KEYSTORE_EXISTS',
        `keystore ${path} already exists; refusing to overwrite a key share (pass overwrite to replace it)`,
      );
    }
    throw new ClientError(
      'KEYSTORE_IO_ERROR',
      `could not write keystore ${path} (${errnoCode(err) ?? 'unknown error'})`,
      { cause: err },
    );
  }
}

interface LoadedFile {
  file: KeystoreFile;
  /** The header exactly as parsed from disk (what the AAD is computed from). */
  rawHeader: Record<string, unknown>;
}

async function loadKeystoreFile(path: string, allowWeakKdf: boolean): Promise<LoadedFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsConstants.O_RDONLY);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new ClientError(
        'KEYSTORE_NOT_FOUND',
        `no keystore at ${path}; run \`conclave keygen\` first`,
      );
    }
    throw new ClientError(
      'KEYSTORE_IO_ERROR',
      `could not open keystore ${path} (${errnoCode(err) ?? 'unknown error'})`,
      { cause: err },
    );
  }
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new ClientError('KEYSTORE_MALFORMED', `keystore ${path} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
      throw new ClientError(
        'KEYSTORE_LOOSE_PERMISSIONS',
        `keystore ${path} is readable by other users (mode ${mode}); run \`chmod 600 ${path}\` and try again`,
      );
    }
    if (st.size > MAX_FILE_BYTES) {
      throw new ClientError('KEYSTORE_MALFORMED', `keystore ${path} is too large to be a keystore`);
    }
    text = await fh.readFile('utf8');
  } catch (err) {
    if (err instanceof ClientError) throw err;
    throw new ClientError(
      'KEYSTORE_IO_ERROR',
      `could not read keystore ${path} (${errnoCode(err) ?? 'unknown error'})`,
      { cause: err },
    );
  } finally {
    await fh.close();
  }
  return parseKeystoreText(path, text, allowWeakKdf);
}

function parseKeystoreText(path: string, text: string, allowWeakKdf: boolean): LoadedFile {
  const malformed = (why: string) =>
    new ClientError(
      'KEYSTORE_MALFORMED',
      `keystore ${path} is not a valid Conclave keystore: ${why}`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw malformed('not a JSON object');
  const doc = raw as Record<string, unknown>;
  if (doc['format'] !== KEYSTORE_FORMAT) throw malformed('missing "format": "conclave-keystore"');
  // Version before the strict schema, so a newer file gets "upgrade" rather than "malformed".
  if (doc['version'] !== KEYSTORE_VERSION) {
    const v = typeof doc['version'] === 'number' ? String(doc['version']) : 'unknown';
    throw new ClientError(
      'KEYSTORE_UNSUPPORTED_VERSION',
      `keystore ${path} has version ${v}; this client reads version ${KEYSTORE_VERSION} (upgrade conclave)`,
    );
  }
  const parsed = KeystoreFileSchema.safeParse(raw);
  if (!parsed.success) throw malformed(z.prettifyError(parsed.error).replace(/\n/g, '; '));
  // Only the canonical encoding is accepted: no byte of the file is left unauthenticated.
  let canonical: string;
  try {
    canonical = canonicalJson(raw);
  } catch {
    throw malformed('not representable as canonical JSON');
  }
  if (`${canonical}\n` !== text) throw malformed('not in canonical form (was it edited?)');
  assertKdfStrength(parsed.data.kdf, allowWeakKdf, `keystore ${path}`);
  const { ciphertext: _ciphertext, ...rawHeader } = doc;
  return { file: parsed.data, rawHeader };
}

/** Decrypt the keystore at `path`. The caller owns the returned secret and should zero it after use. */
export async function readKeystore(
  path: string,
  passphrase: string | Uint8Array,
  opts: ReadKeystoreOptions = {},
): Promise<KeystoreOpened> {
  const { file, rawHeader } = await loadKeystoreFile(path, opts.allowWeakKdf === true);
  const salt = hexToBytes(file.kdf.salt);
  const key = await deriveKey(passphrase, file.kdf, salt, opts.onProgress);
  let secret: Uint8Array;
  try {
    secret = xchacha20poly1305(key, hexToBytes(file.nonce), headerAad(rawHeader)).decrypt(
      hexToBytes(file.ciphertext),
    );
  } catch {
    throw new ClientError(
      'KEYSTORE_DECRYPT_FAILED',
      `could not open keystore ${path}: wrong passphrase or the file is damaged`,
    );
  } finally {
    key.fill(0);
  }
  return { secret, metadata: file.metadata as KeystoreMetadata };
}

/**
 * The public metadata of a keystore, without the passphrase. NOT authenticated until the file
 * is opened with readKeystore: use it for display and lookup, never for trust decisions.
 */
export async function readKeystoreMetadata(
  path: string,
  opts: ReadKeystoreMetadataOptions = {},
): Promise<KeystoreMetadata> {
  const { file } = await loadKeystoreFile(path, opts.allowWeakKdf === true);
  return file.metadata as KeystoreMetadata;
}
