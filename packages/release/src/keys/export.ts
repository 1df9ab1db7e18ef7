/**
 * Public key files in every format a verifier's tool reads (FORMATS.md "Key encodings"). A FROST
 * group key has no RFC 8032 seed, so there is never a private key to export.
 */
import { ed25519Spki } from '@conclave/frost';
import { canonicalJson } from '../statement.js';
import { fail } from '../formats/errors.js';
import { hash, toBase64, toBase64Url, utf8, wrap } from '../formats/encoding.js';
import { verifyEd25519 } from '../formats/ed25519.js';
import { minisignPublicKeyFile } from '../formats/minisign.js';
import { armor, certificationParts, openpgpCertificate } from '../formats/openpgp.js';
import { signifyPublicKeyFile, SIGNIFY_KEY_FILE } from '../formats/signify.js';
import { sshPublicKeyBlob, sshPublicKeyLine } from '../formats/sshsig.js';
import { intotoKeyId, tufKey } from '../formats/statement-formats.js';
import type { OutputFile } from '../formats/types.js';
import { checkGroup, checkPublicKey } from '../formats/validate.js';

export const KEY_FORMATS = [
  'pem',
  'ssh',
  'allowed-signers',
  'minisign',
  'signify',
  'openpgp',
  'jwk',
  'tuf',
] as const;
export type KeyFormat = (typeof KEY_FORMATS)[number];

/** File names `assemble` and `conclave key export` write. */
export const KEY_FILES = {
  pem: 'quorum.pem',
  ssh: 'quorum.ssh.pub',
  'allowed-signers': 'allowed_signers',
  minisign: 'minisign.pub',
  signify: SIGNIFY_KEY_FILE,
  openpgp: 'quorum.asc',
  openpgpBinary: 'quorum.gpg',
  jwk: 'quorum.jwk.json',
  tuf: 'quorum.tuf.json',
} as const;

export const DEFAULT_NAMESPACES = 'file,git';

export interface ExportKeyOptions {
  /** Group name: SSH comment and default principal, OpenPGP user ID, signify comment. */
  readonly group?: string;
  /** allowed-signers principal; default `<group>@conclave`. */
  readonly principal?: string;
  /** allowed-signers `namespaces="…"`; default `file,git`. */
  readonly namespaces?: string;
  /** OpenPGP: the certificate needs the quorum's self-signature (job `openpgp-cert`). */
  readonly openpgp?: {
    readonly keyCreatedAt: number;
    readonly selfSignature?: Uint8Array;
    /** Binary keyring (`quorum.gpg`, for `gpgv --keyring`) instead of the armored certificate. */
    readonly binary?: boolean;
  };
}

/** Default allowed-signers principal of a group. */
export function defaultPrincipal(group: string): string {
  checkGroup(group);
  return `${group}@conclave`;
}

/** RFC 8410 SubjectPublicKeyInfo in PEM (RFC 7468). */
export function spkiPem(a: Uint8Array): string {
  return `-----BEGIN PUBLIC KEY-----\n${wrap(toBase64(ed25519Spki(a)), 64).join('\n')}\n-----END PUBLIC KEY-----\n`;
}

/** OpenSSH's key fingerprint: `SHA256:` + unpadded base64 of SHA-256(public key blob). */
export function sshFingerprint(a: Uint8Array): string {
  return `SHA256:${toBase64(hash('sha256', sshPublicKeyBlob(a))).replace(/=+$/, '')}`;
}

/** An allowed_signers line (ssh-keygen(1) "ALLOWED SIGNERS"). */
export function allowedSignersLine(
  a: Uint8Array,
  principal: string,
  namespaces = DEFAULT_NAMESPACES,
): string {
  if (!/^[A-Za-z0-9._@+-]{1,128}$/.test(principal)) {
    fail(
      'KEY_MALFORMED',
      `principal ${JSON.stringify(principal)} must be 1-128 of [A-Za-z0-9._@+-]`,
    );
  }
  if (!/^[A-Za-z0-9._@+-]+(,[A-Za-z0-9._@+-]+)*$/.test(namespaces)) {
    fail(
      'KEY_MALFORMED',
      `namespaces ${JSON.stringify(namespaces)} must be a comma-separated list`,
    );
  }
  return `${principal} namespaces="${namespaces}" ${sshPublicKeyLine(a)}\n`;
}

