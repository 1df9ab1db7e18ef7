import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DOMAIN_PREFIX,
  PROTOCOL_VERSION,
  ProtocolError,
  ReplayTracker,
  envelopeSigningBytes,
  openEnvelope,
  parseMessage,
  sealEnvelope,
  type Envelope,
  type ErrorCode,
  type Result,
} from '../src/index.js';
import {
  CEREMONY,
  OTHER_CEREMONY,
  alice,
  bob,
  frame,
  hex,
  lookup,
  numRuns,
  sealAs,
  sealedExamples,
} from './fixtures.js';

const codeOf = (result: Result<unknown>): ErrorCode | 'OK' =>
  result.ok ? 'OK' : result.error.code;

const approve = sealedExamples['sign.approve'];
const sealed = (): Envelope =>
  sealEnvelope(alice, {
    ceremonyId: CEREMONY,
    round: 'sign.approve',
    seq: 1,
    sender: 'alice',
    body: approve,
  });

describe('signing domain', () => {
  // A literal envelope sealed by alice under protocol 1. Stored transcripts, approvals and audit
  // bundles must keep verifying when the wire version moves, so the domain must not move with it.
  const storedV1 = {
    type: 'envelope',
    ceremonyId: CEREMONY,
    round: 'sign.reject',
    seq: 7,
    sender: 'alice',
    body: { type: 'sign.reject', requestDigest: '11'.repeat(32), reason: 'no' },
    signature:
      'd788f1810d8a7aac9b7c9eee4282112f43a7d18ab4287e478e7a98b578d1e31242d4028214192c8995775a33dec4fdecf241519e33db595de83df41d558d0103',
  } as const;

  it('is conclave/v1/ whatever the wire version', () => {
    expect(PROTOCOL_VERSION).toBeGreaterThan(1);
    expect(DOMAIN_PREFIX).toBe('conclave/v1/');
  });

  it('an envelope sealed under protocol 1 still opens', () => {
    expect(codeOf(openEnvelope(storedV1 as unknown as Envelope, lookup))).toBe('OK');
  });
});

