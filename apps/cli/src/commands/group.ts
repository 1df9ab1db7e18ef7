/**
 * Key lifecycle commands (docs/lifecycle.md): `group show|refresh|reshare|repair|rotate`,
 * `group transition-sign|verify-transition` (the rotation's two quorum signatures), `member
 * revoke` (which proposes the reshare that removes the member), and `keygen`, which takes part in
 * whichever key ceremony of the group is open: the DKG, or a refresh, reshare or repair.
 */
import { createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  TRANSITION_FORMATS,
  TRANSITION_RELEASE_CLASS,
  adminRegistryAt,
  buildTransitionBundle,
  buildTransitionStatement,
  nextGroupName,
  parseTransitionFile,
  rotationNote,
  rotationVersion,
  transitionDigest,
  transitionFileBytes,
  verifyTransitionBundle,
  type Connection,
  type DkgResult,
  type LifecycleResult,
  type TransitionBundle,
  type TransitionStatement,
} from '@conclave/client';
import { ed25519Spki } from '@conclave/frost';
import {
  bytesToHex,
  hexToBytes,
  newCeremonyId,
  type CeremonyStatus,
  type GroupInfo,
  type GroupMember,
  type OpenedEnvelope,
  type SealedBody,
} from '@conclave/protocol';
import { pae, publicKeyFromFile } from '@conclave/release';
import {
  adminConnection,
  checkThreshold,
  cmdFetch,
  cmdRequest,
  homeDir,
  openSession,
  progressLine,
  withTimeout,
} from '../commands.js';
import { CliError } from '../errors.js';
import { writeOutput } from '../files.js';
import type { Ctx, GlobalOptions } from '../output.js';

type AdminOptions = GlobalOptions & { adminKey: string };
type WaitOptions = { wait: boolean; timeout: number };

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

async function withAdmin<T>(
  o: AdminOptions,
  ctx: Ctx,
  fn: (conn: Connection) => Promise<T>,
): Promise<T> {
  const { conn, key } = await adminConnection(o, ctx);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
    key.secretKey.fill(0);
  }
}

async function currentGroup(conn: Connection, name: string): Promise<GroupInfo> {
  const group = (await conn.groups()).find((g) => g.group === name);
  if (group === undefined)
    throw new CliError('WRONG_GROUP', `the coordinator has no group ${name}`);
  if (group.state !== 'active' || group.groupPublicKey === undefined) {
    throw new CliError('WRONG_GROUP', `group ${name} is ${group.state}, not active`);
  }
  return group;
}

/** Identity keys for a roster: name=PUB, the admin registry of --home, or the current roster. */
async function rosterOf(
  o: GlobalOptions,
  names: readonly string[],
  current: readonly GroupMember[],
): Promise<GroupMember[]> {
  const registry = await adminRegistryAt(homeDir(o));
  return names.map((entry) => {
    const [member = '', given] = entry.split('=');
    const identityKey =
      given ?? registry[member] ?? current.find((m) => m.member === member)?.identityKey;
    if (identityKey === undefined) {
      throw new CliError(
        'UNKNOWN_MEMBER',
        `no identity key known for ${member}; register it with \`conclave member add ${member} --key PUB\` from this --home, or write ${member}=PUB`,
      );
    }
    return { member, identityKey };
  });
}

type Outcome =
  | { state: 'completed'; groupPublicKey: string; confirmations: string[] }
  | { state: 'aborted'; code: string; message: string; culprits: string[] };

/** Sends an admin operation that opens a key ceremony and (unless --no-wait) waits for its end. */
async function runKeyCeremony(
  conn: Connection,
  ctx: Ctx,
  body: SealedBody,
  w: WaitOptions,
): Promise<{ ceremonyId: string; outcome?: Outcome }> {
  const ceremonyId = newCeremonyId();
  let settle!: (o: Outcome) => void;
  const ended = new Promise<Outcome>((r) => (settle = r));
  conn.onEnvelope((env: OpenedEnvelope) => {
    if (env.ceremonyId !== ceremonyId) return;
    if (env.body.type === 'dkg.complete') {
      settle({
        state: 'completed',
        groupPublicKey: env.body.groupPublicKey,
        confirmations: env.body.confirmations.map((c) => c.member),
      });
    } else if (env.body.type === 'dkg.abort') {
      settle({
        state: 'aborted',
        code: env.body.code,
        message: env.body.message,
        culprits: env.body.culprits,
      });
    }
  });
  let last = '';
  conn.onStatus((s: CeremonyStatus) => {
    if (s.ceremonyId !== ceremonyId) return;
    // The step, who is done and whom it waits for (commands.ts keyProgressLine).
    const line = progressLine(s);
    if (line !== last) ctx.progress((last = line));
  });
  await conn.send(ceremonyId, '0', body);
  if (!w.wait) return { ceremonyId };
  ctx.progress(`key ceremony ${ceremonyId} is open; waiting for the members (conclave keygen)…`);
  const outcome = await withTimeout(
    ended,
    w.timeout,
    `key ceremony ${ceremonyId}`,
    `it stays open: follow it with \`conclave status ${ceremonyId}\` (or withdraw it with \`conclave cancel ${ceremonyId} --reason … --admin-key FILE\`)`,
  );
  return { ceremonyId, outcome };
}

