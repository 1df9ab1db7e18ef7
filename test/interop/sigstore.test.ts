/**
 * DSSE envelope and Sigstore bundle v0.3 (public-key hint): @sigstore/verify 3.1.1 accepts the
 * quorum's FROST aggregate over the DSSE PAE of the in-toto statement, for the bundle and for the
 * envelope wrapped the same way; a tampered statement and another group's key are refused, and a
 * changed artifact no longer matches any subject digest (the step a verifier takes after the
 * signature, as `cosign verify-blob-attestation` does). `verifySignature` agrees in every case.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { verifySignature } from '@conclave/release';
import { ARTIFACTS, dec, enc, signRelease } from './release-support.js';

type TrustedRoot = Parameters<typeof toTrustMaterial>[0];
type Keys = Exclude<Parameters<typeof toTrustMaterial>[1], undefined | ((hint: string) => unknown)>;

const EMPTY_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
} as unknown as TrustedRoot;

/** @sigstore/verify with the group key as trust material under the bundle's hint; true if it verifies. */
function sigstoreVerify(
  bundleJson: string,
  pem: Uint8Array,
): { ok: boolean; payload?: Uint8Array } {
  const bundle = JSON.parse(bundleJson);
  const der = createPublicKey(Buffer.from(pem)).export({ type: 'spki', format: 'der' });
  const keys = {
    [bundle.verificationMaterial.publicKey.hint]: {
      rawBytes: der,
      keyDetails: 'PKIX_ED25519',
      validFor: { start: new Date(0) },
    },
  } as unknown as Keys;
  try {
    new Verifier(toTrustMaterial(EMPTY_ROOT, keys), {
      tlogThreshold: 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    }).verify(toSignedEntity(bundleFromJSON(bundle)));
    return {
      ok: true,
      payload: new Uint8Array(Buffer.from(bundle.dsseEnvelope.payload, 'base64')),
    };
  } catch {
    return { ok: false };
  }
}

/** The verifier's artifact step: some subject of the signed statement has the artifact's sha256. */
function subjectMatches(payload: Uint8Array, artifact: Uint8Array): boolean {
  const st = JSON.parse(dec(payload));
  const d = createHash('sha256').update(artifact).digest('hex');
  return st.subject.some((x: { digest: { sha256: string } }) => x.digest.sha256 === d);
}

/** A DSSE envelope file as a Sigstore bundle (what `cosign` / sigstore-js read). */
function envelopeAsBundle(envelope: string, hint: string): string {
  const env = JSON.parse(envelope);
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: env,
  });
}

describe('Sigstore bundle and DSSE envelope with @sigstore/verify', () => {
  const s = signRelease(['dsse', 'sigstore']);
  const other = signRelease(['dsse', 'sigstore']);
  const bundle = dec(s.file('release.sigstore.json'));
  const envelope = dec(s.file('release.intoto.json'));
  const hint = JSON.parse(bundle).verificationMaterial.publicKey.hint as string;
  const native = (sig: string, key: Uint8Array, artifact: Uint8Array) =>
    verifySignature({ key, signature: enc(sig), artifact });

  it('accepts the bundle and the envelope; every artifact is a subject; verifySignature agrees', () => {
    for (const json of [bundle, envelopeAsBundle(envelope, hint)]) {
      const r = sigstoreVerify(json, s.file('quorum.pem'));
      expect(r.ok).toBe(true);
      for (const b of Object.values(ARTIFACTS)) expect(subjectMatches(r.payload!, b)).toBe(true);
    }
    for (const [n, b] of Object.entries(ARTIFACTS)) {
      expect(native(bundle, s.file('quorum.pem'), b)).toMatchObject({
        ok: true,
        format: 'sigstore',
        artifactName: n,
      });
      expect(native(envelope, s.file('quorum.pem'), b)).toMatchObject({
        ok: true,
        format: 'dsse',
        artifactName: n,
      });
    }
  });

  it('a changed artifact matches no subject', () => {
    const changed = enc('changed\n');
    const r = sigstoreVerify(bundle, s.file('quorum.pem'));
    expect(r.ok && subjectMatches(r.payload!, changed)).toBe(false);
    expect(native(bundle, s.file('quorum.pem'), changed)).toMatchObject({
      ok: false,
      code: 'DIGEST_MISMATCH',
    });
    expect(native(envelope, s.file('quorum.pem'), changed)).toMatchObject({
      ok: false,
      code: 'DIGEST_MISMATCH',
    });
  });

  it('rejects a tampered statement (a subject digest swapped for the changed artifact)', () => {
    const b = JSON.parse(bundle);
    const st = JSON.parse(dec(new Uint8Array(Buffer.from(b.dsseEnvelope.payload, 'base64'))));
    st.subject[0].digest.sha256 = createHash('sha256').update('changed\n').digest('hex');
    b.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    const tampered = JSON.stringify(b);
    expect(sigstoreVerify(tampered, s.file('quorum.pem')).ok).toBe(false);
    expect(native(tampered, s.file('quorum.pem'), enc('changed\n'))).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's key", () => {
    expect(sigstoreVerify(bundle, other.file('quorum.pem')).ok).toBe(false);
    expect(sigstoreVerify(envelopeAsBundle(envelope, hint), other.file('quorum.pem')).ok).toBe(
      false,
    );
    expect(native(bundle, other.file('quorum.pem'), ARTIFACTS['app.tar.gz']!)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
    expect(native(envelope, other.file('quorum.pem'), ARTIFACTS['app.tar.gz']!)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });
});
