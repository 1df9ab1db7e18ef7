// Governance fields of the release statement (docs/policy.md): each is optional, copied into the
// predicate field by field, and a release without them signs exactly the bytes it signed before.
import { describe, expect, it } from 'vitest';
import { buildStatement, canonicalJson, policyDigest, statementBytes } from '../src/index.js';
import type { ReleaseInput, StatementContext } from '../src/index.js';

const ctx: StatementContext = {
  ceremonyId: 'c1',
  group: 'release',
  groupPublicKey: '11'.repeat(32),
  requester: 'alice',
  approvers: [],
  policyId: 'release@v2',
  issuedAt: Date.UTC(2026, 10, 25, 12),
};
const base: ReleaseInput = {
  version: '1.2.3',
  class: 'standard',
  note: '',
  artifacts: [{ name: 'a.tgz', sha256: 'aa'.repeat(32), sha512: 'bb'.repeat(64) }],
  formats: ['dsse'],
};

describe('statement governance fields', () => {
  it('adds nothing when absent (undefined fields included)', () => {
    const plain = statementBytes(buildStatement(base, ctx));
    const withUndefined = statementBytes(
      buildStatement(
        {
          ...base,
          incident: undefined,
          ratifies: undefined,
          validUntil: undefined,
          policy: undefined,
        },
        ctx,
      ),
    );
    expect(withUndefined).toEqual(plain);
    expect(new TextDecoder().decode(plain)).not.toMatch(/incident|ratifies|validUntil|revokes/);
  });

  it('hotfix: the class and the incident are inside what is signed', () => {
    const s = buildStatement({ ...base, class: 'hotfix', incident: 'INC-42' }, ctx);
    expect(s.predicate).toMatchObject({
      class: 'hotfix',
      incident: 'INC-42',
      policyId: 'release@v2',
    });
  });

  it('ratification names the hotfix ceremony', () => {
    const s = buildStatement({ ...base, ratifies: 'c_hotfix' }, ctx);
    expect(s.predicate.ratifies).toBe('c_hotfix');
  });

  it('policy: binds the document by the SHA-256 of its canonical JSON, nothing else of it', () => {
    const document = {
      schema: 'conclave-policy/v1',
      group: 'release',
      version: 3,
      classes: { standard: { quorum: 3 } },
    };
    const s = buildStatement({ ...base, class: 'policy', policy: document }, ctx);
    expect(s.predicate.policy).toEqual({
      group: 'release',
      version: 3,
      sha256: policyDigest(document),
    });
    expect(policyDigest({ ...document })).toBe(policyDigest(JSON.parse(canonicalJson(document))));
    expect(policyDigest({ ...document, version: 4 })).not.toBe(policyDigest(document));
  });

  it('revocation: the revoked release with every artifact digest and the reason', () => {
    const s = buildStatement(
      {
        ...base,
        class: 'revocation',
        revokes: {
          ceremonyId: 'c_old',
          statementDigest: 'cc'.repeat(32),
          version: '1.2.2',
          artifacts: [{ name: 'a.tgz', sha256: 'dd'.repeat(32), sha512: 'ee'.repeat(64) }],
          reason: 'compromised',
        },
      },
      ctx,
    );
    expect(s.predicate.revokes).toEqual({
      ceremonyId: 'c_old',
      statementDigest: 'cc'.repeat(32),
      version: '1.2.2',
      subject: [{ name: 'a.tgz', digest: { sha256: 'dd'.repeat(32), sha512: 'ee'.repeat(64) } }],
      reason: 'compromised',
    });
  });
});
