import type { ActivationCache } from '@patchlens/activation-cache';
import { useBackend } from '@patchlens/backends/testing';
import type { GPT2 } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getActPatchAttnHeadOutByPos, getActPatchResidPre } from './activation-patch-functions.js';
import { mergePatchResults } from './merge-patch-results.js';
import type { PatchResult } from './patch-result.js';
import { logitDiff } from './patching-metric.js';
import { getActPatchBlockEvery } from './stacked-patch-functions.js';
import { loadTinyGPT2 } from './test-support/tiny-gpt2.js';

const TINY = { nLayers: 3, nHeads: 2, dModel: 16, dVocab: 61, nCtx: 16 };
const CLEAN = [
  [4, 17, 33, 8, 50],
  [9, 2, 41, 27, 13],
];
const CORRUPTED = [
  [4, 17, 45, 8, 50],
  [9, 30, 41, 27, 13],
];
const SWEEPS = {
  resid_pre: getActPatchResidPre,
  attn_head_out_by_pos: getActPatchAttnHeadOutByPos,
  block_every: getActPatchBlockEvery,
} as const;

describe('sharded sweeps (tiny GPT-2, cpu)', () => {
  let model: GPT2;
  let corrupted: tf.Tensor;
  let cache: ActivationCache;
  const metric = logitDiff({ answers: [12, 7], wrong: [20, 3] });

  beforeAll(async () => {
    await useBackend('cpu');
    model = await loadTinyGPT2(TINY, 11);
    corrupted = tf.tensor2d(CORRUPTED, undefined, 'int32');
    const clean = tf.tensor2d(CLEAN, undefined, 'int32');
    const run = model.runWithCache(clean);
    run.logits.dispose();
    clean.dispose();
    cache = run.cache;
  });
  afterAll(() => {
    cache.dispose();
    corrupted.dispose();
    model.dispose();
  });

  for (const [name, sweep] of Object.entries(SWEEPS)) {
    it(`${name}: for n in 1, 2, 3, 7 the merged shards equal the unsharded sweep`, async () => {
      const full = await sweep(model, corrupted, cache, metric);
      const fullOnePerPass = await sweep(model, corrupted, cache, metric, { batchSize: 1 });
      for (const count of [1, 2, 3, 7]) {
        const before = tf.memory().numTensors;
        const parts: PatchResult[] = [];
        for (let index = 0; index < count; index++) {
          const part = await sweep(model, corrupted, cache, metric, { shard: { index, count } });
          expect(part.shape).toEqual(full.shape);
          expect(part.shard).toMatchObject({ index, count });
          // NaN exactly outside the part's indices
          const held = new Set(part.shard!.indices);
          expect(Array.from(part.values, Number.isNaN)).toEqual(
            Array.from(part.values, (_, flat) => !held.has(flat)),
          );
          parts.push(part);
        }
        expect(tf.memory().numTensors).toBe(before);
        // any order of the parts
        const merged = mergePatchResults([...parts].reverse());
        expect(merged.shard).toBeUndefined();
        expect(merged.shape).toEqual(full.shape);
        expect(merged.axes).toEqual(full.axes);
        merged.values.forEach((value, flat) => {
          expect(Math.abs(value - full.values[flat]!)).toBeLessThanOrEqual(1e-6);
        });
        // the same batches (one patch per pass) give the same bits
        const onePerPass: PatchResult[] = [];
        for (let index = 0; index < count; index++) {
          onePerPass.push(
            await sweep(model, corrupted, cache, metric, { shard: { index, count }, batchSize: 1 }),
          );
        }
        expect(Array.from(mergePatchResults(onePerPass).values)).toEqual(
          Array.from(fullOnePerPass.values),
        );
      }
    });
  }

  it('onBatch reports every computed index once, and completed values are not recomputed', async () => {
    const full = await getActPatchAttnHeadOutByPos(model, corrupted, cache, metric);
    const seen: number[] = [];
    const stored = new Map<number, number>();
    await getActPatchAttnHeadOutByPos(model, corrupted, cache, metric, {
      batchSize: 4,
      onBatch: ({ indices, values }) => {
        indices.forEach((flat, entry) => {
          seen.push(flat);
          if (stored.size < 11) stored.set(flat, values[entry]!);
        });
      },
    });
    expect([...seen].sort((a, b) => a - b)).toEqual([...full.values.keys()]);
    // resume from the first 11 values: only the rest is computed, the result is the same
    const computed: number[] = [];
    let total = -1;
    const resumed = await getActPatchAttnHeadOutByPos(model, corrupted, cache, metric, {
      batchSize: 4,
      completed: { indices: [...stored.keys()], values: [...stored.values()] },
      onBatch: ({ indices }) => computed.push(...indices),
      onProgress: (_, all) => {
        total = all;
      },
    });
    expect(total).toBe(full.size - 11);
    expect(computed.some((flat) => stored.has(flat))).toBe(false);
    resumed.values.forEach((value, flat) => {
      expect(Math.abs(value - full.values[flat]!)).toBeLessThanOrEqual(1e-6);
    });
  });

  it('refuses completed values outside the sweep or not finite, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    await expect(
      getActPatchResidPre(model, corrupted, cache, metric, {
        completed: { indices: [99], values: [1] },
      }),
    ).rejects.toThrow(/completed.indices holds 99, which is not a flat index of this sweep/);
    await expect(
      getActPatchResidPre(model, corrupted, cache, metric, {
        completed: { indices: [0], values: [Number.NaN] },
      }),
    ).rejects.toThrow(/completed values must be finite/);
    await expect(
      getActPatchResidPre(model, corrupted, cache, metric, { shard: { index: 3, count: 3 } }),
    ).rejects.toThrow(/shard must be \{ index, count \} with integers 0 <= index < count/);
    expect(tf.memory().numTensors).toBe(before);
  });

  describe('mergePatchResults refuses', () => {
    let parts: PatchResult[];
    let other: PatchResult;
    beforeAll(async () => {
      parts = [];
      for (let index = 0; index < 3; index++) {
        parts.push(
          await getActPatchResidPre(model, corrupted, cache, metric, {
            shard: { index, count: 3 },
          }),
        );
      }
      other = await getActPatchAttnHeadOutByPos(model, corrupted, cache, metric, {
        shard: { index: 1, count: 3 },
      });
    });
    const names = { names: ['a.json', 'b.json', 'c.json'] };

    it('parts of different sweeps, naming both', () => {
      expect(() => mergePatchResults([parts[0]!, other, parts[2]!], names)).toThrow(
        /b\.json and a\.json are not parts of the same sweep \(axes/,
      );
    });
    it('a missing shard', () => {
      expect(() => mergePatchResults([parts[0]!, parts[2]!], names)).toThrow(
        /shard 1 of 3 missing \(got a\.json = shard 0, b\.json = shard 2\)/,
      );
    });
    it('a duplicated shard', () => {
      expect(() => mergePatchResults([parts[0]!, parts[1]!, parts[1]!], names)).toThrow(
        /shard 1\/3 is given twice \(b\.json and c\.json\)/,
      );
    });
    it('a different split count', async () => {
      const half = await getActPatchResidPre(model, corrupted, cache, metric, {
        shard: { index: 0, count: 2 },
      });
      expect(() => mergePatchResults([parts[0]!, half, parts[2]!], names)).toThrow(
        /b\.json and a\.json are not parts of the same sweep \(a split into 2 shards vs 3\)/,
      );
    });
    it('overlapping indices', () => {
      const overlapping = Object.assign(Object.create(Object.getPrototypeOf(parts[1]!)), {
        ...parts[1]!,
        shard: { ...parts[1]!.shard!, indices: Int32Array.from([0, ...parts[1]!.shard!.indices]) },
      });
      expect(() => mergePatchResults([parts[0]!, overlapping, parts[2]!], names)).toThrow(
        /a\.json and b\.json both hold flat index 0/,
      );
    });
    it('an unsharded result or no parts', async () => {
      const full = await getActPatchResidPre(model, corrupted, cache, metric);
      expect(() => mergePatchResults([full])).toThrow(/part 0 is not a shard of a sweep/);
      expect(() => mergePatchResults([])).toThrow(/at least one part/);
    });
  });
});

