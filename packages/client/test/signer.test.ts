// The signer never signs opaque bytes (THREATS A.8) and marks the nonce consumed before a share
// leaves (A.4); replays get the cached share (A.2), a second package for a used nonce is refused (A.1).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 as frost, type KeyPackage, type SigningCommitments } from '@conclave/frost';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  publicKeyPackageHash,
  Round2DeclineSchema,
  signApproval,
  type IdentityKey,
  type SealedBody,
  type SignCommitments,
  type SignPackage,
} from '@conclave/protocol';
import { buildStatement, jobIdsFor, planMessages, statementDigest } from '@conclave/release';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it, vi } from 'vitest';
import {
  ClientError,
  HINTED_BUNDLES_PER_MEMBER,
  Signer,
  checkSignPackage,
  openNonceLedger,
  recoverStatement,
  reviewRequest,
  type LoadedShare,
  type NonceLedger,
  type Review,
  type ShareMetadata,
} from '../src/index.js';
import { signStatus } from './session-fixture.js';

const MEMBERS = ['alice', 'bob', 'carol'] as const;

interface World {
  ids: Record<string, IdentityKey>;
  keys: Record<string, KeyPackage>;
  meta: (member: string) => ShareMetadata;
  share: (member: string) => LoadedShare;
  review: Review;
  ceremonyId: string;
}

function world(): World {
  const identifiers = MEMBERS.map((m) => frost.identifier.derive(m));
  const dealt = frost.keys.dealer({ minSigners: 2, maxSigners: 3, identifiers });
  const ids: Record<string, IdentityKey> = {};
  const keys: Record<string, KeyPackage> = {};
  for (const m of MEMBERS) {
    ids[m] = generateIdentityKey();
    keys[m] = frost.keys.keyPackage(dealt.shares[frost.identifier.derive(m)]!);
  }
  const groupPublicKey = bytesToHex(dealt.publicKeyPackage.verifyingKey);
  const meta = (member: string): ShareMetadata => ({
    kind: 'frost-key-package',
    group: 'web',
    member,
    suite: 'FROST-ED25519-SHA512-v1',
    threshold: 2,
    groupPublicKey,
    publicKeyPackage: bytesToHex(frost.encode.bytes('PublicKeyPackage', dealt.publicKeyPackage)),
    participants: MEMBERS.map((m) => ({
      member: m,
      identifier: frost.identifier.derive(m),
      identityKey: bytesToHex(ids[m]!.publicKey),
    })),
    ceremonyId: 'c_keyceremony0001',
    createdAt: new Date(0).toISOString(),
  });
  // Two jobs (dsse, sshsig:a.tgz): every check below runs over a job list.
  const status = signStatus(ids['carol']!, 'carol');
  const ceremonyId = status.ceremonyId;
  const review = reviewRequest(status, meta('alice'));
  return {
    ids,
    keys,
    meta,
    share: (m) => ({
      metadata: meta(m),
      keyPackage: keys[m]!,
      publicKeyPackage: dealt.publicKeyPackage,
    }),
    review,
    ceremonyId,
  };
}

/**
 * What an honest coordinator sends: per job, every signer's commitment and the hash of the package
 * over the message it rebuilds. `messageIssuedAt` / `messageApprovers` forge the messages only.
 */
function honestPackage(
  w: World,
  commitments: Record<string, string[]>,
  over: {
    issuedAt?: number;
    messageIssuedAt?: number;
    approvers?: string[];
    messageApprovers?: string[];
    approvals?: string[];
  } = {},
): SignPackage {
  const signers = Object.keys(commitments);
  const approvers = over.approvers ?? signers;
  const issuedAt = over.issuedAt ?? Date.now();
  const ctx = (at: number, who: string[]) => ({
    ceremonyId: w.ceremonyId,
    group: 'web',
    groupPublicKey: w.meta('alice').groupPublicKey,
    requester: 'carol',
    approvers: who.map((m) => ({ member: m, identityKey: bytesToHex(w.ids[m]!.publicKey) })),
    policyId: 'default',
    issuedAt: at,
  });
  const jobs = planMessages(
    {
      release: w.review.release,
      context: ctx(over.messageIssuedAt ?? issuedAt, over.messageApprovers ?? approvers),
      keyCreatedAt: 0,
    },
    1,
  );
  const packageHashes = jobs.map((job, j) => {
    const pkg = frost.signingPackage(
      signers.map((s) => frost.decode.bytes('SigningCommitments', hexToBytes(commitments[s]![j]!))),
      job.message,
    );
    return bytesToHex(sha256(frost.encode.bytes('SigningPackage', pkg)));
  });
  return {
    type: 'sign.package',
    session: 1,
    phase: 1,
    jobs: jobs.map((j) => j.id),
    commitments: signers.map((m) => ({ member: m, commitments: commitments[m]! })),
    packageHashes,
    previous: [],
    keyCreatedAt: 0,
    publicKeyPackage: publicKeyPackageHash(hexToBytes(w.meta('alice').publicKeyPackage)),
    requestDigest: w.review.requestDigest,
    statementDigest: statementDigest(buildStatement(w.review.release, ctx(issuedAt, approvers))),
    approvers,
    approvals:
      over.approvals ??
      approvers.map((m) => signApproval(w.ids[m]!, w.ceremonyId, m, w.review.requestDigest)),
    signers,
    policyId: 'default',
    issuedAt,
  };
}

