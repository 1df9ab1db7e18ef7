// Frames from an authenticated connection: parse at the edge (parseMessage), then bare queries or
// envelopes (openEnvelope with the connection's member as the only acceptable sender).
import {
  ADMIN_ID,
  MAX_INBOX_ITEMS,
  ProtocolError,
  openEnvelope,
  parseMessage,
  KeyOutcomeSchema,
  type Envelope,
  type KeyOutcome,
  type ErrorMessage,
} from '@conclave/protocol';
import { handleAdmin, type AdminHooks } from './admin.js';
import { snapshotOf, type CeremonyRunner, type Incoming } from './ceremonies.js';
import { handleKeyMessage, resendKeyState } from './key-ceremony.js';
import { groupList } from './key-lifecycle.js';
import { hotfixList, policyInfo, revocationPage } from './policy.js';
import { FaultLog, ROUNDS, errorFrame, refused } from './runtime.js';
import {
  handleSigningMessage,
  openSigning,
  prefetchSigningCrypto,
  resendSigningState,
} from './signing-ceremony.js';

const FINAL_TYPES = ['sign.complete', 'sign.aborted', 'dkg.complete', 'dkg.abort'];
const KEY_FINAL_TYPES = ['dkg.complete', 'dkg.abort'];

/**
 * How long after it closed a key ceremony's sealed outcome is sent again to its members on every
 * connect (D.47): a member whose connection dropped before `dkg.complete` saves its share only
 * when it receives it. Members ignore an outcome they already acted on (it is idempotent).
 */
export const KEY_OUTCOME_RESEND_MS = 7 * 24 * 60 * 60 * 1000;
/** Per group, how many of its most recent ceremonies are looked at for a closed key ceremony. */
const KEY_OUTCOME_SCAN = 32;

export class Dispatcher {
  readonly #runner: CeremonyRunner;
  readonly #hooks: AdminHooks;
  readonly #faults: FaultLog;

  /** `faults`: the coordinator's one log of server faults, shared with the server and HTTP routes. */
  constructor(runner: CeremonyRunner, hooks: AdminHooks, faults?: FaultLog) {
    this.#runner = runner;
    this.#hooks = hooks;
    this.#faults = faults ?? new FaultLog(runner.deps.logger, () => runner.now());
  }

