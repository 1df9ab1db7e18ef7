/** Input checks shared by the builders: every name that ends up in a file or a signed text. */
import { fail } from './errors.js';
import { fromHex } from './encoding.js';
import type { ArtifactRef } from './types.js';

const GROUP_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Group names as in the protocol's `GroupNameSchema`: safe in an SSH principal and an e-mail. */
export function checkGroup(group: string): void {
  if (!GROUP_RE.test(group)) {
    fail(
      'GROUP_NAME_INVALID',
      `group name must be 1-32 characters of [a-z0-9_-], got ${JSON.stringify(group)}`,
    );
  }
}

export function checkPublicKey(a: Uint8Array): void {
  if (!(a instanceof Uint8Array) || a.length !== 32) {
    fail('PUBLIC_KEY_INVALID', `the group public key must be 32 bytes, got ${a?.length}`);
  }
}

/**
 * C0 and DEL only, on purpose: these checks keep the file formats intact (one-line, tab-separated
 * minisign comments; file names), not displayed text. Display safety (C1, bidi, invisible format
 * characters, separators, lone surrogates, noncharacters: @conclave/protocol findRefusedCharacter)
 * is checked before text reaches this package: every production caller builds formats from a
 * release that passed the protocol's ReleaseSchema (artifact names and notes are its text(), the
 * version an ASCII pattern, ceremony ids CeremonyIdSchema) — the coordinator from the sign.request,
 * a signer from the request it reviewed, audit from the envelopes it opened, the CLI's fetch from
 * that verified request, whose names the quorum's signatures cover — and the untrusted comment is
 * made of a checked group name and hex. release may import only frost (DESIGN.md), so it does not
 * repeat the protocol's rule; a new caller with text from elsewhere must check it first.
 */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * A file name, not a path (the protocol's `ArtifactNameSchema`): output files are `<name>.<ext>`,
 * and names are written into minisign trusted comments (tab-separated, one line) and signify lists.
 */
export function checkArtifactName(name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 255 ||
    hasControl(name) ||
    /[/\\]/.test(name) ||
    name === '.' ||
    name === '..'
  ) {
    fail(
      'ARTIFACT_NAME_INVALID',
      `artifact name ${JSON.stringify(name)} must be a file name (1-255 characters, no path separator, tab or newline)`,
    );
  }
  // The protocol's rule (ArtifactNameSchema): printable ASCII, no space at either end, so a name a
  // person approves cannot pass for another (Cyrillic "а" U+0430 for Latin "a").
  let position = 0;
  for (const char of name) {
    position++;
    const cp = char.codePointAt(0)!;
    if (cp > 0x7e) {
      fail(
        'ARTIFACT_NAME_INVALID',
        `artifact names must be printable ASCII; character ${position} (U+${cp.toString(16).toUpperCase().padStart(4, '0')}) is not: rename the file`,
      );
    }
  }
  if (name.startsWith(' ') || name.endsWith(' '))
    fail(
      'ARTIFACT_NAME_INVALID',
      'an artifact name may not begin or end with a space: rename the file',
    );
}

export function checkArtifacts(artifacts: readonly ArtifactRef[]): void {
  const seen = new Set<string>();
  for (const a of artifacts) {
    checkArtifactName(a.name);
    if (seen.has(a.name)) fail('ARTIFACT_DUPLICATE', `artifact ${a.name} is listed twice`);
    seen.add(a.name);
    if (!fromHex(a.sha256, 32) || !fromHex(a.sha512, 64) || !fromHex(a.blake2b512, 64)) {
      fail(
        'ARTIFACT_DIGEST_INVALID',
        `artifact ${a.name}: sha256 must be 64 and sha512/blake2b512 128 lowercase hex characters`,
      );
    }
  }
}

/** A single-line text for minisign's trusted comment: no control characters at all. */
export function checkCommentField(field: string, value: string): void {
  if (hasControl(value)) {
    fail(
      'TRUSTED_COMMENT_INVALID',
      `${field} ${JSON.stringify(value)} contains a tab, newline or other control character`,
    );
  }
}

export function checkUnixTime(field: string, t: number): void {
  if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) {
    fail('TIME_INVALID', `${field} must be unix seconds in [0, 2^32), got ${t}`);
  }
}
