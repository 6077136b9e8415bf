import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { describeJob, type PatchJob } from './patch-job.js';

/**
 * A patch described as data: copy the clean activation into the corrupted one where the listed
 * activation axes equal the index's values, on every batch row (the fast engine batches these).
 *
 * Index entry 0 is the layer (it picks the hook point); index entry `i + 1` fixes activation axis
 * `activationAxes[i]` (axis 0 of an activation is the batch).
 *
 * @example
 * ```ts
 * // TransformerLens `layer_pos_head_vector_patch_setter`: index [layer, pos, head] -> activation[:, pos, head]
 * const byPosAndHead: CoordinatePatchSetter = { kind: 'coordinates', name: 'byPosAndHead', activationAxes: [1, 2] };
 * ```
 */
export interface CoordinatePatchSetter {
  readonly kind: 'coordinates';
  /** Shown in error messages. */
  readonly name: string;
  /** The activation axis each index entry after the layer fixes. */
  readonly activationAxes: readonly number[];
}

/**
 * A patch as a function (TransformerLens `patch_setter`): gets the corrupted activation `[batch, ...]`,
 * the index (layer first) and the clean activation of the same shape; returns the patched activation.
 * It runs inside `tf.tidy`. Works with both engines (the fast engine calls it once per patch on that
 * patch's own batch rows).
 *
 * @example
 * ```ts
 * // patch every position at once: the whole clean activation replaces the corrupted one
 * const everyPosition: PatchSetterFunction = (_corrupted, _index, clean) => tf.clone(clean);
 * ```
 */
export type PatchSetterFunction = (
  corruptedActivation: tf.Tensor,
  index: readonly number[],
  cleanActivation: tf.Tensor,
) => tf.Tensor;

/**
 * What `genericActivationPatch` accepts as `patchSetter`: a declarative {@link CoordinatePatchSetter}
 * (patched with one masked `where` per batch) or a {@link PatchSetterFunction} (called per patch).
 *
 * @example
 * ```ts
 * const setter: PatchSetter = layerPosPatchSetter;
 * ```
 */
export type PatchSetter = CoordinatePatchSetter | PatchSetterFunction;

function coordinates(name: string, activationAxes: readonly number[]): CoordinatePatchSetter {
  return Object.freeze({
    kind: 'coordinates',
    name,
    activationAxes: Object.freeze([...activationAxes]),
  });
}

/**
 * Index `[layer, pos]` -> `activation[:, pos, ...]`, for `[batch, pos, ...]` activations (resid, attn_out, mlp_out).
 *
 * @example
 * ```ts
 * await genericActivationPatch(model, tokens, cache, metric, {
 *   patchSetter: layerPosPatchSetter, activationName: 'resid_pre', indexAxisNames: ['layer', 'pos'] });
 * ```
 */
export const layerPosPatchSetter: CoordinatePatchSetter = coordinates('layerPosPatchSetter', [1]);

/**
 * Index `[layer, pos, head]` -> `activation[:, pos, head]`, for `[batch, pos, head, d_head]` activations (q, k, v, z).
 *
 * @example
 * ```ts
 * const setter = layerPosHeadVectorPatchSetter; // activationAxes [1, 2]
 * ```
 */
export const layerPosHeadVectorPatchSetter: CoordinatePatchSetter = coordinates(
  'layerPosHeadVectorPatchSetter',
  [1, 2],
);

/**
 * Index `[layer, head]` -> `activation[:, :, head]`, for `[batch, pos, head, d_head]` activations (all positions).
 *
 * @example
 * ```ts
 * const setter = layerHeadVectorPatchSetter; // activationAxes [2]
 * ```
 */
export const layerHeadVectorPatchSetter: CoordinatePatchSetter = coordinates(
  'layerHeadVectorPatchSetter',
  [2],
);

/**
 * Index `[layer, head]` -> `pattern[:, head, :, :]`, for `[batch, head, dest, src]` patterns.
 *
 * @example
 * ```ts
 * const setter = layerHeadPatternPatchSetter; // activationAxes [1]
 * ```
 */
