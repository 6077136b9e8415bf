/**
 * Benchmark: webgpu (tfjs-backend-webgpu on Dawn, through `initNodeBackend('webgpu')`) next to
 * wasm, in one process: matmul GFLOP/s, a GPT-2-small-shaped forward, and the fast engine's
 * resid_pre sweep.
 *
 *   pnpm bench:gpu [--tiny] [--repeats N] [--k K] [--out FILE.json]
 *
 * Prints the WebGPU adapter first, a table on stderr, and the JSON report on stdout (and in FILE).
 * `--tiny` shrinks every size (a check that the bench runs, e.g. on SwiftShader); without it the
 * sizes are GPT-2 small's. What a machine needs: packages/backends/README.md, "WebGPU in Node".
 * The forward is timed up to last-position logits on the host (`unembed: { positions: [-1] }`),
 * so the download of `[batch, pos, d_vocab]` logits does not dominate.
 */
import { writeFileSync } from 'node:fs';
import { argv } from 'node:process';
import { activeWebGPUAdapter, formatWebGPUAdapter } from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { createGPT2Config, GPT2, randomGPT2Checkpoint } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import { getActPatchResidPre, logitDiff } from '../src/index.js';

function option(name: string, fallback: string): string {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
}

const tiny = argv.includes('--tiny');
const repeats = Number(option('repeats', tiny ? '1' : '3'));
const patchesPerForward = Number(option('k', tiny ? '4' : '32'));
const out = option('out', '');
const BACKENDS = ['webgpu', 'wasm'] as const;
type Backend = (typeof BACKENDS)[number];

const MODEL = tiny
  ? { nLayers: 2, nHeads: 4, dModel: 64, dVocab: 1000, nCtx: 64 }
  : { nLayers: 12, nHeads: 12, dModel: 768, dVocab: 50257, nCtx: 1024 }; // GPT-2 small
const MATMUL_SIZES = tiny ? [64, 128] : [256, 1024, 2048, 4096];
const FORWARD_BATCHES = tiny ? [1, 2] : [1, 8, 32];
const FORWARD_POSITIONS = tiny ? [8, 16] : [16, 64];
const SWEEP = tiny ? { batch: 1, positions: 8 } : { batch: 2, positions: 16 };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Median wall time of `run` (ms) after one untimed warm-up run (shader compilation, allocation). */
async function time(run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

function seededIds(seed: number, count: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % MODEL.dVocab;
  });
}

async function matmulMs(size: number): Promise<number> {
  const [a, b] = [tf.randomNormal([size, size]), tf.randomNormal([size, size])];
  // The sum makes one float to download, so the timing is the matmul's, not the readback's.
  const ms = await time(async () => {
    const total = tf.tidy(() => tf.sum(tf.matMul(a, b))); // [size, size] @ [size, size] -> []
    await total.data();
    total.dispose();
  });
  tf.dispose([a, b]);
  return ms;
}

async function forwardMs(model: GPT2, batch: number, positions: number): Promise<number> {
  const ids = Array.from({ length: batch }, (_, row) => seededIds(row + 1, positions));
  const tokens = tf.tensor2d(ids, [batch, positions], 'int32');
  const ms = await time(async () => {
    const logits = model.forward(tokens, { unembed: { positions: [-1] } }); // [batch, 1, d_vocab]
    await logits.data();
    logits.dispose();
  });
  tokens.dispose();
  return ms;
}

async function residPre(
  model: GPT2,
): Promise<{ ms: number; values: Float32Array; patches: number }> {
  const { batch, positions } = SWEEP;
  const cleanIds = Array.from({ length: batch }, (_, row) => seededIds(row + 7, positions));
  const corruptedIds = cleanIds.map((row) =>
    row.map((id, p) => (p === 2 ? (id + 101) % MODEL.dVocab : id)),
  );
  const clean = tf.tensor2d(cleanIds, [batch, positions], 'int32'); // [batch, pos]
  const corrupted = tf.tensor2d(corruptedIds, [batch, positions], 'int32'); // [batch, pos]
  const { logits, cache } = model.runWithCache(clean);
  logits.dispose();
  const metric = logitDiff({
    answers: cleanIds.map((row) => row[1]!),
    wrong: cleanIds.map((row) => row[3]!),
  });
  let result = await getActPatchResidPre(model, corrupted, cache, metric, {
    batchSize: patchesPerForward,
  });
  const ms = await time(async () => {
    result = await getActPatchResidPre(model, corrupted, cache, metric, {
      batchSize: patchesPerForward,
    });
  });
  cache.dispose();
  tf.dispose([clean, corrupted]);
  return { ms, values: result.values, patches: result.size };
}

