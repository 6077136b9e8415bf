import * as tf from '@tensorflow/tfjs-core';
import { metricScalar, type PatchingMetric, selectLogits } from './patching-metric.js';

/**
 * The metric of each of the K replicas of batched logits `[K*batch, ...]` (replica k = rows
 * k*batch .. (k+1)*batch - 1), as `[K]`. The logits are already in the metric's declared layout.
 * Each replica's rows are taken with `gather`: a `slice` (or `split`) on wasm first copies its
 * whole input, so K slices of full `[K*batch, pos, dVocab]` logits would copy all replicas K times.
 *
 * @param where - words for a metric error, per replica (e.g. the patch it belongs to).
 */
export function replicaMetrics(
  metric: PatchingMetric,
  logits: tf.Tensor,
  replicas: number,
  where: (replica: number) => string,
): tf.Tensor1D {
  return tf.tidy(() => {
    const rowShape = logits.shape.slice(1);
    const batch = logits.shape[0]! / replicas;
    const grouped = tf.reshape(logits, [replicas, batch, ...rowShape]); // [K, batch, ...]
    const values = Array.from({ length: replicas }, (_, replica) => {
      const rows = tf.reshape(tf.gather(grouped, [replica], 0), [batch, ...rowShape]); // [batch, ...]
      return metricScalar(metric, rows, where(replica));
    });
    return tf.stack(values) as tf.Tensor1D; // [K]
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
