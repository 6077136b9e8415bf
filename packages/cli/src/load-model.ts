import type { BackendPreference } from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { GPT2 } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { PatchLensError } from '@patchlens/tensor-hooks';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { UsageError } from './usage-error.js';

/** How to get a backend that did not start, in the user's terms. */
const BACKEND_ADVICE: Readonly<Partial<Record<BackendPreference, string>>> = {
  webgpu:
    'WebGPU in Node runs through Dawn: install the "webgpu" package next to PatchLens (npm i webgpu) on a machine with a GPU driver, or use --backend auto (the fastest backend that starts)',
  tensorflow:
    'install @tensorflow/tfjs-node (or -node-gpu) next to PatchLens, or use --backend auto',
};

/** The started backend and the loaded model. */
export interface LoadedModel {
  readonly backend: string;
  readonly model: GPT2;
}

/**
 * Starts the backend (printing its name on stderr) and loads a GPT-2 checkpoint from a folder or
 * an http(s) URL, with a progress bar.
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
    const reason = (error as Error).message.replace(/^initNodeBackend: /, '');
    const advice = BACKEND_ADVICE[options.backend];
    throw new UsageError(
      `--backend ${options.backend} could not start: ${reason}${advice === undefined ? '' : ` To get it: ${advice}.`}`,
      { cause: error },
    );
  }
  io.stderr.write(`backend: ${backend}\n`);
  const report = progressReporter(io, 'loading weights');
  const onProgress = ({ loadedBytes, totalBytes }: { loadedBytes: number; totalBytes?: number }) =>
    report(loadedBytes, totalBytes ?? loadedBytes);
  const loadOptions = { processWeights: options.processWeights, onProgress };
  const model = /^https?:\/\//i.test(source)
    ? await GPT2.fromPretrained(source, loadOptions)
    : await loadGPT2FromFolder(source, loadOptions);
  return { backend, model };
}
