// The approver/signer side of a signing ceremony (docs/ceremony-flow.md "Signing ceremony").
// A signer never signs opaque bytes (THREATS A.8): it rebuilds the statement from the request it
// approved plus the approvers/policy/time the coordinator chose, requires byte equality with the
// package's message and the statement digest, marks the nonce consumed durably (A.4) and only then
// computes and sends its share with a signed ack of H(package) (A.7).
import {
  ed25519 as frost,
  type KeyPackage,
  type SigningCommitments,
  type SigningNonces,
  type SigningPackage,
} from '@conclave/frost';
import {
  bytesToHex,
  hexToBytes,
  openEnvelope,
  requestDigest,
  signPackageAck,
  signingPackageHash,
  type CeremonyStatus,
  type ErrorCode,
  type IdentityKey,
  type Release,
  type SealedBody,
  type SignPackage,
  type SignRequest,
} from '@conclave/protocol';
import {
  buildStatement,
  digestFile,
  messageToSign,
  statementDigest,
  type StatementContext,
} from '@conclave/release';
import { sha256 } from '@noble/hashes/sha2.js';
import { basename } from 'node:path';
import { ClientError } from './errors.js';
import { testFault } from './faults.js';
import type { LoadedShare, ShareMetadata } from './home.js';
import type { NonceLedger } from './nonce-ledger.js';

/** Envelope rounds of a signing ceremony (flow doc "Rounds"). */
export const SIGN_ROUNDS = { request: '0', approve: '1', share: '2', cancel: '4' } as const;
/** sign.package issuedAt must be within this of our clock (flow doc step 5). */
export const ISSUED_AT_TOLERANCE_MS = 5 * 60_000;

/** What a member reviews before approving: who asked, for what, checked. */
export interface Review {
  readonly ceremonyId: string;
  readonly group: string;
  readonly requester: string;
  readonly request: SignRequest;
  readonly release: Release;
  /** hex SHA-256 binding the approval to this exact request. */
  readonly requestDigest: string;
}

function refuse(code: ErrorCode | 'SIGNING_REFUSED' | 'REQUEST_INVALID', message: string): never {
  throw new ClientError(code, message);
}

/**
 * Verifies the requester-sealed request inside a ceremony.status against the requester's identity
 * key from this member's group metadata, and computes its request digest.
 */
export function reviewRequest(status: CeremonyStatus, meta: ShareMetadata): Review {
  if (status.kind !== 'sign')
    refuse('REQUEST_INVALID', `${status.ceremonyId} is not a signing ceremony`);
  const env = status.request;
  if (env === undefined) refuse('REQUEST_INVALID', 'the coordinator sent no signed request');
  if (env.ceremonyId !== status.ceremonyId) {
    refuse('REQUEST_INVALID', 'the signed request belongs to another ceremony');
  }
  const keys = new Map(meta.participants.map((p) => [p.member, hexToBytes(p.identityKey)]));
  const opened = openEnvelope(env, (sender) => keys.get(sender));
  if (!opened.ok) {
    refuse(
      'REQUEST_INVALID',
      `the request is not signed by a member of ${meta.group} (${opened.error.code}); refusing to review it`,
    );
  }
  const body = opened.value.body;
  if (body.type !== 'sign.request') refuse('REQUEST_INVALID', 'not a sign.request');
  if (body.group !== meta.group || status.group !== meta.group) {
    refuse('WRONG_GROUP', `the request is for group ${body.group}, not ${meta.group}`);
  }
  return {
    ceremonyId: status.ceremonyId,
    group: body.group,
    requester: opened.value.sender,
    request: body,
    release: body.release,
    requestDigest: bytesToHex(requestDigest(status.ceremonyId, body)),
  };
}

/** ARTIFACT_MISMATCH unless every local file matches the artifact of the same name. */
export async function checkLocalArtifacts(
  release: Release,
  paths: readonly string[],
): Promise<void> {
  for (const path of paths) {
    const d = await digestFile(path);
    const a = release.artifacts.find((x) => x.name === basename(path));
    if (a === undefined) {
      throw new ClientError(
        'ARTIFACT_MISMATCH',
        `${basename(path)} is not one of the artifacts in this request`,
      );
    }
    if (a.sha256 !== d.sha256 || a.sha512 !== d.sha512) {
      throw new ClientError(
        'ARTIFACT_MISMATCH',
        `${a.name}: the local file's digest differs from the request (local sha256 ${d.sha256}, requested ${a.sha256}); do not approve`,
      );
    }
  }
}

