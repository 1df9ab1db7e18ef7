// Valid examples of every message type, and helpers shared by the tests.
import {
  PROTOCOL_VERSION,
  bytesToHex,
  generateIdentityKey,
  sealEnvelope,
  type AdminGroupCreate,
  type AdminGroupReshare,
  type IdentityKey,
  type SignRequest,
  type Message,
  type MessageType,
  type SealedBody,
} from '../src/index.js';

export const numRuns = Number(process.env['FC_NUM_RUNS'] ?? 50);

export const hex = (bytes: number, fill = 0xab): string =>
  bytesToHex(new Uint8Array(bytes).fill(fill));

export const seeded = (n: number): IdentityKey => generateIdentityKey(new Uint8Array(32).fill(n));

export const admin = seeded(1);
export const alice = seeded(2);
export const bob = seeded(3);
export const carol = seeded(4);
export const coordinator = seeded(5);

export const keys: Record<string, IdentityKey> = { admin, alice, bob, carol, coordinator };
export const lookup = (sender: string): Uint8Array | undefined => keys[sender]?.publicKey;

export const CEREMONY = 'c_0123456789abcdef';
export const OTHER_CEREMONY = 'c_fedcba9876543210';

const pk = (k: IdentityKey): string => bytesToHex(k.publicKey);

const groupCreate: AdminGroupCreate = {
  type: 'admin.group.create',
  group: 'release-leads',
  threshold: 2,
  members: [
    { member: 'alice', identityKey: pk(alice) },
    { member: 'bob', identityKey: pk(bob) },
    { member: 'carol', identityKey: pk(carol) },
  ],
};

const signRequest: SignRequest = {
  type: 'sign.request',
  group: 'release-leads',
  release: {
    version: '1.4.0',
    class: 'standard',
    note: 'quarterly release',
    artifacts: [
      {
        name: 'conclave-1.4.0.tar.gz',
        sha256: hex(32, 1),
        sha512: hex(64, 2),
        blake2b512: hex(64, 5),
      },
      {
        name: 'conclave-1.4.0.zip',
        sha256: hex(32, 3),
        sha512: hex(64, 4),
        blake2b512: hex(64, 6),
      },
    ],
    formats: ['raw', 'sshsig', 'minisign'],
  },
};

const reshare: AdminGroupReshare = {
  type: 'admin.group.reshare',
  group: 'release-leads',
  epoch: 0,
  groupPublicKey: hex(32),
  threshold: 2,
  members: [
    { member: 'alice', identityKey: pk(alice) },
    { member: 'bob', identityKey: pk(bob) },
    { member: 'carol', identityKey: pk(carol) },
  ],
  dealers: ['alice', 'bob'],
};

const identifier = (n: number): string =>
  bytesToHex(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n : 0)));

