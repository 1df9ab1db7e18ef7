// Protocol version and wire limits. One place, so the coordinator, the client and the docs agree.

/**
 * Wire protocol version, checked in the handshake (`hello`, `auth.challenge`, the upgrade's
 * `x-conclave-protocol` header). Bumped on any change a peer of the previous version cannot parse
 * or would mis-handle, so that peer is refused up front with PROTOCOL_VERSION_MISMATCH instead of
 * failing mid-ceremony. It is NOT part of any signing domain (see SIGNING_DOMAIN_VERSION).
 *
 *   1  the first release
 *   2  DKG pairwise boxes carry their sender's signature (required); `round2.decline`
 *   3  `sign.package` and `round2.share` name the hash of the public key package signed under
 *      (required of both ends), KEY_PACKAGE_MISMATCH
 *   4  a DKG `dkg.fail` accusing another member carries `evidence` that opens the box it is about
 *      (box-complaint.ts), judged by the coordinator; one without it is refused
 *   5  the same for a lifecycle ceremony (refresh, reshare, repair): a `dkg.fail` accusing another
 *      member carries `evidence` that opens the sub-share, delta or σ box it is about;
 *      `key.start` (signed by the coordinator) and `key.round1` (signed by each dealer) name the
 *      version, so an auditor judges the ceremony by its rules
 */
export const PROTOCOL_VERSION = 5;

/**
 * Version in every signing and derivation domain (`conclave/v1/…`). Frozen apart from the wire
 * version: changing it would invalidate every stored envelope, transcript chain, approval and
 * audit bundle, and re-derive every pairwise key. Change it only with a migration that re-signs
 * nothing and keeps verifying the old domain.
 */
export const SIGNING_DOMAIN_VERSION = 1;

/** PROTOCOL_VERSION_MISMATCH's text: what this side speaks and what to do (never the peer's value). */
export function versionMismatchMessage(self: string): string {
  return `${self} speaks protocol ${PROTOCOL_VERSION} and the other end does not: run conclave releases that speak the same protocol on both ends (\`conclave --version\` shows it)`;
}

/** Largest frame accepted, in bytes (THREATS C38: ws `maxPayload` 64 KiB). */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Deepest JSON nesting accepted in a frame; our messages never go deeper than 8. */
export const MAX_JSON_DEPTH = 16;

/** Most members in one group. n packages of ~t·32 bytes must still fit in one 64 KiB frame. */
export const MAX_PARTICIPANTS = 32;

/** Most artifacts in one release request (larger batches go through a manifest). */
export const MAX_ARTIFACTS = 64;

/** Upper bound for one opaque FROST package (DKG round 1/2 package, commitments), in bytes. */
export const MAX_FROST_PACKAGE_BYTES = 4096;

/**
 * Most signing jobs (one message each) in one phase of a signing session: formats × artifacts.
 * Larger releases sign a batch manifest or the signify checksum list instead.
 */
export const MAX_JOBS = 64;

/** Upper bound for one pairwise ciphertext (a DKG round-2 package plus the AEAD tag), in bytes. */
export const MAX_CIPHERTEXT_BYTES = 1024;

/** Entries in an `inbox` message. */
export const MAX_INBOX_ITEMS = 100;

/** Length of an `auth.challenge` challenge, in bytes. */
export const CHALLENGE_BYTES = 32;

/** Domain-separation prefix for everything this protocol signs or derives (see docs/protocol.md). */
export const DOMAIN_PREFIX = `conclave/v${SIGNING_DOMAIN_VERSION}/`;
