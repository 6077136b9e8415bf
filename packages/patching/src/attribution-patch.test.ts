import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { createGPT2Config, GPT2, randomGPT2Checkpoint } from '@patchlens/models-gpt2';
import type { ActivationCacheLike, HookedModel } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWEEP_FUNCTIONS } from './activation-patch-functions.js';
import { attributionPatch, resolveAttributionKinds } from './attribution-patch.js';
import { logitDiff } from './patching-metric.js';
import { SWEEP_NAMES } from './sweeps.js';
import { handPatchedLogitDiff, handUnpatchedLogitDiff } from './test-support/hand-patch.js';
import { SWEEP_CASES, unravel } from './test-support/parity-suite.js';
import { loadTinyGPT2 } from './test-support/tiny-gpt2.js';

const TINY = { nLayers: 2, nHeads: 4, dModel: 32, dVocab: 61, nCtx: 16 };
const CLEAN_IDS = [
  [4, 17, 33, 8, 50],
  [9, 2, 41, 27, 13],
];
const CORRUPTED_IDS = [
  [4, 17, 45, 8, 50],
  [9, 30, 41, 27, 13],
];
const ANSWERS = [12, 7];
const WRONG = [20, 3];

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i]! / n;
    meanB += b[i]! / n;
  }
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    cov += (a[i]! - meanA) * (b[i]! - meanB);
    varA += (a[i]! - meanA) ** 2;
    varB += (b[i]! - meanB) ** 2;
  }
  return cov / Math.sqrt(varA * varB);
}