/** One valid body for each sealed type. */
export const sealedExamples: { [T in SealedBody['type']]: Extract<SealedBody, { type: T }> } = {
  'admin.member.add': {
    type: 'admin.member.add',
    member: 'alice',
    identityKey: pk(alice),
    roles: ['lead', 'security'],
  },
  'admin.member.revoke': { type: 'admin.member.revoke', member: 'bob', reason: 'left the team' },
  'admin.group.create': groupCreate,
  'dkg.start': {
    type: 'dkg.start',
    group: 'release-leads',
    threshold: 2,
    participants: [
      { member: 'alice', identifier: identifier(1), identityKey: pk(alice) },
      { member: 'bob', identifier: identifier(2), identityKey: pk(bob) },
      { member: 'carol', identifier: identifier(3), identityKey: pk(carol) },
    ],
    protocolVersion: PROTOCOL_VERSION,
    authorization: sealEnvelope(admin, {
      ceremonyId: CEREMONY,
      round: 'admin',
      seq: 0,
      sender: 'admin',
      body: groupCreate,
    }),
  },
  'dkg.round1': { type: 'dkg.round1', package: hex(170) },
  'dkg.round1.all': {
    type: 'dkg.round1.all',
    packages: [
      { member: 'alice', package: hex(170, 1) },
      { member: 'bob', package: hex(170, 2) },
      { member: 'carol', package: hex(170, 3) },
    ],
  },
  'dkg.round2': {
    type: 'dkg.round2',
    boxes: [
      { recipient: 'bob', ephemeralKey: hex(32), nonce: hex(24), ciphertext: hex(96) },
      { recipient: 'carol', ephemeralKey: hex(32), nonce: hex(24), ciphertext: hex(96) },
    ],
  },
  'dkg.round2.deliver': {
    type: 'dkg.round2.deliver',
    boxes: [{ sender: 'alice', ephemeralKey: hex(32), nonce: hex(24), ciphertext: hex(96) }],
  },
  'dkg.confirm': {
    type: 'dkg.confirm',
    round1Hash: hex(32),
    groupPublicKey: hex(32),
    signature: hex(64),
  },
  'dkg.complete': {
    type: 'dkg.complete',
    groupPublicKey: hex(32),
    round1Hash: hex(32),
    confirmations: [
      { member: 'alice', signature: hex(64, 1) },
      { member: 'bob', signature: hex(64, 2) },
      { member: 'carol', signature: hex(64, 3) },
    ],
  },
  'dkg.fail': {
    type: 'dkg.fail',
    culprit: 'carol',
    code: 'INVALID_SECRET_SHARE',
    reason: 'round-2 share fails verification',
  },
  'dkg.abort': {
    type: 'dkg.abort',
    code: 'INVALID_PROOF_OF_KNOWLEDGE',
    message: 'round-1 proof of knowledge does not verify',
    culprits: ['carol'],
  },
  'sign.request': signRequest,
  'sign.approve': {
    type: 'sign.approve',
    requestDigest: hex(32),
    commitments: [hex(100, 1), hex(100, 2)],
    approval: hex(64, 9),
  },
  'sign.recommit': { type: 'sign.recommit', phase: 2, commitments: [hex(100, 3)] },
  'sign.reject': { type: 'sign.reject', requestDigest: hex(32), reason: 'wrong version' },
  'ceremony.cancel': { type: 'ceremony.cancel', reason: 'superseded by 1.4.1' },
  'sign.package': {
    type: 'sign.package',
    session: 1,
    phase: 1,
    jobs: ['dsse', 'sshsig:conclave-1.4.0.tar.gz'],
    commitments: [
      { member: 'alice', commitments: [hex(100, 1), hex(100, 2)] },
      { member: 'bob', commitments: [hex(100, 3), hex(100, 4)] },
    ],
    packageHashes: [hex(32, 5), hex(32, 6)],
    previous: [],
    keyCreatedAt: 1_700_000_000,
    publicKeyPackage: hex(32, 13),
    requestDigest: hex(32, 1),
    statementDigest: hex(32, 2),
    approvers: ['alice', 'bob', 'carol'],
    approvals: [hex(64, 10), hex(64, 11), hex(64, 12)],
    signers: ['alice', 'bob'],
    policyId: 'default',
    issuedAt: 1_760_000_000_000,
  },
  'round2.share': {
    type: 'round2.share',
    session: 1,
    shares: [hex(32, 7), hex(32, 8)],
    ack: { packageHash: hex(32, 8), signature: hex(64, 9) },
    publicKeyPackage: hex(32, 13),
  },
  'round2.decline': {
    type: 'round2.decline',
    session: 1,
    code: 'SIGNING_REFUSED',
    reason: 'keyCreatedAt 1700000000 differs from the pinned 1690000000',
  },
  'sign.complete': {
    type: 'sign.complete',
    groupPublicKey: hex(32),
    signature: hex(64),
    signatures: [{ job: 'dsse', signature: hex(64) }],
    keyCreatedAt: 1_700_000_000,
    statementDigest: hex(32),
    approvers: ['alice', 'bob', 'carol'],
    signers: ['alice', 'bob'],
    policyId: 'default',
    issuedAt: 1_700_000_000_000,
  },
  'sign.aborted': {
    type: 'sign.aborted',
    reason: 'failed',
    code: 'INSUFFICIENT_HONEST_SIGNERS',
    message: 'fewer than t honest approvers remained',
    culprits: ['carol'],
  },
  ack: { type: 'ack', seq: 3, messageType: 'sign.approve' },
  'hotfix.overdue': {
    type: 'hotfix.overdue',
    ceremonyId: 'c_hotfix0001',
    group: 'release',
    incident: 'INC-42',
    ratifyBy: 1_750_000_000_000,
    flaggedAt: 1_750_000_000_500,
    policyVersion: 1,
  },
  'admin.group.refresh': {
    type: 'admin.group.refresh',
    group: 'release-leads',
    epoch: 0,
    groupPublicKey: hex(32),
  },
  'admin.group.reshare': reshare,
  'admin.group.repair': {
    type: 'admin.group.repair',
    group: 'release-leads',
    epoch: 1,
    groupPublicKey: hex(32),
    member: 'carol',
    helpers: ['alice', 'bob'],
  },
  'key.start': {
    type: 'key.start',
    kind: 'reshare',
    group: 'release-leads',
    fromEpoch: 0,
    toEpoch: 1,
    groupPublicKey: hex(32),
    publicKeyPackage: hex(200),
    previousThreshold: 2,
    previous: [
      { member: 'alice', identifier: identifier(1), identityKey: pk(alice) },
      { member: 'bob', identifier: identifier(2), identityKey: pk(bob) },
    ],
    threshold: 2,
    participants: [
      { member: 'alice', identifier: identifier(1), identityKey: pk(alice) },
      { member: 'bob', identifier: identifier(2), identityKey: pk(bob) },
      { member: 'carol', identifier: identifier(3), identityKey: pk(carol) },
    ],
    dealers: ['alice', 'bob'],
    authorization: sealEnvelope(admin, {
      ceremonyId: CEREMONY,
      round: 'admin',
      seq: 0,
      sender: 'admin',
      body: reshare,
    }),
  },
  'key.round1': { type: 'key.round1', package: hex(120), boxes: [] },
  'key.round1.all': {
    type: 'key.round1.all',
    packages: [
      { member: 'alice', package: hex(120, 1) },
      { member: 'bob', package: hex(120, 2) },
    ],
    boxes: [],
  },
  'key.round2': {
    type: 'key.round2',
    boxes: [{ recipient: 'carol', ephemeralKey: hex(32), nonce: hex(24), ciphertext: hex(96) }],
  },
  'key.round2.deliver': {
    type: 'key.round2.deliver',
    boxes: [{ sender: 'alice', ephemeralKey: hex(32), nonce: hex(24), ciphertext: hex(96) }],
  },
};

