// Decoded FROST packages, cached by their hex. Decoding validates every element (≈1 ms per point on
// Ed25519), and @conclave/frost caches parsed points and binding factors per package object, so
// handing it the same object for every share of a session, and the same public key package for
// every session of a group, turns per-share re-validation into a lookup. Bounded; entries are
// public data only. Also the hash of a public key package that every sign.package and share names.
import { ed25519 as frost } from '@conclave/frost';
import type { PublicKeyPackage, SigningCommitments, SigningPackage } from '@conclave/frost';
import { hexToBytes, publicKeyPackageHash } from '@conclave/protocol';

const LIMIT = 4096;

interface Cache<T> {
  (hex: string): T;
  /** Seed with an object this process built itself (already valid), under its encoding. */
  remember(hex: string, value: T): void;
  /** The cached object, without decoding on a miss. */
  peek(hex: string): T | undefined;
}

function cached<T>(decode: (hex: string) => T): Cache<T> {
  const map = new Map<string, T>();
  const put = (hex: string, value: T) => {
    map.set(hex, value);
    if (map.size > LIMIT) map.delete(map.keys().next().value as string);
  };
  const get = (hex: string): T => {
    const hit = map.get(hex);
    if (hit !== undefined) {
      // Refresh recency (Map keeps insertion order).
      map.delete(hex);
      map.set(hex, hit);
      return hit;
    }
    const value = decode(hex);
    put(hex, value);
    return value;
  };
  return Object.assign(get, { remember: put, peek: (hex: string) => map.get(hex) });
}

export const decodeSigningPackage: Cache<SigningPackage> = cached((hex) =>
  frost.decode.bytes('SigningPackage', hexToBytes(hex)),
);

export const decodePublicKeyPackage: Cache<PublicKeyPackage> = cached((hex) =>
  frost.decode.bytes('PublicKeyPackage', hexToBytes(hex)),
);

/** H(public key package), by the package's hex: what `sign.package` and `round2.share` name. */
export const publicKeyPackageHashOf: Cache<string> = cached((hex) =>
  publicKeyPackageHash(hexToBytes(hex)),
);

export const decodeSigningCommitments: Cache<SigningCommitments> = cached((hex) =>
  frost.decode.bytes('SigningCommitments', hexToBytes(hex)),
);
