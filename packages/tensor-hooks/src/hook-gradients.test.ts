import {
  InvalidArgumentError,
  MetricError,
  ShapeMismatchError,
  UnknownHookError,
} from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradientsAtHooks } from './hook-gradients.js';
import type { HookName } from './hook-names.js';
import type { HookRegistry } from './hook-registry.js';
import {
  BATCH,
  D_HIDDEN,
  D_IN,
  D_OUT,
  POS,
  referenceForward,
  toyMetric,
  toyRegistry,
  toyValue,
  W2,
} from './test-support/toy-model.js';
import { TEST_BACKENDS, useBackend } from './test-support/use-backend.js';

const SHAPES: Record<string, number[]> = {
  hook_embed: [BATCH, POS, D_IN],
  'blocks.0.mlp.hook_post': [BATCH, POS, D_HIDDEN],
  'blocks.0.hook_mlp_out': [BATCH, POS, D_OUT],
};

/** Central finite differences of the toy metric with respect to the activation at `name`. */
function finiteDifferences(registry: HookRegistry, name: HookName, epsilon: number): Float64Array {
  const shape = SHAPES[name]!;
  const size = shape.reduce((a, b) => a * b, 1);
  const result = new Float64Array(size);
  for (let index = 0; index < size; index++) {
    const valueWith = (step: number) => {
      const bump = new Float32Array(size);
      bump[index] = step;
      return registry.withHooks(
        [[name, (activation) => tf.add(activation, tf.tensor(bump, shape))]],
        () => toyValue(registry),
      );
    };
    result[index] = (valueWith(epsilon) - valueWith(-epsilon)) / (2 * epsilon);
  }
  return result;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, relative: number) {
  expect(actual.length).toBe(expected.length);
  for (let index = 0; index < expected.length; index++) {
    const tolerance = relative * Math.max(1, Math.abs(expected[index]!));
    expect(Math.abs(actual[index]! - expected[index]!)).toBeLessThanOrEqual(tolerance);
  }
}

