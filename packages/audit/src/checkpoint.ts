// Checkpoints, c2sp.org/tlog-checkpoint: a signed note whose text is
//   <origin>\n<tree size, decimal, no leading zeroes>\n<base64 RFC 9162 root hash>\n[extension lines]
// signed by the log under the key name = origin (tlog-checkpoint §Signatures).
import { decodeBase64, encodeBase64 } from './base64.js';
import { AuditError } from './errors.js';
import {
  isValidKeyName,
  openNote,
  signNote,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
} from './note.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** 32-byte RFC 9162 Merkle tree hash. */
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
  /** The note text these fields came from (what the log and witnesses sign). */
  readonly body: string;
}

export interface SignedCheckpoint extends Checkpoint {
  /** The whole note: body, blank line, signature lines. */
  readonly note: string;
  readonly signatures: readonly NoteSignature[];
}

function malformed(message: string): AuditError {
  return new AuditError('CHECKPOINT_MALFORMED', message);
}

/** The note text of a checkpoint (tlog-checkpoint §Note text). */
export function checkpointBody(fields: {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions?: readonly string[];
}): string {
  if (!isValidKeyName(fields.origin)) throw malformed('origin must be a valid key name');
  if (!Number.isSafeInteger(fields.size) || fields.size < 0) {
    throw malformed('size must be a non-negative safe integer');
  }
  if (!(fields.root instanceof Uint8Array) || fields.root.length !== 32) {
    throw malformed('root must be 32 bytes');
  }
  const ext = fields.extensions ?? [];
  for (const line of ext) {
    if (line.length === 0 || line.includes('\n')) throw malformed('bad extension line');
  }
  return [fields.origin, String(fields.size), encodeBase64(fields.root), ...ext]
    .map((l) => `${l}\n`)
    .join('');
}

/** Parses checkpoint note text (not the signatures). Throws CHECKPOINT_MALFORMED. */
export function parseCheckpointBody(body: string): Checkpoint {
  if (typeof body !== 'string' || !body.endsWith('\n')) {
    throw malformed('checkpoint text must end with a newline');
  }
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed('a checkpoint has at least three lines');
  if (lines.some((l) => l.length === 0)) throw malformed('checkpoint lines must not be empty');
  const [origin = '', sizeText = '', rootText = '', ...extensions] = lines;
  if (!isValidKeyName(origin)) throw malformed('origin is not a valid name');
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(sizeText)) throw malformed('size is not a decimal number');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw malformed('size is too large');
  const root = decodeBase64(rootText);
  if (root === undefined || root.length !== 32) throw malformed('root is not 32 bytes of base64');
  return { origin, size, root, extensions, body };
}

/** Signs a checkpoint as the log (key name = origin). Returns the note text. */
export function signCheckpoint(
  signer: NoteSigner,
  fields: { origin: string; size: number; root: Uint8Array },
): string {
  if (signer.name !== fields.origin) {
    throw new AuditError('CHECKPOINT_ORIGIN_MISMATCH', 'the log key name must be the origin');
  }
  return signNote(checkpointBody(fields), [signer]);
}

/**
 * Verifies a checkpoint note against the log's key: the log's signature must verify and its key
 * name must be the origin line (CHECKPOINT_ORIGIN_MISMATCH otherwise). Other signatures (e.g.
 * cosignatures) are kept, unverified.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  logKey: NoteVerifier,
  extra: readonly NoteVerifier[] = [],
): SignedCheckpoint {
  const opened = openNote(note, [logKey, ...extra]);
  if (!opened.verified.some((s) => s.name === logKey.name && s.keyId === logKey.keyId)) {
    throw new AuditError('NOTE_UNVERIFIED', 'checkpoint is not signed by the log key');
  }
  const cp = parseCheckpointBody(opened.text);
  if (cp.origin !== logKey.name) {
    throw new AuditError('CHECKPOINT_ORIGIN_MISMATCH', 'checkpoint origin is not the log key name');
  }
  const text = typeof note === 'string' ? note : new TextDecoder().decode(note);
  return { ...cp, note: text, signatures: opened.signatures };
}
