// What a person is told when a command cannot do what was asked: the step a key ceremony waits in
// and for whom, a key ceremony given to `approve`, a group `keygen` will never see, and error
// lines that say what to do once (not twice).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CeremonyStatus } from '@conclave/protocol';
import { progressLine, withTimeout } from '../src/commands.js';
import { keygenFailure, keygenGroupNote } from '../src/commands/group.js';
import { CliError } from '../src/errors.js';
import { humanError } from '../src/output.js';
import { Cluster, doc } from '../../../test/e2e/cluster.js';

const keyStatus = (over: Partial<CeremonyStatus>): CeremonyStatus => ({
  type: 'ceremony.status',
  ceremonyId: 'c_0123456789abcdef',
  kind: 'key',
  state: 'waitingForRound2',
  group: 'web',
  threshold: 2,
  members: ['alice', 'bob', 'carol'],
  approvals: [],
  rejections: [],
  session: 0,
  culprits: [],
  updatedAt: 0,
  ...over,
});

describe('progressLine for a key ceremony', () => {
  it('names the step, who is done and whom it waits for (no "approvals", no "signing")', () => {
    const line = progressLine(keyStatus({ approvals: ['carol', 'bob'] }));
    expect(line).toBe(
      'round 2 (encrypted shares): 2 of 3 members done (carol, bob) — waiting for alice (`conclave keygen web` or `conclave agent`)',
    );
    expect(line).not.toMatch(/approval|signing/);
  });

  it('says how it ended and whom it blamed', () => {
    expect(progressLine(keyStatus({ state: 'aborted', culprits: ['alice'] }))).toBe(
      'key ceremony aborted; blamed: alice',
    );
  });
});

describe('humanError', () => {
  it('does not repeat the advice when the message already names the command to run', () => {
    const line = humanError({
      code: 'HOME_NOT_INITIALIZED',
      message: 'no member home at /h; run `conclave init --name NAME` (or pass --home)',
    });
    expect(line).toBe(
      'conclave: HOME_NOT_INITIALIZED: no member home at /h; run `conclave init --name NAME` (or pass --home)',
    );
  });

  it('nor when it says which other command to run', () => {
    expect(
      humanError({
        code: 'KEYSTORE_LOOSE_PERMISSIONS',
        message:
          'keystore /h/identity.key is readable by other users; run `chmod 600 /h/identity.key`',
      }),
    ).not.toMatch(/ — /);
  });

  it('adds what to do next for a wrong group, a missing share and a duplicate', () => {
    expect(humanError({ code: 'WRONG_GROUP', message: 'no such group' })).toMatch(
      /— check the group name with `conclave group show`$/,
    );
    expect(humanError({ code: 'NO_SHARE', message: 'no share of web' })).toMatch(
      /— see `conclave group show`/,
    );
    expect(humanError({ code: 'DUPLICATE', message: 'member exists' })).toMatch(
      /— it exists already; nothing was changed$/,
    );
  });

  it('says what a BAD_APPROVAL_SIGNATURE means on either side: update here, or a security event', () => {
    const text = humanError({
      code: 'BAD_APPROVAL_SIGNATURE',
      message:
        'the package names carol as an approver, but carries no approval of this request signed by carol; refusing to sign',
    });
    expect(text).toMatch(/update conclave here and approve again/);
    expect(text).toMatch(/tell your security lead/);
    expect(text).not.toMatch(/--help/);
  });

  it('says whose disk is full: the coordinator’s (its operator) or this home’s (check it here)', () => {
    expect(
      humanError({
        code: 'STORAGE_UNAVAILABLE',
        message: 'coordinator refused: storage unavailable',
      }),
    ).toMatch(/— the coordinator could not write to its database .*tell its operator/);
    expect(
      humanError({
        code: 'NONCE_LEDGER_IO_ERROR',
        message: 'could not write nonce ledger /h/nonce-ledger.jsonl (ENOSPC)',
      }),
    ).toMatch(/— check the disk of this home \(space, permissions\), then run the command again/);
    expect(
      humanError({ code: 'KEYSTORE_IO_ERROR', message: 'could not write keystore /h/s (ENOSPC)' }),
    ).toMatch(/— check the disk and the permissions of this home/);
    // A damaged ledger is not something to retry past.
    expect(
      humanError({
        code: 'NONCE_LEDGER_CORRUPT',
        message: 'nonce ledger /h/l is damaged at line 3',
      }),
    ).toMatch(/— keep the file as it is .*tell your security lead$/);
  });
});

describe('withTimeout', () => {
  it('says what became of the ceremony, so nobody "tries again" with a second request', async () => {
    await expect(
      withTimeout(
        new Promise(() => undefined),
        0.01,
        'ceremony c_x',
        'it stays open: `conclave status c_x`',
      ),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: 'ceremony c_x did not finish within 0.01 s; it stays open: `conclave status c_x`',
    });
  });
});

