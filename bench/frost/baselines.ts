/**
 * Single-signer Ed25519 baselines measured in the same run as the FROST figures: Node's native
 * (OpenSSL) sign/verify and noble's pure-JS sign/verify.
 */
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ed25519Spki } from '@conclave/frost';
import { measure, type MeasureOptions, type Stats } from '../lib/harness.js';

export interface BaselineResult {
  readonly nativeSign: Stats;
  readonly nativeVerify: Stats;
  readonly nativeVerifyWithKeyImport: Stats;
  readonly nobleSign: Stats;
  readonly nobleVerify: Stats;
}

export const BASELINE_LABELS: Readonly<Record<keyof BaselineResult, string>> = {
  nativeSign: 'native Ed25519 sign (node:crypto sign(null, …), KeyObject ready)',
  nativeVerify: 'native Ed25519 verify (node:crypto verify(null, …), KeyObject ready)',
  nativeVerifyWithKeyImport:
    'native Ed25519 verify incl. createPublicKey from 32 raw bytes (what frost.verify does)',
  nobleSign: 'noble ed25519.sign (single signer, pure JS)',
  nobleVerify: 'noble ed25519.verify (single signer, pure JS)',
};

export function runBaselines(
  opts: MeasureOptions,
  message: Uint8Array,
  log: (s: string) => void,
): BaselineResult {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const rawPub = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
  const nativeSig = sign(null, message, privateKey);
  if (!verify(null, message, publicKey, nativeSig)) throw new Error('native baseline: bad sig');

  const nobleSk = ed25519.utils.randomSecretKey();
  const noblePk = ed25519.getPublicKey(nobleSk);
  const nobleSig = ed25519.sign(message, nobleSk);
  if (!ed25519.verify(nobleSig, message, noblePk)) throw new Error('noble baseline: bad sig');

  const step = <T>(name: string, f: () => T): T => {
    log(`baseline: ${name}`);
    return f();
  };
  return {
    nativeSign: step('native sign', () => measure(opts, () => sign(null, message, privateKey))),
    nativeVerify: step('native verify', () =>
      measure(opts, () => {
        if (!verify(null, message, publicKey, nativeSig)) throw new Error('verify failed');
      }),
    ),
    nativeVerifyWithKeyImport: step('native verify + key import', () =>
      measure(opts, () => {
        const k = createPublicKey({
          key: Buffer.from(ed25519Spki(rawPub)),
          format: 'der',
          type: 'spki',
        });
        if (!verify(null, message, k, nativeSig)) throw new Error('verify failed');
      }),
    ),
    nobleSign: step('noble sign', () => measure(opts, () => ed25519.sign(message, nobleSk))),
    nobleVerify: step('noble verify', () =>
      measure(opts, () => {
        if (!ed25519.verify(nobleSig, message, noblePk)) throw new Error('verify failed');
      }),
    ),
  };
}
