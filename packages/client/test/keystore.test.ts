import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClientError,
  KEYSTORE_KDF_DEFAULTS,
  readKeystore,
  readKeystoreMetadata,
  writeKeystore,
} from '../src/index.js';
import type { ClientErrorCode, WriteKeystoreOptions } from '../src/index.js';
import { canonicalJson } from '@conclave/protocol';

const NUM_RUNS = Number(process.env['FC_NUM_RUNS'] ?? 50);
const PASS = 'correct horse battery staple';
const WEAK: WriteKeystoreOptions = { kdfParams: { N: 2 ** 10, r: 8, p: 1 }, allowWeakKdf: true };
const TEST_OPEN = { allowWeakKdf: true } as const;
const SECRET = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
const SECRET_HEX = Buffer.from(SECRET).toString('hex');
const METADATA = {
  groupId: 'grp_release_2025',
  member: 'alice',
  suite: 'FROST-ED25519-SHA512-v1',
  publicKeyPackageFingerprint: 'a'.repeat(64),
  verifyingShares: { alice: '11'.repeat(32), bob: '22'.repeat(32) },
};

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conclave-keystore-'));
  file = join(dir, 'share.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `fn`, asserts it throws a ClientError whose message never echoes a secret, returns the code. */
async function codeOf(fn: () => Promise<unknown>): Promise<ClientErrorCode> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError);
    const e = err as ClientError;
    expect(e.message).not.toContain(PASS);
    expect(e.message).not.toContain(SECRET_HEX);
    return e.code;
  }
  throw new Error('expected a ClientError, but the call succeeded');
}

const writeTestKeystore = () =>
  writeKeystore(file, { secret: SECRET, metadata: METADATA }, PASS, WEAK);

