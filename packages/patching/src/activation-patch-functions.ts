import type { ActivationCacheLike, HookedModel } from '@patchlens/tensor-hooks';
import type * as tf from '@tensorflow/tfjs-core';
import { type ActivationPatchOptions, activationPatch } from './generic-activation-patch.js';
import type { PatchResult } from './patch-result.js';
import type { Metric } from './patching-metric.js';
import { SWEEPS, type SweepName, sweepSpec } from './sweeps.js';

/**
 * The signature every specialised sweep shares (TransformerLens's `get_act_patch_*`).
 *
 * @example
 * ```ts
 * const sweep: ActivationPatchFunction = getActPatchResidPre;
 * const result = await sweep(model, corruptedTokens, cleanCache, metric, { engine: 'reference' });
 * ```
 */
export type ActivationPatchFunction = (
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metric: Metric,
  options?: ActivationPatchOptions,
) => Promise<PatchResult>;

/** The exact sweep of one {@link SWEEPS} entry. */
function specialised(name: SweepName): ActivationPatchFunction {
  const { functionName, activationName, setter, axes } = sweepSpec(name);
  return async (model, corruptedTokens, cleanCache, metric, options = {}) =>
    (await activationPatch(functionName, model, corruptedTokens, cleanCache, metric, {
      ...options,
      patchSetter: setter,
      activationName,
      ...(options.indexTable === undefined ? { indexAxisNames: axes } : {}),
      returnIndexTable: false,
    })) as PatchResult;
}

/**
 * Every exact sweep by its {@link SWEEPS} name, made from the table (the named exports below pick from it).
 *
 * @example
 * ```ts
 * const result = await SWEEP_FUNCTIONS.resid_pre(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const SWEEP_FUNCTIONS: Readonly<Record<SweepName, ActivationPatchFunction>> = Object.freeze(
  Object.fromEntries(SWEEPS.map(({ name }) => [name, specialised(name)])) as Record<
    SweepName,
    ActivationPatchFunction
  >,
);

/**
 * Patch the residual stream entering each block at each position. Result `[nLayers, pos]`.
 *
 * Every specialised sweep takes the same arguments:
 * @param model - any {@link HookedModel}.
 * @param corruptedTokens - int32 `[batch, pos]`.
 * @param cleanCache - the clean run's activations (same batch size and length).
 * @param metric - e.g. {@link logitDiff}, or a function of the logits.
 * @param options - {@link ActivationPatchOptions}: `engine` (default `fast`), `batchSize`,
 *   `memoryBudgetBytes`, `onProgress`, `signal`, `indexTable` (then the result is flat).
 * @example
 * ```ts
 * const result = await getActPatchResidPre(model, corruptedTokens, cleanCache, logitDiff({ answers: 5335, wrong: 1757 }));
 * ```
 */
export const getActPatchResidPre: ActivationPatchFunction = SWEEP_FUNCTIONS.resid_pre;

/**
 * Patch the residual stream between attention and MLP (`resid_mid`) per layer and position. Result `[nLayers, pos]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchResidMid(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchResidMid: ActivationPatchFunction = SWEEP_FUNCTIONS.resid_mid;

/**
 * Patch each attention layer's output per position. Result `[nLayers, pos]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnOut(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnOut: ActivationPatchFunction = SWEEP_FUNCTIONS.attn_out;

/**
 * Patch each MLP layer's output per position. Result `[nLayers, pos]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchMlpOut(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchMlpOut: ActivationPatchFunction = SWEEP_FUNCTIONS.mlp_out;

/**
 * Patch each head's output (`z`) per position. Result `[nLayers, pos, nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadOutByPos(model, corruptedTokens, cleanCache, metric);
 * result.get(layer, pos, head);
 * ```
 */
export const getActPatchAttnHeadOutByPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_out_by_pos;

/**
 * Patch each head's queries per position. Result `[nLayers, pos, nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadQByPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadQByPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_q_by_pos;

/**
 * Patch each key head's keys per position. Result `[nLayers, pos, nKeyValueHeads ?? nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadKByPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadKByPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_k_by_pos;

/**
 * Patch each value head's values per position. Result `[nLayers, pos, nKeyValueHeads ?? nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadVByPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadVByPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_v_by_pos;

/**
 * Patch each head's attention pattern row per destination position. Result `[nLayers, nHeads, dest_pos]`
 * (TransformerLens's axis order: head before position).
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadPatternByPos(model, corruptedTokens, cleanCache, metric);
 * result.axes; // ['layer', 'head_index', 'dest_pos']
 * ```
 */
export const getActPatchAttnHeadPatternByPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_pattern_by_pos;

/**
 * Patch each single attention pattern entry. Result `[nLayers, nHeads, dest_pos, src_pos]`.
 *
 * Limitations: the patched row no longer sums to 1, so results depend on how value biases were
 * processed (`fold_value_biases`), exactly as in TransformerLens.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadPatternDestSrcPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadPatternDestSrcPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_pattern_dest_src_pos;

/**
 * Patch each head's output (`z`) at every position at once. Result `[nLayers, nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadOutAllPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadOutAllPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_out_all_pos;

/**
 * Patch each head's queries at every position at once. Result `[nLayers, nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadQAllPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadQAllPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_q_all_pos;

/**
 * Patch each key head at every position at once. Result `[nLayers, nKeyValueHeads ?? nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadKAllPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadKAllPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_k_all_pos;

/**
 * Patch each value head at every position at once. Result `[nLayers, nKeyValueHeads ?? nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadVAllPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadVAllPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_v_all_pos;

/**
 * Patch each head's whole attention pattern. Result `[nLayers, nHeads]`.
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadPatternAllPos(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const getActPatchAttnHeadPatternAllPos: ActivationPatchFunction =
  SWEEP_FUNCTIONS.attn_head_pattern_all_pos;
