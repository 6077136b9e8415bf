import * as tf from '@tensorflow/tfjs-core';
import type { GPT2Config } from './gpt2-config.js';

/**
 * A LayerNorm's learned scale `w` and shift `b`, each `[dModel]`.
 *
 * @example
 * ```ts
 * const ln1: LayerNormWeights | null = model.weights.blocks[0]!.ln1; // null once folded
 * ```
 */
export interface LayerNormWeights {
  readonly w: tf.Tensor1D;
  readonly b: tf.Tensor1D;
}

/**
 * The weights of one GPT-2 block, with TransformerLens semantics in the layout the forward pass
 * runs fastest with (one matrix multiplication for q, k and v together).
 *
 * `W_QKV[:, i*H*Dh + h*Dh + d]` is TransformerLens's `W_Q[h, :, d]` for i = 0, `W_K` for 1 and
 * `W_V` for 2 (which is also the layout of Hugging Face's `c_attn.weight`); `W_O[h*Dh + d, :]` is
 * TransformerLens's `W_O[h, d, :]`.
 *
 * @example
 * ```ts
 * const block = model.weights.blocks[0]!;
 * block.W_QKV.shape; // [dModel, 3 * nHeads * dHead]
 * ```
 */
export interface GPT2BlockWeights {
  /** The first LayerNorm's weight and bias; null once folded into W_QKV (`LNPre`). */
  readonly ln1: LayerNormWeights | null;
  /** `[dModel, 3 * nHeads * dHead]`: W_Q, W_K, W_V of every head side by side. */
  readonly W_QKV: tf.Tensor2D;
  /** `[3 * nHeads * dHead]`: b_Q, b_K, b_V of every head. */
  readonly b_QKV: tf.Tensor1D;
  /** `[nHeads * dHead, dModel]`: each head's W_O stacked. */
  readonly W_O: tf.Tensor2D;
  /** `[dModel]`. */
  readonly b_O: tf.Tensor1D;
  /** The second LayerNorm's weight and bias; null once folded into W_in (`LNPre`). */
  readonly ln2: LayerNormWeights | null;
  /** `[dModel, dMlp]`. */
  readonly W_in: tf.Tensor2D;
  /** `[dMlp]`. */
  readonly b_in: tf.Tensor1D;
  /** `[dMlp, dModel]`. */
  readonly W_out: tf.Tensor2D;
  /** `[dModel]`. */
  readonly b_out: tf.Tensor1D;
}

/**
 * Every weight of a GPT-2 model (see {@link GPT2BlockWeights} for the attention layout).
 *
 * A plain object of tensors (variables allowed), so a training loop can differentiate
 * {@link gpt2Forward} with respect to it.
 *
 * @example
 * ```ts
 * const weights = weightsFromHuggingFace(config, tensorsByName);
 * const logits = gpt2Forward(config, weights, tokens);
 * ```
 */
export interface GPT2Weights {
  /** Token embedding `[dVocab, dModel]`. */
  readonly W_E: tf.Tensor2D;
  /** Positional embedding `[nCtx, dModel]`. */
  readonly W_pos: tf.Tensor2D;
  readonly blocks: readonly GPT2BlockWeights[];
  /** The final LayerNorm; null once folded into W_U (`LNPre`). */
  readonly ln_final: LayerNormWeights | null;
  /** Unembedding `[dModel, dVocab]` (GPT-2 ties it to W_E transposed). */
  readonly W_U: tf.Tensor2D;
  /** Unembedding bias `[dVocab]` (zeros in GPT-2 checkpoints). */
  readonly b_U: tf.Tensor1D;
}

/**
 * Every tensor of a weights object, each once (tied or shared tensors are listed once).
 *
 * @example
 * ```ts
 * tf.dispose(weightTensors(weights));
 * ```
 */
export function weightTensors(weights: GPT2Weights): tf.Tensor[] {
  const all: tf.Tensor[] = [weights.W_E, weights.W_pos, weights.W_U, weights.b_U];
  if (weights.ln_final) all.push(weights.ln_final.w, weights.ln_final.b);
  for (const block of weights.blocks) {
    if (block.ln1) all.push(block.ln1.w, block.ln1.b);
    if (block.ln2) all.push(block.ln2.w, block.ln2.b);
    all.push(
      block.W_QKV,
      block.b_QKV,
      block.W_O,
      block.b_O,
      block.W_in,
      block.b_in,
      block.W_out,
      block.b_out,
    );
  }
  return [...new Set(all)];
}

