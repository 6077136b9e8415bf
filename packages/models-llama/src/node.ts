// Node entry point of @patchlens/models-llama: load a checkpoint folder from disk (uses node:fs).
import type { DecoderModel } from '@patchlens/decoder';
import { type LoadFolderOptions, loadDecoderFromFolder } from '@patchlens/decoder/node';
import { LLAMA_FAMILY } from './llama-family.js';

/**
 * Loads a Llama-architecture Hugging Face folder (config.json, model.safetensors or a sharded
 * index, tokenizer.json when present), processed as TransformerLens's `from_pretrained` unless
 * `processWeights: false`.
 *
 * @example
 * ```ts
 * import { loadLlamaFromFolder } from '@patchlens/models-llama/node';
 * const model = await loadLlamaFromFolder('models/TinyLlama-1.1B', { processWeights: false });
 * ```
 */
export function loadLlamaFromFolder(
  path: string,
  options: LoadFolderOptions = {},
): Promise<DecoderModel> {
  return loadDecoderFromFolder(path, [LLAMA_FAMILY], options);
}
