// Frames from an authenticated connection: parse at the edge (parseMessage), then bare queries or
// envelopes (openEnvelope with the connection's member as the only acceptable sender).
import {
  MAX_INBOX_ITEMS,
  ProtocolError,
  openEnvelope,
  parseMessage,
  type Envelope,
  type ErrorMessage,
} from '@conclave/protocol';
import { handleAdmin, type AdminHooks } from './admin.js';
import { snapshotOf, type CeremonyRunner, type Incoming } from './ceremonies.js';
import { handleKeyMessage, resendKeyState } from './key-ceremony.js';
import { groupList } from './key-lifecycle.js';
import { hotfixList, policyInfo, revocationPage } from './policy.js';
import { ROUNDS, errorFrame, refused } from './runtime.js';
import {
  handleSigningMessage,
  openSigning,
  prefetchSigningCrypto,
  resendSigningState,
} from './signing-ceremony.js';

const FINAL_TYPES = ['sign.complete', 'sign.aborted', 'dkg.complete', 'dkg.abort'];

export class Dispatcher {
  readonly #runner: CeremonyRunner;
  readonly #hooks: AdminHooks;

  constructor(runner: CeremonyRunner, hooks: AdminHooks) {
    this.#runner = runner;
    this.#hooks = hooks;
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
      msg.type === 'envelope' || msg.type === 'ceremony.status.get' ? msg.ceremonyId : undefined;
    try {
      switch (msg.type) {
        case 'inbox.get':
          reply({ type: 'inbox', items: this.#runner.inbox(member, MAX_INBOX_ITEMS) });
          return null;
        case 'ceremony.status.get':
          this.#status(member, msg.ceremonyId, reply);
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
            const frame = errorFrame(e, ceremonyId);
            reply(frame);
            onLateError?.(frame);
          });
          return null;
        }
        default:
          throw refused('UNEXPECTED_MESSAGE', 'message type not accepted on this connection');
      }
    } catch (e) {
      const frame = errorFrame(e, ceremonyId);
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
}
