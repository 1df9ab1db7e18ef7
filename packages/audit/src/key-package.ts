// Is a group's public key package internally consistent? A bundle carries it unsigned (the
// coordinator's word), and share verification (RFC 9591 §5.4) trusts each member's verifying share
// in it: a coordinator that swapped one could frame an honest member as a culprit. The n verifying
// shares Y_i = f(x_i)·G of an honest package lie on one polynomial f of degree t−1 whose value at 0
// is the group key (RFC 9591 Appendix C: every share is an evaluation of the same secret
// polynomial), so with n + 1 points and t unknowns any single swapped share is caught.
import { ed25519 as frost, lagrangeAt, type PublicKeyPackage } from '@conclave/frost';
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { hexToBytes } from '@noble/curves/utils.js';

type Point = ReturnType<typeof frost.suite.Point.fromBytes>;

/** Why a public key package is inconsistent, in words an auditor can act on; undefined if it is not. */
export function keyPackageInconsistency(
  pub: PublicKeyPackage,
  threshold: number,
): string | undefined {
  const suite = frost.suite;
  if (pub.suite !== suite.name) return `the public key package is for ${pub.suite}, not ed25519`;
  if (pub.minSigners !== threshold) {
    return `the public key package says threshold ${pub.minSigners}, the group's key state ${threshold}`;
  }
  const shares: { x: bigint; y: Point }[] = [];
  let groupKey: Point;
  try {
    for (const [id, bytes] of Object.entries(pub.verifyingShares)) {
      shares.push({
        x: suite.scalarFromBytes(hexToBytes(frost.identifier.parse(id))),
        y: suite.Point.fromBytes(bytes),
      });
    }
    groupKey = suite.Point.fromBytes(pub.verifyingKey);
  } catch {
    return 'the public key package has an identifier or point that does not decode';
  }
  if (shares.length < threshold) {
    return `the public key package has ${shares.length} verifying shares, fewer than the threshold ${threshold}`;
  }
  // RFC 9591 §4.2: the group key is Σ λ_i·Y_i over any t shares (λ_i = derive_interpolating_value
  // at 0). Check it for a base set B of t shares; then for each other share k, for B − {b₀} + {k}.
  // Each passing check fixes one more point of the same degree-(t−1) polynomial — it agrees with
  // the base one at 0 and at the t−1 shared points — so all n shares lie on it (n − t + 1 checks).
  const interpolatesToGroupKey = (set: readonly { x: bigint; y: Point }[]): boolean => {
    const xs = set.map((s) => s.x);
    const lambdas = set.map((s) => lagrangeAt(suite, xs, s.x));
    const at0 = mulAddUnsafe(
      suite.Point as never,
      set.map((s) => s.y) as never,
      lambdas,
    ) as unknown as Point;
    return at0.equals(groupKey);
  };
  const base = shares.slice(0, threshold);
  const rest = base.slice(1);
  const consistent =
    interpolatesToGroupKey(base) &&
    shares.slice(threshold).every((k) => interpolatesToGroupKey([...rest, k]));
  return consistent
    ? undefined
    : `its ${shares.length} verifying shares do not lie on one polynomial of degree ${threshold - 1} through the group key: the package was altered after the key ceremony, so share checks against it would blame honest members`;
}
