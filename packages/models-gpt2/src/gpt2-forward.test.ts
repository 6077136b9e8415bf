import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GPT2 } from './gpt2.js';
import { loadGPT2FromFolder } from './node.js';
import {
  centerLastAxis,
  logSoftmaxLastAxis,
  maxScaledError,
  toPlain,
} from './test-support/compare.js';
import type { PlainTensor } from './test-support/reference-gpt2.js';
import { TINY_CONFIG } from './test-support/tiny-checkpoint.js';
import { REFERENCE_TOKENS, useTinyReference } from './test-support/tiny-reference.js';

const TOKENS = REFERENCE_TOKENS;
const TOLERANCE = 1e-5;

const tiny = useTinyReference();
const { ref } = tiny;

describe.each(TEST_BACKENDS)(
  'GPT-2 forward against the plain-TypeScript reference on %s',
  (backend) => {
    let raw: GPT2;
    let processed: GPT2;
    let tokens: tf.Tensor2D;

    beforeAll(async () => {
      await useBackend(backend);
      raw = await loadGPT2FromFolder(tiny.checkpoint.folder, {
        processWeights: false,
        useAttnResult: true,
      });
      processed = await loadGPT2FromFolder(tiny.checkpoint.folder, { useAttnResult: true });
      tokens = tf.tensor2d(TOKENS, undefined, 'int32');
    });
    afterAll(() => {
      raw.dispose();
      processed.dispose();
      tokens.dispose();
    });

    it('matches every hook point and the logits with unprocessed weights', () => {
      const { logits, cache } = raw.runWithCache(tokens);
      try {
        expect(cache.keys()).toEqual([...raw.hookNames]);
        for (const name of raw.hookNames) {
          expect.soft(maxScaledError(cache.get(name), ref(name)), name).toBeLessThan(TOLERANCE);
        }
        expect(maxScaledError(logits, tiny.reference.logits)).toBeLessThan(TOLERANCE);
      } finally {
        cache.dispose();
        logits.dispose();
      }
    });

    it('gives the same values without useAttnResult (one matmul for all heads)', async () => {
      const plain = await loadGPT2FromFolder(tiny.checkpoint.folder, { processWeights: false });
      try {
        expect(plain.hookNames.some((name) => name.endsWith('attn.hook_result'))).toBe(false);
        const { logits, cache } = plain.runWithCache(tokens);
        for (const name of plain.hookNames) {
          expect.soft(maxScaledError(cache.get(name), ref(name)), name).toBeLessThan(TOLERANCE);
        }
        expect(maxScaledError(logits, tiny.reference.logits)).toBeLessThan(TOLERANCE);
        cache.dispose();
        logits.dispose();
      } finally {
        plain.dispose();
      }
    });

    it('processed weights give the values TransformerLens processing implies', () => {
      const { logits, cache } = processed.runWithCache(tokens);
      try {
        // Centred writing weights: the residual stream and everything written to it lose their mean over d_model.
        const centred = /hook_(embed|pos_embed|resid_pre|resid_mid|resid_post|attn_out|mlp_out)$/;
        // LayerNorm folding keeps what is computed from the normalised input, and hook_normalized
        // (before weight and bias since TransformerLens 3.0) is the same with and without folding.
        const unchanged =
          /(hook_scale|hook_normalized|hook_q|hook_k|hook_attn_scores|hook_pattern|mlp\.hook_pre|mlp\.hook_post)$/;
        for (const name of processed.hookNames) {
          const actual = cache.get(name);
          if (centred.test(name)) {
            expect
              .soft(maxScaledError(actual, centerLastAxis(ref(name))), name)
              .toBeLessThan(TOLERANCE);
          } else if (unchanged.test(name)) {
            expect.soft(maxScaledError(actual, ref(name)), name).toBeLessThan(TOLERANCE);
          }
        }
        // The folded final LayerNorm (LNPre) hands the unembedding its normalised input.
        expect(
          maxScaledError(cache.get('unembed.hook_in'), ref('ln_final.hook_normalized')),
        ).toBeLessThan(TOLERANCE);
        expect(
          maxScaledError(cache.get('unembed.hook_out'), centerLastAxis(tiny.reference.logits)),
        ).toBeLessThan(TOLERANCE);
        // Centred unembedding: logits lose their mean over the vocabulary.
        expect(maxScaledError(logits, centerLastAxis(tiny.reference.logits))).toBeLessThan(
          TOLERANCE,
        );
        // Folded value biases: v loses exactly b_V (+ the folded ln1 bias), so z and result change
        // but attn_out (checked above) does not.
        expect(processed.config.normalizationType).toBe('LNPre');
      } finally {
        cache.dispose();
        logits.dispose();
      }
    });

    it('keeps logits through fold_ln + center_writing_weights and log-probs through center_unembed', async () => {
      const folded = await loadGPT2FromFolder(tiny.checkpoint.folder, {
        processWeights: { centerUnembed: false, foldValueBiases: false },
      });
      const all = await loadGPT2FromFolder(tiny.checkpoint.folder);
      try {
        const foldedLogits = folded.forward(tokens);
        expect(maxScaledError(foldedLogits, toPlain(raw.forward(tokens)))).toBeLessThan(1e-4);
        const allLogits = all.forward(tokens);
        const logProbs = tf.logSoftmax(allLogits);
        expect(maxScaledError(logProbs, logSoftmaxLastAxis(tiny.reference.logits))).toBeLessThan(
          1e-4,
        );
        tf.dispose([foldedLogits, allLogits, logProbs]);
      } finally {
        folded.dispose();
        all.dispose();
      }
    });

    it('keeps hook_normalized through fold_ln (it is before the weights), and attn_out through fold_value_biases', async () => {
      const onlyFold = await loadGPT2FromFolder(tiny.checkpoint.folder, {
        processWeights: {
          centerWritingWeights: false,
          centerUnembed: false,
          foldValueBiases: false,
        },
      });
      const onlyValueBiases = await loadGPT2FromFolder(tiny.checkpoint.folder, {
        processWeights: { foldLn: false, centerWritingWeights: false, centerUnembed: false },
      });
      try {
        const folded = onlyFold.runWithCache(tokens, { namesFilter: /hook_normalized$/ });
        expect(folded.cache.keys()).toHaveLength(2 * TINY_CONFIG.nLayers + 1);
        for (const name of folded.cache.keys()) {
          expect
            .soft(maxScaledError(folded.cache.get(name), ref(name)), name)
            .toBeLessThan(TOLERANCE);
        }
        const valueFolded = onlyValueBiases.runWithCache(tokens, {
          namesFilter: /hook_attn_out$|hook_v$/,
        });
        for (let layer = 0; layer < TINY_CONFIG.nLayers; layer++) {
          const attnOut = `blocks.${layer}.hook_attn_out`;
          expect(maxScaledError(valueFolded.cache.get(attnOut), ref(attnOut))).toBeLessThan(
            TOLERANCE,
          );
          // ... while v itself changed (b_V is now zero).
          const v = `blocks.${layer}.attn.hook_v`;
          expect(maxScaledError(valueFolded.cache.get(v), ref(v))).toBeGreaterThan(1e-2);
        }
        folded.cache.dispose();
        folded.logits.dispose();
        valueFolded.cache.dispose();
        valueFolded.logits.dispose();
      } finally {
        onlyFold.dispose();
        onlyValueBiases.dispose();
      }
    });

    it('processed weights have the TransformerLens properties', () => {
      const stateDict = processed.stateDict();
      try {
        expect(stateDict.has('blocks.0.ln1.w')).toBe(false);
        expect(stateDict.has('ln_final.w')).toBe(false);
        const maxAbs = (tensor: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tensor)).dataSync()[0]!);
        const meanOver = (name: string, axis: number) =>
          maxAbs(tf.mean(stateDict.get(name)!, axis) as tf.Tensor);
        expect(stateDict.get('blocks.1.attn.W_Q')!.shape).toEqual([4, 16, 4]);
        expect(stateDict.get('blocks.1.attn.W_O')!.shape).toEqual([4, 4, 16]);
        expect(meanOver('embed.W_E', -1)).toBeLessThan(1e-6);
        expect(meanOver('pos_embed.W_pos', -1)).toBeLessThan(1e-6);
        expect(meanOver('blocks.1.attn.W_O', -1)).toBeLessThan(1e-6);
        expect(meanOver('blocks.1.attn.W_Q', 1)).toBeLessThan(1e-6); // centred over d_model (fold_ln)
        expect(meanOver('blocks.1.mlp.W_in', 0)).toBeLessThan(1e-6);
        expect(meanOver('blocks.1.mlp.W_out', -1)).toBeLessThan(1e-6);
        expect(meanOver('unembed.W_U', -1)).toBeLessThan(1e-6); // centred over the vocabulary
        expect(maxAbs(stateDict.get('blocks.0.attn.b_V')!)).toBe(0);
      } finally {
        tf.dispose([...stateDict.values()]);
      }
    });

    it('startAtLayer, stopAtLayer and unembed selections agree with the full pass', () => {
      for (const model of [raw, processed]) {
        const full = model.forward(tokens);
        const fullResid = model.runWithCache(tokens, { namesFilter: /hook_resid_pre$/ });
        // stopAtLayer L returns the residual stream entering block L
        for (let layer = 0; layer < TINY_CONFIG.nLayers; layer++) {
          const stopped = model.forward(tokens, { stopAtLayer: layer });
          expect(
            maxScaledError(stopped, toPlain(fullResid.cache.get(`blocks.${layer}.hook_resid_pre`))),
          ).toBe(0);
          // startAtLayer L from that residual gives the same logits
          const resumed = model.forward(stopped, { startAtLayer: layer });
          expect(maxScaledError(resumed, toPlain(full))).toBeLessThan(1e-6);
          tf.dispose([stopped, resumed]);
        }
        const selection = { positions: [-1, 3, 0], tokens: [5, 0, 49, 5] };
        const selected = model.forward(tokens, { unembed: selection });
        expect(selected.shape).toEqual([2, 3, 4]);
        const expected = tf.tidy(() =>
          tf.gather(
            tf.gather(full, tf.tensor1d([9, 3, 0], 'int32'), 1),
            tf.tensor1d(selection.tokens, 'int32'),
            2,
          ),
        );
        expect(maxScaledError(selected, toPlain(expected))).toBeLessThan(1e-6);
        // With ln_final hooks attached, positions are selected after the LayerNorm: same values.
        const hooked = model.runWithCache(tokens, {
          namesFilter: /^(ln_final|unembed)\./,
          unembed: { positions: [-1] },
        });
        expect(hooked.cache.get('ln_final.hook_scale').shape).toEqual([2, 10, 1]);
        // unembed.hook_in sees every position; unembed.hook_out the selected logits (= the result).
        expect(hooked.cache.get('unembed.hook_in').shape).toEqual([2, 10, 16]);
        expect(hooked.cache.get('unembed.hook_out').shape).toEqual([2, 1, 50]);
        expect(maxScaledError(hooked.logits, toPlain(hooked.cache.get('unembed.hook_out')))).toBe(
          0,
        );
        const lastOnly = tf.tidy(() => tf.slice(expected, [0, 0, 0], [2, 1, 4]));
        const hookedLast = tf.tidy(() =>
          tf.gather(hooked.logits, tf.tensor1d(selection.tokens, 'int32'), 2),
        );
        expect(maxScaledError(hookedLast, toPlain(lastOnly))).toBeLessThan(1e-6);
        tf.dispose([
          full,
          selected,
          expected,
          lastOnly,
          hookedLast,
          hooked.logits,
          fullResid.logits,
        ]);
        hooked.cache.dispose();
        fullResid.cache.dispose();
      }
    });

    it('hooks edit activations: zeroing every head output leaves attn_out = b_O', () => {
      const { cache, logits } = raw.runWithCache(tokens, { namesFilter: 'blocks.1.hook_attn_out' });
      const zeroed = raw.hooks.withHooks([['blocks.1.attn.hook_z', (z) => tf.zerosLike(z)]], () =>
        raw.runWithCache(tokens, { namesFilter: 'blocks.1.hook_attn_out' }),
      );
      const attnOut = zeroed.cache.get('blocks.1.hook_attn_out');
      const bias = tiny.checkpoint.tensors.get('h.1.attn.c_proj.bias')!;
      const expected: PlainTensor = {
        shape: [2, 10, 16],
        data: Float32Array.from({ length: 2 * 10 * 16 }, (_, i) => bias.data[i % 16]!),
      };
      expect(maxScaledError(attnOut, expected)).toBeLessThan(1e-6);
      expect(maxScaledError(cache.get('blocks.1.hook_attn_out'), expected)).toBeGreaterThan(1e-2);
      cache.dispose();
      zeroed.cache.dispose();
      tf.dispose([logits, zeroed.logits]);
    });

    it('hooks on q, k, v see [batch, pos, head, d_head] and their edits reach the pattern', () => {
      const seen: number[][] = [];
      const logits = raw.runWithHooks(tokens, [
        [
          /attn\.hook_[qkv]$/,
          (activation) => {
            seen.push(activation.shape);
            return undefined;
          },
        ],
      ]);
      expect(seen).toEqual(Array.from({ length: 6 }, () => [2, 10, 4, 4]));
      // Replace k by its value from the reference at layer 0 for a different batch order: the pattern follows.
      const kRef = ref('blocks.0.attn.hook_k');
      const swapped = tf.tidy(() => tf.reverse(tf.tensor(kRef.data, kRef.shape), 0));
      const { cache, logits: patchedLogits } = raw.hooks.withHooks(
        [['blocks.0.attn.hook_k', () => swapped]],
        () => raw.runWithCache(tokens, { namesFilter: 'blocks.0.attn.hook_attn_scores' }),
      );
      // score[b, h, i, j] = q[b, i, h] . k_swapped[b, j, h] / sqrt(Dh)
      const q = ref('blocks.0.attn.hook_q').data;
      const scores = cache.get('blocks.0.attn.hook_attn_scores').dataSync();
      const kSwapped = swapped.dataSync();
      const index = (b: number, p: number, h: number, d: number) => ((b * 10 + p) * 4 + h) * 4 + d;
      let dot = 0;
      for (let d = 0; d < 4; d++) dot += q[index(0, 7, 2, d)]! * kSwapped[index(0, 3, 2, d)]!;
      expect(scores[((0 * 4 + 2) * 10 + 7) * 10 + 3]).toBeCloseTo(dot / 2, 5);
      tf.dispose([logits, patchedLogits, swapped]);
      cache.dispose();
    });
  },
);
