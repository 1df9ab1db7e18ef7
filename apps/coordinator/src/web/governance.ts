// The auditors' governance view (docs/policy.md, docs/audit.md): per group the policy in force —
// its document in words, the ceremony whose quorum signed it, and whether that signature verifies
// under the group key here and now — its history, the hotfixes and their ratification, and the
// governance events. Read-only: rows are parsed (hostile until parsed) and nothing is written, not
// even the overdue flag (a hotfix past its window shows as overdue whether or not it is flagged).
// Every value goes through `html` (escaped); policy strings such as artifact patterns are data.
import {
  DEFAULT_RATIFICATION_WINDOW_SECONDS,
  PolicyDocumentSchema,
  defaultPolicy,
  policyIdOf,
  type ClassRule,
  type PolicyDocument,
} from '@conclave/protocol';
import { policyDigest, verifyPolicyStatement } from '@conclave/release';
import * as z from 'zod';
import { CeremonyPolicyRow, EventRow, HotfixRow } from '../policy.js';
import { jsonColumn, type GroupRecord, type SqliteStore } from '../store.js';
import { html, isoTime as time, type Html } from './html.js';

const CLASSES = ['standard', 'hotfix', 'policy', 'revocation'] as const;
type GovClass = (typeof CLASSES)[number];

