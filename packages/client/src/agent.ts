// A member session: one authenticated connection plus the member's DKG participation and signer.
// `keygen`, `approve` and `agent` are all this, with different switches:
//   keygen    join the key ceremony of one group, exit when the share is saved (or it aborts)
//   approve   approve one request and stay until the ceremony ends (round 2, ROAST recommits)
//   agent     stay online: join key ceremonies, finish round 2 for approvals, optionally approve
//             well-formed requests of the listed classes automatically (`autoApprove`, for
//             automation; governance classes only when listed by name)
import {
  RELEASE_CLASSES,
  bytesToHex,
  hexToBytes,
  type CeremonyStatus,
  type DkgStart,
  type IdentityKey,
  type KeyStart,
  type OpenedEnvelope,
  type ReleaseClass,
  type SignComplete,
  type SignPackage,
} from '@conclave/protocol';
import {
  buildStatement,
  messageToSign,
  type ReleaseInput,
  type StatementContext,
} from '@conclave/release';
import {
  Connection,
  checkPins,
  fetchCoordinatorInfo,
  normalizeCoordinatorUrl,
  type CoordinatorInfo,
} from './connection.js';
import { prepareArtifacts } from './artifacts.js';
import { DkgParticipant, type DkgResult } from './dkg-participant.js';
import { ClientError, errnoCode } from './errors.js';
import type { Home, LoadedShare, ShareMetadata } from './home.js';
import { attachLifecycle, type LifecycleHandle } from './lifecycle.js';
import { discardStagedShare, promoteNewShare, stageShare } from './share-swap.js';
import type { NonceLedger } from './nonce-ledger.js';
import { ROTATION_VERSION_PREFIX } from './rotation.js';
import {
  PolicyPins,
  VerifiedPolicyCache,
  cachedPolicyFor,
  checkPackageAgainstPolicy,
  checkRequestAgainstPolicy,
  describeGovernance,
  describePolicy,
  fetchVerifiedPolicy,
  hotfixBanner,
  policyWaiting,
  type VerifiedPolicy,
} from './policy.js';
import { Signer, isTerminal, reviewRequest, type Review } from './signer.js';
import { LogWitness, type WitnessEngine } from './witness.js';

/**
 * What an agent approves without asking: `true` means standard releases only — hotfix, policy and
 * revocation ceremonies are decisions a person makes, so they are auto-approved only when listed
 * by name; `false` or an empty list, nothing.
 */
export type AutoApprove = boolean | readonly ReleaseClass[];

/** The classes `autoApprove` covers (`true` → standard only). */
export function autoApproveClasses(a: AutoApprove | undefined): ReadonlySet<ReleaseClass> {
  if (a === undefined || a === false) return new Set();
  if (a === true) return new Set<ReleaseClass>(['standard']);
  return new Set(a);
}

/**
 * Why a request of an auto-approved class still needs a person, or undefined. Two kinds of
 * standard request are governance in all but class: a key rotation's ceremony (version
 * `rotation-…`, which `verifyTransitionBundle` requires of the old quorum's statement: auto-approved,
 * any member could move the group's trust to a key of its own), and a hotfix's ratification (the
 * human review that comes after the hotfix).
 */
export function autoApproveRefusal(release: {
  readonly version: string;
  readonly ratifies?: string | undefined;
}): string | undefined {
  if (release.version.startsWith(ROTATION_VERSION_PREFIX)) {
    return `a key rotation's statement (version ${release.version})`;
  }
  if (release.ratifies !== undefined) return `the ratification of hotfix ${release.ratifies}`;
  return undefined;
}

/**
 * Parses `--auto-approve [classes]`: a bare flag (`true`) is standard only; otherwise a
 * comma-separated list of release classes (INVALID_ARGUMENT for anything else).
 */
export function parseAutoApprove(value: boolean | string | undefined): readonly ReleaseClass[] {
  if (value === undefined || value === false) return [];
  if (value === true) return ['standard'];
  const names = value
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  const classes: ReleaseClass[] = [];
  for (const n of names) {
    if (!(RELEASE_CLASSES as readonly string[]).includes(n)) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `--auto-approve takes release classes (${RELEASE_CLASSES.join(', ')}), comma-separated; got ${JSON.stringify(n.slice(0, 40))}`,
      );
    }
    if (!classes.includes(n as ReleaseClass)) classes.push(n as ReleaseClass);
  }
  if (classes.length === 0) {
    throw new ClientError('INVALID_ARGUMENT', '--auto-approve needs at least one release class');
  }
  return classes;
}

