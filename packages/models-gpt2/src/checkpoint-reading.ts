import {
  fetchSafetensors,
  fetchSafetensorsHeader,
  fetchShardedSafetensors,
  parseShardedIndex,
  readSafetensorsBlob,
  type SafetensorsTensor,
} from '@patchlens/safetensors';
import { InvalidArgumentError, PatchLensError, WeightMappingError } from '@patchlens/tensor-hooks';
import { type GPT2Config, gpt2ConfigFromHuggingFace } from './gpt2-config.js';
import {
  GPT2_PRETRAINED_NAMES,
  type PretrainedLocation,
  resolvePretrainedName,
} from './pretrained-names.js';
import { matchCheckpointNames } from './weight-mapping.js';

/**
 * Progress of a checkpoint load: bytes of weights read so far, of how many (when known), in which file.
 *
 * @example
 * ```ts
 * const onProgress = ({ loadedBytes, totalBytes, file }: GPT2LoadProgress) => console.error(file, loadedBytes, totalBytes);
 * ```
 */
export interface GPT2LoadProgress {
  readonly loadedBytes: number;
  readonly totalBytes: number | undefined;
  /** The URL or file name being read. */
  readonly file: string;
}

/**
 * Called as a checkpoint's weights are read.
 *
 * @example
 * ```ts
 * const onProgress: GPT2LoadProgressCallback = ({ loadedBytes }) => console.error(loadedBytes);
 * ```
 */
export type GPT2LoadProgressCallback = (progress: GPT2LoadProgress) => void;

/**
 * Options of {@link readGPT2Checkpoint}.
 *
 * @example
 * ```ts
 * await readGPT2Checkpoint(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
 * ```
 */
export interface ReadCheckpointOptions {
  /** Called as bytes arrive (URL sources: per chunk; files: per file). Default: none. */
  readonly onProgress?: GPT2LoadProgressCallback;
  /** The fetch to use for URL sources (default `globalThis.fetch`). */
  readonly fetch?: typeof globalThis.fetch;
  /** Extra request options for URL sources (e.g. an `Authorization` header). */
  readonly requestInit?: RequestInit;
  /** Cancels a URL load (rejects with `AbortError`). */
  readonly signal?: AbortSignal;
}

/**
 * A Hugging Face GPT-2 checkpoint as read: its config and its weight tensors by stored name.
 *
 * @example
 * ```ts
 * const { config, tensors }: GPT2Checkpoint = await readGPT2Checkpoint(files);
 * ```
 */
export interface GPT2Checkpoint {
  readonly config: GPT2Config;
  /** The weights (mask buffers left out), by the names the checkpoint stores them under. */
  readonly tensors: Map<string, SafetensorsTensor>;
}

/**
 * Where a checkpoint is: the URL of its folder (holding `config.json` and `model.safetensors` or
 * `model.safetensors.index.json` with its shards), or user-picked files (`File[]`, a `FileList`,
 * or blobs by file name).
 *
 * @example
 * ```ts
 * const source: GPT2CheckpointSource = (document.querySelector('input[type=file]') as HTMLInputElement).files!;
 * ```
 */
export type GPT2CheckpointSource =
  | string
  | URL
  | readonly File[]
  | ArrayLike<File>
  | ReadonlyMap<string, Blob>
  | Readonly<Record<string, Blob>>;

const CONFIG_FILE = 'config.json';
const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

/** Names to read: every stored name the weight table maps (mask buffers left out). */
export function namesToRead(
  config: GPT2Config,
  shapes: ReadonlyMap<string, readonly number[] | undefined>,
): string[] {
  return [...matchCheckpointNames(config, shapes).stored.values()];
}

/** Checks the decoded tensors against the table (shapes; they may come from an index without shapes). */
export function checkDecoded(config: GPT2Config, tensors: Map<string, SafetensorsTensor>): void {
  matchCheckpointNames(config, new Map([...tensors].map(([name, t]) => [name, t.shape] as const)));
  for (const [name, tensor] of tensors) {
    if (!(tensor.data instanceof Float32Array)) {
      throw new WeightMappingError(
        `readGPT2Checkpoint: tensor "${name}" is stored as ${tensor.dtype}; GPT-2 weights must be floating point (F32, F16, BF16).`,
      );
    }
  }
}

