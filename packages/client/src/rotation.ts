// Key rotation (docs/lifecycle.md "Rotation", THREATS B.30): after a new group key is made by DKG,
// the transition statement — old key, new key, time, reason — is the ARTIFACT of two ordinary
// signing ceremonies, one by a quorum of the old group and one by a quorum of the new group. Each
// ceremony signs an in-toto release statement (DSSE, RFC-less but specified at
// github.com/secure-systems-lab/dsse "Protocol") whose single subject is the transition file's
// digest, so the approvers review it like any release and no new signing path is needed.
//
// The transition FILE is the statement's canonical JSON, byte for byte (no trailing newline), so a
// verifier recomputes its sha256 from the statement alone. The transition BUNDLE carries the
// statement and the two DSSE envelopes (`conclave fetch` writes them as release.intoto.json);
// `verifyTransitionBundle` checks it offline and names the first check that failed.
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { GroupNameSchema, MemberIdSchema, hexToBytes } from '@conclave/protocol';
import {
  DSSE_PAYLOAD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  canonicalJson,
  pae,
  verifyEd25519,
} from '@conclave/release';
import * as z from 'zod';
import { ClientError } from './errors.js';

export const TRANSITION_TYPE = 'https://conclave.dev/KeyTransition/v1';
export const TRANSITION_BUNDLE_TYPE = 'https://conclave.dev/KeyTransitionBundle/v1';
/** Release class of both rotation ceremonies (the version names the rotation). */
export const TRANSITION_RELEASE_CLASS = 'standard';
/** The one signature format the rotation ceremonies need: the DSSE envelope of the statement. */
export const TRANSITION_FORMATS = ['dsse'] as const;

const KeyHex = z.string().regex(/^[0-9a-f]{64}$/, 'expected an Ed25519 public key as 64 hex');

export const TransitionKeySchema = z.strictObject({
  group: GroupNameSchema,
  /** The group's Ed25519 public key (the one `allowed_signers` / the PEM file holds). */
  publicKey: KeyHex,
  /** Key epoch of the shares that will sign (informational: the public key never changes). */
  epoch: z.int().min(0),
  threshold: z.int().min(2),
  members: z.array(MemberIdSchema).min(2),
});

export const TransitionStatementSchema = z
  .strictObject({
    _type: z.literal(TRANSITION_TYPE),
    oldKey: TransitionKeySchema,
    newKey: TransitionKeySchema,
    /**
     * RFC 3339 UTC. The old key signs nothing issued after this instant except the two rotation
     * ceremonies over this very statement.
     */
    time: z.iso.datetime(),
    reason: z.string().min(1).max(512),
    /** The DKG ceremony that made the new key. */
    rotationCeremony: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  })
  .refine((s) => s.oldKey.publicKey !== s.newKey.publicKey, {
    error: 'a rotation needs a new key',
  })
  .refine((s) => s.oldKey.group !== s.newKey.group, { error: 'a rotation needs a new group' });
export type TransitionKey = z.infer<typeof TransitionKeySchema>;
export type TransitionStatement = z.infer<typeof TransitionStatementSchema>;

export function buildTransitionStatement(input: {
  oldKey: TransitionKey;
  newKey: TransitionKey;
  time: Date;
  reason: string;
  rotationCeremony: string;
}): TransitionStatement {
  if (input.oldKey.publicKey === input.newKey.publicKey) {
    throw new ClientError('INVALID_ARGUMENT', 'a rotation needs a new key; use reshare to keep it');
  }
  const r = TransitionStatementSchema.safeParse({
    _type: TRANSITION_TYPE,
    oldKey: input.oldKey,
    newKey: input.newKey,
    time: input.time.toISOString(),
    reason: input.reason,
    rotationCeremony: input.rotationCeremony,
  });
  if (!r.success) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `not a valid transition statement: ${r.error.issues[0]?.message ?? 'shape'}`,
    );
  }
  return r.data;
}

/** The transition file's exact bytes: the statement's canonical JSON (what both quorums sign). */
export function transitionFileBytes(statement: TransitionStatement): Uint8Array {
  return new TextEncoder().encode(canonicalJson(TransitionStatementSchema.parse(statement)));
}

/** sha256 / sha512 (hex) of the transition file: the subject of both rotation ceremonies. */
export function transitionDigest(statement: TransitionStatement): {
  sha256: string;
  sha512: string;
} {
  const bytes = transitionFileBytes(statement);
  return { sha256: bytesToHex(sha256(bytes)), sha512: bytesToHex(sha512(bytes)) };
}

/**
 * Reads a transition file: UTF-8 canonical JSON of a valid statement, nothing else (a
 * pretty-printed or edited copy would have another digest than the one the quorums approve).
 */
