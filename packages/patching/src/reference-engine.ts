import {
  InvalidArgumentError,
  MetricError,
  PatchLensError,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  describeJob,
  type EngineContext,
  type PatchJob,
  throwIfAborted,
  yieldToEventLoop,
} from './patch-job.js';
import { isCoordinatePatchSetter } from './patch-setters.js';
import type { PatchingMetric } from './patching-metric.js';

// The reference engine is the plain loop TransformerLens runs, written to share nothing with the
// fast engine but the model (no masks, no batching, no selective unembedding, no shared metric
// code), so that "fast == reference" checks the fast engine's masks and metric plumbing.

/**
 * `corrupted` with the clean values where each `[axis, value]` holds, by slicing and
 * concatenating: TransformerLens's `corrupted[:, pos, head] = clean[:, pos, head]`, one axis at a
 * time (the slice at `value` is patched recursively, the slices before and after stay corrupted).
 */
function patchBySlices(
  corrupted: tf.Tensor,
  clean: tf.Tensor,
  fixed: readonly (readonly [axis: number, value: number])[],
): tf.Tensor {
  if (fixed.length === 0) return tf.clone(clean);
  const [[axis, value], ...rest] = fixed as [readonly [number, number], ...[number, number][]];
  const extent = corrupted.shape[axis]!;
  const along = (tensor: tf.Tensor, begin: number, size: number) =>
    tf.slice(
      tensor,
      tensor.shape.map((_, entry) => (entry === axis ? begin : 0)),
      tensor.shape.map((length, entry) => (entry === axis ? size : length)),
    );
  const parts: tf.Tensor[] = [];
  if (value > 0) parts.push(along(corrupted, 0, value)); // before the patched slice
  parts.push(patchBySlices(along(corrupted, value, 1), along(clean, value, 1), rest));
  if (value + 1 < extent) parts.push(along(corrupted, value + 1, extent - value - 1)); // after it
  return parts.length === 1 ? parts[0]! : tf.concat(parts, axis);
}

/** One patch applied to one activation `[batch, ...]`: a coordinate setter or the user's function. */
function patchActivation(
  job: PatchJob,
  corrupted: tf.Tensor,
  clean: tf.Tensor,
  functionName: string,
): tf.Tensor {
  const setter = job.setter;
  if (isCoordinatePatchSetter(setter)) {
    const fixed = setter.activationAxes.map(
      (axis, entry) => [axis, job.index[entry + 1]!] as const,
    );
    return patchBySlices(corrupted, clean, fixed);
  }
  const patched = setter(corrupted, job.index, clean);
  if (!(patched instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${functionName}: patchSetter returned ${typeof patched} ${describeJob(job)}; a patch setter returns the patched activation (a tf.Tensor of shape [${corrupted.shape}]).`,
    );
  }
  if (!tf.util.arraysEqual(patched.shape, corrupted.shape)) {
    throw new ShapeMismatchError(
      `${functionName}: patchSetter returned shape [${patched.shape}] ${describeJob(job)}; expected the activation's shape [${corrupted.shape}].`,
      { expected: corrupted.shape, actual: patched.shape },
    );
  }
  return patched;
}

/**
 * The metric on full logits `[batch, pos, dVocab]`: the entries it declares in `reads` are copied
 * out element by element (positions, then token ids, in the order listed; all of an axis it leaves
 * out), then `compute` runs on that `[batch, positions, tokens]` tensor.
 */
async function metricOnFullLogits(
  metric: PatchingMetric,
  logits: tf.Tensor,
  where: string,
): Promise<number> {
  const [batch, positions, vocabulary] = logits.shape as [number, number, number];
  let input = logits;
  let copied: tf.Tensor | undefined;
  if (metric.reads !== undefined) {
    const full = (await logits.data()) as Float32Array;
    const rows = (metric.reads.positions ?? [...Array(positions).keys()]).map((position) =>
      position < 0 ? position + positions : position,
    );
    const columns = metric.reads.tokens ?? [...Array(vocabulary).keys()];
    const values = new Float32Array(batch * rows.length * columns.length);
    let next = 0;
    for (let b = 0; b < batch; b++) {
      for (const position of rows) {
        for (const token of columns)
          values[next++] = full[(b * positions + position) * vocabulary + token]!;
      }
    }
    copied = tf.tensor3d(values, [batch, rows.length, columns.length]);
    input = copied;
  }
  let result: tf.Tensor | number;
  try {
    result = tf.tidy(() => metric.compute(input));
  } catch (error) {
    if (PatchLensError.isInstance(error)) throw error;
    throw new MetricError(`metric "${metric.name}" threw "${String(error)}" ${where}.`, {
      cause: error,
    });
  } finally {
    copied?.dispose();
  }
  if (typeof result === 'number') return result;
  if (!(result instanceof tf.Tensor)) {
    throw new MetricError(
      `metric "${metric.name}" returned ${typeof result} ${where}; a metric returns one number (a number or a 0-d tensor).`,
    );
  }
  try {
    if (result.size !== 1) {
      throw new MetricError(
        `metric "${metric.name}" returned a tensor of shape [${result.shape}] ${where}; a metric returns one number (a number or a 0-d tensor), e.g. take tf.mean over the batch.`,
      );
    }
    return (await result.data())[0]!;
  } finally {
    result.dispose();
  }
}

/**
 * The reference engine: TransformerLens's loop. For each patch, one full forward pass of the
 * corrupted tokens with the patch applied by a hook (`runWithHooks`; coordinate setters by
 * slicing and concatenating), full logits, then the metric on those logits.
 */
export async function runReferenceEngine(
  context: EngineContext,
  jobs: readonly PatchJob[],
  output: Float32Array,
): Promise<void> {
  const { functionName, model, corruptedTokens, metric, signal } = context;
  for (let done = 0; done < jobs.length; done++) {
    throwIfAborted(functionName, signal, done, jobs.length);
    const job = jobs[done]!;
    const clean = context.clean.get(job.hookName)!;
    const logits = tf.tidy(() =>
      model.runWithHooks(corruptedTokens, [
        [job.hookName, (activation) => patchActivation(job, activation, clean, functionName)],
      ]),
    ); // [batch, pos, dVocab]
    let value: number;
    try {
      value = await metricOnFullLogits(metric, logits, describeJob(job));
    } finally {
      logits.dispose();
    }
    if (!Number.isFinite(value)) {
      throw new MetricError(
        `${functionName}: metric "${metric.name}" returned ${value} ${describeJob(job)}; a metric must return a finite number.`,
      );
    }
    output[job.slot] = value;
    context.progress(done + 1);
    await yieldToEventLoop();
  }
  throwIfAborted(functionName, signal, jobs.length, jobs.length);
}