export interface ResolvedCoordinator {
  readonly url: string;
  readonly info: CoordinatorInfo;
  /** True if this call pinned the keys (trust on first use). */
  readonly pinnedNow: boolean;
}

/**
 * The coordinator to talk to (`--coordinator` or the home's), with its keys checked against the
 * pins; pins them on first use (TOFU) and says so through `log`. Once pinned, the keys never
 * change here: another URL is taken only if it serves the same coordinator and admin keys (the
 * coordinator moved; the pin's URL follows), and refused with COORDINATOR_KEY_CHANGED otherwise.
 * Re-pinning there would let anyone who gets a member to pass a URL swap the admin key, which
 * authorizes refreshes and reshares this member's agent joins by itself.
 */
export async function resolveCoordinator(
  home: Home,
  url: string | undefined,
  log?: (line: string) => void,
): Promise<ResolvedCoordinator> {
  const pinned = home.config.coordinator;
  const chosen = url ?? pinned?.url;
  if (chosen === undefined) {
    throw new ClientError(
      'NO_COORDINATOR',
      'no coordinator is pinned in this home: pass --coordinator URL once (it is pinned then, with its keys)',
    );
  }
  const base = normalizeCoordinatorUrl(chosen);
  const info = await fetchCoordinatorInfo(base);
  if (pinned !== undefined) {
    const moved = normalizeCoordinatorUrl(pinned.url) !== base;
    try {
      checkPins(info, pinned);
    } catch (err) {
      if (!moved) throw err;
      throw new ClientError(
        'COORDINATOR_KEY_CHANGED',
        `this home is pinned to the coordinator at ${pinned.url}; ${base} presents other keys ` +
          '(coordinator or admin), so it is not that coordinator: refusing it. To trust another ' +
          'coordinator, run `conclave init --coordinator URL` in a fresh home',
      );
    }
    if (moved) {
      await home.movePinnedCoordinator(base, info.origin);
      log?.(`the pinned coordinator now answers at ${base} (same keys); its URL is updated`);
    }
    return { url: base, info, pinnedNow: false };
  }
  await home.pinCoordinator({
    url: base,
    origin: info.origin,
    coordinatorKey: info.coordinatorKey,
    adminKey: info.adminKey,
  });
  log?.(
    `pinned coordinator ${base}: coordinator key ${info.coordinatorKey}, admin key ${info.adminKey} (trust on first use)`,
  );
  return { url: base, info, pinnedNow: true };
}

export interface SessionOptions {
  readonly home: Home;
  readonly passphrase: string;
  readonly coordinatorUrl?: string;
  readonly reconnect?: boolean;
  /** Open the nonce ledger (needed to approve/sign; one process per home at a time). */
  readonly signing?: boolean;
  readonly log?: (line: string) => void;
  /** Called before connecting, so handlers see frames that follow auth.ok (dkg.start). */
  readonly beforeConnect?: (session: MemberSession) => void;
  /** Witness the coordinator's log on every connect (witness.ts; the app passes audit's witnessLog). */
  readonly witness?: WitnessEngine;
}

export interface RecordedStatement {
  readonly release: ReleaseInput;
  readonly context: StatementContext;
  readonly statementDigest: string;
}