export function parseTransitionFile(bytes: Uint8Array | string): TransitionStatement {
  let text: string;
  let value: unknown;
  try {
    text =
      typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    value = JSON.parse(text);
  } catch {
    throw new ClientError('INVALID_ARGUMENT', 'the transition file is not UTF-8 JSON');
  }
  const r = TransitionStatementSchema.safeParse(value);
  if (!r.success) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `not a Conclave key transition statement (${r.error.issues[0]?.path.join('.') || 'shape'}: ${r.error.issues[0]?.message ?? ''})`,
    );
  }
  if (canonicalJson(r.data) !== text) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      'the transition file is not in canonical form (was it reformatted?); use the file `conclave group rotate` wrote',
    );
  }
  return r.data;
}

/** What every rotation ceremony's release version starts with (rotationVersion). */
export const ROTATION_VERSION_PREFIX = 'rotation-';

/**
 * The release version both rotation ceremonies carry: `rotation-N` when the new group is
 * `…-vN` (release → release-v2: `rotation-2`), else `rotation-<new group>`.
 */
export function rotationVersion(statement: Pick<TransitionStatement, 'newKey'>): string {
  const m = /-v(\d+)$/.exec(statement.newKey.group);
  return `${ROTATION_VERSION_PREFIX}${m === null ? statement.newKey.group : (m[1] ?? '')}`;
}

/** The note the approvers read (informational; not checked by verifiers). */
export function rotationNote(statement: TransitionStatement): string {
  return (
    `key rotation ${statement.oldKey.group} -> ${statement.newKey.group} ` +
    `(new key ${statement.newKey.publicKey}): ${statement.reason}`
  ).slice(0, 1024);
}

// ---------------------------------------------------------------- bundle

const DsseSchema = z.strictObject({
  payloadType: z.string().max(128),
  payload: z.base64().max(1 << 20),
  signatures: z
    .array(z.strictObject({ keyid: z.string().max(256).optional(), sig: z.base64().max(256) }))
    .min(1)
    .max(16),
});
export type TransitionDsse = z.infer<typeof DsseSchema>;

export const TransitionBundleSchema = z.strictObject({
  type: z.literal(TRANSITION_BUNDLE_TYPE),
  transition: z.strictObject({
    /** The file name the approvers saw (informational: the digest is what is signed). */
    name: z.string().min(1).max(255),
    /** Not parsed here: `verifyTransitionBundle` names TRANSITION_STATEMENT when it is bad. */
    statement: z.unknown(),
  }),
  /** The old group's DSSE envelope (`release.intoto.json` of its rotation ceremony). */
  old: DsseSchema,
  /** The new group's. */
  new: DsseSchema,
});
export type TransitionBundle = z.infer<typeof TransitionBundleSchema>;

export function buildTransitionBundle(input: {
  statement: TransitionStatement;
  name: string;
  old: unknown;
  new: unknown;
}): TransitionBundle {
  const envelope = (role: 'old' | 'new', v: unknown): TransitionDsse => {
    const r = DsseSchema.safeParse(v);
    if (!r.success) {
      throw new ClientError('INVALID_ARGUMENT', `the ${role} group's envelope is not DSSE JSON`);
    }
    return r.data;
  };
  return {
    type: TRANSITION_BUNDLE_TYPE,
    transition: {
      name: input.name,
      statement: JSON.parse(canonicalJson(TransitionStatementSchema.parse(input.statement))),
    },
    old: envelope('old', input.old),
    new: envelope('new', input.new),
  };
}

// ---------------------------------------------------------------- verifier

/** Every check of `verifyTransitionBundle`, in the order they run. */
export const TRANSITION_CHECKS = [
  /** The bundle is a KeyTransitionBundle/v1 with two DSSE envelopes. */
  'BUNDLE_FORMAT',
  /** The transition statement parses (schema; old and new key differ). */
  'TRANSITION_STATEMENT',
  /** The statement's old key is the one the verifier trusted (--old-key). */
  'OLD_KEY_PINNED',
  /** The statement's new key is the one the verifier was told (--new-key). */
  'NEW_KEY_PINNED',
  /** Envelope 1 is an in-toto statement (DSSE payload type, Statement v1, Conclave predicate). */
  'OLD_ENVELOPE',
  /** Envelope 1 is signed by the OLD key (Ed25519 over its DSSE PAE). */
  'OLD_SIGNATURE',
  /** Its only subject is the transition file (sha256 and sha512). */
  'OLD_SUBJECT',
  /** Its predicate names the old group and the old key. */
  'OLD_GROUP',
  /** Its class is standard and its version names this rotation. */
  'OLD_RELEASE',
  /** At least the old threshold of members approved it. */
  'OLD_QUORUM',
  'NEW_ENVELOPE',
  'NEW_SIGNATURE',
  'NEW_SUBJECT',
  'NEW_GROUP',
  'NEW_RELEASE',
  'NEW_QUORUM',
] as const;
export type TransitionCheckName = (typeof TRANSITION_CHECKS)[number];

