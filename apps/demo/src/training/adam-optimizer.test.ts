import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamOptimizer } from './adam-optimizer.js';

/** Adam(W) on plain numbers, written out from the paper's update rule. */
function referenceAdam(
  start: number[],
  gradients: number[][],
  rates: number[],
  decay: number,
): number[] {
  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-8];
  const x = [...start];
  const m = x.map(() => 0);
  const v = x.map(() => 0);
  gradients.forEach((gradient, index) => {
    const t = index + 1;
    for (let i = 0; i < x.length; i++) {
      const g = gradient[i] ?? 0;
      m[i] = beta1 * (m[i] ?? 0) + (1 - beta1) * g;
      v[i] = beta2 * (v[i] ?? 0) + (1 - beta2) * g * g;
      const mHat = (m[i] ?? 0) / (1 - beta1 ** t);
      const vHat = (v[i] ?? 0) / (1 - beta2 ** t);
      x[i] =
        (x[i] ?? 0) -
        (rates[index] ?? 0) * (mHat / (Math.sqrt(vHat) + epsilon) + decay * (x[i] ?? 0));
    }
  });
  return x;
}

/** A variable holding `values` (the initial tensor is freed: the variable keeps the data). */
function variableOf(values: number[], name: string): tf.Variable {
  const initial = tf.tensor1d(values);
  const variable = tf.variable(initial, true, name);
  initial.dispose();
  return variable;
}

describe.each(TEST_BACKENDS)('AdamOptimizer on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('matches the Adam(W) update rule over three steps, and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const start = [0.5, -1.5, 2];
    const gradients = [
      [0.1, -0.2, 3],
      [0.4, 0.1, -1],
      [-0.3, 0.2, 0.5],
    ];
    const rates = [0.1, 0.05, 0.01];
    const decayed = variableOf(start, `decayed-${backend}`);
    const plain = variableOf(start, `plain-${backend}`);
    const variables = new Map([
      ['decayed', decayed],
      ['plain', plain],
    ]);
    const optimizer = new AdamOptimizer(variables, {
      weightDecay: 0.1,
      decays: (name) => name === 'decayed',
    });
    gradients.forEach((gradient, index) => {
      const tensors = { decayed: tf.tensor1d(gradient), plain: tf.tensor1d(gradient) };
      optimizer.step(tensors, rates[index]!);
      tf.dispose(Object.values(tensors));
    });
    const expectedDecayed = referenceAdam(start, gradients, rates, 0.1);
    const expectedPlain = referenceAdam(start, gradients, rates, 0);
    Array.from(decayed.dataSync()).forEach((value, i) => {
      expect(value).toBeCloseTo(expectedDecayed[i]!, 5);
    });
    Array.from(plain.dataSync()).forEach((value, i) => {
      expect(value).toBeCloseTo(expectedPlain[i]!, 5);
    });
    expect(expectedDecayed).not.toEqual(expectedPlain);
    optimizer.dispose();
    tf.dispose([decayed, plain]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves a variable without a gradient unchanged', () => {
    const variable = variableOf([1, 2], `untouched-${backend}`);
    using optimizer = new AdamOptimizer(new Map([['untouched', variable]]));
    optimizer.step({}, 0.1);
    expect(Array.from(variable.dataSync())).toEqual([1, 2]);
    variable.dispose();
  });
});