describe('keygenGroupNote', () => {
  const conn = (groups: { group: string; state: string }[]) => ({
    groups: () => Promise.resolve(groups as never),
  });
  it('warns about a group this member is not in, or whose key ceremony failed', async () => {
    expect(await keygenGroupNote(conn([]), 'wbe')).toMatch(
      /you are in no group named wbe.*`conclave group show`/,
    );
    expect(await keygenGroupNote(conn([{ group: 'web', state: 'failed' }]), 'web')).toMatch(
      /failed; the admin must run `conclave group create web` again/,
    );
    expect(await keygenGroupNote(conn([{ group: 'web', state: 'keygen' }]), 'web')).toBeNull();
  });
});

describe('against a coordinator', () => {
  let c: Cluster;
  let keyCeremony: string;
  beforeAll(async () => {
    c = await Cluster.start();
    await c.addMembers(['alice', 'bob', 'carol']);
    keyCeremony = await c.createGroup('web', 2, ['alice', 'bob', 'carol']);
  });
  afterAll(async () => {
    await c.close();
  });

  it('status of an open key ceremony says whom it waits for', async () => {
    const r = await c.cli('alice', ['status', keyCeremony]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /round 1 \(commitments\): 0 of 3 members done — waiting for alice, bob, carol/,
    );
  });

  it.each([
    ['approve', '--yes'],
    ['reject', '--reason=no'],
  ])('%s of a key ceremony is INVALID_ARGUMENT (exit 2) pointing at keygen', async (verb, flag) => {
    const r = await c.cli('alice', [verb, keyCeremony, flag, '--json']);
    expect(r.code).toBe(2);
    expect(doc(r)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(doc<{ error: { message: string } }>(r).error.message).toMatch(
      /is a key ceremony.*`conclave keygen web`/,
    );
  });

  it.each([['approve'], ['status'], ['reject'], ['fetch']])(
    '%s of something that is no ceremony id is INVALID_ARGUMENT (exit 2), nothing sent',
    async (command) => {
      const extra =
        command === 'reject' ? ['--reason', 'x'] : command === 'fetch' ? ['--out', c.dir] : [];
      const r = await c.cli('alice', [command, 'c_1', ...extra, '--json']);
      expect(r.code).toBe(2);
      expect(doc<{ error: { code: string; message: string } }>(r).error).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/"c_1" is not a ceremony id/) as unknown,
      });
    },
  );

  it('keygen of a group this member is not in says so while it waits', async () => {
    const r = await c.cli('alice', ['keygen', 'wbe', '--timeout', '2', '--json']);
    expect(r.code).toBe(1);
    expect(doc(r)).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    expect(r.stderr).toMatch(/you are in no group named wbe/);
  });

  it('group show without a name lists the groups (it looked for a group named "undefined")', async () => {
    const r = await c.cli('alice', ['group', 'show', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc<{ groups: { group: string }[] }>(r).groups.map((g) => g.group)).toEqual(['web']);
  });

  // Last: it ends the key ceremony the tests above use.
  it('cancel of a ceremony that has ended says so plainly (UNEXPECTED_MESSAGE, as before)', async () => {
    const cancel = () =>
      c.cli('alice', [
        'cancel',
        keyCeremony,
        '--reason',
        'test',
        '--admin-key',
        c.adminKey,
        '--json',
      ]);
    const first = await cancel();
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const again = await cancel();
    expect(again.code).toBe(1);
    expect(doc(again)).toMatchObject({
      ok: false,
      error: {
        code: 'UNEXPECTED_MESSAGE',
        message: expect.stringMatching(/has already ended; there is nothing to cancel/) as unknown,
      },
    });
  });
});

describe('keygenFailure', () => {
  const timeout = new CliError('TIMEOUT', 'the key ceremony of web did not finish within 300 s');

  it('after this member confirmed, says where its new share is staged and what puts it in place', () => {
    const staged = '/home/a/shares/.web.key.pending-c_0123456789abcdef';
    const e = keygenFailure(timeout, 'web', 300, { phase: 'confirm', stagedPath: staged });
    expect(e).toBeInstanceOf(CliError);
    expect(e).toMatchObject({ code: 'TIMEOUT' });
    expect((e as CliError).message).toMatch(
      /within 300 s after you confirmed; your new share is staged at \/home\/a\/shares\/\.web\.key\.pending-c_0123456789abcdef: run `conclave keygen web` or `conclave agent` later/,
    );
  });

  it('before it confirmed, or for another failure, reports it as it is', () => {
    expect(keygenFailure(timeout, 'web', 300, { phase: 'round2', stagedPath: undefined })).toBe(
      timeout,
    );
    expect(keygenFailure(timeout, 'web', 300, undefined)).toBe(timeout);
    const other = new CliError('DKG_ABORTED', 'aborted');
    expect(keygenFailure(other, 'web', 300, { phase: 'confirm', stagedPath: '/x' })).toBe(other);
  });
});
