import {
  fetchSafetensors,
  fetchSafetensorsHeader,
  fetchShardedSafetensors,
  parseShardedIndex,
  readSafetensorsBlob,
  type SafetensorsTensor,
} from '@patchlens/safetensors';
import { InvalidArgumentError, PatchLensError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { pickFamily } from './config-fields.js';
import type { DecoderFamily } from './decoder-family.js';
import { type DecoderLoadOptions, DecoderModel } from './decoder-model.js';
import { HuggingFaceTokenizer } from './huggingface-tokenizer.js';
import { checkModelFits } from './size-limits.js';
import { checkDecoderTensorNames } from './weight-table.js';

/**
 * Where a checkpoint is: a folder URL (holding `config.json`, `model.safetensors` or a sharded
 * index, and optionally `tokenizer.json` / `tokenizer_config.json`), or user-picked files
 * (`File[]`, a `FileList`, or blobs by file name).
 *
 * @example
 * ```ts
 * const source: DecoderCheckpointSource = input.files!;
 * ```
 */
export type DecoderCheckpointSource =
  | string
  | URL
  | readonly File[]
  | ArrayLike<File>
  | ReadonlyMap<string, Blob>;

/**
 * Options of {@link loadDecoder}.
 *
 * @example
 * ```ts
 * await loadDecoder(url, [LLAMA_FAMILY], { onProgress: ({ loadedBytes }) => console.log(loadedBytes) });
 * ```
 */
export interface LoadDecoderOptions extends Omit<DecoderLoadOptions, 'tokenizer'> {
  /** Called as weights arrive. */
  readonly onProgress?: (progress: {
    loadedBytes: number;
    totalBytes: number | undefined;
    file: string;
  }) => void;
  /** fetch for URL sources (default `globalThis.fetch`), and extra request options. */
  readonly fetch?: typeof globalThis.fetch;
  readonly requestInit?: RequestInit;
}

interface FileReader {
  /** A file's text, or undefined when absent. */
  text(name: string): Promise<string | undefined>;
  /** The weights whose names `wanted` picks from the stored shapes. */
  weights(
    wanted: (stored: Map<string, readonly number[] | undefined>) => string[],
  ): Promise<Map<string, SafetensorsTensor>>;
}

function urlReader(source: string | URL, options: LoadDecoderOptions): FileReader {
  const text = String(source);
  const base = new URL(
    text.endsWith('/') ? text : `${text}/`,
    (globalThis as { location?: { href?: string } }).location?.href,
  ).href;
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  const fetchOptions = {
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.requestInit ? { requestInit: options.requestInit } : {}),
  };
  const onProgress = options.onProgress
    ? (loadedBytes: number, totalBytes: number | undefined, file: string) =>
        options.onProgress?.({ loadedBytes, totalBytes, file })
    : undefined;
  return {
    async text(name) {
      const url = new URL(name, base).href;
      let response: Response;
      try {
        response = await fetchImplementation(url, options.requestInit);
      } catch (error) {
        throw new PatchLensError(
          `loadDecoder: fetching ${url} failed (${(error as Error).message}).`,
          { cause: error },
        );
      }
      return response.ok ? response.text() : undefined;
    },
    async weights(wanted) {
      const single = new URL('model.safetensors', base).href;
      let header: Awaited<ReturnType<typeof fetchSafetensorsHeader>>;
      try {
        header = await fetchSafetensorsHeader(single, fetchOptions);
      } catch (singleError) {
        const indexUrl = new URL('model.safetensors.index.json', base).href;
        const indexText = await this.text('model.safetensors.index.json');
        if (indexText === undefined) throw singleError;
        const names = wanted(
          new Map(
            [...parseShardedIndex(indexText).weightMap.keys()].map((name) => [name, undefined]),
          ),
        );
        return (
          await fetchShardedSafetensors(indexUrl, {
            ...fetchOptions,
            tensorNames: names,
            mode: 'full',
            ...(onProgress ? { onProgress } : {}),
          })
        ).tensors;
      }
      const names = wanted(
        new Map([...header.tensors].map(([name, info]) => [name, info.shape] as const)),
      );
      return (
        await fetchSafetensors(single, {
          ...fetchOptions,
          tensorNames: names,
          mode: 'full',
          ...(onProgress ? { onProgress } : {}),
        })
      ).tensors;
    },
  };
}

