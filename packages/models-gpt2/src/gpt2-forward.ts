import {
  createDecoderConfig,
  type DecoderConfig,
  type DecoderForwardOptions,
  type DecoderWeights,
  type ForwardPlan,
  planDecoderForward,
  runDecoder,
} from '@patchlens/decoder';
import { type ForwardOptions, InvalidArgumentError } from '@patchlens/tensor-hooks';
import type * as tf from '@tensorflow/tfjs-core';
import type { GPT2Config } from './gpt2-config.js';
import type { GPT2Weights } from './gpt2-weights.js';

/**
 * Options of {@link gpt2Forward}: the model-level {@link ForwardOptions} plus the hooks to run.
 *
 * @example
 * ```ts
 * gpt2Forward(config, weights, tokens, { hooks: registry, unembed: { positions: [-1] } });
 * ```
 */
export interface GPT2ForwardOptions extends DecoderForwardOptions {}

const decoderConfigs = new WeakMap<GPT2Config, DecoderConfig>();

/**
 * GPT-2 as a configuration of the shared decoder (`@patchlens/decoder`): LayerNorm (or LNPre once
 * folded), learned absolute positions, plain MLP with GELU, sequential blocks, every head its own
 * keys and values.
 */
export function gpt2DecoderConfig(config: GPT2Config): DecoderConfig {
  let decoder = decoderConfigs.get(config);
  if (!decoder) {
    decoder = createDecoderConfig({
      nLayers: config.nLayers,
      nHeads: config.nHeads,
      dModel: config.dModel,
      dHead: config.dHead,
      dMlp: config.dMlp,
      dVocab: config.dVocab,
      nCtx: config.nCtx,
      eps: config.eps,
      actFn: config.actFn,
      normalizationType: config.normalizationType,
      positionalEmbeddingType: 'standard',
      gatedMlp: false,
      parallelAttnMlp: false,
      originalArchitecture: 'GPT2LMHeadModel',
      defaultPrependBos: true,
    });
    decoderConfigs.set(config, decoder);
  }
  return decoder;
}

/** GPT-2's weights as the decoder reads them: the same tensors (fused `c_attn` as W_QKV), no copies. */
function decoderWeights(weights: GPT2Weights): DecoderWeights {
  return {
    W_E: weights.W_E,
    W_pos: weights.W_pos,
    blocks: weights.blocks.map((block) => ({
      ln1: block.ln1,
      ln2: block.ln2,
      W_QKV: block.W_QKV,
      b_QKV: block.b_QKV,
      W_O: block.W_O,
      b_O: block.b_O,
      W_in: block.W_in,
      b_in: block.b_in,
      W_gate: null,
      W_out: block.W_out,
      b_out: block.b_out,
    })),
    ln_final: weights.ln_final,
    W_U: weights.W_U,
    b_U: weights.b_U,
  };
}

/**
 * Checks the input and options of a forward pass before any work (the decoder's checks, see
 * `@patchlens/decoder`); nothing is allocated when it throws.
 */
export function planForward(
  config: GPT2Config,
  input: unknown,
  options: ForwardOptions,
  where: string,
): ForwardPlan {
  return planDecoderForward(gpt2DecoderConfig(config), input, options, where);
}

/**
 * The GPT-2 forward pass — the shared decoder of `@patchlens/decoder` configured as GPT-2 — with
 * every TransformerLens hook point: logits
 * `[batch, pos, dVocab]` for int32 tokens `[batch, pos]`.
 *
 * Synchronous and made of differentiable tfjs ops only, so it runs inside `tf.tidy`, `tf.grads`
 * and `tf.variableGrads` (weights may be `tf.Variable`s). Intermediate tensors are freed; the
 * caller owns the result. Hook points whose layout differs from the internal one (`hook_q`/`k`/`v`,
 * `hook_pos_embed`) cost nothing unless a hook is attached there.
 *
 * @param config - the model's config (dimensions, `eps`, `actFn`).
 * @param weights - the weights (see {@link GPT2Weights}); LayerNorms set to null are `LNPre`.
 * @param input - int32 tokens `[batch, pos]`, or with `startAtLayer` the float32 residual stream
 *   `[batch, pos, dModel]` entering that block.
 * @param options.hooks - registry whose hooks run at each hook point (default none).
 * @param options.useAttnResult - compute `attn.hook_result` (default false).
 * @param options.startAtLayer - start at this block (default 0; negative counts from the end).
 * @param options.stopAtLayer - stop before this block and return the residual stream entering it.
 * @param options.unembed - unembed only these positions (negative from the end) and/or token ids:
 *   logits `[batch, positions.length, tokens.length]`; `unembed.hook_out` then sees that selected
 *   shape, while `ln_final.*` and `unembed.hook_in` hooks still see every position.
 * @param options.startAtPosition - with `startAtLayer`: compute only positions `>= p` (input
 *   `[batch, pos - p, dModel]`), attending to `pastKeyValues` for the earlier ones; hooks see the
 *   computed positions only (`[batch, pos - p, ...]`, scores/pattern `[batch, head, pos - p, pos]`);
 *   `unembed.positions` count in the full sequence and must be `>= p` (default 0).
 * @param options.pastKeyValues - with `startAtPosition` p > 0: `{ key, value }` per block index,
 *   `[batch, p, nHeads, dHead]` (the `attn.hook_k` / `hook_v` layout), for every block the pass runs.
 * Limitations: token ids are checked against the vocabulary only on backends whose tensors live in
 * host memory (cpu, wasm, tensorflow); on webgl/webgpu that check would stall the GPU each pass.
 * @throws InvalidArgumentError / ShapeMismatchError for a non-tensor, float tokens, a wrong rank,
 *   an empty input, more positions than nCtx, a token id outside the vocabulary, or an option out
 *   of range; nothing is allocated when it throws.
 * @example
 * ```ts
 * const logits = gpt2Forward(config, weights, tf.tensor2d([[50256, 5335]], [1, 2], 'int32'));
 * const last = gpt2Forward(config, weights, tokens, { unembed: { positions: [-1], tokens: [5335, 1757] } });
 * ```
 */
export function gpt2Forward(
  config: GPT2Config,
  weights: GPT2Weights,
  input: tf.Tensor,
  options: GPT2ForwardOptions = {},
): tf.Tensor {
  const plan = planForward(config, input, options, 'gpt2Forward');
  if (weights.blocks.length !== config.nLayers) {
    throw new InvalidArgumentError(
      `gpt2Forward: weights have ${weights.blocks.length} blocks but config.nLayers is ${config.nLayers}.`,
    );
  }
  return runForward(config, weights, input, options, plan);
}

/** The forward pass after validation (see {@link gpt2Forward}): the shared decoder's. */
export function runForward(
  config: GPT2Config,
  weights: GPT2Weights,
  input: tf.Tensor,
  options: GPT2ForwardOptions,
  plan: ForwardPlan,
): tf.Tensor {
  return runDecoder(gpt2DecoderConfig(config), decoderWeights(weights), input, options, plan);
}
