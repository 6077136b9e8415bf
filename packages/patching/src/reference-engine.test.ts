import { readFileSync } from 'node:fs';
import type { ActivationCache } from '@patchlens/activation-cache';
import { useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError, MetricError, ShapeMismatchError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { table } from 'arquero';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genericActivationPatch } from './generic-activation-patch.js';
import { TOY_CONFIG, ToyAttentionModel } from './test-support/toy-attention-model.js';

describe('the reference engine', () => {
  it('imports nothing from the fast engine, the masks or the shared metric code', () => {
    const source = readFileSync(new URL('./reference-engine.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/import\s[^;]*?from\s+'([^']+)'/g)].map((m) => m[0]);
    for (const statement of imports) {
      expect(statement).not.toMatch(/fast-engine|run-patch-jobs/);
      expect(statement).not.toMatch(/coordinateMask|applyPatch|selectLogits|metricScalar/);
      // only the metric's type, not its code
      if (statement.includes('patching-metric')) expect(statement).toMatch(/^import type /);
    }
    expect(imports.some((statement) => statement.includes("from './patch-setters.js'"))).toBe(true);
  });

  describe('errors name the patch and leak nothing', () => {
    let model: ToyAttentionModel;
    let corruptedTokens: tf.Tensor;
    let cleanCache: ActivationCache;
    const metric = {
      name: 'first-logit',
      reads: { positions: [-1], tokens: [3] },
      compute: tf.sum,
    };
    const options = { activationName: 'resid_pre', indexTable: table({ layer: [1], pos: [2] }) };

    beforeAll(async () => {
      await useBackend('cpu');
      model = new ToyAttentionModel(TOY_CONFIG, 4);
      const cleanTokens = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
      corruptedTokens = tf.tensor2d([[1, 2, 9, 4, 5]], undefined, 'int32');
      const run = model.runWithCache(cleanTokens);
      run.logits.dispose();
      cleanTokens.dispose();
      cleanCache = run.cache;
    });
    afterAll(() => {
      cleanCache.dispose();
      corruptedTokens.dispose();
      model.dispose();
    });

    it.each([
      [
        'a patch setter returning the wrong shape',
        (corrupted: tf.Tensor) => tf.slice(corrupted, [0, 0, 0], [1, 2, -1]),
        ShapeMismatchError,
        /patchSetter returned shape \[1,2,16\] at resid_pre index \{layer: 1, pos: 2\}/,
      ],
      [
        'a patch setter returning a number',
        () => 7 as unknown as tf.Tensor,
        InvalidArgumentError,
        /patchSetter returned number at resid_pre index \{layer: 1, pos: 2\}/,
      ],
    ])('%s', async (_label, patchSetter, kind, message) => {
      const before = tf.memory().numTensors;
      for (const engine of ['reference', 'fast'] as const) {
        const error = await genericActivationPatch(model, corruptedTokens, cleanCache, metric, {
          ...options,
          patchSetter,
          engine,
        }).catch((caught: unknown) => caught);
        expect(error, engine).toBeInstanceOf(kind);
        expect((error as Error).message, engine).toMatch(message);
      }
      expect(tf.memory().numTensors).toBe(before);
    });

    it('a metric that returns a non-scalar on the declared logits: MetricError', async () => {
      const before = tf.memory().numTensors;
      const perToken = { ...metric, compute: (logits: tf.Tensor) => tf.sum(logits, [0, 1]) }; // [1]: one value, fine
      const perPrompt = {
        ...metric,
        reads: { positions: [-1, 0] },
        compute: (logits: tf.Tensor) => tf.sum(logits, [0, 2]),
      }; // [2]
      const setter = (corrupted: tf.Tensor) => tf.clone(corrupted);
      for (const engine of ['reference', 'fast'] as const) {
        const fine = await genericActivationPatch(model, corruptedTokens, cleanCache, perToken, {
          ...options,
          patchSetter: setter,
          engine,
        });
        expect(fine.values).toHaveLength(1);
        const error = await genericActivationPatch(model, corruptedTokens, cleanCache, perPrompt, {
          ...options,
          patchSetter: setter,
          engine,
        }).catch((caught: unknown) => caught);
        expect(error, engine).toBeInstanceOf(MetricError);
        expect((error as Error).message).toMatch(
          /returned a tensor of shape \[2\] at resid_pre index/,
        );
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
