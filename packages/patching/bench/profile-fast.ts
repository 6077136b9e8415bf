/**
 * Kernel profile of the fast engine on the GPT-2-small shape (one thread): where the time goes,
 * by tfjs kernel. `pnpm tsx --conditions=source packages/patching/bench/profile-fast.ts [P] [sweep]`
 */
import { argv } from 'node:process';
import { useBackend } from '@patchlens/backends/testing';
import { createGPT2Config, GPT2, randomGPT2Checkpoint } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import { getActPatchAttnHeadOutByPos, getActPatchResidPre, logitDiff } from '../src/index.js';

const SHAPE = { nLayers: 12, nHeads: 12, dModel: 768, dVocab: 50257, nCtx: 1024 };
const positions = Number(argv[2] ?? 16);
const heads = argv[3] === 'heads';
await useBackend('wasm');
const model = GPT2.fromWeights(createGPT2Config(SHAPE), randomGPT2Checkpoint(SHAPE, { seed: 1 }), {
  processWeights: false,
});
const clean = Array.from({ length: positions }, (_, p) => (p * 7919 + 13) % SHAPE.dVocab);
const corrupted = clean.map((id, p) => (p === Math.floor(positions / 3) ? id + 1 : id));
const cleanTokens = tf.tensor2d([clean], undefined, 'int32');
const corruptedTokens = tf.tensor2d([corrupted], undefined, 'int32');
const { logits, cache } = model.runWithCache(cleanTokens);
logits.dispose();
const metric = logitDiff({ answers: 5335, wrong: 1757 });
const sweep = heads ? getActPatchAttnHeadOutByPos : getActPatchResidPre;
const started = performance.now();
const info = await tf.profile(async () => {
  await sweep(model, corruptedTokens, cache, metric, { workers: 1 });
});
const wall = performance.now() - started;
const byKernel = new Map<string, { ms: number; count: number }>();
for (const kernel of info.kernels) {
  const entry = byKernel.get(kernel.name) ?? { ms: 0, count: 0 };
  entry.ms += kernel.kernelTimeMs as number;
  entry.count++;
  byKernel.set(kernel.name, entry);
}
const total = [...byKernel.values()].reduce((sum, entry) => sum + entry.ms, 0);
console.log(`wall ${Math.round(wall)} ms, kernels ${Math.round(total)} ms`);
for (const [name, { ms, count }] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) {
  console.log(
    `${name.padEnd(16)} ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${count} calls`,
  );
}
