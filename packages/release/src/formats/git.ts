/**
 * git annotated tags signed with SSHSIG (gpg.format=ssh): the payload is the tag object text, the
 * stored object is payload ‖ armored SSHSIG over it with namespace `git`
 * (git's `sign_buffer` / `parse_signature`; `git verify-tag` splits at the armor line).
 */
import { concat, utf8 } from './encoding.js';
import { fail } from './errors.js';
import type { GitTagInput } from './types.js';
import { checkUnixTime } from './validate.js';

function check(input: GitTagInput): void {
  const bad = (what: string) => fail('GIT_TAG_INVALID', `git tag: ${what}`);
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(input.object))
    bad('object must be 40 or 64 lowercase hex');
  if (input.type !== 'commit') bad('type must be commit');
  // git check-ref-format essentials plus the protocol's `GitTagSchema` alphabet.
  if (
    !/^[0-9A-Za-z][0-9A-Za-z._/+-]{0,127}$/.test(input.tag) ||
    /\.\.|\/\/|\/\.|\.lock$|\.$|\/$/.test(input.tag)
  ) {
    bad(`tag name ${JSON.stringify(input.tag)} is not a valid ref name`);
  }
  const { name, email, time, tz } = input.tagger;
  if (name.length === 0 || /[<>\n\0]/.test(name) || name !== name.trim())
    bad('tagger name must not contain <, > or newline');
  if (email.length === 0 || /[<>\s\0]/.test(email))
    bad('tagger email must not contain <, > or whitespace');
  checkUnixTime('tagger time', time);
  if (!/^[+-][0-9]{4}$/.test(tz)) bad('tagger tz must be +HHMM or -HHMM');
  if (input.message.includes('\0') || input.message.includes('-----BEGIN')) {
    bad('message must not contain NUL or an armor line');
  }
  if (input.message.trim().length === 0) bad('message must not be empty');
}

/**
 * The tag object text git hashes (`git cat-file tag`): header lines, a blank line, the message
 * (always ending in one newline, as `git tag -m` writes it).
 */
export function gitTagPayload(input: GitTagInput): Uint8Array {
  check(input);
  const msg = input.message.endsWith('\n') ? input.message : `${input.message}\n`;
  const t = input.tagger;
  return utf8(
    `object ${input.object}\ntype ${input.type}\ntag ${input.tag}\n` +
      `tagger ${t.name} <${t.email}> ${t.time} ${t.tz}\n\n${msg}`,
  );
}

/**
 * The payload (what the quorum signs with SSHSIG namespace `git`) and the object to store with
 * `git hash-object -t tag -w --stdin` (payload ‖ armored SSHSIG, or just the payload unsigned).
 */
export function gitTagObject(
  input: GitTagInput,
  armoredSignature?: Uint8Array | string,
): { payload: Uint8Array; object: Uint8Array } {
  const payload = gitTagPayload(input);
  if (armoredSignature === undefined) return { payload, object: payload };
  const sig = typeof armoredSignature === 'string' ? utf8(armoredSignature) : armoredSignature;
  return { payload, object: concat(payload, sig) };
}
