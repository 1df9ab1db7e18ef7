// Public face of @conclave/client. Other modules (connection, review/approve, agent) add exports here.
export { CLIENT_ERROR_CODES, ClientError, isClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export {
  KEYSTORE_FORMAT,
  KEYSTORE_KDF_DEFAULTS,
  KEYSTORE_KDF_FLOOR,
  KEYSTORE_VERSION,
  KeystoreFileSchema,
  readKeystore,
  readKeystoreMetadata,
  writeKeystore,
} from './keystore.js';
export type {
  JsonValue,
  KeystoreContents,
  KeystoreFile,
  KeystoreKdfOptions,
  KeystoreMetadata,
  KeystoreOpened,
  ReadKeystoreMetadataOptions,
  ReadKeystoreOptions,
  ScryptParams,
  WriteKeystoreOptions,
} from './keystore.js';
export {
  NONCE_LEDGER_FILENAME,
  NONCE_LEDGER_FORMAT,
  NONCE_LEDGER_VERSION,
  openNonceLedger,
} from './nonce-ledger.js';
export type {
  ConsumeResult,
  NonceEntry,
  NonceLedger,
  NonceLedgerRecovery,
  NonceState,
} from './nonce-ledger.js';
