import { InvalidArgumentError, WeightMappingError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import {
  createGPT2Config,
  GPT2_PRESETS,
  gpt2ConfigFromHuggingFace,
  gpt2ConfigToHuggingFace,
} from './gpt2-config.js';
import { expectedTensors, GPT2_WEIGHT_TABLE, matchCheckpointNames } from './weight-mapping.js';

describe('GPT-2 configs', () => {
  it('presets have the published shapes', () => {
    const shapes = Object.entries(GPT2_PRESETS).map(([name, c]) => [
      name,
      c.nLayers,
      c.nHeads,
      c.dModel,
      c.dHead,
      c.dMlp,
      c.dVocab,
      c.nCtx,
    ]);
    expect(shapes).toEqual([
      ['gpt2', 12, 12, 768, 64, 3072, 50257, 1024],
      ['gpt2-medium', 24, 16, 1024, 64, 4096, 50257, 1024],
      ['gpt2-large', 36, 20, 1280, 64, 5120, 50257, 1024],
      ['gpt2-xl', 48, 25, 1600, 64, 6400, 50257, 1024],
      ['distilgpt2', 6, 12, 768, 64, 3072, 50257, 1024],
    ]);
    expect(GPT2_PRESETS.gpt2).toMatchObject({
      nKeyValueHeads: null,
      eps: 1e-5,
      actFn: 'gelu_new',
      normalizationType: 'LN',
    });
  });

  it('reads a Hugging Face config.json (object or text), with n_ctx and n_inner', () => {
    const json = {
      model_type: 'gpt2',
      n_layer: 2,
      n_head: 4,
      n_embd: 16,
      n_ctx: 32,
      n_inner: 40,
      vocab_size: 100,
      layer_norm_epsilon: 1e-6,
      activation_function: 'gelu',
      _name_or_path: 'tiny',
    };
    const config = gpt2ConfigFromHuggingFace(JSON.stringify(json));
    expect(config).toMatchObject({
      nLayers: 2,
      nHeads: 4,
      dModel: 16,
      dHead: 4,
      dMlp: 40,
      dVocab: 100,
      nCtx: 32,
      eps: 1e-6,
      actFn: 'gelu',
      modelName: 'tiny',
    });
    const back = gpt2ConfigFromHuggingFace(gpt2ConfigToHuggingFace(config));
    expect({ ...back, modelName: 'tiny' }).toEqual(config);
  });

  it('refuses what it does not implement, naming the field and the accepted values', () => {
    const base = { n_layer: 1, n_head: 2, n_embd: 8, n_positions: 8, vocab_size: 10 };
    expect(() => gpt2ConfigFromHuggingFace({ ...base, activation_function: 'relu' })).toThrow(
      /activation_function "relu" is not supported; accepted: "gelu_new", "gelu"/,
    );
    expect(() => gpt2ConfigFromHuggingFace({ ...base, n_head: 3 })).toThrow(
      /config\.json's n_embd \(8\) must be divisible by n_head \(3\)/,
    );
    expect(() => gpt2ConfigFromHuggingFace({ ...base, n_embd: undefined })).toThrow(
      /no "n_embd" or "hidden_size"/,
    );
    expect(() =>
      gpt2ConfigFromHuggingFace({ ...base, scale_attn_by_inverse_layer_idx: true }),
    ).toThrow(InvalidArgumentError);
    expect(() => gpt2ConfigFromHuggingFace('{not json')).toThrow(/not valid JSON/);
    expect(() => createGPT2Config({ nLayers: 0, nHeads: 1, dModel: 4 })).toThrow(
      /nLayers must be a positive integer, got 0/,
    );
    expect(() =>
      gpt2ConfigToHuggingFace({ ...GPT2_PRESETS.gpt2, normalizationType: 'LNPre' }),
    ).toThrow(/LNPre/);
  });
});

describe('the declared weight table', () => {
  const config = createGPT2Config({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 });

  it('has one row per Hugging Face tensor with a shape from the config', () => {
    expect(GPT2_WEIGHT_TABLE.map((row) => row.huggingFaceName)).toContain(
      'h.{layer}.attn.c_attn.weight',
    );
    const expanded = expectedTensors(config);
    expect(expanded).toHaveLength(2 + 2 * 12 + 2 + 1);
    expect(expanded.find((row) => row.name === 'h.1.attn.c_attn.weight')).toMatchObject({
      shape: [16, 48],
      slot: 'W_QKV',
      layer: 1,
    });
    expect(expanded.filter((row) => row.optional).map((row) => row.name)).toEqual([
      'lm_head.weight',
    ]);
  });

  it('matches names with and without transformer., skipping mask buffers', () => {
    const shapes = new Map<string, number[] | undefined>(
      expectedTensors(config)
        .filter((row) => !row.optional)
        .map((row) => [row.layer === 0 ? `transformer.${row.name}` : row.name, [...row.shape]]),
    );
    shapes.set('h.0.attn.bias', [1, 1, 16, 16]);
    shapes.set('transformer.h.1.attn.masked_bias', []);
    const { stored, skipped } = matchCheckpointNames(config, shapes);
    expect(stored.get('h.0.ln_1.weight')).toBe('transformer.h.0.ln_1.weight');
    expect(stored.get('wte.weight')).toBe('wte.weight');
    expect(skipped).toEqual(['h.0.attn.bias', 'transformer.h.1.attn.masked_bias']);
    shapes.set('wpe.weight', [15, 16]);
    expect(() => matchCheckpointNames(config, shapes)).toThrow(WeightMappingError);
    expect(() => matchCheckpointNames(config, shapes)).toThrow(
      /"wpe\.weight" has shape \[15, 16\], expected \[16, 16\]/,
    );
  });
});
