// Governance leaves: a hotfix flagged unratified is logged as a leaf covering ONE envelope the
// coordinator signed (`hotfix.overdue`). verifyGovernanceEntry checks it under the coordinator key;
// verifyLog lists and checks governance leaves; old leaf kinds keep their exact bytes. Each
// rejection rule has its own case asserting the code.
import {
  COORDINATOR_ID,
  defaultPolicy,
  generateIdentityKey,
  hotfixRatifyBy,
  sealEnvelope,
  type Envelope,
  type HotfixOverdue,
} from '@conclave/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuditError,
  GOVERNANCE_FLAG_GRACE_MS,
  GOVERNANCE_ROUND,
  decodeLeaf,
  encodeLeaf,
  governanceTranscript,
  leafFor,
  verifyCeremonyBundle,
  verifyGovernanceEntry,
  verifyLog,
  type BundleTrust,
  type CeremonyBundle,
  type LogLeaf,
  type TranscriptEntry,
} from '../src/index.js';
import {
  flagOverdue,
  inventedRatification,
  logBundleAt,
  signingBundle,
  type SigningOptions,
} from './bundle-fixture.js';
import { MemLog, numRuns } from './helpers.js';

const coordinator = generateIdentityKey();
const HOTFIX = 'c_hotfix000000001';
const T = 1_750_000_000_000;

const overdue = (over: Partial<HotfixOverdue> = {}): HotfixOverdue => ({
  type: 'hotfix.overdue',
  ceremonyId: HOTFIX,
  group: 'release',
  incident: 'INC-42',
  ratifyBy: T,
  flaggedAt: T + 500,
  policyVersion: 1,
  ...over,
});

function seal(
  body: HotfixOverdue,
  key = coordinator,
  fields: { sender?: string; round?: string; ceremonyId?: string } = {},
): Envelope {
  return sealEnvelope(key, {
    ceremonyId: fields.ceremonyId ?? body.ceremonyId,
    round: fields.round ?? GOVERNANCE_ROUND,
    seq: body.flaggedAt * 1000,
    sender: fields.sender ?? COORDINATOR_ID,
    body,
  });
}

/** A governance leaf and its transcript as the coordinator makes them. */
function record(
  body = overdue(),
  opts: { key?: typeof coordinator; sender?: string; at?: number; group?: string } = {},
): { leaf: LogLeaf; transcript: TranscriptEntry[] } {
  const envelope = seal(body, opts.key, opts.sender === undefined ? {} : { sender: opts.sender });
  const transcript = governanceTranscript(envelope, body.flaggedAt).map((e) =>
    opts.sender === undefined ? e : { ...e, sender: opts.sender },
  );
  const leaf = leafFor({
    ceremonyId: body.ceremonyId,
    kind: 'governance',
    group: opts.group ?? body.group,
    outcome: 'hotfix.overdue',
    at: opts.at ?? body.flaggedAt + 5,
    transcript,
  });
  return { leaf, transcript };
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof AuditError) return e.code;
    throw e;
  }
  return undefined;
};

/** Re-hashes the leaf over an edited transcript (what a database editor would also do). */
const rehashed = (leaf: LogLeaf, transcript: TranscriptEntry[]): LogLeaf =>
  leafFor({ ...leaf, transcript });

/**
 * A completed signing ceremony of group `release` that really happened: a bundle whose request,
 * approvals and shares members signed (bundle-fixture.ts), completing at `completedAt`, and the
 * leaf the log holds for it. Only such ceremonies give verifyLog hotfix, policy and ratification
 * facts.
 */
function completedCeremony(options: SigningOptions & { ceremonyId: string; completedAt: number }) {
  const c = signingBundle(options);
  const transcript = c.bundle.transcript as TranscriptEntry[];
  const leaf = leafFor({
    ceremonyId: options.ceremonyId,
    kind: 'sign',
    group: 'release',
    outcome: 'completed',
    at: options.completedAt + 1,
    transcript,
  });
  return { leaf, transcript, bundle: c.bundle, trust: c.trust as BundleTrust, log: c.log };
}

/** A bundle the auditor is given, with the fixture's log when it is one the coordinator made. */
interface BundleCaseOf {
  readonly bundle: unknown;
  readonly trust: BundleTrust;
  readonly log?: MemLog;
}

/**
 * verifyLog's `bundles` over completed ceremonies by id (the auditor's pins of each). Each bundle
 * a fixture made is first re-logged into `leaves`, the audited log, at its ceremony's signing leaf
 * (as the coordinator exports it); a bundle the test made up keeps its own log part.
 */
function bundlesOf(
  leaves: readonly Uint8Array[],
  cases: ReadonlyMap<string, BundleCaseOf>,
): NonNullable<Parameters<typeof verifyLog>[0]['bundles']> {
  for (const [id, c] of cases) {
    const index = leaves.findIndex((l) => {
      const leaf = decodeLeaf(l);
      return leaf.kind === 'sign' && leaf.ceremonyId === id;
    });
    if (c.log !== undefined && index >= 0)
      logBundleAt({ bundle: c.bundle as CeremonyBundle, log: c.log }, leaves, index);
  }
  return {
    of: (leaf) => cases.get(leaf.ceremonyId)?.bundle,
    trust: (leaf) => cases.get(leaf.ceremonyId)?.trust ?? {},
  };
}

