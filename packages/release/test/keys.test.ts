/** Public key files: golden bytes for the fixed key, and the rules each exporter enforces. */
import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  certificationParts,
  detectKey,
  exportPublicKey,
  isFormatError,
  KEY_FORMATS,
  sshFingerprint,
  tufKeyId,
  type FormatErrorCode,
  type KeyFormat,
} from '../src/index.js';
import { A, dec, enc, hex, sha256hex, sign } from './formats-support.js';

function code(f: () => unknown): FormatErrorCode | undefined {
  try {
    f();
  } catch (e) {
    if (isFormatError(e)) return e.code;
    throw e;
  }
  return undefined;
}

const created = 1700000000;
const selfSignature = sign(certificationParts(A, 'release', created).digest);
const text = (format: KeyFormat, opts = {}) => dec(exportPublicKey(A, format, opts).bytes);

describe('exportPublicKey', () => {
  it('pem: RFC 8410 SPKI, the same as Node exports', () => {
    expect(text('pem')).toBe(
      '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ=\n-----END PUBLIC KEY-----\n',
    );
    const node = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(A).toString('base64url') },
      format: 'jwk',
    });
    expect(text('pem')).toBe(node.export({ type: 'spki', format: 'pem' }));
    expect(exportPublicKey(A, 'pem').path).toBe('quorum.pem');
  });

  it('ssh: ssh-ed25519 line with the principal as comment; fingerprint as OpenSSH prints it', () => {
    expect(text('ssh', { group: 'release' })).toBe(
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk release@conclave\n',
    );
    expect(text('ssh')).toBe(
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n',
    );
    expect(sshFingerprint(A)).toBe('SHA256:eVkCKHnc5RjanBduU2vmOecbFl3M9wOgHdk24INJytY');
  });

  it('allowed-signers: principal <group>@conclave, namespaces="file,git" by default', () => {
    expect(text('allowed-signers', { group: 'release' })).toBe(
      'release@conclave namespaces="file,git" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n',
    );
    expect(text('allowed-signers', { principal: 'ops@example.com', namespaces: 'file' })).toMatch(
      /^ops@example\.com namespaces="file" ssh-ed25519 /,
    );
    expect(exportPublicKey(A, 'allowed-signers', { group: 'release' }).path).toBe(
      'allowed_signers',
    );
  });

  it('minisign and signify: "Ed" ‖ keynum ‖ A under an untrusted comment', () => {
    expect(text('minisign')).toBe(
      'untrusted comment: minisign public key 3B9C18B25E6CFF28\nRWQo/2xeshicO3m1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n',
    );
    expect(text('signify', { group: 'release' })).toBe(
      'untrusted comment: conclave group release public key\nRWQo/2xeshicO3m1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk\n',
    );
  });

  it('openpgp: armored certificate or binary keyring, only with the quorum self-signature', () => {
    const opts = { group: 'release', openpgp: { keyCreatedAt: created, selfSignature } };
    expect(text('openpgp', opts)).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjME/);
    const bin = exportPublicKey(A, 'openpgp', {
      ...opts,
      openpgp: { ...opts.openpgp, binary: true },
    });
    expect(bin.path).toBe('quorum.gpg');
    expect(sha256hex(bin.bytes)).toBe(
      '8bd072695d38e2fa75cbc95a13be4339fb0bfa92c147a22b5c66a5442885754c',
    );
    expect(detectKey(bin.bytes).openpgp?.userIds).toEqual([
      'release release quorum <release@conclave.invalid>',
    ]);
    expect(hex(detectKey(bin.bytes).openpgp!.fingerprint).toUpperCase()).toBe(
      '4278F1F4335B28E58DDCDEA52E622C8AF39AE6B9',
    );
  });

  it('openpgp without the self-signature is refused (OPENPGP_CERT_UNSIGNED)', () => {
    expect(code(() => exportPublicKey(A, 'openpgp', { group: 'release' }))).toBe(
      'OPENPGP_CERT_UNSIGNED',
    );
    expect(
      code(() =>
        exportPublicKey(A, 'openpgp', { group: 'release', openpgp: { keyCreatedAt: created } }),
      ),
    ).toBe('OPENPGP_CERT_UNSIGNED');
  });

  it('openpgp with a self-signature for another creation time or group is refused (KEY_CERT_INVALID)', () => {
    expect(
      code(() =>
        exportPublicKey(A, 'openpgp', {
          group: 'release',
          openpgp: { keyCreatedAt: created + 1, selfSignature },
        }),
      ),
    ).toBe('KEY_CERT_INVALID');
    expect(
      code(() =>
        exportPublicKey(A, 'openpgp', {
          group: 'other',
          openpgp: { keyCreatedAt: created, selfSignature },
        }),
      ),
    ).toBe('KEY_CERT_INVALID');
  });

  it('jwk: RFC 8037 OKP key Node imports', () => {
    const j = JSON.parse(text('jwk'));
    expect(j).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      x: 'ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ',
      alg: 'EdDSA',
    });
    const node = createPublicKey({ key: j, format: 'jwk' });
    expect(node.asymmetricKeyType).toBe('ed25519');
  });

  it('tuf: canonical key object; key id = sha256 of it', () => {
    const t = text('tuf');
    expect(t).toBe(`{"keytype":"ed25519","keyval":{"public":"${hex(A)}"},"scheme":"ed25519"}\n`);
    expect(tufKeyId(A)).toBe(sha256hex(enc(t.trimEnd())));
  });

  it('every exported key is read back by detectKey', () => {
    const opts = { group: 'release', openpgp: { keyCreatedAt: created, selfSignature } };
    for (const f of KEY_FORMATS) {
      const d = detectKey(exportPublicKey(A, f, opts).bytes);
      expect(hex(d.publicKey)).toBe(hex(A));
      expect(d.format).toBe(f);
    }
  });

  it('rejects a bad principal or namespace list (KEY_MALFORMED)', () => {
    expect(code(() => exportPublicKey(A, 'allowed-signers', { principal: 'a b' }))).toBe(
      'KEY_MALFORMED',
    );
    expect(
      code(() => exportPublicKey(A, 'allowed-signers', { principal: 'a', namespaces: 'file git' })),
    ).toBe('KEY_MALFORMED');
  });

  it('needs a group where the file names one (GROUP_NAME_INVALID)', () => {
    expect(code(() => exportPublicKey(A, 'allowed-signers'))).toBe('GROUP_NAME_INVALID');
    expect(code(() => exportPublicKey(A, 'ssh', { group: 'Has Space' }))).toBe(
      'GROUP_NAME_INVALID',
    );
  });

  it('rejects a key that is not 32 bytes (PUBLIC_KEY_INVALID) and an unknown format (KEY_FORMAT_UNKNOWN)', () => {
    expect(code(() => exportPublicKey(new Uint8Array(33), 'pem'))).toBe('PUBLIC_KEY_INVALID');
    expect(code(() => exportPublicKey(A, 'x509' as KeyFormat))).toBe('KEY_FORMAT_UNKNOWN');
  });
});
