/**
 * Repairable Threshold Scheme (Laing & Stinson), as frost-rs's `keys::repairable`: t helpers
 * rebuild a lost share without anyone learning another's share. Step 1: helper i splits
 * λ_i(x_lost)·s_i into random deltas, one per helper. Step 2: each helper sums the deltas it
 * received into σ_j. Step 3: the participant who lost its share sums the σ_j.
 */
import { fail } from '../errors.js';
import {
  defaultRng,
  encodeScalar,
  identifierToScalar,
  lagrangeAt,
  parseScalar,
  randomScalar,
} from '../group.js';
import type { Suite } from '../suite.js';
import type { Identifier, KeyPackage, PublicKeyPackage, Rng } from '../types.js';
import { makeKeyPackage, shareScalar } from './common.js';

export function repairStep1(
  suite: Suite,
  helpers: readonly string[],
  helper: KeyPackage,
  lost: string,
  rng: Rng = defaultRng,
): Readonly<Record<Identifier, Uint8Array>> {
  if (helpers.length < helper.minSigners)
    fail(
      'INCORRECT_NUMBER_OF_PACKAGES',
      `repair needs at least ${helper.minSigners} helpers, got ${helpers.length}`,
    );
  const xs = helpers.map((h) => identifierToScalar(suite, h, h));
  if (new Set(xs).size !== xs.length) fail('DUPLICATE_IDENTIFIER', 'a helper is listed twice');
  const xLost = identifierToScalar(suite, lost);
  if (xs.includes(xLost))
    fail('INVALID_PARAMETER', 'the participant being repaired cannot be a helper');
  const myX = identifierToScalar(suite, helper.identifier);
  const total = suite.Fn.mul(lagrangeAt(suite, xs, myX, xLost), shareScalar(suite, helper));
  const F = suite.Fn;
  const out: Record<Identifier, Uint8Array> = {};
  let rest = total;
  helpers.forEach((h, k) => {
    const d = k === helpers.length - 1 ? rest : randomScalar(suite, rng);
    rest = F.sub(rest, d);
    out[h as Identifier] = encodeScalar(suite, d);
  });
  return Object.freeze(out);
}

export function repairStep2(suite: Suite, deltas: readonly Uint8Array[]): Uint8Array {
  let sum = suite.Fn.ZERO;
  for (const d of deltas) sum = suite.Fn.add(sum, parseScalar(suite, d, 'delta'));
  return encodeScalar(suite, sum);
}

/** Step 3: sum the σ_j and check the result against the lost participant's verifying share. */
export function repairStep3(
  suite: Suite,
  sigmas: readonly Uint8Array[],
  lost: string,
  pub: PublicKeyPackage,
): KeyPackage {
  let sum = suite.Fn.ZERO;
  for (const s of sigmas) sum = suite.Fn.add(sum, parseScalar(suite, s, 'sigma'));
  return makeKeyPackage(suite, lost as Identifier, sum, pub);
}
