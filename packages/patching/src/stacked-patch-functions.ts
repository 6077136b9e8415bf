import type { ActivationCacheLike, HookedModel } from '@patchlens/tensor-hooks';
import type * as tf from '@tensorflow/tfjs-core';
import { hookNameOf } from './generic-activation-patch.js';
import { axisSizes, type IndexAxisName } from './index-axes.js';
import type { PatchJob } from './patch-job.js';
import { PatchResult } from './patch-result.js';
import type { Metric } from './patching-metric.js';
import { checkCorruptedTokens, runPatchJobs, type SweepOptions } from './run-patch-jobs.js';
import { STACKED_SWEEPS, type StackedSweepName, stackedSweepSpec, sweepSpec } from './sweeps.js';

/**
 * The signature of the `*_every` sweeps: several sweeps stacked on a leading `activation` axis.
 *
 * @example
 * ```ts
 * const sweep: StackedPatchFunction = getActPatchBlockEvery;
 * const result = await sweep(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export type StackedPatchFunction = (
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  metric: Metric,
  options?: SweepOptions,
) => Promise<PatchResult>;

/** The common axis an index axis lands on in a stacked result. */
function commonAxisOf(name: IndexAxisName): string {
  if (name === 'head_index') return 'head';
  if (name === 'dest_pos') return 'pos';
  return name;
}

/** The stacked sweep of one {@link STACKED_SWEEPS} entry. */
function stacked(name: StackedSweepName): StackedPatchFunction {
  const spec = stackedSweepSpec(name);
  const { functionName } = spec;
  const commonAxes = spec.axes;
  const parts = spec.parts.map(({ label, sweep }) => {
    const { activationName, setter, axes } = sweepSpec(sweep);
    return { label, activationName, setter, axisNames: axes };
  });
  return async (model, corruptedTokens, cleanCache, metric, options = {}) => {
    const started = performance.now();
    const [, positions] = checkCorruptedTokens(functionName, corruptedTokens);
    const commonSizes = axisSizes(model.config, positions, 'z');
    const shape = commonAxes.map((axis) => commonSizes[axis]);
    const strides = shape.map((_, axis) =>
      shape.slice(axis + 1).reduce((product, size) => product * size, 1),
    );
    const partSize = shape.reduce((product, size) => product * size, 1);
    const jobs: PatchJob[] = [];
    parts.forEach((part, partIndex) => {
      const sizes = axisSizes(model.config, positions, part.activationName);
      const partShape = part.axisNames.map((name) => sizes[name]);
      const commonPosition = part.axisNames.map((name) =>
        commonAxes.indexOf(commonAxisOf(name) as 'layer' | 'pos' | 'head'),
      );
      const sweep = { activationName: part.activationName, axisNames: part.axisNames };
      const count = partShape.reduce((product, size) => product * size, 1);
      const index = new Array<number>(partShape.length).fill(0);
      for (let row = 0; row < count; row++) {
        let slot = partIndex * partSize;
        index.forEach((value, entry) => {
          slot += value * strides[commonPosition[entry]!]!;
        });
        jobs.push({
          hookName: hookNameOf(functionName, part.activationName, index[0]!),
          index: [...index],
          setter: part.setter,
          slot,
          sweep,
        });
        for (let entry = index.length - 1; entry >= 0; entry--) {
          index[entry] = index[entry]! + 1;
          if (index[entry]! < partShape[entry]!) break;
          index[entry] = 0;
        }
      }
    });
    // k/v results narrower than nHeads keep zeros in the padding (TransformerLens pads with zeros).
    const values = new Float32Array(parts.length * partSize);
    await runPatchJobs(
      functionName,
      model,
      corruptedTokens,
      cleanCache,
      metric,
      jobs,
      values,
      options,
    );
    return new PatchResult({
      values,
      shape: [parts.length, ...shape],
      axes: ['activation', ...commonAxes],
      labels: { activation: parts.map((part) => part.label) },
      ms: performance.now() - started,
    });
  };
}

/**
 * Every stacked sweep by its {@link STACKED_SWEEPS} name, made from the table.
 *
 * @example
 * ```ts
 * const result = await STACKED_SWEEP_FUNCTIONS.block_every(model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const STACKED_SWEEP_FUNCTIONS: Readonly<Record<StackedSweepName, StackedPatchFunction>> =
  Object.freeze(
    Object.fromEntries(STACKED_SWEEPS.map(({ name }) => [name, stacked(name)])) as Record<
      StackedSweepName,
      StackedPatchFunction
    >,
  );

/**
 * Output, query, key, value and pattern patching of every head across all positions, stacked:
 * `[5, nLayers, nHeads]`, labels `['output', 'query', 'key', 'value', 'pattern']`. Key/value results
 * of a model with fewer key/value heads are zero-padded on the head axis (as in TransformerLens).
 *
 * The fast engine runs all five sweeps as one plan (patches at the same layer share batches).
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadAllPosEvery(model, corruptedTokens, cleanCache, metric);
 * result.get(0, layer, head); // output patching of that head
 * ```
 */
export const getActPatchAttnHeadAllPosEvery: StackedPatchFunction =
  STACKED_SWEEP_FUNCTIONS.attn_head_all_pos_every;

/**
 * Output, query, key, value and pattern patching of every head by position, stacked:
 * `[5, nLayers, pos, nHeads]`. The pattern sweep's `[nLayers, nHeads, dest_pos]` is transposed to
 * `[nLayers, pos, nHeads]`; key/value results are zero-padded to nHeads (as in TransformerLens).
 *
 * @example
 * ```ts
 * const result = await getActPatchAttnHeadByPosEvery(model, corruptedTokens, cleanCache, metric);
 * result.get(4, layer, dest, head); // pattern patching of that head's row `dest`
 * ```
 */
export const getActPatchAttnHeadByPosEvery: StackedPatchFunction =
  STACKED_SWEEP_FUNCTIONS.attn_head_by_pos_every;

/**
 * resid_pre, attn_out and mlp_out patching per layer and position, stacked: `[3, nLayers, pos]`,
 * labels `['resid_pre', 'attn_out', 'mlp_out']`.
 *
 * @example
 * ```ts
 * const result = await getActPatchBlockEvery(model, corruptedTokens, cleanCache, metric);
 * result.get(2, layer, pos); // mlp_out
 * ```
 */
export const getActPatchBlockEvery: StackedPatchFunction = STACKED_SWEEP_FUNCTIONS.block_every;
