/**
 * All 18 sweeps against TransformerLens itself: the `get_act_patch_*` results TransformerLens 3
 * wrote for a seeded GPT-2 checkpoint (packages/models-gpt2/test/fixtures/transformerlens), for
 * raw and processed weights, on both engines. An external oracle: "fast == reference" cannot catch
 * a misreading both engines share; this can. Runs on wasm, where the reference engine's ~3,600
 * forward passes take seconds (the forward pass itself is checked on cpu and wasm in models-gpt2).
 */
import type { ActivationCache } from '@patchlens/activation-cache';
import { useBackend } from '@patchlens/backends/testing';
import type { GPT2 } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FixtureWeights,
  fixtureError,
  readTransformerLensFixture,
  TRANSFORMERLENS_GPT2_CHECKPOINT,
} from '../../models-gpt2/src/test-support/transformerlens-fixture.js';
import { logitDiff } from './patching-metric.js';
import { PATCHING_FUNCTION_NAMES, PATCHING_FUNCTIONS } from './patching-registry.js';
import { evaluateMetric } from './prepare-patching.js';

const TOLERANCE = 1e-5;
const ENGINES = ['fast', 'reference'] as const;

describe.each(['raw', 'processed'] as const satisfies readonly FixtureWeights[])(
  'sweeps against TransformerLens 3 with %s weights on wasm',
  (weights) => {
    const fixture = readTransformerLensFixture(weights);
    const metric = logitDiff({ answers: fixture.answer, wrong: fixture.wrong });
    let model: GPT2;
    let corruptedTokens: tf.Tensor2D;
    let cleanCache: ActivationCache;

    beforeAll(async () => {
      await useBackend('wasm');
      model = await loadGPT2FromFolder(TRANSFORMERLENS_GPT2_CHECKPOINT, {
        processWeights: weights === 'processed',
      });
      corruptedTokens = tf.tensor2d(fixture.corruptedTokens, undefined, 'int32');
      const cleanTokens = tf.tensor2d(fixture.cleanTokens, undefined, 'int32');
      const run = model.runWithCache(cleanTokens);
      run.logits.dispose();
      cleanTokens.dispose();
      cleanCache = run.cache;
    });
    afterAll(() => {
      cleanCache?.dispose();
      corruptedTokens?.dispose();
      model?.dispose();
    });

    it('the fixture holds every sweep, and the unpatched metric equals TransformerLens', async () => {
      expect([...fixture.patching.keys()].sort()).toEqual(
        PATCHING_FUNCTION_NAMES.map((name) => `get_act_patch_${name}`).sort(),
      );
      const corrupted = await evaluateMetric(model, corruptedTokens, metric);
      expect(Math.abs(corrupted - fixture.corruptedMetric)).toBeLessThan(TOLERANCE);
    });

    it.each(PATCHING_FUNCTION_NAMES)('%s: both engines equal TransformerLens', async (name) => {
      const expected = fixture.patching.get(`get_act_patch_${name}`)!;
      const before = tf.memory().numTensors;
      for (const engine of ENGINES) {
        const result = await PATCHING_FUNCTIONS[name](model, corruptedTokens, cleanCache, metric, {
          engine,
        });
        expect
          .soft(fixtureError(result.values, expected, result.shape), `${name} (${engine})`)
          .toBeLessThan(TOLERANCE);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  },
);
