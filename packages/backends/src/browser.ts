import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Registers tfjs's gradient functions (bundlers resolve tfjs-core's ESM build, so this is the same
// module graph as `@tensorflow/tfjs-core`). Node cannot load this file (ESM with extensionless
// imports in a CommonJS package): use `@patchlens/backends/node` there.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { InvalidArgumentError } from '@patchlens/errors';
import { BACKEND_PREFERENCES, type BackendName, type BackendPreference } from './backend-names.js';
import { startFirstBackend } from './start-backend.js';
import { namesSoftwareRenderer, summarizeWebGPUAdapter } from './webgpu-adapter.js';

/** The optional peer package that registers each GPU backend. */
const GPU_PACKAGES: Partial<Record<BackendName, string>> = {
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  webgl: '@tensorflow/tfjs-backend-webgl',
};

interface NavigatorGpu {
  readonly gpu?: { requestAdapter(): Promise<Parameters<typeof summarizeWebGPUAdapter>[0] | null> };
}

/** Whether the browser's WebGPU adapter is a hardware one (false without an adapter). */
async function hardwareWebGPU(): Promise<boolean> {
  const gpu = (globalThis.navigator as NavigatorGpu | undefined)?.gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  return adapter != null && !summarizeWebGPUAdapter(adapter).software;
}

/** Whether WebGL renders on a GPU (false for SwiftShader, llvmpipe, or no WebGL at all). */
function hardwareWebGL(): boolean {
  if (typeof document === 'undefined') return false;
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return false;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return !namesSoftwareRenderer(renderer);
}

/** For `auto`: a GPU backend only on a GPU; a software one is slower than wasm. */
async function onHardware(name: BackendName): Promise<boolean> {
  if (name === 'webgpu') return hardwareWebGPU();
  if (name === 'webgl') return hardwareWebGL();
  return true;
}

/**
 * Start a tfjs backend in the browser and make it the active one.
 *
 * `auto` tries `webgpu`, then `webgl`, then `wasm`, then `cpu`, skipping backends that are not
 * registered or fail to start, and skipping a GPU backend that would run on a software (CPU)
 * implementation: a WebGPU fallback adapter, SwiftShader, llvmpipe (slower than wasm). Asked for
 * by name, `webgpu` and `webgl` start on whatever the browser has; `activeWebGPUAdapter()` says which. The GPU backends are optional peer dependencies: import the ones you
 * want once in your app (`import '@tensorflow/tfjs-backend-webgpu'`) before calling this. Importing
 * this module also registers tfjs's gradient functions (attribution patching needs them).
 *
 * Limitations: the wasm backend fetches its `.wasm` files at runtime; a bundler may need
 * `setWasmPaths` from `@tensorflow/tfjs-backend-wasm` to find them.
 *
 * @param preference - backend name or `auto` (default).
 * @returns the name of the backend now active.
 * @throws InvalidArgumentError for `tensorflow` or an unknown name, a backend whose package was not
 *   imported, or when no backend starts.
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-webgpu';
 * import { initBrowserBackend } from '@patchlens/backends/browser';
 * document.title = `PatchLens on ${await initBrowserBackend()}`;
 * ```
 */
export async function initBrowserBackend(
  preference: BackendPreference = 'auto',
): Promise<BackendName> {
  if (
    typeof preference !== 'string' ||
    !BACKEND_PREFERENCES.includes(preference) ||
    preference === 'tensorflow'
  ) {
    throw new InvalidArgumentError(
      `initBrowserBackend: backend "${String(preference)}" is not available in the browser; accepted: auto, webgpu, webgl, wasm, cpu.`,
    );
  }
  const candidates: BackendName[] =
    preference === 'auto' ? ['webgpu', 'webgl', 'wasm', 'cpu'] : [preference];
  return startFirstBackend('initBrowserBackend', preference, candidates, (name) => {
    if (tf.findBackendFactory(name)) return preference !== 'auto' || onHardware(name);
    if (preference === 'auto') return false;
    throw new InvalidArgumentError(
      `initBrowserBackend: backend "${name}" is not registered; add \`import '${GPU_PACKAGES[name] ?? `@tensorflow/tfjs-backend-${name}`}'\` to your app first (an optional peer dependency of @patchlens/backends).`,
    );
  });
}
