import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitDiff, normalizedMetric, selectLogits } from './patching-metric.js';
import { evaluateMetric, preparePatching } from './prepare-patching.js';
import { handLogitDiff, handUnpatchedLogitDiff } from './test-support/hand-patch.js';
import { TOY_CONFIG, ToyAttentionModel } from './test-support/toy-attention-model.js';

describe.each(TEST_BACKENDS)('metrics on %s', (backend) => {
  let model: ToyAttentionModel;
  beforeAll(async () => {
    await useBackend(backend);
    model = new ToyAttentionModel(TOY_CONFIG, 8);
  });
  afterAll(() => model.dispose());

  it('logitDiff reads one position and the answer tokens, and equals a hand computation', () => {
    const values = Float32Array.from({ length: 2 * 4 * 10 }, (_, i) => Math.sin(i * 1.7) * 3);
    const logits = tf.tensor3d(values, [2, 4, 10]);
    const before = tf.memory().numTensors;
    const perPrompt = logitDiff({ answers: [7, 2], wrong: [1, 9] });
    expect(perPrompt.reads).toEqual({ positions: [-1], tokens: [1, 2, 7, 9] });
    const value = tf.tidy(
      () => (perPrompt.compute(selectLogits(logits, perPrompt.reads)) as tf.Tensor).dataSync()[0],
    );
    expect(value).toBeCloseTo(handLogitDiff(logits, [7, 2], [1, 9]), 5);
    const shared = logitDiff({ answers: 4, wrong: 6, position: 1 });
    const sharedValue = tf.tidy(
      () => (shared.compute(selectLogits(logits, shared.reads)) as tf.Tensor).dataSync()[0],
    );
    // position 1 by hand
    const at = (b: number, t: number) => values[(b * 4 + 1) * 10 + t]!;
    expect(sharedValue).toBeCloseTo((at(0, 4) - at(0, 6) + at(1, 4) - at(1, 6)) / 2, 5);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  it('normalizedMetric maps corrupted to 0 and clean to 1 and keeps the reads', async () => {
    const clean = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
    const corrupted = tf.tensor2d([[1, 2, 11, 4, 5]], undefined, 'int32');
    const before = tf.memory().numTensors;
    const metric = logitDiff({ answers: 3, wrong: 5 });
    const prepared = await preparePatching(model, clean, corrupted, metric);
    expect(prepared.clean).toBeCloseTo(handUnpatchedLogitDiff(model, clean, [3], [5]), 5);
    expect(prepared.corrupted).toBeCloseTo(handUnpatchedLogitDiff(model, corrupted, [3], [5]), 5);
    expect(prepared.cleanCache.has('blocks.1.attn.hook_pattern')).toBe(true);
    expect(prepared.cleanCache.has('blocks.1.mlp.hook_post')).toBe(false);
    const normalized = normalizedMetric(metric, prepared);
    expect(normalized.reads).toEqual(metric.reads);
    expect(normalized.name).toBe('normalized-logit-diff');
    expect(await evaluateMetric(model, clean, normalized)).toBeCloseTo(1, 4);
    expect(await evaluateMetric(model, corrupted, normalized)).toBeCloseTo(0, 4);
    const opaque = normalizedMetric((logits) => tf.mean(logits), { clean: 2, corrupted: 1 });
    expect(opaque.reads).toBeUndefined();
    prepared.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([clean, corrupted]);
  });

  it('rejects bad metric arguments', () => {
    expect(() => logitDiff({ answers: -1, wrong: 2 })).toThrow(InvalidArgumentError);
    expect(() => logitDiff({ answers: [1, 2], wrong: [3, 4, 5] })).toThrow(/same count/);
    expect(() => logitDiff({ answers: 1, wrong: 2, position: 0.5 })).toThrow(/position/);
    expect(() =>
      normalizedMetric(logitDiff({ answers: 1, wrong: 2 }), { clean: 1, corrupted: 1 }),
    ).toThrow(/must differ/);
    expect(() =>
      normalizedMetric(logitDiff({ answers: 1, wrong: 2 }), { clean: Number.NaN, corrupted: 1 }),
    ).toThrow(/finite/);
    expect(() => normalizedMetric(42 as never, { clean: 1, corrupted: 0 })).toThrow(
      /metric must be/,
    );
  });
});