function requireCompleted(
  ceremonyId: string,
  outcome: Outcome | undefined,
): Extract<Outcome, { state: 'completed' }> | undefined {
  if (outcome === undefined || outcome.state === 'completed') return outcome;
  throw new CliError(
    'DKG_ABORTED',
    `key ceremony ${ceremonyId} aborted (${outcome.code}: ${outcome.message})` +
      (outcome.culprits.length > 0 ? `; culprits: ${outcome.culprits.join(', ')}` : '') +
      '; nothing changed, the old shares stay valid',
  );
}

const adminFlag = (o: AdminOptions) => `--admin-key ${o.adminKey}`;

// ---------------------------------------------------------------- group show

export async function cmdGroupShow(
  name: string | undefined,
  o: GlobalOptions & { adminKey?: string },
  ctx: Ctx,
): Promise<void> {
  let groups: GroupInfo[];
  if (o.adminKey !== undefined) {
    groups = await withAdmin({ ...o, adminKey: o.adminKey }, ctx, (c) => c.groups());
  } else {
    const session = await openSession(o, ctx);
    try {
      groups = await session.connection.groups();
    } finally {
      await session.close();
    }
  }
  if (name !== undefined) groups = groups.filter((g) => g.group === name);
  if (name !== undefined && groups.length === 0)
    throw new CliError('WRONG_GROUP', `no group ${name} (or you are not in it)`);
  ctx.result(
    { groups },
    groups
      .map(
        (g) =>
          `${g.group}: ${g.threshold}-of-${g.members.length}, ${g.state}, key epoch ${g.epoch}\n` +
          `  members: ${g.members.map((m) => m.member).join(', ')}\n` +
          `  group public key: ${g.groupPublicKey ?? '(none yet)'}` +
          (g.revoked.length > 0
            ? `\n  REVOKED but still holding shares: ${g.revoked.join(', ')} — reshare without them`
            : ''),
      )
      .join('\n') || 'no groups',
  );
}

// ---------------------------------------------------------------- refresh / reshare / repair

export async function cmdGroupRefresh(
  name: string,
  o: AdminOptions & WaitOptions,
  ctx: Ctx,
): Promise<void> {
  await withAdmin(o, ctx, async (conn) => {
    const g = await currentGroup(conn, name);
    const { ceremonyId, outcome } = await runKeyCeremony(
      conn,
      ctx,
      {
        type: 'admin.group.refresh',
        group: name,
        epoch: g.epoch,
        groupPublicKey: g.groupPublicKey ?? '',
      },
      o,
    );
    const done = requireCompleted(ceremonyId, outcome);
    const members = g.members.map((m) => m.member);
    ctx.result(
      {
        group: name,
        kind: 'refresh',
        ceremonyId,
        state: done === undefined ? 'open' : 'completed',
        fromEpoch: g.epoch,
        epoch: g.epoch + 1,
        threshold: g.threshold,
        members,
        groupPublicKey: g.groupPublicKey,
      },
      done === undefined
        ? `Refresh ${ceremonyId} of ${name} is open. Every member runs: conclave keygen ${name}`
        : `Refreshed ${name}: new shares for ${members.join(', ')} (epoch ${g.epoch + 1}), ` +
            `same ${g.threshold}-of-${members.length} and same group public key ${g.groupPublicKey ?? ''}. ` +
            'Shares of earlier epochs no longer combine with these.',
    );
  });
}

/**
 * Dealers for a reshare: current holders in good standing who stay, then (if fewer than the
 * current threshold) those who leave.
 */
export function defaultDealers(g: GroupInfo, newMembers: readonly string[]): string[] {
  const good = g.members.map((m) => m.member).filter((m) => !g.revoked.includes(m));
  const staying = good.filter((m) => newMembers.includes(m));
  const leaving = good.filter((m) => !newMembers.includes(m));
  const dealers = [...staying, ...leaving].slice(0, Math.max(g.threshold, staying.length));
  if (dealers.length < g.threshold) {
    throw new CliError(
      'INSUFFICIENT_HONEST_SIGNERS',
      `only ${good.length} holders of ${g.group} are in good standing, fewer than its threshold ${g.threshold}; ` +
        `the key cannot be reshared — rotate it: conclave group rotate ${g.group} --threshold T --members …`,
    );
  }
  return dealers;
}

