import { InvalidArgumentError, ShapeMismatchError } from '@patchlens/errors';
import { numberToBfloat16Bits, numberToFloat16Bits } from './float16.js';
import {
  isWritableDtype,
  WRITABLE_DTYPES,
  type WritableSafetensorsDtype,
} from './safetensors-dtype.js';
import { LENGTH_PREFIX_BYTES } from './safetensors-header.js';

/**
 * One tensor to write: values in row-major order, their shape, and the dtype to store.
 *
 * `dtype` defaults to `I32` for `Int32Array` data and `F32` otherwise. Float dtypes accept any
 * numbers; `I32`/`I64` accept integers only (in range), or an `Int32Array`.
 *
 * @example
 * ```ts
 * const input: SafetensorsTensorInput = { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]), dtype: 'F16' };
 * ```
 */
export interface SafetensorsTensorInput {
  /** Stored element type (default `I32` for `Int32Array` data, else `F32`). */
  readonly dtype?: WritableSafetensorsDtype;
  /** The shape; `[]` for a scalar. Its product must equal `data.length`. */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly data: Float32Array | Int32Array | readonly number[];
}

/**
 * Options of {@link writeSafetensors}.
 *
 * @example
 * ```ts
 * writeSafetensors(tensors, { metadata: { format: 'np', source: 'patchlens' } });
 * ```
 */
export interface WriteSafetensorsOptions {
  /** Written as the header's `__metadata__` string map (omitted when empty). Default: none. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Tensors to write, by name: a Map or a plain object. */
export type SafetensorsTensorInputs =
  | ReadonlyMap<string, SafetensorsTensorInput>
  | Readonly<Record<string, SafetensorsTensorInput>>;

/** One tensor placed in the output. */
export interface PlannedTensor {
  readonly name: string;
  readonly dtype: WritableSafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | readonly number[];
  readonly byteLength: number;
}

/** The whole output file, planned: its first bytes (length + padded header) and the tensors after them. */
export interface SafetensorsLayout {
  /** The 8-byte length followed by the header JSON padded with spaces to a multiple of 8. */
  readonly head: Uint8Array;
  /** Tensors in output order (larger element size first, then by name), contiguous. */
  readonly tensors: readonly PlannedTensor[];
  /** Total file length in bytes. */
  readonly byteLength: number;
}

const BYTES_PER_ELEMENT: Readonly<Record<WritableSafetensorsDtype, number>> = {
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
};

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' ? 'an object' : String(value);
}

function checkTensor(name: string, input: unknown, where: string): PlannedTensor {
  const prefix = `${where}: tensor ${JSON.stringify(name)}`;
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(
      `${prefix} is ${describeValue(input)}; expected { shape, data, dtype? }.`,
    );
  }
  const { shape, data, dtype } = input as Partial<SafetensorsTensorInput>;
  if (!Array.isArray(shape)) {
    throw new InvalidArgumentError(
      `${prefix} has shape ${describeValue(shape)}; expected an array of non-negative integers.`,
    );
  }
  let elements = 1;
  for (const size of shape) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new InvalidArgumentError(
        `${prefix} has shape [${shape.join(', ')}]; shape entries must be non-negative integers.`,
      );
    }
    elements *= size;
  }
  if (!(data instanceof Float32Array || data instanceof Int32Array || Array.isArray(data))) {
    throw new InvalidArgumentError(
      `${prefix} has data ${describeValue(data)}; expected a Float32Array, Int32Array or number[].`,
    );
  }
  if (data.length !== elements) {
    throw new ShapeMismatchError(
      `${prefix} has shape [${shape.join(', ')}] (${elements} elements) but data of length ${data.length}.`,
      { expected: [elements], actual: [data.length] },
    );
  }
  const stored = dtype ?? (data instanceof Int32Array ? 'I32' : 'F32');
  if (!isWritableDtype(stored)) {
    throw new InvalidArgumentError(
      `${prefix} has dtype ${describeValue(stored)}; the writer stores ${WRITABLE_DTYPES.join(', ')}.`,
    );
  }
  return {
    name,
    dtype: stored,
    shape: [...shape],
    data,
    byteLength: elements * BYTES_PER_ELEMENT[stored],
  };
}

function checkMetadata(metadata: unknown, where: string): [string, string][] {
  if (metadata === undefined) return [];
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidArgumentError(
      `${where}: options.metadata is ${describeValue(metadata)}; expected an object of strings.`,
    );
  }
  const entries = Object.entries(metadata);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(
        `${where}: options.metadata[${JSON.stringify(key)}] is ${describeValue(value)}; metadata values must be strings.`,
      );
    }
  }
  return entries as [string, string][];
}

/**
 * Validates the inputs and lays out the file: output order (larger elements first, then by
 * name, as the reference writer does, so every tensor is aligned to its element size),
 * contiguous offsets, and the header JSON padded with spaces to a multiple of 8 bytes.
 */
