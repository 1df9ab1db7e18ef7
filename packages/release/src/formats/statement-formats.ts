/**
 * The statement formats: the DSSE envelope of the in-toto statement, the same signature inside a
 * Sigstore bundle v0.3 (public-key flavour), and a compact JWS whose payload is the statement.
 */
import { canonicalJson, DSSE_PAYLOAD_TYPE, pae, statementBytes } from '../statement.js';
import type { ReleaseStatement } from '../statement.js';
import { hash, toBase64, toBase64Url, toHex, utf8 } from './encoding.js';

/** The securesystemslib / in-toto public key object (with `keyid_hash_algorithms`). */
export function intotoKey(a: Uint8Array) {
  return {
    keyid_hash_algorithms: ['sha256', 'sha512'],
    keytype: 'ed25519',
    keyval: { public: toHex(a) },
    scheme: 'ed25519',
  };
}

/** The TUF (spec 1.0 §4.2) public key object. */
export function tufKey(a: Uint8Array) {
  return { keytype: 'ed25519', keyval: { public: toHex(a) }, scheme: 'ed25519' };
}

/** in-toto / securesystemslib key id: hex SHA-256 of the canonical JSON of `intotoKey`. */
export function intotoKeyId(a: Uint8Array): string {
  return toHex(hash('sha256', utf8(canonicalJson(intotoKey(a)))));
}

/** TUF key id: hex SHA-256 of the canonical JSON of `tufKey`. */
export function tufKeyId(a: Uint8Array): string {
  return toHex(hash('sha256', utf8(canonicalJson(tufKey(a)))));
}

/** DSSE (PAE over the canonical statement JSON): the message of job `dsse`. */
export function dsseMessage(statement: ReleaseStatement): Uint8Array {
  return pae(DSSE_PAYLOAD_TYPE, statementBytes(statement));
}

/** DSSE envelope JSON (one line + newline): payloadType, payload, signatures[{keyid, sig}]. */
export function dsseEnvelopeFile(
  a: Uint8Array,
  statement: ReleaseStatement,
  signature: Uint8Array,
): Uint8Array {
  return utf8(
    `${JSON.stringify({
      payloadType: DSSE_PAYLOAD_TYPE,
      payload: toBase64(statementBytes(statement)),
      signatures: [{ keyid: intotoKeyId(a), sig: toBase64(signature) }],
    })}\n`,
  );
}

export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/**
 * Sigstore bundle v0.3 with a public-key hint (no certificate, no transparency log): the DSSE
 * envelope's signature, verified by @sigstore/verify with the key supplied as trust material under
 * the hint (the in-toto key id). `messageSignature` bundles cannot carry Ed25519 (FORMATS.md).
 */
export function sigstoreBundleFile(
  a: Uint8Array,
  statement: ReleaseStatement,
  signature: Uint8Array,
): Uint8Array {
  const keyid = intotoKeyId(a);
  return utf8(
    `${JSON.stringify({
      mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      verificationMaterial: {
        publicKey: { hint: keyid },
        tlogEntries: [],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      dsseEnvelope: {
        payload: toBase64(statementBytes(statement)),
        payloadType: DSSE_PAYLOAD_TYPE,
        signatures: [{ sig: toBase64(signature), keyid }],
      },
    })}\n`,
  );
}

/**
 * RFC 7515 §7.1 compact JWS, RFC 8037 `EdDSA`: protected header ‖ "." ‖ payload, where the payload
 * is the canonical statement JSON. Chosen over RFC 7797 detached (b64=false) because every JOSE
 * library verifies it with no options (`jose.compactVerify(jws, key)`) and the payload travels with
 * the signature; the artifact binding is the statement's subject digest.
 */
export function jwsProtectedHeader(a: Uint8Array): string {
  return canonicalJson({ alg: 'EdDSA', cty: DSSE_PAYLOAD_TYPE, kid: intotoKeyId(a) });
}

export function jwsSigningInput(a: Uint8Array, statement: ReleaseStatement): string {
  return `${toBase64Url(utf8(jwsProtectedHeader(a)))}.${toBase64Url(statementBytes(statement))}`;
}

export function jwsMessage(a: Uint8Array, statement: ReleaseStatement): Uint8Array {
  return utf8(jwsSigningInput(a, statement));
}

/** The compact serialization (no trailing newline, so it can be passed to a JOSE library as is). */
export function jwsCompactFile(
  a: Uint8Array,
  statement: ReleaseStatement,
  signature: Uint8Array,
): Uint8Array {
  return utf8(`${jwsSigningInput(a, statement)}.${toBase64Url(signature)}`);
}
