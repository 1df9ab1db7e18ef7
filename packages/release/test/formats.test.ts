/**
 * Golden byte layouts for every signature format, with one fixed Ed25519 key (RFC 8032 signing is
 * deterministic, so the files are byte-stable). The same files were accepted by openssl,
 * ssh-keygen, git, minisign, signify-openbsd, gpgv and sqv when these goldens were recorded; the
 * interop tests (test/interop) re-prove that with real FROST aggregates on every run.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  assemble,
  FORMAT_ERROR_CODES,
  gitTagObject,
  isFormatError,
  jobIds,
  keynum,
  minisignKeyId,
  planJobs,
  crc24,
  intotoKeyId,
  statementBytes,
  pae,
  type FormatErrorCode,
} from '../src/index.js';
import {
  A,
  ALL_FORMATS,
  CONTENT,
  GIT,
  artifactRef,
  dec,
  enc,
  hex,
  makeContext,
  makeRelease,
  sha256hex,
  sign,
  signAll,
} from './formats-support.js';

const H = (alg: string, ...parts: Uint8Array[]) => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const cat = (...p: (Uint8Array | string)[]) =>
  new Uint8Array(Buffer.concat(p.map((x) => (typeof x === 'string' ? Buffer.from(x, 'hex') : x))));
const str = (s: string) => cat(Buffer.from([0, 0, 0, s.length]), enc(s));

function code(f: () => unknown): FormatErrorCode | undefined {
  try {
    f();
  } catch (e) {
    if (isFormatError(e)) return e.code;
    throw e;
  }
  return undefined;
}

const ctx = makeContext();
const files = new Map(assemble(ctx, signAll(ctx)).map((f) => [f.path, f]));
const text = (path: string) => dec(files.get(path)!.bytes);

describe('job plan', () => {
  it('lists every job in a fixed order; dsse always first; minisign global signatures in phase 2', () => {
    expect(jobIds(makeRelease(), 1)).toEqual([
      'dsse',
      'raw:app.tar.gz',
      'raw:app-arm64.tar.gz',
      'sshsig:app.tar.gz',
      'sshsig:app-arm64.tar.gz',
      'git-tag',
      'minisign:app.tar.gz',
      'minisign:app-arm64.tar.gz',
      'signify',
      'openpgp-cert',
      'openpgp:app.tar.gz',
      'openpgp:app-arm64.tar.gz',
      'jws',
    ]);
    expect(jobIds(makeRelease(), 2)).toEqual([
      'minisign-global:app.tar.gz',
      'minisign-global:app-arm64.tar.gz',
    ]);
    expect(planJobs(ctx, 1).map((j) => j.id)).toEqual(jobIds(makeRelease(), 1));
  });

  it('needs only formats, names and whether a tag is given (not issuedAt or bytes)', () => {
    const names = { formats: ['sigstore', 'git'], artifacts: [{ name: 'x' }] };
    expect(jobIds(names, 1)).toEqual(['dsse']);
    expect(jobIds({ ...names, git: {} }, 1)).toEqual(['dsse', 'git-tag']);
    expect(jobIds(names, 2)).toEqual([]);
  });

  it('the order does not depend on the order formats are requested in', () => {
    const r = makeRelease([...ALL_FORMATS].reverse());
    expect(jobIds(r, 1)).toEqual(jobIds(makeRelease(), 1));
  });

  it('is deterministic given the context', () => {
    const again = planJobs(makeContext(), 1);
    expect(again.map((j) => hex(j.message))).toEqual(planJobs(ctx, 1).map((j) => hex(j.message)));
  });

  it('rejects an unknown format (FORMAT_UNKNOWN)', () => {
    expect(code(() => jobIds({ formats: ['cosign'], artifacts: [] }, 1))).toBe('FORMAT_UNKNOWN');
  });

  it('rejects a duplicate artifact name (ARTIFACT_DUPLICATE)', () => {
    expect(
      code(() => jobIds({ formats: ['raw'], artifacts: [{ name: 'a' }, { name: 'a' }] }, 1)),
    ).toBe('ARTIFACT_DUPLICATE');
  });

  it('rejects a homoglyph, any non-ASCII character or an edge space (ARTIFACT_NAME_INVALID)', () => {
    for (const name of ['\u0430pp.tgz', 'caf\u00e9.tgz', '\u{1F600}', ' a.tgz', 'a.tgz ']) {
      expect(code(() => jobIds({ formats: ['raw'], artifacts: [{ name }] }, 1))).toBe(
        'ARTIFACT_NAME_INVALID',
      );
    }
    expect(() =>
      jobIds({ formats: ['raw'], artifacts: [{ name: 'App Setup 1.0.exe' }] }, 1),
    ).not.toThrow();
  });

  it('rejects a path, tab or newline in an artifact name (ARTIFACT_NAME_INVALID)', () => {
    for (const name of ['../x', 'a/b', 'a\tb', 'a\nb', '..', '']) {
      expect(code(() => jobIds({ formats: ['minisign'], artifacts: [{ name }] }, 1))).toBe(
        'ARTIFACT_NAME_INVALID',
      );
    }
  });
});

describe('messages the quorum signs (rebuilt here from the specifications)', () => {
  const jobs = new Map(planJobs(ctx, 1).map((j) => [j.id, j.message]));
  const art = CONTENT['app.tar.gz']!;

  it('dsse: PAE("application/vnd.in-toto+json", canonical statement)', () => {
    const body = statementBytes(ctx.statement);
    expect(dec(jobs.get('dsse')!)).toBe(
      `DSSEv1 28 application/vnd.in-toto+json ${body.length} ${dec(body)}`,
    );
    expect(jobs.get('dsse')).toEqual(pae('application/vnd.in-toto+json', body));
  });

  it('raw: the artifact bytes', () => {
    expect(jobs.get('raw:app.tar.gz')).toEqual(art);
  });

  it('sshsig: "SSHSIG" ‖ string("file") ‖ string("") ‖ string("sha512") ‖ string(SHA-512(file))', () => {
    const want = cat(
      enc('SSHSIG'),
      str('file'),
      str(''),
      str('sha512'),
      '00000040',
      H('sha512', art),
    );
    expect(hex(jobs.get('sshsig:app.tar.gz')!)).toBe(hex(want));
  });

  it('git-tag: SSHSIG namespace "git" over SHA-512 of the tag object text', () => {
    const payload =
      'object 0123456789abcdef0123456789abcdef01234567\ntype commit\ntag v1.2.3\n' +
      'tagger Release Bot <release@example.com> 1764072000 +0000\n\nRelease v1.2.3\n';
    expect(dec(gitTagObject(GIT).payload)).toBe(payload);
    const want = cat(
      enc('SSHSIG'),
      str('git'),
      str(''),
      str('sha512'),
      '00000040',
      H('sha512', enc(payload)),
    );
    expect(hex(jobs.get('git-tag')!)).toBe(hex(want));
  });

  it('minisign: phase 1 signs BLAKE2b-512(file); phase 2 signs signature ‖ trusted comment', () => {
    expect(hex(jobs.get('minisign:app.tar.gz')!)).toBe(hex(H('blake2b512', art)));
    const sigs = signAll(ctx);
    const p2 = new Map(planJobs(ctx, 2, sigs).map((j) => [j.id, j.message]));
    const tc =
      'timestamp:1764072000\tfile:app.tar.gz\tprehashed\tversion:1.2.3\tceremony:c_00112233445566778899aabbccddeeff';
    expect(hex(p2.get('minisign-global:app.tar.gz')!)).toBe(
      hex(cat(sigs.get('minisign:app.tar.gz')!, enc(tc))),
    );
  });

  it('signify: one BSD-style "SHA256 (name) = hex" line per artifact', () => {
    const list = Object.entries(CONTENT)
      .map(([n, c]) => `SHA256 (${n}) = ${hex(H('sha256', c))}\n`)
      .join('');
    expect(dec(jobs.get('signify')!)).toBe(list);
  });

  // v4 EdDSALegacy key packet body for created = 1700000000 (0x6553f100), RFC 9580 §5.5.2.
  const keyBody = cat('04', '6553f100', '16', '092b06010401da470f01', '0107', '40', A);
  const fpr = H('sha1', cat('99', '0033'), keyBody);

  it('openpgp-cert: SHA-512 over key ‖ user ID ‖ 0x13 hashed part ‖ trailer', () => {
    expect(keyBody.length).toBe(0x33);
    const uid = enc('release release quorum <release@conclave.invalid>');
    const hashedSubs = cat(
      '05026553f100', // creation time
      '1621',
      '04',
      fpr, // issuer fingerprint (33)
      '021b03', // key flags: certify + sign
      '03150a08', // preferred hash: SHA-512, SHA-256
      '020b09', // preferred symmetric: AES-256
      '021e01', // features: MDC
    );
    const hp = cat('0413160a', Buffer.from([0, hashedSubs.length]), hashedSubs);
    const digest = H(
      'sha512',
      cat(
        '99',
        '0033',
        keyBody,
        'b4',
        Buffer.from([0, 0, 0, uid.length]),
        uid,
        hp,
        '04ff',
        Buffer.from([0, 0, 0, hp.length]),
      ),
    );
    expect(hex(jobs.get('openpgp-cert')!)).toBe(hex(digest));
  });

  it('openpgp: SHA-512 over file ‖ binary-signature hashed part ‖ trailer', () => {
    const hashedSubs = cat('05026925', '9a40', '1621', '04', fpr); // creation time 1764072000
    const hp = cat('0400160a', Buffer.from([0, hashedSubs.length]), hashedSubs);
    const digest = H('sha512', cat(art, hp, '04ff', Buffer.from([0, 0, 0, hp.length])));
    expect(hex(jobs.get('openpgp:app.tar.gz')!)).toBe(hex(digest));
  });

  it('jws: ASCII b64url(protected header) "." b64url(canonical statement)', () => {
    const header = `{"alg":"EdDSA","cty":"application/vnd.in-toto+json","kid":"${intotoKeyId(A)}"}`;
    const want = `${Buffer.from(header).toString('base64url')}.${Buffer.from(statementBytes(ctx.statement)).toString('base64url')}`;
    expect(dec(jobs.get('jws')!)).toBe(want);
  });
});

describe('golden files', () => {
  it('writes exactly these files', () => {
    expect([...files.keys()]).toEqual([
      'release.intoto.json',
      'release.sigstore.json',
      'app.tar.gz.sig',
      'app-arm64.tar.gz.sig',
      'app.tar.gz.sshsig',
      'app-arm64.tar.gz.sshsig',
      'v1.2.3.tag',
      'SHA256.sig',
      'app.tar.gz.asc',
      'app-arm64.tar.gz.asc',
      'release.jws',
      'app.tar.gz.minisig',
      'app-arm64.tar.gz.minisig',
      'quorum.pem',
      'quorum.ssh.pub',
      'allowed_signers',
      'minisign.pub',
      'signify.pub',
      'quorum.asc',
      'quorum.gpg',
      'quorum.jwk.json',
      'VERIFY.md',
    ]);
    expect(files.get('app.tar.gz.sig')).toMatchObject({
      kind: 'signature',
      format: 'raw',
      artifact: 'app.tar.gz',
    });
    expect(files.get('quorum.asc')).toMatchObject({ kind: 'key', format: 'openpgp' });
    expect(files.get('VERIFY.md')!.kind).toBe('note');
  });

  it('raw: 64 bytes R ‖ S', () => {
    expect(hex(files.get('app.tar.gz.sig')!.bytes)).toBe(hex(sign(CONTENT['app.tar.gz']!)));
  });

  it('sshsig: armored blob, 70 columns', () => {
    expect(text('app.tar.gz.sshsig')).toBe(
      '-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgebVWLo/mVPlAeLES6KmLp5AfhT\nrmlb7X4OORC60ElmQAAAAEZmlsZQAAAAAAAAAGc2hhNTEyAAAAUwAAAAtzc2gtZWQyNTUx\nOQAAAEAtTVZKkn4QOlI9K/dJFC/pfAaME8pNg7Cmf8z8OCHQlGhfEXdJtShTIDfiWtCI5G\n7sTuVykepj/4tOwKw6aLQP\n-----END SSH SIGNATURE-----\n',
    );
    const b64 = text('app.tar.gz.sshsig').split('\n').slice(1, -2).join('');
    const blob = new Uint8Array(Buffer.from(b64, 'base64'));
    const pub = cat(str('ssh-ed25519'), '00000020', A);
    const sig = sign(planJobs(ctx, 1).find((j) => j.id === 'sshsig:app.tar.gz')!.message);
    expect(hex(blob)).toBe(
      hex(
        cat(
          enc('SSHSIG'),
          '00000001',
          '00000033',
          pub,
          str('file'),
          str(''),
          str('sha512'),
          '00000053',
          str('ssh-ed25519'),
          '00000040',
          sig,
        ),
      ),
    );
  });

  it('git: tag object = payload ‖ armored SSHSIG (namespace git)', () => {
    expect(text('v1.2.3.tag')).toBe(
      'object 0123456789abcdef0123456789abcdef01234567\ntype commit\ntag v1.2.3\ntagger Release Bot <release@example.com> 1764072000 +0000\n\nRelease v1.2.3\n-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgebVWLo/mVPlAeLES6KmLp5AfhT\nrmlb7X4OORC60ElmQAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5\nAAAAQEU9ooJd8a9QhYyfTHaLWZlOdQR66CahYSEdnGfHmMNDZnVTka0I6Ab3cPsH8+M4Kd\n+cRYLBIk07M6QwiPXOuAk=\n-----END SSH SIGNATURE-----\n',
    );
  });

  it('minisign: 4 lines, ED ‖ keynum ‖ sig, trusted comment, global signature', () => {
    expect(text('app.tar.gz.minisig')).toBe(
      'untrusted comment: signature from conclave group release (minisign key 3B9C18B25E6CFF28)\nRUQo/2xeshicO53ELS5oSteUeBEgnHelnTGrJEcIHn/56XtstIr5uSPX3jyN2qFLjV3rI6sjC4GBXC9LOss26txcd2QaX70gGAc=\ntrusted comment: timestamp:1764072000\tfile:app.tar.gz\tprehashed\tversion:1.2.3\tceremony:c_00112233445566778899aabbccddeeff\nv6LQWuMXqcODsSHs3ARIpbOKSRN9RiqK5LsBs0o0H7Sp13HbV5dYm1/MjcvrjLjxnOEN+UEmvJtZ4x3DyCOWDQ==\n',
    );
    const line2 = new Uint8Array(Buffer.from(text('app.tar.gz.minisig').split('\n')[1]!, 'base64'));
    expect(dec(line2.subarray(0, 2))).toBe('ED');
    expect(hex(line2.subarray(2, 10))).toBe(hex(keynum(A)));
  });

  it('keynum = SHA-256("conclave-keynum" ‖ A)[0..8], shown little-endian', () => {
    const k = H('sha256', enc('conclave-keynum'), A).subarray(0, 8);
    expect(hex(keynum(A))).toBe(hex(k));
    expect(minisignKeyId(k)).toBe(Buffer.from(k).reverse().toString('hex').toUpperCase());
    expect(minisignKeyId(keynum(A))).toBe('3B9C18B25E6CFF28');
  });

  it('signify: comment, Ed ‖ keynum ‖ sig, then the embedded checksum list', () => {
    expect(text('SHA256.sig')).toBe(
      'untrusted comment: verify with signify.pub\nRWQo/2xeshicO7jXevg0qFSh8ht+KFCJwTQlCp+kpe+9hX0xRYE8rGA2C8kgtP+WxF+ToBZWqnaR8MECn+5tLSsI0Mq15TOR4gk=\nSHA256 (app.tar.gz) = 49c7fe5e1f4019855d602af50251192b0ea2d816d983c2dcb2a35d2f21102c23\nSHA256 (app-arm64.tar.gz) = 9f05f9489eaac9c2e371438349ac3bdee8fb193530a54cc8498726b3b1e00278\n',
    );
  });

  it('openpgp: armored v4 binary signature (64 columns, CRC-24)', () => {
    expect(text('app.tar.gz.asc')).toBe(
      '-----BEGIN PGP SIGNATURE-----\n\nwnUEABYKAB0FAmklmkAWIQRCePH0M1so5Y3c3qUuYiyK85rmuQAKCRAuYiyK85rm\nuY28AQDhqODX0XYU6Gy3GDKdILXNp/H+Szzmt2+8NgyarfL9gAEAu0iEIh79cyE2\noKAg+ji9+e2NUR8CNe8f2XYkHK8o+gA=\n=x9Up\n-----END PGP SIGNATURE-----\n',
    );
    expect(text('quorum.asc')).toBe(
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZVPxABYJKwYBBAHaRw8BAQdAebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OOR\nC60ElmTNMXJlbGVhc2UgcmVsZWFzZSBxdW9ydW0gPHJlbGVhc2VAY29uY2xhdmUu\naW52YWxpZD7CggQTFgoAKgUCZVPxABYhBEJ48fQzWyjljdzepS5iLIrzmua5AhsD\nAxUKCAILCQIeAQAKCRAuYiyK85rmuVc8AQDBanxulbynTBe0++JTYiX3C6wudSm1\nGGnEV/QL/Z6nrwEAuiSmh2w+/CnbKjnreD4Wao+fJVndtyNGpvUipJLg8wY=\n=UYm9\n-----END PGP PUBLIC KEY BLOCK-----\n',
    );
    expect(sha256hex(files.get('quorum.gpg')!.bytes)).toBe(
      '8bd072695d38e2fa75cbc95a13be4339fb0bfa92c147a22b5c66a5442885754c',
    );
    // new-format packet headers: C6 (public key) 33, CD (user ID), C2 (signature)
    const gpg = files.get('quorum.gpg')!.bytes;
    expect(hex(gpg.subarray(0, 2))).toBe('c633');
    expect(gpg[2 + 0x33]).toBe(0xcd);
  });

  it('CRC-24 of RFC 9580 §6.1 (empty input = init value)', () => {
    expect(crc24(new Uint8Array())).toBe(0xb704ce);
    expect(crc24(enc('123456789'))).toBe(0x21cf02);
  });

  it('dsse, sigstore and jws (pinned by digest; structure checked)', () => {
    const env = JSON.parse(text('release.intoto.json'));
    expect(Object.keys(env)).toEqual(['payloadType', 'payload', 'signatures']);
    expect(env.signatures).toEqual([
      {
        keyid: intotoKeyId(A),
        sig: Buffer.from(sign(planJobs(ctx, 1)[0]!.message)).toString('base64'),
      },
    ]);
    const bundle = JSON.parse(text('release.sigstore.json'));
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.verificationMaterial.publicKey.hint).toBe(intotoKeyId(A));
    expect(bundle.dsseEnvelope.signatures[0].sig).toBe(env.signatures[0].sig);
    expect(text('release.jws').split('.')).toHaveLength(3);
    expect(sha256hex(files.get('release.intoto.json')!.bytes)).toBe(
      '2240841ea9aadedc7b8f327078767d9fcc18bbd3ab1b52b15a43c923a5ee00b7',
    );
    expect(sha256hex(files.get('release.sigstore.json')!.bytes)).toBe(
      '3409a989bcc780473e433518c57fbd37a83a019aa933749874032904ac7de53f',
    );
    expect(sha256hex(files.get('release.jws')!.bytes)).toBe(
      '2310160386fc9abb58dca4a2c5f815037f80c49878de0ca29636ad60b2172ca0',
    );
  });

  it('in-toto key id matches securesystemslib (sha256 of the canonical key object)', () => {
    const key = `{"keyid_hash_algorithms":["sha256","sha512"],"keytype":"ed25519","keyval":{"public":"${hex(A)}"},"scheme":"ed25519"}`;
    expect(intotoKeyId(A)).toBe(sha256hex(enc(key)));
  });

  it('VERIFY.md names every file and the exact commands', () => {
    const note = text('VERIFY.md');
    for (const cmd of [
      'openssl pkeyutl -verify -pubin -inkey quorum.pem -rawin -in app.tar.gz -sigfile app.tar.gz.sig',
      'ssh-keygen -Y verify -f allowed_signers -I release@conclave -n file -s app.tar.gz.sshsig < app.tar.gz',
      'git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=allowed_signers verify-tag v1.2.3',
      'minisign -V -H -p minisign.pub -m app.tar.gz -x app.tar.gz.minisig',
      'signify -C -p signify.pub -x SHA256.sig app.tar.gz app-arm64.tar.gz',
      'gpgv --keyring ./quorum.gpg app.tar.gz.asc app.tar.gz',
      'sqv --keyring quorum.asc app.tar.gz.asc app.tar.gz',
    ]) {
      expect(note).toContain(cmd);
    }
    expect(sha256hex(files.get('VERIFY.md')!.bytes)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('only the requested formats (and their keys) are written', () => {
    const c = makeContext(makeRelease(['sshsig'], CONTENT, undefined));
    expect(assemble(c, signAll(c)).map((f) => f.path)).toEqual([
      'app.tar.gz.sshsig',
      'app-arm64.tar.gz.sshsig',
      'quorum.pem',
      'quorum.ssh.pub',
      'allowed_signers',
      'VERIFY.md',
    ]);
  });

  it('quotes names with spaces in VERIFY.md', () => {
    const content = { "my app's.tgz": enc('x') };
    const c = makeContext(makeRelease(['minisign'], content, undefined), { content });
    const note = dec(assemble(c, signAll(c)).find((f) => f.path === 'VERIFY.md')!.bytes);
    expect(note).toContain(`-m 'my app'\\''s.tgz'`);
  });
});

describe('rejections (one per code)', () => {
  const sigs = signAll(ctx);

  it('ARTIFACT_REQUIRED: raw and openpgp need the artifact bytes', () => {
    for (const f of ['raw', 'openpgp']) {
      const { artifactBytes: _drop, ...c } = makeContext(makeRelease([f]));
      expect(code(() => planJobs(c, 1))).toBe('ARTIFACT_REQUIRED');
    }
    const { artifactBytes: _drop, ...c } = makeContext(
      makeRelease(['sshsig', 'minisign', 'signify', 'dsse', 'jws', 'git']),
    );
    expect(planJobs(c, 1).length).toBeGreaterThan(0);
  });

  it('ARTIFACT_BYTES_MISMATCH: bytes that are not the approved artifact', () => {
    const c = { ...makeContext(makeRelease(['raw'])), artifactBytes: () => enc('other') };
    expect(code(() => planJobs(c, 1))).toBe('ARTIFACT_BYTES_MISMATCH');
  });

  it('ARTIFACT_DIGEST_INVALID', () => {
    const r = makeRelease(['sshsig']);
    const bad = { ...r, artifacts: [{ ...r.artifacts[0]!, sha512: 'XY' }] };
    expect(code(() => planJobs({ ...ctx, release: bad }, 1))).toBe('ARTIFACT_DIGEST_INVALID');
  });

  it('ARTIFACT_NAME_INVALID: signify cannot list a name with ")"', () => {
    const content = { 'a).tgz': enc('x') };
    const c = makeContext(makeRelease(['signify'], content, undefined), { content });
    expect(code(() => planJobs(c, 1))).toBe('ARTIFACT_NAME_INVALID');
    expect(code(() => jobIds({ formats: ['signify'], artifacts: [{ name: 'a).tgz' }] }, 1))).toBe(
      'ARTIFACT_NAME_INVALID',
    );
    const ok = makeContext(makeRelease(['minisign'], content, undefined), { content });
    expect(planJobs(ok, 1)).toHaveLength(2);
  });

  it('TRUSTED_COMMENT_INVALID: a version or ceremony id with a tab or newline', () => {
    const r = { ...makeRelease(['minisign']), version: '1.0\t2' };
    const c = makeContext(r);
    expect(code(() => planJobs(c, 1))).toBe('TRUSTED_COMMENT_INVALID');
  });

  it('GROUP_NAME_INVALID and PUBLIC_KEY_INVALID', () => {
    expect(code(() => planJobs({ ...ctx, group: 'Bad Group' }, 1))).toBe('GROUP_NAME_INVALID');
    expect(code(() => planJobs({ ...ctx, groupPublicKey: new Uint8Array(31) }, 1))).toBe(
      'PUBLIC_KEY_INVALID',
    );
  });

  it('GIT_TAG_INVALID', () => {
    const bad = [
      { ...GIT, object: 'abc' },
      { ...GIT, tag: 'v1..2' },
      { ...GIT, tagger: { ...GIT.tagger, name: 'a <b>' } },
      { ...GIT, tagger: { ...GIT.tagger, email: 'a b' } },
      { ...GIT, tagger: { ...GIT.tagger, tz: 'UTC' } },
      { ...GIT, message: 'x\n-----BEGIN SSH SIGNATURE-----' },
    ];
    for (const g of bad) expect(code(() => gitTagObject(g))).toBe('GIT_TAG_INVALID');
  });

  it('TIME_INVALID: an OpenPGP signature older than its key, or a time out of range', () => {
    expect(code(() => planJobs({ ...ctx, signedAt: ctx.keyCreatedAt - 1 }, 1))).toBe(
      'TIME_INVALID',
    );
    expect(code(() => planJobs({ ...ctx, keyCreatedAt: -1 }, 1))).toBe('TIME_INVALID');
    expect(code(() => planJobs({ ...ctx, signedAt: 2 ** 32 }, 1))).toBe('TIME_INVALID');
  });

  it('STATEMENT_MISMATCH: the statement lists other artifacts than the release', () => {
    const other = makeContext(makeRelease(ALL_FORMATS, { 'z.tgz': enc('z') }), {
      content: { 'z.tgz': enc('z') },
    });
    expect(code(() => planJobs({ ...ctx, statement: other.statement }, 1))).toBe(
      'STATEMENT_MISMATCH',
    );
  });

  it('SIGNATURE_MISSING: phase 2 without the phase-1 signature; assemble without a job', () => {
    expect(code(() => planJobs(ctx, 2, new Map()))).toBe('SIGNATURE_MISSING');
    const partial = new Map(sigs);
    partial.delete('jws');
    expect(code(() => assemble(ctx, partial))).toBe('SIGNATURE_MISSING');
  });

  it('SIGNATURE_INVALID: a phase-1 signature or any aggregate that does not verify', () => {
    const bad = new Map(sigs);
    bad.set('minisign:app.tar.gz', new Uint8Array(64));
    expect(code(() => planJobs(ctx, 2, bad))).toBe('SIGNATURE_INVALID');
    const swapped = new Map(sigs);
    swapped.set('jws', sigs.get('dsse')!);
    expect(code(() => assemble(ctx, swapped))).toBe('SIGNATURE_INVALID');
  });

  it('OUTPUT_PATH_COLLISION: an artifact named like a key file', () => {
    const content = { quorum: enc('q') };
    const c = makeContext(makeRelease(['openpgp'], content, undefined), { content });
    expect(code(() => assemble(c, signAll(c)))).toBe('OUTPUT_PATH_COLLISION');
  });

  it('every code is in the closed list', () => {
    expect(new Set(FORMAT_ERROR_CODES).size).toBe(FORMAT_ERROR_CODES.length);
  });

  it('ignores signatures for jobs it does not know', () => {
    const extra = new Map(sigs);
    extra.set('something-else', new Uint8Array(64));
    expect(assemble(ctx, extra).length).toBe(files.size);
  });

  it('a second artifact set gives other messages', () => {
    const c = makeContext(makeRelease(['sshsig'], { 'b.bin': enc('b') }, undefined), {
      content: { 'b.bin': enc('b') },
    });
    expect(planJobs(c, 1)[1]!.message).not.toEqual(planJobs(ctx, 1)[1]!.message);
    expect(artifactRef('b.bin', enc('b')).sha256).toBe(sha256hex(enc('b')));
  });
});
