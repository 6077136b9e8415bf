import * as tf from '@tensorflow/tfjs-core';
import type { DecoderActivationFunction, DecoderConfig } from '../decoder-config.js';
import type { BlockHookNames } from '../decoder-hook-names.js';
import type { DecoderBlockWeights } from '../decoder-weights.js';
import { addBias, type HookRunner } from './hook-runner.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The MLP's activation function, by TransformerLens's `act_fn` name. */
export function activate(x: tf.Tensor3D, name: DecoderActivationFunction): tf.Tensor3D {
  switch (name) {
    case 'gelu': // exact: 0.5 x (1 + erf(x / sqrt 2))
      return tf.mul<tf.Tensor3D>(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    case 'gelu_new': {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
      const inner = tf.mul(
        x,
        tf.add(tf.mul(tf.square(x), 2 * SQRT_2_OVER_PI * 0.044715), 2 * SQRT_2_OVER_PI),
      );
      return tf.mul<tf.Tensor3D>(x, tf.sigmoid(inner));
    }
    case 'silu':
      return tf.mul<tf.Tensor3D>(x, tf.sigmoid(x));
    case 'relu':
      return tf.relu(x);
  }
}

/**
 * TransformerLens's MLP and GatedMLP. Plain: `hook_pre = x W_in + b_in`, `hook_post = act(pre)`.
 * Gated: `hook_pre = x W_gate`, `hook_pre_linear = x W_in`, `hook_post = act(pre) * pre_linear + b_in`
 * (TransformerLens adds b_in after the product). Then `hook_mlp_out = post W_out + b_out`.
 */
export function mlp(
  x: tf.Tensor3D,
  block: DecoderBlockWeights,
  names: BlockHookNames,
  config: DecoderConfig,
  hooks: HookRunner,
): tf.Tensor3D {
  const [B, P, D] = x.shape;
  const M = config.dMlp;
  const flat = tf.reshape(x, [B * P, D]); // [B*P, D]
  let post: tf.Tensor3D;
  if (block.W_gate) {
    const pre = hooks.run(
      names.mlpPre,
      tf.reshape<tf.Rank.R3>(tf.matMul(flat, block.W_gate), [B, P, M]),
    ); // [B, P, M]
    const linear = hooks.run(
      names.mlpPreLinear,
      tf.reshape<tf.Rank.R3>(tf.matMul(flat, block.W_in), [B, P, M]),
    ); // [B, P, M]
    post = hooks.run(
      names.mlpPost,
      addBias(tf.mul<tf.Tensor3D>(activate(pre, config.actFn), linear), block.b_in),
    ); // [B, P, M]
  } else {
    const pre = hooks.run(
      names.mlpPre,
      tf.reshape<tf.Rank.R3>(addBias(tf.matMul(flat, block.W_in), block.b_in), [B, P, M]),
    ); // [B, P, M]
    post = hooks.run(names.mlpPost, activate(pre, config.actFn)); // [B, P, M]
  }
  const out = addBias(tf.matMul(tf.reshape(post, [B * P, M]), block.W_out), block.b_out); // [B*P, D]
  return hooks.run(names.mlpOut, tf.reshape<tf.Rank.R3>(out, [B, P, D]));
}
