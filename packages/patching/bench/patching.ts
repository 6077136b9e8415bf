/**
 * Benchmark: reference engine (one forward pass per patch, TransformerLens's loop) vs the fast
 * engine (batched, started at the patched layer, selective unembed) on a random GPT-2 with the
 * real vocabulary, on the wasm backend, in one process.
 *
 *   pnpm bench:patching [--out FILE.json] [--repeats N] [--backend wasm|cpu]
 *   pnpm bench:patching --model gpt2-small-shape   (see gpt2-small-shape.ts)
 *
 * Prints JSON: per sweep the median wall time of each engine (ms), the speedup, and the largest
 * difference between the two engines' values.
 */
import { writeFileSync } from 'node:fs';
import { argv } from 'node:process';
import { useBackend } from '@patchlens/backends/testing';
import { createGPT2Config, GPT2, randomGPT2Checkpoint } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import {
  getActPatchAttnHeadOutAllPos,
  getActPatchAttnHeadOutByPos,
  getActPatchBlockEvery,
  getActPatchResidPre,
  logitDiff,
  type PatchResult,
  type SweepOptions,
} from '../src/index.js';

function option(name: string, fallback: string): string {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
}

const backend = option('backend', 'wasm') as 'wasm' | 'cpu';
const repeats = Number(option('repeats', '3'));
const out = option('out', '');
const MODEL = { nLayers: 4, nHeads: 8, dModel: 256, dVocab: 50257, nCtx: 64 };
const BATCH = 2;
const POSITIONS = 16;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function seededIds(seed: number, count: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % MODEL.dVocab;
  });
}

async function main(): Promise<void> {
  await useBackend(backend);
  const config = createGPT2Config(MODEL);
  const model = GPT2.fromWeights(config, randomGPT2Checkpoint(MODEL, { seed: 1 }));
  const cleanIds = [seededIds(7, POSITIONS), seededIds(8, POSITIONS)];
  const corruptedIds = cleanIds.map((row, b) =>
    row.map((id, p) => (p === 5 + b || p === 9 ? (id + 101) % MODEL.dVocab : id)),
  );
  const cleanTokens = tf.tensor2d(cleanIds, [BATCH, POSITIONS], 'int32');
  const corruptedTokens = tf.tensor2d(corruptedIds, [BATCH, POSITIONS], 'int32');
  const { logits, cache } = model.runWithCache(cleanTokens);
  logits.dispose();
  const metric = logitDiff({ answers: [cleanIds[0]![3]!, cleanIds[1]![3]!], wrong: [11, 12] });

  const forwardTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const full = model.forward(corruptedTokens);
    await full.data();
    full.dispose();
    forwardTimes.push(performance.now() - start);
  }

  const sweeps = {
    resid_pre: getActPatchResidPre,
    attn_head_out_all_pos: getActPatchAttnHeadOutAllPos,
    attn_head_out_by_pos: getActPatchAttnHeadOutByPos,
    block_every: getActPatchBlockEvery,
  } as const;
  const results: Record<string, unknown> = {};
  for (const [name, sweep] of Object.entries(sweeps)) {
    const timings: Record<string, number[]> = { reference: [], fast: [] };
    const values: Record<string, PatchResult> = {};
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const engine of ['reference', 'fast'] as const) {
        const options: SweepOptions = { engine };
        const start = performance.now();
        values[engine] = await sweep(model, corruptedTokens, cache, metric, options);
        timings[engine]!.push(performance.now() - start);
      }
    }
    let maxDifference = 0;
    values['fast']!.values.forEach((value, i) => {
      maxDifference = Math.max(maxDifference, Math.abs(value - values['reference']!.values[i]!));
    });
    const referenceMs = median(timings['reference']!);
    const fastMs = median(timings['fast']!);
    results[name] = {
      patches: values['fast']!.size,
      shape: values['fast']!.shape,
      referenceMs: Math.round(referenceMs * 10) / 10,
      fastMs: Math.round(fastMs * 10) / 10,
      speedup: Math.round((referenceMs / fastMs) * 100) / 100,
      maxDifference,
    };
    console.error(`${name}: ${JSON.stringify(results[name])}`);
  }
  const report = {
    backend: tf.getBackend(),
    model: { ...MODEL, dHead: config.dHead, dMlp: config.dMlp },
    batch: BATCH,
    positions: POSITIONS,
    repeats,
    fullForwardMs: Math.round(median(forwardTimes) * 10) / 10,
    sweeps: results,
    node: process.version,
  };
  const json = JSON.stringify(report, null, 2);
  if (out) writeFileSync(out, `${json}\n`);
  console.log(json);
  cache.dispose();
  tf.dispose([cleanTokens, corruptedTokens]);
  model.dispose();
}

if (option('model', '') === 'gpt2-small-shape') await import('./gpt2-small-shape.js');
else await main();
