/**
 * URL of the folder that holds the IOI checkpoint (`config.json` + `model.safetensors`): a `file:`
 * URL in Node, or wherever your bundler puts this module. In Node, load it with
 * `loadGPT2FromFolder(ioiModelFolder)` (`ioiModelFolder` from `@patchlens/ioi-model/node`).
 * In a browser app, serve the package's `model/` folder and pass its URL to `GPT2.fromPretrained`.
 *
 * @example
 * ```ts
 * import { ioiModelUrl } from '@patchlens/ioi-model';
 * console.log(new URL('config.json', ioiModelUrl).href);
 * ```
 */
export const ioiModelUrl: URL = new URL('../model/', import.meta.url);

/**
 * The files of the checkpoint folder, as Hugging Face names them (copy these to serve the model).
 *
 * @example
 * ```ts
 * for (const file of IOI_MODEL_FILES) console.log(new URL(file, ioiModelUrl).href);
 * ```
 */
export const IOI_MODEL_FILES = ['config.json', 'model.safetensors'] as const;