/** One fresh commitment per job (two jobs: dsse, sshsig). */
function commitFor(w: World, m: string): string[] {
  return [0, 1].map(() => {
    const { commitments } = frost.round1.commit(w.keys[m]!);
    return bytesToHex(frost.encode.bytes('SigningCommitments', commitments));
  });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof ClientError ? e.code : `not a ClientError: ${String(e)}`;
  }
}

describe('checkSignPackage (the message rebuild)', () => {
  const w = world();
  const mine = commitFor(w, 'alice');
  const input = (pkg: SignPackage, myBundles: string[][] = [mine]) => ({
    ceremonyId: w.ceremonyId,
    member: 'alice',
    review: w.review,
    meta: w.meta('alice'),
    pkg,
    myBundles,
    now: Date.now(),
  });

  it('accepts the package an honest coordinator builds, message byte-equal to the rebuild', () => {
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    const check = checkSignPackage(input(pkg));
    expect(check.commitments).toEqual(mine);
    expect(check.jobs).toEqual(['dsse', 'sshsig:a.tgz']);
    expect(Buffer.from(check.messages[0]!).toString()).toContain('DSSEv1');
    expect(Buffer.from(check.messages[1]!.subarray(0, 6)).toString()).toBe('SSHSIG');
  });

  it("takes my own commitments as I made them and still validates everyone else's", () => {
    const made = new Map<string, SigningCommitments>();
    const mineHere = [0, 1].map(() => {
      const { commitments } = frost.round1.commit(w.keys['alice']!);
      const hex = bytesToHex(frost.encode.bytes('SigningCommitments', commitments));
      made.set(hex, commitments);
      return hex;
    });
    const bob = commitFor(w, 'bob');
    const pkg = honestPackage(w, { alice: mineHere, bob });
    const own = { ...input(pkg, [mineHere]), ownCommitments: (hex: string) => made.get(hex) };
    const check = checkSignPackage(own);
    // The package holds the very objects this member made (no decode of them) …
    const aliceId = frost.identifier.derive('alice');
    const used = check.signingPackages.map((p) =>
      p.commitments.find((c) => c.identifier === aliceId),
    );
    expect(used).toEqual([made.get(mineHere[0]!), made.get(mineHere[1]!)]);
    expect(used[0]).toBe(made.get(mineHere[0]!));
    // … and the same package hashes as decoding them would give.
    expect(check.signingPackageBytes).toEqual(
      checkSignPackage(input(pkg, [mineHere])).signingPackageBytes,
    );
    // Bob's commitment is decoded and validated as before: the identity as a hiding point fails.
    const bad = hexToBytes(bob[0]!);
    bad.set(hexToBytes('01' + '00'.repeat(31)), bad.length - 64);
    const tampered = {
      ...pkg,
      commitments: pkg.commitments.map((c) =>
        c.member === 'bob' ? { ...c, commitments: [bytesToHex(bad), bob[1]!] } : c,
      ),
    };
    expect(codeOf(() => checkSignPackage({ ...own, pkg: tampered }))).toBe('INVALID_MESSAGE');
  });

  it('refuses a package for another key package than my share’s, or naming none (KEY_PACKAGE_MISMATCH)', () => {
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    expect(checkSignPackage(input(pkg)).keyPackage).toBe(pkg.publicKeyPackage);
    const { publicKeyPackage: _, ...unnamed } = pkg;
    for (const other of [{ ...pkg, publicKeyPackage: 'ee'.repeat(32) }, unnamed]) {
      expect(codeOf(() => checkSignPackage(input(other)))).toBe('KEY_PACKAGE_MISMATCH');
    }
  });

  it('refuses a job list other than the approved request (an extra format, a dropped one)', () => {
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    expect(codeOf(() => checkSignPackage(input({ ...pkg, jobs: ['dsse', 'raw:a.tgz'] })))).toBe(
      'STATEMENT_MISMATCH',
    );
    expect(codeOf(() => checkSignPackage(input({ ...pkg, jobs: ['dsse'] })))).toBe(
      'STATEMENT_MISMATCH',
    );
  });

  it('refuses a package whose message differs from the statement it rebuilds (signing oracle)', () => {
    const now = Date.now();
    const pkg = honestPackage(
      w,
      { alice: mine, bob: commitFor(w, 'bob') },
      {
        issuedAt: now,
        messageIssuedAt: now + 1,
      },
    );
    expect(codeOf(() => checkSignPackage(input(pkg)))).toBe('STATEMENT_MISMATCH');
  });

  it('refuses a message that leaves out an approver', () => {
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    const dropped = honestPackage(
      w,
      { alice: mine, bob: pkg.commitments[1]!.commitments },
      { messageApprovers: ['alice'] },
    );
    // The package claims alice+bob approved, but signs a statement naming only alice.
    const forged = { ...pkg, packageHashes: dropped.packageHashes };
    expect(codeOf(() => checkSignPackage(input(forged)))).toBe('STATEMENT_MISMATCH');
  });

  it('refuses an approver who did not sign an approval of this request (BAD_APPROVAL_SIGNATURE)', () => {
    // The coordinator names carol as a third approver: the statement, packages and digest are
    // all built honestly for [alice, bob, carol], so only her missing signature gives it away.
    const commitments = { alice: mine, bob: commitFor(w, 'bob') };
    const three = ['alice', 'bob', 'carol'];
    const sign = (
      key: string,
      member: string,
      digest = w.review.requestDigest,
      id = w.ceremonyId,
    ) => signApproval(w.ids[key]!, id, member, digest);
    const honest = honestPackage(w, commitments, { approvers: three });
    expect(() => checkSignPackage(input(honest))).not.toThrow();
    const forgedBy = (approvals: string[]) =>
      codeOf(() =>
        checkSignPackage(input(honestPackage(w, commitments, { approvers: three, approvals }))),
      );
    const ab = [sign('alice', 'alice'), sign('bob', 'bob')];
    // No signature of carol's at all (zeros), …
    expect(forgedBy([...ab, '00'.repeat(64)])).toBe('BAD_APPROVAL_SIGNATURE');
    // … bob's approval put in her place, or one signed by bob's key in her name, …
    expect(forgedBy([...ab, ab[1]!])).toBe('BAD_APPROVAL_SIGNATURE');
    expect(forgedBy([...ab, sign('bob', 'carol')])).toBe('BAD_APPROVAL_SIGNATURE');
    // … carol's approval of another request, or of the same request in another ceremony.
    expect(forgedBy([...ab, sign('carol', 'carol', 'ab'.repeat(32))])).toBe(
      'BAD_APPROVAL_SIGNATURE',
    );
    expect(
      forgedBy([...ab, sign('carol', 'carol', w.review.requestDigest, 'other-ceremony')]),
    ).toBe('BAD_APPROVAL_SIGNATURE');
    // One signature short of the approvers listed, or none at all (a package of the old shape).
    expect(forgedBy(ab)).toBe('INVALID_MESSAGE');
    const { approvals: _dropped, ...unsigned } = honest;
    expect(codeOf(() => checkSignPackage(input(unsigned)))).toBe('BAD_APPROVAL_SIGNATURE');
  });

  it("refuses a phase-2 package that leaves out phase 1's statement signature", () => {
    // minisign's global signature signs in phase 2; its phase-1 signature covers the file's digest
    // only, so without the statement's signature nothing ties phase 2 to what phase 1 signed.
    const review: Review = {
      ...w.review,
      release: { ...w.review.release, formats: ['dsse', 'minisign'] },
    };
    const jobs = jobIdsFor(review.release, 2);
    expect(jobs).toEqual(['minisign-global:a.tgz']);
    expect(jobIdsFor(review.release, 1)).toEqual(['dsse', 'minisign:a.tgz']);
    const one = (m: string) => [
      bytesToHex(
        frost.encode.bytes('SigningCommitments', frost.round1.commit(w.keys[m]!).commitments),
      ),
    ];
    const alice = one('alice');
    const base = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    const pkg: SignPackage = {
      ...base,
      commitments: [
        { member: 'alice', commitments: alice },
        { member: 'bob', commitments: one('bob') },
      ],
      phase: 2,
      jobs,
      packageHashes: ['00'.repeat(32)],
      previous: [{ job: 'minisign:a.tgz', signature: '11'.repeat(64) }],
    };
    const check = (previous: SignPackage['previous']) => {
      try {
        checkSignPackage({ ...input({ ...pkg, previous }, [alice]), review });
        return 'accepted';
      } catch (e) {
        return e instanceof ClientError ? `${e.code}: ${e.message}` : String(e);
      }
    };
    expect(check(pkg.previous)).toMatch(
      /^STATEMENT_MISMATCH: phase 2 must carry phase 1's signature for dsse/,
    );
    // With it, the signatures are checked (these are not real ones).
    expect(check([{ job: 'dsse', signature: '22'.repeat(64) }, ...pkg.previous])).toMatch(
      /^STATEMENT_MISMATCH: the earlier signature for .* does not verify/,
    );
  });

  it('refuses another request, a wrong statement digest and a stale issuedAt', () => {
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    expect(codeOf(() => checkSignPackage(input({ ...pkg, requestDigest: '0'.repeat(64) })))).toBe(
      'STATEMENT_MISMATCH',
    );
    expect(codeOf(() => checkSignPackage(input({ ...pkg, statementDigest: '1'.repeat(64) })))).toBe(
      'STATEMENT_MISMATCH',
    );
    const old = honestPackage(
      w,
      { alice: mine, bob: commitFor(w, 'bob') },
      {
        issuedAt: Date.now() - 10 * 60_000,
      },
    );
    expect(codeOf(() => checkSignPackage(input(old)))).toBe('STATEMENT_MISMATCH');
  });

  it('refuses a package that does not carry my commitment unchanged', () => {
    const pkg = honestPackage(w, { alice: commitFor(w, 'alice'), bob: commitFor(w, 'bob') });
    expect(codeOf(() => checkSignPackage(input(pkg)))).toBe('INCORRECT_COMMITMENT');
  });

  it('refuses a commitment list that does not match the signers', () => {
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    expect(
      codeOf(() =>
        checkSignPackage(
          input({
            ...pkg,
            signers: ['alice', 'carol'],
            approvers: ['alice', 'carol'],
            approvals: ['alice', 'carol'].map((m) =>
              signApproval(w.ids[m]!, w.ceremonyId, m, w.review.requestDigest),
            ),
          }),
        ),
      ),
    ).toBe('UNKNOWN_PARTICIPANT');
    expect(codeOf(() => checkSignPackage(input({ ...pkg, signers: ['alice'] })))).toBe(
      'INCORRECT_NUMBER_OF_COMMITMENTS',
    );
  });

  it('rebuilds the signed statement for a member that did not sign (fetch)', () => {
    const pkg = honestPackage(
      w,
      { alice: mine, bob: commitFor(w, 'bob') },
      { issuedAt: Date.now() - 1234 },
    );
    const found = recoverStatement(w.review, w.meta('carol'), pkg);
    expect(found?.context.issuedAt).toBe(pkg.issuedAt);
    // A coordinator that lies about the time (or approvers) gets no statement.
    expect(
      recoverStatement(w.review, w.meta('carol'), { ...pkg, issuedAt: pkg.issuedAt + 1 }),
    ).toBeUndefined();
  });
});

