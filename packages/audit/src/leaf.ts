// Log leaves. One leaf per finished ceremony (signing, key), admin operation or governance event
// (a hotfix left unratified past its window): the canonical JSON of a small record that names the
// ceremony, its outcome and the digest of its whole transcript. Kinds only ever get added, so
// leaves of an older log keep their exact bytes and still verify.
// The transcript digest is a hash chain over the stored entries, in order (THREATS D.51):
//   h₀ = 32 zero bytes
//   hᵢ₊₁ = SHA-256("conclave/v1/transcript\n" ‖ hᵢ ‖ SHA-256(canonicalJson(entryᵢ)))
// where entryᵢ = {idx, direction, sender, recipient, at, envelope} (the envelope with its signature).
import { sha256 } from '@conclave/frost';
import {
  CeremonyIdSchema,
  EnvelopeSchema,
  Sha256HexSchema,
  TimestampSchema,
  bytesToHex,
  canonicalJson,
  type Envelope,
} from '@conclave/protocol';
import { leafHash } from '@conclave/release';
import * as z from 'zod';
import { AuditError } from './errors.js';

export const LEAF_FORMAT = 'conclave-log-leaf/v1';
export const LEAF_KINDS = ['sign', 'key', 'admin', 'governance'] as const;
export type LeafKind = (typeof LEAF_KINDS)[number];
/** Outcomes a `governance` leaf may carry (the type of the one envelope it covers). */
export const GOVERNANCE_OUTCOMES = ['hotfix.overdue'] as const;
/** Largest leaf accepted from hostile input (real ones are ~300 bytes). */
export const LEAF_MAX_BYTES = 4096;

export const LogLeafSchema = z
  .strictObject({
    format: z.literal(LEAF_FORMAT),
    ceremonyId: CeremonyIdSchema,
    kind: z.enum(LEAF_KINDS),
    /** The group the ceremony ran for; null for member registry operations. */
    group: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)
      .nullable(),
    /**
     * Final state (`completed`, `failed`, …); for admin leaves the operation type; for governance
     * leaves the event (`hotfix.overdue`), whose `ceremonyId` is the hotfix's.
     */
    outcome: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/),
    /** Number of transcript entries covered. */
    entries: z.int().min(0).max(1_000_000),
    /** Hex hash-chain head over the transcript (see above). */
    transcript: Sha256HexSchema,
    /** Coordinator time the leaf was appended (ms since the epoch). */
    at: TimestampSchema,
  })
  .refine(
    (leaf) =>
      leaf.kind !== 'governance' ||
      (leaf.group !== null && (GOVERNANCE_OUTCOMES as readonly string[]).includes(leaf.outcome)),
    { error: 'a governance leaf names a group and a governance outcome' },
  );
export type LogLeaf = z.infer<typeof LogLeafSchema>;

/** One stored transcript entry, as the coordinator keeps it and as bundles carry it. */
export const TranscriptEntrySchema = z.strictObject({
  idx: z.int().min(0),
  direction: z.enum(['in', 'out']),
  sender: z.string().min(1).max(64),
  recipient: z.string().min(1).max(64).nullable(),
  at: TimestampSchema,
  envelope: EnvelopeSchema,
});
export interface TranscriptEntry {
  readonly idx: number;
  readonly direction: 'in' | 'out';
  readonly sender: string;
  readonly recipient: string | null;
  readonly at: number;
  readonly envelope: Envelope;
}

const enc = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const CHAIN_LABEL = enc.encode('conclave/v1/transcript\n');

/** SHA-256 of the canonical JSON of one entry (only the fields above, whatever else it carries). */
export function transcriptEntryHash(entry: TranscriptEntry): Uint8Array {
  return sha256(
    enc.encode(
      canonicalJson({
        idx: entry.idx,
        direction: entry.direction,
        sender: entry.sender,
        recipient: entry.recipient,
        at: entry.at,
        envelope: entry.envelope,
      }),
    ),
  );
}

/** The hash-chain head over `entries` in the given order, hex. */
export function transcriptDigest(entries: readonly TranscriptEntry[]): string {
  let h: Uint8Array = new Uint8Array(32);
  const buf = new Uint8Array(CHAIN_LABEL.length + 64);
  buf.set(CHAIN_LABEL);
  for (const e of entries) {
    buf.set(h, CHAIN_LABEL.length);
    buf.set(transcriptEntryHash(e), CHAIN_LABEL.length + 32);
    h = sha256(buf);
  }
  return bytesToHex(h);
}

/** The leaf record of a transcript. */
export function leafFor(fields: {
  ceremonyId: string;
  kind: LeafKind;
  group: string | null;
  outcome: string;
  at: number;
  transcript: readonly TranscriptEntry[];
}): LogLeaf {
  return LogLeafSchema.parse({
    format: LEAF_FORMAT,
    ceremonyId: fields.ceremonyId,
    kind: fields.kind,
    group: fields.group,
    outcome: fields.outcome,
    entries: fields.transcript.length,
    transcript: transcriptDigest(fields.transcript),
    at: fields.at,
  });
}

/** The leaf's bytes in the log: UTF-8 canonical JSON. */
export function encodeLeaf(leaf: LogLeaf): Uint8Array {
  return enc.encode(canonicalJson(LogLeafSchema.parse(leaf)));
}

/** Parses leaf bytes; LOG_LEAF_MALFORMED unless they are exactly the canonical encoding of a leaf. */
export function decodeLeaf(bytes: Uint8Array): LogLeaf {
  if (!(bytes instanceof Uint8Array) || bytes.length > LEAF_MAX_BYTES) {
    throw new AuditError('LOG_LEAF_MALFORMED', 'leaf is not bytes of a bounded size');
  }
  let value: unknown;
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
    value = JSON.parse(text);
  } catch {
    throw new AuditError('LOG_LEAF_MALFORMED', 'leaf is not UTF-8 JSON');
  }
  const parsed = LogLeafSchema.safeParse(value);
  if (!parsed.success) throw new AuditError('LOG_LEAF_MALFORMED', 'leaf does not match the schema');
  // Canonical: the bytes must be exactly what encodeLeaf writes (one encoding per leaf).
  if (canonicalJson(parsed.data) !== text) {
    throw new AuditError('LOG_LEAF_MALFORMED', 'leaf is not canonically encoded');
  }
  return parsed.data;
}

/** RFC 9162 §2.1.1 leaf hash of the leaf bytes. */
export function logLeafHash(bytes: Uint8Array): Uint8Array {
  return leafHash(bytes);
}
