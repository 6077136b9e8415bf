import { InvalidArgumentError, MetricError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  describeJob,
  type EngineContext,
  type PatchJob,
  throwIfAborted,
  yieldToEventLoop,
} from './patch-job.js';
import { applyCoordinatePatch, isCoordinatePatchSetter } from './patch-setters.js';
import { metricScalar, selectLogits } from './patching-metric.js';

/** Apply one patch (declarative or function) to one activation `[batch, ...]`. */
export function applyPatch(
  job: PatchJob,
  corrupted: tf.Tensor,
  clean: tf.Tensor,
  functionName: string,
): tf.Tensor {
  if (isCoordinatePatchSetter(job.setter)) {
    return applyCoordinatePatch(job.setter, corrupted, job.index, clean);
  }
  const patched = job.setter(corrupted, job.index, clean);
  if (!(patched instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${functionName}: patchSetter returned ${typeof patched} ${describeJob(job)}; a patch setter returns the patched activation (a tf.Tensor of shape [${corrupted.shape}]).`,
    );
  }
  return patched;
}

/**
 * The reference engine: TransformerLens's loop, one full forward pass per patch with the patch
 * applied by a hook (`runWithHooks`), full logits, then the metric.
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
    const value = tf.tidy(() => {
      const logits = model.runWithHooks(corruptedTokens, [
        [job.hookName, (activation) => applyPatch(job, activation, clean, functionName)],
      ]);
      return metricScalar(metric, selectLogits(logits, metric.reads), describeJob(job));
    });
    let data: Float32Array;
    try {
      data = (await value.data()) as Float32Array;
    } finally {
      value.dispose();
    }
    const number = data[0]!;
    if (!Number.isFinite(number)) {
      throw new MetricError(
        `${functionName}: metric "${metric.name}" returned ${number} ${describeJob(job)}; a metric must return a finite number.`,
      );
    }
    output[job.slot] = number;
    context.progress(done + 1);
    await yieldToEventLoop();
  }
  throwIfAborted(functionName, signal, jobs.length, jobs.length);
}
