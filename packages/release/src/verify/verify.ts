/**
 * `verifySignature`: detect the signature format, read the key, verify natively (Node's Ed25519)
 * — no external tools. Each format is checked the way its own verifier checks it (key match,
 * namespace, trusted comment, the artifact's line or subject), so a verdict here agrees with
 * openssl, ssh-keygen, git, minisign, signify, gpgv/sqv, @sigstore/verify and jose.
 */
import { createHash } from 'node:crypto';
import {
  concat,
  decodeUtf8,
  equalBytes,
  fromBase64,
  fromBase64Url,
  Reader,
  toHex,
  u32be,
  utf8,
} from '../formats/encoding.js';
import { verifyEd25519 } from '../formats/ed25519.js';
import { isFormatError } from '../formats/errors.js';
import { minisignKeyId } from '../formats/minisign.js';
import { TAG_SIGNATURE } from '../formats/openpgp.js';
import {
  SSHSIG_BEGIN,
  SSHSIG_END,
  SSHSIG_MAGIC,
  SSHSIG_FILE_NAMESPACE,
  SSHSIG_GIT_NAMESPACE,
} from '../formats/sshsig.js';
import type { SignatureFormat } from '../formats/types.js';
import { DSSE_PAYLOAD_TYPE, pae } from '../statement.js';
import { sshFingerprint } from '../keys/export.js';
import { detectKey, type DetectedKey } from './detect-key.js';
import { openpgpPackets, parseSignature } from './openpgp-parse.js';
import {
  reject,
  VerifyFailure,
  type VerifyInput,
  type VerifyResult,
  type VerifyFailureCode,
} from './result.js';

/** Largest signature file read (a signify list or statement for a large batch stays far below). */
export const MAX_SIGNATURE_BYTES = 64 << 20;

type Ok = { detail: string; artifactName?: string; statementPayload?: Uint8Array };

const digest = (alg: string, data: Uint8Array) =>
  new Uint8Array(createHash(alg).update(data).digest());

/** Lazily hashed artifact (each digest computed at most once). */
class Artifact {
  private cache = new Map<string, Uint8Array>();
  constructor(readonly bytes: Uint8Array) {}
  get(alg: 'sha256' | 'sha512' | 'blake2b512'): Uint8Array {
    let d = this.cache.get(alg);
    if (!d) {
      d = digest(alg, this.bytes);
      this.cache.set(alg, d);
    }
    return d;
  }
  hex(alg: 'sha256' | 'sha512'): string {
    return toHex(this.get(alg));
  }
}

// ---------------------------------------------------------------- detection

/** Which format a signature file is, from its bytes alone (undefined: none we know). */
export function detectSignatureFormat(sig: Uint8Array): SignatureFormat | undefined {
  if (sig.length === 64) return 'raw';
  if (sig.length > 0 && (sig[0] === 0x88 || sig[0] === 0x89 || sig[0] === 0x8a || sig[0] === 0xc2))
    return 'openpgp';
  const text = decodeUtf8(sig);
  if (text === undefined) return undefined;
  if (text.startsWith('object ') && text.includes(`\n${SSHSIG_BEGIN}`)) return 'git';
  if (text.includes(SSHSIG_BEGIN)) return 'sshsig';
  if (text.includes('-----BEGIN PGP SIGNATURE-----')) return 'openpgp';
  if (text.startsWith('untrusted comment:')) {
    const third = text.split('\n')[2] ?? '';
    return third.startsWith('trusted comment:') ? 'minisign' : 'signify';
  }
  const t = text.trim();
  if (t.startsWith('{')) {
    if (t.includes('"mediaType"') && t.includes('sigstore.bundle')) return 'sigstore';
    if (t.includes('"payloadType"')) return 'dsse';
    if (t.includes('"protected"') && t.includes('"signature"')) return 'jws';
    return undefined;
  }
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/.test(t)) return 'jws';
  return undefined;
}

// ---------------------------------------------------------------- shared checks

function checkEd(message: Uint8Array, signature: Uint8Array, key: DetectedKey, what: string): void {
  if (!verifyEd25519(message, signature, key.publicKey)) {
    reject(
      'SIG_INVALID',
      `${what} does not verify under this key: the artifact, the signed data or the key differs`,
    );
  }
}

