/**
 * Verifier strictness found in review: each case is a signature the format's own tool refuses
 * (or checks over other bytes), so `verifySignature` must refuse it with the typed code.
 */
import { describe, expect, it } from 'vitest';
import { openpgpArmor, verifySignature } from '../src/index.js';
import { concat, u32be } from '../src/formats/encoding.js';
import {
  documentParts,
  fingerprintOf,
  openpgpUserId,
  packet,
  publicKeyBody,
  signaturePacket,
  signatureParts,
  subpacket,
} from '../src/formats/openpgp.js';
import { assemble } from '../src/index.js';
import { A, CONTENT, ISSUED_AT, makeContext, sign, signAll } from './formats-support.js';

const ctx = makeContext();
const files = new Map(assemble(ctx, signAll(ctx)).map((f) => [f.path, f]));
const file = (p: string) => files.get(p)!.bytes;
const codeOf = (r: ReturnType<typeof verifySignature>) => (r.ok ? 'OK' : r.code);

describe('OpenPGP text signatures (0x01)', () => {
  // A canonical-text signature over the empty document, made by the quorum.
  const parts = signatureParts(
    0x01,
    subpacket(2, Uint8Array.of(0x65, 0x53, 0xf1, 0x01)),
    new Uint8Array(),
    [],
  );
  const emptyTextSig = openpgpArmor('PGP SIGNATURE', signaturePacket(parts, sign(parts.digest)));

  it('verifies over the empty document', () => {
    const r = verifySignature({
      key: file('quorum.asc'),
      signature: new TextEncoder().encode(emptyTextSig),
      artifact: new Uint8Array(),
    });
    expect(codeOf(r)).toBe('OK');
  });

  it('SIG_INVALID for a non-UTF-8 artifact (it is not hashed as the empty document)', () => {
    const binary = Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x0a, 0x80);
    const r = verifySignature({
      key: file('quorum.asc'),
      signature: new TextEncoder().encode(emptyTextSig),
      artifact: binary,
    });
    expect(codeOf(r)).toBe('SIG_INVALID');
  });
});

describe('git tags', () => {
  const tag = new TextDecoder().decode(file('v1.2.3.tag'));
  const armor = tag.slice(tag.indexOf('-----BEGIN SSH SIGNATURE-----'));

  it('SIG_INVALID when a second signature block follows (git signs everything before the last)', () => {
    const r = verifySignature({
      key: file('quorum.pem'),
      signature: new TextEncoder().encode(`${tag}${armor}`),
      artifact: new Uint8Array(),
    });
    expect(codeOf(r)).toBe('SIG_INVALID');
  });

  it('SIG_MALFORMED when the last signature block is OpenPGP', () => {
    const r = verifySignature({
      key: file('quorum.pem'),
      signature: new TextEncoder().encode(
        `${tag}-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n`,
      ),
      artifact: new Uint8Array(),
    });
    expect(codeOf(r)).toBe('SIG_MALFORMED');
  });
});

describe('allowed_signers options ssh-keygen enforces', () => {
  const line = new TextDecoder().decode(file('allowed_signers')).trim();
  const principal = line.split(' ')[0]!;
  const keyPart = line.slice(line.indexOf('ssh-ed25519'));
  const withOptions = (opts: string) =>
    verifySignature({
      key: new TextEncoder().encode(`${principal} ${opts} ${keyPart}\n`),
      signature: file('app.tar.gz.sshsig'),
      artifact: CONTENT['app.tar.gz']!,
    });

  it('accepts a line whose validity window contains now', () => {
    expect(codeOf(withOptions('valid-after="20000101",valid-before="29991231Z"'))).toBe('OK');
  });

  it('KEY_CERT_INVALID after valid-before (the key was retired)', () => {
    expect(codeOf(withOptions('valid-before="20200101Z"'))).toBe('KEY_CERT_INVALID');
  });

  it('KEY_CERT_INVALID before valid-after', () => {
    expect(codeOf(withOptions('valid-after="29990101000000Z"'))).toBe('KEY_CERT_INVALID');
  });

  it('KEY_MALFORMED for a validity time ssh-keygen cannot parse', () => {
    expect(codeOf(withOptions('valid-before="2020-01-01"'))).toBe('KEY_MALFORMED');
  });

  it('KEY_UNSUPPORTED for a cert-authority line (it trusts certificates, not plain signatures)', () => {
    expect(codeOf(withOptions('cert-authority'))).toBe('KEY_UNSUPPORTED');
  });
});

