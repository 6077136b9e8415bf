import { SafetensorsFormatError } from '@patchlens/errors';
import { dtypeBits, isSafetensorsDtype, knownDtypeNames } from './safetensors-dtype.js';
import type { SafetensorsHeader, SafetensorsTensorInfo } from './safetensors-types.js';

/** Largest header (JSON) accepted, in bytes; the same limit as the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Byte length of the little-endian u64 that opens every file. */
export const LENGTH_PREFIX_BYTES = 8;

const METADATA_KEY = '__metadata__';

/**
 * Reads the header length from the file's first 8 bytes and checks it against the
 * header size cap and (when known) the file size, before anything is allocated for it.
 *
 * @param where - who is reading what, for messages (`readSafetensorsFile("a.safetensors")`)
 */
export function parseHeaderLength(
  prefix: Uint8Array,
  fileByteLength: number | undefined,
  where: string,
): number {
  if (prefix.length < LENGTH_PREFIX_BYTES) {
    throw new SafetensorsFormatError(
      `${where}: the file is ${prefix.length} bytes long; a .safetensors file starts with an 8-byte header length.`,
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high !== 0 || low > MAX_HEADER_BYTES) {
    throw new SafetensorsFormatError(
      `${where}: the header length is ${view.getBigUint64(0, true)} bytes, over the ${MAX_HEADER_BYTES}-byte limit; the file is not a .safetensors file or is corrupt.`,
    );
  }
  if (fileByteLength !== undefined && LENGTH_PREFIX_BYTES + low > fileByteLength) {
    throw new SafetensorsFormatError(
      `${where}: the header length is ${low} bytes, but the file has only ${fileByteLength - LENGTH_PREFIX_BYTES} bytes after the 8-byte length; the file is truncated or not a .safetensors file.`,
    );
  }
  return low;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function formatShape(shape: readonly unknown[]): string {
  return `[${shape.map((entry) => describe(entry)).join(', ')}]`;
}

function parseMetadata(value: unknown, where: string): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null);
  if (value === null || value === undefined) return metadata;
  if (!isPlainObject(value)) {
    throw new SafetensorsFormatError(
      `${where}: "${METADATA_KEY}" is ${describe(value)}; it must be an object mapping strings to strings.`,
    );
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw new SafetensorsFormatError(
        `${where}: "${METADATA_KEY}" entry ${JSON.stringify(key)} is ${describe(entry)}; metadata values must be strings.`,
      );
    }
    metadata[key] = entry;
  }
  return metadata;
}

function parseTensorInfo(name: string, value: unknown, where: string): SafetensorsTensorInfo {
  const fault = (problem: string) =>
    new SafetensorsFormatError(`${where}: tensor ${JSON.stringify(name)} ${problem}`, name);
  if (!isPlainObject(value)) {
    throw fault(
      `is described by ${describe(value)}; expected an object with dtype, shape and data_offsets.`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSafetensorsDtype(dtype)) {
    throw fault(
      `has dtype ${describe(dtype)}, which is not a safetensors dtype (${knownDtypeNames()}).`,
    );
  }
  if (!Array.isArray(shape)) {
    throw fault(`has shape ${describe(shape)}; expected an array of non-negative integers.`);
  }
  for (let axis = 0; axis < shape.length; axis++) {
    const size = shape[axis];
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw fault(
        `has shape ${formatShape(shape)}: entry ${axis} is ${describe(size)}; shape entries must be non-negative integers.`,
      );
    }
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(
      (offset) => typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0,
    )
  ) {
    const shown = Array.isArray(offsets) ? formatShape(offsets) : describe(offsets);
    throw fault(`has data_offsets ${shown}; expected [begin, end] with non-negative integers.`);
  }
  const begin = offsets[0] as number;
  const end = offsets[1] as number;
  if (end < begin) {
    throw fault(`has data_offsets [${begin}, ${end}], which end before they begin.`);
  }
  // Count elements without overflow: stop as soon as the count needs more bytes than the span has.
  const spanBits = (end - begin) * 8;
  const bits = dtypeBits(dtype);
  let elements = shape.includes(0) ? 0 : 1;
  for (const size of shape as number[]) {
    if (elements === 0) break;
    elements *= size;
    if (elements * bits > spanBits) {
      throw fault(
        `has dtype ${dtype} and shape [${shape.join(', ')}], which need more than the ${end - begin} bytes of its data_offsets [${begin}, ${end}].`,
      );
    }
  }
  if (elements * bits !== spanBits) {
    throw fault(
      `has dtype ${dtype} and shape [${shape.join(', ')}], which need ${(elements * bits) / 8} bytes, but its data_offsets [${begin}, ${end}] span ${end - begin} bytes.`,
    );
  }
  // `+ 0` turns a JSON -0 into 0.
  return {
    dtype,
    shape: (shape as number[]).map((size) => size + 0),
    dataOffsets: [begin + 0, end + 0],
  };
}