/** 90 → "90 s", 1800 → "30 min", 86400 → "24 h", 259200 → "3 days". */
export function duration(seconds: number): string {
  if (seconds % 86_400 === 0 && seconds >= 2 * 86_400) return `${seconds / 86_400} days`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

// Looser than policy.ts's row: the document and statement stay text here, so a tampered row is
// shown as failing verification instead of vanishing behind a parse error.
const PolicyRow = z.object({
  grp: z.string(),
  version: z.number().int().min(1),
  document: z.string(),
  digest: z.string(),
  ceremony_id: z.string(),
  statement: z.string(),
  signature: z.string(),
  at: z.number().int(),
});

const link = (id: string | null | undefined): Html | string =>
  id === null || id === undefined || id === ''
    ? '—'
    : html`<a href="/audit/ceremony/${encodeURIComponent(id)}">${id}</a>`;

/** One stored policy version, parsed and verified under the group's key. */
interface PolicyVersion {
  readonly version: number;
  readonly document: PolicyDocument | undefined;
  readonly ceremonyId: string;
  readonly at: number;
  readonly signedUnder: string | undefined;
  /** null: the quorum signature verifies; otherwise why it does not. */
  readonly problem: string | null;
}

function policyVersions(store: SqliteStore, group: GroupRecord): PolicyVersion[] {
  const rows = store.db
    .prepare('SELECT * FROM policies WHERE grp = ? ORDER BY version DESC')
    .all(group.name);
  return rows.map((raw) => {
    const row = PolicyRow.safeParse(raw);
    if (!row.success) {
      return {
        version: -1,
        document: undefined,
        ceremonyId: '',
        at: 0,
        signedUnder: undefined,
        problem: 'the stored row is unreadable',
      };
    }
    const r = row.data;
    const doc = jsonColumn(PolicyDocumentSchema).safeParse(r.document);
    const statement = jsonColumn(z.record(z.string(), z.unknown())).safeParse(r.statement);
    let problem: string | null = null;
    let signedUnder: string | undefined;
    if (!doc.success) problem = 'the stored document is not a policy document';
    else if (!statement.success) problem = 'the stored statement is unreadable';
    else if (group.groupPublicKey === null) problem = 'the group has no key';
    else {
      const v = verifyPolicyStatement({
        group: group.name,
        version: r.version,
        document: doc.data,
        statement: statement.data,
        signature: r.signature,
        groupPublicKey: group.groupPublicKey,
      });
      if (!v.ok) problem = v.reason;
      else if (policyDigest(doc.data) !== r.digest) {
        problem = 'the stored digest is not the document’s';
      } else signedUnder = v.signedUnder;
    }
    return {
      version: r.version,
      document: doc.success ? doc.data : undefined,
      ceremonyId: r.ceremony_id,
      at: r.at,
      signedUnder,
      problem,
    };
  });
}

function requestersText(r: ClassRule['requesters']): Html | string {
  if (r === undefined) return 'any member of the group';
  const who = [
    ...(r.members ?? []).map((m) => html`<span class="member">${m}</span>`),
    ...(r.roles ?? []).map((role) => html`holders of role <code>${role}</code>`),
  ];
  return who.length === 0 ? 'nobody' : html`${who.map((x, i) => html`${i > 0 ? ', ' : ''}${x}`)}`;
}

function classRow(doc: PolicyDocument, cls: GovClass, threshold: number): Html {
  const own = doc.classes[cls];
  const r: ClassRule = own ?? doc.classes.standard;
  const uses = own === undefined && cls !== 'standard';
  const quorum = Math.max(threshold, r.quorum ?? 0);
  const dflt = html`<span class="muted">coordinator default</span>`;
  return html`<tr data-class="${cls}">
    <th>${cls}${uses ? html` <span class="muted">(standard’s rule)</span>` : ''}</th>
    <td class="requesters">${requestersText(r.requesters)}</td>
    <td class="quorum">
      ${quorum}${r.quorum === undefined ? html` <span class="muted">(the threshold)</span>` : ''}
    </td>
    <td class="roles">
      ${
        (r.requiredRoles ?? []).length === 0
          ? 'none'
          : (r.requiredRoles ?? []).map(
              (x, i) => html`${i > 0 ? ', ' : ''}${x.count} <code>${x.role}</code>`,
            )
      }
    </td>
    <td class="artifacts">
      ${
        cls === 'policy' || cls === 'revocation'
          ? html`<span class="muted">its own document</span>`
          : r.artifacts === undefined
            ? 'any name'
            : r.artifacts.map((p) => html`<div><code>${p}</code></div>`)
      }
    </td>
    <td>${r.approvalTimeoutSeconds === undefined ? dflt : duration(r.approvalTimeoutSeconds)}</td>
    <td>${r.sessionTimeoutSeconds === undefined ? dflt : duration(r.sessionTimeoutSeconds)}</td>
    <td>${r.maxValiditySeconds === undefined ? 'no expiry' : duration(r.maxValiditySeconds)}</td>
  </tr>`;
}

/** A policy document in words: one row per class, then the hotfix rules. */
export function policyTable(doc: PolicyDocument, threshold: number): Html {
  const window = doc.hotfix?.ratificationWindowSeconds ?? DEFAULT_RATIFICATION_WINDOW_SECONDS;
  return html`<table class="rules">
      <thead>
        <tr>
          <th>Class</th>
          <th>Who may request</th>
          <th>Quorum</th>
          <th>Required roles among approvers</th>
          <th>Artifact names</th>
          <th>Approval window</th>
          <th>Session timeout</th>
          <th>Statement validity</th>
        </tr>
      </thead>
      <tbody>
        ${CLASSES.map((cls) => classRow(doc, cls, threshold))}
      </tbody>
    </table>
    <p class="hotfix-rules">
      Hotfixes must be ratified by a standard release within
      <strong>${duration(window)}</strong
      >${doc.hotfix?.ratificationWindowSeconds === undefined ? ' (default)' : ''}; an incident id is
      ${doc.hotfix?.requireIncident === true ? 'required' : 'not required'}.
    </p>`;
}

function groupSection(store: SqliteStore, group: GroupRecord): Html {
  const versions = policyVersions(store, group);
  const current = versions[0];
  const t = group.threshold;
  const doc = current === undefined ? defaultPolicy(group.name) : current.document;
  const id = policyIdOf(group.name, current?.version ?? 0);
  return html`<section class="policy" id="policy-${group.name}" data-group="${group.name}">
    <h2>Group <code>${group.name}</code> — policy <span class="policy-id">${id}</span></h2>
    <p class="muted">
      ${t}-of-${group.members.length}: ${group.members.map((m) => m.member).join(', ')}
    </p>
    ${
      current === undefined
        ? html`<p class="policy-source">
            Version 0, the default: no policy has been set by a quorum of this group.
          </p>`
        : html`<p class="policy-source">
              Version <strong>${current.version}</strong>, set by ceremony
              ${link(current.ceremonyId)} at
              ${time(current.at)}${
                current.signedUnder === undefined
                  ? ''
                  : html` (approved under ${current.signedUnder})`
              }.
            </p>
            <div class="verdict ${current.problem === null ? 'ok' : 'fail'} policy-verdict">
              ${
                current.problem === null
                  ? 'Quorum signature verifies under the group key'
                  : html`Quorum signature FAILED: ${current.problem} — the coordinator refuses this
                    group until an operator restores the row`
              }
            </div>`
    }
    ${
      doc === undefined
        ? html`<p class="fail">The stored document cannot be read.</p>`
        : html`${policyTable(doc, t)}
            <details>
              <summary>Document (canonical JSON)</summary>
              <pre class="policy-json">${JSON.stringify(doc, null, 2)}</pre>
            </details>`
    }
    ${
      versions.length <= 1
        ? ''
        : html`<h3>History</h3>
            <table class="policy-history">
              <thead>
                <tr>
                  <th>Version</th>
                  <th>Set by</th>
                  <th>At</th>
                  <th>Signature</th>
                </tr>
              </thead>
              <tbody>
                ${versions.map(
                  (v) =>
                    html`<tr>
                      <td>${policyIdOf(group.name, v.version)}</td>
                      <td>${link(v.ceremonyId)}</td>
                      <td>${time(v.at)}</td>
                      <td>
                        ${v.problem === null ? html`<span class="ok">verifies</span>` : html`<span class="fail">FAILED: ${v.problem}</span>`}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
    }
  </section>`;
}

type HotfixState = 'unratified' | 'overdue' | 'ratified';

function hotfixState(h: z.output<typeof HotfixRow>, now: number): HotfixState {
  if (h.ratified_at !== null) return 'ratified';
  return h.flagged_at !== null || h.ratify_by <= now ? 'overdue' : 'unratified';
}

function releaseVersion(store: SqliteStore, id: string): string {
  const row = store.db
    .prepare('SELECT envelope FROM transcript WHERE ceremony_id = ? AND idx = 0')
    .get(id) as { envelope?: unknown } | undefined;
  if (typeof row?.envelope !== 'string') return '';
  try {
    const env = JSON.parse(row.envelope) as { body?: { release?: { version?: unknown } } };
    const v = env.body?.release?.version;
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

function hotfixSection(store: SqliteStore, now: number): Html {
  const rows = store.db
    .prepare(
      `SELECT * FROM hotfixes
       ORDER BY (ratified_at IS NOT NULL), (flagged_at IS NULL), signed_at DESC LIMIT 500`,
    )
    .all()
    .flatMap((r) => {
      const p = HotfixRow.safeParse(r);
      return p.success ? [p.data] : [];
    });
  const count = (s: HotfixState) => rows.filter((h) => hotfixState(h, now) === s).length;
  return html`<h2>Hotfixes</h2>
    <p id="hotfix-counts">
      ${count('unratified')} unratified, ${count('overdue')} overdue (past their ratification
      window), ${count('ratified')} ratified
    </p>
    <table id="hotfixes">
      <thead>
        <tr>
          <th>Hotfix</th>
          <th>Group</th>
          <th>Release</th>
          <th>Incident</th>
          <th>Signed</th>
          <th>Ratify by</th>
          <th>State</th>
          <th>Ratified by</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((h) => {
          const state = hotfixState(h, now);
          return html`<tr data-hotfix="${h.ceremony_id}" data-state="${state}">
            <td>${link(h.ceremony_id)}</td>
            <td>${h.grp}</td>
            <td>${releaseVersion(store, h.ceremony_id)}</td>
            <td>${h.incident === '' ? '—' : h.incident}</td>
            <td>${time(h.signed_at)}</td>
            <td>${time(h.ratify_by)}</td>
            <td class="${state === 'overdue' ? 'fail' : state === 'ratified' ? 'ok' : ''}">
              ${state === 'overdue' ? 'OVERDUE' : state}${h.flagged_at === null ? '' : ` (flagged ${time(h.flagged_at)})`}
            </td>
            <td>
              ${link(h.ratified_by)}${h.ratified_at === null ? '' : ` at ${time(h.ratified_at)}`}
            </td>
          </tr>`;
        })}
      </tbody>
    </table>`;
}

function eventsSection(store: SqliteStore): Html {
  const rows = store.db
    .prepare('SELECT * FROM governance_events ORDER BY idx DESC LIMIT 200')
    .all()
    .flatMap((r) => {
      const p = EventRow.safeParse(r);
      return p.success ? [p.data] : [];
    });
  return html`<h2>Governance events</h2>
    <table id="governance-events">
      <thead>
        <tr>
          <th>#</th>
          <th>Time</th>
          <th>Group</th>
          <th>Event</th>
          <th>Ceremony</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (e) =>
            html`<tr>
              <td>${e.idx}</td>
              <td>${time(e.at)}</td>
              <td>${e.grp}</td>
              <td>${e.kind}</td>
              <td>${link(e.ceremony_id)}</td>
              <td><code>${e.detail.slice(0, 512)}</code></td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

/** `/audit/governance`: every group's policy, the hotfixes, the governance events. */
export function governanceBody(store: SqliteStore, now: number): Html {
  const groups = store.listGroups();
  return html`<h1>Governance</h1>
    <p class="muted">
      The policy each group runs under, verified here under its group key; hotfixes and their
      ratification; the coordinator’s governance events (docs/policy.md).
    </p>
    ${groups.length === 0 ? html`<p>No groups yet.</p>` : groups.map((g) => groupSection(store, g))}
    ${hotfixSection(store, now)} ${eventsSection(store)}`;
}

/** The policy a signing ceremony ran under, for its page (empty for ceremonies from before policies). */
export function ceremonyPolicySection(
  store: SqliteStore,
  id: string,
  release: { policy?: unknown },
  now: number,
): Html {
  const raw = store.db.prepare('SELECT * FROM ceremony_policies WHERE ceremony_id = ?').get(id);
  const parsed = CeremonyPolicyRow.safeParse(raw);
  const events = store.db
    .prepare('SELECT * FROM governance_events WHERE ceremony_id = ? ORDER BY idx')
    .all(id)
    .flatMap((r) => {
      const p = EventRow.safeParse(r);
      return p.success ? [p.data] : [];
    });
  const superseded = events.find((e) => e.kind === 'ceremony.superseded');
  const hotfixRaw = store.db.prepare('SELECT * FROM hotfixes WHERE ceremony_id = ?').get(id);
  const hotfix = HotfixRow.safeParse(hotfixRaw);
  const sets = PolicyDocumentSchema.safeParse(release.policy);
  if (!parsed.success) {
    return html`<h2>Policy</h2>
      <p id="ceremony-policy">
        Ran under <span class="policy-id">default</span> (a ceremony from before policies).
      </p>`;
  }
  const p = parsed.data;
  let supersededBy: string | undefined;
  if (superseded !== undefined) {
    try {
      const d = JSON.parse(superseded.detail) as { policyId?: unknown };
      if (typeof d.policyId === 'string') supersededBy = d.policyId;
    } catch {
      supersededBy = undefined;
    }
  }
  return html`<h2>Policy</h2>
    <table id="ceremony-policy">
      <tr>
        <th>Ran under</th>
        <td>
          <a class="policy-id" href="/audit/governance#policy-${p.grp}">${p.policy_id}</a>
          (version ${p.policy_version})
        </td>
      </tr>
      <tr>
        <th>Class</th>
        <td>${p.class}</td>
      </tr>
      ${
        p.incident === null
          ? ''
          : html`<tr>
              <th>Incident</th>
              <td>${p.incident}</td>
            </tr>`
      }
      ${
        p.ratifies === null
          ? ''
          : html`<tr>
              <th>Ratifies hotfix</th>
              <td>${link(p.ratifies)}</td>
            </tr>`
      }
      ${
        p.revokes === null
          ? ''
          : html`<tr>
              <th>Revokes release</th>
              <td>${link(p.revokes)}</td>
            </tr>`
      }
      ${
        sets.success
          ? html`<tr>
              <th>Sets</th>
              <td>policy ${policyIdOf(sets.data.group, sets.data.version)}</td>
            </tr>`
          : ''
      }
      ${
        hotfix.success
          ? html`<tr>
              <th>Ratification</th>
              <td class="hotfix-state">
                ${hotfixState(hotfix.data, now)} — ratify by
                ${time(hotfix.data.ratify_by)}${hotfix.data.ratified_by === null ? '' : html`, ratified by ${link(hotfix.data.ratified_by)}`}
              </td>
            </tr>`
          : ''
      }
      ${
        superseded === undefined
          ? ''
          : html`<tr>
              <th>Cancelled</th>
              <td class="superseded">
                POLICY_SUPERSEDED: ${supersededBy ?? 'a newer policy'} was stored at
                ${time(superseded.at)} while this request was open
              </td>
            </tr>`
      }
    </table>`;
}
