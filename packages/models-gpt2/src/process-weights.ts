import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { GPT2Config } from './gpt2-config.js';
import type { GPT2BlockWeights, GPT2Weights } from './gpt2-weights.js';

/**
 * Which of TransformerLens's weight-processing steps to apply (each default true, like `from_pretrained`).
 *
 * @example
 * ```ts
 * processWeights(config, weights, { centerUnembed: false });
 * ```
 */
export interface ProcessWeightsOptions {
  /** Fold each LayerNorm's weight and bias into the next linear map; the LayerNorms become `LNPre`. */
  readonly foldLn?: boolean;
  /** Subtract the mean over d_model from the weights and biases that write to the residual stream. */
  readonly centerWritingWeights?: boolean;
  /** Subtract the mean over the vocabulary from W_U and b_U (changes logits, not log-probs). */
  readonly centerUnembed?: boolean;
  /** Fold b_V into b_O (`b_O += sum_h b_V[h] @ W_O[h]`, `b_V = 0`). */
  readonly foldValueBiases?: boolean;
}

/**
 * TransformerLens's weight processing (`fold_ln`, `center_writing_weights`, `center_unembed`,
 * `fold_value_biases`, in that order, as `HookedTransformer.from_pretrained` applies them).
 *
 * - fold_ln: `b += ln.b @ W`, `W *= ln.w[:, None]`, then `W -= mean of W over its d_model (input)
 *   axis` for W_Q/W_K/W_V (with their biases), W_in (b_in) and W_U (b_U); LayerNorms become `LNPre`
 *   (centre and scale only; `hook_scale` and `hook_normalized` keep their values).
 * - center_writing_weights: W_E, W_pos, W_O, b_O, W_out, b_out lose their mean over d_model.
 * - center_unembed: W_U loses its mean over the vocabulary, b_U its mean.
 * - fold_value_biases: `b_O += sum over heads of b_V[h] @ W_O[h]`, `b_V = 0`.
 *
 * Returns new weights (the input is neither changed nor disposed; tensors a step leaves alone are
 * shared with the input: free the input with `disposeWeights(input, { keep: output })`) and the
 * config with
 * `normalizationType: 'LNPre'` when LayerNorms were folded.
 *
 * @param config - the model's config.
 * @param weights - the weights to process.
 * @param options - which steps to apply (each default true).
 * @throws InvalidArgumentError when `foldLn` is asked for weights whose LayerNorms are already folded.
 * @example
 * ```ts
 * const { config: processedConfig, weights: processed } = processWeights(config, weights);
 * ```
 */
export function processWeights(
  config: GPT2Config,
  weights: GPT2Weights,
  options: ProcessWeightsOptions = {},
): { config: GPT2Config; weights: GPT2Weights } {
  const foldLn = options.foldLn ?? true;
  const centerWriting = options.centerWritingWeights ?? true;
  const centerUnembed = options.centerUnembed ?? true;
  const foldValueBiases = options.foldValueBiases ?? true;
  const alreadyFolded =
    weights.ln_final === null || weights.blocks.some((block) => !block.ln1 || !block.ln2);
  if (foldLn && alreadyFolded) {
    throw new InvalidArgumentError(
      'processWeights: foldLn is true but the weights have no LayerNorm weights to fold (already processed); pass { foldLn: false }.',
    );
  }
  // tf.tidy keeps the tensors of the returned object (nested objects and arrays) and frees the rest.
  const processed = tf.tidy(() => {
    let current = weights;
    if (foldLn) current = foldLayerNorm(current);
    if (centerWriting) current = centerWritingWeights(current);
    if (centerUnembed) current = centerUnembedding(current);
    if (foldValueBiases) current = foldValueBias(config, current);
    return current as unknown as tf.TensorContainer;
  }) as unknown as GPT2Weights;
  const processedConfig: GPT2Config =
    foldLn || alreadyFolded ? Object.freeze({ ...config, normalizationType: 'LNPre' }) : config;
  return { config: processedConfig, weights: processed };
}

