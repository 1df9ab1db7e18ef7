import { describe, expect, it } from 'vitest';
import {
  ChallengeBook,
  PROTOCOL_VERSION,
  checkHello,
  createAuthChallenge,
  createHello,
  parseMessage,
  respondToChallenge,
  verifyAuthResponse,
  type AuthResponse,
  type ErrorCode,
  type RegisteredKey,
  type Result,
} from '../src/index.js';
import { alice, bob, frame } from './fixtures.js';

const ORIGIN = 'wss://coordinator.example:7443';
const NOW = 1_760_000_000_000;
const codeOf = (result: Result<unknown>): ErrorCode | 'OK' =>
  result.ok ? 'OK' : result.error.code;

const registry: Record<string, RegisteredKey> = {
  alice: { publicKey: alice.publicKey, revoked: false },
  bob: { publicKey: bob.publicKey, revoked: true },
};
const lookup = (member: string) => registry[member];

const respond = (challenge = createAuthChallenge({ origin: ORIGIN, now: NOW })) => {
  const response = respondToChallenge(alice, challenge, 'alice', ORIGIN);
  if (!response.ok) throw new Error(response.error.code);
  return { challenge, response: response.value };
};

describe('handshake', () => {
  it('runs hello → challenge → response → ok over parsed frames', () => {
    const hello = parseMessage(frame(createHello('test')));
    expect(hello.ok && hello.msg.type === 'hello' && codeOf(checkHello(hello.msg))).toBe('OK');
    const challenge = parseMessage(frame(createAuthChallenge({ origin: ORIGIN, now: NOW })));
    if (!challenge.ok || challenge.msg.type !== 'auth.challenge') throw new Error('challenge');
    const response = respondToChallenge(alice, challenge.msg, 'alice', ORIGIN);
    if (!response.ok) throw new Error('response');
    const parsed = parseMessage(frame(response.value));
    if (!parsed.ok || parsed.msg.type !== 'auth.response') throw new Error('parse');
    const verified = verifyAuthResponse(parsed.msg, {
      challenge: challenge.msg,
      now: NOW + 1,
      lookup,
    });
    expect(verified).toEqual({ ok: true, value: { member: 'alice' } });
  });

  it('refuses another protocol version with PROTOCOL_VERSION_MISMATCH on both sides', () => {
    expect(codeOf(checkHello({ type: 'hello', protocolVersion: PROTOCOL_VERSION + 1 }))).toBe(
      'PROTOCOL_VERSION_MISMATCH',
    );
    const challenge = { ...createAuthChallenge({ origin: ORIGIN, now: NOW }), protocolVersion: 0 };
    expect(codeOf(respondToChallenge(alice, challenge, 'alice', ORIGIN))).toBe(
      'PROTOCOL_VERSION_MISMATCH',
    );
  });

  it('refuses an expired challenge with AUTH_CHALLENGE_EXPIRED', () => {
    const { challenge, response } = respond();
    const late = verifyAuthResponse(response, { challenge, now: challenge.expiresAt + 1, lookup });
    expect(codeOf(late)).toBe('AUTH_CHALLENGE_EXPIRED');
  });

  it('refuses a bad signature with AUTH_BAD_SIGNATURE', () => {
    const { challenge, response } = respond();
    const sig = response.signature;
    const bad: AuthResponse = {
      ...response,
      signature: (sig[0] === '0' ? '1' : '0') + sig.slice(1),
    };
    expect(codeOf(verifyAuthResponse(bad, { challenge, now: NOW, lookup }))).toBe(
      'AUTH_BAD_SIGNATURE',
    );
  });

  it('refuses a response signed for another origin with AUTH_BAD_SIGNATURE', () => {
    // a man in the middle relays evil.example's challenge to the client as if it were its own
    const evil = createAuthChallenge({ origin: 'wss://evil.example', now: NOW });
    const relayed = respondToChallenge(alice, { ...evil, origin: ORIGIN }, 'alice', ORIGIN);
    if (!relayed.ok) throw new Error('relay');
    expect(codeOf(verifyAuthResponse(relayed.value, { challenge: evil, now: NOW, lookup }))).toBe(
      'AUTH_BAD_SIGNATURE',
    );
    // and the client refuses a challenge naming another origin outright
    expect(codeOf(respondToChallenge(alice, evil, 'alice', ORIGIN))).toBe('UNAUTHENTICATED');
  });

  it('refuses a response claiming another member with AUTH_BAD_SIGNATURE', () => {
    const { challenge, response } = respond();
    registry['carol'] = { publicKey: bob.publicKey, revoked: false };
    const claimed = { ...response, member: 'carol' };
    expect(codeOf(verifyAuthResponse(claimed, { challenge, now: NOW, lookup }))).toBe(
      'AUTH_BAD_SIGNATURE',
    );
  });

  it('refuses unknown and revoked members with UNKNOWN_MEMBER and MEMBER_REVOKED', () => {
    const { challenge, response } = respond();
    expect(
      codeOf(
        verifyAuthResponse({ ...response, member: 'mallory' }, { challenge, now: NOW, lookup }),
      ),
    ).toBe('UNKNOWN_MEMBER');
    const bobs = respondToChallenge(bob, challenge, 'bob', ORIGIN);
    if (!bobs.ok) throw new Error('bob');
    expect(codeOf(verifyAuthResponse(bobs.value, { challenge, now: NOW, lookup }))).toBe(
      'MEMBER_REVOKED',
    );
  });

  it('refuses a response to another challenge with UNAUTHENTICATED', () => {
    const { response } = respond();
    const other = createAuthChallenge({ origin: ORIGIN, now: NOW });
    expect(codeOf(verifyAuthResponse(response, { challenge: other, now: NOW, lookup }))).toBe(
      'UNAUTHENTICATED',
    );
  });
});