export async function cmdGroupReshare(
  name: string,
  o: AdminOptions & WaitOptions & { members: string; threshold: number; dealers?: string },
  ctx: Ctx,
): Promise<void> {
  const names = list(o.members);
  checkThreshold(o.threshold, names.length);
  await withAdmin(o, ctx, async (conn) => {
    const g = await currentGroup(conn, name);
    const members = await rosterOf(o, names, g.members);
    const memberNames = members.map((m) => m.member);
    const dealers = o.dealers === undefined ? defaultDealers(g, memberNames) : list(o.dealers);
    ctx.progress(
      `resharing ${name} (${g.threshold}-of-${g.members.length}, epoch ${g.epoch}) to ` +
        `${o.threshold}-of-${members.length}; dealers: ${dealers.join(', ')}`,
    );
    const { ceremonyId, outcome } = await runKeyCeremony(
      conn,
      ctx,
      {
        type: 'admin.group.reshare',
        group: name,
        epoch: g.epoch,
        groupPublicKey: g.groupPublicKey ?? '',
        threshold: o.threshold,
        members,
        dealers,
      },
      o,
    );
    const done = requireCompleted(ceremonyId, outcome);
    const removed = g.members.map((m) => m.member).filter((m) => !memberNames.includes(m));
    const added = memberNames.filter((m) => !g.members.some((x) => x.member === m));
    ctx.result(
      {
        group: name,
        kind: 'reshare',
        ceremonyId,
        state: done === undefined ? 'open' : 'completed',
        fromEpoch: g.epoch,
        epoch: g.epoch + 1,
        threshold: o.threshold,
        members: memberNames,
        dealers,
        added,
        removed,
        groupPublicKey: g.groupPublicKey,
      },
      done === undefined
        ? `Reshare ${ceremonyId} of ${name} is open. Dealers (${dealers.join(', ')}) and every new member run: conclave keygen ${name}`
        : `Reshared ${name}: ${o.threshold}-of-${members.length} (${memberNames.join(', ')}), epoch ${g.epoch + 1}, ` +
            `same group public key ${g.groupPublicKey ?? ''}.` +
            (added.length > 0 ? `\n  added: ${added.join(', ')}` : '') +
            (removed.length > 0
              ? `\n  removed: ${removed.join(', ')} (their old shares are useless now)`
              : ''),
    );
  });
}

export async function cmdGroupRepair(
  name: string,
  o: AdminOptions & WaitOptions & { member: string; helpers?: string },
  ctx: Ctx,
): Promise<void> {
  await withAdmin(o, ctx, async (conn) => {
    const g = await currentGroup(conn, name);
    if (!g.members.some((m) => m.member === o.member)) {
      throw new CliError('UNKNOWN_PARTICIPANT', `${o.member} holds no share of ${name}`);
    }
    const helpers =
      o.helpers !== undefined
        ? list(o.helpers)
        : g.members
            .map((m) => m.member)
            .filter((m) => m !== o.member && !g.revoked.includes(m))
            .slice(0, g.threshold);
    ctx.progress(`repairing ${o.member}'s share of ${name}; helpers: ${helpers.join(', ')}`);
    const { ceremonyId, outcome } = await runKeyCeremony(
      conn,
      ctx,
      {
        type: 'admin.group.repair',
        group: name,
        epoch: g.epoch,
        groupPublicKey: g.groupPublicKey ?? '',
        member: o.member,
        helpers,
      },
      o,
    );
    const done = requireCompleted(ceremonyId, outcome);
    ctx.result(
      {
        group: name,
        kind: 'repair',
        ceremonyId,
        state: done === undefined ? 'open' : 'completed',
        member: o.member,
        helpers,
        epoch: g.epoch,
        groupPublicKey: g.groupPublicKey,
      },
      done === undefined
        ? `Repair ${ceremonyId} is open. ${o.member} and the helpers (${helpers.join(', ')}) run: conclave keygen ${name}`
        : `Repaired ${o.member}'s share of ${name} (epoch ${g.epoch}, key unchanged).`,
    );
  });
}

// ---------------------------------------------------------------- rotate

/** The next steps after `group rotate`: the exact commands (docs/runbooks/rotation.md). */
function transitionSteps(
  statement: TransitionStatement,
  file: string,
): { transitionSign: string; approve: string; verify: string } {
  const bundle = bundlePathFor(file);
  return {
    transitionSign: `conclave group transition-sign ${statement.oldKey.group} --file ${file} --out ${bundle}`,
    approve: `conclave approve ID --artifact ${file}`,
    verify: `conclave group verify-transition ${bundle} --old-key ${statement.oldKey.publicKey} --new-key ${statement.newKey.publicKey}`,
  };
}

