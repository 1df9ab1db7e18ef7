/**
 * Trusted-dealer key generation (RFC 9591 Appendix C). For tests and explicit offline bootstrap
 * only: the dealer holds the whole secret. Production keys come from the DKG.
 */
import { fail } from '../errors.js';
import {
  defaultRng,
  encodeElement,
  encodeScalar,
  identifierToScalar,
  parseScalar,
  polyEval,
  randomScalar,
} from '../group.js';
import type { Pt, Suite } from '../suite.js';
import type { Identifier, KeyPackage, PublicKeyPackage, Rng, SecretShare } from '../types.js';
import {
  checkSigners,
  parseCommitment,
  publicKeyPackageFromCommitment,
  resolveIdentifiers,
} from './common.js';
import { vssEval } from '../group.js';

export interface DealerOptions {
  readonly minSigners: number;
  readonly maxSigners: number;
  readonly identifiers?: readonly string[];
  /** The group secret (for vectors); random otherwise. */
  readonly secret?: Uint8Array;
  /** Coefficients a_1..a_{t-1} (for vectors); random otherwise. */
  readonly coefficients?: readonly Uint8Array[];
  readonly rng?: Rng;
}

export interface DealerOutput {
  readonly shares: Readonly<Record<Identifier, SecretShare>>;
  readonly publicKeyPackage: PublicKeyPackage;
}

/** RFC 9591 Appendix C.1 trusted_dealer_keygen with C.2's VSS commitment. */
export function dealer(suite: Suite, o: DealerOptions): DealerOutput {
  checkSigners(o.minSigners, o.maxSigners);
  const rng = o.rng ?? defaultRng;
  const ids = resolveIdentifiers(suite, o.maxSigners, o.identifiers);
  const secret = o.secret
    ? parseScalar(suite, o.secret, 'secret', undefined, true)
    : randomScalar(suite, rng);
  let rest: bigint[];
  if (o.coefficients) {
    if (o.coefficients.length !== o.minSigners - 1)
      fail(
        'INVALID_PARAMETER',
        `expected ${o.minSigners - 1} coefficients, got ${o.coefficients.length}`,
      );
    rest = o.coefficients.map((c, k) => parseScalar(suite, c, `coefficient[${k + 1}]`));
  } else {
    rest = Array.from({ length: o.minSigners - 1 }, () => randomScalar(suite, rng));
  }
  const coeffs = [secret, ...rest];
  const commitment = coeffs.map((a) => suite.Point.BASE.multiply(a));
  const commitmentBytes = Object.freeze(commitment.map(encodeElement));
  const shares: Record<Identifier, SecretShare> = {};
  for (const id of ids) {
    shares[id] = Object.freeze({
      suite: suite.name,
      identifier: id,
      signingShare: encodeScalar(suite, polyEval(suite, coeffs, identifierToScalar(suite, id))),
      commitment: commitmentBytes,
    });
  }
  coeffs.fill(0n);
  return Object.freeze({
    shares: Object.freeze(shares),
    publicKeyPackage: publicKeyPackageFromCommitment(suite, commitment, ids, o.minSigners),
  });
}

/**
 * frost-rs KeyPackage::try_from(SecretShare): RFC 9591 Appendix C.2 vss_verify, then the key
 * package. The caller must also compare the commitment (or its hash) with the other participants
 * out of band (THREATS B.29).
 */
export function keyPackageFromSecretShare(suite: Suite, share: SecretShare): KeyPackage {
  if (share.suite !== suite.name) fail('WRONG_CIPHERSUITE', `secret share is for ${share.suite}`);
  const commitment = parseCommitment(suite, share.commitment);
  if (commitment.length < 2)
    fail('INCORRECT_NUMBER_OF_COMMITMENTS', 'VSS commitment needs at least 2 elements');
  const x = identifierToScalar(suite, share.identifier);
  const s = parseScalar(suite, share.signingShare, 'signing share');
  // vss_verify: the share's public image is this participant's verifying share, computed once.
  const verifyingShare = vssEval(suite, commitment, x);
  if (!suite.Point.BASE.multiply(s).equals(verifyingShare))
    fail('INVALID_SECRET_SHARE', 'secret share does not match the VSS commitment', [
      share.identifier,
    ]);
  return Object.freeze({
    suite: suite.name,
    identifier: share.identifier,
    signingShare: encodeScalar(suite, s),
    verifyingShare: encodeElement(verifyingShare),
    verifyingKey: encodeElement(commitment[0] as Pt),
    minSigners: commitment.length,
  });
}
