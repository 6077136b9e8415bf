import type * as tf from '@tensorflow/tfjs-core';

/** A norm's parameters: weight `[dModel]` and (LayerNorm only) bias `[dModel]`. */
export interface NormWeights {
  readonly w: tf.Tensor1D;
  /** Null for RMSNorm. */
  readonly b: tf.Tensor1D | null;
}

/** What every block has besides its query/key/value projections. */
interface BlockWeightsBase {
  /** Null once folded (`LNPre`/`RMSPre`). */
  readonly ln1: NormWeights | null;
  readonly ln2: NormWeights | null;
  /** `[nHeads*dHead, dModel]`. */
  readonly W_O: tf.Tensor2D;
  readonly b_O: tf.Tensor1D | null;
  /** `[dModel, dMlp]`. */
  readonly W_in: tf.Tensor2D;
  readonly b_in: tf.Tensor1D | null;
  /** `[dModel, dMlp]`, gated MLPs only. */
  readonly W_gate: tf.Tensor2D | null;
  /** `[dMlp, dModel]`. */
  readonly W_out: tf.Tensor2D;
  readonly b_out: tf.Tensor1D | null;
}

/** Separate query, key and value projections (what the family weight tables build). */
export interface SeparateQKVWeights {
  /** `[dModel, nHeads*dHead]`. */
  readonly W_Q: tf.Tensor2D;
  readonly b_Q: tf.Tensor1D | null;
  /** `[dModel, nKeyValueHeads*dHead]`. */
  readonly W_K: tf.Tensor2D;
  readonly b_K: tf.Tensor1D | null;
  /** `[dModel, nKeyValueHeads*dHead]`. */
  readonly W_V: tf.Tensor2D;
  readonly b_V: tf.Tensor1D | null;
  readonly W_QKV?: undefined;
}

/**
 * One fused projection `[dModel, (nHeads + 2·nKeyValueHeads)·dHead]` whose columns are q, k, v
 * (GPT-2's `c_attn`): one matmul instead of three.
 */
export interface FusedQKVWeights {
  readonly W_QKV: tf.Tensor2D;
  readonly b_QKV: tf.Tensor1D | null;
  readonly W_Q?: undefined;
}

/**
 * One block's weights, as matrices the forward multiplies by directly (`x @ W`). Heads are
 * contiguous column groups: `W_Q[:, h*dHead:(h+1)*dHead]` is TransformerLens's `W_Q[h]`. A bias
 * that the architecture lacks is null (TransformerLens stores zeros).
 */
export type DecoderBlockWeights = BlockWeightsBase & (SeparateQKVWeights | FusedQKVWeights);

/**
 * A decoder's weights.
 *
 * @example
 * ```ts
 * weights.blocks[0]!.W_Q.shape; // [dModel, nHeads * dHead]
 * ```
 */
export interface DecoderWeights {
  /** `[dVocab, dModel]`. */
  readonly W_E: tf.Tensor2D;
  /** `[nCtx, dModel]`, standard positions only. */
  readonly W_pos: tf.Tensor2D | null;
  readonly blocks: readonly DecoderBlockWeights[];
  readonly ln_final: NormWeights | null;
  /** `[dModel, dVocab]`. */
  readonly W_U: tf.Tensor2D;
  readonly b_U: tf.Tensor1D | null;
}

/**
 * Every tensor of the weights (each once, also when tied).
 *
 * @example
 * ```ts
 * decoderWeightTensors(weights).length;
 * ```
 */
export function decoderWeightTensors(weights: DecoderWeights): tf.Tensor[] {
  const found = new Set<tf.Tensor>();
  const add = (tensor: tf.Tensor | null | undefined) => {
    if (tensor) found.add(tensor);
  };
  const addNorm = (norm: NormWeights | null) => {
    add(norm?.w);
    add(norm?.b);
  };
  add(weights.W_E);
  add(weights.W_pos);
  for (const block of weights.blocks) {
    addNorm(block.ln1);
    addNorm(block.ln2);
    const parts = block as unknown as Record<string, tf.Tensor | null | undefined>;
    for (const key of [
      'W_Q',
      'b_Q',
      'W_K',
      'b_K',
      'W_V',
      'b_V',
      'W_QKV',
      'b_QKV',
      'W_O',
      'b_O',
      'W_in',
      'b_in',
      'W_gate',
      'W_out',
      'b_out',
    ] as const) {
      add(parts[key]);
    }
  }
  addNorm(weights.ln_final);
  add(weights.W_U);
  add(weights.b_U);
  return [...found];
}

/**
 * Disposes the weights' tensors, except those also in `keep` (weights sharing tensors).
 *
 * @example
 * ```ts
 * disposeDecoderWeights(raw, { keep: processed });
 * ```
 */
export function disposeDecoderWeights(
  weights: DecoderWeights,
  options: { keep?: DecoderWeights } = {},
): void {
  const keep = new Set(options.keep ? decoderWeightTensors(options.keep) : []);
  for (const tensor of decoderWeightTensors(weights)) {
    if (!keep.has(tensor) && !tensor.isDisposed) tensor.dispose();
  }
}
