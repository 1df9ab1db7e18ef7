// Names on the wire. ASCII only and short, so they are unambiguous in logs, CLIs and signatures.
import { randomBytes } from '@noble/hashes/utils.js';
import * as z from 'zod';
import { describeRefusedCharacter, findRefusedCharacter } from './display-text.js';

/** Sender id of the coordinator's own messages. */
export const COORDINATOR_ID = 'coordinator';
/** Sender id of messages signed by the admin key. */
export const ADMIN_ID = 'admin';
export const RESERVED_IDS: readonly string[] = [COORDINATOR_ID, ADMIN_ID];

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** A member name, as given to `conclave member add NAME`: 1–32 of [a-z0-9_-], not reserved. */
export const MemberIdSchema = z
  .string()
  .regex(NAME_RE, { error: 'expected 1-32 characters of [a-z0-9_-]' })
  .refine((id) => !RESERVED_IDS.includes(id), { error: 'reserved name' });
export type MemberId = z.infer<typeof MemberIdSchema>;

/** Who signed an envelope: a member, the admin key or the coordinator. */
export const SenderIdSchema = z
  .string()
  .regex(NAME_RE, { error: 'expected 1-32 characters of [a-z0-9_-]' });
export type SenderId = z.infer<typeof SenderIdSchema>;

/** A group name: same alphabet as members. */
export const GroupNameSchema = z
  .string()
  .regex(NAME_RE, { error: 'expected 1-32 characters of [a-z0-9_-]' });

/**
 * A ceremony id, also the scope id of admin operations: 8–64 of [A-Za-z0-9_-]. Chosen by whoever
 * opens the scope (requester, admin) from ≥ 128 random bits; `newCeremonyId()` makes one.
 */
export const CeremonyIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, { error: 'expected 8-64 characters of [A-Za-z0-9_-]' });
export type CeremonyId = z.infer<typeof CeremonyIdSchema>;

/** An envelope round label, e.g. `dkg.round1` or `sign.s2.round2`. */
export const RoundSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, { error: 'expected 1-64 characters of [a-z0-9._:-]' });

/** Envelope sequence number: per sender and ceremony, a non-negative safe integer. */
export const SeqSchema = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Milliseconds since the Unix epoch (informational unless the coordinator set it). */
export const TimestampSchema = z.int().min(0).max(8_640_000_000_000_000);

/** A FROST signing session counter within one ceremony (ROAST may run several). */
export const SessionSchema = z.int().min(1).max(1024);

/**
 * A short human text: bounded, and only characters that display as themselves (no C0/C1
 * controls, bidi or other invisible format characters, separators, unpaired surrogates or
 * noncharacters; see display-text.ts). `allowNewline`: multi-line text (a git tag message).
 */
export function text(maxLength: number, minLength = 0, options: { allowNewline?: boolean } = {}) {
  return z
    .string()
    .min(minLength)
    .max(maxLength)
    .superRefine((value, ctx) => {
      const found = findRefusedCharacter(value, options);
      if (found !== undefined) {
        ctx.addIssue({ code: 'custom', message: describeRefusedCharacter(found) });
      }
    });
}

/** A fresh ceremony id: `c_` + 32 hex characters (128 random bits). */
export function newCeremonyId(): string {
  return `c_${Buffer.from(randomBytes(16)).toString('hex')}`;
}
