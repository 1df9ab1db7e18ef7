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
