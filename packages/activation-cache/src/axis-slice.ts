import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

/**
 * A slice of one axis (TransformerLens's `Slice`): an integer picks one index and **drops** the axis
 * (negative counts from the end, so `-1` is the last position); an array of integers keeps the axis
 * with those indices, in order.
 *
 * @example
 * ```ts
 * const lastPosition: AxisSlice = -1;       // [batch, pos, d] -> [batch, d]
 * const firstTwo: AxisSlice = [0, 1];       // [batch, pos, d] -> [batch, 2, d]
 * ```
 */
export type AxisSlice = number | readonly number[];

/** `tensor` sliced on `axis` (internal; the caller owns the result, or runs it inside a tidy). */
export function sliceAxis(
  tensor: tf.Tensor,
  axis: number,
  slice: AxisSlice | undefined,
  where: string,
): tf.Tensor {
  if (slice === undefined) return tensor;
  const size = tensor.shape[axis]!;
  const resolve = (index: number) => {
    if (!Number.isInteger(index) || index < -size || index >= size) {
      throw new InvalidArgumentError(
        `${where}: index ${JSON.stringify(index)} is outside an axis of size ${size}; accepted: integers -${size}..${size - 1}.`,
      );
    }
    return index < 0 ? index + size : index;
  };
  if (typeof slice === 'number') {
    const index = resolve(slice);
    const begin = tensor.shape.map((_, a) => (a === axis ? index : 0));
    const extent = tensor.shape.map((length, a) => (a === axis ? 1 : length));
    return tf.squeeze(tf.slice(tensor, begin, extent), [axis]);
  }
  if (!Array.isArray(slice) || slice.length === 0) {
    throw new InvalidArgumentError(
      `${where}: a slice must be an integer or a non-empty array of integers, got ${JSON.stringify(slice)}.`,
    );
  }
  return tf.gather(tensor, tf.tensor1d(slice.map(resolve), 'int32'), axis);
}
