// The CLI contract (DESIGN.md): every command has --help and --json. Walks the real program, so a
// command added without `common(...)` fails here.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/main.js';

/** Every command that runs something (no subcommands of its own), with its full name. */
function leaves(cmd: Command, prefix = ''): { name: string; cmd: Command }[] {
  return cmd.commands.flatMap((sub) => {
    const name = `${prefix}${sub.name()}`;
    return sub.commands.length === 0 ? [{ name, cmd: sub }] : leaves(sub, `${name} `);
  });
}

describe('conclave commands', () => {
  const all = leaves(buildProgram());

  it('finds the commands of the CLI contract', () => {
    const names = all.map((l) => l.name);
    for (const expected of [
      'init',
      'coordinator start',
      'member add',
      'group create',
      'keygen',
      'request',
      'inbox',
      'status',
      'approve',
      'reject',
      'cancel',
      'agent',
      'fetch',
      'demo',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it.each(all.map((l) => [l.name, l.cmd] as const))('%s has --json and a description', (_, cmd) => {
    expect(cmd.options.map((o) => o.long)).toContain('--json');
    expect(cmd.description().length).toBeGreaterThan(10);
    expect(cmd.helpInformation()).toMatch(/^Usage: /);
  });
});

describe('conclave --version', () => {
  it('prints the CLI and protocol versions; the CLI version is the package version', async () => {
    const { readFileSync } = await import('node:fs');
    const { CONCLAVE_VERSION, main } = await import('../src/main.js');
    const { PROTOCOL_VERSION } = await import('@conclave/protocol');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(CONCLAVE_VERSION).toBe(pkg.version);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['--version']);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    expect(out.join('')).toBe(`conclave ${pkg.version} (protocol v${PROTOCOL_VERSION})\n`);
  });

  it("leaves a command's own --version option alone (request --version is the release's)", async () => {
    const program = buildProgram();
    let got: unknown;
    const request = program.commands.find((c) => c.name() === 'request')!;
    request.action((opts: { version?: string }) => {
      got = opts.version;
    });
    await program.parseAsync(['request', '--group', 'g', '--json', '--version', '9.9.9'], {
      from: 'user',
    });
    expect(got).toBe('9.9.9');
  });
});

describe('a missing command', () => {
  /** main() with stdout captured and the usage commander prints on stderr silenced. */
  const mainOut = async (argv: string[]) => {
    const { main } = await import('../src/main.js');
    const { captured } = await import('./capture.js');
    let code = -1;
    const r = await captured(async () => {
      code = await main(argv);
    });
    return { code, out: r.out };
  };

  it.each([[[]], [['group']], [['key']]])(
    'conclave %j is a usage error: exit 2, nothing on stdout',
    async (argv) => {
      const r = await mainOut(argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
    },
  );

  it.each([[['--json']], [['group', '--json']]])(
    'conclave %j prints one JSON error document naming the commands to choose from',
    async (argv) => {
      const r = await mainOut(argv);
      expect(r.code).toBe(2);
      const lines = r.out.trim().split('\n');
      expect(lines).toHaveLength(1);
      const doc = JSON.parse(lines[0]!) as {
        ok: boolean;
        error: { code: string; message: string };
      };
      expect(doc.ok).toBe(false);
      expect(doc.error.code).toBe('INVALID_ARGUMENT');
      expect(doc.error.message).toMatch(
        argv[0] === 'group'
          ? /`conclave group` needs a command \(create, show/
          : /`conclave` needs a command \(init/,
      );
    },
  );

  it.each([[['--help']], [['group', '--help']], [['help']], [['help', 'group']]])(
    'conclave %j still exits 0',
    async (argv) => {
      expect((await mainOut(argv)).code).toBe(0);
    },
  );
});
