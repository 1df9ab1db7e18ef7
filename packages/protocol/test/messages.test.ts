import { describe, expect, it } from 'vitest';
import {
  MESSAGE_RULES,
  MESSAGE_TYPES,
  MessageSchema,
  SEALED_TYPES,
  openEnvelope,
  parseMessage,
  validateMessage,
  type SealedBody,
} from '../src/index.js';
import { bareExamples, frame, lookup, sealAs, sealedExamples } from './fixtures.js';

describe('message catalogue', () => {
  it('has an example for every message type and no others', () => {
    const examples = [...Object.keys(bareExamples), ...Object.keys(sealedExamples)].sort();
    expect(examples).toEqual([...MESSAGE_TYPES].sort());
  });

  it('names every type in dot-case and lists each once', () => {
    expect(new Set(MESSAGE_TYPES).size).toBe(MESSAGE_TYPES.length);
    for (const type of MESSAGE_TYPES) expect(type).toMatch(/^[a-z0-9]+(\.[a-z0-9]+)*$/);
  });

  it('marks exactly the envelope bodies as sealed', () => {
    const sealed = MESSAGE_TYPES.filter((t) => MESSAGE_RULES[t].sealed).sort();
    expect(sealed).toEqual([...SEALED_TYPES].sort());
  });
});

describe('round trips', () => {
  it.each(Object.values(bareExamples).map((m) => [m.type, m] as const))(
    'bare %s survives serialize → parseMessage',
    (_type, message) => {
      const parsed = parseMessage(frame(message));
      expect(parsed).toEqual({ ok: true, msg: message });
      expect(MessageSchema.parse(message)).toEqual(message);
    },
  );

  it.each(Object.values(sealedExamples).map((m) => [m.type, m as SealedBody] as const))(
    'sealed %s survives seal → serialize → parseMessage → openEnvelope',
    (_type, body) => {
      const envelope = sealAs(body, 7);
      const parsed = parseMessage(Buffer.from(frame(envelope)));
      expect(parsed.ok).toBe(true);
      if (!parsed.ok || parsed.msg.type !== 'envelope') throw new Error('expected an envelope');
      const opened = openEnvelope(parsed.msg, lookup);
      expect(opened.ok).toBe(true);
      if (!opened.ok) return;
      expect(opened.value.body).toEqual(body);
      expect(opened.value.seq).toBe(7);
      expect(validateMessage(body)).toEqual({ ok: true, msg: body });
    },
  );
});
