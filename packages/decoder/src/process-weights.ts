import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type DecoderConfig, keyValueHeads } from './decoder-config.js';
import {
  type DecoderBlockWeights,
  type DecoderWeights,
  decoderWeightTensors,
  type NormWeights,
  type SeparateQKVWeights,
} from './decoder-weights.js';

/**
 * Which of TransformerLens's weight-processing steps to apply (each default true, as `from_pretrained`).
 *
 * @example
 * ```ts
 * processDecoderWeights(config, weights, { centerUnembed: false });
 * ```
 */
export interface DecoderProcessOptions {
  /** Fold each norm's weight (and LayerNorm bias) into the next linear map; norms become `LNPre`/`RMSPre`. */
  readonly foldLn?: boolean;
  /** Subtract the mean over d_model from what writes to the residual stream (LayerNorm models only, as TransformerLens). */
  readonly centerWritingWeights?: boolean;
  /** Subtract the mean over the vocabulary from W_U and b_U. */
  readonly centerUnembed?: boolean;
  /** Fold b_V into b_O (`b_O += b_V @ W_O` per head, `b_V = 0`). */
  readonly foldValueBiases?: boolean;
}

/** A block with separate q/k/v projections. */
type SeparateBlock = DecoderBlockWeights & SeparateQKVWeights;

const meanOver = (x: tf.Tensor, axis: number) => tf.sub(x, tf.mean(x, axis, true));

/** `b + v @ W` (b absent = 0). */
function foldBias(b: tf.Tensor1D | null, v: tf.Tensor1D, W: tf.Tensor2D): tf.Tensor1D {
  const folded = tf.squeeze(tf.matMul(tf.expandDims(v, 0), W), [0]) as tf.Tensor1D; // [out]
  return b ? tf.add(b, folded) : folded;
}

/**
 * TransformerLens's `process_weights_` for the decoder, in its order:
 * - fold_ln: LayerNorm: `b += ln.b @ W`, `W *= ln.w[:, None]`, then W_Q/W_K/W_V, W_in and W_U lose
 *   their mean over d_model (`LN` -> `LNPre`). RMSNorm: `W *= ln.w[:, None]` only, no biases, no
 *   centring (`RMS` -> `RMSPre`). Gated MLPs fold ln2 into W_gate too.
 * - center_writing_weights (LayerNorm models only; TransformerLens skips it without LayerNorm):
 *   W_E, W_pos, W_O, b_O, W_out, b_out lose their mean over d_model.
 * - center_unembed: W_U and b_U lose their mean over the vocabulary.
 * - fold_value_biases: `b_O += sum_h b_V[kv(h)] @ W_O[h]`, `b_V = 0` (grouped-query heads share b_V).
 *
 * Returns new weights; the input is neither changed nor disposed (unchanged tensors are shared:
 * free the input with `disposeDecoderWeights(input, { keep: output })`).
 *
 * @throws InvalidArgumentError when foldLn is asked for weights that are already folded, or for a
 *   gated MLP behind a LayerNorm with bias (TransformerLens has no rule for its bias).
 * @example
 * ```ts
 * const { config: processedConfig, weights: processed } = processDecoderWeights(config, weights);
 * ```
 */
