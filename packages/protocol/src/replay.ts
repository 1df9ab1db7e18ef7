// Replay protection (THREATS C36): each (sender, ceremony, round, seq) is accepted once.
// Cross-ceremony replays already fail the envelope signature; this catches verbatim repeats.
import { fail, ok, type Result } from './errors.js';

export interface ReplayKey {
  readonly sender: string;
  readonly ceremonyId: string;
  readonly round: string;
  readonly seq: number;
}

export class ReplayTracker {
  readonly #byCeremony = new Map<string, Set<string>>();
  readonly #maxEntries: number;
  #size = 0;

  /** `maxEntries` bounds memory; when full, new keys are refused (RATE_LIMITED), never evicted. */
  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#size;
  }

  /** Whether `key` was accepted before (does not record it). */
  has(key: ReplayKey): boolean {
    return this.#byCeremony.get(key.ceremonyId)?.has(entry(key)) ?? false;
  }

  /** Records `key`; REPLAYED_MESSAGE if it was seen, RATE_LIMITED if the tracker is full. */
  accept(key: ReplayKey): Result<void> {
    let seen = this.#byCeremony.get(key.ceremonyId);
    const id = entry(key);
    if (seen?.has(id)) return fail('REPLAYED_MESSAGE', 'message was already received');
    if (this.#size >= this.#maxEntries) return fail('RATE_LIMITED', 'replay tracker is full');
    if (seen === undefined) {
      seen = new Set();
      this.#byCeremony.set(key.ceremonyId, seen);
    }
    seen.add(id);
    this.#size += 1;
    return ok(undefined);
  }

  /** Drops a finished ceremony's entries (its envelopes can no longer be acted on anyway). */
  forget(ceremonyId: string): void {
    const seen = this.#byCeremony.get(ceremonyId);
    if (seen === undefined) return;
    this.#size -= seen.size;
    this.#byCeremony.delete(ceremonyId);
  }
}

function entry(key: ReplayKey): string {
  // JSON of the tuple: unambiguous whatever the strings contain.
  return JSON.stringify([key.sender, key.round, key.seq]);
}
