/**
 * OpenSSH SSHSIG (PROTOCOL.sshsig): the signed-data blob the quorum signs and the armored signature
 * `ssh-keygen -Y verify` reads. Hash is always sha512; the reserved field is empty.
 */
import { concat, sshString, toBase64, utf8, wrap } from './encoding.js';

export const SSHSIG_MAGIC = utf8('SSHSIG');
export const SSHSIG_VERSION = 1;
export const SSHSIG_BEGIN = '-----BEGIN SSH SIGNATURE-----';
export const SSHSIG_END = '-----END SSH SIGNATURE-----';
/** Namespace for files (`ssh-keygen -Y sign -n file`). */
export const SSHSIG_FILE_NAMESPACE = 'file';
/** Namespace git uses for commits and tags. */
export const SSHSIG_GIT_NAMESPACE = 'git';

/** RFC 8709 §4 public key blob: string("ssh-ed25519") ‖ string(A). */
export function sshPublicKeyBlob(a: Uint8Array): Uint8Array {
  return concat(sshString('ssh-ed25519'), sshString(a));
}

/** An OpenSSH public key line: `ssh-ed25519 AAAA… comment`. */
export function sshPublicKeyLine(a: Uint8Array, comment?: string): string {
  return `ssh-ed25519 ${toBase64(sshPublicKeyBlob(a))}${comment ? ` ${comment}` : ''}`;
}

/**
 * PROTOCOL.sshsig §"Signed Data": MAGIC_PREAMBLE ‖ string(namespace) ‖ string(reserved="")
 * ‖ string(hash_algorithm) ‖ string(H(message)). This is what the quorum signs.
 */
export function sshsigSignedData(
  namespace: string,
  digest: Uint8Array,
  hashAlgorithm: 'sha512' | 'sha256' = 'sha512',
): Uint8Array {
  return concat(
    SSHSIG_MAGIC,
    sshString(namespace),
    sshString(''),
    sshString(hashAlgorithm),
    sshString(digest),
  );
}

/** PROTOCOL.sshsig §"Blob format", signature = string("ssh-ed25519") ‖ string(R‖S). */
export function sshsigBlob(
  a: Uint8Array,
  namespace: string,
  signature: Uint8Array,
  hashAlgorithm: 'sha512' | 'sha256' = 'sha512',
): Uint8Array {
  const u32 = Uint8Array.of(0, 0, 0, SSHSIG_VERSION);
  return concat(
    SSHSIG_MAGIC,
    u32,
    sshString(sshPublicKeyBlob(a)),
    sshString(namespace),
    sshString(''),
    sshString(hashAlgorithm),
    sshString(concat(sshString('ssh-ed25519'), sshString(signature))),
  );
}

/** PROTOCOL.sshsig §"Armored format": base64 wrapped at 70 columns. */
export function sshsigArmor(blob: Uint8Array): string {
  return `${SSHSIG_BEGIN}\n${wrap(toBase64(blob), 70).join('\n')}\n${SSHSIG_END}\n`;
}
