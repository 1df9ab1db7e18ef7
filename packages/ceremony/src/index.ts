// @conclave/ceremony — pure XState v5 machines for key and signing ceremonies.
export { signingMachine, initialSigningContext } from './signing-machine.js';
export type { SigningMachine } from './signing-machine.js';
export { keyMachine, initialKeyContext } from './key-machine.js';
export type { KeyMachine } from './key-machine.js';
export {
  checkEvent,
  nextDeadline,
  pendingEffects,
  persist,
  restore,
  drainOutbox,
  drainFinal,
  signingPhase,
  keyPhase,
  SnapshotError,
} from './runner-api.js';
export type {
  AnyCeremonySnapshot,
  CeremonySnapshot,
  KeySnapshotLike,
  SigningSnapshotLike,
} from './runner-api.js';
export type { CheckResult, RejectionCode } from './check.js';
export {
  GroupSchema,
  HexSchema,
  KeyEventSchema,
  KeyInputSchema,
  MemberIdSchema,
  SigningEventSchema,
  SigningInputSchema,
  SigningPolicySchema,
} from './schemas.js';
export type {
  Group,
  GroupInput,
  KeyCeremonyKind,
  KeyEvent,
  KeyInput,
  SigningEvent,
  SigningInput,
  SigningPolicy,
  RoleRequirement,
} from './schemas.js';
export type {
  Approval,
  Exclusion,
  ExclusionReason,
  Rejection,
  SessionStatus,
  SigningAbortCode,
  SigningContext,
  SigningEffect,
  SigningOutcome,
  SigningPhase,
  SigningSession,
  PolicyGap,
} from './signing-rules.js';
export {
  canOpenSession,
  countedApprovers,
  policyGap,
  policyImpossible,
  policyIsStrict,
  policyQuorum,
  policySatisfied,
} from './signing-rules.js';
export type {
  Confirmation,
  ConfirmationView,
  KeyAbortCode,
  KeyContext,
  KeyEffect,
  KeyOutcome,
  KeyPhase,
} from './key-rules.js';
