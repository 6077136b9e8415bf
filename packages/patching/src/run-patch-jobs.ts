import {
  type ActivationCacheLike,
  type HookedModel,
  type HookName,
  InvalidArgumentError,
  positionAxes,
  ShapeMismatchError,
  UnknownHookError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { batchReporter, type FinishedBatch } from './batch-reporter.js';
import { DEFAULT_MEMORY_BUDGET_BYTES, runFastEngine } from './fast-engine.js';
import { describeJob, type EngineContext, type PatchJob, throwIfAborted } from './patch-job.js';
import { isCoordinatePatchSetter } from './patch-setters.js';
import { checkMetricReads, type Metric, toPatchingMetric } from './patching-metric.js';
import { runReferenceEngine } from './reference-engine.js';
import {
  type CompletedPatches,
  type PatchResultShard,
  selectSweepJobs,
} from './sweep-selection.js';
import type { SweepShard } from './sweep-shards.js';

/**
 * Options every sweep accepts.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * await getActPatchResidPre(model, tokens, cache, metric, {
 *   engine: 'fast',
 *   onProgress: (done, total) => console.error(`${done}/${total}`),
 *   signal: controller.signal,
 * });
 * ```
 */
export interface SweepOptions {
  /**
   * `fast` (default): batched forward passes that start at the patched layer and unembed only what
   * the metric reads. `reference`: one full forward pass per patch, TransformerLens's loop.
   */
  readonly engine?: 'fast' | 'reference';
  /** Fast engine: patches per forward pass (K); default chosen from `memoryBudgetBytes`. */
  readonly batchSize?: number;
  /**
   * Fast engine: memory one worker's passes may use, in bytes (default 256 MiB): K patches per pass
   * and the captured corrupted run (residuals, keys/values) count against it. A sweep that cannot
   * fit it (or wasm's 4 GiB heap) is refused before it starts.
   */
  readonly memoryBudgetBytes?: number;
  /**
   * Fast engine: worker threads that share the passes (Node only; each holds a model copy built
   * from the same bytes). Default: the cores, limited by memory; 1 runs on the calling thread.
   * Needs a model with `workerSource()` and a built-in metric and setters (closures cannot cross
   * threads); otherwise the sweep runs on the calling thread.
   */
  readonly workers?: number | 'auto';
  /** Called after each batch (fast) or patch (reference) with the patches done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Cancels the sweep: it disposes what it made and rejects with AbortError. */
  readonly signal?: AbortSignal;
  /**
   * Compute only part `index` of `count` (parts balanced by estimated cost, deterministic, every
   * flat index in exactly one part). The result keeps the full shape, holds NaN outside the part and
   * says which flat indices it holds (`result.shard`); {@link mergePatchResults} joins the parts.
   */
  readonly shard?: SweepShard;
  /** Values already computed (e.g. from a checkpoint): used as given, not recomputed. */
  readonly completed?: CompletedPatches;
  /**
   * Called after each batch (fast) or patch (reference) with the flat indices it computed and
   * their values (for checkpoints: together with `completed`, a sweep can resume).
   */
  readonly onBatch?: (batch: FinishedBatch) => void;
}

/**
 * Checks corrupted tokens: an int32 tensor `[batch, pos]` with at least one prompt and one token.
 *
 * @throws InvalidArgumentError or ShapeMismatchError saying what was received.
 */
export function checkCorruptedTokens(functionName: string, tokens: unknown): [number, number] {
  if (!(tokens instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${functionName}: corruptedTokens must be an int32 tf.Tensor [batch, pos], got ${Array.isArray(tokens) ? 'an array' : typeof tokens}; wrap ids with tf.tensor2d(ids, undefined, 'int32').`,
    );
  }
  if (tokens.rank !== 2 || tokens.shape[0] === 0 || tokens.shape[1] === 0) {
    throw new ShapeMismatchError(
      `${functionName}: corruptedTokens must have shape [batch, pos] with batch, pos >= 1, got [${tokens.shape}].`,
      { expected: [null, null], actual: tokens.shape },
    );
  }
  if (tokens.dtype !== 'int32') {
    throw new InvalidArgumentError(
      `${functionName}: corruptedTokens must be int32 token ids, got dtype ${tokens.dtype}.`,
    );
  }
  return tokens.shape as [number, number];
}

function cleanActivations(
  functionName: string,
  model: HookedModel,
  cleanCache: ActivationCacheLike,
  jobs: readonly PatchJob[],
  batch: number,
  positions: number,
): Map<HookName, tf.Tensor> {
  if (
    typeof cleanCache !== 'object' ||
    cleanCache === null ||
    typeof cleanCache.get !== 'function' ||
    typeof cleanCache.has !== 'function'
  ) {
    throw new InvalidArgumentError(
      `${functionName}: cleanCache must be an ActivationCache (from model.runWithCache(cleanTokens)), got ${typeof cleanCache}.`,
    );
  }
  const clean = new Map<HookName, tf.Tensor>();
  for (const job of jobs) {
    if (clean.has(job.hookName)) continue;
    if (job.hookName.endsWith('.hook_resid_mid') && !model.hookNames.includes(job.hookName)) {
      throw new UnknownHookError(
        job.hookName,
        [],
        ` (${functionName}: this model has no resid_mid: its attention and MLP run in parallel on resid_pre (e.g. GPT-NeoX/Pythia), so there is no residual stream between them to patch; TransformerLens raises KeyError here too. Patch resid_pre, attn_out or mlp_out instead)`,
      );
    }
    model.hooks.resolve(job.hookName); // UnknownHookError with the closest names when the model lacks it
    if (!cleanCache.has(job.hookName)) {
      throw new UnknownHookError(
        job.hookName,
        [],
        ` (${functionName}: the clean cache lacks this activation; run the clean prompt with runWithCache and a namesFilter that includes it)`,
      );
    }
    const activation = cleanCache.get(job.hookName);
    const axes = positionAxes(job.hookName);
    const wrong =
      activation.rank <= Math.max(...axes) ||
      activation.shape[0] !== batch ||
      axes.some((axis) => activation.shape[axis] !== positions);
    if (wrong) {
      throw new ShapeMismatchError(
        `${functionName}: the clean activation "${job.hookName}" has shape [${activation.shape}] (batch ${activation.shape[0]}, ${activation.shape[axes[0]!]} positions) but the corrupted tokens have shape [${batch}, ${positions}]; the clean and corrupted prompts must have the same batch size and the same number of tokens.`,
        { expected: [batch, positions], actual: activation.shape },
      );
    }
    clean.set(job.hookName, activation);
  }
  return clean;
}

function checkJobs(
  functionName: string,
  jobs: readonly PatchJob[],
  clean: ReadonlyMap<HookName, tf.Tensor>,
): void {
  for (const job of jobs) {
    const setter = job.setter;
    if (typeof setter === 'function') continue;
    if (!isCoordinatePatchSetter(setter)) {
      throw new InvalidArgumentError(
        `${functionName}: patchSetter must be a function (corrupted, index, clean) => tf.Tensor or a coordinate setter such as layerPosPatchSetter, got ${typeof setter}.`,
      );
    }
    if (job.index.length !== setter.activationAxes.length + 1) {
      throw new InvalidArgumentError(
        `${functionName}: patchSetter ${setter.name} takes an index of ${setter.activationAxes.length + 1} entries (layer first), but the index axes are [${job.sweep.axisNames.join(', ')}].`,
      );
    }
    const shape = clean.get(job.hookName)!.shape;
    setter.activationAxes.forEach((axis, entry) => {
      const value = job.index[entry + 1]!;
      if (axis < 1 || axis >= shape.length || value >= shape[axis]!) {
        throw new InvalidArgumentError(
          `${functionName}: patchSetter ${setter.name} writes activation axis ${axis} at ${value} ${describeJob(job)}, but the activation has shape [${shape}].`,
        );
      }
    });
  }
}

/**
 * Validates a sweep and runs its patches on the chosen engine, writing each value at its slot
 * (only the `shard`'s slots that `completed` lacks; see {@link selectSweepJobs}).
 *
 * @returns the shard the output holds (undefined without `options.shard`).
 */
export async function runPatchJobs(
  functionName: string,
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metricInput: Metric,
  allJobs: readonly PatchJob[],
  output: Float32Array,
  options: SweepOptions,
): Promise<PatchResultShard | undefined> {
  const engine = options.engine ?? 'fast';
  if (engine !== 'fast' && engine !== 'reference') {
    throw new InvalidArgumentError(
      `${functionName}: engine must be "fast" or "reference", got ${JSON.stringify(engine)}.`,
    );
  }
  const { batchSize, memoryBudgetBytes = DEFAULT_MEMORY_BUDGET_BYTES, workers = 'auto' } = options;
  if (workers !== 'auto' && (!Number.isInteger(workers) || workers < 1)) {
    throw new InvalidArgumentError(
      `${functionName}: workers must be a positive integer or "auto" (one per core, limited by memory), got ${JSON.stringify(workers)}.`,
    );
  }
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
    throw new InvalidArgumentError(
      `${functionName}: batchSize must be a positive integer (patches per forward pass), got ${batchSize}.`,
    );
  }
  if (!(memoryBudgetBytes > 0)) {
    throw new InvalidArgumentError(
      `${functionName}: memoryBudgetBytes must be a positive number, got ${memoryBudgetBytes}.`,
    );
  }
  const [batch, positions] = checkCorruptedTokens(functionName, corruptedTokens);
  const metric = toPatchingMetric(metricInput, functionName);
  checkMetricReads(functionName, metric, positions, model.config.dVocab);
  const clean = cleanActivations(functionName, model, cleanCache, allJobs, batch, positions);
  checkJobs(functionName, allJobs, clean);
  const selection = selectSweepJobs(
    functionName,
    allJobs,
    output.length,
    options,
    model.config.nLayers,
    positions,
  );
  output.set(selection.values);
  const jobs = selection.jobs;
  throwIfAborted(functionName, options.signal, 0, jobs.length);
  const total = jobs.length;
  const reportBatch = options.onBatch ? batchReporter(output, jobs, options.onBatch) : undefined;
  const context: EngineContext = {
    functionName,
    model,
    corruptedTokens,
    metric,
    clean,
    signal: options.signal,
    progress: (done) => {
      reportBatch?.();
      options.onProgress?.(done, total);
    },
  };
  if (total === 0) {
    options.onProgress?.(0, 0);
    return selection.shard;
  }
  if (engine === 'reference') {
    context.progress(0);
    await runReferenceEngine(context, jobs, output);
  } else await runFastEngine(context, jobs, output, { batchSize, memoryBudgetBytes, workers });
  return selection.shard;
}
