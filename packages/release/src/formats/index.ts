export { SIGNATURE_FORMATS } from './types.js';
export type {
  SignatureFormat,
  ArtifactRef,
  GitTagInput,
  FormatRelease,
  FormatContext,
  SigningJob,
  OutputFile,
} from './types.js';
export { FormatError, FORMAT_ERROR_CODES, isFormatError } from './errors.js';
export type { FormatErrorCode } from './errors.js';
export { jobIds, planJobs, isSignatureFormat, rawContent, trustedCommentFor } from './plan.js';
export { rawContentConflict } from './raw-guard.js';
export type { JobRelease } from './plan.js';
export {
  assemble,
  gitTagFileName,
  shellQuote,
  STATEMENT_FILES,
  VERIFY_NOTE,
  ARTIFACT_SIGNATURE_SUFFIX,
} from './assemble.js';
export {
  sshsigSignedData,
  sshsigBlob,
  sshsigArmor,
  sshPublicKeyBlob,
  sshPublicKeyLine,
  SSHSIG_FILE_NAMESPACE,
  SSHSIG_GIT_NAMESPACE,
} from './sshsig.js';
export { gitTagObject, gitTagPayload } from './git.js';
export {
  keynum,
  minisignKeyId,
  minisignTrustedComment,
  minisignGlobalMessage,
  minisignPublicKeyFile,
  minisignSignatureFile,
  KEYNUM_DOMAIN,
} from './minisign.js';
export type { TrustedCommentFields } from './minisign.js';
export {
  signifyChecksumList,
  signifyPublicKeyFile,
  signifySignatureFile,
  SIGNIFY_SIG_FILE,
  SIGNIFY_KEY_FILE,
} from './signify.js';
export {
  openpgpFingerprint,
  openpgpUserId,
  openpgpCertificate,
  certificationParts,
  documentParts,
  signaturePacket,
  armor as openpgpArmor,
  crc24,
} from './openpgp.js';
export type { SignatureParts as OpenpgpSignatureParts } from './openpgp.js';
export {
  intotoKey,
  intotoKeyId,
  tufKey,
  tufKeyId,
  dsseMessage,
  dsseEnvelopeFile,
  sigstoreBundleFile,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  jwsProtectedHeader,
  jwsMessage,
  jwsCompactFile,
} from './statement-formats.js';
export { verifyEd25519 } from './ed25519.js';
