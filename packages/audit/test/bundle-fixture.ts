// A complete, valid signing-ceremony bundle built in memory (2-of-3, one `dsse` job), with every
// key an adversarial coordinator holds (coordinator, log, admin), so tests can tamper with a
// bundle and re-sign whatever that coordinator could re-sign, and show the auditor still refuses.
import {
  ed25519 as frost,
  type DkgRound1SecretPackage,
  type KeyPackage,
  type SignatureShare,
  type SigningPackage,
} from '@conclave/frost';
import {
  COORDINATOR_ID,
  PROTOCOL_VERSION,
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  lifecycleHash,
  newCeremonyId,
  proveBoxComplaint,
  publicKeyPackageHash,
  requestDigest,
  round1Hash,
  sealEnvelope,
  sealSignedBox,
  sessionPackagesBytes,
  signDkgConfirmation,
  signPackageAck,
  type Envelope,
  type HotfixOverdue,
  type IdentityKey,
  type Release,
  type SignRequest,
  type WireBox,
} from '@conclave/protocol';
import { sha256 } from '@noble/hashes/sha2.js';
import { buildStatement, planMessages, statementDigest } from '@conclave/release';
import {
  BUNDLE_FORMAT,
  GOVERNANCE_ROUND,
  encodeLeaf,
  encodeVerifierKey,
  governanceTranscript,
  leafFor,
  type CeremonyBundle,
  type TranscriptEntry,
} from '../src/index.js';
import { MemLog } from './helpers.js';

const T0 = 1_750_000_000_000;
const ROUND: Record<string, string> = {
  'sign.request': '0',
  'sign.approve': '1',
  'sign.package': '2',
  'round2.share': '2',
  'sign.complete': '3',
};

export interface BundleCase {
  readonly bundle: CeremonyBundle;
  readonly coordinator: IdentityKey;
  readonly admin: IdentityKey;
  readonly log: MemLog;
  readonly trust: {
    coordinatorKey: string;
    adminKey: string;
    logKey: string;
    groupPublicKey: string;
  };
  /** Re-seals entry `i` with `body` under its sender's key, then re-logs the transcript. */
  reseal(i: number, body: Record<string, unknown>): void;
  /** Recomputes the leaf and a fresh checkpoint + proof for the current transcript. */
  relog(): void;
}

/**
 * The parties of a fixture ceremony and its transcript: the members' identity keys, the admin, the
 * coordinator and the log; `push` seals the next envelope of `sender` (the round `rounds` gives
 * its type; its seq is the sender's clock in µs, +1 per message, as packages/client `takeSeq`
 * makes it) and appends it, entry i at t0 + 10·i ms; `registry()` is the admin's add of every
 * member, signed and applied before t0; `keys()` the keys a bundle names.
 */
function cast(
  names: readonly string[],
  rounds: Readonly<Record<string, string>>,
  t0: number = T0,
  ceremonyId: string = newCeremonyId(),
  shared?: Keys,
) {
  const ids =
    shared?.ids ??
    (Object.fromEntries(names.map((n) => [n, generateIdentityKey()])) as Record<
      string,
      IdentityKey
    >);
  const admin = shared?.admin ?? generateIdentityKey();
  const coordinator = shared?.coordinator ?? generateIdentityKey();
  const log = shared === undefined ? new MemLog() : new MemLog(shared.log.origin, shared.log.key);
  const keyFor = (sender: string): IdentityKey =>
    sender === 'coordinator'
      ? coordinator
      : sender === 'admin'
        ? admin
        : (ids[sender] as IdentityKey);
  const seqs = new Map<string, number>();
  const transcript: TranscriptEntry[] = [];
  const seal = (sender: string, body: Record<string, unknown>, seq: number): Envelope =>
    sealEnvelope(keyFor(sender), {
      ceremonyId,
      round: rounds[body['type'] as string] ?? '0',
      seq,
      sender,
      body: body as never,
    }) as Envelope;
  const push = (sender: string, recipient: string | null, body: Record<string, unknown>) => {
    const at = t0 + transcript.length * 10;
    const seq = Math.max((seqs.get(sender) ?? 0) + 1, at * 1000);
    seqs.set(sender, seq);
    const envelope = seal(sender, body, seq);
    transcript.push({
      idx: transcript.length,
      direction: sender === 'coordinator' ? 'out' : 'in',
      sender,
      recipient,
      at,
      envelope,
    });
    return envelope;
  };
  const registry = () =>
    names.map((m, i) => {
      const scopeId = newCeremonyId();
      return {
        scopeId,
        at: t0 - 1000 + i,
        envelope: sealEnvelope(admin, {
          ceremonyId: scopeId,
          round: '0',
          seq: (t0 - 1000 + i) * 1000 - 500,
          sender: 'admin',
          body: {
            type: 'admin.member.add',
            member: m,
            identityKey: bytesToHex(ids[m]!.publicKey),
            roles: [],
          },
        }),
      };
    });
  const keys = () => ({
    coordinator: bytesToHex(coordinator.publicKey),
    admin: bytesToHex(admin.publicKey),
    log: encodeVerifierKey(log.origin, log.key.publicKey),
  });
  return {
    ids,
    admin,
    coordinator,
    log,
    ceremonyId,
    t0,
    keyFor,
    transcript,
    seal,
    push,
    registry,
    keys,
  };
}

/** The keys of one coordinator, its admin and its members (shared by several fixture bundles). */
export interface Keys {
  readonly ids: Readonly<Record<string, IdentityKey>>;
  readonly admin: IdentityKey;
  readonly coordinator: IdentityKey;
  readonly log: MemLog;
}

/** What a signing fixture may vary (governance tests log several ceremonies of one group). */
export interface SigningOptions {
  /** Another fixture's keys (one coordinator, admin and log; the same members' identities). */
  readonly sameKeysAs?: Keys;
  readonly ceremonyId?: string;
  /** Fields of the release (class, ratifies, policy, incident, …) over the default one. */
  readonly release?: Partial<Release>;
  /** The policy id the package, the statement and sign.complete name (`default`). */
  readonly policyId?: string;
  /** When sign.complete is recorded (ms); the other entries come 10 ms apart before it. */
  readonly completedAt?: number;
  /** The artifacts' bytes, for content formats (raw, OpenPGP) in `release.formats`. */
  readonly artifactBytes?: (name: string) => Uint8Array;
  /**
   * A transcript from before protocol 3: neither the package nor the shares name the public key
   * package they sign under.
   */
  readonly beforeProtocol3?: boolean;
  /**
   * Sign under a key dealt for this bundle alone, not the one every fixture of `release` shares:
   * a log holding both shows two key states of one epoch (a forked key history).
   */
  readonly freshKey?: boolean;
}

let released: ReturnType<typeof frost.keys.dealer> | undefined;

/**
 * The key state every signing fixture of group `release` signs under (its one epoch), dealt once: an
 * auditor reading a log of several of them must find one key history (verifyLog), as a real
 * coordinator's log has.
 */
function releaseKey(names: readonly string[]): ReturnType<typeof frost.keys.dealer> {
  released ??= frost.keys.dealer({
    minSigners: 2,
    maxSigners: 3,
    identifiers: names.map((n) => frost.identifier.derive(n)),
  });
  return released;
}

/** Entries of the signing fixture: request, 3 approvals, 2 packages, 2 shares, sign.complete. */
const SIGNING_ENTRIES = 9;

