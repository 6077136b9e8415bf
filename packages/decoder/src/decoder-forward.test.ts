import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { HookRegistry, InvalidArgumentError, ShapeMismatchError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, DecoderConfigInput } from './decoder-config.js';
import { decoderForward } from './decoder-forward.js';
import { decoderHookNames } from './decoder-hook-names.js';
import { type DecoderWeights, disposeDecoderWeights } from './decoder-weights.js';
import { processDecoderWeights } from './process-weights.js';
import { randomDecoder } from './test-support/random-decoder.js';

/** The configurations the families use, and the combinations between them. */
const VARIANTS: Record<string, Partial<DecoderConfigInput> & { biases?: boolean }> = {
  'llama (RMS, rotary, gated, grouped-query)': {
    normalizationType: 'RMS',
    positionalEmbeddingType: 'rotary',
    gatedMlp: true,
    actFn: 'silu',
    nKeyValueHeads: 2,
  },
  'qwen2 (llama + q/k/v biases, base 1e6)': {
    normalizationType: 'RMS',
    positionalEmbeddingType: 'rotary',
    rotaryBase: 1e6,
    gatedMlp: true,
    actFn: 'silu',
    nKeyValueHeads: 1,
    biases: true,
  },
  'neox (LN, partial rotary, parallel)': {
    normalizationType: 'LN',
    positionalEmbeddingType: 'rotary',
    rotaryDim: 2,
    parallelAttnMlp: true,
    actFn: 'gelu',
    biases: true,
  },
  'gpt2-like (LN, learned positions, sequential)': { biases: true },
};

const TOKENS = [
  [3, 7, 1, 19, 4, 4, 0, 12, 9],
  [5, 2, 8, 8, 13, 6, 17, 1, 11],
];

/** Every hook activation of a full pass, by name. */
function capture(run: (hooks: HookRegistry) => tf.Tensor, names: readonly string[]) {
  const hooks = new HookRegistry(names as never);
  const seen = new Map<string, tf.Tensor>();
  hooks.add(
    () => true,
    (activation, context) => {
      seen.set(context.name, tf.keep(tf.clone(activation)));
    },
  );
  const logits = run(hooks);
  return { logits, seen };
}

