import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import { readNeoXConfig } from './neox-family.js';

/** Pythia-70m's config.json (the fields that matter). */
const PYTHIA_70M = {
  architectures: ['GPTNeoXForCausalLM'],
  model_type: 'gpt_neox',
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 6,
  num_attention_heads: 8,
  max_position_embeddings: 2048,
  layer_norm_eps: 1e-5,
  vocab_size: 50304,
  hidden_act: 'gelu',
  rotary_pct: 0.25,
  rotary_emb_base: 10000,
  use_parallel_residual: true,
  tie_word_embeddings: false,
  bos_token_id: 0,
};

describe('readNeoXConfig', () => {
  it('reads Pythia as TransformerLens does: LN, rotary on a quarter of each head, parallel, no BOS', () => {
    const { config, tiedEmbeddings, bosTokenId } = readNeoXConfig(PYTHIA_70M);
    expect(config).toMatchObject({
      nLayers: 6,
      nHeads: 8,
      nKeyValueHeads: null,
      dModel: 512,
      dHead: 64,
      dMlp: 2048,
      dVocab: 50304,
      nCtx: 2048,
      actFn: 'gelu',
      normalizationType: 'LN',
      positionalEmbeddingType: 'rotary',
      rotaryDim: 16,
      rotaryBase: 10000,
      gatedMlp: false,
      parallelAttnMlp: true,
      defaultPrependBos: false,
    });
    expect(tiedEmbeddings).toBe(false);
    expect(bosTokenId).toBe(0);
  });

  it('use_parallel_residual false gives sequential blocks', () => {
    expect(
      readNeoXConfig({ ...PYTHIA_70M, use_parallel_residual: false }).config.parallelAttnMlp,
    ).toBe(false);
  });

  it.each([
    [{ rope_scaling: { type: 'linear', factor: 2 } }, 'rope_scaling'],
    [{ rotary_pct: 0.01 }, 'rotary_pct'],
    [{ hidden_act: 'swiglu' }, 'hidden_act'],
    [{ hidden_size: 'big' }, 'hidden_size'],
  ])('rejects %j naming the field', (change, field) => {
    expect(() => readNeoXConfig({ ...PYTHIA_70M, ...change })).toThrow(InvalidArgumentError);
    expect(() => readNeoXConfig({ ...PYTHIA_70M, ...change })).toThrow(field);
  });
});