/** alice requests; alice, bob, carol approve; alice and bob sign (threshold 2). */
export function signingBundle(options: SigningOptions = {}): BundleCase & {
  /** Session 1's signing package and the signers' genuine shares (to show what a swap would do). */
  readonly signed: {
    readonly pkg: SigningPackage;
    readonly shares: ReadonlyMap<string, SignatureShare>;
  };
  /** The members' identity keys (to seal what a member really sent). */
  readonly ids: Readonly<Record<string, IdentityKey>>;
  /** A member's dealt key package (what its share file holds). */
  keyPackage(member: string): KeyPackage;
  /** Keeps the first `n` entries (then re-logs). */
  truncate(n: number): void;
  /** Seals `body` as `sender` (its next seq, 10 ms after the last entry) and appends it; re-logs. */
  append(sender: string, recipient: string | null, body: Record<string, unknown>): void;
} {
  const names = ['alice', 'bob', 'carol'] as const;
  const t0 =
    options.completedAt === undefined ? T0 : options.completedAt - 10 * (SIGNING_ENTRIES - 1);
  const parties = cast(names, ROUND, t0, options.ceremonyId, options.sameKeysAs);
  const { ids, admin, coordinator, log, ceremonyId, keyFor, transcript, push } = parties;
  const dealt =
    options.freshKey === true
      ? frost.keys.dealer({
          minSigners: 2,
          maxSigners: 3,
          identifiers: names.map((n) => frost.identifier.derive(n)),
        })
      : releaseKey(names);
  const keyOf = (n: string): KeyPackage =>
    frost.keys.keyPackage(
      dealt.shares[frost.identifier.derive(n)] as Parameters<typeof frost.keys.keyPackage>[0],
    );
  const pub = dealt.publicKeyPackage;
  const groupPublicKey = bytesToHex(pub.verifyingKey);
  const release: Release = {
    version: '1.0.0',
    class: 'standard' as const,
    note: 'test release',
    artifacts: [
      {
        name: 'app.tar.gz',
        sha256: 'ab'.repeat(32),
        sha512: 'cd'.repeat(64),
        blake2b512: 'ef'.repeat(64),
      },
    ],
    formats: ['dsse' as const],
    ...options.release,
  };
  const request = { type: 'sign.request', group: 'release', release } as unknown as SignRequest;
  push('alice', null, request as unknown as Record<string, unknown>);
  const digest = bytesToHex(requestDigest(ceremonyId, request));
  const approvers = [...names];
  const signers = ['alice', 'bob'];
  const policyId = options.policyId ?? 'default';
  const issuedAt = t0 + 100;
  const roster = approvers.map((m) => ({ member: m, identityKey: bytesToHex(ids[m]!.publicKey) }));
  const context = {
    ceremonyId,
    group: 'release',
    groupPublicKey,
    requester: 'alice',
    approvers: roster,
    policyId,
    issuedAt,
  };
  // One job per format and artifact (one phase): each approver commits once per job.
  const planned = planMessages(
    {
      release,
      context,
      keyCreatedAt: 1_700_000_000,
      ...(options.artifactBytes === undefined ? {} : { artifactBytes: options.artifactBytes }),
    },
    1,
  );
  const hexOf = (c: ReturnType<typeof frost.round1.commit>) =>
    bytesToHex(frost.encode.bytes('SigningCommitments', c.commitments));
  const nonces = new Map<string, ReturnType<typeof frost.round1.commit>[]>();
  for (const n of names) {
    const c = planned.map(() => frost.round1.commit(keyOf(n)));
    nonces.set(n, c);
    push(n, null, { type: 'sign.approve', requestDigest: digest, commitments: c.map(hexOf) });
  }
  const pkgs = planned.map((job, i) =>
    frost.signingPackage(
      signers.map((m) => nonces.get(m)![i]!.commitments),
      job.message,
    ),
  );
  const encoded = pkgs.map((p) => frost.encode.bytes('SigningPackage', p));
  const statement = statementDigest(buildStatement(release, context));
  const named =
    options.beforeProtocol3 === true
      ? {}
      : {
          publicKeyPackage: publicKeyPackageHash(frost.encode.bytes('PublicKeyPackage', pub)),
        };
  const packageBody = {
    type: 'sign.package',
    session: 1,
    phase: 1,
    jobs: planned.map((j) => j.id),
    commitments: signers.map((m) => ({ member: m, commitments: nonces.get(m)!.map(hexOf) })),
    packageHashes: encoded.map((e) => bytesToHex(frostSha(e))),
    previous: [],
    keyCreatedAt: 1_700_000_000,
    ...named,
    requestDigest: digest,
    statementDigest: statement,
    approvers,
    signers,
    policyId,
    issuedAt,
  };
  for (const m of signers) push('coordinator', m, packageBody);
  const shares = new Map<string, ReturnType<typeof frost.round2.sign>>();
  const jobShares = pkgs.map(() => [] as ReturnType<typeof frost.round2.sign>[]);
  for (const m of signers) {
    const mine = pkgs.map((pkg, i) => frost.round2.sign(pkg, nonces.get(m)![i]!.nonces, keyOf(m)));
    shares.set(m, mine[0]!);
    mine.forEach((share, i) => jobShares[i]!.push(share));
    push(m, null, {
      type: 'round2.share',
      session: 1,
      shares: mine.map((share) => bytesToHex(share.share)),
      ack: signPackageAck(
        ids[m]!,
        { ceremonyId, session: 1, member: m },
        sessionPackagesBytes(encoded),
      ),
      ...named,
    });
  }
  const sigs = pkgs.map((pkg, i) => bytesToHex(frost.aggregate(pkg, jobShares[i]!, pub).bytes));
  push('coordinator', '*', {
    type: 'sign.complete',
    groupPublicKey,
    signature: sigs[0]!,
    signatures: planned.map((job, i) => ({ job: job.id, signature: sigs[i]! })),
    keyCreatedAt: 1_700_000_000,
    statementDigest: statement,
    approvers,
    signers,
    policyId,
    issuedAt,
  });

  const registry = parties.registry();
  const bundle: CeremonyBundle = {
    format: BUNDLE_FORMAT,
    ceremonyId,
    kind: 'sign',
    keys: parties.keys(),
    group: {
      name: 'release',
      epochs: [
        {
          epoch: 1,
          at: t0 - 500,
          threshold: 2,
          members: roster,
          groupPublicKey,
          publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', pub)),
          keyCreatedAt: 1_700_000_000,
        },
      ],
    },
    registry,
    transcript,
    recorded: { state: 'completed', culprits: [] },
    log: null,
  };
  if (
    transcript.length !== SIGNING_ENTRIES ||
    transcript.at(-1)!.at !== (options.completedAt ?? transcript.at(-1)!.at)
  ) {
    throw new Error('fixture: the signing transcript is not the shape SIGNING_ENTRIES assumes');
  }
  const relog = () => logBundle(log, bundle, 'sign');
  relog();
  return {
    bundle,
    coordinator,
    admin,
    log,
    ids,
    keyPackage: keyOf,
    signed: { pkg: pkgs[0]!, shares },
    trust: {
      coordinatorKey: bundle.keys.coordinator,
      adminKey: bundle.keys.admin,
      logKey: bundle.keys.log,
      groupPublicKey,
    },
    reseal(i, body) {
      const e = bundle.transcript[i] as TranscriptEntry;
      const env = sealEnvelope(keyFor(e.sender), {
        ...e.envelope,
        body: body as never,
      }) as Envelope;
      (bundle.transcript as TranscriptEntry[])[i] = { ...e, envelope: env };
      relog();
    },
    truncate(n) {
      transcript.length = n;
      relog();
    },
    append(sender, recipient, body) {
      push(sender, recipient, body);
      relog();
    },
    relog,
  };
}