function folderUrl(source: string | URL): { url: string; pretrained?: PretrainedLocation } {
  const text = String(source);
  if (/\.(safetensors|json)$/.test(text)) {
    throw new InvalidArgumentError(
      `readGPT2Checkpoint: ${JSON.stringify(text)} looks like a file; pass the URL of the folder that holds config.json and the weights (e.g. https://huggingface.co/openai-community/gpt2/resolve/main), or a model name such as "gpt2".`,
    );
  }
  const pretrained = typeof source === 'string' ? resolvePretrainedName(source) : undefined;
  if (pretrained) return { url: pretrained.url, pretrained };
  const folder = text.endsWith('/') ? text : `${text}/`;
  try {
    return {
      url: new URL(folder, (globalThis as { location?: { href?: string } }).location?.href).href,
    };
  } catch (error) {
    throw new InvalidArgumentError(
      `readGPT2Checkpoint: ${JSON.stringify(text)} is neither a URL nor a model name; accepted: a folder URL, a TransformerLens GPT-2 name (${Object.keys(GPT2_PRETRAINED_NAMES).join(', ')}) or a Hugging Face id ("user/repo", "user/repo@revision"). For a folder on disk in Node, use loadGPT2FromFolder from '@patchlens/models-gpt2/node'.`,
      { cause: error },
    );
  }
}

/** What to do when a model name's Hugging Face folder cannot be reached. */
function offlineHint(pretrained: PretrainedLocation): string {
  return ` ${JSON.stringify(pretrained.name)} is the Hugging Face repository ${pretrained.repo} at revision ${pretrained.revision}, fetched from ${pretrained.url}. Offline, or a private repository? Download its config.json and model.safetensors into a folder and load that instead: loadGPT2FromFolder('path/to/folder') from '@patchlens/models-gpt2/node' (CLI: --model path/to/folder), or pass the folder's URL; for a private repository pass requestInit with an Authorization header.`;
}

