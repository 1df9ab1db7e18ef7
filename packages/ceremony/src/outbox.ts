// Effects are recorded, not performed: the runner persists the snapshot first, then performs every
// effect with a sequence number above the last one it flushed, then sends `outbox.flushed` (D.47).
import type { CheckResult } from './check.js';
import { accept, refuse } from './check.js';

export interface Sequenced {
  readonly seq: number;
}

export interface OutboxState<E extends Sequenced> {
  readonly outbox: readonly E[];
  readonly nextSeq: number;
}

type Unsequenced<E> = E extends Sequenced ? Omit<E, 'seq'> : never;

/** Appends effects, numbering them from `nextSeq`. */
export function emit<E extends Sequenced, C extends OutboxState<E>>(
  context: C,
  ...effects: Unsequenced<E>[]
): Pick<C, 'outbox' | 'nextSeq'> {
  const numbered = effects.map((e, i) => ({ ...e, seq: context.nextSeq + i }) as unknown as E);
  return {
    outbox: [...context.outbox, ...numbered],
    nextSeq: context.nextSeq + effects.length,
  } as Pick<C, 'outbox' | 'nextSeq'>;
}

/** Drops every effect with `seq <= upTo`. */
export function drain<E extends Sequenced>(outbox: readonly E[], upTo: number): E[] {
  return outbox.filter((e) => e.seq > upTo);
}

export function checkFlush(state: OutboxState<Sequenced>, upTo: number): CheckResult {
  if (upTo >= state.nextSeq) {
    return refuse(
      'UNEXPECTED_MESSAGE',
      `outbox.flushed upTo ${upTo} but the last effect is ${state.nextSeq - 1}`,
    );
  }
  const first = state.outbox[0];
  if (first === undefined || upTo < first.seq) {
    return refuse('DUPLICATE', `nothing left to flush up to ${upTo}`);
  }
  return accept;
}