describe('Sigstore bundle media type', () => {
  const bundle = JSON.parse(new TextDecoder().decode(file('release.sigstore.json'))) as Record<
    string,
    unknown
  >;
  const withType = (mediaType: string) =>
    verifySignature({
      key: file('quorum.pem'),
      signature: new TextEncoder().encode(JSON.stringify({ ...bundle, mediaType })),
      artifact: CONTENT['app.tar.gz']!,
    });

  it('accepts the media types @sigstore/bundle defines', () => {
    for (const t of [
      'application/vnd.dev.sigstore.bundle.v0.3+json',
      'application/vnd.dev.sigstore.bundle+json;version=0.3',
      'application/vnd.dev.sigstore.bundle+json;version=0.2',
      'application/vnd.dev.sigstore.bundle+json;version=0.1',
    ])
      expect(codeOf(withType(t)), t).toBe('OK');
  });

  it('SIG_UNSUPPORTED for an unversioned or suffixed media type @sigstore/verify refuses', () => {
    for (const t of [
      'application/vnd.dev.sigstore.bundle+json',
      'application/vnd.dev.sigstore.bundle.v0.3+jsonx',
      'application/vnd.dev.sigstore.bundle.v0.1+json',
    ])
      expect(codeOf(withType(t)), t).toBe('SIG_UNSUPPORTED');
  });
});

describe('OpenPGP signature creation time', () => {
  const artifact = CONTENT['app.tar.gz']!;
  const docSig = (hashed: Uint8Array) => {
    const parts = signatureParts(0x00, hashed, new Uint8Array(), [artifact]);
    return new TextEncoder().encode(
      openpgpArmor('PGP SIGNATURE', signaturePacket(parts, sign(parts.digest))),
    );
  };
  const check = (signature: Uint8Array) =>
    codeOf(verifySignature({ key: file('quorum.asc'), signature, artifact }));

  it('SIG_INVALID for a signature older than the key (gpgv/sqv: time conflict)', () => {
    const parts = documentParts(A, 1700000000, 1600000000, artifact);
    const sig = new TextEncoder().encode(
      openpgpArmor('PGP SIGNATURE', signaturePacket(parts, sign(parts.digest))),
    );
    expect(check(sig)).toBe('SIG_INVALID');
  });

  it('SIG_MALFORMED without a hashed creation time (RFC 9580 §5.2.3.11: MUST be present)', () => {
    expect(check(docSig(new Uint8Array()))).toBe('SIG_MALFORMED');
  });

  it('accepts a signature made after the key', () => {
    expect(check(docSig(subpacket(2, Uint8Array.of(0x65, 0x53, 0xf1, 0x01))))).toBe('OK');
  });
});

describe('OpenPGP signature expiration (hashed subpacket 3)', () => {
  const artifact = CONTENT['app.tar.gz']!;
  const withExpiry = (created: number, seconds: number) => {
    const parts = signatureParts(
      0x00,
      concat(subpacket(2, u32be(created)), subpacket(3, u32be(seconds))),
      new Uint8Array(),
      [artifact],
    );
    const signature = new TextEncoder().encode(
      openpgpArmor('PGP SIGNATURE', signaturePacket(parts, sign(parts.digest))),
    );
    return codeOf(verifySignature({ key: file('quorum.asc'), signature, artifact }));
  };

  it('SIG_INVALID after the signature expired (gpgv: "Expired signature"; sqv: "Expired")', () => {
    expect(withExpiry(1760000000, 10)).toBe('SIG_INVALID');
  });

  it('accepts an unexpired signature and expiration 0 (never)', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(withExpiry(now - 10, 3600)).toBe('OK');
    expect(withExpiry(1760000000, 0)).toBe('OK');
  });
});

describe('OpenPGP key expiration (self-signature subpacket 9)', () => {
  const artifact = CONTENT['app.tar.gz']!;
  const kc = 1700000000;
  const body = publicKeyBody(A, kc);
  const { fingerprint, keyId } = fingerprintOf(body);
  const uid = new TextEncoder().encode(openpgpUserId('release'));
  // A certificate whose self-signature says the key expires one day after creation.
  const parts = signatureParts(
    0x13,
    concat(
      subpacket(2, u32be(kc)),
      subpacket(33, concat(Uint8Array.of(4), fingerprint)),
      subpacket(27, Uint8Array.of(3)),
      subpacket(9, u32be(86400)),
    ),
    subpacket(16, keyId),
    [Uint8Array.of(0x99, 0, body.length), body, Uint8Array.of(0xb4), u32be(uid.length), uid],
  );
  const cert = concat(packet(6, body), packet(13, uid), signaturePacket(parts, sign(parts.digest)));
  const madeAt = (t: number) => {
    const d = documentParts(A, kc, t, artifact);
    const signature = new TextEncoder().encode(
      openpgpArmor('PGP SIGNATURE', signaturePacket(d, sign(d.digest))),
    );
    return codeOf(verifySignature({ key: cert, signature, artifact }));
  };

  it('SIG_INVALID for a signature made after the key expired (sqv: primary key is not live)', () => {
    expect(madeAt(1760000000)).toBe('SIG_INVALID');
  });

  it('accepts a signature made while the key was live', () => {
    expect(madeAt(kc + 100)).toBe('OK');
  });
});

