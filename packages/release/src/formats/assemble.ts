/**
 * From the ceremony's aggregate signatures to files: every requested signature, the public key
 * files their verifiers need, and VERIFY.md with the exact commands. Every signature is checked
 * against the rebuilt job message first, so a bad aggregate never reaches a file.
 */
import {
  defaultPrincipal,
  exportPublicKey,
  KEY_FILES,
  openpgpCertificateFile,
  sshFingerprint,
} from '../keys/export.js';
import { verifyEd25519 } from './ed25519.js';
import { toHex, utf8 } from './encoding.js';
import { fail } from './errors.js';
import { gitTagObject } from './git.js';
import { keynum, minisignKeyId, minisignSignatureFile } from './minisign.js';
import { armor, documentParts, openpgpFingerprint, signaturePacket } from './openpgp.js';
import { artifactContent, planJobs, trustedCommentFor } from './plan.js';
import { SIGNIFY_SIG_FILE, signifyChecksumList, signifySignatureFile } from './signify.js';
import { SSHSIG_FILE_NAMESPACE, SSHSIG_GIT_NAMESPACE, sshsigArmor, sshsigBlob } from './sshsig.js';
import {
  dsseEnvelopeFile,
  intotoKeyId,
  jwsCompactFile,
  sigstoreBundleFile,
} from './statement-formats.js';
import type { FormatContext, OutputFile, SignatureFormat, SigningJob } from './types.js';

export const STATEMENT_FILES = {
  dsse: 'release.intoto.json',
  sigstore: 'release.sigstore.json',
  jws: 'release.jws',
} as const;
export const VERIFY_NOTE = 'VERIFY.md';

/** `<name>.<ext>` for per-artifact signatures. */
export const ARTIFACT_SIGNATURE_SUFFIX = {
  raw: '.sig',
  sshsig: '.sshsig',
  minisign: '.minisig',
  openpgp: '.asc',
} as const;

/** The file name a git tag object is written to (`/` in tag names becomes `-`). */
export function gitTagFileName(tag: string): string {
  return `${tag.replace(/\//g, '-')}.tag`;
}

function checkedSignatures(
  ctx: FormatContext,
  signatures: ReadonlyMap<string, Uint8Array>,
): SigningJob[] {
  const jobs = [...planJobs(ctx, 1)];
  const verify = (list: readonly SigningJob[]) => {
    for (const job of list) {
      const sig = signatures.get(job.id);
      if (!sig) fail('SIGNATURE_MISSING', `no signature for job ${job.id}`);
      if (!verifyEd25519(job.message, sig, ctx.groupPublicKey)) {
        fail(
          'SIGNATURE_INVALID',
          `the signature of job ${job.id} does not verify under the group key`,
        );
      }
    }
  };
  verify(jobs);
  if (ctx.release.formats.includes('minisign')) {
    const phase2 = planJobs(ctx, 2, signatures);
    verify(phase2);
    jobs.push(...phase2);
  }
  return jobs;
}

