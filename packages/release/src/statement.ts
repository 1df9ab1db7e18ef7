/**
 * Release statements: an in-toto Statement v1 whose subjects are the artifacts and whose predicate
 * records the release, the requester, the approvers, the policy and the ceremony. What the quorum
 * signs is the DSSE pre-authentication encoding (PAE) of its canonical JSON, so an ordinary Ed25519
 * signature carries the audit (DESIGN.md "Release statements").
 */
import { sha256 } from '@conclave/frost';
import { bytesToHex } from '@noble/hashes/utils.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://conclave.dev/release/v1';
export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** A document the statement binds by digest (an SBOM, build provenance). */
export interface BoundDocument {
  readonly name: string;
  readonly sha256: string;
}

/**
 * A batch manifest signed through its RFC 9162 Merkle root (manifest.ts): `size` leaves encoded as
 * `leafFormat`. Each artifact then carries an inclusion proof to this root.
 */
export interface ManifestRef {
  readonly root: string;
  readonly size: number;
  readonly leafFormat: 'conclave-manifest-v1';
}

/**
 * Release classes. `policy` and `revocation` statements are governance records of the group (their
 * subject is the policy document or the revocation record): a release verifier accepts only
 * `standard` and `hotfix` (docs/policy.md).
 */
export type ReleaseClass = 'standard' | 'hotfix' | 'policy' | 'revocation';

/** A policy document (the protocol's `PolicyDocumentSchema`); bound by its canonical SHA-256. */
export interface PolicyDocumentInput {
  readonly group: string;
  readonly version: number;
}

/** The release a revocation statement revokes. */
export interface RevocationInput {
  readonly ceremonyId: string;
  readonly statementDigest: string;
  readonly version: string;
  readonly artifacts: readonly {
    readonly name: string;
    readonly sha256: string;
    readonly sha512: string;
  }[];
  readonly reason: string;
}

/** The structured request (the protocol's `ReleaseSchema` has this shape). */
export interface ReleaseInput {
  readonly version: string;
  readonly class: ReleaseClass;
  readonly note: string;
  readonly artifacts: readonly {
    readonly name: string;
    readonly sha256: string;
    readonly sha512: string;
  }[];
  readonly formats: readonly string[];
  /** Optional; when absent the statement's bytes are exactly those of a release without it. */
  readonly sbom?: BoundDocument | undefined;
  readonly provenance?: BoundDocument | undefined;
  readonly manifest?: ManifestRef | undefined;
  /** Hotfix: the incident it answers. */
  readonly incident?: string | undefined;
  /** Standard: the hotfix ceremony it ratifies. */
  readonly ratifies?: string | undefined;
  /** Milliseconds since the epoch after which the statement is no longer valid. */
  readonly validUntil?: number | undefined;
  /** Class `policy`: the policy document the quorum adopts. */
  readonly policy?: PolicyDocumentInput | undefined;
  /** Class `revocation`: the release it revokes. */
  readonly revokes?: RevocationInput | undefined;
}

export interface Approver {
  readonly member: string;
  readonly identityKey: string;
}

export interface StatementContext {
  readonly ceremonyId: string;
  readonly group: string;
  readonly groupPublicKey: string;
  readonly requester: string;
  /** Everyone who approved, in the order the coordinator lists them. */
  readonly approvers: readonly Approver[];
  readonly policyId: string;
  /** Milliseconds since the epoch; written as RFC 3339 UTC. */
  readonly issuedAt: number;
}

export interface ReleaseStatement {
  readonly _type: typeof STATEMENT_TYPE;
  readonly subject: readonly {
    readonly name: string;
    readonly digest: { readonly sha256: string; readonly sha512: string };
  }[];
  readonly predicateType: typeof PREDICATE_TYPE;
  readonly predicate: {
    readonly version: string;
    readonly class: ReleaseClass;
    readonly note: string;
    readonly formats: readonly string[];
    readonly group: string;
    readonly groupPublicKey: string;
    readonly requester: string;
    readonly approvers: readonly Approver[];
    readonly policyId: string;
    readonly ceremonyId: string;
    readonly issuedAt: string;
    readonly sbom?: BoundDocument;
    readonly provenance?: BoundDocument;
    readonly manifest?: ManifestRef;
    readonly incident?: string;
    readonly ratifies?: string;
    /** RFC 3339 UTC. */
    readonly validUntil?: string;
    readonly policy?: { readonly group: string; readonly version: number; readonly sha256: string };
    readonly revokes?: {
      readonly ceremonyId: string;
      readonly statementDigest: string;
      readonly version: string;
      readonly subject: readonly {
        readonly name: string;
        readonly digest: { readonly sha256: string; readonly sha512: string };
      }[];
      readonly reason: string;
    };
  };
}

