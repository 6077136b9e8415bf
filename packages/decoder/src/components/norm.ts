import type { HookName } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { NormalizationType } from '../decoder-config.js';
import type { NormWeights } from '../decoder-weights.js';
import type { HookRunner } from './hook-runner.js';

/**
 * TransformerLens's LayerNorm / LayerNormPre / RMSNorm / RMSNormPre with their hooks (3.x):
 * `hook_scale` `[B, P, 1]` is `sqrt(mean((x - mean)^2) + eps)` (LN) or `sqrt(mean(x^2) + eps)`
 * (RMS); `hook_normalized` is `(x - mean) / scale` or `x / scale`, **before** the weight and bias,
 * which are applied afterwards (absent in the `Pre` forms). Works on `[B, P, D]` and on the
 * per-head inputs `[B, P, heads, D]` of `useSplitQkvInput` (then the hooks run per head).
 */
export function normalize<T extends tf.Tensor>(
  x: T,
  type: NormalizationType,
  weights: NormWeights | null,
  eps: number,
  hooks: HookRunner,
  scaleName: HookName,
  normalizedName: HookName,
): T {
  const centered = type === 'LN' || type === 'LNPre' ? tf.sub<T>(x, tf.mean(x, -1, true)) : x; // [B, P, (heads,) D]
  const meanSquare = tf.mean(tf.square(centered), -1, true); // [B, P, (heads,) 1]
  const scale = hooks.run(scaleName, tf.sqrt(tf.add(meanSquare, eps))); // [B, P, (heads,) 1]
  const normalized = hooks.run(normalizedName, tf.div<T>(centered, scale)); // [B, P, (heads,) D]
  if (!weights) return normalized;
  const scaled = tf.mul<T>(normalized, weights.w); // [B, P, (heads,) D]
  return weights.b ? tf.add<T>(scaled, weights.b) : scaled;
}
