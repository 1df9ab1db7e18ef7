// @conclave/protocol — wire messages, codecs, version, error codes, signed envelopes, identity
// keys and pairwise encryption. See docs/protocol.md.
export {
  PROTOCOL_VERSION,
  SIGNING_DOMAIN_VERSION,
  versionMismatchMessage,
  MAX_FRAME_BYTES,
  MAX_JSON_DEPTH,
  MAX_PARTICIPANTS,
  MAX_ARTIFACTS,
  MAX_FROST_PACKAGE_BYTES,
  MAX_JOBS,
  MAX_CIPHERTEXT_BYTES,
  MAX_INBOX_ITEMS,
  CHALLENGE_BYTES,
  DOMAIN_PREFIX,
} from './version.js';
export {
  ERROR_CODES,
  ProtocolError,
  isErrorCode,
  ok,
  fail,
  unwrap,
  type ErrorCode,
  type ProtocolIssue,
  type Result,
} from './errors.js';
export {
  isHex,
  bytesToHex,
  hexToBytes,
  hexOf,
  hexBetween,
  hexBytesCodec,
  hexBytesBetweenCodec,
  Bytes32Codec,
  Bytes64Codec,
  ED25519_ELEMENT_BYTES,
  ED25519_SCALAR_BYTES,
  ED25519_SIGNATURE_BYTES,
  IDENTITY_KEY_BYTES,
  ElementHexSchema,
  ScalarHexSchema,
  SignatureHexSchema,
  IdentityKeyHexSchema,
  Sha256HexSchema,
  Sha512HexSchema,
} from './hex.js';
export { domainEncode, lengthPrefixed, concatBytes, utf8Bytes, u32be, u64be } from './encoding.js';
export { canonicalJson, canonicalHash } from './canonical-json.js';
export { deepFreeze } from './freeze.js';
export {
  COORDINATOR_ID,
  ADMIN_ID,
  RESERVED_IDS,
  MemberIdSchema,
  SenderIdSchema,
  GroupNameSchema,
  CeremonyIdSchema,
  RoundSchema,
  SeqSchema,
  SessionSchema,
  TimestampSchema,
  newCeremonyId,
  type MemberId,
  type SenderId,
  type CeremonyId,
} from './ids.js';
export {
  findRefusedCharacter,
  refusedCharacterRule,
  describeRefusedCharacter,
  printableText,
  type RefusedCharacter,
  type RefusedCharacterRule,
} from './display-text.js';
export * from './messages/handshake.js';
export * from './messages/admin.js';
export * from './messages/dkg.js';
export * from './messages/sign.js';
export * from './messages/status.js';
export * from './messages/lifecycle.js';
export * from './messages/key-outcome.js';
export * from './messages/policy.js';
export { envelopeOf } from './messages/envelope-schema.js';
export {
  MessageSchema,
  SealedBodySchema,
  EnvelopeSchema,
  MESSAGE_RULES,
  MESSAGE_TYPES,
  SEALED_TYPES,
  isMessageType,
  roleOf,
  type Message,
  type MessageType,
  type SealedBody,
  type SealedType,
  type Envelope,
  type Role,
  type MessageRule,
} from './message.js';
export { parseMessage, validateMessage, FORBIDDEN_KEYS, type ParseResult } from './parse.js';
export {
  generateIdentityKey,
  identityFromSecret,
  signIdentity,
  verifyIdentity,
  isValidIdentityKey,
  fingerprint,
  x25519FromIdentity,
  x25519PublicFromIdentity,
  type IdentityKey,
  type X25519KeyPair,
} from './identity.js';
export {
  sealEnvelope,
  openEnvelope,
  envelopeSigningBytes,
  bodyHash,
  type EnvelopeFields,
  type EnvelopeWith,
  type OpenedEnvelope,
  type KeyLookup,
  type OpenOptions,
} from './envelope.js';
export { ReplayTracker, type ReplayKey } from './replay.js';
export {
  DEFAULT_CHALLENGE_TTL_MS,
  authTranscript,
  createHello,
  checkHello,
  createAuthChallenge,
  respondToChallenge,
  verifyAuthResponse,
  ChallengeBook,
  type ChallengeOptions,
  type RegisteredKey,
  type VerifyAuthOptions,
} from './handshake.js';
export {
  sealTo,
  openFrom,
  boxToWire,
  boxFromWire,
  pairwiseAssociatedData,
  pairwiseBoxBytes,
  sealSignedBox,
  signPairwiseBox,
  verifyPairwiseBox,
  type PairwiseContext,
  type SealedBox,
  type WireBox,
} from './pairwise.js';
export {
  BOX_COMPLAINT_CODES,
  proveBoxComplaint,
  openComplainedBox,
  judgeDkgShareComplaint,
  judgeLifecycleComplaint,
  lifecycleComplaintOf,
  type BoxComplaintContext,
  type BoxContents,
  type ComplaintVerdict,
  type DkgShareComplaint,
  type LifecycleBoxComplaint,
} from './box-complaint.js';
export {
  round1Hash,
  dkgConfirmationBytes,
  signDkgConfirmation,
  verifyDkgConfirmation,
  type Round1View,
  type Confirmation,
} from './dkg-confirmation.js';
export {
  publicKeyPackageHash,
  signingPackageHash,
  sessionPackagesBytes,
  packageAckBytes,
  signPackageAck,
  verifyPackageAck,
  type AckContext,
} from './package-ack.js';
export { requestDigest } from './request-digest.js';
export { approvalSigningBytes, signApproval, verifyApproval } from './approval.js';
export { keepsRoster, lifecycleHash, type LifecycleView } from './key-lifecycle.js';
