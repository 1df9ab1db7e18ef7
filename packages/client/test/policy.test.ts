// Members verify a policy before obeying it (docs/policy.md): the quorum signature under their own
// group key, the built-in v0, pinned versions against rollback, and the request/package checks.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  defaultPolicy,
  type PolicyDocument,
  type PolicyInfo,
  type Release,
} from '@conclave/protocol';
import { buildStatement, documentArtifact, messageToSign } from '@conclave/release';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PolicyPins,
  VerifiedPolicyCache,
  cachedPolicyFor,
  checkPackageAgainstPolicy,
  checkRequestAgainstPolicy,
  currentVerifiedPolicy,
  fetchVerifiedPolicy,
  verifyPolicyInfo,
} from '../src/index.js';

const seed = new Uint8Array(32).fill(3);
const groupPublicKey = bytesToHex(ed25519.getPublicKey(seed));
const key = { group: 'release', groupPublicKey };

const doc = (version: number, over: Partial<PolicyDocument['classes']['standard']> = {}) =>
  ({
    schema: 'conclave-policy/v1',
    group: 'release',
    version,
    classes: { standard: { quorum: 3, artifacts: ['app-*.tgz'], ...over } },
    hotfix: { requireIncident: true },
  }) as PolicyDocument;

/** What the coordinator serves for `document`, signed by a quorum (here: the group key) or not. */
function info(document: PolicyDocument, signWith = seed, latest = document.version): PolicyInfo {
  const release: Release = {
    version: `policy-${document.version}`,
    class: 'policy',
    note: '',
    artifacts: [documentArtifact('p.json', document)],
    formats: ['dsse'],
    policy: document,
  };
  const ctx = {
    ceremonyId: `c_policy${document.version}0000000000000000000000`,
    group: 'release',
    groupPublicKey,
    requester: 'alice',
    approvers: [],
    policyId: `release@v${document.version - 1}`,
    issuedAt: 0,
  };
  return {
    type: 'policy.info',
    group: 'release',
    version: document.version,
    policyId: `release@v${document.version}`,
    latest,
    threshold: 2,
    document,
    signed: {
      ceremonyId: ctx.ceremonyId,
      groupPublicKey,
      statement: JSON.parse(JSON.stringify(buildStatement(release, ctx))) as Record<
        string,
        unknown
      >,
      signature: bytesToHex(ed25519.sign(messageToSign(release, ctx), signWith)),
      signedAt: 0,
    },
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const pins = () => {
  const d = mkdtempSync(join(tmpdir(), 'conclave-pins-'));
  dirs.push(d);
  return new PolicyPins(d);
};

/** A fake connection serving `versions`, with `current` as the answer without a version. */
const serving = (versions: Record<number, PolicyInfo>, current: number) => ({
  query: <T>(frame: { readonly type: string } & Record<string, unknown>): Promise<T> => {
    const v = typeof frame.version === 'number' ? frame.version : current;
    const found = versions[v];
    if (found === undefined) return Promise.reject(new Error(`no version ${v}`));
    return Promise.resolve({ ...found, latest: current } as T);
  },
});

describe('verifyPolicyInfo', () => {
  it('accepts a version a quorum of the group key signed', () => {
    const p = verifyPolicyInfo(info(doc(1)), key);
    expect(p).toMatchObject({ version: 1, policyId: 'release@v1', signedUnder: 'release@v0' });
  });

  it('refuses an edited document, another key, a missing signature and a renumbered version', () => {
    const good = info(doc(1));
    const cases: PolicyInfo[] = [
      { ...good, document: doc(1, { quorum: 2 }) },
      info(doc(1), new Uint8Array(32).fill(4)),
      (({ signed: _, ...rest }) => rest)(good),
      { ...good, version: 2, document: { ...good.document, version: 2 } },
    ];
    for (const c of cases) {
      expect(() => verifyPolicyInfo(c, key)).toThrow(
        expect.objectContaining({ code: 'POLICY_UNVERIFIED' }),
      );
    }
  });

  it('uses the built-in default for version 0, whatever document is served', () => {
    const served: PolicyInfo = {
      type: 'policy.info',
      group: 'release',
      version: 0,
      policyId: 'release@v0',
      latest: 0,
      threshold: 2,
      document: { ...defaultPolicy('release'), classes: { standard: { artifacts: ['*'] } } },
    };
    expect(verifyPolicyInfo(served, key).document).toEqual(defaultPolicy('release'));
  });
});

describe('pinned versions', () => {
  it('refuses a ceremony that runs under an older version than the newest verified', async () => {
    const store = pins();
    const conn = serving({ 1: info(doc(1)), 2: info(doc(2)) }, 2);
    await expect(fetchVerifiedPolicy(conn, key, 'release@v2', store)).resolves.toMatchObject({
      version: 2,
    });
    await expect(fetchVerifiedPolicy(conn, key, 'release@v1', store)).rejects.toMatchObject({
      code: 'POLICY_UNVERIFIED',
    });
  });

  it('refuses an answer for another version than the one the ceremony names', async () => {
    // Asked for v1 (the named version), answers with v2: the member must not check the request
    // against a policy the ceremony does not run under.
    const swapped = {
      query: <T>(): Promise<T> => Promise.resolve({ ...info(doc(2)), latest: 2 } as T),
    };
    await expect(fetchVerifiedPolicy(swapped, key, 'release@v1', pins())).rejects.toMatchObject({
      code: 'POLICY_UNVERIFIED',
      message: expect.stringContaining('answered with release@v2'),
    });
  });

  it('catches a coordinator rolling the policy back (serving v1 as current after v2 was seen)', async () => {
    const store = pins();
    await currentVerifiedPolicy(serving({ 2: info(doc(2)) }, 2), key, store);
    expect(await store.highest(key)).toBe(2);
    const rolledBack = serving({ 1: info(doc(1)) }, 1);
    await expect(currentVerifiedPolicy(rolledBack, key, store)).rejects.toMatchObject({
      code: 'POLICY_UNVERIFIED',
    });
    await expect(fetchVerifiedPolicy(rolledBack, key, 'release@v1', store)).rejects.toMatchObject({
      code: 'POLICY_UNVERIFIED',
    });
  });
});

describe('a verified policy kept for the session (no round trip per approval)', () => {
  async function verified(version: number) {
    return fetchVerifiedPolicy(
      serving({ [version]: info(doc(version)) }, version),
      key,
      `release@v${version}`,
      pins(),
    );
  }

  it('serves a version this session verified when the status says nothing newer is stored', async () => {
    const cache = new VerifiedPolicyCache();
    expect(cachedPolicyFor(cache, key, 'release@v2', 2, 0)).toBeUndefined(); // not verified yet
    const v2 = await verified(2);
    cache.add(key, v2);
    expect(cachedPolicyFor(cache, key, 'release@v2', 2, 2)).toBe(v2);
    expect(cachedPolicyFor(cache, key, 'release@v2', 1, 0)).toBe(v2);
  });

  it('asks again when a newer version is stored or pinned, or the status does not say', async () => {
    const cache = new VerifiedPolicyCache();
    cache.add(key, await verified(2));
    expect(cachedPolicyFor(cache, key, 'release@v2', 3, 0)).toBeUndefined(); // newer stored
    expect(cachedPolicyFor(cache, key, 'release@v2', 2, 3)).toBeUndefined(); // newer pinned here
    expect(cachedPolicyFor(cache, key, 'release@v2', undefined, 0)).toBeUndefined();
    expect(cachedPolicyFor(cache, key, 'release@v1', 2, 0)).toBeUndefined(); // another version
  });

  it('keys by group and group key: another group, or the same name under a new key, is asked for', async () => {
    const cache = new VerifiedPolicyCache();
    cache.add(key, await verified(2));
    expect(cachedPolicyFor(cache, { ...key, group: 'web' }, 'web@v2', 2, 0)).toBeUndefined();
    const rotated = { group: 'release', groupPublicKey: '00'.repeat(32) };
    expect(cachedPolicyFor(cache, rotated, 'release@v2', 2, 0)).toBeUndefined();
    expect(cachedPolicyFor(cache, key, 'web@v2', 2, 0)).toBeUndefined(); // id of another group
  });

  it('stays bounded: the oldest entry goes first', async () => {
    const cache = new VerifiedPolicyCache();
    const v1 = await verified(1);
    for (let i = 0; i <= VerifiedPolicyCache.LIMIT; i++) {
      cache.add({ group: 'release', groupPublicKey: i.toString(16).padStart(64, '0') }, v1);
    }
    expect(cache.get({ group: 'release', groupPublicKey: '0'.repeat(64) }, 1)).toBeUndefined();
    expect(
      cache.get(
        {
          group: 'release',
          groupPublicKey: VerifiedPolicyCache.LIMIT.toString(16).padStart(64, '0'),
        },
        1,
      ),
    ).toBe(v1);
  });
});

describe('PolicyPins: the OpenPGP key creation time', () => {
  const T = 1_750_000_000;
  const home = () => {
    const d = mkdtempSync(join(tmpdir(), 'conclave-pins-'));
    dirs.push(d);
    return d;
  };
  const codeOf = async (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (e as { code?: string }).code,
    );

  it('takes any time until one is pinned, then only that one (SIGNING_REFUSED, both times named)', async () => {
    const d = home();
    await new PolicyPins(d).checkKeyCreatedAt(key, T + 5); // nothing pinned yet
    await new PolicyPins(d).pinKeyCreatedAt(key, T);
    await new PolicyPins(d).pinKeyCreatedAt(key, T);
    await new PolicyPins(d).checkKeyCreatedAt(key, T);
    const err = await new PolicyPins(d).checkKeyCreatedAt(key, T + 3600).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
    expect(err?.code).toBe('SIGNING_REFUSED');
    expect(err?.message).toContain(new Date(T * 1000).toISOString());
    expect(err?.message).toContain(new Date((T + 3600) * 1000).toISOString());
    expect(await codeOf(new PolicyPins(d).pinKeyCreatedAt(key, T + 1))).toBe('SIGNING_REFUSED');
    // Per group key: another key of the same group name pins its own.
    await new PolicyPins(d).pinKeyCreatedAt({ ...key, groupPublicKey: 'ee'.repeat(32) }, T + 1);
  });

  it('keeps it in a file of its own: the policy pins keep the format older clients read', async () => {
    const d = home();
    await new PolicyPins(d).record(key, {
      group: 'release',
      version: 2,
      policyId: 'release@v2',
      document: doc(2),
    } as never);
    await new PolicyPins(d).pinKeyCreatedAt(key, T);
    expect(JSON.parse(readFileSync(join(d, 'policy-pins.json'), 'utf8'))).toEqual({
      [`release:${groupPublicKey}`]: { version: 2, policyId: 'release@v2' },
    });
    expect(await new PolicyPins(d).highest(key)).toBe(2);
    expect(await codeOf(new PolicyPins(d).checkKeyCreatedAt(key, T + 1))).toBe('SIGNING_REFUSED');
  });

  it('refuses a damaged pin file (CONFIG_INVALID) instead of signing as if nothing were pinned', async () => {
    const d = home();
    writeFileSync(join(d, 'key-pins.json'), '{"release:x": {"keyCreatedAt": "yesterday"}}');
    expect(await codeOf(new PolicyPins(d).checkKeyCreatedAt(key, T))).toBe('CONFIG_INVALID');
    writeFileSync(join(d, 'key-pins.json'), '{not json');
    expect(await codeOf(new PolicyPins(d).checkKeyCreatedAt(key, T))).toBe('CONFIG_INVALID');
  });

  it('lets one of two racing first pins win; the other is refused, never overwrites', async () => {
    for (let round = 0; round < 8; round++) {
      const d = home();
      const codes = await Promise.all([
        codeOf(new PolicyPins(d).pinKeyCreatedAt(key, T)),
        codeOf(new PolicyPins(d).pinKeyCreatedAt(key, T + 1)),
      ]);
      const winner = codes[0] === 'ok' ? T : T + 1;
      expect([...codes].sort()).toEqual(['SIGNING_REFUSED', 'ok']);
      expect(await codeOf(new PolicyPins(d).checkKeyCreatedAt(key, winner))).toBe('ok');
    }
  });
});

describe('PolicyPins.record under concurrency', () => {
  const verified = (group: string, version: number) => ({
    group,
    version,
    policyId: `${group}@v${version}`,
    document: doc(version),
  });

  it("never lowers a pin, nor loses another group's, when records race (two clients, one home)", async () => {
    const d = mkdtempSync(join(tmpdir(), 'conclave-pins-'));
    dirs.push(d);
    const other = { group: 'docs', groupPublicKey };
    for (let round = 0; round < 8; round++) {
      // Separate instances, as the agent and `conclave approve` each hold their own.
      const versions = [1, 2, 3, 4, 5, 6].sort(() => Math.random() - 0.5);
      const writes = versions.map((v) => new PolicyPins(d).record(key, verified('release', v)));
      writes.push(new PolicyPins(d).record(other, verified('docs', round + 1)));
      await Promise.all(writes);
      expect(await new PolicyPins(d).highest(key)).toBe(6);
      expect(await new PolicyPins(d).highest(other)).toBe(round + 1);
    }
    expect(readdirSync(d).filter((n) => n !== 'policy-pins.json')).toEqual([]);
  });

  it('records a version already pinned without the lock: a held lock does not stall approvals', async () => {
    const d = mkdtempSync(join(tmpdir(), 'conclave-pins-'));
    dirs.push(d);
    const pins = new PolicyPins(d);
    await pins.record(key, verified('release', 3));
    // Another live process (pid 1 always exists) holds the lock: only a raise has to wait for it.
    writeFileSync(join(d, 'policy-pins.json.lock'), '1\n');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => pins.record(key, verified('release', 1 + (i % 3)))),
    );
    expect(await pins.highest(key)).toBe(3);
    let raised = false;
    const raise = pins.record(key, verified('release', 4)).then(() => (raised = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(raised).toBe(false);
    rmSync(join(d, 'policy-pins.json.lock'));
    await raise;
    expect(await pins.highest(key)).toBe(4);
  });

  it("queues one instance's concurrent raises instead of polling the lock until TIMEOUT", async () => {
    const d = mkdtempSync(join(tmpdir(), 'conclave-pins-'));
    dirs.push(d);
    const pins = new PolicyPins(d);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => pins.record(key, verified('release', i + 1))),
    );
    expect(await pins.highest(key)).toBe(300);
    expect(readdirSync(d)).toEqual(['policy-pins.json']);
  });
});

