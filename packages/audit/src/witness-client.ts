// A member client's witnessing round over any transport (the client passes its HTTP calls in, so
// this stays free of I/O): fetch the newest checkpoint, ask for a consistency proof from the one
// accepted last, check and cosign it (witness.ts), and hand the cosignature back to the log.
// The caller stores `accepted` as its new last-seen checkpoint only when the result is ok; on
// LOG_FORK_DETECTED / LOG_ROLLBACK it keeps both checkpoints (the error carries them) and warns.
import { decodeBase64 } from './base64.js';
import { parseCheckpointBody } from './checkpoint.js';
import type { Witness } from './cosignature.js';
import { AuditError, type AuditResult } from './errors.js';
import type { NoteVerifier } from './note.js';
import { witnessCheckpoint } from './witness.js';

/** The witness name of a member: its identity key cosigns as `conclave.member/<name>`. */
export function witnessName(member: string): string {
  return `conclave.member/${member}`;
}

export interface LogTransport {
  /** GET /v1/log/checkpoint: the newest checkpoint note. */
  checkpoint(): Promise<string>;
  /** GET /v1/log/proof/consistency?from=&to=: base64 hashes. */
  consistency(from: number, to: number): Promise<readonly string[]>;
  /** POST /v1/log/cosign (member-authenticated). */
  submit(checkpoint: string, cosignature: string): Promise<void>;
}

export interface WitnessRound {
  /** The checkpoint body now accepted (store it as the next `lastSeen`). */
  readonly accepted: string;
  readonly size: number;
  /** The cosignature line sent to the log. */
  readonly line: string;
}

export async function witnessLog(options: {
  readonly transport: LogTransport;
  readonly lastSeen?: string | undefined;
  readonly logKey: NoteVerifier;
  readonly witness: Witness;
  readonly now: number;
}): Promise<AuditResult<WitnessRound>> {
  const note = await options.transport.checkpoint();
  let from = 0;
  let to: number;
  try {
    to = parseCheckpointBody(bodyOf(note)).size;
    if (options.lastSeen !== undefined) from = parseCheckpointBody(bodyOf(options.lastSeen)).size;
  } catch (e) {
    if (e instanceof AuditError) return { ok: false, error: e };
    throw e;
  }
  let proof: Uint8Array[] = [];
  if (options.lastSeen !== undefined && from > 0 && from < to) {
    const hashes = await options.transport.consistency(from, to);
    const decoded = hashes.map(decodeBase64);
    if (decoded.some((h) => h === undefined || h.length !== 32)) {
      return {
        ok: false,
        error: new AuditError('LOG_PROOF_INVALID', 'the log sent a malformed consistency proof'),
      };
    }
    proof = decoded as Uint8Array[];
  }
  const result = witnessCheckpoint({
    lastSeen: options.lastSeen,
    next: note,
    consistencyProof: proof,
    coordinatorKey: options.logKey,
    witness: options.witness,
    now: options.now,
  });
  if (!result.ok) return result;
  await options.transport.submit(note, result.value.line);
  return {
    ok: true,
    value: {
      accepted: result.value.checkpoint.body,
      size: result.value.checkpoint.size,
      line: result.value.line,
    },
  };
}

function bodyOf(note: string): string {
  const blank = note.indexOf('\n\n');
  return blank < 0 ? note : note.slice(0, blank + 1);
}
