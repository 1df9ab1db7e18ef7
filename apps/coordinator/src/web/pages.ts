// The auditors' pages: server-rendered, read-only, no scripts, every value escaped (html.ts).
//   /audit/                      ceremonies with filters (group, class, state, kind, date, member)
//   /audit/ceremony/<id>         one ceremony: verification, request, approvals, sessions, culprits,
//                                outcome, the signed statement, the log entry, the full timeline
//   /audit/log                   the log: newest checkpoint, witnesses, whole-log verification
//   /audit/governance            each group's policy (verified), hotfixes, governance events
import {
  verifyCeremonyBundle,
  transcriptDigest,
  type BundleReport,
  type Check,
} from '@conclave/audit';
import { buildBundle } from '../log/bundle.js';
import type { TransparencyLog } from '../log/service.js';
import type { SqliteStore } from '../store.js';
import { ceremonyPolicySection, governanceBody } from './governance.js';
import { html, isoTime as time, raw, type Html } from './html.js';

export interface PageContext {
  readonly store: SqliteStore;
  readonly log: TransparencyLog;
  readonly keys: { readonly coordinator: string; readonly admin: string };
  /** Uploaded artifact bytes by SHA-256 (content formats sign the bytes themselves). */
  readonly artifact?: (sha256: string) => Uint8Array | undefined;
}

