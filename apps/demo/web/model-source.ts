import { type DecoderModel, loadDecoder } from '@patchlens/decoder';
import { GPT2, type GPT2LoadProgress } from '@patchlens/models-gpt2';
import { LLAMA_FAMILY } from '@patchlens/models-llama';
import { NEOX_FAMILY } from '@patchlens/models-neox';
import type { IoiTokenizer } from '../src/ioi/ioi-batch.js';

/**
 * Where a model comes from: the bundled IOI model (served at `model/`) or a folder the user picked.
 *
 * @example
 * ```ts
 * const source: ModelSource = { kind: 'files', files: [...input.files!] };
 * ```
 */
export type ModelSource =
  | { readonly kind: 'bundled' }
  | { readonly kind: 'files'; readonly files: readonly File[] };

/**
 * A loaded model and how to describe it.
 *
 * @example
 * ```ts
 * const { model, name, bundled }: LoadedModel = await loadModel({ kind: 'bundled' });
 * ```
 */
export interface LoadedModel {
  /** GPT-2, or a Llama-architecture / GPT-NeoX checkpoint on the shared decoder. */
  readonly model: GPT2 | DecoderModel;
  /** The prompts' tokenizer (BOS first, as the IOI prompts are built). */
  readonly tokenizer: IoiTokenizer;
  /** `the bundled IOI model` or the picked folder's name. */
  readonly name: string;
  /** Whether this is the bundled IOI model (its held-out IOI prompts apply). */
  readonly bundled: boolean;
}

/**
 * URL of the bundled model's folder, next to the page (Vite serves and copies `packages/ioi-model/model` there).
 *
 * @example
 * ```ts
 * await GPT2.fromPretrained(bundledModelUrl());
 * ```
 */
export function bundledModelUrl(): URL {
  return new URL('model/', document.baseURI);
}

/** The folder name of files picked with `<input webkitdirectory>` (`gpt2/config.json` gives `gpt2`). */
function folderName(files: readonly File[]): string {
  const path = files[0]?.webkitRelativePath ?? '';
  return path.includes('/') ? path.slice(0, path.indexOf('/')) : 'the picked files';
}

/**
 * Loads a checkpoint in the page: the bundled model by URL, or the files of a picked folder
 * (`config.json` plus `model.safetensors` or a sharded index and its shards; GPT-2, or — with
 * `tokenizer.json` — a Llama-architecture or GPT-NeoX folder, picked by config.json).
 *
 * @param source - see {@link ModelSource}.
 * @param onProgress - called as weights arrive (`loadedBytes`, `totalBytes`, `file`); default none.
 * @throws the loader's errors (WeightMappingError, SafetensorsFormatError, ...) unchanged.
 * @example
 * ```ts
 * const { model } = await loadModel({ kind: 'bundled' }, ({ loadedBytes }) => console.log(loadedBytes));
 * ```
 */
export async function loadModel(
  source: ModelSource,
  onProgress?: (progress: GPT2LoadProgress) => void,
): Promise<LoadedModel> {
  const options = onProgress ? { onProgress } : {};
  if (source.kind === 'bundled') {
    const model = await GPT2.fromPretrained(bundledModelUrl(), {
      ...options,
      requestInit: { cache: 'no-store' },
    });
    return { model, tokenizer: model.tokenizer, name: 'the bundled IOI model', bundled: true };
  }
  const name = folderName(source.files);
  const config = source.files.find((file) => file.name === 'config.json');
  const json = config ? JSON.parse(await config.text()) : {};
  const architecture = Array.isArray(json.architectures) ? json.architectures[0] : undefined;
  if (!config || architecture === 'GPT2LMHeadModel' || json.model_type === 'gpt2') {
    const model = await GPT2.fromPretrained([...source.files], options);
    return { model, tokenizer: model.tokenizer, name, bundled: false };
  }
  // Llama architecture (Llama, Mistral, Qwen2) or GPT-NeoX (Pythia): config.json picks the family.
  const model = await loadDecoder([...source.files], [LLAMA_FAMILY, NEOX_FAMILY], options);
  const tokenizer = model.tokenizer;
  const bosTokenId = tokenizer?.bosTokenId;
  if (!tokenizer || bosTokenId === undefined) {
    model.dispose();
    throw new Error(
      `${name} has ${tokenizer ? 'no BOS token (config.json bos_token_id)' : 'no tokenizer.json'}; pick a checkpoint folder with tokenizer.json.`,
    );
  }
  return {
    model,
    tokenizer: {
      bosTokenId,
      encode: (text) => tokenizer.encode(text),
      toSingleToken: (text) => tokenizer.toSingleToken(text),
    },
    name,
    bundled: false,
  };
}