/** One member's authenticated session; see the file comment. */
export class MemberSession {
  readonly home: Home;
  readonly connection: Connection;
  readonly coordinator: ResolvedCoordinator;
  readonly signer: Signer | undefined;
  /** Witnesses the log; while the home is under a log alarm, approve() refuses (witness.ts). */
  readonly logWitness: LogWitness | undefined;
  readonly #key: IdentityKey;
  readonly #passphrase: string;
  readonly #ledger: NonceLedger | undefined;
  readonly #log: (line: string) => void;
  readonly #dkgs = new Map<string, DkgParticipant>();
  /** Key ceremonies of #dkgs whose result has settled (their share is saved, or never will be). */
  readonly #dkgsSettled = new Set<string>();
  readonly #shares = new Map<string, LoadedShare>();
  readonly #loading = new Map<string, Promise<LoadedShare>>();
  readonly #reviews = new Map<string, Review>();
  /** ceremony → statements this member signed (to write the signature files at sign.complete). */
  readonly #signed = new Map<string, RecordedStatement[]>();
  /** ceremony → its sign.package being handled (settles when it has been signed or refused). */
  readonly #packaging = new Map<string, Promise<void>>();
  readonly #endWaiters = new Map<string, ((end: CeremonyEnd) => void)[]>();
  readonly #statusListeners = new Set<(s: CeremonyStatus) => void>();
  readonly #dkgListeners = new Set<(p: DkgParticipant) => void>();
  /** ceremony → the policy it runs under, verified under the group key before approving. */
  readonly #policies = new Map<string, VerifiedPolicy>();
  /**
   * ceremony → what its status said when reviewed: the policy id it runs under, and the newest
   * version the coordinator stores.
   */
  readonly #policyNamed = new Map<string, { id: string; latest: number | undefined }>();
  /** Policy versions this session verified (immutable once signed): approvals skip the fetch. */
  readonly #verifiedPolicies = new VerifiedPolicyCache();
  readonly #pins: PolicyPins;
  readonly #announced = new Set<string>();
  readonly #waiting = new Map<string, string>();
  #keygenFilter: ((start: DkgStart) => boolean) | undefined;
  #autoApprove: ReadonlySet<ReleaseClass> = new Set();
  #closed = false;

  private constructor(
    o: SessionOptions,
    key: IdentityKey,
    coordinator: ResolvedCoordinator,
    ledger: NonceLedger | undefined,
  ) {
    this.home = o.home;
    this.#key = key;
    this.#passphrase = o.passphrase;
    this.#ledger = ledger;
    this.#log = o.log ?? (() => undefined);
    this.#pins = new PolicyPins(o.home.dir);
    this.coordinator = coordinator;
    this.connection = new Connection({
      url: coordinator.url,
      member: o.home.name,
      key,
      coordinatorKey: hexToBytes(coordinator.info.coordinatorKey),
      reconnect: o.reconnect ?? false,
      log: this.#log,
    });
    this.signer =
      ledger === undefined
        ? undefined
        : new Signer({
            member: o.home.name,
            key,
            ledger,
            send: (c, r, b) => this.connection.send(c, r, b),
            sendUntilRecorded: (c, r, b) => this.connection.sendUntilRecorded(c, r, b),
            log: this.#log,
          });
    this.logWitness =
      o.witness === undefined
        ? undefined
        : new LogWitness({
            home: o.home,
            url: coordinator.url,
            member: o.home.name,
            key,
            engine: o.witness,
            connection: this.connection,
            log: this.#log,
          });
    this.connection.onEnvelope((env) => {
      this.#onEnvelope(env).catch((err: unknown) => this.#report(err, env.ceremonyId));
    });
    this.connection.onStatus((status) => {
      this.#onStatus(status).catch((err: unknown) => this.#report(err, status.ceremonyId));
    });
    this.connection.onCommitments((hint) => this.signer?.hint(hint));
  }