export function processDecoderWeights(
  config: DecoderConfig,
  weights: DecoderWeights,
  options: DecoderProcessOptions = {},
): { config: DecoderConfig; weights: DecoderWeights } {
  const foldLn = options.foldLn ?? true;
  const isLayerNorm = config.normalizationType === 'LN' || config.normalizationType === 'LNPre';
  const centerWriting = (options.centerWritingWeights ?? true) && isLayerNorm;
  const centerUnembed = options.centerUnembed ?? true;
  const foldValueBiases = options.foldValueBiases ?? true;
  if (foldLn && (config.normalizationType === 'LNPre' || config.normalizationType === 'RMSPre')) {
    throw new InvalidArgumentError(
      `processDecoderWeights: foldLn was asked for, but the norms are already folded (normalizationType ${config.normalizationType}); pass foldLn: false.`,
    );
  }
  if (weights.blocks.some((block) => block.W_QKV)) {
    throw new InvalidArgumentError(
      'processDecoderWeights: the blocks have a fused W_QKV (GPT-2 layout); process GPT-2 weights with processWeights from @patchlens/models-gpt2.',
    );
  }
  const separate = weights.blocks as readonly SeparateBlock[];
  let processed: { config: DecoderConfig; weights: DecoderWeights } | undefined;
  tf.tidy(() => {
    let blocks = separate.map(
      (block) => ({ ...block }) as { -readonly [K in keyof SeparateBlock]: SeparateBlock[K] },
    );
    let W_E = weights.W_E;
    let W_pos = weights.W_pos;
    let W_U = weights.W_U;
    let b_U = weights.b_U;
    let ln_final: NormWeights | null = weights.ln_final;
    let normalizationType = config.normalizationType;
    if (foldLn) {
      const center = isLayerNorm;
      const foldInto = (W: tf.Tensor2D, norm: NormWeights) => {
        const scaled = tf.mul(W, tf.expandDims(norm.w, 1)) as tf.Tensor2D; // [D, out]
        return center ? (meanOver(scaled, 0) as tf.Tensor2D) : scaled;
      };
      blocks = blocks.map((block) => {
        const next = { ...block };
        if (block.ln1) {
          const ln1 = block.ln1;
          if (ln1.b) {
            next.b_Q = foldBias(block.b_Q, ln1.b, block.W_Q);
            next.b_K = foldBias(block.b_K, ln1.b, block.W_K);
            next.b_V = foldBias(block.b_V, ln1.b, block.W_V);
          }
          next.W_Q = foldInto(block.W_Q, ln1);
          next.W_K = foldInto(block.W_K, ln1);
          next.W_V = foldInto(block.W_V, ln1);
          next.ln1 = null;
        }
        if (block.ln2) {
          const ln2 = block.ln2;
          if (ln2.b && block.W_gate) {
            throw new InvalidArgumentError(
              'processDecoderWeights: foldLn on a gated MLP behind a LayerNorm with bias is not supported (TransformerLens defines no fold for it); pass foldLn: false.',
            );
          }
          if (ln2.b) next.b_in = foldBias(block.b_in, ln2.b, block.W_in);
          next.W_in = foldInto(block.W_in, ln2);
          if (block.W_gate) next.W_gate = foldInto(block.W_gate, ln2);
          next.ln2 = null;
        }
        return next;
      });
      if (ln_final) {
        if (ln_final.b) b_U = foldBias(b_U, ln_final.b, W_U);
        W_U = foldInto(W_U, ln_final);
        ln_final = null;
      }
      normalizationType = isLayerNorm ? 'LNPre' : 'RMSPre';
    }
    if (centerWriting) {
      W_E = meanOver(W_E, 1) as tf.Tensor2D;
      if (W_pos) W_pos = meanOver(W_pos, 1) as tf.Tensor2D;
      blocks = blocks.map((block) => ({
        ...block,
        W_O: meanOver(block.W_O, 1) as tf.Tensor2D,
        b_O: block.b_O ? (meanOver(block.b_O, 0) as tf.Tensor1D) : null,
        W_out: meanOver(block.W_out, 1) as tf.Tensor2D,
        b_out: block.b_out ? (meanOver(block.b_out, 0) as tf.Tensor1D) : null,
      }));
    }
    if (centerUnembed) {
      W_U = meanOver(W_U, 1) as tf.Tensor2D;
      if (b_U) b_U = meanOver(b_U, 0) as tf.Tensor1D;
    }
    if (foldValueBiases) {
      const H = config.nHeads;
      const Hkv = keyValueHeads(config);
      const Dh = config.dHead;
      blocks = blocks.map((block) => {
        if (!block.b_V) return block;
        const perKeyValueHead = tf.reshape(block.b_V, [Hkv, 1, Dh]); // [Hkv, 1, Dh]
        const perHead = tf.reshape(tf.tile(perKeyValueHead, [1, H / Hkv, 1]), [
          H * Dh,
        ]) as tf.Tensor1D; // [H*Dh]
        return { ...block, b_O: foldBias(block.b_O, perHead, block.W_O), b_V: null };
      });
    }
    const result: DecoderWeights = { W_E, W_pos, blocks, ln_final, W_U, b_U };
    for (const tensor of decoderWeightTensors(result)) tf.keep(tensor);
    processed = { config: Object.freeze({ ...config, normalizationType }), weights: result };
  });
  return processed!;
}
