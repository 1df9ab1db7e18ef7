// The member registry as of each time, replayed from the admin-signed operations a bundle carries
// (`admin.member.add`, `admin.member.revoke`). The coordinator stores them and may reorder, repeat
// or re-date them, so the replay trusts only what the admin signed:
// - each operation is the admin's envelope for its own scope id, and a scope id appears once (the
//   same signed add served twice would otherwise re-admit a revoked member);
// - a name is added once (apps/coordinator/src/admin.ts refuses a second add: DUPLICATE) and
//   revoked at most once, after its add;
// - order and times come from the admin's signed `seq`, not from the `at` the coordinator recorded.
//
// What a signed `seq` is worth (packages/protocol envelope.ts signs it; packages/client
// connection.ts `takeSeq` makes it): the protocol only asks it to increase per sender and
// ceremony; the client makes it the sender's clock in µs when its process started, +1 per message.
// So a seq that reads as a time since 2020 is a lower bound of when the envelope was signed —
// close to it for a short-lived command (every admin operation is one CLI invocation), possibly
// days early for a long-running `conclave agent` — and a smaller one is a counter, no time at all.
// The coordinator's recorded `at` is its word.
// So: a name's key is valid from its add until its revocation R, each at the earlier of the
// admin's signed time and the recorded `at` (the recorded one alone when the admin's seq is a
// counter): clocks of different machines disagree, and the earlier of the two is the one neither
// a skewed admin clock nor the coordinator can push past what the admin signed. A member's envelope counts
// as signed under the key only if both its own signed time (when it has one) and the time the
// coordinator recorded for it fall before R. The coordinator can thus make an honest envelope
// fail (visible, and only against its own record), never pass a late one — unless the member's
// own signed time is early too (an agent started before the revocation and still running) or
// absent: then only the coordinator's recorded time orders the two (docs/audit.md).
import { hexToBytes, openEnvelope, type Envelope } from '@conclave/protocol';

/** The first instant a seq is read as a clock (2020-01-01): below it, it is a counter. */
const SIGNED_CLOCK_FROM_MS = Date.UTC(2020, 0, 1);

/**
 * The sender's signed clock (ms) an envelope carries — a lower bound of when it was signed — or
 * undefined when its seq is a counter rather than a clock.
 */
export function signedTimeOf(envelope: { readonly seq: number }): number | undefined {
  const ms = Math.floor(envelope.seq / 1000);
  return ms >= SIGNED_CLOCK_FROM_MS ? ms : undefined;
}

export interface RegistryOperation {
  readonly scopeId: string;
  /** When the coordinator says it applied the operation (unsigned). */
  readonly at: number;
  readonly envelope: unknown;
}

interface Validity {
  readonly key: string;
  /** The admin's signed time of the add (its recorded time if the seq is a counter). */
  readonly from: number;
  /** The admin's signed time of the revocation (likewise); +∞ while not revoked. */
  readonly until: number;
}

export interface Registry {
  /** Operations that do not verify under the admin key (or are not member adds/revocations). */
  readonly unsigned: readonly string[];
  /** Operations served twice, a name added twice or revoked twice, a revocation before its add. */
  readonly replayed: readonly string[];
  /** How many operations were given. */
  readonly size: number;
  /**
   * The member's identity key for an envelope recorded at `at` carrying `seq`, if the member was
   * registered then and not revoked before it (see the header for which times decide).
   */
  keyAt(member: string, at: number, seq: number): Uint8Array | undefined;
  /** When a revocation of `member` counts from (the admin's signed time), if it was revoked. */
  revokedAt(member: string): number | undefined;
}

/** Replays the registry (ordered by the admin's signed times) under the admin key. */
export function replayRegistry(
  operations: readonly RegistryOperation[],
  adminKey: Uint8Array,
): Registry {
  const unsigned: string[] = [];
  const replayed: string[] = [];
  const seen = new Set<string>();
  const opened: {
    scopeId: string;
    at: number;
    /** The admin's signed time, or the recorded one when its seq is a counter. */
    signedAt: number;
    body: Envelope['body'];
  }[] = [];
  for (const op of operations) {
    if (seen.has(op.scopeId)) {
      replayed.push(`operation ${op.scopeId} appears more than once`);
      continue;
    }
    seen.add(op.scopeId);
    const result = openEnvelope(op.envelope as Envelope, (s) =>
      s === 'admin' ? adminKey : undefined,
    );
    if (!result.ok || result.value.ceremonyId !== op.scopeId) {
      unsigned.push(op.scopeId);
      continue;
    }
    const body = result.value.body;
    if (body.type !== 'admin.member.add' && body.type !== 'admin.member.revoke') {
      unsigned.push(op.scopeId);
      continue;
    }
    // The earlier of the admin's signed time and the recorded one: the coordinator cannot date an
    // operation later than the admin signed it, and an admin clock running ahead of the
    // coordinator's (or a recorded time the coordinator moved earlier) only makes a key's validity
    // start sooner and end sooner, never last past the revocation the admin signed.
    const signedAt = Math.min(signedTimeOf(result.value) ?? op.at, op.at);
    opened.push({ scopeId: op.scopeId, at: op.at, signedAt, body });
  }
  // The admin's own order: its signed clock, then the recorded time for operations signed in the
  // same millisecond by different processes.
  opened.sort((x, y) => x.signedAt - y.signedAt || x.at - y.at);

  const validity = new Map<string, Validity>();
  for (const op of opened) {
    const body = op.body as Extract<
      Envelope['body'],
      { type: 'admin.member.add' | 'admin.member.revoke' }
    >;
    const current = validity.get(body.member);
    if (body.type === 'admin.member.add') {
      if (current !== undefined) {
        replayed.push(`${body.member} is added again by ${op.scopeId}`);
        continue;
      }
      validity.set(body.member, {
        key: body.identityKey,
        from: op.signedAt,
        until: Number.POSITIVE_INFINITY,
      });
    } else if (current === undefined) {
      replayed.push(`${op.scopeId} revokes ${body.member} before any add of that name`);
    } else if (current.until !== Number.POSITIVE_INFINITY) {
      replayed.push(`${body.member} is revoked again by ${op.scopeId}`);
    } else {
      validity.set(body.member, { ...current, until: op.signedAt });
    }
  }

  return {
    unsigned,
    replayed,
    size: operations.length,
    keyAt(member, at, seq) {
      const v = validity.get(member);
      if (v === undefined || at < v.from) return undefined;
      const signedAt = signedTimeOf({ seq });
      if (at >= v.until || (signedAt !== undefined && signedAt >= v.until)) return undefined;
      return hexToBytes(v.key, 32);
    },
    revokedAt(member) {
      const until = validity.get(member)?.until;
      return until === undefined || until === Number.POSITIVE_INFINITY ? undefined : until;
    },
  };
}
