/**
 * OpenBSD signify: the embedded (`-e`) signature of a BSD-style checksum list, as OpenBSD ships
 * SHA256.sig; `signify -C` verifies the list's signature and then each named file's line.
 */
import { concat, toBase64, utf8 } from './encoding.js';
import { fail } from './errors.js';
import { keynum } from './minisign.js';
import type { ArtifactRef } from './types.js';
import { checkArtifactName } from './validate.js';

export const SIGNIFY_ALG = utf8('Ed');
export const SIGNIFY_SIG_FILE = 'SHA256.sig';
export const SIGNIFY_KEY_FILE = 'signify.pub';

/**
 * One `SHA256 (name) = hex` line per artifact. signify parses the name as `(%[^)])`, so a name
 * containing `)` cannot be listed (it makes signify reject the whole list).
 */
export function signifyChecksumList(
  artifacts: readonly Pick<ArtifactRef, 'name' | 'sha256'>[],
): Uint8Array {
  let out = '';
  for (const a of artifacts) {
    checkArtifactName(a.name);
    if (a.name.includes(')')) {
      fail(
        'ARTIFACT_NAME_INVALID',
        `signify cannot list ${JSON.stringify(a.name)}: names may not contain ")"`,
      );
    }
    out += `SHA256 (${a.name}) = ${a.sha256}\n`;
  }
  return utf8(out);
}

export function signifyPublicKeyFile(a: Uint8Array, group: string): string {
  return `untrusted comment: conclave group ${group} public key\n${toBase64(concat(SIGNIFY_ALG, keynum(a), a))}\n`;
}

/** Embedded form: comment line, base64("Ed" ‖ keynum ‖ sig) line, then the signed message itself. */
export function signifySignatureFile(
  a: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
  keyFile = SIGNIFY_KEY_FILE,
): Uint8Array {
  const head = `untrusted comment: verify with ${keyFile}\n${toBase64(concat(SIGNIFY_ALG, keynum(a), signature))}\n`;
  return concat(utf8(head), message);
}
