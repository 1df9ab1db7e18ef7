// Print vitest's totals as the plain closing line CI reads ("N passed, N failed"), from
// test-artifacts/vitest.json or the report named as the argument.
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(process.argv[2] ?? 'test-artifacts/vitest.json', 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(
  `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`,
);
process.exit(r.numFailedTests === 0 && r.numPassedTests > 0 ? 0 : 1);