interface BackendRun {
  matmulMs: number[];
  forwardMs: number[][]; // [batch][positions]
  residPre: { ms: number; values: Float32Array; patches: number };
}

async function runOn(backend: Backend): Promise<BackendRun> {
  await initNodeBackend(backend);
  const matmul: number[] = [];
  for (const size of MATMUL_SIZES) {
    matmul.push(await matmulMs(size));
    console.error(`${backend}: matmul ${size}: ${round(matmul.at(-1)!)} ms`);
  }
  const model = GPT2.fromWeights(createGPT2Config(MODEL), randomGPT2Checkpoint(MODEL, { seed: 1 }));
  const forward: number[][] = [];
  for (const batch of FORWARD_BATCHES) {
    const row: number[] = [];
    for (const positions of FORWARD_POSITIONS) {
      row.push(await forwardMs(model, batch, positions));
      console.error(`${backend}: forward B=${batch} P=${positions}: ${round(row.at(-1)!)} ms`);
    }
    forward.push(row);
  }
  const sweep = await residPre(model);
  console.error(`${backend}: resid_pre (${sweep.patches} patches): ${round(sweep.ms)} ms`);
  model.dispose();
  return { matmulMs: matmul, forwardMs: forward, residPre: sweep };
}

async function main(): Promise<void> {
  await initNodeBackend('webgpu');
  const adapter = activeWebGPUAdapter()!;
  console.error(`webgpu adapter: ${formatWebGPUAdapter(adapter)}`);
  if (adapter.software) {
    console.error('note: a software adapter; its timings say nothing about a GPU.');
  }
  const runs = {} as Record<Backend, BackendRun>;
  for (const backend of BACKENDS) runs[backend] = await runOn(backend);
  const { webgpu, wasm } = runs;

  const matmul = MATMUL_SIZES.map((size, i) => {
    const gflops = (ms: number) => round((2 * size ** 3) / (ms * 1e6), 2);
    return {
      size,
      webgpuMs: round(webgpu.matmulMs[i]!),
      wasmMs: round(wasm.matmulMs[i]!),
      webgpuGflops: gflops(webgpu.matmulMs[i]!),
      wasmGflops: gflops(wasm.matmulMs[i]!),
    };
  });
  const forward = FORWARD_BATCHES.flatMap((batch, b) =>
    FORWARD_POSITIONS.map((positions, p) => ({
      batch,
      positions,
      webgpuMs: round(webgpu.forwardMs[b]![p]!),
      wasmMs: round(wasm.forwardMs[b]![p]!),
      speedup: Number((wasm.forwardMs[b]![p]! / webgpu.forwardMs[b]![p]!).toPrecision(3)),
    })),
  );
  const maxDifference = Math.max(
    ...webgpu.residPre.values.map((value, i) => Math.abs(value - wasm.residPre.values[i]!)),
  );
  const sweep = {
    ...SWEEP,
    patches: webgpu.residPre.patches,
    patchesPerForward,
    webgpuMs: round(webgpu.residPre.ms),
    wasmMs: round(wasm.residPre.ms),
    speedup: Number((wasm.residPre.ms / webgpu.residPre.ms).toPrecision(3)),
    maxDifference,
  };

  console.error('\nmatmul [n, n] @ [n, n]     webgpu GFLOP/s   wasm GFLOP/s');
  for (const row of matmul) {
    console.error(
      `  n=${String(row.size).padEnd(22)} ${String(row.webgpuGflops).padStart(14)} ${String(row.wasmGflops).padStart(14)}`,
    );
  }
  console.error('forward to last logits      webgpu ms   wasm ms   wasm/webgpu');
  for (const row of forward) {
    console.error(
      `  B=${String(row.batch).padEnd(3)} P=${String(row.positions).padEnd(18)} ${String(row.webgpuMs).padStart(9)} ${String(row.wasmMs).padStart(9)} ${String(row.speedup).padStart(13)}`,
    );
  }
  console.error(
    `resid_pre (fast, K=${patchesPerForward}, ${sweep.patches} patches): webgpu ${sweep.webgpuMs} ms, wasm ${sweep.wasmMs} ms, wasm/webgpu ${sweep.speedup}, max |difference| ${maxDifference.toExponential(2)}`,
  );

  const report = {
    adapter,
    tiny,
    model: MODEL,
    repeats,
    matmul,
    forward,
    residPre: sweep,
    node: process.version,
  };
  const json = JSON.stringify(report, null, 2);
  if (out) writeFileSync(out, `${json}\n`);
  console.log(json);
}

await main();
