// What an approver approves: SHA-256 over the ceremony id and the canonical JSON of the
// `sign.request` body, so an approval cannot be moved to another request or ceremony.
import { sha256 } from '@conclave/frost';
import { canonicalJson } from './canonical-json.js';
import { domainEncode } from './encoding.js';
import type { SignRequest } from './messages/sign.js';

export function requestDigest(ceremonyId: string, request: SignRequest): Uint8Array {
  return sha256(domainEncode('sign-request', [ceremonyId, canonicalJson(request)]));
}