describe('keystore', () => {
  it('round-trips the secret and the metadata', async () => {
    await writeTestKeystore();
    const opened = await readKeystore(file, PASS, TEST_OPEN);
    expect(opened.secret).toEqual(SECRET);
    expect(opened.metadata).toEqual(METADATA);
    expect(await readKeystoreMetadata(file, TEST_OPEN)).toEqual(METADATA);
  });

  it('writes the documented format: canonical JSON header, hex salt/nonce/ciphertext', async () => {
    await writeTestKeystore();
    const text = await readFile(file, 'utf8');
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(text).toBe(`${canonicalJson(doc)}\n`);
    expect(doc).toMatchObject({
      format: 'conclave-keystore',
      version: 1,
      cipher: 'xchacha20poly1305',
      kdf: { name: 'scrypt', N: 1024, r: 8, p: 1 },
      metadata: METADATA,
    });
    expect((doc['kdf'] as { salt: string }).salt).toMatch(/^[0-9a-f]{64}$/);
    expect(doc['nonce']).toMatch(/^[0-9a-f]{48}$/);
    // ciphertext = plaintext length + 16-byte Poly1305 tag
    expect(doc['ciphertext']).toMatch(new RegExp(`^[0-9a-f]{${(SECRET.length + 16) * 2}}$`));
    expect(text).not.toContain(SECRET_HEX);
  });

  it('uses production scrypt parameters by default and reports progress', async () => {
    const progress: number[] = [];
    await writeKeystore(file, { secret: SECRET, metadata: {} }, PASS, {
      onProgress: (f) => progress.push(f),
    });
    const doc = JSON.parse(await readFile(file, 'utf8')) as { kdf: Record<string, unknown> };
    expect(doc.kdf).toMatchObject({ N: KEYSTORE_KDF_DEFAULTS.N, r: 8, p: 1 });
    expect(KEYSTORE_KDF_DEFAULTS.N).toBe(2 ** 17);
    expect(progress.length).toBeGreaterThan(0);
    expect(Math.max(...progress)).toBeGreaterThan(0.99);
    expect((await readKeystore(file, PASS)).secret).toEqual(SECRET);
  });

  it('treats equivalent Unicode spellings of a passphrase as the same (NFC)', async () => {
    await writeKeystore(file, { secret: SECRET, metadata: {} }, 'caf\u00e9-pass', WEAK);
    const opened = await readKeystore(file, 'cafe\u0301-pass', TEST_OPEN);
    expect(opened.secret).toEqual(SECRET);
  });

  describe('rejection rules', () => {
    it('reject a wrong passphrase with KEYSTORE_DECRYPT_FAILED and a message that names both causes', async () => {
      await writeTestKeystore();
      let message = '';
      try {
        await readKeystore(file, 'not the passphrase', TEST_OPEN);
      } catch (err) {
        expect(err).toBeInstanceOf(ClientError);
        expect((err as ClientError).code).toBe('KEYSTORE_DECRYPT_FAILED');
        message = (err as ClientError).message;
      }
      expect(message).toContain('wrong passphrase or the file is damaged');
      expect(message).not.toContain('not the passphrase');
    });

    it('reject every single flipped bit of the ciphertext, nonce and salt with KEYSTORE_DECRYPT_FAILED', async () => {
      await writeTestKeystore();
      const original = await readFile(file, 'utf8');
      const doc = JSON.parse(original) as {
        ciphertext: string;
        nonce: string;
        kdf: { salt: string };
      };
      const fields: Array<[string, (d: typeof doc) => string, (d: typeof doc, v: string) => void]> =
        [
          ['ciphertext', (d) => d.ciphertext, (d, v) => (d.ciphertext = v)],
          ['nonce', (d) => d.nonce, (d, v) => (d.nonce = v)],
          ['salt', (d) => d.kdf.salt, (d, v) => (d.kdf.salt = v)],
        ];
      for (const [, get, set] of fields) {
        const bytes = Buffer.from(get(doc), 'hex');
        for (let i = 0; i < bytes.length; i++) {
          const tampered = structuredClone(doc);
          const b = Buffer.from(bytes);
          b[i] = (b[i] ?? 0) ^ (1 << (i % 8));
          set(tampered, b.toString('hex'));
          await writeFile(file, `${canonicalJson(tampered)}\n`, { mode: 0o600 });
          expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe(
            'KEYSTORE_DECRYPT_FAILED',
          );
        }
      }
    });

    it('reject a file with any byte position flipped (every position), never opening it', async () => {
      await writeTestKeystore();
      const original = await readFile(file);
      const seen = new Set<ClientErrorCode>();
      for (let i = 0; i < original.length; i++) {
        const tampered = Buffer.from(original);
        tampered[i] = (tampered[i] ?? 0) ^ 0x01;
        await writeFile(file, tampered, { mode: 0o600 });
        const code = await codeOf(() => readKeystore(file, PASS, TEST_OPEN));
        expect([
          'KEYSTORE_MALFORMED',
          'KEYSTORE_DECRYPT_FAILED',
          'KEYSTORE_UNSUPPORTED_VERSION',
        ]).toContain(code);
        seen.add(code);
      }
      expect(seen.has('KEYSTORE_DECRYPT_FAILED')).toBe(true);
      expect(seen.has('KEYSTORE_MALFORMED')).toBe(true);
    });

    it('reject a file with a random byte changed at a random position (property)', async () => {
      await writeTestKeystore();
      const original = await readFile(file);
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: original.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          async (pos, mask) => {
            const tampered = Buffer.from(original);
            tampered[pos] = (tampered[pos] ?? 0) ^ mask;
            await writeFile(file, tampered, { mode: 0o600 });
            const code = await codeOf(() => readKeystore(file, PASS, TEST_OPEN));
            expect([
              'KEYSTORE_MALFORMED',
              'KEYSTORE_DECRYPT_FAILED',
              'KEYSTORE_UNSUPPORTED_VERSION',
            ]).toContain(code);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });

    it('reject an edited header (swapped verifying-share fingerprint, THREATS B.32) with KEYSTORE_DECRYPT_FAILED', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as { metadata: typeof METADATA };
      doc.metadata.publicKeyPackageFingerprint = 'b'.repeat(64);
      await writeFile(file, `${canonicalJson(doc)}\n`, { mode: 0o600 });
      // Reading the metadata alone is not authenticated and shows the edit...
      expect((await readKeystoreMetadata(file, TEST_OPEN))['publicKeyPackageFingerprint']).toBe(
        'b'.repeat(64),
      );
      // ...opening it is refused.
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe(
        'KEYSTORE_DECRYPT_FAILED',
      );
    });

    it('reject an added metadata field with KEYSTORE_DECRYPT_FAILED', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as { metadata: Record<string, unknown> };
      doc.metadata['role'] = 'admin';
      await writeFile(file, `${canonicalJson(doc)}\n`, { mode: 0o600 });
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe(
        'KEYSTORE_DECRYPT_FAILED',
      );
    });

    it('reject an edited KDF parameter with KEYSTORE_DECRYPT_FAILED', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as { kdf: { r: number } };
      doc.kdf.r = 9;
      await writeFile(file, `${canonicalJson(doc)}\n`, { mode: 0o600 });
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe(
        'KEYSTORE_DECRYPT_FAILED',
      );
    });

    it('reject writing with weak KDF parameters without allowWeakKdf (KEYSTORE_WEAK_KDF)', async () => {
      const code = await codeOf(() =>
        writeKeystore(file, { secret: SECRET, metadata: {} }, PASS, {
          kdfParams: { N: 2 ** 10, r: 8, p: 1 },
        }),
      );
      expect(code).toBe('KEYSTORE_WEAK_KDF');
      expect(await readdir(dir)).toEqual([]);
    });

    it('reject opening a weak-KDF file without allowWeakKdf (KEYSTORE_WEAK_KDF)', async () => {
      await writeTestKeystore();
      expect(await codeOf(() => readKeystore(file, PASS))).toBe('KEYSTORE_WEAK_KDF');
      expect(await codeOf(() => readKeystoreMetadata(file))).toBe('KEYSTORE_WEAK_KDF');
    });

    it('reject KDF parameters that would need more than 1 GiB (KEYSTORE_MALFORMED)', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as { kdf: { N: number } };
      doc.kdf.N = 2 ** 24;
      await writeFile(file, `${canonicalJson(doc)}\n`, { mode: 0o600 });
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe('KEYSTORE_MALFORMED');
    });

    it('reject a file readable by group or others (KEYSTORE_LOOSE_PERMISSIONS) and say how to fix it', async () => {
      await writeTestKeystore();
      for (const mode of [0o644, 0o640, 0o604]) {
        await chmod(file, mode);
        let message = '';
        try {
          await readKeystore(file, PASS, TEST_OPEN);
        } catch (err) {
          expect((err as ClientError).code).toBe('KEYSTORE_LOOSE_PERMISSIONS');
          message = (err as ClientError).message;
        }
        expect(message).toContain(`chmod 600 ${file}`);
        expect(await codeOf(() => readKeystoreMetadata(file, TEST_OPEN))).toBe(
          'KEYSTORE_LOOSE_PERMISSIONS',
        );
      }
      await chmod(file, 0o600);
      expect((await readKeystore(file, PASS, TEST_OPEN)).secret).toEqual(SECRET);
    });

    it('reject a missing file (KEYSTORE_NOT_FOUND)', async () => {
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe('KEYSTORE_NOT_FOUND');
      expect(await codeOf(() => readKeystoreMetadata(file))).toBe('KEYSTORE_NOT_FOUND');
    });

    it('reject unparsable content (KEYSTORE_MALFORMED)', async () => {
      for (const content of [
        '',
        'not json',
        '[]',
        '{"format":"something-else"}',
        '{"format":"conclave-keystore","version":1}',
      ]) {
        await writeFile(file, content, { mode: 0o600 });
        expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe('KEYSTORE_MALFORMED');
      }
    });

    it('reject a valid document that is not in canonical form (KEYSTORE_MALFORMED)', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as unknown;
      await writeFile(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe('KEYSTORE_MALFORMED');
    });

    it('reject an unknown field in the header (KEYSTORE_MALFORMED, strict schema)', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      doc['extra'] = true;
      await writeFile(file, `${canonicalJson(doc)}\n`, { mode: 0o600 });
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe('KEYSTORE_MALFORMED');
    });

    it('reject an unsupported version (KEYSTORE_UNSUPPORTED_VERSION)', async () => {
      await writeTestKeystore();
      const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      doc['version'] = 2;
      doc['kdf'] = { name: 'argon2id' };
      await writeFile(file, `${canonicalJson(doc)}\n`, { mode: 0o600 });
      expect(await codeOf(() => readKeystore(file, PASS, TEST_OPEN))).toBe(
        'KEYSTORE_UNSUPPORTED_VERSION',
      );
      expect(await codeOf(() => readKeystoreMetadata(file, TEST_OPEN))).toBe(
        'KEYSTORE_UNSUPPORTED_VERSION',
      );
    });

    it('reject overwriting an existing keystore unless asked (KEYSTORE_EXISTS)', async () => {
      await writeTestKeystore();
      const other = new Uint8Array(32).fill(7);
      expect(
        await codeOf(() => writeKeystore(file, { secret: other, metadata: {} }, PASS, WEAK)),
      ).toBe('KEYSTORE_EXISTS');
      expect((await readKeystore(file, PASS, TEST_OPEN)).secret).toEqual(SECRET);
      await writeKeystore(file, { secret: other, metadata: {} }, PASS, {
        ...WEAK,
        overwrite: true,
      });
      expect((await readKeystore(file, PASS, TEST_OPEN)).secret).toEqual(other);
      expect(await readdir(dir)).toEqual(['share.json']);
    });

    it('reject bad arguments (INVALID_ARGUMENT)', async () => {
      const cases: Array<() => Promise<unknown>> = [
        () => writeKeystore(file, { secret: new Uint8Array(0), metadata: {} }, PASS, WEAK),
        () => writeKeystore(file, { secret: SECRET, metadata: { n: Number.NaN } }, PASS, WEAK),
        () => writeKeystore(file, { secret: SECRET, metadata: { d: new Date(0) } }, PASS, WEAK),
        () => writeKeystore(file, { secret: SECRET, metadata: {} }, '', WEAK),
        () =>
          writeKeystore(file, { secret: SECRET, metadata: {} }, PASS, {
            kdfParams: { N: 1000, r: 8, p: 1 },
            allowWeakKdf: true,
          }),
      ];
      for (const c of cases) expect(await codeOf(c)).toBe('INVALID_ARGUMENT');
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it('writes atomically: mode 0600 even with umask 000, and no temp files left', async () => {
    const old = process.umask(0o000);
    try {
      await writeTestKeystore();
    } finally {
      process.umask(old);
    }
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['share.json']);
  });

  it('leaves no temp file when the write fails', async () => {
    const missing = join(dir, 'no-such-dir', 'share.json');
    expect(
      await codeOf(() => writeKeystore(missing, { secret: SECRET, metadata: {} }, PASS, WEAK)),
    ).toBe('KEYSTORE_IO_ERROR');
    expect(await readdir(dir)).toEqual([]);
  });
});
