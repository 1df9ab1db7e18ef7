// Key rotation (docs/lifecycle.md "Rotation"): the transition statement is the artifact of two
// ordinary release ceremonies, one per group; the bundle verifies only with the old group's
// envelope signed by the old key and the new group's by the new key, each naming the transition
// file's digest as its only subject. One test per check, asserting the check's name.
import { ed25519 as frost, type KeyPackage, type PublicKeyPackage } from '@conclave/frost';
import { bytesToHex } from '@conclave/protocol';
import {
  DSSE_PAYLOAD_TYPE,
  buildStatement,
  dsseEnvelope,
  pae,
  statementBytes,
  type ReleaseInput,
  type StatementContext,
} from '@conclave/release';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TRANSITION_CHECKS,
  buildTransitionBundle,
  buildTransitionStatement,
  nextGroupName,
  parseTransitionFile,
  rotationVersion,
  transitionDigest,
  transitionFileBytes,
  verifyTransitionBundle,
  type TransitionBundle,
  type TransitionCheckName,
} from '../src/index.js';

const NUM_RUNS = Number(process.env['FC_NUM_RUNS'] ?? 20);

function group(t: number, n: number) {
  const { shares, publicKeyPackage } = frost.keys.dealer({ minSigners: t, maxSigners: n });
  return {
    keys: Object.values(shares).map((s) => frost.keys.keyPackage(s)),
    pub: publicKeyPackage,
  };
}
type Group = ReturnType<typeof group>;

/** A quorum signs `message` (FROST, RFC 9591): an ordinary Ed25519 signature. */
function quorumSign(keys: readonly KeyPackage[], pub: PublicKeyPackage, message: Uint8Array) {
  const r1 = keys.map((k) => frost.round1.commit(k));
  const pkg = frost.signingPackage(
    r1.map((r) => r.commitments),
    message,
  );
  return frost.aggregate(
    pkg,
    keys.map((k, i) => frost.round2.sign(pkg, r1[i]!.nonces, k)),
    pub,
  ).bytes;
}

const old = group(2, 3);
const next = group(3, 4);
const statement = buildTransitionStatement({
  oldKey: {
    group: 'release',
    publicKey: bytesToHex(old.pub.verifyingKey),
    epoch: 4,
    threshold: 2,
    members: ['alice', 'bob', 'carol'],
  },
  newKey: {
    group: 'release-v2',
    publicKey: bytesToHex(next.pub.verifyingKey),
    epoch: 0,
    threshold: 3,
    members: ['alice', 'bob', 'dave', 'erin'],
  },
  time: new Date('2026-11-25T12:00:00Z'),
  reason: 'carol left; her device may be lost',
  rotationCeremony: 'c_0123456789abcdef',
});
const FILE = 'release-to-release-v2.transition.json';

/**
 * What a rotation ceremony of `side` signs (the statement the coordinator and signers build for
 * `conclave request --artifact FILE --version rotation-2 --formats dsse`), with overrides.
 */
function ceremony(
  side: 'old' | 'new',
  opts: {
    signer?: Group;
    release?: Partial<ReleaseInput>;
    context?: Partial<StatementContext>;
  } = {},
) {
  const key = side === 'old' ? statement.oldKey : statement.newKey;
  const g = side === 'old' ? old : next;
  const d = transitionDigest(statement);
  const release: ReleaseInput = {
    version: rotationVersion(statement),
    class: 'standard',
    note: 'key rotation',
    artifacts: [{ name: FILE, sha256: d.sha256, sha512: d.sha512 }],
    formats: ['dsse'],
    ...opts.release,
  };
  const context: StatementContext = {
    ceremonyId: `c_${side}0123456789abcdef`,
    group: key.group,
    groupPublicKey: key.publicKey,
    requester: 'alice',
    approvers: key.members
      .slice(0, key.threshold)
      .map((member) => ({ member, identityKey: '00'.repeat(32) })),
    policyId: `${key.group}@v0`,
    issuedAt: Date.parse('2026-11-25T12:05:00Z'),
    ...opts.context,
  };
  const s = buildStatement(release, context);
  const signer = opts.signer ?? g;
  // DSSE v1: the quorum signs PAE(payloadType, payload), as `conclave fetch`'s statement.pae.
  const sig = quorumSign(
    signer.keys.slice(0, signer === old ? 2 : 3),
    signer.pub,
    pae(DSSE_PAYLOAD_TYPE, statementBytes(s)),
  );
  return dsseEnvelope(s, sig, side) as TransitionBundle['old'];
}