/**
 * Logs `bundle`'s transcript as leaf 2 of a fresh 3-leaf log (two leaves of other ceremonies
 * first) and attaches the leaf, the signed checkpoint and the inclusion proof: what the coordinator
 * does, so a test that rewrites the transcript can log it again as a hostile coordinator could.
 */
function logBundle(log: MemLog, bundle: CeremonyBundle, kind: 'sign' | 'key'): void {
  log.leaves.length = 0;
  log.grow(2);
  const leaf = encodeLeaf(
    leafFor({
      ceremonyId: bundle.ceremonyId,
      kind,
      group: 'release',
      outcome: bundle.recorded.state,
      at: Math.max(T0 + 10_000, (bundle.transcript.at(-1) as TranscriptEntry | undefined)?.at ?? 0),
      transcript: bundle.transcript as TranscriptEntry[],
    }),
  );
  log.leaves.push(leaf);
  log.grow(1);
  const index = 2;
  bundle.log = {
    index,
    size: log.leaves.length,
    leaf: new TextDecoder().decode(leaf),
    checkpoint: log.checkpoint(),
    inclusionProof: log.inclusion(index).map((h) => Buffer.from(h).toString('base64')),
  };
}

/**
 * Points `c.bundle`'s log part at leaf `index` of `leaves` (the log an auditor verifies), with a
 * checkpoint of its first `size` leaves signed by the fixture's log key and the proof into it: as
 * the coordinator exports a bundle of a ceremony its log holds. verifyLog takes facts only from a
 * bundle whose leaf and checkpoint are the audited log's. The leaf at `index` must be one the
 * bundle's transcript hashes to.
 */
export function logBundleAt(
  c: { readonly bundle: CeremonyBundle; readonly log: MemLog },
  leaves: readonly Uint8Array[],
  index: number,
  size = index + 1,
): void {
  const log = new MemLog(c.log.origin, c.log.key);
  log.leaves.push(...leaves.slice(0, size));
  c.bundle.log = {
    index,
    size,
    leaf: new TextDecoder().decode(leaves[index]),
    checkpoint: log.checkpoint(size),
    inclusionProof: log.inclusion(index, size).map((h) => Buffer.from(h).toString('base64')),
  };
}

/**
 * The coordinator flags `c`'s ceremony as an overdue hotfix: its signed `hotfix.overdue` record
 * (`record` over a v0 record due 72 h after `completedAt`, flagged a second later) logged as a
 * governance leaf after the ceremony's own, at `loggedAt` (5 ms after the flag), and the bundle
 * re-proven into the checkpoint over both, as the coordinator exports a flagged hotfix.
 */
export function flagOverdue(
  c: BundleCase,
  completedAt: number,
  record: Partial<HotfixOverdue> = {},
  loggedAt?: number,
): void {
  c.relog();
  const ratifyBy = record.ratifyBy ?? completedAt + 72 * 3_600_000;
  const body: HotfixOverdue = {
    type: 'hotfix.overdue',
    ceremonyId: c.bundle.ceremonyId,
    group: 'release',
    ratifyBy,
    flaggedAt: ratifyBy + 1_000,
    policyVersion: 0,
    ...record,
  };
  const envelope = sealEnvelope(c.coordinator, {
    ceremonyId: body.ceremonyId,
    round: GOVERNANCE_ROUND,
    seq: body.flaggedAt * 1000,
    sender: COORDINATOR_ID,
    body,
  }) as Envelope;
  const transcript = governanceTranscript(envelope, body.flaggedAt);
  const leaf = encodeLeaf(
    leafFor({
      ceremonyId: body.ceremonyId,
      kind: 'governance',
      group: body.group,
      outcome: 'hotfix.overdue',
      at: loggedAt ?? body.flaggedAt + 5,
      transcript,
    }),
  );
  const index = c.log.leaves.push(leaf) - 1;
  logBundleAt(c, c.log.leaves, c.bundle.log!.index, c.log.leaves.length);
  c.bundle.governance = [
    {
      index,
      leaf: new TextDecoder().decode(leaf),
      inclusionProof: c.log.inclusion(index).map((h) => Buffer.from(h).toString('base64')),
      transcript,
    },
  ];
}

