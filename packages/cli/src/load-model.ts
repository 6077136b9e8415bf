import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  activeWebGPUAdapter,
  type BackendPreference,
  formatWebGPUAdapter,
} from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { type DecoderModel, loadDecoder } from '@patchlens/decoder';
import { loadDecoderFromFolder } from '@patchlens/decoder/node';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { GPT2, resolvePretrainedName } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { LLAMA_FAMILY } from '@patchlens/models-llama';
import { NEOX_FAMILY } from '@patchlens/models-neox';
import { PatchLensError } from '@patchlens/tensor-hooks';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { UsageError } from './usage-error.js';

/** A model the commands run: GPT-2, or a family on the shared decoder (Llama architecture, GPT-NeoX). */
export type CliModel = GPT2 | DecoderModel;

/** The started backend and the loaded model. */
export interface LoadedModel {
  readonly backend: string;
  readonly model: CliModel;
}

/** The decoder families a folder's config.json may name (GPT-2 has its own package). */
const DECODER_FAMILIES = [LLAMA_FAMILY, NEOX_FAMILY];

/** config.json text (from a folder or a URL's folder), or undefined when it cannot be read. */
async function readConfigText(source: string): Promise<string | undefined> {
  try {
    if (!/^https?:\/\//i.test(source)) return await readFile(join(source, 'config.json'), 'utf8');
    const response = await fetch(
      new URL('config.json', source.endsWith('/') ? source : `${source}/`),
    );
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Whether config.json names GPT-2 (absent or unreadable: GPT-2's loader reports the problem). */
function isGPT2Config(text: string | undefined): boolean {
  let json: { architectures?: unknown; model_type?: unknown };
  try {
    json = JSON.parse(text ?? '');
  } catch {
    return true;
  }
  const architecture = Array.isArray(json.architectures) ? json.architectures[0] : undefined;
  if (architecture === undefined && json.model_type === undefined) return true;
  return architecture === 'GPT2LMHeadModel' || json.model_type === 'gpt2';
}

/**
 * Starts the backend (printing its name, and for webgpu its adapter, on stderr) and loads a
 * checkpoint from a folder or an http(s) URL of one — GPT-2, Llama architecture or GPT-NeoX:
 * config.json's `architectures`/`model_type` picks — with a progress bar. `ioi` is the bundled IOI
 * model (`@patchlens/ioi-model`); a TransformerLens name or Hugging Face id (`gpt2`,
 * `user/repo@revision`) that is not a folder here loads from the Hugging Face Hub.
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
  const local = /^https?:\/\//i.test(source) || existsSync(source);
  const pretrained = local ? undefined : resolvePretrainedName(source);
  const location = !local && source === 'ioi' ? ioiModelFolder : (pretrained?.url ?? source);
  const isUrl = /^https?:\/\//i.test(location);
  let model: CliModel;
  if (isGPT2Config(await readConfigText(location))) {
    // a model name goes to GPT2.fromPretrained as given: its errors then name it and the Hub URL
    model = isUrl
      ? await GPT2.fromPretrained(pretrained ? source : location, loadOptions)
      : await loadGPT2FromFolder(location, loadOptions);
  } else {
    model = isUrl
      ? await loadDecoder(location, DECODER_FAMILIES, loadOptions)
      : await loadDecoderFromFolder(location, DECODER_FAMILIES, loadOptions);
  }
  return { backend, model };
}