  static async open(o: SessionOptions): Promise<MemberSession> {
    const coordinator = await resolveCoordinator(o.home, o.coordinatorUrl, o.log);
    const key = await o.home.loadIdentity(o.passphrase);
    const ledger = o.signing === true ? await o.home.openLedger() : undefined;
    const session = new MemberSession(o, key, coordinator, ledger);
    o.beforeConnect?.(session);
    try {
      await session.connection.connect();
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  #report(err: unknown, ceremonyId: string): void {
    const e =
      err instanceof ClientError
        ? err
        : errnoCode(err) === 'ENOSPC'
          ? // This home's disk is full: nothing that needed the write was sent (it is awaited
            // before anything leaves); the agent carries on once there is space again.
            new ClientError(
              'DISK_FULL',
              `this home's disk is full (${this.home.dir}, ENOSPC): free some space; the agent goes on, and sends nothing it could not record first`,
            )
          : new ClientError('CEREMONY_FAILED', err instanceof Error ? err.message : String(err));
    this.#log(`${ceremonyId}: ${e.code}: ${e.message}`);
  }

  get member(): string {
    return this.home.name;
  }

  /** Join key ceremonies (all, or those `filter` accepts). dkg.start is re-sent on reconnect. */
  acceptKeyCeremonies(filter: (start: DkgStart) => boolean = () => true): void {
    this.#keygenFilter = filter;
  }

  onKeyCeremony(listener: (p: DkgParticipant) => void): () => void {
    this.#dkgListeners.add(listener);
    return () => this.#dkgListeners.delete(listener);
  }

  onStatus(listener: (s: CeremonyStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /**
   * Approve valid requests of these classes in groups we hold a share of (automation only).
   * `true` is standard releases only; governance classes must be listed by name.
   */
  setAutoApprove(on: AutoApprove): void {
    this.#autoApprove = autoApproveClasses(on);
  }

  /** Join key lifecycle ceremonies (refresh, reshare, repair; docs/lifecycle.md) `filter` accepts. */
  acceptLifecycle(filter?: (start: KeyStart) => boolean): LifecycleHandle {
    return attachLifecycle({
      connection: this.connection,
      home: this.home,
      key: this.#key,
      passphrase: this.#passphrase,
      log: this.#log,
      // A key ceremony this session still runs finishes its own staged share, until its result
      // settles: its phase is 'done' while it still puts the share in place.
      inFlight: (ceremonyId) => this.#dkgs.has(ceremonyId) && !this.#dkgsSettled.has(ceremonyId),
      ...(filter === undefined ? {} : { filter }),
    });
  }

  async share(group: string): Promise<LoadedShare> {
    let s = this.#shares.get(group);
    // A refresh/reshare/repair replaced the file: never sign with the shares of another epoch.
    // (The unauthenticated header only decides whether to open the file again; a forged one
    // fails that opening with KEYSTORE_DECRYPT_FAILED.)
    if (
      s !== undefined &&
      (await this.home.shareMetadata(group)).ceremonyId !== s.metadata.ceremonyId
    )
      s = undefined;
    if (s === undefined) {
      // Concurrent callers (two ceremonies reviewed at once) share one scrypt run.
      let loading = this.#loading.get(group);
      if (loading === undefined) {
        loading = this.home.loadShare(group, this.#passphrase).finally(() => {
          this.#loading.delete(group);
        });
        this.#loading.set(group, loading);
      }
      s = await loading;
      this.#shares.set(group, s);
    }
    return s;
  }

  /**
   * The share's metadata as authenticated by opening it with the passphrase (AEAD associated
   * data). Trust decisions (whose signature a request carries, which group key signs a policy)
   * use this, never `home.shareMetadata`, which anyone who can write the home could edit.
   */
  async #trustedMetadata(group: string): Promise<ShareMetadata> {
    return (await this.share(group)).metadata;
  }

  /** Fetches the ceremony's status and verifies the requester-signed request. */
  async review(ceremonyId: string): Promise<{ review: Review; status: CeremonyStatus }> {
    const status = await this.connection.status(ceremonyId);
    const meta = await this.#trustedMetadata(status.group);
    const review = reviewRequest(status, meta);
    this.#reviews.set(ceremonyId, review);
    this.#notePolicy(ceremonyId, status);
    return { review, status };
  }

  /** The verified policy this member approved `ceremonyId` under (after `approve`). */
  policyOf(ceremonyId: string): VerifiedPolicy | undefined {
    return this.#policies.get(ceremonyId);
  }

  /**
   * docs/policy.md: before approving, fetch the policy the ceremony runs under, verify the group's
   * signature over it (and that it is the newest this member knows), and check the request against
   * it. A coordinator that loosened or rolled back the policy is refused here (POLICY_UNVERIFIED).
   */
  /**
   * The policy check of `approve`, run early so a person sees it before answering y/N: verifies
   * (and logs) the policy the ceremony runs under; returns what a governance request would adopt
   * or revoke.
   */
  async explainPolicy(review: Review): Promise<string[]> {
    await this.#checkPolicy(review); // logs the verified policy itself
    const meta = await this.#trustedMetadata(review.group);
    return describeGovernance(review.release, meta.threshold);
  }

  /** What a status says of the ceremony's policy: its id, and the newest version stored. */
  #notePolicy(ceremonyId: string, status: CeremonyStatus): void {
    if (status.policy === undefined) return;
    this.#policyNamed.set(ceremonyId, { id: status.policy.id, latest: status.policy.latest });
  }

