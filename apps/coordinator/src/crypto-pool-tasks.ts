// The curve arithmetic of a signing ceremony, as plain functions over hex strings: what the crypto
// pool's workers run (crypto-pool-worker.ts), and what the coordinator runs inline when the pool
// has no workers. Inputs and results are structured-clone friendly (strings, arrays, plain objects)
// and carry public data only: commitments, signing packages, signature shares, signatures.
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519 as noble } from '@noble/curves/ed25519.js';
import {
  ed25519 as frost,
  ed25519Spki,
  isFrostError,
  type SignatureShare,
  type SigningPackage,
} from '@conclave/frost';
import { bytesToHex, hexToBytes } from '@conclave/protocol';
import {
  decodePublicKeyPackage,
  decodeSigningCommitments,
  decodeSigningPackage,
} from './decoded.js';
import { frostRefusal, identifierOf } from './runtime.js';

/** Round-1 commitments of `member`: decoded and validated (RFC 9591 §3.1 DeserializeElement). */
export interface CommitmentsTask {
  readonly kind: 'commitments';
  readonly member: string;
  readonly commitments: readonly string[];
}

/** Decoded commitment fields, so the caller can rebuild the object without re-validating. */
export interface CheckedCommitment {
  readonly hex: string;
  readonly identifier: string;
  readonly hiding: string;
  readonly binding: string;
}

export type CommitmentsResult =
  | { readonly ok: true; readonly commitments: readonly CheckedCommitment[] }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * What a signing package was built from (its commitments' canonical encodings and the message,
 * hex): lets a worker rebuild it from commitments it already validated instead of validating every
 * element of the package again. Used only if the rebuilt package encodes to the same bytes.
 */
export interface PackageHint {
  readonly commitments: readonly string[];
  readonly message: string;
}

/** One signer's shares, one per job, each checked against its signing package (RFC 9591 §5.4). */
export interface VerifySharesTask {
  readonly kind: 'verifyShares';
  readonly member: string;
  readonly publicKeyPackage: string;
  readonly signingPackages: readonly string[];
  readonly hints?: readonly (PackageHint | null)[];
  readonly shares: readonly string[];
}

/** A session's shares aggregated job by job (RFC 9591 §5.3), each signature verified twice. */
export interface AggregateTask {
  readonly kind: 'aggregate';
  readonly publicKeyPackage: string;
  readonly jobs: readonly {
    readonly job: string;
    readonly signingPackage: string;
    readonly hint?: PackageHint | null;
  }[];
  readonly shares: readonly { readonly member: string; readonly shares: readonly string[] }[];
}

export interface AggregateResult {
  readonly ok: boolean;
  /** Job id → hex signature (all jobs when `ok`). */
  readonly signatures: Readonly<Record<string, string>>;
  /** Members named by cheater detection. */
  readonly culprits: readonly string[];
}

/**
 * A new session's share checks, precomputed while its signers compute their shares (RFC 9591
 * §5.4's right-hand side per signer, frost.prepareShareChecks): each share that then arrives costs
 * one fixed-base multiplication. Kept in the worker's package cache; run with the ceremony's
 * affinity so its shares are checked by the same worker. A miss only costs the full check.
 */
export interface PrepareSharesTask {
  readonly kind: 'prepareShares';
  readonly publicKeyPackage: string;
  readonly signingPackages: readonly string[];
  readonly hints?: readonly (PackageHint | null)[];
}

export type CryptoTask = CommitmentsTask | VerifySharesTask | AggregateTask | PrepareSharesTask;

export type CryptoResultOf<T extends CryptoTask> = T extends CommitmentsTask
  ? CommitmentsResult
  : T extends VerifySharesTask | PrepareSharesTask
    ? boolean
    : AggregateResult;

export function checkCommitments(task: CommitmentsTask): CommitmentsResult {
  const out: CheckedCommitment[] = [];
  for (const hex of task.commitments) {
    try {
      const c = decodeSigningCommitments(hex);
      out.push({
        hex,
        identifier: c.identifier,
        hiding: bytesToHex(c.hiding),
        binding: bytesToHex(c.binding),
      });
    } catch (e) {
      const refusal = frostRefusal(e, 'commitment');
      return { ok: false, code: refusal.code, message: refusal.message };
    }
  }
  return { ok: true, commitments: out };
}

/** The signing package `hex` encodes: cached, rebuilt from validated commitments, or decoded. */
function packageOf(hex: string, hint: PackageHint | null | undefined): SigningPackage {
  const hit = decodeSigningPackage.peek(hex);
  if (hit !== undefined) return hit;
  if (hint !== undefined && hint !== null) {
    try {
      const pkg = frost.signingPackage(
        hint.commitments.map((c) => decodeSigningCommitments(c)),
        hexToBytes(hint.message),
      );
      if (bytesToHex(frost.encode.bytes('SigningPackage', pkg)) === hex) {
        decodeSigningPackage.remember(hex, pkg);
        return pkg;
      }
    } catch {
      // fall through: decode (and validate) the package itself
    }
  }
  return decodeSigningPackage(hex);
}

