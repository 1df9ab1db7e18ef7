/**
 * Governance commands around releases (docs/policy.md): `release revoke ID --reason R` (a quorum
 * ceremony signing a revocation statement), `release revocations [--out FILE]` (the signed list,
 * verified under the member's group key before it is written), `status` without an id (unratified
 * hotfixes and each group's verified policy), and the request extras `--incident`, `--ratifies`,
 * `--valid-for`. The ceremonies are ordinary signing ceremonies of a special class, so approvers run
 * `conclave approve ID` as for any release.
 */
import { resolve } from 'node:path';
import {
  PolicyPins,
  currentVerifiedPolicy,
  hotfixBanner,
  isClientError,
  isTerminal,
  recoverStatement,
  type CeremonyEnd,
  type MemberSession,
} from '@conclave/client';
import {
  newCeremonyId,
  type CeremonyStatus,
  type Hotfix,
  type Release,
  type RevocationEntry,
  type Revocations,
} from '@conclave/protocol';
import {
  buildRevocationList,
  buildStatement,
  documentArtifact,
  readRevocationList,
  statementDigest,
} from '@conclave/release';
import type { Command } from 'commander';
import { checkCeremonyId, checkName, openSession, progressLine, withTimeout } from '../commands.js';
import { CliError } from '../errors.js';
import { writeOutput } from '../files.js';
import type { Ctx, GlobalOptions } from '../output.js';

/** What main.ts lends the register functions (its option conventions). */
export interface CliHelpers {
  common(cmd: Command): Command;
  run<O extends GlobalOptions>(
    fn: (o: O, ctx: Ctx, ...positional: (string | undefined)[]) => Promise<void>,
  ): (...args: unknown[]) => Promise<void>;
  int(v: string): number;
  /** Whole seconds, at least 1 (for --timeout). */
  seconds(v: string): number;
  /** Help text: how the passphrase is given (the command opens this member's keys). */
  passphraseHelp: string;
}

type WaitOptions = { wait: boolean; timeout: number };

