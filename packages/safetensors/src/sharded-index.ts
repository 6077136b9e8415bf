import { InvalidArgumentError, SafetensorsFormatError } from '@patchlens/errors';
import type { MissingTensorHandler } from './byte-source.js';
import type { SafetensorsTensor } from './safetensors-types.js';

/** Largest index file accepted, in bytes (the same cap as a safetensors header). */
export const MAX_INDEX_BYTES = 100_000_000;

/**
 * A parsed `model.safetensors.index.json`: which shard file holds each tensor.
 *
 * @example
 * ```ts
 * const index = parseShardedIndex(text);
 * index.weightMap.get('h.0.attn.c_attn.weight'); // 'model-00001-of-00002.safetensors'
 * ```
 */
export interface ShardedSafetensorsIndex {
  /** The index's `metadata` object as is (typically `{ total_size: number }`); empty when absent. */
  readonly metadata: Record<string, unknown>;
  /** Tensor name -> shard file name (relative to the index file). */
  readonly weightMap: Map<string, string>;
}

/**
 * The tensors of a sharded checkpoint, merged from its shards.
 *
 * @example
 * ```ts
 * const { tensors, shardMetadata } = await fetchShardedSafetensors(indexUrl);
 * ```
 */
export interface ShardedSafetensors {
  /** The index file's `metadata` object as is. */
  readonly metadata: Record<string, unknown>;
  /** Each shard's `__metadata__` map, by shard file name. */
  readonly shardMetadata: Map<string, Record<string, string>>;
  /** Decoded tensors by name (all mapped tensors, or those requested). */
  readonly tensors: Map<string, SafetensorsTensor>;
}

// Shard names must stay inside the index's folder: relative, no "." or ".." segments,
// no backslashes, colons (drive letters, URL schemes) or NUL.
const SHARD_SEGMENT = /^[^/\\:\0]+$/;

function checkShardFileName(file: string, tensorName: string, where: string): void {
  const segments = file.split('/');
  const valid = segments.every(
    (segment) => SHARD_SEGMENT.test(segment) && segment !== '.' && segment !== '..',
  );
  if (!valid) {
    throw new SafetensorsFormatError(
      `${where}: weight_map maps ${JSON.stringify(tensorName)} to ${JSON.stringify(file)}; shard files must be relative paths inside the index's folder (no "..", no leading "/", no backslash or ":").`,
      tensorName,
    );
  }
}

/** Parses and validates index JSON text; `where` names the caller in messages. */
export function parseShardedIndexText(text: string, where: string): ShardedSafetensorsIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsFormatError(
      `${where}: the index is not JSON (${(error as Error).message}).`,
      undefined,
      { cause: error },
    );
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(parsed) || !isObject(parsed['weight_map'])) {
    throw new SafetensorsFormatError(
      `${where}: the index must be a JSON object with a "weight_map" object (tensor name -> shard file).`,
    );
  }
  const metadataValue = parsed['metadata'];
  if (metadataValue !== undefined && metadataValue !== null && !isObject(metadataValue)) {
    throw new SafetensorsFormatError(`${where}: the index's "metadata" must be an object.`);
  }
  const metadata: Record<string, unknown> = Object.create(null);
  if (isObject(metadataValue)) Object.assign(metadata, metadataValue);
  const weightMap = new Map<string, string>();
  for (const [tensorName, file] of Object.entries(parsed['weight_map'])) {
    if (typeof file !== 'string') {
      throw new SafetensorsFormatError(
        `${where}: weight_map maps ${JSON.stringify(tensorName)} to ${file === null ? 'null' : typeof file}; expected a shard file name.`,
        tensorName,
      );
    }
    checkShardFileName(file, tensorName, where);
    weightMap.set(tensorName, file);
  }
  return { metadata, weightMap };
}

/** {@link parseShardedIndexText} of the index file's bytes, which must be UTF-8. */
export function parseShardedIndexBytes(bytes: Uint8Array, where: string): ShardedSafetensorsIndex {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new SafetensorsFormatError(`${where}: the index is not valid UTF-8.`, undefined, {
      cause: error,
    });
  }
  return parseShardedIndexText(text, where);
}

/**
 * Parses a sharded checkpoint's `model.safetensors.index.json` and checks every shard file
 * name is a relative path inside the index's folder.
 *
 * @param text - the index file's JSON text
 * @throws SafetensorsFormatError when the text is not an index or a shard name escapes the folder
 *
 * @example
 * ```ts
 * const index = parseShardedIndex('{"metadata":{},"weight_map":{"wte.weight":"model-00001-of-00002.safetensors"}}');
 * ```
 */
export function parseShardedIndex(text: string): ShardedSafetensorsIndex {
  const where = 'parseShardedIndex';
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(
      `${where}: text is ${typeof text}; expected the index's JSON text.`,
    );
  }
  return parseShardedIndexText(text, where);
}

/** The tensors to read from each shard (all mapped tensors, or the requested ones), in shard order. */
export function groupTensorsByShard(
  index: ShardedSafetensorsIndex,
  tensorNames: readonly string[] | undefined,
  where: string,
): Map<string, string[]> {
  const names = tensorNames === undefined ? [...index.weightMap.keys()] : [...new Set(tensorNames)];
  const byShard = new Map<string, string[]>();
  for (const name of names) {
    const file = index.weightMap.get(name);
    if (file === undefined) {
      throw new InvalidArgumentError(
        `${where}: tensorNames includes ${JSON.stringify(name)}, which the index's weight_map does not list (${index.weightMap.size} tensors).`,
      );
    }
    const list = byShard.get(file);
    if (list === undefined) byShard.set(file, [name]);
    else list.push(name);
  }
  return new Map([...byShard].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The error for a tensor the index places in a shard that does not hold it. */
export function missingFromShard(where: string, file: string): MissingTensorHandler {
  return (name) =>
    new SafetensorsFormatError(
      `${where}: the index maps ${JSON.stringify(name)} to ${JSON.stringify(file)}, but that shard has no such tensor.`,
      name,
    );
}
