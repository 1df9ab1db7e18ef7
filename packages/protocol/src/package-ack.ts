// Signed acknowledgement of the signing package a signer is about to sign (THREATS A7): with
// these in the transcript an auditor can prove a coordinator showed different packages.
import { sha256 } from '@conclave/frost';
import { domainEncode, u32be } from './encoding.js';
import { bytesToHex, hexToBytes } from './hex.js';
import { signIdentity, verifyIdentity, type IdentityKey } from './identity.js';
import type { PackageAck } from './messages/sign.js';

/** H(signing package): plain SHA-256 of its bytes, easy to recompute anywhere. */
export function signingPackageHash(signingPackage: Uint8Array): Uint8Array {
  return sha256(signingPackage);
}

/**
 * H(public key package): plain SHA-256 of its encoding (frost-rs serialization, as share files
 * and audit bundles hold it in hex), which `sign.package` and `round2.share` name as hex.
 */
export function publicKeyPackageHash(publicKeyPackage: Uint8Array): string {
  return bytesToHex(sha256(publicKeyPackage));
}

/**
 * What a signer acknowledges for a session that signs several jobs: the concatenated SHA-256 of
 * each job's encoded signing package, in job order. `signPackageAck` hashes it once more.
 */
export function sessionPackagesBytes(packages: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(32 * packages.length);
  packages.forEach((p, i) => out.set(sha256(p), 32 * i));
  return out;
}

export interface AckContext {
  readonly ceremonyId: string;
  readonly session: number;
  readonly member: string;
}

export function packageAckBytes(context: AckContext, packageHash: Uint8Array): Uint8Array {
  return domainEncode('package-ack', [
    context.ceremonyId,
    u32be(context.session),
    context.member,
    packageHash,
  ]);
}

export function signPackageAck(
  key: IdentityKey,
  context: AckContext,
  signingPackage: Uint8Array,
): PackageAck {
  const packageHash = signingPackageHash(signingPackage);
  const signature = signIdentity(key, packageAckBytes(context, packageHash));
  return { packageHash: bytesToHex(packageHash), signature: bytesToHex(signature) };
}

/** True iff `ack` is `context.member`'s signature over H(`signingPackage`). */
export function verifyPackageAck(
  publicKey: Uint8Array,
  context: AckContext,
  signingPackage: Uint8Array,
  ack: PackageAck,
): boolean {
  const expected = bytesToHex(signingPackageHash(signingPackage));
  if (ack.packageHash !== expected) return false;
  return verifyIdentity(
    publicKey,
    packageAckBytes(context, hexToBytes(expected)),
    hexToBytes(ack.signature),
  );
}
