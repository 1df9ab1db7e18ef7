// Witness cosignatures, c2sp.org/tlog-cosignature (Ed25519, cosignature/v1): a note signature line
//   — <witness name> base64(keyID ‖ u64be(timestamp) ‖ Ed25519 signature)
// with keyID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4], over the message
//   "cosignature/v1\n" ‖ "time <timestamp>\n" ‖ checkpoint note text.
// The v1 message does not commit to the witness name, so one key must serve one witness only.
import { signIdentity, verifyIdentity, type IdentityKey } from '@conclave/protocol';
import { AuditError } from './errors.js';
import {
  SIGNATURE_TYPE_COSIGNATURE_V1,
  isValidKeyName,
  keyId,
  type NoteSignature,
  type NoteVerifier,
} from './note.js';

const enc = new TextEncoder();
/** tlog-cosignature: timestamps must not exceed 2^63 − 1; ours are safe integers anyway. */
const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;

export interface Witness {
  /** Key name, a schema-less URL by convention, e.g. `conclave.member/alice`. */
  readonly name: string;
  readonly key: IdentityKey;
}

export interface Cosignature extends NoteSignature {
  /** POSIX seconds at which the witness cosigned. */
  readonly timestamp: number;
}

/** The bytes an Ed25519 cosignature/v1 signs (tlog-cosignature §Ed25519 signed message). */
export function cosignatureMessage(checkpointBody: string, timestamp: number): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP) {
    throw new AuditError('COSIGNATURE_MALFORMED', 'timestamp out of range');
  }
  return enc.encode(`cosignature/v1\ntime ${timestamp}\n${checkpointBody}`);
}

export function cosignatureKeyId(name: string, publicKey: Uint8Array): number {
  return keyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, publicKey);
}

/** Cosigns checkpoint text as `witness` at `timestamp` (POSIX seconds). */
export function cosign(witness: Witness, checkpointBody: string, timestamp: number): Cosignature {
  if (!isValidKeyName(witness.name))
    throw new AuditError('NOTE_KEY_INVALID', 'invalid witness name');
  const sig = signIdentity(witness.key, cosignatureMessage(checkpointBody, timestamp));
  const blob = new Uint8Array(72);
  new DataView(blob.buffer).setBigUint64(0, BigInt(timestamp));
  blob.set(sig, 8);
  return {
    name: witness.name,
    keyId: cosignatureKeyId(witness.name, witness.key.publicKey),
    signature: blob,
    timestamp,
  };
}

/** The timestamp in a cosignature blob (8 bytes big-endian, then 64 signature bytes). */
export function cosignatureTimestamp(signature: Uint8Array): number {
  if (signature.length !== 72) {
    throw new AuditError('COSIGNATURE_MALFORMED', 'an Ed25519 cosignature is 72 bytes');
  }
  const t = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
  if (t > BigInt(MAX_TIMESTAMP))
    throw new AuditError('COSIGNATURE_MALFORMED', 'timestamp too large');
  return Number(t);
}

/** A note verifier for a witness's cosignatures (so `openNote` checks them like any signature). */
export function cosignatureVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  if (!isValidKeyName(name)) throw new AuditError('NOTE_KEY_INVALID', 'invalid witness name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new AuditError('NOTE_KEY_INVALID', 'an Ed25519 public key is 32 bytes');
  }
  const key = Uint8Array.from(publicKey);
  const dec = new TextDecoder('utf-8', { fatal: true });
  return {
    name,
    keyId: cosignatureKeyId(name, key),
    verify: (text, signature) => {
      if (signature.length !== 72) return false;
      const t = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
      if (t > BigInt(MAX_TIMESTAMP)) return false;
      let body: string;
      try {
        body = dec.decode(text);
      } catch {
        return false;
      }
      return verifyIdentity(key, cosignatureMessage(body, Number(t)), signature.subarray(8));
    },
  };
}

/**
 * Checks one cosignature of `checkpointBody` by the witness (`name`, `publicKey`); returns its
 * timestamp. COSIGNATURE_INVALID if it is not that witness's or does not verify.
 */
export function verifyCosignature(
  sig: NoteSignature,
  checkpointBody: string,
  name: string,
  publicKey: Uint8Array,
): number {
  const v = cosignatureVerifier(name, publicKey);
  if (sig.name !== v.name || sig.keyId !== v.keyId) {
    throw new AuditError('COSIGNATURE_INVALID', 'cosignature is not by this witness key');
  }
  if (!v.verify(enc.encode(checkpointBody), sig.signature)) {
    throw new AuditError('COSIGNATURE_INVALID', 'cosignature does not verify');
  }
  return cosignatureTimestamp(sig.signature);
}