async function fetchJson(
  url: string,
  options: ReadCheckpointOptions,
  where: string,
): Promise<{ ok: true; json: unknown } | { ok: false; status: string }> {
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  if (typeof fetchImplementation !== 'function') {
    throw new InvalidArgumentError(`${where}: no fetch available; pass options.fetch.`);
  }
  let response: Response;
  try {
    response = await fetchImplementation(url, {
      ...options.requestInit,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    throw new PatchLensError(
      `${where}: fetching ${url} failed (${(error as Error)?.message ?? String(error)}).`,
      { cause: error },
    );
  }
  if (!response.ok) return { ok: false, status: `HTTP ${response.status} ${response.statusText}` };
  const text = await response.text();
  try {
    return { ok: true, json: JSON.parse(text) };
  } catch (error) {
    throw new InvalidArgumentError(`${where}: ${url} is not valid JSON.`, { cause: error });
  }
}

async function readFromUrl(
  source: string | URL,
  options: ReadCheckpointOptions,
): Promise<GPT2Checkpoint> {
  const where = 'readGPT2Checkpoint';
  const { url: base, pretrained } = folderUrl(source);
  const configUrl = new URL(CONFIG_FILE, base).href;
  let configResponse: Awaited<ReturnType<typeof fetchJson>>;
  try {
    configResponse = await fetchJson(configUrl, options, where);
  } catch (error) {
    if (!pretrained || !PatchLensError.isInstance(error) || options.signal?.aborted) throw error;
    throw new PatchLensError(`${error.message}${offlineHint(pretrained)}`, { cause: error });
  }
  if (!configResponse.ok) {
    throw new PatchLensError(
      `${where}: GET ${configUrl} answered ${configResponse.status}.${pretrained ? offlineHint(pretrained) : ''}`,
    );
  }
  const config = gpt2ConfigFromHuggingFace(configResponse.json);
  const fetchOptions = {
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.requestInit ? { requestInit: options.requestInit } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const onProgress = options.onProgress
    ? (loadedBytes: number, totalBytes: number | undefined, url: string) =>
        options.onProgress?.({ loadedBytes, totalBytes, file: url })
    : undefined;
  const singleUrl = new URL(SINGLE_FILE, base).href;
  let header: Awaited<ReturnType<typeof fetchSafetensorsHeader>>;
  try {
    header = await fetchSafetensorsHeader(singleUrl, fetchOptions);
  } catch (singleError) {
    const indexUrl = new URL(INDEX_FILE, base).href;
    const index = await fetchJson(indexUrl, options, where).catch(() => undefined);
    if (!index?.ok) throw singleError;
    const weightMap = parseShardedIndex(JSON.stringify(index.json)).weightMap;
    const names = namesToRead(
      config,
      new Map([...weightMap.keys()].map((name) => [name, undefined])),
    );
    const sharded = await fetchShardedSafetensors(indexUrl, {
      ...fetchOptions,
      tensorNames: names,
      mode: 'full',
      ...(onProgress ? { onProgress } : {}),
    });
    checkDecoded(config, sharded.tensors);
    return { config, tensors: sharded.tensors };
  }
  const names = namesToRead(
    config,
    new Map([...header.tensors].map(([name, info]) => [name, info.shape] as const)),
  );
  const file = await fetchSafetensors(singleUrl, {
    ...fetchOptions,
    tensorNames: names,
    mode: 'full',
    ...(onProgress ? { onProgress } : {}),
  });
  checkDecoded(config, file.tensors);
  return { config, tensors: file.tensors };
}

function blobsByName(source: unknown): Map<string, Blob> {
  const where = 'readGPT2Checkpoint';
  const byName = new Map<string, Blob>();
  const add = (name: string, blob: unknown) => {
    if (typeof Blob === 'undefined' || !(blob instanceof Blob)) {
      throw new InvalidArgumentError(
        `${where}: the entry for ${JSON.stringify(name)} is not a Blob or File.`,
      );
    }
    // A folder picked with webkitdirectory gives "folder/config.json": keep the base name.
    byName.set(name.split('/').pop()!, blob);
  };
  if (source instanceof Map) {
    for (const [name, blob] of source) add(String(name), blob);
  } else if (
    Array.isArray(source) ||
    (typeof source === 'object' && source !== null && 'length' in source)
  ) {
    for (const file of Array.from(source as ArrayLike<File>)) {
      if (typeof File === 'undefined' || !(file instanceof File)) {
        throw new InvalidArgumentError(
          `${where}: a list of files must hold File objects (with names).`,
        );
      }
      add(file.name, file);
    }
  } else if (typeof source === 'object' && source !== null) {
    for (const [name, blob] of Object.entries(source)) add(name, blob);
  }
  return byName;
}

/** Names and shapes from a safetensors blob's header (the reader validates the file itself later). */
async function blobTensorShapes(blob: Blob, file: string): Promise<Map<string, number[]>> {
  const where = `readGPT2Checkpoint(${JSON.stringify(file)})`;
  const prefix = new DataView(await blob.slice(0, 8).arrayBuffer());
  if (prefix.byteLength < 8) {
    throw new InvalidArgumentError(`${where}: the file is shorter than a safetensors header.`);
  }
  const length = Number(prefix.getBigUint64(0, true));
  if (!Number.isSafeInteger(length) || length > blob.size - 8) {
    throw new InvalidArgumentError(
      `${where}: the header length ${length} does not fit the file (${blob.size} bytes).`,
    );
  }
  let header: Record<string, { shape?: number[] }>;
  try {
    header = JSON.parse(await blob.slice(8, 8 + length).text());
  } catch (error) {
    throw new InvalidArgumentError(`${where}: the header is not valid JSON.`, { cause: error });
  }
  const shapes = new Map<string, number[]>();
  for (const [name, info] of Object.entries(header)) {
    if (name !== '__metadata__') shapes.set(name, info?.shape ?? []);
  }
  return shapes;
}

async function readFromBlobs(
  source: unknown,
  options: ReadCheckpointOptions,
): Promise<GPT2Checkpoint> {
  const where = 'readGPT2Checkpoint';
  const blobs = blobsByName(source);
  const configBlob = blobs.get(CONFIG_FILE);
  if (!configBlob) {
    throw new InvalidArgumentError(
      `${where}: the files include no config.json (got ${[...blobs.keys()].map((name) => JSON.stringify(name)).join(', ') || 'none'}); pick config.json with the weights.`,
    );
  }
  const config = gpt2ConfigFromHuggingFace(await configBlob.text());
  let files: [string, string[]][];
  const single = blobs.get(SINGLE_FILE);
  const indexBlob = blobs.get(INDEX_FILE);
  if (single) {
    files = [[SINGLE_FILE, namesToRead(config, await blobTensorShapes(single, SINGLE_FILE))]];
  } else if (indexBlob) {
    const weightMap = parseShardedIndex(await indexBlob.text()).weightMap;
    const names = namesToRead(
      config,
      new Map([...weightMap.keys()].map((name) => [name, undefined])),
    );
    const byShard = new Map<string, string[]>();
    for (const name of names) {
      const shard = weightMap.get(name)!;
      byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    }
    files = [...byShard];
  } else {
    throw new InvalidArgumentError(
      `${where}: the files include neither model.safetensors nor model.safetensors.index.json (got ${[...blobs.keys()].map((name) => JSON.stringify(name)).join(', ')}).`,
    );
  }
  const totalBytes = files.reduce(
    (sum, [file]) => sum + (blobs.get(file.split('/').pop()!)?.size ?? 0),
    0,
  );
  let loadedBytes = 0;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [file, names] of files) {
    const blob = blobs.get(file.split('/').pop()!);
    if (!blob) {
      throw new InvalidArgumentError(
        `${where}: the index lists the shard ${JSON.stringify(file)}, which is not among the picked files.`,
      );
    }
    const read = await readSafetensorsBlob(blob, { tensorNames: names });
    for (const [name, tensor] of read.tensors) tensors.set(name, tensor);
    loadedBytes += blob.size;
    options.onProgress?.({ loadedBytes, totalBytes, file });
  }
  checkDecoded(config, tensors);
  return { config, tensors };
}

/**
 * Reads a Hugging Face GPT-2 checkpoint (`config.json` + `model.safetensors`, or a sharded
 * `model.safetensors.index.json`) from a folder URL or from user-picked files, without tfjs.
 * Tensor names and shapes are checked against the weight table from the header before the
 * weights are downloaded; the causal-mask buffers are not read.
 *
 * @param source - folder URL (browser and Node), a model name (`gpt2`, `gpt2-medium`, ...,
 *   `distilgpt2`, TransformerLens's aliases) or Hugging Face id (`user/repo`, `user/repo@revision`),
 *   resolved by {@link resolvePretrainedName}; or `File[]` / `FileList` / blobs by file name.
 * @param options.onProgress - `{ loadedBytes, totalBytes, file }` as weights arrive (default none).
 * @param options.fetch - fetch implementation for URLs (default `globalThis.fetch`).
 * @param options.requestInit - extra request options (headers).
 * @param options.signal - abort signal.
 * @throws WeightMappingError for missing, mis-shaped or unknown tensors; InvalidArgumentError for
 *   a bad config or missing files; PatchLensError for HTTP failures.
 * @example
 * ```ts
 * const { config, tensors } = await readGPT2Checkpoint('https://huggingface.co/openai-community/gpt2/resolve/main');
 * ```
 */
export async function readGPT2Checkpoint(
  source: GPT2CheckpointSource,
  options: ReadCheckpointOptions = {},
): Promise<GPT2Checkpoint> {
  if (typeof source === 'string' || source instanceof URL) return readFromUrl(source, options);
  if (typeof source !== 'object' || source === null) {
    throw new InvalidArgumentError(
      `readGPT2Checkpoint: source is ${source === null ? 'null' : typeof source}; expected a folder URL, File[] / FileList, or blobs by file name (in Node, use loadGPT2FromFolder from '@patchlens/models-gpt2/node' for a folder path).`,
    );
  }
  return readFromBlobs(source, options);
}
