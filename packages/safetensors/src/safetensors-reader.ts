import { InvalidArgumentError } from '@patchlens/errors';
import {
  blobByteSource,
  readFileFromBytes,
  readFileFromSource,
  readHeaderFromBytes,
} from './byte-source.js';
import type {
  ReadSafetensorsOptions,
  SafetensorsFile,
  SafetensorsHeader,
} from './safetensors-types.js';

function asBytes(value: unknown, where: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value))
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new InvalidArgumentError(
    `${where}: bytes is ${value === null ? 'null' : typeof value}; expected an ArrayBuffer or Uint8Array (use readSafetensorsBlob for a Blob).`,
  );
}

/**
 * Reads a whole `.safetensors` file held in memory: validates the header, then decodes the
 * tensors (all, or `options.tensorNames`) into typed arrays.
 *
 * F32/F16/BF16/F64 become `Float32Array` (F64 rounded to float32); I32/I16/U16/I8/U8/BOOL
 * become `Int32Array`; I64/U64/U32 become `Int32Array` when every value fits, else throw.
 *
 * @param bytes - the complete file (an `ArrayBuffer`, `Uint8Array` or Node `Buffer`)
 * @param options - `tensorNames`: decode only these (default: all)
 * @returns metadata and tensors; the typed arrays are copies, not views of `bytes`
 * @throws SafetensorsFormatError when the file is malformed (the message names the tensor and fault)
 * @throws InvalidArgumentError when `tensorNames` names a tensor the file lacks
 *
 * Limitations: the host must be little-endian (as every platform tfjs runs on is); 8-, 6- and
 * 4-bit float dtypes and C64 are rejected when decoded.
 *
 * @example
 * ```ts
 * import { readSafetensors } from '@patchlens/safetensors';
 * const { metadata, tensors } = readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * const wte = tensors.get('wte.weight'); // { dtype, shape, data }
 * ```
 */
export function readSafetensors(
  bytes: ArrayBuffer | Uint8Array,
  options: ReadSafetensorsOptions = {},
): SafetensorsFile {
  const where = 'readSafetensors';
  return readFileFromBytes(asBytes(bytes, where), options.tensorNames, false, where);
}

/**
 * Parses and validates only the header of a `.safetensors` file held in memory: metadata and
 * each tensor's dtype, shape and byte offsets, without decoding data.
 *
 * @param bytes - the complete file (the data section's length is checked against the header)
 * @throws SafetensorsFormatError when the header is malformed or does not match the file size
 *
 * @example
 * ```ts
 * const header = readSafetensorsHeader(bytes);
 * console.log(header.tensors.get('wte.weight')?.shape);
 * ```
 */
export function readSafetensorsHeader(bytes: ArrayBuffer | Uint8Array): SafetensorsHeader {
  const where = 'readSafetensorsHeader';
  return readHeaderFromBytes(asBytes(bytes, where), where);
}

/**
 * Reads a `.safetensors` file from a `Blob` or `File` (e.g. from an `<input type="file">`),
 * slicing out only the header and the wanted tensors' bytes instead of loading the whole blob.
 *
 * @param blob - the file
 * @param options - `tensorNames`: read only these (default: all)
 * @throws SafetensorsFormatError when the file is malformed
 * @throws InvalidArgumentError when `tensorNames` names a tensor the file lacks
 *
 * @example
 * ```ts
 * const input = document.querySelector('input[type=file]') as HTMLInputElement;
 * const { tensors } = await readSafetensorsBlob(input.files![0]!, { tensorNames: ['wte.weight'] });
 * ```
 */
export async function readSafetensorsBlob(
  blob: Blob,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const where = 'readSafetensorsBlob';
  // Duck-typed so that Blobs from other realms (iframes, polyfills) are accepted.
  const candidate = blob as Partial<Blob> | null;
  if (typeof candidate?.slice !== 'function' || typeof candidate.size !== 'number') {
    throw new InvalidArgumentError(`${where}: blob is not a Blob; pass a Blob or File.`);
  }
  return readFileFromSource(blobByteSource(blob, where), options.tensorNames, where);
}
