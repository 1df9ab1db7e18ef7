// Crash recovery of a key share swap (docs/lifecycle.md): a member that restarts with a staged
// new-epoch share asks for the ceremony's stored, sealed outcome instead of trusting the unsigned
// `ceremony.status` state. The answer carries envelopes exactly as the transcript holds them; the
// member checks the admin's authorization in `start` and every confirmer's signature in a
// `dkg.complete` (client committeeConfirmed) before it promotes anything.
import * as z from 'zod';
import { CeremonyIdSchema } from '../ids.js';
import { DkgAbortSchema, DkgCompleteSchema } from './dkg.js';
import { envelopeOf } from './envelope-schema.js';
import { KeyStartSchema } from './lifecycle.js';

/** client → coordinator: the sealed start and outcome of a key ceremony I took part in. */
export const KeyOutcomeGetSchema = z.strictObject({
  type: z.literal('key.outcome.get'),
  ceremonyId: CeremonyIdSchema,
});

/**
 * coordinator → client: the coordinator-sealed `key.start` sent to this member and, once the
 * ceremony ended, its sealed `dkg.complete` or `dkg.abort` (the latest sent to this member or to
 * everyone). A field is absent when the transcript holds no such envelope.
 */
export const KeyOutcomeSchema = z.strictObject({
  type: z.literal('key.outcome'),
  ceremonyId: CeremonyIdSchema,
  start: envelopeOf(KeyStartSchema).optional(),
  outcome: envelopeOf(z.discriminatedUnion('type', [DkgCompleteSchema, DkgAbortSchema])).optional(),
});

export type KeyOutcomeGet = z.infer<typeof KeyOutcomeGetSchema>;
export type KeyOutcome = z.infer<typeof KeyOutcomeSchema>;
