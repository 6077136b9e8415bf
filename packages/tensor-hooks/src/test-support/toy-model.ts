// Test-only (excluded from the build): a toy "model" of a few tfjs ops with hook points, and the
// same computation in plain TypeScript loops as an independent reference.
import * as tf from '@tensorflow/tfjs-core';
import type { HookName } from '../hook-names.js';
import { HookRegistry } from '../hook-registry.js';

export const BATCH = 2;
export const POS = 2;
export const D_IN = 3;
export const D_HIDDEN = 4;
export const D_OUT = 2;

/** The toy's hook points in forward order; `resid_mid` is a side branch the metric never reads. */
export const TOY_HOOK_NAMES: HookName[] = [
  'hook_embed',
  'blocks.0.mlp.hook_post',
  'blocks.0.hook_mlp_out',
  'blocks.0.hook_resid_mid',
];

/** Deterministic values in [-1, 1) (no randomness in tests). */
export function values(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, index) => Math.sin(seed * 7.1 + index * 1.3));
}

export const X = values(BATCH * POS * D_IN, 1); // [batch, pos, d_in]
export const W1 = values(D_IN * D_HIDDEN, 2); // [d_in, d_hidden]
export const W2 = values(D_HIDDEN * D_OUT, 3); // [d_hidden, d_out]

/** A registry over the toy's hook points. */
export function toyRegistry(): HookRegistry {
  return new HookRegistry(TOY_HOOK_NAMES);
}

/**
 * The toy forward pass: h1 = tanh(x W1) at `blocks.0.mlp.hook_post`, h2 = h1 W2 at
 * `blocks.0.hook_mlp_out`, metric = sum(h2^2). Returns the metric (caller disposes).
 */
export function toyMetric(registry: HookRegistry): tf.Scalar {
  return tf.tidy(() => {
    const x = registry.run('hook_embed', tf.tensor3d(X, [BATCH, POS, D_IN]));
    const w1 = tf.tensor2d(W1, [D_IN, D_HIDDEN]);
    const w2 = tf.tensor2d(W2, [D_HIDDEN, D_OUT]);
    const flat = tf.reshape(x, [BATCH * POS, D_IN]); // [batch*pos, d_in]
    const pre = tf.matMul(flat, w1); // [batch*pos, d_hidden]
    const h1 = registry.run(
      'blocks.0.mlp.hook_post',
      tf.reshape(tf.tanh(pre), [BATCH, POS, D_HIDDEN]), // [batch, pos, d_hidden]
    );
    const out = tf.matMul(tf.reshape(h1, [BATCH * POS, D_HIDDEN]), w2); // [batch*pos, d_out]
    const h2 = registry.run('blocks.0.hook_mlp_out', tf.reshape(out, [BATCH, POS, D_OUT])); // [batch, pos, d_out]
    registry.run('blocks.0.hook_resid_mid', tf.mul(x, 2)); // side branch, unused
    return tf.sum(tf.square(h2));
  });
}

/** The metric's value as a number (disposes the tensor). */
export function toyValue(registry: HookRegistry): number {
  const metric = toyMetric(registry);
  const value = metric.dataSync()[0]!;
  metric.dispose();
  return value;
}

/** Plain-TypeScript forward pass: h1 [batch*pos*d_hidden], h2 [batch*pos*d_out], metric. */
export function referenceForward(): { h1: Float64Array; h2: Float64Array; metric: number } {
  const rows = BATCH * POS;
  const h1 = new Float64Array(rows * D_HIDDEN);
  const h2 = new Float64Array(rows * D_OUT);
  for (let row = 0; row < rows; row++) {
    for (let j = 0; j < D_HIDDEN; j++) {
      let sum = 0;
      for (let i = 0; i < D_IN; i++) sum += X[row * D_IN + i]! * W1[i * D_HIDDEN + j]!;
      h1[row * D_HIDDEN + j] = Math.tanh(sum);
    }
    for (let k = 0; k < D_OUT; k++) {
      let sum = 0;
      for (let j = 0; j < D_HIDDEN; j++) sum += h1[row * D_HIDDEN + j]! * W2[j * D_OUT + k]!;
      h2[row * D_OUT + k] = sum;
    }
  }
  let metric = 0;
  for (const value of h2) metric += value * value;
  return { h1, h2, metric };
}