  async #checkPolicy(review: Review): Promise<void> {
    if (this.#policies.has(review.ceremonyId)) return;
    if (!this.#policyNamed.has(review.ceremonyId)) {
      this.#notePolicy(review.ceremonyId, await this.connection.status(review.ceremonyId));
    }
    const named = this.#policyNamed.get(review.ceremonyId);
    const meta = await this.#trustedMetadata(review.group);
    const key = { group: meta.group, groupPublicKey: meta.groupPublicKey };
    if (named === undefined) {
      // A coordinator without policies: only acceptable while no policy was ever verified.
      if ((await this.#pins.highest(key)) > 0) {
        throw new ClientError(
          'POLICY_UNVERIFIED',
          `${review.ceremonyId} names no policy, but ${review.group} has a signed policy; not approving`,
        );
      }
      return;
    }
    // A version this session verified, with no newer one stored or pinned, needs no round trip
    // (one per approval otherwise: 8–9 ms of a 3-of-5 ceremony on loopback, an RTT over a WAN).
    const policy =
      cachedPolicyFor(
        this.#verifiedPolicies,
        key,
        named.id,
        named.latest,
        await this.#pins.highest(key),
      ) ?? (await fetchVerifiedPolicy(this.connection, key, named.id, this.#pins));
    this.#verifiedPolicies.add(key, policy);
    checkRequestAgainstPolicy(policy, review);
    this.#policies.set(review.ceremonyId, policy);
    this.#log(
      `${review.ceremonyId}: ${describePolicy(policy, review.release.class, meta.threshold)}`,
    );
  }

  /** Before signing: the statement names the verified policy and lists its quorum of approvers. */
  async #checkPackagePolicy(
    review: Review,
    pkg: { policyId: string; approvers: readonly string[] },
  ): Promise<void> {
    const meta = await this.#trustedMetadata(review.group);
    const key = { group: meta.group, groupPublicKey: meta.groupPublicKey };
    const policy = this.#policies.get(review.ceremonyId);
    if (policy === undefined) {
      if (pkg.policyId === 'default' && (await this.#pins.highest(key)) === 0) return;
      const fetched = await fetchVerifiedPolicy(this.connection, key, pkg.policyId, this.#pins);
      checkRequestAgainstPolicy(fetched, review);
      this.#policies.set(review.ceremonyId, fetched);
      checkPackageAgainstPolicy(fetched, review.release.class, meta.threshold, pkg);
      return;
    }
    checkPackageAgainstPolicy(policy, review.release.class, meta.threshold, pkg);
  }

  /** Prints a new hotfix prominently, and what a ceremony I approved still waits for. */
  #announce(status: CeremonyStatus): void {
    if (isTerminal(status.state)) return;
    if (!this.#announced.has(status.ceremonyId) && status.request?.sender !== this.member) {
      const banner = hotfixBanner(status, Date.now());
      if (banner !== null) {
        this.#announced.add(status.ceremonyId);
        this.#log(banner);
      }
    }
    if (!status.approvals.includes(this.member)) return;
    const waiting = policyWaiting(status);
    if (waiting !== null && this.#waiting.get(status.ceremonyId) !== waiting) {
      this.#waiting.set(status.ceremonyId, waiting);
      this.#log(`${status.ceremonyId}: ${waiting}`);
    }
  }

  async approve(review: Review): Promise<void> {
    if (this.signer === undefined)
      throw new ClientError('INVALID_ARGUMENT', 'session opened without signing');
    // Only a review this session made: it verified the requester's signature, and the package
    // checks (policy, key pins) look it up by ceremony. One built by hand would skip them all.
    if (this.#reviews.get(review.ceremonyId) !== review) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `${review.ceremonyId}: approve only what this session's review() returned; review it first`,
      );
    }
    await this.logWitness?.assertMayApprove(); // LOG_FORK_DETECTED … (witness.ts)
    await this.#checkPolicy(review); // POLICY_UNVERIFIED … (policy.ts)
    // The local record and the commitments' ledger entries are written at the same time (two
    // fsyncs overlapped, not one after the other); the approval goes out once both are durable.
    const saved = this.home.saveRecord(review.ceremonyId, {
      ceremonyId: review.ceremonyId,
      group: review.group,
      requester: review.requester,
      release: review.release,
      requestDigest: review.requestDigest,
    });
    saved.catch(() => undefined); // awaited by signer.approve, or moot if a step below throws
    const artifacts = await prepareArtifacts(this.home, this.connection, review.release, (l) =>
      this.#log(l),
    );
    await this.signer.approve(review, await this.share(review.group), artifacts, saved);
  }

  async reject(review: Review, reason: string): Promise<void> {
    if (this.signer !== undefined) await this.signer.reject(review, reason);
    else
      await this.connection.send(review.ceremonyId, '1', {
        type: 'sign.reject',
        requestDigest: review.requestDigest,
        reason,
      });
  }

  /** Resolves when the ceremony ends (sign.complete / sign.aborted / a terminal status). */
  waitForEnd(ceremonyId: string): Promise<CeremonyEnd> {
    return new Promise((resolve) => {
      const list = this.#endWaiters.get(ceremonyId) ?? [];
      list.push(resolve);
      this.#endWaiters.set(ceremonyId, list);
    });
  }

  #ended(ceremonyId: string, end: CeremonyEnd): void {
    const list = this.#endWaiters.get(ceremonyId) ?? [];
    this.#endWaiters.delete(ceremonyId);
    for (const w of list) w(end);
  }

  async #onEnvelope(env: OpenedEnvelope): Promise<void> {
    const body = env.body;
    // A start re-delivered (the coordinator lacks this member's round 1) goes to its participant.
    if (body.type === 'dkg.start' && !this.#dkgs.has(env.ceremonyId)) {
      await this.#onDkgStart(env.ceremonyId, body);
      return;
    }
    if (body.type.startsWith('dkg.')) {
      await this.#dkgs.get(env.ceremonyId)?.handle(env);
      return;
    }
    switch (body.type) {
      case 'sign.package': {
        // sign.complete can overtake the end of this (the share's ack and ledger record are
        // awaited here): #onComplete waits for it, or the record would miss the signed statement.
        const handled = this.#onPackage(env, body);
        const settled = handled.then(
          () => undefined,
          () => undefined,
        );
        this.#packaging.set(env.ceremonyId, settled);
        void settled.then(() => {
          if (this.#packaging.get(env.ceremonyId) === settled)
            this.#packaging.delete(env.ceremonyId);
        });
        await handled;
        return;
      }
      case 'sign.complete':
        await this.#onComplete(env.ceremonyId, body);
        return;
      case 'sign.aborted':
        // Resolve waiters first (before any await): the terminal status push right behind this
        // envelope must not win the race, or the code (POLICY_ROLE_MISSING, …) would be lost.
        this.#ended(env.ceremonyId, {
          state: 'aborted',
          code: body.code,
          message: body.message,
          culprits: body.culprits,
        });
        await this.signer?.finish(env.ceremonyId, body.reason);
        await this.home
          .saveRecord(env.ceremonyId, { outcome: { state: 'aborted', ...body } })
          .catch(() => undefined);
        return;
      default:
        return;
    }
  }

  /** Signs a package this member approved, then keeps what it signed for #onComplete. */
  async #onPackage(env: OpenedEnvelope, body: SignPackage): Promise<void> {
    if (this.signer === undefined || !this.signer.has(env.ceremonyId)) return;
    const review = this.#reviews.get(env.ceremonyId);
    // OpenPGP jobs put keyCreatedAt into what is signed: it must be the time this home signed
    // under before (pinned after its first OpenPGP signature, not from a package it refused).
    const openpgp = body.jobs.some((j) => j === 'openpgp-cert' || j.startsWith('openpgp:'));
    let meta: ShareMetadata | undefined;
    try {
      meta = review === undefined ? undefined : await this.#trustedMetadata(review.group);
      if (review !== undefined) {
        await this.#checkPackagePolicy(review, body);
        if (openpgp && meta !== undefined) {
          await this.#pins.checkKeyCreatedAt(meta, body.keyCreatedAt);
        }
      }
    } catch (err) {
      // Said to the coordinator, so the session ends now and this member is not blamed for
      // silence (the signer's own package checks decline the same way).
      await this.signer.decline(env.ceremonyId, body.session, err);
      throw err;
    }
    const key = meta && { group: meta.group, groupPublicKey: meta.groupPublicKey };
    const result = await this.signer.onPackage(env.ceremonyId, body);
    if (result !== undefined && openpgp && key !== undefined) {
      // The share is out: a pin that cannot be written (or lost a race with another first
      // package) is said, and the next OpenPGP package is checked against whatever was pinned.
      await this.#pins
        .pinKeyCreatedAt(key, body.keyCreatedAt)
        .catch((e: unknown) =>
          this.#log(`${env.ceremonyId}: ${e instanceof Error ? e.message : String(e)}`),
        );
    }
    if (result !== undefined && review !== undefined && meta !== undefined) {
      const keys = new Map(meta.participants.map((p) => [p.member, p.identityKey]));
      const context: StatementContext = {
        ceremonyId: env.ceremonyId,
        group: review.group,
        groupPublicKey: meta.groupPublicKey,
        requester: review.requester,
        approvers: body.approvers.map((m) => ({ member: m, identityKey: keys.get(m) ?? '' })),
        policyId: body.policyId,
        issuedAt: body.issuedAt,
      };
      const list = this.#signed.get(env.ceremonyId) ?? [];
      list.push({ release: review.release, context, statementDigest: body.statementDigest });
      this.#signed.set(env.ceremonyId, list);
    }
  }

  async #onComplete(ceremonyId: string, body: SignComplete): Promise<void> {
    await this.#packaging.get(ceremonyId);
    await this.signer?.finish(ceremonyId, 'completed');
    const statement = this.#signed
      .get(ceremonyId)
      ?.find((s) => s.statementDigest === body.statementDigest);
    const record: Record<string, unknown> = { outcome: { state: 'completed', ...body } };
    if (statement !== undefined) {
      const message = messageToSign(statement.release, statement.context);
      record['statement'] = buildStatement(statement.release, statement.context);
      record['message'] = bytesToHex(message);
    }
    if (
      statement !== undefined ||
      this.#reviews.has(ceremonyId) ||
      (await this.home.loadRecord(ceremonyId))
    ) {
      await this.home.saveRecord(ceremonyId, record);
    }
    this.#ended(ceremonyId, { state: 'completed', complete: body });
  }

  async #onDkgStart(ceremonyId: string, start: DkgStart): Promise<void> {
    if (this.#keygenFilter === undefined || !this.#keygenFilter(start)) return;
    if ((await this.home.listShares()).includes(start.group)) {
      this.#log(`key ceremony ${ceremonyId}: already hold a share of ${start.group}; not joining`);
      return;
    }
    const adminKey = this.home.config.coordinator?.adminKey;
    if (adminKey === undefined) throw new ClientError('NO_COORDINATOR', 'no pinned admin key');
    if (this.#dkgs.has(ceremonyId)) return; // the same start, delivered twice while we looked
    const p = new DkgParticipant(
      {
        member: this.member,
        key: this.#key,
        adminKey: hexToBytes(adminKey),
        send: (c, r, b) => this.connection.send(c, r, b),
        save: (kp, meta) => this.home.saveShare(kp, meta, this.#passphrase),
        // On disk before confirming: a process that dies after confirming loses no share of an
        // active group (a session that recovers shares finishes it: acceptLifecycle).
        staging: {
          stage: (kp, meta) => stageShare(this.home, kp, meta, this.#passphrase),
          commit: (group, staged) => promoteNewShare(this.home, group, staged),
          discard: (staged) => discardStagedShare(staged),
        },
        log: this.#log,
      },
      ceremonyId,
      start,
    );
    this.#dkgs.set(ceremonyId, p);
    p.result
      .catch(() => undefined)
      .finally(() => this.#dkgsSettled.add(ceremonyId))
      .catch(() => undefined);
    for (const l of this.#dkgListeners) l(p);
    await p.begin();
  }

  async #onStatus(status: CeremonyStatus): Promise<void> {
    for (const l of this.#statusListeners) l(status);
    if (status.kind !== 'sign') return;
    this.#announce(status);
    if (isTerminal(status.state)) {
      await this.signer?.finish(status.ceremonyId, status.state);
      // A completed ceremony ends with its sign.complete (it carries the signature), which the
      // coordinator sends right after; other endings end here.
      if (!/completed$/.test(status.state))
        this.#ended(status.ceremonyId, { state: status.state, status });
      return;
    }
    if (this.signer?.has(status.ceremonyId) === true) {
      await this.signer.onStatus(status, status as unknown as Record<string, unknown>);
      return;
    }
    if (
      this.#autoApprove.size > 0 &&
      this.signer !== undefined &&
      status.members.includes(this.member)
    ) {
      await this.#autoApproveOne(status);
    }
  }

  readonly #autoSeen = new Set<string>();

  async #autoApproveOne(status: CeremonyStatus): Promise<void> {
    if (this.#autoSeen.has(status.ceremonyId)) return;
    if (status.approvals.includes(this.member)) return;
    if (status.rejections.some((r) => r.member === this.member)) return;
    if (!(await this.home.listShares()).includes(status.group)) return;
    this.#autoSeen.add(status.ceremonyId);
    const st =
      status.request === undefined ? await this.connection.status(status.ceremonyId) : status;
    const meta = await this.#trustedMetadata(st.group);
    const review = reviewRequest(st, meta);
    const cls = review.release.class;
    if (!this.#autoApprove.has(cls)) {
      // Governance ceremonies (hotfix, policy, revocation) need a person unless listed by name.
      this.#log(
        `${review.ceremonyId}: a ${cls} request (${review.release.version}, requested by ${review.requester}) is not auto-approved; approve it yourself: conclave approve ${review.ceremonyId}` +
          ` (this agent auto-approves ${[...this.#autoApprove].join(', ')})`,
      );
      return;
    }
    const person = autoApproveRefusal(review.release);
    if (person !== undefined) {
      this.#log(
        `${review.ceremonyId}: ${person}, requested by ${review.requester}, is never auto-approved; approve it yourself: conclave approve ${review.ceremonyId}`,
      );
      return;
    }
    this.#reviews.set(review.ceremonyId, review);
    // The pushed status names the policy: #checkPolicy need not ask the coordinator again.
    this.#notePolicy(review.ceremonyId, st);
    this.#log(
      `auto-approving ${review.ceremonyId} (${review.release.version}, requested by ${review.requester})`,
    );
    await this.approve(review);
  }

  /** For the agent: approve what `conclave approve` handed over through the home directory. */
  async takeApprovalIntents(): Promise<void> {
    if (this.signer === undefined) return;
    for (const intent of await this.home.takeApprovalIntents()) {
      try {
        const { review } = await this.review(intent.ceremonyId);
        if (review.requestDigest !== intent.requestDigest) {
          this.#log(
            `${intent.ceremonyId}: handed-over approval is for another request; not approving`,
          );
          continue;
        }
        await this.approve(review);
      } catch (err) {
        this.#report(err, intent.ceremonyId);
      }
    }
  }

  /** For the agent: look at the inbox now (pending requests, open key ceremonies). */
  async sweepInbox(): Promise<void> {
    if (this.#autoApprove.size === 0) return;
    const items = await this.connection.inbox();
    for (const item of items) {
      if (item.kind !== 'sign' || isTerminal(item.state)) continue;
      try {
        const status = await this.connection.status(item.ceremonyId);
        await this.#onStatus(status);
      } catch (err) {
        this.#report(err, item.ceremonyId);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.connection.close();
    await this.#ledger?.close().catch(() => undefined);
    this.#key.secretKey.fill(0);
    for (const s of this.#shares.values()) s.keyPackage.signingShare.fill(0);
    this.#shares.clear();
  }
}

export type CeremonyEnd =
  | { state: 'completed'; complete: SignComplete }
  | { state: 'aborted'; code: string; message: string; culprits: readonly string[] }
  | { state: string; status: CeremonyStatus };

export interface AgentOptions extends Omit<SessionOptions, 'signing' | 'reconnect'> {
  /**
   * Approve requests of our groups without asking, for automation only: `true` is standard
   * releases only; list the classes to include hotfix, policy or revocation ceremonies.
   */
  readonly autoApprove?: AutoApprove;
}

/** `conclave agent`: stay online until `stop()` (SIGINT/SIGTERM in the CLI). */
export async function startAgent(o: AgentOptions): Promise<MemberSession> {
  const session = await MemberSession.open({
    ...o,
    signing: true,
    reconnect: true,
    beforeConnect: (s) => {
      s.acceptKeyCeremonies();
      s.acceptLifecycle();
      s.setAutoApprove(o.autoApprove ?? false);
      o.beforeConnect?.(s);
    },
  });
  session.connection.onConnect(() => {
    session.sweepInbox().catch(() => undefined);
  });
  await session.sweepInbox().catch(() => undefined);
  // `conclave approve` in another process hands approvals over through the home directory.
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    session
      .takeApprovalIntents()
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 300);
  timer.unref();
  session.connection.onClose(() => clearInterval(timer));
  return session;
}

export type { DkgResult };
