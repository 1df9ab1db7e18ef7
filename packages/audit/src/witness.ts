// A member's client witnesses the log (issue 6, "Members' clients witness the log"): it keeps the
// last checkpoint it accepted, and cosigns a newer one only if the log proves the newer tree
// extends the older one (RFC 9162 §2.1.4.2). A coordinator that forks or rewrites history is
// caught by the first client that connects afterwards: the result says which rule broke and
// carries both signed checkpoints as evidence.
import { verifyConsistency } from '@conclave/release';
import {
  openCheckpoint,
  parseCheckpointBody,
  type Checkpoint,
  type SignedCheckpoint,
} from './checkpoint.js';
import { cosign, type Cosignature, type Witness } from './cosignature.js';
import { AuditError, type AuditResult } from './errors.js';
import { formatSignatureLine, type NoteVerifier } from './note.js';

export interface WitnessInput {
  /** The checkpoint this witness accepted last (its note text, or the parsed checkpoint). */
  readonly lastSeen?: string | Checkpoint | undefined;
  /** The log's new checkpoint, as served (note text). */
  readonly next: string;
  /** RFC 9162 consistency proof from lastSeen.size to next.size. */
  readonly consistencyProof: readonly Uint8Array[];
  /** The log's pinned key (key name = origin). */
  readonly coordinatorKey: NoteVerifier;
  /** Who cosigns. */
  readonly witness: Witness;
  /** Milliseconds since the epoch (the cosignature records whole seconds). */
  readonly now: number;
}

export interface Witnessed {
  readonly checkpoint: SignedCheckpoint;
  readonly cosignature: Cosignature;
  /** The signature line to send back to the log (`— name base64…\n`). */
  readonly line: string;
}

/** Evidence attached to LOG_FORK_DETECTED / LOG_ROLLBACK: both checkpoints as the log signed them. */
export class LogMisbehaviour extends AuditError {
  constructor(
    code: 'LOG_FORK_DETECTED' | 'LOG_ROLLBACK',
    message: string,
    readonly lastSeen: string,
    readonly next: string,
  ) {
    super(code, message);
  }
}

const equal = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Checks `next` against `lastSeen` and cosigns it. Failures (codes): NOTE_* / CHECKPOINT_MALFORMED
 * (bad note or signature), CHECKPOINT_ORIGIN_MISMATCH (another log), LOG_ROLLBACK (smaller tree
 * than already seen), LOG_FORK_DETECTED (same size, other root; or no valid consistency proof).
 */
export function witnessCheckpoint(input: WitnessInput): AuditResult<Witnessed> {
  let next: SignedCheckpoint;
  try {
    next = openCheckpoint(input.next, input.coordinatorKey);
  } catch (e) {
    if (e instanceof AuditError) return { ok: false, error: e };
    throw e;
  }
  const last =
    input.lastSeen === undefined
      ? undefined
      : typeof input.lastSeen === 'string'
        ? parseLast(input.lastSeen)
        : input.lastSeen;
  if (last instanceof AuditError) return { ok: false, error: last };
  if (last !== undefined) {
    if (last.origin !== next.origin) {
      return {
        ok: false,
        error: new AuditError('CHECKPOINT_ORIGIN_MISMATCH', 'checkpoint is from another log'),
      };
    }
    const evidence = (code: 'LOG_FORK_DETECTED' | 'LOG_ROLLBACK', message: string) => ({
      ok: false as const,
      error: new LogMisbehaviour(code, message, last.body, next.note),
    });
    if (next.size < last.size) {
      return evidence(
        'LOG_ROLLBACK',
        `the log shows ${next.size} entries after it had shown ${last.size}: it rolled back`,
      );
    }
    if (next.size === last.size && !equal(next.root, last.root)) {
      return evidence(
        'LOG_FORK_DETECTED',
        `the log signed two different trees of ${next.size} entries: it forked`,
      );
    }
    if (
      next.size > last.size &&
      !verifyConsistency(last.size, next.size, last.root, next.root, input.consistencyProof)
    ) {
      return evidence(
        'LOG_FORK_DETECTED',
        `the log could not prove its ${next.size}-entry tree extends the ${last.size}-entry tree seen before: history was rewritten`,
      );
    }
  }
  const cosignature = cosign(input.witness, next.body, Math.floor(input.now / 1000));
  return {
    ok: true,
    value: { checkpoint: next, cosignature, line: formatSignatureLine(cosignature) },
  };
}

function parseLast(text: string): Checkpoint | AuditError {
  try {
    // A stored checkpoint may be the bare body or the whole note.
    const blank = text.indexOf('\n\n');
    return parseCheckpointBody(blank < 0 ? text : text.slice(0, blank + 1));
  } catch (e) {
    if (e instanceof AuditError) return e;
    throw e;
  }
}