/** Every file a ceremony's signatures make, with VERIFY.md last. */
export function assemble(
  ctx: FormatContext,
  signatures: ReadonlyMap<string, Uint8Array>,
): OutputFile[] {
  const jobs = checkedSignatures(ctx, signatures);
  const a = ctx.groupPublicKey;
  const want = new Set(ctx.release.formats);
  const sig = (id: string) => signatures.get(id)!;
  const out: OutputFile[] = [];
  const text = (s: string) => utf8(s);
  const push = (
    path: string,
    bytes: Uint8Array,
    kind: OutputFile['kind'],
    format?: SignatureFormat,
    artifact?: string,
  ) =>
    out.push({
      path,
      bytes,
      kind,
      ...(format ? { format } : {}),
      ...(artifact !== undefined ? { artifact } : {}),
    });

  for (const job of jobs) {
    const name = job.artifact;
    switch (job.id.split(':')[0]) {
      case 'raw':
        push(`${name}${ARTIFACT_SIGNATURE_SUFFIX.raw}`, sig(job.id), 'signature', 'raw', name);
        break;
      case 'sshsig':
        push(
          `${name}${ARTIFACT_SIGNATURE_SUFFIX.sshsig}`,
          text(sshsigArmor(sshsigBlob(a, SSHSIG_FILE_NAMESPACE, sig(job.id)))),
          'signature',
          'sshsig',
          name,
        );
        break;
      case 'git-tag': {
        const git = ctx.release.git!;
        const armored = sshsigArmor(sshsigBlob(a, SSHSIG_GIT_NAMESPACE, sig(job.id)));
        push(gitTagFileName(git.tag), gitTagObject(git, armored).object, 'signature', 'git');
        break;
      }
      case 'minisign-global': {
        const n = name!;
        const file = minisignSignatureFile(
          a,
          sig(`minisign:${n}`),
          trustedCommentFor(ctx, n),
          sig(job.id),
          `signature from conclave group ${ctx.group} (minisign key ${minisignKeyId(keynum(a))})`,
        );
        push(`${n}${ARTIFACT_SIGNATURE_SUFFIX.minisign}`, text(file), 'signature', 'minisign', n);
        break;
      }
      case 'signify':
        push(
          SIGNIFY_SIG_FILE,
          signifySignatureFile(a, sig(job.id), signifyChecksumList(ctx.release.artifacts)),
          'signature',
          'signify',
        );
        break;
      case 'openpgp': {
        const parts = documentParts(
          a,
          ctx.keyCreatedAt,
          ctx.signedAt,
          artifactContent(ctx, name!, 'openpgp'),
        );
        push(
          `${name}${ARTIFACT_SIGNATURE_SUFFIX.openpgp}`,
          text(armor('PGP SIGNATURE', signaturePacket(parts, sig(job.id)))),
          'signature',
          'openpgp',
          name,
        );
        break;
      }
      case 'dsse':
        if (want.has('dsse'))
          push(
            STATEMENT_FILES.dsse,
            dsseEnvelopeFile(a, ctx.statement, sig(job.id)),
            'signature',
            'dsse',
          );
        if (want.has('sigstore')) {
          push(
            STATEMENT_FILES.sigstore,
            sigstoreBundleFile(a, ctx.statement, sig(job.id)),
            'signature',
            'sigstore',
          );
        }
        break;
      case 'jws':
        push(
          STATEMENT_FILES.jws,
          jwsCompactFile(a, ctx.statement, sig(job.id)),
          'signature',
          'jws',
        );
        break;
      default: // minisign phase 1 and openpgp-cert are written with their partners
        break;
    }
  }

  const key = (f: OutputFile) => out.push(f);
  key(exportPublicKey(a, 'pem'));
  if (want.has('sshsig') || (want.has('git') && ctx.release.git)) {
    key(exportPublicKey(a, 'ssh', { group: ctx.group }));
    key(exportPublicKey(a, 'allowed-signers', { group: ctx.group }));
  }
  if (want.has('minisign')) key(exportPublicKey(a, 'minisign'));
  if (want.has('signify')) key(exportPublicKey(a, 'signify', { group: ctx.group }));
  if (want.has('openpgp')) {
    key(openpgpCertificateFile(a, ctx.group, ctx.keyCreatedAt, sig('openpgp-cert')));
    key(openpgpCertificateFile(a, ctx.group, ctx.keyCreatedAt, sig('openpgp-cert'), true));
  }
  if (want.has('jws')) key(exportPublicKey(a, 'jwk'));
  out.push({ path: VERIFY_NOTE, bytes: utf8(verifyNote(ctx, out)), kind: 'note' });

  const seen = new Set<string>();
  for (const f of out) {
    if (seen.has(f.path)) {
      fail(
        'OUTPUT_PATH_COLLISION',
        `two output files are named ${f.path}; rename the artifact that collides with it`,
      );
    }
    seen.add(f.path);
  }
  return out;
}

