import {
  ConfigFields,
  createDecoderConfig,
  type DecoderActivationFunction,
  type DecoderConfig,
  type DecoderFamily,
  type DecoderWeightRow,
  type FamilyConfig,
} from '@patchlens/decoder';
import * as tf from '@tensorflow/tfjs-core';

const ACTIVATIONS: Readonly<Record<string, DecoderActivationFunction>> = {
  gelu: 'gelu',
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  relu: 'relu',
  silu: 'silu',
};

/**
 * Reads a GPT-NeoX `config.json` (Pythia) as TransformerLens does: LayerNorm, rotary on the
 * first `rotary_pct · dHead` dimensions with base `rotary_emb_base`, parallel attention and MLP
 * (`use_parallel_residual`), plain MLP, untied `embed_out`, no BOS by default
 * (`default_prepend_bos` false).
 *
 * @throws InvalidArgumentError naming the field for `rope_scaling`, an unknown `hidden_act`, or a
 *   `rotary_pct` that rotates no dimension.
 * @example
 * ```ts
 * readNeoXConfig(configText).config.rotaryDim; // 16 for Pythia-70m
 * ```
 */
export function readNeoXConfig(json: unknown): FamilyConfig {
  const fields = new ConfigFields(json, 'readNeoXConfig');
  fields.oneOf('model_type', ['gpt_neox'], 'gpt_neox');
  fields.unsupported('rope_scaling', 'RoPE scaling is not implemented; accepted: null or absent.');
  const nHeads = fields.integer('num_attention_heads');
  const dModel = fields.integer('hidden_size');
  const dHead = dModel / nHeads;
  const rotaryPct = fields.number('rotary_pct', 0.25);
  // Hugging Face: int(head_size * rotary_pct).
  const rotaryDim = Math.floor(dHead * rotaryPct);
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
    fields.unsupported(
      'rotary_pct',
      `it rotates ${rotaryDim} of ${dHead} head dimensions; accepted: an even number >= 2.`,
    );
  }
  const architectures = fields.values.architectures;
  const hiddenAct = fields.oneOf('hidden_act', Object.keys(ACTIVATIONS), 'gelu');
  const config = createDecoderConfig({
    nLayers: fields.integer('num_hidden_layers'),
    nHeads,
    dModel,
    dMlp: fields.integer('intermediate_size'),
    dVocab: fields.integer('vocab_size'),
    nCtx: fields.integer('max_position_embeddings'),
    eps: fields.number('layer_norm_eps', 1e-5),
    actFn: ACTIVATIONS[hiddenAct]!,
    normalizationType: 'LN',
    positionalEmbeddingType: 'rotary',
    rotaryDim,
    rotaryBase: fields.number('rotary_emb_base', 10000),
    gatedMlp: false,
    parallelAttnMlp: fields.boolean('use_parallel_residual', true),
    originalArchitecture: Array.isArray(architectures)
      ? String(architectures[0])
      : 'GPTNeoXForCausalLM',
    defaultPrependBos: false,
  });
  return {
    config,
    tiedEmbeddings: fields.boolean('tie_word_embeddings', false),
    attentionBias: fields.boolean('attention_bias', true),
    bosTokenId: fields.bosTokenId(),
  };
}

/**
 * `query_key_value.weight` `[nHeads·3·dHead, dModel]`, rows in (head, qkv, d_head) order, into
 * W_Q, W_K, W_V `[dModel, nHeads·dHead]` (TransformerLens: `"(i qkv h) m -> qkv i m h"`).
 */
function splitQkvWeight(tensor: tf.Tensor, config: DecoderConfig): tf.Tensor[] {
  const { nHeads: H, dHead: Dh, dModel: D } = config;
  return tf.tidy(() => {
    const byPart = tf.transpose(tf.reshape(tensor, [H, 3, Dh, D]), [1, 0, 2, 3]); // [3, H, Dh, D]
    return tf.unstack(byPart, 0).map((part) => tf.transpose(tf.reshape(part, [H * Dh, D]))); // 3 × [D, H*Dh]
  });
}

/** `query_key_value.bias` `[nHeads·3·dHead]` into b_Q, b_K, b_V `[nHeads·dHead]`. */
function splitQkvBias(tensor: tf.Tensor, config: DecoderConfig): tf.Tensor[] {
  const { nHeads: H, dHead: Dh } = config;
  return tf.tidy(() => {
    const byPart = tf.transpose(tf.reshape(tensor, [H, 3, Dh]), [1, 0, 2]); // [3, H, Dh]
    return tf.unstack(byPart, 0).map((part) => tf.reshape(part, [H * Dh])); // 3 × [H*Dh]
  });
}

