import * as tf from '@tensorflow/tfjs-core';

/**
 * `tf.gather(source, indices, axis)` whose gradient is a `scatterND` (summing repeated indices)
 * instead of tfjs's `UnsortedSegmentSum`, which the wasm backend lacks: embedding lookups and
 * selective unembedding stay differentiable on every backend.
 *
 * Internal: `indices` (int32) must be 1-D when `axis` > 0; with `axis` 0 any rank works.
 */
export function differentiableGather(source: tf.Tensor, indices: tf.Tensor, axis = 0): tf.Tensor {
  const gather = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = inputs[0] as tf.Tensor;
    const save = inputs[1] as tf.GradSaveFunc;
    // The indices may be freed by the caller's tf.tidy before the backward pass: save a kept copy.
    save([indices]);
    const value = tf.gather(input, indices, axis);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const savedIndices = saved[0]!;
      const count = savedIndices.size;
      const flatIndices = tf.reshape(savedIndices, [count, 1]); // [n, 1]
      if (axis === 0) {
        const updates = tf.reshape(dy, [count, ...input.shape.slice(1)]); // [n, ...rest]
        return tf.scatterND(flatIndices, updates, input.shape);
      }
      // Bring the gathered axis to the front, scatter, and put it back.
      const order = [
        axis,
        ...input.shape.map((_, index) => index).filter((index) => index !== axis),
      ];
      const inverse = order.map((_, index) => order.indexOf(index));
      const moved = tf.transpose(dy, order); // [n, ...other axes]
      const movedShape = order.map((index) => input.shape[index]!);
      return tf.transpose(tf.scatterND(flatIndices, moved, movedShape), inverse);
    };
    return { value, gradFunc };
  });
  return gather(source);
}
