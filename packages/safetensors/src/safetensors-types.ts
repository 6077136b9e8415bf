import type { SafetensorsDtype } from './safetensors-dtype.js';

/**
 * One decoded tensor: its dtype as stored in the file, its shape, and its values in a plain
 * typed array (float dtypes as `Float32Array`, integer and bool dtypes as `Int32Array`),
 * row-major ("C" order) like the file.
 *
 * @example
 * ```ts
 * const { tensors } = readSafetensors(bytes);
 * const wte = tensors.get('wte.weight'); // { dtype: 'F32', shape: [50257, 768], data: Float32Array }
 * ```
 */
export interface SafetensorsTensor {
  /** The dtype stored in the file (`BF16`, `F16`, `I64`, ...), not the dtype of `data`. */
  readonly dtype: SafetensorsDtype;
  /** The shape; `[]` for a scalar. */
  readonly shape: number[];
  /** The values: `Float32Array` for F64/F32/F16/BF16, `Int32Array` for integer and bool dtypes. */
  readonly data: Float32Array | Int32Array;
}

/**
 * What a single `.safetensors` file holds once read: its `__metadata__` string map and the
 * decoded tensors, in the order of their bytes in the file.
 *
 * @example
 * ```ts
 * const file = readSafetensors(bytes);
 * console.log(file.metadata['format'], [...file.tensors.keys()]);
 * ```
 */
export interface SafetensorsFile {
  /** The header's `__metadata__` map (empty when the file has none). */
  readonly metadata: Record<string, string>;
  /** Decoded tensors by name. */
  readonly tensors: Map<string, SafetensorsTensor>;
}

/**
 * Where one tensor's bytes lie and how to read them, as the header states (after validation).
 *
 * @example
 * ```ts
 * const info = readSafetensorsHeader(bytes).tensors.get('wte.weight');
 * // { dtype: 'F32', shape: [50257, 768], dataOffsets: [0, 154389504] }
 * ```
 */
export interface SafetensorsTensorInfo {
  /** The dtype stored in the file. */
  readonly dtype: SafetensorsDtype;
  /** The shape; `[]` for a scalar. */
  readonly shape: number[];
  /** `[begin, end)` byte offsets relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/**
 * A parsed and validated `.safetensors` header: metadata, per-tensor layout, and where the
 * data section starts, without any tensor data.
 *
 * @example
 * ```ts
 * const header = readSafetensorsHeader(bytes);
 * for (const [name, info] of header.tensors) console.log(name, info.dtype, info.shape);
 * ```
 */
export interface SafetensorsHeader {
  /** The header's `__metadata__` map (empty when the file has none). */
  readonly metadata: Record<string, string>;
  /** Tensor layout by name, in the order of their bytes in the file. */
  readonly tensors: Map<string, SafetensorsTensorInfo>;
  /** Byte offset of the data section in the file (8 + the header's JSON length). */
  readonly dataStart: number;
  /** Length in bytes of the data section (the end of the last tensor). */
  readonly dataByteLength: number;
}

/**
 * Options shared by every reader.
 *
 * @example
 * ```ts
 * readSafetensors(bytes, { tensorNames: ['wte.weight', 'wpe.weight'] });
 * ```
 */
export interface ReadSafetensorsOptions {
  /**
   * Decode only these tensors (default: all). A name the file lacks throws
   * `InvalidArgumentError`. File and URL readers fetch only these tensors' bytes.
   */
  readonly tensorNames?: readonly string[];
}