describe('signed envelopes', () => {
  it('open what was sealed', () => {
    const opened = openEnvelope(sealed(), lookup);
    expect(opened.ok).toBe(true);
    if (opened.ok) expect(opened.value).toMatchObject({ sender: 'alice', seq: 1, body: approve });
  });

  it('reject a flipped signature bit with BAD_ENVELOPE_SIGNATURE', () => {
    const env = sealed();
    const flipped = (parseInt(env.signature[0]!, 16) ^ 1).toString(16) + env.signature.slice(1);
    expect(codeOf(openEnvelope({ ...env, signature: flipped }, lookup))).toBe(
      'BAD_ENVELOPE_SIGNATURE',
    );
  });

  it('reject a signature by another key with BAD_ENVELOPE_SIGNATURE', () => {
    const forged = sealEnvelope(bob, {
      ceremonyId: CEREMONY,
      round: 'r',
      seq: 1,
      sender: 'alice',
      body: approve,
    });
    expect(codeOf(openEnvelope(forged, lookup))).toBe('BAD_ENVELOPE_SIGNATURE');
  });

  it('reject a tampered body with BAD_ENVELOPE_SIGNATURE', () => {
    const env = sealed();
    const tampered = { ...env, body: { ...approve, commitments: [hex(100, 0xcd)] } };
    expect(codeOf(openEnvelope(tampered, lookup))).toBe('BAD_ENVELOPE_SIGNATURE');
  });

  it('reject a changed seq, round or sender with BAD_ENVELOPE_SIGNATURE', () => {
    const env = sealed();
    expect(codeOf(openEnvelope({ ...env, seq: 2 }, lookup))).toBe('BAD_ENVELOPE_SIGNATURE');
    expect(codeOf(openEnvelope({ ...env, round: 'sign.recommit' }, lookup))).toBe(
      'BAD_ENVELOPE_SIGNATURE',
    );
    const asBob = openEnvelope({ ...env, sender: 'bob' }, lookup);
    expect(codeOf(asBob)).toBe('BAD_ENVELOPE_SIGNATURE');
  });

  it('reject a cross-ceremony replay with BAD_ENVELOPE_SIGNATURE', () => {
    const env = sealed();
    expect(codeOf(openEnvelope({ ...env, ceremonyId: OTHER_CEREMONY }, lookup))).toBe(
      'BAD_ENVELOPE_SIGNATURE',
    );
  });

  it('reject an envelope for another ceremony than expected with UNEXPECTED_MESSAGE', () => {
    expect(codeOf(openEnvelope(sealed(), lookup, { ceremonyId: OTHER_CEREMONY }))).toBe(
      'UNEXPECTED_MESSAGE',
    );
  });

  it('reject a sender other than the authenticated one with IDENTIFIER_MISMATCH', () => {
    expect(codeOf(openEnvelope(sealed(), lookup, { sender: 'bob' }))).toBe('IDENTIFIER_MISMATCH');
    expect(codeOf(openEnvelope(sealed(), lookup, { sender: 'alice' }))).toBe('OK');
  });

  it('reject an unknown sender with UNKNOWN_MEMBER', () => {
    expect(codeOf(openEnvelope(sealed(), () => undefined))).toBe('UNKNOWN_MEMBER');
  });

  it('reject a member sending a coordinator-only type with FORBIDDEN', () => {
    const body = sealedExamples['dkg.round1.all'];
    const env = sealEnvelope(alice, {
      ceremonyId: CEREMONY,
      round: 'dkg',
      seq: 0,
      sender: 'alice',
      body,
    });
    expect(codeOf(openEnvelope(env, lookup))).toBe('FORBIDDEN');
  });

  it('reject a member sending an admin operation with FORBIDDEN', () => {
    const body = sealedExamples['admin.member.add'];
    const env = sealEnvelope(alice, {
      ceremonyId: CEREMONY,
      round: 'a',
      seq: 0,
      sender: 'alice',
      body,
    });
    expect(codeOf(openEnvelope(env, lookup))).toBe('FORBIDDEN');
  });

  it('refuse to seal an invalid body with INVALID_MESSAGE', () => {
    const bad = { ...approve, commitments: ['xyz'] };
    const attempt = () =>
      sealEnvelope(alice, { ceremonyId: CEREMONY, round: 'r', seq: 0, sender: 'alice', body: bad });
    expect(attempt).toThrow(ProtocolError);
    try {
      attempt();
    } catch (e) {
      expect((e as ProtocolError).code).toBe('INVALID_MESSAGE');
      expect((e as ProtocolError).path).toEqual(['body', 'commitments', 0]);
    }
  });

  it('sign an encoding where field boundaries cannot shift', () => {
    const a = envelopeSigningBytes({
      ceremonyId: 'c_aaaaaaaab',
      round: 'c',
      seq: 0,
      sender: 'alice',
      body: approve,
    });
    const b = envelopeSigningBytes({
      ceremonyId: 'c_aaaaaaaa',
      round: 'bc',
      seq: 0,
      sender: 'alice',
      body: approve,
    });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('never open a corrupted frame to a different body', () => {
    const env = sealAs(approve, 3);
    const raw = frame(env);
    fc.assert(
      fc.property(
        fc.nat({ max: raw.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1 }),
        (i, c) => {
          const parsed = parseMessage(raw.slice(0, i) + c + raw.slice(i + 1));
          if (!parsed.ok || parsed.msg.type !== 'envelope') return;
          const opened = openEnvelope(parsed.msg, lookup);
          if (opened.ok) {
            expect(opened.value.body).toEqual(approve);
            expect(opened.value.ceremonyId).toBe(CEREMONY);
            expect(opened.value.seq).toBe(3);
          }
        },
      ),
      { numRuns },
    );
  });
});

describe('ReplayTracker', () => {
  const key = { sender: 'alice', ceremonyId: CEREMONY, round: 'sign.approve', seq: 1 };

  it('refuses a replayed seq with REPLAYED_MESSAGE', () => {
    const tracker = new ReplayTracker();
    expect(codeOf(tracker.accept(key))).toBe('OK');
    expect(codeOf(tracker.accept(key))).toBe('REPLAYED_MESSAGE');
  });

  it('accepts the next seq, another round, another ceremony and another sender', () => {
    const tracker = new ReplayTracker();
    tracker.accept(key);
    expect(codeOf(tracker.accept({ ...key, seq: 2 }))).toBe('OK');
    expect(codeOf(tracker.accept({ ...key, round: 'sign.recommit' }))).toBe('OK');
    expect(codeOf(tracker.accept({ ...key, ceremonyId: OTHER_CEREMONY }))).toBe('OK');
    expect(codeOf(tracker.accept({ ...key, sender: 'bob' }))).toBe('OK');
    expect(tracker.size).toBe(5);
  });

  it('forgets a finished ceremony', () => {
    const tracker = new ReplayTracker();
    tracker.accept(key);
    tracker.accept({ ...key, ceremonyId: OTHER_CEREMONY });
    tracker.forget(CEREMONY);
    expect(tracker.has(key)).toBe(false);
    expect(tracker.size).toBe(1);
  });

  it('fails closed with RATE_LIMITED when full', () => {
    const tracker = new ReplayTracker(2);
    tracker.accept({ ...key, seq: 1 });
    tracker.accept({ ...key, seq: 2 });
    expect(codeOf(tracker.accept({ ...key, seq: 3 }))).toBe('RATE_LIMITED');
    expect(codeOf(tracker.accept({ ...key, seq: 1 }))).toBe('REPLAYED_MESSAGE');
  });

  it('refuses exactly the keys seen before', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('alice', 'bob'), fc.nat({ max: 5 }), fc.nat({ max: 5 }))),
        (keys) => {
          const tracker = new ReplayTracker();
          const seen = new Set<string>();
          for (const [sender, round, seq] of keys) {
            const id = `${sender}/${round}/${seq}`;
            const result = tracker.accept({
              sender,
              ceremonyId: CEREMONY,
              round: `r${round}`,
              seq,
            });
            expect(result.ok).toBe(!seen.has(id));
            seen.add(id);
          }
        },
      ),
      { numRuns },
    );
  });
});

describe('nested envelopes', () => {
  it('let a member verify the admin authorization inside dkg.start', () => {
    const start = sealedExamples['dkg.start'];
    const adminOnly = (sender: string) => (sender === 'admin' ? lookup('admin') : undefined);
    const opened = openEnvelope(start.authorization, adminOnly);
    expect(opened.ok && opened.value.body).toEqual(sealedExamples['admin.group.create']);
    const forged = { ...start.authorization, body: { ...start.authorization.body, threshold: 3 } };
    expect(codeOf(openEnvelope(forged, adminOnly))).toBe('BAD_ENVELOPE_SIGNATURE');
  });
});
