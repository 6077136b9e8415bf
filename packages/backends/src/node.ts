import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's gradient registrations, bundled for Node (see scripts/vendor-gradients.mjs).
import '../vendor/tfjs-core-gradients.js';
import { InvalidArgumentError } from '@patchlens/errors';
import { BACKEND_PREFERENCES, type BackendName, type BackendPreference } from './backend-names.js';
import { startFirstBackend } from './start-backend.js';

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

async function loadNative(): Promise<string | undefined> {
  for (const name of NATIVE_PACKAGES) {
    try {
      await import(/* @vite-ignore */ name);
      return name;
    } catch {
      // not installed: try the next one
    }
  }
  return undefined;
}

/**
 * Start a tfjs backend in Node and make it the active one.
 *
 * `auto` picks `tensorflow` when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` is installed
 * (optional peers, never installed for you: their install downloads libtensorflow), else `wasm`,
 * else `cpu` (when wasm fails to start). Importing this module also registers tfjs's gradient
 * functions (tfjs-core's own, bundled for Node), which `gradientsAtHooks` and attribution patching need.
 *
 * Limitations: a native package must match tfjs 4.x; it is loaded with a dynamic `import()`, so
 * bundling this module for Node needs those packages left external.
 *
 * @param preference - backend name or `auto` (default).
 * @returns the name of the backend now active.
 * @throws InvalidArgumentError for an unknown name, or `tensorflow` when neither native package is installed.
 * @example
 * ```ts
 * import { initNodeBackend } from '@patchlens/backends/node';
 * console.error(`backend: ${await initNodeBackend('auto')}`);
 * ```
 */
export async function initNodeBackend(
  preference: BackendPreference = 'auto',
): Promise<BackendName> {
  if (
    typeof preference !== 'string' ||
    !BACKEND_PREFERENCES.includes(preference) ||
    preference === 'webgpu' ||
    preference === 'webgl'
  ) {
    throw new InvalidArgumentError(
      `initNodeBackend: backend "${String(preference)}" is not available in Node; accepted: auto, tensorflow, wasm, cpu.`,
    );
  }
  const candidates: BackendName[] =
    preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference as BackendName];
  return startFirstBackend('initNodeBackend', preference, candidates, async (name) => {
    if (name !== 'tensorflow' || (await loadNative())) return true;
    if (preference === 'auto') return false;
    throw new InvalidArgumentError(
      'initNodeBackend: backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed next to PatchLens (npm i @tensorflow/tfjs-node), and neither could be loaded; or choose "wasm" (CLI: --backend wasm) or "auto".',
    );
  });
}
