import {
  type ActivationCacheLike,
  actName,
  type HookedModel,
  InvalidArgumentError,
} from '@patchlens/tensor-hooks';
import type * as tf from '@tensorflow/tfjs-core';
import type { ColumnTable } from 'arquero';
import { axisSizes, checkAxisNames, type IndexAxisName } from './index-axes.js';
import { makeIndexTable, readIndexTable } from './index-table.js';
import type { PatchJob, SweepLabel } from './patch-job.js';
import { PatchResult } from './patch-result.js';
import type { PatchSetter } from './patch-setters.js';
import type { Metric } from './patching-metric.js';
import { checkCorruptedTokens, runPatchJobs, type SweepOptions } from './run-patch-jobs.js';

/**
 * Options of the specialised sweeps (`getActPatchResidPre`, …): the sweep options plus an optional
 * explicit index table.
 *
 * @example
 * ```ts
 * const options: ActivationPatchOptions = { indexTable: aq.table({ layer: [0, 3], pos: [4, 4] }) };
 * const flat = await getActPatchResidPre(model, corruptedTokens, cleanCache, metric, options); // shape [2]
 * ```
 */
export interface ActivationPatchOptions extends SweepOptions {
  /**
   * Patch only these rows (an arquero table whose columns are index axis names, `layer` first);
   * the result is then flat, one value per row in row order.
   */
  readonly indexTable?: ColumnTable;
}

/**
 * Options of {@link genericActivationPatch}.
 *
 * @example
 * ```ts
 * const options: GenericActivationPatchOptions = {
 *   patchSetter: layerPosPatchSetter, activationName: 'resid_mid', indexAxisNames: ['layer', 'pos'] };
 * ```
 */
export interface GenericActivationPatchOptions extends ActivationPatchOptions {
  /** How a patch writes: a declarative setter such as {@link layerPosPatchSetter} or a function. */
  readonly patchSetter: PatchSetter;
  /** Short activation kind (`resid_pre`, `z`, `pattern`, …); the layer comes from the index. */
  readonly activationName: string;
  /** Axes to sweep over (cartesian product, last axis fastest); `layer` first. Not with `indexTable`. */
  readonly indexAxisNames?: readonly IndexAxisName[];
  /** Also return the index table the sweep ran over (default false). */
  readonly returnIndexTable?: boolean;
}

/**
 * A result with the index table it was computed over (`returnIndexTable: true`).
 *
 * @example
 * ```ts
 * const { result, indexTable } = await genericActivationPatch(model, tokens, cache, metric, { ...options, returnIndexTable: true });
 * ```
 */
export interface PatchResultWithIndexTable {
  readonly result: PatchResult;
  readonly indexTable: ColumnTable;
}

function cartesianRows(sizes: readonly number[]): number[][] {
  const count = sizes.reduce((product, size) => product * size, 1);
  const rows: number[][] = new Array(count);
  const current = new Array<number>(sizes.length).fill(0);
  for (let row = 0; row < count; row++) {
    rows[row] = [...current];
    for (let axis = sizes.length - 1; axis >= 0; axis--) {
      current[axis] = current[axis]! + 1;
      if (current[axis]! < sizes[axis]!) break;
      current[axis] = 0;
    }
  }
  return rows;
}

/** The activation's hook name at a layer, with a clear error for names that are not short kinds. */
export function hookNameOf(functionName: string, activationName: string, layer: number) {
  if (typeof activationName !== 'string' || activationName.includes('.')) {
    throw new InvalidArgumentError(
      `${functionName}: activationName must be a short activation kind such as "resid_pre", "z" or "pattern" (the layer comes from the index), got ${JSON.stringify(activationName)}.`,
    );
  }
  return actName(activationName, layer);
}

/**
 * Internal form of {@link genericActivationPatch} with the caller's name for messages.
 */
