import { GPT2, type GPT2LoadProgress } from '@patchlens/models-gpt2';

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
  readonly model: GPT2;
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
 * Loads a GPT-2 checkpoint in the page: the bundled model by URL, or the files of a picked folder
 * (`config.json` plus `model.safetensors` or a sharded index and its shards; other files are ignored).
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
    return { model, name: 'the bundled IOI model', bundled: true };
  }
  const model = await GPT2.fromPretrained([...source.files], options);
  return { model, name: folderName(source.files), bundled: false };
}
