import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useBackend } from '@patchlens/backends/testing';
import { DecoderModel } from '@patchlens/decoder';
import { readSafetensorsFile } from '@patchlens/safetensors/node';
import { InvalidArgumentError, WeightMappingError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LLAMA_FAMILY } from './llama-family.js';

const folder = fileURLToPath(
  new URL('../test/fixtures/transformerlens/llama/checkpoint/', import.meta.url),
);
const configJson = JSON.parse(readFileSync(`${folder}config.json`, 'utf8'));

describe('DecoderModel.fromHuggingFace with the Llama family', () => {
  let tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>;
  beforeAll(async () => {
    await useBackend('cpu');
    tensors = (await readSafetensorsFile(`${folder}model.safetensors`)).tensors;
  });

  it('an untied config without lm_head.weight is an error naming tie_word_embeddings; nothing leaks', () => {
    const without = new Map(tensors);
    without.delete('lm_head.weight');
    const before = tf.memory().numTensors;
    expect(() => DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, without)).toThrow(
      WeightMappingError,
    );
    expect(() => DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, without)).toThrow(
      /tie_word_embeddings/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a tied config uses the transposed token embedding as W_U', () => {
    const without = new Map(tensors);
    without.delete('lm_head.weight');
    const model = DecoderModel.fromHuggingFace(
      LLAMA_FAMILY,
      { ...configJson, tie_word_embeddings: true },
      without,
      {
        processWeights: false,
      },
    );
    const difference = tf.tidy(
      () =>
        tf.max(tf.abs(tf.sub(model.weights.W_U, tf.transpose(model.weights.W_E)))).dataSync()[0],
    );
    expect(difference).toBe(0);
    model.dispose();
  });

  it('a mis-shaped or unknown tensor is named with its shapes', () => {
    const wrong = new Map(tensors);
    wrong.set('model.norm.weight', { shape: [31], data: new Float32Array(31) });
    wrong.set('model.layers.0.extra.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, wrong)).toThrow(
      /"model\.norm\.weight" has shape \[31\], expected \[32\].*unknown model\.layers\.0\.extra\.weight/,
    );
  });

  it('a model too large for wasm fails before anything is allocated, saying what loads where', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const large = {
      ...configJson,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      vocab_size: 32000,
    };
    let error: unknown;
    try {
      DecoderModel.fromHuggingFace(LLAMA_FAMILY, large, tensors);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(String(error)).toMatch(/6738M parameters.*4 GiB.*700M/);
    expect(tf.memory().numTensors).toBe(before);
    await useBackend('cpu');
  });

  it('Qwen2: q/k/v biases are read (zero biases = the Llama numbers; processing keeps log-probs)', () => {
    const qwenConfig = { ...configJson, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };
    const withBiases = (scale: number) => {
      const map = new Map(tensors);
      for (let layer = 0; layer < 2; layer++) {
        for (const [part, size] of [
          ['q', 32],
          ['k', 16],
          ['v', 16],
        ] as const) {
          const data = new Float32Array(size).map((_, i) => scale * Math.sin(7 * i + layer + size));
          map.set(`model.layers.${layer}.self_attn.${part}_proj.bias`, { shape: [size], data });
        }
      }
      return map;
    };
    const tokens = tf.tensor2d([[3, 150, 77, 12, 260, 77]], undefined, 'int32');
    const logProbs = (model: DecoderModel) => {
      const values = tf.tidy(() => tf.logSoftmax(model.forward(tokens)).dataSync());
      model.dispose();
      return values;
    };
    const largest = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      Array.from(a).reduce(
        (worst, value, index) => Math.max(worst, Math.abs(value - b[index]!)),
        0,
      );
    const llama = logProbs(
      DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, tensors, { processWeights: false }),
    );
    const zero = logProbs(
      DecoderModel.fromHuggingFace(LLAMA_FAMILY, qwenConfig, withBiases(0), {
        processWeights: false,
      }),
    );
    expect(largest(zero, llama)).toBeLessThan(1e-5);
    const raw = logProbs(
      DecoderModel.fromHuggingFace(LLAMA_FAMILY, qwenConfig, withBiases(0.5), {
        processWeights: false,
      }),
    );
    const processed = logProbs(
      DecoderModel.fromHuggingFace(LLAMA_FAMILY, qwenConfig, withBiases(0.5)),
    );
    expect(largest(raw, llama)).toBeGreaterThan(1e-2);
    expect(largest(processed, raw)).toBeLessThan(1e-4);
    tokens.dispose();
  });
});
