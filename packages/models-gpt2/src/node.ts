// Node entry point of @patchlens/models-gpt2: load a checkpoint from a folder on disk (uses node:fs).
// The main entry ('@patchlens/models-gpt2') imports nothing platform-specific.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseShardedIndex, type SafetensorsTensor } from '@patchlens/safetensors';
import {
  readSafetensorsFile,
  readSafetensorsFileHeader,
  readShardedSafetensors,
} from '@patchlens/safetensors/node';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import {
  checkDecoded,
  type GPT2Checkpoint,
  type GPT2LoadProgressCallback,
  namesToRead,
} from './checkpoint-reading.js';
import { GPT2, type GPT2LoadOptions } from './gpt2.js';
import { gpt2ConfigFromHuggingFace } from './gpt2-config.js';

/**
 * Options of {@link readGPT2CheckpointFolder}.
 *
 * @example
 * ```ts
 * await readGPT2CheckpointFolder('models/gpt2', { onProgress: ({ file }) => console.error(file) });
 * ```
 */
export interface ReadFolderOptions {
  /** Called after each weights file is read: `{ loadedBytes, totalBytes, file }`. Default: none. */
  readonly onProgress?: GPT2LoadProgressCallback;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a Hugging Face GPT-2 checkpoint from a folder on disk (Node): `config.json` and
 * `model.safetensors`, or `model.safetensors.index.json` with its shards. Names and shapes are
 * checked against the weight table before the weights are read; mask buffers are skipped.
 *
 * @param path - the checkpoint folder.
 * @param options.onProgress - called after each weights file (default none).
 * @throws InvalidArgumentError when config.json or the weights are missing; WeightMappingError for
 *   missing, mis-shaped or unknown tensors.
 * @example
 * ```ts
 * import { readGPT2CheckpointFolder } from '@patchlens/models-gpt2/node';
 * const { config, tensors } = await readGPT2CheckpointFolder('models/gpt2');
 * ```
 */
export async function readGPT2CheckpointFolder(
  path: string,
  options: ReadFolderOptions = {},
): Promise<GPT2Checkpoint> {
  const where = `readGPT2CheckpointFolder(${JSON.stringify(path)})`;
  let configText: string;
  try {
    configText = await readFile(join(path, 'config.json'), 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: cannot read config.json in the folder (${(error as Error).message}); a checkpoint folder holds config.json and model.safetensors.`,
      { cause: error },
    );
  }
  const config = gpt2ConfigFromHuggingFace(configText);
  const singlePath = join(path, 'model.safetensors');
  const indexPath = join(path, 'model.safetensors.index.json');
  let tensors: Map<string, SafetensorsTensor>;
  if (await exists(singlePath)) {
    const header = await readSafetensorsFileHeader(singlePath);
    const names = namesToRead(
      config,
      new Map([...header.tensors].map(([name, info]) => [name, info.shape] as const)),
    );
    tensors = (await readSafetensorsFile(singlePath, { tensorNames: names })).tensors;
    const size = (await stat(singlePath)).size;
    options.onProgress?.({ loadedBytes: size, totalBytes: size, file: singlePath });
  } else if (await exists(indexPath)) {
    const index = parseShardedIndex(await readFile(indexPath, 'utf8'));
    const names = namesToRead(
      config,
      new Map([...index.weightMap.keys()].map((name) => [name, undefined])),
    );
    tensors = (await readShardedSafetensors(path, { tensorNames: names })).tensors;
    options.onProgress?.({ loadedBytes: 1, totalBytes: 1, file: indexPath });
  } else {
    throw new InvalidArgumentError(
      `${where}: the folder has neither model.safetensors nor model.safetensors.index.json.`,
    );
  }
  checkDecoded(config, tensors);
  return { config, tensors };
}

/**
 * Loads a GPT-2 model from a Hugging Face checkpoint folder on disk (Node), processed like
 * TransformerLens's `from_pretrained` unless `processWeights: false`.
 *
 * @param path - the checkpoint folder (`config.json` + `model.safetensors` or a sharded index).
 * @param options.processWeights - true (default), false, or a choice of steps.
 * @param options.useAttnResult - expose `attn.hook_result` (default false).
 * @param options.onProgress - called after each weights file.
 * @example
 * ```ts
 * import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
 * const model = await loadGPT2FromFolder('models/gpt2', { processWeights: false });
 * ```
 */
export async function loadGPT2FromFolder(
  path: string,
  options: GPT2LoadOptions & ReadFolderOptions = {},
): Promise<GPT2> {
  const { config, tensors } = await readGPT2CheckpointFolder(path, options);
  return GPT2.fromWeights(config, tensors, options);
}
