// The member registry replayed from admin-signed operations, against a coordinator that stores
// them: it may serve an operation twice, re-date it (`at` is unsigned) or re-date transcript
// entries, but it cannot sign as the admin or a member. Each rule asserts its check's code.
import { newCeremonyId, sealEnvelope } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import { verifyCeremonyBundle, type TranscriptEntry } from '../src/index.js';
import { signingBundle } from './bundle-fixture.js';

type Case = ReturnType<typeof signingBundle>;
const failed = (r: ReturnType<typeof verifyCeremonyBundle>) =>
  r.checks.filter((c) => !c.ok).map((c) => c.code);
const entries = (c: Case) => c.bundle.transcript as TranscriptEntry[];
/** carol's approval is entry 3 (request, then alice, bob, carol approve, 10 ms apart). */
const CAROL_APPROVAL = 3;

/** The admin's signed operation on `member`, signed at `signedAt` (its seq, µs) and recorded `at`. */
function operation(
  c: Case,
  body: Record<string, unknown>,
  times: { signedAt: number; at: number },
  scopeId = newCeremonyId(),
) {
  return {
    scopeId,
    at: times.at,
    envelope: sealEnvelope(c.admin, {
      ceremonyId: scopeId,
      round: '0',
      seq: times.signedAt * 1000,
      sender: 'admin',
      body: body as never,
    }),
  };
}
const revokeCarol = { type: 'admin.member.revoke', member: 'carol', reason: 'device lost' };

