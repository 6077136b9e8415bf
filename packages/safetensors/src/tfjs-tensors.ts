import { InvalidArgumentError, ShapeMismatchError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import type { SafetensorsFile, SafetensorsTensor } from './safetensors-types.js';
import {
  type SafetensorsTensorInput,
  type WriteSafetensorsOptions,
  writeSafetensors,
} from './safetensors-writer.js';

/**
 * Makes a tfjs tensor from a decoded safetensors tensor (`float32` for `Float32Array` data,
 * `int32` for `Int32Array` data). The caller owns the result and must dispose it.
 *
 * @param tensor - a tensor from any reader of this package
 * @throws ShapeMismatchError when `data.length` is not the product of `shape`
 *
 * @example
 * ```ts
 * import { readSafetensors } from '@patchlens/safetensors';
 * import { toTfTensor } from '@patchlens/safetensors/tfjs';
 * const wte = toTfTensor(readSafetensors(bytes).tensors.get('wte.weight')!); // tf.Tensor2D-shaped
 * wte.dispose();
 * ```
 */
export function toTfTensor(tensor: SafetensorsTensor): tf.Tensor {
  const { data, shape } = tensor;
  if (!(data instanceof Float32Array || data instanceof Int32Array)) {
    throw new InvalidArgumentError(`toTfTensor: tensor.data must be a Float32Array or Int32Array.`);
  }
  const elements = shape.reduce((product, size) => product * size, 1);
  if (elements !== data.length) {
    throw new ShapeMismatchError(
      `toTfTensor: tensor.shape [${shape.join(', ')}] has ${elements} elements but tensor.data has ${data.length}.`,
      { expected: [elements], actual: [data.length] },
    );
  }
  return tf.tensor(data, [...shape], data instanceof Float32Array ? 'float32' : 'int32');
}

/**
 * Makes tfjs tensors from every tensor of a read result (a file's `tensors` map, or the file
 * itself). The caller owns and must dispose them; on error none is left allocated.
 *
 * @param tensors - decoded tensors by name, or a read result (`SafetensorsFile`, `ShardedSafetensors`)
 * @returns tfjs tensors by the same names, in the same order
 *
 * @example
 * ```ts
 * const weights = toTfTensors(await fetchSafetensors(url));
 * // ... use weights.get('wte.weight')
 * for (const tensor of weights.values()) tensor.dispose();
 * ```
 */
export function toTfTensors(
  tensors:
    | ReadonlyMap<string, SafetensorsTensor>
    | { readonly tensors: ReadonlyMap<string, SafetensorsTensor> },
): Map<string, tf.Tensor> {
  const source: ReadonlyMap<string, SafetensorsTensor> =
    tensors instanceof Map ? tensors : (tensors as SafetensorsFile).tensors;
  const result = new Map<string, tf.Tensor>();
  try {
    for (const [name, tensor] of source) result.set(name, toTfTensor(tensor));
  } catch (error) {
    for (const tensor of result.values()) tensor.dispose();
    throw error;
  }
  return result;
}

/**
 * Options of {@link fromTfTensors} and {@link writeTfTensors}.
 *
 * @example
 * ```ts
 * await writeTfTensors(activations, { floatDtype: 'F16', metadata: { prompt: 'When Mary and John' } });
 * ```
 */
export interface FromTfTensorsOptions {
  /** Stored dtype of `float32` tensors. Default `'F32'`. */
  readonly floatDtype?: 'F32' | 'F16' | 'BF16';
  /** Stored dtype of `int32` tensors. Default `'I32'` (`'I64'` matches PyTorch token ids). */
  readonly integerDtype?: 'I32' | 'I64';
}

function isTfTensor(value: unknown): value is tf.Tensor {
  return (
    value instanceof tf.Tensor ||
    (typeof value === 'object' &&
      value !== null &&
      'dataId' in value &&
      'dtype' in value &&
      'shape' in value)
  );
}

/**
 * Reads the values of tfjs tensors (asynchronously, so GPU backends are not blocked) into
 * writer inputs. The tensors are left as they are (not disposed).
 *
 * @param tensors - tfjs tensors by name (Map or object), `float32` or `int32`
 * @param options - `floatDtype` (default `'F32'`), `integerDtype` (default `'I32'`)
 * @throws InvalidArgumentError for a disposed tensor or a dtype other than float32/int32
 *
 * @example
 * ```ts
 * // In Node: import { writeSafetensorsFile } from '@patchlens/safetensors/node';
 * await writeSafetensorsFile('activations.safetensors', await fromTfTensors({ resid: residual }));
 * ```
 */
export async function fromTfTensors(
  tensors: ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>,
  options: FromTfTensorsOptions = {},
): Promise<Map<string, SafetensorsTensorInput>> {
  const where = 'fromTfTensors';
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, tensor] of entries) {
    if (!isTfTensor(tensor)) {
      throw new InvalidArgumentError(`${where}: ${JSON.stringify(name)} is not a tfjs tensor.`);
    }
    if (tensor.isDisposed) {
      throw new InvalidArgumentError(
        `${where}: tensor ${JSON.stringify(name)} is disposed; read it before disposing.`,
      );
    }
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
      throw new InvalidArgumentError(
        `${where}: tensor ${JSON.stringify(name)} has dtype ${tensor.dtype}; expected float32 or int32 (cast it with tf.cast first).`,
      );
    }
  }
  const values = await Promise.all(entries.map(([, tensor]) => tensor.data()));
  const result = new Map<string, SafetensorsTensorInput>();
  entries.forEach(([name, tensor], index) => {
    const data = values[index] as Float32Array | Int32Array;
    result.set(name, {
      shape: [...tensor.shape],
      data,
      dtype:
        tensor.dtype === 'float32'
          ? (options.floatDtype ?? 'F32')
          : (options.integerDtype ?? 'I32'),
    });
  });
  return result;
}

/**
 * Writes tfjs tensors (reading their values) and metadata as `.safetensors` bytes.
 *
 * @param tensors - tfjs tensors by name (Map or object), `float32` or `int32`; not disposed
 * @param options - `floatDtype`, `integerDtype` (see {@link FromTfTensorsOptions}) and
 *   `metadata` (see {@link WriteSafetensorsOptions})
 * @returns the complete file, readable by Python's `safetensors.numpy.load_file`
 *
 * @example
 * ```ts
 * import { writeTfTensors } from '@patchlens/safetensors/tfjs';
 * const bytes = await writeTfTensors({ 'blocks.0.hook_resid_pre': residual }, { metadata: { model: 'gpt2' } });
 * ```
 */
export async function writeTfTensors(
  tensors: ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>,
  options: FromTfTensorsOptions & WriteSafetensorsOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  return writeSafetensors(await fromTfTensors(tensors, options), options);
}
