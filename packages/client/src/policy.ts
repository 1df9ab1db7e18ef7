// A member obeys a group policy only after verifying it (docs/policy.md): from version 1 on, the
// policy the coordinator serves must carry a statement of class `policy` that a quorum of the group
// signed, under the group key from this member's own share metadata, binding the document's
// canonical digest. Version 0 is the built-in default, never a served document. The highest verified
// version per group key is pinned in the home, so a coordinator cannot roll a policy back.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  artifactNameMatches,
  classRuleOf,
  defaultPolicy,
  parsePolicyId,
  policyIdOf,
  quorumOf,
  type CeremonyStatus,
  type PolicyDocument,
  type PolicyInfo,
  type Release,
} from '@conclave/protocol';
import { verifyPolicyStatement } from '@conclave/release';
import { z } from 'zod';
import type { Connection } from './connection.js';
import { ClientError } from './errors.js';
import { writeJsonAtomic } from './home.js';
import { acquireFileLock } from './file-lock.js';

export interface VerifiedPolicy {
  readonly group: string;
  readonly version: number;
  readonly policyId: string;
  readonly document: PolicyDocument;
  /** The policy ceremony that adopted it (absent for version 0). */
  readonly ceremonyId?: string;
  /** The policy that ceremony ran under. */
  readonly signedUnder?: string;
}

export interface GroupKeyView {
  readonly group: string;
  readonly groupPublicKey: string;
}

const unverified = (message: string): ClientError => new ClientError('POLICY_UNVERIFIED', message);

/**
 * Checks a served policy against this member's group key. Version 0 → the built-in default;
 * otherwise the quorum signature must verify. Throws POLICY_UNVERIFIED.
 */
export function verifyPolicyInfo(info: PolicyInfo, key: GroupKeyView): VerifiedPolicy {
  if (info.group !== key.group) {
    throw unverified(`the coordinator answered with the policy of ${info.group}, not ${key.group}`);
  }
  if (info.version === 0) {
    return {
      group: key.group,
      version: 0,
      policyId: policyIdOf(key.group, 0),
      document: defaultPolicy(key.group),
    };
  }
  const signed = info.signed;
  if (signed === undefined) {
    throw unverified(`${info.policyId} comes without the quorum signature that adopted it`);
  }
  const v = verifyPolicyStatement({
    group: key.group,
    version: info.version,
    document: info.document,
    statement: signed.statement,
    signature: signed.signature,
    groupPublicKey: key.groupPublicKey,
  });
  if (!v.ok) {
    throw unverified(
      `${policyIdOf(key.group, info.version)} is not signed by a quorum of ${key.group} (${v.reason}); refusing to obey it — tell the security lead, the coordinator may have been tampered with`,
    );
  }
  return {
    group: key.group,
    version: info.version,
    policyId: policyIdOf(key.group, info.version),
    document: info.document,
    ceremonyId: v.ceremonyId,
    signedUnder: v.signedUnder,
  };
}

const PinsSchema = z.record(
  z.string().max(200),
  z.strictObject({ version: z.int().min(0), policyId: z.string().max(64) }),
);
const KeyPinsSchema = z.record(
  z.string().max(200),
  z.strictObject({ keyCreatedAt: z.int().min(0) }),
);

/**
 * A JSON file of pins in the home (mode 0600), changed only by read-compare-write under an
 * exclusive lock file. The agent and `conclave approve` may write at once (two processes, one
 * home): without the lock a slower writer could put an older pin (or a file missing another group's
 * pin) over a newer one. This instance's writers take the lock one at a time (a queue, not a
 * polling crowd); the lock itself keeps out other processes and other instances.
 */
class PinFile<T extends Record<string, unknown>> {
  readonly path: string;
  readonly #schema: z.ZodType<T>;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string, schema: z.ZodType<T>) {
    this.path = path;
    this.#schema = schema;
  }

  async read(): Promise<T> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return {} as T;
    }
    let parsed;
    try {
      parsed = this.#schema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success !== true)
      throw new ClientError('CONFIG_INVALID', `${this.path} is damaged`);
    return parsed.data;
  }

  /** Runs `change` on the pins under the lock; writes them if it returns true. */
  async update(change: (pins: T) => boolean): Promise<void> {
    const run = this.#queue.then(() =>
      withFileLock(`${this.path}.lock`, async () => {
        const pins = await this.read();
        if (change(pins)) await writeJsonAtomic(this.path, pins);
      }),
    );
    this.#queue = run.catch(() => undefined);
    await run;
  }
}

