import { defineConfig } from 'vitest/config';

// One config for the whole workspace. Workspace imports resolve to each
// package's TypeScript source (the `source` export condition), so tests never
// need a build. Run everything from the root (`pnpm test:unit`) or one package
// from its folder (`pnpm test`, which points here with --config).
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['**/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    // .ci/run reads the pass/fail counts from this JSON report.
    ...(process.env.PATCHLENS_TEST_REPORT
      ? { reporters: ['default', 'json'], outputFile: { json: process.env.PATCHLENS_TEST_REPORT } }
      : {}),
    hookTimeout: 60_000,
  },
});