/** A readable description of a release for the y/N prompt. */
export function describeReview(r: Review): string {
  const lines = [
    `Signing request ${r.ceremonyId}`,
    `  group:     ${r.group}`,
    `  requester: ${r.requester}`,
    `  version:   ${r.release.version} (${r.release.class})`,
    `  formats:   ${r.release.formats.join(', ')}`,
  ];
  if (r.release.note !== '') lines.push(`  note:      ${r.release.note}`);
  for (const a of r.release.artifacts) {
    lines.push(`  artifact:  ${a.name}`, `    sha256 ${a.sha256}`);
  }
  lines.push(`  request digest: ${r.requestDigest}`);
  return lines.join('\n');
}

export interface PackageCheckInput {
  readonly ceremonyId: string;
  readonly member: string;
  readonly review: Review;
  readonly meta: ShareMetadata;
  readonly pkg: SignPackage;
  /** hex encodings of this member's outstanding commitments for the ceremony. */
  readonly myCommitments: ReadonlySet<string>;
  readonly now: number;
}

export interface PackageCheck {
  readonly signingPackage: SigningPackage;
  readonly signingPackageBytes: Uint8Array;
  /** hex of the commitment of mine this package uses. */
  readonly commitment: string;
  readonly message: Uint8Array;
}

/**
 * The checks before a share leaves: same request, a well-formed package whose commitment list
 * matches the signers and includes my commitment unchanged, and a message byte-equal to the
 * statement I rebuild myself (and hashing to the announced statement digest). Throws ClientError
 * with a protocol code on any difference; pure (no I/O).
 */
