// protocol and release sit side by side on the import ladder (DESIGN.md), so each keeps its own
// copy of the lists both speak of. audit imports both: here the copies must agree, so a format or
// class added to one and not the other fails CI instead of a ceremony.
import * as protocol from '@conclave/protocol';
import * as release from '@conclave/release';
import { describe, expect, expectTypeOf, it } from 'vitest';

describe('lists shared by @conclave/protocol and @conclave/release', () => {
  it('have the same signature formats, in the same order', () => {
    expect([...release.SIGNATURE_FORMATS]).toEqual([...protocol.SIGNATURE_FORMATS]);
  });

  it('have the same release classes', () => {
    expectTypeOf<release.ReleaseClass>().toEqualTypeOf<protocol.ReleaseClass>();
    const classes: readonly release.ReleaseClass[] = protocol.RELEASE_CLASSES;
    expect(classes).toEqual(['standard', 'hotfix', 'policy', 'revocation']);
  });
});
