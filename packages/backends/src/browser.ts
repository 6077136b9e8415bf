import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Registers tfjs's gradient functions (bundlers resolve tfjs-core's ESM build).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import type { BackendName, BackendPreference } from './backend-names.js';

/**
 * Start a tfjs backend in the browser and make it the active one.
 *
 * `auto` tries `webgpu`, then `webgl`, then `wasm`, then `cpu`, skipping backends that are not
 * registered. The GPU backends are optional peer dependencies: import the ones you want once in your
 * app (`import '@tensorflow/tfjs-backend-webgpu'`) before calling this.
 *
 * @param preference - backend name or `auto` (default).
 * @returns the name of the backend now active.
 * @example
 * ```ts
 * import { initBrowserBackend } from '@patchlens/backends/browser';
 * document.title = `PatchLens on ${await initBrowserBackend()}`;
 * ```
 */
export async function initBrowserBackend(
  preference: BackendPreference = 'auto',
): Promise<BackendName> {
  if (preference === 'tensorflow') {
    throw new InvalidArgumentError(
      'initBrowserBackend: "tensorflow" runs only in Node; accepted: auto, webgpu, webgl, wasm, cpu.',
    );
  }
  const candidates: BackendName[] =
    preference === 'auto' ? ['webgpu', 'webgl', 'wasm', 'cpu'] : [preference];
  for (const name of candidates) {
    try {
      if (!tf.findBackendFactory(name)) continue;
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch (error) {
      if (preference !== 'auto') throw error;
    }
  }
  throw new InvalidArgumentError(
    `initBrowserBackend: no backend could be started for "${preference}".`,
  );
}
