export { verifySignature, detectSignatureFormat, MAX_SIGNATURE_BYTES } from './verify.js';
export { detectKey, publicKeyFromFile, MAX_KEY_BYTES } from './detect-key.js';
export type { DetectedKey, DetectedKeyFormat } from './detect-key.js';
export { VERIFY_FAILURE_CODES } from './result.js';
export type { VerifyResult, VerifyInput, VerifyFailureCode } from './result.js';
