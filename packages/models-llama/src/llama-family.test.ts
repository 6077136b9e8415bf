import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import { readLlamaConfig } from './llama-family.js';

const LLAMA = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-6,
  vocab_size: 100,
  hidden_act: 'silu',
  rope_theta: 500000,
  tie_word_embeddings: true,
};

describe('readLlamaConfig', () => {
  it('reads a Llama config as TransformerLens does', () => {
    const { config, tiedEmbeddings, attentionBias } = readLlamaConfig(JSON.stringify(LLAMA));
    expect(config).toMatchObject({
      nLayers: 2,
      nHeads: 8,
      nKeyValueHeads: 2,
      dModel: 64,
      dHead: 8,
      dMlp: 128,
      dVocab: 100,
      nCtx: 128,
      eps: 1e-6,
      actFn: 'silu',
      normalizationType: 'RMS',
      positionalEmbeddingType: 'rotary',
      rotaryDim: 8,
      rotaryBase: 500000,
      gatedMlp: true,
      parallelAttnMlp: false,
      defaultPrependBos: true,
    });
    expect(tiedEmbeddings).toBe(true);
    expect(attentionBias).toBe(false);
  });

  it('has no key/value head count when every head has its own (TransformerLens: None)', () => {
    expect(readLlamaConfig({ ...LLAMA, num_key_value_heads: 8 }).config.nKeyValueHeads).toBeNull();
  });

  it('Qwen2 has q/k/v biases; Mistral without a sliding window is Llama', () => {
    const qwen = readLlamaConfig({
      ...LLAMA,
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      sliding_window: 32,
      use_sliding_window: false,
    });
    expect(qwen.attentionBias).toBe(true);
    const mistral = readLlamaConfig({
      ...LLAMA,
      architectures: ['MistralForCausalLM'],
      model_type: 'mistral',
      sliding_window: null,
    });
    expect(mistral.config.originalArchitecture).toBe('MistralForCausalLM');
  });

  it.each([
    [{ rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'rope_scaling'],
    [{ model_type: 'mistral', sliding_window: 64 }, 'sliding_window'],
    [{ model_type: 'qwen2', use_sliding_window: true }, 'use_sliding_window'],
    [{ attention_bias: true }, 'attention_bias'],
    [{ mlp_bias: true }, 'mlp_bias'],
    [{ hidden_act: 'swish2' }, 'hidden_act'],
    [{ num_attention_heads: 0 }, 'num_attention_heads'],
    [{ model_type: 'falcon' }, 'model_type'],
  ])('rejects %j naming the field', (change, field) => {
    expect(() => readLlamaConfig({ ...LLAMA, ...change })).toThrow(InvalidArgumentError);
    expect(() => readLlamaConfig({ ...LLAMA, ...change })).toThrow(field);
  });
});
