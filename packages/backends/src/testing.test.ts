import { InvalidArgumentError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { TEST_BACKENDS, useBackend } from './testing.js';

describe.each(TEST_BACKENDS)('useBackend(%s)', (backend) => {
  it('makes the backend active, with gradients registered', async () => {
    await useBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const before = tf.memory().numTensors;
    const gradient = tf.tidy(() =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([3, -1])),
    );
    expect(Array.from(gradient.dataSync())).toEqual([6, -2]);
    gradient.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('useBackend', () => {
  it('lists cpu and wasm, and rejects others', async () => {
    expect(TEST_BACKENDS).toEqual(['cpu', 'wasm']);
    await expect(useBackend('webgl' as 'cpu')).rejects.toThrow(InvalidArgumentError);
  });
});
