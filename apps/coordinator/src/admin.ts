// Admin operations (docs/ceremony-flow.md "Admin"): envelopes sealed by the admin key, each under a
// fresh scope id. Member registry changes, group creation (which opens the key ceremony) and the key
// lifecycle ceremonies (refresh, reshare, repair: key-lifecycle.ts).
import { keyMachine } from '@conclave/ceremony';
import {
  ADMIN_ID,
  isValidIdentityKey,
  hexToBytes,
  type AdminGroupCreate,
  type AdminMemberAdd,
  type AdminMemberRevoke,
} from '@conclave/protocol';
import { createActor } from 'xstate';
import * as z from 'zod';
import { snapshotOf, type CeremonyRunner, type Incoming } from './ceremonies.js';
import { openLifecycle } from './key-lifecycle.js';
import { logAdminOperation } from './log/service.js';
import { refused } from './runtime.js';
import { jsonColumn } from './store.js';

export interface AdminHooks {
  /** Drops the live connections of a revoked member (B.30). */
  disconnect(member: string): void;
}

export function handleAdmin(runner: CeremonyRunner, m: Incoming, hooks: AdminHooks): void {
  if (m.member !== ADMIN_ID) throw refused('FORBIDDEN', 'admin operations need the admin key');
  const body = m.envelope.body;
  switch (body.type) {
    case 'admin.member.add':
      return addMember(runner, m, body);
    case 'admin.member.revoke':
      return revokeMember(runner, m, body, hooks);
    case 'admin.group.create':
      return createGroup(runner, m, body);
    case 'admin.group.refresh':
    case 'admin.group.reshare':
    case 'admin.group.repair':
      return openLifecycle(runner, m, body);
    default:
      throw refused('UNEXPECTED_MESSAGE', 'not an admin operation');
  }
}

function recordOnly(runner: CeremonyRunner, m: Incoming, writes: () => void): void {
  const now = runner.now();
  const env = m.envelope;
  runner.store.transaction(() => {
    runner.store.markSeen(
      { sender: m.member, ceremonyId: env.ceremonyId, round: env.round, seq: env.seq },
      now,
    );
    runner.store.logAdmin(env.ceremonyId, env.body.type, now, env);
    writes();
    logAdminOperation(runner.store, env.ceremonyId);
  });
  m.reply(
    runner.deps.sealer.seal(
      env.ceremonyId,
      { type: 'ack', seq: env.seq, messageType: env.body.type },
      env.round,
    ),
  );
}

function addMember(runner: CeremonyRunner, m: Incoming, body: AdminMemberAdd): void {
  if (!isValidIdentityKey(hexToBytes(body.identityKey, 32))) {
    throw refused('INVALID_KEY', 'identity key is not a valid Ed25519 public key');
  }
  if (runner.store.getMember(body.member) !== undefined)
    throw refused('DUPLICATE', 'member exists');
  if (runner.store.memberByKey(body.identityKey) !== undefined) {
    throw refused('DUPLICATE', 'identity key belongs to another member');
  }
  recordOnly(runner, m, () =>
    runner.store.addMember({
      name: body.member,
      identityKey: body.identityKey,
      roles: body.roles,
      createdAt: runner.now(),
      revokedAt: null,
    }),
  );
}

function revokeMember(
  runner: CeremonyRunner,
  m: Incoming,
  body: AdminMemberRevoke,
  hooks: AdminHooks,
): void {
  const member = runner.store.getMember(body.member);
  if (member === undefined) throw refused('UNKNOWN_MEMBER', 'no such member');
  if (member.revokedAt !== null) throw refused('DUPLICATE', 'member is already revoked');
  const at = runner.now();
  recordOnly(runner, m, () => runner.store.revokeMember(body.member, at));
  hooks.disconnect(body.member);
  // In-flight ceremonies: the member is excluded (signing) or the key ceremony aborts (B.30). A
  // failed write is logged and applied again before the ceremony's next event (ceremonies.ts).
  for (const live of [...runner.live.values()]) {
    if (snapshotOf(live).context.group.members.includes(body.member)) runner.applyRevocations(live);
  }
}

function createGroup(runner: CeremonyRunner, m: Incoming, body: AdminGroupCreate): void {
  const id = m.envelope.ceremonyId;
  const existing = runner.store.getGroup(body.group);
  if (existing !== undefined && existing.state !== 'failed') {
    throw refused('DUPLICATE', 'group exists');
  }
  if (runner.store.getCeremony(id) !== undefined)
    throw refused('DUPLICATE', 'ceremony id is taken');
  for (const entry of body.members) {
    const member = runner.store.getMember(entry.member);
    if (member === undefined) throw refused('UNKNOWN_MEMBER', 'a listed member is not registered');
    if (member.revokedAt !== null) throw refused('MEMBER_REVOKED', 'a listed member is revoked');
    if (member.identityKey !== entry.identityKey) {
      throw refused('INVALID_KEY', 'a listed identity key is not the registered one');
    }
  }
  const now = runner.now();
  const actor = createActor(keyMachine, {
    input: {
      ceremonyId: id,
      kind: 'dkg',
      group: { members: body.members.map((x) => x.member), threshold: body.threshold },
      startedAt: now,
      roundTimeoutMs: runner.deps.limits.dkgRoundTimeoutMs,
      priorPackageHashes: existing === undefined ? [] : priorHashes(runner, existing.ceremonyId),
    },
  }).start();
  runner.create('key', body.group, actor as never, m, () => {
    runner.store.logAdmin(id, body.type, now, m.envelope);
    runner.store.putGroup({
      name: body.group,
      threshold: body.threshold,
      members: body.members.map((x) => ({ member: x.member, identityKey: x.identityKey })),
      state: 'keygen',
      ceremonyId: id,
      groupPublicKey: null,
      publicKeyPackage: null,
      createdAt: now,
      updatedAt: now,
      epoch: 0,
    });
  });
}

const PriorSchema = z.object({
  context: z.object({
    round1: z.record(z.string(), z.string().regex(/^[0-9a-f]+$/)),
    priorPackageHashes: z.array(z.string().regex(/^[0-9a-f]+$/)),
  }),
});

/**
 * Round-1 package hashes of a failed attempt: a retry must use a fresh polynomial (B.28). A
 * snapshot that does not parse refuses the retry (it could not be checked): STORAGE_UNAVAILABLE.
 */
function priorHashes(runner: CeremonyRunner, ceremonyId: string): string[] {
  const record = runner.store.getCeremony(ceremonyId);
  if (record === undefined) return [];
  const parsed = jsonColumn(PriorSchema).safeParse(record.snapshot);
  if (!parsed.success) {
    throw refused(
      'STORAGE_UNAVAILABLE',
      `corrupt snapshot of ceremony ${ceremonyId} (the group's failed key ceremony) in ceremonies: a retry cannot be checked against that attempt's round-1 packages; restore the database from a backup`,
    );
  }
  const c = parsed.data.context;
  return [...new Set([...c.priorPackageHashes, ...Object.values(c.round1)])];
}