  /** The error frame for `e`; a server fault (a failed write, a bug) is also logged. */
  #fail(e: unknown, where: string, ceremonyId?: string): ErrorMessage {
    const frame = errorFrame(e, ceremonyId);
    this.#faults.report(e, frame, where, ceremonyId);
    return frame;
  }

  /**
   * Handles one frame; returns the error sent back, if any (the caller counts them). An envelope
   * whose handling waits on the crypto pool answers later: its error, if any, is sent with
   * `reply` and passed to `onLateError` to be counted the same way.
   */
  handleFrame(
    member: string,
    data: Buffer | string,
    reply: (frame: object) => void,
    onLateError?: (frame: ErrorMessage) => void,
  ): ErrorMessage | null {
    const parsed = parseMessage(typeof data === 'string' ? data : new Uint8Array(data));
    if (!parsed.ok) {
      const frame = errorFrame(ProtocolError.from(parsed.error));
      reply(frame);
      return frame;
    }
    const msg = parsed.msg;
    const ceremonyId =
      msg.type === 'envelope' ||
      msg.type === 'ceremony.status.get' ||
      msg.type === 'key.outcome.get'
        ? msg.ceremonyId
        : undefined;
    try {
      switch (msg.type) {
        case 'inbox.get':
          reply({ type: 'inbox', items: this.#runner.inbox(member, MAX_INBOX_ITEMS) });
          return null;
        case 'ceremony.status.get':
          this.#status(member, msg.ceremonyId, reply);
          return null;
        case 'key.outcome.get':
          reply(this.#keyOutcome(member, msg.ceremonyId));
          return null;
        case 'group.list.get':
          reply({ type: 'group.list', groups: groupList(this.#runner, member, msg.member) });
          return null;
        case 'policy.get':
          reply(policyInfo(this.#runner, member, msg.group, msg.version));
          return null;
        case 'hotfix.list.get':
          reply({ type: 'hotfix.list', hotfixes: hotfixList(this.#runner, member, msg.group) });
          return null;
        case 'revocations.get':
          reply(revocationPage(this.#runner, member, msg.group, msg.offset));
          return null;
        case 'envelope': {
          const pending = this.#envelope(member, msg, reply);
          pending?.catch((e: unknown) => {
            const frame = this.#fail(e, msg.type, ceremonyId);
            reply(frame);
            onLateError?.(frame);
          });
          return null;
        }
        default:
          throw refused('UNEXPECTED_MESSAGE', 'message type not accepted on this connection');
      }
    } catch (e) {
      const frame = this.#fail(e, msg.type, ceremonyId);
      reply(frame);
      return frame;
    }
  }

  #status(member: string, id: string, reply: (frame: object) => void): void {
    const live = this.#runner.get(id);
    if (live === undefined) throw refused('CEREMONY_NOT_FOUND', 'no such ceremony');
    if (!this.#runner.canRead(live, member))
      throw refused('FORBIDDEN', 'not a member of its group');
    reply(this.#runner.status(live));
    if (snapshotOf(live).status !== 'active') {
      // A closed ceremony's outcome envelope, again, for members that were offline at the end.
      for (const type of FINAL_TYPES) {
        const entry = this.#runner.latestOutgoing(id, type, member);
        if (entry !== undefined) reply(entry.envelope);
      }
    }
  }

  /**
   * The sealed `key.start` and final `dkg.complete` / `dkg.abort` of a key ceremony, as stored: what
   * a restarted member checks before it promotes (or deletes) a staged share (docs/lifecycle.md).
   */
  #keyOutcome(member: string, id: string): KeyOutcome {
    const runner = this.#runner;
    const live = runner.get(id);
    if (live === undefined || live.kind !== 'key')
      throw refused('CEREMONY_NOT_FOUND', 'no such key ceremony');
    if (!runner.canRead(live, member)) throw refused('FORBIDDEN', 'not a member of its group');
    const start = runner.latestOutgoing(id, 'key.start', member)?.envelope;
    const outcome = KEY_FINAL_TYPES.map((type) => runner.latestOutgoing(id, type, member))
      .filter((e) => e !== undefined)
      .sort((a, b) => a.idx - b.idx)
      .at(-1)?.envelope;
    return KeyOutcomeSchema.parse({
      type: 'key.outcome',
      ceremonyId: id,
      ...(start === undefined ? {} : { start }),
      ...(outcome === undefined ? {} : { outcome }),
    });
  }

  #envelope(
    member: string,
    envelope: Envelope,
    reply: (frame: object) => void,
  ): void | Promise<void> {
    const runner = this.#runner;
    const opened = openEnvelope(envelope, (name) => runner.memberKey(name), { sender: member });
    if (!opened.ok) throw ProtocolError.from(opened.error);
    // Its pool work starts now; the envelope itself waits for the ceremony's turn.
    const prefetched = prefetchSigningCrypto(runner, member, envelope);
    // Refused before it asked for the result (replay, closed session …): drop the result.
    const forget = () => {
      if (prefetched !== undefined) runner.crypto.forget(prefetched);
    };
    // In the ceremony's queue: after whatever of it still waits on the crypto pool.
    let handled: void | Promise<void> = undefined;
    try {
      handled = runner.serial(envelope.ceremonyId, () => this.#verified(member, envelope, reply));
    } finally {
      if (handled === undefined) forget(); // handled at once, or refused at once
    }
    handled?.then(forget, forget);
    return handled;
  }

  #verified(
    member: string,
    envelope: Envelope,
    reply: (frame: object) => void,
  ): void | Promise<void> {
    const runner = this.#runner;
    const type = envelope.body.type;
    const isAdminOp = type.startsWith('admin.');
    const expected = ROUNDS[type];
    if (!isAdminOp && expected !== undefined && envelope.round !== expected) {
      throw refused('INVALID_MESSAGE', 'envelope round does not match its message type');
    }
    const key = {
      sender: member,
      ceremonyId: envelope.ceremonyId,
      round: envelope.round,
      seq: envelope.seq,
    };
    if (runner.store.hasSeen(key))
      throw refused('REPLAYED_MESSAGE', 'message was already received');
    const incoming: Incoming = { member, envelope, reply };
    if (isAdminOp) return handleAdmin(runner, incoming, this.#hooks);
    if (type === 'sign.request') return openSigning(runner, incoming);
    const live = runner.live.get(envelope.ceremonyId);
    if (live === undefined) {
      if (runner.store.getCeremony(envelope.ceremonyId) !== undefined) {
        throw refused('UNEXPECTED_MESSAGE', 'the ceremony is closed');
      }
      throw refused('CEREMONY_NOT_FOUND', 'no such ceremony');
    }
    if (live.kind === 'key') return handleKeyMessage(runner, live, incoming);
    return handleSigningMessage(runner, live, incoming);
  }

  /** After authentication: current status of the member's open ceremonies, and what it missed. */
  onConnect(member: string, send: (frame: object) => void): void {
    try {
      this.#resendKeyOutcomes(member, send);
    } catch (e) {
      // A groups or ceremonies row that does not parse (D.51): logged, and the open ceremonies'
      // re-deliveries below still go out.
      this.#fail(e, 'connect');
    }
    for (const live of this.#runner.live.values()) {
      if (!this.#runner.audience(live).includes(member)) continue;
      try {
        send(this.#runner.status(live));
        if (live.kind === 'key') resendKeyState(this.#runner, live, member);
        else resendSigningState(this.#runner, live, member);
      } catch {
        // a status that cannot be built is logged by pushStatus on the next transition
      }
    }
  }

  /**
   * The sealed `dkg.complete` / `dkg.abort` of the key ceremonies this member took part in that
   * closed in the last KEY_OUTCOME_RESEND_MS, each after its final status, from the transcript
   * (closed ceremonies are no longer in `runner.live`, so nothing else would resend them).
   */
  #resendKeyOutcomes(member: string, send: (frame: object) => void): void {
    const runner = this.#runner;
    if (member === ADMIN_ID) return;
    const since = runner.now() - KEY_OUTCOME_RESEND_MS;
    for (const group of runner.store.listGroups()) {
      const records = runner.store
        .listCeremoniesOfGroups([group.name], KEY_OUTCOME_SCAN)
        // a row that does not parse is skipped like a damaged snapshot below (inbox logs it)
        .flatMap((listed) => (listed.ok ? [listed.record] : []))
        .filter((r) => r.kind === 'key' && !r.open && r.updatedAt >= since)
        .sort((a, b) => a.updatedAt - b.updatedAt);
      for (const record of records) {
        if (runner.live.has(record.id)) continue;
        try {
          // The indexed transcript lookups first: restoring a closed ceremony's machine is the
          // costly part, and on every connect only those with a final for this member need it.
          const finals = KEY_FINAL_TYPES.map((type) =>
            runner.latestOutgoing(record.id, type, member),
          ).filter((e) => e !== undefined);
          if (finals.length === 0) continue;
          const closed = runner.get(record.id);
          if (closed === undefined) continue;
          if (!snapshotOf(closed).context.group.members.includes(member)) continue;
          send(runner.status(closed));
          for (const entry of finals) send(entry.envelope);
        } catch {
          // a damaged closed ceremony is reported where it is read (status, audit); skip it here
        }
      }
    }
  }
}
