import { SafetensorsFormatError } from '@patchlens/errors';
import { float16Table65536 } from './float16.js';
import type { SafetensorsTensor, SafetensorsTensorInfo } from './safetensors-types.js';

type TypedArrayConstructor<T> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * A typed-array view of `bytes` as `Type`: shares memory when `shareable` and aligned,
 * else views a fresh, aligned copy.
 */
function viewAs<T>(Type: TypedArrayConstructor<T>, bytes: Uint8Array, shareable: boolean): T {
  const length = bytes.length / Type.BYTES_PER_ELEMENT;
  if (
    shareable &&
    bytes.byteOffset % Type.BYTES_PER_ELEMENT === 0 &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    return new Type(bytes.buffer, bytes.byteOffset, length);
  }
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Type(copy.buffer, 0, length);
}

function signedValue64(low: number, high: number): bigint {
  return BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0));
}

function unsignedValue64(low: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

function decodeData(
  name: string,
  info: SafetensorsTensorInfo,
  bytes: Uint8Array,
  shareable: boolean,
  where: string,
): Float32Array | Int32Array {
  const outOfRange = (index: number, value: bigint | number) =>
    new SafetensorsFormatError(
      `${where}: tensor ${JSON.stringify(name)} (${info.dtype}) holds ${value} at flat index ${index}, outside the int32 range [-2147483648, 2147483647] that tfjs integer tensors hold.`,
      name,
    );
  switch (info.dtype) {
    case 'F32':
      return viewAs(Float32Array, bytes, shareable);
    case 'I32':
      return viewAs(Int32Array, bytes, shareable);
    case 'F16': {
      const table = float16Table65536();
      const output = new Float32Array(bytes.length / 2);
      for (let index = 0; index < output.length; index++) {
        output[index] = table[bytes[2 * index]! | (bytes[2 * index + 1]! << 8)]!;
      }
      return output;
    }
    case 'BF16': {
      // A bfloat16 is the upper half of a float32: shift its bits into place.
      const output = new Float32Array(bytes.length / 2);
      const outputBits = new Uint32Array(output.buffer);
      for (let index = 0; index < output.length; index++) {
        outputBits[index] = (bytes[2 * index]! << 16) | (bytes[2 * index + 1]! << 24);
      }
      return output;
    }
    case 'F64':
      return Float32Array.from(viewAs(Float64Array, bytes, false));
    case 'I64':
    case 'U64': {
      const words = viewAs(Int32Array, bytes, false); // [low, high] pairs, little-endian
      const output = new Int32Array(words.length / 2);
      const signed = info.dtype === 'I64';
      for (let index = 0; index < output.length; index++) {
        const low = words[2 * index]!;
        const high = words[2 * index + 1]!;
        // The value fits in int32 when the high word is the sign extension of the low word
        // (for U64 additionally the value must be non-negative).
        if (high !== low >> 31 || (!signed && high !== 0)) {
          throw outOfRange(index, signed ? signedValue64(low, high) : unsignedValue64(low, high));
        }
        output[index] = low;
      }
      return output;
    }
    case 'U32': {
      const values = viewAs(Uint32Array, bytes, false);
      const output = new Int32Array(values.length);
      for (let index = 0; index < values.length; index++) {
        const value = values[index]!;
        if (value > 0x7fffffff) throw outOfRange(index, value);
        output[index] = value;
      }
      return output;
    }
    case 'I16':
      return Int32Array.from(viewAs(Int16Array, bytes, false));
    case 'U16':
      return Int32Array.from(viewAs(Uint16Array, bytes, false));
    case 'I8':
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    case 'U8':
      return Int32Array.from(bytes);
    case 'BOOL': {
      const output = new Int32Array(bytes.length);
      for (let index = 0; index < bytes.length; index++) {
        const value = bytes[index]!;
        if (value > 1) {
          throw new SafetensorsFormatError(
            `${where}: tensor ${JSON.stringify(name)} (BOOL) holds byte ${value} at flat index ${index}; BOOL bytes must be 0 or 1.`,
            name,
          );
        }
        output[index] = value;
      }
      return output;
    }
    default:
      throw new SafetensorsFormatError(
        `${where}: tensor ${JSON.stringify(name)} has dtype ${info.dtype}, which this reader cannot decode (it reads F64, F32, F16, BF16, I64, U64, I32, U32, I16, U16, I8, U8, BOOL). Skip it with the tensorNames option or convert the file.`,
        name,
      );
  }
}

/**
 * Decodes one tensor's bytes (exactly its data_offsets span) into a typed array.
 *
 * @param shareable - true when `bytes` belongs to this reader alone, so F32/I32 data may be
 *   returned as a view of it instead of a copy
 */
export function decodeTensor(
  name: string,
  info: SafetensorsTensorInfo,
  bytes: Uint8Array,
  shareable: boolean,
  where: string,
): SafetensorsTensor {
  let data: Float32Array | Int32Array;
  try {
    data = decodeData(name, info, bytes, shareable, where);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new SafetensorsFormatError(
        `${where}: tensor ${JSON.stringify(name)} (${info.dtype}, shape [${info.shape.join(', ')}]) is larger than this JavaScript engine can hold in one typed array.`,
        name,
        { cause: error },
      );
    }
    throw error;
  }
  return { dtype: info.dtype, shape: [...info.shape], data };
}