/** A ledger that records the order of its calls in `log`. */
function recordingLedger(inner: NonceLedger, log: string[]): NonceLedger {
  return {
    path: inner.path,
    epoch: inner.epoch,
    recovery: inner.recovery,
    reserve: async (id, meta) => {
      log.push('reserve');
      return inner.reserve(id, meta);
    },
    reserveAll: async (ids, meta) => {
      log.push(`reserveAll ${ids.length}`);
      return inner.reserveAll(ids, meta);
    },
    consume: async (id, pkg) => {
      log.push('consume');
      return inner.consume(id, pkg);
    },
    recordShare: async (id, pkg, share) => {
      log.push('recordShare');
      return inner.recordShare(id, pkg, share);
    },
    abandon: async (id, reason) => {
      log.push('abandon');
      return inner.abandon(id, reason);
    },
    get: (id) => inner.get(id),
    close: () => inner.close(),
  };
}

/**
 * alice's signer over a recording ledger, after she approved (her bundle is `sent[0]`), and a
 * package for her and bob. A fault: consume or recordShare throws, or recordShare waits for `gate`
 * (a slow disk).
 */
async function setup(
  fault?: 'consume-fails' | 'record-fails' | { gate: Promise<void>; on?: 'consume' },
  refuse?: (body: SealedBody) => ClientError | undefined,
) {
  const w = world();
  const dir = mkdtempSync(join(tmpdir(), 'conclave-signer-'));
  const inner = await openNonceLedger(join(dir, 'ledger.jsonl'));
  const log: string[] = [];
  const ledger = recordingLedger(inner, log);
  if (fault === 'consume-fails') {
    ledger.consume = async () => {
      log.push('consume');
      throw new ClientError('NONCE_LEDGER_IO_ERROR', 'disk full');
    };
  } else if (fault === 'record-fails') {
    ledger.recordShare = async () => {
      log.push('recordShare');
      throw new ClientError('NONCE_LEDGER_IO_ERROR', 'disk full');
    };
  } else if (fault !== undefined && fault.on === 'consume') {
    ledger.consume = async (id, pkg) => {
      log.push('consume');
      await fault.gate;
      return inner.consume(id, pkg);
    };
  } else if (fault !== undefined) {
    ledger.recordShare = async (id, pkg, share) => {
      log.push('recordShare');
      await fault.gate;
      await inner.recordShare(id, pkg, share);
      log.push('recorded');
    };
  }
  const sent: SealedBody[] = [];
  const signer = new Signer({
    member: 'alice',
    key: w.ids['alice']!,
    ledger,
    send: async (_c, _r, body) => {
      log.push(`send ${body.type}`);
      const refusal = refuse?.(body);
      if (refusal !== undefined) throw refusal;
      sent.push(body);
    },
  });
  await signer.approve(w.review, w.share('alice'));
  const approve = sent[0];
  if (approve?.type !== 'sign.approve') throw new Error('no approval sent');
  const pkg = honestPackage(w, { alice: approve.commitments, bob: commitFor(w, 'bob') });
  return { w, signer, log, sent, pkg, inner };
}

