/**
 * `conclave policy show [GROUP]` and `conclave policy set GROUP --file policy.json` (docs/policy.md).
 * `show` prints a policy only after verifying the group's quorum signature over it under this
 * member's own copy of the group key; `set` opens a signing ceremony of class `policy` whose
 * statement binds the new document's digest — the coordinator stores the version only once a
 * quorum of the current policy signed it.
 */
import { readFile } from 'node:fs/promises';
import {
  PolicyPins,
  currentVerifiedPolicy,
  describePolicyDocument,
  type VerifiedPolicy,
} from '@conclave/client';
import {
  POLICY_SCHEMA,
  PolicyDocumentSchema,
  type PolicyDocument,
  type PolicyInfo,
  type Release,
} from '@conclave/protocol';
import { documentArtifact } from '@conclave/release';
import type { Command } from 'commander';
import * as z from 'zod';
import { checkName, openSession } from '../commands.js';
import { CliError } from '../errors.js';
import type { Ctx, GlobalOptions } from '../output.js';
import { groupOf, requireSigned, submitGovernance, type CliHelpers } from './release.js';

function describe(policy: VerifiedPolicy, threshold: number): string {
  const origin =
    policy.ceremonyId === undefined
      ? 'the default policy (no policy set yet)'
      : `verified: signed by a quorum of ${policy.group} in ${policy.ceremonyId}, under ${policy.signedUnder ?? '?'}`;
  return [
    `${policy.policyId} — ${origin}`,
    ...describePolicyDocument(policy.document, threshold),
  ].join('\n');
}

export async function cmdPolicyShow(
  group: string | undefined,
  o: GlobalOptions,
  ctx: Ctx,
): Promise<void> {
  if (group !== undefined) checkName('group', group);
  const session = await openSession(o, ctx);
  try {
    const name = await groupOf(session, group);
    // The policy is verified under the group key authenticated by the passphrase, never the
    // share header's alone (anyone who can write the home could edit that).
    const meta = (await session.share(name)).metadata;
    const { policy, info } = await currentVerifiedPolicy(
      session.connection,
      meta,
      new PolicyPins(session.home.dir),
    );
    ctx.result(
      {
        group: name,
        version: policy.version,
        policyId: policy.policyId,
        verified: true,
        threshold: info.threshold,
        document: policy.document,
        ...(policy.ceremonyId === undefined
          ? {}
          : { signedIn: policy.ceremonyId, signedUnder: policy.signedUnder }),
      },
      describe(policy, info.threshold),
    );
  } finally {
    await session.close();
  }
}

/** Reads a policy file; `schema`, `group` and `version` (the next one) are filled in if absent. */
export async function readPolicyFile(
  file: string,
  group: string,
  nextVersion: number,
): Promise<PolicyDocument> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new CliError('INVALID_ARGUMENT', `cannot read ${file} as JSON`, 2);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError('INVALID_ARGUMENT', `${file} is not a JSON object`, 2);
  }
  const parsed = PolicyDocumentSchema.safeParse({
    schema: POLICY_SCHEMA,
    group,
    version: nextVersion,
    ...raw,
  });
  if (!parsed.success) {
    throw new CliError('POLICY_INVALID', `${file}: ${z.prettifyError(parsed.error)}`, 2);
  }
  return parsed.data;
}

export async function cmdPolicySet(
  group: string,
  o: GlobalOptions & { file: string; note?: string; wait: boolean; timeout: number },
  ctx: Ctx,
): Promise<void> {
  checkName('group', group);
  const session = await openSession(o, ctx, { reconnect: o.wait });
  try {
    // Authenticated by the passphrase (see cmdPolicyShow); also the threshold shown below.
    const meta = (await session.share(group)).metadata;
    const pins = new PolicyPins(session.home.dir);
    const { policy: current } = await currentVerifiedPolicy(session.connection, meta, pins);
    const doc = await readPolicyFile(o.file, group, current.version + 1);
    ctx.progress(
      `proposing ${group}@v${doc.version} (in force: ${current.policyId}); a quorum under ${current.policyId} must sign it`,
    );
    for (const line of describePolicyDocument(doc, meta.threshold)) ctx.progress(line);
    const release: Release = {
      version: `policy-${doc.version}`,
      class: 'policy',
      note: o.note ?? `policy ${group}@v${doc.version}`,
      artifacts: [documentArtifact(`policy-${group}-v${doc.version}.json`, doc)],
      formats: ['dsse'],
      policy: doc,
    };
    const r = await submitGovernance(session, group, release, o, ctx);
    if (!o.wait) {
      ctx.result(
        { ceremonyId: r.ceremonyId, group, version: doc.version, state: 'requested' },
        `Requested policy change ${r.ceremonyId} (${group}@v${doc.version})\nApprovers run: conclave approve ${r.ceremonyId}`,
      );
      return;
    }
    const signed = requireSigned(r.ceremonyId, r);
    // Only now, and only if its signature verifies here too, is the new version in force.
    const info = await session.connection.query<PolicyInfo>(
      { type: 'policy.get', group, version: doc.version },
      'policy.info',
    );
    const { policy } = await currentVerifiedPolicy({ query: async <T>() => info as T }, meta, pins);
    ctx.result(
      {
        ceremonyId: r.ceremonyId,
        group,
        version: policy.version,
        policyId: policy.policyId,
        signers: signed.complete.signers,
        approvers: signed.complete.approvers,
      },
      `${policy.policyId} is in force, signed by ${signed.complete.signers.join(', ')} (approved by ${signed.complete.approvers.join(', ')}) in ${r.ceremonyId}`,
    );
  } finally {
    await session.close();
  }
}

export function registerPolicy(program: Command, h: CliHelpers): void {
  const policy = program
    .command('policy')
    .description(
      'the group policy: who may request, quorum, roles, artifacts, deadlines (docs/policy.md)',
    );
  h.common(
    policy
      .command('show [group]')
      .description("the group's policy in force, after verifying the quorum signature over it")
      .addHelpText('after', h.passphraseHelp),
  ).action(h.run<GlobalOptions>((o, ctx, group) => cmdPolicyShow(group, o, ctx)));
  h.common(
    policy
      .command('set <group>')
      .description(
        'propose a new policy: a signing ceremony of the group under the current policy; stored only once a quorum signed',
      )
      .requiredOption(
        '--file <policy.json>',
        'the policy document (schema, group, version filled in if absent)',
      )
      .option('--note <text>', 'a note for the approvers')
      .option('--no-wait', 'return once the request is recorded')
      .option('--timeout <seconds>', 'give up waiting after this long', h.seconds, 600)
      .addHelpText('after', h.passphraseHelp),
  ).action(
    h.run<GlobalOptions & { file: string; note?: string; wait: boolean; timeout: number }>(
      (o, ctx, group) => cmdPolicySet(group ?? '', o, ctx),
    ),
  );
}
