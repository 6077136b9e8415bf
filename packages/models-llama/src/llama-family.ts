import {
  ConfigFields,
  createDecoderConfig,
  type DecoderActivationFunction,
  type DecoderFamily,
  type DecoderWeightRow,
  type FamilyConfig,
} from '@patchlens/decoder';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';

/** Hugging Face `hidden_act` -> TransformerLens `act_fn`. */
const ACTIVATIONS: Readonly<Record<string, DecoderActivationFunction>> = {
  silu: 'silu',
  gelu: 'gelu',
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  relu: 'relu',
};

/**
 * Reads a Llama-architecture `config.json` (`LlamaForCausalLM`, `MistralForCausalLM` without a
 * sliding window, `Qwen2ForCausalLM` with its q/k/v biases) as TransformerLens's
 * `convert_hf_model_config` does: RMSNorm, rotary positions over the whole head (rotate-half),
 * gated MLP, grouped-query attention (`nKeyValueHeads` null when it equals `nHeads`), BOS first.
 *
 * @throws InvalidArgumentError naming the field for what the decoder does not implement:
 *   `rope_scaling`, a `sliding_window` shorter than the context (`use_sliding_window` for Qwen2),
 *   `attention_bias`/`mlp_bias` on Llama, an unknown `hidden_act`.
 * @example
 * ```ts
 * const { config } = readLlamaConfig(await (await fetch(`${url}/config.json`)).text());
 * ```
 */
export function readLlamaConfig(json: unknown): FamilyConfig {
  const where = 'readLlamaConfig';
  const fields = new ConfigFields(json, where);
  const modelType = fields.oneOf('model_type', ['llama', 'mistral', 'qwen2'], 'llama');
  fields.unsupported(
    'rope_scaling',
    'RoPE scaling (linear, dynamic, llama3, yarn) is not implemented; accepted: null or absent.',
  );
  const nHeads = fields.integer('num_attention_heads');
  const dModel = fields.integer('hidden_size');
  const nKeyValueHeads = fields.integer('num_key_value_heads', nHeads);
  const nCtx = fields.integer('max_position_embeddings');
  const qwen = modelType === 'qwen2';
  if (qwen) {
    if (fields.boolean('use_sliding_window', false)) {
      throw new InvalidArgumentError(
        `${where}: config.json field "use_sliding_window" is true; sliding-window attention is not implemented (accepted: false).`,
      );
    }
  } else if (fields.has('sliding_window') && fields.number('sliding_window') < nCtx) {
    throw new InvalidArgumentError(
      `${where}: config.json field "sliding_window" is ${fields.values.sliding_window}, shorter than max_position_embeddings (${nCtx}); sliding-window attention is not implemented (accepted: null, or at least the context length).`,
    );
  }
  if (!qwen && fields.boolean('attention_bias', false)) {
    throw new InvalidArgumentError(
      `${where}: config.json field "attention_bias" is true; Llama attention biases (with an o_proj bias) are not implemented (accepted: false).`,
    );
  }
  if (fields.boolean('mlp_bias', false)) {
    throw new InvalidArgumentError(
      `${where}: config.json field "mlp_bias" is true; MLP biases are not implemented for this family (accepted: false).`,
    );
  }
  const hiddenAct = fields.oneOf('hidden_act', Object.keys(ACTIVATIONS), 'silu');
  const architectures = fields.values.architectures;
  const config = createDecoderConfig({
    nLayers: fields.integer('num_hidden_layers'),
    nHeads,
    nKeyValueHeads: nKeyValueHeads === nHeads ? null : nKeyValueHeads,
    dModel,
    dHead: fields.has('head_dim') ? fields.integer('head_dim') : dModel / nHeads,
    dMlp: fields.integer('intermediate_size'),
    dVocab: fields.integer('vocab_size'),
    nCtx,
    eps: fields.number('rms_norm_eps', 1e-6),
    actFn: ACTIVATIONS[hiddenAct]!,
    normalizationType: 'RMS',
    positionalEmbeddingType: 'rotary',
    rotaryBase: fields.number('rope_theta', 10000),
    gatedMlp: true,
    parallelAttnMlp: false,
    originalArchitecture: Array.isArray(architectures)
      ? String(architectures[0])
      : 'LlamaForCausalLM',
    defaultPrependBos: true,
  });
  return {
    config,
    tiedEmbeddings: fields.boolean('tie_word_embeddings', false),
    attentionBias: qwen,
    bosTokenId: fields.bosTokenId(),
  };
}