describe('Signer: sign.commitments hints (peers validated before the package)', () => {
  /** Lets the signer's one-per-macrotask validation queue run to its end. */
  const settle = async () => {
    for (let i = 0; i < 40; i++) await new Promise((r) => setImmediate(r));
  };
  const hintOf = (w: World, entries: Record<string, string[]>): SignCommitments => ({
    type: 'sign.commitments',
    ceremonyId: w.ceremonyId,
    phase: 1,
    commitments: Object.entries(entries).map(([member, commitments]) => ({ member, commitments })),
  });

  /** alice approved (her commitments: `mine`); `ledger` is her nonce ledger. */
  async function approved() {
    const { w, signer, sent, inner } = await setup();
    const approve = sent[0];
    if (approve?.type !== 'sign.approve') throw new Error('no approval sent');
    return { w, signer, sent, ledger: inner, mine: approve.commitments };
  }

  it("validates the other members' hinted commitments, and the package check takes them", async () => {
    const { w, signer, sent, ledger, mine } = await approved();
    const bob = commitFor(w, 'bob');
    signer.hint(hintOf(w, { alice: mine, bob }));
    await settle();
    expect(signer.hintStats(w.ceremonyId).validated).toBe(2); // bob's two, never my own
    await signer.onPackage(w.ceremonyId, honestPackage(w, { alice: mine, bob }));
    // The package check took both instead of decoding them again.
    expect(signer.hintStats(w.ceremonyId)).toEqual({ validated: 2, used: 2 });
    expect(sent.at(-1)?.type).toBe('round2.share');
    await ledger.close();
  });

  it('ignores a hint for a ceremony it did not approve (or no longer signs)', async () => {
    const { w, signer, ledger } = await approved();
    const other = new Signer({
      member: 'alice',
      key: w.ids['alice']!,
      ledger,
      send: async () => 0,
    });
    other.hint(hintOf(w, { bob: commitFor(w, 'bob') }));
    await signer.finish(w.ceremonyId, 'cancelled');
    signer.hint(hintOf(w, { bob: commitFor(w, 'bob') }));
    await settle();
    expect(other.hintStats(w.ceremonyId).validated).toBe(0);
    expect(signer.hintStats(w.ceremonyId).validated).toBe(0);
    await ledger.close();
  });

  it("keeps nothing that does not decode, is listed under another member or a stranger's", async () => {
    const { w, signer, ledger, mine } = await approved();
    const bob = commitFor(w, 'bob');
    const bad = hexToBytes(bob[0]!);
    bad.set(hexToBytes('01' + '00'.repeat(31)), bad.length - 64); // the identity as hiding point
    signer.hint(
      hintOf(w, {
        bob: [bytesToHex(bad), bob[1]!],
        carol: commitFor(w, 'bob'), // bob's commitments under carol's name
        mallory: commitFor(w, 'carol'), // not a member of the group
      }),
    );
    await settle();
    expect(signer.hintStats(w.ceremonyId).validated).toBe(1); // bob[1] only
    // The package check decodes the bad one itself and refuses it with its code.
    const pkg = honestPackage(w, { alice: mine, bob: commitFor(w, 'bob') });
    const tampered = {
      ...pkg,
      commitments: pkg.commitments.map((c) =>
        c.member === 'bob' ? { ...c, commitments: [bytesToHex(bad), bob[1]!] } : c,
      ),
    };
    await expect(signer.onPackage(w.ceremonyId, tampered)).rejects.toMatchObject({
      code: 'INVALID_MESSAGE',
    });
    await ledger.close();
  });

  it('validates at most HINTED_BUNDLES_PER_MEMBER bundles per other member, phase and job', async () => {
    const { w, signer, ledger } = await approved();
    for (let i = 0; i < 5; i++) {
      signer.hint(hintOf(w, { bob: commitFor(w, 'bob'), carol: commitFor(w, 'carol') }));
    }
    await settle();
    // 2 other members × 2 jobs (dsse, sshsig) × 2 bundles, one phase.
    expect(signer.hintStats(w.ceremonyId).validated).toBe(2 * 2 * HINTED_BUNDLES_PER_MEMBER);
    await ledger.close();
  });
});

