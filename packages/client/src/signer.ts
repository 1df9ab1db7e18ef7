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
  sha256,
} from '@conclave/frost';
import {
  bytesToHex,
  hexToBytes,
  openEnvelope,
  publicKeyPackageHash,
  requestDigest,
  sessionPackagesBytes,
  signPackageAck,
  signingPackageHash,
  signApproval,
  verifyApproval,
  type CeremonyStatus,
  type ErrorCode,
  type IdentityKey,
  type PackageAck,
  type Release,
  type SealedBody,
  type SignCommitments,
  type SignPackage,
  type SignRequest,
} from '@conclave/protocol';
import {
  buildStatement,
  digestFile,
  isFormatError,
  jobIdsFor,
  phaseCount,
  planMessages,
  statementDigest,
  type StatementContext,
} from '@conclave/release';
import { basename } from 'node:path';
import { printable } from './dkg-participant.js';
import { ClientError, errnoCode, isConnectionLost } from './errors.js';
import { testFault } from './faults.js';
import type { LoadedShare, ShareMetadata } from './home.js';
import type { NonceLedger } from './nonce-ledger.js';

/** Envelope rounds of a signing ceremony (flow doc "Rounds"). */
export const SIGN_ROUNDS = { request: '0', approve: '1', share: '2', cancel: '4' } as const;
/** sign.package issuedAt must be within this of our clock (flow doc step 5). */
export const ISSUED_AT_TOLERANCE_MS = 5 * 60_000;
/**
 * A later phase signs under phase 1's statement, so its issuedAt is as old as phase 1: allow the
 * approval window (a day at most) instead.
 */
export const LATER_PHASE_TOLERANCE_MS = 24 * 60 * 60_000;

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
    if (a.sha256 !== d.sha256 || a.sha512 !== d.sha512 || a.blake2b512 !== d.blake2b512) {
      throw new ClientError(
        'ARTIFACT_MISMATCH',
        `${a.name}: the local file's digest differs from the request (local sha256 ${d.sha256}, requested ${a.sha256}); do not approve`,
      );
    }
  }
}

/**
 * The request's artifacts no local file was given for (by name): `approve --artifact` says which
 * it did not check, so a match of one file never reads as a check of them all.
 */