interface Listed {
  readonly name: string;
  readonly digests: Readonly<Record<string, string>>;
}

/**
 * Find the artifact in a signed list (signify lines, statement subjects): by name when given,
 * else by digest. `unnamed` is the code when no entry has the artifact's digest.
 */
function findListed(
  entries: readonly Listed[],
  art: Artifact,
  name: string | undefined,
  unnamed: VerifyFailureCode,
  what: string,
): string {
  // One digest suffices to bind the artifact (SHA-256 when listed: it is the faster one to compute).
  const matches = (e: Listed) => {
    const alg =
      e.digests.sha256 !== undefined
        ? 'sha256'
        : e.digests.sha512 !== undefined
          ? 'sha512'
          : undefined;
    return alg !== undefined && art.hex(alg) === e.digests[alg]!.toLowerCase();
  };
  if (name !== undefined) {
    const e = entries.find((x) => x.name === name);
    if (!e) reject('ARTIFACT_NOT_LISTED', `${what} does not list ${name}`);
    if (!matches(e))
      reject(
        'DIGEST_MISMATCH',
        `${what} lists ${name} with another digest: the artifact was changed`,
      );
    return name;
  }
  const e = entries.find(matches);
  if (!e) {
    reject(
      unnamed,
      unnamed === 'ARTIFACT_NOT_LISTED'
        ? `${what} has no line with this artifact's digest`
        : `no subject of ${what} has this artifact's digest: the artifact was changed or is not part of this release`,
    );
  }
  return e.name;
}

// ---------------------------------------------------------------- raw

function verifyRaw(sig: Uint8Array, key: DetectedKey, art: Artifact): Ok {
  checkEd(art.bytes, sig, key, 'the raw Ed25519 signature');
  return { detail: 'raw Ed25519 signature over the artifact verified' };
}

// ---------------------------------------------------------------- SSHSIG (PROTOCOL.sshsig)

interface SshSig {
  readonly publicKey: Uint8Array;
  readonly namespace: string;
  readonly hashAlgorithm: 'sha256' | 'sha512';
  readonly signature: Uint8Array;
}

function parseSshsig(armored: string): SshSig {
  const lines = armored.split(/\r?\n/).map((l) => l.trim());
  const b = lines.indexOf(SSHSIG_BEGIN);
  const e = lines.indexOf(SSHSIG_END, b + 1);
  if (b < 0 || e < 0) reject('SIG_MALFORMED', 'SSH signature armor is incomplete');
  const blob = fromBase64(lines.slice(b + 1, e).join(''));
  if (!blob) reject('SIG_MALFORMED', 'SSH signature body is not base64');
  const r = new Reader(blob);
  const magic = r.take(6);
  if (!magic || !equalBytes(magic, SSHSIG_MAGIC))
    reject('SIG_MALFORMED', 'not an SSHSIG blob (magic)');
  const version = r.u32();
  if (version !== 1) reject('SIG_UNSUPPORTED', `SSHSIG version ${version} is not 1`);
  const pk = r.sshString();
  const ns = r.sshString();
  const reserved = r.sshString();
  const halg = r.sshString();
  const sigBlob = r.sshString();
  if (!pk || !ns || !reserved || !halg || !sigBlob || r.remaining !== 0)
    reject('SIG_MALFORMED', 'truncated SSHSIG blob');
  const pr = new Reader(pk);
  const ktype = pr.sshString();
  const kbytes = pr.sshString();
  const kt = ktype ? decodeUtf8(ktype) : undefined;
  if (kt !== 'ssh-ed25519')
    reject('SIG_UNSUPPORTED', `SSH signature key type ${kt ?? '?'} is not ssh-ed25519`);
  if (!kbytes || kbytes.length !== 32 || pr.remaining !== 0)
    reject('SIG_MALFORMED', 'bad ssh-ed25519 key in the signature');
  const sr = new Reader(sigBlob);
  const stype = sr.sshString();
  const sbytes = sr.sshString();
  if (
    !stype ||
    decodeUtf8(stype) !== 'ssh-ed25519' ||
    !sbytes ||
    sbytes.length !== 64 ||
    sr.remaining !== 0
  ) {
    reject('SIG_MALFORMED', 'bad ssh-ed25519 signature blob');
  }
  const h = decodeUtf8(halg);
  if (h !== 'sha512' && h !== 'sha256')
    reject('SIG_UNSUPPORTED', `SSHSIG hash ${h ?? '?'} is not sha512 or sha256`);
  const namespace = decodeUtf8(ns);
  if (namespace === undefined) reject('SIG_MALFORMED', 'SSHSIG namespace is not UTF-8');
  return { publicKey: kbytes, namespace, hashAlgorithm: h, signature: sbytes };
}

