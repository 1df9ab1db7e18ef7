/** The member and admin commands: thin wrappers over @conclave/client. */
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  CONFIG_FILENAME,
  Connection,
  Home,
  MemberSession,
  adminRegistryAt,
  cacheLocalArtifacts,
  checkLocalArtifacts,
  uncheckedArtifacts,
  defaultHomeDir,
  describeReview,
  fetchCoordinatorInfo,
  fetchLogKey,
  isClientError,
  isTerminal,
  normalizeCoordinatorUrl,
  parseAdminKeyText,
  parseAutoApprove,
  policyWaiting,
  recordAdminMemberAt,
  recoverStatement,
  SIGN_ROUNDS,
  startAgent,
  type CeremonyEnd,
} from '@conclave/client';
import { ed25519Spki } from '@conclave/frost';
import {
  CeremonyIdSchema,
  GroupNameSchema,
  MemberIdSchema,
  ReleaseSchema,
  SIGNATURE_FORMATS,
  bytesToHex,
  fingerprint,
  hexToBytes,
  identityFromSecret,
  newCeremonyId,
  type CeremonyStatus,
  type GitTag,
  type IdentityKey,
  type Release,
  type ReleaseClass,
  type SealedBody,
} from '@conclave/protocol';
import {
  KEY_FILES,
  VERIFY_NOTE,
  assemble,
  buildStatement,
  digestFile,
  formatContext,
  isFormatError,
  messageToSign,
  needsArtifactBytes,
  statementBytes,
  type ManifestRef,
  type OutputFile,
  type ReleaseStatement,
  type StatementContext,
} from '@conclave/release';
import { buildBatch, checkManifestFile, proofFiles } from './batch.js';
import { checkDistinctOutputs, checkOutput, readSecretFile, writeOutput } from './files.js';
import { releaseExtras } from './commands/release.js';
import { witnessEngine } from './commands/audit.js';
import { CliError } from './errors.js';
import { confirm, getPassphrase, untilSignal, type Ctx, type GlobalOptions } from './output.js';

/** A group's threshold: at least 2 (one key holder alone never signs) and at most its size. */
export function checkThreshold(threshold: number, members: number): void {
  if (members < 2) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `--members names ${members} member${members === 1 ? '' : 's'}; a group needs at least 2 (comma-separated)`,
      2,
    );
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > members) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `--threshold must be between 2 and the number of members (${members})`,
    );
  }
}

export function homeDir(o: GlobalOptions): string {
  return o.home !== undefined ? resolve(o.home) : defaultHomeDir();
}

/**
 * One line of live progress, in the policy's terms when the ceremony has one:
 * "2 of 3 approvals: alice, carol — waiting for 1 more approval and a `security` approver (policy
 * release@v2)", "3 of 3 approvals: … — signing (session 1)", "… — cancelled: POLICY_SUPERSEDED …".
 * The count is against the policy's quorum (never below the key's threshold).
 */
export function progressLine(s: CeremonyStatus): string {
  if (s.kind === 'key') return keyProgressLine(s);
  const n = s.approvals.length;
  const p = s.policy;
  const quorum = Math.max(s.threshold, p?.quorum ?? 0);
  const who = n === 0 ? 'none yet' : s.approvals.join(', ');
  let line = `${n} of ${quorum} approvals: ${who}`;
  const waiting = p === undefined ? null : policyWaiting(s);
  if (isTerminal(s.state)) {
    line += ` — ${s.state.split('.').pop() ?? s.state}`;
    const sup = p?.superseded;
    if (sup !== undefined) {
      line += `: ${sup.code} — policy ${sup.by} (set by ${sup.ceremonyId}) replaced ${p?.id ?? 'the policy'} while the request was open; request again`;
    }
  } else if (waiting !== null) line += ` — ${waiting}`;
  else if (n < quorum) line += ` — waiting for ${quorum - n} more`;
  else line += ` — signing${s.session > 0 ? ` (session ${s.session})` : ''}`;
  if (s.culprits.length > 0) line += `; excluded: ${s.culprits.join(', ')}`;
  for (const d of s.declines ?? []) line += `; ${d.member} declined to sign (${d.reason})`;
  if (s.rejections.length > 0)
    line += `; rejected by: ${s.rejections.map((r) => r.member).join(', ')}`;
  return line;
}

const KEY_STEPS: Record<string, string> = {
  waitingForRound1: 'round 1 (commitments)',
  waitingForRound2: 'round 2 (encrypted shares)',
  waitingForConfirmations: 'confirming the group key',
};

/**
 * A key ceremony has no approvals: every member takes part, and the coordinator's `approvals` are
 * the members done with the current step. Says the step, who is done and whom it waits for (a
 * member whose `conclave keygen` or `agent` is not running).
 */
function keyProgressLine(s: CeremonyStatus): string {
  const done = s.approvals;
  let line: string;
  if (isTerminal(s.state)) line = `key ceremony ${s.state}`;
  else {
    const step = KEY_STEPS[s.state] ?? s.state;
    const missing = s.members.filter((m) => !done.includes(m));
    line =
      `${step}: ${done.length} of ${s.members.length} members done` +
      (done.length === 0 ? '' : ` (${done.join(', ')})`) +
      (missing.length === 0
        ? ''
        : ` — waiting for ${missing.join(', ')} (\`conclave keygen ${s.group}\` or \`conclave agent\`)`);
  }
  if (s.culprits.length > 0) line += `; blamed: ${s.culprits.join(', ')}`;
  return line;
}

// ---------------------------------------------------------------- init

