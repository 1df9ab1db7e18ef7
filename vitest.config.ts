import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The default (available cores − 1) is one worker on a 2-core CI machine. The end-to-end files
    // spend most of their time waiting on child processes, so three files at a time finish the
    // suite in well under CI's 20 minutes where one at a time does not.
    maxWorkers: 3,
    // CONCLAVE_TEST_REPORT names another report file (.ci/run's second run, on a newer Node).
    reporters: [
      'default',
      ['json', { outputFile: process.env['CONCLAVE_TEST_REPORT'] ?? 'test-artifacts/vitest.json' }],
    ],
  },
});