describe('verifyGovernanceEntry', () => {
  it('accepts the coordinator’s record and returns what it binds', () => {
    const { leaf, transcript } = record();
    expect(verifyGovernanceEntry(leaf, transcript, coordinator.publicKey)).toEqual({
      ceremonyId: HOTFIX,
      group: 'release',
      incident: 'INC-42',
      ratifyBy: T,
      flaggedAt: T + 500,
      policyVersion: 1,
      loggedAt: T + 505,
    });
    const { incident: _omit, ...noIncident } = overdue();
    const plain = record(noIncident);
    expect(
      verifyGovernanceEntry(plain.leaf, plain.transcript, coordinator.publicKey),
    ).not.toHaveProperty('incident');
  });

  it('edited body, leaf not re-hashed: LOG_LEAF_MISMATCH', () => {
    const { leaf, transcript } = record();
    const edited = [
      {
        ...transcript[0]!,
        envelope: { ...transcript[0]!.envelope, body: overdue({ ratifyBy: T + 400 }) },
      },
    ];
    expect(codeOf(() => verifyGovernanceEntry(leaf, edited, coordinator.publicKey))).toBe(
      'LOG_LEAF_MISMATCH',
    );
  });

  it('edited body with the leaf re-hashed: GOVERNANCE_BAD_SIGNATURE', () => {
    const { leaf, transcript } = record();
    const edited = [
      {
        ...transcript[0]!,
        envelope: { ...transcript[0]!.envelope, body: overdue({ incident: 'INC-43' }) },
      },
    ];
    expect(
      codeOf(() => verifyGovernanceEntry(rehashed(leaf, edited), edited, coordinator.publicKey)),
    ).toBe('GOVERNANCE_BAD_SIGNATURE');
  });

  it('signed by another key: GOVERNANCE_BAD_SIGNATURE', () => {
    const { leaf, transcript } = record(overdue(), { key: generateIdentityKey() });
    expect(codeOf(() => verifyGovernanceEntry(leaf, transcript, coordinator.publicKey))).toBe(
      'GOVERNANCE_BAD_SIGNATURE',
    );
  });

  it('a member’s envelope, however well signed: GOVERNANCE_WRONG_SIGNER', () => {
    const alice = generateIdentityKey();
    const { leaf, transcript } = record(overdue(), { key: alice, sender: 'alice' });
    expect(codeOf(() => verifyGovernanceEntry(leaf, transcript, coordinator.publicKey))).toBe(
      'GOVERNANCE_WRONG_SIGNER',
    );
  });

  it('leaf and signed body disagree: GOVERNANCE_LEAF_MISMATCH', () => {
    const cases: { leaf: LogLeaf; transcript: TranscriptEntry[] }[] = [
      // the leaf names another group than the record
      record(overdue(), { group: 'web' }),
      // the record names another hotfix than the leaf and its envelope
      (() => {
        const r = record();
        const envelope = seal(overdue({ ceremonyId: 'c_otherhotfix0001' }), coordinator, {
          ceremonyId: HOTFIX,
        });
        const transcript = governanceTranscript(envelope, T + 500);
        return { leaf: rehashed(r.leaf, transcript), transcript };
      })(),
      // flagged before its window closed
      record(overdue({ ratifyBy: T + 1000 })),
      // flagged after it was logged
      record(overdue(), { at: T + 100 }),
      // another round
      (() => {
        const r = record();
        const envelope = seal(overdue(), coordinator, { round: '3' });
        const transcript = governanceTranscript(envelope, T + 500);
        return { leaf: rehashed(r.leaf, transcript), transcript };
      })(),
      // entry time is not the flag time
      (() => {
        const r = record();
        const transcript = governanceTranscript(seal(overdue()), T + 501);
        return { leaf: rehashed(r.leaf, transcript), transcript };
      })(),
    ];
    for (const c of cases) {
      expect(codeOf(() => verifyGovernanceEntry(c.leaf, c.transcript, coordinator.publicKey))).toBe(
        'GOVERNANCE_LEAF_MISMATCH',
      );
    }
  });

  it('not exactly one hotfix.overdue envelope: GOVERNANCE_MALFORMED', () => {
    const { leaf, transcript } = record();
    const two = [...transcript, { ...transcript[0]!, idx: 1 }];
    expect(
      codeOf(() => verifyGovernanceEntry(rehashed(leaf, two), two, coordinator.publicKey)),
    ).toBe('GOVERNANCE_MALFORMED');
    expect(codeOf(() => verifyGovernanceEntry(leaf, [], coordinator.publicKey))).toBe(
      'GOVERNANCE_MALFORMED',
    );
    expect(codeOf(() => verifyGovernanceEntry(leaf, [{ idx: 0 }], coordinator.publicKey))).toBe(
      'GOVERNANCE_MALFORMED',
    );
    const ack = sealEnvelope(coordinator, {
      ceremonyId: HOTFIX,
      round: GOVERNANCE_ROUND,
      seq: 1,
      sender: COORDINATOR_ID,
      body: { type: 'ack', seq: 1, messageType: 'sign.approve' },
    });
    const notOverdue = governanceTranscript(ack, T + 500);
    expect(
      codeOf(() =>
        verifyGovernanceEntry(rehashed(leaf, notOverdue), notOverdue, coordinator.publicKey),
      ),
    ).toBe('GOVERNANCE_MALFORMED');
    const signLeaf = leafFor({ ...leaf, kind: 'sign', outcome: 'completed', transcript });
    expect(codeOf(() => verifyGovernanceEntry(signLeaf, transcript, coordinator.publicKey))).toBe(
      'GOVERNANCE_MALFORMED',
    );
  });

  it('any single-field edit of the signed record is rejected (property)', () => {
    const { leaf, transcript } = record();
    const fields = ['ceremonyId', 'group', 'incident', 'ratifyBy', 'flaggedAt', 'policyVersion'];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.nat({ max: 1000 }), (field, n) => {
        const body = { ...overdue() } as Record<string, unknown>;
        body[field] =
          typeof body[field] === 'number'
            ? (body[field] as number) + n + 1
            : `${String(body[field])}x${n}`.slice(0, 32);
        const edited = [
          { ...transcript[0]!, envelope: { ...transcript[0]!.envelope, body } as Envelope },
        ];
        const code = codeOf(() => verifyGovernanceEntry(leaf, edited, coordinator.publicKey));
        const codeRehashed = codeOf(() =>
          verifyGovernanceEntry(rehashed(leaf, edited), edited, coordinator.publicKey),
        );
        return code !== undefined && codeRehashed !== undefined;
      }),
      { numRuns },
    );
  });
});

describe('governance leaves in the leaf format', () => {
  it('leaves of the three older kinds keep their exact bytes (backward compatible)', () => {
    // Bytes a coordinator before governance leaves wrote; they must decode and re-encode as is.
    const old =
      '{"at":1750000000000,"ceremonyId":"c_abcdefgh","entries":0,"format":"conclave-log-leaf/v1","group":"release","kind":"sign","outcome":"completed","transcript":"0000000000000000000000000000000000000000000000000000000000000000"}';
    const bytes = new TextEncoder().encode(old);
    expect(new TextDecoder().decode(encodeLeaf(decodeLeaf(bytes)))).toBe(old);
    for (const kind of ['key', 'admin'] as const) {
      const leaf = leafFor({
        ceremonyId: 'c_abcdefgh',
        kind,
        group: kind === 'admin' ? null : 'release',
        outcome: kind === 'admin' ? 'admin.member.add' : 'completed',
        at: T,
        transcript: [],
      });
      expect(decodeLeaf(encodeLeaf(leaf))).toEqual(leaf);
    }
  });

  it('a governance leaf names a group and a governance outcome (LOG_LEAF_MALFORMED)', () => {
    const { leaf } = record();
    const enc = (x: unknown) =>
      new TextEncoder().encode(JSON.stringify(x, Object.keys(x as object).sort()));
    expect(decodeLeaf(encodeLeaf(leaf))).toEqual(leaf);
    expect(codeOf(() => decodeLeaf(enc({ ...leaf, group: null })))).toBe('LOG_LEAF_MALFORMED');
    expect(codeOf(() => decodeLeaf(enc({ ...leaf, outcome: 'completed' })))).toBe(
      'LOG_LEAF_MALFORMED',
    );
  });
});

