/**
 * The crypto-only floor of one signing ceremony, in process, no network, no storage: what the
 * ceremony cannot avoid computing. Per ceremony, with @conclave/frost ed25519 and the statement
 * bytes from @conclave/release `messageToSign`:
 *   coordinator  messageToSign (1×), decode t commitments, signingPackage, encode it
 *   each signer  round1.commit + encode (t×); messageToSign again, decode the package bytes
 *                (every signer is another machine: it must validate what it receives), round2.sign,
 *                encode the share (t×)
 *   coordinator  decode t shares, aggregate, final verify
 * `floorMs` (the goal's denominator) is that whole sequence. `minimalMs` is the textbook lower
 * bound t×commit + t×sign + aggregate + verify with all objects shared in one process (no
 * encode/decode, so no signer re-validates the package): shown for reference only.
 */
import { performance } from 'node:perf_hooks';
import {
  ed25519 as f,
  type KeyPackage,
  type PublicKeyPackage,
  type SignatureShare,
} from '@conclave/frost';
import { messageToSign, type ReleaseInput, type StatementContext } from '@conclave/release';
import { summarize, type Stats } from '../lib/harness.js';

export const FLOOR_PARTS = [
  'statement',
  'commit',
  'package',
  'sign',
  'aggregate',
  'verify',
] as const;
export type FloorPart = (typeof FLOOR_PARTS)[number];

export interface FloorResult {
  readonly t: number;
  readonly n: number;
  /** Whole sequence (see the file comment), ms. */
  readonly floor: Stats;
  /** Median per part, ms (summed over the t signers where a part is per signer). */
  readonly partsMedianMs: Readonly<Record<FloorPart, number>>;
  /** t×commit + t×sign + aggregate + verify on shared objects. */
  readonly minimal: Stats;
}

export interface FloorFixture {
  readonly t: number;
  readonly n: number;
  readonly signers: readonly KeyPackage[];
  readonly pub: PublicKeyPackage;
}

export function floorFixture(t: number, n: number): FloorFixture {
  const dealt = f.keys.dealer({ minSigners: t, maxSigners: n });
  const signers = Object.values(dealt.shares)
    .slice(0, t)
    .map((s) => f.keys.keyPackage(s));
  return { t, n, signers, pub: dealt.publicKeyPackage };
}

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`ceremony floor self-check failed: ${what}`);
}

/** One ceremony's crypto; adds each part's time to `parts`. */
export function floorOnce(
  fx: FloorFixture,
  release: ReleaseInput,
  ctx: StatementContext,
  parts: Record<FloorPart, number>,
): void {
  let t0 = performance.now();
  const mark = (p: FloorPart) => {
    const t1 = performance.now();
    parts[p] += t1 - t0;
    t0 = t1;
  };
  const message = messageToSign(release, ctx);
  mark('statement');
  const rounds = fx.signers.map((kp) => {
    const r = f.round1.commit(kp);
    return { kp, nonces: r.nonces, bytes: f.encode.bytes('SigningCommitments', r.commitments) };
  });
  mark('commit');
  const pkg = f.signingPackage(
    rounds.map((r) => f.decode.bytes('SigningCommitments', r.bytes)),
    message,
  );
  const pkgBytes = f.encode.bytes('SigningPackage', pkg);
  mark('package');
  const shareBytes: Uint8Array[] = [];
  for (const r of rounds) {
    t0 = performance.now();
    const mine = messageToSign(release, ctx);
    mark('statement');
    const received = f.decode.bytes('SigningPackage', pkgBytes);
    check(received.message.length === mine.length, 'signer rebuilt the same statement');
    shareBytes.push(f.encode.bytes('SignatureShare', f.round2.sign(received, r.nonces, r.kp)));
    mark('sign');
  }
  const shares: SignatureShare[] = shareBytes.map((b) => f.decode.bytes('SignatureShare', b));
  const sig = f.aggregate(pkg, shares, fx.pub);
  mark('aggregate');
  check(f.verify(message, sig, fx.pub.verifyingKey), 'aggregate signature verifies');
  mark('verify');
}

function minimalOnce(fx: FloorFixture, message: Uint8Array): void {
  const rounds = fx.signers.map((kp) => ({ kp, ...f.round1.commit(kp) }));
  const pkg = f.signingPackage(
    rounds.map((r) => r.commitments),
    message,
  );
  const shares = rounds.map((r) => f.round2.sign(pkg, r.nonces, r.kp));
  const sig = f.aggregate(pkg, shares, fx.pub);
  check(f.verify(message, sig, fx.pub.verifyingKey), 'minimal: signature verifies');
}

const zeroParts = (): Record<FloorPart, number> => ({
  statement: 0,
  commit: 0,
  package: 0,
  sign: 0,
  aggregate: 0,
  verify: 0,
});

/**
 * Floor samples taken one at a time, so the caller can spread them over the run they are the
 * denominator of: this VM's speed drifts by up to 2× from one minute to the next, and a floor
 * measured in a fast minute against ceremonies in a slow one (or the reverse) misstates the ratio.
 * Each sample is one floor sequence and one minimal sequence, back to back. Synchronous: the
 * caller yields between samples (the members share this process and must answer heartbeats).
 */
export class FloorSampler {
  readonly #totals: number[] = [];
  readonly #parts: Record<FloorPart, number[]> = {
    statement: [],
    commit: [],
    package: [],
    sign: [],
    aggregate: [],
    verify: [],
  };
  readonly #minimal: number[] = [];
  readonly #message: Uint8Array;
  #warmed = 0;

  constructor(
    readonly fx: FloorFixture,
    readonly release: ReleaseInput,
    readonly ctx: StatementContext,
  ) {
    this.#message = messageToSign(release, ctx);
  }

  /** Runs the sequences without recording them (JIT warm-up). */
  warm(): void {
    floorOnce(this.fx, this.release, this.ctx, zeroParts());
    minimalOnce(this.fx, this.#message);
    this.#warmed++;
  }

  /** Records one floor and one minimal sequence. */
  sample(): void {
    const parts = zeroParts();
    const t0 = performance.now();
    floorOnce(this.fx, this.release, this.ctx, parts);
    this.#totals.push(performance.now() - t0);
    for (const p of FLOOR_PARTS) this.#parts[p].push(parts[p]);
    const t1 = performance.now();
    minimalOnce(this.fx, this.#message);
    this.#minimal.push(performance.now() - t1);
  }

  get count(): number {
    return this.#totals.length;
  }

  result(): FloorResult {
    const med = (xs: number[]) => summarize(xs, 0).medianMs;
    return {
      t: this.fx.t,
      n: this.fx.n,
      floor: summarize(this.#totals, this.#warmed),
      partsMedianMs: {
        statement: med(this.#parts.statement),
        commit: med(this.#parts.commit),
        package: med(this.#parts.package),
        sign: med(this.#parts.sign),
        aggregate: med(this.#parts.aggregate),
        verify: med(this.#parts.verify),
      },
      minimal: summarize(this.#minimal, this.#warmed),
    };
  }
}
