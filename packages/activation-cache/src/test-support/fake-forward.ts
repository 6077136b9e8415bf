// Test-only (excluded from the build): a fake forward pass that reaches every hook point of a
// 2-layer GPT-2 model with known values, and the same values in plain memory.
import { HookRegistry, listHookNames } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { captureActivations } from '../capture-activations.js';

export const N_LAYERS = 2;
export const NAMES = listHookNames(N_LAYERS);
export const POS = 3;
export const WIDTH = 2;

/** The value a fake forward pass puts at element `index` of hook `hookIndex`, batch row `row`. */
function expectedValue(hookIndex: number, row: number, index: number): number {
  return hookIndex * 100 + row * 10 + index * 0.5;
}

/** The activation of hook `hookIndex`, shape [batch, pos, width], in plain memory. */
export function expectedActivation(
  hookIndex: number,
  batch: number,
  rows = [...Array(batch).keys()],
) {
  const values: number[] = [];
  for (const row of rows) {
    for (let index = 0; index < POS * WIDTH; index++)
      values.push(expectedValue(hookIndex, row, index));
  }
  return values;
}

/** A fake forward pass: calls every hook point in order; returns the sum of the last activation. */
export function fakeForward(registry: HookRegistry, batch: number): tf.Tensor {
  return tf.tidy(() => {
    let last: tf.Tensor = tf.scalar(0);
    NAMES.forEach((name, hookIndex) => {
      const activation = tf.tensor3d(expectedActivation(hookIndex, batch), [batch, POS, WIDTH]);
      last = registry.run(name, activation);
    });
    return tf.sum(last);
  });
}

/** Capture a fake forward pass of batch `batch` through a fresh registry. */
export function capture(batch: number, filter?: Parameters<typeof captureActivations>[1]) {
  const registry = new HookRegistry(NAMES);
  const { result, cache } = captureActivations(registry, filter, () =>
    fakeForward(registry, batch),
  );
  return { registry, result, cache };
}

/** Compare a tensor's values with plain numbers (float32 tolerance). */
export function expectValues(tensor: tf.Tensor, expected: number[]) {
  const actual = Array.from(tensor.dataSync());
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, index) => {
    expect(value).toBeCloseTo(expected[index]!, 4);
  });
}
