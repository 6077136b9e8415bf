import { open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, SafetensorsFormatError } from '@patchlens/errors';
import { readFileFromSource, readHeaderFromSource } from './byte-source.js';
import { withFileByteSource } from './file-byte-source.js';
import type {
  ReadSafetensorsOptions,
  SafetensorsFile,
  SafetensorsHeader,
  SafetensorsTensor,
} from './safetensors-types.js';
import {
  encodeTensor,
  planSafetensorsLayout,
  type SafetensorsTensorInputs,
  type WriteSafetensorsOptions,
} from './safetensors-writer.js';
import {
  groupTensorsByShard,
  MAX_INDEX_BYTES,
  missingFromShard,
  parseShardedIndexBytes,
  type ShardedSafetensors,
} from './sharded-index.js';

/**
 * Reads a `.safetensors` file from disk (Node): the header first, then each wanted tensor's
 * bytes at its offset, so neither the whole file nor unwanted tensors are loaded.
 *
 * @param path - the file's path
 * @param options - `tensorNames`: read only these (default: all)
 * @throws SafetensorsFormatError when the file is malformed (message names the tensor)
 * @throws InvalidArgumentError when the file cannot be opened or lacks a requested tensor
 *
 * @example
 * ```ts
 * import { readSafetensorsFile } from '@patchlens/safetensors/node';
 * const { tensors } = await readSafetensorsFile('gpt2/model.safetensors', { tensorNames: ['wte.weight'] });
 * ```
 */
export async function readSafetensorsFile(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const where = `readSafetensorsFile(${JSON.stringify(path)})`;
  return withFileByteSource(path, where, (source) =>
    readFileFromSource(source, options.tensorNames, where),
  );
}

/**
 * Reads only the header of a `.safetensors` file on disk (Node): metadata and each tensor's
 * dtype, shape and offsets.
 *
 * @param path - the file's path
 * @throws SafetensorsFormatError when the header is malformed or does not match the file size
 *
 * @example
 * ```ts
 * const header = await readSafetensorsFileHeader('gpt2/model.safetensors');
 * console.log(header.tensors.size, header.metadata);
 * ```
 */
export async function readSafetensorsFileHeader(path: string): Promise<SafetensorsHeader> {
  const where = `readSafetensorsFileHeader(${JSON.stringify(path)})`;
  return withFileByteSource(path, where, (source) => readHeaderFromSource(source, where));
}

/**
 * Options of {@link readShardedSafetensors}.
 *
 * @example
 * ```ts
 * await readShardedSafetensors('gpt2-xl', { tensorNames: ['wte.weight'] });
 * ```
 */
export interface ReadShardedSafetensorsOptions extends ReadSafetensorsOptions {
  /** Index file name used when `path` is a folder. Default `'model.safetensors.index.json'`. */
  readonly indexFileName?: string;
}

/**
 * Reads a sharded checkpoint from disk (Node): the index (`weight_map`: tensor -> shard file),
 * then from each shard only the tensors it is listed for (or those requested).
 *
 * @param path - the checkpoint folder, or the index file itself
 * @param options - `tensorNames` (default: all mapped tensors), `indexFileName`
 *   (default `'model.safetensors.index.json'`)
 * @throws SafetensorsFormatError for a malformed index or shard, or a tensor missing from its shard
 * @throws InvalidArgumentError when files cannot be opened or a requested name is not in the index
 *
 * @example
 * ```ts
 * import { readShardedSafetensors } from '@patchlens/safetensors/node';
 * const { tensors, metadata } = await readShardedSafetensors('checkpoints/gpt2-xl');
 * ```
 */
export async function readShardedSafetensors(
  path: string,
  options: ReadShardedSafetensorsOptions = {},
): Promise<ShardedSafetensors> {
  const where = `readShardedSafetensors(${JSON.stringify(path)})`;
  let indexPath = path;
  let indexSize: number;
  try {
    const stats = await stat(path);
    if (stats.isDirectory()) {
      indexPath = join(path, options.indexFileName ?? 'model.safetensors.index.json');
      indexSize = (await stat(indexPath)).size;
    } else {
      indexSize = stats.size;
    }
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: cannot read the index ${JSON.stringify(indexPath)} (${(error as Error).message}).`,
      { cause: error },
    );
  }
  if (indexSize > MAX_INDEX_BYTES) {
    throw new SafetensorsFormatError(
      `${where}: the index is ${indexSize} bytes, over the ${MAX_INDEX_BYTES}-byte limit.`,
    );
  }
  const bytes = await readFile(indexPath);
  const index = parseShardedIndexBytes(bytes, where);
  const folder = dirname(indexPath);
  const tensors = new Map<string, SafetensorsTensor>();
  const shardMetadata = new Map<string, Record<string, string>>();
  for (const [file, names] of groupTensorsByShard(index, options.tensorNames, where)) {
    const shardWhere = `${where} shard ${JSON.stringify(file)}`;
    const shard = await withFileByteSource(join(folder, file), shardWhere, (source) =>
      readFileFromSource(source, names, shardWhere, missingFromShard(shardWhere, file)),
    );
    shardMetadata.set(file, shard.metadata);
    for (const [name, tensor] of shard.tensors) tensors.set(name, tensor);
  }
  return { metadata: index.metadata, shardMetadata, tensors };
}

/**
 * Writes tensors and metadata to a `.safetensors` file (Node), tensor by tensor, so the
 * file may be larger than one JavaScript buffer. Same layout as `writeSafetensors`: readable
 * by Python's `safetensors.numpy.load_file`. On failure the partial file is removed.
 *
 * @param path - the file to create or replace
 * @param tensors - tensors by name (Map or object); each `{ shape, data, dtype? }`
 * @param options - `metadata`: the `__metadata__` string map (default: none)
 * @throws InvalidArgumentError / ShapeMismatchError for invalid tensors (before anything is written)
 *
 * @example
 * ```ts
 * import { writeSafetensorsFile } from '@patchlens/safetensors/node';
 * await writeSafetensorsFile('out.safetensors', { logits: { shape: [1, 3], data: new Float32Array([1, 2, 3]) } });
 * ```
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: SafetensorsTensorInputs,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  const where = `writeSafetensorsFile(${JSON.stringify(path)})`;
  const layout = planSafetensorsLayout(tensors, options, where);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'w');
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: cannot create ${JSON.stringify(path)} (${(error as Error).message}).`,
      { cause: error },
    );
  }
  const writeAll = async (bytes: Uint8Array) => {
    let written = 0;
    while (written < bytes.length) {
      const result = await handle.write(bytes, written, bytes.length - written);
      written += result.bytesWritten;
    }
  };
  try {
    await writeAll(layout.head);
    for (const tensor of layout.tensors) await writeAll(encodeTensor(tensor, where));
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw error;
  }
}
