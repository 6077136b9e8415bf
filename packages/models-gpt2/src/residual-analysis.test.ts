import { type ActivationCache, logitLens } from '@patchlens/activation-cache';
import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from './gpt2.js';
import { createGPT2Config } from './gpt2-config.js';
import { randomGPT2Checkpoint } from './random-checkpoint.js';

// The ActivationCache analysis (TransformerLens 3.x semantics) checked against invariants of a real
// GPT-2 forward pass, computed independently in plain JS from the cached activations.

const TINY = { nLayers: 3, nHeads: 4, dModel: 16, dVocab: 29, nCtx: 12 };
const TOKENS = [
  [1, 5, 9, 3, 7, 2],
  [4, 8, 15, 16, 23, 0],
];
const ANSWER = 11;
const WRONG = 6;

/** Values of a tensor as a plain array. */
const plain = (tensor: tf.Tensor) => Array.from(tensor.dataSync());

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

/** Sum over axis 0 of `[n, ...rest]` values, in plain JS. */
function sumComponents(stack: tf.Tensor): number[] {
  const values = stack.dataSync();
  const size = stack.size / stack.shape[0]!;
  const sums = new Array<number>(size).fill(0);
  for (let i = 0; i < values.length; i++) sums[i % size] = sums[i % size]! + values[i]!;
  return sums;
}

/** The vector at [b, p] of a [batch, pos, d] tensor. */
function vectorAt(tensor: tf.Tensor, b: number, p: number): number[] {
  const [, positions, width] = tensor.shape as [number, number, number];
  const data = tensor.dataSync();
  const start = (b * positions + p) * width;
  return Array.from(data.slice(start, start + width));
}

/** Plain-JS LayerNorm of one vector (centre, divide by sqrt(var + eps), then w and b if given). */
function layerNorm(x: number[], eps: number, w?: number[], b?: number[]): number[] {
  const mean = x.reduce((sum, v) => sum + v, 0) / x.length;
  const centred = x.map((v) => v - mean);
  const scale = Math.sqrt(centred.reduce((sum, v) => sum + v * v, 0) / x.length + eps);
  return centred.map((v, i) => (v / scale) * (w ? w[i]! : 1) + (b ? b[i]! : 0));
}

