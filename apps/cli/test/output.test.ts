// What people see: the live progress line and the coded errors.
import { ClientError } from '@conclave/client';
import type { CeremonyStatus } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../src/commands.js';
import { CliError } from '../src/errors.js';
import { nextStep, printError, toError } from '../src/output.js';

const status = (over: Partial<CeremonyStatus>): CeremonyStatus => ({
  type: 'ceremony.status',
  ceremonyId: 'c_0123456789abcdef',
  kind: 'sign',
  state: 'collectingApprovals',
  group: 'web',
  threshold: 3,
  members: ['alice', 'bob', 'carol', 'dave'],
  approvals: [],
  rejections: [],
  session: 0,
  culprits: [],
  updatedAt: 0,
  ...over,
});

describe('progressLine', () => {
  it('says who approved and how many more are needed', () => {
    expect(progressLine(status({ approvals: ['alice', 'carol'] }))).toBe(
      '2 of 3 approvals: alice, carol — waiting for 1 more',
    );
    expect(progressLine(status({}))).toBe('0 of 3 approvals: none yet — waiting for 3 more');
  });

  it('shows the signing session, the excluded culprits and the end', () => {
    expect(
      progressLine(
        status({
          approvals: ['a', 'b', 'c', 'd'],
          state: 'signing.inSession',
          session: 2,
          culprits: ['a'],
        }),
      ),
    ).toBe('4 of 3 approvals: a, b, c, d — signing (session 2); excluded: a');
    expect(progressLine(status({ approvals: ['a', 'b', 'c'], state: 'completed' }))).toBe(
      '3 of 3 approvals: a, b, c — completed',
    );
  });
});

describe('progressLine under a policy', () => {
  const policy = (over: Partial<NonNullable<CeremonyStatus['policy']>>) => ({
    id: 'web@v2',
    quorum: 3,
    requiredRoles: [{ role: 'security', count: 1 }],
    missingApprovals: 0,
    missingRoles: [],
    ...over,
  });

  it('counts against the policy quorum, not the key threshold, and names what is missing', () => {
    expect(
      progressLine(
        status({
          threshold: 2,
          approvals: ['alice', 'carol'],
          policy: policy({ missingApprovals: 1, missingRoles: [{ role: 'security', count: 1 }] }),
        }),
      ),
    ).toBe(
      '2 of 3 approvals: alice, carol — waiting for 1 more approval and a `security` approver (policy web@v2)',
    );
  });

  it('says "waiting", not "signing", when the quorum is in but a required role is not', () => {
    expect(
      progressLine(
        status({
          threshold: 2,
          approvals: ['alice', 'bob', 'carol'],
          policy: policy({ missingRoles: [{ role: 'security', count: 1 }] }),
        }),
      ),
    ).toBe(
      '3 of 3 approvals: alice, bob, carol — waiting for a `security` approver (policy web@v2)',
    );
    expect(
      progressLine(
        status({
          threshold: 2,
          approvals: ['alice', 'bob'],
          policy: policy({ quorum: 2, missingRoles: [{ role: 'lead', count: 2 }] }),
        }),
      ),
    ).toBe('2 of 2 approvals: alice, bob — waiting for 2 more `lead` approvers (policy web@v2)');
  });

  it('a policy quorum above the threshold keeps waiting after t approvals', () => {
    expect(
      progressLine(
        status({
          threshold: 2,
          approvals: ['alice', 'bob'],
          policy: policy({ quorum: 4, requiredRoles: [], missingApprovals: 2 }),
        }),
      ),
    ).toBe('2 of 4 approvals: alice, bob — waiting for 2 more approvals (policy web@v2)');
  });

  it('signs once the policy is satisfied', () => {
    expect(
      progressLine(
        status({
          threshold: 2,
          approvals: ['alice', 'bob', 'dave'],
          state: 'signing.inSession',
          session: 1,
          policy: policy({}),
        }),
      ),
    ).toBe('3 of 3 approvals: alice, bob, dave — signing (session 1)');
  });

  it('says why a request was cancelled when a new policy version superseded it', () => {
    expect(
      progressLine(
        status({
          state: 'cancelled',
          approvals: ['dave'],
          policy: policy({
            id: 'web@v1',
            missingApprovals: 2,
            superseded: {
              code: 'POLICY_SUPERSEDED',
              by: 'web@v2',
              ceremonyId: 'c_00000000000000ff',
            },
          }),
        }),
      ),
    ).toBe(
      '1 of 3 approvals: dave — cancelled: POLICY_SUPERSEDED — policy web@v2 (set by c_00000000000000ff) replaced web@v1 while the request was open; request again',
    );
  });
});

describe('toError', () => {
  it('keeps codes and public details, never a cause', () => {
    const e = new ClientError('DKG_ABORTED', 'aborted', {
      details: { culprits: ['bob'] },
      cause: new Error('x'),
    });
    expect(toError(e)).toEqual({
      code: 'DKG_ABORTED',
      message: 'aborted',
      details: { culprits: ['bob'] },
    });
    expect(toError(new CliError('TIMEOUT', 'late'))).toEqual({ code: 'TIMEOUT', message: 'late' });
    expect(toError(new Error('boom')).code).toBe('INTERNAL');
  });
});

describe('printError', () => {
  it('prints `conclave: CODE: message — what to do next`, or one JSON document', () => {
    const err: string[] = [];
    const out: string[] = [];
    const origErr = process.stderr.write.bind(process.stderr);
    const origOut = process.stdout.write.bind(process.stdout);
    process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      printError(new ClientError('SHARE_NOT_FOUND', 'no share of web'), false);
      printError(new CliError('SOMETHING_NEW', 'odd'), false);
      printError(
        new ClientError('DKG_ABORTED', 'aborted', { details: { culprits: ['bob'] } }),
        true,
      );
    } finally {
      process.stderr.write = origErr;
      process.stdout.write = origOut;
    }
    expect(err[0]).toBe(
      'conclave: SHARE_NOT_FOUND: no share of web — run `conclave keygen GROUP` while the key ceremony is open\n',
    );
    expect(err[1]).toMatch(/^conclave: SOMETHING_NEW: odd — .+\n$/);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toEqual({
      ok: false,
      error: {
        code: 'DKG_ABORTED',
        message: 'aborted',
        culprits: ['bob'],
        next: nextStep({ code: 'DKG_ABORTED', message: 'aborted' }),
      },
    });
    // --json names the same next step as the human line's tail, and none where the message has it.
    expect(err[0]).toContain(` — ${nextStep({ code: 'SHARE_NOT_FOUND', message: '' })!}`);
    expect(nextStep({ code: 'DKG_ABORTED', message: 'run `conclave keygen web`' })).toBeUndefined();
    expect(nextStep({ code: 'IS_A_DIRECTORY', message: 'x' })).toBeUndefined();
  });
});
