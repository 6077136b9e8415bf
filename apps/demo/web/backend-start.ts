// Registers the GPU backends (optional peers of @patchlens/backends) and points the wasm backend at
// its binaries, which Vite serves and copies into the build through `?url` imports.
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgl';
import type { BackendName, BackendPreference } from '@patchlens/backends';
import { initBrowserBackend } from '@patchlens/backends/browser';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url';
import * as tf from '@tensorflow/tfjs-core';

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
 * The backend that runs and, for WebGPU, the adapter behind it.
 *
 * @example
 * ```ts
 * const started: StartedBackend = { name: 'webgpu', device: 'google swiftshader' };
 * ```
 */
export interface StartedBackend {
  readonly name: BackendName;
  /** e.g. `google swiftshader` for WebGPU; empty when the backend says nothing about its device. */
  readonly device: string;
}

interface WebGPUAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
}

/** The WebGPU adapter's vendor and architecture, as tfjs-backend-webgpu keeps them. */
function webgpuDevice(): string {
  const backend = tf.backend() as { adapterInfo?: WebGPUAdapterInfo };
  const info = backend.adapterInfo;
  return [info?.vendor, info?.architecture].filter((part) => part).join(' ');
}

/**
 * Starts the requested tfjs backend (`auto`: the fastest that starts) and says which one runs.
 *
 * @param preference - a name from {@link BACKEND_CHOICES}; default `auto`.
 * @throws InvalidArgumentError (from `initBrowserBackend`) when nothing starts.
 * @example
 * ```ts
 * const { name, device } = await startBackend('auto'); // { name: 'webgpu', device: 'google swiftshader' }
 * ```
 */
export async function startBackend(
  preference: BackendPreference = 'auto',
): Promise<StartedBackend> {
  const name = await initBrowserBackend(preference);
  return { name, device: name === 'webgpu' ? webgpuDevice() : '' };
}
