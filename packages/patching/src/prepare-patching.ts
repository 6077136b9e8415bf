import {
  type ActivationCacheLike,
  type HookedModel,
  type HookFilter,
  MetricError,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  checkMetricReads,
  type Metric,
  metricScalar,
  type PatchingMetric,
  selectLogits,
  toPatchingMetric,
} from './patching-metric.js';
import { checkCorruptedTokens } from './run-patch-jobs.js';

/**
 * The activations the built-in sweeps patch (what {@link preparePatching} caches by default).
 *
 * @example
 * ```ts
 * const { logits, cache } = model.runWithCache(cleanTokens, { namesFilter: PATCHED_ACTIVATIONS });
 * ```
 */
export const PATCHED_ACTIVATIONS: RegExp =
  /\.hook_(resid_pre|resid_mid|attn_out|mlp_out|q|k|v|z|pattern)$/;

/**
 * The metric on an unpatched forward pass (full logits, then the metric's declared selection).
 *
 * @param model - the model.
 * @param tokens - int32 `[batch, pos]`.
 * @param metric - a {@link PatchingMetric} or a function of the logits.
 * @throws MetricError when the metric returns a non-scalar or a non-finite value.
 * @example
 * ```ts
 * const clean = await evaluateMetric(model, cleanTokens, logitDiff({ answers: 5335, wrong: 1757 }));
 * ```
 */
export async function evaluateMetric(
  model: HookedModel,
  tokens: tf.Tensor,
  metric: Metric,
): Promise<number> {
  const [, positions] = checkCorruptedTokens('evaluateMetric', tokens);
  const patchingMetric = toPatchingMetric(metric, 'evaluateMetric');
  checkMetricReads('evaluateMetric', patchingMetric, positions, model.config.dVocab);
  const logits = model.forward(tokens);
  try {
    return await metricOfLogits('evaluateMetric', patchingMetric, logits);
  } finally {
    logits.dispose();
  }
}

async function metricOfLogits(
  functionName: string,
  metric: PatchingMetric,
  logits: tf.Tensor,
): Promise<number> {
  const scalar = tf.tidy(() =>
    metricScalar(metric, selectLogits(logits, metric.reads), 'on the unpatched run'),
  );
  let value: number;
  try {
    value = (await scalar.data())[0]!;
  } finally {
    scalar.dispose();
  }
  if (!Number.isFinite(value)) {
    throw new MetricError(
      `${functionName}: metric "${metric.name}" returned ${value} on the unpatched run; a metric must return a finite number.`,
    );
  }
  return value;
}

/**
 * What {@link preparePatching} returns; dispose it (or `using`) to free the clean cache.
 *
 * @example
 * ```ts
 * const { cleanCache, clean, corrupted } = prepared; // clean/corrupted: the metric on each run
 * ```
 */
export interface PreparedPatching<Cache extends ActivationCacheLike = ActivationCacheLike> {
  /** The clean run's activations (the ones `namesFilter` selected). */
  readonly cleanCache: Cache;
  /** The metric on the clean run. */
  readonly clean: number;
  /** The metric on the corrupted run. */
  readonly corrupted: number;
  dispose(): void;
  [Symbol.dispose](): void;
}

/**
 * The usual start of a patching session: check that the clean and corrupted prompts have the same
 * shape, cache the clean run, and evaluate the metric on both runs (for `normalizedMetric` and reports).
 *
 * @param model - the model.
 * @param cleanTokens - int32 `[batch, pos]`.
 * @param corruptedTokens - int32 `[batch, pos]`, the same shape.
 * @param metric - the metric to evaluate on both runs.
 * @param options.namesFilter - which clean activations to cache (default {@link PATCHED_ACTIVATIONS}).
 * @throws ShapeMismatchError showing both shapes when they differ.
 * @example
 * ```ts
 * using prepared = await preparePatching(model, cleanTokens, corruptedTokens, metric);
 * const normalized = normalizedMetric(metric, prepared);
 * const result = await getActPatchResidPre(model, corruptedTokens, prepared.cleanCache, normalized);
 * ```
 */
export async function preparePatching<Cache extends ActivationCacheLike>(
  model: HookedModel<Cache>,
  cleanTokens: tf.Tensor,
  corruptedTokens: tf.Tensor,
  metric: Metric,
  options: { namesFilter?: HookFilter } = {},
): Promise<PreparedPatching<Cache>> {
  const cleanShape = checkCorruptedTokens('preparePatching (cleanTokens)', cleanTokens);
  const corruptedShape = checkCorruptedTokens('preparePatching (corruptedTokens)', corruptedTokens);
  if (!tf.util.arraysEqual(cleanShape, corruptedShape)) {
    throw new ShapeMismatchError(
      `preparePatching: clean tokens have shape [${cleanShape}] but corrupted tokens have shape [${corruptedShape}]; the clean and corrupted prompts must have the same batch size and the same number of tokens.`,
      { expected: cleanShape, actual: corruptedShape },
    );
  }
  const patchingMetric = toPatchingMetric(metric, 'preparePatching');
  checkMetricReads('preparePatching', patchingMetric, cleanShape[1], model.config.dVocab);
  const { logits, cache } = model.runWithCache(cleanTokens, {
    namesFilter: options.namesFilter ?? PATCHED_ACTIVATIONS,
  });
  try {
    const clean = await metricOfLogits('preparePatching', patchingMetric, logits);
    const corrupted = await evaluateMetric(model, corruptedTokens, patchingMetric);
    const dispose = () => cache.dispose();
    return { cleanCache: cache, clean, corrupted, dispose, [Symbol.dispose]: dispose };
  } catch (error) {
    cache.dispose();
    throw error;
  } finally {
    logits.dispose();
  }
}
