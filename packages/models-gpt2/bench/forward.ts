/**
 * Forward-pass benchmark of a GPT-2-small-shaped model (12 layers, 12 heads, d_model 768,
 * vocab 50257) with random weights made on the fly (nothing downloaded or committed).
 *
 * Usage (from the repository root):
 *   pnpm bench:forward                         # wasm, and tensorflow when tfjs-node is installed
 *   pnpm bench:forward --backends wasm,cpu --runs 7 --out bench-forward.json
 *
 * Prints one JSON document: per backend and case, the median milliseconds per forward pass over
 * `runs` timed passes after `warmup` untimed ones (each pass reads its result back, so queued
 * GPU work is counted).
 */
import { writeFile } from 'node:fs/promises';
import { initNodeBackend } from '@patchlens/backends/node';
import * as tf from '@tensorflow/tfjs-core';
import { GPT2, GPT2_PRESETS } from '../src/index.js';

interface Case {
  readonly name: string;
  readonly batch: number;
  readonly positions: number;
  readonly run: (model: GPT2, tokens: tf.Tensor2D) => tf.Tensor;
}

const full = (model: GPT2, tokens: tf.Tensor2D) => model.forward(tokens);
const lastPosition = (model: GPT2, tokens: tf.Tensor2D) =>
  model.forward(tokens, { unembed: { positions: [-1] } });
const allHooksCached = (model: GPT2, tokens: tf.Tensor2D) => {
  const { logits, cache } = model.runWithCache(tokens);
  cache.dispose();
  return logits;
};

const CASES: Case[] = [
  { name: 'full logits', batch: 1, positions: 16, run: full },
  { name: 'full logits', batch: 1, positions: 64, run: full },
  { name: 'full logits', batch: 8, positions: 16, run: full },
  { name: 'full logits', batch: 8, positions: 64, run: full },
  {
    name: 'last-position logits (unembed: {positions: [-1]})',
    batch: 1,
    positions: 16,
    run: lastPosition,
  },
  {
    name: 'last-position logits (unembed: {positions: [-1]})',
    batch: 8,
    positions: 64,
    run: lastPosition,
  },
  { name: 'runWithCache, every hook point', batch: 1, positions: 16, run: allHooksCached },
];

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1]! : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** GPT-2-small-shaped Hugging Face tensors with N(0, 0.02) weights, LayerNorm weight 1 and bias 0. */
function randomGPT2SmallTensors(): Map<string, tf.Tensor> {
  const { nLayers, dModel: D, dMlp: M, dVocab: V, nCtx } = GPT2_PRESETS.gpt2;
  const normal = (shape: number[]) => tf.randomNormal(shape, 0, 0.02, 'float32', 1);
  const tensors = new Map<string, tf.Tensor>([
    ['wte.weight', normal([V, D])],
    ['wpe.weight', normal([nCtx, D])],
    ['ln_f.weight', tf.ones([D])],
    ['ln_f.bias', tf.zeros([D])],
  ]);
  for (let layer = 0; layer < nLayers; layer++) {
    const p = `h.${layer}`;
    tensors.set(`${p}.ln_1.weight`, tf.ones([D]));
    tensors.set(`${p}.ln_1.bias`, tf.zeros([D]));
    tensors.set(`${p}.attn.c_attn.weight`, normal([D, 3 * D]));
    tensors.set(`${p}.attn.c_attn.bias`, tf.zeros([3 * D]));
    tensors.set(`${p}.attn.c_proj.weight`, normal([D, D]));
    tensors.set(`${p}.attn.c_proj.bias`, tf.zeros([D]));
    tensors.set(`${p}.ln_2.weight`, tf.ones([D]));
    tensors.set(`${p}.ln_2.bias`, tf.zeros([D]));
    tensors.set(`${p}.mlp.c_fc.weight`, normal([D, M]));
    tensors.set(`${p}.mlp.c_fc.bias`, tf.zeros([M]));
    tensors.set(`${p}.mlp.c_proj.weight`, normal([M, D]));
    tensors.set(`${p}.mlp.c_proj.bias`, tf.zeros([D]));
  }
  return tensors;
}

async function benchBackend(backend: string, runs: number, warmup: number) {
  const active = await initNodeBackend(backend as Parameters<typeof initNodeBackend>[0]);
  const tensors = randomGPT2SmallTensors();
  const model = GPT2.fromWeights(GPT2_PRESETS.gpt2, tensors); // processed, as from_pretrained
  tf.dispose([...tensors.values()]);
  const results = [];
  for (const benchCase of CASES) {
    const ids = Array.from({ length: benchCase.batch }, (_, row) =>
      Array.from(
        { length: benchCase.positions },
        (_, position) => (row * 7919 + position * 104729) % 50257,
      ),
    );
    const tokens = tf.tensor2d(ids, undefined, 'int32');
    const once = () => {
      const start = performance.now();
      const logits = benchCase.run(model, tokens);
      logits.dataSync();
      logits.dispose();
      return performance.now() - start;
    };
    for (let index = 0; index < warmup; index++) once();
    const times = Array.from({ length: runs }, once);
    tokens.dispose();
    const result = {
      case: benchCase.name,
      batch: benchCase.batch,
      positions: benchCase.positions,
      medianMs: Number(median(times).toFixed(1)),
      minMs: Number(Math.min(...times).toFixed(1)),
      runs,
    };
    console.error(
      `${active} B=${result.batch} P=${result.positions} ${result.case}: ${result.medianMs} ms`,
    );
    results.push(result);
  }
  model.dispose();
  return { backend: active, results };
}

async function main() {
  const runs = Number(option('runs', '7'));
  const warmup = Number(option('warmup', '2'));
  let backends = option('backends', '').split(',').filter(Boolean);
  if (backends.length === 0) {
    backends = ['wasm'];
    for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        await import(name);
        backends.unshift('tensorflow');
        break;
      } catch {
        // not installed
      }
    }
  }
  const report = {
    model:
      'GPT-2 small shape (12 layers, 12 heads, d_model 768, d_vocab 50257), random weights, processed',
    node: process.version,
    date: new Date().toISOString(),
    warmup,
    backends: [] as Awaited<ReturnType<typeof benchBackend>>[],
  };
  for (const backend of backends) report.backends.push(await benchBackend(backend, runs, warmup));
  const json = JSON.stringify(report, null, 2);
  console.log(json);
  const out = option('out', '');
  if (out) await writeFile(out, `${json}\n`);
}

await main();
