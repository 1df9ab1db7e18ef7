// Connection handshake (THREATS C35): hello → auth.challenge → auth.response → auth.ok.
// The client signs lp("conclave/v1/auth") || lp(challenge) || lp(origin) || lp(member) with its
// identity key; `origin` is the coordinator origin the client dialed (not one the server claims),
// so a challenge relayed from another coordinator does not verify.
import { randomBytes } from '@noble/hashes/utils.js';
import { domainEncode } from './encoding.js';
import { fail, ok, type Result } from './errors.js';
import { bytesToHex, hexToBytes } from './hex.js';
import { signIdentity, verifyIdentity, type IdentityKey } from './identity.js';
import type { AuthChallenge, AuthResponse, Hello } from './messages/handshake.js';
import { CHALLENGE_BYTES, PROTOCOL_VERSION, versionMismatchMessage } from './version.js';

/** Default challenge lifetime (THREATS C35: ≤ 10–30 s). */
export const DEFAULT_CHALLENGE_TTL_MS = 20_000;

export function authTranscript(challenge: Uint8Array, origin: string, member: string): Uint8Array {
  return domainEncode('auth', [challenge, origin, member]);
}

export function createHello(client?: string): Hello {
  return client === undefined
    ? { type: 'hello', protocolVersion: PROTOCOL_VERSION }
    : { type: 'hello', protocolVersion: PROTOCOL_VERSION, client };
}

/** Coordinator side: PROTOCOL_VERSION_MISMATCH unless the client speaks our version. */
export function checkHello(hello: Hello): Result<void> {
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    return fail('PROTOCOL_VERSION_MISMATCH', versionMismatchMessage('this coordinator'));
  }
  return ok(undefined);
}

export interface ChallengeOptions {
  readonly origin: string;
  /** Milliseconds since the epoch, from the caller's clock. */
  readonly now: number;
  readonly ttlMs?: number;
  /** For tests only: the 32 challenge bytes. */
  readonly challenge?: Uint8Array;
}

export function createAuthChallenge(options: ChallengeOptions): AuthChallenge {
  const challenge = options.challenge ?? randomBytes(CHALLENGE_BYTES);
  return {
    type: 'auth.challenge',
    protocolVersion: PROTOCOL_VERSION,
    challenge: bytesToHex(challenge),
    origin: options.origin,
    expiresAt: options.now + (options.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS),
  };
}

/**
 * Client side: answer a challenge. `origin` is what the client dialed. Refuses a challenge of
 * another protocol version (PROTOCOL_VERSION_MISMATCH) or for another origin (UNAUTHENTICATED).
 */
export function respondToChallenge(
  key: IdentityKey,
  challenge: AuthChallenge,
  member: string,
  origin: string,
): Result<AuthResponse> {
  if (challenge.protocolVersion !== PROTOCOL_VERSION) {
    return fail('PROTOCOL_VERSION_MISMATCH', versionMismatchMessage('this client'));
  }
  if (challenge.origin !== origin) {
    return fail('UNAUTHENTICATED', 'challenge names another coordinator origin');
  }
  const bytes = hexToBytes(challenge.challenge, CHALLENGE_BYTES);
  const signature = signIdentity(key, authTranscript(bytes, origin, member));
  return ok({
    type: 'auth.response',
    member,
    challenge: challenge.challenge,
    signature: bytesToHex(signature),
  });
}

export interface RegisteredKey {
  readonly publicKey: Uint8Array;
  readonly revoked: boolean;
}

export interface VerifyAuthOptions {
  /** The challenge issued on this connection (single use: see ChallengeBook). */
  readonly challenge: AuthChallenge;
  readonly now: number;
  readonly lookup: (member: string) => RegisteredKey | undefined;
}

/**
 * Coordinator side. Codes: UNAUTHENTICATED (answers another challenge), AUTH_CHALLENGE_EXPIRED,
 * UNKNOWN_MEMBER, MEMBER_REVOKED, AUTH_BAD_SIGNATURE. Returns the authenticated member id.
 */
