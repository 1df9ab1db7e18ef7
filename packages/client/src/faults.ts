// TEST-ONLY fault injection. `CONCLAVE_TEST_FAULT` makes this client misbehave on purpose so the
// end-to-end tests can check that the coordinator and the other members name and exclude it, or
// that a member killed at the worst moment loses nothing:
//   bad-dkg-share   send one member a DKG round-2 share that does not match our commitment
//   bad-sub-share   as a refresh or reshare dealer, send one member a sub-share that does not
//                   match our commitment
//   bad-sign-share  send a signature share that does not verify
//   die-after-confirm  die (SIGKILL) as soon as the coordinator acknowledged our DKG confirmation
//   drop-round-sends   drop the connection as each round-1 and round-2 message of a key ceremony
//                   first goes out, unsent (the member reconnects, and sends it again when asked)
// Never set it outside tests: a client with a fault set is a faulty signer by design.
export const TEST_FAULTS = [
  'bad-dkg-share',
  'bad-sub-share',
  'bad-sign-share',
  'die-after-confirm',
  'drop-round-sends',
] as const;
export type TestFault = (typeof TEST_FAULTS)[number];

export function testFault(env: NodeJS.ProcessEnv = process.env): TestFault | undefined {
  const v = env['CONCLAVE_TEST_FAULT'];
  return (TEST_FAULTS as readonly string[]).includes(v ?? '') ? (v as TestFault) : undefined;
}
