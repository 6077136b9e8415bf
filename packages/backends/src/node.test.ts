import { createRequire } from 'node:module';
import { InvalidArgumentError } from '@patchlens/errors';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackendPreference } from './backend-names.js';
import { initNodeBackend } from './node.js';
import type { WebGPUAdapterSummary } from './webgpu-adapter.js';

// Dawn is replaced by a stub whose adapter each test chooses (the real one runs in
// webgpu-node.test.ts, in a child process): no adapter unless a test sets one.
const dawn = vi.hoisted(() => ({ adapter: undefined as WebGPUAdapterSummary | undefined }));
vi.mock('./webgpu-node.js', () => ({
  vulkanLoaderFound: () => true,
  releaseDeviceAtExit: () => undefined,
  prepareDawnWebGPU: async () => {
    if (!dawn.adapter) throw new InvalidArgumentError('initNodeBackend: no WebGPU adapter (stub)');
    return dawn.adapter;
  },
}));
const ADAPTER = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'H200' };

const require = createRequire(import.meta.url);
function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}
const nativeInstalled =
  installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

describe('initNodeBackend', () => {
  afterEach(() => {
    dawn.adapter = undefined;
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  });

  it.skipIf(nativeInstalled)('auto picks wasm when no native package is installed', async () => {
    expect(await initNodeBackend('auto')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(await initNodeBackend()).toBe('wasm');
  });

  it.each(['cpu', 'wasm'] as const)('starts %s on request', async (name) => {
    expect(await initNodeBackend(name)).toBe(name);
    expect(tf.getBackend()).toBe(name);
  });

  it.skipIf(nativeInstalled)('explains how to get the tensorflow backend', async () => {
    const failure = initNodeBackend('tensorflow');
    await expect(failure).rejects.toThrow(InvalidArgumentError);
    await expect(initNodeBackend('tensorflow')).rejects.toThrow(
      /@tensorflow\/tfjs-node-gpu or @tensorflow\/tfjs-node.*npm i @tensorflow\/tfjs-node.*"wasm"/,
    );
  });

  it('rejects browser-only and unknown names, listing what it accepts', async () => {
    for (const name of ['webgl', 'gpu', '', 3] as unknown as BackendPreference[]) {
      await expect(initNodeBackend(name)).rejects.toThrow(
        /initNodeBackend: .*accepted: auto, tensorflow, webgpu, wasm, cpu/,
      );
    }
  });

  describe('webgpu (Dawn stubbed; a cpu backend stands in for tfjs-backend-webgpu)', () => {
    const registerStandIn = () => tf.registerBackend('webgpu', () => new MathBackendCPU());

    it.skipIf(nativeInstalled)('auto takes webgpu on a hardware adapter', async () => {
      dawn.adapter = { ...ADAPTER, software: false };
      registerStandIn();
      expect(await initNodeBackend('auto')).toBe('webgpu');
    });

    it.skipIf(nativeInstalled)('auto passes over a software adapter to wasm', async () => {
      dawn.adapter = { ...ADAPTER, software: true };
      registerStandIn();
      expect(await initNodeBackend('auto')).toBe('wasm');
    });

    it('a request by name takes a software adapter', async () => {
      dawn.adapter = { ...ADAPTER, software: true };
      registerStandIn();
      expect(await initNodeBackend('webgpu')).toBe('webgpu');
    });

    it("a request by name without an adapter throws Dawn's error", async () => {
      await expect(initNodeBackend('webgpu')).rejects.toThrow(/no WebGPU adapter/);
    });
  });

  it('registers gradient functions', async () => {
    await initNodeBackend('cpu');
    const gradient = tf.grad((x: tf.Tensor) => tf.sum(tf.tanh(x)))(tf.tensor1d([0, 1]));
    const [atZero, atOne] = gradient.dataSync();
    expect(atZero).toBeCloseTo(1, 5);
    expect(atOne).toBeCloseTo(1 - Math.tanh(1) ** 2, 5);
    gradient.dispose();
  });

  it('makes no tensors', async () => {
    const before = tf.memory().numTensors;
    await initNodeBackend('wasm');
    await initNodeBackend('cpu');
    expect(tf.memory().numTensors).toBe(before);
  });
});