/** RFC 8037 §2 OKP JWK, with the in-toto key id as `kid` (the JWS header names it). */
export function jwk(a: Uint8Array) {
  return {
    alg: 'EdDSA',
    crv: 'Ed25519',
    kid: intotoKeyId(a),
    kty: 'OKP',
    use: 'sig',
    x: toBase64Url(a),
  };
}

function needGroup(opts: ExportKeyOptions, what: string): string {
  if (opts.group === undefined) fail('GROUP_NAME_INVALID', `${what} needs opts.group`);
  checkGroup(opts.group);
  return opts.group;
}

/** The OpenPGP certificate, refused (`OPENPGP_CERT_UNSIGNED`) until the quorum has self-signed it. */
export function openpgpCertificateFile(
  a: Uint8Array,
  group: string,
  keyCreatedAt: number,
  selfSignature: Uint8Array | undefined,
  binary = false,
): OutputFile {
  if (!selfSignature) {
    fail(
      'OPENPGP_CERT_UNSIGNED',
      'the OpenPGP certificate needs the quorum self-signature (job openpgp-cert of a ceremony that requested openpgp)',
    );
  }
  const parts = certificationParts(a, group, keyCreatedAt);
  if (!verifyEd25519(parts.digest, selfSignature, a)) {
    fail(
      'KEY_CERT_INVALID',
      'the OpenPGP self-signature does not verify for this key, group and creation time',
    );
  }
  const cert = openpgpCertificate(a, group, keyCreatedAt, selfSignature);
  return binary
    ? { path: KEY_FILES.openpgpBinary, bytes: cert, kind: 'key', format: 'openpgp' }
    : {
        path: KEY_FILES.openpgp,
        bytes: utf8(armor('PGP PUBLIC KEY BLOCK', cert)),
        kind: 'key',
        format: 'openpgp',
      };
}

/** One public key file. */
export function exportPublicKey(
  a: Uint8Array,
  format: KeyFormat,
  opts: ExportKeyOptions = {},
): OutputFile {
  checkPublicKey(a);
  const file = (path: string, text: string, fmt?: OutputFile['format']): OutputFile => ({
    path,
    bytes: utf8(text),
    kind: 'key',
    ...(fmt ? { format: fmt } : {}),
  });
  switch (format) {
    case 'pem':
      return file(KEY_FILES.pem, spkiPem(a), 'raw');
    case 'ssh': {
      const comment = opts.group !== undefined ? defaultPrincipal(opts.group) : undefined;
      return file(KEY_FILES.ssh, `${sshPublicKeyLine(a, comment)}\n`, 'sshsig');
    }
    case 'allowed-signers': {
      const principal = opts.principal ?? defaultPrincipal(needGroup(opts, 'allowed-signers'));
      return file(
        KEY_FILES['allowed-signers'],
        allowedSignersLine(a, principal, opts.namespaces),
        'sshsig',
      );
    }
    case 'minisign':
      return file(KEY_FILES.minisign, minisignPublicKeyFile(a), 'minisign');
    case 'signify':
      return file(KEY_FILES.signify, signifyPublicKeyFile(a, opts.group ?? 'quorum'), 'signify');
    case 'openpgp': {
      const group = needGroup(opts, 'openpgp');
      if (!opts.openpgp)
        fail(
          'OPENPGP_CERT_UNSIGNED',
          'openpgp needs opts.openpgp.keyCreatedAt and the selfSignature',
        );
      return openpgpCertificateFile(
        a,
        group,
        opts.openpgp.keyCreatedAt,
        opts.openpgp.selfSignature,
        opts.openpgp.binary,
      );
    }
    case 'jwk':
      return file(KEY_FILES.jwk, `${JSON.stringify(jwk(a), null, 2)}\n`, 'jws');
    case 'tuf':
      return file(KEY_FILES.tuf, `${canonicalJson(tufKey(a))}\n`);
    default:
      return fail(
        'KEY_FORMAT_UNKNOWN',
        `unknown key format ${JSON.stringify(format)}; expected one of ${KEY_FORMATS.join(', ')}`,
      );
  }
}