/** Who sends each sealed example. */
export const senderOf = (type: SealedBody['type']): string =>
  type.startsWith('admin.')
    ? 'admin'
    : [
          'dkg.start',
          'dkg.round1.all',
          'dkg.round2.deliver',
          'dkg.complete',
          'dkg.abort',
          'key.start',
          'key.round1.all',
          'key.round2.deliver',
          'sign.package',
          'sign.complete',
          'sign.aborted',
          'ack',
          'hotfix.overdue',
        ].includes(type)
      ? 'coordinator'
      : 'alice';

/** One valid example for each bare type (the envelope included). */
export const bareExamples: {
  [T in Exclude<MessageType, SealedBody['type']>]: Extract<Message, { type: T }>;
} = {
  hello: { type: 'hello', protocolVersion: PROTOCOL_VERSION, client: 'conclave-cli/0.1.0' },
  'auth.challenge': {
    type: 'auth.challenge',
    protocolVersion: PROTOCOL_VERSION,
    challenge: hex(32),
    origin: 'wss://coordinator.example:7443',
    expiresAt: 1_760_000_020_000,
  },
  'auth.response': {
    type: 'auth.response',
    member: 'alice',
    challenge: hex(32),
    signature: hex(64),
  },
  'auth.ok': { type: 'auth.ok', member: 'alice' },
  error: { type: 'error', code: 'UNAUTHENTICATED', message: 'authenticate first' },
  envelope: sealEnvelope(alice, {
    ceremonyId: CEREMONY,
    round: 'sign.approve',
    seq: 1,
    sender: 'alice',
    body: sealedExamples['sign.approve'],
  }),
  'inbox.get': { type: 'inbox.get' },
  inbox: {
    type: 'inbox',
    items: [
      {
        ceremonyId: CEREMONY,
        kind: 'sign',
        group: 'release-leads',
        state: 'collectingApprovals',
        requester: 'carol',
        version: '1.4.0',
        class: 'standard',
        createdAt: 1_760_000_000_000,
        deadline: 1_760_003_600_000,
      },
    ],
  },
  'ceremony.status.get': { type: 'ceremony.status.get', ceremonyId: CEREMONY },
  'ceremony.status': {
    type: 'ceremony.status',
    ceremonyId: CEREMONY,
    kind: 'sign',
    state: 'collectingApprovals',
    group: 'release-leads',
    threshold: 2,
    members: ['alice', 'bob', 'carol'],
    approvals: ['alice'],
    rejections: [{ member: 'bob', reason: 'on leave' }],
    session: 0,
    culprits: [],
    request: sealEnvelope(carol, {
      ceremonyId: CEREMONY,
      round: 'sign.request',
      seq: 0,
      sender: 'carol',
      body: signRequest,
    }),
    updatedAt: 1_760_000_000_500,
  },
  'group.list.get': { type: 'group.list.get' },
  'group.list': {
    type: 'group.list',
    groups: [
      {
        group: 'release-leads',
        state: 'active',
        epoch: 2,
        threshold: 2,
        members: [
          { member: 'alice', identityKey: pk(alice) },
          { member: 'bob', identityKey: pk(bob) },
          { member: 'carol', identityKey: pk(carol) },
        ],
        groupPublicKey: hex(32),
        ceremonyId: CEREMONY,
        revoked: ['carol'],
        updatedAt: 1_760_000_000_000,
      },
    ],
  },
  'key.outcome.get': { type: 'key.outcome.get', ceremonyId: CEREMONY },
  'key.outcome': {
    type: 'key.outcome',
    ceremonyId: CEREMONY,
    start: sealEnvelope(coordinator, {
      ceremonyId: CEREMONY,
      round: 'key.start',
      seq: 1,
      sender: 'coordinator',
      body: sealedExamples['key.start'],
    }),
    outcome: sealEnvelope(coordinator, {
      ceremonyId: CEREMONY,
      round: 'dkg.complete',
      seq: 9,
      sender: 'coordinator',
      body: sealedExamples['dkg.complete'],
    }),
  },
  'policy.get': { type: 'policy.get', group: 'release-leads' },
  'policy.info': {
    type: 'policy.info',
    group: 'release-leads',
    version: 1,
    policyId: 'release-leads@v1',
    latest: 1,
    threshold: 2,
    document: {
      schema: 'conclave-policy/v1',
      group: 'release-leads',
      version: 1,
      classes: {
        standard: {
          quorum: 3,
          requiredRoles: [{ role: 'security', count: 1 }],
          artifacts: ['app-*.tar.gz'],
        },
        hotfix: { approvalTimeoutSeconds: 900, requesters: { roles: ['oncall'] } },
      },
      hotfix: { ratificationWindowSeconds: 259_200, requireIncident: true },
    },
    signed: {
      ceremonyId: CEREMONY,
      groupPublicKey: hex(32),
      statement: { _type: 'https://in-toto.io/Statement/v1' },
      signature: hex(64),
      signedAt: 1_760_000_000_000,
    },
  },
  'hotfix.list.get': { type: 'hotfix.list.get' },
  'hotfix.list': {
    type: 'hotfix.list',
    hotfixes: [
      {
        ceremonyId: CEREMONY,
        group: 'release-leads',
        version: '1.4.1',
        incident: 'INC-42',
        signedAt: 1_760_000_000_000,
        ratifyBy: 1_760_259_200_000,
        state: 'unratified',
      },
    ],
  },
  'revocations.get': { type: 'revocations.get', group: 'release-leads' },
  revocations: {
    type: 'revocations',
    group: 'release-leads',
    offset: 0,
    entries: [
      {
        ceremonyId: CEREMONY,
        revokedCeremony: 'c_00000000000000000000000000000001',
        groupPublicKey: hex(32),
        statement: { _type: 'https://in-toto.io/Statement/v1' },
        signature: hex(64),
        at: 1_760_000_000_000,
      },
    ],
  },
  'sign.commitments': {
    type: 'sign.commitments',
    ceremonyId: CEREMONY,
    phase: 1,
    commitments: [
      { member: 'alice', commitments: [hex(100, 1)] },
      { member: 'bob', commitments: [hex(100, 2)] },
    ],
  },
};

export const frame = (value: unknown): string => JSON.stringify(value);

export const sealAs = (body: SealedBody, seq = 0, ceremonyId = CEREMONY) => {
  const sender = senderOf(body.type);
  const key = keys[sender];
  if (key === undefined) throw new Error('no key');
  return sealEnvelope(key, { ceremonyId, round: body.type, seq, sender, body });
};
