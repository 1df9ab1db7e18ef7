/**
 * The generic API, in frost-rs's shape, bound to one ciphersuite. `ed25519` (the default),
 * `ristretto255`, `ed448`, `p256`, `secp256k1` and `secp256k1Taproot` are instances.
 */
import {
  decodeBytes,
  decodeJson,
  encodeBytes,
  encodeJson,
  exportNoncesForStorage,
  importNoncesFromStorage,
  type EncodableType,
  type PackageTypeMap,
} from './encoding.js';
import { fail } from './errors.js';
import { identifierToScalar, scalarToIdentifier } from './group.js';
import {
  dealer,
  keyPackageFromSecretShare,
  type DealerOptions,
  type DealerOutput,
} from './keys/dealer.js';
import {
  dkgPart1,
  dkgPart2,
  dkgPart3,
  dkgPublicKeyPackage,
  dkgVerifyRound1,
  dkgVerifyShare,
  type DkgPart1Options,
} from './keys/dkg.js';
import { repairStep1, repairStep2, repairStep3 } from './keys/repair.js';
import {
  refreshParams,
  resharePart1,
  resharePart2,
  reshareVerifySubShare,
  type ReshareParams,
} from './keys/reshare.js';
import {
  aggregate,
  commit,
  destroyNonces,
  newSigningPackage,
  prepareShareChecks,
  sign,
  verify,
  verifySignatureShare,
} from './signing.js';
import {
  ed25519Suite,
  ed448Suite,
  p256Suite,
  ristretto255Suite,
  secp256k1Suite,
  secp256k1TaprootSuite,
  type Suite,
} from './suite.js';
import type {
  DkgRound1Package,
  DkgRound1SecretPackage,
  DkgRound2Package,
  DkgRound2SecretPackage,
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  ReshareRound1Package,
  ReshareRound1Share,
  Rng,
  SecretShare,
  Signature,
  SignatureShare,
  SigningCommitments,
  SigningNonces,
  SigningPackage,
} from './types.js';

type Many<T extends object> = readonly T[] | Readonly<Record<string, T>>;

