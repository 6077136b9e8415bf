// Test-only helper (excluded from the build): tensor-hooks cannot depend on @patchlens/backends
// (backends depends on tensor-hooks), so its tests set the backend up here.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

/** The backends every numeric test runs on in Node. */
export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

/** Make `name` the active backend (call in a suite's `beforeAll`). Gradients are registered by the tfjs import above. */
export async function useBackend(name: (typeof TEST_BACKENDS)[number]): Promise<void> {
  if (!(await tf.setBackend(name)))
    throw new Error(`useBackend: backend "${name}" could not start.`);
  await tf.ready();
}
