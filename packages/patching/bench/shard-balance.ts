/**
 * Benchmark: how evenly `shard: { index, count }` splits a sweep's work, against a split into
 * parts of equal patch count, and what per-batch checkpointing (one JSON line + fsync per batch,
 * as `patchlens patch --checkpoint` does) costs. Random GPT-2 (4 layers, 8 heads, d_model 256,
 * vocab 50257), P = 16, B = 1, wasm, one process, parts run one after another.
 *
 *   npx tsx --conditions=source packages/patching/bench/shard-balance.ts [--out FILE.json]
 *
 * Prints JSON per sweep: the full sweep's ms; per count the parts' ms and patch counts,
 * max/mean of the parts' ms (1 = perfectly balanced) and the largest |merged - full|; the same
 * max/mean for 4 contiguous parts of equal patch count; the sweep's ms with the checkpoint writes.
 */
import { closeSync, fsyncSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argv } from 'node:process';
import { useBackend } from '@patchlens/backends/testing';
import { GPT2, randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import { table } from 'arquero';
import {
  type ActivationPatchFunction,
  getActPatchAttnHeadOutByPos,
  getActPatchResidPre,
  logitDiff,
  makeIndexTable,
  mergePatchResults,
} from '../src/index.js';

const maxOverMean = (ms: number[]) =>
  +(Math.max(...ms) / (ms.reduce((sum, value) => sum + value, 0) / ms.length)).toFixed(2);

await useBackend('wasm');
const files = randomGPT2CheckpointFiles(
  { nLayers: 4, nHeads: 8, dModel: 256, dVocab: 50257, nCtx: 64 },
  { seed: 1 },
);
const model = await GPT2.fromPretrained(
  Object.fromEntries([...files].map(([name, bytes]) => [name, new Blob([bytes])])),
);
const positions = 16;
const clean = Array.from({ length: positions }, (_, position) => (position * 37 + 11) % 50000);
const corrupted = clean.map((token, position) =>
  position === 5 || position === 10 ? token + 1 : token,
);
const cleanTokens = tf.tensor2d([clean], undefined, 'int32');
const corruptedTokens = tf.tensor2d([corrupted], undefined, 'int32');
const run = model.runWithCache(cleanTokens);
run.logits.dispose();
const metric = logitDiff({ answers: 100, wrong: 200 });
const sweeps: [string, ActivationPatchFunction][] = [
  ['resid_pre', getActPatchResidPre],
  ['attn_head_out_by_pos', getActPatchAttnHeadOutByPos],
];
const report: Record<string, unknown> = {};
for (const [name, sweep] of sweeps) {
  await sweep(model, corruptedTokens, run.cache, metric); // warm-up
  const started = performance.now();
  const full = await sweep(model, corruptedTokens, run.cache, metric);
  const row: Record<string, unknown> = { fullMs: Math.round(performance.now() - started) };
  for (const count of [2, 4]) {
    const parts = [];
    const ms: number[] = [];
    for (let index = 0; index < count; index++) {
      const start = performance.now();
      parts.push(
        await sweep(model, corruptedTokens, run.cache, metric, { shard: { index, count } }),
      );
      ms.push(Math.round(performance.now() - start));
    }
    const merged = mergePatchResults(parts);
    let maxDifference = 0;
    merged.values.forEach((value, flat) => {
      maxDifference = Math.max(maxDifference, Math.abs(value - full.values[flat]!));
    });
    row[`shards${count}`] = {
      ms,
      patches: parts.map((part) => part.shard!.indices.length),
      maxOverMean: maxOverMean(ms),
      maxDifference,
    };
  }
  // contrast: 4 contiguous parts of equal patch count, run through explicit index tables
  const all = makeIndexTable(full.shape, full.axes);
  const size = all.numRows();
  const equalMs: number[] = [];
  for (let index = 0; index < 4; index++) {
    const [begin, end] = [Math.round((index * size) / 4), Math.round(((index + 1) * size) / 4)];
    const columns = Object.fromEntries(
      all
        .columnNames()
        .map((column) => [
          column,
          Array.from(all.array(column) as ArrayLike<number>).slice(begin, end),
        ]),
    );
    const start = performance.now();
    await sweep(model, corruptedTokens, run.cache, metric, { indexTable: table(columns) });
    equalMs.push(Math.round(performance.now() - start));
  }
  row['equalCount4'] = { ms: equalMs, maxOverMean: maxOverMean(equalMs) };
  const descriptor = openSync(join(tmpdir(), 'patchlens-shard-balance.checkpoint'), 'w');
  let batches = 0;
  const start = performance.now();
  await sweep(model, corruptedTokens, run.cache, metric, {
    onBatch: ({ indices, values }) => {
      batches++;
      const line = { sweep: name, indices: Array.from(indices), values: Array.from(values) };
      writeSync(descriptor, `${JSON.stringify(line)}\n`);
      fsyncSync(descriptor);
    },
  });
  closeSync(descriptor);
  row['withCheckpointMs'] = Math.round(performance.now() - start);
  row['batches'] = batches;
  report[name] = row;
}
const json = JSON.stringify(report, null, 1);
console.log(json);
const at = argv.indexOf('--out');
if (at >= 0 && argv[at + 1]) writeFileSync(argv[at + 1]!, json);
tf.dispose([cleanTokens, corruptedTokens]);
run.cache.dispose();
model.dispose();
