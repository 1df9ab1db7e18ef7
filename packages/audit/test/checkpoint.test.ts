// Checkpoints (c2sp.org/tlog-checkpoint) and Ed25519 cosignatures (c2sp.org/tlog-cosignature).
import { createPrivateKey, sign as nodeSign, createHash } from 'node:crypto';
import { generateIdentityKey } from '@conclave/protocol';
import { describe, expect, it } from 'vitest';
import {
  checkpointBody,
  cosign,
  cosignatureVerifier,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatSignatureLine,
  openCheckpoint,
  openNote,
  parseCheckpointBody,
  parseNote,
  signCheckpoint,
  verifyCosignature,
} from '../src/index.js';
import { MemLog, ORIGIN, codeOf } from './helpers.js';

const ROOT = Buffer.from('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'base64');

describe('checkpoints', () => {
  it('writes the tlog-checkpoint body: origin, size, base64 root, each newline-terminated', () => {
    expect(
      checkpointBody({ origin: 'example.com/behind-the-sofa', size: 20852163, root: ROOT }),
    ).toBe('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
    const cp = parseCheckpointBody(
      'example.com/behind-the-sofa\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextra\n',
    );
    expect(cp.size).toBe(0);
    expect(cp.extensions).toEqual(['extra']);
  });

  it('signs with key name = origin and opens under the log key', () => {
    const log = new MemLog().grow(5);
    const note = log.checkpoint();
    const cp = openCheckpoint(note, log.verifier);
    expect(cp.origin).toBe(ORIGIN);
    expect(cp.size).toBe(5);
    expect(Buffer.from(cp.root)).toEqual(Buffer.from(log.root()));
    expect(parseNote(note).signatures[0]?.name).toBe(ORIGIN);
  });

  const bad: [string, string][] = [
    ['two lines', 'o\n1\n'],
    ['empty line', 'o\n1\n\nAAAA\n'],
    ['no final newline', `o\n1\n${ROOT.toString('base64')}`],
    ['leading zero', `o\n01\n${ROOT.toString('base64')}\n`],
    ['negative size', `o\n-1\n${ROOT.toString('base64')}\n`],
    ['hex size', `o\n0x10\n${ROOT.toString('base64')}\n`],
    ['size above 2^53', `o\n9007199254740993\n${ROOT.toString('base64')}\n`],
    ['short root', `o\n1\n${ROOT.subarray(1).toString('base64')}\n`],
    ['root not base64', `o\n1\n${'!'.repeat(44)}\n`],
    ['space in origin', `o o\n1\n${ROOT.toString('base64')}\n`],
  ];
  for (const [name, body] of bad) {
    it(`rejects a malformed checkpoint body (${name}): CHECKPOINT_MALFORMED`, () => {
      expect(codeOf(() => parseCheckpointBody(body))).toBe('CHECKPOINT_MALFORMED');
    });
  }

  it('rejects a checkpoint signed by another key: NOTE_UNVERIFIED', () => {
    const log = new MemLog().grow(2);
    const other = new MemLog();
    expect(codeOf(() => openCheckpoint(log.checkpoint(), other.verifier))).toBe('NOTE_UNVERIFIED');
  });

  it('rejects a checkpoint whose origin is not the key name: CHECKPOINT_ORIGIN_MISMATCH', () => {
    const key = generateIdentityKey();
    const signer = ed25519NoteSigner(ORIGIN, key);
    const note = `other.example/log\n1\n${ROOT.toString('base64')}\n\n${formatSignatureLine({
      name: ORIGIN,
      keyId: signer.keyId,
      signature: signer.sign(
        new TextEncoder().encode(`other.example/log\n1\n${ROOT.toString('base64')}\n`),
      ),
    })}`;
    expect(codeOf(() => openCheckpoint(note, ed25519NoteVerifier(ORIGIN, key.publicKey)))).toBe(
      'CHECKPOINT_ORIGIN_MISMATCH',
    );
    expect(
      codeOf(() => signCheckpoint(signer, { origin: 'x.example/y', size: 0, root: ROOT })),
    ).toBe('CHECKPOINT_ORIGIN_MISMATCH');
  });

  it('rejects a checkpoint whose size was edited under the signature: NOTE_BAD_SIGNATURE', () => {
    const log = new MemLog().grow(3);
    const note = log.checkpoint().replace('\n3\n', '\n4\n');
    expect(codeOf(() => openCheckpoint(note, log.verifier))).toBe('NOTE_BAD_SIGNATURE');
  });
});

describe('cosignatures (tlog-cosignature, Ed25519 cosignature/v1)', () => {
  it('signs "cosignature/v1\\ntime T\\n" + body with key ID type 0x04 and a u64 timestamp', () => {
    const seed = Buffer.alloc(32, 7);
    const witness = { name: 'witness.example/w1', key: { ...generateIdentityKey(seed) } };
    const body = checkpointBody({
      origin: 'example.com/behind-the-sofa',
      size: 20852163,
      root: ROOT,
    });
    const c = cosign(witness, body, 1679315147);
    // Independent computation with OpenSSL through node:crypto.
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const expectedSig = nodeSign(
      null,
      Buffer.from(`cosignature/v1\ntime 1679315147\n${body}`),
      createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    );
    const id = createHash('sha256')
      .update(
        Buffer.concat([
          Buffer.from('witness.example/w1\n'),
          Buffer.from([4]),
          witness.key.publicKey,
        ]),
      )
      .digest()
      .readUInt32BE(0);
    expect(c.keyId).toBe(id);
    expect(Buffer.from(c.signature.subarray(0, 8)).readBigUInt64BE(0)).toBe(1679315147n);
    expect(Buffer.from(c.signature.subarray(8))).toEqual(expectedSig);
    expect(verifyCosignature(c, body, witness.name, witness.key.publicKey)).toBe(1679315147);
  });

  it('verifies inside a note next to the log signature', () => {
    const log = new MemLog().grow(4);
    const w = { name: 'conclave.member/alice', key: generateIdentityKey() };
    const note = log.checkpoint();
    const cp = openCheckpoint(note, log.verifier);
    const line = formatSignatureLine(cosign(w, cp.body, 1_700_000_000));
    const cosigned = note + line;
    const opened = openNote(cosigned, [log.verifier, cosignatureVerifier(w.name, w.key.publicKey)]);
    expect(opened.verified.map((s) => s.name)).toEqual([ORIGIN, w.name]);
    // The log key alone still opens it: the cosignature is an unknown key, ignored.
    expect(openCheckpoint(cosigned, log.verifier).size).toBe(4);
  });

  it('rejects a cosignature whose timestamp was changed: COSIGNATURE_INVALID', () => {
    const w = { name: 'w.example/1', key: generateIdentityKey() };
    const body = checkpointBody({ origin: ORIGIN, size: 1, root: ROOT });
    const c = cosign(w, body, 100);
    const sig = Uint8Array.from(c.signature);
    sig[7] = 101;
    expect(
      codeOf(() => verifyCosignature({ ...c, signature: sig }, body, w.name, w.key.publicKey)),
    ).toBe('COSIGNATURE_INVALID');
  });

  it('rejects a cosignature by another witness name or key: COSIGNATURE_INVALID', () => {
    const w = { name: 'w.example/1', key: generateIdentityKey() };
    const body = checkpointBody({ origin: ORIGIN, size: 1, root: ROOT });
    const c = cosign(w, body, 100);
    expect(codeOf(() => verifyCosignature(c, body, 'w.example/2', w.key.publicKey))).toBe(
      'COSIGNATURE_INVALID',
    );
    expect(codeOf(() => verifyCosignature(c, body, w.name, generateIdentityKey().publicKey))).toBe(
      'COSIGNATURE_INVALID',
    );
  });

  it('rejects a cosignature of another checkpoint: COSIGNATURE_INVALID', () => {
    const w = { name: 'w.example/1', key: generateIdentityKey() };
    const body = checkpointBody({ origin: ORIGIN, size: 1, root: ROOT });
    const c = cosign(w, body, 100);
    const other = checkpointBody({ origin: ORIGIN, size: 2, root: ROOT });
    expect(codeOf(() => verifyCosignature(c, other, w.name, w.key.publicKey))).toBe(
      'COSIGNATURE_INVALID',
    );
  });

  it('rejects a cosignature blob of the wrong length: COSIGNATURE_INVALID', () => {
    const w = { name: 'w.example/1', key: generateIdentityKey() };
    const body = checkpointBody({ origin: ORIGIN, size: 1, root: ROOT });
    const c = cosign(w, body, 100);
    expect(
      codeOf(() =>
        verifyCosignature(
          { ...c, signature: c.signature.subarray(1) },
          body,
          w.name,
          w.key.publicKey,
        ),
      ),
    ).toBe('COSIGNATURE_INVALID');
  });
});