export function checkSignPackage(input: PackageCheckInput): PackageCheck {
  const { pkg, meta, review } = input;
  if (pkg.requestDigest !== review.requestDigest) {
    refuse('STATEMENT_MISMATCH', 'the package is for another request than the one approved');
  }
  if (Math.abs(pkg.issuedAt - input.now) > ISSUED_AT_TOLERANCE_MS) {
    refuse('STATEMENT_MISMATCH', 'the package issuedAt is more than 5 minutes from this clock');
  }
  const participants = new Map(meta.participants.map((p) => [p.member, p]));
  for (const m of [...pkg.approvers, ...pkg.signers]) {
    if (!participants.has(m))
      refuse('UNKNOWN_PARTICIPANT', `${m} is not a member of ${meta.group}`);
  }
  if (!pkg.signers.includes(input.member))
    refuse('UNKNOWN_PARTICIPANT', 'I am not a signer of this package');
  if (!pkg.signers.every((s) => pkg.approvers.includes(s))) {
    refuse('UNKNOWN_PARTICIPANT', 'a signer did not approve the request');
  }
  if (pkg.signers.length < meta.threshold) {
    refuse('INCORRECT_NUMBER_OF_COMMITMENTS', 'fewer signers than the threshold');
  }
  const bytes = hexToBytes(pkg.signingPackage);
  let signingPackage: SigningPackage;
  try {
    signingPackage = frost.decode.bytes('SigningPackage', bytes);
  } catch {
    return refuse('INVALID_MESSAGE', 'the signing package does not decode');
  }
  const expected = new Set(pkg.signers.map((s) => frost.identifier.derive(s) as string));
  const got = signingPackage.commitments.map((c) => c.identifier as string);
  if (got.length !== expected.size || new Set(got).size !== got.length) {
    refuse('INCORRECT_NUMBER_OF_COMMITMENTS', 'the commitment list does not match the signers');
  }
  if (!got.every((id) => expected.has(id))) {
    refuse('UNKNOWN_PARTICIPANT', 'the commitment list names a non-signer');
  }
  const myId = frost.identifier.derive(input.member);
  const mine = signingPackage.commitments.find((c) => c.identifier === myId);
  if (mine === undefined) refuse('MISSING_COMMITMENT', 'my commitment is missing from the package');
  const mineHex = bytesToHex(frost.encode.bytes('SigningCommitments', mine));
  if (!input.myCommitments.has(mineHex)) {
    refuse(
      'INCORRECT_COMMITMENT',
      'the package carries a commitment I did not make (or already used)',
    );
  }
  const ctx = {
    ceremonyId: input.ceremonyId,
    group: meta.group,
    groupPublicKey: meta.groupPublicKey,
    requester: review.requester,
    approvers: pkg.approvers.map((m) => ({
      member: m,
      identityKey: participants.get(m)!.identityKey,
    })),
    policyId: pkg.policyId,
    issuedAt: pkg.issuedAt,
  };
  const message = messageToSign(review.release, ctx);
  if (!equalBytes(message, signingPackage.message)) {
    refuse(
      'STATEMENT_MISMATCH',
      'the message in the signing package is not the statement rebuilt from the approved request; refusing to sign',
    );
  }
  if (statementDigest(buildStatement(review.release, ctx)) !== pkg.statementDigest) {
    refuse('STATEMENT_MISMATCH', 'the statement digest does not match the rebuilt statement');
  }
  return { signingPackage, signingPackageBytes: bytes, commitment: mineHex, message };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Ledger id of a commitment: hex SHA-256 of its encoding (public, never the nonce). */
export function commitmentId(commitmentHex: string): string {
  return bytesToHex(sha256(hexToBytes(commitmentHex)));
}

interface Approval {
  readonly review: Review;
  readonly share: LoadedShare;
  /** commitment hex → its secret nonces, in memory only (THREATS A.5). */
  readonly nonces: Map<string, SigningNonces>;
  /** Commitments already placed in a package (spent, whether or not we signed). */
  readonly used: Set<string>;
  lastSignedSession: number;
  done: boolean;
}

export interface SignerOptions {
  readonly member: string;
  readonly key: IdentityKey;
  readonly ledger: NonceLedger;
  readonly send: (ceremonyId: string, round: string, body: SealedBody) => Promise<unknown>;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export interface SignEvent {
  readonly ceremonyId: string;
  readonly session: number;
}

export class Signer {
  readonly #o: SignerOptions;
  readonly #approvals = new Map<string, Approval>();

  constructor(options: SignerOptions) {
    this.#o = options;
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }

  has(ceremonyId: string): boolean {
    return this.#approvals.has(ceremonyId);
  }

  active(ceremonyId: string): boolean {
    const a = this.#approvals.get(ceremonyId);
    return a !== undefined && !a.done;
  }

  async #commit(a: Approval): Promise<string> {
    const { nonces, commitments } = frost.round1.commit(a.share.keyPackage);
    const hex = bytesToHex(
      frost.encode.bytes('SigningCommitments', commitments as SigningCommitments),
    );
    // Recorded durably before it is sent: the ledger knows every commitment we ever made.
    await this.#o.ledger.reserve(commitmentId(hex), { ceremonyId: a.review.ceremonyId });
    a.nonces.set(hex, nonces);
    return hex;
  }

  /** Commits and sends sign.approve for a reviewed request. */
  async approve(review: Review, share: LoadedShare): Promise<void> {
    if (this.#approvals.has(review.ceremonyId)) return;
    const a: Approval = {
      review,
      share,
      nonces: new Map(),
      used: new Set(),
      lastSignedSession: 0,
      done: false,
    };
    this.#approvals.set(review.ceremonyId, a);
    const commitment = await this.#commit(a);
    try {
      await this.#o.send(review.ceremonyId, SIGN_ROUNDS.approve, {
        type: 'sign.approve',
        requestDigest: review.requestDigest,
        commitment,
      });
    } catch (err) {
      await this.finish(review.ceremonyId, 'approval refused');
      this.#approvals.delete(review.ceremonyId);
      throw err;
    }
    this.#log(`approved ${review.ceremonyId} (${review.release.version}); commitment sent`);
  }

  async reject(review: Review, reason: string): Promise<void> {
    await this.#o.send(review.ceremonyId, SIGN_ROUNDS.approve, {
      type: 'sign.reject',
      requestDigest: review.requestDigest,
      reason,
    });
  }

  /** Sends a fresh commitment for the next ROAST session (asked by the coordinator). */
  async recommit(ceremonyId: string): Promise<boolean> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined || a.done) return false;
    // Nothing to do while an unused commitment is still outstanding.
    if ([...a.nonces.keys()].some((c) => !a.used.has(c))) return false;
    const commitment = await this.#commit(a);
    await this.#o.send(ceremonyId, SIGN_ROUNDS.approve, { type: 'sign.recommit', commitment });
    this.#log(`recommitted for ${ceremonyId} (new session)`);
    return true;
  }

  /** Handles a sign.package: check everything, consume the nonce durably, sign, send the share. */
  async onPackage(ceremonyId: string, pkg: SignPackage): Promise<SignEvent | undefined> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined) {
      this.#log(`ignored a signing package for ${ceremonyId}: this process did not approve it`);
      return undefined;
    }
    const check = checkSignPackage({
      ceremonyId,
      member: this.#o.member,
      review: a.review,
      meta: a.share.metadata,
      pkg,
      // Outstanding and already-used commitments: a replay must reach the ledger (cached share,
      // A.2) and a second package for a used nonce gets the ledger's NONCE_ALREADY_USED (A.1).
      myCommitments: new Set([...a.nonces.keys(), ...a.used]),
      now: (this.#o.now ?? Date.now)(),
    });
    a.used.add(check.commitment);
    const id = commitmentId(check.commitment);
    const packageHash = bytesToHex(signingPackageHash(check.signingPackageBytes));
    // Write-ahead (A.4): the nonce is marked consumed (fsync) before any share is computed.
    const consumed = await this.#o.ledger.consume(id, packageHash);
    let shareHex: string;
    if (!consumed.firstUse) {
      if (consumed.cachedShare === undefined) {
        throw new ClientError(
          'NONCE_ALREADY_USED',
          'this package was seen before but no share was kept; commit again',
        );
      }
      shareHex = consumed.cachedShare; // A.2: an identical replay gets the same share
    } else {
      const nonces = a.nonces.get(check.commitment);
      if (nonces === undefined)
        throw new ClientError('NONCE_ALREADY_USED', 'nonce no longer in memory');
      const share = frost.round2.sign(check.signingPackage, nonces, a.share.keyPackage);
      frost.round1.destroy(nonces);
      a.nonces.delete(check.commitment);
      shareHex = bytesToHex(share.share);
      await this.#o.ledger.recordShare(id, packageHash, shareHex);
    }
    let sent = shareHex;
    if (testFault() === 'bad-sign-share') {
      // TEST-ONLY fault injection (CONCLAVE_TEST_FAULT=bad-sign-share): a share that fails
      // verification, so the tests can check the coordinator names and excludes this signer.
      const bad = hexToBytes(shareHex);
      bad[0] = (bad[0] ?? 0) ^ 1;
      sent = bytesToHex(bad);
    }
    const ack = signPackageAck(
      this.#o.key,
      { ceremonyId, session: pkg.session, member: this.#o.member },
      check.signingPackageBytes,
    );
    a.lastSignedSession = pkg.session;
    await this.#o.send(ceremonyId, SIGN_ROUNDS.share, {
      type: 'round2.share',
      session: pkg.session,
      share: sent,
      ack,
    });
    this.#log(`signed ${ceremonyId} session ${pkg.session} (statement checked byte for byte)`);
    return { ceremonyId, session: pkg.session };
  }

  /**
   * A status push: recommit when the coordinator lists us in `needsCommitment`, or (older
   * coordinators) when a new session is being formed after ours was spent.
   */
  async onStatus(status: CeremonyStatus, raw: Record<string, unknown>): Promise<void> {
    const a = this.#approvals.get(status.ceremonyId);
    if (a === undefined || a.done) return;
    if (isTerminal(status.state)) {
      await this.finish(status.ceremonyId, status.state);
      return;
    }
    const needs = raw['needsCommitment'];
    const listed = Array.isArray(needs) && needs.includes(this.#o.member);
    const spentAll = a.used.size > 0 && [...a.nonces.keys()].every((c) => a.used.has(c));
    if (status.culprits.includes(this.#o.member)) return;
    if (
      listed ||
      (spentAll && !Array.isArray(needs) && /awaitingCommitments/i.test(status.state))
    ) {
      await this.recommit(status.ceremonyId);
    }
  }

  /** The ceremony ended: destroy unused nonces and mark their commitments abandoned (A.3). */
  async finish(ceremonyId: string, why: string): Promise<void> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined || a.done) return;
    a.done = true;
    for (const [hex, nonces] of a.nonces) {
      frost.round1.destroy(nonces);
      await this.#o.ledger.abandon(commitmentId(hex), why.slice(0, 500)).catch(() => undefined);
    }
    a.nonces.clear();
  }

  keyPackageOf(ceremonyId: string): KeyPackage | undefined {
    return this.#approvals.get(ceremonyId)?.share.keyPackage;
  }
}

