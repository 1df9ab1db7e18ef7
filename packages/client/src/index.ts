// Public face of @conclave/client: home, connection, key ceremony, signer, agent, keystore, ledger.
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
export {
  CONFIG_FILENAME,
  HOME_ENV,
  HomeConfigSchema,
  IDENTITY_FILENAME,
  KDF_COST_DEFAULT,
  KDF_COST_MAX,
  KDF_COST_MIN,
  PASSPHRASE_ENV,
  PinnedCoordinatorSchema,
  ShareMetadataSchema,
  Home,
  adminRegistryAt,
  defaultHomeDir,
  kdfParamsOfCost,
  parseHomeConfig,
  recordAdminMemberAt,
} from './home.js';
export type {
  HomeConfig,
  HomeOptions,
  LoadedShare,
  PinnedCoordinator,
  ShareMetadata,
} from './home.js';
export {
  Connection,
  CoordinatorInfoSchema,
  checkPins,
  fetchCoordinatorInfo,
  fetchArtifact,
  type DownloadPace,
  memberAuthHeaders,
  normalizeCoordinatorUrl,
  MAX_ARTIFACT_DOWNLOAD_BYTES,
  parseAdminKeyText,
  takeSeq,
} from './connection.js';
export type { ConnectionOptions, CoordinatorInfo } from './connection.js';
export { DKG_ROUNDS, DkgParticipant, checkDkgStart } from './dkg-participant.js';
export type { DkgParticipantOptions, DkgResult } from './dkg-participant.js';
export { LifecycleParticipant, checkKeyStart, lifecycleRoles } from './lifecycle-participant.js';
export type { LifecycleParticipantOptions, LifecycleResult } from './lifecycle-participant.js';
export { attachLifecycle } from './lifecycle.js';
export type { LifecycleHandle, LifecycleOptions } from './lifecycle.js';
export {
  PolicyPins,
  VerifiedPolicyCache,
  cachedPolicyFor,
  checkPackageAgainstPolicy,
  checkRequestAgainstPolicy,
  currentVerifiedPolicy,
  describeGovernance,
  describePolicy,
  describePolicyDocument,
  fetchVerifiedPolicy,
  hotfixBanner,
  policyWaiting,
  verifyPolicyInfo,
} from './policy.js';
export type { GroupKeyView, VerifiedPolicy } from './policy.js';
export {
  discardStagedShare,
  listPendingShares,
  pendingSharePath,
  promoteShare,
  recoverShares,
  stageShare,
} from './share-swap.js';
export type { PendingShare } from './share-swap.js';
export {
  TRANSITION_BUNDLE_TYPE,
  TRANSITION_CHECKS,
  TRANSITION_FORMATS,
  TRANSITION_RELEASE_CLASS,
  TRANSITION_TYPE,
  TransitionBundleSchema,
  TransitionKeySchema,
  TransitionStatementSchema,
  buildTransitionBundle,
  buildTransitionStatement,
  nextGroupName,
  parseTransitionFile,
  rotationNote,
  rotationVersion,
  transitionDigest,
  transitionFileBytes,
  verifyTransitionBundle,
} from './rotation.js';
export type {
  TransitionBundle,
  TransitionCheckName,
  TransitionCheckResult,
  TransitionDsse,
  TransitionKey,
  TransitionSide,
  TransitionStatement,
  TransitionVerdict,
} from './rotation.js';
export {
  HINTED_BUNDLES_PER_MEMBER,
  ISSUED_AT_TOLERANCE_MS,
  SIGN_ROUNDS,
  Signer,
  TERMINAL_STATES,
  checkLocalArtifacts,
  uncheckedArtifacts,
  checkSignPackage,
  commitmentId,
  describeReview,
  isTerminal,
  recoverStatement,
  reviewRequest,
} from './signer.js';
export type { PackageCheck, PackageCheckInput, Review, SignerOptions } from './signer.js';
export {
  MemberSession,
  autoApproveClasses,
  autoApproveRefusal,
  parseAutoApprove,
  resolveCoordinator,
  startAgent,
} from './agent.js';
export type {
  AgentOptions,
  AutoApprove,
  CeremonyEnd,
  RecordedStatement,
  SessionOptions,
} from './agent.js';
export {
  ALARM_CODES,
  ALARM_FILENAME,
  EVIDENCE_FORMAT,
  LOG_DIR,
  LogAlarmSchema,
  LogWitness,
  WITNESS_INTERVAL_MS,
  WitnessedCheckpointSchema,
  alarmError,
  alarmPath,
  clearAlarm,
  fetchLogKey,
  httpLogTransport,
  readAlarm,
  readWitnessed,
  witnessOnce,
  witnessedCheckpointPath,
} from './witness.js';
export type {
  AlarmCode,
  LogAlarm,
  LogTransport,
  LogWitnessOptions,
  WitnessEngine,
  WitnessEngineInput,
  WitnessEngineResult,
  WitnessRoundOptions,
  WitnessRoundResult,
  WitnessedCheckpoint,
  WitnessedConnection,
} from './witness.js';
export { TEST_FAULTS, testFault } from './faults.js';
export type { TestFault } from './faults.js';
export { artifactMatches, cacheLocalArtifacts, prepareArtifacts } from './artifacts.js';
