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

/**
 * Async only to yield between iterations: the members share this process, and a loop that blocks
 * for tens of seconds would miss the coordinator's heartbeat pings and lose their connections.
 */
export async function measureFloor(
  fx: FloorFixture,
  release: ReleaseInput,
  ctx: StatementContext,
  o: { readonly warmup: number; readonly iters: number },
): Promise<FloorResult> {
  const yieldNow = () => new Promise<void>((r) => setImmediate(r));
  const zero = (): Record<FloorPart, number> => ({
    statement: 0,
    commit: 0,
    package: 0,
    sign: 0,
    aggregate: 0,
    verify: 0,
  });
  for (let i = 0; i < o.warmup; i++) {
    floorOnce(fx, release, ctx, zero());
    await yieldNow();
  }
  const totals: number[] = [];
  const perPart: Record<FloorPart, number[]> = {
    statement: [],
    commit: [],
    package: [],
    sign: [],
    aggregate: [],
    verify: [],
  };
  const minimal: number[] = [];
  const message = messageToSign(release, ctx);
  for (let i = 0; i < o.iters; i++) {
    // Alternate the two so that load changes hit both alike.
    const parts = zero();
    const t0 = performance.now();
    floorOnce(fx, release, ctx, parts);
    totals.push(performance.now() - t0);
    for (const p of FLOOR_PARTS) perPart[p].push(parts[p]);
    const t1 = performance.now();
    minimalOnce(fx, message);
    minimal.push(performance.now() - t1);
    await yieldNow();
  }
  const med = (xs: number[]) => summarize(xs, 0).medianMs;
  return {
    t: fx.t,
    n: fx.n,
    floor: summarize(totals, o.warmup),
    partsMedianMs: {
      statement: med(perPart.statement),
      commit: med(perPart.commit),
      package: med(perPart.package),
      sign: med(perPart.sign),
      aggregate: med(perPart.aggregate),
      verify: med(perPart.verify),
    },
    minimal: summarize(minimal, o.warmup),
  };
}
