import type { ActivationCache } from '@patchlens/activation-cache';
import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { AbortError, PatchLensError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { table } from 'arquero';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getActPatchAttnHeadOutByPos,
  getActPatchAttnHeadPatternDestSrcPos,
  getActPatchResidPre,
} from './activation-patch-functions.js';
import { firstChangedPosition, planChunks } from './fast-engine.js';
import { genericActivationPatch } from './generic-activation-patch.js';
import type { PatchJob } from './patch-job.js';
import {
  layerHeadDestSrcPosPatternPatchSetter,
  layerHeadPatternPatchSetter,
  layerHeadVectorPatchSetter,
  layerPosHeadVectorPatchSetter,
  layerPosPatchSetter,
  type PatchSetterFunction,
} from './patch-setters.js';
import { logitDiff } from './patching-metric.js';
import { getActPatchBlockEvery } from './stacked-patch-functions.js';
import { handLogitDiff } from './test-support/hand-patch.js';
import { maxDifference } from './test-support/parity-suite.js';
import { TOY_CONFIG, ToyAttentionModel } from './test-support/toy-attention-model.js';

const CLEAN = [
  [1, 5, 9, 3, 7, 2],
  [2, 4, 6, 8, 10, 12],
];
const CORRUPTED = [
  [1, 5, 11, 3, 7, 2],
  [2, 4, 6, 15, 10, 12],
];

