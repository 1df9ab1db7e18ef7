// The CLI's bundle (scripts/build.mjs) and the rule that decides when bin/conclave.mjs may run it
// (bin/bundle.mjs): only while every input is unchanged, so an edit is never shadowed by an old
// bundle. Both ways of running must print the same thing.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleIsCurrent, DEFAULT_MANIFEST } from '../bin/bundle.mjs';
import { buildCli } from '../scripts/build.mjs';
import { tempDir } from '../../../test/support.js';

const BIN = fileURLToPath(new URL('../bin/conclave.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

function cli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the CLI bundle', () => {
  beforeAll(async () => {
    await buildCli({ quiet: true });
  });

  it('is current right after a build, and lists the sources it was built from', () => {
    expect(bundleIsCurrent()).toBe(true);
    const manifest = JSON.parse(readFileSync(DEFAULT_MANIFEST, 'utf8')) as {
      inputs: [string, number, number][];
    };
    const paths = manifest.inputs.map(([p]) => p);
    for (const source of [
      'apps/cli/src/main.ts',
      'apps/coordinator/src/crypto-pool-worker.ts',
      'apps/coordinator/src/server.ts',
      'packages/client/src/signer.ts',
      'packages/frost/src/index.ts',
    ]) {
      expect(paths).toContain(source);
    }
  });

  it('runs the same program as the sources: --help and a usage error print the same', async () => {
    for (const args of [['--help'], ['approve', '--help'], ['no-such-command', '--json']]) {
      const bundled = await cli(args);
      const source = await cli(args, { CONCLAVE_FROM_SOURCE: '1' });
      expect(bundled.stdout).not.toBe('');
      expect({ code: bundled.code, stdout: bundled.stdout }).toEqual({
        code: source.code,
        stdout: source.stdout,
      });
    }
  });

  it("ships the coordinator's crypto worker, which starts from the bundle", async () => {
    const worker = new Worker(new URL('crypto-pool-worker.mjs', `file://${DIST}`), {
      workerData: { nice: 0 },
    });
    try {
      const first = await new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      // Ready, at the priority it was asked for (no increment: this thread's own).
      expect(first).toEqual({ ready: true, nice: getPriority() });
    } finally {
      await worker.terminate();
    }
  });
});

describe('bundleIsCurrent', () => {
  function fixture() {
    const root = tempDir('conclave-bundle-');
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src/a.ts'), 'export const a = 1;\n');
    writeFileSync(join(root, 'src/b.ts'), 'export const b = 2;\n');
    const manifest = join(root, 'inputs.json');
    const record = (inputs: unknown, version: unknown = 1) =>
      writeFileSync(manifest, JSON.stringify({ version, inputs }));
    const entries = () =>
      ['src/a.ts', 'src/b.ts'].map((p) => {
        const st = statSync(join(root, p));
        return [p, st.size, st.mtimeMs];
      });
    record(entries());
    const current = (env: Record<string, string> = {}) => bundleIsCurrent({ root, manifest, env });
    return { root, manifest, record, entries, current };
  }

  it('is true while every input has its recorded size and modification time', () => {
    expect(fixture().current()).toBe(true);
  });

  it('is false once an input is edited, even to the same size', () => {
    const fx = fixture();
    writeFileSync(join(fx.root, 'src/a.ts'), 'export const a = 9;\n');
    utimesSync(join(fx.root, 'src/a.ts'), new Date(), new Date(Date.now() + 5_000));
    expect(fx.current()).toBe(false);
  });

  it('is false once an input changes size', () => {
    const fx = fixture();
    const p = join(fx.root, 'src/b.ts');
    const st = statSync(p);
    writeFileSync(p, 'export const b = 22;\n');
    utimesSync(p, st.atime, st.mtime);
    expect(fx.current()).toBe(false);
  });

  it('is false once an input is gone', () => {
    const fx = fixture();
    rmSync(join(fx.root, 'src/b.ts'));
    expect(fx.current()).toBe(false);
  });

  it('is false without a manifest, or with one it cannot read', () => {
    const fx = fixture();
    writeFileSync(fx.manifest, '{"version":1,"inputs":[');
    expect(fx.current()).toBe(false);
    rmSync(fx.manifest);
    expect(fx.current()).toBe(false);
  });

  it('is false for a manifest of another version, with no inputs, or with a malformed entry', () => {
    const fx = fixture();
    fx.record(fx.entries(), 2);
    expect(fx.current()).toBe(false);
    fx.record([]);
    expect(fx.current()).toBe(false);
    fx.record([...fx.entries(), ['src/a.ts', 1]]);
    expect(fx.current()).toBe(false);
    fx.record({ 'src/a.ts': 1 });
    expect(fx.current()).toBe(false);
  });

  it('is false for an input outside the root', () => {
    const fx = fixture();
    const outside = join(fx.root, '..', 'x.ts');
    fx.record([...fx.entries(), ['../x.ts', 0, 0]]);
    expect(fx.current()).toBe(false);
    fx.record([...fx.entries(), [outside, 0, 0]]);
    expect(fx.current()).toBe(false);
  });

  it('is false when CONCLAVE_FROM_SOURCE=1 asks for the sources', () => {
    const fx = fixture();
    expect(fx.current({ CONCLAVE_FROM_SOURCE: '1' })).toBe(false);
    expect(fx.current({ CONCLAVE_FROM_SOURCE: '0' })).toBe(true);
  });
});