/**
 * Free every tensor of a weights object (each once, so tied tensors are safe), except those that
 * `options.keep` also holds (e.g. tensors that `processWeights` shared with its output).
 *
 * @param weights - the weights to free.
 * @param options.keep - weights whose tensors must survive (default none).
 * @example
 * ```ts
 * const processed = processWeights(config, raw);
 * disposeWeights(raw, { keep: processed.weights });
 * ```
 */
export function disposeWeights(weights: GPT2Weights, options: { keep?: GPT2Weights } = {}): void {
  const keep = new Set(options.keep ? weightTensors(options.keep) : []);
  tf.dispose(weightTensors(weights).filter((tensor) => !keep.has(tensor)));
}

/**
 * The weights as TransformerLens names and shapes (`embed.W_E`, `blocks.0.attn.W_Q` `[H, D, Dh]`,
 * `blocks.0.attn.b_Q` `[H, Dh]`, `blocks.0.attn.W_O` `[H, Dh, D]`, `blocks.0.ln1.w`, `unembed.W_U`,
 * ...), as new tensors the caller owns. Folded LayerNorms have no entries, like TransformerLens's
 * state dict after `fold_ln`.
 *
 * @param config - the model's config (for nHeads and dHead).
 * @param weights - the weights to convert.
 * @example
 * ```ts
 * const stateDict = transformerLensStateDict(model.config, model.weights);
 * stateDict.get('blocks.0.attn.W_Q')!.shape; // [nHeads, dModel, dHead]
 * tf.dispose([...stateDict.values()]);
 * ```
 */
export function transformerLensStateDict(
  config: GPT2Config,
  weights: GPT2Weights,
): Map<string, tf.Tensor> {
  const { nHeads: H, dHead: Dh, dModel: D } = config;
  // tf.tidy keeps tensors found in arrays and plain objects (not in Maps): return the entries.
  const entries = tf.tidy(() => {
    const entries: [string, tf.Tensor][] = [
      ['embed.W_E', tf.clone(weights.W_E)],
      ['pos_embed.W_pos', tf.clone(weights.W_pos)],
    ];
    weights.blocks.forEach((block, layer) => {
      const prefix = `blocks.${layer}`;
      if (block.ln1) {
        entries.push([`${prefix}.ln1.w`, tf.clone(block.ln1.w)]);
        entries.push([`${prefix}.ln1.b`, tf.clone(block.ln1.b)]);
      }
      // [D, 3*H*Dh] -> [D, 3, H, Dh] -> [3, H, D, Dh]
      const perHead = tf.transpose(tf.reshape(block.W_QKV, [D, 3, H, Dh]), [1, 2, 0, 3]);
      const [W_Q, W_K, W_V] = tf.unstack(perHead, 0); // each [H, D, Dh]
      const [b_Q, b_K, b_V] = tf.unstack(tf.reshape(block.b_QKV, [3, H, Dh]), 0); // each [H, Dh]
      entries.push([`${prefix}.attn.W_Q`, W_Q!], [`${prefix}.attn.W_K`, W_K!]);
      entries.push([`${prefix}.attn.W_V`, W_V!], [`${prefix}.attn.b_Q`, b_Q!]);
      entries.push([`${prefix}.attn.b_K`, b_K!], [`${prefix}.attn.b_V`, b_V!]);
      entries.push([`${prefix}.attn.W_O`, tf.reshape(block.W_O, [H, Dh, D])]); // [H, Dh, D]
      entries.push([`${prefix}.attn.b_O`, tf.clone(block.b_O)]);
      if (block.ln2) {
        entries.push([`${prefix}.ln2.w`, tf.clone(block.ln2.w)]);
        entries.push([`${prefix}.ln2.b`, tf.clone(block.ln2.b)]);
      }
      entries.push([`${prefix}.mlp.W_in`, tf.clone(block.W_in)]);
      entries.push([`${prefix}.mlp.b_in`, tf.clone(block.b_in)]);
      entries.push([`${prefix}.mlp.W_out`, tf.clone(block.W_out)]);
      entries.push([`${prefix}.mlp.b_out`, tf.clone(block.b_out)]);
    });
    if (weights.ln_final) {
      entries.push(['ln_final.w', tf.clone(weights.ln_final.w)]);
      entries.push(['ln_final.b', tf.clone(weights.ln_final.b)]);
    }
    entries.push(['unembed.W_U', tf.clone(weights.W_U)], ['unembed.b_U', tf.clone(weights.b_U)]);
    return entries;
  });
  return new Map(entries);
}