export async function cmdInit(
  o: GlobalOptions & { name: string; kdfCost?: number },
  ctx: Ctx,
): Promise<void> {
  const dir = homeDir(o);
  // Everything that can be wrong is checked before the passphrase is asked and before anything is
  // written: a home left half-made by a bad name or an unreachable coordinator would make the
  // retry fail with HOME_EXISTS.
  checkName('member', o.name);
  const existing = await readFile(join(dir, CONFIG_FILENAME), 'utf8').catch(() => undefined);
  if (existing !== undefined) {
    throw new CliError(
      'HOME_EXISTS',
      `${resolve(dir)} already holds a member home; use another --home or remove it`,
    );
  }
  let pin: CoordinatorPin | undefined;
  if (o.coordinator !== undefined) {
    const base = normalizeCoordinatorUrl(o.coordinator);
    ctx.progress(`contacting the coordinator at ${base}`);
    const info = await fetchCoordinatorInfo(base);
    // The log key too (docs/audit.md): a coordinator without a log is pinned on first witness.
    const logKey = await fetchLogKey(base).then(
      (k) => k.verifierKey,
      () => undefined,
    );
    pin = {
      url: base,
      origin: info.origin,
      coordinatorKey: info.coordinatorKey,
      adminKey: info.adminKey,
      ...(logKey === undefined ? {} : { logKey }),
    };
  }
  const passphrase = await getPassphrase('New passphrase for your identity key: ', true);
  ctx.progress(`creating identity key in ${dir} (stretching the passphrase takes a moment)`);
  const home = await Home.init(dir, o.name, passphrase, {}, o.kdfCost);
  const pub = bytesToHex(home.identityPublicKey);
  const doc: Record<string, unknown> = {
    name: home.name,
    home: home.dir,
    identityKey: pub,
    fingerprint: fingerprint(home.identityPublicKey),
    kdf: { name: 'scrypt', ...home.kdfParams },
  };
  let human =
    `Member ${home.name} created in ${home.dir}\n` +
    `  identity key: ${pub}\n  fingerprint:  ${fingerprint(home.identityPublicKey)}\n` +
    `Give the key to your admin: conclave member add ${home.name} --key ${pub} --admin-key FILE`;
  if (pin !== undefined) {
    await home.pinCoordinator(pin);
    const c = {
      url: pin.url,
      coordinatorKey: pin.coordinatorKey,
      coordinatorFingerprint: fingerprint(hexToBytes(pin.coordinatorKey)),
      adminKey: pin.adminKey,
      adminFingerprint: fingerprint(hexToBytes(pin.adminKey)),
      logKey: pin.logKey ?? null,
    };
    doc['coordinator'] = c;
    human +=
      `\nPinned coordinator ${pin.url} (compare these with your admin):\n` +
      `  coordinator key ${c.coordinatorFingerprint}\n  admin key       ${c.adminFingerprint}` +
      (pin.logKey === undefined ? '' : `\n  log key         ${pin.logKey}`);
  }
  ctx.result(doc, human);
}

/**
 * The release as the coordinator will check it (protocol ReleaseSchema), checked here first: a
 * mistyped --formats or --version is then an INVALID_ARGUMENT naming the option and the accepted
 * values, before any artifact is uploaded.
 */
export function checkRelease(release: Release): void {
  const r = ReleaseSchema.safeParse(release);
  if (r.success) return;
  const issue = r.error.issues[0]!;
  const [field, index] = issue.path;
  if (field === 'formats' && typeof index === 'number') {
    const bad = release.formats[index];
    throw new CliError(
      'INVALID_ARGUMENT',
      `--formats: ${JSON.stringify(bad)} is not a signature format (or is listed twice); choose from ${SIGNATURE_FORMATS.join(', ')}`,
      2,
    );
  }
  const option: Record<string, string> = {
    version: '--version',
    formats: '--formats',
    note: '--note',
    incident: '--incident',
    artifacts: '--artifact',
  };
  const name = typeof field === 'string' ? (option[field] ?? field) : 'release';
  throw new CliError('INVALID_ARGUMENT', `${name}: ${issue.message}`, 2);
}

/** A ceremony id argument (8-64 of [A-Za-z0-9_-]), checked before anything is sent. */
export function checkCeremonyId(id: string): void {
  if (!CeremonyIdSchema.safeParse(id).success) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(id)} is not a ceremony id (8-64 of [A-Za-z0-9_-], as \`conclave inbox\` lists them)`,
      2,
    );
  }
}

type CoordinatorPin = Parameters<Home['pinCoordinator']>[0];

/**
 * A member or group name as the protocol takes it (1-32 of [a-z0-9_-]), checked before anything
 * is sent, so a typo is an INVALID_ARGUMENT naming the rule rather than a schema error from the
 * coordinator's envelope check.
 */
export function checkName(what: 'member' | 'group' | 'role', name: string): void {
  const ok = (what === 'member' ? MemberIdSchema : GroupNameSchema).safeParse(name).success;
  if (!ok) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `${what} name ${JSON.stringify(name)}: expected 1-32 characters of [a-z0-9_-]` +
        (what === 'member' ? ' (not "admin" or "coordinator")' : ''),
      2,
    );
  }
}

// ---------------------------------------------------------------- admin

/** The plaintext admin secret key: refused while others may read it (files.ts readSecretFile). */
async function readAdminKey(file: string): Promise<IdentityKey> {
  let text: string;
  try {
    text = await readSecretFile(file, 'the admin key file');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('INVALID_ARGUMENT', `cannot read the admin key file ${file}`);
  }
  const secret = parseAdminKeyText(text);
  try {
    return identityFromSecret(secret);
  } finally {
    secret.fill(0);
  }
}