function frostSha(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

const KEY_ROUND: Record<string, string> = {
  'admin.group.create': '0',
  'dkg.start': '0',
  'dkg.round1': '1',
  'dkg.round1.all': '1',
  'dkg.round2': '2',
  'dkg.fail': '2',
  'dkg.confirm': '3',
  'dkg.complete': '3',
  'dkg.abort': '3',
};

/**
 * y.ts: the signing bundle with a second, coordinator-signed sign.complete after the real one,
 * naming another key, statement and approvers (re-logged).
 */
export function secondCompleteBundle(): ReturnType<typeof signingBundle> {
  const c = signingBundle();
  const complete = (c.bundle.transcript.at(-1) as TranscriptEntry).envelope.body;
  c.append('coordinator', '*', {
    ...complete,
    groupPublicKey: '11'.repeat(32),
    statementDigest: '22'.repeat(32),
    approvers: ['mallory'],
    signers: ['mallory'],
  });
  return c;
}

/**
 * w.ts: a ratification of the hotfix whose transcript is `hotfix` that nobody made: its request
 * re-classed as a standard release ratifying it, and its sign.complete, each a well-formed entry
 * sealed in its sender's name with a key that is not theirs (the coordinator can write any such
 * entry and hash it into a leaf). Completes at `completedAt`.
 */
export function inventedRatification(
  hotfix: { readonly ceremonyId: string; readonly transcript: readonly TranscriptEntry[] },
  ceremonyId: string,
  completedAt: number,
): TranscriptEntry[] {
  const entry = (idx: number, sender: string, body: unknown, at: number): TranscriptEntry => ({
    idx,
    direction: sender === 'coordinator' ? 'out' : 'in',
    sender,
    recipient: sender === 'coordinator' ? '*' : null,
    at,
    envelope: sealEnvelope(generateIdentityKey(), {
      ceremonyId,
      round: '0',
      seq: at * 1000,
      sender,
      body: body as never,
    }),
  });
  const request = hotfix.transcript[0]!.envelope.body as { release: object };
  const release = {
    ...request.release,
    class: 'standard',
    incident: undefined,
    ratifies: hotfix.ceremonyId,
  };
  return [
    entry(0, 'alice', { ...request, release }, completedAt - 10),
    entry(1, 'coordinator', hotfix.transcript.at(-1)!.envelope.body, completedAt),
  ];
}

/**
 * A public key package with `original`'s group key and threshold whose verifying shares lie on
 * another polynomial through the group key: consistent, and made up (no member holds its shares).
 */
export function forgedPackage(original: string): string {
  const pub = frost.decode.bytes('PublicKeyPackage', hexToBytes(original));
  const { Point, Fn } = frost.suite;
  const Y = Point.fromBytes(pub.verifyingKey);
  const xOf = (id: string) =>
    frost.suite.scalarFromBytes(hexToBytes(frost.identifier.parse(id as never)));
  const ids = Object.keys(pub.verifyingShares);
  const xa = xOf(ids[0]!);
  const Za = Point.BASE.multiply(12345n);
  const fake: Record<string, Uint8Array> = {};
  for (const id of ids) fake[id] = Y.add(Za.subtract(Y).multiply(Fn.div(xOf(id), xa))).toBytes();
  return bytesToHex(
    frost.encode.bytes('PublicKeyPackage', { ...pub, verifyingShares: fake as never }),
  );
}

/**
 * The signing fixture ended after its packages: each signer's genuine round2.share as `shares`
 * edits it (sealed by that signer), then the coordinator's sign.aborted naming `culprits`.
 */
export function sharesThenAbort(
  shares: readonly [member: string, edit: (body: Record<string, unknown>) => void][],
  culprits: string[],
): ReturnType<typeof signingBundle> {
  const c = signingBundle();
  const entries = c.bundle.transcript as TranscriptEntry[];
  const sent = new Map(
    entries
      .filter((e) => e.envelope.body.type === 'round2.share')
      .map((e) => [e.sender, structuredClone(e.envelope.body) as Record<string, unknown>]),
  );
  c.truncate(entries.findIndex((e) => e.envelope.body.type === 'round2.share'));
  for (const [member, edit] of shares) {
    const body = sent.get(member)!;
    edit(body);
    c.append(member, null, body);
  }
  c.bundle.recorded = { state: 'aborted', culprits };
  c.append('coordinator', '*', {
    type: 'sign.aborted',
    reason: 'failed',
    code: 'INSUFFICIENT_HONEST_SIGNERS',
    message: 'invalid shares',
    culprits,
  });
  return c;
}

/** Makes a round2.share body's first share not the signer's (its low bit flipped: still canonical). */
export function corruptShare(body: Record<string, unknown>): void {
  const shares = body['shares'] as string[];
  const first = shares[0]!;
  const low = (parseInt(first.slice(0, 2), 16) ^ 1).toString(16).padStart(2, '0');
  body['shares'] = [low + first.slice(2), ...shares.slice(1)];
}

/**
 * The signing bundle, recorded as `aborted`, with a public key package consistent with
 * the group key but not the dealt one (anyone can make one from public data: t−1 made-up verifying
 * shares, the rest interpolated through the group key), under which alice's and bob's genuine
 * shares fail; the coordinator records them as culprits. `original` is the dealt package. From
 * protocol 3 the shares name the dealt package's hash, signed, so the forgery shows.
 */
export function framedBundle(
  options: SigningOptions = {},
): ReturnType<typeof signingBundle> & { readonly original: string } {
  const c = signingBundle(options);
  const epoch = c.bundle.group!.epochs[0]!;
  const original = epoch.publicKeyPackage;
  epoch.publicKeyPackage = forgedPackage(original);
  c.truncate(c.bundle.transcript.length - 1);
  c.bundle.recorded = { state: 'aborted', culprits: ['alice', 'bob'] };
  c.append('coordinator', '*', {
    type: 'sign.aborted',
    reason: 'failed',
    code: 'INSUFFICIENT_HONEST_SIGNERS',
    message: 'invalid shares',
    culprits: ['alice', 'bob'],
  });
  return { ...c, original };
}

/**
 * A completed 2-of-3 key ceremony (DKG) of group `release`: the admin's `admin.group.create`, the
 * coordinator's `dkg.start`, real FROST round-1 packages and their broadcast, every member's signed
 * `dkg.confirm` and the coordinator's `dkg.complete`. Round 2 (encrypted boxes) is left out: the
 * auditor cannot open it. `reseal` re-seals as any sender (members too, to build a confirmation
 * that really was sent), `remove` drops an entry and renumbers; both re-log.
 */
/** What a key-ceremony fixture hands a test: its bundle, the keys to pin, and ways to tamper. */
type KeyCase = BundleCase & {
  readonly ids: Readonly<Record<string, IdentityKey>>;
  remove(i: number): void;
  /** Seals `body` as `sender` (its next seq) and appends it; re-logs. */
  append(sender: string, recipient: string | null, body: Record<string, unknown>): void;
};

function keyCase(
  parties: ReturnType<typeof cast>,
  bundle: CeremonyBundle,
  groupPublicKey: string,
): KeyCase {
  const { ids, admin, coordinator, log, seal } = parties;
  const relog = () => logBundle(log, bundle, 'key');
  relog();
  const entries = () => bundle.transcript as TranscriptEntry[];
  return {
    bundle,
    coordinator,
    admin,
    log,
    ids,
    trust: {
      coordinatorKey: bundle.keys.coordinator,
      adminKey: bundle.keys.admin,
      logKey: bundle.keys.log,
      groupPublicKey,
    },
    reseal(i, body) {
      const e = entries()[i] as TranscriptEntry;
      entries()[i] = { ...e, envelope: seal(e.sender, body, e.envelope.seq) };
      relog();
    },
    append(sender, recipient, body) {
      parties.push(sender, recipient, body);
      relog();
    },
    remove(i) {
      entries().splice(i, 1);
      entries().forEach((e, idx) => {
        (e as { idx: number }).idx = idx;
      });
      relog();
    },
    relog,
  };
}

/** Admin authorization, dkg.start and every member's round-1 package of a 2-of-3 DKG. */
function dkgOpening(
  options: {
    readonly badProofFrom?: string;
    readonly round1?: readonly string[];
    /** A dkg.start from before protocol 4 (it names no protocol version). */
    readonly beforeProtocol4?: boolean;
    /** This member gets, recorded first, a dkg.start naming no version (the others' name 4). */
    readonly versionlessStartFor?: string;
    /** Every recorded dkg.start names no version (the dealers' signed round 1 still do). */
    readonly versionlessStarts?: boolean;
  } = {},
) {
  const names = ['alice', 'bob', 'carol'] as const;
  const parties = cast(names, KEY_ROUND);
  const { ids, push } = parties;
  const members = names.map((m) => ({ member: m, identityKey: bytesToHex(ids[m]!.publicKey) }));
  const authorization = push('admin', null, {
    type: 'admin.group.create',
    group: 'release',
    threshold: 2,
    members,
  });
  const participants = names.map((m) => ({
    member: m,
    identifier: frost.identifier.derive(m) as string,
    identityKey: bytesToHex(ids[m]!.publicKey),
  }));
  const start = {
    type: 'dkg.start',
    group: 'release',
    threshold: 2,
    participants,
    authorization,
  };
  if (options.versionlessStartFor !== undefined)
    push('coordinator', options.versionlessStartFor, start);
  push('coordinator', '*', {
    ...start,
    ...(options.beforeProtocol4 === true || options.versionlessStarts === true
      ? {}
      : { protocolVersion: PROTOCOL_VERSION }),
  });
  const secrets = new Map<string, DkgRound1SecretPackage>();
  const packages = names
    .filter((m) => options.round1?.includes(m) ?? true)
    .map((m) => {
      const part1 = frost.keys.dkg.part1(frost.identifier.derive(m), 3, 2);
      secrets.set(m, part1.secretPackage);
      let r1 = part1.package;
      if (options.badProofFrom === m) {
        const pok = r1.proofOfKnowledge.slice();
        pok[pok.length - 16] = pok[pok.length - 16]! ^ 1; // still a canonical scalar
        r1 = { ...r1, proofOfKnowledge: pok };
      }
      return { member: m, package: bytesToHex(frost.encode.bytes('DkgRound1Package', r1)) };
    });
  for (const p of packages) {
    push(p.member, null, {
      type: 'dkg.round1',
      package: p.package,
      ...(options.beforeProtocol4 === true ? {} : { protocolVersion: PROTOCOL_VERSION }),
    });
  }
  return { parties, names, members, participants, packages, secrets };
}

/** What an aborted 2-of-3 DKG's members did before the coordinator's `dkg.abort`. */
export interface AbortScript {
  /** Who sent a round-1 package (default: all); the relay follows only when all did. */
  readonly round1?: readonly string[];
  /** Who sent its round-2 boxes to both others (default: nobody). */
  readonly round2?: readonly string[];
  /**
   * A member's complaint, after round 2, with the evidence that opens the culprit's box to it
   * (box-complaint.ts), or that evidence with a changed response ('forged'), or none.
   */
  readonly fail?: {
    readonly from: string;
    readonly culprit: string;
    readonly code: string;
    readonly evidence?: 'genuine' | 'forged';
  };
  /** A dealer whose round-2 share to a recipient has a flipped byte (its box is real either way). */
  readonly badShare?: { readonly from: string; readonly to: string };
  /** A ceremony from before protocol 4: its dkg.start names no version (complaints carry none). */
  readonly beforeProtocol4?: boolean;
  /** This member's dkg.start, recorded first, names no version; the others' name 4. */
  readonly versionlessStartFor?: string;
  /** No recorded dkg.start names a version; the dealers' signed round 1 still do. */
  readonly versionlessStarts?: boolean;
  /** Who confirmed, with the relayed view or another one (default: nobody). */
  readonly confirms?: Readonly<Record<string, 'relayed' | 'other'>>;
  /** The coordinator's dkg.abort. */
  readonly abort: { readonly code: string; readonly culprits: readonly string[] };
  /** The state the coordinator recorded (`aborted`). */
  readonly state?: string;
}

/** `plaintext` sealed from `from` to `to` in a box `from` signs, kept in `sent` ("from>to"). */
function sealKept(
  ids: Readonly<Record<string, IdentityKey>>,
  ceremonyId: string,
  sent: Map<string, WireBox & { signature: string }>,
  from: string,
  to: string,
  plaintext: Uint8Array,
): WireBox & { signature: string } {
  const box = sealSignedBox(ids[to]!.publicKey, ids[from]!, plaintext, {
    ceremonyId,
    sender: from,
    recipient: to,
  });
  sent.set(`${from}>${to}`, box);
  return box;
}

/**
 * A member's `dkg.fail` (`fail.from` accusing `fail.culprit`) with the evidence that opens the
 * culprit's box to it (`sent`, keyed "dealer>recipient"), that evidence with its response replaced
 * by its challenge ('forged'), or none.
 */
function complaintBody(
  ids: Readonly<Record<string, IdentityKey>>,
  ceremonyId: string,
  sent: ReadonlyMap<string, WireBox & { signature: string }>,
  fail: {
    readonly from: string;
    readonly culprit: string;
    readonly code: string;
    readonly evidence?: 'genuine' | 'forged';
  },
  reason: string,
): Record<string, unknown> {
  const { from, culprit } = fail;
  const box = sent.get(`${culprit}>${from}`);
  let evidence =
    fail.evidence === undefined || box === undefined
      ? undefined
      : proveBoxComplaint(ids[from]!, {
          ceremonyId,
          accuser: from,
          accuserIdentityKey: ids[from]!.publicKey,
          dealer: culprit,
          dealerIdentityKey: ids[culprit]!.publicKey,
          box,
        });
  if (evidence !== undefined && fail.evidence === 'forged') {
    evidence = { ...evidence, response: evidence.challenge };
  }
  return {
    type: 'dkg.fail',
    culprit,
    code: fail.code,
    reason,
    ...(evidence === undefined ? {} : { evidence }),
  };
}

/**
 * An aborted DKG: the script's messages, really signed (round-2 boxes are real shares of the
 * dealers' polynomials, sealed to their recipients, which the auditor can open only with a
 * complaint's evidence), then the coordinator's `dkg.abort`, recorded as `aborted`.
 */
export function abortedKeyBundle(script: AbortScript): KeyCase {
  const { parties, names, participants, packages, secrets } = dkgOpening({
    ...(script.round1 === undefined ? {} : { round1: script.round1 }),
    ...(script.beforeProtocol4 === true ? { beforeProtocol4: true } : {}),
    ...(script.versionlessStartFor === undefined
      ? {}
      : { versionlessStartFor: script.versionlessStartFor }),
    ...(script.versionlessStarts === true ? { versionlessStarts: true } : {}),
  });
  const { ids, ceremonyId, transcript, push } = parties;
  let groupPublicKey = '00'.repeat(32);
  if (packages.length === names.length) {
    push('coordinator', '*', { type: 'dkg.round1.all', packages });
    const pub = frost.keys.dkg.publicKeyPackage(
      packages.map((p) => frost.decode.bytes('DkgRound1Package', hexToBytes(p.package))),
      2,
    );
    groupPublicKey = bytesToHex(pub.verifyingKey);
  }
  const sent = new Map<string, WireBox & { signature: string }>();
  for (const m of script.round2 ?? []) {
    const others = packages
      .filter((p) => p.member !== m)
      .map((p) => frost.decode.bytes('DkgRound1Package', hexToBytes(p.package)));
    const shares = frost.keys.dkg.part2(secrets.get(m)!, others).packages;
    const boxes = names
      .filter((r) => r !== m)
      .map((r) => {
        const share = shares[frost.identifier.derive(r)]!;
        const value = share.signingShare.slice();
        if (script.badShare?.from === m && script.badShare.to === r) value[16] = value[16]! ^ 1;
        const plaintext = frost.encode.bytes('DkgRound2Package', { ...share, signingShare: value });
        const box = sealKept(ids, ceremonyId, sent, m, r, plaintext);
        return { recipient: r, ...box };
      });
    push(m, null, { type: 'dkg.round2', boxes });
  }
  if (script.fail !== undefined) {
    push(
      script.fail.from,
      null,
      complaintBody(ids, ceremonyId, sent, script.fail, 'the share does not verify'),
    );
  }
  const hash = bytesToHex(round1Hash({ ceremonyId, threshold: 2, participants, packages }));
  for (const [m, view] of Object.entries(script.confirms ?? {})) {
    const round1 = view === 'relayed' ? hash : 'ee'.repeat(32);
    push(m, null, {
      type: 'dkg.confirm',
      round1Hash: round1,
      groupPublicKey,
      signature: bytesToHex(
        signDkgConfirmation(ids[m]!, {
          ceremonyId,
          member: m,
          round1Hash: hexToBytes(round1),
          groupPublicKey: hexToBytes(groupPublicKey),
        }),
      ),
    });
  }
  push('coordinator', '*', {
    type: 'dkg.abort',
    code: script.abort.code,
    message: 'the ceremony ended',
    culprits: [...script.abort.culprits],
  });
  const bundle: CeremonyBundle = {
    format: BUNDLE_FORMAT,
    ceremonyId,
    kind: 'key',
    keys: parties.keys(),
    group: { name: 'release', epochs: [] },
    registry: parties.registry(),
    transcript,
    recorded: { state: script.state ?? 'aborted', culprits: [] },
    log: null,
  };
  return keyCase(parties, bundle, groupPublicKey);
}

/**
 * A DKG key-ceremony bundle. `badProofFrom`: that member's round-1 package carries a proof of
 * knowledge that does not verify, and everything else (relay, hash, confirmations, complete) is
 * built over it consistently, as if every member had failed to check it.
 */
export function keyBundle(options: { readonly badProofFrom?: string } = {}): KeyCase {
  const { parties, names, members, participants, packages } = dkgOpening(options);
  const { ids, ceremonyId, transcript, push } = parties;
  push('coordinator', '*', { type: 'dkg.round1.all', packages });
  const pub = frost.keys.dkg.publicKeyPackage(
    packages.map((p) => frost.decode.bytes('DkgRound1Package', hexToBytes(p.package))),
    2,
  );
  const groupPublicKey = bytesToHex(pub.verifyingKey);
  const hash = round1Hash({ ceremonyId, threshold: 2, participants, packages });
  const confirmations = names.map((m) => {
    const signature = bytesToHex(
      signDkgConfirmation(ids[m]!, {
        ceremonyId,
        member: m,
        round1Hash: hash,
        groupPublicKey: pub.verifyingKey,
      }),
    );
    push(m, null, {
      type: 'dkg.confirm',
      round1Hash: bytesToHex(hash),
      groupPublicKey,
      signature,
    });
    return { member: m, signature };
  });
  push('coordinator', '*', {
    type: 'dkg.complete',
    groupPublicKey,
    round1Hash: bytesToHex(hash),
    confirmations,
  });

  const registry = parties.registry();
  const bundle: CeremonyBundle = {
    format: BUNDLE_FORMAT,
    ceremonyId,
    kind: 'key',
    keys: parties.keys(),
    // Epoch 0, as the coordinator records it when the DKG completes.
    group: {
      name: 'release',
      epochs: [
        {
          epoch: 0,
          at: T0 + transcript.length * 10,
          threshold: 2,
          members,
          groupPublicKey,
          publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', pub)),
          keyCreatedAt: Math.floor(T0 / 1000),
        },
      ],
    },
    registry,
    transcript,
    recorded: { state: 'completed', culprits: [] },
    log: null,
  };
  return keyCase(parties, bundle, groupPublicKey);
}

const LIFECYCLE_ROUND: Record<string, string> = {
  'admin.group.refresh': '0',
  'admin.group.reshare': '0',
  'admin.group.repair': '0',
  'key.start': '0',
  'key.round1': '1',
  'key.round1.all': '1',
  'key.round2': '2',
  'key.round2.deliver': '2',
  'dkg.fail': '2',
  'dkg.confirm': '3',
  'dkg.complete': '3',
  'dkg.abort': '3',
};

/**
 * The opening of a lifecycle ceremony of group `release` (2-of-3 alice, bob, carol at epoch 0): the
 * admin's authorization, the coordinator's `key.start`, the dealers' round-1 messages (real FROST
 * dealer packages for a refresh or reshare; a repair's sealed deltas if `repairDeltas` says so) and
 * their relay to every member. As protocol 5 makes them, key.start and each key.round1 name the
 * protocol version, unless the options say otherwise.
 */
function lifecycleOpening(
  kind: 'refresh' | 'reshare' | 'repair',
  options: {
    /** A transcript from before protocol 5: neither key.start nor any key.round1 names a version. */
    readonly beforeProtocol5?: boolean;
    /** key.start names no version (the dealers' signed round 1 still do). */
    readonly versionlessStarts?: boolean;
    /** No dealer's key.round1 names a version (key.start still does). */
    readonly versionlessRound1?: boolean;
    /** What the coordinator records as key.start, made from the genuine one (a forged start). */
    readonly recordedStart?: (start: Record<string, unknown>) => Record<string, unknown>;
    /**
     * A repair's helpers seal their real deltas (frost.keys.repair.step1) to each other, each in a
     * box it signed, relayed in key.round1.all as the coordinator does (otherwise round 1 carries no
     * boxes); `bad`'s box holds 0xff×32, no canonical scalar, instead of its delta.
     */
    readonly repairDeltas?: { readonly bad?: { readonly from: string; readonly to: string } };
  } = {},
) {
  const startVersioned = options.beforeProtocol5 !== true && options.versionlessStarts !== true;
  const round1Versioned = options.beforeProtocol5 !== true && options.versionlessRound1 !== true;
  const version = (named: boolean) => (named ? { protocolVersion: PROTOCOL_VERSION } : {});
  const old = ['alice', 'bob', 'carol'] as const;
  const names = kind === 'reshare' ? [...old, 'dave'] : [...old];
  const parties = cast(names, LIFECYCLE_ROUND);
  const { ids, push } = parties;
  const idOf = (m: string) => frost.identifier.derive(m);
  const participant = (m: string) => ({
    member: m,
    identifier: idOf(m) as string,
    identityKey: bytesToHex(ids[m]!.publicKey),
  });
  const member = (m: string) => ({ member: m, identityKey: bytesToHex(ids[m]!.publicKey) });
  const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers: old.map(idOf) });
  const keyOf = (m: string): KeyPackage =>
    frost.keys.keyPackage(dealt.shares[idOf(m)] as Parameters<typeof frost.keys.keyPackage>[0]);
  const oldPub = dealt.publicKeyPackage;
  const groupPublicKey = bytesToHex(oldPub.verifyingKey);
  const oldPubHex = bytesToHex(frost.encode.bytes('PublicKeyPackage', oldPub));
  const committee = kind === 'reshare' ? names : [...old];
  const threshold = kind === 'reshare' ? 3 : 2;
  const dealers = kind === 'refresh' ? [...old] : ['alice', 'bob'];
  const repaired = kind === 'repair' ? 'carol' : undefined;
  const toEpoch = kind === 'repair' ? 0 : 1;

  const base = { group: 'release', epoch: 0, groupPublicKey };
  const authorization = push(
    'admin',
    null,
    kind === 'refresh'
      ? { type: 'admin.group.refresh', ...base }
      : kind === 'reshare'
        ? {
            type: 'admin.group.reshare',
            ...base,
            threshold,
            members: committee.map(member),
            dealers,
          }
        : { type: 'admin.group.repair', ...base, member: 'carol', helpers: dealers },
  );
  const recorded = options.recordedStart ?? ((start) => start);
  push(
    'coordinator',
    '*',
    recorded({
      type: 'key.start',
      kind,
      group: 'release',
      fromEpoch: 0,
      toEpoch,
      groupPublicKey,
      publicKeyPackage: oldPubHex,
      previousThreshold: 2,
      previous: old.map(participant),
      threshold,
      participants: committee.map(participant),
      dealers,
      ...(repaired === undefined ? {} : { member: repaired }),
      authorization,
      ...version(startVersioned),
    }),
  );

  // Round 1: dealers' public packages (refresh/reshare); a repair's helpers send boxes only.
  let newPub = oldPub;
  const packages: { member: string; package: string }[] = [];
  // Each dealer's package and the sub-shares it deals (refresh/reshare), in `dealers` order.
  let dealing: ReturnType<typeof frost.keys.reshare.part1>[] = [];
  // A repair helper's deltas (keyed by helper identifier), and the boxes sealed ("sender>recipient").
  const deltas = new Map<string, Readonly<Record<string, Uint8Array>>>();
  const sent = new Map<string, WireBox & { signature: string }>();
  if (kind === 'repair') {
    for (const d of dealers) {
      const boxes: Record<string, unknown>[] = [];
      if (options.repairDeltas !== undefined) {
        const mine = frost.keys.repair.step1(dealers.map(idOf), keyOf(d), idOf(repaired!));
        deltas.set(d, mine);
        for (const h of dealers.filter((x) => x !== d)) {
          const bad = options.repairDeltas.bad?.from === d && options.repairDeltas.bad.to === h;
          const plaintext = bad ? new Uint8Array(32).fill(0xff) : mine[idOf(h)]!;
          const box = sealKept(ids, parties.ceremonyId, sent, d, h, plaintext);
          boxes.push({ recipient: h, ...box });
        }
      }
      push(d, null, { type: 'key.round1', boxes, ...version(round1Versioned) });
    }
  } else {
    const params = {
      dealers: dealers.map(idOf),
      newIdentifiers: committee.map(idOf),
      newMinSigners: threshold,
    };
    const dealt1 = dealers.map((d) =>
      kind === 'refresh'
        ? frost.keys.refresh.part1(keyOf(d), oldPub, params.dealers)
        : frost.keys.reshare.part1(keyOf(d), oldPub, params),
    );
    dealers.forEach((d, i) => {
      const pkg = bytesToHex(frost.encode.bytes('ReshareRound1Package', dealt1[i]!.package));
      packages.push({ member: d, package: pkg });
      push(d, null, {
        type: 'key.round1',
        package: pkg,
        boxes: [],
        ...version(round1Versioned),
      });
    });
    const m0 = committee[0]!;
    const out =
      kind === 'refresh'
        ? frost.keys.refresh.part2(
            idOf(m0),
            oldPub,
            params.dealers,
            dealt1.map((x) => x.package),
            dealt1.map((x) => x.shares[idOf(m0)]!),
          )
        : frost.keys.reshare.part2(
            idOf(m0),
            oldPub,
            params,
            dealt1.map((x) => x.package),
            dealt1.map((x) => x.shares[idOf(m0)]!),
          );
    newPub = out.publicKeyPackage;
    dealing = dealt1;
  }
  // To every member of the ceremony, with the boxes addressed to it (key-lifecycle.ts boxesFor).
  const recipients = kind === 'repair' ? [...dealers, 'carol'] : committee;
  for (const m of recipients) {
    const boxes = dealers
      .filter((d) => sent.has(`${d}>${m}`))
      .map((d) => ({ sender: d, ...sent.get(`${d}>${m}`)! }));
    push('coordinator', m, { type: 'key.round1.all', packages, boxes });
  }
  return {
    parties,
    old,
    committee,
    threshold,
    dealers,
    repaired,
    toEpoch,
    participant,
    member,
    idOf,
    oldPub,
    oldPubHex,
    groupPublicKey,
    newPub,
    packages,
    dealing,
    deltas,
    sent,
  };
}