export interface Frost {
  readonly suite: Suite;
  readonly identifier: {
    /** 1, 2, 3, … as identifiers (RFC 9591's default). */
    fromNumber(n: number): Identifier;
    /** frost-rs Identifier::derive: hash an arbitrary string (e.g. a member id) to an identifier. */
    derive(s: string): Identifier;
    /** Check and return a canonical identifier. */
    parse(hex: string): Identifier;
  };
  readonly keys: {
    dealer(o: DealerOptions): DealerOutput;
    keyPackage(share: SecretShare): KeyPackage;
    readonly dkg: {
      part1(
        identifier: string,
        maxSigners: number,
        minSigners: number,
        o?: DkgPart1Options,
      ): { secretPackage: DkgRound1SecretPackage; package: DkgRound1Package };
      part2(
        secret: DkgRound1SecretPackage,
        round1: Many<DkgRound1Package>,
      ): {
        secretPackage: DkgRound2SecretPackage;
        packages: Readonly<Record<Identifier, DkgRound2Package>>;
      };
      part3(
        secret: DkgRound2SecretPackage,
        round1: Many<DkgRound1Package>,
        round2: Many<DkgRound2Package>,
      ): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage };
      /** The public key package from all n round-1 packages (what a coordinator stores). */
      publicKeyPackage(round1: Many<DkgRound1Package>, minSigners: number): PublicKeyPackage;
      /**
       * One round-1 package checked on its own (commitment length and elements, proof of
       * knowledge), as part2 checks each: for an auditor re-checking a transcript. Throws naming
       * the sender.
       */
      verifyRound1(pkg: DkgRound1Package, minSigners: number): void;
      /**
       * One round-2 share against its dealer's round-1 package (vss_verify), for whoever judges a
       * complaint about it. Throws naming the dealer (INVALID_SECRET_SHARE when it does not match).
       */
      verifyShare(
        round1: DkgRound1Package,
        share: DkgRound2Package,
        recipient: string,
        minSigners: number,
      ): void;
    };
    readonly reshare: {
      part1(
        key: KeyPackage,
        pub: PublicKeyPackage,
        params: ReshareParams,
        rng?: Rng,
      ): {
        package: ReshareRound1Package;
        shares: Readonly<Record<Identifier, ReshareRound1Share>>;
      };
      part2(
        identifier: string,
        pub: PublicKeyPackage,
        params: ReshareParams,
        packages: readonly ReshareRound1Package[],
        shares: readonly ReshareRound1Share[],
      ): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage };
      /**
       * One refresh or reshare sub-share against the package its dealer signed (vss_verify at the
       * recipient), for whoever judges a complaint about it; not the package's fit to the key
       * state. Throws naming the dealer (INVALID_SECRET_SHARE when it does not match).
       */
      verifySubShare(pkg: ReshareRound1Package, share: ReshareRound1Share, recipient: string): void;
    };
    readonly refresh: {
      /** Parameters for a refresh by these dealers; refuses a threshold change. */
      params(pub: PublicKeyPackage, dealers: readonly string[], minSigners?: number): ReshareParams;
      part1(
        key: KeyPackage,
        pub: PublicKeyPackage,
        dealers: readonly string[],
        rng?: Rng,
      ): {
        package: ReshareRound1Package;
        shares: Readonly<Record<Identifier, ReshareRound1Share>>;
      };
      part2(
        identifier: string,
        pub: PublicKeyPackage,
        dealers: readonly string[],
        packages: readonly ReshareRound1Package[],
        shares: readonly ReshareRound1Share[],
      ): { keyPackage: KeyPackage; publicKeyPackage: PublicKeyPackage };
    };
    readonly repair: {
      step1(
        helpers: readonly string[],
        helper: KeyPackage,
        lost: string,
        rng?: Rng,
      ): Readonly<Record<Identifier, Uint8Array>>;
      step2(deltas: readonly Uint8Array[]): Uint8Array;
      step3(sigmas: readonly Uint8Array[], lost: string, pub: PublicKeyPackage): KeyPackage;
    };
  };
  readonly round1: {
    commit(key: KeyPackage, rng?: Rng): { nonces: SigningNonces; commitments: SigningCommitments };
    /** Zeroize nonces that will not be used (aborted ceremony). */
    destroy(nonces: SigningNonces): void;
  };
  signingPackage(commitments: readonly SigningCommitments[], message: Uint8Array): SigningPackage;
  readonly round2: {
    sign(pkg: SigningPackage, nonces: SigningNonces, key: KeyPackage): SignatureShare;
  };
  aggregate(
    pkg: SigningPackage,
    shares: Many<SignatureShare>,
    pub: PublicKeyPackage,
    rng?: Rng,
  ): Signature;
  verifySignatureShare(share: SignatureShare, pkg: SigningPackage, pub: PublicKeyPackage): void;
  /**
   * Precomputes each signer's share-equation point for `pkg` under `pub`, so that a later
   * verifySignatureShare of the same package object costs one fixed-base multiplication. Changes no
   * result; a coordinator runs it while the signers compute their shares.
   */
  prepareShareChecks(pkg: SigningPackage, pub: PublicKeyPackage): void;
  verify(message: Uint8Array, signature: Signature | Uint8Array, verifyingKey: Uint8Array): boolean;
  readonly encode: {
    bytes<T extends EncodableType>(type: T, pkg: PackageTypeMap[T]): Uint8Array;
    json<T extends EncodableType>(type: T, pkg: PackageTypeMap[T]): Record<string, unknown>;
  };
  readonly decode: {
    bytes<T extends EncodableType>(type: T, bytes: Uint8Array): PackageTypeMap[T];
    json<T extends EncodableType>(type: T, json: unknown): PackageTypeMap[T];
  };
  /** DANGER: secret nonces out of memory, for a store that marks them consumed first. */
  exportNoncesForStorage(nonces: SigningNonces): Uint8Array;
  importNoncesFromStorage(bytes: Uint8Array): SigningNonces;
}