/** An authenticated admin connection (sender `admin`). */
export async function adminConnection(
  o: GlobalOptions & { adminKey: string },
  ctx: Ctx,
): Promise<{ conn: Connection; key: IdentityKey }> {
  const key = await readAdminKey(o.adminKey);
  let url = o.coordinator;
  let pinnedCoordinatorKey: string | undefined;
  const home = await Home.open(homeDir(o)).catch(() => undefined);
  if (url === undefined) url = home?.config.coordinator?.url;
  if (url === undefined) {
    throw new CliError('NO_COORDINATOR', 'no coordinator given; pass --coordinator URL');
  }
  const base = normalizeCoordinatorUrl(url);
  const info = await fetchCoordinatorInfo(base);
  if (info.adminKey !== bytesToHex(key.publicKey)) {
    throw new CliError(
      'FORBIDDEN',
      `${o.adminKey} is not the admin key of the coordinator at ${base} (it expects ${fingerprint(hexToBytes(info.adminKey))})`,
    );
  }
  const pin = home?.config.coordinator;
  if (pin !== undefined && normalizeCoordinatorUrl(pin.url) === base) {
    pinnedCoordinatorKey = pin.coordinatorKey;
    if (pin.coordinatorKey !== info.coordinatorKey) {
      throw new CliError(
        'COORDINATOR_KEY_CHANGED',
        'the coordinator key differs from the pinned one',
      );
    }
  }
  const conn = new Connection({
    url: base,
    member: 'admin',
    key,
    coordinatorKey: hexToBytes(pinnedCoordinatorKey ?? info.coordinatorKey),
    log: (l) => ctx.progress(l),
  });
  await conn.connect();
  return { conn, key };
}

async function adminSend(
  o: GlobalOptions & { adminKey: string },
  ctx: Ctx,
  body: SealedBody,
): Promise<string> {
  const { conn, key } = await adminConnection(o, ctx);
  const ceremonyId = newCeremonyId();
  try {
    await conn.send(ceremonyId, '0', body);
  } finally {
    await conn.close();
    key.secretKey.fill(0);
  }
  return ceremonyId;
}

export async function cmdMemberAdd(
  name: string,
  o: GlobalOptions & { key: string; roles?: string; adminKey: string },
  ctx: Ctx,
): Promise<void> {
  checkName('member', name);
  const key = o.key.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(key)) {
    throw new CliError(
      'INVALID_ARGUMENT',
      '--key: expected the member identity key as 64 hex characters',
    );
  }
  const roles = (o.roles ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  for (const role of roles) checkName('role', role);
  const ceremonyId = await adminSend(o, ctx, {
    type: 'admin.member.add',
    member: name,
    identityKey: key,
    roles,
  });
  await recordAdminMemberAt(homeDir(o), name, key);
  ctx.result(
    { member: name, identityKey: key, roles, operationId: ceremonyId },
    `Registered ${name} (${fingerprint(hexToBytes(key))})${roles.length > 0 ? ` with roles ${roles.join(', ')}` : ''}`,
  );
}

export async function cmdGroupCreate(
  name: string,
  o: GlobalOptions & {
    threshold: number;
    members: string;
    adminKey: string;
  },
  ctx: Ctx,
): Promise<void> {
  const registry = await adminRegistryAt(homeDir(o));
  const members = o.members
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '')
    .map((entry) => {
      const [member = '', given] = entry.split('=');
      const identityKey = given ?? registry[member];
      if (identityKey === undefined) {
        throw new CliError(
          'UNKNOWN_MEMBER',
          `no identity key known for ${member}; register it with \`conclave member add ${member} --key PUB\` from this --home, or write ${member}=PUB`,
        );
      }
      return { member, identityKey };
    });
  checkThreshold(o.threshold, members.length);
  const ceremonyId = await adminSend(o, ctx, {
    type: 'admin.group.create',
    group: name,
    threshold: o.threshold,
    members,
  });
  ctx.result(
    { group: name, threshold: o.threshold, members: members.map((m) => m.member), ceremonyId },
    `Group ${name} (${o.threshold}-of-${members.length}) created; key ceremony ${ceremonyId} is open.\n` +
      `Each member now runs: conclave keygen ${name}   (or keeps \`conclave agent\` running)`,
  );
}

// ---------------------------------------------------------------- member sessions

export async function openSession(
  o: GlobalOptions,
  ctx: Ctx,
  extra: {
    signing?: boolean;
    reconnect?: boolean;
    beforeConnect?: (s: MemberSession) => void;
  } = {},
): Promise<MemberSession> {
  const home = await Home.open(homeDir(o));
  // Before the passphrase: a missing or malformed coordinator URL is the user's to fix first.
  if (o.coordinator === undefined && home.config.coordinator === undefined) {
    throw new CliError(
      'NO_COORDINATOR',
      `the home ${home.dir} has no coordinator pinned yet; pass --coordinator URL once (its keys are then pinned: compare the fingerprints printed with your admin's)`,
    );
  }
  if (o.coordinator !== undefined) normalizeCoordinatorUrl(o.coordinator);
  const passphrase = await getPassphrase(`Passphrase for ${home.name}: `);
  return MemberSession.open({
    home,
    passphrase,
    witness: witnessEngine, // witness the log on connect; refuse approvals after a fork
    ...(o.coordinator === undefined ? {} : { coordinatorUrl: o.coordinator }),
    ...(extra.signing === undefined ? {} : { signing: extra.signing }),
    ...(extra.reconnect === undefined ? {} : { reconnect: extra.reconnect }),
    ...(extra.beforeConnect === undefined ? {} : { beforeConnect: extra.beforeConnect }),
    log: (l) => ctx.progress(l),
  });
}