function blobReader(
  source: ArrayLike<File> | ReadonlyMap<string, Blob>,
  options: LoadDecoderOptions,
): FileReader {
  const blobs = new Map<string, Blob>();
  const entries: [string, unknown][] =
    source instanceof Map
      ? [...source]
      : Array.from(source as ArrayLike<File>).map((file) => [file?.name, file]);
  for (const [name, blob] of entries) {
    if (typeof Blob === 'undefined' || !(blob instanceof Blob)) {
      throw new InvalidArgumentError(
        `loadDecoder: the entry for ${JSON.stringify(name)} is not a Blob or File.`,
      );
    }
    // A folder picked with webkitdirectory gives "folder/config.json": keep the base name.
    blobs.set(String(name).split('/').pop()!, blob);
  }
  return {
    async text(name) {
      return blobs.get(name)?.text();
    },
    async weights(wanted) {
      let files: string[];
      const indexBlob = blobs.get('model.safetensors.index.json');
      if (blobs.has('model.safetensors')) files = ['model.safetensors'];
      else if (indexBlob)
        files = [...new Set(parseShardedIndex(await indexBlob.text()).weightMap.values())];
      else {
        throw new InvalidArgumentError(
          `loadDecoder: the files include neither model.safetensors nor model.safetensors.index.json (got ${[...blobs.keys()].join(', ')}).`,
        );
      }
      const totalBytes = files.reduce(
        (sum, file) => sum + (blobs.get(file.split('/').pop()!)?.size ?? 0),
        0,
      );
      let loadedBytes = 0;
      const tensors = new Map<string, SafetensorsTensor>();
      for (const file of files) {
        const blob = blobs.get(file.split('/').pop()!);
        if (!blob)
          throw new InvalidArgumentError(
            `loadDecoder: the index lists the shard ${JSON.stringify(file)}, which is not among the files.`,
          );
        for (const [name, tensor] of (await readSafetensorsBlob(blob)).tensors)
          tensors.set(name, tensor);
        loadedBytes += blob.size;
        options.onProgress?.({ loadedBytes, totalBytes, file });
      }
      const keep = new Set(
        wanted(new Map([...tensors].map(([name, tensor]) => [name, tensor.shape] as const))),
      );
      for (const name of [...tensors.keys()]) if (!keep.has(name)) tensors.delete(name);
      return tensors;
    },
  };
}

/**
 * Loads a Hugging Face checkpoint from a folder URL or picked files (browser and Node; for a
 * folder on disk use `loadDecoderFromFolder` from `@patchlens/decoder/node`): `config.json`
 * picks the family among `families`, the size is checked against the backend and the tensor
 * names/shapes against the family's table before the weights are built, `tokenizer.json` (when
 * present) becomes the tokenizer; processed as TransformerLens's `from_pretrained` unless
 * `processWeights: false`.
 *
 * @throws InvalidArgumentError for missing files, an unsupported family or config field (named),
 *   a model too large for wasm; WeightMappingError for tensors that do not match; PatchLensError
 *   for HTTP failures.
 * @example
 * ```ts
 * const model = await loadDecoder([...input.files!], [LLAMA_FAMILY, NEOX_FAMILY]);
 * ```
 */
export async function loadDecoder(
  source: DecoderCheckpointSource,
  families: readonly DecoderFamily[],
  options: LoadDecoderOptions = {},
): Promise<DecoderModel> {
  const where = 'loadDecoder';
  const reader =
    typeof source === 'string' || source instanceof URL
      ? urlReader(source, options)
      : blobReader(source as ArrayLike<File> | ReadonlyMap<string, Blob>, options);
  const configText = await reader.text('config.json');
  if (configText === undefined) {
    throw new InvalidArgumentError(
      `${where}: no config.json; a checkpoint holds config.json and model.safetensors.`,
    );
  }
  const family = pickFamily(configText, families, where);
  const tableOptions = family.readConfig(configText);
  checkModelFits(tableOptions.config, {
    tiedEmbeddings: tableOptions.tiedEmbeddings,
    backend: tf.getBackend(),
    where,
  });
  const tensors = await reader.weights((stored) =>
    checkDecoderTensorNames(
      family.weightTable,
      tableOptions,
      stored,
      family.ignoredTensors,
      where,
    ).map((entry) => entry.name),
  );
  const tokenizerText = await reader.text('tokenizer.json');
  const tokenizerConfigText = await reader.text('tokenizer_config.json');
  const tokenizer =
    tokenizerText === undefined
      ? undefined
      : HuggingFaceTokenizer.fromJson(tokenizerText, {
          ...(tokenizerConfigText === undefined
            ? {}
            : { tokenizerConfig: JSON.parse(tokenizerConfigText) }),
          ...(tableOptions.bosTokenId === undefined ? {} : { bosTokenId: tableOptions.bosTokenId }),
          defaultPrependBos: tableOptions.config.defaultPrependBos,
        });
  return DecoderModel.fromHuggingFace(family, configText, tensors, {
    ...options,
    ...(tokenizer ? { tokenizer } : {}),
  });
}