/**
 * A completed lifecycle ceremony of group `release` (2-of-3 alice, bob, carol at epoch 0): a
 * `refresh` by all three, a `reshare` by alice and bob to 3-of-4 with dave, or a `repair` of carol's
 * share by alice and bob. Real FROST dealer packages and the public key package they give, every
 * confirmer's signed `dkg.confirm` of the lifecycle hash and `dkg.complete`; the encrypted boxes are
 * left out (the auditor cannot open them). The bundle records epoch 0 and, for refresh/reshare,
 * epoch 1 as the coordinator does. `reseal` re-seals as any sender; both re-log.
 */
export function lifecycleBundle(kind: 'refresh' | 'reshare' | 'repair'): KeyCase {
  const {
    parties,
    old,
    committee,
    threshold,
    dealers,
    repaired,
    toEpoch,
    participant,
    member,
    oldPub,
    oldPubHex,
    groupPublicKey,
    newPub,
    packages,
  } = lifecycleOpening(kind);
  const { ids, ceremonyId, transcript, push } = parties;

  const newPubBytes = frost.encode.bytes('PublicKeyPackage', newPub);
  const hash = lifecycleHash({
    ceremonyId,
    kind,
    group: 'release',
    fromEpoch: 0,
    toEpoch,
    previousPublicKeyPackage: hexToBytes(oldPubHex),
    threshold,
    participants: committee.map(participant),
    dealers,
    ...(repaired === undefined ? {} : { member: repaired }),
    packages,
    publicKeyPackage: newPubBytes,
  });
  const confirmers = kind === 'repair' ? [...dealers, 'carol'] : committee;
  const confirmations = confirmers.map((m) => {
    const signature = bytesToHex(
      signDkgConfirmation(ids[m]!, {
        ceremonyId,
        member: m,
        round1Hash: hash,
        groupPublicKey: oldPub.verifyingKey,
      }),
    );
    push(m, null, { type: 'dkg.confirm', round1Hash: bytesToHex(hash), groupPublicKey, signature });
    return { member: m, signature };
  });
  push('coordinator', '*', {
    type: 'dkg.complete',
    groupPublicKey,
    round1Hash: bytesToHex(hash),
    confirmations,
  });

  const epoch = (n: number, at: number, t: number, ms: readonly string[], hex: string) => ({
    epoch: n,
    at,
    threshold: t,
    members: ms.map(member),
    groupPublicKey,
    publicKeyPackage: hex,
    keyCreatedAt: Math.floor(T0 / 1000),
  });
  const bundle: CeremonyBundle = {
    format: BUNDLE_FORMAT,
    ceremonyId,
    kind: 'key',
    keys: parties.keys(),
    group: {
      name: 'release',
      epochs: [
        epoch(0, T0 - 500, 2, old, oldPubHex),
        ...(kind === 'repair'
          ? []
          : [epoch(1, T0 + transcript.length * 10, threshold, committee, bytesToHex(newPubBytes))]),
      ],
    },
    registry: parties.registry(),
    transcript,
    recorded: { state: 'completed', culprits: [] },
    log: null,
  };
  return keyCase(parties, bundle, groupPublicKey);
}

