// Runs a command that prints its own output (its --json document) with stdout captured and stderr
// silenced, and hands back what it printed and the exit status it set (then reset: the status is
// the command's, not the test process's).
import { vi } from 'vitest';

export async function captured(
  fn: () => Promise<unknown>,
): Promise<{ out: string; exitCode: number | undefined }> {
  let out = '';
  const write = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => {
      out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  let exitCode: number | undefined;
  try {
    await fn();
  } finally {
    exitCode = process.exitCode === undefined ? undefined : Number(process.exitCode);
    process.exitCode = undefined;
    write.mockRestore();
    stderr.mockRestore();
  }
  return { out, exitCode };
}
