// Pairwise encryption for DKG round-2 secret packages (the coordinator relays ciphertext only).
// Construction, in the spirit of HPKE auth mode (RFC 9180 §5.1.3) and Noise K:
//   e    = fresh X25519 key;  S = sender's, R = recipient's X25519 keys (RFC 7748) from identities
//   ikm  = X25519(e, R) || X25519(s, R)           ephemeral-static for freshness, static-static
//                                                 so only the sender (or recipient) could have sealed
//   key  = HKDF-SHA256(ikm, salt = "", info = lp("conclave/v1/pairwise-key") || lp(E) || lp(S) || lp(R))
//          (RFC 5869)
//   box  = XChaCha20-Poly1305(key, random 24-byte nonce, plaintext,
//          ad = lp("conclave/v1/pairwise-ad") || lp(ceremonyId) || lp(sender) || lp(recipient))
import { x25519 } from '@noble/curves/ed25519.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concatBytes, domainEncode } from './encoding.js';
import { ProtocolError, fail, ok, type Result } from './errors.js';
import { bytesToHex, hexToBytes } from './hex.js';
import {
  signIdentity,
  verifyIdentity,
  x25519FromIdentity,
  x25519PublicFromIdentity,
  type IdentityKey,
} from './identity.js';

export interface PairwiseContext {
  readonly ceremonyId: string;
  readonly sender: string;
  readonly recipient: string;
}

export interface SealedBox {
  readonly ephemeralKey: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface WireBox {
  readonly ephemeralKey: string;
  readonly nonce: string;
  readonly ciphertext: string;
}

export function pairwiseAssociatedData(context: PairwiseContext): Uint8Array {
  return domainEncode('pairwise-ad', [context.ceremonyId, context.sender, context.recipient]);
}

function deriveKey(
  dhEphemeral: Uint8Array,
  dhStatic: Uint8Array,
  ephemeralPublic: Uint8Array,
  senderPublic: Uint8Array,
  recipientPublic: Uint8Array,
): Uint8Array {
  const info = domainEncode('pairwise-key', [ephemeralPublic, senderPublic, recipientPublic]);
  const ikm = concatBytes(dhEphemeral, dhStatic);
  try {
    return hkdf(sha256, ikm, new Uint8Array(0), info, 32);
  } finally {
    ikm.fill(0);
  }
}

/** X25519 that refuses low-order peer keys (noble throws on an all-zero shared secret). */
function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  if (publicKey.length !== 32) return undefined;
  try {
    return x25519.getSharedSecret(secretKey, publicKey);
  } catch {
    return undefined;
  }
}

/**
 * Encrypts `plaintext` to the holder of `recipientX25519Public`, authenticated as `sender`.
 * Throws ProtocolError INVALID_KEY if the recipient key is not usable.
 */
export function sealTo(
  recipientX25519Public: Uint8Array,
  sender: IdentityKey,
  plaintext: Uint8Array,
  context: PairwiseContext,
  random: (length: number) => Uint8Array = randomBytes,
): SealedBox {
  const ephemeral = random(32); // any 32 bytes are an X25519 secret (RFC 7748 §5 clamps)
  const ephemeralKey = x25519.getPublicKey(ephemeral);
  const senderX = x25519FromIdentity(sender);
  const dh1 = dh(ephemeral, recipientX25519Public);
  const dh2 = dh(senderX.secretKey, recipientX25519Public);
  ephemeral.fill(0);
  senderX.secretKey.fill(0);
  if (dh1 === undefined || dh2 === undefined) {
    throw new ProtocolError('INVALID_KEY', 'recipient key is not a usable X25519 key');
  }
  const key = deriveKey(dh1, dh2, ephemeralKey, senderX.publicKey, recipientX25519Public);
  dh1.fill(0);
  dh2.fill(0);
  try {
    const nonce = random(24);
    const cipher = xchacha20poly1305(key, nonce, pairwiseAssociatedData(context));
    return { ephemeralKey, nonce, ciphertext: cipher.encrypt(plaintext) };
  } finally {
    key.fill(0);
  }
}

/**
 * Decrypts a box sealed by the holder of `senderX25519Public` to `recipient`. DECRYPTION_FAILED
 * for a tampered box, another recipient, another sender or another context; INVALID_KEY for a
 * malformed key.
 */