/** What the members of an aborted refresh or reshare did after round 1 (lifecycleOpening). */
export interface LifecycleAbortScript {
  /**
   * `refresh` (the default: alice, bob and carol deal to each other), or `reshare` (alice and bob
   * deal to 3-of-4 with dave).
   */
  readonly kind?: 'refresh' | 'reshare';
  /** A dealer whose sub-share to a recipient has a flipped byte (its box is real either way). */
  readonly badShare?: { readonly from: string; readonly to: string };
  /**
   * A member's complaint, after every dealer's round 2 was delivered, with the evidence that opens
   * the culprit's box to it (box-complaint.ts), or that evidence with its response replaced by
   * its challenge ('forged'), or none.
   */
  readonly fail: {
    readonly from: string;
    readonly culprit: string;
    readonly code: string;
    readonly evidence?: 'genuine' | 'forged';
  };
  /** A ceremony from before protocol 5: neither key.start nor any key.round1 names a version. */
  readonly beforeProtocol5?: boolean;
  /** key.start names no version; the dealers' signed key.round1 still do. */
  readonly versionlessStarts?: boolean;
  /** No dealer's key.round1 names a version; key.start still does. */
  readonly versionlessRound1?: boolean;
  /** lifecycleOpening's recordedStart: the key.start the coordinator records instead. */
  readonly recordedStart?: (start: Record<string, unknown>) => Record<string, unknown>;
  /** The coordinator's dkg.abort. */
  readonly abort: { readonly code: string; readonly culprits: readonly string[] };
}