/** `W - mean(W, axis)` keeping dims. */
function center(tensor: tf.Tensor, axis: number): tf.Tensor {
  return tf.sub(tensor, tf.mean(tensor, axis, true));
}

function foldLayerNorm(weights: GPT2Weights): GPT2Weights {
  const blocks = weights.blocks.map((block): GPT2BlockWeights => {
    const ln1 = block.ln1!;
    const ln2 = block.ln2!;
    // b_QKV += ln1.b @ W_QKV: [D] @ [D, 3*H*Dh] -> [3*H*Dh] (biases first: they use the unscaled W).
    const b_QKV = tf.add(
      block.b_QKV,
      tf.reshape(tf.matMul(tf.expandDims(ln1.b, 0), block.W_QKV), [-1]),
    );
    // W_QKV *= ln1.w[:, None], then centred over d_model (axis 0): TL's mean over d_model per head, d_head.
    const W_QKV = center(tf.mul(block.W_QKV, tf.expandDims(ln1.w, 1)), 0);
    const b_in = tf.add(
      block.b_in,
      tf.reshape(tf.matMul(tf.expandDims(ln2.b, 0), block.W_in), [-1]),
    );
    const W_in = center(tf.mul(block.W_in, tf.expandDims(ln2.w, 1)), 0);
    return {
      ...block,
      ln1: null,
      ln2: null,
      W_QKV: W_QKV as tf.Tensor2D,
      b_QKV: b_QKV as tf.Tensor1D,
      W_in: W_in as tf.Tensor2D,
      b_in: b_in as tf.Tensor1D,
    };
  });
  const lnFinal = weights.ln_final!;
  // b_U += ln_final.b @ W_U: [D] @ [D, V] -> [V]
  const b_U = tf.add(
    weights.b_U,
    tf.reshape(tf.matMul(tf.expandDims(lnFinal.b, 0), weights.W_U), [-1]),
  );
  const W_U = center(tf.mul(weights.W_U, tf.expandDims(lnFinal.w, 1)), 0); // [D, V]
  return {
    ...weights,
    blocks,
    ln_final: null,
    W_U: W_U as tf.Tensor2D,
    b_U: b_U as tf.Tensor1D,
  };
}

function centerWritingWeights(weights: GPT2Weights): GPT2Weights {
  return {
    ...weights,
    W_E: center(weights.W_E, 1) as tf.Tensor2D, // [V, D]: mean over D
    W_pos: center(weights.W_pos, 1) as tf.Tensor2D, // [nCtx, D]
    blocks: weights.blocks.map(
      (block): GPT2BlockWeights => ({
        ...block,
        W_O: center(block.W_O, 1) as tf.Tensor2D, // [H*Dh, D]: TL W_O [H, Dh, D] mean over D
        b_O: center(block.b_O, 0) as tf.Tensor1D,
        W_out: center(block.W_out, 1) as tf.Tensor2D, // [M, D]
        b_out: center(block.b_out, 0) as tf.Tensor1D,
      }),
    ),
  };
}

function centerUnembedding(weights: GPT2Weights): GPT2Weights {
  return {
    ...weights,
    W_U: center(weights.W_U, 1) as tf.Tensor2D, // [D, V]: mean over V
    b_U: center(weights.b_U, 0) as tf.Tensor1D,
  };
}

function foldValueBias(config: GPT2Config, weights: GPT2Weights): GPT2Weights {
  const width = config.nHeads * config.dHead;
  return {
    ...weights,
    blocks: weights.blocks.map((block): GPT2BlockWeights => {
      const b_V = tf.slice(block.b_QKV, [2 * width], [width]); // [H*Dh]
      // sum_h b_V[h] @ W_O[h] = b_V (flattened over heads) @ W_O [H*Dh, D] -> [D]
      const b_O = tf.add(block.b_O, tf.reshape(tf.matMul(tf.expandDims(b_V, 0), block.W_O), [-1]));
      const b_QKV = tf.concat([tf.slice(block.b_QKV, [0], [2 * width]), tf.zeros([width])]);
      return { ...block, b_O: b_O as tf.Tensor1D, b_QKV: b_QKV as tf.Tensor1D };
    }),
  };
}
