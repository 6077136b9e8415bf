import {
  type ForwardOptions,
  type HookRegistry,
  InvalidArgumentError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type AttentionContext, causalMask } from './components/attention.js';
import { embed } from './components/embed.js';
import { hookRunner } from './components/hook-runner.js';
import { rotaryTables } from './components/rotary.js';
import { transformerBlock } from './components/transformer-block.js';
import { unembed } from './components/unembed.js';
import type { DecoderConfig } from './decoder-config.js';
import type { DecoderWeights } from './decoder-weights.js';
import { type ForwardPlan, planForward } from './forward-plan.js';

/**
 * Options of {@link decoderForward}: the model-level {@link ForwardOptions} plus the hooks to run.
 *
 * @example
 * ```ts
 * decoderForward(config, weights, tokens, { hooks: registry, unembed: { positions: [-1] } });
 * ```
 */
export interface DecoderForwardOptions extends ForwardOptions {
  /** The registry whose hooks run at each hook point (default: none). */
  readonly hooks?: HookRegistry;
  /** Compute `attn.hook_result` (per-head outputs) and sum them into `hook_attn_out` (default false). */
  readonly useAttnResult?: boolean;
  /**
   * Give each head its own copy of the residual stream as query, key and value input
   * (`hook_q_input` `[B, P, nHeads, dModel]`, `hook_k_input` / `hook_v_input` with the key/value
   * head count), each through its own norm, as TransformerLens's `use_split_qkv_input` (default
   * false: memory). The same numbers as without it.
   */
  readonly useSplitQkvInput?: boolean;
}

/**
 * The decoder's forward pass on tfjs ops with every TransformerLens hook point: logits
 * `[batch, pos, dVocab]` for int32 tokens `[batch, pos]`. Synchronous and differentiable (runs in
 * `tf.tidy`/`tf.grads`); the caller owns the result. Checks its input first ({@link planForward}):
 * nothing is allocated when it throws.
 *
 * With rotary positions and `startAtPosition` p, queries and keys of the computed positions are
 * rotated with their absolute positions p, p+1, …, and `pastKeyValues` keys (in the `attn.hook_k`
 * layout, i.e. before rotation) are rotated with positions 0..p-1.
 *
 * @param config - the model's config.
 * @param weights - the weights; norms set to null are the folded `LNPre`/`RMSPre`.
 * @param input - int32 tokens `[batch, pos]`, or with `startAtLayer` the residual stream `[batch, pos, dModel]`.
 * @param options - see {@link ForwardOptions}; `hooks`, `useAttnResult`.
 * @throws InvalidArgumentError / ShapeMismatchError for bad input or options.
 * @example
 * ```ts
 * const logits = decoderForward(config, weights, tf.tensor2d([[1, 5, 7]], [1, 3], 'int32'));
 * ```
 */
export function decoderForward(
  config: DecoderConfig,
  weights: DecoderWeights,
  input: tf.Tensor,
  options: DecoderForwardOptions = {},
): tf.Tensor {
  const plan = planForward(config, input, options, 'decoderForward');
  if (weights.blocks.length !== config.nLayers) {
    throw new InvalidArgumentError(
      `decoderForward: weights have ${weights.blocks.length} blocks but config.nLayers is ${config.nLayers}.`,
    );
  }
  return runDecoder(config, weights, input, options, plan);
}

/** The forward pass after validation (see {@link decoderForward}). */
export function runDecoder(
  config: DecoderConfig,
  weights: DecoderWeights,
  input: tf.Tensor,
  options: DecoderForwardOptions,
  plan: ForwardPlan,
): tf.Tensor {
  return tf.tidy(() => {
    const hooks = hookRunner(options.hooks);
    let residual =
      options.startAtLayer === undefined
        ? embed(input as tf.Tensor2D, weights, hooks)
        : (input as tf.Tensor3D); // [B, P, D]
    const rotary = config.positionalEmbeddingType === 'rotary';
    const context: AttentionContext = {
      config,
      hooks,
      mask: causalMask(plan.positions, plan.startPosition),
      useAttnResult: options.useAttnResult ?? false,
      useSplitQkvInput: options.useSplitQkvInput ?? false,
      rotary: rotary
        ? rotaryTables(plan.startPosition, plan.positions, config.rotaryDim, config.rotaryBase)
        : undefined,
      pastRotary:
        rotary && plan.startPosition > 0
          ? rotaryTables(0, plan.startPosition, config.rotaryDim, config.rotaryBase)
          : undefined,
      pastKeyValues: plan.pastKeyValues,
    };
    for (let layer = plan.startAtLayer; layer < plan.stopAtLayer; layer++) {
      // one scope per block: a block's intermediates are freed before the next block runs, so a
      // pass holds one block's activations, not every block's (GPT-2 small, a K×B patching pass
      // at 64 positions: peak RSS 5.0 -> 3.3 GB); hooks keep what they store (tf.keep)
      const blockInput = residual;
      residual = tf.tidy(() =>
        transformerBlock(blockInput, layer, weights.blocks[layer]!, context),
      );
    }
    if (plan.returnResidual) return residual === input ? tf.clone(residual) : residual;
    return unembed(residual, weights, config, hooks, plan.unembedPositions, plan.unembedTokens);
  });
}
