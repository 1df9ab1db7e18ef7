// Signed envelopes (THREATS C36, principle 2 of DESIGN.md): every sealed message is signed by
// its sender's identity key over
//   lp("conclave/v1/envelope") || lp(ceremonyId) || lp(round) || lp(u64be(seq)) || lp(sender)
//   || lp(SHA-256(canonicalJson(body)))
// so a message cannot move to another ceremony, round, position or sender, nor change its body.
import { sha256 } from '@conclave/frost';
import { canonicalJson } from './canonical-json.js';
import { domainEncode, u64be, utf8Bytes } from './encoding.js';
import { ProtocolError, fail, ok, type Result } from './errors.js';
import { bytesToHex, hexToBytes } from './hex.js';
import { signIdentity, verifyIdentity, type IdentityKey } from './identity.js';
import {
  EnvelopeSchema,
  MESSAGE_RULES,
  roleOf,
  type Envelope,
  type SealedBody,
} from './message.js';

export interface EnvelopeFields<B extends SealedBody = SealedBody> {
  readonly ceremonyId: string;
  readonly round: string;
  readonly seq: number;
  readonly sender: string;
  readonly body: B;
}

/** An envelope whose body type is known statically. */
export type EnvelopeWith<B extends SealedBody> = Omit<Envelope, 'body'> & { body: B };

export interface OpenedEnvelope<B extends SealedBody = SealedBody> extends EnvelopeFields<B> {
  /** SHA-256 of the canonical body: what transcripts and acks refer to. */
  readonly bodyHash: Uint8Array;
}

/** SHA-256 of the canonical JSON (RFC 8785 style) of a body. */
export function bodyHash(body: SealedBody): Uint8Array {
  return sha256(utf8Bytes(canonicalJson(body)));
}

/** The exact bytes an envelope signature covers. */
export function envelopeSigningBytes(fields: EnvelopeFields): Uint8Array {
  return domainEncode('envelope', [
    fields.ceremonyId,
    fields.round,
    u64be(fields.seq),
    fields.sender,
    bodyHash(fields.body),
  ]);
}

/**
 * Signs `fields` with `key`. Validates them first, so nothing malformed is ever signed; throws
 * ProtocolError INVALID_MESSAGE (with the path) if they do not match the envelope schema.
 */
export function sealEnvelope<B extends SealedBody>(
  key: IdentityKey,
  fields: EnvelopeFields<B>,
): EnvelopeWith<B> {
  const draft = {
    type: 'envelope' as const,
    ceremonyId: fields.ceremonyId,
    round: fields.round,
    seq: fields.seq,
    sender: fields.sender,
    body: fields.body,
    signature: '0'.repeat(128),
  };
  const parsed = EnvelopeSchema.safeParse(draft);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue === undefined) {
      throw new ProtocolError('INVALID_MESSAGE', 'envelope fields do not match the schema');
    }
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    // Zod's messages describe the schema, not the value (as in parse.ts), except unrecognized_keys.
    const why = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message.slice(0, 200);
    throw new ProtocolError(
      'INVALID_MESSAGE',
      `envelope fields do not match the schema: ${path.join('.')}: ${why}`,
      path,
    );
  }
  const { signature: _placeholder, ...unsigned } = parsed.data;
  const signature = signIdentity(key, envelopeSigningBytes(unsigned));
  // The schema has no transforms, so the parsed body is the given body, checked.
  return { ...parsed.data, body: parsed.data.body as B, signature: bytesToHex(signature) };
}

/** Looks up a sender's identity public key; undefined when unknown. */
export type KeyLookup = (sender: string) => Uint8Array | undefined;

export interface OpenOptions {
  /** The authenticated sender of the connection: any other envelope sender is refused. */
  readonly sender?: string;
  /** The ceremony this envelope must belong to. */
  readonly ceremonyId?: string;
}

/**
 * Verifies an envelope and returns its fields. Codes: INVALID_MESSAGE (shape), FORBIDDEN (the
 * sender's role may not send this type), IDENTIFIER_MISMATCH (sender ≠ authenticated sender),
 * UNEXPECTED_MESSAGE (other ceremony), UNKNOWN_MEMBER (no key), BAD_ENVELOPE_SIGNATURE.
 */
export function openEnvelope(
  envelope: Envelope,
  lookupKey: KeyLookup,
  options: OpenOptions = {},
): Result<OpenedEnvelope> {
  const parsed = EnvelopeSchema.safeParse(envelope);
  if (!parsed.success) return fail('INVALID_MESSAGE', 'not a valid envelope');
  const env = parsed.data;
  const allowed: readonly string[] = MESSAGE_RULES[env.body.type].from;
  if (!allowed.includes(roleOf(env.sender))) {
    return fail('FORBIDDEN', `sender may not send ${env.body.type}`, ['sender']);
  }
  if (options.sender !== undefined && options.sender !== env.sender) {
    return fail('IDENTIFIER_MISMATCH', 'envelope sender is not the authenticated sender', [
      'sender',
    ]);
  }
  if (options.ceremonyId !== undefined && options.ceremonyId !== env.ceremonyId) {
    return fail('UNEXPECTED_MESSAGE', 'envelope belongs to another ceremony', ['ceremonyId']);
  }
  const publicKey = lookupKey(env.sender);
  if (publicKey === undefined) return fail('UNKNOWN_MEMBER', 'no identity key for sender');
  const fields = {
    ceremonyId: env.ceremonyId,
    round: env.round,
    seq: env.seq,
    sender: env.sender,
    body: env.body,
  };
  const signature = hexToBytes(env.signature);
  if (!verifyIdentity(publicKey, envelopeSigningBytes(fields), signature)) {
    return fail('BAD_ENVELOPE_SIGNATURE', 'envelope signature does not verify', ['signature']);
  }
  return ok({ ...fields, bodyHash: bodyHash(fields.body) });
}
