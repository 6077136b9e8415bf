import type { HookName } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { NormalizationType } from '../decoder-config.js';
import type { NormWeights } from '../decoder-weights.js';
import type { HookRunner } from './hook-runner.js';

/**
 * TransformerLens's LayerNorm / LayerNormPre / RMSNorm / RMSNormPre with their hooks (3.x):
 * `hook_scale` `[B, P, 1]` is `sqrt(mean((x - mean)^2) + eps)` (LN) or `sqrt(mean(x^2) + eps)`
 * (RMS); `hook_normalized` is `(x - mean) / scale` or `x / scale`, **before** the weight and bias,
 * which are applied afterwards (absent in the `Pre` forms).
 */
export function normalize(
  x: tf.Tensor3D,
  type: NormalizationType,
  weights: NormWeights | null,
  eps: number,
  hooks: HookRunner,
  scaleName: HookName,
  normalizedName: HookName,
): tf.Tensor3D {
  const centered = type === 'LN' || type === 'LNPre' ? tf.sub(x, tf.mean(x, -1, true)) : x; // [B, P, D]
  const meanSquare = tf.mean(tf.square(centered), -1, true); // [B, P, 1]
  const scale = hooks.run(scaleName, tf.sqrt(tf.add(meanSquare, eps))); // [B, P, 1]
  const normalized = hooks.run(normalizedName, tf.div<tf.Tensor3D>(centered, scale)); // [B, P, D]
  if (!weights) return normalized;
  const scaled = tf.mul<tf.Tensor3D>(normalized, weights.w); // [B, P, D]
  return weights.b ? tf.add<tf.Tensor3D>(scaled, weights.b) : scaled;
}