describe.each(TEST_BACKENDS)('attributionPatch on a tiny GPT-2 on %s', (backend) => {
  let model: GPT2;
  let cleanTokens: tf.Tensor2D;
  let corruptedTokens: tf.Tensor2D;
  let cleanCache: ActivationCacheLike;
  const metric = logitDiff({ answers: ANSWERS, wrong: WRONG });

  beforeAll(async () => {
    await useBackend(backend);
    model = await loadTinyGPT2(TINY, 3);
    cleanTokens = tf.tensor2d(CLEAN_IDS, undefined, 'int32');
    corruptedTokens = tf.tensor2d(CORRUPTED_IDS, undefined, 'int32');
    const run = model.runWithCache(cleanTokens);
    run.logits.dispose();
    cleanCache = run.cache;
  });
  afterAll(() => {
    cleanCache?.dispose();
    tf.dispose([cleanTokens, corruptedTokens]);
    model?.dispose();
  });

  it('every kind: the exact sweep’s shape and axes; each entry is the directional derivative along its patch (central finite differences); no leaks', async () => {
    const before = tf.memory().numTensors;
    const { results, clean, corrupted } = await attributionPatch(
      model,
      cleanTokens,
      corruptedTokens,
      metric,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(clean).toBeCloseTo(handUnpatchedLogitDiff(model, cleanTokens, ANSWERS, WRONG), 4);
    expect(corrupted).toBeCloseTo(
      handUnpatchedLogitDiff(model, corruptedTokens, ANSWERS, WRONG),
      4,
    );
    expect([...results.keys()]).toEqual(SWEEP_NAMES);
    const { nLayers, nHeads } = model.config;
    const positions = CORRUPTED_IDS[0]!.length;
    const epsilon = 1e-2;
    for (const kind of SWEEP_NAMES) {
      const result = results.get(kind)!;
      const sweepCase = SWEEP_CASES[kind];
      const shape = sweepCase.shape(nLayers, positions, nHeads, nHeads);
      expect(result.shape, kind).toEqual(shape);
      expect(result.axes, kind).toEqual(sweepCase.axes);
      const count = result.values.length;
      for (const flat of [0, Math.floor(count / 3), Math.floor((2 * count) / 3), count - 1]) {
        const index = unravel(flat, shape);
        const nudge = (fraction: number) =>
          handPatchedLogitDiff(
            model,
            corruptedTokens,
            cleanCache,
            sweepCase.hook(index[0]!),
            sweepCase.fixed(index),
            ANSWERS,
            WRONG,
            fraction,
          );
        const derivative = (nudge(epsilon) - nudge(-epsilon)) / (2 * epsilon);
        expect(
          Math.abs(result.values[flat]! - derivative),
          `${kind} [${index}]: ${result.values[flat]} vs ${derivative}`,
        ).toBeLessThan(2e-3 + 2e-3 * Math.abs(derivative));
      }
    }
    // masked pattern entries (src > dest) are exactly 0
    const destSrc = results.get('attn_head_pattern_dest_src_pos')!;
    let masked = 0;
    destSrc.values.forEach((value, flat) => {
      const [, , dest, src] = unravel(flat, destSrc.shape);
      if (src! > dest!) {
        masked++;
        expect(value).toBe(0);
      }
    });
    expect(masked).toBeGreaterThan(0);
  });

  it('kinds: a subset in the order asked; unknown kinds are rejected with the valid list; no leaks on errors', async () => {
    const before = tf.memory().numTensors;
    const { results } = await attributionPatch(model, cleanTokens, corruptedTokens, metric, {
      kinds: 'mlp_out, attn_head_q_all_pos',
    });
    expect([...results.keys()]).toEqual(['mlp_out', 'attn_head_q_all_pos']);
    await expect(
      attributionPatch(model, cleanTokens, corruptedTokens, metric, { kinds: 'resid_pr' }),
    ).rejects.toThrow(/unknown kind "resid_pr"; did you mean "resid_pre"/);
    expect(() => resolveAttributionKinds('block_every')).toThrow(/stacks are not kinds/);
    const short = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    await expect(attributionPatch(model, short, corruptedTokens, metric)).rejects.toThrow(
      /same batch size and token length/,
    );
    short.dispose();
    await expect(
      attributionPatch(model, cleanTokens, corruptedTokens, () => {
        throw new Error('metric broke');
      }),
    ).rejects.toThrow(/metric broke/);
    await expect(
      attributionPatch(model, cleanTokens, corruptedTokens, (logits) => tf.sum(logits, 2)),
    ).rejects.toThrow(/one number/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/**
 * A tiny GPT-2 that is close to linear between the clean and the corrupted run: blocks write
 * little into the residual stream (attention and MLP output weights scaled by 0.1), and each
 * corrupted token's embedding is its clean token's plus 5% (of the clean row's size) of noise — so
 * every activation differs only a little between the runs and the linear estimate should match
 * the exact sweep.
 */
const NOISE = 0.05;
function smoothGPT2(seed: number): GPT2 {
  const tensors = randomGPT2Checkpoint(TINY, { seed });
  for (const [name, tensor] of tensors) {
    if (/\.(attn\.c_proj|mlp\.c_proj)\.weight$/.test(name)) {
      for (let i = 0; i < tensor.data.length; i++) tensor.data[i]! *= 0.1;
    }
  }
  const wte = tensors.get('wte.weight')!;
  const dModel = wte.shape[1]!;
  for (const [b, row] of CLEAN_IDS.entries()) {
    for (const [p, cleanId] of row.entries()) {
      const corruptedId = CORRUPTED_IDS[b]![p]!;
      if (corruptedId === cleanId) continue;
      for (let d = 0; d < dModel; d++) {
        const noise = Math.sin(1 + corruptedId * 7 + d * 13); // deterministic, in [-1, 1]
        wte.data[corruptedId * dModel + d] = wte.data[cleanId * dModel + d]! + NOISE * noise;
      }
    }
  }
  return GPT2.fromWeights(createGPT2Config(TINY), tensors);
}

async function compareWithExact(model: HookedModel) {
  const cleanTokens = tf.tensor2d(CLEAN_IDS, undefined, 'int32');
  const corruptedTokens = tf.tensor2d(CORRUPTED_IDS, undefined, 'int32');
  const metric = logitDiff({ answers: ANSWERS, wrong: WRONG });
  const run = model.runWithCache(cleanTokens);
  run.logits.dispose();
  try {
    const { results, clean, corrupted } = await attributionPatch(
      model,
      cleanTokens,
      corruptedTokens,
      metric,
    );
    const report = new Map<string, { maxError: number; range: number; correlation: number }>();
    for (const kind of SWEEP_NAMES) {
      const exact = await SWEEP_FUNCTIONS[kind](model, corruptedTokens, run.cache, metric);
      const effects = exact.values.map((value) => value - corrupted);
      const estimates = results.get(kind)!.values;
      let maxError = 0;
      let range = 0;
      effects.forEach((effect, i) => {
        maxError = Math.max(maxError, Math.abs(estimates[i]! - effect));
        range = Math.max(range, Math.abs(effect));
      });
      report.set(kind, { maxError, range, correlation: pearson(estimates, effects) });
    }
    return { report, clean, corrupted };
  } finally {
    run.cache.dispose();
    tf.dispose([cleanTokens, corruptedTokens]);
  }
}

describe('attribution estimates against the exact sweeps (cpu)', () => {
  beforeAll(() => useBackend('cpu'));

  it('smooth checkpoint (block outputs scaled by 0.1, corrupted embeddings near the clean ones): every kind within 5% of its largest exact effect, correlation > 0.999 (measured: <= 2.2%, >= 0.9997)', async () => {
    const model = smoothGPT2(3);
    try {
      const { report, clean, corrupted } = await compareWithExact(model);
      expect(Math.abs(clean - corrupted)).toBeGreaterThan(1e-3); // the runs differ: the test can fail
      for (const [kind, { maxError, range, correlation }] of report) {
        expect(range, kind).toBeGreaterThan(0);
        expect(maxError, `${kind}: max error ${maxError} of ${range}`).toBeLessThan(0.05 * range);
        expect(correlation, kind).toBeGreaterThan(0.999);
      }
    } finally {
      model.dispose();
    }
  });

  it('sharp checkpoint (the plain random one): the estimate is only an approximation (some kind is off by > 5%)', async () => {
    const model = await loadTinyGPT2(TINY, 3);
    try {
      const { report } = await compareWithExact(model);
      const worst = Math.max(...[...report.values()].map((r) => r.maxError / r.range));
      expect(worst).toBeGreaterThan(0.05);
    } finally {
      model.dispose();
    }
  });
});
