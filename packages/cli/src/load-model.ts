import {
  activeWebGPUAdapter,
  type BackendPreference,
  formatWebGPUAdapter,
} from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { GPT2 } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { type CommandIO, progressReporter } from './progress-reporter.js';

/** The started backend and the loaded model. */
export interface LoadedModel {
  readonly backend: string;
  readonly model: GPT2;
}

/**
 * Starts the backend (printing its name, and for webgpu its adapter, on stderr) and loads a
 * GPT-2 checkpoint from a folder or an http(s) URL, with a progress bar.
 */
export async function loadModel(
  io: CommandIO,
  source: string,
  options: { backend: BackendPreference; processWeights: boolean },
): Promise<LoadedModel> {
  const backend = await initNodeBackend(options.backend);
  const adapter = activeWebGPUAdapter();
  io.stderr.write(
    `backend: ${backend}${adapter ? ` (adapter: ${formatWebGPUAdapter(adapter)})` : ''}\n`,
  );
  const report = progressReporter(io, 'loading weights');
  const onProgress = ({ loadedBytes, totalBytes }: { loadedBytes: number; totalBytes?: number }) =>
    report(loadedBytes, totalBytes ?? loadedBytes);
  const loadOptions = { processWeights: options.processWeights, onProgress };
  const model = /^https?:\/\//i.test(source)
    ? await GPT2.fromPretrained(source, loadOptions)
    : await loadGPT2FromFolder(source, loadOptions);
  return { backend, model };
}