export function planSafetensorsLayout(
  tensors: SafetensorsTensorInputs,
  options: WriteSafetensorsOptions,
  where: string,
): SafetensorsLayout {
  if (typeof tensors !== 'object' || tensors === null) {
    throw new InvalidArgumentError(
      `${where}: tensors is ${describeValue(tensors)}; expected a Map or an object of tensors by name.`,
    );
  }
  const metadata = checkMetadata(options.metadata, where);
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const planned = entries.map(([name, input]) => {
    if (name === '__metadata__') {
      throw new InvalidArgumentError(
        `${where}: "__metadata__" is reserved for metadata and cannot name a tensor; pass metadata in options.metadata.`,
      );
    }
    return checkTensor(name, input, where);
  });
  planned.sort(
    (a, b) =>
      BYTES_PER_ELEMENT[b.dtype] - BYTES_PER_ELEMENT[a.dtype] ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const parts: string[] = [];
  if (metadata.length > 0) {
    const body = metadata.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
    parts.push(`"__metadata__":{${body.join(',')}}`);
  }
  let offset = 0;
  for (const tensor of planned) {
    const info = `{"dtype":"${tensor.dtype}","shape":[${tensor.shape.join(',')}],"data_offsets":[${offset},${offset + tensor.byteLength}]}`;
    parts.push(`${JSON.stringify(tensor.name)}:${info}`);
    offset += tensor.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(LENGTH_PREFIX_BYTES + paddedLength).fill(
    0x20,
    LENGTH_PREFIX_BYTES + json.length,
  );
  new DataView(head.buffer).setBigUint64(0, BigInt(paddedLength), true);
  head.set(json, LENGTH_PREFIX_BYTES);
  return { head, tensors: planned, byteLength: head.length + offset };
}

function bytesOf(array: Float32Array | Int32Array | Uint16Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** The little-endian bytes of one planned tensor, in its stored dtype. */
export function encodeTensor(tensor: PlannedTensor, where: string): Uint8Array {
  const { name, dtype, data } = tensor;
  const prefix = `${where}: tensor ${JSON.stringify(name)}`;
  const value = (index: number): number => {
    const entry = data[index];
    if (typeof entry !== 'number') {
      throw new InvalidArgumentError(
        `${prefix} has ${describeValue(entry)} at flat index ${index} of its data; expected numbers.`,
      );
    }
    return entry;
  };
  // Integers in [-2^(bits-1), 2^(bits-1)): the bound is exclusive because 2^63 - 1 is not a double.
  const integer = (index: number, bits: number): number => {
    const entry = value(index);
    const limit = 2 ** (bits - 1);
    if (!Number.isInteger(entry) || entry < -limit || entry >= limit) {
      throw new InvalidArgumentError(
        `${prefix} has ${entry} at flat index ${index}, which dtype ${dtype} cannot store (integers from -2^${bits - 1} to 2^${bits - 1} - 1).`,
      );
    }
    return entry;
  };
  switch (dtype) {
    case 'F32': {
      if (data instanceof Float32Array) return bytesOf(data);
      const output = new Float32Array(data.length);
      for (let index = 0; index < data.length; index++) output[index] = value(index);
      return bytesOf(output);
    }
    case 'I32': {
      if (data instanceof Int32Array) return bytesOf(data);
      const output = new Int32Array(data.length);
      for (let index = 0; index < data.length; index++) output[index] = integer(index, 32);
      return bytesOf(output);
    }
    case 'I64': {
      const output = new Int32Array(data.length * 2); // [low, high] little-endian word pairs
      for (let index = 0; index < data.length; index++) {
        const entry = data instanceof Int32Array ? data[index]! : integer(index, 64);
        const high = Math.floor(entry / 2 ** 32);
        output[2 * index] = entry - high * 2 ** 32; // wraps into int32 storage
        output[2 * index + 1] = high;
      }
      return bytesOf(output);
    }
    case 'F16':
    case 'BF16': {
      const encode = dtype === 'F16' ? numberToFloat16Bits : numberToBfloat16Bits;
      const output = new Uint16Array(data.length);
      for (let index = 0; index < data.length; index++) {
        const entry = value(index);
        const bits = encode(entry);
        if (Number.isFinite(entry) && (bits & 0x7fff) === (dtype === 'F16' ? 0x7c00 : 0x7f80)) {
          throw new InvalidArgumentError(
            `${prefix} has ${entry} at flat index ${index}, outside the finite range of ${dtype} (largest ${dtype === 'F16' ? '65504' : '3.3895e38'}); scale it or store F32.`,
          );
        }
        output[index] = bits;
      }
      return bytesOf(output);
    }
  }
}

/**
 * Writes tensors and metadata as the bytes of a `.safetensors` file that Python's
 * `safetensors.numpy.load_file` (and `safetensors.torch`) read as is.
 *
 * The layout follows the reference writer: header JSON padded with spaces to a multiple of
 * 8 bytes, tensors contiguous, ordered by element size (largest first) then name, so each
 * tensor's data is aligned to its element size.
 *
 * @param tensors - tensors by name (Map or object); each `{ shape, data, dtype? }`
 * @param options - `metadata`: the `__metadata__` string map (default: none)
 * @returns the complete file
 * @throws InvalidArgumentError for a bad shape, dtype, name, metadata value, or a value the dtype
 *   cannot hold (non-integer for I32/I64, out of range for I32/I64/F16/BF16)
 * @throws ShapeMismatchError when `data.length` is not the product of `shape`
 *
 * Limitations: the whole file is built in one buffer (JavaScript engines cap one buffer at a
 * few GiB); in Node, `writeSafetensorsFile` from `@patchlens/safetensors/node` streams
 * tensor by tensor instead.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from '@patchlens/safetensors';
 * const bytes = writeSafetensors(
 *   { logits: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
 *     tokens: { shape: [3], data: new Int32Array([50256, 13, 11]), dtype: 'I64' } },
 *   { metadata: { format: 'np' } },
 * );
 * ```
 */
export function writeSafetensors(
  tensors: SafetensorsTensorInputs,
  options: WriteSafetensorsOptions = {},
): Uint8Array<ArrayBuffer> {
  const where = 'writeSafetensors';
  const layout = planSafetensorsLayout(tensors, options, where);
  const output = new Uint8Array(layout.byteLength);
  output.set(layout.head, 0);
  let offset = layout.head.length;
  for (const tensor of layout.tensors) {
    output.set(encodeTensor(tensor, where), offset);
    offset += tensor.byteLength;
  }
  return output;
}