export function openFrom(
  recipient: IdentityKey,
  senderX25519Public: Uint8Array,
  box: SealedBox,
  context: PairwiseContext,
): Result<Uint8Array> {
  const recipientX = x25519FromIdentity(recipient);
  const dh1 = dh(recipientX.secretKey, box.ephemeralKey);
  const dh2 = dh(recipientX.secretKey, senderX25519Public);
  recipientX.secretKey.fill(0);
  if (dh1 === undefined || dh2 === undefined) {
    return fail('INVALID_KEY', 'box or sender key is not a usable X25519 key');
  }
  try {
    return openWithSharedSecrets(dh1, dh2, senderX25519Public, recipientX.publicKey, box, context);
  } finally {
    dh1.fill(0);
    dh2.fill(0);
  }
}

/**
 * Opens a box given its two X25519 outputs (ephemeral-static, static-static) instead of the
 * recipient's secret: what anyone can do once the recipient revealed them, proven, in a complaint
 * (box-complaint.ts). DECRYPTION_FAILED when the box does not open under them.
 */
export function openWithSharedSecrets(
  dhEphemeral: Uint8Array,
  dhStatic: Uint8Array,
  senderX25519Public: Uint8Array,
  recipientX25519Public: Uint8Array,
  box: SealedBox,
  context: PairwiseContext,
): Result<Uint8Array> {
  if (box.nonce.length !== 24 || box.ciphertext.length < 16) {
    return fail('DECRYPTION_FAILED', 'box is malformed');
  }
  const key = deriveKey(
    dhEphemeral,
    dhStatic,
    box.ephemeralKey,
    senderX25519Public,
    recipientX25519Public,
  );
  try {
    const cipher = xchacha20poly1305(key, box.nonce, pairwiseAssociatedData(context));
    return ok(cipher.decrypt(box.ciphertext));
  } catch {
    return fail('DECRYPTION_FAILED', 'box does not decrypt');
  } finally {
    key.fill(0);
  }
}

export function boxToWire(box: SealedBox): WireBox {
  return {
    ephemeralKey: bytesToHex(box.ephemeralKey),
    nonce: bytesToHex(box.nonce),
    ciphertext: bytesToHex(box.ciphertext),
  };
}

/** Throws ProtocolError INVALID_MESSAGE on bad hex; schemas have already checked wire boxes. */
export function boxFromWire(box: WireBox): SealedBox {
  return {
    ephemeralKey: hexToBytes(box.ephemeralKey, 32),
    nonce: hexToBytes(box.nonce, 24),
    ciphertext: hexToBytes(box.ciphertext),
  };
}

/**
 * The bytes a sender signs for one box (`signPairwiseBox`): the ceremony, who to whom, and the
 * box as sent. The box's AEAD already tells its recipient who sealed it (static-static DH), but
 * only when it opens: a box the coordinator altered in transit fails to open exactly as one the
 * sender botched. The signature tells the two apart, so a recipient blames the sender only for a
 * box the sender signed.
 */
export function pairwiseBoxBytes(context: PairwiseContext, box: WireBox): Uint8Array {
  return domainEncode('pairwise-box', [
    context.ceremonyId,
    context.sender,
    context.recipient,
    hexToBytes(box.ephemeralKey, 32),
    hexToBytes(box.nonce, 24),
    hexToBytes(box.ciphertext),
  ]);
}

/** The sender's RFC 8032 signature of a box in wire form (hex), see `pairwiseBoxBytes`. */
export function signPairwiseBox(
  sender: IdentityKey,
  context: PairwiseContext,
  box: WireBox,
): string {
  return bytesToHex(signIdentity(sender, pairwiseBoxBytes(context, box)));
}

/** Whether `signature` (hex) is the sender's signature of this box; false for anything malformed. */
export function verifyPairwiseBox(
  senderIdentityKey: Uint8Array,
  context: PairwiseContext,
  box: WireBox,
  signature: string,
): boolean {
  try {
    return verifyIdentity(
      senderIdentityKey,
      pairwiseBoxBytes(context, box),
      hexToBytes(signature, 64),
    );
  } catch {
    return false;
  }
}

/** `sealTo`, in wire form and signed by the sender: what a member puts in its round-2 message. */
export function sealSignedBox(
  recipientIdentityKey: Uint8Array,
  sender: IdentityKey,
  plaintext: Uint8Array,
  context: PairwiseContext,
): WireBox & { readonly signature: string } {
  const wire = boxToWire(
    sealTo(x25519PublicFromIdentity(recipientIdentityKey), sender, plaintext, context),
  );
  return { ...wire, signature: signPairwiseBox(sender, context, wire) };
}
