/**
 * JWS (RFC 7515 compact, RFC 8037 EdDSA; payload = the in-toto statement): jose 6 verifies the
 * quorum's FROST aggregate with the exported JWK and with the SPKI PEM; a tampered payload and
 * another group's key are refused, a changed artifact matches no subject; `verifySignature` agrees.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compactVerify, importJWK, importSPKI } from 'jose';
import { verifySignature } from '@conclave/release';
import { ARTIFACTS, dec, enc, signRelease } from './release-support.js';

async function joseVerify(jws: string, jwk: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    const key = await importJWK(JSON.parse(dec(jwk)), 'EdDSA');
    return (await compactVerify(jws, key)).payload;
  } catch {
    return undefined;
  }
}

const subjectMatches = (payload: Uint8Array, artifact: Uint8Array) =>
  JSON.parse(dec(payload)).subject.some(
    (x: { digest: { sha256: string } }) =>
      x.digest.sha256 === createHash('sha256').update(artifact).digest('hex'),
  );

describe('JWS with jose', () => {
  const s = signRelease(['jws']);
  const other = signRelease(['jws']);
  const jws = dec(s.file('release.jws'));
  const native = (sig: string, key: Uint8Array, artifact: Uint8Array) =>
    verifySignature({ key, signature: enc(sig), artifact });

  it('jose accepts it with the JWK and the PEM; every artifact is a subject; verifySignature agrees', async () => {
    const payload = await joseVerify(jws, s.file('quorum.jwk.json'));
    expect(payload).toBeDefined();
    const pemKey = await importSPKI(dec(s.file('quorum.pem')), 'EdDSA');
    const r = await compactVerify(jws, pemKey);
    expect(r.protectedHeader.alg).toBe('EdDSA');
    for (const [n, b] of Object.entries(ARTIFACTS)) {
      expect(subjectMatches(payload!, b)).toBe(true);
      expect(native(jws, s.file('quorum.jwk.json'), b)).toMatchObject({
        ok: true,
        format: 'jws',
        artifactName: n,
      });
    }
  });

  it('a changed artifact matches no subject', async () => {
    const changed = enc('changed\n');
    const payload = await joseVerify(jws, s.file('quorum.jwk.json'));
    expect(subjectMatches(payload!, changed)).toBe(false);
    expect(native(jws, s.file('quorum.jwk.json'), changed)).toMatchObject({
      ok: false,
      code: 'DIGEST_MISMATCH',
    });
  });

  it('rejects a tampered payload', async () => {
    const [h, p, sig] = jws.split('.');
    const st = JSON.parse(dec(new Uint8Array(Buffer.from(p!, 'base64url'))));
    st.predicate.version = '9.9.9';
    const tampered = `${h}.${Buffer.from(JSON.stringify(st)).toString('base64url')}.${sig}`;
    expect(await joseVerify(tampered, s.file('quorum.jwk.json'))).toBeUndefined();
    expect(native(tampered, s.file('quorum.jwk.json'), ARTIFACTS['app.tar.gz']!)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's key", async () => {
    expect(await joseVerify(jws, other.file('quorum.jwk.json'))).toBeUndefined();
    expect(native(jws, other.file('quorum.jwk.json'), ARTIFACTS['app.tar.gz']!)).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });
});
