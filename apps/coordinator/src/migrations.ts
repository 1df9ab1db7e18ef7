// Versioned schema migrations. Each runs once, in order, inside a transaction; the applied versions
// are recorded in `schema_migrations`. Never edit a shipped migration: add a new one.
import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
      CREATE TABLE members (
        name TEXT PRIMARY KEY,
        identity_key TEXT NOT NULL UNIQUE,
        roles TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE TABLE groups (
        name TEXT PRIMARY KEY,
        threshold INTEGER NOT NULL,
        members TEXT NOT NULL,
        state TEXT NOT NULL,
        ceremony_id TEXT NOT NULL,
        group_public_key TEXT,
        public_key_package TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE ceremonies (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        grp TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        state TEXT NOT NULL,
        open INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deadline INTEGER
      ) STRICT;
      CREATE INDEX ceremonies_open ON ceremonies (open, updated_at);
      CREATE TABLE transcript (
        ceremony_id TEXT NOT NULL REFERENCES ceremonies (id),
        idx INTEGER NOT NULL,
        direction TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT,
        body_type TEXT NOT NULL,
        effect_seq INTEGER,
        at INTEGER NOT NULL,
        envelope TEXT NOT NULL,
        PRIMARY KEY (ceremony_id, idx)
      ) STRICT;
      CREATE INDEX transcript_effect ON transcript (ceremony_id, effect_seq);
      CREATE TABLE seen_messages (
        sender TEXT NOT NULL,
        ceremony TEXT NOT NULL,
        round TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (sender, ceremony, round, seq)
      ) STRICT;
      CREATE TABLE commitments (
        group_key TEXT NOT NULL,
        commitment TEXT NOT NULL,
        ceremony_id TEXT NOT NULL,
        member TEXT NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (group_key, commitment)
      ) STRICT;
      CREATE TABLE sessions (
        ceremony_id TEXT NOT NULL REFERENCES ceremonies (id),
        session INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        signing_package TEXT NOT NULL,
        statement TEXT NOT NULL,
        statement_digest TEXT NOT NULL,
        approvers TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        PRIMARY KEY (ceremony_id, session)
      ) STRICT;
      CREATE TABLE signatures (
        ceremony_id TEXT PRIMARY KEY REFERENCES ceremonies (id),
        signature TEXT NOT NULL,
        statement TEXT NOT NULL,
        statement_digest TEXT NOT NULL,
        signers TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE admin_log (
        scope_id TEXT PRIMARY KEY,
        body_type TEXT NOT NULL,
        at INTEGER NOT NULL,
        envelope TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    // One approval covers every format of a release: a session signs one message per job (dsse,
    // sshsig:<artifact>, …), formats that chain (minisign) run a second phase (DESIGN.md "Signing
    // what was approved"). Each approval/recommit carries a bundle of commitments, one per job.
    version: 2,
    name: 'multi-message signing',
    sql: `
      ALTER TABLE sessions ADD COLUMN phase INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE sessions ADD COLUMN jobs TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE sessions ADD COLUMN signatures TEXT;
      ALTER TABLE signatures ADD COLUMN jobs TEXT NOT NULL DEFAULT '{}';
      CREATE TABLE commitment_bundles (
        ceremony_id TEXT NOT NULL REFERENCES ceremonies (id),
        bundle_id TEXT NOT NULL,
        member TEXT NOT NULL,
        phase INTEGER NOT NULL,
        commitments TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (ceremony_id, bundle_id)
      ) STRICT;
    `,
  },
  {
    // The transparency log (docs/audit.md): one RFC 9162 leaf per finished ceremony or registry
    // operation, a signed checkpoint (c2sp.org/tlog-checkpoint) per tree size, and the members'
    // witness cosignatures. Leaves and checkpoints are append-only: triggers refuse UPDATE and
    // DELETE, so only someone editing the file by hand can change them (and verification shows it).
    version: 3,
    name: 'transparency log',
    sql: `
      CREATE TABLE log_leaves (
        idx INTEGER PRIMARY KEY,
        ceremony_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        leaf TEXT NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (kind, ceremony_id)
      ) STRICT;
      CREATE TABLE checkpoints (
        size INTEGER PRIMARY KEY,
        root TEXT NOT NULL,
        note TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE witness_cosignatures (
        size INTEGER NOT NULL REFERENCES checkpoints (size),
        witness TEXT NOT NULL,
        line TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (size, witness)
      ) STRICT;
      CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
        BEGIN SELECT RAISE(ABORT, 'log_leaves is append-only'); END;
      CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
        BEGIN SELECT RAISE(ABORT, 'log_leaves is append-only'); END;
      CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
      CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    `,
  },
  {
    // Key lifecycle (docs/lifecycle.md): a group's epoch counts its sets of shares (DKG 0, +1 per
    // refresh or reshare); every epoch's public key package is kept, so an auditor can check a
    // signature or a transcript against the key state it was made under.
    version: 4,
    name: 'key epochs',
    sql: `
      ALTER TABLE groups ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE group_epochs (
        grp TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ceremony_id TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        members TEXT NOT NULL,
        group_public_key TEXT NOT NULL,
        public_key_package TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (grp, epoch)
      ) STRICT;
    `,
  },
  {
    // Governance (docs/policy.md): a group's signed policy versions (the quorum-signed statement is
    // stored with each, so members re-verify it rather than trust this row), the policy version and
    // class each signing ceremony ran under, hotfixes awaiting ratification (flagged when their
    // window passes), signed release revocations, and the governance events status and audit show.
    version: 5,
    name: 'governance',
    sql: `
      CREATE TABLE policies (
        grp TEXT NOT NULL,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        digest TEXT NOT NULL,
        ceremony_id TEXT NOT NULL,
        group_public_key TEXT NOT NULL,
        statement TEXT NOT NULL,
        signature TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (grp, version)
      ) STRICT;
      CREATE TRIGGER policies_no_update BEFORE UPDATE ON policies
        BEGIN SELECT RAISE(ABORT, 'policies are append-only'); END;
      CREATE TRIGGER policies_no_delete BEFORE DELETE ON policies
        BEGIN SELECT RAISE(ABORT, 'policies are append-only'); END;
      CREATE TABLE ceremony_policies (
        ceremony_id TEXT PRIMARY KEY,
        grp TEXT NOT NULL,
        policy_version INTEGER NOT NULL,
        policy_id TEXT NOT NULL,
        class TEXT NOT NULL,
        incident TEXT,
        ratifies TEXT,
        revokes TEXT,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX ceremony_policies_class ON ceremony_policies (grp, class);
      CREATE TABLE hotfixes (
        ceremony_id TEXT PRIMARY KEY,
        grp TEXT NOT NULL,
        incident TEXT NOT NULL,
        signed_at INTEGER NOT NULL,
        ratify_by INTEGER NOT NULL,
        ratified_by TEXT,
        ratified_at INTEGER,
        flagged_at INTEGER
      ) STRICT;
      CREATE INDEX hotfixes_open ON hotfixes (ratified_at, ratify_by);
      CREATE TABLE revocations (
        ceremony_id TEXT PRIMARY KEY,
        grp TEXT NOT NULL,
        revoked_ceremony TEXT NOT NULL,
        statement_digest TEXT NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (grp, revoked_ceremony)
      ) STRICT;
      CREATE TABLE governance_events (
        idx INTEGER PRIMARY KEY,
        grp TEXT NOT NULL,
        kind TEXT NOT NULL,
        ceremony_id TEXT,
        detail TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    // Transcripts of log leaves that are not ceremonies (docs/audit.md): a governance leaf (an
    // unratified hotfix flagged when its window passed) hashes one envelope the coordinator signed
    // in the transaction that appended the leaf. Append-only, like the leaves.
    version: 6,
    name: 'log transcripts',
    sql: `
      CREATE TABLE log_transcripts (
        kind TEXT NOT NULL,
        ceremony_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        direction TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT,
        at INTEGER NOT NULL,
        envelope TEXT NOT NULL,
        PRIMARY KEY (kind, ceremony_id, idx)
      ) STRICT;
      CREATE TRIGGER log_transcripts_no_update BEFORE UPDATE ON log_transcripts
        BEGIN SELECT RAISE(ABORT, 'log_transcripts is append-only'); END;
      CREATE TRIGGER log_transcripts_no_delete BEFORE DELETE ON log_transcripts
        BEGIN SELECT RAISE(ABORT, 'log_transcripts is append-only'); END;
    `,
  },
  {
    // Which signing requests name which artifact (by SHA-256): who may download an artifact is
    // decided by one indexed lookup (artifacts.ts), not by reading transcripts. Filled in the
    // transaction that records the request (store.appendTranscript); existing requests are copied
    // from their transcripts here. The stored envelopes are hostile until parsed (D.51): a
    // transcript row that is not JSON, or an artifact entry that is not an object, is skipped
    // rather than failing the migration (json_each and json_type raise on malformed JSON). The
    // envelope's check is on `t` alone, so SQLite tests it before json_each reads the row; the
    // entry's is a CASE because AND terms may be tested in any order.
    version: 7,
    name: 'request artifacts',
    sql: `
      CREATE TABLE request_artifacts (
        sha256 TEXT NOT NULL,
        ceremony_id TEXT NOT NULL REFERENCES ceremonies (id),
        PRIMARY KEY (sha256, ceremony_id)
      ) STRICT, WITHOUT ROWID;
      INSERT OR IGNORE INTO request_artifacts (sha256, ceremony_id)
        SELECT json_extract(a.value, '$.sha256'), t.ceremony_id
        FROM transcript t, json_each(t.envelope, '$.body.release.artifacts') a
        WHERE t.body_type = 'sign.request' AND t.direction = 'in'
          AND json_valid(t.envelope)
          AND CASE WHEN a.type = 'object' THEN json_type(a.value, '$.sha256') END = 'text';
    `,
  },
];

export function migrate(db: Database.Database, now: number): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (r) => r.version,
    ),
  );
  const newest = Math.max(0, ...MIGRATIONS.map((m) => m.version));
  const known = Math.max(0, ...applied);
  if (known > newest) {
    throw new Error(`database schema version ${known} is newer than this coordinator (${newest})`);
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        now,
      );
    })();
  }
  return newest;
}