export const TERMINAL_STATES = [
  'completed',
  'rejected',
  'expired',
  'cancelled',
  'aborted',
] as const;

export function isTerminal(state: string): boolean {
  return (TERMINAL_STATES as readonly string[]).includes(state.split('.').pop() ?? state);
}

/**
 * Rebuilds the statement a completed ceremony signed, for a member that did not sign it (e.g. the
 * requester): the coordinator's sign.complete names the approvers and the statement digest but not
 * the session's `issuedAt`, so try each millisecond of the ceremony's lifetime (newest first) until
 * the digest matches. A match is exact (SHA-256); the caller still verifies the signature.
 */
export function recoverStatement(
  review: Review,
  meta: ShareMetadata,
  complete: {
    statementDigest: string;
    approvers: readonly string[];
    policyId: string;
    issuedAt: number;
  },
): { release: Release; context: StatementContext } | undefined {
  const keys = new Map(meta.participants.map((p) => [p.member, p.identityKey]));
  const approvers = complete.approvers.map((m) => ({ member: m, identityKey: keys.get(m) ?? '' }));
  const context: StatementContext = {
    ceremonyId: review.ceremonyId,
    group: meta.group,
    groupPublicKey: meta.groupPublicKey,
    requester: review.requester,
    approvers,
    policyId: complete.policyId,
    issuedAt: complete.issuedAt,
  };
  // The statement is rebuilt from the request this member verified; the coordinator only supplies
  // approvers, policy and time, and the digest (then the signature) must match.
  if (statementDigest(buildStatement(review.release, context)) !== complete.statementDigest)
    return undefined;
  return { release: review.release, context };
}
