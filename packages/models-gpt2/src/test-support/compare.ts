import * as tf from '@tensorflow/tfjs-core';
import type { PlainTensor } from './reference-gpt2.js';

/**
 * The largest error of `actual` against `expected`, measured as |a - e| / max(1, |e|) (absolute
 * for values up to 1, relative above), with -Infinity entries required to match exactly.
 */
export function maxScaledError(actual: tf.Tensor | PlainTensor, expected: PlainTensor): number {
  const shape = actual instanceof tf.Tensor ? actual.shape : actual.shape;
  if (shape.join(',') !== expected.shape.join(',')) {
    throw new Error(`shape [${shape}] differs from expected [${expected.shape}]`);
  }
  const values = actual instanceof tf.Tensor ? (actual.dataSync() as Float32Array) : actual.data;
  let worst = 0;
  for (let i = 0; i < values.length; i++) {
    const a = values[i]!;
    const e = expected.data[i]!;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) return Number.POSITIVE_INFINITY;
      continue;
    }
    worst = Math.max(worst, Math.abs(a - e) / Math.max(1, Math.abs(e)));
  }
  return worst;
}

/** A tensor's values as a plain tensor. */
export function toPlain(tensor: tf.Tensor): PlainTensor {
  return { shape: tensor.shape, data: Float32Array.from(tensor.dataSync()) };
}

/** `x - mean(x)` over the last axis. */
export function centerLastAxis(tensor: PlainTensor): PlainTensor {
  const width = tensor.shape[tensor.shape.length - 1]!;
  const data = new Float32Array(tensor.data.length);
  for (let start = 0; start < data.length; start += width) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += tensor.data[start + i]!;
    mean /= width;
    for (let i = 0; i < width; i++) data[start + i] = tensor.data[start + i]! - mean;
  }
  return { shape: tensor.shape, data };
}

/** log-softmax over the last axis. */
export function logSoftmaxLastAxis(tensor: PlainTensor): PlainTensor {
  const width = tensor.shape[tensor.shape.length - 1]!;
  const data = new Float32Array(tensor.data.length);
  for (let start = 0; start < data.length; start += width) {
    let max = -Infinity;
    for (let i = 0; i < width; i++) max = Math.max(max, tensor.data[start + i]!);
    let total = 0;
    for (let i = 0; i < width; i++) total += Math.exp(tensor.data[start + i]! - max);
    const logTotal = Math.log(total) + max;
    for (let i = 0; i < width; i++) data[start + i] = tensor.data[start + i]! - logTotal;
  }
  return { shape: tensor.shape, data };
}