export function createFrost(suite: Suite): Frost {
  return Object.freeze({
    suite,
    identifier: Object.freeze({
      fromNumber: (n: number) => {
        if (!Number.isSafeInteger(n) || n < 1)
          fail('INVALID_IDENTIFIER', `identifier number must be a positive integer, got ${n}`);
        return scalarToIdentifier(suite, BigInt(n));
      },
      derive: (s: string) => scalarToIdentifier(suite, suite.HID(new TextEncoder().encode(s))),
      parse: (hex: string) => {
        identifierToScalar(suite, hex);
        return hex as Identifier;
      },
    }),
    keys: Object.freeze({
      dealer: (o: DealerOptions) => dealer(suite, o),
      keyPackage: (s: SecretShare) => keyPackageFromSecretShare(suite, s),
      dkg: Object.freeze({
        part1: (id: string, max: number, min: number, o?: DkgPart1Options) =>
          dkgPart1(suite, id, max, min, o),
        part2: (s: DkgRound1SecretPackage, r1: Many<DkgRound1Package>) => dkgPart2(suite, s, r1),
        part3: (
          s: DkgRound2SecretPackage,
          r1: Many<DkgRound1Package>,
          r2: Many<DkgRound2Package>,
        ) => dkgPart3(suite, s, r1, r2),
        publicKeyPackage: (r1: Many<DkgRound1Package>, min: number) =>
          dkgPublicKeyPackage(suite, r1, min),
        verifyRound1: (p: DkgRound1Package, min: number) => dkgVerifyRound1(suite, p, min),
        verifyShare: (r1: DkgRound1Package, share: DkgRound2Package, to: string, min: number) =>
          dkgVerifyShare(suite, r1, share, to, min),
      }),
      reshare: Object.freeze({
        part1: (k: KeyPackage, pub: PublicKeyPackage, p: ReshareParams, rng?: Rng) =>
          resharePart1(suite, k, pub, p, rng),
        part2: (
          id: string,
          pub: PublicKeyPackage,
          p: ReshareParams,
          pk: readonly ReshareRound1Package[],
          sh: readonly ReshareRound1Share[],
        ) => resharePart2(suite, id, pub, p, pk, sh),
        verifySubShare: (pkg: ReshareRound1Package, sh: ReshareRound1Share, to: string) =>
          reshareVerifySubShare(suite, pkg, sh, to),
      }),
      refresh: Object.freeze({
        params: (pub: PublicKeyPackage, dealers: readonly string[], min?: number) =>
          refreshParams(suite, pub, dealers, min),
        part1: (k: KeyPackage, pub: PublicKeyPackage, dealers: readonly string[], rng?: Rng) =>
          resharePart1(suite, k, pub, refreshParams(suite, pub, dealers), rng),
        part2: (
          id: string,
          pub: PublicKeyPackage,
          dealers: readonly string[],
          pk: readonly ReshareRound1Package[],
          sh: readonly ReshareRound1Share[],
        ) => resharePart2(suite, id, pub, refreshParams(suite, pub, dealers), pk, sh, 'refresh'),
      }),
      repair: Object.freeze({
        step1: (h: readonly string[], k: KeyPackage, lost: string, rng?: Rng) =>
          repairStep1(suite, h, k, lost, rng),
        step2: (d: readonly Uint8Array[]) => repairStep2(suite, d),
        step3: (s: readonly Uint8Array[], lost: string, pub: PublicKeyPackage) =>
          repairStep3(suite, s, lost, pub),
      }),
    }),
    round1: Object.freeze({
      commit: (k: KeyPackage, rng?: Rng) => commit(suite, k, rng),
      destroy: (n: SigningNonces) => destroyNonces(n),
    }),
    signingPackage: (c: readonly SigningCommitments[], m: Uint8Array) =>
      newSigningPackage(suite, c, m),
    round2: Object.freeze({
      sign: (p: SigningPackage, n: SigningNonces, k: KeyPackage) => sign(suite, p, n, k),
    }),
    aggregate: (p: SigningPackage, s: Many<SignatureShare>, pub: PublicKeyPackage, rng?: Rng) =>
      aggregate(suite, p, s as readonly SignatureShare[], pub, rng),
    verifySignatureShare: (s: SignatureShare, p: SigningPackage, pub: PublicKeyPackage) =>
      verifySignatureShare(suite, s, p, pub),
    prepareShareChecks: (p: SigningPackage, pub: PublicKeyPackage) =>
      prepareShareChecks(suite, p, pub),
    verify: (m: Uint8Array, s: Signature | Uint8Array, vk: Uint8Array) => verify(suite, m, s, vk),
    encode: Object.freeze({
      bytes: <T extends EncodableType>(t: T, p: PackageTypeMap[T]) => encodeBytes(suite, t, p),
      json: <T extends EncodableType>(t: T, p: PackageTypeMap[T]) => encodeJson(suite, t, p),
    }),
    decode: Object.freeze({
      bytes: <T extends EncodableType>(t: T, b: Uint8Array) => decodeBytes(suite, t, b),
      json: <T extends EncodableType>(t: T, j: unknown) => decodeJson(suite, t, j),
    }),
    exportNoncesForStorage: (n: SigningNonces) => exportNoncesForStorage(suite, n),
    importNoncesFromStorage: (b: Uint8Array) => importNoncesFromStorage(suite, b),
  });
}

export const ed25519: Frost = createFrost(ed25519Suite);
export const ristretto255: Frost = createFrost(ristretto255Suite);
export const ed448: Frost = createFrost(ed448Suite);
export const p256: Frost = createFrost(p256Suite);
export const secp256k1: Frost = createFrost(secp256k1Suite);
export const secp256k1Taproot: Frost = createFrost(secp256k1TaprootSuite);

export const ALL: readonly Frost[] = Object.freeze([
  ed25519,
  ristretto255,
  ed448,
  p256,
  secp256k1,
  secp256k1Taproot,
]);

export function frostFor(name: string): Frost {
  const f = ALL.find((x) => x.suite.name === name || x.suite.id === name);
  if (!f) fail('WRONG_CIPHERSUITE', `unknown ciphersuite ${name}`);
  return f;
}
