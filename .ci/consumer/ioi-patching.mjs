// A consumer's IOI patching script in plain JavaScript (Node >= 20, no `using`), run by check.sh
// against the packed tarballs. Exits non-zero when something is off.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { initNodeBackend } from '@patchlens/backends/node';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import {
  getActPatchAttnHeadOutAllPos,
  getActPatchResidPre,
  logitDiff,
  normalizedMetric,
  preparePatching,
} from '@patchlens/patching';
import { patchHeatmap } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import { desc } from 'arquero';

const backend = await initNodeBackend('auto');
// @patchlens/backends/node registers tfjs-core's gradients (bundled for Node): d(sum x^2)/dx = 2x.
const x = tf.tensor1d([1, -2, 3]);
const gradient = tf.grad((input) => tf.sum(tf.square(input)))(x);
assert.deepEqual(Array.from(gradient.dataSync()), [2, -4, 6]);
tf.dispose([x, gradient]);
const model = await loadGPT2FromFolder(ioiModelFolder);
const clean = model.toTokens('When Mary and John went to the store, John gave a drink to');
const corrupted = model.toTokens('When Mary and John went to the store, Mary gave a drink to');
const metric = logitDiff({
  answers: model.toSingleToken(' Mary'),
  wrong: model.toSingleToken(' John'),
});

const prepared = await preparePatching(model, clean, corrupted, metric);
const normalized = normalizedMetric(metric, prepared); // 0 = corrupted, 1 = clean
const resid = await getActPatchResidPre(model, corrupted, prepared.cleanCache, normalized);
const heads = await getActPatchAttnHeadOutAllPos(model, corrupted, prepared.cleanCache, normalized);
prepared.dispose();

const tokens = model.toStrTokens('When Mary and John went to the store, John gave a drink to');
assert.deepEqual(resid.shape, [model.config.nLayers, tokens.length]);
assert.deepEqual(heads.shape, [model.config.nLayers, model.config.nHeads]);
assert.ok(prepared.clean > prepared.corrupted, 'the IOI model prefers the indirect object');
// The prompts differ only at the second subject (S2): at layer 0, patching that position restores
// the clean run exactly (1) and patching any other position changes nothing (0).
const s2 = tokens.lastIndexOf(' John');
for (let pos = 0; pos < tokens.length; pos += 1) {
  assert.ok(Math.abs(resid.get(0, pos) - (pos === s2 ? 1 : 0)) < 1e-4, `resid_pre[0, ${pos}]`);
}

const top = heads.toTable().orderby(desc('value')).slice(0, 3).objects();
console.log(
  `backend ${backend}; clean ${prepared.clean.toFixed(3)}, corrupted ${prepared.corrupted.toFixed(3)}`,
);
console.log('top heads (attn_head_out_all_pos):', JSON.stringify(top));

const svg = await patchHeatmap(resid, { tokens, valueLabel: 'normalized logit diff' }).toSVG();
assert.match(svg, /^<svg[\s>]/);
await writeFile('resid_pre.svg', svg);

tf.dispose([clean, corrupted]);
model.dispose();
assert.equal(tf.memory().numTensors, 0, 'tensors left');
console.log('ioi-patching.mjs: ok, 0 tensors left');
