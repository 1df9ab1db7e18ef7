/**
 * Verifying a group policy version (docs/policy.md): the policy document is obeyed only if a quorum
 * of the group signed a statement of class `policy` binding its canonical SHA-256, under the group
 * key the verifier holds. The coordinator checks its own stored rows with this before enforcing
 * them, and every member checks what the coordinator serves before obeying it, so a coordinator
 * (or anyone editing its database) cannot loosen a policy on its own.
 */
import { z } from 'zod';
import { verifyEd25519 } from './formats/ed25519.js';
import {
  DSSE_PAYLOAD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  canonicalJson,
  pae,
  policyDigest,
  type PolicyDocumentInput,
} from './statement.js';

const PolicyStatementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: z.object({
    class: z.literal('policy'),
    group: z.string(),
    groupPublicKey: z.string(),
    ceremonyId: z.string(),
    policyId: z.string(),
    policy: z.object({ group: z.string(), version: z.number().int(), sha256: z.string() }),
  }),
});

export interface SignedPolicyInput {
  readonly group: string;
  readonly version: number;
  readonly document: PolicyDocumentInput;
  /** The signed in-toto statement (parsed JSON). */
  readonly statement: unknown;
  /** Ed25519 over the statement's DSSE PAE, hex. */
  readonly signature: string;
  /** The group key the verifier trusts, hex. */
  readonly groupPublicKey: string;
}

export type PolicyVerdict =
  | {
      readonly ok: true;
      /** The policy ceremony and the policy it ran under (the previous version). */
      readonly ceremonyId: string;
      readonly signedUnder: string;
    }
  | { readonly ok: false; readonly reason: string };

/** Checks that a quorum of `groupPublicKey` signed exactly this policy document as this version. */
export function verifyPolicyStatement(i: SignedPolicyInput): PolicyVerdict {
  const bad = (reason: string): PolicyVerdict => ({ ok: false, reason });
  if (i.document.group !== i.group || i.document.version !== i.version) {
    return bad(
      `the document is ${i.document.group}@v${i.document.version}, not ${i.group}@v${i.version}`,
    );
  }
  const parsed = PolicyStatementSchema.safeParse(i.statement);
  if (!parsed.success) return bad('the signed statement is not a policy statement');
  const p = parsed.data.predicate;
  const key = /^[0-9a-f]{64}$/.test(i.groupPublicKey)
    ? Uint8Array.from(Buffer.from(i.groupPublicKey, 'hex'))
    : undefined;
  const signature = /^[0-9a-f]{128}$/.test(i.signature)
    ? Uint8Array.from(Buffer.from(i.signature, 'hex'))
    : undefined;
  if (key === undefined || signature === undefined) return bad('malformed key or signature');
  let message: Uint8Array;
  try {
    message = pae(DSSE_PAYLOAD_TYPE, new TextEncoder().encode(canonicalJson(i.statement)));
  } catch {
    return bad('the statement cannot be encoded');
  }
  if (!verifyEd25519(message, signature, key)) {
    return bad(`the signature over ${i.group}@v${i.version} does not verify under the group key`);
  }
  if (p.groupPublicKey !== i.groupPublicKey || p.group !== i.group) {
    return bad('the statement was signed for another group or key');
  }
  if (p.policy.group !== i.group || p.policy.version !== i.version) {
    return bad(
      `the signed statement adopts ${p.policy.group}@v${p.policy.version}, not ${i.group}@v${i.version}`,
    );
  }
  if (p.policy.sha256 !== policyDigest(i.document)) {
    return bad(`the document of ${i.group}@v${i.version} is not the one the quorum signed`);
  }
  return { ok: true, ceremonyId: p.ceremonyId, signedUnder: p.policyId };
}