function checkSshsig(
  s: SshSig,
  key: DetectedKey,
  message: Uint8Array,
  expectedNs: string,
  now: number,
): Ok {
  if (s.namespace !== expectedNs) {
    reject(
      'NAMESPACE_MISMATCH',
      `signature namespace "${s.namespace}" is not the expected "${expectedNs}"`,
    );
  }
  if (key.namespaces && !key.namespaces.includes(s.namespace)) {
    reject(
      'NAMESPACE_MISMATCH',
      `the allowed_signers line does not permit namespace "${s.namespace}"`,
    );
  }
  // ssh-keygen -Y verify checks the line's validity window against the time of verification.
  if (key.validAfter !== undefined && now < key.validAfter)
    reject(
      'KEY_CERT_INVALID',
      `the allowed_signers key is not valid before ${new Date(key.validAfter).toISOString()}`,
    );
  if (key.validBefore !== undefined && now > key.validBefore)
    reject(
      'KEY_CERT_INVALID',
      `the allowed_signers key expired at ${new Date(key.validBefore).toISOString()} (valid-before)`,
    );
  if (!equalBytes(s.publicKey, key.publicKey)) {
    reject(
      'KEY_MISMATCH',
      `the signature was made by another key (${sshFingerprint(s.publicKey)})`,
    );
  }
  const signed = concat(
    SSHSIG_MAGIC,
    sshStr(utf8(s.namespace)),
    sshStr(new Uint8Array()),
    sshStr(utf8(s.hashAlgorithm)),
    sshStr(digest(s.hashAlgorithm, message)),
  );
  checkEd(signed, s.signature, key, 'the SSH signature');
  const who = key.principals ? ` for ${key.principals.join(',')}` : '';
  return {
    detail: `Good "${s.namespace}" signature${who} with ED25519 key ${sshFingerprint(key.publicKey)}`,
  };
}

const sshStr = (b: Uint8Array) => concat(u32be(b.length), b);

function verifySshsig(
  text: string,
  key: DetectedKey,
  art: Artifact,
  ns: string | undefined,
  now: number,
): Ok {
  return checkSshsig(parseSshsig(text), key, art.bytes, ns ?? SSHSIG_FILE_NAMESPACE, now);
}

/** Lines git takes for the start of a signature (gpg-interface.c `sigformats`). */
const GIT_SIGNATURE_MARKERS = [
  SSHSIG_BEGIN,
  '-----BEGIN PGP SIGNATURE-----',
  '-----BEGIN PGP MESSAGE-----',
  '-----BEGIN SIGNED MESSAGE-----',
];

function verifyGitTag(text: string, key: DetectedKey, ns: string | undefined, now: number): Ok {
  // git's parse_signed_buffer splits at the LAST line starting with a signature marker: everything
  // before it is the signed payload. Splitting at the first would accept text appended after a
  // valid signature that git verify-tag refuses.
  let at = -1;
  for (const m of GIT_SIGNATURE_MARKERS) at = Math.max(at, text.lastIndexOf(`\n${m}`));
  if (!text.startsWith(SSHSIG_BEGIN, at + 1))
    reject('SIG_MALFORMED', "the tag's last signature block is not an SSH signature");
  const payload = utf8(text.slice(0, at + 1));
  const tag = /^tag (.+)$/m.exec(text.slice(0, at))?.[1] ?? '?';
  const object = /^object ([0-9a-f]+)$/m.exec(text.slice(0, at))?.[1] ?? '?';
  const ok = checkSshsig(
    parseSshsig(text.slice(at + 1)),
    key,
    payload,
    ns ?? SSHSIG_GIT_NAMESPACE,
    now,
  );
  return { detail: `${ok.detail} on tag ${tag} (object ${object})` };
}

// ---------------------------------------------------------------- minisign / signify

