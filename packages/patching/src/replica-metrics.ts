import * as tf from '@tensorflow/tfjs-core';
import { metricScalar, type PatchingMetric, selectLogits } from './patching-metric.js';

/**
 * The metric of each of the K replicas of batched logits `[K*batch, ...]` (replica k = rows
 * k*batch .. (k+1)*batch - 1), as `[K]`. The logits are already in the metric's declared layout.
 */
export function replicaMetrics(
  metric: PatchingMetric,
  logits: tf.Tensor,
  replicas: number,
  where: string,
): tf.Tensor1D {
  return tf.tidy(() => {
    const parts = tf.split(logits, replicas, 0); // K × [batch, ...]
    return tf.stack(
      parts.map((part, k) => metricScalar(metric, part, `${where} (replica ${k})`)),
    ) as tf.Tensor1D; // [K]
  });
}

/** The metric on full logits `[batch, pos, dVocab]` of one unpatched run, as a number. */
export async function metricOfRun(
  metric: PatchingMetric,
  logits: tf.Tensor,
  where: string,
): Promise<number> {
  const scalar = tf.tidy(() => metricScalar(metric, selectLogits(logits, metric.reads), where));
  try {
    return (await scalar.data())[0]!;
  } finally {
    scalar.dispose();
  }
}
