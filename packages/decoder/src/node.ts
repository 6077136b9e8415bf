// Node entry point of @patchlens/decoder: load a Hugging Face checkpoint folder from disk (uses node:fs).
// The main entry ('@patchlens/decoder') imports nothing platform-specific.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseShardedIndex, type SafetensorsTensor } from '@patchlens/safetensors';
import {
  readSafetensorsFile,
  readSafetensorsFileHeader,
  readShardedSafetensors,
} from '@patchlens/safetensors/node';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { pickFamily } from './config-fields.js';
import type { DecoderFamily } from './decoder-family.js';
import { type DecoderLoadOptions, DecoderModel } from './decoder-model.js';
import { HuggingFaceTokenizer } from './huggingface-tokenizer.js';
import { checkModelFits } from './size-limits.js';
import { checkDecoderTensorNames } from './weight-table.js';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  if (!(await exists(path))) return undefined;
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/**
 * Options of {@link loadDecoderFromFolder}.
 *
 * @example
 * ```ts
 * await loadDecoderFromFolder('models/pythia-70m', [NEOX_FAMILY], { processWeights: false });
 * ```
 */
export interface LoadFolderOptions extends Omit<DecoderLoadOptions, 'tokenizer'> {
  /** Called after each weights file is read. */
  readonly onProgress?: (progress: {
    loadedBytes: number;
    totalBytes: number;
    file: string;
  }) => void;
}

/**
 * Loads a Hugging Face checkpoint folder (Node): `config.json` picks the family among `families`
 * (by `architectures`, then `model_type`); `model.safetensors` or a sharded
 * `model.safetensors.index.json` holds the weights (names and shapes checked against the family's
 * table from the header, and the size against the backend, before the weights are read);
 * `tokenizer.json` (+ `tokenizer_config.json`), when present, becomes the model's tokenizer.
 *
 * @throws InvalidArgumentError for a missing config.json or weights, an unsupported family or
 *   config field (named), a model too large for wasm; WeightMappingError for tensors that do not match.
 * @example
 * ```ts
 * import { loadDecoderFromFolder } from '@patchlens/decoder/node';
 * const model = await loadDecoderFromFolder('models/TinyLlama', [LLAMA_FAMILY]);
 * ```
 */
export async function loadDecoderFromFolder(
  path: string,
  families: readonly DecoderFamily[],
  options: LoadFolderOptions = {},
): Promise<DecoderModel> {
  const where = `loadDecoderFromFolder(${JSON.stringify(path)})`;
  let configText: string;
  try {
    configText = await readFile(join(path, 'config.json'), 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: cannot read config.json in the folder (${(error as Error).message}); a checkpoint folder holds config.json and model.safetensors.`,
      { cause: error },
    );
  }
  const family = pickFamily(configText, families, where);
  const tableOptions = family.readConfig(configText);
  checkModelFits(tableOptions.config, {
    tiedEmbeddings: tableOptions.tiedEmbeddings,
    backend: tf.getBackend(),
    where,
  });
  const singlePath = join(path, 'model.safetensors');
  const indexPath = join(path, 'model.safetensors.index.json');
  let tensors: Map<string, SafetensorsTensor>;
  const wanted = (stored: Map<string, readonly number[] | undefined>) =>
    checkDecoderTensorNames(
      family.weightTable,
      tableOptions,
      stored,
      family.ignoredTensors,
      where,
    ).map((entry) => entry.name);
  if (await exists(singlePath)) {
    const header = await readSafetensorsFileHeader(singlePath);
    const names = wanted(
      new Map([...header.tensors].map(([name, info]) => [name, info.shape] as const)),
    );
    tensors = (await readSafetensorsFile(singlePath, { tensorNames: names })).tensors;
    const size = (await stat(singlePath)).size;
    options.onProgress?.({ loadedBytes: size, totalBytes: size, file: singlePath });
  } else if (await exists(indexPath)) {
    const index = parseShardedIndex(await readFile(indexPath, 'utf8'));
    const names = wanted(new Map([...index.weightMap.keys()].map((name) => [name, undefined])));
    tensors = (await readShardedSafetensors(path, { tensorNames: names })).tensors;
    options.onProgress?.({ loadedBytes: 1, totalBytes: 1, file: indexPath });
  } else {
    throw new InvalidArgumentError(
      `${where}: the folder has neither model.safetensors nor model.safetensors.index.json.`,
    );
  }
  const tokenizerJson = await readJson(join(path, 'tokenizer.json'));
  const tokenizer = tokenizerJson
    ? HuggingFaceTokenizer.fromJson(tokenizerJson, {
        tokenizerConfig: await readJson(join(path, 'tokenizer_config.json')),
        bosTokenId: tableOptions.bosTokenId,
        defaultPrependBos: tableOptions.config.defaultPrependBos,
      })
    : undefined;
  return DecoderModel.fromHuggingFace(family, configText, tensors, {
    ...options,
    ...(tokenizer ? { tokenizer } : {}),
  });
}