/** `web-to-web-v2.transition.json` → `web-to-web-v2.transition-bundle.json`. */
const bundlePathFor = (file: string): string =>
  file.endsWith('.transition.json')
    ? `${file.slice(0, -'.transition.json'.length)}.transition-bundle.json`
    : `${file}.bundle.json`;

export async function cmdGroupRotate(
  name: string,
  o: AdminOptions &
    WaitOptions & {
      members: string;
      threshold: number;
      reason: string;
      newGroup?: string;
      out?: string;
    },
  ctx: Ctx,
): Promise<void> {
  const names = list(o.members);
  checkThreshold(o.threshold, names.length);
  await withAdmin(o, ctx, async (conn) => {
    const old = await currentGroup(conn, name);
    const newGroup = o.newGroup ?? nextGroupName(name);
    const members = await rosterOf(o, names, old.members);
    const { ceremonyId, outcome } = await runKeyCeremony(
      conn,
      ctx,
      { type: 'admin.group.create', group: newGroup, threshold: o.threshold, members },
      { wait: true, timeout: o.timeout },
    );
    const done = requireCompleted(ceremonyId, outcome);
    if (done === undefined) throw new CliError('INTERNAL', 'rotation DKG did not report');
    const statement = buildTransitionStatement({
      oldKey: {
        group: name,
        publicKey: old.groupPublicKey ?? '',
        epoch: old.epoch,
        threshold: old.threshold,
        members: old.members.map((m) => m.member),
      },
      newKey: {
        group: newGroup,
        publicKey: done.groupPublicKey,
        epoch: 0,
        threshold: o.threshold,
        members: members.map((m) => m.member),
      },
      time: new Date(),
      reason: o.reason,
      rotationCeremony: ceremonyId,
    });
    // The file IS the artifact both quorums sign: its exact bytes (canonical JSON, no newline).
    const out = resolve(o.out ?? `${name}-to-${newGroup}.transition.json`);
    await writeOutput(out, transitionFileBytes(statement), { overwrite: true });
    const digest = transitionDigest(statement);
    const steps = transitionSteps(statement, out);
    ctx.result(
      {
        group: name,
        newGroup,
        ceremonyId,
        oldKey: statement.oldKey.publicKey,
        newKey: statement.newKey.publicKey,
        transition: out,
        sha256: digest.sha256,
        version: rotationVersion(statement),
        bundle: bundlePathFor(out),
        next: steps,
      },
      `Rotation of ${name}: new group ${newGroup} (${o.threshold}-of-${members.length}) with a NEW key ${done.groupPublicKey}.\n` +
        `Transition statement written to ${out} (sha256 ${digest.sha256}).\n` +
        `Next, a member of both groups runs:\n  ${steps.transitionSign}\n` +
        `which asks a quorum of ${name} and a quorum of ${newGroup} to sign it (${rotationVersion(statement)}, dsse); ` +
        `each approver, holding a copy of the file, runs:\n  ${steps.approve}\n` +
        `Until the bundle verifies, verifiers keep trusting only the old key:\n  ${steps.verify}`,
    );
  });
}

/** A ctx that keeps a sub-command's result and labels its progress lines. */
function captureCtx(
  ctx: Ctx,
  label: string,
  onProgress: (line: string) => void = () => undefined,
): { ctx: Ctx; result: () => Record<string, unknown> } {
  let doc: Record<string, unknown> | undefined;
  return {
    ctx: {
      json: ctx.json,
      progress: (line) => {
        ctx.progress(`[${label}] ${line}`);
        onProgress(line);
      },
      result: (d) => (doc = d),
    },
    result: () => {
      if (doc === undefined) throw new CliError('INTERNAL', `${label}: no result`);
      return doc;
    },
  };
}

async function readEnvelope(file: string, role: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new CliError('INVALID_ARGUMENT', `cannot read the ${role} envelope ${file} as JSON`, 2);
  }
}

/**
 * One side of the rotation: an ordinary signing ceremony of `group` whose only artifact is the
 * transition file (`conclave request --group G --artifact FILE --version rotation-N --formats
 * dsse`), then `conclave fetch` of its DSSE envelope (release.intoto.json).
 */