/** `then`: what became of it and what to do, e.g. that a ceremony stays open and how to follow it. */
export function withTimeout<T>(
  p: Promise<T>,
  seconds: number,
  what: string,
  then?: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(
      () =>
        reject(
          new CliError(
            'TIMEOUT',
            `${what} did not finish within ${seconds} s${then === undefined ? '' : `; ${then}`}`,
          ),
        ),
      seconds * 1000,
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

async function waitForCeremony(
  session: MemberSession,
  ceremonyId: string,
  ctx: Ctx,
  timeoutS: number,
): Promise<{ end: CeremonyEnd | undefined; status: CeremonyStatus | undefined }> {
  let last = '';
  let lastStatus: CeremonyStatus | undefined;
  const show = (s: CeremonyStatus) => {
    if (s.ceremonyId !== ceremonyId) return;
    lastStatus = s;
    const line = progressLine(s);
    if (line !== last) {
      last = line;
      ctx.progress(line);
    }
  };
  const off = session.onStatus(show);
  const ended = session.waitForEnd(ceremonyId);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const poll = async (): Promise<CeremonyEnd> => {
    while (!stopped) {
      let s: CeremonyStatus;
      try {
        s = await session.connection.status(ceremonyId);
      } catch (err) {
        // Connection lost: the session reconnects with backoff; keep waiting. Refusals end it.
        if (!isClientError(err, 'CONNECTION_CLOSED') && !isClientError(err, 'TIMEOUT')) throw err;
        await new Promise((r) => (timer = setTimeout(r, 1000)));
        continue;
      }
      show(s);
      if (isTerminal(s.state)) {
        // Give a sign.complete in flight a moment to arrive (it carries the signature).
        const complete = await Promise.race([
          ended,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000)),
        ]);
        return complete ?? { state: s.state, status: s };
      }
      await new Promise((r) => (timer = setTimeout(r, 1000)));
    }
    return new Promise<CeremonyEnd>(() => undefined); // stopped: the race is already decided
  };
  try {
    const end = await withTimeout(
      Promise.race([ended, poll()]),
      timeoutS,
      `ceremony ${ceremonyId}`,
      // Not "try again": a second request would be a second ceremony.
      `it stays open: follow it with \`conclave status ${ceremonyId}\`, or wait longer with --timeout`,
    );
    if (lastStatus === undefined || !isTerminal(lastStatus.state)) {
      lastStatus = await session.connection.status(ceremonyId).catch(() => lastStatus);
      if (lastStatus !== undefined) show(lastStatus);
    }
    return { end, status: lastStatus };
  } finally {
    stopped = true;
    off();
    if (timer !== undefined) clearTimeout(timer);
  }
}

function endSummary(
  ceremonyId: string,
  r: { end: CeremonyEnd | undefined; status: CeremonyStatus | undefined },
): Record<string, unknown> {
  const doc: Record<string, unknown> = { ceremonyId };
  const state = r.status?.state ?? r.end?.state ?? 'unknown';
  doc['state'] = state.split('.').pop();
  if (r.status !== undefined) {
    doc['approvals'] = r.status.approvals;
    doc['culprits'] = r.status.culprits;
    if (r.status.declines !== undefined) doc['declines'] = r.status.declines;
    doc['sessions'] = r.status.session;
  }
  if (r.end !== undefined && 'complete' in r.end) {
    doc['state'] = 'completed';
    doc['groupPublicKey'] = r.end.complete.groupPublicKey;
    doc['signature'] = r.end.complete.signature;
    doc['signers'] = r.end.complete.signers;
    doc['approvers'] = r.end.complete.approvers;
    doc['statementDigest'] = r.end.complete.statementDigest;
  }
  if (r.end !== undefined && 'code' in r.end) {
    doc['reason'] = r.end.code;
    doc['message'] = r.end.message;
    doc['culprits'] = r.end.culprits;
  }
  return doc;
}

function requireCompleted(doc: Record<string, unknown>): void {
  if (doc['state'] !== 'completed') {
    // The coordinator's code when it gave one (POLICY_ROLE_MISSING, …: the policy says what to fix).
    const policy = typeof doc['reason'] === 'string' && doc['reason'].startsWith('POLICY_');
    throw new CliError(
      policy ? String(doc['reason']) : 'CEREMONY_FAILED',
      `ceremony ${String(doc['ceremonyId'])} ended ${String(doc['state'])}` +
        (policy ? `: ${String(doc['message'])}` : '') +
        (Array.isArray(doc['culprits']) && doc['culprits'].length > 0
          ? ` (culprits: ${doc['culprits'].join(', ')})`
          : '') +
        (Array.isArray(doc['declines']) && doc['declines'].length > 0
          ? `; declined by ${(doc['declines'] as { member: string; reason: string }[]).map((d) => `${d.member} (${d.reason})`).join(', ')}`
          : ''),
    );
  }
}

/** A release artifact's digests, of bytes the CLI made itself (a batch manifest). */
function textArtifact(
  name: string,
  text: string,
): { name: string; sha256: string; sha512: string; blake2b512: string } {
  const hex = (alg: string) => createHash(alg).update(text, 'utf8').digest('hex');
  return { name, sha256: hex('sha256'), sha512: hex('sha512'), blake2b512: hex('blake2b512') };
}

/** An SBOM or provenance document the statement binds by name and SHA-256. */
async function boundDocument(
  path: string,
  what: string,
): Promise<{ name: string; sha256: string }> {
  const d = await digestFile(path).catch(() => {
    throw new CliError('INVALID_ARGUMENT', `cannot read the ${what} ${path}`);
  });
  return { name: d.name, sha256: d.sha256 };
}

