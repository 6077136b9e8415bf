import { existsSync } from 'node:fs';
import {
  activeWebGPUAdapter,
  type BackendPreference,
  formatWebGPUAdapter,
} from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { GPT2, resolvePretrainedName } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { PatchLensError } from '@patchlens/tensor-hooks';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { UsageError } from './usage-error.js';

/** The started backend and the loaded model. */
export interface LoadedModel {
  readonly backend: string;
  readonly model: GPT2;
}

/**
 * Starts the backend (printing its name, and for webgpu its adapter, on stderr) and loads a
 * GPT-2 checkpoint, with a progress bar: `ioi` (the bundled IOI model, `@patchlens/ioi-model`), a
 * folder, an http(s) URL, or a TransformerLens name / Hugging Face id (`gpt2`, `user/repo@revision`)
 * that is not a folder here.
 */
export async function loadModel(
  io: CommandIO,
  source: string,
  options: { backend: BackendPreference; processWeights: boolean },
): Promise<LoadedModel> {
  let backend: string;
  try {
    backend = await initNodeBackend(options.backend);
  } catch (error) {
    if (!PatchLensError.isInstance(error)) throw error;
    // the backend's reason says how to get it (npm i webgpu, npm i @tensorflow/tfjs-node)
    const reason = (error as Error).message.replace(/^initNodeBackend: /, '');
    throw new UsageError(`--backend ${options.backend} could not start: ${reason}`, {
      cause: error,
    });
  }
  const adapter = activeWebGPUAdapter();
  io.stderr.write(
    `backend: ${backend}${adapter ? ` (adapter: ${formatWebGPUAdapter(adapter)})` : ''}\n`,
  );
  const report = progressReporter(io, 'loading weights');
  const onProgress = ({ loadedBytes, totalBytes }: { loadedBytes: number; totalBytes?: number }) =>
    report(loadedBytes, totalBytes ?? loadedBytes);
  const loadOptions = { processWeights: options.processWeights, onProgress };
  const remote =
    /^https?:\/\//i.test(source) ||
    (!existsSync(source) && resolvePretrainedName(source) !== undefined);
  const model =
    source === 'ioi' && !existsSync(source)
      ? await loadGPT2FromFolder(ioiModelFolder, loadOptions)
      : remote
        ? await GPT2.fromPretrained(source, loadOptions)
        : await loadGPT2FromFolder(source, loadOptions);
  return { backend, model };
}
