// The audit bundle of one ceremony (`GET /v1/audit/bundle/<id>`, `conclave audit export ID`):
// everything an auditor needs to re-verify it offline with @conclave/audit's
// verifyCeremonyBundle — transcript, registry operations, the group's key epochs (a signing
// ceremony's own epoch with the entries of the key ceremony that made it), the log leaf,
// its inclusion proof and the (cosigned) checkpoint; for a hotfix flagged unratified, also its
// governance leaf with the coordinator's signed record and a proof into the same checkpoint. Read
// raw from the database: nothing here is trusted by the verifier, and a hand-edited row must show
// up as a failed check, not a crash.
import { BUNDLE_FORMAT, encodeBase64, type CeremonyBundle } from '@conclave/audit';
import type { SqliteStore } from '../store.js';
import type { TransparencyLog } from './service.js';

export interface BundleKeys {
  readonly coordinator: string;
  readonly admin: string;
}

const REGISTRY_TYPES = ['admin.member.add', 'admin.member.revoke'];

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The bundle of `ceremonyId`, or undefined if there is no such ceremony. */
export function buildBundle(
  store: SqliteStore,
  log: TransparencyLog,
  ceremonyId: string,
  keys: BundleKeys,
): CeremonyBundle | undefined {
  const db = store.db;
  const row = db
    .prepare('SELECT kind, grp, state, snapshot FROM ceremonies WHERE id = ?')
    .get(ceremonyId) as
    { kind: 'sign' | 'key'; grp: string; state: string; snapshot: string } | undefined;
  if (row === undefined) return undefined;
  const group = db
    .prepare(
      'SELECT name, threshold, members, group_public_key, public_key_package, created_at FROM groups WHERE name = ?',
    )
    .get(row.grp) as
    | {
        name: string;
        threshold: number;
        members: string;
        group_public_key: string | null;
        public_key_package: string | null;
        created_at: number;
      }
    | undefined;
  const keyCreatedAt = Math.floor((group?.created_at ?? 0) / 1000);
  const epochRows = db
    .prepare(
      'SELECT epoch, ceremony_id, threshold, members, group_public_key, public_key_package, at FROM group_epochs WHERE grp = ? ORDER BY epoch',
    )
    .all(row.grp) as {
    epoch: number;
    ceremony_id: string;
    threshold: number;
    members: string;
    group_public_key: string;
    public_key_package: string;
    at: number;
  }[];
  const index = log.leafIndex(row.kind, ceremonyId);
  let logPart: CeremonyBundle['log'] = null;
  const checkpoint = log.latestCheckpoint();
  if (index !== undefined && checkpoint !== undefined && checkpoint.size > index) {
    const leaf = log.leaves(index, index + 1)[0];
    if (leaf !== undefined) {
      logPart = {
        index,
        size: checkpoint.size,
        leaf: leaf.leaf,
        checkpoint: log.cosignedCheckpoint() ?? checkpoint.note,
        inclusionProof: log.inclusionProof(index, checkpoint.size).map(encodeBase64),
      };
    }
  }
  const transcript = log.transcriptOf({ kind: row.kind, ceremonyId });
  // A signing ceremony ran under the newest epoch in effect when it opened (the verifier's rule):
  // that epoch carries the entries of the key ceremony that made it, from which the auditor
  // derives its public key package instead of taking this row's word for it.
  const openedAt = (transcript[0] as { at?: unknown } | undefined)?.at;
  const signingEpoch =
    row.kind !== 'sign' || typeof openedAt !== 'number'
      ? undefined
      : epochRows
          .filter((e) => e.at <= openedAt)
          .sort((x, y) => y.at - x.at || y.epoch - x.epoch)[0]?.epoch;
  // The key ceremony's whole transcript (its leaf digest covers every entry), its leaf and the
  // proof into this bundle's checkpoint; only when both are in that tree.
  const keyCeremonyOf = (ceremony: string) => {
    const keyIndex = log.leafIndex('key', ceremony);
    if (logPart === null || keyIndex === undefined || keyIndex >= logPart.size) return undefined;
    const leaf = log.leaves(keyIndex, keyIndex + 1)[0];
    if (leaf === undefined) return undefined;
    return {
      ceremonyId: ceremony,
      transcript: log.transcriptOf({ kind: 'key', ceremonyId: ceremony }),
      log: {
        index: keyIndex,
        leaf: leaf.leaf,
        inclusionProof: log.inclusionProof(keyIndex, logPart.size).map(encodeBase64),
      },
    };
  };
  const keyCeremonyFor = (e: { epoch: number; ceremony_id: string }) => {
    const keyCeremony = e.epoch === signingEpoch ? keyCeremonyOf(e.ceremony_id) : undefined;
    return keyCeremony === undefined ? {} : { keyCeremony };
  };
  const epochs =
    epochRows.length > 0
      ? epochRows.map((e) => ({
          epoch: e.epoch,
          at: e.at,
          threshold: e.threshold,
          members: json(e.members) as { member: string; identityKey: string }[],
          groupPublicKey: e.group_public_key,
          publicKeyPackage: e.public_key_package,
          keyCreatedAt,
          ...keyCeremonyFor(e),
        }))
      : group?.group_public_key != null && group.public_key_package != null
        ? [
            {
              epoch: 0,
              at: 0,
              threshold: group.threshold,
              members: json(group.members) as { member: string; identityKey: string }[],
              groupPublicKey: group.group_public_key,
              publicKeyPackage: group.public_key_package,
              keyCreatedAt,
            },
          ]
        : [];
  const registry = (
    db
      .prepare(
        `SELECT scope_id, at, envelope FROM admin_log WHERE body_type IN (${REGISTRY_TYPES.map(() => '?').join(', ')}) ORDER BY at, scope_id`,
      )
      .all(...REGISTRY_TYPES) as { scope_id: string; at: number; envelope: string }[]
  ).map((r) => ({ scopeId: r.scope_id, at: r.at, envelope: json(r.envelope) }));

  let culprits: string[] = [];
  const snapshot = json(row.snapshot) as { context?: { culprits?: unknown } } | string;
  if (typeof snapshot === 'object' && snapshot !== null) {
    const c = snapshot.context?.culprits;
    if (Array.isArray(c))
      culprits = [...new Set(c.filter((x): x is string => typeof x === 'string'))];
  }

  // A hotfix flagged unratified: its governance leaf, proven into the same checkpoint.
  const governanceIndex = row.kind === 'sign' ? log.leafIndex('governance', ceremonyId) : undefined;
  const governance: NonNullable<CeremonyBundle['governance']> = [];
  if (logPart !== null && governanceIndex !== undefined && logPart.size > governanceIndex) {
    const leaf = log.leaves(governanceIndex, governanceIndex + 1)[0];
    if (leaf !== undefined) {
      governance.push({
        index: governanceIndex,
        leaf: leaf.leaf,
        inclusionProof: log.inclusionProof(governanceIndex, logPart.size).map(encodeBase64),
        transcript: log.transcriptOf({ kind: 'governance', ceremonyId }),
      });
    }
  }
  return {
    format: BUNDLE_FORMAT,
    ceremonyId,
    kind: row.kind,
    keys: { coordinator: keys.coordinator, admin: keys.admin, log: log.verifierKey },
    group: group === undefined ? null : { name: group.name, epochs },
    registry,
    transcript,
    recorded: { state: row.state, culprits },
    log: logPart,
    ...(governance.length === 0 ? {} : { governance }),
  };
}