describe('request and package checks', () => {
  const p = verifyPolicyInfo(info(doc(1, { requesters: { members: ['alice'] } })), key);
  const release = (over: Partial<Release> = {}): Release => ({
    version: '1.0.0',
    class: 'standard',
    note: '',
    artifacts: [
      {
        name: 'app-1.tgz',
        sha256: 'aa'.repeat(32),
        sha512: 'bb'.repeat(64),
        blake2b512: 'cc'.repeat(64),
      },
    ],
    formats: ['dsse'],
    ...over,
  });

  it('checks member-only requesters, artifact patterns and the hotfix incident itself', () => {
    expect(() =>
      checkRequestAgainstPolicy(p, { requester: 'alice', release: release() }),
    ).not.toThrow();
    expect(() => checkRequestAgainstPolicy(p, { requester: 'bob', release: release() })).toThrow(
      expect.objectContaining({ code: 'POLICY_REQUESTER_NOT_ALLOWED' }),
    );
    const odd = release({ artifacts: [{ ...release().artifacts[0]!, name: 'tool.zip' }] });
    expect(() => checkRequestAgainstPolicy(p, { requester: 'alice', release: odd })).toThrow(
      expect.objectContaining({ code: 'POLICY_ARTIFACT_NOT_ALLOWED' }),
    );
    expect(() =>
      checkRequestAgainstPolicy(p, { requester: 'alice', release: release({ class: 'hotfix' }) }),
    ).toThrow(expect.objectContaining({ code: 'POLICY_INCIDENT_REQUIRED' }));
  });

  it('checks the validity limit itself: none given, or longer than the policy allows from now', () => {
    const limited = verifyPolicyInfo(info(doc(1, { maxValiditySeconds: 86_400 })), key);
    const now = 1_800_000_000_000;
    const check = (validUntil?: number) => () =>
      checkRequestAgainstPolicy(
        limited,
        { requester: 'alice', release: release(validUntil === undefined ? {} : { validUntil }) },
        now,
      );
    expect(check(now + 86_400_000)).not.toThrow();
    // Within the clock tolerance of the coordinator, who checked it when the request came in.
    expect(check(now + 86_400_000 + 60_000)).not.toThrow();
    const exceeded = expect.objectContaining({ code: 'POLICY_VALIDITY_EXCEEDED' });
    expect(check(now + 2 * 86_400_000)).toThrow(exceeded);
    expect(check()).toThrow(exceeded);
    // A policy without a limit takes a request without validUntil.
    expect(() =>
      checkRequestAgainstPolicy(p, { requester: 'alice', release: release() }, now),
    ).not.toThrow();
  });

  it('refuses to sign a statement naming another policy, or listing fewer approvers than its quorum', () => {
    const ok = { policyId: 'release@v1', approvers: ['a', 'b', 'c'] };
    expect(() => checkPackageAgainstPolicy(p, 'standard', 2, ok)).not.toThrow();
    expect(() =>
      checkPackageAgainstPolicy(p, 'standard', 2, { ...ok, policyId: 'release@v0' }),
    ).toThrow(expect.objectContaining({ code: 'POLICY_UNVERIFIED' }));
    expect(() =>
      checkPackageAgainstPolicy(p, 'standard', 2, { ...ok, approvers: ['a', 'b'] }),
    ).toThrow(expect.objectContaining({ code: 'POLICY_QUORUM_NOT_MET' }));
  });
});
