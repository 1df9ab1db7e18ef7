// The log signing key and the auditor credential, both made at first start beside the admin key
// (keys.ts does the same for `coordinator.key` / `admin.key`):
//   log.key        JSON, mode 0600: the Ed25519 key that signs checkpoints (c2sp signed-note), and
//                  the log's origin. Its public half and the origin are recorded in the database,
//                  so a swapped or lost key is noticed instead of silently starting a new log.
//   auditor.token  mode 0600: a bearer token for the read-only auditors' pages. Only its SHA-256
//                  is stored; move the file off the server after handing the token to the auditors.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { encodeVerifierKey, isValidKeyName } from '@conclave/audit';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  identityFromSecret,
  type IdentityKey,
} from '@conclave/protocol';
import * as z from 'zod';
import { writeNewSecretFile } from '../keys.js';
import type { Store } from '../store.js';

export const LOG_KEY_FILE = 'log.key';
export const AUDITOR_TOKEN_FILE = 'auditor.token';
export const LOG_KEY_FORMAT = 'conclave-log-key';
const TOKEN_PREFIX = 'conclave-auditor-';

const Hex32 = z.string().regex(/^[0-9a-f]{64}$/);
export const LogKeyFileSchema = z.strictObject({
  format: z.literal(LOG_KEY_FORMAT),
  version: z.literal(1),
  origin: z.string().refine(isValidKeyName, 'not a valid note key name'),
  publicKey: Hex32,
  secretKey: Hex32,
});

export interface LogKey {
  readonly origin: string;
  readonly key: IdentityKey;
  /** `origin+keyid+base64(0x01‖pub)`: what witnesses and `conclave log verify` pin. */
  readonly verifierKey: string;
  readonly path: string;
  readonly created: boolean;
}

/** The default origin: `conclave/<first 16 hex of SHA-256(coordinator identity key)>`. */
export function defaultLogOrigin(coordinatorPublicKey: Uint8Array): string {
  return `conclave/${createHash('sha256').update(coordinatorPublicKey).digest('hex').slice(0, 16)}`;
}

function readLogKey(path: string): { origin: string; key: IdentityKey } {
  const parsed = LogKeyFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: not a ${LOG_KEY_FORMAT} file`);
  const key = identityFromSecret(hexToBytes(parsed.data.secretKey, 32));
  if (bytesToHex(key.publicKey) !== parsed.data.publicKey) {
    throw new Error(`${path}: public key does not match the secret key`);
  }
  return { origin: parsed.data.origin, key };
}

/**
 * Loads `log.key` from `dataDir`, or makes it on first start. Refuses to start if the database
 * already has a log under another key or origin, or if the key file is gone while leaves exist.
 */
export function loadLogKey(
  store: Store,
  dataDir: string,
  coordinatorPublicKey: Uint8Array,
): LogKey {
  const path = join(dataDir, LOG_KEY_FILE);
  const knownKey = store.getSetting('log_public_key');
  const knownOrigin = store.getSetting('log_origin');
  let loaded: { origin: string; key: IdentityKey };
  let created = false;
  if (existsSync(path)) {
    loaded = readLogKey(path);
  } else if (knownKey !== undefined) {
    throw new Error(`${path} is missing; the log was started with key ${knownKey}`);
  } else {
    const origin = defaultLogOrigin(coordinatorPublicKey);
    const key = generateIdentityKey();
    writeNewSecretFile(
      path,
      `${JSON.stringify(
        {
          format: LOG_KEY_FORMAT,
          version: 1,
          origin,
          publicKey: bytesToHex(key.publicKey),
          secretKey: bytesToHex(key.secretKey),
        },
        null,
        2,
      )}\n`,
    );
    loaded = { origin, key };
    created = true;
  }
  const hex = bytesToHex(loaded.key.publicKey);
  if (knownKey !== undefined && knownKey !== hex) {
    throw new Error(`${path} is not the key this database's log was started with`);
  }
  if (knownOrigin !== undefined && knownOrigin !== loaded.origin) {
    throw new Error(`${path} names another log origin than this database's`);
  }
  store.setSetting('log_public_key', hex);
  store.setSetting('log_origin', loaded.origin);
  return {
    origin: loaded.origin,
    key: loaded.key,
    verifierKey: encodeVerifierKey(loaded.origin, loaded.key.publicKey),
    path,
    created,
  };
}

export interface AuditorToken {
  /** Where the token was written at first start (it may have been moved since). */
  readonly path: string;
  /** Whether this start made it. */
  readonly created: boolean;
  /** Does `presented` match the stored hash? (constant time) */
  check(presented: string): boolean;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Loads the auditor credential's hash, or makes the token file and hash at first start. */
export function loadAuditorToken(store: Store, dataDir: string): AuditorToken {
  const path = join(dataDir, AUDITOR_TOKEN_FILE);
  let hashHex = store.getSetting('auditor_token_sha256');
  let created = false;
  if (hashHex === undefined) {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    writeNewSecretFile(path, `${token}\n`);
    hashHex = sha256(token).toString('hex');
    store.setSetting('auditor_token_sha256', hashHex);
    created = true;
  }
  const expected = Buffer.from(hashHex, 'hex');
  return {
    path,
    created,
    check(presented: string): boolean {
      if (typeof presented !== 'string' || presented.length === 0 || presented.length > 256) {
        return false;
      }
      const got = sha256(presented.trim());
      return got.length === expected.length && timingSafeEqual(got, expected);
    },
  };
}
