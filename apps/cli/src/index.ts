export { buildProgram, main } from './main.js';
export { runDemo } from './demo.js';
export type { DemoOptions, DemoResult } from './demo.js';
export { CliError } from './errors.js';
