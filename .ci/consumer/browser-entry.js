// A browser app's entry, bundled by bundle.mjs (esbuild, platform browser) from the installed
// tarballs. It must pull no Node built-in out of any @patchlens/* package.
import { ActivationCache } from '@patchlens/activation-cache';
import { initBrowserBackend } from '@patchlens/backends/browser';
import { loadDecoder } from '@patchlens/decoder';
import { PatchLensError } from '@patchlens/errors';
import { IOI_MODEL_FILES } from '@patchlens/ioi-model';
import { GPT2 } from '@patchlens/models-gpt2';
import { LLAMA_FAMILY } from '@patchlens/models-llama';
import { NEOX_FAMILY } from '@patchlens/models-neox';
import {
  getActPatchAttnHeadOutAllPos,
  getActPatchResidPre,
  logitDiff,
  normalizedMetric,
  preparePatching,
} from '@patchlens/patching';
import { readSafetensors } from '@patchlens/safetensors';
import { HookRegistry } from '@patchlens/tensor-hooks';
import { patchHeatmap } from '@patchlens/viz';

/** A Llama-architecture or GPT-NeoX folder URL, on the shared decoder. */
export function loadOtherFamily(url) {
  return loadDecoder(url, [LLAMA_FAMILY, NEOX_FAMILY]);
}

export async function run(element, modelUrl = './model/') {
  try {
    await initBrowserBackend('auto');
    const model = await GPT2.fromPretrained(modelUrl);
    const clean = model.toTokens('When Mary and John went to the store, John gave a drink to');
    const corrupted = model.toTokens('When Mary and John went to the store, Mary gave a drink to');
    const metric = logitDiff({
      answers: model.toSingleToken(' Mary'),
      wrong: model.toSingleToken(' John'),
    });
    const prepared = await preparePatching(model, clean, corrupted, metric);
    const normalized = normalizedMetric(metric, prepared);
    const resid = await getActPatchResidPre(model, corrupted, prepared.cleanCache, normalized);
    const heads = await getActPatchAttnHeadOutAllPos(
      model,
      corrupted,
      prepared.cleanCache,
      normalized,
    );
    prepared.dispose();
    await patchHeatmap(resid, { tokens: model.toStrTokens(clean.arraySync()[0]) }).mount(element);
    await patchHeatmap(heads).mount(element);
    return { files: IOI_MODEL_FILES, ActivationCache, HookRegistry, readSafetensors };
  } catch (error) {
    if (PatchLensError.isInstance(error)) element.textContent = error.message;
    throw error;
  }
}