function keyLine(
  line: string | undefined,
  what: string,
): { alg: string; keynum: Uint8Array; sig: Uint8Array } {
  const b = fromBase64((line ?? '').trim());
  if (!b || b.length !== 74)
    reject('SIG_MALFORMED', `${what} signature line must be base64 of 74 bytes`);
  return { alg: String.fromCharCode(b[0]!, b[1]!), keynum: b.slice(2, 10), sig: b.slice(10) };
}

function checkKeynum(keynum: Uint8Array, key: DetectedKey): void {
  if (key.keynum && !equalBytes(keynum, key.keynum)) {
    reject(
      'KEY_MISMATCH',
      `signature key id ${minisignKeyId(keynum)} is not the public key's ${minisignKeyId(key.keynum)}`,
    );
  }
}

function verifyMinisign(text: string, key: DetectedKey, art: Artifact): Ok {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (!lines[0]!.startsWith('untrusted comment:'))
    reject('SIG_MALFORMED', 'minisign: missing untrusted comment');
  const s = keyLine(lines[1], 'minisign');
  const tcLine = lines[2] ?? '';
  if (!tcLine.startsWith('trusted comment: '))
    reject('SIG_MALFORMED', 'minisign: missing trusted comment');
  const trusted = tcLine.slice('trusted comment: '.length);
  const global = fromBase64((lines[3] ?? '').trim());
  if (!global || global.length !== 64)
    reject('SIG_MALFORMED', 'minisign: global signature must be base64 of 64 bytes');
  if (lines.slice(4).some((l) => l.trim() !== ''))
    reject('SIG_MALFORMED', 'minisign: trailing data after the signature');
  if (s.alg !== 'ED' && s.alg !== 'Ed')
    reject('SIG_UNSUPPORTED', `minisign algorithm ${JSON.stringify(s.alg)} is not ED or Ed`);
  checkKeynum(s.keynum, key);
  checkEd(s.alg === 'ED' ? art.get('blake2b512') : art.bytes, s.sig, key, 'the minisign signature');
  if (!verifyEd25519(concat(s.sig, utf8(trusted)), global, key.publicKey)) {
    reject(
      'TRUSTED_COMMENT_INVALID',
      'the trusted comment was changed: its global signature does not verify',
    );
  }
  const file = /(?:^|\t)file:([^\t]*)/.exec(trusted)?.[1];
  return {
    detail: `minisign signature and trusted comment verified (${s.alg === 'ED' ? 'prehashed' : 'legacy'}); trusted comment: ${trusted}`,
    ...(file !== undefined ? { artifactName: file } : {}),
  };
}

/**
 * BSD checksum lines signify -C reads: `ALG (name) = hex`. signify rejects the whole list at the
 * first line it cannot parse (an empty one too; only the end of the text after the last line
 * break is no line), so a line we cannot read rejects it here as well, never skipped.
 */
function checksumLines(text: string): Listed[] {
  const out: Listed[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const m = /^(SHA256|SHA512) \(([^)]*)\) = ([0-9a-fA-F]+)$/.exec(line);
    if (!m) {
      reject(
        'SIG_MALFORMED',
        `signify: unable to parse checksum line ${JSON.stringify(line.slice(0, 200))} (signify -C rejects the whole list)`,
      );
    }
    out.push({ name: m[2]!, digests: { [m[1]!.toLowerCase()]: m[3]! } });
  }
  return out;
}

function verifySignify(
  sig: Uint8Array,
  key: DetectedKey,
  art: Artifact,
  name: string | undefined,
): Ok {
  // Two lines, then (embedded form) the signed message itself.
  const nl1 = sig.indexOf(0x0a);
  const nl2 = nl1 < 0 ? -1 : sig.indexOf(0x0a, nl1 + 1);
  if (nl1 < 0) reject('SIG_MALFORMED', 'signify: missing signature line');
  const line2 = decodeUtf8(sig.subarray(nl1 + 1, nl2 < 0 ? sig.length : nl2)) ?? '';
  const s = keyLine(line2, 'signify');
  if (s.alg !== 'Ed')
    reject('SIG_UNSUPPORTED', `signify algorithm ${JSON.stringify(s.alg)} is not Ed`);
  checkKeynum(s.keynum, key);
  const embedded = nl2 < 0 ? new Uint8Array() : sig.subarray(nl2 + 1);
  if (embedded.length === 0) {
    checkEd(art.bytes, s.sig, key, 'the signify signature');
    return { detail: 'signify signature over the artifact verified' };
  }
  checkEd(embedded, s.sig, key, 'the signify signature of the checksum list');
  const list = checksumLines(decodeUtf8(embedded) ?? '');
  const found = findListed(list, art, name, 'ARTIFACT_NOT_LISTED', 'the signed checksum list');
  return { detail: `signify checksum list verified; ${found}: OK`, artifactName: found };
}