export async function cmdRequest(
  o: GlobalOptions & {
    group: string;
    artifact: string[];
    version: string;
    class: 'standard' | 'hotfix';
    note?: string;
    formats: string;
    wait: boolean;
    timeout: number;
    batch?: string;
    manifestOut?: string;
    /** An annotated git tag to sign as well (`conclave tag`). */
    git?: GitTag;
    sbom?: string;
    provenance?: string;
  },
  ctx: Ctx,
): Promise<void> {
  const artifactPaths = [...o.artifact];
  let manifest: ManifestRef | undefined;
  let batch: { path: string; text: string; size: number; root: string } | undefined;
  if (o.batch !== undefined) {
    // One ceremony for many artifacts: the quorum signs the manifest file (every format) and its
    // Merkle root (inside the statement); each artifact later gets an inclusion proof.
    const built = await buildBatch(o.batch, ctx);
    const path = resolve(o.manifestOut ?? `conclave-${o.version}.manifest.jsonl`);
    manifest = built.manifest.ref();
    batch = { path, text: built.text, size: built.manifest.size, root: built.manifest.rootHex };
  }
  if (artifactPaths.length === 0 && batch === undefined) {
    throw new CliError('INVALID_ARGUMENT', 'name at least one --artifact FILE or a --batch DIR');
  }
  const artifacts = [];
  for (const path of artifactPaths) {
    const d = await digestFile(path).catch(() => {
      throw new CliError('INVALID_ARGUMENT', `cannot read artifact ${path}`);
    });
    artifacts.push({ name: d.name, sha256: d.sha256, sha512: d.sha512, blake2b512: d.blake2b512 });
  }
  // The manifest is the last artifact, digested from memory: it is written only once the request
  // is checked (below).
  if (batch !== undefined) artifacts.push(textArtifact(basename(batch.path), batch.text));
  const release = {
    version: o.version,
    class: o.class,
    note: o.note ?? '',
    // --incident, --ratifies, --valid-for (commands/release.ts; signed, docs/policy.md)
    ...releaseExtras(o),
    artifacts,
    formats: o.formats
      .split(',')
      .map((f) => f.trim())
      .filter((f) => f !== ''),
    ...(manifest === undefined ? {} : { manifest }),
    ...(o.git === undefined ? {} : { git: o.git }),
    ...(o.sbom === undefined ? {} : { sbom: await boundDocument(o.sbom, 'SBOM') }),
    ...(o.provenance === undefined
      ? {}
      : { provenance: await boundDocument(o.provenance, 'provenance') }),
  } as Release;
  checkRelease(release);
  if (batch !== undefined) {
    // After the checks (apps/cli/README.md: nothing is written before them); replaced if there,
    // as before, but atomically and never through a symlink.
    await writeOutput(batch.path, batch.text, { overwrite: true });
    artifactPaths.push(batch.path);
    ctx.progress(
      `batch manifest ${batch.path}: ${batch.size} artifacts, Merkle root ${batch.root}`,
    );
  }
  const session = await openSession(o, ctx, { reconnect: o.wait });
  const ceremonyId = newCeremonyId();
  try {
    if (needsArtifactBytes(release)) {
      // raw / OpenPGP sign the bytes themselves: the coordinator and the signers need them.
      for (const [i, path] of artifactPaths.entries()) {
        const a = release.artifacts[i]!;
        const r = await session.connection.uploadArtifact(path, a.sha256);
        ctx.progress(
          `uploaded ${a.name} for the content formats${r.stored ? '' : ' (already there)'}`,
        );
      }
      await cacheLocalArtifacts(session.home, release, artifactPaths);
    }
    await session.connection.send(ceremonyId, '0', {
      type: 'sign.request',
      group: o.group,
      release,
    });
    await session.home.saveRecord(ceremonyId, {
      ceremonyId,
      group: o.group,
      requester: session.member,
      release,
    });
    ctx.progress(
      `requested ${ceremonyId}: ${o.version} of ${artifacts.map((a) => a.name).join(', ')}`,
    );
    ctx.progress(`approvers run: conclave approve ${ceremonyId}`);
    if (!o.wait) {
      ctx.result(
        { ceremonyId, group: o.group, release, state: 'requested' },
        `Requested ${ceremonyId}\nApprovers run: conclave approve ${ceremonyId}`,
      );
      return;
    }
    const r = await waitForCeremony(session, ceremonyId, ctx, o.timeout);
    const doc = endSummary(ceremonyId, r);
    requireCompleted(doc);
    ctx.result(
      { ...doc, group: o.group, release },
      `Signed: ${ceremonyId} (${o.version})\n  signers: ${String((doc['signers'] as string[] | undefined)?.join(', ') ?? '')}\n` +
        `  fetch the files: conclave fetch ${ceremonyId} --out DIR`,
    );
  } finally {
    await session.close();
  }
}

export async function cmdInbox(o: GlobalOptions, ctx: Ctx): Promise<void> {
  const session = await openSession(o, ctx);
  try {
    const items = await session.connection.inbox();
    const human =
      items.length === 0
        ? 'Nothing waiting.'
        : items
            .map(
              (i) =>
                `${i.ceremonyId}  ${i.kind}  ${i.group}  ${i.state}` +
                (i.version !== undefined ? `  ${i.version}` : '') +
                (i.requester !== undefined ? `  from ${i.requester}` : ''),
            )
            .join('\n');
    ctx.result({ items }, human);
  } finally {
    await session.close();
  }
}

export async function cmdStatus(id: string, o: GlobalOptions, ctx: Ctx): Promise<void> {
  const session = await openSession(o, ctx);
  try {
    const status = await session.connection.status(id);
    ctx.result(
      { status },
      `${status.ceremonyId} (${status.kind}, group ${status.group}): ${status.state}\n  ${progressLine(status)}`,
    );
  } finally {
    await session.close();
  }
}

/**
 * A ceremony that has ended, or a key ceremony, has nothing to approve or reject: say so before
 * the review, instead of a refusal from the coordinator after it.
 */
async function refuseUnlessOpen(
  session: MemberSession,
  id: string,
  verb: 'approve' | 'reject',
): Promise<void> {
  const status = await session.connection.status(id);
  if (status.kind === 'key') {
    throw new CliError(
      'INVALID_ARGUMENT',
      `${id} is a key ceremony, which has no approvals; take part with \`conclave keygen ${status.group}\``,
      2,
    );
  }
  if (isTerminal(status.state)) {
    const state = status.state.split('.').pop() ?? status.state;
    throw new CliError(
      'CEREMONY_CLOSED',
      `${id} is already ${state}; there is nothing to ${verb}` +
        (state === 'completed'
          ? ` (\`conclave fetch ${id} --out DIR\` writes its signatures)`
          : ` (\`conclave status ${id}\` says why)`),
    );
  }
}

