import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { initNodeBackend } from './node.js';

// Simulate a machine where the wasm backend cannot start (e.g. no WebAssembly threads/SIMD).
vi.mock('@tensorflow/tfjs-core', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@tensorflow/tfjs-core')>();
  return {
    ...actual,
    setBackend: async (name: string) => (name === 'wasm' ? false : actual.setBackend(name)),
  };
});

// ... and no WebGPU adapter (Dawn stubbed: a machine with a GPU would otherwise pick webgpu).
vi.mock('./webgpu-node.js', () => ({
  vulkanLoaderFound: () => true,
  releaseDeviceAtExit: () => undefined,
  prepareDawnWebGPU: () => Promise.reject(new Error('no WebGPU adapter (stub)')),
}));

describe('initNodeBackend when wasm cannot start', () => {
  it('auto falls back to cpu', async () => {
    expect(await initNodeBackend('auto')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('an explicit wasm request fails with an error', async () => {
    await expect(initNodeBackend('wasm')).rejects.toThrow(/no backend could be started for "wasm"/);
  });
});