describe.each(TEST_BACKENDS)('fast engine options and fallbacks on %s', (backend) => {
  let model: ToyAttentionModel;
  let plainModel: ToyAttentionModel;
  let cleanTokens: tf.Tensor;
  let corruptedTokens: tf.Tensor;
  let cleanCache: ActivationCache;
  const metric = logitDiff({ answers: [3, 7], wrong: [5, 2] });

  beforeAll(async () => {
    await useBackend(backend);
    model = new ToyAttentionModel(TOY_CONFIG, 21);
    // the same weights, but no shortcut: the fast engine can only batch
    plainModel = new ToyAttentionModel(TOY_CONFIG, 21, {
      startAtLayer: false,
      stopAtLayer: false,
      selectiveUnembed: false,
    });
    cleanTokens = tf.tensor2d(CLEAN, undefined, 'int32');
    corruptedTokens = tf.tensor2d(CORRUPTED, undefined, 'int32');
    const run = model.runWithCache(cleanTokens);
    run.logits.dispose();
    cleanCache = run.cache;
  });

  afterAll(() => {
    cleanCache.dispose();
    tf.dispose([cleanTokens, corruptedTokens]);
    model.dispose();
    plainModel.dispose();
  });

  it('gives the same values for every batch size K, and on a model without shortcuts', async () => {
    const reference = await getActPatchAttnHeadOutByPos(
      model,
      corruptedTokens,
      cleanCache,
      metric,
      {
        engine: 'reference',
      },
    );
    const before = tf.memory().numTensors;
    for (const batchSize of [1, 3, 7, 64]) {
      const result = await getActPatchAttnHeadOutByPos(model, corruptedTokens, cleanCache, metric, {
        batchSize,
      });
      expect(maxDifference(result.values, reference.values)).toBeLessThan(1e-5);
    }
    // a budget that fits the captured corrupted run and one patch runs with K = 1 ...
    const smallBudget = await getActPatchAttnHeadOutByPos(
      model,
      corruptedTokens,
      cleanCache,
      metric,
      { memoryBudgetBytes: 256 * 1024 },
    );
    expect(maxDifference(smallBudget.values, reference.values)).toBeLessThan(1e-5);
    // ... and one that cannot is refused before any work, naming the limit and what to change
    await expect(
      getActPatchAttnHeadOutByPos(model, corruptedTokens, cleanCache, metric, {
        memoryBudgetBytes: 1,
      }),
    ).rejects.toThrow(/memory budget is 0 MiB; raise memoryBudgetBytes \(--memory-budget\)/);
    const plain = await getActPatchAttnHeadOutByPos(
      plainModel,
      corruptedTokens,
      cleanCache,
      metric,
    );
    expect(maxDifference(plain.values, reference.values)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('batches patch-setter functions and opaque metric functions, equal to the reference', async () => {
    // a function setter for [:, pos, head] written with slices and concat (no mask)
    const byPosAndHead: PatchSetterFunction = (corrupted, index, clean) => {
      const [, pos, head] = index as [number, number, number];
      const [batch, positions, heads, dHead] = corrupted.shape as number[] as [
        number,
        number,
        number,
        number,
      ];
      const cleanPiece = tf.slice(clean, [0, pos, head, 0], [batch, 1, 1, dHead]);
      const row = tf.concat(
        [
          tf.slice(corrupted, [0, pos, 0, 0], [batch, 1, head, dHead]),
          cleanPiece,
          tf.slice(corrupted, [0, pos, head + 1, 0], [batch, 1, heads - head - 1, dHead]),
        ],
        2,
      );
      return tf.concat(
        [
          tf.slice(corrupted, [0, 0, 0, 0], [batch, pos, heads, dHead]),
          row,
          tf.slice(corrupted, [0, pos + 1, 0, 0], [batch, positions - pos - 1, heads, dHead]),
        ],
        1,
      );
    };
    const opaque = (logits: tf.Tensor) => tf.scalar(handLogitDiff(logits, [3, 7], [5, 2]) * 2 + 1);
    const expected = await genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
      patchSetter: layerPosHeadVectorPatchSetter,
      activationName: 'z',
      indexAxisNames: ['layer', 'pos', 'head'],
      engine: 'reference',
    });
    const before = tf.memory().numTensors;
    for (const engine of ['fast', 'reference'] as const) {
      const custom = await genericActivationPatch(model, corruptedTokens, cleanCache, opaque, {
        patchSetter: byPosAndHead,
        activationName: 'z',
        indexAxisNames: ['layer', 'pos', 'head'],
        engine,
        batchSize: 5,
      });
      expect(custom.shape).toEqual(expected.shape);
      const doubled = expected.values.map((value) => value * 2 + 1);
      expect(maxDifference(custom.values, doubled)).toBeLessThan(2e-5);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs an explicit index table in row order, flat, and returns it', async () => {
    const rows = table({ layer: [1, 0, 1], pos: [5, 2, 0], head: [3, 1, 0] });
    const { result, indexTable } = await genericActivationPatch(
      model,
      corruptedTokens,
      cleanCache,
      metric,
      {
        patchSetter: layerPosHeadVectorPatchSetter,
        activationName: 'z',
        indexTable: rows,
        returnIndexTable: true,
      },
    );
    expect(indexTable).toBe(rows);
    expect(result.shape).toEqual([3]);
    expect(result.axes).toEqual(['row']);
    const full = await getActPatchAttnHeadOutByPos(model, corruptedTokens, cleanCache, metric);
    expect(result.values[0]).toBeCloseTo(full.get(1, 5, 3), 5);
    expect(result.values[1]).toBeCloseTo(full.get(0, 2, 1), 5);
    expect(result.values[2]).toBeCloseTo(full.get(1, 0, 0), 5);
    expect(result.toTable().objects()[1]).toEqual({
      layer: 0,
      pos: 2,
      head: 1,
      value: result.values[1],
    });
    const { indexTable: built } = await genericActivationPatch(
      model,
      corruptedTokens,
      cleanCache,
      metric,
      {
        patchSetter: layerPosHeadVectorPatchSetter,
        activationName: 'z',
        indexAxisNames: ['layer', 'pos', 'head'],
        returnIndexTable: true,
      },
    );
    expect(built.numRows()).toBe(2 * 6 * 4);
    expect(built.objects()[5]).toEqual({ layer: 0, pos: 1, head: 1 });
  });

  it('reports progress up to the total and cancels with AbortError without leaking', async () => {
    const calls: [number, number][] = [];
    await getActPatchResidPre(model, corruptedTokens, cleanCache, metric, {
      batchSize: 4,
      onProgress: (done, total) => calls.push([done, total]),
    });
    expect(calls[0]).toEqual([0, 12]);
    expect(calls.at(-1)).toEqual([12, 12]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThan(calls[i - 1]![0]);

    for (const engine of ['fast', 'reference'] as const) {
      const before = tf.memory().numTensors;
      const controller = new AbortController();
      const promise = getActPatchAttnHeadPatternDestSrcPos(
        model,
        corruptedTokens,
        cleanCache,
        metric,
        {
          engine,
          batchSize: 4,
          signal: controller.signal,
          onProgress: (done) => {
            if (done >= 8) controller.abort(new Error('user pressed stop'));
          },
        },
      );
      const error = await promise.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AbortError);
      expect(PatchLensError.isInstance(error)).toBe(true);
      // the fast engine first counts the patches that change nothing (layer-0 pattern rows
      // before the first differing token) as done, then passes of 4
      const done = Number(
        /cancelled after (\d+) of 288 patches/.exec((error as Error).message)?.[1],
      );
      if (engine === 'reference') expect(done).toBe(8);
      else expect(done).toBeGreaterThanOrEqual(8);
      expect(tf.memory().numTensors).toBe(before);
    }

    // cancellation from a timer while the sweep runs
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const running = getActPatchBlockEvery(model, corruptedTokens, cleanCache, metric, {
      engine: 'reference',
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 0);
    await expect(running).rejects.toBeInstanceOf(AbortError);
    expect(tf.memory().numTensors).toBe(before);

    // an already aborted signal rejects before any work
    await expect(
      getActPatchResidPre(model, corruptedTokens, cleanCache, metric, {
        signal: AbortSignal.abort(),
      }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('planChunks and firstChangedPosition', () => {
  it('splits patches sorted by start position into batches of at most K', () => {
    // every start 0: the plain split
    expect(planChunks([0, 0, 0, 0, 0], 2, 8)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    // later starts: cuts where starting later saves more than a pass's overhead
    const starts = [0, 0, 0, 0, 12, 12, 12, 12];
    expect(planChunks(starts, 8, 16)).toEqual([
      [0, 4],
      [4, 8],
    ]);
    // never more than K per batch, every patch exactly once, in order
    const many = Array.from({ length: 37 }, (_, i) => Math.floor(i / 3));
    const ranges = planChunks(many, 5, 13);
    expect(ranges[0]![0]).toBe(0);
    expect(ranges.at(-1)![1]).toBe(37);
    ranges.forEach(([begin, end], entry) => {
      expect(end - begin).toBeGreaterThan(0);
      expect(end - begin).toBeLessThanOrEqual(5);
      if (entry > 0) expect(begin).toBe(ranges[entry - 1]![1]);
    });
  });

  it('reads the position a declarative patch fixes (query row for patterns), else 0', () => {
    const sweep = { activationName: 'x', axisNames: [] };
    const job = (hookName: string, setter: PatchJob['setter'], index: number[]): PatchJob => ({
      hookName: hookName as PatchJob['hookName'],
      index,
      setter,
      slot: 0,
      sweep,
    });
    expect(firstChangedPosition(job('blocks.1.hook_resid_pre', layerPosPatchSetter, [1, 3]))).toBe(
      3,
    );
    expect(
      firstChangedPosition(job('blocks.0.attn.hook_z', layerPosHeadVectorPatchSetter, [0, 4, 2])),
    ).toBe(4);
    expect(
      firstChangedPosition(
        job('blocks.0.attn.hook_pattern', layerHeadDestSrcPosPatternPatchSetter, [0, 1, 5, 2]),
      ),
    ).toBe(5);
    expect(
      firstChangedPosition(job('blocks.0.attn.hook_z', layerHeadVectorPatchSetter, [0, 2])),
    ).toBe(0);
    expect(
      firstChangedPosition(job('blocks.0.attn.hook_pattern', layerHeadPatternPatchSetter, [0, 2])),
    ).toBe(0);
    expect(
      firstChangedPosition(job('blocks.0.hook_resid_pre', (corrupted) => corrupted, [0, 3])),
    ).toBe(0);
  });
});
