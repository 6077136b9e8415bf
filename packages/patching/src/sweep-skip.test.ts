import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getActPatchAttnHeadOutByPos, getActPatchResidPre } from './activation-patch-functions.js';
import { logitDiff, selectLogits } from './patching-metric.js';
import { maxDifference } from './test-support/parity-suite.js';
import { TOY_CONFIG, ToyAttentionModel } from './test-support/toy-attention-model.js';
import { equalOverCoordinates } from './unchanged-patches.js';

// Row 0 differs at position 2, row 1 at position 3 (an IOI-style pair: one name swapped).
const CLEAN = [
  [1, 5, 9, 3, 7, 2],
  [2, 4, 6, 8, 10, 12],
];
const CORRUPTED = [
  [1, 5, 11, 3, 7, 2],
  [2, 4, 6, 15, 10, 12],
];
// Every position differs in some row: no activation is equal anywhere.
const ALL_DIFFERENT = [
  [3, 6, 10, 4, 8, 1],
  [2, 4, 6, 8, 10, 12],
];

describe('equalOverCoordinates', () => {
  it('compares the bits of exactly the fixed coordinates, against a brute-force loop', () => {
    const shape = [2, 3, 4];
    const clean = Float32Array.from({ length: 24 }, (_, i) => i);
    for (let changed = 0; changed < 24; changed++) {
      const corrupted = clean.slice();
      corrupted[changed] = -1;
      for (const axes of [[1], [2], [1, 2], [0, 2]]) {
        for (let a = 0; a < shape[axes[0]!]!; a++) {
          for (let b = 0; b < (axes[1] === undefined ? 1 : shape[axes[1]]!); b++) {
            const values = axes.length === 1 ? [a] : [a, b];
            const coordinates = [
              Math.floor(changed / 12),
              Math.floor(changed / 4) % 3,
              changed % 4,
            ];
            const touched = axes.every((axis, entry) => coordinates[axis] === values[entry]);
            expect(equalOverCoordinates(clean, corrupted, shape, axes, values)).toBe(!touched);
          }
        }
      }
    }
    // bitwise: -0 and 0 differ, NaN equals itself
    expect(equalOverCoordinates(new Float32Array([0]), new Float32Array([-0]), [1], [], [])).toBe(
      false,
    );
    expect(
      equalOverCoordinates(
        new Float32Array([Number.NaN]),
        new Float32Array([Number.NaN]),
        [1],
        [],
        [],
      ),
    ).toBe(true);
  });
});

describe.each(TEST_BACKENDS)('patches that change nothing cost nothing on %s', (backend) => {
  let model: ToyAttentionModel;
  const metric = logitDiff({ answers: [3, 7], wrong: [5, 2] });
  beforeAll(async () => {
    await useBackend(backend);
    model = new ToyAttentionModel(TOY_CONFIG, 21);
  });
  afterAll(() => model.dispose());

  async function sweep(corruptedIds: number[][], run: typeof getActPatchResidPre) {
    const cleanTokens = tf.tensor2d(CLEAN, undefined, 'int32');
    const corruptedTokens = tf.tensor2d(corruptedIds, undefined, 'int32');
    const { logits, cache } = model.runWithCache(cleanTokens);
    logits.dispose();
    try {
      const before = tf.memory().numTensors;
      const progress: number[] = [];
      const fast = await run(model, corruptedTokens, cache, metric, {
        batchSize: 1,
        onProgress: (done) => progress.push(done),
      });
      expect(tf.memory().numTensors).toBe(before);
      const reference = await run(model, corruptedTokens, cache, metric, { engine: 'reference' });
      // the corrupted run's metric, from a plain full forward pass
      const corrupted = tf.tidy(
        () =>
          metric.compute(selectLogits(model.forward(corruptedTokens), metric.reads)) as tf.Tensor,
      );
      const corruptedValue = corrupted.dataSync()[0]!;
      corrupted.dispose();
      return { fast, reference, progress, corruptedValue };
    } finally {
      cache.dispose();
      tf.dispose([cleanTokens, corruptedTokens]);
    }
  }

  it('skips resid_pre patches before the first differing token and, at layer 0, at equal tokens', async () => {
    const { fast, reference, progress, corruptedValue } = await sweep(
      CORRUPTED,
      getActPatchResidPre,
    );
    expect(maxDifference(fast.values, reference.values)).toBeLessThan(1e-6);
    // layer 0: positions 0, 1, 4, 5 hold the same token in both rows; layer 1: positions 0, 1
    // come before the first difference (causal attention). 6 of 12 patches need no pass.
    expect(progress[1]).toBe(6);
    expect(progress.at(-1)).toBe(12);
    for (const [layer, pos] of [
      [0, 0],
      [0, 1],
      [0, 4],
      [0, 5],
      [1, 0],
      [1, 1],
    ] as const) {
      expect(fast.get(layer, pos)).toBe(fast.get(0, 0));
      expect(Math.abs(fast.get(layer, pos) - corruptedValue)).toBeLessThan(1e-6);
    }
  });

  it('skips nothing when every position differs, and still equals the reference', async () => {
    for (const run of [getActPatchResidPre, getActPatchAttnHeadOutByPos]) {
      const { fast, reference, progress } = await sweep(ALL_DIFFERENT, run);
      expect(maxDifference(fast.values, reference.values)).toBeLessThan(1e-6);
      // batchSize 1: one patch per pass, nothing counted in advance
      expect(progress.slice(0, 3)).toEqual([0, 1, 2]);
    }
  });
});
