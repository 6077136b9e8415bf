import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

/** The backends every numeric test runs on in Node. */
export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

/**
 * Make `name` the active backend (for a test suite's `beforeAll`); also registers gradients.
 *
 * @example
 * ```ts
 * describe.each(TEST_BACKENDS)('on %s', (backend) => { beforeAll(() => useBackend(backend)); … });
 * ```
 */
export async function useBackend(name: (typeof TEST_BACKENDS)[number]): Promise<void> {
  if (!(await tf.setBackend(name)))
    throw new Error(`useBackend: backend "${name}" could not start.`);
  await tf.ready();
}