// ---------------------------------------------------------------- OpenPGP

function verifyOpenpgp(sig: Uint8Array, key: DetectedKey, art: Artifact, now: number): Ok {
  const p = openpgpPackets(sig, 'PGP SIGNATURE');
  if ('error' in p) reject('SIG_MALFORMED', `OpenPGP: ${p.error}`);
  const [first, ...rest] = p.value;
  if (!first || first.tag !== TAG_SIGNATURE)
    reject('SIG_MALFORMED', 'OpenPGP: expected a signature packet');
  if (rest.length)
    reject('SIG_UNSUPPORTED', 'OpenPGP: more than one packet; expected one detached signature');
  if (first.body[0] !== 4)
    reject(
      'SIG_UNSUPPORTED',
      `OpenPGP signature version ${first.body[0]} is not supported (v4 only)`,
    );
  const parsed = parseSignature(first.body);
  if ('error' in parsed) {
    reject(
      /not supported|not EdDSA|critical/.test(parsed.error) ? 'SIG_UNSUPPORTED' : 'SIG_MALFORMED',
      `OpenPGP: ${parsed.error}`,
    );
  }
  const s = parsed.value;
  if (s.sigType !== 0x00 && s.sigType !== 0x01)
    reject(
      'SIG_UNSUPPORTED',
      `OpenPGP signature type 0x${s.sigType.toString(16)} is not a document signature`,
    );
  const alg =
    s.hashAlgorithm === 8
      ? 'sha256'
      : s.hashAlgorithm === 9
        ? 'sha384'
        : s.hashAlgorithm === 10
          ? 'sha512'
          : undefined;
  if (!alg)
    reject(
      'SIG_UNSUPPORTED',
      `OpenPGP hash algorithm ${s.hashAlgorithm} (EdDSA needs SHA-256 or stronger)`,
    );
  // RFC 9580 §5.2.3.11: the creation time MUST be in the hashed area (sqv: "Malformed"), and a
  // signature older than its key is refused by gpgv ("Time conflict") and sqv alike.
  if (s.createdAt === undefined)
    reject('SIG_MALFORMED', 'OpenPGP: the signature has no hashed creation time');
  // A signature made after the time of verification did not exist then: sqv refuses it (its
  // --not-after defaults to now; even 30 s ahead is "created after the --not-after date"). gpgv
  // accepts it; refusing is the stricter of the two.
  if (s.createdAt * 1000 > now)
    reject(
      'SIG_INVALID',
      `the OpenPGP signature was made ${new Date(s.createdAt * 1000).toISOString()}, after the time of verification ${new Date(now).toISOString()}`,
    );
  // §5.2.3.18: a hashed signature expiration time (0 = never); gpgv and sqv refuse past it.
  if (s.expiresIn && now / 1000 > s.createdAt + s.expiresIn)
    reject(
      'SIG_INVALID',
      `the OpenPGP signature expired at ${new Date((s.createdAt + s.expiresIn) * 1000).toISOString()}`,
    );
  if (key.openpgp && s.createdAt < key.openpgp.createdAt)
    reject(
      'SIG_INVALID',
      `the OpenPGP signature (${new Date(s.createdAt * 1000).toISOString()}) is older than its key (${new Date(key.openpgp.createdAt * 1000).toISOString()})`,
    );
  // A signature made after the key expired is refused (sqv: "The primary key is not live").
  if (key.openpgp?.expiresAt !== undefined && s.createdAt >= key.openpgp.expiresAt)
    reject(
      'SIG_INVALID',
      `the OpenPGP signature was made after its key expired (${new Date(key.openpgp.expiresAt * 1000).toISOString()})`,
    );
  if (key.openpgp) {
    const k = key.openpgp;
    if (
      s.issuerFingerprint
        ? !equalBytes(s.issuerFingerprint, k.fingerprint)
        : s.issuerKeyId && !equalBytes(s.issuerKeyId, k.keyId)
    ) {
      reject(
        'KEY_MISMATCH',
        `the signature was issued by another OpenPGP key (${toHex(s.issuerFingerprint ?? s.issuerKeyId!).toUpperCase()})`,
      );
    }
  }
  // 0x01 canonical text: line endings as CRLF (RFC 9580 §5.2.1.2). Done on the bytes (latin1 maps
  // each byte to one code unit), as gpg and sqv do: the text need not be UTF-8, and a decoding
  // failure must never turn the artifact into other signed bytes.
  const data =
    s.sigType === 0x01
      ? new Uint8Array(
          Buffer.from(
            Buffer.from(art.bytes).toString('latin1').replace(/\r?\n/g, '\r\n'),
            'latin1',
          ),
        )
      : art.bytes;
  const h = createHash(alg);
  h.update(data);
  h.update(s.hashedPart);
  h.update(Uint8Array.of(4, 0xff));
  h.update(u32be(s.hashedPart.length));
  const d = new Uint8Array(h.digest());
  if (!equalBytes(d.subarray(0, 2), s.left16)) {
    reject(
      'SIG_INVALID',
      'the OpenPGP digest does not match (quick check): the artifact was changed',
    );
  }
  checkEd(d, s.signature, key, 'the OpenPGP signature');
  const when = ` made ${new Date(s.createdAt * 1000).toISOString()}`;
  const by = key.openpgp ? ` from "${key.openpgp.userIds[0]}"` : '';
  return { detail: `Good OpenPGP signature${by}${when}` };
}