describe.each(TEST_BACKENDS)('gradientsAtHooks on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('matches central finite differences at every hook point the metric reads', () => {
    const registry = toyRegistry();
    const names: HookName[] = ['hook_embed', 'blocks.0.mlp.hook_post', 'blocks.0.hook_mlp_out'];
    const { value, gradients } = gradientsAtHooks(registry, names, () => toyMetric(registry));
    expect(value).toBeCloseTo(referenceForward().metric, 4);
    for (const name of names) {
      const gradient = gradients.get(name)!;
      expect(gradient.shape).toEqual(SHAPES[name]);
      const differences = finiteDifferences(registry, name, 1e-2);
      // The differences must not be trivially zero, or the comparison proves nothing.
      expect(Math.max(...differences.map(Math.abs))).toBeGreaterThan(0.1);
      expectClose(gradient.dataSync(), differences, 1e-2);
    }
    tf.dispose([...gradients.values()]);
  });

  it('matches the analytic gradient 2 h2 at the output hook and 2 h2 W2^T at h1', () => {
    const registry = toyRegistry();
    const { h2 } = referenceForward();
    const { gradients } = gradientsAtHooks(registry, /(hook_mlp_out|mlp\.hook_post)$/, () =>
      toyMetric(registry),
    );
    expectClose(
      gradients.get('blocks.0.hook_mlp_out')!.dataSync(),
      h2.map((x) => 2 * x),
      1e-4,
    );
    const expectedH1 = new Float64Array(BATCH * POS * D_HIDDEN);
    for (let row = 0; row < BATCH * POS; row++) {
      for (let j = 0; j < D_HIDDEN; j++) {
        let sum = 0;
        for (let k = 0; k < D_OUT; k++) sum += 2 * h2[row * D_OUT + k]! * W2[j * D_OUT + k]!;
        expectedH1[row * D_HIDDEN + j] = sum;
      }
    }
    expectClose(gradients.get('blocks.0.mlp.hook_post')!.dataSync(), expectedH1, 1e-4);
    tf.dispose([...gradients.values()]);
  });

  it('gives the gradient with respect to the activation after the registered hooks', () => {
    const registry = toyRegistry();
    // A permanent hook doubling h1: the gradient is taken after it, and FD sees the same model.
    const handle = registry.add('blocks.0.mlp.hook_post', (h) => tf.mul(h, 2), { permanent: true });
    const { gradients } = gradientsAtHooks(registry, 'blocks.0.mlp.hook_post', () =>
      toyMetric(registry),
    );
    expectClose(
      gradients.get('blocks.0.mlp.hook_post')!.dataSync(),
      finiteDifferences(registry, 'blocks.0.mlp.hook_post', 1e-2),
      1e-2,
    );
    handle.remove();
    tf.dispose([...gradients.values()]);
  });

  it('gives a zero gradient at a hook point the metric does not depend on', () => {
    const registry = toyRegistry();
    const { gradients } = gradientsAtHooks(registry, 'blocks.0.hook_resid_mid', () =>
      toyMetric(registry),
    );
    const gradient = gradients.get('blocks.0.hook_resid_mid')!;
    expect(gradient.shape).toEqual([BATCH, POS, D_IN]);
    expect(Array.from(gradient.dataSync()).every((x) => x === 0)).toBe(true);
    gradient.dispose();
  });

  it('skips the shape pass when shapes are given, and checks them', () => {
    const registry = toyRegistry();
    let runs = 0;
    const metric = () => {
      runs++;
      return toyMetric(registry);
    };
    const shapes = new Map<HookName, number[]>([
      ['blocks.0.hook_mlp_out', SHAPES['blocks.0.hook_mlp_out']!],
    ]);
    const { gradients } = gradientsAtHooks(registry, 'blocks.0.hook_mlp_out', metric, { shapes });
    expect(runs).toBe(1);
    tf.dispose([...gradients.values()]);
    runs = 0;
    const result = gradientsAtHooks(registry, 'blocks.0.hook_mlp_out', metric);
    expect(runs).toBe(2);
    tf.dispose([...result.gradients.values()]);

    const before = tf.memory().numTensors;
    const wrong = new Map<HookName, number[]>([['blocks.0.hook_mlp_out', [1, POS, D_OUT]]]);
    expect(() =>
      gradientsAtHooks(registry, 'blocks.0.hook_mlp_out', metric, { shapes: wrong }),
    ).toThrow(ShapeMismatchError);
    const partial = new Map<HookName, number[]>([['hook_embed', SHAPES['hook_embed']!]]);
    expect(() =>
      gradientsAtHooks(registry, ['hook_embed', 'blocks.0.hook_mlp_out'], metric, {
        shapes: partial,
      }),
    ).toThrow(InvalidArgumentError);
    expect(tf.memory().numTensors).toBe(before);
    expect(registry.count('blocks.0.hook_mlp_out')).toBe(0);
  });

  it('leaves no tensor and no hook behind, also after errors', () => {
    const registry = toyRegistry();
    const before = tf.memory().numTensors;
    const { gradients } = gradientsAtHooks(registry, /./, () => toyMetric(registry));
    expect(gradients.size).toBe(4);
    tf.dispose([...gradients.values()]);
    expect(tf.memory().numTensors).toBe(before);

    const failing: [string, () => unknown, unknown][] = [
      [
        'metric throws',
        () =>
          gradientsAtHooks(registry, 'hook_embed', () => {
            toyMetric(registry).dispose();
            throw new Error('metric failed');
          }),
        Error,
      ],
      [
        'metric throws during the gradient pass only (tfjs tape cleanup)',
        (() => {
          let calls = 0;
          return () =>
            gradientsAtHooks(registry, ['hook_embed', 'blocks.0.hook_mlp_out'], () => {
              const metric = toyMetric(registry);
              calls++;
              if (calls === 2) {
                metric.dispose();
                throw new RangeError('second pass failed');
              }
              return metric;
            });
        })(),
        RangeError,
      ],
      [
        'metric is not a scalar',
        () => gradientsAtHooks(registry, 'hook_embed', () => tf.ones([2])),
        MetricError,
      ],
      [
        'metric is not a tensor',
        () => gradientsAtHooks(registry, 'hook_embed', () => 3 as unknown as tf.Scalar),
        MetricError,
      ],
      [
        'metric is not finite',
        () => gradientsAtHooks(registry, 'hook_embed', () => tf.div(toyMetric(registry), 0)),
        MetricError,
      ],
      [
        'hook point never reached',
        () => gradientsAtHooks(registry, 'hook_embed', () => tf.scalar(1)),
        InvalidArgumentError,
      ],
      [
        'unknown hook',
        () => gradientsAtHooks(registry, 'hook_embd', () => tf.scalar(1)),
        UnknownHookError,
      ],
      [
        'empty list',
        () => gradientsAtHooks(registry, [], () => tf.scalar(1)),
        InvalidArgumentError,
      ],
    ];
    for (const [, run, errorClass] of failing) {
      expect(run).toThrow(errorClass as typeof Error);
      expect(tf.memory().numTensors).toBe(before);
      for (const name of registry.hookNames) expect(registry.count(name)).toBe(0);
    }
  });

  it('accepts a size-1 metric of rank 1', () => {
    const registry = toyRegistry();
    const { value, gradients } = gradientsAtHooks(registry, 'hook_embed', () =>
      tf.reshape(toyMetric(registry), [1]),
    );
    expect(value).toBeCloseTo(referenceForward().metric, 4);
    tf.dispose([...gradients.values()]);
  });
});