export function uncheckedArtifacts(release: Release, paths: readonly string[]): string[] {
  const given = new Set(paths.map((p) => basename(p)));
  return release.artifacts.map((a) => a.name).filter((name) => !given.has(name));
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
  const until = r.release.validUntil;
  lines.push(
    `  valid:     ${until === undefined ? 'no expiry' : `until ${new Date(until).toISOString()}`}`,
  );
  for (const a of r.release.artifacts) {
    lines.push(`  artifact:  ${a.name}`, `    sha256 ${a.sha256}`);
  }
  const git = r.release.git;
  if (git !== undefined) {
    lines.push(
      `  git tag:   ${git.tag} -> ${git.type} ${git.object}`,
      `    tagger ${git.tagger.name} <${git.tagger.email}>; message: ${git.message.trim()}`,
    );
  }
  if (r.release.sbom !== undefined)
    lines.push(`  SBOM:      ${r.release.sbom.name} sha256 ${r.release.sbom.sha256}`);
  if (r.release.provenance !== undefined) {
    lines.push(`  provenance: ${r.release.provenance.name} sha256 ${r.release.provenance.sha256}`);
  }
  const m = r.release.manifest;
  if (m !== undefined) {
    lines.push(
      `  batch:     ${m.size} artifacts under Merkle root ${m.root} (check with --artifact MANIFEST)`,
    );
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
  /** Every commitment bundle (hex, in job order) this member made for the ceremony's `pkg.phase`. */
  readonly myBundles: readonly (readonly string[])[];
  readonly now: number;
  /** Checked artifact bytes, for requests with content formats (raw, OpenPGP). */
  readonly artifactBytes?: (name: string) => Uint8Array;
  /**
   * This member's own commitments by hex, as it made them (its nonces hold them): validated
   * points it computed itself, so only the other signers' commitments are decoded and checked.
   */
  readonly ownCommitments?: (hex: string) => SigningCommitments | undefined;
  /**
   * Other members' commitments this member already decoded and validated (RFC 9591 §3.1), by hex:
   * the checks a package needs, done earlier from `sign.commitments` hints (Signer.hint). Each is
   * still checked against the member it is listed under.
   */
  readonly validatedCommitments?: (hex: string) => SigningCommitments | undefined;
}

export interface PackageCheck {
  readonly jobs: readonly string[];
  readonly signingPackages: readonly SigningPackage[];
  readonly signingPackageBytes: readonly Uint8Array[];
  /** My commitments the packages use, in job order (hex). */
  readonly commitments: readonly string[];
  readonly messages: readonly Uint8Array[];
  /** H(my share's public key package), which the package named: what the share says, signed. */
  readonly keyPackage: string;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The checks before any share leaves: same request, the jobs I approved (every format of the
 * request, nothing else), a commitment list per job that matches the signers and carries my bundle
 * unchanged, and for every job a signing package I build myself, from the message I rebuild from
 * the approved request, whose hash equals the coordinator's. Earlier-phase signatures this phase
 * covers must verify under the group key. Throws ClientError with a protocol code on any
 * difference; pure (no I/O).
 */
export function checkSignPackage(input: PackageCheckInput): PackageCheck {
  const { pkg, meta, review } = input;
  if (pkg.requestDigest !== review.requestDigest) {
    refuse('STATEMENT_MISMATCH', 'the package is for another request than the one approved');
  }
  // The session must sign under this share's key epoch: a share judged under other verifying
  // shares would fail and read as this member's fault. The share names the hash, signed.
  const keyPackage = publicKeyPackageHash(hexToBytes(meta.publicKeyPackage));
  if (pkg.publicKeyPackage !== keyPackage) {
    refuse(
      'KEY_PACKAGE_MISMATCH',
      pkg.publicKeyPackage === undefined
        ? 'the package does not name the public key package it signs under (it was built before protocol 3: cancel the request and make it again); refusing to sign'
        : `the coordinator signs under another public key package than my share of ${meta.group}${
            meta.epoch === undefined ? '' : ` (key epoch ${meta.epoch})`
          }: my share or the coordinator's key state is out of date (compare \`conclave group show ${meta.group}\`); refusing to sign`,
    );
  }
  const tolerance = pkg.phase === 1 ? ISSUED_AT_TOLERANCE_MS : LATER_PHASE_TOLERANCE_MS;
  if (Math.abs(pkg.issuedAt - input.now) > tolerance) {
    refuse(
      'STATEMENT_MISMATCH',
      `the package issuedAt is more than ${tolerance / 60_000} minutes from this clock`,
    );
  }
  const participants = new Map(meta.participants.map((p) => [p.member, p]));
  for (const m of [...pkg.approvers, ...pkg.signers]) {
    if (!participants.has(m))
      refuse('UNKNOWN_PARTICIPANT', `${m} is not a member of ${meta.group}`);
  }
  // Every approver the statement will name must have signed an approval of this very request: the
  // approver list is not the coordinator's word (a policy quorum above t rests on it).
  if (pkg.approvals === undefined) {
    refuse(
      'BAD_APPROVAL_SIGNATURE',
      "the package carries no approvers' signatures, so who approved is only the coordinator's word; refusing to sign",
    );
  }
  const approvals = pkg.approvals;
  if (approvals.length !== pkg.approvers.length) {
    refuse('INVALID_MESSAGE', 'one approval signature per approver expected');
  }
  pkg.approvers.forEach((m, i) => {
    const key = hexToBytes(participants.get(m)!.identityKey, 32);
    if (!verifyApproval(key, input.ceremonyId, m, review.requestDigest, approvals[i] ?? '')) {
      refuse(
        'BAD_APPROVAL_SIGNATURE',
        `the package names ${m} as an approver, but carries no approval of this request signed by ${m}; refusing to sign`,
      );
    }
  });
  if (!pkg.signers.includes(input.member))
    refuse('UNKNOWN_PARTICIPANT', 'I am not a signer of this package');
  if (!pkg.signers.every((s) => pkg.approvers.includes(s))) {
    refuse('UNKNOWN_PARTICIPANT', 'a signer did not approve the request');
  }
  if (pkg.signers.length < meta.threshold) {
    refuse('INCORRECT_NUMBER_OF_COMMITMENTS', 'fewer signers than the threshold');
  }
  let expectedJobs: string[];
  try {
    expectedJobs = jobIdsFor(review.release, pkg.phase);
  } catch (e) {
    return refuse('STATEMENT_MISMATCH', isFormatError(e) ? e.message : localFault(e));
  }
  if (!sameList(pkg.jobs, expectedJobs)) {
    refuse(
      'STATEMENT_MISMATCH',
      `the coordinator asks me to sign jobs [${pkg.jobs.join(', ')}], but the approved request's phase ${pkg.phase} is [${expectedJobs.join(', ')}]; refusing to sign`,
    );
  }
  if (pkg.packageHashes.length !== pkg.jobs.length) {
    refuse('INVALID_MESSAGE', 'one package hash per job expected');
  }
  if (pkg.commitments.length !== pkg.signers.length) {
    refuse('INCORRECT_NUMBER_OF_COMMITMENTS', 'the commitment lists do not match the signers');
  }
  if (
    !sameList(
      pkg.commitments.map((c) => c.member),
      pkg.signers,
    )
  ) {
    refuse('UNKNOWN_PARTICIPANT', 'the commitment lists name someone other than the signers');
  }
  const mine = pkg.commitments.find((c) => c.member === input.member)?.commitments;
  if (mine === undefined)
    refuse('MISSING_COMMITMENT', 'my commitments are missing from the package');
  if (!input.myBundles.some((b) => sameList(b, mine))) {
    refuse(
      'INCORRECT_COMMITMENT',
      'the package carries commitments I did not make for this phase (or already used)',
    );
  }
  const decoded: SigningCommitments[][] = pkg.commitments.map((c) => {
    if (c.commitments.length !== pkg.jobs.length) {
      refuse('INCORRECT_NUMBER_OF_COMMITMENTS', `${c.member} has not one commitment per job`);
    }
    const id = frost.identifier.derive(c.member);
    return c.commitments.map((hex) => {
      // Mine (checked above to be a bundle I made): the points I computed, nothing to validate.
      const own = c.member === input.member ? input.ownCommitments?.(hex) : undefined;
      if (own !== undefined && own.identifier === id) return own;
      let x = input.validatedCommitments?.(hex);
      if (x === undefined) {
        try {
          x = frost.decode.bytes('SigningCommitments', hexToBytes(hex));
        } catch {
          return refuse('INVALID_MESSAGE', `a commitment of ${c.member} does not decode`);
        }
      }
      if (x.identifier !== id)
        refuse('IDENTIFIER_MISMATCH', `a commitment under ${c.member} is not theirs`);
      return x;
    });
  });
  const ctx: StatementContext = {
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
  const plan = {
    release: review.release,
    context: ctx,
    keyCreatedAt: pkg.keyCreatedAt,
    ...(input.artifactBytes === undefined ? {} : { artifactBytes: input.artifactBytes }),
  };
  const groupKey = hexToBytes(meta.groupPublicKey, 32);
  let messages: Uint8Array[];
  try {
    const previous = new Map(pkg.previous.map((p) => [p.job, hexToBytes(p.signature, 64)]));
    if (pkg.phase > 1) {
      // What this phase covers must be real signatures of the group over what was approved.
      const earlier = new Map(planMessages(plan, 1).map((j) => [j.id, j.message]));
      // Every one of them, the statement's included: its signature is over the statement rebuilt
      // from this package's approvers and time, which ties this phase to what phase 1 signed (a
      // minisign phase-1 signature covers the file's digest only, not the statement).
      for (const job of earlier.keys()) {
        if (!previous.has(job)) {
          refuse(
            'STATEMENT_MISMATCH',
            `phase ${pkg.phase} must carry phase 1's signature for ${job}, and this package does not; refusing to sign`,
          );
        }
      }
      for (const [job, sig] of previous) {
        const message = earlier.get(job);
        if (message === undefined || !frost.verify(message, sig, groupKey)) {
          refuse(
            'STATEMENT_MISMATCH',
            `the earlier signature for ${job} does not verify; refusing to sign`,
          );
        }
      }
    }
    messages = planMessages(plan, pkg.phase, previous).map((j) => j.message);
  } catch (e) {
    if (e instanceof ClientError) throw e;
    return refuse(
      'STATEMENT_MISMATCH',
      `cannot rebuild the messages of the approved request: ${isFormatError(e) ? e.message : localFault(e)}`,
    );
  }
  const signingPackages = messages.map((message, j) =>
    frost.signingPackage(
      decoded.map((d) => d[j]!),
      message,
    ),
  );
  const signingPackageBytes = signingPackages.map((p) => frost.encode.bytes('SigningPackage', p));
  signingPackageBytes.forEach((bytes, j) => {
    if (bytesToHex(signingPackageHash(bytes)) !== pkg.packageHashes[j]) {
      refuse(
        'STATEMENT_MISMATCH',
        `the coordinator's package for ${pkg.jobs[j]} is not the one I build from the approved request; refusing to sign`,
      );
    }
  });
  if (statementDigest(buildStatement(review.release, ctx)) !== pkg.statementDigest) {
    refuse('STATEMENT_MISMATCH', 'the statement digest does not match the rebuilt statement');
  }
  return {
    jobs: pkg.jobs,
    signingPackages,
    signingPackageBytes,
    commitments: mine,
    messages,
    keyPackage,
  };
}

/**
 * Bundles per other member a signer validates ahead of a package, per phase of the ceremony: its
 * approval (or first recommit of the phase) and one ROAST recommit. More are validated when a
 * package names them, never ahead.
 */
export const HINTED_BUNDLES_PER_MEMBER = 2;

/** Ledger id of a commitment: hex SHA-256 of its encoding (public, never the nonce). */
export function commitmentId(commitmentHex: string): string {
  return bytesToHex(sha256(hexToBytes(commitmentHex)));
}

interface Approval {
  readonly review: Review;
  readonly share: LoadedShare;
  readonly artifactBytes: ((name: string) => Uint8Array) | undefined;
  /** commitment hex → its secret nonces, in memory only (THREATS A.5). */
  readonly nonces: Map<string, SigningNonces>;
  /** Every bundle sent (one commitment per job of its phase), oldest first. */
  readonly bundles: { readonly phase: number; readonly commitments: readonly string[] }[];
  /** Commitments already placed in a package (spent, whether or not we signed). */
  readonly used: Set<string>;
  /** Other members' commitments validated ahead of a package (hex → decoded), see `hint`. */
  readonly validated: Map<string, SigningCommitments>;
  /** Hinted commitments waiting to be validated (hex → the member they were listed under). */
  readonly toValidate: Map<string, string>;
  /** How many hinted commitments were taken (validated, failed or queued): bounded. */
  hinted: number;
  /** How many validated ones a package check took instead of decoding them. */
  hintsUsed: number;
  lastSignedSession: number;
  /** Sessions whose package is being handled now: a second copy of one is not handled again. */
  readonly answering: Set<number>;
  /** A recommit is being made or sent (one at a time). */
  recommitting: boolean;
  done: boolean;
}

export interface SignerOptions {
  readonly member: string;
  readonly key: IdentityKey;
  readonly ledger: NonceLedger;
  readonly send: (ceremonyId: string, round: string, body: SealedBody) => Promise<unknown>;
  /**
   * Sends approvals and recommitments until the coordinator holds them
   * (Connection.sendUntilRecorded); default `send`. A lost ack would otherwise leave the
   * coordinator counting commitments whose nonces this signer had destroyed.
   */
  readonly sendUntilRecorded?: (
    ceremonyId: string,
    round: string,
    body: SealedBody,
  ) => Promise<unknown>;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export interface SignEvent {
  readonly ceremonyId: string;
  readonly session: number;
}

/** This signer's own storage failing: said with a fixed text (its messages name local paths). */
const LOCAL_FAULT = /^(KEYSTORE_|NONCE_LEDGER_|DISK_FULL$)|_IO_ERROR$/;

/** What a refusal tells the coordinator and, through the status, the whole group. */
function declineWords(err: unknown): { code: string; reason: string } {
  if (!(err instanceof ClientError)) {
    return {
      code: 'SIGNING_REFUSED',
      reason: 'this signer failed checking the package (see its log)',
    };
  }
  const code = err.code;
  // The coordinator shows `CODE: reason` in 512 characters.
  const room = 512 - code.length - 2;
  if (LOCAL_FAULT.test(code)) {
    return {
      code,
      reason: reasonText(`this signer's own storage failed (${code}); see its log`, room),
    };
  }
  // The package checks' own messages: they name jobs, members and times, never secrets or paths.
  return { code, reason: reasonText(err.message, room) };
}

/** A fault of this signer's in a refusal's words: its system error code, never its text (paths). */
function localFault(e: unknown): string {
  return `an error of this signer (${errnoCode(e) ?? (e instanceof Error ? e.name : 'unknown')}; see its log)`;
}

/** A session's shares, computed and ready to send (Signer#prepareShares). */
interface PreparedShares {
  readonly check: PackageCheck;
  /** One per job, as they go out (a test fault may alter one). */
  readonly sent: string[];
  readonly ack: PackageAck;
  /** Each share's ledger record, settled to its error or null. */
  readonly records: Promise<unknown>[];
}

/** Text that may go on the wire as a reason: refused characters replaced, at most `max` units. */
function reasonText(text: string, max: number): string {
  const out = printable(text, max, '?');
  return out.trim() === '' ? 'refused' : out;
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

  /**
   * One fresh commitment per job of `phase`, all reserved in the ledger (one write, one fsync)
   * before any is sent: the ledger knows every commitment we ever made.
   */
  async #commit(a: Approval, phase: number): Promise<string[]> {
    const count = jobIdsFor(a.review.release, phase).length;
    const made = Array.from({ length: count }, () => {
      const { nonces, commitments } = frost.round1.commit(a.share.keyPackage);
      const hex = bytesToHex(
        frost.encode.bytes('SigningCommitments', commitments as SigningCommitments),
      );
      return { hex, nonces };
    });
    try {
      await this.#o.ledger.reserveAll(
        made.map((m) => commitmentId(m.hex)),
        { ceremonyId: a.review.ceremonyId },
      );
    } catch (err) {
      for (const m of made) frost.round1.destroy(m.nonces); // never recorded, never sent
      throw err;
    }
    for (const m of made) a.nonces.set(m.hex, m.nonces);
    const bundle = made.map((m) => m.hex);
    a.bundles.push({ phase, commitments: bundle });
    return bundle;
  }

  /** Bundles of `phase` none of whose commitments a package has used yet. */
  #outstanding(a: Approval, phase: number) {
    return a.bundles.filter((b) => b.phase === phase && !b.commitments.some((c) => a.used.has(c)));
  }

  /** Destroys the nonces of unused bundles of other phases (their jobs are signed or moot, A.3). */
  async #dropOtherPhases(a: Approval, phase: number): Promise<void> {
    for (const b of a.bundles) {
      if (b.phase === phase) continue;
      for (const hex of b.commitments) {
        const nonces = a.nonces.get(hex);
        if (nonces === undefined) continue;
        frost.round1.destroy(nonces);
        a.nonces.delete(hex);
        await this.#o.ledger
          .abandon(commitmentId(hex), `phase ${b.phase} is over`)
          .catch(() => undefined);
      }
    }
  }

  /**
   * Commits and sends sign.approve for a reviewed request. `durable` (e.g. the member's local
   * record of the request) is written meanwhile: the approval goes out only after it resolved, and
   * is not sent (its nonces destroyed) if it fails.
   */
  async approve(
    review: Review,
    share: LoadedShare,
    artifactBytes?: (name: string) => Uint8Array,
    durable?: Promise<void>,
  ): Promise<void> {
    // Observed now: it may fail while the commitments are still being made; awaited below.
    durable?.catch(() => undefined);
    if (this.#approvals.has(review.ceremonyId)) return;
    const a: Approval = {
      review,
      share,
      artifactBytes,
      nonces: new Map(),
      bundles: [],
      used: new Set(),
      validated: new Map(),
      toValidate: new Map(),
      hinted: 0,
      hintsUsed: 0,
      lastSignedSession: 0,
      answering: new Set(),
      recommitting: false,
      done: false,
    };
    this.#approvals.set(review.ceremonyId, a);
    let stage = 'approval not sent';
    try {
      const commitments = await this.#commit(a, 1);
      await durable;
      stage = 'approval refused';
      await this.#sendRecorded(review.ceremonyId, SIGN_ROUNDS.approve, {
        type: 'sign.approve',
        requestDigest: review.requestDigest,
        commitments,
        approval: signApproval(
          this.#o.key,
          review.ceremonyId,
          this.#o.member,
          review.requestDigest,
        ),
      });
    } catch (err) {
      // Nothing half done: the nonces are destroyed and abandoned. A refusal recorded nothing, and
      // the approval can be retried; a connection that stayed lost past sendUntilRecorded's patience
      // leaves it unknown (a package for it is then not answered, as from any absent signer).
      await this.finish(review.ceremonyId, stage);
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

  #sendRecorded(ceremonyId: string, round: string, body: SealedBody): Promise<unknown> {
    return (this.#o.sendUntilRecorded ?? this.#o.send)(ceremonyId, round, body);
  }

  /**
   * Sends fresh commitments for the next ROAST session or phase (asked by the coordinator). One at
   * a time per ceremony: the status pushed on a reconnect and the inbox sweep ask together, and a
   * second bundle would be refused while it stayed "outstanding" here, blocking every later one.
   * A bundle whose send fails is dropped (nonces destroyed, abandoned in the ledger), so the next
   * ask commits afresh instead of waiting on one the coordinator never took.
   */
  async recommit(ceremonyId: string, phase = 1): Promise<boolean> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined || a.done || a.recommitting) return false;
    // Nothing to do while an unused bundle for this phase is still outstanding.
    if (this.#outstanding(a, phase).length > 0) return false;
    a.recommitting = true;
    try {
      await this.#dropOtherPhases(a, phase);
      const commitments = await this.#commit(a, phase);
      try {
        await this.#sendRecorded(ceremonyId, SIGN_ROUNDS.approve, {
          type: 'sign.recommit',
          phase,
          commitments,
        });
      } catch (err) {
        await this.#dropBundle(a, commitments, 'recommitment not taken');
        throw err;
      }
    } finally {
      a.recommitting = false;
    }
    this.#log(`recommitted for ${ceremonyId} (phase ${phase}, new session)`);
    return true;
  }

  /** Forgets a bundle the coordinator did not take: its nonces destroyed and abandoned (A.3). */
  async #dropBundle(a: Approval, commitments: readonly string[], why: string): Promise<void> {
    const i = a.bundles.findIndex((b) => b.commitments === commitments);
    if (i >= 0) a.bundles.splice(i, 1);
    for (const hex of commitments) {
      const nonces = a.nonces.get(hex);
      if (nonces === undefined) continue;
      frost.round1.destroy(nonces);
      a.nonces.delete(hex);
      await this.#o.ledger.abandon(commitmentId(hex), why).catch(() => undefined);
    }
  }

  /**
   * Handles a sign.package: check everything, consume every job's nonce durably, sign, send the
   * shares with a signed ack of the packages. The shares' ledger records are written while they
   * go out; a failed one rejects after the send (a replay of that package is then refused).
   */
  async onPackage(ceremonyId: string, pkg: SignPackage): Promise<SignEvent | undefined> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined) {
      this.#log(`ignored a signing package for ${ceremonyId}: this process did not approve it`);
      return undefined;
    }
    if (a.answering.has(pkg.session)) {
      // A copy of a package being handled (re-sent on a reconnect): the first answers it. Handled
      // again it would find its nonce consumed with no share recorded yet, and decline.
      this.#log(`${ceremonyId}: session ${pkg.session}'s package is being handled; ignored a copy`);
      return undefined;
    }
    a.answering.add(pkg.session);
    let prepared: PreparedShares;
    try {
      prepared = await this.#prepareShares(a, ceremonyId, pkg);
    } catch (err) {
      a.answering.delete(pkg.session);
      await this.decline(ceremonyId, pkg.session, err);
      throw err;
    }
    const { check, sent, ack, records } = prepared;
    a.lastSignedSession = pkg.session;
    const recorded = Promise.all(records);
    try {
      await this.#o.send(ceremonyId, SIGN_ROUNDS.share, {
        type: 'round2.share',
        session: pkg.session,
        shares: sent,
        ack,
        publicKeyPackage: check.keyPackage,
      });
    } catch (err) {
      await recorded;
      throw err;
    } finally {
      // Until its share is out (or failed to go): a copy after that is a replay (A.2).
      a.answering.delete(pkg.session);
    }
    const failed = (await recorded).find((error) => error !== null);
    if (failed !== undefined) throw failed;
    this.#log(
      `signed ${ceremonyId} session ${pkg.session}: ${check.jobs.length} job(s), every message rebuilt and checked`,
    );
    return { ceremonyId, session: pkg.session };
  }

  /**
   * Everything of a sign.package before a share leaves: every check, then each job's nonce
   * consumed durably and its share computed. A throw here means no share of the session left.
   */
  async #prepareShares(a: Approval, ceremonyId: string, pkg: SignPackage): Promise<PreparedShares> {
    // What a hint has not validated yet, the package check decodes itself (once, not twice).
    a.toValidate.clear();
    const check = checkSignPackage({
      ceremonyId,
      member: this.#o.member,
      review: a.review,
      meta: a.share.metadata,
      pkg,
      // Outstanding and already-used bundles: a replay must reach the ledger (cached shares,
      // A.2) and a second package for used nonces gets the ledger's NONCE_ALREADY_USED (A.1).
      myBundles: a.bundles.filter((b) => b.phase === pkg.phase).map((b) => b.commitments),
      now: (this.#o.now ?? Date.now)(),
      ...(a.artifactBytes === undefined ? {} : { artifactBytes: a.artifactBytes }),
      ownCommitments: (hex) => a.nonces.get(hex)?.commitments,
      validatedCommitments: (hex) => {
        const x = a.validated.get(hex);
        if (x !== undefined) a.hintsUsed++;
        return x;
      },
    });
    for (const c of check.commitments) a.used.add(c);
    const shares: string[] = [];
    // Each new share's ledger record (A.2's cache) is written while the shares go out: the consume
    // record, durable before the share was computed (A.4), is what stops a second use; without
    // the share record a replay is refused instead of answered from the cache (A.2 allows both).
    // Each settles to its error (or null) at once, so a failure is never an unhandled rejection.
    const records: Promise<unknown>[] = [];
    for (let j = 0; j < check.jobs.length; j++) {
      const commitment = check.commitments[j]!;
      const id = commitmentId(commitment);
      const packageHash = bytesToHex(signingPackageHash(check.signingPackageBytes[j]!));
      // Write-ahead (A.4): the nonce is marked consumed (fsync) before any share is computed.
      const consumed = await this.#o.ledger.consume(id, packageHash);
      if (!consumed.firstUse) {
        if (consumed.cachedShare === undefined) {
          throw new ClientError(
            'NONCE_ALREADY_USED',
            'this package was seen before but no share was kept; commit again',
          );
        }
        shares.push(consumed.cachedShare); // A.2: an identical replay gets the same share
        continue;
      }
      const nonces = a.nonces.get(commitment);
      if (nonces === undefined)
        throw new ClientError('NONCE_ALREADY_USED', 'nonce no longer in memory');
      const share = frost.round2.sign(check.signingPackages[j]!, nonces, a.share.keyPackage);
      frost.round1.destroy(nonces);
      a.nonces.delete(commitment);
      const shareHex = bytesToHex(share.share);
      records.push(
        this.#o.ledger.recordShare(id, packageHash, shareHex).then(
          () => null,
          (error: unknown) => error ?? new Error('share record failed'),
        ),
      );
      shares.push(shareHex);
    }
    let sent = shares;
    if (testFault() === 'bad-sign-share') {
      // TEST-ONLY fault injection (CONCLAVE_TEST_FAULT=bad-sign-share): a share that fails
      // verification, so the tests can check the coordinator names and excludes this signer.
      const bad = hexToBytes(shares[0]!);
      bad[0] = (bad[0] ?? 0) ^ 1;
      sent = [bytesToHex(bad), ...shares.slice(1)];
    }
    const ack = signPackageAck(
      this.#o.key,
      { ceremonyId, session: pkg.session, member: this.#o.member },
      sessionPackagesBytes(check.signingPackageBytes),
    );
    return { check, sent, ack, records };
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
    const phase = typeof raw['phase'] === 'number' ? raw['phase'] : 1;
    const listed = Array.isArray(needs) && needs.includes(this.#o.member);
    const spentAll = a.used.size > 0 && [...a.nonces.keys()].every((c) => a.used.has(c));
    if (status.culprits.includes(this.#o.member)) return;
    if (
      listed ||
      (spentAll && !Array.isArray(needs) && /awaitingCommitments/i.test(status.state))
    ) {
      await this.recommit(status.ceremonyId, phase);
    }
  }

  /**
   * A `sign.commitments` hint for a ceremony this member approved and still signs: the listed
   * commitments of the group's other members are decoded and validated (RFC 9591 §3.1
   * DeserializeElement: a subgroup check per point, about 2 ms with @noble/curves on the bench
   * VM) while the quorum forms, so the package check that follows takes them as they are. One
   * commitment per macrotask, so frames (a package, a status) are handled between two. At most
   * HINTED_BUNDLES_PER_MEMBER × (the group's size − 1) × the request's jobs per ceremony: the
   * coordinator can waste this much of our time, no more. A hint decides nothing: a commitment
   * that does not decode is not kept, and the package check refuses it with its code.
   */
  hint(h: SignCommitments): void {
    const a = this.#approvals.get(h.ceremonyId);
    if (a === undefined || a.done) return;
    const participants = a.share.metadata.participants;
    const release = a.review.release;
    let jobs = 0;
    for (let p = 1; p <= phaseCount(release); p++) jobs += jobIdsFor(release, p).length;
    const limit = HINTED_BUNDLES_PER_MEMBER * (participants.length - 1) * jobs;
    for (const e of h.commitments) {
      if (e.member === this.#o.member || !participants.some((p) => p.member === e.member)) continue;
      for (const hex of e.commitments) {
        if (a.validated.has(hex) || a.toValidate.has(hex) || a.used.has(hex)) continue;
        if (a.hinted >= limit) break;
        a.hinted++;
        a.toValidate.set(hex, e.member);
      }
    }
    if (a.toValidate.size > 0) this.#validateNext(a);
  }

  #validating = false;

  #validateNext(a: Approval): void {
    if (this.#validating) return;
    this.#validating = true;
    setImmediate(() => {
      this.#validating = false;
      const next = a.toValidate.entries().next();
      if (next.done === true || a.done) {
        a.toValidate.clear();
        return this.#resume();
      }
      const [hex, member] = next.value;
      a.toValidate.delete(hex);
      try {
        const x = frost.decode.bytes('SigningCommitments', hexToBytes(hex));
        if (x.identifier === frost.identifier.derive(member)) a.validated.set(hex, x);
      } catch {
        // left for the package check, which refuses it with its code
      }
      this.#validateNext(a);
    });
  }

  /** Another approval's hinted commitments, if any wait (one queue runs at a time). */
  #resume(): void {
    for (const a of this.#approvals.values()) {
      if (!a.done && a.toValidate.size > 0) return this.#validateNext(a);
    }
  }

  /** For `ceremonyId`: hinted commitments validated so far, and how many packages took (tests). */
  hintStats(ceremonyId: string): { readonly validated: number; readonly used: number } {
    const a = this.#approvals.get(ceremonyId);
    return { validated: a?.validated.size ?? 0, used: a?.hintsUsed ?? 0 };
  }

  /**
   * Tells the coordinator this signer will not sign `session` of `ceremonyId` (`round2.decline`),
   * with the refusal's code and message, so the session is abandoned now and nobody waits for its
   * deadline or blames this member for silence. Call only while no share of the session has left.
   * Best effort: a decline that cannot be sent or is refused is logged; the session then times out.
   */
  async decline(ceremonyId: string, session: number, err: unknown): Promise<void> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined || a.done) return;
    // Never for a session this signer answered (a share of it may have left) or is answering
    // (another copy of its package is being signed): that one's share is on its way.
    if (session <= a.lastSignedSession || a.answering.has(session)) return;
    // A lost connection is not a refusal: the package comes again after the reconnect.
    if (isConnectionLost(err)) return;
    const { code, reason } = declineWords(err);
    try {
      await this.#o.send(ceremonyId, SIGN_ROUNDS.share, {
        type: 'round2.decline',
        session,
        code,
        reason,
      });
    } catch (e) {
      this.#log(
        `could not decline ${ceremonyId} session ${session} (${e instanceof Error ? e.message : String(e)}); it will time out`,
      );
      return;
    }
    this.#log(`declined ${ceremonyId} session ${session}: ${code}`);
    // Accepted: the coordinator excluded this member from the ceremony. Its other nonces can
    // never be used, so they go now (A.19), and it never recommits.
    await this.finish(ceremonyId, 'declined');
  }

  /** The ceremony ended: destroy unused nonces and mark their commitments abandoned (A.3). */
  async finish(ceremonyId: string, why: string): Promise<void> {
    const a = this.#approvals.get(ceremonyId);
    if (a === undefined || a.done) return;
    a.done = true;
    a.toValidate.clear();
    a.validated.clear();
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