async function signSide(
  o: GlobalOptions & { timeout: number },
  ctx: Ctx,
  group: string,
  file: string,
  statement: TransitionStatement,
  requested: (ceremonyId: string) => void,
): Promise<{ ceremonyId: string; envelope: unknown }> {
  const req = captureCtx(ctx, group, (line) => {
    const m = /^requested (\S+):/.exec(line);
    if (m?.[1] !== undefined) {
      ctx.progress(
        `[${group}] approvers of ${group} run: conclave approve ${m[1]} --artifact ${file}`,
      );
      requested(m[1]);
    }
  });
  const global = {
    ...(o.json === undefined ? {} : { json: o.json }),
    ...(o.home === undefined ? {} : { home: o.home }),
    ...(o.coordinator === undefined ? {} : { coordinator: o.coordinator }),
  };
  await cmdRequest(
    {
      ...global,
      group,
      artifact: [file],
      version: rotationVersion(statement),
      class: TRANSITION_RELEASE_CLASS,
      note: rotationNote(statement),
      formats: TRANSITION_FORMATS.join(','),
      wait: true,
      timeout: o.timeout,
    },
    req.ctx,
  );
  const ceremonyId = String(req.result()['ceremonyId']);
  const dir = await mkdtemp(join(tmpdir(), 'conclave-transition-'));
  try {
    const fetched = captureCtx(ctx, group);
    await cmdFetch(ceremonyId, { ...global, out: dir }, fetched.ctx);
    const dsse = (fetched.result()['formats'] as Record<string, string[]> | undefined)?.['dsse'];
    if (dsse?.[0] === undefined) {
      throw new CliError('SIGNATURE_UNAVAILABLE', `ceremony ${ceremonyId} wrote no DSSE envelope`);
    }
    return { ceremonyId, envelope: await readEnvelope(dsse[0], group) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The two quorum signatures of a rotation: a ceremony of the old group and one of the new group,
 * each signing the transition file as its only artifact; then ONE bundle (statement + both DSSE
 * envelopes), checked with `verifyTransitionBundle` before it is written. Run by a member of both
 * groups; `--old-envelope` / `--new-envelope` take a side's release.intoto.json instead (when
 * another member requested it with `conclave request` and fetched it).
 */
export async function cmdTransitionSign(
  group: string,
  o: GlobalOptions & {
    file: string;
    out?: string;
    oldEnvelope?: string;
    newEnvelope?: string;
    timeout: number;
  },
  ctx: Ctx,
): Promise<void> {
  const file = resolve(o.file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    throw new CliError('INVALID_ARGUMENT', `cannot read the transition file ${file}`, 2);
  }
  let statement: TransitionStatement;
  try {
    statement = parseTransitionFile(bytes);
  } catch (e) {
    throw new CliError('INVALID_ARGUMENT', e instanceof Error ? e.message : String(e), 2);
  }
  if (statement.oldKey.group !== group) {
    throw new CliError('WRONG_GROUP', `${file} rotates ${statement.oldKey.group}, not ${group}`, 2);
  }
  ctx.progress(
    `rotation ${statement.oldKey.group} -> ${statement.newKey.group}: ${basename(file)} ` +
      `(sha256 ${transitionDigest(statement).sha256}), version ${rotationVersion(statement)}`,
  );
  // The old side's request opens its session first (a passphrase prompt, if any, comes alone);
  // the new side's starts once the old one is recorded, and both quorums approve in parallel.
  let oldRequested!: () => void;
  const oldOpen = new Promise<void>((r) => (oldRequested = r));
  const oldSide: Promise<{ ceremonyId?: string; envelope: unknown }> =
    o.oldEnvelope === undefined
      ? signSide(o, ctx, statement.oldKey.group, file, statement, () => oldRequested())
      : readEnvelope(o.oldEnvelope, 'old').then((envelope) => {
          oldRequested();
          return { envelope };
        });
  const newSide: Promise<{ ceremonyId?: string; envelope: unknown }> =
    o.newEnvelope === undefined
      ? Promise.race([oldOpen, oldSide.then(() => undefined)]).then(() =>
          signSide(o, ctx, statement.newKey.group, file, statement, () => undefined),
        )
      : readEnvelope(o.newEnvelope, 'new').then((envelope) => ({ envelope }));
  const [oldDone, newDone] = await Promise.all([oldSide, newSide]);
  const bundle = buildTransitionBundle({
    statement,
    name: basename(file),
    old: oldDone.envelope,
    new: newDone.envelope,
  });
  const verdict = verifyTransitionBundle(bundle);
  if (!verdict.ok) {
    throw new CliError(
      'TRANSITION_INVALID',
      `the signed envelopes do not make a valid transition (${verdict.failed?.check ?? '?'}: ${verdict.failed?.reason ?? ''}); nothing written`,
    );
  }
  const out = resolve(o.out ?? bundlePathFor(file));
  await writeOutput(out, `${JSON.stringify(bundle, null, 2)}\n`, { overwrite: true });
  ctx.result(
    {
      group,
      newGroup: statement.newKey.group,
      bundle: out,
      transition: file,
      old: verdict.old,
      new: verdict.new,
    },
    `Transition bundle written to ${out}\n` +
      `  ${statement.oldKey.group}: ${verdict.old?.ceremonyId ?? ''} approved by ${verdict.old?.approvers.join(', ') ?? ''}\n` +
      `  ${statement.newKey.group}: ${verdict.new?.ceremonyId ?? ''} approved by ${verdict.new?.approvers.join(', ') ?? ''}\n` +
      `Publish it with the new public key; verifiers run:\n  ${transitionSteps(statement, file).verify.replace(bundlePathFor(file), out)}`,
  );
}

/** --old-key / --new-key: 64 hex, or a key file in any format `conclave key export` writes. */
async function keyArg(value: string | undefined, flag: string): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase();
  let bytes: Uint8Array;
  try {
    bytes = await readFile(value);
  } catch {
    throw new CliError('INVALID_ARGUMENT', `${flag}: neither 64 hex nor a readable key file`, 2);
  }
  try {
    return bytesToHex(publicKeyFromFile(bytes));
  } catch (e) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `${flag}: ${value} is not an Ed25519 public key file (${e instanceof Error ? e.message : String(e)})`,
      2,
    );
  }
}

