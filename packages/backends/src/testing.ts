import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's gradient registrations, bundled for Node (see scripts/vendor-gradients.mjs).
import '../vendor/tfjs-core-gradients.js';
import { InvalidArgumentError } from '@patchlens/errors';
import { withoutNewCrashHandlers } from './process-handlers.js';
import { quietCpuGreeting } from './quiet-cpu-greeting.js';

export { SWIFTSHADER_ICD, swiftShaderEnvironment } from './swiftshader.js';

/**
 * The backends every numeric test runs on in Node.
 *
 * @example
 * ```ts
 * describe.each(TEST_BACKENDS)('on %s', (backend) => { … });
 * ```
 */
export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

/**
 * Make `name` the active backend (for a test suite's `beforeAll`). Importing this module also
 * registers tfjs's gradient functions, as `@patchlens/backends/node` does.
 *
 * @param name - `cpu` or `wasm`.
 * @throws InvalidArgumentError when the backend does not start.
 * @example
 * ```ts
 * describe.each(TEST_BACKENDS)('on %s', (backend) => { beforeAll(() => useBackend(backend)); … });
 * ```
 */
export async function useBackend(name: (typeof TEST_BACKENDS)[number]): Promise<void> {
  if (!(TEST_BACKENDS as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(
      `useBackend: backend "${String(name)}" is not a test backend; accepted: ${TEST_BACKENDS.join(', ')}.`,
    );
  }
  if (!(await withoutNewCrashHandlers(() => tf.setBackend(name)))) {
    throw new InvalidArgumentError(`useBackend: backend "${name}" could not start.`);
  }
  await tf.ready();
  quietCpuGreeting();
}
