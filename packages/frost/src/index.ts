/**
 * @conclave/frost — FROST (RFC 9591) threshold Schnorr signatures for Conclave, built on
 * @noble/curves' createFROST. See docs/frost.md.
 */
export {
  createFrost,
  ed25519,
  ristretto255,
  ed448,
  p256,
  secp256k1,
  secp256k1Taproot,
  ALL,
  frostFor,
} from './frost.js';
export type { Frost } from './frost.js';
export { FrostError, FROST_ERROR_CODES, isFrostError } from './errors.js';
export type { FrostErrorCode } from './errors.js';
export {
  SUITES,
  suiteById,
  ed25519Suite,
  ristretto255Suite,
  ed448Suite,
  p256Suite,
  secp256k1Suite,
  secp256k1TaprootSuite,
} from './suite.js';
export type { Suite, SuiteName } from './suite.js';
export { ENCODING_VERSION, PACKAGE_TYPES } from './encoding.js';
export type { EncodableType, PackageTypeMap } from './encoding.js';
export { ed25519Spki, nativeEd25519Sign, nativeEd25519Verify } from './native.js';
export { makeSha2, sha256, sha512 } from './hash.js';
/** RFC 9591 §4.2 derive_interpolating_value (at x = 0, or any x): for checks on public data. */
export { lagrangeAt } from './group.js';
export type { DealerOptions, DealerOutput } from './keys/dealer.js';
export type { DkgPart1Options } from './keys/dkg.js';
export type { ReshareParams } from './keys/reshare.js';
export type * from './types.js';