/**
 * An aborted lifecycle ceremony (refresh or reshare) of group `release`: lifecycleOpening, then
 * every dealer's `key.round2` (real sub-shares of its package, each sealed to its recipient in a
 * box it signed, in member order, as the client sends them), the coordinator's
 * `key.round2.deliver` to each member of the committee, the script's `dkg.fail` and the
 * coordinator's `dkg.abort`, recorded as `aborted` (the bundle records epoch 0 only).
 */
export function abortedLifecycleBundle(script: LifecycleAbortScript): KeyCase {
  const kind = script.kind ?? 'refresh';
  const opening = lifecycleOpening(kind, {
    ...(script.beforeProtocol5 === true ? { beforeProtocol5: true } : {}),
    ...(script.versionlessStarts === true ? { versionlessStarts: true } : {}),
    ...(script.versionlessRound1 === true ? { versionlessRound1: true } : {}),
    ...(script.recordedStart === undefined ? {} : { recordedStart: script.recordedStart }),
  });
  const { parties, committee, dealers, idOf, dealing } = opening;
  const { ids, ceremonyId, push } = parties;
  const sent = new Map<string, WireBox & { signature: string }>();
  dealers.forEach((d, i) => {
    const boxes = [...committee]
      .filter((r) => r !== d)
      .sort()
      .map((r) => {
        const share = dealing[i]!.shares[idOf(r)]!;
        const value = share.subShare.slice();
        if (script.badShare?.from === d && script.badShare.to === r) value[16] = value[16]! ^ 1;
        const plaintext = frost.encode.bytes('ReshareRound1Share', { ...share, subShare: value });
        const box = sealKept(ids, ceremonyId, sent, d, r, plaintext);
        return { recipient: r, ...box };
      });
    push(d, null, { type: 'key.round2', boxes });
  });
  for (const m of committee) {
    const boxes = dealers
      .filter((d) => d !== m)
      .map((d) => ({ sender: d, ...sent.get(`${d}>${m}`)! }));
    push('coordinator', m, { type: 'key.round2.deliver', boxes });
  }
  push(
    script.fail.from,
    null,
    complaintBody(ids, ceremonyId, sent, script.fail, 'the sub-share does not verify'),
  );
  return abortedLifecycleCase(opening, script.abort);
}

