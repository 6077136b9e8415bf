// Checks a decoder model against TransformerLens's own outputs (test/fixtures/transformerlens/*.json):
// every hook point of run_with_cache, the logits, and all 18 patching functions on both engines.
import { readFileSync } from 'node:fs';
import type { ActivationCache } from '@patchlens/activation-cache';
import { useBackend } from '@patchlens/backends/testing';
import type { DecoderModel } from '@patchlens/decoder';
import { logitDiff, PATCHING_FUNCTIONS, type PatchingFunctionName } from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Nested = number | null | Nested[];
interface FixtureTensor {
  readonly shape: number[];
  readonly values: Nested;
}
interface Fixture {
  readonly inputs: {
    clean_tokens: number[][];
    corrupted_tokens: number[][];
    answer_token_A: number;
    answer_token_B: number;
  };
  readonly clean_metric: number;
  readonly corrupted_metric: number;
  readonly clean_logits_last: FixtureTensor;
  readonly clean_cache: Record<string, FixtureTensor>;
  readonly patching: Record<string, FixtureTensor | { error: string }>;
}

/** The fixture JSON (raw_b2 or processed_b2). */
export function readFixture(path: string): Fixture {
  return JSON.parse(readFileSync(path, 'utf8')) as Fixture;
}

/** Flattened values; `null` (TransformerLens's -inf in masked scores) becomes -Infinity. */
function flat(values: Nested): number[] {
  if (values === null) return [Number.NEGATIVE_INFINITY];
  if (typeof values === 'number') return [values];
  return values.flatMap(flat);
}

/** Asserts `actual` equals the reference to 1e-5 × max(1, max |reference|) (infinities must match). */
export function expectMatches(
  actual: ArrayLike<number>,
  reference: FixtureTensor,
  label: string,
): void {
  const expected = flat(reference.values);
  expect(actual.length, `${label}: element count`).toBe(expected.length);
  let largest = 1;
  for (const value of expected)
    if (Number.isFinite(value)) largest = Math.max(largest, Math.abs(value));
  const tolerance = 1e-5 * largest;
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = actual[i]!;
    if (!Number.isFinite(want)) {
      expect(got, `${label}[${i}]`).toBe(want);
      continue;
    }
    const difference = Math.abs(got - want);
    if (!(difference <= worst)) {
      worst = difference;
      worstIndex = i;
    }
  }
  expect(
    worst,
    `${label}: max |difference| at flat index ${worstIndex} (tolerance ${tolerance})`,
  ).toBeLessThanOrEqual(tolerance);
}

/** What one suite runs: a model loader and the fixture. */
export interface FixtureSuite {
  readonly title: string;
  readonly backend: 'cpu' | 'wasm';
  readonly fixturePath: string;
  readonly load: () => Promise<DecoderModel>;
  /** Which engines run the 18 patching functions (default both). */
  readonly engines?: readonly ('fast' | 'reference')[];
}

/** Defines the hook-point and patching parity tests of one model + fixture. */
export function defineFixtureSuite(suite: FixtureSuite): void {
  describe(suite.title, () => {
    let model: DecoderModel;
    let fixture: Fixture;
    let clean: tf.Tensor2D;
    let corrupted: tf.Tensor2D;
    beforeAll(async () => {
      await useBackend(suite.backend);
      fixture = readFixture(suite.fixturePath);
      model = await suite.load();
      clean = tf.tensor2d(fixture.inputs.clean_tokens, undefined, 'int32');
      corrupted = tf.tensor2d(fixture.inputs.corrupted_tokens, undefined, 'int32');
    });
    afterAll(() => {
      tf.dispose([clean, corrupted]);
      model?.dispose();
    });

    it('has exactly TransformerLens 3.x hook points, each equal to run_with_cache, and no leaked tensors', () => {
      expect([...model.hookNames].sort()).toEqual(Object.keys(fixture.clean_cache).sort());
      const before = tf.memory().numTensors;
      const { logits, cache } = model.runWithCache(clean);
      for (const [name, reference] of Object.entries(fixture.clean_cache)) {
        const activation = cache.get(name);
        expect(activation.shape, name).toEqual(reference.shape);
        expectMatches(activation.dataSync(), reference, name);
      }
      expectMatches(logits.dataSync(), fixture.clean_cache['unembed.hook_out']!, 'logits');
      const [batch, positions] = clean.shape;
      const last = tf.tidy(() => tf.slice(logits, [0, positions - 1, 0], [batch, 1, -1]));
      expectMatches(last.dataSync(), fixture.clean_logits_last, 'clean_logits_last');
      tf.dispose([logits, last]);
      cache.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    const names = Object.keys(PATCHING_FUNCTIONS) as PatchingFunctionName[];
    for (const engine of suite.engines ?? (['fast', 'reference'] as const)) {
      describe(`patching functions on the ${engine} engine (batch 2)`, () => {
        let cache: ActivationCache;
        beforeAll(() => {
          const run = model.runWithCache(clean);
          run.logits.dispose();
          cache = run.cache;
        });
        afterAll(() => cache?.dispose());
        if (engine === 'fast') {
          it('takes the position shortcut (passes that start at a later position, rotary keys reused)', async () => {
            const metric = logitDiff({
              answers: fixture.inputs.answer_token_A,
              wrong: fixture.inputs.answer_token_B,
            });
            const starts: number[] = [];
            const original = model.runWithHooks.bind(model);
            model.runWithHooks = (input, hooks, options = {}) => {
              starts.push(options.startAtPosition ?? 0);
              return original(input, hooks, options);
            };
            try {
              await PATCHING_FUNCTIONS.resid_pre(model, corrupted, cache, metric, { engine });
            } finally {
              model.runWithHooks = original;
            }
            expect(Math.max(...starts)).toBeGreaterThan(0);
          });
        }
        for (const name of names) {
          it(`${name} equals TransformerLens, leaking no tensors`, async () => {
            const metric = logitDiff({
              answers: fixture.inputs.answer_token_A,
              wrong: fixture.inputs.answer_token_B,
            });
            const reference = fixture.patching[`get_act_patch_${name}`]!;
            const sweep = PATCHING_FUNCTIONS[name] as (
              ...args: unknown[]
            ) => Promise<{ values: Float32Array; shape: readonly number[] }>;
            const before = tf.memory().numTensors;
            if ('error' in reference) {
              // TransformerLens raises KeyError: a parallel block has no resid_mid.
              await expect(sweep(model, corrupted, cache, metric, { engine })).rejects.toThrow(
                /no resid_mid.*parallel/,
              );
            } else {
              const result = await sweep(model, corrupted, cache, metric, { engine });
              expect([...result.shape]).toEqual(reference.shape);
              expectMatches(result.values, reference, `${name} (${engine})`);
            }
            expect(tf.memory().numTensors).toBe(before);
          });
        }
      });
    }
  });
}
