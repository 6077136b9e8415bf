import { InvalidArgumentError, SafetensorsFormatError } from '@patchlens/errors';
import { LENGTH_PREFIX_BYTES, parseHeaderJson, parseHeaderLength } from './safetensors-header.js';
import type {
  SafetensorsFile,
  SafetensorsHeader,
  SafetensorsTensor,
  SafetensorsTensorInfo,
} from './safetensors-types.js';
import { decodeTensor } from './tensor-decoding.js';

/**
 * Random access to the bytes of one file (a Blob, a file handle, a URL with Range requests).
 * Internal: lets every source share one reading and validation path.
 */
export interface ByteSource {
  /** The file's size in bytes, when known (it may become known after the first read). */
  size(): number | undefined;
  /**
   * Exactly `length` bytes from `offset`, in a buffer the caller may keep; throws
   * `SafetensorsFormatError` when the file ends first.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Told the total number of bytes the reader will request, once it knows (for progress). */
  plan?(totalBytes: number): void;
}

/** What to do when a requested name is not in the header. */
export type MissingTensorHandler = (name: string, header: SafetensorsHeader) => Error;

/** The default: the caller asked for a tensor the file lacks. */
export function missingTensorArgument(where: string): MissingTensorHandler {
  return (name, header) => {
    const available = [...header.tensors.keys()];
    const shown = available.slice(0, 8).map((entry) => JSON.stringify(entry));
    const more = available.length > shown.length ? `, ... (${available.length} in all)` : '';
    return new InvalidArgumentError(
      `${where}: tensorNames includes ${JSON.stringify(name)}, which the file does not contain; it has ${shown.length === 0 ? 'no tensors' : shown.join(', ') + more}.`,
    );
  };
}

/** The header entries to read: all, or the named ones, in file order. */
export function selectTensors(
  header: SafetensorsHeader,
  tensorNames: readonly string[] | undefined,
  onMissing: MissingTensorHandler,
): [string, SafetensorsTensorInfo][] {
  if (tensorNames === undefined) return [...header.tensors];
  const wanted = new Set(tensorNames);
  for (const name of wanted) {
    if (!header.tensors.has(name)) throw onMissing(name, header);
  }
  return [...header.tensors].filter(([name]) => wanted.has(name));
}

/** Reads and validates the 8-byte length and the header JSON through a byte source. */
export async function readHeaderFromSource(
  source: ByteSource,
  where: string,
): Promise<SafetensorsHeader> {
  const knownSize = source.size();
  if (knownSize !== undefined && knownSize < LENGTH_PREFIX_BYTES) {
    throw new SafetensorsFormatError(
      `${where}: the file is ${knownSize} bytes long; a .safetensors file starts with an 8-byte header length.`,
    );
  }
  const prefix = await source.read(0, LENGTH_PREFIX_BYTES);
  const headerLength = parseHeaderLength(prefix, source.size(), where);
  const headerBytes = await source.read(LENGTH_PREFIX_BYTES, headerLength);
  return parseHeaderJson(headerBytes, source.size(), where);
}

/** Reads the header, then only the selected tensors' byte spans, through a byte source. */
export async function readFileFromSource(
  source: ByteSource,
  tensorNames: readonly string[] | undefined,
  where: string,
  onMissing: MissingTensorHandler = missingTensorArgument(where),
): Promise<SafetensorsFile> {
  const header = await readHeaderFromSource(source, where);
  const selected = selectTensors(header, tensorNames, onMissing);
  let total = header.dataStart;
  for (const [, info] of selected) total += info.dataOffsets[1] - info.dataOffsets[0];
  source.plan?.(total);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, info] of selected) {
    const [begin, end] = info.dataOffsets;
    const bytes = await source.read(header.dataStart + begin, end - begin);
    tensors.set(name, decodeTensor(name, info, bytes, true, where));
  }
  return { metadata: header.metadata, tensors };
}

/**
 * Reads the whole file from memory (synchronously), decoding the selected tensors.
 *
 * @param shareable - true when `bytes` belongs to the reader alone (a download buffer)
 */
export function readFileFromBytes(
  bytes: Uint8Array,
  tensorNames: readonly string[] | undefined,
  shareable: boolean,
  where: string,
  onMissing: MissingTensorHandler = missingTensorArgument(where),
): SafetensorsFile {
  const header = readHeaderFromBytes(bytes, where);
  const tensors = new Map<string, SafetensorsTensor>();
  const selected = selectTensors(header, tensorNames, onMissing);
  // Views into `bytes` would keep all of it alive: share only when every tensor is kept.
  const share = shareable && selected.length === header.tensors.size;
  for (const [name, info] of selected) {
    const [begin, end] = info.dataOffsets;
    const span = bytes.subarray(header.dataStart + begin, header.dataStart + end);
    tensors.set(name, decodeTensor(name, info, span, share, where));
  }
  return { metadata: header.metadata, tensors };
}

/** Parses and validates the header of a whole file held in memory. */
export function readHeaderFromBytes(bytes: Uint8Array, where: string): SafetensorsHeader {
  const headerLength = parseHeaderLength(
    bytes.subarray(0, LENGTH_PREFIX_BYTES),
    bytes.length,
    where,
  );
  const headerBytes = bytes.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + headerLength);
  return parseHeaderJson(headerBytes, bytes.length, where);
}

/** A byte source over a Blob (or File): reads slices, never the whole blob. */
export function blobByteSource(blob: Blob, where: string): ByteSource {
  return {
    size: () => blob.size,
    async read(offset, length) {
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.length !== length) {
        throw new SafetensorsFormatError(
          `${where}: wanted bytes [${offset}, ${offset + length}) but the blob ends at ${blob.size}.`,
        );
      }
      return bytes;
    },
  };
}