export const STYLE_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b1f24;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:baseline}
header a{color:#cfe3ff;text-decoration:none}header strong{font-size:1.1rem}
main{padding:1rem 1.2rem;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff;margin:.4rem 0 1rem}
th,td{border:1px solid #d7dce2;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f4}
pre{background:#fff;border:1px solid #d7dce2;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-all}
code{font-size:12px}
.ok{color:#116b2b;font-weight:600}.fail{color:#b3141d;font-weight:700}
.verdict{padding:.6rem .8rem;border-radius:4px;margin:.5rem 0;font-weight:700}
.verdict.ok{background:#e3f6e8}.verdict.fail{background:#fde7e8}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;background:#fff;padding:.6rem;border:1px solid #d7dce2}
form.filters label{display:flex;flex-direction:column;font-size:12px}
.muted{color:#5b6470}
`;

interface Page {
  readonly status: number;
  readonly html: string;
}

function layout(title: string, body: Html, checkpoint?: string): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} — Conclave audit</title>
        <link rel="stylesheet" href="/audit/style.css" />
      </head>
      <body>
        <header>
          <strong>Conclave audit</strong><a href="/audit/">Ceremonies</a
          ><a href="/audit/governance">Governance</a><a href="/audit/log">Log</a>
          ${checkpoint === undefined ? '' : html`<span class="muted" id="log-size">log size ${checkpoint}</span>`}
        </header>
        <main>${body}</main>
      </body>
    </html> `.text;
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface Row {
  readonly id: string;
  readonly kind: string;
  readonly group: string;
  readonly state: string;
  readonly open: boolean;
  readonly createdAt: number;
  readonly requester: string | null;
  readonly version: string | null;
  readonly releaseClass: string | null;
  readonly approvers: readonly string[];
  readonly logIndex: number | undefined;
  /** true: transcript hashes to its leaf; false: it does not; null: not logged yet. */
  readonly verified: boolean | null;
}

const MAX_ROWS = 500;

function rows(ctx: PageContext): Row[] {
  const db = ctx.store.db;
  const ceremonies = db
    .prepare(
      'SELECT id, kind, grp, state, open, created_at FROM ceremonies ORDER BY created_at DESC, id LIMIT ?',
    )
    .all(MAX_ROWS) as {
    id: string;
    kind: 'sign' | 'key';
    grp: string;
    state: string;
    open: number;
    created_at: number;
  }[];
  const first = db.prepare(
    'SELECT sender, envelope FROM transcript WHERE ceremony_id = ? AND idx = 0',
  );
  const approvals = db.prepare(
    "SELECT sender FROM transcript WHERE ceremony_id = ? AND body_type = 'sign.approve' ORDER BY idx",
  );
  return ceremonies.map((c) => {
    const head = first.get(c.id) as { sender: string; envelope: string } | undefined;
    const env =
      head === undefined
        ? undefined
        : (json(head.envelope) as
            | { body?: { type?: string; release?: { version?: unknown; class?: unknown } } }
            | undefined);
    const isRequest = env?.body?.type === 'sign.request';
    const logIndex = ctx.log.leafIndex(c.kind, c.id);
    let verified: boolean | null = null;
    if (logIndex !== undefined) {
      const leaf = ctx.log.leafAt(logIndex);
      const transcript = ctx.log.transcriptOf({ kind: c.kind, ceremonyId: c.id });
      verified =
        leaf !== undefined &&
        leaf.entries === transcript.length &&
        leaf.transcript === transcriptDigest(transcript);
    }
    return {
      id: c.id,
      kind: c.kind,
      group: c.grp,
      state: c.state,
      open: c.open === 1,
      createdAt: c.created_at,
      requester: isRequest ? (head?.sender ?? null) : null,
      version: isRequest ? String(env?.body?.release?.version ?? '') : null,
      releaseClass: isRequest ? String(env?.body?.release?.class ?? '') : null,
      approvers: [...new Set((approvals.all(c.id) as { sender: string }[]).map((a) => a.sender))],
      logIndex,
      verified,
    };
  });
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function listPage(ctx: PageContext, params: URLSearchParams): Page {
  const f = {
    group: params.get('group') ?? '',
    kind: params.get('kind') ?? '',
    class: params.get('class') ?? '',
    state: params.get('state') ?? '',
    member: params.get('member') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const all = rows(ctx);
  const fromMs = DATE_RE.test(f.from) ? Date.parse(`${f.from}T00:00:00Z`) : undefined;
  const toMs = DATE_RE.test(f.to) ? Date.parse(`${f.to}T00:00:00Z`) + 86_400_000 : undefined;
  const shown = all.filter(
    (r) =>
      (f.group === '' || r.group === f.group) &&
      (f.kind === '' || r.kind === f.kind) &&
      (f.class === '' || r.releaseClass === f.class) &&
      (f.state === '' || r.state === f.state || (f.state === 'open' && r.open)) &&
      (f.member === '' || r.requester === f.member || r.approvers.includes(f.member)) &&
      (fromMs === undefined || r.createdAt >= fromMs) &&
      (toMs === undefined || r.createdAt < toMs),
  );
  const options = (values: readonly string[], current: string): Html[] =>
    ['', ...new Set(values)]
      .sort()
      .map(
        (v) =>
          html`<option value="${v}" ${current === v ? raw(' selected') : ''}>
            ${v === '' ? 'any' : v}
          </option>`,
      );
  const groups = all.map((r) => r.group);
  const states = [...all.map((r) => r.state), 'open'];
  const members = all.flatMap((r) => [
    ...(r.requester === null ? [] : [r.requester]),
    ...r.approvers,
  ]);
  const cp = ctx.log.latestCheckpoint();
  const body = html`<h1>Ceremonies</h1>
    <form class="filters" method="get" action="/audit/">
      <label
        >Group<select name="group">
          ${options(groups, f.group)}
        </select></label
      >
      <label
        >Kind<select name="kind">
          ${options(['sign', 'key'], f.kind)}
        </select></label
      >
      <label
        >Class<select name="class">
          ${options(['standard', 'hotfix', 'policy', 'revocation'], f.class)}
        </select></label
      >
      <label
        >State<select name="state">
          ${options(states, f.state)}
        </select></label
      >
      <label
        >Member<select name="member">
          ${options(members, f.member)}
        </select></label
      >
      <label
        >From<input type="date" name="from" value="${DATE_RE.test(f.from) ? f.from : ''}"
      /></label>
      <label>To<input type="date" name="to" value="${DATE_RE.test(f.to) ? f.to : ''}" /></label>
      <button type="submit">Filter</button> <a href="/audit/">clear</a>
    </form>
    <p class="muted" id="count">
      ${shown.length} of ${all.length}
      ceremonies${all.length >= MAX_ROWS ? ` (newest ${MAX_ROWS})` : ''}
    </p>
    <table id="ceremonies">
      <thead>
        <tr>
          <th>Ceremony</th>
          <th>Kind</th>
          <th>Group</th>
          <th>Release</th>
          <th>Class</th>
          <th>Requester</th>
          <th>Approvers</th>
          <th>State</th>
          <th>Created</th>
          <th>Log</th>
          <th>Transcript</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (r) =>
            html`<tr data-ceremony="${r.id}">
              <td><a href="/audit/ceremony/${encodeURIComponent(r.id)}">${r.id}</a></td>
              <td>${r.kind}</td>
              <td>${r.group}</td>
              <td>${r.version ?? '—'}</td>
              <td>${r.releaseClass ?? '—'}</td>
              <td>${r.requester ?? '—'}</td>
              <td class="approvers">${r.approvers.join(', ')}</td>
              <td>${r.state}</td>
              <td>${time(r.createdAt)}</td>
              <td>${r.logIndex === undefined ? '—' : `#${r.logIndex}`}</td>
              <td>
                ${
                  r.verified === null
                    ? html`<span class="muted">not logged</span>`
                    : r.verified
                      ? html`<span class="ok">matches log</span>`
                      : html`<span class="fail">TAMPERED</span>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      cp === undefined
        ? ''
        : html`<h2>Current checkpoint</h2>
            <pre id="checkpoint">${ctx.log.cosignedCheckpoint() ?? cp.note}</pre>`
    }`;
  return {
    status: 200,
    html: layout('Ceremonies', body, cp === undefined ? undefined : String(cp.size)),
  };
}

function checksTable(checks: readonly Check[]): Html {
  return html`<table id="checks">
    <thead>
      <tr>
        <th>Check</th>
        <th>Result</th>
        <th>Detail</th>
      </tr>
    </thead>
    <tbody>
      ${checks.map(
        (c) =>
          html`<tr class="${c.ok ? 'check-ok' : 'check-fail'}">
            <td>${c.name}</td>
            <td>
              ${c.ok ? html`<span class="ok">passed</span>` : html`<span class="fail">FAILED${c.code === undefined ? '' : ` (${c.code})`}</span>`}
            </td>
            <td>${c.detail}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

type Entry = {
  idx: number;
  direction: string;
  sender: string;
  recipient: string | null;
  at: number;
  envelope: unknown;
};
type AnyBody = Record<string, unknown> & { type?: string };
const bodyOf = (e: Entry): AnyBody => {
  const env = e.envelope as { body?: unknown } | undefined;
  return typeof env === 'object' &&
    env !== null &&
    typeof env.body === 'object' &&
    env.body !== null
    ? (env.body as AnyBody)
    : {};
};
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * Raw and OpenPGP jobs sign the artifact itself: the page re-verifies them from the coordinator's
 * stored copy, found by the SHA-256 the signed request names (the store re-hashes what it reads).
 */
function artifactReader(
  bundle: { readonly transcript: readonly unknown[] },
  read: (sha256: string) => Uint8Array | undefined,
): (name: string) => Uint8Array {
  const first = bundle.transcript[0] as
    { envelope?: { body?: { release?: { artifacts?: unknown } } } } | undefined;
  const artifacts = first?.envelope?.body?.release?.artifacts;
  const list = Array.isArray(artifacts)
    ? (artifacts as { name?: unknown; sha256?: unknown }[])
    : [];
  return (name) => {
    const sha = list.find((a) => a.name === name)?.sha256;
    const bytes = typeof sha === 'string' ? read(sha) : undefined;
    if (bytes === undefined) throw new Error(`artifact ${name} is not stored here`);
    return bytes;
  };
}

function ceremonyPage(ctx: PageContext, id: string): Page {
  const bundle = buildBundle(ctx.store, ctx.log, id, ctx.keys);
  if (bundle === undefined) {
    return {
      status: 404,
      html: layout(
        'Not found',
        html`<h1>No such ceremony</h1>
          <p>${id}</p>`,
      ),
    };
  }
  let report: BundleReport;
  try {
    report = verifyCeremonyBundle(bundle, {
      coordinatorKey: ctx.keys.coordinator,
      adminKey: ctx.keys.admin,
      logKey: ctx.log.verifierKey,
      ...(ctx.artifact === undefined
        ? {}
        : { artifactBytes: artifactReader(bundle, ctx.artifact) }),
    });
  } catch {
    report = {
      ok: false,
      checks: [
        { name: 'verification', ok: false, detail: 'verification could not run', code: 'INTERNAL' },
      ],
      ceremonyId: id,
      kind: bundle.kind,
      approvers: [],
      culprits: [],
      signatures: {},
    };
  }
  const entries = bundle.transcript as Entry[];
  const request = entries[0];
  const requestBody = request === undefined ? {} : bodyOf(request);
  const release = (requestBody['release'] ?? {}) as {
    version?: unknown;
    class?: unknown;
    note?: unknown;
    policy?: unknown;
    artifacts?: { name?: unknown; sha256?: unknown }[];
    formats?: unknown;
  };
  const requestedAt = request?.at ?? 0;
  const byType = (t: string) => entries.filter((e) => bodyOf(e).type === t);
  const approvals = byType('sign.approve');
  const rejections = byType('sign.reject');
  const packages = byType('sign.package');
  const shares = byType('round2.share');
  const sessions = [...new Set(packages.map((p) => Number(bodyOf(p)['session'])))].sort(
    (a, b) => a - b,
  );
  const complete = byType('sign.complete')[0];
  const aborted = byType('sign.aborted')[0] ?? byType('dkg.abort')[0];
  const signatureRow = ctx.store.db
    .prepare('SELECT statement, at FROM signatures WHERE ceremony_id = ?')
    .get(id) as { statement: string; at: number } | undefined;
  const statement = signatureRow === undefined ? undefined : json(signatureRow.statement);
  const cp = ctx.log.latestCheckpoint();

  const body = html`<h1>Ceremony <code>${id}</code></h1>
    <p>
      ${bundle.kind === 'sign' ? 'Signing' : 'Key'} ceremony of group
      <strong>${bundle.group?.name ?? '—'}</strong>, state
      <strong id="state">${bundle.recorded.state}</strong>.
      <a id="bundle" href="/audit/ceremony/${encodeURIComponent(id)}/bundle.json"
        >Download the audit bundle</a
      >
      (verify it offline with <code>conclave audit FILE</code>).
    </p>
    <div id="verdict" class="verdict ${report.ok ? 'ok' : 'fail'}">
      ${report.ok ? 'Verification PASSED' : 'Verification FAILED'}:
      ${report.checks.filter((c) => c.ok).length} of ${report.checks.length} checks passed
    </div>
    ${checksTable(report.checks)}
    ${
      bundle.kind === 'sign'
        ? html`<h2>Request</h2>
            <table id="request">
              <tr>
                <th>Requester</th>
                <td>${request?.sender ?? '—'}</td>
              </tr>
              <tr>
                <th>Requested</th>
                <td>${time(request?.at)}</td>
              </tr>
              <tr>
                <th>Release</th>
                <td>${String(release.version ?? '')} (${String(release.class ?? '')})</td>
              </tr>
              <tr>
                <th>Note</th>
                <td>${String(release.note ?? '')}</td>
              </tr>
              <tr>
                <th>Formats</th>
                <td>${strings(release.formats).join(', ')}</td>
              </tr>
              <tr>
                <th>Artifacts</th>
                <td>
                  ${(release.artifacts ?? []).map((a) => html`<div><code>${String(a.name ?? '')}</code> sha256 <code>${String(a.sha256 ?? '')}</code></div>`)}
                </td>
              </tr>
            </table>
            ${ceremonyPolicySection(ctx.store, id, release, Date.now())}
            <h2>Approvals</h2>
            <table id="approvals">
              <thead>
                <tr>
                  <th>Member</th>
                  <th>Approved</th>
                  <th>After request</th>
                </tr>
              </thead>
              <tbody>
                ${approvals.map(
                  (a) =>
                    html`<tr>
                      <td class="approver">${a.sender}</td>
                      <td>${time(a.at)}</td>
                      <td>${((a.at - requestedAt) / 1000).toFixed(1)} s</td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${
              rejections.length === 0
                ? ''
                : html`<h2>Rejections</h2>
                    <table id="rejections">
                      <tbody>
                        ${rejections.map(
                          (r) =>
                            html`<tr>
                              <td>${r.sender}</td>
                              <td>${time(r.at)}</td>
                              <td>${String(bodyOf(r)['reason'] ?? '')}</td>
                            </tr>`,
                        )}
                      </tbody>
                    </table>`
            }
            <h2>Sessions</h2>
            <table id="sessions">
              <thead>
                <tr>
                  <th>Session</th>
                  <th>Phase</th>
                  <th>Signers</th>
                  <th>Started</th>
                  <th>Shares received</th>
                </tr>
              </thead>
              <tbody>
                ${sessions.map((s) => {
                  const pkg = packages.find((p) => Number(bodyOf(p)['session']) === s);
                  const got = shares.filter((x) => Number(bodyOf(x)['session']) === s);
                  return html`<tr>
                    <td>${s}</td>
                    <td>${String(pkg === undefined ? '' : (bodyOf(pkg)['phase'] ?? 1))}</td>
                    <td>${pkg === undefined ? '' : strings(bodyOf(pkg)['signers']).join(', ')}</td>
                    <td>${time(pkg?.at)}</td>
                    <td>${got.map((x) => html`<div>${x.sender} at ${time(x.at)}</div>`)}</td>
                  </tr>`;
                })}
              </tbody>
            </table>
            <h2>Culprits</h2>
            <p id="culprits">
              ${
                bundle.recorded.culprits.length === 0 && report.culprits.length === 0
                  ? 'none'
                  : html`recorded by the coordinator:
                    ${bundle.recorded.culprits.join(', ') || 'none'}; proven from the transcript
                    (invalid shares): ${report.culprits.join(', ') || 'none'}`
              }
            </p>`
        : ''
    }
    <h2>Outcome</h2>
    <div id="outcome">
      ${
        complete !== undefined
          ? html`<p>
                Signed at ${time(complete.at)} by
                ${strings(bodyOf(complete)['signers']).join(', ')}; approvers in the statement:
                <span id="statement-approvers"
                  >${strings(bodyOf(complete)['approvers']).join(', ')}</span
                >.
              </p>
              <table id="signatures">
                <thead>
                  <tr>
                    <th>Job</th>
                    <th>Signature</th>
                  </tr>
                </thead>
                <tbody>
                  ${(
                    (bodyOf(complete)['signatures'] ?? []) as {
                      job?: unknown;
                      signature?: unknown;
                    }[]
                  ).map(
                    (s) =>
                      html`<tr>
                        <td>${String(s.job ?? '')}</td>
                        <td><code>${String(s.signature ?? '')}</code></td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
          : aborted !== undefined
            ? html`<p>
                Ended without a signature at ${time(aborted.at)}:
                ${String(bodyOf(aborted)['reason'] ?? '')} ${String(bodyOf(aborted)['code'] ?? '')}
                — ${String(bodyOf(aborted)['message'] ?? '')}
              </p>`
            : html`<p>${bundle.recorded.state}</p>`
      }
    </div>
    ${
      statement === undefined
        ? ''
        : html`<h2>Signed statement</h2>
            <pre id="statement">${JSON.stringify(statement, null, 2)}</pre>`
    }
    <h2>Transparency log</h2>
    ${
      bundle.log === null
        ? html`<p>Not in the log yet (the ceremony is still open).</p>`
        : html`<p>Leaf <strong>#${bundle.log.index}</strong> of ${bundle.log.size}.</p>
            <pre id="leaf">${bundle.log.leaf}</pre>
            <pre id="ceremony-checkpoint">${bundle.log.checkpoint}</pre>`
    }
    <h2>Timeline</h2>
    <table id="timeline">
      <thead>
        <tr>
          <th>#</th>
          <th>Time</th>
          <th>From</th>
          <th>To</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        ${entries.map(
          (e) =>
            html`<tr>
              <td>${e.idx}</td>
              <td>${time(e.at)}</td>
              <td>${e.sender}</td>
              <td>
                ${e.direction === 'out' ? (e.recipient === '*' ? 'everyone' : (e.recipient ?? '')) : 'coordinator'}
              </td>
              <td>${bodyOf(e).type ?? '(unreadable)'}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  return {
    status: 200,
    html: layout(`Ceremony ${id}`, body, cp === undefined ? undefined : String(cp.size)),
  };
}

function governancePage(ctx: PageContext): Page {
  const cp = ctx.log.latestCheckpoint();
  return {
    status: 200,
    html: layout(
      'Governance',
      governanceBody(ctx.store, Date.now()),
      cp === undefined ? undefined : String(cp.size),
    ),
  };
}

function logPage(ctx: PageContext): Page {
  // The log's structure, signatures and transcripts. Hotfix deadlines and ratifications are
  // derived only from verified ceremony bundles (verifyLog `bundles`): verifying every bundle here,
  // on the coordinator's event loop, would stall its ceremonies on a large log. Auditors get those
  // from `conclave log verify --auditor-token`, which fetches and verifies each bundle offline.
  const report = ctx.log.verify();
  const cp = ctx.log.latestCheckpoint();
  const witnesses = cp === undefined ? [] : ctx.log.cosignatures(cp.size);
  const body = html`<h1>Transparency log</h1>
    <p>
      Origin <code>${ctx.log.origin}</code>; verifier key
      <code id="log-key">${ctx.log.verifierKey}</code>.
    </p>
    <div id="verdict" class="verdict ${report.ok ? 'ok' : 'fail'}">
      ${report.ok ? 'Log verification PASSED' : 'Log verification FAILED'}: ${report.size} leaves,
      root <code>${report.root}</code>
    </div>
    ${checksTable(report.checks)}
    ${report.badCeremonies.length === 0 ? '' : html`<p class="fail">Transcripts changed after they were logged: ${report.badCeremonies.map((id) => html`<a href="/audit/ceremony/${encodeURIComponent(id)}">${id}</a> `)}</p>`}
    <h2>Newest checkpoint</h2>
    <pre id="checkpoint">${ctx.log.cosignedCheckpoint() ?? ''}</pre>
    <h2>Witnesses of that checkpoint</h2>
    <table id="witnesses">
      <thead>
        <tr>
          <th>Member</th>
          <th>Cosigned</th>
        </tr>
      </thead>
      <tbody>
        ${witnesses.map(
          (w) =>
            html`<tr>
              <td>${w.witness}</td>
              <td>${time(w.timestamp * 1000)}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  return { status: 200, html: layout('Log', body, cp === undefined ? undefined : String(cp.size)) };
}

export function renderPage(ctx: PageContext, path: string, params: URLSearchParams): Page {
  if (path === '/audit' || path === '/audit/') return listPage(ctx, params);
  if (path === '/audit/log') return logPage(ctx);
  if (path === '/audit/governance') return governancePage(ctx);
  const m = /^\/audit\/ceremony\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (m?.[1] !== undefined) return ceremonyPage(ctx, m[1]);
  return { status: 404, html: layout('Not found', html`<h1>Not found</h1>`) };
}
