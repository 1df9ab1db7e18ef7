/** @conclave/release — release statements (in-toto Statement v1 in DSSE) and artifact digests. */
export {
  STATEMENT_TYPE,
  PREDICATE_TYPE,
  DSSE_PAYLOAD_TYPE,
  buildStatement,
  canonicalJson,
  statementBytes,
  pae,
  messageToSign,
  statementDigest,
  dsseEnvelope,
  policyDigest,
} from './statement.js';
export type { ReleaseInput, Approver, StatementContext, ReleaseStatement } from './statement.js';
export type { ReleaseClass, PolicyDocumentInput, RevocationInput } from './statement.js';
export type { BoundDocument, ManifestRef } from './statement.js';
export { digestFile } from './digest.js';
export type { ArtifactDigest } from './digest.js';
export {
  HASH_SIZE,
  EMPTY_ROOT,
  MerkleAccumulator,
  MerkleTree,
  AppendOnlyMerkleTree,
  MerkleError,
  isMerkleError,
  leafHash,
  nodeHash,
  rootFromLeafHashes,
  inclusionProof,
  rootFromInclusionProof,
  verifyInclusion,
  consistencyProof,
  verifyConsistency,
  emptyRoot,
  equalBytes,
  splitPoint,
} from './merkle.js';
export type { MerkleErrorCode } from './merkle.js';
export {
  STATEMENT_JOB,
  CONTENT_FORMATS,
  phaseCount,
  jobIdsFor,
  needsArtifactBytes,
  formatContext,
  planMessages,
} from './plan.js';
export type { PlanInput, PlannedJob } from './plan.js';
export * from './formats/index.js';
export * from './keys/index.js';
export * from './verify/index.js';
export {
  LEAF_FORMAT,
  MANIFEST_TYPE,
  PROOF_TYPE,
  MAX_MANIFEST_ENTRIES,
  ManifestError,
  isManifestError,
  artifactNameProblem,
  compareNames,
  encodeLeaf,
  manifestLeafHash,
  buildManifest,
  manifestLines,
  serializeManifest,
  parseManifest,
  parseManifestLines,
  proofFileName,
  serializeProofFile,
  parseProofFile,
  verifyBatchMember,
  ManifestHeaderSchema,
  ManifestEntrySchema,
  ManifestProofFileSchema,
} from './manifest.js';
export type {
  ManifestEntry,
  ManifestErrorCode,
  Manifest,
  ManifestProofFile,
  StatementRef,
  BuildOptions,
  ParseOptions,
  BatchVerifyCode,
  BatchVerifyResult,
  BatchMemberInput,
} from './manifest.js';
export {
  REVOCATION_LIST_TYPE,
  RELEASE_VERIFY_CLASSES,
  RELEASE_CHECK_CODES,
  buildRevocationList,
  documentArtifact,
  readRevocationList,
  statementOf,
  checkRevocations,
  compareVersions,
  checkMinVersion,
  checkReleaseStatement,
  releaseFields,
} from './revocation.js';
export type {
  ReleaseCheck,
  ReleaseCheckCode,
  RevocationRecord,
  RevocationQuery,
  RevocationList,
  DsseEnvelopeJson,
  SignedStatement,
} from './revocation.js';
export { verifyPolicyStatement } from './policy-statement.js';
export type { SignedPolicyInput, PolicyVerdict } from './policy-statement.js';