const pemOf = (hex: string): string =>
  createPublicKey({
    key: Buffer.from(ed25519Spki(hexToBytes(hex))),
    format: 'der',
    type: 'spki',
  }).export({ format: 'pem', type: 'spki' }) as string;

/**
 * `verify-transition --extract DIR`: the exact transition file and, per side, the signed bytes,
 * the signature and the key, for openssl. Files of an earlier run are replaced (atomically, never
 * through a symlink).
 */
async function extractTransition(
  b: TransitionBundle,
  s: TransitionStatement,
  to: string,
): Promise<void> {
  const dir = resolve(to);
  await mkdir(dir, { recursive: true });
  const write = (name: string, bytes: Uint8Array | string) =>
    writeOutput(join(dir, name), bytes, { overwrite: true });
  await write('transition.json', transitionFileBytes(s));
  for (const [role, key] of [
    ['old', s.oldKey.publicKey],
    ['new', s.newKey.publicKey],
  ] as const) {
    const env = b[role];
    const payload = Buffer.from(env.payload, 'base64');
    await write(`${role}.statement.pae`, pae(env.payloadType, payload));
    await write(`${role}.statement.json`, payload);
    await write(`${role}.statement.sig`, Buffer.from(env.signatures[0]?.sig ?? '', 'base64'));
    await write(`${role}.pem`, pemOf(key));
  }
}

/**
 * The verifier side of a rotation (docs/lifecycle.md "Verifier side"): every check of
 * `verifyTransitionBundle`; exit 0 when all pass, 1 naming the failed check, 2 for bad usage.
 * `--extract DIR` writes, per side, the signed bytes, the signature and the key (for openssl).
 */