for (const processWeights of [true, false]) {
  describe.each(TEST_BACKENDS)(
    `cache analysis, ${processWeights ? 'processed' : 'raw'} weights, on %s`,
    (backend) => {
      let model: GPT2;
      let tokens: tf.Tensor2D;
      let logits: tf.Tensor;
      let cache: ActivationCache;
      const positions = TOKENS[0]!.length;
      const last = positions - 1;

      beforeAll(async () => {
        await useBackend(backend);
        model = GPT2.fromWeights(createGPT2Config(TINY), randomGPT2Checkpoint(TINY, { seed: 7 }), {
          processWeights,
        });
        tokens = tf.tensor2d(TOKENS, undefined, 'int32');
        ({ logits, cache } = model.runWithCache(tokens));
      });
      afterAll(() => {
        cache?.dispose();
        tf.dispose([tokens, logits]);
        model?.dispose();
      });

      it('the cache keeps its model; every call leaves no tensor behind but its result', () => {
        expect(cache.model).toBe(model);
        expect(cache.sliceBatch(0).model).toBe(model);
        const before = tf.memory().numTensors;
        const results = [
          cache.accumulatedResid(undefined, { applyLn: true, inclMid: true }),
          cache.decomposeResid(1, { applyLn: true, mlpInput: true }),
          cache.stackHeadResults(-1, { applyLn: true, inclRemainder: true, posSlice: [0, last] }),
          cache.logitAttrs(cache.decomposeResid(undefined, { posSlice: -1 }), ANSWER, WRONG, {
            posSlice: -1,
          }),
        ];
        // logitAttrs' input stack is the only other tensor left
        expect(tf.memory().numTensors).toBe(before + results.length + 1);
        tf.dispose(results);
      });

      it('decomposeResid sums to the last resid_post; labels embed, pos_embed, {l}_attn_out, {l}_mlp_out', () => {
        const [stack, labels] = cache.decomposeResid(undefined, { returnLabels: true });
        expect(labels).toEqual([
          'embed',
          'pos_embed',
          '0_attn_out',
          '0_mlp_out',
          '1_attn_out',
          '1_mlp_out',
          '2_attn_out',
          '2_mlp_out',
        ]);
        expect(stack.shape).toEqual([8, 2, positions, TINY.dModel]);
        const residPost = plain(cache.get('blocks.2.hook_resid_post'));
        expect(maxDifference(sumComponents(stack), residPost)).toBeLessThan(1e-4);
        stack.dispose();
        // mode and layer: the input of block 1's MLP = embeds + attn_out 0 + mlp_out 0 + attn_out 1
        const mid = cache.decomposeResid(1, { mlpInput: true });
        expect(
          maxDifference(sumComponents(mid), plain(cache.get('blocks.1.hook_resid_mid'))),
        ).toBeLessThan(1e-4);
        mid.dispose();
        const [attnOnly, attnLabels] = cache.decomposeResid(2, {
          mode: 'attn',
          inclEmbeds: false,
          returnLabels: true,
        });
        expect(attnLabels).toEqual(['0_attn_out', '1_attn_out']);
        attnOnly.dispose();
      });

      it('Σ logitAttrs(decomposeResid) (+ b_U[A] − b_U[B]) is the clean logit difference; raw weights: the normalised stream · (W_U[A] − W_U[B])', () => {
        const stack = cache.decomposeResid(undefined, { posSlice: -1 }); // [components, batch, dModel]
        expect(stack.shape).toEqual([8, 2, TINY.dModel]);
        const attrs = cache.logitAttrs(stack, ANSWER, WRONG, { posSlice: -1 }); // [components, batch]
        expect(attrs.shape).toEqual([8, 2]);
        const sums = sumComponents(attrs);
        const { W_U, b_U } = model.analysisWeights;
        const wU = W_U.arraySync() as number[][];
        const bU = plain(b_U);
        const scale = cache.get('ln_final.hook_scale'); // [batch, pos, 1]
        for (let b = 0; b < 2; b++) {
          const logitRow = vectorAt(logits, b, last);
          const logitDifference = logitRow[ANSWER]! - logitRow[WRONG]!;
          if (processWeights) {
            expect(sums[b]! + bU[ANSWER]! - bU[WRONG]!).toBeCloseTo(logitDifference, 4);
          } else {
            // TransformerLens leaves ln_final's weight and bias out of logit_attrs (they are in
            // W_U/b_U only once folded): the sum is the centred stream over the cached scale · ΔW_U.
            const resid = vectorAt(cache.get('blocks.2.hook_resid_post'), b, last);
            const mean = resid.reduce((sum, v) => sum + v, 0) / resid.length;
            const s = scale.dataSync()[b * positions + last]!;
            const expected = resid.reduce(
              (sum, v, d) => sum + ((v - mean) / s) * (wU[d]![ANSWER]! - wU[d]![WRONG]!),
              0,
            );
            expect(sums[b]!).toBeCloseTo(expected, 4);
          }
        }
        // one id per prompt gives the same as the single id here
        const perPrompt = cache.logitAttrs(stack, [ANSWER, ANSWER], [WRONG, WRONG], {
          posSlice: -1,
        });
        expect(maxDifference(plain(perPrompt), plain(attrs))).toBeLessThan(1e-6);
        expect(() =>
          cache.logitAttrs(stack, [ANSWER, ANSWER, ANSWER], undefined, { posSlice: -1 }),
        ).toThrow(/3 token ids for a stack with 2 prompts/);
        tf.dispose([stack, attrs, perPrompt]);
      });

      it('accumulatedResid(applyLn): final_post @ W_U + b_U are the logits; each component gets the final LayerNorm with its own statistics', () => {
        const [stack, labels] = cache.accumulatedResid(undefined, {
          applyLn: true,
          returnLabels: true,
        });
        expect(labels).toEqual(['0_pre', '1_pre', '2_pre', 'final_post']);
        const { W_U, b_U, lnFinal, eps } = model.analysisWeights;
        const finalPost = tf.tidy(() => {
          const row = tf.reshape(tf.slice(stack, [3], [1]), [2 * positions, TINY.dModel]);
          return tf.add(tf.matMul(row, W_U), b_U);
        });
        expect(maxDifference(plain(finalPost), plain(logits))).toBeLessThan(1e-4);
        // component 1 = LN_final(resid_pre 1) in plain JS (weight and bias only with raw weights)
        const w = lnFinal ? plain(lnFinal.w) : undefined;
        const bias = lnFinal ? plain(lnFinal.b) : undefined;
        expect(lnFinal === null).toBe(processWeights);
        const residPre1 = cache.get('blocks.1.hook_resid_pre');
        for (const [b, p] of [
          [0, 0],
          [1, last],
        ] as const) {
          const expected = layerNorm(vectorAt(residPre1, b, p), eps, w, bias);
          const start = ((1 * 2 + b) * positions + p) * TINY.dModel;
          const actual = Array.from(stack.dataSync().slice(start, start + TINY.dModel));
          expect(maxDifference(actual, expected)).toBeLessThan(1e-4);
        }
        // with inclMid, and a block as target: labels and the stream entering it
        const [upTo2, midLabels] = cache.accumulatedResid(2, { inclMid: true, returnLabels: true });
        expect(midLabels).toEqual(['0_pre', '0_mid', '1_pre', '1_mid', '2_pre']);
        const lastPos = cache.accumulatedResid(undefined, { posSlice: -1 });
        expect(lastPos.shape).toEqual([4, 2, TINY.dModel]);
        tf.dispose([stack, finalPost, upTo2, lastPos]);
      });

      it('stackHeadResults: per layer Σ heads + b_O = hook_attn_out; with the remainder, the whole stream', () => {
        const [heads, labels] = cache.stackHeadResults(undefined, { returnLabels: true });
        expect(labels.slice(0, 5)).toEqual(['L0H0', 'L0H1', 'L0H2', 'L0H3', 'L1H0']);
        expect(heads.shape).toEqual([12, 2, positions, TINY.dModel]);
        const { b_O } = model.analysisWeights;
        for (let layer = 0; layer < TINY.nLayers; layer++) {
          const perLayer = tf.slice(heads, [layer * 4], [4]);
          const bias = plain(b_O[layer]!);
          const sums = sumComponents(perLayer).map((v, i) => v + bias[i % TINY.dModel]!);
          expect(
            maxDifference(sums, plain(cache.get(`blocks.${layer}.hook_attn_out`))),
          ).toBeLessThan(1e-4);
          perLayer.dispose();
        }
        const withRemainder = cache.stackHeadResults(undefined, {
          inclRemainder: true,
          posSlice: -1,
        });
        expect(withRemainder.shape).toEqual([13, 2, TINY.dModel]);
        const lastResid = tf.tidy(() =>
          tf.squeeze(tf.slice(cache.get('blocks.2.hook_resid_post'), [0, last], [-1, 1]), [1]),
        );
        expect(maxDifference(sumComponents(withRemainder), plain(lastResid))).toBeLessThan(1e-4);
        // applyLn divides every head by the cached final scale
        const scaled = cache.stackHeadResults(undefined, { applyLn: true, posSlice: -1 });
        const direct = cache.applyLnToStack(tf.slice(withRemainder, [0], [12]), undefined, {
          posSlice: -1,
        });
        expect(maxDifference(plain(scaled), plain(direct))).toBeLessThan(1e-6);
        const empty = cache.stackHeadResults(0);
        expect(empty.shape).toEqual([0, 2, positions, TINY.dModel]);
        tf.dispose([heads, withRemainder, lastResid, scaled, direct, empty]);
      });

      it('stackHeadResults reads attn.hook_result when cached (useAttnResult) and gets the same heads; a cache without the batch axis works too', () => {
        const withResult = GPT2.fromWeights(
          createGPT2Config(TINY),
          randomGPT2Checkpoint(TINY, { seed: 7 }),
          { processWeights, useAttnResult: true },
        );
        const run = withResult.runWithCache(tokens);
        try {
          expect(run.cache.has('blocks.0.attn.hook_result')).toBe(true);
          const fromResult = run.cache.stackHeadResults();
          const fromZ = cache.stackHeadResults();
          expect(maxDifference(plain(fromResult), plain(fromZ))).toBeLessThan(1e-4);
          tf.dispose([fromResult, fromZ]);
        } finally {
          run.cache.dispose();
          run.logits.dispose();
          withResult.dispose();
        }
        using single = cache.sliceBatch(1).removeBatchDim();
        const parts = single.decomposeResid(undefined, { applyLn: true, posSlice: -1 }); // [components, dModel]
        expect(parts.shape).toEqual([8, TINY.dModel]);
        const expected = layerNorm(
          vectorAt(cache.get('blocks.2.hook_resid_post'), 1, last),
          model.analysisWeights.eps,
        );
        expect(maxDifference(sumComponents(parts), expected)).toBeLessThan(1e-4);
        parts.dispose();
      });

      it('applyLnToStack divides by the cached scale: the scaled parts sum to the normalised stream', () => {
        const parts = cache.decomposeResid(undefined, { applyLn: true }); // [components, batch, pos, d]
        const resid = cache.get('blocks.2.hook_resid_post');
        const { eps } = model.analysisWeights;
        const sums = sumComponents(parts);
        for (const [b, p] of [
          [0, 1],
          [1, last],
        ] as const) {
          const expected = layerNorm(vectorAt(resid, b, p), eps);
          const start = (b * positions + p) * TINY.dModel;
          expect(maxDifference(sums.slice(start, start + TINY.dModel), expected)).toBeLessThan(
            1e-4,
          );
        }
        // batchSlice on the stack and on the scale
        const one = cache.applyLnToStack(cache.decomposeResid(), -1, { batchSlice: 1 });
        expect(one.shape).toEqual([8, positions, TINY.dModel]);
        tf.dispose([parts, one]);
      });

      it('logitLens: the last row is the model’s logits; ranks and top-k agree', async () => {
        const before = tf.memory().numTensors;
        const lens = await logitLens(cache, { tokens: ANSWER, wrong: WRONG, topK: 3 });
        expect(tf.memory().numTensors).toBe(before);
        expect(lens.map((row) => row.label)).toEqual(['0_pre', '1_pre', '2_pre', 'final_post']);
        const final = lens[3]!;
        for (let b = 0; b < 2; b++) {
          const row = vectorAt(logits, b, last);
          expect(final.answerLogit[b]!).toBeCloseTo(row[ANSWER]!, 4);
          expect(final.logitDiff![b]!).toBeCloseTo(row[ANSWER]! - row[WRONG]!, 4);
          const sorted = [...row].sort((x, y) => y - x);
          expect(final.top[b]!.map((t) => t.logit)).toEqual(
            sorted.slice(0, 3).map((v) => expect.closeTo(v, 4)),
          );
          expect(final.answerRank[b]).toBe(row.filter((v) => v > row[ANSWER]!).length);
        }
        await expect(logitLens(cache, { tokens: 999 })).rejects.toThrow(
          /tokens must be one token id/,
        );
      });
    },
  );
}
