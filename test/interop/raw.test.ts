/**
 * Raw Ed25519 (`<artifact>.sig` + quorum.pem): openssl pkeyutl -rawin accepts the quorum's FROST
 * aggregate over the artifact; a changed artifact and another group's key are refused; Node's
 * crypto and `verifySignature` agree with openssl in every case.
 */
import { createPublicKey, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '@conclave/release';
import { requireTool } from '../support.js';
import { ARTIFACTS, enc, run, signRelease } from './release-support.js';

describe('raw Ed25519 with openssl', () => {
  const tool = () => requireTool('openssl');
  const s = signRelease(['raw']);
  const other = signRelease(['raw']);
  const openssl = (key: string, artifact: string, sig: string) =>
    run(
      'openssl',
      ['pkeyutl', '-verify', '-pubin', '-inkey', key, '-rawin', '-in', artifact, '-sigfile', sig],
      { cwd: s.dir },
    ).ok;

  it('accepts every artifact; Node and verifySignature agree', () => {
    tool();
    for (const [name, bytes] of Object.entries(ARTIFACTS)) {
      expect(openssl('quorum.pem', name, `${name}.sig`)).toBe(true);
      expect(
        verify(
          null,
          bytes,
          createPublicKey(Buffer.from(s.file('quorum.pem'))),
          s.file(`${name}.sig`),
        ),
      ).toBe(true);
      expect(
        verifySignature({
          key: s.file('quorum.pem'),
          signature: s.file(`${name}.sig`),
          artifact: bytes,
        }),
      ).toMatchObject({
        ok: true,
        format: 'raw',
      });
    }
  });

  it('rejects a changed artifact', () => {
    tool();
    const changed = enc('conclave interop artifact\n'.repeat(100) + 'x');
    writeFileSync(join(s.dir, 'changed'), changed);
    expect(openssl('quorum.pem', 'changed', 'app.tar.gz.sig')).toBe(false);
    expect(
      verifySignature({
        key: s.file('quorum.pem'),
        signature: s.file('app.tar.gz.sig'),
        artifact: changed,
      }),
    ).toMatchObject({
      ok: false,
      code: 'SIG_INVALID',
    });
  });

  it("rejects another group's key", () => {
    tool();
    writeFileSync(join(s.dir, 'other.pem'), other.file('quorum.pem'));
    expect(openssl('other.pem', 'app.tar.gz', 'app.tar.gz.sig')).toBe(false);
    expect(
      verifySignature({
        key: other.file('quorum.pem'),
        signature: s.file('app.tar.gz.sig'),
        artifact: ARTIFACTS['app.tar.gz']!,
      }),
    ).toMatchObject({ ok: false, code: 'SIG_INVALID' });
  });
});