const layer = 'model.layers.{layer}';

/**
 * The declared mapping from Hugging Face Llama/Mistral/Qwen2 tensors to the decoder (TransformerLens
 * `convert_llama_weights` / `convert_qwen2_weights`): `nn.Linear` weights `[out, in]` are
 * transposed into `x @ W` matrices; q/k/v biases only for Qwen2; `lm_head` only when untied.
 *
 * @example
 * ```ts
 * LLAMA_WEIGHT_TABLE.map((row) => row.huggingFaceName);
 * ```
 */
export const LLAMA_WEIGHT_TABLE: readonly DecoderWeightRow[] = Object.freeze([
  {
    huggingFaceName: 'model.embed_tokens.weight',
    shape: (c) => [c.dVocab, c.dModel],
    slots: ['W_E'],
  },
  {
    huggingFaceName: `${layer}.input_layernorm.weight`,
    shape: (c) => [c.dModel],
    slots: ['ln1.w'],
  },
  {
    huggingFaceName: `${layer}.self_attn.q_proj.weight`,
    shape: (c) => [c.nHeads * c.dHead, c.dModel],
    slots: ['W_Q'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.self_attn.k_proj.weight`,
    shape: (c) => [(c.nKeyValueHeads ?? c.nHeads) * c.dHead, c.dModel],
    slots: ['W_K'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.self_attn.v_proj.weight`,
    shape: (c) => [(c.nKeyValueHeads ?? c.nHeads) * c.dHead, c.dModel],
    slots: ['W_V'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.self_attn.q_proj.bias`,
    shape: (c) => [c.nHeads * c.dHead],
    slots: ['b_Q'],
    when: (o) => o.attentionBias,
  },
  {
    huggingFaceName: `${layer}.self_attn.k_proj.bias`,
    shape: (c) => [(c.nKeyValueHeads ?? c.nHeads) * c.dHead],
    slots: ['b_K'],
    when: (o) => o.attentionBias,
  },
  {
    huggingFaceName: `${layer}.self_attn.v_proj.bias`,
    shape: (c) => [(c.nKeyValueHeads ?? c.nHeads) * c.dHead],
    slots: ['b_V'],
    when: (o) => o.attentionBias,
  },
  {
    huggingFaceName: `${layer}.self_attn.o_proj.weight`,
    shape: (c) => [c.dModel, c.nHeads * c.dHead],
    slots: ['W_O'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.post_attention_layernorm.weight`,
    shape: (c) => [c.dModel],
    slots: ['ln2.w'],
  },
  {
    huggingFaceName: `${layer}.mlp.gate_proj.weight`,
    shape: (c) => [c.dMlp, c.dModel],
    slots: ['W_gate'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.mlp.up_proj.weight`,
    shape: (c) => [c.dMlp, c.dModel],
    slots: ['W_in'],
    convert: 'transpose',
  },
  {
    huggingFaceName: `${layer}.mlp.down_proj.weight`,
    shape: (c) => [c.dModel, c.dMlp],
    slots: ['W_out'],
    convert: 'transpose',
  },
  { huggingFaceName: 'model.norm.weight', shape: (c) => [c.dModel], slots: ['ln_final.w'] },
  {
    huggingFaceName: 'lm_head.weight',
    shape: (c) => [c.dVocab, c.dModel],
    slots: ['W_U'],
    convert: 'transpose',
    when: (o) => !o.tiedEmbeddings,
  },
] satisfies DecoderWeightRow[]);

/**
 * The Llama-architecture family on the shared decoder: `LlamaForCausalLM`, `MistralForCausalLM`,
 * `Qwen2ForCausalLM`.
 *
 * @example
 * ```ts
 * const model = DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, tensors);
 * ```
 */
export const LLAMA_FAMILY: DecoderFamily = Object.freeze({
  name: 'llama',
  architectures: ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'],
  modelTypes: ['llama', 'mistral', 'qwen2'],
  readConfig: readLlamaConfig,
  weightTable: LLAMA_WEIGHT_TABLE,
  ignoredTensors: [/\.rotary_emb\.inv_freq$/],
});
