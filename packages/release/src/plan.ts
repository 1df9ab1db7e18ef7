/**
 * What one signing ceremony signs: the jobs (one message each) of every phase, built the same way
 * by the coordinator and by every signer from the structured request (DESIGN.md "Signing what was
 * approved"). The statement (job `dsse`) is always signed: it is the ceremony's own record, and
 * the DSSE and Sigstore outputs reuse its signature.
 */
import { messageToSign, type ReleaseInput, type StatementContext } from './statement.js';

/** The statement's job: DSSE PAE of the in-toto statement. Always the first job of phase 1. */
export const STATEMENT_JOB = 'dsse';

export interface PlanInput {
  readonly release: ReleaseInput;
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

/** How many phases the release needs (2 when a format chains on a first signature). */
export function phaseCount(_release: ReleaseInput): number {
  return 1;
}

/** The job ids of `phase`, in order; known from the request alone (approvers commit one each). */
export function jobIdsFor(_release: ReleaseInput, phase: number): string[] {
  return phase === 1 ? [STATEMENT_JOB] : [];
}

/**
 * Every job of `phase` with the exact bytes the quorum signs. `previous` holds the signatures of
 * earlier phases that this phase covers.
 */
export function planMessages(
  input: PlanInput,
  phase: number,
  _previous: ReadonlyMap<string, Uint8Array> = new Map(),
): PlannedJob[] {
  if (phase !== 1) return [];
  return [{ id: STATEMENT_JOB, message: messageToSign(input.release, input.context) }];
}