export async function cmdApprove(
  id: string,
  o: GlobalOptions & { artifact?: string[]; yes?: boolean; timeout: number },
  ctx: Ctx,
): Promise<void> {
  // With a `conclave agent` running for this home, the agent holds the nonce ledger: review and
  // confirm here, then hand the approval to the agent (which re-checks the request digest).
  let handOver = false;
  const session = await openSession(o, ctx, { signing: true, reconnect: true }).catch(
    async (e: unknown) => {
      if (!isClientError(e, 'NONCE_LEDGER_LOCKED')) throw e;
      handOver = true;
      return openSession(o, ctx, { reconnect: true });
    },
  );
  try {
    await refuseUnlessOpen(session, id, 'approve');
    const { review } = await session.review(id);
    ctx.progress(describeReview(review));
    // The policy it runs under, verified (POLICY_UNVERIFIED before any y/N), and what a
    // governance request adopts or revokes (packages/client/src/policy.ts).
    for (const line of await session.explainPolicy(review)) ctx.progress(line);
    if (o.artifact !== undefined && o.artifact.length > 0) {
      await checkLocalArtifacts(review.release, o.artifact);
      const ref = review.release.manifest;
      if (ref !== undefined) {
        for (const path of o.artifact) {
          if (!basename(path).endsWith('.manifest.jsonl')) continue;
          checkManifestFile(await readFile(path, 'utf8'), ref, basename(path));
          ctx.progress(`batch manifest ${basename(path)}: root and size match the request`);
        }
      }
      ctx.progress(`local artifacts match: ${o.artifact.join(', ')}`);
      await cacheLocalArtifacts(session.home, review.release, o.artifact);
    }
    const unchecked = uncheckedArtifacts(review.release, o.artifact ?? []);
    if (unchecked.length > 0) {
      ctx.progress(
        `not checked against a local file: ${unchecked.join(', ')} (give each with --artifact FILE to check it)`,
      );
    }
    if (
      o.yes !== true &&
      !(await confirm(`Approve ${review.release.version} for ${review.group}?`))
    ) {
      throw new CliError('NOT_APPROVED', 'not approved; nothing was sent');
    }
    if (handOver) {
      await session.home.writeApprovalIntent(id, review.requestDigest);
      ctx.progress(
        "approval handed to this home's running agent, which signs when the quorum is reached",
      );
    } else {
      await session.approve(review);
      ctx.progress('approved; staying online to sign when the quorum is reached (Ctrl-C to leave)');
    }
    const r = await waitForCeremony(session, id, ctx, o.timeout);
    const doc = endSummary(id, r);
    requireCompleted(doc);
    ctx.result(
      { ...doc, handedToAgent: handOver },
      `Signed: ${id}\n  signers: ${String((doc['signers'] as string[] | undefined)?.join(', ') ?? '')}`,
    );
  } finally {
    await session.close();
  }
}

export async function cmdReject(
  id: string,
  o: GlobalOptions & { reason: string },
  ctx: Ctx,
): Promise<void> {
  const session = await openSession(o, ctx);
  try {
    await refuseUnlessOpen(session, id, 'reject');
    const { review } = await session.review(id);
    await session.reject(review, o.reason);
    ctx.result({ ceremonyId: id, rejected: true }, `Rejected ${id}`);
  } finally {
    await session.close();
  }
}

/**
 * Withdraws an open ceremony (`ceremony.cancel`): a signing ceremony by its requester (this home)
 * or by the admin (`--admin-key`), a key ceremony by the admin only. The coordinator decides who
 * may (FORBIDDEN) and refuses a closed ceremony; every member then sees it end as cancelled
 * (`sign.aborted` / `dkg.abort`), and nonces committed for it are destroyed by their agents.
 */
export async function cmdCancel(
  id: string,
  o: GlobalOptions & { reason: string; adminKey?: string },
  ctx: Ctx,
): Promise<void> {
  checkCeremonyId(id);
  const body = { type: 'ceremony.cancel', reason: o.reason } as const;
  const done = (status: CeremonyStatus) =>
    ctx.result({ ceremonyId: id, cancelled: true, status }, `Cancelled ${id}: ${status.state}`);
  // The coordinator refuses a ceremony that has ended as an UNEXPECTED_MESSAGE: say it plainly
  // (same code: scripts and test/e2e/ceremony.test.ts check it).
  const ended = (e: unknown): never => {
    if (isClientError(e, 'UNEXPECTED_MESSAGE') && /closed/.test(e.message)) {
      throw new CliError(
        'UNEXPECTED_MESSAGE',
        `${id} has already ended; there is nothing to cancel (\`conclave status ${id}\` says how it ended)`,
      );
    }
    throw e;
  };
  if (o.adminKey !== undefined) {
    const { conn, key } = await adminConnection({ ...o, adminKey: o.adminKey }, ctx);
    try {
      await conn.send(id, SIGN_ROUNDS.cancel, body).catch(ended);
      done(await conn.status(id));
    } finally {
      await conn.close();
      key.secretKey.fill(0);
    }
    return;
  }
  const session = await openSession(o, ctx);
  try {
    await session.connection.send(id, SIGN_ROUNDS.cancel, body).catch((e: unknown) => {
      if (isClientError(e) && e.code === 'FORBIDDEN') {
        throw new CliError(
          'FORBIDDEN',
          `only the requester of ${id} or the admin (--admin-key) can cancel it`,
        );
      }
      return ended(e);
    });
    done(await session.connection.status(id));
  } finally {
    await session.close();
  }
}

export async function cmdAgent(
  o: GlobalOptions & { autoApprove?: boolean | string },
  ctx: Ctx,
): Promise<void> {
  let autoApprove: readonly ReleaseClass[];
  try {
    autoApprove = parseAutoApprove(o.autoApprove);
  } catch (e) {
    throw new CliError('INVALID_ARGUMENT', e instanceof Error ? e.message : String(e));
  }
  const home = await Home.open(homeDir(o));
  const passphrase = await getPassphrase(`Passphrase for ${home.name}: `);
  const completed: string[] = [];
  const session = await startAgent({
    home,
    passphrase,
    witness: witnessEngine, // witness the log on connect, ceremony ends and every 5 minutes
    autoApprove,
    ...(o.coordinator === undefined ? {} : { coordinatorUrl: o.coordinator }),
    log: (l) => ctx.progress(`[${home.name}] ${l}`),
    beforeConnect: (s) =>
      s.onKeyCeremony((p) => {
        p.result.then(
          (r) => {
            completed.push(r.ceremonyId);
            ctx.progress(
              `[${home.name}] share of ${r.group} saved (group key ${r.groupPublicKey})`,
            );
          },
          (e: unknown) =>
            ctx.progress(
              `[${home.name}] key ceremony failed: ${e instanceof Error ? e.message : String(e)}`,
            ),
        );
      }),
  });
  ctx.progress(
    `[${home.name}] agent ready: connected to ${session.coordinator.url}${autoApprove.length > 0 ? ` (auto-approve: ${autoApprove.join(', ')})` : ''}; Ctrl-C to stop`,
  );
  const sig = await untilSignal();
  await session.close();
  ctx.result(
    { member: home.name, stoppedBy: sig, keyCeremonies: completed },
    `agent stopped (${sig})`,
  );
}