describe('verifyLog with governance leaves', () => {
  /** A log: the hotfix's signing leaf, some others, then its governance leaf. */
  function world(
    edit: (r: { leaf: LogLeaf; transcript: TranscriptEntry[] }) => {
      leaf: LogLeaf;
      transcript: TranscriptEntry[];
    } = (r) => r,
    withSign = true,
  ) {
    const log = new MemLog().grow(3, 'key');
    // The hotfix really signed (its bundle verifies) under policy v1 (the record's), completing
    // before the flag.
    const hotfix = completedCeremony({
      ceremonyId: HOTFIX,
      release: { class: 'hotfix', incident: 'INC-42' },
      policyId: 'release@v1',
      completedAt: T - 1000,
    });
    if (withSign) log.leaves.push(encodeLeaf(hotfix.leaf));
    log.grow(2, 'key');
    const r = edit(record());
    log.leaves.push(encodeLeaf(r.leaf));
    const transcripts = new Map<string, TranscriptEntry[]>([
      [`governance:${HOTFIX}`, r.transcript],
      [`sign:${HOTFIX}`, hotfix.transcript],
    ]);
    const transcriptOf = (leaf: LogLeaf) =>
      transcripts.get(`${leaf.kind}:${leaf.ceremonyId}`) ?? (leaf.entries === 0 ? [] : undefined);
    return { log, transcriptOf, checkpoints: [log.checkpoint()], hotfix };
  }
  const failed = (r: ReturnType<typeof verifyLog>): string[] =>
    r.checks.filter((c) => !c.ok).map((c) => c.code ?? '');

  it('lists the overdue hotfix from the leaves alone, and verifies its record with transcripts', () => {
    const { log, transcriptOf, checkpoints } = world();
    const bare = verifyLog({ leaves: log.leaves, checkpoints, logKey: log.verifier });
    expect(failed(bare)).toEqual([]);
    expect(bare.governance).toEqual([
      { index: 6, ceremonyId: HOTFIX, group: 'release', outcome: 'hotfix.overdue', at: T + 505 },
    ]);
    const full = verifyLog({
      leaves: log.leaves,
      checkpoints,
      logKey: log.verifier,
      transcriptOf,
      coordinatorKey: coordinator.publicKey,
    });
    expect(failed(full)).toEqual([]);
    expect(full.checks.map((c) => c.name)).toContain(
      'governance records signed by the coordinator',
    );
    expect(full.governance[0]?.record).toMatchObject({ incident: 'INC-42', policyVersion: 1 });
  });

  it('a governance leaf without its hotfix’s earlier signing leaf: GOVERNANCE_LEAF_MISMATCH', () => {
    const { log, checkpoints } = world((r) => r, false);
    const r = verifyLog({ leaves: log.leaves, checkpoints, logKey: log.verifier });
    expect(failed(r)).toEqual(['GOVERNANCE_LEAF_MISMATCH']);
    expect(r.badLeaves).toEqual([5]);
  });

  it('a record signed by another key fails with its code; no coordinator key fails closed', () => {
    const { log, transcriptOf, checkpoints } = world(() =>
      record(overdue(), { key: generateIdentityKey() }),
    );
    const r = verifyLog({
      leaves: log.leaves,
      checkpoints,
      logKey: log.verifier,
      transcriptOf,
      coordinatorKey: coordinator.publicKey,
    });
    expect(failed(r)).toEqual(['GOVERNANCE_BAD_SIGNATURE']);
    expect(r.badLeaves).toEqual([6]);
    const good = world();
    const noKey = verifyLog({
      leaves: good.log.leaves,
      checkpoints: good.checkpoints,
      logKey: good.log.verifier,
      transcriptOf: good.transcriptOf,
    });
    expect(failed(noKey)).toEqual(['GOVERNANCE_BAD_SIGNATURE']);
  });

  /** A completed standard release ratifying the hotfix, completing at `at` (really signed). */
  function ratification(at: number) {
    const r = completedCeremony({
      ceremonyId: 'c_ratify000000001',
      release: { class: 'standard', ratifies: HOTFIX },
      completedAt: at,
    });
    return { ...r, leaf: encodeLeaf(r.leaf) };
  }

  it('names a late ratification; a hotfix ratified within its window must not be flagged (GOVERNANCE_LEAF_MISMATCH)', () => {
    for (const [at, expected] of [
      [T + 2_000, []],
      [T - 50, ['GOVERNANCE_LEAF_MISMATCH']],
    ] as const) {
      const { log, transcriptOf, hotfix } = world();
      const r = ratification(at);
      log.leaves.push(r.leaf);
      const withRatification = (leaf: LogLeaf) =>
        leaf.ceremonyId === 'c_ratify000000001' ? r.transcript : transcriptOf(leaf);
      const report = verifyLog({
        leaves: log.leaves,
        checkpoints: [log.checkpoint()],
        logKey: log.verifier,
        transcriptOf: withRatification,
        coordinatorKey: coordinator.publicKey,
        bundles: bundlesOf(
          log.leaves,
          new Map<string, BundleCaseOf>([
            ['c_ratify000000001', r],
            [HOTFIX, hotfix],
          ]),
        ),
      });
      expect(failed(report)).toEqual(expected);
      expect(report.governance[0]?.ratifiedBy).toEqual({
        ceremonyId: 'c_ratify000000001',
        index: 7,
        at,
      });
    }
  });

  it('a governance leaf logged twice: LOG_LEAF_MISMATCH', () => {
    const { log, checkpoints } = world();
    log.leaves.push(log.leaves[6]!);
    const r = verifyLog({
      leaves: log.leaves,
      checkpoints: [...checkpoints, log.checkpoint()],
      logKey: log.verifier,
    });
    expect(failed(r)).toEqual(['LOG_LEAF_MISMATCH']);
  });
});