/**
 * Parses and validates the header JSON: `__metadata__` is a string map, every tensor has a
 * known dtype, a shape of non-negative integers and data_offsets whose span matches
 * dtype × shape, the tensors tile the data section without gaps or overlaps, and (when the
 * file size is known) the last tensor ends exactly at the end of the file.
 *
 * @param headerBytes - the `headerLength` bytes after the 8-byte length
 * @param fileByteLength - the whole file's length, or `undefined` when not known
 */
export function parseHeaderJson(
  headerBytes: Uint8Array,
  fileByteLength: number | undefined,
  where: string,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch (error) {
    throw new SafetensorsFormatError(`${where}: the header is not valid UTF-8.`, undefined, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const start = JSON.stringify(text.slice(0, 40));
    throw new SafetensorsFormatError(
      `${where}: the header is not JSON (${(error as Error).message}); it starts with ${start}.`,
      undefined,
      { cause: error },
    );
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsFormatError(
      `${where}: the header is ${describe(parsed)}; it must be a JSON object of tensor descriptions.`,
    );
  }
  let metadata: Record<string, string> = Object.create(null);
  const entries: [string, SafetensorsTensorInfo][] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, where);
    else entries.push([name, parseTensorInfo(name, value, where)]);
  }
  // Tensors must tile the data section: sorted by offsets, each begins where the previous ends.
  entries.sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let end = 0;
  let previous: string | undefined;
  for (const [name, info] of entries) {
    const [begin, tensorEnd] = info.dataOffsets;
    if (begin !== end) {
      const relation =
        begin < end
          ? `overlap ${JSON.stringify(previous)}, which ends at ${end}`
          : previous === undefined
            ? `leave bytes [0, ${begin}) unused; the first tensor must start at 0`
            : `leave a gap after ${JSON.stringify(previous)}, which ends at ${end}`;
      throw new SafetensorsFormatError(
        `${where}: tensor ${JSON.stringify(name)} has data_offsets [${begin}, ${tensorEnd}], which ${relation}.`,
        name,
      );
    }
    end = tensorEnd;
    previous = name;
  }
  const dataStart = LENGTH_PREFIX_BYTES + headerBytes.length;
  if (fileByteLength !== undefined && dataStart + end !== fileByteLength) {
    const available = fileByteLength - dataStart;
    if (end > available) {
      throw new SafetensorsFormatError(
        `${where}: tensor ${JSON.stringify(previous)} has data_offsets ending at ${end}, past the end of the data section (${available} bytes); the file is truncated or corrupt.`,
        previous,
      );
    }
    throw new SafetensorsFormatError(
      `${where}: the file has ${available - end} bytes after the end of the last tensor (data section ${available} bytes, tensors end at ${end}); the header does not describe the whole file.`,
    );
  }
  return { metadata, tensors: new Map(entries), dataStart, dataByteLength: end };
}