interface FetchedOutcome {
  state: string;
  signature?: string;
  signatures?: { job: string; signature: string }[];
  keyCreatedAt?: number;
  groupPublicKey?: string;
  signers?: string[];
  approvers?: string[];
}

/**
 * Asks the coordinator for a closed ceremony (it re-sends the sign.complete) and rebuilds the
 * signed statement from the verified request; records the release, the statement context and the
 * outcome in this home.
 */
async function fetchFromCoordinator(id: string, o: GlobalOptions, ctx: Ctx): Promise<void> {
  const session = await openSession(o, ctx);
  try {
    const ended = session.waitForEnd(id);
    const { review, status } = await session.review(id);
    if (!/completed$/.test(status.state)) {
      throw new CliError(
        'SIGNATURE_UNAVAILABLE',
        `ceremony ${id} is ${status.state}, not completed`,
      );
    }
    const end = await withTimeout(ended, 15, `the outcome of ${id}`);
    if (!('complete' in end))
      throw new CliError('SIGNATURE_UNAVAILABLE', `ceremony ${id} has no signature`);
    // The identity keys and group key the statement names come from the share as authenticated
    // by the passphrase (review() already opened it: no second scrypt), never from the header
    // alone, which anyone who can write the home could edit.
    const meta = (await session.share(review.group)).metadata;
    const found = recoverStatement(review, meta, end.complete);
    if (found === undefined) {
      throw new CliError(
        'STATEMENT_MISMATCH',
        'no statement rebuilt from the approved request matches the signature',
      );
    }
    await session.home.saveRecord(id, {
      outcome: { state: 'completed', ...end.complete },
      release: found.release,
      context: found.context,
      statement: buildStatement(found.release, found.context),
      message: bytesToHex(messageToSign(found.release, found.context)),
    });
  } finally {
    await session.close();
  }
}

/**
 * A member that recorded the request and the outcome (requester, approver) rebuilds the signed
 * statement itself, without the coordinator or its identity key: the outcome names approvers,
 * policy and time, and the rebuilt statement must hash to the signed digest. The group key and
 * identity keys it names come from the share opened with the passphrase (its header alone is not
 * authenticated: anyone who can write the home could edit it); a share that does not open with it
 * fails the command (KEYSTORE_DECRYPT_FAILED) rather than falling back to the header.
 */
async function rebuildLocally(
  home: Home,
  id: string,
  record: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const outcome = record['outcome'] as
    | (FetchedOutcome & { statementDigest?: string; policyId?: string; issuedAt?: number })
    | undefined;
  const release = record['release'] as Release | undefined;
  const requester = record['requester'];
  const group = record['group'];
  if (
    outcome?.state !== 'completed' ||
    release === undefined ||
    typeof requester !== 'string' ||
    typeof group !== 'string' ||
    outcome.statementDigest === undefined ||
    outcome.policyId === undefined ||
    outcome.issuedAt === undefined
  ) {
    return undefined;
  }
  if (!(await home.listShares()).includes(group)) return undefined;
  const passphrase = await getPassphrase(`Passphrase for ${home.name}: `);
  const meta = (await home.loadShare(group, passphrase)).metadata;
  const found = recoverStatement(
    { ceremonyId: id, group, requester, release } as Parameters<typeof recoverStatement>[0],
    meta,
    {
      statementDigest: outcome.statementDigest,
      approvers: outcome.approvers ?? [],
      policyId: outcome.policyId,
      issuedAt: outcome.issuedAt,
    },
  );
  if (found === undefined) return undefined;
  return {
    context: found.context,
    statement: buildStatement(found.release, found.context),
    message: bytesToHex(messageToSign(found.release, found.context)),
  };
}

/** A file `fetch` writes: its name in --out and its bytes. */
interface FetchFile {
  readonly path: string;
  readonly bytes: Uint8Array | string;
}

/**
 * Writes every file of one fetch into `dir`. All are checked before the first is written, so a
 * refusal leaves the directory as it was: no two with the same name (an artifact named `SHA256`
 * would make a raw `SHA256.sig` beside signify's), no existing file replaced without --force (a
 * second fetch into a release directory would silently change what was published) and no symlink
 * written through, ever (files.ts). Each file is written atomically.
 */
async function writeFetchOutputs(
  dir: string,
  files: readonly FetchFile[],
  force: boolean,
): Promise<void> {
  checkDistinctOutputs(files.map((f) => join(dir, f.path)));
  const o = {
    overwrite: force,
    instead: 'pass --force to replace the files of an earlier fetch, or choose another --out',
  };
  for (const f of files) await checkOutput(join(dir, f.path), o);
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeOutput(join(dir, f.path), f.bytes, o);
}

/** Refuses a signature file path that is not a plain file name (it comes from artifact names). */
function checkPlainNames(files: readonly OutputFile[]): void {
  for (const f of files) {
    if (f.path !== basename(f.path) || f.path.startsWith('.')) {
      throw new CliError('INVALID_ARGUMENT', `refusing to write ${f.path}: not a plain file name`);
    }
  }
}