// ---------------------------------------------------------------- statements (DSSE, Sigstore, JWS)

function parseJson(text: string, what: string): Record<string, unknown> {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    reject('SIG_MALFORMED', `${what} is not valid JSON`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    reject('SIG_MALFORMED', `${what} must be a JSON object`);
  return j as Record<string, unknown>;
}

/** The in-toto statement's subjects (name + digests), for the artifact check. */
function statementSubjects(
  payload: Uint8Array,
  what: string,
): { subjects: Listed[]; version?: string } {
  const text = decodeUtf8(payload);
  if (text === undefined) reject('SIG_MALFORMED', `${what} payload is not UTF-8`);
  const s = parseJson(text, `${what} payload`);
  if (typeof s._type !== 'string' || !s._type.startsWith('https://in-toto.io/Statement/')) {
    reject('SIG_UNSUPPORTED', `${what} payload is not an in-toto statement`);
  }
  if (!Array.isArray(s.subject)) reject('SIG_MALFORMED', `${what}: statement has no subject list`);
  const subjects: Listed[] = [];
  for (const x of s.subject as unknown[]) {
    if (typeof x !== 'object' || x === null) continue;
    const o = x as Record<string, unknown>;
    const dg = o.digest;
    if (typeof o.name !== 'string' || typeof dg !== 'object' || dg === null) continue;
    const digests: Record<string, string> = {};
    for (const [k, v] of Object.entries(dg as Record<string, unknown>))
      if (typeof v === 'string') digests[k] = v;
    subjects.push({ name: o.name, digests });
  }
  const pred = s.predicate as Record<string, unknown> | undefined;
  const version = typeof pred?.version === 'string' ? pred.version : undefined;
  return { subjects, ...(version !== undefined ? { version } : {}) };
}

function b64any(s: unknown): Uint8Array | undefined {
  if (typeof s !== 'string') return undefined;
  return fromBase64(s) ?? fromBase64Url(s.replace(/=+$/, ''));
}

function verifyDsseEnvelope(
  env: Record<string, unknown>,
  key: DetectedKey,
  art: Artifact,
  name: string | undefined,
  what: string,
): Ok {
  const type = env.payloadType;
  const payload = b64any(env.payload);
  if (typeof type !== 'string' || !payload)
    reject('SIG_MALFORMED', `${what}: payloadType and base64 payload are required`);
  if (type !== DSSE_PAYLOAD_TYPE)
    reject('SIG_UNSUPPORTED', `${what}: payload type ${type} is not ${DSSE_PAYLOAD_TYPE}`);
  const sigs = env.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0 || sigs.length > 64)
    reject('SIG_MALFORMED', `${what}: signatures must be a non-empty list`);
  const message = pae(type, payload);
  // DSSE: the envelope is valid if any signature verifies under the key (the keyid is only a hint).
  const good = sigs.some((x) => {
    const sig = b64any((x as Record<string, unknown> | null)?.sig);
    return sig !== undefined && sig.length === 64 && verifyEd25519(message, sig, key.publicKey);
  });
  if (!good) reject('SIG_INVALID', `no signature of the ${what} verifies under this key`);
  const st = statementSubjects(payload, what);
  const found = findListed(st.subjects, art, name, 'DIGEST_MISMATCH', `the ${what}'s statement`);
  return {
    detail: `${what} signature verified; ${found} is a subject of the statement${st.version ? ` (release ${st.version})` : ''}`,
    artifactName: found,
    statementPayload: payload,
  };
}