export interface TransitionCheckResult {
  readonly check: TransitionCheckName;
  readonly ok: boolean;
  readonly reason: string;
}

/** What one side's ceremony said (from its verified statement). */
export interface TransitionSide {
  readonly group: string;
  readonly publicKey: string;
  readonly ceremonyId: string;
  readonly approvers: readonly string[];
  readonly issuedAt: string;
}

export interface TransitionVerdict {
  /** Every check passed: a verifier trusting the old key may trust the new one from `time` on. */
  readonly ok: boolean;
  /** The first check that failed. */
  readonly failed?: TransitionCheckResult;
  /** Every check that ran (checks that depend on a failed one are not run). */
  readonly checks: readonly TransitionCheckResult[];
  readonly statement?: TransitionStatement;
  readonly old?: TransitionSide;
  readonly new?: TransitionSide;
}

/** The parts of a Conclave release statement the checks read (others may be present). */
const ReleaseStatementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  predicateType: z.literal(PREDICATE_TYPE),
  subject: z
    .array(
      z.object({
        name: z.string(),
        digest: z.object({ sha256: z.string().optional(), sha512: z.string().optional() }),
      }),
    )
    .max(4096),
  predicate: z.object({
    class: z.string(),
    version: z.string(),
    group: z.string(),
    groupPublicKey: z.string(),
    approvers: z.array(z.object({ member: z.string() })),
    ceremonyId: z.string(),
    issuedAt: z.string(),
  }),
});

/** The 32-byte key as 64 lowercase hex, or undefined. */
const normKey = (k: string | Uint8Array | undefined): string | undefined =>
  k === undefined ? undefined : typeof k === 'string' ? k.toLowerCase() : bytesToHex(k);

/**
 * The verifier side of a rotation, offline: parses the bundle and the transition statement, then
 * for each side (old, new) checks that its envelope is a release statement signed by THAT side's
 * key (from the statement, and equal to the pinned key if given), whose only subject is the
 * transition file, whose group and key are that side's, whose version names the rotation and whose
 * approvers reach that side's threshold. Never throws for bad input.
 */