/**
 * Per group key, what this home verified or signed under, so a coordinator cannot go back on it:
 * the highest policy version verified (`<home>/policy-pins.json`), and the OpenPGP key creation
 * time of the first OpenPGP signature the home made (`<home>/key-pins.json`, a file of its own so
 * that older clients still read the policy pins).
 */
export class PolicyPins {
  readonly #policies: PinFile<z.infer<typeof PinsSchema>>;
  readonly #keys: PinFile<z.infer<typeof KeyPinsSchema>>;

  constructor(homeDir: string) {
    this.#policies = new PinFile(join(homeDir, 'policy-pins.json'), PinsSchema);
    this.#keys = new PinFile(join(homeDir, 'key-pins.json'), KeyPinsSchema);
  }

  async highest(key: GroupKeyView): Promise<number> {
    return (await this.#policies.read())[pinKey(key)]?.version ?? 0;
  }

  /** Raises the pin of `key` to `p.version`; never lowers it. */
  async record(key: GroupKeyView, p: VerifiedPolicy): Promise<void> {
    const k = pinKey(key);
    // Pins only go up, so a pin read at or above p.version stays so: nothing to write, no lock.
    // Every approval lands here with the version already pinned; taking the file lock each time
    // made concurrent approvals (an agent with many open ceremonies) queue on it until TIMEOUT.
    if (((await this.#policies.read())[k]?.version ?? -1) >= p.version) return;
    await this.#policies.update((pins) => {
      if ((pins[k]?.version ?? -1) >= p.version) return false;
      pins[k] = { version: p.version, policyId: p.policyId };
      return true;
    });
  }

  /**
   * Refuses an OpenPGP signing package whose `keyCreatedAt` (the key packet's creation time, which
   * the coordinator supplies) differs from the one this home pinned for `key`. The time is part of
   * the OpenPGP fingerprint, and the group certifies its own key with it: another time would have
   * the group sign for a key with another fingerprint.
   */
  async checkKeyCreatedAt(key: GroupKeyView, keyCreatedAt: number): Promise<void> {
    const pinned = (await this.#keys.read())[pinKey(key)]?.keyCreatedAt;
    if (pinned !== undefined && pinned !== keyCreatedAt) {
      throw keyTimeRefused(key, keyCreatedAt, pinned);
    }
  }

  /** After this home signed an OpenPGP package: pins its `keyCreatedAt` if none is pinned yet. */
  async pinKeyCreatedAt(key: GroupKeyView, keyCreatedAt: number): Promise<void> {
    const k = pinKey(key);
    if ((await this.#keys.read())[k] !== undefined)
      return this.checkKeyCreatedAt(key, keyCreatedAt);
    await this.#keys.update((pins) => {
      const pinned = pins[k]?.keyCreatedAt;
      if (pinned !== undefined && pinned !== keyCreatedAt) {
        throw keyTimeRefused(key, keyCreatedAt, pinned);
      }
      if (pinned !== undefined) return false;
      pins[k] = { keyCreatedAt };
      return true;
    });
  }
}

const pinKey = (key: GroupKeyView) => `${key.group}:${key.groupPublicKey}`;

const keyTimeRefused = (key: GroupKeyView, named: number, pinned: number) =>
  new ClientError(
    'SIGNING_REFUSED',
    `the coordinator names ${new Date(named * 1000).toISOString()} as the creation time of ` +
      `${key.group}'s OpenPGP key, but this home signed under ${new Date(pinned * 1000).toISOString()}: ` +
      `another time gives the key another OpenPGP fingerprint; not signing — tell the security lead`,
  );

const LOCK_WAIT_MS = 10_000;

/** Runs `fn` holding `lockPath`; waits for a live holder up to LOCK_WAIT_MS, then TIMEOUT. */
async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireFileLock(lockPath, {
    busyCode: 'TIMEOUT',
    waitMs: LOCK_WAIT_MS,
    what: `the policy pins (${lockPath.replace(/\.lock$/, '')})`,
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * The verified policy `policyId` names, for `key`'s group. Refuses one older than the newest this
 * member knows (a coordinator rolling a policy back, or a ceremony opened before a change).
 */
export async function fetchVerifiedPolicy(
  connection: Pick<Connection, 'query'>,
  key: GroupKeyView,
  policyId: string,
  pins?: PolicyPins,
): Promise<VerifiedPolicy> {
  const id = parsePolicyId(policyId);
  if (id === undefined || id.group !== key.group) {
    throw unverified(`the ceremony names policy ${policyId}, not one of ${key.group}`);
  }
  const ask = (version?: number) =>
    connection.query<PolicyInfo>(
      { type: 'policy.get', group: key.group, ...(version === undefined ? {} : { version }) },
      'policy.info',
    );
  // Both questions at once (one round trip, not two); each answer is verified on its own.
  const [namedInfo, latestInfo] = await Promise.all([ask(id.version), ask()]);
  if (namedInfo.version !== id.version) {
    // Answers are matched to questions in order; a coordinator that answers with another version
    // (or out of order) gets no benefit of the doubt.
    throw unverified(
      `asked for ${policyId}, the coordinator answered with ${policyIdOf(key.group, namedInfo.version)}`,
    );
  }
  const named = verifyPolicyInfo(namedInfo, key);
  let newest = named.version;
  if (latestInfo.version > named.version) {
    const latest = verifyPolicyInfo(latestInfo, key);
    await pins?.record(key, latest);
    newest = latest.version;
  } else {
    await pins?.record(key, named);
  }
  const pinned = pins === undefined ? 0 : await pins.highest(key);
  if (Math.max(newest, pinned) > named.version) {
    throw unverified(
      `the ceremony runs under ${named.policyId}, but ${policyIdOf(key.group, Math.max(newest, pinned))} is in force: ask the requester to request again`,
    );
  }
  return named;
}

/**
 * Policies this session verified, by group, group key and version. A version, once signed by a
 * quorum under the group key, never changes, so a verified one is kept (bounded, oldest dropped).
 */
export class VerifiedPolicyCache {
  readonly #byKey = new Map<string, VerifiedPolicy>();
  static readonly LIMIT = 256;

  static #key(key: GroupKeyView, version: number): string {
    return `${key.group}:${key.groupPublicKey}:${version}`;
  }

  get(key: GroupKeyView, version: number): VerifiedPolicy | undefined {
    return this.#byKey.get(VerifiedPolicyCache.#key(key, version));
  }

  add(key: GroupKeyView, p: VerifiedPolicy): void {
    if (p.group !== key.group) return;
    this.#byKey.set(VerifiedPolicyCache.#key(key, p.version), p);
    if (this.#byKey.size > VerifiedPolicyCache.LIMIT) {
      this.#byKey.delete(this.#byKey.keys().next().value as string);
    }
  }
}

/**
 * The ceremony's policy without a round trip: when this session already verified `policyId`,
 * the pushed status says no newer version is stored (`latest`), and no newer one is pinned here.
 * Otherwise undefined, and the caller asks (fetchVerifiedPolicy), which also verifies and pins a
 * newer version before refusing. `latest` is the coordinator's word, as its answer to policy.get
 * would be: it chooses which signed version to serve either way.
 */
export function cachedPolicyFor(
  cache: VerifiedPolicyCache,
  key: GroupKeyView,
  policyId: string,
  latest: number | undefined,
  pinned: number,
): VerifiedPolicy | undefined {
  const id = parsePolicyId(policyId);
  if (id === undefined || id.group !== key.group || latest === undefined) return undefined;
  const cached = cache.get(key, id.version);
  if (cached === undefined) return undefined;
  return Math.max(latest, pinned) > cached.version ? undefined : cached;
}

/** The current verified policy of a group (for `conclave policy show`), pinned. */
export async function currentVerifiedPolicy(
  connection: Pick<Connection, 'query'>,
  key: GroupKeyView,
  pins?: PolicyPins,
): Promise<{ policy: VerifiedPolicy; info: PolicyInfo }> {
  const info = await connection.query<PolicyInfo>(
    { type: 'policy.get', group: key.group },
    'policy.info',
  );
  const policy = verifyPolicyInfo(info, key);
  const pinned = pins === undefined ? 0 : await pins.highest(key);
  if (pinned > policy.version) {
    throw unverified(
      `the coordinator serves ${policy.policyId} as current, but this member verified ${policyIdOf(key.group, pinned)} before: the policy was rolled back`,
    );
  }
  await pins?.record(key, policy);
  return { policy, info };
}

/** Clock difference allowed between a member and the coordinator for `maxValiditySeconds`. */
export const VALIDITY_CLOCK_TOLERANCE_MS = 5 * 60_000;

/**
 * What a member checks itself in a request against the verified policy, so that a coordinator
 * cannot loosen it by skipping its own checks: artifact name patterns, the incident a hotfix needs,
 * a requester named in a member-only allow list. Roles live in the coordinator's registry (set by
 * the admin key) and are checked there.
 */
export function checkRequestAgainstPolicy(
  p: VerifiedPolicy,
  request: { readonly requester: string; readonly release: Release },
  now: number = Date.now(),
): void {
  const rule = classRuleOf(p.document, request.release.class);
  // The statement's validity: no longer than the policy allows from now (this clock, give or take
  // VALIDITY_CLOCK_TOLERANCE_MS), and present when the policy limits it.
  const maxSeconds = rule.maxValiditySeconds;
  const until = request.release.validUntil;
  if (
    maxSeconds !== undefined &&
    (until === undefined || until > now + maxSeconds * 1000 + VALIDITY_CLOCK_TOLERANCE_MS)
  ) {
    throw new ClientError(
      'POLICY_VALIDITY_EXCEEDED',
      `${p.policyId} limits ${request.release.class} statements to ${maxSeconds} s of validity, but this request is valid ${until === undefined ? 'forever' : `until ${new Date(until).toISOString()}`}; not approving`,
    );
  }
  const r = rule.requesters;
  if (
    r !== undefined &&
    (r.roles ?? []).length === 0 &&
    !(r.members ?? []).includes(request.requester)
  ) {
    throw new ClientError(
      'POLICY_REQUESTER_NOT_ALLOWED',
      `${p.policyId} does not let ${request.requester} request ${request.release.class} releases; not approving`,
    );
  }
  const patterns = rule.artifacts;
  if (
    patterns !== undefined &&
    (request.release.class === 'standard' || request.release.class === 'hotfix')
  ) {
    const outside = request.release.artifacts.find(
      (a) => !patterns.some((pat) => artifactNameMatches(pat, a.name)),
    );
    if (outside !== undefined) {
      throw new ClientError(
        'POLICY_ARTIFACT_NOT_ALLOWED',
        `${outside.name} matches none of the names ${p.policyId} allows; not approving`,
      );
    }
  }
  if (
    request.release.class === 'hotfix' &&
    p.document.hotfix?.requireIncident === true &&
    request.release.incident === undefined
  ) {
    throw new ClientError(
      'POLICY_INCIDENT_REQUIRED',
      `${p.policyId} requires an incident id on hotfixes`,
    );
  }
}

/**
 * Before signing: the package's statement must name the policy this member verified, and list at
 * least its quorum of approvers.
 */
export function checkPackageAgainstPolicy(
  p: VerifiedPolicy,
  cls: Release['class'],
  threshold: number,
  pkg: { readonly policyId: string; readonly approvers: readonly string[] },
): void {
  if (pkg.policyId !== p.policyId) {
    throw unverified(
      `the statement to sign names policy ${pkg.policyId}, but the ceremony was approved under ${p.policyId}; refusing to sign`,
    );
  }
  const quorum = quorumOf(p.document, cls, threshold);
  if (pkg.approvers.length < quorum) {
    throw new ClientError(
      'POLICY_QUORUM_NOT_MET',
      `${p.policyId} needs ${quorum} approvals, the statement lists ${pkg.approvers.length}; refusing to sign`,
    );
  }
}

/** One line for a person: the policy and what it asks of this class. */
export function describePolicy(
  p: VerifiedPolicy,
  cls: Release['class'],
  threshold: number,
): string {
  const rule = classRuleOf(p.document, cls);
  const parts = [`${quorumOf(p.document, cls, threshold)} approvals`];
  for (const r of rule.requiredRoles ?? []) parts.push(`${r.count} \`${r.role}\``);
  const signed =
    p.ceremonyId === undefined ? 'default policy' : `signed by the group in ${p.ceremonyId}`;
  return `policy ${p.policyId} (${signed}): ${cls} needs ${parts.join(', ')}`;
}

/** What a signing ceremony still waits for under its policy (from `ceremony.status`), or null. */
export function policyWaiting(status: CeremonyStatus): string | null {
  const p = status.policy;
  if (p === undefined) return null;
  const parts: string[] = [];
  if (p.missingApprovals > 0) {
    parts.push(`${p.missingApprovals} more approval${p.missingApprovals === 1 ? '' : 's'}`);
  }
  for (const r of p.missingRoles) {
    parts.push(
      r.count === 1 ? `a \`${r.role}\` approver` : `${r.count} more \`${r.role}\` approvers`,
    );
  }
  return parts.length === 0 ? null : `waiting for ${parts.join(' and ')} (policy ${p.id})`;
}

/** The banner an agent prints for a new hotfix request: every eligible lead sees it at once. */
export function hotfixBanner(status: CeremonyStatus, now: number): string | null {
  const release = status.request?.body.release;
  if (status.kind !== 'sign' || release?.class !== 'hotfix') return null;
  const by = status.request?.sender ?? '?';
  const left =
    status.deadline === undefined
      ? ''
      : ` — approval window closes in ${Math.max(0, Math.round((status.deadline - now) / 60_000))} min`;
  const bar = '!'.repeat(72);
  return [
    bar,
    `!! HOTFIX ${status.ceremonyId} for ${status.group} ${release.version}${release.incident === undefined ? '' : ` (incident ${release.incident})`}, requested by ${by}${left}`,
    `!! review and approve now: conclave approve ${status.ceremonyId}`,
    bar,
  ].join('\n');
}

const CLASSES = ['standard', 'hotfix', 'policy', 'revocation'] as const;

const duration = (s: number | undefined): string | undefined => {
  if (s === undefined) return undefined;
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3_600 === 0) return `${s / 3_600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
};

/** A policy document as lines a person reads: per class, what it takes. */
export function describePolicyDocument(doc: PolicyDocument, threshold: number): string[] {
  const lines: string[] = [];
  for (const cls of CLASSES) {
    const own = doc.classes[cls];
    const r = classRuleOf(doc, cls);
    const parts = [`quorum ${quorumOf(doc, cls, threshold)}`];
    for (const rr of r.requiredRoles ?? []) parts.push(`${rr.count} \`${rr.role}\``);
    const who = [
      ...(r.requesters?.members ?? []),
      ...(r.requesters?.roles ?? []).map((x) => `role ${x}`),
    ];
    parts.push(
      `requesters: ${r.requesters === undefined ? 'any member' : who.join(', ') || 'nobody'}`,
    );
    if (r.artifacts !== undefined && (cls === 'standard' || cls === 'hotfix')) {
      parts.push(`artifacts: ${r.artifacts.join(' ')}`);
    }
    const approval = duration(r.approvalTimeoutSeconds);
    if (approval !== undefined) parts.push(`approval window ${approval}`);
    const session = duration(r.sessionTimeoutSeconds);
    if (session !== undefined) parts.push(`session ${session}`);
    const validity = duration(r.maxValiditySeconds);
    if (validity !== undefined) parts.push(`statements valid ≤ ${validity}`);
    lines.push(
      `  ${cls.padEnd(10)} ${parts.join('; ')}${own === undefined && cls !== 'standard' ? ' (as standard)' : ''}`,
    );
  }
  const window = duration(doc.hotfix?.ratificationWindowSeconds ?? 72 * 3600);
  lines.push(
    `  hotfixes: ratify within ${window ?? '72h'}${doc.hotfix?.requireIncident === true ? '; incident id required' : ''}`,
  );
  return lines;
}

/**
 * What a governance request asks the approver to sign, in lines: the proposed policy, the release
 * revoked, the hotfix's incident and ratification duty. Empty for a standard release.
 */
export function describeGovernance(release: Release, threshold: number): string[] {
  switch (release.class) {
    case 'policy':
      return release.policy === undefined
        ? []
        : [
            `PROPOSED POLICY ${release.policy.group}@v${release.policy.version} — approving adopts it:`,
            ...describePolicyDocument(release.policy, threshold),
          ];
    case 'revocation':
      return release.revokes === undefined
        ? []
        : [
            `REVOCATION of ${release.revokes.ceremonyId} (${release.revokes.version}): ${release.revokes.reason}`,
            ...release.revokes.artifacts.map((a) => `  revokes ${a.name} sha256 ${a.sha256}`),
          ];
    case 'hotfix':
      return [
        `HOTFIX${release.incident === undefined ? '' : ` for incident ${release.incident}`}: an expedited release; a standard ceremony must ratify it within the policy window`,
      ];
    case 'standard':
      return release.ratifies === undefined ? [] : [`ratifies hotfix ${release.ratifies}`];
  }
}
