// `group create`, `group reshare` and `group rotate` share one threshold rule (checkThreshold).
import { describe, expect, it } from 'vitest';
import { checkThreshold } from '../src/commands.js';

const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('checkThreshold', () => {
  it.each([
    [1, 3],
    [0, 3],
    [4, 3],
    [2.5, 3],
    [Number.NaN, 3],
  ])('refuses a threshold of %s for %s members with INVALID_ARGUMENT', (t, n) => {
    expect(codeOf(() => checkThreshold(t, n))).toBe('INVALID_ARGUMENT');
  });

  it('says which range is allowed', () => {
    expect(() => checkThreshold(6, 5)).toThrow(/between 2 and the number of members \(5\)/);
  });

  it.each([
    [2, 2],
    [2, 3],
    [5, 5],
  ])('accepts %s of %s', (t, n) => {
    expect(() => checkThreshold(t, n)).not.toThrow();
  });
});
