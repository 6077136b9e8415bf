import * as tf from '@tensorflow/tfjs-core';
import type { DecoderConfig } from '../decoder-config.js';
import type { DecoderWeights } from '../decoder-weights.js';
import { differentiableGather } from './embed.js';
import { addBias, type HookRunner } from './hook-runner.js';
import { normalize } from './norm.js';

/**
 * Final norm (`ln_final.*`) and unembedding (`unembed.hook_in` `[B, P, D]`, `unembed.hook_out`
 * the logits). With a position selection the norm and unembedding run on the selected positions
 * only, unless a hook watches `ln_final.*` or `unembed.hook_in` (they then see every position);
 * with a token selection only those columns of W_U are used, and `unembed.hook_out` sees the
 * selected logits `[B, nPositions, nTokens]`.
 */
export function unembed(
  residual: tf.Tensor3D,
  weights: DecoderWeights,
  config: DecoderConfig,
  hooks: HookRunner,
  positions: readonly number[] | undefined,
  tokens: readonly number[] | undefined,
): tf.Tensor3D {
  const D = config.dModel;
  const positionIndices = positions ? tf.tensor1d([...positions], 'int32') : undefined;
  const fullWatched =
    hooks.watched('ln_final.hook_scale') ||
    hooks.watched('ln_final.hook_normalized') ||
    hooks.watched('unembed.hook_in');
  let x = residual;
  if (positionIndices && !fullWatched)
    x = differentiableGather(x, positionIndices, 1) as tf.Tensor3D; // [B, nPos, D]
  x = normalize(
    x,
    config.normalizationType,
    weights.ln_final,
    config.eps,
    hooks,
    'ln_final.hook_scale',
    'ln_final.hook_normalized',
  );
  x = hooks.run('unembed.hook_in', x);
  if (positionIndices && fullWatched)
    x = differentiableGather(x, positionIndices, 1) as tf.Tensor3D; // [B, nPos, D]
  let W_U: tf.Tensor2D = weights.W_U; // [D, V]
  let b_U = weights.b_U; // [V]
  if (tokens) {
    const tokenIndices = tf.tensor1d([...tokens], 'int32');
    W_U = differentiableGather(W_U, tokenIndices, 1) as tf.Tensor2D; // [D, nTokens]
    b_U = b_U ? (differentiableGather(b_U, tokenIndices) as tf.Tensor1D) : null; // [nTokens]
  }
  const [B, nPositions] = x.shape;
  const logits = addBias(tf.matMul(tf.reshape(x, [B * nPositions, D]), W_U), b_U); // [B*nPos, nTokens]
  return hooks.run(
    'unembed.hook_out',
    tf.reshape<tf.Rank.R3>(logits, [B, nPositions, W_U.shape[1]]),
  );
}