export function verifyTransitionBundle(
  bundle: unknown,
  pins: { oldKey?: string | Uint8Array | undefined; newKey?: string | Uint8Array | undefined } = {},
): TransitionVerdict {
  const checks: TransitionCheckResult[] = [];
  const pass = (check: TransitionCheckName, reason: string) => {
    checks.push({ check, ok: true, reason });
  };
  const done = (extra: Partial<TransitionVerdict> = {}): TransitionVerdict => {
    const failed = checks.find((c) => !c.ok);
    return { ok: failed === undefined, checks, ...(failed && { failed }), ...extra };
  };
  const fail = (
    check: TransitionCheckName,
    reason: string,
    extra: Partial<TransitionVerdict> = {},
  ) => {
    checks.push({ check, ok: false, reason });
    return done(extra);
  };

  const b = TransitionBundleSchema.safeParse(bundle);
  if (!b.success) {
    const at = b.error.issues[0]?.path.join('.') ?? '';
    return fail('BUNDLE_FORMAT', `not a ${TRANSITION_BUNDLE_TYPE} file (${at || 'shape'})`);
  }
  pass('BUNDLE_FORMAT', 'a key transition bundle with two envelopes');

  const st = TransitionStatementSchema.safeParse(b.data.transition.statement);
  if (!st.success) {
    const i = st.error.issues[0];
    return fail(
      'TRANSITION_STATEMENT',
      `the transition statement does not parse (${i?.path.join('.') || 'statement'}: ${i?.message ?? ''})`,
    );
  }
  const statement = st.data;
  pass(
    'TRANSITION_STATEMENT',
    `${statement.oldKey.group} -> ${statement.newKey.group} at ${statement.time}`,
  );

  for (const [role, key] of [
    ['old', statement.oldKey],
    ['new', statement.newKey],
  ] as const) {
    const pinned = normKey(role === 'old' ? pins.oldKey : pins.newKey);
    const check = role === 'old' ? 'OLD_KEY_PINNED' : 'NEW_KEY_PINNED';
    if (pinned === undefined) {
      pass(check, `no ${role} key given; using the statement's ${key.publicKey}`);
    } else if (pinned !== key.publicKey) {
      return fail(
        check,
        `the statement's ${role} key is ${key.publicKey}, not the ${pinned} you gave` +
          (role === 'old'
            ? ': this transition starts from another key than the one you trust'
            : ''),
        { statement },
      );
    } else {
      pass(check, `the ${role} key is the one you gave`);
    }
  }

  const digest = transitionDigest(statement);
  const sides: Partial<Record<'old' | 'new', TransitionSide>> = {};
  for (const role of ['old', 'new'] as const) {
    const key = role === 'old' ? statement.oldKey : statement.newKey;
    const env = b.data[role];
    const P = role === 'old' ? 'OLD' : 'NEW';
    const c = (name: string) => `${P}_${name}` as TransitionCheckName;
    const label = `the ${role} group's envelope`;

    if (env.payloadType !== DSSE_PAYLOAD_TYPE) {
      return fail(
        c('ENVELOPE'),
        `${label} has payload type ${env.payloadType}, not ${DSSE_PAYLOAD_TYPE}`,
        {
          statement,
        },
      );
    }
    const payload = Uint8Array.from(Buffer.from(env.payload, 'base64'));
    let rs: z.infer<typeof ReleaseStatementSchema>;
    try {
      const r = ReleaseStatementSchema.safeParse(
        JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)),
      );
      if (!r.success) throw new Error('shape');
      rs = r.data;
    } catch {
      return fail(c('ENVELOPE'), `${label} does not carry a Conclave release statement`, {
        statement,
      });
    }
    pass(c('ENVELOPE'), `${label} carries release statement ${rs.predicate.ceremonyId}`);

    // DSSE v1: the signature is over PAE(payloadType, payload) (the bytes statement.pae holds).
    const message = pae(env.payloadType, payload);
    const pub = hexToBytes(key.publicKey);
    const signed = env.signatures.some((s) =>
      verifyEd25519(message, Uint8Array.from(Buffer.from(s.sig, 'base64')), pub),
    );
    if (!signed) {
      return fail(
        c('SIGNATURE'),
        `${label} is not signed by the ${role} key ${key.publicKey} (${key.group})`,
        { statement },
      );
    }
    pass(c('SIGNATURE'), `signed by the ${role} key ${key.publicKey}`);

    const subject = rs.subject;
    if (
      subject.length !== 1 ||
      subject[0]?.digest.sha256 !== digest.sha256 ||
      subject[0].digest.sha512 !== digest.sha512
    ) {
      return fail(
        c('SUBJECT'),
        `${label} signs ${subject.map((s) => `${s.name} (sha256 ${s.digest.sha256 ?? '-'})`).join(', ') || 'no subject'}, ` +
          `not the transition statement (sha256 ${digest.sha256}); the statement or the envelope was changed`,
        { statement },
      );
    }
    pass(c('SUBJECT'), `its only subject is ${subject[0].name} (sha256 ${digest.sha256})`);

    if (rs.predicate.group !== key.group || rs.predicate.groupPublicKey !== key.publicKey) {
      return fail(
        c('GROUP'),
        `${label} was signed by group ${rs.predicate.group} (${rs.predicate.groupPublicKey}), not ${key.group} (${key.publicKey})`,
        { statement },
      );
    }
    pass(c('GROUP'), `a ceremony of ${key.group}`);

    const version = rotationVersion(statement);
    if (rs.predicate.class !== TRANSITION_RELEASE_CLASS || rs.predicate.version !== version) {
      return fail(
        c('RELEASE'),
        `${label} is ${rs.predicate.class} ${rs.predicate.version}, not ${TRANSITION_RELEASE_CLASS} ${version}`,
        { statement },
      );
    }
    pass(c('RELEASE'), `${TRANSITION_RELEASE_CLASS} ${version}`);

    const approvers = [...new Set(rs.predicate.approvers.map((a) => a.member))];
    if (approvers.length < key.threshold || !approvers.every((m) => key.members.includes(m))) {
      return fail(
        c('QUORUM'),
        `${label} lists approvers ${approvers.join(', ') || '(none)'}: not ${key.threshold} of ${key.members.join(', ')}`,
        { statement },
      );
    }
    pass(c('QUORUM'), `approved by ${approvers.join(', ')} (threshold ${key.threshold})`);
    sides[role] = {
      group: key.group,
      publicKey: key.publicKey,
      ceremonyId: rs.predicate.ceremonyId,
      approvers,
      issuedAt: rs.predicate.issuedAt,
    };
  }
  return done({
    statement,
    ...(sides.old && { old: sides.old }),
    ...(sides.new && { new: sides.new }),
  });
}

/** "release-v2" after "release", "release-v3" after "release-v2". */
export function nextGroupName(group: string): string {
  const m = /^(.*)-v(\d+)$/.exec(group);
  const name = m === null ? `${group}-v2` : `${m[1] ?? ''}-v${Number(m[2]) + 1}`;
  if (!GroupNameSchema.safeParse(name).success) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `cannot derive a new group name from ${group}; pass --new-group`,
    );
  }
  return name;
}
