export { runPatchlens } from './main.js';
export type { CommandIO } from './progress-reporter.js';
export { progressReporter } from './progress-reporter.js';
export { UsageError } from './usage-error.js';