export async function activationPatch(
  functionName: string,
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metric: Metric,
  options: GenericActivationPatchOptions,
): Promise<PatchResult | PatchResultWithIndexTable> {
  const started = performance.now();
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `${functionName}: options must be an object { patchSetter, activationName, indexAxisNames | indexTable }, got ${typeof options}.`,
    );
  }
  const { patchSetter, activationName, indexAxisNames, indexTable } = options;
  const [, positions] = checkCorruptedTokens(functionName, corruptedTokens);
  hookNameOf(functionName, activationName, 0);
  const sizes = axisSizes(model.config, positions, activationName);
  let axisNames: IndexAxisName[];
  let rows: number[][];
  let shape: number[];
  let flat = false;
  if (indexTable !== undefined) {
    if (indexAxisNames !== undefined) {
      throw new InvalidArgumentError(
        `${functionName}: give either indexAxisNames or indexTable, not both (the table's columns name its axes).`,
      );
    }
    ({ axisNames, rows } = readIndexTable(functionName, indexTable, sizes));
    shape = [rows.length];
    flat = true;
  } else {
    if (indexAxisNames === undefined) {
      throw new InvalidArgumentError(
        `${functionName}: give indexAxisNames (e.g. ['layer', 'pos']) or an indexTable.`,
      );
    }
    axisNames = checkAxisNames(functionName, indexAxisNames);
    shape = axisNames.map((name) => sizes[name]);
    rows = cartesianRows(shape);
  }
  const sweep: SweepLabel = { activationName, axisNames };
  const hookNames = new Map<number, ReturnType<typeof actName>>();
  const jobs: PatchJob[] = rows.map((index, slot) => {
    const layer = index[0]!;
    let hookName = hookNames.get(layer);
    if (hookName === undefined) {
      hookName = hookNameOf(functionName, activationName, layer);
      hookNames.set(layer, hookName);
    }
    return { hookName, index, setter: patchSetter, slot, sweep };
  });
  const values = new Float32Array(rows.length);
  const shard = await runPatchJobs(
    functionName,
    model,
    corruptedTokens,
    cleanCache,
    metric,
    jobs,
    values,
    options,
  );
  const result = new PatchResult({
    values,
    shape,
    axes: flat ? ['row'] : axisNames,
    ...(flat ? { indexTable: indexTable! } : {}),
    ...(shard ? { shard } : {}),
    ms: performance.now() - started,
  });
  if (!options.returnIndexTable) return result;
  return {
    result,
    indexTable: indexTable ?? makeIndexTable(shape, axisNames),
  };
}

/**
 * Activation patching over any activation (TransformerLens `generic_activation_patch`): for every
 * index, run the corrupted tokens with the clean activation patched in at that index and record the
 * metric.
 *
 * Without `indexTable`, the indices are the cartesian product of `indexAxisNames` (last axis
 * fastest) and the result has one axis per name; with `indexTable`, the result is flat (axis `row`),
 * one value per row in row order. Axis sizes: `layer` = nLayers; `pos`/`dest_pos`/`src_pos` = the
 * corrupted length; `head`/`head_index` = nHeads (nKeyValueHeads for `k`/`v` when set).
 *
 * @param model - any {@link HookedModel}.
 * @param corruptedTokens - int32 `[batch, pos]`.
 * @param cleanCache - the clean run's activations (same batch and length as the corrupted tokens).
 * @param metric - a {@link PatchingMetric} (e.g. {@link logitDiff}) or a function of the logits.
 * @param options - `patchSetter`, `activationName`, `indexAxisNames` or `indexTable`,
 *   `returnIndexTable` (default false), plus {@link SweepOptions} (`engine` default `fast`).
 * @returns a {@link PatchResult}, or `{ result, indexTable }` with `returnIndexTable: true`.
 * @throws InvalidArgumentError, ShapeMismatchError, UnknownHookError for bad input; MetricError when
 *   the metric returns a non-scalar or a non-finite value (naming the patch index); AbortError when cancelled.
 * @example
 * ```ts
 * const result = await genericActivationPatch(model, corruptedTokens, cleanCache, logitDiff({ answers: 5335, wrong: 1757 }), {
 *   patchSetter: layerPosPatchSetter,
 *   activationName: 'resid_pre',
 *   indexAxisNames: ['layer', 'pos'],
 * }); // result.shape = [nLayers, pos]
 * ```
 */
export function genericActivationPatch(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metric: Metric,
  options: GenericActivationPatchOptions & { readonly returnIndexTable: true },
): Promise<PatchResultWithIndexTable>;
export function genericActivationPatch(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metric: Metric,
  options: GenericActivationPatchOptions,
): Promise<PatchResult>;
export function genericActivationPatch(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metric: Metric,
  options: GenericActivationPatchOptions,
): Promise<PatchResult | PatchResultWithIndexTable> {
  return activationPatch(
    'genericActivationPatch',
    model,
    corruptedTokens,
    cleanCache,
    metric,
    options,
  );
}
