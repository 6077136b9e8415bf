/**
 * `pnpm bench:patching --model gpt2-small-shape`: a random GPT-2-small-shaped checkpoint (12 layers,
 * 12 heads, d_model 768, vocab 50257) built on the fly, B = 1, on wasm, in one process: the
 * reference engine, the fast engine with the CLI's defaults (workers auto, 256 MiB budget), and
 * the PyTorch loop (bench/torch-baseline.py, 2 threads, OMP_WAIT_POLICY=PASSIVE, via
 * /usr/bin/python3). The corrupted prompt differs at positions P/3 and 2P/3.
 *
 * The reference engine costs the same for every patch (one full forward pass each), so it runs on
 * `--reference-sample` evenly spread patches (default 24) and its time is scaled to the sweep;
 * its values are compared at those patches. Peak RSS is that of `patchlens patch` (the CLI, a child
 * process, measured by /usr/bin/time) on the same checkpoint and prompts.
 *
 *   pnpm bench:patching --model gpt2-small-shape [--out FILE.json] [--cases resid16,function16,heads16,resid64]
 *     [--torch-cases resid16,resid64] [--reference-sample 24]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argv } from 'node:process';
import { useBackend } from '@patchlens/backends/testing';
import { type GPT2, randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import * as tf from '@tensorflow/tfjs-core';
import { table } from 'arquero';
import {
  genericActivationPatch,
  getActPatchAttnHeadOutByPos,
  getActPatchResidPre,
  layerPosHeadVectorPatchSetter,
  layerPosPatchSetter,
  logitDiff,
  type Metric,
} from '../src/index.js';

function option(name: string, fallback: string): string {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
}

const SHAPE = { nLayers: 12, nHeads: 12, dModel: 768, dVocab: 50257, nCtx: 1024 };
const out = option('out', '');
const cases = option('cases', 'resid16,function16,heads16,resid64').split(',');
const sample = Number(option('reference-sample', '24'));
/** Cases that also run the PyTorch loop (it takes minutes per case on a shared 2-core machine). */
const torchCases = option('torch-cases', 'resid16,resid64').split(',');
/** The PyTorch loop on this many evenly spread patches (0: all); its time is scaled like the reference's. */
const torchSample = Number(option('torch-sample', '0'));
const ANSWER = 5335;
const WRONG = 1757;
const root = new URL('../../../', import.meta.url).pathname;

function seededIds(seed: number, count: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % SHAPE.dVocab;
  });
}

function prompts(positions: number): { clean: number[]; corrupted: number[] } {
  const clean = seededIds(7 + positions, positions);
  const differ = new Set([Math.floor(positions / 3), Math.floor((2 * positions) / 3)]);
  const corrupted = clean.map((id, p) => (differ.has(p) ? (id + 101) % SHAPE.dVocab : id));
  return { clean, corrupted };
}

/** Largest |a - b| / max(1, |b|) over the entries both have. */
function scaledDifference(a: ArrayLike<number>, b: ArrayLike<number>, at?: number[]): number {
  let largest = 0;
  const entries = at ?? Array.from({ length: b.length }, (_, i) => i);
  entries.forEach((entry, i) => {
    const x = at ? a[i]! : a[entry]!;
    const y = b[entry]!;
    largest = Math.max(largest, Math.abs(x - y) / Math.max(1, Math.abs(y)));
  });
  return largest;
}

function torchBaseline(
  folder: string,
  ids: { clean: number[]; corrupted: number[] },
  sweep: string,
  sampled: number,
) {
  const result = spawnSync(
    '/usr/bin/python3',
    [
      join(root, 'packages/patching/bench/torch-baseline.py'),
      '--model',
      folder,
      '--clean-ids',
      ids.clean.join(','),
      '--corrupted-ids',
      ids.corrupted.join(','),
      '--answer',
      String(ANSWER),
      '--wrong',
      String(WRONG),
      '--threads',
      '2',
      '--sweeps',
      sweep,
      '--values',
      ...(sampled > 0 ? ['--sample', String(sampled)] : []),
    ],
    {
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      timeout: 30 * 60 * 1000,
    },
  );
  if (result.status !== 0) {
    console.error(`torch baseline failed: ${result.stderr.slice(-500)}`);
    return undefined;
  }
  const report = JSON.parse(result.stdout);
  return report.sweeps[sweep] as { ms: number; values: number[]; sampled?: number; at?: number[] };
}