/** Hints by package object: every share of a session and its aggregation ask for the same one. */
const hints = new WeakMap<SigningPackage, PackageHint>();

/** The hint for a package this process built (its cache holds the object), else null. */
export function hintFor(hex: string): PackageHint | null {
  const pkg = decodeSigningPackage.peek(hex);
  if (pkg === undefined) return null;
  let hint = hints.get(pkg);
  if (hint === undefined) {
    hint = Object.freeze({
      commitments: Object.freeze(
        pkg.commitments.map((c) => bytesToHex(frost.encode.bytes('SigningCommitments', c))),
      ),
      message: bytesToHex(pkg.message),
    });
    hints.set(pkg, hint);
  }
  return hint;
}

function shareOf(member: string, shareHex: string): SignatureShare {
  return {
    suite: frost.suite.name,
    identifier: identifierOf(member),
    share: hexToBytes(shareHex, 32),
  };
}

export function verifyShares(task: VerifySharesTask): boolean {
  if (task.shares.length !== task.signingPackages.length) return false;
  try {
    const pub = decodePublicKeyPackage(task.publicKeyPackage);
    task.signingPackages.forEach((pkgHex, i) => {
      const pkg = packageOf(pkgHex, task.hints?.[i]);
      frost.verifySignatureShare(shareOf(task.member, task.shares[i] ?? ''), pkg, pub);
    });
    return true;
  } catch {
    // INVALID_SCALAR (non-canonical, A.10) and INVALID_SIGNATURE_SHARE (A.9) alike: the sender
    // is blamed by the machine (valid: false).
    return false;
  }
}

export function prepareShares(task: PrepareSharesTask): boolean {
  try {
    const pub = decodePublicKeyPackage(task.publicKeyPackage);
    task.signingPackages.forEach((pkgHex, i) => {
      frost.prepareShareChecks(packageOf(pkgHex, task.hints?.[i]), pub);
    });
    return true;
  } catch {
    // Nothing is decided here: a package that does not decode is refused by the share checks.
    return false;
  }
}

/**
 * THREATS A.23: an aggregate is published only if two independent verifiers accept it, Node's
 * (OpenSSL) and noble's strict RFC 8032 mode (`zip215: false`: canonical encodings only). Not
 * `frost.verify`, which for Ed25519 is OpenSSL again.
 */
export function verifyFinal(
  message: Uint8Array,
  signature: Uint8Array,
  verifyingKey: Uint8Array,
  nodeKey: KeyObject,
): boolean {
  if (!nodeVerify(null, message, nodeKey, signature)) return false;
  try {
    return noble.verify(signature, message, verifyingKey, { zip215: false });
  } catch {
    return false;
  }
}

export function aggregateShares(task: AggregateTask): AggregateResult {
  const pub = decodePublicKeyPackage(task.publicKeyPackage);
  const byIdentifier = new Map(
    task.shares.map((s) => [identifierOf(s.member) as string, s.member]),
  );
  const key = createPublicKey({
    key: Buffer.from(ed25519Spki(pub.verifyingKey)),
    format: 'der',
    type: 'spki',
  });
  const signatures: Record<string, string> = {};
  const culprits = new Set<string>();
  let ok = true;
  task.jobs.forEach((job, i) => {
    const pkg = packageOf(job.signingPackage, job.hint);
    const shares = task.shares.map((x) => shareOf(x.member, x.shares[i] ?? ''));
    try {
      const signature = frost.aggregate(pkg, shares, pub).bytes;
      const valid = verifyFinal(pkg.message, signature, pub.verifyingKey, key);
      if (valid) signatures[job.job] = bytesToHex(signature);
      else ok = false;
    } catch (e) {
      ok = false;
      if (isFrostError(e)) {
        for (const id of e.culprits) {
          const m = byIdentifier.get(id);
          if (m !== undefined) culprits.add(m);
        }
      }
    }
  });
  return { ok, signatures, culprits: [...culprits] };
}

export function runCryptoTask<T extends CryptoTask>(task: T): CryptoResultOf<T> {
  switch (task.kind) {
    case 'commitments':
      return checkCommitments(task) as CryptoResultOf<T>;
    case 'verifyShares':
      return verifyShares(task) as CryptoResultOf<T>;
    case 'aggregate':
      return aggregateShares(task) as CryptoResultOf<T>;
    case 'prepareShares':
      return prepareShares(task) as CryptoResultOf<T>;
  }
  throw new Error('unknown crypto task');
}