const layer = 'gpt_neox.layers.{layer}';

/**
 * The declared mapping from Hugging Face GPT-NeoX tensors to the decoder (TransformerLens
 * `convert_neox_weights`): the fused `query_key_value` is split by its (head, qkv, d_head) row
 * order; `nn.Linear` weights are transposed.
 *
 * @example
 * ```ts
 * NEOX_WEIGHT_TABLE.find((row) => row.slots.includes('W_Q'))!.huggingFaceName;
 * ```
 */
export const NEOX_WEIGHT_TABLE: readonly DecoderWeightRow[] = Object.freeze([
  {
    huggingFaceName: 'gpt_neox.embed_in.weight',
    shape: (c) => [c.dVocab, c.dModel],
    slots: ['W_E'],
  },
  {
    huggingFaceName: `${layer}.input_layernorm.weight`,
    shape: (c) => [c.dModel],
    slots: ['ln1.w'],
  },
  { huggingFaceName: `${layer}.input_layernorm.bias`, shape: (c) => [c.dModel], slots: ['ln1.b'] },
  {
    huggingFaceName: `${layer}.attention.query_key_value.weight`,
    shape: (c) => [3 * c.nHeads * c.dHead, c.dModel],
    slots: ['W_Q', 'W_K', 'W_V'],
    convert: { name: '(head, qkv, d_head) rows -> W_Q, W_K, W_V', apply: splitQkvWeight },
  },
  {
    huggingFaceName: `${layer}.attention.query_key_value.bias`,
    shape: (c) => [3 * c.nHeads * c.dHead],
    slots: ['b_Q', 'b_K', 'b_V'],
    convert: { name: '(head, qkv, d_head) -> b_Q, b_K, b_V', apply: splitQkvBias },
    when: (o) => o.attentionBias,
  },
  {
    huggingFaceName: `${layer}.attention.dense.weight`,
    shape: (c) => [c.dModel, c.nHeads * c.dHead],
    slots: ['W_O'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.attention.dense.bias`,
    shape: (c) => [c.dModel],
    slots: ['b_O'],
    when: (o) => o.attentionBias,
  },
  {
    huggingFaceName: `${layer}.post_attention_layernorm.weight`,
    shape: (c) => [c.dModel],
    slots: ['ln2.w'],
  },
  {
    huggingFaceName: `${layer}.post_attention_layernorm.bias`,
    shape: (c) => [c.dModel],
    slots: ['ln2.b'],
  },
  {
    huggingFaceName: `${layer}.mlp.dense_h_to_4h.weight`,
    shape: (c) => [c.dMlp, c.dModel],
    slots: ['W_in'],
    convert: 'transpose',
  },
  { huggingFaceName: `${layer}.mlp.dense_h_to_4h.bias`, shape: (c) => [c.dMlp], slots: ['b_in'] },
  {
    huggingFaceName: `${layer}.mlp.dense_4h_to_h.weight`,
    shape: (c) => [c.dModel, c.dMlp],
    slots: ['W_out'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.mlp.dense_4h_to_h.bias`,
    shape: (c) => [c.dModel],
    slots: ['b_out'],
  },
  {
    huggingFaceName: 'gpt_neox.final_layer_norm.weight',
    shape: (c) => [c.dModel],
    slots: ['ln_final.w'],
  },
  {
    huggingFaceName: 'gpt_neox.final_layer_norm.bias',
    shape: (c) => [c.dModel],
    slots: ['ln_final.b'],
  },
  {
    huggingFaceName: 'embed_out.weight',
    shape: (c) => [c.dVocab, c.dModel],
    slots: ['W_U'],
    convert: 'transpose',
    when: (o) => !o.tiedEmbeddings,
  },
] satisfies DecoderWeightRow[]);

/**
 * The GPT-NeoX family (Pythia) on the shared decoder.
 *
 * @example
 * ```ts
 * const model = DecoderModel.fromHuggingFace(NEOX_FAMILY, configJson, tensors);
 * ```
 */
export const NEOX_FAMILY: DecoderFamily = Object.freeze({
  name: 'gpt-neox',
  architectures: ['GPTNeoXForCausalLM'],
  modelTypes: ['gpt_neox'],
  readConfig: readNeoXConfig,
  weightTable: NEOX_WEIGHT_TABLE,
  ignoredTensors: [/\.attention\.(bias|masked_bias)$/, /\.rotary_emb\.inv_freq$/],
});
