import {
  type ActivationCacheLike,
  type AnalysisWeights,
  type HookedModel,
  InvalidArgumentError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type AxisSlice, sliceAxis } from './axis-slice.js';

/**
 * What the residual-stream analysis needs from a cache (an {@link ActivationCache} of a model run).
 */
export interface AnalysisCache extends ActivationCacheLike {
  readonly nLayers: number;
  readonly hasBatchDim: boolean;
  readonly model: HookedModel | undefined;
}

/**
 * Options of `ActivationCache.applyLnToStack`.
 *
 * @example
 * ```ts
 * cache.applyLnToStack(stack, -1, { posSlice: -1 });
 * ```
 */
export interface ApplyLnOptions {
  /** The position slice already applied to the stack; applied here to the cached scale. */
  readonly posSlice?: AxisSlice;
  /** A batch slice applied to the stack (axis 1) and the cached scale. */
  readonly batchSlice?: AxisSlice;
  /** Whether the stack has a batch axis after the component axis (default true). */
  readonly hasBatchDim?: boolean;
  /** The input of the MLP (ln2) instead of attention (ln1) when `layer` is a block. */
  readonly mlpInput?: boolean;
  /**
   * With the unembedding as target: run the final LayerNorm on each component with its own mean
   * and scale (the logit lens) instead of dividing by the cached scale. Default false.
   */
  readonly recomputeLn?: boolean;
}

/** The layer a TransformerLens-style `layer` argument means: undefined or -1 = nLayers (the unembedding). */
export function resolveTargetLayer(cache: AnalysisCache, layer: number | undefined, where: string) {
  if (layer === undefined || layer === -1) return cache.nLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer > cache.nLayers) {
    throw new InvalidArgumentError(
      `${where}: layer ${JSON.stringify(layer)} is out of range; accepted: 0..${cache.nLayers} (${cache.nLayers} = the unembedding), -1 or undefined (the same).`,
    );
  }
  return layer;
}

/** The model's analysis weights, or an error saying how to get a cache that has them. */
export function analysisWeightsOf(cache: AnalysisCache, where: string): AnalysisWeights {
  const weights = cache.model?.analysisWeights;
  if (!weights) {
    throw new InvalidArgumentError(
      `${where}: this cache has no model with analysis weights (W_U, ln_final, W_O); use the cache that model.runWithCache returns (e.g. a GPT2), not one built by hand.`,
    );
  }
  return weights;
}

/**
 * TransformerLens `apply_ln_to_stack`: treats each component of a residual stack
 * `[components, batch, (pos,) dModel]` as input to a LayerNorm. Default: centre each component and
 * divide by the **cached** scale of the full residual stream (`ln_final.hook_scale`, or
 * `blocks.{layer}.ln1|ln2.hook_scale`), so the components still sum to the normalised stream. With
 * `recomputeLn` and the unembedding as target: the final LayerNorm (weight and bias included) with
 * each component's own statistics. The caller owns the result.
 */
export function applyLnToStack(
  cache: AnalysisCache,
  stack: tf.Tensor,
  layer: number | undefined,
  options: ApplyLnOptions = {},
): tf.Tensor {
  const where = 'ActivationCache.applyLnToStack';
  const target = resolveTargetLayer(cache, layer, where);
  const hasBatchDim = options.hasBatchDim ?? true;
  return tf.tidy(() => {
    let components = stack;
    if (hasBatchDim && options.batchSlice !== undefined) {
      components = sliceAxis(components, 1, options.batchSlice, `${where} (batchSlice)`);
    }
    const centred = tf.sub(components, tf.mean(components, -1, true)); // [components, ..., dModel]
    if (options.recomputeLn && target === cache.nLayers) {
      const { eps, lnFinal } = analysisWeightsOf(cache, where);
      const variance = tf.mean(tf.square(centred), -1, true); // [components, ..., 1]
      const normalized = tf.div(centred, tf.sqrt(tf.add(variance, eps)));
      return lnFinal ? tf.add(tf.mul(normalized, lnFinal.w), lnFinal.b) : normalized;
    }
    const scaleName =
      target === cache.nLayers
        ? 'ln_final.hook_scale'
        : `blocks.${target}.ln${options.mlpInput ? 2 : 1}.hook_scale`;
    let scale = cache.get(scaleName); // [batch, pos, 1] (or [pos, 1])
    scale = sliceAxis(scale, scale.rank - 2, options.posSlice, `${where} (posSlice)`);
    if (options.batchSlice !== undefined && cache.hasBatchDim) {
      scale = sliceAxis(scale, 0, options.batchSlice, `${where} (batchSlice)`);
    }
    return tf.div(centred, scale);
  });
}
