// An approver's own signature on its approval, separate from the envelope it travels in, so the
// coordinator can show it to the signers: `sign.package` carries one per approver it lists, and
// each signer verifies them against the roster it holds before signing a statement that names those
// approvers. Without it the approver list was the coordinator's word: it could name a member who
// never approved, and so satisfy a policy quorum above the key's threshold with fewer people.
import { bytesToHex, hexToBytes } from './hex.js';
import { domainEncode } from './encoding.js';
import { signIdentity, verifyIdentity, type IdentityKey } from './identity.js';

/** The bytes an approval signature covers: the ceremony, the approver, the request digest (hex). */
export function approvalSigningBytes(
  ceremonyId: string,
  member: string,
  requestDigest: string,
): Uint8Array {
  return domainEncode('sign-approval', [ceremonyId, member, requestDigest]);
}

/** `member`'s approval signature (hex) of the request whose digest is `requestDigest` (hex). */
export function signApproval(
  key: IdentityKey,
  ceremonyId: string,
  member: string,
  requestDigest: string,
): string {
  return bytesToHex(signIdentity(key, approvalSigningBytes(ceremonyId, member, requestDigest)));
}

/** True when `signature` (hex) is `member`'s approval of `requestDigest` in `ceremonyId`. */
export function verifyApproval(
  identityKey: Uint8Array,
  ceremonyId: string,
  member: string,
  requestDigest: string,
  signature: string,
): boolean {
  let sig: Uint8Array;
  try {
    sig = hexToBytes(signature, 64);
  } catch {
    return false;
  }
  return verifyIdentity(identityKey, approvalSigningBytes(ceremonyId, member, requestDigest), sig);
}