export function verifyAuthResponse(
  response: AuthResponse,
  options: VerifyAuthOptions,
): Result<{ member: string }> {
  const { challenge } = options;
  if (response.challenge !== challenge.challenge) {
    return fail('UNAUTHENTICATED', 'response answers another challenge');
  }
  if (options.now > challenge.expiresAt) {
    return fail('AUTH_CHALLENGE_EXPIRED', 'challenge expired');
  }
  const registered = options.lookup(response.member);
  if (registered === undefined) return fail('UNKNOWN_MEMBER', 'no such member');
  if (registered.revoked) return fail('MEMBER_REVOKED', 'member is revoked');
  const transcript = authTranscript(
    hexToBytes(challenge.challenge, CHALLENGE_BYTES),
    challenge.origin,
    response.member,
  );
  if (!verifyIdentity(registered.publicKey, transcript, hexToBytes(response.signature))) {
    return fail('AUTH_BAD_SIGNATURE', 'auth signature does not verify');
  }
  return ok({ member: response.member });
}

/**
 * Single-use challenges with a TTL (THREATS C35). `issue` hands one out; `consume` takes it back
 * exactly once: AUTH_CHALLENGE_REUSED the second time, AUTH_CHALLENGE_EXPIRED after its expiry,
 * UNAUTHENTICATED if never issued. Bounded: with `maxOutstanding` open, a new challenge replaces
 * the oldest open one. Refusing instead would let anyone who can spread requests over enough
 * addresses (an IPv6 /48 holds 65 536 rate-limited /64s) fill the book and lock every member out;
 * evicting means they would have to issue `maxOutstanding` challenges within the second a member
 * takes to answer its own.
 */
export class ChallengeBook {
  readonly #open = new Map<string, AuthChallenge>();
  readonly #used = new Map<string, number>();
  readonly #origin: string;
  readonly #ttlMs: number;
  readonly #maxOutstanding: number;
  /** Open challenges replaced by newer ones because the book was full (metrics, tests). */
  evicted = 0;

  constructor(origin: string, ttlMs = DEFAULT_CHALLENGE_TTL_MS, maxOutstanding = 10_000) {
    if (!Number.isInteger(maxOutstanding) || maxOutstanding < 1) {
      throw new RangeError('maxOutstanding must be a whole number of at least 1');
    }
    this.#origin = origin;
    this.#ttlMs = ttlMs;
    this.#maxOutstanding = maxOutstanding;
  }

  issue(now: number): Result<AuthChallenge> {
    this.prune(now);
    while (this.#open.size >= this.#maxOutstanding) {
      // Map order is insertion order: the first key is the oldest open challenge.
      const oldest = this.#open.keys().next();
      if (oldest.done === true) break;
      this.#open.delete(oldest.value);
      this.evicted++;
    }
    const challenge = createAuthChallenge({ origin: this.#origin, now, ttlMs: this.#ttlMs });
    this.#open.set(challenge.challenge, challenge);
    return ok(challenge);
  }

  consume(challengeHex: string, now: number): Result<AuthChallenge> {
    if (this.#used.has(challengeHex)) return fail('AUTH_CHALLENGE_REUSED', 'challenge was used');
    const challenge = this.#open.get(challengeHex);
    if (challenge === undefined) return fail('UNAUTHENTICATED', 'unknown challenge');
    this.#open.delete(challengeHex);
    this.#used.set(challengeHex, challenge.expiresAt);
    if (now > challenge.expiresAt) return fail('AUTH_CHALLENGE_EXPIRED', 'challenge expired');
    return ok(challenge);
  }

  /** Forgets challenges past expiry (a used one can no longer be accepted anyway). */
  prune(now: number): void {
    for (const [hex, c] of this.#open) if (now > c.expiresAt) this.#open.delete(hex);
    for (const [hex, expiresAt] of this.#used) if (now > expiresAt) this.#used.delete(hex);
  }
}