// A flag that never came (docs/audit.md): verifyLog, with transcripts, re-derives every completed
// hotfix's deadline (completion + its policy version's window, hotfixRatifyBy) and requires its
// governance leaf before any other leaf dated past deadline + grace.
describe('verifyLog: overdue hotfixes must be flagged in time', () => {
  const HOUR = 3_600_000;
  const DEFAULT_WINDOW = 72 * HOUR;
  const GRACE = GOVERNANCE_FLAG_GRACE_MS;
  const C = T; // the hotfix's sign.complete time

  type Step =
    | { kind: 'other'; at: number }
    | { kind: 'flag'; at: number; ceremonyId?: string; ratifyBy?: number; policyVersion?: number }
    | { kind: 'ratify'; at: number }
    | { kind: 'revoke'; at: number; scopeId: string }
    | { kind: 'hotfix'; at: number; ceremonyId: string; policyId?: string };

  /** A completed signing ceremony (really signed) completing at `at` under `policyId`. */
  function signed(id: string, release: SigningOptions['release'], at: number, policyId: string) {
    return completedCeremony({
      ceremonyId: id,
      ...(release === undefined ? {} : { release }),
      policyId,
      completedAt: at,
    });
  }

  /**
   * A log: a policy version 1 (window `windowSeconds`, when given), the hotfix completing at C
   * under `policyId`, then `steps` in order.
   */
  function world(steps: readonly Step[], opts: { policyId?: string; windowSeconds?: number } = {}) {
    const log = new MemLog().grow(1, 'key');
    const transcripts = new Map<string, TranscriptEntry[]>();
    const bundles = new Map<string, BundleCaseOf>();
    const push = (r: {
      leaf: LogLeaf;
      transcript: TranscriptEntry[];
      bundle?: unknown;
      trust?: BundleTrust;
      log?: MemLog;
    }) => {
      log.leaves.push(encodeLeaf(r.leaf));
      transcripts.set(`${r.leaf.kind}:${r.leaf.ceremonyId}`, r.transcript);
      if (r.bundle !== undefined && r.trust !== undefined) {
        bundles.set(r.leaf.ceremonyId, {
          bundle: r.bundle,
          trust: r.trust,
          ...(r.log === undefined ? {} : { log: r.log }),
        });
      }
    };
    if (opts.windowSeconds !== undefined) {
      const doc = {
        schema: 'conclave-policy/v1' as const,
        group: 'release',
        version: 1,
        classes: { standard: {} },
        hotfix: { ratificationWindowSeconds: opts.windowSeconds },
      };
      push(signed('c_policy000000001', { class: 'policy', policy: doc }, C - HOUR, 'release@v0'));
    }
    const hotfix = (id: string, at: number, policyId: string) =>
      push(signed(id, { class: 'hotfix', incident: 'INC-42' }, at, policyId));
    hotfix(HOTFIX, C, opts.policyId ?? 'release@v0');
    let others = 0;
    for (const s of steps) {
      if (s.kind === 'other') {
        log.leaves.push(
          encodeLeaf(
            leafFor({
              ceremonyId: `c_other${String(others++).padStart(10, '0')}`,
              kind: 'sign',
              group: 'release',
              outcome: 'expired',
              at: s.at,
              transcript: [],
            }),
          ),
        );
      } else if (s.kind === 'flag') {
        // the coordinator's real record: ratifyBy as it computed it, flagged at `at`
        push(
          record(
            overdue({
              ceremonyId: s.ceremonyId ?? HOTFIX,
              ratifyBy: s.ratifyBy ?? Math.min(C + DEFAULT_WINDOW, s.at - 5),
              flaggedAt: s.at - 5,
              policyVersion: s.policyVersion ?? 0,
            }),
            { at: s.at },
          ),
        );
      } else if (s.kind === 'revoke') {
        // A member revocation the admin made, as the log holds it (its transcript is not needed).
        log.leaves.push(
          encodeLeaf(
            leafFor({
              ceremonyId: s.scopeId,
              kind: 'admin',
              group: null,
              outcome: 'admin.member.revoke',
              at: s.at,
              transcript: [],
            }),
          ),
        );
      } else if (s.kind === 'ratify') {
        push(
          signed('c_ratify000000001', { class: 'standard', ratifies: HOTFIX }, s.at, 'release@v0'),
        );
      } else {
        hotfix(s.ceremonyId, s.at, s.policyId ?? 'release@v0');
      }
    }
    return (flagGraceMs?: number) =>
      verifyLog({
        leaves: log.leaves,
        checkpoints: [log.checkpoint()],
        logKey: log.verifier,
        transcriptOf: (leaf) =>
          transcripts.get(`${leaf.kind}:${leaf.ceremonyId}`) ??
          (leaf.entries === 0 ? [] : undefined),
        coordinatorKey: coordinator.publicKey,
        bundles: bundlesOf(log.leaves, bundles),
        flagGraceMs,
      });
  }
  const failed = (r: ReturnType<typeof verifyLog>): string[] =>
    r.checks.filter((c) => !c.ok).map((c) => c.code ?? '');
  const hotfixOf = (r: ReturnType<typeof verifyLog>) =>
    r.hotfixes.find((h) => h.ceremonyId === HOTFIX);

  it('a hotfix flagged at its deadline, before later leaves, passes (v0: the default 72 h window)', () => {
    const r = world([
      { kind: 'other', at: C + HOUR },
      { kind: 'flag', at: C + DEFAULT_WINDOW + 1000 },
      { kind: 'other', at: C + DEFAULT_WINDOW + 2 * HOUR },
    ])();
    expect(failed(r)).toEqual([]);
    expect(r.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['overdue hotfixes flagged', 'overdue hotfixes flagged in time']),
    );
    expect(hotfixOf(r)).toMatchObject({
      index: 1,
      completedAt: C,
      policyVersion: 0,
      policySource: 'default',
      windowMs: DEFAULT_WINDOW,
      ratifyBy: C + DEFAULT_WINDOW,
      status: 'flagged',
      flag: { index: 3 },
      evidence: { index: 4 },
    });
  });

  it('never flagged though later leaves are dated past deadline + grace: GOVERNANCE_FLAG_MISSING', () => {
    const r = world([{ kind: 'other', at: C + DEFAULT_WINDOW + GRACE + 1 }])();
    expect(failed(r)).toEqual(['GOVERNANCE_FLAG_MISSING']);
    expect(r.ok).toBe(false);
    expect(hotfixOf(r)).toMatchObject({
      status: 'missing',
      evidence: { index: 2, at: C + DEFAULT_WINDOW + GRACE + 1 },
    });
    expect(r.checks.find((c) => !c.ok)?.detail).toContain(HOTFIX);
  });

  it('a bundle whose registry leaves out a revocation the log holds before it is no source of facts: BUNDLE_UNVERIFIED', () => {
    const revoke = { kind: 'revoke', at: C + HOUR, scopeId: 'c_revoke0000000001' } as const;
    const ratify = { kind: 'ratify', at: C + 2 * HOUR } as const;
    // The ratification's bundle lists no such revocation: the revoked member's approval could
    // be in it, so its ratification is not taken.
    const r = world([revoke, ratify])();
    expect(failed(r)).toContain('BUNDLE_UNVERIFIED');
    expect(r.checks.find((c) => c.code === 'BUNDLE_UNVERIFIED' && !c.ok)?.detail).toContain(
      'c_ratify000000001',
    );
    // A revocation logged after the ceremony ended is none of its business.
    expect(failed(world([ratify, { ...revoke, at: C + 3 * HOUR }])())).toEqual([]);
  });

  it('the grace: a leaf dated at deadline + grace exactly is no evidence yet; grace is configurable', () => {
    const steps: Step[] = [{ kind: 'other', at: C + DEFAULT_WINDOW + GRACE }];
    const r = world(steps)();
    expect(failed(r)).toEqual([]);
    expect(hotfixOf(r)?.status).toBe('pending');
    expect(failed(world(steps)(GRACE - 1))).toEqual(['GOVERNANCE_FLAG_MISSING']);
  });

  it('flagged only after a leaf dated past deadline + grace: GOVERNANCE_FLAG_LATE', () => {
    const r = world([
      { kind: 'other', at: C + DEFAULT_WINDOW + GRACE + 1 },
      { kind: 'flag', at: C + DEFAULT_WINDOW + GRACE + 2 },
    ])();
    expect(failed(r)).toEqual(['GOVERNANCE_FLAG_LATE']);
    expect(hotfixOf(r)).toMatchObject({
      status: 'late',
      flag: { index: 3 },
      evidence: { index: 2 },
    });
  });

  it('a flag appended long after the deadline is on time when nothing was logged in between (the coordinator was down)', () => {
    const r = world([
      { kind: 'other', at: C + HOUR },
      { kind: 'flag', at: C + 10 * DEFAULT_WINDOW },
      { kind: 'other', at: C + 10 * DEFAULT_WINDOW + 1 },
    ])();
    expect(failed(r)).toEqual([]);
    expect(hotfixOf(r)?.status).toBe('flagged');
  });

  it('ratified in time, or late but within the grace: no flag due, no finding', () => {
    for (const at of [C + HOUR, C + DEFAULT_WINDOW, C + DEFAULT_WINDOW + GRACE]) {
      const r = world([
        { kind: 'ratify', at },
        { kind: 'other', at: C + 10 * DEFAULT_WINDOW },
      ])();
      expect(failed(r)).toEqual([]);
      expect(hotfixOf(r)).toMatchObject({ status: 'ratified', ratifiedBy: { at } });
    }
  });

  it('a ratification after deadline + grace with no flag before it: GOVERNANCE_FLAG_MISSING (it is its own evidence)', () => {
    const at = C + DEFAULT_WINDOW + GRACE + 1000;
    const r = world([{ kind: 'ratify', at }])();
    expect(failed(r)).toEqual(['GOVERNANCE_FLAG_MISSING']);
    expect(hotfixOf(r)).toMatchObject({ status: 'missing', evidence: { index: 2 } });
    // flagged first, then ratified late: fine
    const ok = world([
      { kind: 'flag', at: C + DEFAULT_WINDOW + 1 },
      { kind: 'ratify', at },
    ])();
    expect(failed(ok)).toEqual([]);
    expect(hotfixOf(ok)).toMatchObject({ status: 'flagged', ratifiedBy: { at } });
  });

  it('a policy version with its own window uses that window', () => {
    const window = 3600; // 1 h
    const late = C + window * 1000 + GRACE + 1;
    const v1 = world([{ kind: 'other', at: late }], {
      policyId: 'release@v1',
      windowSeconds: window,
    })();
    expect(failed(v1)).toEqual(['GOVERNANCE_FLAG_MISSING']);
    expect(hotfixOf(v1)).toMatchObject({
      policyVersion: 1,
      policySource: 'log',
      windowMs: window * 1000,
      ratifyBy: C + window * 1000,
      status: 'missing',
    });
    // the same leaf under v0 (72 h) proves nothing yet
    const v0 = world([{ kind: 'other', at: late }], { windowSeconds: window })();
    expect(failed(v0)).toEqual([]);
    expect(hotfixOf(v0)).toMatchObject({
      policyVersion: 0,
      windowMs: DEFAULT_WINDOW,
      status: 'pending',
    });
  });

  it('a log that ends before the deadline (+ grace): no finding', () => {
    const r = world([
      { kind: 'other', at: C + HOUR },
      { kind: 'other', at: C + DEFAULT_WINDOW - 1 },
    ])();
    expect(failed(r)).toEqual([]);
    expect(hotfixOf(r)?.status).toBe('pending');
    expect(hotfixOf(r)).not.toHaveProperty('evidence');
  });

  it('one sweep flags several hotfixes: another hotfix’s flag is no evidence', () => {
    const second = 'c_hotfix000000002';
    const r = world([
      { kind: 'hotfix', ceremonyId: second, at: C + 1 },
      { kind: 'flag', ceremonyId: second, at: C + DEFAULT_WINDOW + GRACE + 10 },
      { kind: 'flag', at: C + DEFAULT_WINDOW + GRACE + 10 },
    ])();
    expect(failed(r)).toEqual([]);
    expect(r.hotfixes.map((h) => h.status)).toEqual(['flagged', 'flagged']);
  });

  it('a flag whose signed record names a later deadline or another policy version: GOVERNANCE_LEAF_MISMATCH', () => {
    const at = C + DEFAULT_WINDOW + 10_000;
    expect(failed(world([{ kind: 'flag', at, ratifyBy: C + DEFAULT_WINDOW }])())).toEqual([]);
    for (const step of [
      { kind: 'flag', at, ratifyBy: C + DEFAULT_WINDOW + 1 },
      { kind: 'flag', at, policyVersion: 1 },
    ] as const) {
      const r = world([step])();
      expect(failed(r)).toEqual(['GOVERNANCE_LEAF_MISMATCH']);
      expect(r.checks.find((c) => !c.ok)?.name).toBe('governance records agree with their hotfix');
      expect(r.badLeaves).toEqual([2]);
    }
  });

  it("a policy version the log does not hold: its window is not known, so only a policy's bounds (≤ 90 days) are checked", () => {
    const v2 = { policyId: 'release@v2' };
    const week = 7 * 24 * HOUR;
    const flag = (ratifyBy: number) =>
      world([{ kind: 'flag', at: ratifyBy + 10_000, ratifyBy, policyVersion: 2 }], v2)();
    expect(failed(flag(C + week))).toEqual([]);
    expect(failed(flag(C + 91 * 24 * HOUR))).toEqual(['GOVERNANCE_LEAF_MISMATCH']);
  });

  it('an early flag, logged or dated before the real deadline, is a false accusation: GOVERNANCE_LEAF_MISMATCH', () => {
    // The record names a deadline a minute after completion; the group ratified an hour later,
    // well inside its real window (72 h): the flag must not stand, nor make that look late.
    for (const steps of [
      [
        { kind: 'flag', at: C + 2 * 60_000, ratifyBy: C + 60_000 },
        { kind: 'ratify', at: C + HOUR },
      ],
      [{ kind: 'flag', at: C + HOUR, ratifyBy: C + DEFAULT_WINDOW }],
    ] as const) {
      const r = world([...steps])();
      expect(failed(r)).toContain('GOVERNANCE_LEAF_MISMATCH');
      expect(r.ok).toBe(false);
      expect(r.badLeaves).toContain(2);
    }
  });

  it('signingTranscriptsOnly: only completed signing and governance transcripts are required', () => {
    const log = new MemLog();
    const key = leafFor({
      ceremonyId: 'c_dkg0000000000001',
      kind: 'key',
      group: 'release',
      outcome: 'completed',
      at: C,
      transcript: [],
    });
    log.leaves.push(encodeLeaf(key));
    const run = (signingTranscriptsOnly: boolean) =>
      verifyLog({
        leaves: log.leaves,
        checkpoints: [log.checkpoint()],
        logKey: log.verifier,
        transcriptOf: () => undefined,
        coordinatorKey: coordinator.publicKey,
        signingTranscriptsOnly,
      });
    expect(failed(run(false))).toEqual(['LOG_LEAF_MISMATCH']);
    expect(failed(run(true))).toEqual([]);
    const hotfix = signed(HOTFIX, { class: 'hotfix' }, C, 'release@v0');
    log.leaves.push(encodeLeaf(hotfix.leaf));
    expect(failed(run(true))).toEqual(['LOG_LEAF_MISMATCH']);
  });

  it('without transcripts there is nothing to derive', () => {
    const log = new MemLog().grow(2);
    const r = verifyLog({
      leaves: log.leaves,
      checkpoints: [log.checkpoint()],
      logKey: log.verifier,
    });
    expect(r.hotfixes).toEqual([]);
    expect(r.checks.map((c) => c.name)).not.toContain('overdue hotfixes flagged');
  });

  it('the deadline is hotfixRatifyBy, the coordinator’s rule', () => {
    const r = world([], { policyId: 'release@v1', windowSeconds: 7200 })();
    const h = hotfixOf(r)!;
    expect(h.ratifyBy).toBe(
      hotfixRatifyBy(C, {
        ...defaultPolicy('release'),
        hotfix: { ratificationWindowSeconds: 7200 },
      }),
    );
  });
});

