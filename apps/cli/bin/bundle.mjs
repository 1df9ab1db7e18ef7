// Whether the CLI's bundle (apps/cli/dist, made by scripts/build.mjs) may run: only while every file
// it was built from has the size and modification time recorded in dist/inputs.json. Anything else
// (no bundle, an edited or missing input, an unreadable manifest, CONCLAVE_FROM_SOURCE=1) means
// "run the sources", which is always correct, only slower to start.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_MANIFEST = fileURLToPath(new URL('../dist/inputs.json', import.meta.url));

export function bundleIsCurrent({
  root = DEFAULT_ROOT,
  manifest = DEFAULT_MANIFEST,
  env = process.env,
} = {}) {
  if (env.CONCLAVE_FROM_SOURCE === '1') return false;
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object' || parsed.version !== 1) return false;
  const { inputs } = parsed;
  if (!Array.isArray(inputs) || inputs.length === 0) return false;
  for (const entry of inputs) {
    if (!Array.isArray(entry) || entry.length !== 3) return false;
    const [path, size, mtimeMs] = entry;
    if (typeof path !== 'string' || path.startsWith('/') || path.split('/').includes('..')) {
      return false;
    }
    const st = statSync(join(root, path), { throwIfNoEntry: false });
    if (st === undefined || st.size !== size || st.mtimeMs !== mtimeMs) return false;
  }
  return true;
}
