import { useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActivationCache } from './activation-cache.js';
import { logitLens } from './logit-lens.js';

// Hand-built caches (no model): what works without weights, and the errors when weights are needed.
// The numeric invariants against a real GPT-2 are in models-gpt2's residual-analysis.test.ts.

function handCache(): ActivationCache {
  // 2 layers, batch 1, 3 positions, dModel 2; resid_pre 1 = resid_pre 0 + 1, resid_post 1 = + 2
  const resid = (offset: number) =>
    tf.tensor3d([
      [
        [offset, 0],
        [offset, 1],
        [offset, 2],
      ],
    ]);
  return new ActivationCache(
    new Map<string, tf.Tensor>([
      ['blocks.0.hook_resid_pre', resid(0)],
      ['blocks.0.hook_resid_mid', resid(0.5)],
      ['blocks.1.hook_resid_pre', resid(1)],
      ['blocks.1.hook_resid_mid', resid(1.5)],
      ['blocks.1.hook_resid_post', resid(2)],
      ['ln_final.hook_scale', tf.tensor3d([[[2], [4], [8]]])],
    ]),
    { nLayers: 2 },
  );
}

describe('residual stacks on a hand-built cache', () => {
  beforeAll(() => useBackend('cpu'));

  it('accumulatedResid stacks resid_pre (and resid_mid) in order; posSlice -1 drops the axis; a list keeps it', () => {
    using cache = handCache();
    const before = tf.memory().numTensors;
    const [stack, labels] = cache.accumulatedResid(undefined, {
      inclMid: true,
      returnLabels: true,
    });
    expect(labels).toEqual(['0_pre', '0_mid', '1_pre', '1_mid', 'final_post']);
    expect(stack.shape).toEqual([5, 1, 3, 2]);
    const last = cache.accumulatedResid(1, { posSlice: -1 });
    expect(last.arraySync()).toEqual([[[0, 2]], [[1, 2]]]);
    const listed = cache.accumulatedResid(1, { posSlice: [2, 0] });
    expect(listed.shape).toEqual([2, 1, 2, 2]);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([stack, last, listed]);
  });

  it('applyLnToStack without recomputing: centre, then divide by the cached ln_final scale', () => {
    using cache = handCache();
    const stack = tf.tensor3d([[[3, 1]], [[0, 4]]]); // [components, batch, dModel] at the last position
    const scaled = cache.applyLnToStack(stack, undefined, { posSlice: -1 });
    expect(scaled.arraySync()).toEqual([[[1 / 8, -1 / 8]], [[-2 / 8, 2 / 8]]]);
    tf.dispose([stack, scaled]);
  });

  it('what needs weights says so; bad layers and slices are rejected with the accepted range; nothing leaks', async () => {
    using cache = handCache();
    const before = tf.memory().numTensors;
    expect(() => cache.accumulatedResid(undefined, { applyLn: true })).toThrow(
      /no model with analysis weights.*model\.runWithCache/,
    );
    const stack = tf.zeros([1, 1, 2]);
    expect(() => cache.logitAttrs(stack, 1)).toThrow(/no model with analysis weights/);
    stack.dispose();
    await expect(logitLens(cache, { tokens: 1 })).rejects.toThrow(/no model with analysis weights/);
    expect(() => cache.accumulatedResid(3)).toThrow(/layer 3 is out of range; accepted: 0\.\.2/);
    expect(() => cache.accumulatedResid(1, { posSlice: 3 })).toThrow(
      /index 3 is outside an axis of size 3; accepted: integers -3\.\.2/,
    );
    expect(() => cache.decomposeResid()).toThrow(/blocks\.0\.hook_attn_out/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
