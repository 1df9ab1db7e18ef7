/**
 * @conclave/audit — the transparency log's formats and checks: signed notes and checkpoints
 * (c2sp.org/signed-note, tlog-checkpoint), witness cosignatures (tlog-cosignature), log leaves
 * (one per ceremony transcript), witnessing, and offline verification of the log and of a
 * ceremony bundle. Pure: no I/O, no clock (times are passed in).
 */
export {
  AUDIT_ERROR_CODES,
  AuditError,
  isAuditError,
  auditOk,
  auditFail,
  type AuditErrorCode,
  type AuditResult,
} from './errors.js';
export { encodeBase64, decodeBase64 } from './base64.js';
export {
  SIGNATURE_TYPE_ED25519,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  NOTE_MAX_BYTES,
  NOTE_MAX_SIGNATURES,
  isValidKeyName,
  keyId,
  ed25519NoteVerifier,
  ed25519NoteSigner,
  encodeVerifierKey,
  parseVerifierKey,
  parseNote,
  formatNote,
  formatSignatureLine,
  signNote,
  openNote,
  type Note,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
} from './note.js';
export {
  checkpointBody,
  parseCheckpointBody,
  signCheckpoint,
  openCheckpoint,
  type Checkpoint,
  type SignedCheckpoint,
} from './checkpoint.js';
export {
  cosign,
  cosignatureMessage,
  cosignatureKeyId,
  cosignatureTimestamp,
  cosignatureVerifier,
  verifyCosignature,
  type Cosignature,
  type Witness,
} from './cosignature.js';
export {
  witnessCheckpoint,
  LogMisbehaviour,
  type WitnessInput,
  type Witnessed,
} from './witness.js';
export {
  LEAF_FORMAT,
  LEAF_KINDS,
  LEAF_MAX_BYTES,
  GOVERNANCE_OUTCOMES,
  LogLeafSchema,
  TranscriptEntrySchema,
  transcriptEntryHash,
  transcriptDigest,
  leafFor,
  encodeLeaf,
  decodeLeaf,
  logLeafHash,
  type LeafKind,
  type LogLeaf,
  type TranscriptEntry,
} from './leaf.js';
export { verifyLog, type VerifyLogInput, type LogReport, type GovernanceFinding } from './log.js';
export {
  GOVERNANCE_FLAG_GRACE_MS,
  hotfixDeadlines,
  signingFacts,
  type HotfixDeadline,
  type HotfixFlagStatus,
  type LeafAt,
  type SigningFacts,
} from './hotfix-deadlines.js';
export {
  GOVERNANCE_ROUND,
  governanceTranscript,
  verifyGovernanceEntry,
  type GovernanceOutcome,
  type OverdueHotfix,
} from './governance.js';
export { Checks, type Check, type Report } from './report.js';
export { keyPackageInconsistency } from './key-package.js';
export {
  BUNDLE_FORMAT,
  CeremonyBundleSchema,
  verifyCeremonyBundle,
  type KeyPackageSource,
  type CeremonyBundle,
  type BundleTrust,
  type BundleReport,
} from './bundle.js';
export { witnessName, witnessLog, type LogTransport, type WitnessRound } from './witness-client.js';
export { judgeKeyAbort, type KeyBlameVerdict, type KeyCulprit } from './key-outcome.js';