// w.ts: which ceremony is a hotfix, a policy or a ratification is read from transcripts the
// coordinator writes and hashes into leaves itself. Only a ceremony whose bundle verifies (members'
// signed request, approvals and shares, the aggregate) under the auditor's pinned keys says so.
describe('verifyLog: hotfix, policy and ratification facts only from verified ceremonies', () => {
  const HOUR = 3_600_000;
  const C = T;

  /** The real hotfix, a made-up ratification of it an hour later, and a leaf 30 days on. */
  function world() {
    const log = new MemLog().grow(1, 'key');
    const transcripts = new Map<string, unknown[]>();
    const hotfix = completedCeremony({
      ceremonyId: HOTFIX,
      release: { class: 'hotfix', incident: 'INC-42' },
      completedAt: C,
    });
    log.leaves.push(encodeLeaf(hotfix.leaf));
    transcripts.set(`sign:${HOTFIX}`, hotfix.transcript);
    const invented = inventedRatification(
      { ceremonyId: HOTFIX, transcript: hotfix.transcript },
      'c_fakeratify00001',
      C + HOUR,
    );
    const ratify = leafFor({
      ceremonyId: 'c_fakeratify00001',
      kind: 'sign',
      group: 'release',
      outcome: 'completed',
      at: C + HOUR,
      transcript: invented,
    });
    log.leaves.push(encodeLeaf(ratify));
    transcripts.set('sign:c_fakeratify00001', invented);
    log.leaves.push(
      encodeLeaf(
        leafFor({
          ceremonyId: 'c_later00000000001',
          kind: 'sign',
          group: 'release',
          outcome: 'expired',
          at: C + 30 * 24 * HOUR,
          transcript: [],
        }),
      ),
    );
    const base = {
      leaves: log.leaves,
      checkpoints: [log.checkpoint()],
      logKey: log.verifier,
      transcriptOf: (l: LogLeaf) =>
        transcripts.get(`${l.kind}:${l.ceremonyId}`) ?? (l.entries === 0 ? [] : undefined),
    };
    return { base, hotfix, invented };
  }
  const failed = (r: ReturnType<typeof verifyLog>): string[] =>
    r.checks.filter((c) => !c.ok).map((c) => c.code ?? '');

  it('transcripts alone give no facts: the invented ratification ratifies nothing', () => {
    const { base } = world();
    const r = verifyLog(base);
    expect(r.hotfixes).toEqual([]);
    expect(r.hotfixes.some((h) => h.status === 'ratified')).toBe(false);
  });

  it('with bundles: the invented ratification has none that verifies (BUNDLE_UNVERIFIED), and the unratified hotfix is due (GOVERNANCE_FLAG_MISSING)', () => {
    const { base, hotfix, invented } = world();
    const bundles = new Map<string, BundleCaseOf>([
      [HOTFIX, hotfix],
      // What the coordinator serves for it: its transcript wrapped in a bundle it signed itself.
      [
        'c_fakeratify00001',
        {
          bundle: {
            ...structuredClone(hotfix.bundle),
            ceremonyId: 'c_fakeratify00001',
            transcript: invented,
          },
          trust: hotfix.trust,
        },
      ],
    ]);
    const r = verifyLog({ ...base, bundles: bundlesOf(base.leaves, bundles) });
    expect(failed(r)).toEqual(['BUNDLE_UNVERIFIED', 'GOVERNANCE_FLAG_MISSING']);
    expect(r.unverifiedCeremonies).toEqual(['c_fakeratify00001']);
    expect(r.hotfixes).toMatchObject([{ ceremonyId: HOTFIX, status: 'missing' }]);
    expect(r.hotfixes[0]).not.toHaveProperty('ratifiedBy');
  });

  /**
   * The log of the real hotfix and its real ratification an hour later, each bundle proven into it
   * (key filler, the hotfix, the ratification, a leaf 30 days on); `run` verifies it with each
   * ceremony's bundle checked against `trust` (default: the keys the auditor pinned for it).
   */
  function audited() {
    const { base, hotfix } = world();
    const real = completedCeremony({
      ceremonyId: 'c_realratify00001',
      release: { class: 'standard', ratifies: HOTFIX },
      completedAt: C + HOUR,
    });
    const log = new MemLog().grow(1, 'key');
    log.leaves.push(encodeLeaf(hotfix.leaf), encodeLeaf(real.leaf), base.leaves[3]!);
    logBundleAt(hotfix, log.leaves, 1);
    logBundleAt(real, log.leaves, 2);
    const transcripts = new Map<string, unknown[]>([
      [`sign:${HOTFIX}`, hotfix.transcript],
      ['sign:c_realratify00001', real.transcript],
    ]);
    const pinned = (id: string): BundleTrust => (id === HOTFIX ? hotfix.trust : real.trust);
    const run = (trust: (id: string) => BundleTrust = pinned) =>
      verifyLog({
        leaves: log.leaves,
        checkpoints: [log.checkpoint()],
        logKey: log.verifier,
        transcriptOf: (l) =>
          transcripts.get(`${l.kind}:${l.ceremonyId}`) ?? (l.entries === 0 ? [] : undefined),
        bundles: {
          of: (l) => (l.ceremonyId === HOTFIX ? hotfix.bundle : real.bundle),
          trust: (l) => trust(l.ceremonyId),
        },
      });
    return { log, hotfix, real, run };
  }

  it('a really signed ratification counts; checked against keys the auditor did not pin, it does not (BUNDLE_UNVERIFIED)', () => {
    const { hotfix, run } = audited();
    const pinned = run();
    expect(failed(pinned)).toEqual([]);
    expect(pinned.hotfixes).toMatchObject([
      { ceremonyId: HOTFIX, status: 'ratified', ratifiedBy: { ceremonyId: 'c_realratify00001' } },
    ]);
    const unpinned = run((id) => (id === HOTFIX ? hotfix.trust : {}));
    expect(failed(unpinned)).toEqual(['BUNDLE_UNVERIFIED', 'GOVERNANCE_FLAG_MISSING']);
  });

  // The coordinator signs with its log key whatever trees it likes: a ratification logged only in
  // a history the auditor is not shown, with a bundle proving it there, must ratify nothing here.
  describe('bundles must prove their leaves into this log (LOG_FORK_DETECTED)', () => {
    const forkCheck = (r: ReturnType<typeof verifyLog>) =>
      r.checks.find((c) => c.name === 'bundles prove leaves of this log');

    it("a bundle of this log's leaf passes, also with a checkpoint newer than the leaves fetched", () => {
      const { log, real, run } = audited();
      expect(failed(run())).toEqual([]);
      expect(forkCheck(run())).toMatchObject({ ok: true });
      // A ceremony completed between fetching the leaves and the bundle: its checkpoint is larger.
      const later = [...log.leaves, new MemLog().appendLeaf(9)];
      logBundleAt(real, later, 2, later.length);
      expect(failed(run())).toEqual([]);
    });

    it('its leaf at another index of another tree: unverified, the hotfix is not ratified', () => {
      const { log, real, run } = audited();
      // The other history: one more leaf before it, so the same leaf bytes sit at index 3.
      const other = [log.leaves[0]!, new MemLog().appendLeaf(7), log.leaves[1]!, log.leaves[2]!];
      logBundleAt(real, other, 3);
      const r = run();
      expect(failed(r)).toEqual(['LOG_FORK_DETECTED', 'GOVERNANCE_FLAG_MISSING']);
      expect(forkCheck(r)?.detail).toContain('c_realratify00001');
      expect(r.unverifiedCeremonies).toEqual(['c_realratify00001']);
      expect(r.hotfixes).toMatchObject([{ ceremonyId: HOTFIX, status: 'missing' }]);
    });

    it('its leaf at the same index under another root (an earlier leaf differs): unverified', () => {
      const { log, real, run } = audited();
      const other = [new MemLog().appendLeaf(5, 'key'), log.leaves[1]!, log.leaves[2]!];
      logBundleAt(real, other, 2);
      expect(failed(run())).toEqual(['LOG_FORK_DETECTED', 'GOVERNANCE_FLAG_MISSING']);
    });

    it('a newer checkpoint of another tree (no root to compare): its leaf at 2 must be this log’s', () => {
      const { log, real, run } = audited();
      // The same ceremony and transcript, logged with another time: another leaf at index 2.
      const moved = encodeLeaf({ ...decodeLeaf(log.leaves[2]!), at: C + 2 * HOUR });
      const other = [log.leaves[0]!, log.leaves[1]!, moved, log.leaves[3]!];
      other.push(new MemLog().appendLeaf(9));
      logBundleAt(real, other, 2, other.length);
      const r = run();
      expect(failed(r)).toEqual(['LOG_FORK_DETECTED', 'GOVERNANCE_FLAG_MISSING']);
      expect(r.unverifiedCeremonies).toEqual(['c_realratify00001']);
    });
  });
});

