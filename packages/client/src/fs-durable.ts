// Making a rename or a file creation durable (the directory entry itself is fsynced), and the
// liveness test of a lock file's owner.
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { errnoCode } from './errors.js';

/** fsync a directory, so a rename or a new file in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, fsConstants.O_RDONLY);
    await fh.sync();
  } catch (err) {
    // Some platforms/filesystems cannot fsync a directory; the rename is still atomic there.
    const code = errnoCode(err);
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await fh?.close();
  }
}

/** Whether process `pid` exists (the owner of a lock file; EPERM: it exists, run by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}