/**
 * The end of an aborted lifecycle ceremony: the coordinator's `dkg.abort`, and the bundle recorded
 * as `aborted`, with epoch 0 only.
 */
function abortedLifecycleCase(
  opening: ReturnType<typeof lifecycleOpening>,
  abort: { readonly code: string; readonly culprits: readonly string[] },
): KeyCase {
  const { parties, old, member, oldPubHex, groupPublicKey } = opening;
  const { ceremonyId, transcript, push } = parties;
  push('coordinator', '*', {
    type: 'dkg.abort',
    code: abort.code,
    message: 'the ceremony ended',
    culprits: [...abort.culprits],
  });
  const bundle: CeremonyBundle = {
    format: BUNDLE_FORMAT,
    ceremonyId,
    kind: 'key',
    keys: parties.keys(),
    group: {
      name: 'release',
      epochs: [
        {
          epoch: 0,
          at: T0 - 500,
          threshold: 2,
          members: old.map(member),
          groupPublicKey,
          publicKeyPackage: oldPubHex,
          keyCreatedAt: Math.floor(T0 / 1000),
        },
      ],
    },
    registry: parties.registry(),
    transcript,
    recorded: { state: 'aborted', culprits: [] },
    log: null,
  };
  return keyCase(parties, bundle, groupPublicKey);
}

/** What the helpers (alice, bob) and the repaired member (carol) of an aborted repair did. */
export interface RepairAbortScript {
  /** A helper whose box (its delta to the other helper, or its σ to carol) holds 0xff×32. */
  readonly badBox?: { readonly from: string; readonly to: string };
  /** A helper whose σ to carol is another canonical scalar (its low bit flipped). */
  readonly wrongSigma?: string;
  /**
   * A complaint, with the evidence that opens the culprit's box to its sender, or that evidence
   * with its response replaced by its challenge ('forged'), or none: a helper's about the other's
   * delta comes right after key.round1.all, in place of its σ (round 2 never happens); carol's about
   * a helper's σ comes after key.round2.deliver.
   */
  readonly fail: {
    readonly from: string;
    readonly culprit: string;
    readonly code: string;
    readonly evidence?: 'genuine' | 'forged';
  };
  /** The coordinator's dkg.abort. */
  readonly abort: { readonly code: string; readonly culprits: readonly string[] };
}

/**
 * An aborted repair of carol's share by alice and bob (protocol 5): lifecycleOpening with every
 * helper's real deltas sealed to the other in a box it signed, relayed in key.round1.all; unless
 * a helper complains, each helper's `key.round2` with one box to carol holding its σ (the sum of
 * the deltas it received and its own, frost.keys.repair.step2) and the coordinator's
 * `key.round2.deliver` to every confirmer (boxes only to carol); then the script's `dkg.fail` and
 * the coordinator's `dkg.abort`, recorded as `aborted` (the bundle records epoch 0 only).
 */
export function abortedRepairBundle(script: RepairAbortScript): KeyCase {
  const { badBox } = script;
  const opening = lifecycleOpening('repair', {
    repairDeltas: badBox === undefined ? {} : { bad: badBox },
  });
  const { parties, dealers, repaired, idOf, oldPub, deltas, sent } = opening;
  const { ids, ceremonyId, push } = parties;
  const lost = repaired!;
  if (!dealers.includes(script.fail.from)) {
    const sigmas = dealers.map((h) =>
      frost.keys.repair.step2(dealers.map((d) => deltas.get(d)![idOf(h)]!)),
    );
    frost.keys.repair.step3(sigmas, idOf(lost), oldPub); // they rebuild carol's share, or throw
    dealers.forEach((h, i) => {
      let plaintext = sigmas[i]!.slice();
      if (script.wrongSigma === h) plaintext[0] = plaintext[0]! ^ 1;
      if (badBox?.from === h && badBox.to === lost) plaintext = new Uint8Array(32).fill(0xff);
      const box = sealKept(ids, ceremonyId, sent, h, lost, plaintext);
      push(h, null, { type: 'key.round2', boxes: [{ recipient: lost, ...box }] });
    });
    // To every confirmer, as requestConfirmation does: only carol is sent σ boxes.
    for (const m of [...dealers, lost]) {
      const boxes =
        m !== lost ? [] : dealers.map((d) => ({ sender: d, ...sent.get(`${d}>${m}`)! }));
      push('coordinator', m, { type: 'key.round2.deliver', boxes });
    }
  }
  const what = dealers.includes(script.fail.from) ? 'delta' : 'σ';
  push(
    script.fail.from,
    null,
    complaintBody(
      ids,
      ceremonyId,
      sent,
      script.fail,
      `the ${what} from ${script.fail.culprit} is not a scalar`,
    ),
  );
  return abortedLifecycleCase(opening, script.abort);
}
