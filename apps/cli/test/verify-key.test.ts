// `conclave verify --key FILE` with a file that is not a usable public key: bad input, exit 2 (the
// help's contract), with the key detector's code — not "signature does not verify" (exit 1).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import type { Ctx } from '../src/output.js';
import { cmdVerify } from '../src/verify.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  process.exitCode = undefined;
});

function files(keyText: string) {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-verify-key-'));
  dirs.push(dir);
  const artifact = join(dir, 'app.tgz');
  writeFileSync(artifact, 'release bytes\n');
  const sig = join(dir, 'app.tgz.sig');
  writeFileSync(sig, Buffer.alloc(64, 1));
  const key = join(dir, 'quorum.pub');
  writeFileSync(key, keyText);
  return { artifact, sig, key };
}

const ctx: Ctx = { json: true, progress: () => undefined, result: () => undefined };

async function refusal(keyText: string): Promise<CliError> {
  const f = files(keyText);
  try {
    await cmdVerify(f.artifact, { key: f.key, sig: f.sig }, ctx);
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('verify accepted the key file');
}

describe('conclave verify --key <not a key>', () => {
  it('a file in no key format: KEY_FORMAT_UNKNOWN, exit 2', async () => {
    const e = await refusal('this is not a public key\n');
    expect(e.code).toBe('KEY_FORMAT_UNKNOWN');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/--key .*quorum\.pub/);
  });

  it('a small-order point (the identity): KEY_MALFORMED, exit 2', async () => {
    const e = await refusal(`01${'00'.repeat(31)}\n`);
    expect(e.code).toBe('KEY_MALFORMED');
    expect(e.exitCode).toBe(2);
  });
});
