import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { InvalidArgumentError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { summarizeWebGPUAdapter, type WebGPUAdapterSummary } from './webgpu-adapter.js';

/** What a machine needs for WebGPU in Node; the one place the error messages and README quote. */
export const WEBGPU_NODE_NEEDS =
  'Linux: the Vulkan loader (libvulkan.so.1; Debian/Ubuntu: apt install libvulkan1) and a Vulkan driver for the GPU (NVIDIA driver, or Mesa radv/anv); macOS: Metal; Windows: D3D12. Without a GPU, SwiftShader (shipped with Chromium) is a software Vulkan driver: XDG_RUNTIME_DIR=$(mktemp -d) VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium';

let started: Promise<WebGPUAdapterSummary> | undefined;

/**
 * Linux: whether the Vulkan loader Dawn opens (`libvulkan.so.1`) is on the library path or in
 * the linker cache; elsewhere true. Lets `auto` skip Dawn (and its "Couldn't load Vulkan"
 * warning on stderr) on machines with no Vulkan at all.
 */
export function vulkanLoaderFound(): boolean {
  if (process.platform !== 'linux') return true;
  const folders = (process.env['LD_LIBRARY_PATH'] ?? '').split(delimiter).filter((dir) => dir);
  if (folders.some((folder) => existsSync(join(folder, 'libvulkan.so.1')))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

/** Makes `navigator.gpu` the Dawn instance (Node 21+ has a `navigator` without `gpu`). */
function installNavigatorGpu(gpu: unknown): void {
  const existing = (globalThis as { navigator?: object }).navigator;
  if (existing && typeof existing === 'object') {
    if (!('gpu' in existing))
      Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
    return;
  }
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu },
    configurable: true,
    writable: true,
  });
}

async function loadDawn(): Promise<typeof import('webgpu')> {
  try {
    return await import('webgpu');
  } catch (cause) {
    throw new InvalidArgumentError(
      'initNodeBackend: backend "webgpu" needs the optional dependency `webgpu` (Dawn for Node), which could not be loaded; install it next to PatchLens (npm i webgpu), or choose "wasm" (CLI: --backend wasm).',
      { cause },
    );
  }
}

async function start(): Promise<WebGPUAdapterSummary> {
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  installNavigatorGpu(gpu);
  // Registers the "webgpu" backend factory and its flags; it does so only when navigator.gpu exists.
  await import('@tensorflow/tfjs-backend-webgpu');
  // The adapter tfjs-backend-webgpu will ask for (same options), looked at before it starts.
  const adapter = await gpu.requestAdapter({
    powerPreference: tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU')
      ? 'low-power'
      : 'high-performance',
  });
  if (!adapter) {
    throw new InvalidArgumentError(
      `initNodeBackend: backend "webgpu" found no WebGPU adapter (Dawn printed why, above, if it knew). It needs ${WEBGPU_NODE_NEEDS}. Or choose "wasm" (CLI: --backend wasm).`,
    );
  }
  return summarizeWebGPUAdapter(adapter);
}

/**
 * Loads Dawn (the `webgpu` package), installs the WebGPU globals and `navigator.gpu`, asks for an
 * adapter and registers tfjs-backend-webgpu; resolves to the adapter it found. Runs once per
 * process; later calls return the same answer.
 *
 * @throws InvalidArgumentError when `webgpu` is not installed or no adapter is found.
 */
export function prepareDawnWebGPU(): Promise<WebGPUAdapterSummary> {
  started ??= start();
  return started;
}

let releaseRegistered = false;

/**
 * Once the webgpu backend runs: when the process has nothing left to do, free tfjs's GPU buffers
 * and destroy the device, so the process ends by itself and Dawn shuts down cleanly.
 *
 * Limitations: work scheduled from another `beforeExit` listener after this one ran finds the
 * webgpu backend disposed.
 */
export function releaseDeviceAtExit(): void {
  if (releaseRegistered) return;
  releaseRegistered = true;
  process.once('beforeExit', () => {
    const backend = tf.engine().registry['webgpu'] as
      | { dispose(): void; device?: { destroy(): void } }
      | undefined;
    if (!backend) return;
    backend.dispose();
    backend.device?.destroy();
  });
}