describe('checkSignPackage with validated commitments', () => {
  it('uses them as they are, and still refuses one listed under another member', () => {
    const w = world();
    const mine = commitFor(w, 'alice');
    const bobMade = frost.round1.commit(w.keys['bob']!).commitments;
    const bobHex = bytesToHex(frost.encode.bytes('SigningCommitments', bobMade));
    const bob = [bobHex, commitFor(w, 'bob')[1]!];
    const pkg = honestPackage(w, { alice: mine, bob });
    const base = {
      ceremonyId: w.ceremonyId,
      member: 'alice',
      review: w.review,
      meta: w.meta('alice'),
      pkg,
      myBundles: [mine],
      now: Date.now(),
    };
    const check = checkSignPackage({
      ...base,
      validatedCommitments: (hex) => (hex === bobHex ? bobMade : undefined),
    });
    const bobId = frost.identifier.derive('bob');
    expect(check.signingPackages[0]!.commitments.find((c) => c.identifier === bobId)).toBe(bobMade);
    // A "validated" commitment of carol's listed under bob: the identifier check still applies.
    const carolMade = frost.round1.commit(w.keys['carol']!).commitments;
    expect(codeOf(() => checkSignPackage({ ...base, validatedCommitments: () => carolMade }))).toBe(
      'IDENTIFIER_MISMATCH',
    );
  });
});

