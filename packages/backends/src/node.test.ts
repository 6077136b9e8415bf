import { createRequire } from 'node:module';
import { InvalidArgumentError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { BackendPreference } from './backend-names.js';
import { initNodeBackend } from './node.js';

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
    for (const name of ['webgl', 'webgpu', 'gpu', '', 3] as unknown as BackendPreference[]) {
      await expect(initNodeBackend(name)).rejects.toThrow(
        /initNodeBackend: .*accepted: auto, tensorflow, wasm, cpu/,
      );
    }
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
