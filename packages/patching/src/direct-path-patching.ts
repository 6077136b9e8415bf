/**
 * TransformerLens's direct path patching (`get_act_patch_direct_path`,
 * `get_act_patch_direct_path_all_sources`): a linearised patch of one source head's direct
 * contribution into one destination head's query, key or value input.
 *
 * Each run uses the corrupted tokens. The destination head's `hook_q|k|v` gets
 * `((z_clean[src] @ W_O[src]) - (z_corr[src] @ W_O[src])) / ln1.hook_scale_corr[dst] @ W_{Q,K,V}[dst]`
 * added at every position: LayerNorm linearised (no re-centring, the corrupted run's scale frozen),
 * which is first-order exact when LayerNorm is folded into the weights (processed weights).
 * Entries with `dst_layer <= src_layer` are 0.0 (no causal path), not the corrupted metric.
 * Results are absolute metric values, as in TransformerLens.
 *
 * Batched: the destination heads of one layer run as the replicas of one forward pass, which
 * starts at that layer from the corrupted run's `hook_resid_pre` when the cache holds it.
 */
import {
  type ActivationCacheLike,
  type HookedModel,
  InvalidArgumentError,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { PatchResult } from './patch-result.js';
import { type Metric, selectLogits, toPatchingMetric } from './patching-metric.js';
import { replicaMetrics } from './replica-metrics.js';
import { checkCorruptedTokens } from './run-patch-jobs.js';

/** Which input of the destination head receives the direct path. */
export type DirectPathComponent = 'q' | 'k' | 'v';

/**
 * Options of {@link getActPatchDirectPath}.
 *
 * @example
 * ```ts
 * const options: DirectPathOptions = { srcLayer: 0, srcHead: 2, component: 'k' };
 * ```
 */
export interface DirectPathOptions {
  /** Layer of the source head. */
  readonly srcLayer: number;
  /** Index of the source head. */
  readonly srcHead: number;
  /** Destination input: `'q'` (default), `'k'` or `'v'`. */
  readonly component?: DirectPathComponent;
  /**
   * Run even when the model's LayerNorm weights are not folded into the weights (default false:
   * that is an error, since the linearisation then ignores the LayerNorm weight and bias).
   */
  readonly allowUnfoldedLayerNorm?: boolean;
}

/**
 * Options of {@link getActPatchDirectPathAllSources}.
 *
 * @example
 * ```ts
 * const options: DirectPathAllSourcesOptions = { component: 'v' };
 * ```
 */
export type DirectPathAllSourcesOptions = Omit<DirectPathOptions, 'srcLayer' | 'srcHead'>;

/** A model that can hand out its weights under TransformerLens's state-dict names. */
interface StateDictModel extends HookedModel {
  stateDict(): Map<string, tf.Tensor>;
}

/**
 * Direct path patching from one source head to every later head (TransformerLens semantics, see
 * the file header).
 *
 * @param model - a model with TransformerLens hook points and a `stateDict()` (GPT2 has one).
 * @param corruptedTokens - int32 `[batch, pos]`.
 * @param cleanCache - the clean run's cache, with `blocks.{srcLayer}.attn.hook_z`.
 * @param corruptedCache - the corrupted run's cache, with `hook_z` and every `ln1.hook_scale`
 *   (e.g. `model.runWithCache(corruptedTokens)`; its `hook_resid_pre` lets passes start late).
 * @param metric - the metric on the logits.
 * @param options - `srcLayer`, `srcHead`, `component` (default `'q'`).
 * @returns `[nLayers, heads]` (heads = key/value heads for `k`/`v` on grouped-query models).
 * @throws InvalidArgumentError for a head outside the model, unfolded LayerNorm, missing cache entries.
 * @example
 * ```ts
 * const { cache: cleanCache } = model.runWithCache(cleanTokens);
 * const { cache: corruptedCache } = model.runWithCache(corruptedTokens);
 * const result = await getActPatchDirectPath(model, corruptedTokens, cleanCache, corruptedCache, metric, {
 *   srcLayer: 0, srcHead: 1, component: 'q',
 * });
 * result.get(1, 3); // metric with head 0.1's direct path into head 1.3's query patched in
 * ```
 */
export async function getActPatchDirectPath(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  corruptedCache: ActivationCacheLike,
  metric: Metric,
  options: DirectPathOptions,
): Promise<PatchResult> {
  const started = performance.now();
  const { values, shape } = await directPathValues(
    'getActPatchDirectPath',
    model,
    corruptedTokens,
    cleanCache,
    corruptedCache,
    metric,
    [options],
  );
  const [, nHeads, nLayers, heads] = shape as [number, number, number, number];
  const offset = (options.srcLayer * nHeads + options.srcHead) * nLayers * heads;
  return new PatchResult({
    values: values.slice(offset, offset + nLayers * heads), // [layer, head] of this source
    shape: [nLayers, heads],
    axes: ['layer', 'head'],
    ms: performance.now() - started,
  });
}

/**
 * {@link getActPatchDirectPath} for every source head: `[src_layer, src_head, layer, head]`,
 * entries with `layer <= src_layer` are 0.0.
 *
 * @example
 * ```ts
 * const all = await getActPatchDirectPathAllSources(model, corruptedTokens, cleanCache, corruptedCache, metric);
 * all.shape; // [nLayers, nHeads, nLayers, nHeads]
 * ```
 */
export async function getActPatchDirectPathAllSources(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  corruptedCache: ActivationCacheLike,
  metric: Metric,
  options: DirectPathAllSourcesOptions = {},
): Promise<PatchResult> {
  const started = performance.now();
  const { nLayers, nHeads } = model.config;
  const sources = Array.from({ length: nLayers * nHeads }, (_, index) => ({
    ...options,
    srcLayer: Math.floor(index / nHeads),
    srcHead: index % nHeads,
  }));
  const { values, shape } = await directPathValues(
    'getActPatchDirectPathAllSources',
    model,
    corruptedTokens,
    cleanCache,
    corruptedCache,
    metric,
    sources,
  );
  return new PatchResult({
    values,
    shape,
    axes: ['src_layer', 'src_head', 'layer', 'head'],
    ms: performance.now() - started,
  });
}

/** Values `[src_layer, src_head, layer, head]` for the given sources (others stay 0). */
async function directPathValues(
  functionName: string,
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  corruptedCache: ActivationCacheLike,
  metricInput: Metric,
  sources: readonly DirectPathOptions[],
): Promise<{ values: Float32Array; shape: number[] }> {
  const [, positions] = checkCorruptedTokens(functionName, corruptedTokens);
  const metric = toPatchingMetric(metricInput, functionName);
  const { nLayers, nHeads, nKeyValueHeads, dModel } = model.config;
  const component = sources[0]?.component ?? 'q';
  if (!['q', 'k', 'v'].includes(component)) {
    throw new InvalidArgumentError(
      `${functionName}: component must be 'q', 'k' or 'v' (the destination head's input), got ${JSON.stringify(component)}.`,
    );
  }
  const destinationHeads = component === 'q' ? nHeads : (nKeyValueHeads ?? nHeads);
  for (const { srcLayer, srcHead } of sources) {
    if (
      !Number.isInteger(srcLayer) ||
      !Number.isInteger(srcHead) ||
      srcLayer < 0 ||
      srcLayer >= nLayers ||
      srcHead < 0 ||
      srcHead >= nHeads
    ) {
      throw new InvalidArgumentError(
        `${functionName}: source head (srcLayer ${srcLayer}, srcHead ${srcHead}) is not in the model; accepted: srcLayer 0..${nLayers - 1}, srcHead 0..${nHeads - 1}.`,
      );
    }
  }
  const needed = [
    ...new Set(sources.map((source) => `blocks.${source.srcLayer}.attn.hook_z`)),
  ].flatMap((name) => [
    [cleanCache, 'cleanCache', name] as const,
    [corruptedCache, 'corruptedCache', name] as const,
  ]);
  for (let layer = 1; layer < nLayers; layer++) {
    needed.push([corruptedCache, 'corruptedCache', `blocks.${layer}.ln1.hook_scale`]);
  }
  for (const [cache, cacheName, name] of needed) {
    if (!cache.has(name)) {
      throw new InvalidArgumentError(
        `${functionName}: ${cacheName} has no "${name}"; cache the run with its attn.hook_z and ln1.hook_scale activations (e.g. model.runWithCache(tokens) with no namesFilter).`,
      );
    }
  }
  if (typeof (model as Partial<StateDictModel>).stateDict !== 'function') {
    throw new InvalidArgumentError(
      `${functionName}: the model has no stateDict(); direct path patching reads W_O and W_Q/W_K/W_V under TransformerLens's names.`,
    );
  }
  const shape = [nLayers, nHeads, nLayers, destinationHeads];
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const stateDict = (model as StateDictModel).stateDict();
  try {
    if (!sources.every((source) => source.allowUnfoldedLayerNorm)) {
      await checkFoldedLayerNorm(functionName, stateDict, nLayers);
    }
    const W = component === 'q' ? 'W_Q' : component === 'k' ? 'W_K' : 'W_V';
    for (const { srcLayer, srcHead } of sources) {
      // delta = z_clean[src] @ W_O[src] - z_corrupted[src] @ W_O[src]: [batch, pos, d_model]
      const deltaResid = tf.tidy(() => {
        const W_O = tf.gather(stateDict.get(`blocks.${srcLayer}.attn.W_O`)!, srcHead); // [d_head, d_model]
        const result = (cache: ActivationCacheLike) => {
          const z = cache.get(`blocks.${srcLayer}.attn.hook_z`); // [batch, pos, head, d_head]
          const [batch, , , dHead] = z.shape as [number, number, number, number];
          const head = tf.squeeze(
            tf.slice(z, [0, 0, srcHead, 0], [batch, positions, 1, dHead]),
            [2],
          ); // [batch, pos, d_head]
          return tf.reshape(tf.matMul(tf.reshape(head, [-1, dHead]), W_O), [
            batch,
            positions,
            dModel,
          ]); // [batch, pos, d_model]
        };
        return tf.sub(result(cleanCache), result(corruptedCache));
      });
      try {
        for (let layer = srcLayer + 1; layer < nLayers; layer++) {
          const row = tf.tidy(() =>
            destinationLayerPass(model, corruptedTokens, corruptedCache, metric, {
              deltaResid,
              W: stateDict.get(`blocks.${layer}.attn.${W}`)!,
              layer,
              component,
              functionName,
            }),
          );
          const data = await row.data();
          row.dispose();
          values.set(data, ((srcLayer * nHeads + srcHead) * nLayers + layer) * destinationHeads);
        }
      } finally {
        deltaResid.dispose();
      }
    }
  } finally {
    tf.dispose([...stateDict.values()]);
  }
  return { values, shape };
}

/**
 * One forward pass over the corrupted prompt with K = (destination heads) replicas; replica h adds
 * the linearised source contribution to head h's input at `layer`. Returns the K metric values.
 */
function destinationLayerPass(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  corruptedCache: ActivationCacheLike,
  metric: ReturnType<typeof toPatchingMetric>,
  pass: {
    deltaResid: tf.Tensor;
    W: tf.Tensor;
    layer: number;
    component: DirectPathComponent;
    functionName: string;
  },
): tf.Tensor1D {
  const { deltaResid, W, layer, component, functionName } = pass;
  const [batch, positions, dModel] = deltaResid.shape as [number, number, number];
  const [heads, , dHead] = W.shape as [number, number, number]; // [head, d_model, d_head]
  const scale = corruptedCache.get(`blocks.${layer}.ln1.hook_scale`); // [batch, pos, 1]
  const perRow = tf.reshape(tf.div(deltaResid, scale), [batch * positions, dModel]); // [batch*pos, d_model]
  const W2 = tf.reshape(tf.transpose(W, [1, 0, 2]), [dModel, heads * dHead]); // [d_model, head*d_head]
  const delta = tf.reshape(tf.matMul(perRow, W2), [1, batch, positions, heads, dHead]); // [1, batch, pos, head, d_head]
  const oneHot = tf.reshape(tf.eye(heads), [heads, 1, 1, heads, 1]); // [K, 1, 1, head, 1]
  const added = tf.mul(oneHot, delta); // [K, batch, pos, head, d_head]
  const hookName = `blocks.${layer}.attn.hook_${component}`;
  const hook = (activation: tf.Tensor) => {
    const expected = [heads * batch, positions, heads, dHead];
    if (!tf.util.arraysEqual(activation.shape, expected)) {
      throw new ShapeMismatchError(
        `${functionName}: the activation at "${hookName}" has shape [${activation.shape}]; expected [${expected}].`,
        { expected, actual: activation.shape },
      );
    }
    return tf.add(activation, tf.reshape(added, expected)); // [K*batch, pos, head, d_head]
  };
  const residName = `blocks.${layer}.hook_resid_pre`;
  const startHere = model.capabilities.startAtLayer && corruptedCache.has(residName);
  const input = startHere
    ? tf.tile(corruptedCache.get(residName), [heads, 1, 1]) // [K*batch, pos, d_model]
    : tf.tile(corruptedTokens, [heads, 1]); // [K*batch, pos]
  const selective = metric.reads !== undefined && model.capabilities.selectiveUnembed;
  const logits = model.runWithHooks(input, [[hookName, hook]], {
    ...(startHere ? { startAtLayer: layer } : {}),
    ...(selective ? { unembed: metric.reads } : {}),
  });
  return replicaMetrics(
    metric,
    selective ? logits : selectLogits(logits, metric.reads),
    heads,
    (replica) => `in ${functionName} at ${hookName} (destination head ${replica})`,
  );
}

/** TransformerLens's `_check_fold_ln`, as an error: ln1 weights must be folded (absent) or ~1. */
async function checkFoldedLayerNorm(
  functionName: string,
  stateDict: Map<string, tf.Tensor>,
  nLayers: number,
): Promise<void> {
  for (let layer = 0; layer < nLayers; layer++) {
    const weight = stateDict.get(`blocks.${layer}.ln1.w`);
    if (weight === undefined) continue;
    const data = await weight.data();
    if (data.some((value) => Math.abs(value - 1) > 1e-3)) {
      throw new InvalidArgumentError(
        `${functionName}: blocks.${layer}.ln1.w is not folded into the weights, so the linearised LayerNorm ignores it; load the model with weight processing (processWeights: true, TransformerLens's fold_ln) or pass { allowUnfoldedLayerNorm: true } to accept the approximation.`,
      );
    }
  }
}
