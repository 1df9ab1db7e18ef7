/**
 * Public data types, in frost-rs's shape. Secret and public halves are different types, so a secret
 * cannot be passed where a public package is expected. Everything holds bytes; bigints stay inside.
 * Packages are treated as immutable: build them with this library, do not edit their bytes.
 */
import type { SuiteName } from './suite.js';

/** A participant identifier: the canonical hex of a non-zero scalar (RFC 9591 §3.1). */
export type Identifier = string & { readonly __brand: 'FrostIdentifier' };

/** Threshold parameters. */
export interface Signers {
  readonly minSigners: number;
  readonly maxSigners: number;
}

/** One participant's share from a trusted dealer, with the VSS commitment to check it against. */
export interface SecretShare {
  readonly suite: SuiteName;
  readonly identifier: Identifier;
  readonly signingShare: Uint8Array;
  /** VSS commitment: one element per polynomial coefficient; [0] is the group public key. */
  readonly commitment: readonly Uint8Array[];
}

/** What a participant needs to sign: its secret share and the public values it signs under. */
export interface KeyPackage {
  readonly suite: SuiteName;
  readonly identifier: Identifier;
  readonly signingShare: Uint8Array;
  readonly verifyingShare: Uint8Array;
  readonly verifyingKey: Uint8Array;
  readonly minSigners: number;
}

/** Public values of a key set: the group key and every participant's verifying share. */
export interface PublicKeyPackage {
  readonly suite: SuiteName;
  readonly verifyingShares: Readonly<Record<Identifier, Uint8Array>>;
  readonly verifyingKey: Uint8Array;
  readonly minSigners: number;
}

/** Round-1 secret nonces (RFC 9591 §5.1). Use once; never store without `exportNoncesForStorage`. */
export interface SigningNonces {
  readonly suite: SuiteName;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
  readonly commitments: SigningCommitments;
}

/** Round-1 public commitments (RFC 9591 §5.1). */
export interface SigningCommitments {
  readonly suite: SuiteName;
  readonly identifier: Identifier;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** What the coordinator sends to round 2: the commitment list (sorted by identifier) and message. */
export interface SigningPackage {
  readonly suite: SuiteName;
  readonly commitments: readonly SigningCommitments[];
  readonly message: Uint8Array;
}

/** Round-2 output of one participant (RFC 9591 §5.2). */
export interface SignatureShare {
  readonly suite: SuiteName;
  readonly identifier: Identifier;
  readonly share: Uint8Array;
}

/** The aggregate signature, in the suite's ordinary encoding (RFC 8032 for Ed25519). */
export interface Signature {
  readonly suite: SuiteName;
  readonly bytes: Uint8Array;
}

/** DKG round-1 broadcast: VSS commitment and proof of knowledge of the constant term. */
export interface DkgRound1Package {
  readonly suite: SuiteName;
  readonly identifier: Identifier;
  readonly commitment: readonly Uint8Array[];
  readonly proofOfKnowledge: Uint8Array;
}

/** DKG round-2 message for one recipient: secret, send it encrypted. */
export interface DkgRound2Package {
  readonly suite: SuiteName;
  readonly sender: Identifier;
  readonly recipient: Identifier;
  readonly signingShare: Uint8Array;
}

/** Private DKG state after part 1. Secret; lives in memory for the ceremony only. */
export interface DkgRound1SecretPackage {
  readonly suite: SuiteName;
  readonly identifier: Identifier;
  readonly minSigners: number;
  readonly maxSigners: number;
  /** Polynomial coefficients, constant term first. */
  readonly coefficients: readonly Uint8Array[];
  readonly commitment: readonly Uint8Array[];
}

/** Private DKG state after part 2. */
export interface DkgRound2SecretPackage extends DkgRound1SecretPackage {
  /** Hashes of the round-1 packages part 2 accepted, so part 3 runs on the same transcript. */
  readonly round1Digest: Uint8Array;
}

/** Reshare/refresh broadcast from one old-committee dealer: commitment to its sub-polynomial. */
export interface ReshareRound1Package {
  readonly suite: SuiteName;
  readonly sender: Identifier;
  readonly commitment: readonly Uint8Array[];
}

/** Reshare/refresh secret sub-share for one new member: send it encrypted. */
export interface ReshareRound1Share {
  readonly suite: SuiteName;
  readonly sender: Identifier;
  readonly recipient: Identifier;
  readonly subShare: Uint8Array;
}

/** Randomness source: returns `n` bytes. Injected for test vectors; crypto.getRandomValues otherwise. */
export type Rng = (n: number) => Uint8Array;
