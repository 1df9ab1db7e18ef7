// Handshake and error messages: sent bare (not in an envelope), before or outside ceremonies.
import * as z from 'zod';
import { ERROR_CODES } from '../errors.js';
import { Sha256HexSchema, SignatureHexSchema } from '../hex.js';
import { CeremonyIdSchema, SenderIdSchema, TimestampSchema, text } from '../ids.js';

const VersionSchema = z.int().min(0).max(65535);

/** client → coordinator: first frame on a connection. */
export const HelloSchema = z.strictObject({
  type: z.literal('hello'),
  protocolVersion: VersionSchema,
  client: text(64).optional(),
});

/** coordinator → client: a single-use random challenge to sign. */
export const AuthChallengeSchema = z.strictObject({
  type: z.literal('auth.challenge'),
  protocolVersion: VersionSchema,
  challenge: Sha256HexSchema,
  origin: text(256, 1),
  expiresAt: TimestampSchema,
});

/** client → coordinator: Ed25519 signature over the auth transcript (see handshake.ts). */
export const AuthResponseSchema = z.strictObject({
  type: z.literal('auth.response'),
  member: SenderIdSchema,
  challenge: Sha256HexSchema,
  signature: SignatureHexSchema,
});

/** coordinator → client: authenticated as `member`. */
export const AuthOkSchema = z.strictObject({
  type: z.literal('auth.ok'),
  member: SenderIdSchema,
});

/** coordinator → client: a coded refusal. `message` is fixed text, never input. */
export const ErrorMessageSchema = z.strictObject({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: text(512),
  ceremonyId: CeremonyIdSchema.optional(),
});

export type Hello = z.infer<typeof HelloSchema>;
export type AuthChallenge = z.infer<typeof AuthChallengeSchema>;
export type AuthResponse = z.infer<typeof AuthResponseSchema>;
export type AuthOk = z.infer<typeof AuthOkSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;
