import { useBackend } from '@patchlens/backends/testing';
import type { GPT2 } from '@patchlens/models-gpt2';
import { AbortError, type HookedModel, InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getActPatchAttnHeadOutByPos, getActPatchResidPre } from './activation-patch-functions.js';
import { logitDiff, normalizedMetric } from './patching-metric.js';
import { maxDifference } from './test-support/parity-suite.js';
import { loadTinyGPT2 } from './test-support/tiny-gpt2.js';

const TINY = { nLayers: 2, nHeads: 4, dModel: 32, dVocab: 61, nCtx: 16 };

describe('fast engine on worker threads (wasm)', () => {
  let model: GPT2;
  let cleanTokens: tf.Tensor;
  let corruptedTokens: tf.Tensor;
  let cache: ReturnType<GPT2['runWithCache']>['cache'];
  const metric = normalizedMetric(logitDiff({ answers: [12, 7], wrong: [20, 3] }), {
    clean: 1.5,
    corrupted: -0.5,
  });

  beforeAll(async () => {
    await useBackend('wasm');
    model = await loadTinyGPT2(TINY, 3);
    cleanTokens = tf.tensor2d(
      [
        [4, 17, 33, 8, 50, 3, 9, 11],
        [9, 2, 41, 27, 13, 5, 6, 7],
      ],
      undefined,
      'int32',
    );
    corruptedTokens = tf.tensor2d(
      [
        [4, 17, 45, 8, 50, 3, 9, 11],
        [9, 30, 41, 27, 13, 5, 6, 7],
      ],
      undefined,
      'int32',
    );
    const run = model.runWithCache(cleanTokens);
    run.logits.dispose();
    cache = run.cache;
  });
  afterAll(() => {
    cache.dispose();
    tf.dispose([cleanTokens, corruptedTokens]);
    model.dispose();
  });

  it('workers: 2 gives the values of one worker, in index order, with progress to the total', async () => {
    for (const sweep of [getActPatchResidPre, getActPatchAttnHeadOutByPos]) {
      const one = await sweep(model, corruptedTokens, cache, metric, { workers: 1, batchSize: 3 });
      const before = tf.memory().numTensors;
      const progress: number[] = [];
      const two = await sweep(model, corruptedTokens, cache, metric, {
        workers: 2,
        batchSize: 3,
        onProgress: (done) => progress.push(done),
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(two.shape).toEqual(one.shape);
      expect(maxDifference(two.values, one.values)).toBeLessThan(1e-6);
      expect(progress.at(-1)).toBe(one.size);
      for (let i = 1; i < progress.length; i++)
        expect(progress[i]).toBeGreaterThan(progress[i - 1]!);
    }
  });

  it('cancels across workers with AbortError and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const error = await getActPatchAttnHeadOutByPos(model, corruptedTokens, cache, metric, {
      workers: 2,
      batchSize: 2,
      signal: controller.signal,
      onProgress: (done) => {
        if (done > 10) controller.abort(new Error('stop'));
      },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as Error).message).toMatch(/cancelled after \d+ of 64 patches/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects with a worker's error, and the next sweep runs", async () => {
    const before = tf.memory().numTensors;
    const broken: HookedModel = Object.create(model, {
      workerSource: {
        value: () => ({
          module: new URL('./test-support/failing-worker-model.ts', import.meta.url).href,
          exportName: 'failingWorkerModel',
          argument: null,
        }),
      },
    });
    const error = await getActPatchResidPre(broken, corruptedTokens, cache, metric, {
      workers: 2,
      batchSize: 2,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot build its model \(on purpose\)/);
    expect(tf.memory().numTensors).toBe(before);
    const after = await getActPatchResidPre(model, corruptedTokens, cache, metric, { workers: 2 });
    expect(after.size).toBe(16);
  });
});