const oldEnv = ceremony('old');
const newEnv = ceremony('new');
const good = buildTransitionBundle({ statement, name: FILE, old: oldEnv, new: newEnv });
const roundTrip = (b: unknown): unknown => JSON.parse(JSON.stringify(b));

function failsAt(bundle: unknown, check: TransitionCheckName, pins = {}) {
  const v = verifyTransitionBundle(roundTrip(bundle), pins);
  expect(v.ok).toBe(false);
  expect(v.failed?.check).toBe(check);
  // Every check before it passed; nothing after it ran.
  expect(v.checks.map((c) => c.check)).toEqual(
    TRANSITION_CHECKS.slice(0, TRANSITION_CHECKS.indexOf(check) + 1),
  );
  return v;
}

describe('transition file', () => {
  it('is the canonical JSON of the statement, and parses back only in that form', () => {
    const bytes = transitionFileBytes(statement);
    expect(parseTransitionFile(bytes)).toEqual(statement);
    const text = new TextDecoder().decode(bytes);
    expect(text.endsWith('}')).toBe(true);
    expect(() => parseTransitionFile(JSON.stringify(statement, null, 2))).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => parseTransitionFile(text.replace('"reason"', '"extra":1,"reason"'))).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => parseTransitionFile(new Uint8Array([0xff, 0xfe]))).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('refuses a "rotation" to the same key; names the next group and the rotation version', () => {
    expect(() =>
      buildTransitionStatement({
        oldKey: statement.oldKey,
        newKey: { ...statement.newKey, publicKey: statement.oldKey.publicKey },
        time: new Date(),
        reason: 'x',
        rotationCeremony: 'c_0123456789abcdef',
      }),
    ).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(nextGroupName('release')).toBe('release-v2');
    expect(nextGroupName('release-v2')).toBe('release-v3');
    expect(rotationVersion(statement)).toBe('rotation-2');
    expect(rotationVersion({ newKey: { ...statement.newKey, group: 'web-2027' } })).toBe(
      'rotation-web-2027',
    );
  });
});

