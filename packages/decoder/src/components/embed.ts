import * as tf from '@tensorflow/tfjs-core';
import type { DecoderWeights } from '../decoder-weights.js';
import type { HookRunner } from './hook-runner.js';

/**
 * `tf.gather` whose gradient is a `scatterND` (wasm lacks `UnsortedSegmentSum`, tfjs's gather
 * gradient), so lookups stay differentiable on every backend. `indices` 1-D when `axis` > 0.
 */
export function differentiableGather(source: tf.Tensor, indices: tf.Tensor, axis = 0): tf.Tensor {
  const gather = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = inputs[0] as tf.Tensor;
    const save = inputs[1] as tf.GradSaveFunc;
    save([indices]);
    const value = tf.gather(input, indices, axis);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const savedIndices = saved[0]!;
      const count = savedIndices.size;
      const flatIndices = tf.reshape(savedIndices, [count, 1]); // [n, 1]
      if (axis === 0) {
        const updates = tf.reshape(dy, [count, ...input.shape.slice(1)]); // [n, ...rest]
        return tf.scatterND(flatIndices, updates, input.shape);
      }
      const order = [axis, ...input.shape.map((_, i) => i).filter((i) => i !== axis)];
      const inverse = order.map((_, i) => order.indexOf(i));
      const movedShape = order.map((i) => input.shape[i]!);
      const moved = tf.transpose(dy, order); // [n, ...other axes]
      return tf.transpose(tf.scatterND(flatIndices, moved, movedShape), inverse);
    };
    return { value, gradFunc };
  });
  return gather(source);
}

/**
 * Token embedding (`hook_embed`) plus, for learned absolute positions, the position embedding
 * (`hook_pos_embed`, `[B, P, D]`, broadcast only when a hook watches it). Rotary models add no
 * position embedding here (RoPE acts on queries and keys).
 */
export function embed(
  tokens: tf.Tensor2D,
  weights: DecoderWeights,
  hooks: HookRunner,
): tf.Tensor3D {
  const [B, P] = tokens.shape;
  const D = weights.W_E.shape[1];
  const tokenEmbedding = hooks.run(
    'hook_embed',
    differentiableGather(weights.W_E, tokens) as tf.Tensor3D,
  ); // [B, P, D]
  if (!weights.W_pos) return tokenEmbedding;
  let positionEmbedding: tf.Tensor = tf.slice(weights.W_pos, [0, 0], [P, D]); // [P, D]
  if (hooks.watched('hook_pos_embed')) {
    positionEmbedding = hooks.run('hook_pos_embed', tf.broadcastTo(positionEmbedding, [B, P, D])); // [B, P, D]
  }
  return tf.add(tokenEmbedding, positionEmbedding); // [B, P, D]
}
