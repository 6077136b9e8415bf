/**
 * Copies of a GPT-2 model for worker threads: the weights go over SharedArrayBuffers (each
 * worker reads the same bytes once into its own backend), with the config and options.
 */
import type { ModelWorkerSource } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { GPT2 } from './gpt2.js';
import type { GPT2Config } from './gpt2-config.js';
import type { GPT2Weights } from './gpt2-weights.js';

/** A tensor as shared bytes. */
interface SharedTensor {
  readonly shape: number[];
  readonly dtype: tf.DataType;
  readonly data: Float32Array | Int32Array;
}

/** `GPT2Weights` with each tensor replaced by a {@link SharedTensor} (tied tensors once). */
interface SharedGPT2 {
  readonly config: GPT2Config;
  readonly useAttnResult: boolean;
  readonly tensors: SharedTensor[];
  /** The weights object with tensors as `{ tensor: i }` references into `tensors`. */
  readonly layout: unknown;
}

function share(tensor: tf.Tensor): SharedTensor {
  const values = tensor.dataSync() as Float32Array | Int32Array;
  const buffer = new SharedArrayBuffer(values.byteLength);
  const data = values instanceof Int32Array ? new Int32Array(buffer) : new Float32Array(buffer);
  data.set(values);
  return { shape: [...tensor.shape], dtype: tensor.dtype, data };
}

/** The {@link ModelWorkerSource} of a GPT-2 model (`GPT2.workerSource()`). */
export function gpt2WorkerSource(model: GPT2): ModelWorkerSource {
  const tensors: SharedTensor[] = [];
  const seen = new Map<tf.Tensor, number>();
  const encode = (value: unknown): unknown => {
    if (value instanceof tf.Tensor) {
      let index = seen.get(value);
      if (index === undefined) {
        index = tensors.push(share(value)) - 1;
        seen.set(value, index);
      }
      return { tensor: index };
    }
    if (Array.isArray(value)) return value.map(encode);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, encode(entry)]));
    }
    return value;
  };
  const argument: SharedGPT2 = {
    config: model.config,
    useAttnResult: model.useAttnResult,
    tensors,
    layout: encode(model.weights),
  };
  return { module: import.meta.url, exportName: 'gpt2FromWorkerSource', argument };
}

/** Builds the GPT-2 copy described by {@link gpt2WorkerSource}, on the current backend. */
export function gpt2FromWorkerSource(argument: unknown): GPT2 {
  const { config, useAttnResult, tensors, layout } = argument as SharedGPT2;
  const made = tensors.map(({ shape, dtype, data }) => tf.tensor(data, shape, dtype));
  const decode = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(decode);
    if (value !== null && typeof value === 'object') {
      if ('tensor' in value && typeof value.tensor === 'number') return made[value.tensor];
      return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, decode(entry)]));
    }
    return value;
  };
  return new GPT2(config, decode(layout) as GPT2Weights, { useAttnResult });
}
