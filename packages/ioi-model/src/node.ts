import { fileURLToPath } from 'node:url';
import { ioiModelUrl } from './ioi-model-location.js';

export { IOI_MODEL_FILES, ioiModelUrl } from './ioi-model-location.js';

/**
 * Path of the folder that holds the IOI checkpoint (`config.json` + `model.safetensors`), for
 * `loadGPT2FromFolder` from `@patchlens/models-gpt2/node`. Ends with the path separator.
 *
 * @example
 * ```ts
 * import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
 * import { ioiModelFolder } from '@patchlens/ioi-model/node';
 * const model = await loadGPT2FromFolder(ioiModelFolder);
 * ```
 */
export const ioiModelFolder: string = fileURLToPath(ioiModelUrl);
