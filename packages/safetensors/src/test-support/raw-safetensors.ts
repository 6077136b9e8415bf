// Test helpers that build .safetensors bytes by hand, independently of the package's writer,
// so that tests can make any dtype and any malformed file.

/** Options of {@link buildRawSafetensors}. */
export interface RawSafetensorsOptions {
  /** Write this value as the 8-byte header length instead of the real one. */
  readonly headerLength?: bigint;
  /** Pad the header JSON with spaces to a multiple of 8 bytes (default true). */
  readonly pad?: boolean;
}

/** `[8-byte little-endian length][header JSON][data]`; `header` is serialised unless a string. */
export function buildRawSafetensors(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  options: RawSafetensorsOptions = {},
): Uint8Array<ArrayBuffer> {
  let json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  if (options.pad ?? true) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, options.headerLength ?? BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

/** Little-endian bytes of values written with a DataView setter, `size` bytes each. */
function littleEndian<T>(
  values: readonly T[],
  size: number,
  set: (view: DataView, offset: number, value: T) => void,
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(values.length * size);
  const view = new DataView(bytes.buffer);
  values.forEach((value, index) => {
    set(view, index * size, value);
  });
  return bytes;
}

export const float64Bytes = (values: readonly number[]) =>
  littleEndian(values, 8, (view, offset, value) => view.setFloat64(offset, value, true));
export const float32Bytes = (values: readonly number[]) =>
  littleEndian(values, 4, (view, offset, value) => view.setFloat32(offset, value, true));
export const uint16Bytes = (values: readonly number[]) =>
  littleEndian(values, 2, (view, offset, value) => view.setUint16(offset, value, true));
export const int16Bytes = (values: readonly number[]) =>
  littleEndian(values, 2, (view, offset, value) => view.setInt16(offset, value, true));
export const int32Bytes = (values: readonly number[]) =>
  littleEndian(values, 4, (view, offset, value) => view.setInt32(offset, value, true));
export const uint32Bytes = (values: readonly number[]) =>
  littleEndian(values, 4, (view, offset, value) => view.setUint32(offset, value, true));
export const int64Bytes = (values: readonly bigint[]) =>
  littleEndian(values, 8, (view, offset, value) => view.setBigInt64(offset, value, true));
export const uint64Bytes = (values: readonly bigint[]) =>
  littleEndian(values, 8, (view, offset, value) => view.setBigUint64(offset, value, true));

/** Joins byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** One tensor for {@link buildFile}: dtype, shape and its raw little-endian bytes. */
export interface RawTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A valid file from raw tensors, laid out contiguously in the given order. */
export function buildFile(
  tensors: Readonly<Record<string, RawTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    header[name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.bytes.length],
    };
    offset += tensor.bytes.length;
  }
  return buildRawSafetensors(
    header,
    concatBytes(...Object.values(tensors).map((tensor) => tensor.bytes)),
  );
}
