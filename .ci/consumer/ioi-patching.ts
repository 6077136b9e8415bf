// The TypeScript version of ioi-patching.mjs, type-checked (not run) by check.sh with
// `tsc --noEmit --strict --module nodenext --moduleResolution nodenext` against the installed tarballs.
import { writeFile } from 'node:fs/promises';
import type { BackendName } from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { PatchLensError } from '@patchlens/errors';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { type GPT2, resolvePretrainedName } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import {
  getActPatchAttnHeadOutAllPos,
  getActPatchResidPre,
  logitDiff,
  normalizedMetric,
  type PatchResult,
  preparePatching,
} from '@patchlens/patching';
import { readSafetensorsFileHeader } from '@patchlens/safetensors/node';
import type { HookName } from '@patchlens/tensor-hooks';
import { type Figure, patchHeatmap } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import { desc } from 'arquero';

const backend: BackendName = await initNodeBackend('auto');
const model: GPT2 = await loadGPT2FromFolder(ioiModelFolder);
const clean: tf.Tensor2D = model.toTokens(
  'When Mary and John went to the store, John gave a drink to',
);
const corrupted = model.toTokens('When Mary and John went to the store, Mary gave a drink to');
const metric = logitDiff({
  answers: model.toSingleToken(' Mary'),
  wrong: model.toSingleToken(' John'),
});

using prepared = await preparePatching(model, clean, corrupted, metric);
const normalized = normalizedMetric(metric, prepared);
const resid: PatchResult = await getActPatchResidPre(
  model,
  corrupted,
  prepared.cleanCache,
  normalized,
);
const heads = await getActPatchAttnHeadOutAllPos(model, corrupted, prepared.cleanCache, normalized);
const top: object[] = heads.toTable().orderby(desc('value')).slice(0, 3).objects();
const hook: HookName = 'blocks.0.hook_resid_pre';
const figure: Figure = patchHeatmap(resid, { tokens: model.toStrTokens(clean.arraySync()[0]!) });
await writeFile('resid_pre.svg', await figure.toSVG());
const header = await readSafetensorsFileHeader(`${ioiModelFolder}model.safetensors`);
console.log(backend, hook, top, header.tensors.size, resolvePretrainedName('gpt2')?.url);
try {
  model.toSingleToken(' Mary and');
} catch (error) {
  if (PatchLensError.isInstance(error)) console.error(error.message);
}
tf.dispose([clean, corrupted]);
model.dispose();