export const layerHeadPatternPatchSetter: CoordinatePatchSetter = coordinates(
  'layerHeadPatternPatchSetter',
  [1],
);

/**
 * Index `[layer, head, dest]` -> `pattern[:, head, dest, :]`.
 *
 * @example
 * ```ts
 * const setter = layerHeadPosPatternPatchSetter; // activationAxes [1, 2]
 * ```
 */
export const layerHeadPosPatternPatchSetter: CoordinatePatchSetter = coordinates(
  'layerHeadPosPatternPatchSetter',
  [1, 2],
);

/**
 * Index `[layer, head, dest, src]` -> `pattern[:, head, dest, src]`.
 *
 * @example
 * ```ts
 * const setter = layerHeadDestSrcPosPatternPatchSetter; // activationAxes [1, 2, 3]
 * ```
 */
export const layerHeadDestSrcPosPatternPatchSetter: CoordinatePatchSetter = coordinates(
  'layerHeadDestSrcPosPatternPatchSetter',
  [1, 2, 3],
);

/** True for a declarative setter. */
export function isCoordinatePatchSetter(setter: unknown): setter is CoordinatePatchSetter {
  return (
    typeof setter === 'object' &&
    setter !== null &&
    (setter as Partial<CoordinatePatchSetter>).kind === 'coordinates' &&
    Array.isArray((setter as Partial<CoordinatePatchSetter>).activationAxes)
  );
}

/**
 * A bool mask `[replicas, 1, size]` over an activation of shape `[batch, ...rest]` flattened to
 * `[batch, size]` (size = the product of `rest`): entry `r` is true where replica `r`'s patch
 * writes. `indices[r]` is replica r's index (layer first), or null when replica r is not patched
 * here. Flat (rank 3) because the GPU backends' `tf.where` stops at rank 4.
 */
export function coordinateMask(
  setter: CoordinatePatchSetter,
  activationShape: readonly number[],
  indices: readonly (readonly number[] | null)[],
): tf.Tensor3D {
  const rest = activationShape.slice(1);
  const strides = new Array<number>(rest.length).fill(1);
  for (let axis = rest.length - 2; axis >= 0; axis--)
    strides[axis] = strides[axis + 1]! * rest[axis + 1]!;
  const size = rest.reduce((product, extent) => product * extent, 1);
  // Offsets of every combination of the free (unpatched) axes: the entries one patch covers.
  let freeOffsets = [0];
  rest.forEach((extent, offset) => {
    if (setter.activationAxes.includes(offset + 1)) return;
    freeOffsets = freeOffsets.flatMap((base) =>
      Array.from({ length: extent }, (_, coordinate) => base + coordinate * strides[offset]!),
    );
  });
  const values = new Uint8Array(indices.length * size);
  indices.forEach((index, replica) => {
    if (index === null) return;
    let fixed = replica * size;
    setter.activationAxes.forEach((axis, entry) => {
      fixed += index[entry + 1]! * strides[axis - 1]!;
    });
    for (const free of freeOffsets) values[fixed + free] = 1;
  });
  return tf.tensor3d(values, [indices.length, 1, size], 'bool'); // [replicas, 1, size]
}

/**
 * Runs a job's patch-setter function on one activation `[batch, ...]` (the fast engine's per-patch
 * path) and checks that it returned a tensor.
 *
 * @throws InvalidArgumentError naming the patch when the function returns something else.
 */
export function applyPatch(
  job: PatchJob,
  corrupted: tf.Tensor,
  clean: tf.Tensor,
  functionName: string,
): tf.Tensor {
  const patched = (job.setter as PatchSetterFunction)(corrupted, job.index, clean);
  if (!(patched instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${functionName}: patchSetter returned ${typeof patched} ${describeJob(job)}; a patch setter returns the patched activation (a tf.Tensor of shape [${corrupted.shape}]).`,
    );
  }
  return patched;
}
