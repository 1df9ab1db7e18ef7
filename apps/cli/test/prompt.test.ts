// Ctrl-C at a prompt: readline reads the terminal raw, so Ctrl-C arrives as a key, not as SIGINT,
// and without a handler the question never settled: Node exited 13 with no word. It is now
// INTERRUPTED (exit 130), as is the end of input (Ctrl-D) before an answer.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ask } from '../src/output.js';

function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => (shown += d.toString()));
  return { io: { input, output }, input, shown: () => shown };
}

/** `p`, or a rejection if it has not settled within 2 s (it never did before the fix). */
function settled<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const never = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the prompt never settled')), 2000);
  });
  return Promise.race([p, never]).finally(() => clearTimeout(timer));
}

describe('ask', () => {
  it('returns the answer, without echoing a muted one', async () => {
    const t = terminal();
    const answer = ask('Passphrase: ', true, t.io);
    t.input.write('hunter2\r');
    await expect(settled(answer)).resolves.toBe('hunter2');
    expect(t.shown()).toContain('Passphrase: ');
    expect(t.shown()).not.toContain('hunter2');
  });

  it('Ctrl-C at the passphrase prompt is INTERRUPTED, exit 130', async () => {
    const t = terminal();
    const answer = ask('Passphrase: ', true, t.io);
    t.input.write('\u0003');
    await expect(settled(answer)).rejects.toMatchObject({
      code: 'INTERRUPTED',
      exitCode: 130,
      message: 'interrupted at the passphrase prompt',
    });
  });

  it('the end of input before an answer (Ctrl-D, a closed pipe) is INTERRUPTED too', async () => {
    const t = terminal();
    const answer = ask('Approve? [y/N] ', false, t.io);
    t.input.end();
    await expect(settled(answer)).rejects.toMatchObject({ code: 'INTERRUPTED', exitCode: 130 });
  });
});