// Each verified signing bundle proves the key state it ran under; only the log as a whole shows
// two of them claiming different key states for one epoch of one group (a forked key history).
describe('verifyLog: one key history per group', () => {
  /** A log of completed signing ceremonies of `release` (each really signed), bundles given. */
  function signedLog(
    ceremonies: readonly { id: string; freshKey?: boolean; epoch?: number }[],
    /** A completed key ceremony of `release` is logged first (the one that made its key). */
    keyLeaf = false,
  ) {
    const log = new MemLog().grow(1, 'key');
    if (keyLeaf)
      log.leaves.push(
        encodeLeaf(
          leafFor({
            ceremonyId: 'c_dkg0000000000001',
            kind: 'key',
            group: 'release',
            outcome: 'completed',
            at: T - HOUR,
            transcript: [],
          }),
        ),
      );
    const transcripts = new Map<string, TranscriptEntry[]>();
    const bundles = new Map<string, BundleCaseOf>();
    ceremonies.forEach(({ id, freshKey, epoch }, i) => {
      const c = completedCeremony({
        ceremonyId: id,
        completedAt: T + i * HOUR,
        ...(freshKey === true ? { freshKey } : {}),
      });
      // The coordinator numbers the epoch in its bundle as it likes (signing messages name the
      // package's hash, not the epoch); without the key ceremony nothing ties the number.
      if (epoch !== undefined)
        for (const e of (c.bundle as CeremonyBundle).group?.epochs ?? []) e.epoch = epoch;
      log.leaves.push(encodeLeaf(c.leaf));
      transcripts.set(`sign:${id}`, c.transcript);
      bundles.set(id, c);
    });
    return verifyLog({
      leaves: log.leaves,
      checkpoints: [log.checkpoint()],
      logKey: log.verifier,
      transcriptOf: (leaf) => transcripts.get(`${leaf.kind}:${leaf.ceremonyId}`),
      signingTranscriptsOnly: true,
      bundles: bundlesOf(log.leaves, bundles),
    });
  }
  const HOUR = 3_600_000;
  const history = (r: ReturnType<typeof verifyLog>) =>
    r.checks.find((c) => c.name === 'one key history per group');

  it('ceremonies under one key state of an epoch pass', () => {
    const r = signedLog([{ id: 'c_keyone000000001' }, { id: 'c_keyone000000002' }]);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(history(r)).toMatchObject({ ok: true });
    expect(history(r)?.detail).toMatch(
      /2 verified signing ceremonies name one key state per epoch \(1 group epochs; 0 derived/,
    );
  });

  it('two key states claimed for one epoch, each bundle verifying alone: KEY_HISTORY_FORKED, both leaves bad', () => {
    const r = signedLog([{ id: 'c_keyone000000001' }, { id: 'c_keytwo000000002', freshKey: true }]);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.code)).toEqual(['KEY_HISTORY_FORKED']);
    expect(history(r)?.detail).toMatch(
      /^two key states of release@1 \(c_keyone000000001, c_keytwo000000002\): the coordinator forked/,
    );
    expect(r.unverifiedCeremonies).toEqual([]);
    expect(r.badLeaves).toEqual([1, 2]);
  });

  it('one key state under two epoch numbers: KEY_HISTORY_FORKED', () => {
    const r = signedLog([{ id: 'c_keyone000000001' }, { id: 'c_keyone000000002', epoch: 7 }]);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.code)).toEqual(['KEY_HISTORY_FORKED']);
    expect(history(r)?.detail).toMatch(/^one key state as epochs 1 and 7 of release/);
    expect(r.badLeaves).toEqual([1, 2]);
  });

  it('a fork hidden under another epoch number, its key ceremony left out though the log holds the group’s: KEY_HISTORY_FORKED', () => {
    const fork = [
      { id: 'c_keyone000000001' },
      { id: 'c_keytwo000000002', freshKey: true, epoch: 7 },
    ];
    // Without a key ceremony of the group in the log, the numbers are all there is: it passes.
    expect(history(signedLog(fork))).toMatchObject({ ok: true });
    const r = signedLog(fork, true);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.code)).toEqual(['KEY_HISTORY_FORKED']);
    expect(history(r)?.detail).toMatch(
      /^a key state without the key ceremony the log holds \(c_keyone000000001, c_keytwo000000002\)/,
    );
    expect(r.badLeaves).toEqual([2, 3]);
  });
});

