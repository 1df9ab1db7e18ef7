// Who is sent a ceremony's broadcasts (status pushes, `*` envelopes such as sign.complete), in
// which order: every member of the group (and the admin for key ceremonies), the requester of a
// signing ceremony first, since it is the one waiting for the outcome.
import { describe, expect, it } from 'vitest';
import { CeremonyRunner, type Live } from '../src/ceremonies.js';

const audienceOf = (live: Partial<Live>): string[] =>
  CeremonyRunner.prototype.audience.call(null as unknown as CeremonyRunner, live as Live);

const liveOf = (kind: 'sign' | 'key', members: string[], requester?: string): Partial<Live> => ({
  kind,
  request: requester === undefined ? null : ({ sender: requester } as Live['request']),
  actor: { getSnapshot: () => ({ context: { group: { members } } }) } as unknown as Live['actor'],
});

describe('CeremonyRunner.audience', () => {
  const members = ['alice', 'bob', 'carol', 'dave', 'erin'];

  it('puts the requester of a signing ceremony first, each member once', () => {
    expect(audienceOf(liveOf('sign', members, 'erin'))).toEqual([
      'erin',
      'alice',
      'bob',
      'carol',
      'dave',
    ]);
  });

  it('keeps the group order without a request, or for a requester outside the group (admin)', () => {
    expect(audienceOf(liveOf('sign', members))).toEqual(members);
    expect(audienceOf(liveOf('sign', members, 'admin'))).toEqual(members);
  });

  it('adds the admin to key ceremonies', () => {
    expect(audienceOf(liveOf('key', members))).toEqual([...members, 'admin']);
  });
});
