// Test-only helper (excluded from the build). Kept so the tests' imports stay put; the backend set-up
// (and the gradient registrations) come from @patchlens/backends, a dev dependency of this package.
export { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
