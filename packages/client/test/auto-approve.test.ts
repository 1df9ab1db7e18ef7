// `conclave agent --auto-approve [classes]`: a bare flag approves standard releases only; hotfix,
// policy and revocation ceremonies are a person's decision unless listed by name.
import { describe, expect, it } from 'vitest';
import { autoApproveClasses, autoApproveRefusal, parseAutoApprove } from '../src/agent.js';
import { isClientError } from '../src/errors.js';

describe('auto-approve classes', () => {
  it('a bare flag (or `autoApprove: true`) is standard only: no governance class', () => {
    expect(parseAutoApprove(true)).toEqual(['standard']);
    const on = autoApproveClasses(true);
    expect([...on]).toEqual(['standard']);
    for (const cls of ['hotfix', 'policy', 'revocation'] as const) expect(on.has(cls)).toBe(false);
  });

  it('off approves nothing', () => {
    expect(parseAutoApprove(undefined)).toEqual([]);
    expect(parseAutoApprove(false)).toEqual([]);
    expect(autoApproveClasses(false).size).toBe(0);
    expect(autoApproveClasses(undefined).size).toBe(0);
    expect(autoApproveClasses([]).size).toBe(0);
  });

  it('listed classes, and only those', () => {
    expect(parseAutoApprove('standard,hotfix')).toEqual(['standard', 'hotfix']);
    expect(parseAutoApprove(' hotfix , hotfix ')).toEqual(['hotfix']);
    const set = autoApproveClasses(parseAutoApprove('policy'));
    expect(set.has('policy')).toBe(true);
    expect(set.has('standard')).toBe(false);
  });

  it('refuses a name that is not a release class (INVALID_ARGUMENT)', () => {
    for (const bad of ['all', 'standard,everything', '<script>', ',']) {
      let err: unknown;
      try {
        parseAutoApprove(bad);
      } catch (e) {
        err = e;
      }
      expect(isClientError(err, 'INVALID_ARGUMENT'), bad).toBe(true);
    }
  });
});

describe('autoApproveRefusal: standard requests that are governance in all but class', () => {
  it('a key rotation’s statement and a hotfix ratification need a person; an ordinary release does not', () => {
    expect(autoApproveRefusal({ version: 'rotation-2' })).toMatch(/key rotation/);
    expect(autoApproveRefusal({ version: 'rotation-release-next' })).toMatch(/key rotation/);
    expect(autoApproveRefusal({ version: '2.4.2', ratifies: 'c_hotfix000000001' })).toMatch(
      /ratification of hotfix c_hotfix000000001/,
    );
    expect(autoApproveRefusal({ version: '2.4.2' })).toBeUndefined();
    expect(autoApproveRefusal({ version: '2.4.2-rotation-fix' })).toBeUndefined();
  });
});