/** The bundle media types @sigstore/bundle defines (bundle.ts); anything else is refused there. */
const SIGSTORE_BUNDLE_MEDIA_TYPES: readonly string[] = [
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
];

function verifySigstore(
  o: Record<string, unknown>,
  key: DetectedKey,
  art: Artifact,
  name: string | undefined,
): Ok {
  if (typeof o.mediaType !== 'string' || !SIGSTORE_BUNDLE_MEDIA_TYPES.includes(o.mediaType)) {
    reject('SIG_UNSUPPORTED', `Sigstore bundle media type ${String(o.mediaType)} is not supported`);
  }
  const env = o.dsseEnvelope;
  if (typeof env !== 'object' || env === null) {
    reject(
      'SIG_UNSUPPORTED',
      'only DSSE Sigstore bundles are supported (messageSignature cannot carry Ed25519)',
    );
  }
  return verifyDsseEnvelope(env as Record<string, unknown>, key, art, name, 'Sigstore bundle');
}

function verifyJwsParts(
  h64: string,
  p64: string,
  s64: string,
  key: DetectedKey,
  art: Artifact,
  name: string | undefined,
): Ok {
  const hb = fromBase64Url(h64);
  const pb = fromBase64Url(p64);
  const sb = fromBase64Url(s64);
  if (!hb || !pb || !sb) reject('SIG_MALFORMED', 'JWS parts must be base64url');
  const header = parseJson(decodeUtf8(hb) ?? '', 'JWS header');
  if (header.alg !== 'EdDSA' && header.alg !== 'Ed25519')
    reject('SIG_UNSUPPORTED', `JWS alg ${String(header.alg)} is not EdDSA`);
  if (header.crv !== undefined && header.crv !== 'Ed25519')
    reject('SIG_UNSUPPORTED', 'JWS crv is not Ed25519');
  // RFC 7515 §4.1.11: a critical extension we do not understand (e.g. b64) means reject.
  if (header.crit !== undefined || header.b64 !== undefined)
    reject('SIG_UNSUPPORTED', 'JWS critical extensions (b64) are not supported');
  if (pb.length === 0) reject('SIG_UNSUPPORTED', 'detached JWS payloads are not supported');
  if (sb.length !== 64) reject('SIG_MALFORMED', 'JWS signature must be 64 bytes');
  checkEd(utf8(`${h64}.${p64}`), sb, key, 'the JWS signature');
  const st = statementSubjects(pb, 'JWS');
  const found = findListed(st.subjects, art, name, 'DIGEST_MISMATCH', "the JWS's statement");
  return {
    detail: `JWS (EdDSA) verified; ${found} is a subject of the statement${st.version ? ` (release ${st.version})` : ''}`,
    artifactName: found,
    statementPayload: pb,
  };
}

function verifyJws(text: string, key: DetectedKey, art: Artifact, name: string | undefined): Ok {
  const t = text.trim();
  if (t.startsWith('{')) {
    const o = parseJson(t, 'JWS');
    if (
      typeof o.protected !== 'string' ||
      typeof o.payload !== 'string' ||
      typeof o.signature !== 'string'
    ) {
      reject('SIG_MALFORMED', 'flattened JWS needs protected, payload and signature strings');
    }
    if (o.header !== undefined)
      reject('SIG_UNSUPPORTED', 'JWS unprotected headers are not supported');
    return verifyJwsParts(o.protected, o.payload, o.signature, key, art, name);
  }
  const parts = t.split('.');
  if (parts.length !== 3) reject('SIG_MALFORMED', 'compact JWS must have three parts');
  return verifyJwsParts(parts[0]!, parts[1]!, parts[2]!, key, art, name);
}

