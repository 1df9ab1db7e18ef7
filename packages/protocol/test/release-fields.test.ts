// The optional release fields of a signing request: what each schema accepts and refuses.
import { describe, expect, it } from 'vitest';
import { GitTagSchema, ManifestRefSchema, ReleaseSchema } from '../src/index.js';

const tag = {
  object: 'a'.repeat(40),
  type: 'commit',
  tag: 'v1.2.3',
  tagger: { name: 'Carol', email: 'carol@example.com', time: 1_700_000_000, tz: '+0000' },
  message: 'Release v1.2.3\n\nWith notes.\n',
} as const;

const release = {
  version: '1.2.3',
  class: 'standard',
  note: '',
  artifacts: [
    { name: 'a.tgz', sha256: '1'.repeat(64), sha512: '2'.repeat(128), blake2b512: '3'.repeat(128) },
  ],
  formats: ['git', 'dsse'],
} as const;

describe('release request fields', () => {
  it('accepts a multi-line tag message and a batch manifest reference', () => {
    expect(GitTagSchema.safeParse(tag).success).toBe(true);
    expect(
      ReleaseSchema.safeParse({
        ...release,
        git: tag,
        manifest: { root: '4'.repeat(64), size: 5, leafFormat: 'conclave-manifest-v1' },
      }).success,
    ).toBe(true);
  });

  it.each([
    ['a tab in the message', { ...tag, message: 'a\tb' }],
    ['a NUL in the message', { ...tag, message: 'a\u0000b' }],
    ['an abbreviated object id', { ...tag, object: 'abc123' }],
    ['a tagger name with <', { ...tag, tagger: { ...tag.tagger, name: 'Eve <x>' } }],
    ['a tagger email with a space', { ...tag, tagger: { ...tag.tagger, email: 'a b@c' } }],
    ['a time zone without sign', { ...tag, tagger: { ...tag.tagger, tz: '0000' } }],
    ['a tag name starting with -', { ...tag, tag: '-v1' }],
  ])('refuses %s', (_what, value) => {
    expect(GitTagSchema.safeParse(value).success).toBe(false);
  });

  it('refuses a manifest reference of another leaf format or size 0, and an artifact without BLAKE2b', () => {
    expect(
      ManifestRefSchema.safeParse({ root: '4'.repeat(64), size: 5, leafFormat: 'other' }).success,
    ).toBe(false);
    expect(
      ManifestRefSchema.safeParse({
        root: '4'.repeat(64),
        size: 0,
        leafFormat: 'conclave-manifest-v1',
      }).success,
    ).toBe(false);
    const { blake2b512: _b, ...noBlake } = release.artifacts[0];
    expect(ReleaseSchema.safeParse({ ...release, artifacts: [noBlake] }).success).toBe(false);
  });
});
