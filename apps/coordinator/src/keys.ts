// The coordinator's identity key and the admin key: made at first start next to the database
// (`coordinator.key`, `admin.key`, mode 0600). The public halves are also recorded in the database,
// so the admin key file can be moved off the server and a swapped coordinator key is noticed.
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  identityFromSecret,
  type IdentityKey,
} from '@conclave/protocol';
import * as z from 'zod';

export const KEY_FILE_FORMAT = 'conclave-identity-key';
export const COORDINATOR_KEY_FILE = 'coordinator.key';
export const ADMIN_KEY_FILE = 'admin.key';

const Hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 32 bytes of lowercase hex');

/** `admin.key` / `coordinator.key`: JSON, unencrypted (the server starts unattended), mode 0600. */
export const IdentityKeyFileSchema = z.strictObject({
  format: z.literal(KEY_FILE_FORMAT),
  version: z.literal(1),
  role: z.enum(['admin', 'coordinator']),
  publicKey: Hex32,
  secretKey: Hex32,
});
export type IdentityKeyFile = z.infer<typeof IdentityKeyFileSchema>;

/** Reads and checks a key file (the public key must match the secret). */
export function readIdentityKeyFile(path: string): IdentityKey {
  const parsed = IdentityKeyFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: not a ${KEY_FILE_FORMAT} file`);
  const key = identityFromSecret(hexToBytes(parsed.data.secretKey, 32));
  if (bytesToHex(key.publicKey) !== parsed.data.publicKey) {
    throw new Error(`${path}: public key does not match the secret key`);
  }
  return key;
}

/** Writes a fresh key file atomically with mode 0600; fails if the file exists. */
/**
 * Writes a new file of secrets, mode 0600, atomically (temporary file, fsync, rename), and refuses
 * to replace a file that already exists.
 */
export function writeNewSecretFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // rename would overwrite an existing file: refuse instead.
  if (existsSync(path)) {
    unlinkSync(tmp);
    throw new Error(`${path} already exists`);
  }
  renameSync(tmp, path);
}

export function createIdentityKeyFile(path: string, role: 'admin' | 'coordinator'): IdentityKey {
  const key = generateIdentityKey();
  const body: IdentityKeyFile = {
    format: KEY_FILE_FORMAT,
    version: 1,
    role,
    publicKey: bytesToHex(key.publicKey),
    secretKey: bytesToHex(key.secretKey),
  };
  writeNewSecretFile(path, `${JSON.stringify(body, null, 2)}\n`);
  return key;
}
