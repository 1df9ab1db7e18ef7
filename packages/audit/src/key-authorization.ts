// Who authorized a key ceremony (THREATS B24, B30; docs/operations.md "The admin key"). The
// coordinator opens a DKG with `dkg.start`, a lifecycle ceremony with `key.start`, each carrying
// the admin-signed operation that asked for it (`admin.group.create`, `admin.group.refresh` /
// `.reshare` / `.repair`). Members refuse a start whose authorization the pinned admin key did not
// seal or that says something else (packages/client dkg-participant.ts `checkDkgStart`,
// lifecycle-participant.ts `checkKeyStart`); the auditor re-checks the same rules, so a roster or
// threshold the coordinator chose itself is caught in the transcript too.
import { ed25519 as frost } from '@conclave/frost';
import { keepsRoster, openEnvelope, type Envelope } from '@conclave/protocol';
import type { Body } from './key-transcript.js';

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Whether `authorization` is the admin's envelope for this ceremony; the opened body if so. */
function openAuthorization(
  authorization: Envelope,
  ceremonyId: string,
  adminKey: Uint8Array,
  problems: string[],
): Envelope['body'] | undefined {
  const opened = openEnvelope(authorization, (s) => (s === 'admin' ? adminKey : undefined));
  if (!opened.ok) {
    problems.push('its authorization is not sealed by the admin key');
    return undefined;
  }
  if (opened.value.ceremonyId !== ceremonyId) {
    problems.push('its authorization is for another ceremony');
    return undefined;
  }
  return opened.value.body;
}

/** Roster entries that differ from what the admin signed (member → identity key). */
function rosterProblems(
  signed: readonly { member: string; identityKey: string }[],
  participants: readonly { member: string; identifier: string; identityKey: string }[],
  problems: string[],
): void {
  const keys = new Map(signed.map((m) => [m.member, m.identityKey]));
  if (keys.size !== participants.length)
    problems.push('the roster is not the one the admin signed');
  for (const p of participants) {
    if (keys.get(p.member) !== p.identityKey) {
      problems.push(`${p.member} is not in the roster the admin signed with that identity key`);
    }
  }
}

/** Identifiers not derived from their names (RFC 9591 §5: `derive`, as members require). */
function identifierProblems(
  participants: readonly { member: string; identifier: string }[],
  problems: string[],
): void {
  for (const p of participants) {
    if (frost.identifier.derive(p.member) !== p.identifier) {
      problems.push(`the identifier of ${p.member} is not derived from its name`);
    }
  }
}

/** Why a dkg.start is not what the admin authorized (empty if it is). */
export function dkgStartProblems(
  ceremonyId: string,
  start: Body<'dkg.start'>,
  adminKey: Uint8Array,
): string[] {
  const problems: string[] = [];
  const body = openAuthorization(start.authorization as Envelope, ceremonyId, adminKey, problems);
  if (body === undefined) return problems;
  if (body.type !== 'admin.group.create') {
    problems.push('its authorization is not a group creation');
    return problems;
  }
  if (body.group !== start.group) problems.push('the group is not the one the admin created');
  if (body.threshold !== start.threshold) {
    problems.push(`the threshold ${start.threshold} is not the ${body.threshold} the admin signed`);
  }
  rosterProblems(body.members, start.participants, problems);
  identifierProblems(start.participants, problems);
  return problems;
}

/** Why a key.start (refresh, reshare, repair) is not what the admin authorized. */
export function keyStartProblems(
  ceremonyId: string,
  start: Body<'key.start'>,
  adminKey: Uint8Array,
): string[] {
  const problems: string[] = [];
  const body = openAuthorization(start.authorization as Envelope, ceremonyId, adminKey, problems);
  if (body === undefined) return problems;
  if (
    body.type !== 'admin.group.refresh' &&
    body.type !== 'admin.group.reshare' &&
    body.type !== 'admin.group.repair'
  ) {
    problems.push('its authorization is not a key lifecycle operation');
    return problems;
  }
  if (body.group !== start.group) problems.push('the group is not the one the admin named');
  if (body.epoch !== start.fromEpoch) problems.push('the key epoch is not the one the admin named');
  if (body.groupPublicKey !== start.groupPublicKey) {
    problems.push('the group key is not the one the admin named');
  }
  const previous = start.previous.map((p) => p.member);
  switch (body.type) {
    case 'admin.group.refresh':
      if (start.kind !== 'refresh') problems.push('the admin asked for a refresh');
      if (
        start.threshold !== start.previousThreshold ||
        !keepsRoster(start.previous, start.participants) ||
        !sameSet(start.dealers, previous)
      ) {
        problems.push(
          'a refresh keeps the roster (with its identity keys), the dealers and the threshold',
        );
      }
      break;
    case 'admin.group.reshare':
      if (start.kind !== 'reshare') problems.push('the admin asked for a reshare');
      if (start.threshold !== body.threshold) {
        problems.push(
          `the threshold ${start.threshold} is not the ${body.threshold} the admin signed`,
        );
      }
      rosterProblems(body.members, start.participants, problems);
      if (!sameSet(start.dealers, body.dealers)) {
        problems.push('the dealers are not the ones the admin signed');
      }
      break;
    case 'admin.group.repair':
      if (start.kind !== 'repair') problems.push('the admin asked for a repair');
      if (start.member !== body.member) problems.push('the member to repair is not the admin’s');
      if (!sameSet(start.dealers, body.helpers)) {
        problems.push('the helpers are not the ones the admin signed');
      }
      if (
        start.threshold !== start.previousThreshold ||
        !keepsRoster(start.previous, start.participants)
      ) {
        problems.push('a repair keeps the roster (with its identity keys) and the threshold');
      }
      break;
  }
  identifierProblems([...start.previous, ...start.participants], problems);
  return problems;
}