describe('registry replay', () => {
  it('a revoked member re-admitted by serving its signed add again (x.ts case A): REGISTRY_REPLAYED', () => {
    const c = signingBundle();
    const t0 = entries(c)[0]!.at;
    const carolAdd = c.bundle.registry[2]!;
    // The admin revoked carol before the ceremony; the coordinator serves her add again, later.
    c.bundle.registry.push(operation(c, revokeCarol, { signedAt: t0 + 5, at: t0 + 5 }));
    c.bundle.registry.push({ ...carolAdd, at: t0 + 6 });
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['REGISTRY_REPLAYED', 'BAD_ENVELOPE_SIGNATURE']);
    expect(r.checks.find((x) => x.code === 'REGISTRY_REPLAYED')?.detail).toMatch(
      /appears more than once/,
    );
  });

  it('a name added twice (a fresh admin-signed add after its revocation): REGISTRY_REPLAYED', () => {
    const c = signingBundle();
    const t0 = entries(c)[0]!.at;
    const carolAdd = c.bundle.registry[2]!.envelope as { body: Record<string, unknown> };
    c.bundle.registry.push(operation(c, revokeCarol, { signedAt: t0 + 5, at: t0 + 5 }));
    c.bundle.registry.push(operation(c, carolAdd.body, { signedAt: t0 + 6, at: t0 + 6 }));
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['REGISTRY_REPLAYED', 'BAD_ENVELOPE_SIGNATURE']);
    expect(r.checks.find((x) => x.code === 'REGISTRY_REPLAYED')?.detail).toMatch(
      /carol is added again/,
    );
  });

  it('a revocation counts from the earlier of its signed and recorded times: moved earlier, it fails carol, never passes her', () => {
    const c = signingBundle();
    const end = entries(c).at(-1)!.at;
    // Signed and recorded after the ceremony, in either order: changes nothing.
    c.bundle.registry.push(operation(c, revokeCarol, { signedAt: end + 10_000, at: end + 5_000 }));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([]);
    // Recorded before carol's approval (the coordinator's doing, or its clock): her approval fails
    // — visible, and only against the coordinator's own record.
    const d = signingBundle();
    const approval = entries(d)[CAROL_APPROVAL]!;
    d.bundle.registry.push(
      operation(d, revokeCarol, { signedAt: end + 10_000, at: approval.at - 1 }),
    );
    expect(failed(verifyCeremonyBundle(d.bundle, d.trust))).toEqual(['BAD_ENVELOPE_SIGNATURE']);
  });

  it('an add the admin’s clock dates after the member’s first envelope (a clock running ahead) counts from when it was recorded', () => {
    const c = signingBundle();
    const approval = entries(c)[CAROL_APPROVAL]!;
    const add = c.bundle.registry[2]!;
    const body = (add.envelope as { body: Record<string, unknown> }).body;
    expect(body['member']).toBe('carol');
    // The admin's machine runs a minute ahead of the coordinator's: a false alarm before.
    c.bundle.registry[2] = operation(
      c,
      body,
      { signedAt: approval.at + 60_000, at: add.at },
      add.scopeId,
    );
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([]);
  });

  it('a revocation re-dated after the approval by the coordinator: the admin’s signed time decides (BAD_ENVELOPE_SIGNATURE)', () => {
    const c = signingBundle();
    const approval = entries(c)[CAROL_APPROVAL]!;
    // The admin revoked carol 5 ms before her approval was recorded; the coordinator records the
    // revocation as applied an hour later, after the ceremony.
    c.bundle.registry.push(
      operation(c, revokeCarol, { signedAt: approval.at - 5, at: approval.at + 3_600_000 }),
    );
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['BAD_ENVELOPE_SIGNATURE']);
    expect(r.checks.find((x) => x.code === 'BAD_ENVELOPE_SIGNATURE')?.detail).toMatch(
      new RegExp(`entries ${CAROL_APPROVAL} `),
    );
  });

  it('an approval re-dated before the revocation by the coordinator: the member’s signed time decides (BAD_ENVELOPE_SIGNATURE)', () => {
    const c = signingBundle();
    const approval = entries(c)[CAROL_APPROVAL]!;
    const signedAt = approval.at;
    c.bundle.registry.push(
      operation(c, revokeCarol, { signedAt: signedAt - 5, at: signedAt + 3_600_000 }),
    );
    // Recorded 8 ms earlier than it came, still after the entry before it: before the revocation
    // by both recorded times, but carol's envelope says when her client signed it.
    entries(c)[CAROL_APPROVAL] = { ...approval, at: signedAt - 8 };
    c.relog();
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual(['BAD_ENVELOPE_SIGNATURE']);
  });

  it('a revocation signed and applied after the ceremony leaves it verified', () => {
    const c = signingBundle();
    const end = entries(c).at(-1)!.at;
    c.bundle.registry.push(operation(c, revokeCarol, { signedAt: end + 1000, at: end + 1001 }));
    expect(failed(verifyCeremonyBundle(c.bundle, c.trust))).toEqual([]);
  });

  it('a revocation of a name never added, and a second revocation: REGISTRY_REPLAYED', () => {
    const c = signingBundle();
    const end = entries(c).at(-1)!.at;
    c.bundle.registry.push(
      operation(c, { ...revokeCarol, member: 'dave' }, { signedAt: end + 1000, at: end + 1000 }),
    );
    c.bundle.registry.push(operation(c, revokeCarol, { signedAt: end + 2000, at: end + 2000 }));
    c.bundle.registry.push(operation(c, revokeCarol, { signedAt: end + 3000, at: end + 3000 }));
    const r = verifyCeremonyBundle(c.bundle, c.trust);
    expect(failed(r)).toEqual(['REGISTRY_REPLAYED']);
    expect(r.checks.find((x) => x.code === 'REGISTRY_REPLAYED')?.detail).toMatch(
      /revokes dave before any add.*carol is revoked again/,
    );
  });

  it('a seq that is a counter, not a clock (the protocol allows it): the recorded time decides', () => {
    const revokedAt = (c: Case, at: number) => {
      const scopeId = newCeremonyId();
      c.bundle.registry.push({
        scopeId,
        at,
        envelope: sealEnvelope(c.admin, {
          ceremonyId: scopeId,
          round: '0',
          seq: 7,
          sender: 'admin',
          body: revokeCarol as never,
        }),
      });
    };
    const before = signingBundle();
    revokedAt(before, entries(before)[CAROL_APPROVAL]!.at - 1);
    expect(failed(verifyCeremonyBundle(before.bundle, before.trust))).toEqual([
      'BAD_ENVELOPE_SIGNATURE',
    ]);
    const after = signingBundle();
    revokedAt(after, entries(after).at(-1)!.at + 1);
    expect(failed(verifyCeremonyBundle(after.bundle, after.trust))).toEqual([]);
  });
});
