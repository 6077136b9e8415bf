import * as tf from '@tensorflow/tfjs-core';

/**
 * A WebGPU adapter as PatchLens reports it: who made it, what it is, and whether it is a software
 * (CPU) implementation such as SwiftShader, llvmpipe or a fallback adapter.
 *
 * @example
 * ```ts
 * const adapter: WebGPUAdapterSummary = {
 *   vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader driver 5.0.0', software: true,
 * };
 * ```
 */
export interface WebGPUAdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** True for a fallback adapter or a known CPU implementation: correct, but slower than wasm. */
  readonly software: boolean;
}

/** The fields of `GPUAdapterInfo` (and the older `GPUAdapter.isFallbackAdapter`) read here. */
export interface WebGPUAdapterLike {
  readonly info?: {
    readonly vendor?: string;
    readonly architecture?: string;
    readonly device?: string;
    readonly description?: string;
    readonly isFallbackAdapter?: boolean;
  };
  readonly isFallbackAdapter?: boolean;
}

/** Names of CPU implementations of Vulkan/WebGPU/D3D/GL that do not always call themselves fallback. */
const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render/i;

/** Whether a GPU adapter's or WebGL renderer's name is one of a software (CPU) implementation. */
export function namesSoftwareRenderer(name: string): boolean {
  return SOFTWARE_NAMES.test(name);
}

/**
 * Summarise a WebGPU adapter (a `GPUAdapter` from `navigator.gpu.requestAdapter()`, or anything
 * with its `info`), deciding whether it is a software one.
 *
 * @param adapter - the adapter; only `info` and `isFallbackAdapter` are read.
 * @example
 * ```ts
 * const adapter = await navigator.gpu.requestAdapter();
 * if (adapter && summarizeWebGPUAdapter(adapter).software) console.warn('WebGPU runs on the CPU here');
 * ```
 */
export function summarizeWebGPUAdapter(adapter: WebGPUAdapterLike): WebGPUAdapterSummary {
  const info = adapter.info ?? {};
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const software =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    namesSoftwareRenderer([vendor, architecture, device, description].join(' '));
  return { vendor, architecture, device, description, software };
}

/**
 * One line for logs and status bars, e.g. `google swiftshader (SwiftShader driver 5.0.0), software`.
 *
 * @param adapter - a summary from {@link summarizeWebGPUAdapter}.
 * @example
 * ```ts
 * console.error(`webgpu adapter: ${formatWebGPUAdapter(activeWebGPUAdapter()!)}`);
 * ```
 */
export function formatWebGPUAdapter(adapter: WebGPUAdapterSummary): string {
  const name = [adapter.vendor, adapter.architecture].filter((part) => part).join(' ') || 'unknown';
  const detail = adapter.description ? ` (${adapter.description})` : '';
  return `${name}${detail}, ${adapter.software ? 'software' : 'hardware'}`;
}

/**
 * The adapter behind the active tfjs backend when that backend is `webgpu`, else `undefined`.
 * Reads `GPUDevice.adapterInfo` (Chrome 132+, Dawn) and falls back to the vendor/architecture
 * tfjs-backend-webgpu keeps.
 *
 * Limitations: where only tfjs's copy is available, `description` is empty and `software` rests on
 * the vendor and architecture names.
 *
 * @example
 * ```ts
 * await initNodeBackend('webgpu');
 * console.error(activeWebGPUAdapter()); // { vendor: 'google', architecture: 'swiftshader', …, software: true }
 * ```
 */
export function activeWebGPUAdapter(): WebGPUAdapterSummary | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const backend = tf.backend() as {
    device?: { adapterInfo?: WebGPUAdapterLike['info'] };
    adapterInfo?: { vendor?: string; architecture?: string };
  };
  const info = backend.device?.adapterInfo ?? backend.adapterInfo;
  return summarizeWebGPUAdapter({ info: info ?? {} });
}