// `conclave audit HOTFIX` reads one bundle: its flag must agree with the hotfix's own completion
// (the same rule verifyLog applies across the log: overdueRecordProblems).
describe('verifyCeremonyBundle: a flag in a bundle agrees with its hotfix', () => {
  const C = 1_760_000_000_000;
  const HOUR = 3_600_000;
  const WINDOW = 72 * HOUR;
  const check = (r: ReturnType<typeof verifyCeremonyBundle>) =>
    r.checks.find((c) => c.name === 'governance records agree with the hotfix');
  const flagged = (
    record: Parameters<typeof flagOverdue>[2] = {},
    opts: { release?: SigningOptions['release']; policyId?: string; loggedAt?: number } = {},
  ) => {
    const c = signingBundle({
      ceremonyId: HOTFIX,
      release: opts.release ?? { class: 'hotfix', incident: 'INC-42' },
      completedAt: C,
      ...(opts.policyId === undefined ? {} : { policyId: opts.policyId }),
    });
    flagOverdue(c, C, record, opts.loggedAt);
    return verifyCeremonyBundle(c.bundle, c.trust);
  };

  it("the coordinator's flag (v0: completion + 72 h, flagged after) verifies", () => {
    const r = flagged();
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(check(r)).toMatchObject({ ok: true });
    expect(r.governance).toMatchObject([{ ceremonyId: HOTFIX, ratifyBy: C + WINDOW }]);
  });

  it('a later deadline, an earlier one, or another policy version: GOVERNANCE_LEAF_MISMATCH', () => {
    for (const record of [
      { ratifyBy: C + WINDOW + HOUR },
      { ratifyBy: C + HOUR },
      { policyVersion: 1 },
    ]) {
      const r = flagged(record);
      expect(r.ok).toBe(false);
      expect(r.checks.filter((c) => !c.ok)).toMatchObject([
        { name: 'governance records agree with the hotfix', code: 'GOVERNANCE_LEAF_MISMATCH' },
      ]);
    }
  });

  it('a flag on a standard release: GOVERNANCE_LEAF_MISMATCH', () => {
    const r = flagged({}, { release: { class: 'standard' } });
    expect(check(r)).toMatchObject({ ok: false, code: 'GOVERNANCE_LEAF_MISMATCH' });
    expect(check(r)?.detail).toContain('not a completed hotfix');
  });

  it("a later policy version's window is not in the bundle: only its bounds (after completion, ≤ 90 days)", () => {
    const v2 = { policyId: 'release@v2' };
    expect(check(flagged({ policyVersion: 2, ratifyBy: C + 7 * 24 * HOUR }, v2))).toMatchObject({
      ok: true,
    });
    expect(check(flagged({ policyVersion: 2, ratifyBy: C + 91 * 24 * HOUR }, v2))).toMatchObject({
      ok: false,
      code: 'GOVERNANCE_LEAF_MISMATCH',
    });
    expect(check(flagged({ policyVersion: 2, ratifyBy: C - 1 }, v2))).toMatchObject({
      ok: false,
      code: 'GOVERNANCE_LEAF_MISMATCH',
    });
  });
});