describe('weak public keys', () => {
  // The identity point: R = identity, S = 0 "verifies" any message under it (OpenSSL does not
  // refuse small-order keys; libsodium/minisign do).
  const identity = `01${'00'.repeat(31)}`;
  const forged = new Uint8Array(64);
  forged[0] = 1;

  it('KEY_MALFORMED for a small-order key, so no message verifies under it', () => {
    const r = verifySignature({
      key: new TextEncoder().encode(`${identity}\n`),
      signature: forged,
      artifact: new TextEncoder().encode('any artifact at all'),
    });
    expect(codeOf(r)).toBe('KEY_MALFORMED');
  });

  it('KEY_MALFORMED for a non-canonical point encoding (y ≥ p)', () => {
    const r = verifySignature({
      key: new TextEncoder().encode(`${'ff'.repeat(31)}7f\n`),
      signature: forged,
      artifact: new Uint8Array(),
    });
    expect(codeOf(r)).toBe('KEY_MALFORMED');
  });
});

describe('time of verification (VerifyInput.now), never the clock when given', () => {
  const artifact = CONTENT['app.tar.gz']!;
  const line = new TextDecoder().decode(file('allowed_signers')).trim();
  const principal = line.split(' ')[0]!;
  const keyPart = line.slice(line.indexOf('ssh-ed25519'));
  // A key line valid during 2025 only (UTC), and the same signature checked at three instants.
  const windowed = new TextEncoder().encode(
    `${principal} valid-after="20250101Z",valid-before="20260101Z" ${keyPart}\n`,
  );
  const sshAt = (now: number) =>
    codeOf(verifySignature({ key: windowed, signature: file('app.tar.gz.sshsig'), artifact, now }));
  const tagAt = (now: number) =>
    codeOf(
      verifySignature({
        key: windowed,
        signature: file('v1.2.3.tag'),
        artifact: new Uint8Array(),
        now,
      }),
    );

  it('allowed_signers: OK inside valid-after..valid-before, KEY_CERT_INVALID outside', () => {
    expect(sshAt(Date.UTC(2025, 5, 1))).toBe('OK');
    expect(sshAt(Date.UTC(2024, 11, 31, 23, 59, 59))).toBe('KEY_CERT_INVALID');
    expect(sshAt(Date.UTC(2026, 0, 1, 0, 0, 1))).toBe('KEY_CERT_INVALID');
  });

  it('git tags: the same window, the same instant', () => {
    expect(tagAt(Date.UTC(2025, 5, 1))).toBe('OK');
    expect(tagAt(Date.UTC(2026, 5, 1))).toBe('KEY_CERT_INVALID');
  });

  const expiring = (() => {
    const parts = signatureParts(
      0x00,
      concat(subpacket(2, u32be(1760000000)), subpacket(3, u32be(3600))),
      new Uint8Array(),
      [artifact],
    );
    return new TextEncoder().encode(
      openpgpArmor('PGP SIGNATURE', signaturePacket(parts, sign(parts.digest))),
    );
  })();
  const pgpAt = (signature: Uint8Array, now: number) =>
    codeOf(verifySignature({ key: file('quorum.asc'), signature, artifact, now }));

  it('OpenPGP expiration: OK within the hour it is valid, SIG_INVALID after it', () => {
    expect(pgpAt(expiring, (1760000000 + 60) * 1000)).toBe('OK');
    expect(pgpAt(expiring, (1760000000 + 3601) * 1000)).toBe('SIG_INVALID');
  });

  it('OpenPGP: SIG_INVALID for a signature made after the time of verification (sqv --not-after)', () => {
    // The golden signature was made at ISSUED_AT.
    expect(pgpAt(file('app.tar.gz.asc'), ISSUED_AT + 1000)).toBe('OK');
    expect(pgpAt(file('app.tar.gz.asc'), ISSUED_AT - 1000)).toBe('SIG_INVALID');
  });

  it('SIG_MALFORMED for a time that is not a valid date', () => {
    for (const now of [Number.NaN, Number.POSITIVE_INFINITY, 1e20])
      expect(
        codeOf(
          verifySignature({ key: windowed, signature: file('app.tar.gz.sshsig'), artifact, now }),
        ),
        String(now),
      ).toBe('SIG_MALFORMED');
  });
});
