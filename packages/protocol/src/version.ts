// Protocol version and wire limits. One place, so the coordinator, the client and the docs agree.

/** Wire protocol version. Bumped on any incompatible change; also part of every signing domain. */
export const PROTOCOL_VERSION = 1;

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
export const DOMAIN_PREFIX = `conclave/v${PROTOCOL_VERSION}/`;