describe('a sharded sweep on worker threads (tiny GPT-2, wasm)', () => {
  let workerModel: GPT2;
  let corrupted: tf.Tensor;
  let workerCache: ActivationCache;
  const metric = logitDiff({ answers: [12, 7], wrong: [20, 3] });

  beforeAll(async () => {
    await useBackend('wasm');
    workerModel = await loadTinyGPT2(TINY, 11);
    corrupted = tf.tensor2d(CORRUPTED, undefined, 'int32');
    const clean = tf.tensor2d(CLEAN, undefined, 'int32');
    const run = workerModel.runWithCache(clean);
    run.logits.dispose();
    clean.dispose();
    workerCache = run.cache;
  });
  afterAll(() => {
    workerCache.dispose();
    corrupted.dispose();
    workerModel.dispose();
  });

  it('a shard with workers: 2: onBatch reports each of its indices once, values as on one thread', async () => {
    const shard = { index: 1, count: 3 };
    const one = await getActPatchAttnHeadOutByPos(workerModel, corrupted, workerCache, metric, {
      shard,
      workers: 1,
    });
    const seen: number[] = [];
    const two = await getActPatchAttnHeadOutByPos(workerModel, corrupted, workerCache, metric, {
      shard,
      workers: 2,
      batchSize: 2,
      onBatch: ({ indices }) => seen.push(...indices),
    });
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from(one.shard!.indices));
    two.values.forEach((value, flat) => {
      if (Number.isNaN(one.values[flat]!)) expect(Number.isNaN(value)).toBe(true);
      else expect(Math.abs(value - one.values[flat]!)).toBeLessThanOrEqual(1e-6);
    });
  });
});