/** POSIX shell quoting for the commands in VERIFY.md. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9._/+@=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function verifyNote(ctx: FormatContext, files: readonly OutputFile[]): string {
  const a = ctx.groupPublicKey;
  const q = shellQuote;
  const principal = defaultPrincipal(ctx.group);
  const lines: string[] = [];
  const p = (s = '') => lines.push(s);
  const sigFor = (format: SignatureFormat) =>
    files.filter((f) => f.kind === 'signature' && f.format === format);
  p(`# Verifying release ${ctx.release.version} (group ${ctx.group})`);
  p();
  p(
    `Signed by a quorum of group \`${ctx.group}\` (FROST Ed25519) in ceremony \`${ctx.statement.predicate.ceremonyId}\`.`,
  );
  p('Every signature below is one ordinary Ed25519 signature under one group public key:');
  p();
  p(`- Ed25519 public key (hex): \`${toHex(a)}\``);
  p(`- SSH fingerprint: \`${sshFingerprint(a)}\``);
  p(`- minisign / signify key id: \`${minisignKeyId(keynum(a))}\``);
  p(`- in-toto / DSSE key id: \`${intotoKeyId(a)}\``);
  if (sigFor('openpgp').length) {
    p(
      `- OpenPGP fingerprint: \`${toHex(openpgpFingerprint(a, ctx.keyCreatedAt).fingerprint).toUpperCase()}\``,
    );
  }
  p();
  p('Check the key against one you obtained independently before trusting any of these files.');
  p('`conclave verify --key KEY --sig SIG ARTIFACT` checks any of them without other tools.');
  const section = (title: string, body: string[]) => {
    if (body.length === 0) return;
    p();
    p(`## ${title}`);
    p();
    p('```sh');
    for (const b of body) p(b);
    p('```');
  };
  section(
    'Raw Ed25519 (OpenSSL 3)',
    sigFor('raw').map(
      (f) =>
        `openssl pkeyutl -verify -pubin -inkey ${KEY_FILES.pem} -rawin -in ${q(f.artifact!)} -sigfile ${q(f.path)}`,
    ),
  );
  section(
    'SSH signatures (OpenSSH 8.1+)',
    sigFor('sshsig').map(
      (f) =>
        `ssh-keygen -Y verify -f ${KEY_FILES['allowed-signers']} -I ${principal} -n file -s ${q(f.path)} < ${q(f.artifact!)}`,
    ),
  );
  const git = ctx.release.git;
  if (git && sigFor('git').length) {
    const file = gitTagFileName(git.tag);
    section('git tag (git 2.34+, SSH signing)', [
      `sha=$(git hash-object -t tag -w --stdin < ${q(file)})`,
      `git update-ref refs/tags/${q(git.tag)} "$sha"`,
      `git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=${KEY_FILES['allowed-signers']} verify-tag ${q(git.tag)}`,
    ]);
  }
  section(
    'minisign (0.10+)',
    sigFor('minisign').map(
      (f) => `minisign -V -H -p ${KEY_FILES.minisign} -m ${q(f.artifact!)} -x ${q(f.path)}`,
    ),
  );
  if (sigFor('signify').length) {
    section('signify checksum list (OpenBSD signify; Debian: signify-openbsd)', [
      `signify -C -p ${KEY_FILES.signify} -x ${SIGNIFY_SIG_FILE} ${ctx.release.artifacts.map((x) => q(x.name)).join(' ')}`,
    ]);
  }
  const pgp = sigFor('openpgp');
  section('OpenPGP (gpgv / gpg 2.2+, sqv)', [
    ...pgp.map((f) => `gpgv --keyring ./${KEY_FILES.openpgpBinary} ${q(f.path)} ${q(f.artifact!)}`),
    ...pgp.map((f) => `sqv --keyring ${KEY_FILES.openpgp} ${q(f.path)} ${q(f.artifact!)}`),
    ...(pgp.length
      ? [
          `# or: gpg --import ${KEY_FILES.openpgp} && gpg --verify ${q(pgp[0]!.path)} ${q(pgp[0]!.artifact!)}`,
        ]
      : []),
  ]);
  if (sigFor('dsse').length || sigFor('sigstore').length) {
    p();
    p('## in-toto statement (DSSE envelope, Sigstore bundle v0.3)');
    p();
    p(
      `\`${STATEMENT_FILES.dsse}\` is a DSSE envelope of the in-toto Statement v1 (subjects: every artifact's`,
    );
    p(
      `sha256/sha512). \`${STATEMENT_FILES.sigstore}\` carries the same signature as a Sigstore bundle with a`,
    );
    p(`public-key hint (no transparency log). With @sigstore/verify 3.x (Node 20):`);
    p();
    p('```js');
    p(
      `const keys = { '${intotoKeyId(a)}': { rawBytes: spkiDer /* ${KEY_FILES.pem} */, keyDetails: 'PKIX_ED25519', validFor: { start: new Date(0) } } };`,
    );
    p(
      `const verifier = new Verifier(toTrustMaterial(emptyTrustedRoot, keys), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });`,
    );
    p(
      `verifier.verify(toSignedEntity(bundleFromJSON(JSON.parse(readFileSync('${STATEMENT_FILES.sigstore}', 'utf8')))));`,
    );
    p('// then compare the statement subject digests with your artifact');
    p('```');
  }
  if (sigFor('jws').length) {
    p();
    p('## JWS (RFC 7515 compact, EdDSA; payload = the in-toto statement)');
    p();
    p('```js');
    p(
      `const key = await importJWK(JSON.parse(readFileSync('${KEY_FILES.jwk}', 'utf8')), 'EdDSA');`,
    );
    p(
      `const { payload } = await compactVerify(readFileSync('${STATEMENT_FILES.jws}', 'utf8'), key); // jose 6`,
    );
    p('// payload is the statement: compare its subject digests with your artifact');
    p('```');
  }
  return `${lines.join('\n')}\n`;
}
