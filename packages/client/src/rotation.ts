// Key rotation's transition statement (docs/lifecycle.md "Rotation", THREATS B.30): after a new
// group key is made by DKG, a quorum of the OLD key and a quorum of the NEW key each sign the same
// statement — "from `time` on, releases of this group are signed by the new key; the old key signs
// nothing dated later" — so a verifier who trusts the old key can follow the rotation offline.
//
// Wire form: a DSSE envelope (one payload, two signatures). Signed bytes: DSSE v1 PAE of
// TRANSITION_PAYLOAD_TYPE and the canonical JSON of the statement — the same construction as
// release statements, with another payload type, so a transition can never pass as a release.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ed25519Spki } from '@conclave/frost';
import { GroupNameSchema, MemberIdSchema, hexToBytes } from '@conclave/protocol';
import { canonicalJson, pae } from '@conclave/release';
import { z } from 'zod';
import { ClientError } from './errors.js';

export const TRANSITION_TYPE = 'https://conclave.dev/KeyTransition/v1';
export const TRANSITION_PAYLOAD_TYPE = 'application/vnd.conclave.key-transition+json';

const KeyHex = z.string().regex(/^[0-9a-f]{64}$/, 'expected an Ed25519 public key as 64 hex');

export const TransitionKeySchema = z.strictObject({
  group: GroupNameSchema,
  /** The group's Ed25519 public key (the one `allowed_signers` / the PEM file holds). */
  publicKey: KeyHex,
  /** Key epoch of the shares that will sign (informational: the public key never changes). */
  epoch: z.int().min(0),
  threshold: z.int().min(2),
  members: z.array(MemberIdSchema).min(2),
});

export const TransitionStatementSchema = z.strictObject({
  _type: z.literal(TRANSITION_TYPE),
  oldKey: TransitionKeySchema,
  newKey: TransitionKeySchema,
  /** RFC 3339 UTC. The old key signs nothing issued after this instant. */
  time: z.iso.datetime(),
  reason: z.string().min(1).max(512),
  /** The DKG ceremony that made the new key. */
  rotationCeremony: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
});
export type TransitionKey = z.infer<typeof TransitionKeySchema>;
export type TransitionStatement = z.infer<typeof TransitionStatementSchema>;

export const TransitionEnvelopeSchema = z.strictObject({
  payloadType: z.literal(TRANSITION_PAYLOAD_TYPE),
  payload: z.base64(),
  signatures: z.array(z.strictObject({ keyid: z.string().max(128), sig: z.base64() })).max(2),
});
export type TransitionEnvelope = z.infer<typeof TransitionEnvelopeSchema>;

export function buildTransitionStatement(input: {
  oldKey: TransitionKey;
  newKey: TransitionKey;
  time: Date;
  reason: string;
  rotationCeremony: string;
}): TransitionStatement {
  if (input.oldKey.publicKey === input.newKey.publicKey) {
    throw new ClientError('INVALID_ARGUMENT', 'a rotation needs a new key; use reshare to keep it');
  }
  return TransitionStatementSchema.parse({
    _type: TRANSITION_TYPE,
    oldKey: input.oldKey,
    newKey: input.newKey,
    time: input.time.toISOString(),
    reason: input.reason,
    rotationCeremony: input.rotationCeremony,
  });
}

/** The exact bytes both quorums sign: DSSE PAE(TRANSITION_PAYLOAD_TYPE, canonical JSON). */
export function transitionMessage(statement: TransitionStatement): Uint8Array {
  const checked = TransitionStatementSchema.parse(statement);
  return pae(TRANSITION_PAYLOAD_TYPE, new TextEncoder().encode(canonicalJson(checked)));
}

const keyid = (role: 'old' | 'new', publicKey: string) => `${role}:${publicKey}`;

/** The envelope, with whatever signatures exist so far (none straight after `group rotate`). */
export function transitionEnvelope(
  statement: TransitionStatement,
  signatures: { old?: Uint8Array; new?: Uint8Array } = {},
): TransitionEnvelope {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  const sigs: TransitionEnvelope['signatures'] = [];
  if (signatures.old !== undefined)
    sigs.push({ keyid: keyid('old', statement.oldKey.publicKey), sig: b64(signatures.old) });
  if (signatures.new !== undefined)
    sigs.push({ keyid: keyid('new', statement.newKey.publicKey), sig: b64(signatures.new) });
  return {
    payloadType: TRANSITION_PAYLOAD_TYPE,
    payload: b64(new TextEncoder().encode(canonicalJson(statement))),
    signatures: sigs,
  };
}

export interface TransitionCheck {
  readonly statement: TransitionStatement;
  readonly oldSigned: boolean;
  readonly newSigned: boolean;
  /** Both quorums signed: a verifier trusting the old key may now trust the new one. */
  readonly valid: boolean;
}

const verifyEd25519 = (publicKey: string, message: Uint8Array, sig: Uint8Array): boolean => {
  if (sig.length !== 64) return false;
  try {
    const key = createPublicKey({
      key: Buffer.from(ed25519Spki(hexToBytes(publicKey))),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, message, key, sig);
  } catch {
    return false;
  }
};

/**
 * Verifier side: parse the envelope, rebuild the signed bytes, check the old key's and the new
 * key's signatures (Node's crypto, i.e. OpenSSL). `trustedOldKey` pins the key the verifier
 * trusted before; a statement about another old key is refused.
 */
export function verifyTransition(envelope: unknown, trustedOldKey?: string): TransitionCheck {
  const env = TransitionEnvelopeSchema.safeParse(envelope);
  if (!env.success)
    throw new ClientError('INVALID_ARGUMENT', 'not a Conclave key transition envelope');
  let statement: TransitionStatement;
  try {
    const text = Buffer.from(env.data.payload, 'base64').toString('utf8');
    statement = TransitionStatementSchema.parse(JSON.parse(text));
    if (canonicalJson(statement) !== text) throw new Error('not canonical');
  } catch {
    throw new ClientError(
      'INVALID_ARGUMENT',
      'the transition payload is not a canonical statement',
    );
  }
  if (trustedOldKey !== undefined && trustedOldKey !== statement.oldKey.publicKey) {
    throw new ClientError(
      'WRONG_GROUP',
      'this transition starts from another key than the one you trust',
    );
  }
  const message = transitionMessage(statement);
  const sig = (role: 'old' | 'new', key: string): boolean =>
    env.data.signatures.some(
      (s) =>
        s.keyid === keyid(role, key) && verifyEd25519(key, message, Buffer.from(s.sig, 'base64')),
    );
  const oldSigned = sig('old', statement.oldKey.publicKey);
  const newSigned = sig('new', statement.newKey.publicKey);
  return { statement, oldSigned, newSigned, valid: oldSigned && newSigned };
}

/** "release-v2" after "release", "release-v3" after "release-v2". */
export function nextGroupName(group: string): string {
  const m = /^(.*)-v(\d+)$/.exec(group);
  const name = m === null ? `${group}-v2` : `${m[1] ?? ''}-v${Number(m[2]) + 1}`;
  if (!GroupNameSchema.safeParse(name).success) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `cannot derive a new group name from ${group}; pass --new-group`,
    );
  }
  return name;
}
