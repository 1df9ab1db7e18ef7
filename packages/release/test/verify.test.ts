/**
 * Native verification: every format verifies under every key file; each rejection rule answers
 * with its own code (changed artifact, wrong key, namespace, trusted comment, listing, damage).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  assemble,
  detectKey,
  detectSignatureFormat,
  exportPublicKey,
  isFormatError,
  MAX_SIGNATURE_BYTES,
  openpgpCertificate,
  openpgpArmor,
  signifySignatureFile,
  verifySignature,
  type OutputFile,
  type VerifyInput,
} from '../src/index.js';
import { signaturePacket, signatureParts, subpacket } from '../src/formats/openpgp.js';
import { A, CONTENT, dec, enc, makeContext, sha256hex, sign, signAll } from './formats-support.js';

const ctx = makeContext();
const files = new Map(assemble(ctx, signAll(ctx)).map((f) => [f.path, f]));
const file = (p: string) => files.get(p)!.bytes;

const SEED_B = new Uint8Array(32).fill(9);
const B = ed25519.getPublicKey(SEED_B);
const ctxB = makeContext(undefined, { publicKey: B });
const filesB = new Map(
  assemble(
    ctxB,
    signAll(ctxB, (m) => ed25519.sign(m, SEED_B)),
  ).map((f) => [f.path, f]),
);
const fileB = (p: string) => filesB.get(p)!.bytes;

const art = CONTENT['app.tar.gz']!;
const changed = enc('conclave golden artifact\n!');
const SIGS = [
  'app.tar.gz.sig',
  'app.tar.gz.sshsig',
  'v1.2.3.tag',
  'app.tar.gz.minisig',
  'SHA256.sig',
  'app.tar.gz.asc',
  'release.intoto.json',
  'release.sigstore.json',
  'release.jws',
];
const KEYS = [
  'quorum.pem',
  'quorum.ssh.pub',
  'allowed_signers',
  'minisign.pub',
  'signify.pub',
  'quorum.asc',
  'quorum.gpg',
  'quorum.jwk.json',
];

const v = (sig: string, key: string, artifact = art, extra: Partial<VerifyInput> = {}) =>
  verifySignature({ key: file(key), signature: file(sig), artifact, ...extra });
const codeOf = (r: ReturnType<typeof verifySignature>) => (r.ok ? 'OK' : r.code);

describe('verifySignature accepts', () => {
  it('every format under every key file', () => {
    for (const s of SIGS) {
      for (const k of KEYS) {
        const r = v(s, k);
        expect(r, `${s} with ${k}`).toMatchObject({ ok: true, format: files.get(s)!.format });
      }
    }
  });

  it('detects each format from the bytes', () => {
    for (const s of SIGS) expect(detectSignatureFormat(file(s))).toBe(files.get(s)!.format);
  });

  it('names the artifact where the signature carries its name', () => {
    expect(v('SHA256.sig', 'signify.pub')).toMatchObject({ ok: true, artifactName: 'app.tar.gz' });
    expect(v('release.intoto.json', 'quorum.pem', CONTENT['app-arm64.tar.gz']!)).toMatchObject({
      ok: true,
      artifactName: 'app-arm64.tar.gz',
    });
    expect(v('app.tar.gz.minisig', 'minisign.pub')).toMatchObject({ artifactName: 'app.tar.gz' });
  });

  it('a legacy (non-prehashed) minisign signature and a detached signify signature', () => {
    const seed = new Uint8Array(32).fill(7);
    const a = ed25519.getPublicKey(seed);
    const key = exportPublicKey(a, 'minisign').bytes;
    const kn = Buffer.from(dec(key).split('\n')[1]!, 'base64').subarray(2, 10);
    const sig = ed25519.sign(art, seed);
    const tc = 'timestamp:1\tfile:x';
    const global = ed25519.sign(new Uint8Array([...sig, ...enc(tc)]), seed);
    const line = Buffer.concat([Buffer.from('Ed'), kn, sig]).toString('base64');
    const legacy = `untrusted comment: x\n${line}\ntrusted comment: ${tc}\n${Buffer.from(global).toString('base64')}\n`;
    expect(verifySignature({ key, signature: enc(legacy), artifact: art })).toMatchObject({
      ok: true,
      format: 'minisign',
    });
    const detached = `untrusted comment: verify with x.pub\n${line}\n`;
    expect(verifySignature({ key, signature: enc(detached), artifact: art })).toMatchObject({
      ok: true,
      format: 'signify',
    });
  });

  it('binary OpenPGP signatures and a flattened JWS', () => {
    const armored = dec(file('app.tar.gz.asc'));
    const body = armored.split('\n\n')[1]!.split('\n=')[0]!.replace(/\n/g, '');
    const binary = new Uint8Array(Buffer.from(body, 'base64'));
    expect(
      verifySignature({ key: file('quorum.gpg'), signature: binary, artifact: art }),
    ).toMatchObject({ ok: true, format: 'openpgp' });
    const [p, pl, s] = dec(file('release.jws')).split('.');
    const flat = enc(JSON.stringify({ protected: p, payload: pl, signature: s }));
    expect(
      verifySignature({ key: file('quorum.pem'), signature: flat, artifact: art }),
    ).toMatchObject({ ok: true, format: 'jws' });
  });
});

describe('verifySignature rejects a changed artifact', () => {
  const want: Record<string, string> = {
    'app.tar.gz.sig': 'SIG_INVALID',
    'app.tar.gz.sshsig': 'SIG_INVALID',
    'app.tar.gz.minisig': 'SIG_INVALID',
    'SHA256.sig': 'ARTIFACT_NOT_LISTED',
    'app.tar.gz.asc': 'SIG_INVALID',
    'release.intoto.json': 'DIGEST_MISMATCH',
    'release.sigstore.json': 'DIGEST_MISMATCH',
    'release.jws': 'DIGEST_MISMATCH',
  };
  for (const [s, c] of Object.entries(want)) {
    it(`${s}: ${c}`, () => expect(codeOf(v(s, 'quorum.pem', changed))).toBe(c));
  }

  it('by name: a listed artifact with another digest is DIGEST_MISMATCH, an unlisted one ARTIFACT_NOT_LISTED', () => {
    for (const s of ['SHA256.sig', 'release.intoto.json', 'release.sigstore.json', 'release.jws']) {
      expect(codeOf(v(s, 'quorum.pem', changed, { artifactName: 'app.tar.gz' }))).toBe(
        'DIGEST_MISMATCH',
      );
      expect(codeOf(v(s, 'quorum.pem', art, { artifactName: 'other.tgz' }))).toBe(
        'ARTIFACT_NOT_LISTED',
      );
    }
  });

  it('a git tag whose payload was edited: SIG_INVALID', () => {
    const tag = dec(file('v1.2.3.tag')).replace('tag v1.2.3', 'tag v9.9.9');
    expect(
      codeOf(
        verifySignature({
          key: file('quorum.pem'),
          signature: enc(tag),
          artifact: new Uint8Array(),
        }),
      ),
    ).toBe('SIG_INVALID');
  });
});

describe('verifySignature rejects a wrong key', () => {
  const cases: [string, string, string][] = [
    ['app.tar.gz.sig', 'quorum.pem', 'SIG_INVALID'],
    ['app.tar.gz.sshsig', 'allowed_signers', 'KEY_MISMATCH'],
    ['v1.2.3.tag', 'allowed_signers', 'KEY_MISMATCH'],
    ['app.tar.gz.minisig', 'minisign.pub', 'KEY_MISMATCH'],
    ['app.tar.gz.minisig', 'quorum.pem', 'SIG_INVALID'],
    ['SHA256.sig', 'signify.pub', 'KEY_MISMATCH'],
    ['app.tar.gz.asc', 'quorum.asc', 'KEY_MISMATCH'],
    ['app.tar.gz.asc', 'quorum.pem', 'SIG_INVALID'],
    ['release.intoto.json', 'quorum.pem', 'SIG_INVALID'],
    ['release.sigstore.json', 'quorum.jwk.json', 'SIG_INVALID'],
    ['release.jws', 'quorum.jwk.json', 'SIG_INVALID'],
  ];
  for (const [s, k, c] of cases) {
    it(`${s} under the other group's ${k}: ${c}`, () => {
      expect(codeOf(verifySignature({ key: fileB(k), signature: file(s), artifact: art }))).toBe(c);
    });
  }
});

describe('namespaces and trusted comments', () => {
  it('SSHSIG under another namespace than expected: NAMESPACE_MISMATCH', () => {
    expect(codeOf(v('app.tar.gz.sshsig', 'quorum.pem', art, { namespace: 'git' }))).toBe(
      'NAMESPACE_MISMATCH',
    );
    expect(codeOf(v('v1.2.3.tag', 'quorum.pem', art, { namespace: 'file' }))).toBe(
      'NAMESPACE_MISMATCH',
    );
    expect(codeOf(v('app.tar.gz.sshsig', 'quorum.pem', art, { namespace: 'file' }))).toBe('OK');
  });

  it('an allowed_signers line that does not permit the namespace: NAMESPACE_MISMATCH', () => {
    const key = exportPublicKey(A, 'allowed-signers', {
      group: 'release',
      namespaces: 'git',
    }).bytes;
    expect(
      codeOf(verifySignature({ key, signature: file('app.tar.gz.sshsig'), artifact: art })),
    ).toBe('NAMESPACE_MISMATCH');
    expect(codeOf(verifySignature({ key, signature: file('v1.2.3.tag'), artifact: art }))).toBe(
      'OK',
    );
  });

  it('an edited minisign trusted comment: TRUSTED_COMMENT_INVALID', () => {
    const edited = dec(file('app.tar.gz.minisig')).replace('version:1.2.3', 'version:1.2.4');
    expect(
      codeOf(verifySignature({ key: file('minisign.pub'), signature: enc(edited), artifact: art })),
    ).toBe('TRUSTED_COMMENT_INVALID');
  });

  it('an edited untrusted comment is still fine (it is not signed)', () => {
    const edited = dec(file('app.tar.gz.minisig')).replace('signature from', 'sig from');
    expect(
      codeOf(verifySignature({ key: file('minisign.pub'), signature: enc(edited), artifact: art })),
    ).toBe('OK');
  });
});

describe('damaged and unknown input', () => {
  const sigOf = (s: string | Uint8Array, key = 'quorum.pem') =>
    codeOf(
      verifySignature({
        key: file(key),
        signature: typeof s === 'string' ? enc(s) : s,
        artifact: art,
      }),
    );

  it('SIG_FORMAT_UNKNOWN for text that is no signature, and for empty input', () => {
    expect(sigOf('hello world')).toBe('SIG_FORMAT_UNKNOWN');
    expect(sigOf(new Uint8Array())).toBe('SIG_FORMAT_UNKNOWN');
    expect(sigOf(new Uint8Array([0xff, 0xfe, 0x00]))).toBe('SIG_FORMAT_UNKNOWN');
  });

  it('SIG_MALFORMED for damaged base64, truncated packets, bad JSON', () => {
    expect(sigOf(dec(file('app.tar.gz.sshsig')).replace('U1NI', 'U1N!'))).toBe('SIG_MALFORMED');
    expect(sigOf(dec(file('app.tar.gz.asc')).replace(/=....\n/, '=AAAA\n'))).toBe('SIG_MALFORMED');
    expect(sigOf('{"payloadType": ')).toBe('SIG_MALFORMED');
    expect(sigOf('untrusted comment: x\nAAAA\ntrusted comment: y\nAAAA\n')).toBe('SIG_MALFORMED');
  });

  it('SIG_MALFORMED for a signed signify list with a line signify cannot parse', () => {
    // signify -C rejects the whole list at the first line it cannot parse, an empty one too;
    // skipping it would pass a list that signify itself fails.
    const listed = `SHA256 (app.tar.gz) = ${sha256hex(art)}\n`;
    const signed = (list: string) => {
      const m = enc(list);
      return signifySignatureFile(A, sign(m), m);
    };
    expect(sigOf(signed(listed), 'signify.pub')).toBe('OK');
    for (const list of [
      `${listed}not a checksum line\n`,
      `not a checksum line\n${listed}`,
      `${listed}\n${listed}`,
      `${listed}SHA256 (other.tgz) = \n`,
    ]) {
      const r = verifySignature({
        key: file('signify.pub'),
        signature: signed(list),
        artifact: art,
      });
      expect(r, list).toMatchObject({ ok: false, format: 'signify', code: 'SIG_MALFORMED' });
      expect(r.ok ? '' : r.reason).toMatch(/unable to parse checksum line/);
    }
  });

  it('SIG_UNSUPPORTED for messageSignature bundles, JWS b64=false, other algorithms', () => {
    const bundle = JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      messageSignature: {},
    });
    expect(sigOf(bundle)).toBe('SIG_UNSUPPORTED');
    const h = Buffer.from('{"alg":"EdDSA","b64":false,"crit":["b64"]}').toString('base64url');
    expect(sigOf(`${h}.e30.${Buffer.alloc(64).toString('base64url')}`)).toBe('SIG_UNSUPPORTED');
    const rs = Buffer.from('{"alg":"RS256"}').toString('base64url');
    expect(sigOf(`${rs}.e30.${Buffer.alloc(64).toString('base64url')}`)).toBe('SIG_UNSUPPORTED');
    const mini = dec(file('app.tar.gz.minisig')).split('\n');
    const raw = Buffer.from(mini[1]!, 'base64');
    raw[1] = 0x42; // "EB"
    mini[1] = raw.toString('base64');
    expect(sigOf(mini.join('\n'))).toBe('SIG_UNSUPPORTED');
  });

  it('KEY_FORMAT_UNKNOWN, KEY_MALFORMED, KEY_UNSUPPORTED', () => {
    const withKey = (k: string | Uint8Array) =>
      codeOf(
        verifySignature({
          key: typeof k === 'string' ? enc(k) : k,
          signature: file('app.tar.gz.sig'),
          artifact: art,
        }),
      );
    expect(withKey('not a key')).toBe('KEY_FORMAT_UNKNOWN');
    expect(withKey(new Uint8Array())).toBe('KEY_FORMAT_UNKNOWN');
    expect(withKey('-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n')).toBe(
      'KEY_MALFORMED',
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
    expect(withKey(rsa)).toBe('KEY_UNSUPPORTED');
    expect(withKey('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 user@host')).toBe('KEY_UNSUPPORTED');
    expect(withKey('{"kty":"EC","crv":"P-256","x":"a","y":"b"}')).toBe('KEY_UNSUPPORTED');
  });

  it('KEY_CERT_INVALID for an OpenPGP certificate whose self-signature does not verify', () => {
    const bad = openpgpCertificate(A, 'release', 1700000000, new Uint8Array(64).fill(1));
    const r = verifySignature({
      key: enc(openpgpArmor('PGP PUBLIC KEY BLOCK', bad)),
      signature: file('app.tar.gz.asc'),
      artifact: art,
    });
    expect(codeOf(r)).toBe('KEY_CERT_INVALID');
    expect(() => detectKey(bad)).toThrow(expect.objectContaining({ code: 'KEY_CERT_INVALID' }));
  });

  it('KEY_CERT_INVALID for a revoked OpenPGP key', () => {
    // A key revocation (0x20) by the quorum over 0x99 ‖ len ‖ key body, appended: gpg refuses the key.
    const cert = file('quorum.gpg');
    const keyBody = cert.subarray(2, 2 + 0x33);
    const parts = signatureParts(
      0x20,
      subpacket(2, Uint8Array.of(0x65, 0x53, 0xf1, 0x01)),
      new Uint8Array(),
      [Uint8Array.of(0x99, 0, 0x33), keyBody],
    );
    const revocation = signaturePacket(parts, sign(parts.digest));
    expect(detectKey(cert).format).toBe('openpgp');
    expect(() => detectKey(new Uint8Array([...cert, ...revocation]))).toThrow(
      expect.objectContaining({ code: 'KEY_CERT_INVALID' }),
    );
  });

  it('INPUT_TOO_LARGE for a signature file beyond the limit', () => {
    expect(sigOf(new Uint8Array(MAX_SIGNATURE_BYTES + 1))).toBe('INPUT_TOO_LARGE');
  });

  it('detectKey throws only FormatError', () => {
    for (const k of [
      '',
      '{',
      '{"keytype":"ed25519","keyval":{"public":"zz"}}',
      'untrusted comment: x\nRWQ=\n',
    ]) {
      try {
        detectKey(enc(k));
      } catch (e) {
        expect(isFormatError(e)).toBe(true);
      }
    }
  });

  it('files from assemble carry their format', () => {
    const f: OutputFile = files.get('app.tar.gz.sshsig')!;
    expect(f.format).toBe('sshsig');
  });
});
