import type { ActivationCache } from '@patchlens/activation-cache';
import { useBackend } from '@patchlens/backends/testing';
import {
  InvalidArgumentError,
  MetricError,
  ShapeMismatchError,
  UnknownHookError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { table } from 'arquero';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getActPatchAttnHeadKByPos, getActPatchResidPre } from './activation-patch-functions.js';
import { genericActivationPatch } from './generic-activation-patch.js';
import { layerPosPatchSetter } from './patch-setters.js';
import { logitDiff } from './patching-metric.js';
import { preparePatching } from './prepare-patching.js';
import { getActPatchAttnHeadAllPosEvery } from './stacked-patch-functions.js';
import { TOY_CONFIG, ToyAttentionModel } from './test-support/toy-attention-model.js';

describe('bad input gives clear errors and leaks nothing', () => {
  let model: ToyAttentionModel;
  let cleanTokens: tf.Tensor;
  let corruptedTokens: tf.Tensor;
  let cleanCache: ActivationCache;
  let before: number;
  const metric = logitDiff({ answers: 3, wrong: 5 });
  const engines = ['fast', 'reference'] as const;

  beforeAll(async () => {
    await useBackend('cpu');
    model = new ToyAttentionModel(TOY_CONFIG, 4);
    cleanTokens = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
    corruptedTokens = tf.tensor2d([[1, 2, 9, 4, 5]], undefined, 'int32');
    const run = model.runWithCache(cleanTokens);
    run.logits.dispose();
    cleanCache = run.cache;
  });
  afterAll(() => {
    cleanCache.dispose();
    tf.dispose([cleanTokens, corruptedTokens]);
    model.dispose();
  });
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  it('clean and corrupted prompts of different lengths or batch sizes: both shapes in the message', async () => {
    const longer = tf.tensor2d([[1, 2, 9, 4, 5, 6]], undefined, 'int32');
    const wider = tf.tensor2d(
      [
        [1, 2, 9, 4, 5],
        [1, 2, 9, 4, 5],
      ],
      undefined,
      'int32',
    );
    try {
      for (const engine of engines) {
        const error = await getActPatchResidPre(model, longer, cleanCache, metric, {
          engine,
        }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ShapeMismatchError);
        expect((error as Error).message).toContain('[1,5,16]');
        expect((error as Error).message).toContain('[1, 6]');
        await expect(
          getActPatchResidPre(model, wider, cleanCache, metric, { engine }),
        ).rejects.toThrow(/batch 1, 5 positions.*\[2, 5\]/);
      }
      await expect(preparePatching(model, cleanTokens, longer, metric)).rejects.toThrow(
        /clean tokens have shape \[1,5\] but corrupted tokens have shape \[1,6\]/,
      );
      await expect(preparePatching(model, wider, cleanTokens, metric)).rejects.toBeInstanceOf(
        ShapeMismatchError,
      );
    } finally {
      tf.dispose([longer, wider]);
    }
  });

  it('a metric that returns a non-scalar: MetricError naming the patch index', async () => {
    const perPosition = (logits: tf.Tensor) => tf.mean(logits, [0, 2]); // [pos], not a scalar
    for (const engine of engines) {
      const error = await getActPatchResidPre(model, corruptedTokens, cleanCache, perPosition, {
        engine,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MetricError);
      expect((error as Error).message).toMatch(
        /returned a tensor of shape \[5\] at resid_pre index \{layer: 0, pos: 0\}/,
      );
    }
  });

  it('a metric that returns NaN at one patch: MetricError naming that index', async () => {
    for (const engine of engines) {
      const error = await genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        patchSetter: (corrupted, index) =>
          index[1] === 3 ? tf.fill(corrupted.shape, Number.NaN) : tf.clone(corrupted),
        activationName: 'resid_pre',
        indexTable: table({ layer: [0, 0, 1], pos: [1, 3, 2] }),
        engine,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MetricError);
      expect((error as Error).message).toMatch(
        /returned NaN at resid_pre index \{layer: 0, pos: 3\} \(hook "blocks\.0\.hook_resid_pre"\)/,
      );
    }
    const throwing = () => {
      throw new Error('boom');
    };
    await expect(getActPatchResidPre(model, corruptedTokens, cleanCache, throwing)).rejects.toThrow(
      /metric "throwing" threw "Error: boom" at resid_pre index/,
    );
  });

  it('index tables with out-of-range values or unknown axis names', async () => {
    const base = { patchSetter: layerPosPatchSetter, activationName: 'resid_pre' } as const;
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexTable: table({ layer: [0, 1], pos: [2, 9] }),
      }),
    ).rejects.toThrow(/column "pos" holds 9 in row 1; accepted: integers 0\.\.4/);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexTable: table({ layer: [2], pos: [0] }),
      }),
    ).rejects.toThrow(/column "layer" holds 2 in row 0; accepted: integers 0\.\.1/);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexTable: table({ layer: [0], position: [0] }),
      }),
    ).rejects.toThrow(/column "position" that is not an index axis.*accepted names: layer, pos/);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexTable: table({ pos: [0], layer: [0] }),
      }),
    ).rejects.toThrow(/first index axis must be "layer"/);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexTable: table({ layer: [0], pos: [1.5] }),
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexAxisNames: ['layer', 'position' as 'pos'],
      }),
    ).rejects.toThrow(/unknown index axis "position"/);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexAxisNames: ['layer', 'pos'],
        indexTable: table({ layer: [0], pos: [0] }),
      }),
    ).rejects.toThrow(/either indexAxisNames or indexTable/);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        ...base,
        indexAxisNames: ['layer', 'pos', 'head'],
      }),
    ).rejects.toThrow(/layerPosPatchSetter takes an index of 2 entries/);
    // k has nKeyValueHeads = 2 heads on this model: head 3 is out of range for k but not for q
    await expect(
      getActPatchAttnHeadKByPos(model, corruptedTokens, cleanCache, metric, {
        indexTable: table({ layer: [0], pos: [0], head: [3] }),
      }),
    ).rejects.toThrow(/column "head" holds 3 in row 0; accepted: integers 0\.\.1/);
  });

  it('bad activation names, engines, options, tokens, caches and metric reads', async () => {
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        patchSetter: layerPosPatchSetter,
        activationName: 'resid_pree',
        indexAxisNames: ['layer', 'pos'],
      }),
    ).rejects.toThrow(UnknownHookError);
    await expect(
      genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
        patchSetter: layerPosPatchSetter,
        activationName: 'blocks.0.hook_resid_pre',
        indexAxisNames: ['layer', 'pos'],
      }),
    ).rejects.toThrow(/short activation kind/);
    await expect(
      getActPatchResidPre(model, corruptedTokens, cleanCache, metric, {
        engine: 'turbo' as 'fast',
      }),
    ).rejects.toThrow(/engine must be "fast" or "reference", got "turbo"/);
    await expect(
      getActPatchResidPre(model, corruptedTokens, cleanCache, metric, { batchSize: 0 }),
    ).rejects.toThrow(/batchSize must be a positive integer/);
    const floats = tf.tensor2d([[1, 2, 3, 4, 5]]);
    try {
      await expect(getActPatchResidPre(model, floats, cleanCache, metric)).rejects.toThrow(
        /corruptedTokens must be int32/,
      );
    } finally {
      floats.dispose();
    }
    await expect(
      getActPatchResidPre(model, [[1, 2]] as unknown as tf.Tensor, cleanCache, metric),
    ).rejects.toThrow(/corruptedTokens must be an int32 tf.Tensor/);
    const { logits, cache: zOnly } = model.runWithCache(cleanTokens, { namesFilter: /hook_z$/ });
    logits.dispose();
    try {
      await expect(getActPatchResidPre(model, corruptedTokens, zOnly, metric)).rejects.toThrow(
        /clean cache lacks this activation/,
      );
    } finally {
      zOnly.dispose();
    }
    await expect(
      getActPatchResidPre(model, corruptedTokens, cleanCache, logitDiff({ answers: 99, wrong: 1 })),
    ).rejects.toThrow(/reads token id 99, outside the vocabulary; accepted: 0\.\.22/);
    await expect(
      getActPatchResidPre(
        model,
        corruptedTokens,
        cleanCache,
        logitDiff({ answers: 1, wrong: 2, position: 5 }),
      ),
    ).rejects.toThrow(/reads position 5, outside a prompt of 5 tokens/);
    await expect(
      getActPatchAttnHeadAllPosEvery(
        model,
        corruptedTokens,
        cleanCache,
        logitDiff({ answers: [1, 2], wrong: 3 }),
      ),
    ).rejects.toThrow(/answers has 2 ids \(one per prompt\) but the batch has 1 prompts/);
  });
});