describe.each(TEST_BACKENDS)('decoderForward on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(Object.entries(VARIANTS))('%s', (_title, variant) => {
    let config: DecoderConfig;
    let weights: DecoderWeights;
    beforeAll(async () => {
      await useBackend(backend);
      ({ config, weights } = randomDecoder(variant, 3));
    });
    afterAll(() => disposeDecoderWeights(weights));

    it('a pass from a layer and position (past keys/values, absolute RoPE positions) equals the full pass', () => {
      const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
      const names = decoderHookNames(config);
      const { logits: full, seen } = capture(
        (hooks) => decoderForward(config, weights, tokens, { hooks }),
        names,
      );
      for (const layer of [0, 1]) {
        for (const start of [1, 4, 8]) {
          const result = tf.tidy(() => {
            const residual = seen.get(`blocks.${layer}.hook_resid_pre`)!;
            const suffix = tf.slice(residual, [0, start, 0], [2, TOKENS[0]!.length - start, -1]);
            const pastKeyValues = [];
            for (let l = layer; l < config.nLayers; l++) {
              const key = seen.get(`blocks.${l}.attn.hook_k`)!;
              const value = seen.get(`blocks.${l}.attn.hook_v`)!;
              pastKeyValues[l] = {
                key: tf.slice(key, [0, 0, 0, 0], [2, start, -1, -1]),
                value: tf.slice(value, [0, 0, 0, 0], [2, start, -1, -1]),
              };
            }
            const partial = decoderForward(config, weights, suffix, {
              startAtLayer: layer,
              startAtPosition: start,
              pastKeyValues,
              unembed: { positions: [-1, start] },
            });
            const expected = tf.gather(full, [TOKENS[0]!.length - 1, start], 1);
            return tf.max(tf.abs(tf.sub(partial, expected))).dataSync()[0]!;
          });
          expect(result, `layer ${layer}, start ${start}`).toBeLessThan(1e-4);
        }
      }
      tf.dispose([tokens, full, ...seen.values()]);
    });

    it('split q/k/v inputs (use_split_qkv_input) give the same logits; k/v inputs have the key/value heads', () => {
      const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
      const names = decoderHookNames(config, { useSplitQkvInput: true });
      const { logits: split, seen } = capture(
        (hooks) => decoderForward(config, weights, tokens, { hooks, useSplitQkvInput: true }),
        names,
      );
      expect(seen.get('blocks.1.hook_q_input')!.shape).toEqual([
        2,
        9,
        config.nHeads,
        config.dModel,
      ]);
      expect(seen.get('blocks.1.hook_k_input')!.shape).toEqual([
        2,
        9,
        config.nKeyValueHeads ?? config.nHeads,
        config.dModel,
      ]);
      const difference = tf.tidy(
        () => tf.max(tf.abs(tf.sub(split, decoderForward(config, weights, tokens)))).dataSync()[0]!,
      );
      expect(difference).toBeLessThan(1e-4);
      tf.dispose([tokens, split, ...seen.values()]);
    });

    it('processing the weights (fold_ln, centring, fold_value_biases) keeps log-probabilities', () => {
      const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
      const processed = processDecoderWeights(config, weights);
      const difference = tf.tidy(() => {
        const raw = tf.logSoftmax(decoderForward(config, weights, tokens));
        const folded = tf.logSoftmax(decoderForward(processed.config, processed.weights, tokens));
        return tf.max(tf.abs(tf.sub(raw, folded))).dataSync()[0]!;
      });
      expect(difference).toBeLessThan(1e-4);
      disposeDecoderWeights(processed.weights, { keep: weights });
      tokens.dispose();
    });

    it('rotary models rotate queries by position: shifting the prompt changes hook_rot_q but not hook_q', () => {
      if (config.positionalEmbeddingType !== 'rotary') return;
      const tokens = tf.tensor2d([[3, 3, 3]], undefined, 'int32');
      const names = decoderHookNames(config);
      const { logits, seen } = capture(
        (hooks) => decoderForward(config, weights, tokens, { hooks }),
        names,
      );
      const [q, rotQ] = [seen.get('blocks.0.attn.hook_q')!, seen.get('blocks.0.attn.hook_rot_q')!];
      // position 0: no rotation; position 1 (same token, same q): rotated
      const at = (x: tf.Tensor, p: number) => tf.slice(x, [0, p, 0, 0], [1, 1, -1, -1]).dataSync();
      expect(Array.from(at(rotQ, 0))).toEqual(Array.from(at(q, 0)));
      expect(Array.from(at(q, 1))).toEqual(Array.from(at(q, 0)));
      expect(Array.from(at(rotQ, 1))).not.toEqual(Array.from(at(q, 1)));
      tf.dispose([tokens, logits, ...seen.values()]);
    });
  });

  it('checks input before allocating: float tokens, past keys with the wrong head count', () => {
    const { config, weights } = randomDecoder(
      VARIANTS['llama (RMS, rotary, gated, grouped-query)']!,
      2,
    );
    const before = tf.memory().numTensors;
    const floats = tf.zeros([1, 3]);
    expect(() => decoderForward(config, weights, floats)).toThrow(InvalidArgumentError);
    const residual = tf.zeros([1, 2, config.dModel]);
    const wrong = {
      key: tf.zeros([1, 1, config.nHeads, config.dHead]),
      value: tf.zeros([1, 1, config.nHeads, config.dHead]),
    };
    expect(() =>
      decoderForward(config, weights, residual, {
        startAtLayer: 1,
        startAtPosition: 1,
        pastKeyValues: [undefined, wrong],
      }),
    ).toThrow(ShapeMismatchError);
    tf.dispose([floats, residual, wrong.key, wrong.value]);
    expect(tf.memory().numTensors).toBe(before);
    disposeDecoderWeights(weights);
  });
});
