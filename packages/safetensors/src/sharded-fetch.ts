import { downloadWhole } from './http-source.js';
import {
  type FetchSafetensorsOptions,
  fetchFile,
  httpContext,
  resolveUrl,
} from './safetensors-fetch.js';
import type { SafetensorsTensor } from './safetensors-types.js';
import {
  groupTensorsByShard,
  MAX_INDEX_BYTES,
  missingFromShard,
  parseShardedIndexBytes,
  type ShardedSafetensors,
} from './sharded-index.js';

/**
 * Reads a sharded checkpoint from its `model.safetensors.index.json` URL: fetches the index,
 * then each shard it needs (resolved relative to the index URL), one shard at a time.
 *
 * Without `tensorNames` every shard is downloaded whole (one request each); with
 * `tensorNames` only the shards holding them are read, with Range requests.
 *
 * @param indexUrl - absolute URL of the index file
 * @param options - as for {@link fetchSafetensors}; `onProgress` reports per shard, with the
 *   shard's URL as third argument
 * @throws SafetensorsFormatError for a malformed index or shard, or a tensor missing from its shard
 * @throws InvalidArgumentError for a tensor name the index does not list
 *
 * Limitations: shards are fetched sequentially.
 *
 * @example
 * ```ts
 * import { fetchShardedSafetensors } from '@patchlens/safetensors';
 * const { tensors } = await fetchShardedSafetensors(
 *   'https://example.com/gpt2-xl/model.safetensors.index.json',
 *   { onProgress: (loaded, total, url) => console.log(url, loaded, total) },
 * );
 * ```
 */
export async function fetchShardedSafetensors(
  indexUrl: string | URL,
  options: FetchSafetensorsOptions = {},
): Promise<ShardedSafetensors> {
  const where = `fetchShardedSafetensors(${JSON.stringify(String(indexUrl))})`;
  const base = resolveUrl(indexUrl, where);
  const indexBytes = await downloadWhole(
    httpContext(base, { ...options, onProgress: undefined }, where),
    undefined,
    MAX_INDEX_BYTES,
  );
  const index = parseShardedIndexBytes(indexBytes, where);
  const byShard = groupTensorsByShard(index, options.tensorNames, where);
  const shardOptions: FetchSafetensorsOptions = {
    ...options,
    // All tensors wanted: whole shards in one request each (unless the caller chose a mode).
    mode: options.mode ?? (options.tensorNames === undefined ? 'full' : 'auto'),
  };
  const tensors = new Map<string, SafetensorsTensor>();
  const shardMetadata = new Map<string, Record<string, string>>();
  for (const [file, names] of byShard) {
    const shardUrl = new URL(file.split('/').map(encodeURIComponent).join('/'), base);
    const shardWhere = `${where} shard ${JSON.stringify(file)}`;
    const shard = await fetchFile(
      httpContext(shardUrl, shardOptions, shardWhere),
      { ...shardOptions, tensorNames: names },
      missingFromShard(shardWhere, file),
    );
    shardMetadata.set(file, shard.metadata);
    for (const [name, tensor] of shard.tensors) tensors.set(name, tensor);
  }
  return { metadata: index.metadata, shardMetadata, tensors };
}