describe('transition bundle: verifyTransitionBundle', () => {
  it('passes every check with both quorums, with and without pinned keys', () => {
    const v = verifyTransitionBundle(roundTrip(good), {
      oldKey: statement.oldKey.publicKey,
      newKey: next.pub.verifyingKey,
    });
    expect(v.ok, JSON.stringify(v.failed)).toBe(true);
    expect(v.checks.map((c) => c.check)).toEqual([...TRANSITION_CHECKS]);
    expect(v.statement).toEqual(statement);
    expect(v.old).toMatchObject({
      group: 'release',
      ceremonyId: 'c_old0123456789abcdef',
      approvers: ['alice', 'bob'],
    });
    expect(v.new).toMatchObject({ group: 'release-v2', approvers: ['alice', 'bob', 'dave'] });
    expect(verifyTransitionBundle(roundTrip(good)).ok).toBe(true);
    // Upper-case hex pins are the same key.
    expect(
      verifyTransitionBundle(roundTrip(good), { oldKey: statement.oldKey.publicKey.toUpperCase() })
        .ok,
    ).toBe(true);
  });

  it('BUNDLE_FORMAT: not a bundle, or an envelope missing', () => {
    failsAt({ ...good, type: 'x' }, 'BUNDLE_FORMAT');
    const { new: _dropped, ...half } = good;
    failsAt(half, 'BUNDLE_FORMAT');
    failsAt('not json at all', 'BUNDLE_FORMAT');
  });

  it('TRANSITION_STATEMENT: an extra field, or the same key on both sides', () => {
    failsAt(
      { ...good, transition: { ...good.transition, statement: { ...statement, extra: 1 } } },
      'TRANSITION_STATEMENT',
    );
    const same = {
      ...statement,
      newKey: { ...statement.newKey, publicKey: statement.oldKey.publicKey },
    };
    failsAt(
      { ...good, transition: { ...good.transition, statement: same } },
      'TRANSITION_STATEMENT',
    );
  });

  it('OLD_KEY_PINNED / NEW_KEY_PINNED: the statement names another key than the one given', () => {
    const v = failsAt(good, 'OLD_KEY_PINNED', { oldKey: statement.newKey.publicKey });
    expect(v.failed?.reason).toMatch(/another key than the one you trust/);
    failsAt(good, 'NEW_KEY_PINNED', { newKey: statement.oldKey.publicKey });
  });

  it('OLD_ENVELOPE / NEW_ENVELOPE: another payload type, or not a release statement', () => {
    failsAt({ ...good, old: { ...oldEnv, payloadType: 'application/json' } }, 'OLD_ENVELOPE');
    failsAt(
      { ...good, new: { ...newEnv, payload: Buffer.from('{"_type":"x"}').toString('base64') } },
      'NEW_ENVELOPE',
    );
  });

  it('OLD_SIGNATURE / NEW_SIGNATURE: a side signed by the other key (or swapped)', () => {
    // The new group's slot holds the old group's envelope: signed by the OLD key.
    const v = failsAt({ ...good, new: oldEnv }, 'NEW_SIGNATURE');
    expect(v.failed?.reason).toContain(statement.newKey.publicKey);
    failsAt({ ...good, old: newEnv, new: oldEnv }, 'OLD_SIGNATURE');
    // A statement claiming the new group, but signed by a quorum of the old key.
    failsAt({ ...good, new: ceremony('new', { signer: old }) }, 'NEW_SIGNATURE');
  });

  it('OLD_SUBJECT / NEW_SUBJECT: a tampered statement, another file, or an extra subject', () => {
    const tampered = { ...statement, reason: 'nobody left' };
    const v = failsAt(
      { ...good, transition: { ...good.transition, statement: tampered } },
      'OLD_SUBJECT',
    );
    expect(v.failed?.reason).toMatch(/was changed/);
    const d = transitionDigest(statement);
    failsAt(
      {
        ...good,
        new: ceremony('new', {
          release: { artifacts: [{ name: FILE, sha256: 'ab'.repeat(32), sha512: d.sha512 }] },
        }),
      },
      'NEW_SUBJECT',
    );
    failsAt(
      {
        ...good,
        old: ceremony('old', {
          release: {
            artifacts: [
              { name: FILE, sha256: d.sha256, sha512: d.sha512 },
              { name: 'evil.tgz', sha256: 'cd'.repeat(32), sha512: 'ef'.repeat(64) },
            ],
          },
        }),
      },
      'OLD_SUBJECT',
    );
  });

  it('OLD_GROUP / NEW_GROUP: the predicate names another group or key', () => {
    failsAt({ ...good, old: ceremony('old', { context: { group: 'other' } }) }, 'OLD_GROUP');
    failsAt(
      {
        ...good,
        new: ceremony('new', { context: { groupPublicKey: statement.oldKey.publicKey } }),
      },
      'NEW_GROUP',
    );
  });

  it('OLD_RELEASE / NEW_RELEASE: another class or a version not naming the rotation', () => {
    failsAt({ ...good, old: ceremony('old', { release: { class: 'hotfix' } }) }, 'OLD_RELEASE');
    failsAt({ ...good, new: ceremony('new', { release: { version: '1.0.0' } }) }, 'NEW_RELEASE');
  });

  it('OLD_QUORUM / NEW_QUORUM: fewer approvers than the threshold, or a non-member', () => {
    const one = [{ member: 'alice', identityKey: '00'.repeat(32) }];
    failsAt({ ...good, old: ceremony('old', { context: { approvers: one } }) }, 'OLD_QUORUM');
    const outsider = ['alice', 'bob', 'mallory'].map((member) => ({
      member,
      identityKey: '00'.repeat(32),
    }));
    failsAt({ ...good, new: ceremony('new', { context: { approvers: outsider } }) }, 'NEW_QUORUM');
  });

  it('any changed byte of a payload or signature fails a named check (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('old', 'new'),
        fc.constantFrom('payload', 'sig'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (side, part, at, x) => {
          const env = side === 'old' ? oldEnv : newEnv;
          const raw = Buffer.from(
            part === 'payload' ? env.payload : env.signatures[0]!.sig,
            'base64',
          );
          const i = at % raw.length;
          raw[i] = (raw[i] ?? 0) ^ x;
          const b64 = raw.toString('base64');
          const changed =
            part === 'payload'
              ? { ...env, payload: b64 }
              : { ...env, signatures: [{ ...env.signatures[0]!, sig: b64 }] };
          const v = verifyTransitionBundle(roundTrip({ ...good, [side]: changed }));
          expect(v.ok).toBe(false);
          expect(v.failed?.check).toMatch(side === 'old' ? /^OLD_/ : /^NEW_/);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
