// The signed envelope's wire shape, generic over its body (see ../envelope.ts for sealing).
import * as z from 'zod';
import { SignatureHexSchema } from '../hex.js';
import { CeremonyIdSchema, RoundSchema, SenderIdSchema, SeqSchema } from '../ids.js';

export function envelopeOf<B extends z.ZodType>(body: B) {
  return z.strictObject({
    type: z.literal('envelope'),
    ceremonyId: CeremonyIdSchema,
    round: RoundSchema,
    seq: SeqSchema,
    sender: SenderIdSchema,
    body,
    signature: SignatureHexSchema,
  });
}
