// docs/protocol.md stays true: its message headings and error-code table match the schemas.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, MESSAGE_RULES, MESSAGE_TYPES } from '../src/index.js';

const doc = readFileSync(
  fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)),
  'utf8',
);

const section = (title: string): string => {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section ${title}`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
};

const documentedTypes = (): Map<string, string> => {
  const entries = new Map<string, string>();
  const parts = section('Messages')
    .split(/\n### /)
    .slice(1);
  for (const part of parts) {
    const match = /^`([^`]+)`\s*\n\s*([^\n]*)/.exec(part);
    if (match === null) throw new Error(`malformed heading: ${part.slice(0, 40)}`);
    entries.set(match[1]!, match[2]!);
  }
  return entries;
};

describe('docs/protocol.md', () => {
  it('documents exactly the message types of the discriminated union', () => {
    expect([...documentedTypes().keys()].sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  it('states a direction and whether each message is sealed or bare, matching MESSAGE_RULES', () => {
    for (const [type, line] of documentedTypes()) {
      expect(line, type).toMatch(/→|both directions/);
      const rule = MESSAGE_RULES[type as keyof typeof MESSAGE_RULES];
      expect(line, type).toContain(rule.sealed ? 'sealed' : 'bare');
    }
  });

  it('lists exactly the error codes of ERROR_CODES', () => {
    const codes = [...section('Error codes').matchAll(/^\| `([A-Z_0-9]+)` *\|/gm)].map((m) => m[1]);
    expect(codes.sort()).toEqual([...ERROR_CODES].sort());
  });
});