// ---------------------------------------------------------------------------------------------
// `conclave request` extras

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90d`, `12h`, `30m`, `3600s` or plain seconds → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (m === null) {
    throw new CliError(
      'INVALID_ARGUMENT',
      `expected a duration like 30d, 12h, 45m or 3600s, got ${text}`,
      2,
    );
  }
  return Number(m[1]) * (UNITS[m[2] || 's'] ?? 1) * 1000;
}

/**
 * The release fields of `conclave request --incident ID --ratifies CEREMONY --valid-for DURATION`
 * (all inside the signed statement).
 */
export function releaseExtras(o: object, now = Date.now()): Partial<Release> {
  const opts = o as { incident?: unknown; ratifies?: unknown; validFor?: unknown };
  const out: { incident?: string; ratifies?: string; validUntil?: number } = {};
  if (typeof opts.incident === 'string') out.incident = opts.incident;
  if (typeof opts.ratifies === 'string') out.ratifies = opts.ratifies;
  if (typeof opts.validFor === 'string') out.validUntil = now + parseDuration(opts.validFor);
  return out;
}

/** Adds `--incident`, `--ratifies` and `--valid-for` to the `request` command main.ts defines. */
export function extendRequest(program: Command): void {
  const request = program.commands.find((c) => c.name() === 'request');
  if (request === undefined) return;
  request
    .option(
      '--incident <id>',
      'hotfix: the incident this answers (signed; the policy may require it)',
    )
    .option(
      '--ratifies <ceremony>',
      'standard: the hotfix ceremony this release ratifies (within the policy window)',
    )
    .option(
      '--valid-for <duration>',
      'the statement expires after this long (30d, 12h, …); the policy may cap it',
    );
  request.addHelpText(
    'after',
    '\nEmergency hotfix: conclave request --class hotfix --incident INC-42 … (short approval window;\n' +
      'every agent of the group shows it at once). Ratify it later with a standard request:\n' +
      'conclave request --ratifies HOTFIX_CEREMONY_ID … (docs/runbooks/emergency-hotfix.md)\n',
  );
}

// ---------------------------------------------------------------------------------------------
// Running a governance ceremony (policy change, revocation) from the requester's side

/** Polls until the ceremony ends, printing progress and what the policy still waits for. */
export async function awaitCeremony(
  session: MemberSession,
  id: string,
  ctx: Ctx,
  timeoutS: number,
): Promise<{ end: CeremonyEnd; status: CeremonyStatus }> {
  const ended = session.waitForEnd(id);
  let last = '';
  let stopped = false;
  const poll = async (): Promise<{ end: CeremonyEnd; status: CeremonyStatus }> => {
    for (;;) {
      let s: CeremonyStatus;
      try {
        s = await session.connection.status(id);
      } catch (err) {
        if (!isClientError(err, 'CONNECTION_CLOSED') && !isClientError(err, 'TIMEOUT')) throw err;
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const line = progressLine(s); // says what the policy still waits for
      if (line !== last) {
        last = line;
        ctx.progress(line);
      }
      if (isTerminal(s.state)) {
        const end = await Promise.race([
          ended,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000)),
        ]);
        return { end: end ?? { state: s.state, status: s }, status: s };
      }
      if (stopped) return new Promise(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  try {
    return await withTimeout(poll(), timeoutS, `ceremony ${id}`);
  } finally {
    stopped = true;
  }
}

/** Sends a governance request; waits for its end unless --no-wait. */
export async function submitGovernance(
  session: MemberSession,
  group: string,
  release: Release,
  o: WaitOptions,
  ctx: Ctx,
): Promise<{ ceremonyId: string; end?: CeremonyEnd; status?: CeremonyStatus }> {
  const ceremonyId = newCeremonyId();
  await session.connection.send(ceremonyId, '0', { type: 'sign.request', group, release });
  await session.home.saveRecord(ceremonyId, {
    ceremonyId,
    group,
    requester: session.member,
    release,
  });
  ctx.progress(
    `requested ${ceremonyId} (${release.class}); approvers run: conclave approve ${ceremonyId}`,
  );
  if (!o.wait) return { ceremonyId };
  const r = await awaitCeremony(session, ceremonyId, ctx, o.timeout);
  return { ceremonyId, ...r };
}

/** CEREMONY_FAILED (with the coordinator's code) unless the ceremony completed. */
export function requireSigned(
  id: string,
  r: { end?: CeremonyEnd; status?: CeremonyStatus },
): Extract<CeremonyEnd, { state: 'completed' }> {
  const end = r.end;
  if (end !== undefined && 'complete' in end) return end;
  if (end !== undefined && 'code' in end) {
    throw new CliError(end.code, `${id} ended without a signature: ${end.message}`);
  }
  throw new CliError('CEREMONY_FAILED', `${id} ended ${r.status?.state ?? 'without a signature'}`);
}

// ---------------------------------------------------------------------------------------------
// release revoke

export async function cmdReleaseRevoke(
  id: string,
  o: GlobalOptions & WaitOptions & { reason: string },
  ctx: Ctx,
): Promise<void> {
  const session = await openSession(o, ctx, { reconnect: o.wait });
  try {
    // The revoked release, rebuilt by this member from the request it verifies and checked
    // against the signed digest: the revocation names exactly what the group signed.
    const ended = session.waitForEnd(id);
    const { review, status } = await session.review(id);
    if (!/completed$/.test(status.state)) {
      throw new CliError(
        'REVOCATION_INVALID',
        `${id} is ${status.state}: only signed releases are revoked`,
      );
    }
    if (review.release.class !== 'standard' && review.release.class !== 'hotfix') {
      throw new CliError(
        'REVOCATION_INVALID',
        `${id} is a ${review.release.class} record, not a release`,
      );
    }
    const end = await withTimeout(ended, 15, `the outcome of ${id}`);
    if (!('complete' in end)) throw new CliError('SIGNATURE_UNAVAILABLE', `${id} has no signature`);
    // Authenticated metadata (review() opened the share already: one scrypt), not the header.
    const meta = (await session.share(review.group)).metadata;
    const found = recoverStatement(review, meta, end.complete);
    if (found === undefined) {
      throw new CliError(
        'STATEMENT_MISMATCH',
        'no statement rebuilt from the request matches the signature',
      );
    }
    const statement = buildStatement(found.release, found.context);
    const revokes = {
      ceremonyId: id,
      statementDigest: statementDigest(statement),
      version: review.release.version,
      artifacts: statement.subject.map((s) => ({
        name: s.name,
        sha256: s.digest.sha256,
        sha512: s.digest.sha512,
      })),
      reason: o.reason,
    };
    const release: Release = {
      version: review.release.version,
      class: 'revocation',
      note: `revoke ${id}: ${o.reason}`.slice(0, 1024),
      artifacts: [documentArtifact(`revocation-${id}.json`, revokes)],
      formats: ['dsse'],
      revokes,
    };
    const r = await submitGovernance(session, review.group, release, o, ctx);
    if (!o.wait) {
      ctx.result(
        { ceremonyId: r.ceremonyId, revokes: id, state: 'requested' },
        `Requested revocation ${r.ceremonyId} of ${id}\nApprovers run: conclave approve ${r.ceremonyId}`,
      );
      return;
    }
    const signed = requireSigned(r.ceremonyId, r);
    ctx.result(
      {
        ceremonyId: r.ceremonyId,
        revokes: id,
        version: review.release.version,
        reason: o.reason,
        signers: signed.complete.signers,
        statementDigest: signed.complete.statementDigest,
      },
      `Revoked ${id} (${review.release.version}) in ${r.ceremonyId}, signed by ${signed.complete.signers.join(', ')}\n` +
        `  export the list for verifiers: conclave release revocations --group ${review.group} --out revocations.json`,
    );
  } finally {
    await session.close();
  }
}

/** The member's group: --group, or its only share. */
export async function groupOf(session: MemberSession, group: string | undefined): Promise<string> {
  if (group !== undefined) return group;
  const shares = await session.home.listShares();
  if (shares.length === 1 && shares[0] !== undefined) return shares[0];
  throw new CliError(
    'INVALID_ARGUMENT',
    shares.length === 0
      ? 'this home holds no share: pass --group GROUP'
      : `this home holds shares of ${shares.join(', ')}: pass --group GROUP`,
    2,
  );
}

// ---------------------------------------------------------------------------------------------
// release revocations

export async function cmdReleaseRevocations(
  o: GlobalOptions & { group?: string; out?: string },
  ctx: Ctx,
): Promise<void> {
  if (o.group !== undefined) checkName('group', o.group);
  const session = await openSession(o, ctx);
  try {
    const group = await groupOf(session, o.group);
    // The group key every revocation must verify under: from the share as authenticated by the
    // passphrase, never from its header alone (anyone who can write the home could edit that).
    const meta = (await session.share(group)).metadata;
    const entries: RevocationEntry[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const page: Revocations = await session.connection.query<Revocations>(
        { type: 'revocations.get', group, offset },
        'revocations',
      );
      entries.push(...page.entries);
      offset = page.next;
    }
    const bytes = buildRevocationList({
      group,
      groupPublicKey: meta.groupPublicKey,
      entries,
      exportedAt: Date.now(),
    });
    // Every entry must be a revocation a quorum of our own group key signed before it is written.
    const check = readRevocationList(bytes, meta.groupPublicKey);
    if (!check.ok) throw new CliError(check.code, check.reason);
    const summary = check.revocations.map((r) => ({
      ceremonyId: r.ceremonyId,
      revokedCeremony: r.revokedCeremony,
      version: r.revokedVersion,
      reason: r.reason,
      issuedAt: r.issuedAt,
    }));
    if (o.out === undefined) {
      if (ctx.json) {
        ctx.result(
          {
            group,
            groupPublicKey: meta.groupPublicKey,
            revocations: summary,
            list: JSON.parse(new TextDecoder().decode(bytes)) as unknown,
          },
          '',
        );
      } else {
        process.stdout.write(new TextDecoder().decode(bytes));
      }
      return;
    }
    const out = resolve(o.out);
    // docs/policy.md: export it again after every revocation, over the old list: replaced
    // atomically (a verifier never reads half a list), never through a symlink.
    await writeOutput(out, bytes, { overwrite: true });
    ctx.result(
      { group, groupPublicKey: meta.groupPublicKey, out, revocations: summary },
      `${summary.length} signed revocation(s) of ${group} written to ${out}\n` +
        summary.map((r) => `  ${r.revokedCeremony} (${r.version}): ${r.reason}`).join('\n') +
        (summary.length > 0 ? '\n' : '') +
        `  verifiers: conclave verify --revocations ${o.out} …`,
    );
  } finally {
    await session.close();
  }
}

// ---------------------------------------------------------------------------------------------
// status (no id: hotfixes and policies; with an id: the ceremony and what its policy waits for)

const when = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function hotfixLine(h: Hotfix): string {
  const incident = h.incident === undefined ? '' : ` incident ${h.incident}`;
  switch (h.state) {
    case 'ratified':
      return `  ${h.ceremonyId} ${h.group} ${h.version}${incident}: ratified by ${h.ratifiedBy ?? '?'}`;
    case 'overdue':
      return `  ${h.ceremonyId} ${h.group} ${h.version}${incident}: NOT RATIFIED — window passed ${when(h.ratifyBy)} (flagged); ratify: conclave request --ratifies ${h.ceremonyId} …`;
    case 'unratified':
      return `  ${h.ceremonyId} ${h.group} ${h.version}${incident}: unratified, ratify by ${when(h.ratifyBy)}: conclave request --ratifies ${h.ceremonyId} …`;
  }
}

export async function cmdGovernanceStatus(
  id: string | undefined,
  o: GlobalOptions,
  ctx: Ctx,
): Promise<void> {
  const session = await openSession(o, ctx);
  try {
    if (id !== undefined) {
      const status = await session.connection.status(id);
      const lines = [
        `${status.ceremonyId} (${status.kind}, group ${status.group}): ${status.state}`,
        `  ${progressLine(status)}`,
      ];
      // progressLine says what the policy still waits for, or why it was cancelled.
      if (status.policy !== undefined) lines.push(`  policy ${status.policy.id}`);
      const release = status.request?.body.release;
      let hotfix: Hotfix | undefined;
      if (release?.class === 'hotfix') {
        const banner = hotfixBanner(status, Date.now());
        if (banner !== null && !isTerminal(status.state)) lines.push(banner);
        const list = await session.connection.query<{ hotfixes: Hotfix[] }>(
          { type: 'hotfix.list.get', group: status.group },
          'hotfix.list',
        );
        hotfix = list.hotfixes.find((h) => h.ceremonyId === id);
        if (hotfix !== undefined) lines.push(hotfixLine(hotfix));
      }
      ctx.result({ status, ...(hotfix === undefined ? {} : { hotfix }) }, lines.join('\n'));
      return;
    }
    const { hotfixes } = await session.connection.query<{ hotfixes: Hotfix[] }>(
      { type: 'hotfix.list.get' },
      'hotfix.list',
    );
    const pins = new PolicyPins(session.home.dir);
    const policies: Record<string, unknown>[] = [];
    for (const group of await session.home.listShares()) {
      try {
        // "verified" means under the group key authenticated by the passphrase (one scrypt per
        // share), not the header's; a share that fails to open (KEYSTORE_DECRYPT_FAILED) is
        // reported as unverified for its group.
        const meta = (await session.share(group)).metadata;
        const { policy } = await currentVerifiedPolicy(session.connection, meta, pins);
        policies.push({ group, policyId: policy.policyId, verified: true });
      } catch (err) {
        if (!isClientError(err)) throw err;
        policies.push({ group, verified: false, code: err.code, message: err.message });
      }
    }
    const open = hotfixes.filter((h) => h.state !== 'ratified');
    const lines = [
      ...policies.map((p) =>
        p['verified'] === true
          ? `${String(p['group'])}: policy ${String(p['policyId'])} (verified)`
          : `${String(p['group'])}: POLICY UNVERIFIED — ${String(p['message'])}`,
      ),
      open.length === 0
        ? 'no unratified hotfixes'
        : `${open.length} unratified hotfix(es):\n${open.map(hotfixLine).join('\n')}`,
    ];
    ctx.result({ policies, hotfixes, unratified: open.length }, lines.join('\n'));
  } finally {
    await session.close();
  }
}

// ---------------------------------------------------------------------------------------------
// registration

export function registerRelease(program: Command, h: CliHelpers): void {
  extendRequest(program);
  const release = program
    .command('release')
    .description('revoke a signed release; export the signed revocation list (docs/policy.md)');
  h.common(
    release
      .command('revoke <id>')
      .description(
        'a quorum ceremony that signs a revocation of release ID; verifiers refuse it with --revocations',
      )
      .requiredOption('--reason <text>', 'why (inside the signed revocation statement)')
      .option('--no-wait', 'return once the request is recorded')
      .option('--timeout <seconds>', 'give up waiting after this long', h.seconds, 600)
      .addHelpText('after', h.passphraseHelp),
  ).action(
    h.run<GlobalOptions & WaitOptions & { reason: string }>((o, ctx, id) => {
      checkCeremonyId(id ?? '');
      return cmdReleaseRevoke(id ?? '', o, ctx);
    }),
  );
  h.common(
    release
      .command('revocations')
      .description(
        'the current revocation list: every signed revocation statement of the group in one JSON file, verified under your group key',
      )
      .option('--group <group>', 'the group (default: the only group this home holds a share of)')
      .option('--out <file>', 'write the list here (default: stdout)')
      .addHelpText('after', h.passphraseHelp),
  ).action(
    h.run<GlobalOptions & { group?: string; out?: string }>((o, ctx) =>
      cmdReleaseRevocations(o, ctx),
    ),
  );
}
