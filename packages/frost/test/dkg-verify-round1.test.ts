/** keys.dkg.verifyRound1: one round-1 package checked on its own, as part2 checks each. */
import { describe, expect, it } from 'vitest';
import type { Frost } from '../src/index.js';
import { codeOf, seededRng, suites } from './helpers.js';

describe.each(suites.map((f) => [f.suite.name, f] as const))('%s', (_n, f: Frost) => {
  const rng = seededRng(31);
  const a = f.keys.dkg.part1(f.identifier.fromNumber(1), 3, 2, { rng }).package;
  const b = f.keys.dkg.part1(f.identifier.fromNumber(2), 3, 2, { rng }).package;

  it('accepts a genuine package', () => {
    expect(codeOf(() => f.keys.dkg.verifyRound1(a, 2))).toBeUndefined();
  });

  it('INVALID_PROOF_OF_KNOWLEDGE: a changed proof, or the proof moved to another identifier', () => {
    const pok = a.proofOfKnowledge.slice();
    // A middle byte of the response z: still a canonical scalar, no longer the proof.
    pok[pok.length - 16] = pok[pok.length - 16]! ^ 1;
    expect(codeOf(() => f.keys.dkg.verifyRound1({ ...a, proofOfKnowledge: pok }, 2))).toBe(
      'INVALID_PROOF_OF_KNOWLEDGE',
    );
    // b's proof is bound to b's identifier: under a's identifier it does not verify.
    expect(codeOf(() => f.keys.dkg.verifyRound1({ ...b, identifier: a.identifier }, 2))).toBe(
      'INVALID_PROOF_OF_KNOWLEDGE',
    );
  });

  it('INCORRECT_NUMBER_OF_COMMITMENTS: a commitment for another threshold', () => {
    expect(codeOf(() => f.keys.dkg.verifyRound1(a, 3))).toBe('INCORRECT_NUMBER_OF_COMMITMENTS');
  });

  it('WRONG_CIPHERSUITE: a package of another suite', () => {
    const other = suites.find((g) => g.suite.name !== f.suite.name)!;
    expect(codeOf(() => f.keys.dkg.verifyRound1({ ...a, suite: other.suite.name }, 2))).toBe(
      'WRONG_CIPHERSUITE',
    );
  });
});