/** SHA-256 (hex) of a policy document's canonical JSON: what a policy statement binds. */
export function policyDigest(document: PolicyDocumentInput): string {
  return bytesToHex(sha256(new TextEncoder().encode(canonicalJson(document))));
}

export function buildStatement(release: ReleaseInput, ctx: StatementContext): ReleaseStatement {
  return {
    _type: STATEMENT_TYPE,
    subject: release.artifacts.map((a) => ({
      name: a.name,
      digest: { sha256: a.sha256, sha512: a.sha512 },
    })),
    predicateType: PREDICATE_TYPE,
    predicate: {
      version: release.version,
      class: release.class,
      note: release.note,
      formats: [...release.formats],
      group: ctx.group,
      groupPublicKey: ctx.groupPublicKey,
      requester: ctx.requester,
      approvers: ctx.approvers.map((a) => ({ member: a.member, identityKey: a.identityKey })),
      policyId: ctx.policyId,
      ceremonyId: ctx.ceremonyId,
      issuedAt: new Date(ctx.issuedAt).toISOString(),
      // Present only when requested, and copied field by field so nothing else reaches the bytes.
      ...(release.sbom && { sbom: { name: release.sbom.name, sha256: release.sbom.sha256 } }),
      ...(release.provenance && {
        provenance: { name: release.provenance.name, sha256: release.provenance.sha256 },
      }),
      ...(release.manifest && {
        manifest: {
          root: release.manifest.root,
          size: release.manifest.size,
          leafFormat: release.manifest.leafFormat,
        },
      }),
      ...(release.incident !== undefined && { incident: release.incident }),
      ...(release.ratifies !== undefined && { ratifies: release.ratifies }),
      ...(release.validUntil !== undefined && {
        validUntil: new Date(release.validUntil).toISOString(),
      }),
      ...(release.policy && {
        policy: {
          group: release.policy.group,
          version: release.policy.version,
          sha256: policyDigest(release.policy),
        },
      }),
      ...(release.revokes && {
        revokes: {
          ceremonyId: release.revokes.ceremonyId,
          statementDigest: release.revokes.statementDigest,
          version: release.revokes.version,
          subject: release.revokes.artifacts.map((a) => ({
            name: a.name,
            digest: { sha256: a.sha256, sha512: a.sha512 },
          })),
          reason: release.revokes.reason,
        },
      }),
    },
  };
}

/**
 * Canonical JSON (sorted keys, no whitespace; RFC 8785 for the strings/arrays/objects used here).
 * The same rules as @conclave/protocol's canonicalJson; kept here because release sits beside
 * protocol on the import ladder and may not import it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite number in statement');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`cannot encode ${typeof value} in a statement`);
}

export function statementBytes(s: ReleaseStatement): Uint8Array {
  return new TextEncoder().encode(canonicalJson(s));
}

/** DSSE v1 PAE: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (LEN as ASCII decimal). */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const type = enc.encode(payloadType);
  const head = enc.encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** The exact bytes a quorum signs for this release. */
export function messageToSign(release: ReleaseInput, ctx: StatementContext): Uint8Array {
  return pae(DSSE_PAYLOAD_TYPE, statementBytes(buildStatement(release, ctx)));
}

export function statementDigest(s: ReleaseStatement): string {
  return bytesToHex(sha256(statementBytes(s)));
}

/** A DSSE envelope (JSON) for a signed statement. */
export function dsseEnvelope(s: ReleaseStatement, signature: Uint8Array, keyid = ''): object {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  return {
    payloadType: DSSE_PAYLOAD_TYPE,
    payload: b64(statementBytes(s)),
    signatures: [{ keyid, sig: b64(signature) }],
  };
}