/** Peak RSS (MiB) and wall time of `patchlens patch` on this checkpoint and prompts. */
function cliRun(folder: string, ids: { clean: number[]; corrupted: number[] }, sweep: string) {
  const work = mkdtempSync(join(tmpdir(), 'patchlens-bench-'));
  try {
    const started = performance.now();
    const result = spawnSync(
      '/usr/bin/time',
      [
        '-f',
        '%M',
        '-o',
        join(work, 'rss'),
        process.execPath,
        '--conditions=source',
        '--import',
        'tsx',
        join(root, 'packages/cli/src/bin.ts'),
        'patch',
        '--model',
        folder,
        '--backend',
        'wasm',
        '--no-process-weights',
        '--clean-ids',
        ids.clean.join(','),
        '--corrupted-ids',
        ids.corrupted.join(','),
        '--answer',
        String(ANSWER),
        '--wrong',
        String(WRONG),
        '--patch',
        sweep,
        '--out',
        join(work, 'r.json'),
      ],
      { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    const ms = performance.now() - started;
    if (result.status !== 0) {
      console.error(`patchlens patch failed: ${result.stderr.slice(-800)}`);
      return undefined;
    }
    const kib = Number(readFileSync(join(work, 'rss'), 'utf8').trim().split('\n').at(-1));
    const json = JSON.parse(readFileSync(join(work, 'r.json'), 'utf8'));
    return {
      wallMs: Math.round(ms),
      peakRssMiB: Math.round(kib / 1024),
      sweepMs: json.patches[sweep].ms,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Evenly spread sample of `count` rows of a (layer, pos[, head]) sweep, as an index table. */
function sampleIndices(shape: number[], count: number): { rows: number[][]; flat: number[] } {
  const total = shape.reduce((a, b) => a * b, 1);
  const flat = Array.from({ length: Math.min(count, total) }, (_, i) =>
    Math.floor(((i + 0.5) * total) / Math.min(count, total)),
  );
  const rows = flat.map((index) => {
    const row: number[] = [];
    let rest = index;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      row.unshift(rest % shape[axis]!);
      rest = Math.floor(rest / shape[axis]!);
    }
    return row;
  });
  return { rows, flat };
}

async function main(): Promise<void> {
  await useBackend('wasm');
  const work = mkdtempSync(join(tmpdir(), 'patchlens-gpt2-small-shape-'));
  const files = randomGPT2CheckpointFiles(SHAPE, { seed: 1 });
  for (const [name, bytes] of files) writeFileSync(join(work, name), bytes);
  const model: GPT2 = await loadGPT2FromFolder(work, { processWeights: false });
  const results: Record<string, unknown> = {};
  const functionMetric: Metric = (logits) =>
    tf.mean(
      tf.sub(
        tf.slice(logits, [0, logits.shape[1]! - 1, ANSWER], [-1, 1, 1]),
        tf.slice(logits, [0, logits.shape[1]! - 1, WRONG], [-1, 1, 1]),
      ),
    );
  try {
    for (const name of cases) {
      const positions = name.endsWith('64') ? 64 : 16;
      const ids = prompts(positions);
      const cleanTokens = tf.tensor2d([ids.clean], undefined, 'int32');
      const corruptedTokens = tf.tensor2d([ids.corrupted], undefined, 'int32');
      const { logits, cache } = model.runWithCache(cleanTokens);
      logits.dispose();
      const heads = name.startsWith('heads');
      const metric = name.startsWith('function')
        ? functionMetric
        : logitDiff({ answers: ANSWER, wrong: WRONG });
      const sweepName = heads ? 'attn_head_out_by_pos' : 'resid_pre';
      const shape = heads ? [12, positions, 12] : [12, positions];
      try {
        console.error(`${name}: fast engine …`);
        let started = performance.now();
        const fast = await (heads ? getActPatchAttnHeadOutByPos : getActPatchResidPre)(
          model,
          corruptedTokens,
          cache,
          metric,
        );
        const fastMs = performance.now() - started;
        console.error(`${name}: fast ${Math.round(fastMs)} ms; reference on ${sample} patches …`);
        const { rows, flat } = sampleIndices(shape, sample);
        const columns = heads
          ? {
              layer: rows.map((r) => r[0]!),
              pos: rows.map((r) => r[1]!),
              head: rows.map((r) => r[2]!),
            }
          : { layer: rows.map((r) => r[0]!), pos: rows.map((r) => r[1]!) };
        started = performance.now();
        const reference = await genericActivationPatch(model, corruptedTokens, cache, metric, {
          patchSetter: heads ? layerPosHeadVectorPatchSetter : layerPosPatchSetter,
          activationName: heads ? 'z' : 'resid_pre',
          indexTable: table(columns),
          engine: 'reference',
        });
        const referenceMs = ((performance.now() - started) / flat.length) * fast.size;
        const entry: Record<string, unknown> = {
          sweep: sweepName,
          positions,
          patches: fast.size,
          metric: name.startsWith('function') ? 'function (logits) => tensor' : 'logitDiff',
          fastMs: Math.round(fastMs),
          referenceMs: Math.round(referenceMs),
          referenceSampled: flat.length,
          fastVsReference: Math.round((referenceMs / fastMs) * 100) / 100,
          maxScaledDifferenceReference: scaledDifference(reference.values, fast.values, flat),
        };
        if (!heads && !name.startsWith('function')) {
          console.error(`${name}: PyTorch loop …`);
          const torch = torchCases.includes(name)
            ? torchBaseline(work, ids, sweepName, torchSample)
            : undefined;
          if (torch) {
            entry['torchMs'] = Math.round(torch.ms);
            entry['fastVsTorch'] = Math.round((torch.ms / fastMs) * 100) / 100;
            entry['maxScaledDifferenceTorch'] = scaledDifference(
              torch.values,
              fast.values,
              torch.at,
            );
            if (torch.sampled) entry['torchSampled'] = torch.sampled;
          }
          console.error(`${name}: patchlens patch (peak RSS) …`);
          const cli = cliRun(work, ids, sweepName);
          if (cli) Object.assign(entry, { cli });
        }
        results[name] = entry;
        console.error(`${name}: ${JSON.stringify(entry)}`);
        if (out) writeFileSync(`${out}.partial`, `${JSON.stringify(results, null, 2)}\n`);
      } finally {
        cache.dispose();
        tf.dispose([cleanTokens, corruptedTokens]);
      }
    }
  } finally {
    model.dispose();
    rmSync(work, { recursive: true, force: true });
  }
  const report = {
    model: 'gpt2-small-shape (random)',
    shape: SHAPE,
    batch: 1,
    backend: tf.getBackend(),
    node: process.version,
    cores: (await import('node:os')).availableParallelism(),
    loadAverage: (await import('node:os')).loadavg(),
    results,
  };
  const json = JSON.stringify(report, null, 2);
  if (out) writeFileSync(out, `${json}\n`);
  console.log(json);
  const rowsOut = Object.entries(results).map(([name, value]) => {
    const v = value as Record<string, unknown>;
    const cli = v['cli'] as { peakRssMiB?: number } | undefined;
    return `| ${name} | ${v['patches']} | ${v['referenceMs']} | ${v['torchMs'] ?? '—'} | ${v['fastMs']} | ${v['fastVsReference']}× | ${v['fastVsTorch'] ?? '—'} | ${cli?.peakRssMiB ?? '—'} | ${Number(v['maxScaledDifferenceReference']).toExponential(1)} |`;
  });
  console.error(
    [
      '| case | patches | reference (ms) | PyTorch loop (ms) | fast (ms) | fast vs reference | fast vs PyTorch | peak RSS of patchlens patch (MiB) | max scaled diff |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rowsOut,
    ].join('\n'),
  );
}

await main();
