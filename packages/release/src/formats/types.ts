/** The types every format builder, the job planner and `assemble` share. */
import type { ReleaseInput, ReleaseStatement } from '../statement.js';

/** Every signature format a ceremony can produce (the protocol's `SIGNATURE_FORMATS`, same order). */
export const SIGNATURE_FORMATS = [
  'raw',
  'sshsig',
  'git',
  'minisign',
  'signify',
  'openpgp',
  'dsse',
  'sigstore',
  'jws',
] as const;

export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];

/** An artifact by name and digests (lowercase hex). minisign's prehashed mode signs BLAKE2b-512. */
export interface ArtifactRef {
  readonly name: string;
  readonly sha256: string;
  readonly sha512: string;
  readonly blake2b512: string;
}

/** An annotated tag to sign with SSHSIG namespace `git` (the protocol's `GitTagSchema`). */
export interface GitTagInput {
  /** 40 (SHA-1 repository) or 64 (SHA-256 repository) lowercase hex. */
  readonly object: string;
  readonly type: 'commit';
  readonly tag: string;
  readonly tagger: {
    readonly name: string;
    readonly email: string;
    /** Unix seconds. */
    readonly time: number;
    /** `+HHMM` or `-HHMM`. */
    readonly tz: string;
  };
  readonly message: string;
}

/** The release as the formats see it (`ReleaseInput` with BLAKE2b-512 digests and an optional tag). */
export type FormatRelease = Omit<ReleaseInput, 'artifacts'> & {
  readonly artifacts: readonly ArtifactRef[];
  readonly git?: GitTagInput;
};

export interface FormatContext {
  /** The 32-byte group public key A (RFC 8032 encoding). */
  readonly groupPublicKey: Uint8Array;
  /** Group name: OpenPGP user ID, SSH principal, comments. */
  readonly group: string;
  /** Built by `buildStatement`; dsse, sigstore and jws sign over it. */
  readonly statement: ReleaseStatement;
  readonly release: FormatRelease;
  /** Unix seconds: OpenPGP key packet creation time, fixed per group. */
  readonly keyCreatedAt: number;
  /** Unix seconds: minisign timestamp, OpenPGP signature creation time (= the statement's issuedAt). */
  readonly signedAt: number;
  /** Only content formats need it (raw, OpenPGP document signatures). */
  readonly artifactBytes?: (name: string) => Uint8Array;
}

/** One message the quorum signs in one phase of a ceremony. */
export interface SigningJob {
  readonly id: string;
  readonly format: SignatureFormat;
  readonly artifact?: string;
  readonly phase: 1 | 2;
  readonly message: Uint8Array;
}

export interface OutputFile {
  /** Relative path, a bare file name, e.g. `app.tar.gz.sshsig`. */
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly kind: 'signature' | 'key' | 'note';
  readonly format?: SignatureFormat;
  readonly artifact?: string;
}
