/**
 * What one signing ceremony signs: the jobs (one message each) of every phase, built the same way
 * by the coordinator and by every signer from the structured request (DESIGN.md "Signing what was
 * approved"), on top of the format planner (formats/plan.ts). The statement (job `dsse`) is always
 * signed: it is the ceremony's own record, and the DSSE and Sigstore outputs reuse its signature.
 */
import { planJobs, jobIds } from './formats/plan.js';
import type { FormatContext, FormatRelease, GitTagInput } from './formats/types.js';
import { fromHex } from './formats/encoding.js';
import { fail } from './formats/errors.js';
import { buildStatement, type StatementContext } from './statement.js';

/** The statement's job: DSSE PAE of the in-toto statement. Always the first job of phase 1. */
export const STATEMENT_JOB = 'dsse';

/** Formats whose messages contain the artifact bytes themselves (every signer needs the file). */
export const CONTENT_FORMATS = ['raw', 'openpgp'] as const;

/** The release as a parsed request carries it (optional fields may be present as undefined). */
export type PlanRelease = Omit<FormatRelease, 'git'> & { readonly git?: GitTagInput | undefined };

export interface PlanInput {
  readonly release: PlanRelease;
  readonly context: StatementContext;
  /** Unix seconds at which the group key was made (OpenPGP key packets carry it). */
  readonly keyCreatedAt: number;
  /** Content formats (raw, OpenPGP document signatures) sign the artifact bytes themselves. */
  readonly artifactBytes?: (name: string) => Uint8Array;
}

export interface PlannedJob {
  readonly id: string;
  readonly message: Uint8Array;
}

type JobsRelease = Parameters<typeof jobIds>[0];

/** How many phases the release needs (2 when a format chains on a first signature). */
export function phaseCount(release: JobsRelease): number {
  return jobIds(release, 2).length > 0 ? 2 : 1;
}

/** The job ids of `phase`, in order; known from the request alone (approvers commit one each). */
export function jobIdsFor(release: JobsRelease, phase: number): string[] {
  return phase === 1 || phase === 2 ? jobIds(release, phase) : [];
}

/** True when the release asks for a format that signs the artifact bytes themselves. */
export function needsArtifactBytes(release: { readonly formats: readonly string[] }): boolean {
  return release.formats.some((f) => (CONTENT_FORMATS as readonly string[]).includes(f));
}

/** The format planner's context for a statement context. */
export function formatContext(input: PlanInput): FormatContext {
  const key = fromHex(input.context.groupPublicKey, 32);
  if (key === undefined) fail('PUBLIC_KEY_INVALID', 'the group public key is not 32 bytes of hex');
  const { git, ...rest } = input.release;
  const release: FormatRelease = git === undefined ? rest : { ...rest, git };
  return {
    groupPublicKey: key,
    group: input.context.group,
    statement: buildStatement(release, input.context),
    release,
    keyCreatedAt: input.keyCreatedAt,
    signedAt: Math.floor(input.context.issuedAt / 1000),
    ...(input.artifactBytes === undefined ? {} : { artifactBytes: input.artifactBytes }),
  };
}

/**
 * Every job of `phase` with the exact bytes the quorum signs. `previous` holds the signatures of
 * earlier phases that this phase covers (minisign's global signatures cover the first ones).
 */
export function planMessages(
  input: PlanInput,
  phase: number,
  previous: ReadonlyMap<string, Uint8Array> = new Map(),
): PlannedJob[] {
  const ctx = formatContext(input);
  const jobs = phase === 2 ? planJobs(ctx, 2, previous) : phase === 1 ? planJobs(ctx, 1) : [];
  return jobs.map((j) => ({ id: j.id, message: j.message }));
}
