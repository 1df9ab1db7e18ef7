#!/usr/bin/env node
// Runs the CLI from its bundle (dist/conclave.mjs, made by scripts/build.mjs at `pnpm install`) when
// every file the bundle was built from is unchanged, and from the TypeScript sources through tsx
// otherwise (an edited checkout, no bundle yet, or CONCLAVE_FROM_SOURCE=1). Both run the same code;
// the bundle only starts faster (about 0.45 s against 1.4 s here).
import { bundleIsCurrent } from './bundle.mjs';

if (bundleIsCurrent()) {
  await import('../dist/conclave.mjs');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