export async function cmdFetch(
  id: string,
  o: GlobalOptions & { out: string; manifest?: string; force?: boolean },
  ctx: Ctx,
): Promise<void> {
  const home = await Home.open(homeDir(o));
  let record = await home.loadRecord(id);
  if (record !== undefined && record['context'] === undefined) {
    const local = await rebuildLocally(home, id, record);
    if (local !== undefined) {
      await home.saveRecord(id, local);
      record = { ...record, ...local };
    }
  }
  if (record?.['context'] === undefined || record['outcome'] === undefined) {
    await fetchFromCoordinator(id, o, ctx);
    record = await home.loadRecord(id);
  }
  const outcome = record?.['outcome'] as FetchedOutcome | undefined;
  const statement = record?.['statement'] as ReleaseStatement | undefined;
  const release = record?.['release'] as Release | undefined;
  const context = record?.['context'] as StatementContext | undefined;
  const messageHex = record?.['message'] as string | undefined;
  if (
    outcome?.state !== 'completed' ||
    outcome.signature === undefined ||
    outcome.signatures === undefined ||
    outcome.keyCreatedAt === undefined ||
    outcome.groupPublicKey === undefined ||
    statement === undefined ||
    release === undefined ||
    context === undefined ||
    messageHex === undefined
  ) {
    throw new CliError('SIGNATURE_UNAVAILABLE', `no completed signature for ${id}`);
  }
  // The key the signature is checked under is the one the statement names (from the member's
  // authenticated share), never the coordinator's say-so in sign.complete.
  if (outcome.groupPublicKey !== context.groupPublicKey) {
    throw new CliError(
      'WRONG_GROUP',
      `the signature of ${id} is under ${outcome.groupPublicKey}, not the group key ${context.groupPublicKey} the statement names; refusing to write it`,
    );
  }
  // --out is created only once everything is checked (writeFetchOutputs).
  const out = resolve(o.out);
  const signature = hexToBytes(outcome.signature);
  const message = hexToBytes(messageHex);
  const spki = Buffer.from(ed25519Spki(hexToBytes(outcome.groupPublicKey)));
  if (
    !nodeVerify(
      null,
      message,
      createPublicKey({ key: spki, format: 'der', type: 'spki' }),
      signature,
    )
  ) {
    throw new CliError(
      'AGGREGATE_INVALID',
      'the recorded signature does not verify; refusing to write it',
    );
  }
  // Every requested format, rebuilt from the approved request; assemble verifies each
  // signature against its rebuilt message before it becomes a file.
  let outputs: OutputFile[];
  try {
    outputs = assemble(
      formatContext({
        release,
        context,
        keyCreatedAt: outcome.keyCreatedAt,
        artifactBytes: (name) => {
          const a = release.artifacts.find((x) => x.name === name);
          const bytes =
            a === undefined
              ? undefined
              : (() => {
                  try {
                    return readFileSync(join(home.dir, 'artifacts', a.sha256));
                  } catch {
                    return undefined;
                  }
                })();
          if (bytes === undefined) {
            throw new CliError(
              'ARTIFACT_REQUIRED',
              `${name} is needed to write its raw/OpenPGP signature files; approve or request with --artifact ${name} from this home first`,
            );
          }
          return bytes;
        },
      }),
      new Map(outcome.signatures.map((s) => [s.job, hexToBytes(s.signature, 64)])),
    );
  } catch (e) {
    if (isFormatError(e, 'OUTPUT_PATH_COLLISION')) {
      throw new CliError(
        'OUTPUT_COLLISION',
        `${e.message}; nothing was written: request the release again with the artifact renamed`,
      );
    }
    if (isFormatError(e)) throw new CliError('AGGREGATE_INVALID', e.message);
    throw e;
  }
  const files = {
    signature: join(out, 'statement.sig'),
    publicKey: join(out, KEY_FILES.pem),
    statement: join(out, 'statement.json'),
    message: join(out, 'statement.pae'),
    readme: join(out, VERIFY_NOTE),
  };
  const command = `openssl pkeyutl -verify -pubin -inkey ${KEY_FILES.pem} -rawin -in statement.pae -sigfile statement.sig`;
  const note = outputs.find((f) => f.path === VERIFY_NOTE);
  const extra = [
    '',
    '## The ceremony statement itself',
    '',
    '`statement.json` is the in-toto statement the quorum approved (artifacts, approvers, time);',
    '`statement.pae` is the exact signed bytes (its DSSE pre-authentication encoding):',
    '',
    '```sh',
    command,
    '```',
    '',
  ].join('\n');
  const written = outputs.map((f) =>
    f === note ? { ...f, bytes: Buffer.concat([f.bytes, Buffer.from(extra)]) } : f,
  );
  checkPlainNames(written);
  let proofs: FetchFile[] = [];
  if (release.manifest !== undefined && o.manifest !== undefined) {
    proofs = proofFiles(
      await readFile(o.manifest, 'utf8'),
      release.manifest,
      statementBytes(statement),
    );
  }
  await writeFetchOutputs(
    out,
    [
      ...written,
      { path: basename(files.signature), bytes: signature },
      { path: basename(files.statement), bytes: `${JSON.stringify(statement, null, 2)}\n` },
      { path: basename(files.message), bytes: message },
      ...proofs,
    ],
    o.force === true,
  );
  if (proofs.length > 0)
    ctx.progress(`wrote ${proofs.length} inclusion proofs (<name>.proof.json)`);
  const byFormat: Record<string, string[]> = {};
  const keys: Record<string, string> = {};
  for (const f of outputs) {
    if (f.kind === 'signature' && f.format !== undefined)
      (byFormat[f.format] ??= []).push(join(out, f.path));
    if (f.kind === 'key') keys[f.path] = join(out, f.path);
  }
  ctx.result(
    {
      ceremonyId: id,
      groupPublicKey: outcome.groupPublicKey,
      signers: outcome.signers ?? [],
      approvers: outcome.approvers ?? [],
      files,
      formats: byFormat,
      keys,
      ...(release.manifest === undefined
        ? {}
        : { batch: { ...release.manifest, proofs: proofs.length } }),
      /** Run in the output directory (as VERIFY.md says). */
      verify: command,
    },
    `Wrote ${out}:\n  ${[...outputs.map((f) => f.path), 'statement.json', 'statement.pae', 'statement.sig'].join('\n  ')}\nHow to verify each format: ${files.readme}`,
  );
}
