import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's gradient registrations, bundled for Node (see scripts/vendor-gradients.mjs).
import '../vendor/tfjs-core-gradients.js';
import { InvalidArgumentError } from '@patchlens/errors';
import { BACKEND_PREFERENCES, type BackendName, type BackendPreference } from './backend-names.js';
import { withoutNewCrashHandlers } from './process-handlers.js';
import { startFirstBackend } from './start-backend.js';
import { prepareDawnWebGPU, releaseDeviceAtExit, vulkanLoaderFound } from './webgpu-node.js';

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
 * Whether `auto` may take webgpu: Dawn loads and finds a hardware adapter. A software adapter
 * (SwiftShader, llvmpipe, a fallback adapter) is slower than wasm, so only a request by name gets it.
 */
async function hardwareWebGPU(): Promise<boolean> {
  if (!vulkanLoaderFound()) return false;
  try {
    return !(await prepareDawnWebGPU()).software;
  } catch {
    return false;
  }
}

async function isAvailable(preference: BackendPreference, name: BackendName): Promise<boolean> {
  if (name === 'webgpu') {
    if (preference === 'auto') return hardwareWebGPU();
    await prepareDawnWebGPU(); // throws an error that says what is missing
    return true;
  }
  if (name !== 'tensorflow' || (await loadNative())) return true;
  if (preference === 'auto') return false;
  throw new InvalidArgumentError(
    'initNodeBackend: backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed next to PatchLens (npm i @tensorflow/tfjs-node), and neither could be loaded; or choose "webgpu", "wasm" (CLI: --backend wasm) or "auto".',
  );
}

/**
 * Start a tfjs backend in Node and make it the active one.
 *
 * `auto` takes, in order: `tensorflow` when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`
 * is installed and loads (optional peers, never installed for you: their install downloads
 * libtensorflow); `webgpu` (tfjs-backend-webgpu on Dawn, from the optional dependency `webgpu`)
 * when it finds a *hardware* adapter; `wasm`; `cpu` (when wasm fails to start). A software WebGPU
 * adapter (SwiftShader, llvmpipe, a fallback adapter) is used only when `webgpu` is asked for by
 * name; `activeWebGPUAdapter()` (from `@patchlens/backends`) says which adapter runs. Importing this module also registers
 * tfjs's gradient functions (tfjs-core's own, bundled for Node), which `gradientsAtHooks` and attribution
 * patching need.
 *
 * Starting a backend leaves no process-wide crash handlers behind (tfjs-backend-wasm's would print
 * its own source instead of your script's uncaught error), and the webgpu device is destroyed
 * when the process has nothing left to do, so the process ends by itself.
 *
 * Limitations: a native package must match tfjs 4.x; native packages and `webgpu` are loaded with
 * a dynamic `import()`, so bundling this module for Node needs them left external. WebGPU needs
 * a GPU driver: on Linux the Vulkan loader (`libvulkan.so.1`) and a Vulkan driver.
 *
 * @param preference - backend name or `auto` (default).
 * @returns the name of the backend now active.
 * @throws InvalidArgumentError for an unknown name, `tensorflow` when neither native package is
 *   installed, or `webgpu` without the `webgpu` package or a WebGPU adapter.
 * @example
 * ```ts
 * import { activeWebGPUAdapter, formatWebGPUAdapter } from '@patchlens/backends';
 * import { initNodeBackend } from '@patchlens/backends/node';
 * const backend = await initNodeBackend('auto');
 * const adapter = activeWebGPUAdapter();
 * console.error(`backend: ${backend}${adapter ? ` (${formatWebGPUAdapter(adapter)})` : ''}`);
 * ```
 */
export async function initNodeBackend(
  preference: BackendPreference = 'auto',
): Promise<BackendName> {
  if (
    typeof preference !== 'string' ||
    !BACKEND_PREFERENCES.includes(preference) ||
    preference === 'webgl'
  ) {
    throw new InvalidArgumentError(
      `initNodeBackend: backend "${String(preference)}" is not available in Node; accepted: auto, tensorflow, webgpu, wasm, cpu.`,
    );
  }
  const candidates: BackendName[] =
    preference === 'auto' ? ['tensorflow', 'webgpu', 'wasm', 'cpu'] : [preference];
  const name = await withoutNewCrashHandlers(() =>
    startFirstBackend('initNodeBackend', preference, candidates, (candidate) =>
      isAvailable(preference, candidate),
    ),
  );
  if (name === 'webgpu') releaseDeviceAtExit();
  return name;
}