// ---------------------------------------------------------------- entry point

function run(format: SignatureFormat, input: VerifyInput, key: DetectedKey, now: number): Ok {
  const sig = input.signature;
  const art = new Artifact(input.artifact);
  const text = () => decodeUtf8(sig) ?? reject('SIG_MALFORMED', 'signature file is not UTF-8 text');
  switch (format) {
    case 'raw':
      return verifyRaw(sig, key, art);
    case 'sshsig':
      return verifySshsig(text(), key, art, input.namespace, now);
    case 'git':
      return verifyGitTag(text(), key, input.namespace, now);
    case 'minisign':
      return verifyMinisign(text(), key, art);
    case 'signify':
      return verifySignify(sig, key, art, input.artifactName);
    case 'openpgp':
      return verifyOpenpgp(sig, key, art, now);
    case 'dsse':
      return verifyDsseEnvelope(
        parseJson(text(), 'DSSE envelope'),
        key,
        art,
        input.artifactName,
        'DSSE envelope',
      );
    case 'sigstore':
      return verifySigstore(parseJson(text(), 'Sigstore bundle'), key, art, input.artifactName);
    case 'jws':
      return verifyJws(text(), key, art, input.artifactName);
  }
}

/**
 * Verify a signature file against a public key file and the artifact, natively. Never throws:
 * every failure is `{ ok: false, code, reason }` (codes in `VERIFY_FAILURE_CODES`).
 */
export function verifySignature(input: VerifyInput): VerifyResult {
  let format: SignatureFormat | undefined;
  try {
    const { key, signature, artifact } = input;
    if (
      !(key instanceof Uint8Array) ||
      !(signature instanceof Uint8Array) ||
      !(artifact instanceof Uint8Array)
    ) {
      return {
        ok: false,
        code: 'SIG_MALFORMED',
        reason: 'key, signature and artifact must be bytes',
      };
    }
    // The clock is read here only: every time check below uses this one instant.
    const now = input.now ?? Date.now();
    if (typeof now !== 'number' || Number.isNaN(new Date(now).getTime())) {
      return {
        ok: false,
        code: 'SIG_MALFORMED',
        reason: 'the time of verification must be a valid date in ms since the epoch',
      };
    }
    if (signature.length > MAX_SIGNATURE_BYTES) {
      return {
        ok: false,
        code: 'INPUT_TOO_LARGE',
        reason: `signature file is larger than ${MAX_SIGNATURE_BYTES} bytes`,
      };
    }
    format = detectSignatureFormat(signature);
    if (!format) {
      return {
        ok: false,
        code: 'SIG_FORMAT_UNKNOWN',
        reason:
          'unrecognised signature file: expected raw Ed25519, SSHSIG, git tag, minisign, signify, OpenPGP, DSSE, Sigstore bundle or JWS',
      };
    }
    let k: DetectedKey;
    try {
      k = detectKey(key);
    } catch (e) {
      if (isFormatError(e)) {
        const code: VerifyFailureCode =
          e.code === 'KEY_MALFORMED' ||
          e.code === 'KEY_UNSUPPORTED' ||
          e.code === 'KEY_CERT_INVALID'
            ? e.code
            : 'KEY_FORMAT_UNKNOWN';
        return { ok: false, format, code, reason: e.message };
      }
      throw e;
    }
    const ok = run(format, input, k, now);
    return {
      ok: true,
      format,
      detail: ok.detail,
      ...(ok.artifactName !== undefined ? { artifactName: ok.artifactName } : {}),
      ...(ok.statementPayload !== undefined ? { statementPayload: ok.statementPayload } : {}),
    };
  } catch (e) {
    if (e instanceof VerifyFailure)
      return { ok: false, ...(format ? { format } : {}), code: e.code, reason: e.message };
    // A parser bug must still not escape as an exception; the property tests look for this reason.
    return {
      ok: false,
      ...(format ? { format } : {}),
      code: 'SIG_MALFORMED',
      reason: `internal error while parsing: ${e instanceof Error ? e.name : typeof e}`,
    };
  }
}
