// A ceremony's full record for `conclave status ID --json` and tests: state, approvals, sessions,
// culprits, outcome, signature and every transcript entry in order. Reads the database directly.
import { ProtocolError, type Envelope } from '@conclave/protocol';
import * as z from 'zod';
import { jsonColumn, openStore, type Store } from './store.js';

export interface TranscriptItem {
  readonly idx: number;
  readonly direction: 'in' | 'out';
  readonly sender: string;
  readonly recipient: string | null;
  readonly at: number;
  readonly envelope: Envelope;
}

export interface CeremonyReport {
  readonly ceremonyId: string;
  readonly kind: 'key' | 'sign';
  readonly group: string;
  readonly state: string;
  readonly open: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deadline: number | null;
  readonly threshold: number;
  readonly members: readonly string[];
  readonly approvals: readonly string[];
  readonly sessions: readonly {
    readonly index: number;
    readonly participants: readonly string[];
    readonly status: string;
    readonly shares: readonly string[];
  }[];
  readonly culprits: readonly string[];
  readonly outcome: unknown;
  readonly signature: {
    readonly signature: string;
    readonly statementDigest: string;
    readonly statement: Record<string, unknown>;
    readonly signers: readonly string[];
  } | null;
  readonly groupPublicKey: string | null;
  readonly transcript: readonly TranscriptItem[];
}

const Names = z.array(z.string());
/** What the report reads of a stored snapshot (signing or key context); the rest is not checked. */
const ReportSnapshot = jsonColumn(
  z.looseObject({
    context: z.discriminatedUnion('ceremony', [
      z.looseObject({
        ceremony: z.literal('signing'),
        group: z.looseObject({ members: Names, threshold: z.number().int() }),
        approvals: z.array(z.looseObject({ member: z.string() })),
        sessions: z.array(
          z.looseObject({
            index: z.number().int(),
            participants: Names,
            status: z.string(),
            shares: Names,
          }),
        ),
        culprits: Names,
        outcome: z.unknown(),
      }),
      z.looseObject({
        ceremony: z.literal('key'),
        group: z.looseObject({ members: Names, threshold: z.number().int() }),
        outcome: z.unknown(),
      }),
    ]),
  }),
);

/**
 * The report of one ceremony from an open store, or undefined if there is no such ceremony.
 * Throws STORAGE_UNAVAILABLE when its stored snapshot does not parse (D.51).
 */
export function ceremonyReport(store: Store, ceremonyId: string): CeremonyReport | undefined {
  const record = store.getCeremony(ceremonyId);
  if (record === undefined) return undefined;
  const parsed = ReportSnapshot.safeParse(record.snapshot);
  if (!parsed.success) {
    throw new ProtocolError(
      'STORAGE_UNAVAILABLE',
      `corrupt snapshot of ceremony ${ceremonyId} in ceremonies: the database was damaged or altered; restore it from a backup`,
    );
  }
  const c = parsed.data.context;
  const group = store.getGroup(record.group);
  const signature = store.getSignature(ceremonyId);
  const sign = c.ceremony === 'signing' ? c : null;
  return {
    ceremonyId,
    kind: record.kind,
    group: record.group,
    state: record.state,
    open: record.open,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    deadline: record.deadline,
    threshold: c.group.threshold,
    members: c.group.members,
    approvals: sign?.approvals.map((a) => a.member) ?? [],
    sessions:
      sign?.sessions.map((s) => ({
        index: s.index,
        participants: s.participants,
        status: s.status,
        shares: s.shares,
      })) ?? [],
    culprits: sign === null ? [] : [...new Set(sign.culprits)],
    outcome: c.outcome,
    signature:
      signature === undefined
        ? null
        : {
            signature: signature.signature,
            statementDigest: signature.statementDigest,
            statement: signature.statement,
            signers: signature.signers,
          },
    groupPublicKey: group?.groupPublicKey ?? null,
    transcript: store.transcript(ceremonyId).map((e) => ({
      idx: e.idx,
      direction: e.direction,
      sender: e.sender,
      recipient: e.recipient,
      at: e.at,
      envelope: e.envelope,
    })),
  };
}

/** Opens the database at `dbPath` read-only and reports one ceremony. */
export function readCeremonyReport(dbPath: string, ceremonyId: string): CeremonyReport | undefined {
  const store = openStore(dbPath, { now: Date.now(), readonly: true });
  try {
    return ceremonyReport(store, ceremonyId);
  } finally {
    store.close();
  }
}