export async function cmdVerifyTransition(
  file: string,
  o: GlobalOptions & { oldKey?: string; newKey?: string; extract?: string },
  ctx: Ctx,
): Promise<void> {
  let bundle: unknown;
  try {
    bundle = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new CliError('INVALID_ARGUMENT', `cannot read ${file} as JSON`, 2);
  }
  const verdict = verifyTransitionBundle(bundle, {
    oldKey: await keyArg(o.oldKey, '--old-key'),
    newKey: await keyArg(o.newKey, '--new-key'),
  });
  const s = verdict.statement;
  // --extract writes only for a rotation that passed every check from a key the verifier trusts:
  // files beside a failed or unanchored bundle would read as checked (and old.pem as a key).
  const extracted = (dir: string | null) => (o.extract === undefined ? {} : { extracted: dir });
  const notExtracted = (why: string) => {
    if (o.extract !== undefined) ctx.progress(`--extract: nothing written to ${o.extract}: ${why}`);
  };
  if (!verdict.ok) {
    ctx.result(
      {
        ok: false,
        valid: false,
        code: 'TRANSITION_INVALID',
        check: verdict.failed?.check,
        reason: verdict.failed?.reason,
        checks: verdict.checks,
        ...extracted(null),
      },
      `FAILED: ${verdict.failed?.check ?? '?'}: ${verdict.failed?.reason ?? ''}\n` +
        'Keep trusting only the old key.',
    );
    notExtracted('the transition is not valid');
    process.exitCode = 1;
    return;
  }
  if (s === undefined) throw new CliError('INTERNAL', 'a valid transition without a statement');
  if (o.oldKey === undefined) {
    // Every check passed, but only against keys the bundle names itself: anyone can make two keys
    // and sign both sides. Trust moves only from a key the verifier already trusts.
    ctx.result(
      {
        ok: false,
        valid: false,
        code: 'TRANSITION_UNANCHORED',
        reason:
          'the bundle is consistent, but without --old-key nothing ties it to a key you trust: anyone can make two keys and sign both sides',
        statement: s,
        checks: verdict.checks,
        ...extracted(null),
      },
      `NOT ANCHORED: ${s.oldKey.group} (${s.oldKey.publicKey}) -> ${s.newKey.group} (${s.newKey.publicKey}) is consistent,\n` +
        '  but nothing ties it to a key you trust. Run it again with --old-key KEY, the key you\n' +
        '  verify releases with today (64 hex or a file from `conclave key export`).',
    );
    notExtracted('not anchored (give --old-key)');
    process.exitCode = 1;
    return;
  }
  if (o.extract !== undefined) await extractTransition(bundle as TransitionBundle, s, o.extract);
  ctx.result(
    {
      valid: true,
      statement: s,
      old: verdict.old,
      new: verdict.new,
      checks: verdict.checks,
      ...extracted(o.extract === undefined ? null : resolve(o.extract)),
    },
    `Valid rotation: ${s.oldKey.group} (${s.oldKey.publicKey}) -> ${s.newKey.group} (${s.newKey.publicKey})\n` +
      `  from ${s.time}; reason: ${s.reason}\n` +
      `  signed by ${s.oldKey.group} (${verdict.old?.approvers.join(', ') ?? ''}) and ${s.newKey.group} (${verdict.new?.approvers.join(', ') ?? ''})\n` +
      `  trust the new key for releases issued after ${s.time}; refuse old-key signatures issued after it ` +
      `(except the old group's ${rotationVersion(s)} statement over this transition)`,
  );
}

// ---------------------------------------------------------------- member revoke (+ proposal)

export async function cmdMemberRevoke(
  name: string,
  o: AdminOptions & { reason: string },
  ctx: Ctx,
): Promise<void> {
  await withAdmin(o, ctx, async (conn) => {
    const operationId = newCeremonyId();
    await conn.send(operationId, '0', {
      type: 'admin.member.revoke',
      member: name,
      reason: o.reason,
    });
    const groups = await conn.groups(name);
    const proposals = groups.map((g) => {
      const keep = g.members.map((m) => m.member).filter((m) => !g.revoked.includes(m));
      const threshold = Math.min(g.threshold, keep.length);
      if (keep.length < 2 || keep.length < g.threshold) {
        return {
          group: g.group,
          action: 'rotate',
          command: `conclave group rotate ${g.group} --threshold ${Math.max(2, Math.min(g.threshold, keep.length))} --members ${keep.join(',')},NEW --reason "${name} revoked" ${adminFlag(o)}`,
        };
      }
      return {
        group: g.group,
        action: 'reshare',
        command: `conclave group reshare ${g.group} --members ${keep.join(',')} --threshold ${threshold} ${adminFlag(o)}`,
      };
    });
    ctx.result(
      { member: name, revoked: true, operationId, groups: groups.map((g) => g.group), proposals },
      `Revoked ${name}: the coordinator refuses its key from now on (open connections were closed; ` +
        'signing ceremonies continue without it, key ceremonies it was in were aborted).' +
        (proposals.length === 0
          ? `\n${name} holds no shares.`
          : `\n${name} still holds shares of ${proposals.map((p) => p.group).join(', ')}. ` +
            'Move the key away from it (same public key, its share becomes useless):\n' +
            proposals.map((p) => `  ${p.command}`).join('\n') +
            '\nIf its share may have been stolen together with others, rotate instead (docs/runbooks/key-compromise.md).'),
    );
  });
}

// ---------------------------------------------------------------- keygen (DKG or lifecycle)

/**
 * What `conclave keygen` reports when its wait ends in `e`. A timeout after this member confirmed
 * is not "nothing happened": the ceremony may still complete with its new share in it, which is
 * staged on disk, and the next keygen or agent puts it in place or removes it by the signed
 * outcome (recoverShares). Anything else is reported as it is.
 */
export function keygenFailure(
  e: unknown,
  group: string,
  timeoutS: number,
  taking: { readonly phase: string; readonly stagedPath: string | undefined } | undefined,
): unknown {
  if (!(e instanceof CliError && e.code === 'TIMEOUT' && taking?.phase === 'confirm')) return e;
  const staged = taking.stagedPath;
  return new CliError(
    'TIMEOUT',
    `the key ceremony of ${group} did not finish within ${timeoutS} s after you confirmed` +
      (staged === undefined
        ? ''
        : `; your new share is staged at ${staged}: run \`conclave keygen ${group}\` or \`conclave agent\` later and it is put in place if the ceremony completed, removed if it aborted`),
  );
}