describe('Signer: nonce ledger ordering', () => {
  it('marks the nonce consumed before the share is computed and sent', async () => {
    const { w, signer, log, sent, pkg, inner } = await setup();
    await signer.onPackage(w.ceremonyId, pkg);
    expect(log).toEqual([
      'reserveAll 2', // the bundle's two commitments: one write, one fsync
      'send sign.approve',
      'consume',
      'recordShare',
      'consume',
      'recordShare',
      'send round2.share',
    ]);
    const share = sent[1];
    expect(share?.type).toBe('round2.share');
    // Each share verifies under the group key: real shares over the rebuilt messages.
    if (share?.type !== 'round2.share') throw new Error('no share');
    const check = checkSignPackage({
      ceremonyId: w.ceremonyId,
      member: 'alice',
      review: w.review,
      meta: w.meta('alice'),
      pkg,
      myBundles: [pkg.commitments[0]!.commitments],
      now: Date.now(),
    });
    expect(share.shares).toHaveLength(2);
    // The key package it signed under, named in the share (signed with the envelope).
    expect(share.publicKeyPackage).toBe(
      publicKeyPackageHash(hexToBytes(w.meta('alice').publicKeyPackage)),
    );
    check.signingPackages.forEach((signingPackage, j) => {
      expect(() =>
        frost.verifySignatureShare(
          {
            suite: frost.suite.name,
            identifier: frost.identifier.derive('alice'),
            share: hexToBytes(share.shares[j]!),
          },
          signingPackage,
          w.share('alice').publicKeyPackage,
        ),
      ).not.toThrow();
    });
    await inner.close();
  });

  it('sends no share, and declines, when the ledger cannot record the nonce as consumed', async () => {
    const { w, signer, log, sent, pkg, inner } = await setup('consume-fails');
    await expect(signer.onPackage(w.ceremonyId, pkg)).rejects.toMatchObject({
      code: 'NONCE_LEDGER_IO_ERROR',
    });
    expect(log.filter((l) => l === 'send round2.share')).toEqual([]);
    // It says so instead of going silent: the coordinator ends the session now, blaming nobody.
    // Its own storage failing is said with a fixed text: those messages name local paths.
    expect(sent.at(-1)).toEqual({
      type: 'round2.decline',
      session: pkg.session,
      code: 'NONCE_LEDGER_IO_ERROR',
      reason: "this signer's own storage failed (NONCE_LEDGER_IO_ERROR); see its log",
    });
    await inner.close();
  });

  it('declines a package for another key package before any nonce is consumed (KEY_PACKAGE_MISMATCH)', async () => {
    const { w, signer, log, sent, pkg, inner } = await setup();
    const other = { ...pkg, publicKeyPackage: 'ee'.repeat(32) };
    await expect(signer.onPackage(w.ceremonyId, other)).rejects.toMatchObject({
      code: 'KEY_PACKAGE_MISMATCH',
    });
    expect(log).not.toContain('consume');
    expect(log).not.toContain('send round2.share');
    expect(sent.at(-1)).toMatchObject({
      type: 'round2.decline',
      session: pkg.session,
      code: 'KEY_PACKAGE_MISMATCH',
      reason: expect.stringMatching(/another public key package than my share of web/) as string,
    });
    await inner.close();
  });

  it('sends the shares while their ledger records are still being written', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { w, signer, log, pkg, inner } = await setup({ gate });
    let returned = false;
    const handled = signer.onPackage(w.ceremonyId, pkg).then(() => (returned = true));
    await vi.waitFor(() => expect(log).toContain('send round2.share'));
    // Both consume records were durable before the shares were computed; the share records are not.
    expect(log.filter((l) => l === 'consume')).toHaveLength(2);
    expect(log).not.toContain('recorded');
    expect(returned).toBe(false);
    open();
    await handled;
    expect(log.filter((l) => l === 'recorded')).toHaveLength(2);
    await inner.close();
  });

  it('rejects after the send when a share record fails, and refuses a replay of that package', async () => {
    const { w, signer, sent, pkg, inner } = await setup('record-fails');
    await expect(signer.onPackage(w.ceremonyId, pkg)).rejects.toMatchObject({
      code: 'NONCE_LEDGER_IO_ERROR',
    });
    expect(sent.filter((b) => b.type === 'round2.share')).toHaveLength(1);
    // The nonces were consumed durably, so no new share is computed, and none was cached (A.2).
    await expect(signer.onPackage(w.ceremonyId, pkg)).rejects.toMatchObject({
      code: 'NONCE_ALREADY_USED',
    });
    expect(sent.filter((b) => b.type === 'round2.share')).toHaveLength(1);
    await inner.close();
  });

  describe('approve with a record written meanwhile (durable)', () => {
    async function approving() {
      const w = world();
      const dir = mkdtempSync(join(tmpdir(), 'conclave-signer-'));
      const inner = await openNonceLedger(join(dir, 'ledger.jsonl'));
      const log: string[] = [];
      const sent: SealedBody[] = [];
      const signer = new Signer({
        member: 'alice',
        key: w.ids['alice']!,
        ledger: recordingLedger(inner, log),
        send: async (_c, _r, body) => {
          log.push(`send ${body.type}`);
          sent.push(body);
        },
      });
      return { w, inner, log, sent, signer };
    }

    it('sends the approval only once the record is durable', async () => {
      const { w, inner, log, signer } = await approving();
      let written!: () => void;
      const durable = new Promise<void>((resolve) => (written = resolve));
      const approved = signer.approve(w.review, w.share('alice'), undefined, durable);
      // The commitments' ledger entries are written while the record is still pending.
      await vi.waitFor(() => expect(log).toContain('reserveAll 2'));
      await new Promise((r) => setTimeout(r, 20));
      expect(log).not.toContain('send sign.approve');
      written();
      await approved;
      expect(log).toEqual(['reserveAll 2', 'send sign.approve']);
      await inner.close();
    });

    it('sends nothing and abandons its nonces when the record fails, and can approve again', async () => {
      const { w, inner, log, sent, signer } = await approving();
      const failed = Promise.reject(new ClientError('INVALID_ARGUMENT', 'disk full'));
      await expect(
        signer.approve(w.review, w.share('alice'), undefined, failed),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(sent).toEqual([]);
      expect(log).toEqual(['reserveAll 2', 'abandon', 'abandon']);
      // Not left half-approved: a second try commits afresh and sends.
      await signer.approve(w.review, w.share('alice'));
      expect(sent.map((b) => b.type)).toEqual(['sign.approve']);
      await inner.close();
    });
  });

  it('answers an identical replay with the cached share and refuses another package for the nonce', async () => {
    const { w, signer, sent, pkg, inner } = await setup();
    await signer.onPackage(w.ceremonyId, pkg);
    await signer.onPackage(w.ceremonyId, pkg);
    const shares = sent.filter((b) => b.type === 'round2.share');
    expect(shares).toHaveLength(2);
    expect(shares[0]).toEqual(shares[1]);
    const approve = sent[0];
    if (approve?.type !== 'sign.approve') throw new Error('no approval');
    const other = honestPackage(w, { alice: approve.commitments, carol: commitFor(w, 'carol') });
    await expect(signer.onPackage(w.ceremonyId, other)).rejects.toMatchObject({
      code: 'NONCE_ALREADY_USED',
    });
    expect(sent.filter((b) => b.type === 'round2.share')).toHaveLength(2);
    await inner.close();
  });
});

