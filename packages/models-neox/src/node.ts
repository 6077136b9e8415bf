// Node entry point of @patchlens/models-neox: load a checkpoint folder from disk (uses node:fs).
import type { DecoderModel } from '@patchlens/decoder';
import { type LoadFolderOptions, loadDecoderFromFolder } from '@patchlens/decoder/node';
import { NEOX_FAMILY } from './neox-family.js';

/**
 * Loads a GPT-NeoX (Pythia) Hugging Face folder (config.json, model.safetensors or a sharded
 * index, tokenizer.json when present), processed as TransformerLens's `from_pretrained` unless
 * `processWeights: false`.
 *
 * @example
 * ```ts
 * import { loadNeoXFromFolder } from '@patchlens/models-neox/node';
 * const model = await loadNeoXFromFolder('models/pythia-70m', { processWeights: false });
 * ```
 */
export function loadNeoXFromFolder(
  path: string,
  options: LoadFolderOptions = {},
): Promise<DecoderModel> {
  return loadDecoderFromFolder(path, [NEOX_FAMILY], options);
}
