// Registers the GPU backends (optional peers of @patchlens/backends) and points the wasm backend at
// its binaries, which Vite serves and copies into the build through `?url` imports.
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgl';
import {
  activeWebGPUAdapter,
  type BackendName,
  type BackendPreference,
  formatWebGPUAdapter,
  summarizeWebGPUAdapter,
  type WebGPUAdapterSummary,
} from '@patchlens/backends';
import { initBrowserBackend } from '@patchlens/backends/browser';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': simdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': threadedSimdUrl,
});

/**
 * The backend choices the app offers, `auto` first (webgpu, then webgl, wasm, cpu).
 *
 * @example
 * ```ts
 * for (const choice of BACKEND_CHOICES) select.add(new Option(choice, choice));
 * ```
 */
export const BACKEND_CHOICES: readonly BackendPreference[] = [
  'auto',
  'webgpu',
  'webgl',
  'wasm',
  'cpu',
];

/**
 * The backend that runs, the adapter behind it for WebGPU, and why a software WebGPU adapter was
 * passed over.
 *
 * @example
 * ```ts
 * const started: StartedBackend = { name: 'webgpu', device: 'google swiftshader (SwiftShader driver 5.0.0), software', note: '' };
 * ```
 */
export interface StartedBackend {
  readonly name: BackendName;
  /** The WebGPU adapter, e.g. `google swiftshader (…), software`; empty for other backends. */
  readonly device: string;
  /** Set when `auto` passed over a software WebGPU adapter, saying so; else empty. */
  readonly note: string;
}

/** The browser's WebGPU adapter when it is a software one (SwiftShader, a fallback adapter). */
async function softwareWebGPUAdapter(): Promise<WebGPUAdapterSummary | undefined> {
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  const summary = adapter ? summarizeWebGPUAdapter(adapter) : undefined;
  return summary?.software ? summary : undefined;
}

/**
 * Starts the requested tfjs backend (`auto`: the fastest that starts; a software WebGPU adapter
 * only when `webgpu` is picked, since wasm is faster than WebGPU on the CPU) and says which one runs.
 *
 * @param preference - a name from {@link BACKEND_CHOICES}; default `auto`.
 * @throws InvalidArgumentError (from `initBrowserBackend`) when nothing starts.
 * @example
 * ```ts
 * const { name, device, note } = await startBackend('auto'); // { name: 'wasm', note: 'WebGPU here is software …' }
 * ```
 */
export async function startBackend(
  preference: BackendPreference = 'auto',
): Promise<StartedBackend> {
  const name = await initBrowserBackend(preference);
  const adapter = activeWebGPUAdapter();
  const passedOver = preference === 'auto' && !adapter ? await softwareWebGPUAdapter() : undefined;
  return {
    name,
    device: adapter ? formatWebGPUAdapter(adapter) : '',
    note: passedOver
      ? `WebGPU here is software (${formatWebGPUAdapter(passedOver)}), slower than ${name}; pick webgpu to use it anyway`
      : '',
  };
}