export async function cmdKeygen(
  group: string,
  o: GlobalOptions & { timeout: number },
  ctx: Ctx,
): Promise<void> {
  type Either = { dkg: DkgResult } | { lifecycle: LifecycleResult };
  let choose!: (p: Promise<Either>) => void;
  const started = new Promise<Promise<Either>>((r) => (choose = r));
  /** The participant this run took part through (what the timeout message tells about). */
  let taking: { readonly phase: string; readonly stagedPath: string | undefined } | undefined;
  const session = await openSession(o, ctx, {
    // A dropped connection is dialled again: the coordinator then re-sends what this member
    // has still to answer (the start, the round-1 list, round 2), and the round-1, round-2 or
    // confirmation message lost in the drop goes again (dkg-participant.ts sendRound).
    reconnect: true,
    beforeConnect: (s) => {
      s.acceptKeyCeremonies((start) => start.group === group);
      s.onKeyCeremony((p) => {
        taking = p;
        choose(p.result.then((dkg) => ({ dkg })));
      });
      s.acceptLifecycle((start) => start.group === group).onParticipant((p) => {
        taking = p;
        choose(p.result.then((lifecycle) => ({ lifecycle })));
      });
    },
  });
  ctx.progress(`waiting for a key ceremony of ${group}…`);
  // Until a ceremony starts nothing else is printed: say what the wait depends on, and that it is
  // still waiting (a mistyped group waited --timeout in silence).
  let begun = false;
  // Both outcomes count as begun; the failure itself is reported by the await below (a handler
  // here, or a ceremony that fails while keygenGroupNote runs is an unhandled rejection: a crash).
  void started.then(
    () => (begun = true),
    () => (begun = true),
  );
  const startedAt = Date.now();
  const heartbeat = setInterval(() => {
    if (begun) return;
    const s = Math.round((Date.now() - startedAt) / 1000);
    ctx.progress(
      `still waiting for a key ceremony of ${group} (${s} s of ${o.timeout} s); the admin opens one with \`conclave group create|refresh|reshare|repair\``,
    );
  }, KEYGEN_HEARTBEAT_MS);
  heartbeat.unref();
  try {
    const note = await keygenGroupNote(session.connection, group).catch(() => null);
    if (note !== null && !begun) ctx.progress(note);
    const result = await withTimeout(
      started.then((r) => r),
      o.timeout,
      `the key ceremony of ${group}`,
    ).catch((e: unknown) => {
      throw keygenFailure(e, group, o.timeout, taking);
    });
    if ('dkg' in result) {
      const r = result.dkg;
      ctx.result(
        { kind: 'dkg', epoch: 0, ...r },
        `Key ceremony complete: ${r.threshold}-of-${r.members.length} group ${r.group}\n` +
          `  group public key: ${r.groupPublicKey}\n  your share (encrypted): ${r.sharePath}`,
      );
      return;
    }
    const r = result.lifecycle;
    ctx.result(
      { ...r },
      `Key ceremony complete (${r.kind}): ${r.threshold}-of-${r.members.length} group ${r.group}, key epoch ${r.epoch}\n` +
        `  group public key: ${r.groupPublicKey} (unchanged)\n` +
        (r.sharePath !== undefined
          ? `  your new share (encrypted): ${r.sharePath}`
          : r.members.includes(session.member)
            ? '  your share did not change'
            : '  you are no longer a member; your old share was deleted'),
    );
  } finally {
    clearInterval(heartbeat);
    await session.close();
  }
}

/** How often `keygen` says it is still waiting for a ceremony to start. */
export const KEYGEN_HEARTBEAT_MS = 30_000;

/**
 * What the member can see of GROUP before a ceremony starts: nothing to say for a group waiting
 * for its keys or holding them; a warning for a group this member is not in (a typo, or a reshare
 * that will add it) or whose key ceremony failed.
 */
export async function keygenGroupNote(
  conn: Pick<Connection, 'groups'>,
  group: string,
): Promise<string | null> {
  const g = (await conn.groups()).find((x) => x.group === group);
  if (g === undefined) {
    return `note: you are in no group named ${group}; this only works if the admin opens a reshare that adds you (check the name with \`conclave group show\`)`;
  }
  if (g.state === 'failed') {
    return `note: the key ceremony of ${group} failed; the admin must run \`conclave group create ${group}\` again`;
  }
  if (g.state === 'retired') return `note: ${group} is retired (rotated to a new group)`;
  return null;
}