describe('ChallengeBook', () => {
  it('hands out distinct 32-byte challenges', () => {
    const book = new ChallengeBook(ORIGIN);
    const a = book.issue(NOW);
    const b = book.issue(NOW);
    if (!a.ok || !b.ok) throw new Error('issue');
    expect(a.value.challenge).toMatch(/^[0-9a-f]{64}$/);
    expect(a.value.challenge).not.toBe(b.value.challenge);
    expect(a.value.expiresAt).toBeGreaterThan(NOW);
  });

  it('refuses a reused challenge with AUTH_CHALLENGE_REUSED', () => {
    const book = new ChallengeBook(ORIGIN);
    const issued = book.issue(NOW);
    if (!issued.ok) throw new Error('issue');
    expect(codeOf(book.consume(issued.value.challenge, NOW + 1))).toBe('OK');
    expect(codeOf(book.consume(issued.value.challenge, NOW + 2))).toBe('AUTH_CHALLENGE_REUSED');
  });

  it('refuses an expired challenge with AUTH_CHALLENGE_EXPIRED and an unknown one with UNAUTHENTICATED', () => {
    const book = new ChallengeBook(ORIGIN, 1_000);
    const issued = book.issue(NOW);
    if (!issued.ok) throw new Error('issue');
    expect(codeOf(book.consume(issued.value.challenge, NOW + 1_001))).toBe(
      'AUTH_CHALLENGE_EXPIRED',
    );
    expect(codeOf(book.consume('00'.repeat(32), NOW))).toBe('UNAUTHENTICATED');
  });

  it('bounds outstanding challenges by replacing the oldest, which then fails as unknown', () => {
    const book = new ChallengeBook(ORIGIN, 1_000, 2);
    const issue = (now: number) => {
      const r = book.issue(now);
      if (!r.ok) throw new Error(`issue: ${r.error.code}`);
      return r.value.challenge;
    };
    const first = issue(NOW);
    const second = issue(NOW + 1);
    const third = issue(NOW + 2);
    expect(book.evicted).toBe(1);
    expect(codeOf(book.consume(first, NOW + 3))).toBe('UNAUTHENTICATED');
    expect(codeOf(book.consume(second, NOW + 3))).toBe('OK');
    expect(codeOf(book.consume(third, NOW + 3))).toBe('OK');
    // A full book never refuses: an attacker filling it cannot lock a member out.
    for (let i = 0; i < 10; i++) issue(NOW + 4);
    expect(codeOf(book.consume(issue(NOW + 5), NOW + 6))).toBe('OK');
    expect(() => new ChallengeBook(ORIGIN, 1_000, 0)).toThrow(RangeError);
  });
});
