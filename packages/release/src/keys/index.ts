export {
  KEY_FORMATS,
  KEY_FILES,
  DEFAULT_NAMESPACES,
  exportPublicKey,
  defaultPrincipal,
  spkiPem,
  sshFingerprint,
  allowedSignersLine,
  jwk,
  openpgpCertificateFile,
} from './export.js';
export type { KeyFormat, ExportKeyOptions } from './export.js';