describe('Signer: round2.decline (a refusal said, not a silence)', () => {
  it("declines a package it refuses, with the check's code and words, and consumes no nonce", async () => {
    const { w, signer, log, sent, pkg, inner } = await setup();
    const other = { ...pkg, requestDigest: '0'.repeat(64) };
    await expect(signer.onPackage(w.ceremonyId, other)).rejects.toMatchObject({
      code: 'STATEMENT_MISMATCH',
    });
    expect(log).not.toContain('consume');
    const decline = sent.at(-1);
    expect(decline).toMatchObject({ type: 'round2.decline', session: pkg.session });
    if (decline?.type !== 'round2.decline') throw new Error('no decline');
    expect(decline.code).toBe('STATEMENT_MISMATCH');
    expect(decline.reason).toMatch(/another request/);
    expect(Round2DeclineSchema.safeParse(decline).success).toBe(true);
    await inner.close();
  });

  it('sends nothing for a lost connection, and no words of an error that is not its own', async () => {
    const { w, signer, sent, inner } = await setup();
    const before = sent.length;
    await signer.decline(w.ceremonyId, 1, new ClientError('CONNECTION_CLOSED', 'gone'));
    await signer.decline(w.ceremonyId, 1, new ClientError('TIMEOUT', 'no answer'));
    expect(sent).toHaveLength(before);
    await signer.decline(w.ceremonyId, 1, new TypeError('nonce 9f3a… is not a function'));
    expect(sent.at(-1)).toMatchObject({ type: 'round2.decline', code: 'SIGNING_REFUSED' });
    if (sent.at(-1)?.type !== 'round2.decline') throw new Error('no decline');
    expect(JSON.stringify(sent.at(-1))).not.toContain('9f3a');
    // A ceremony it did not approve gets nothing.
    await signer.decline('c_' + 'e'.repeat(32), 1, new ClientError('SIGNING_REFUSED', 'no'));
    expect(sent).toHaveLength(before + 1);
    await inner.close();
  });

  it('sends words the wire accepts: refused characters replaced, `CODE: words` in 512', async () => {
    const { w, signer, sent, inner } = await setup();
    const words = `pinned time differs \u202e\u0007 ${'x'.repeat(600)}`;
    await signer.decline(w.ceremonyId, 1, new ClientError('SIGNING_REFUSED', words));
    const decline = sent.at(-1);
    expect(Round2DeclineSchema.safeParse(decline).success).toBe(true);
    if (decline?.type !== 'round2.decline') throw new Error('no decline');
    expect(decline.reason.startsWith('pinned time differs ?? x')).toBe(true);
    expect(`${decline.code}: ${decline.reason}`).toHaveLength(512);
    await inner.close();
  });

  it('once a decline is accepted, drops its other nonces and never recommits', async () => {
    const { w, signer, sent, log, inner } = await setup();
    await signer.decline(w.ceremonyId, 1, new ClientError('SIGNING_REFUSED', 'no'));
    expect(sent.at(-1)?.type).toBe('round2.decline');
    expect(log).toContain('abandon'); // its bundle's commitments are marked abandoned (A.19)
    expect(await signer.recommit(w.ceremonyId, 1)).toBe(false);
    const before = sent.length;
    await signer.decline(w.ceremonyId, 2, new ClientError('SIGNING_REFUSED', 'again'));
    expect(sent).toHaveLength(before);
    await inner.close();
  });

  it('recommits once when asked twice at once, and commits afresh after a recommit was not taken', async () => {
    let refuseNext = false;
    const { w, signer, sent, log, pkg, inner } = await setup(undefined, (body) => {
      if (body.type !== 'sign.recommit' || !refuseNext) return undefined;
      refuseNext = false;
      return new ClientError('STORAGE_UNAVAILABLE', 'storage unavailable; nothing was recorded');
    });
    await signer.onPackage(w.ceremonyId, pkg); // the approval's bundle is spent
    // The status pushed on a reconnect and the inbox sweep ask at once: one bundle goes.
    const both = await Promise.all([
      signer.recommit(w.ceremonyId, 1),
      signer.recommit(w.ceremonyId, 1),
    ]);
    expect(both.sort()).toEqual([false, true]);
    const recommits = () => sent.filter((b) => b.type === 'sign.recommit');
    expect(recommits()).toHaveLength(1);
    // Spent too (a session used it); the next recommit is refused by the coordinator ...
    const first = recommits()[0];
    if (first?.type !== 'sign.recommit') throw new Error('no recommit');
    await signer.onPackage(w.ceremonyId, {
      ...honestPackage(w, { alice: first.commitments, bob: commitFor(w, 'bob') }),
      session: 2,
    });
    refuseNext = true;
    await expect(signer.recommit(w.ceremonyId, 1)).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    expect(log.filter((l) => l.startsWith('abandon'))).not.toEqual([]);
    // ... and is not left "outstanding": the next ask commits and sends a fresh bundle.
    expect(await signer.recommit(w.ceremonyId, 1)).toBe(true);
    expect(recommits()).toHaveLength(2);
    await inner.close();
  });

  it('never declines a session it answered, nor one whose package it is handling now', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { w, signer, sent, log, pkg, inner } = await setup({ gate, on: 'consume' });
    // A copy of the package arrives while the first waits for its nonce's consume record (a
    // reconnect re-sent it): without the guard the copy found the nonce consumed and declined.
    const first = signer.onPackage(w.ceremonyId, pkg);
    await vi.waitFor(() => expect(log).toContain('consume'));
    const copy = await signer.onPackage(w.ceremonyId, pkg);
    expect(copy).toBeUndefined();
    await signer.decline(w.ceremonyId, pkg.session, new ClientError('SIGNING_REFUSED', 'late'));
    open();
    await first;
    await signer.decline(w.ceremonyId, pkg.session, new ClientError('SIGNING_REFUSED', 'late'));
    expect(sent.filter((b) => b.type === 'round2.decline')).toEqual([]);
    expect(sent.filter((b) => b.type === 'round2.share')).toHaveLength(1);
    await inner.close();
  });
});
