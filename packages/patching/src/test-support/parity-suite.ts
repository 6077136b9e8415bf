import type {
  ActivationCacheLike,
  ForwardOptions,
  HookedModel,
  HookName,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { table } from 'arquero';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { SWEEP_FUNCTIONS } from '../activation-patch-functions.js';
import { genericActivationPatch } from '../generic-activation-patch.js';
import type { PatchResult } from '../patch-result.js';
import { layerPosPatchSetter } from '../patch-setters.js';
import { logitDiff } from '../patching-metric.js';
import {
  getActPatchAttnHeadAllPosEvery,
  getActPatchAttnHeadByPosEvery,
  getActPatchBlockEvery,
} from '../stacked-patch-functions.js';
import { SWEEP_NAMES, type SweepName } from '../sweeps.js';
import { handPatchedLogitDiff, handUnpatchedLogitDiff } from './hand-patch.js';

/** One specialised sweep described independently of the library's tables. */
interface SweepCase {
  readonly axes: readonly string[];
  /** Expected shape from (layers, positions, heads, key/value heads). */
  readonly shape: (l: number, p: number, h: number, hkv: number) => number[];
  /** Hook name of a layer. */
  readonly hook: (layer: number) => HookName;
  /** Activation axes fixed by an index (layer first). */
  readonly fixed: (index: readonly number[]) => Record<number, number>;
}

const block = (suffix: string) => (layer: number) => `blocks.${layer}.${suffix}` as HookName;
const byPos = (index: readonly number[]) => ({ 1: index[1]!, 2: index[2]! });
const allPos = (index: readonly number[]) => ({ 2: index[1]! });

/**
 * Every sweep of the `SWEEPS` table with its TransformerLens behaviour written out by hand (the
 * record type makes a sweep added to the table without a hand-written case a type error).
 */
export const SWEEP_CASES: Readonly<Record<SweepName, SweepCase>> = {
  resid_pre: {
    axes: ['layer', 'pos'],
    shape: (l, p) => [l, p],
    hook: block('hook_resid_pre'),
    fixed: (i) => ({ 1: i[1]! }),
  },
  resid_mid: {
    axes: ['layer', 'pos'],
    shape: (l, p) => [l, p],
    hook: block('hook_resid_mid'),
    fixed: (i) => ({ 1: i[1]! }),
  },
  attn_out: {
    axes: ['layer', 'pos'],
    shape: (l, p) => [l, p],
    hook: block('hook_attn_out'),
    fixed: (i) => ({ 1: i[1]! }),
  },
  mlp_out: {
    axes: ['layer', 'pos'],
    shape: (l, p) => [l, p],
    hook: block('hook_mlp_out'),
    fixed: (i) => ({ 1: i[1]! }),
  },
  attn_head_out_by_pos: {
    axes: ['layer', 'pos', 'head'],
    shape: (l, p, h) => [l, p, h],
    hook: block('attn.hook_z'),
    fixed: byPos,
  },
  attn_head_q_by_pos: {
    axes: ['layer', 'pos', 'head'],
    shape: (l, p, h) => [l, p, h],
    hook: block('attn.hook_q'),
    fixed: byPos,
  },
  attn_head_k_by_pos: {
    axes: ['layer', 'pos', 'head'],
    shape: (l, p, _h, hkv) => [l, p, hkv],
    hook: block('attn.hook_k'),
    fixed: byPos,
  },
  attn_head_v_by_pos: {
    axes: ['layer', 'pos', 'head'],
    shape: (l, p, _h, hkv) => [l, p, hkv],
    hook: block('attn.hook_v'),
    fixed: byPos,
  },
  attn_head_pattern_by_pos: {
    axes: ['layer', 'head_index', 'dest_pos'],
    shape: (l, p, h) => [l, h, p],
    hook: block('attn.hook_pattern'),
    fixed: (i) => ({ 1: i[1]!, 2: i[2]! }),
  },
  attn_head_pattern_dest_src_pos: {
    axes: ['layer', 'head_index', 'dest_pos', 'src_pos'],
    shape: (l, p, h) => [l, h, p, p],
    hook: block('attn.hook_pattern'),
    fixed: (i) => ({ 1: i[1]!, 2: i[2]!, 3: i[3]! }),
  },
  attn_head_out_all_pos: {
    axes: ['layer', 'head'],
    shape: (l, _p, h) => [l, h],
    hook: block('attn.hook_z'),
    fixed: allPos,
  },
  attn_head_q_all_pos: {
    axes: ['layer', 'head'],
    shape: (l, _p, h) => [l, h],
    hook: block('attn.hook_q'),
    fixed: allPos,
  },
  attn_head_k_all_pos: {
    axes: ['layer', 'head'],
    shape: (l, _p, _h, hkv) => [l, hkv],
    hook: block('attn.hook_k'),
    fixed: allPos,
  },
  attn_head_v_all_pos: {
    axes: ['layer', 'head'],
    shape: (l, _p, _h, hkv) => [l, hkv],
    hook: block('attn.hook_v'),
    fixed: allPos,
  },
  attn_head_pattern_all_pos: {
    axes: ['layer', 'head_index'],
    shape: (l, _p, h) => [l, h],
    hook: block('attn.hook_pattern'),
    fixed: (i) => ({ 1: i[1]! }),
  },
};

/** The multi-index of a flat row-major position. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = rest % shape[axis]!;
    rest = Math.floor(rest / shape[axis]!);
  }
  return index;
}

/** Largest absolute difference between two equally long arrays. */
export function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

/** What a parity suite runs on. */
export interface ParitySetup {
  readonly model: HookedModel;
  readonly cleanIds: number[][];
  readonly corruptedIds: number[][];
  readonly answers: number[];
  readonly wrong: number[];
  /** Worker threads for the fast engine's sweeps (default: its own choice). */
  readonly workers?: number;
}

/**
 * The shared correctness suite (call inside a `describe` whose `beforeAll` sets the backend):
 * shapes and index order against hand-written single patches, fast == reference, the `*_every`
 * stacks, clean == corrupted, and resid_pre patching at layer 0.
 */
export function defineParitySuite(makeSetup: () => Promise<ParitySetup> | ParitySetup): void {
  let setup: ParitySetup;
  let cleanTokens: tf.Tensor;
  let corruptedTokens: tf.Tensor;
  let cleanCache: ActivationCacheLike;
  let corruptedCache: ActivationCacheLike;
  let metric: ReturnType<typeof logitDiff>;
  let clean: number;
  let corrupted: number;
  const fast = new Map<string, PatchResult>();
  const reference = new Map<string, PatchResult>();

  beforeAll(async () => {
    setup = await makeSetup();
    cleanTokens = tf.tensor2d(setup.cleanIds, undefined, 'int32');
    corruptedTokens = tf.tensor2d(setup.corruptedIds, undefined, 'int32');
    const cleanRun = setup.model.runWithCache(cleanTokens);
    cleanRun.logits.dispose();
    cleanCache = cleanRun.cache;
    const corruptedRun = setup.model.runWithCache(corruptedTokens);
    corruptedRun.logits.dispose();
    corruptedCache = corruptedRun.cache;
    metric = logitDiff({ answers: setup.answers, wrong: setup.wrong });
    clean = handUnpatchedLogitDiff(setup.model, cleanTokens, setup.answers, setup.wrong);
    corrupted = handUnpatchedLogitDiff(setup.model, corruptedTokens, setup.answers, setup.wrong);
  });

  afterAll(() => {
    cleanCache?.dispose();
    corruptedCache?.dispose();
    tf.dispose([cleanTokens, corruptedTokens]);
  });

  it('the clean and corrupted runs differ (the test can fail)', () => {
    expect(Math.abs(clean - corrupted)).toBeGreaterThan(1e-3);
  });

  for (const name of SWEEP_NAMES) {
    const sweepCase = SWEEP_CASES[name];
    const sweep = SWEEP_FUNCTIONS[name];
    it(`${name}: shape, index order, hand-written patches, fast == reference, no leaks`, async () => {
      const { model } = setup;
      const { nLayers, nHeads } = model.config;
      const nKeyValueHeads = model.config.nKeyValueHeads ?? nHeads;
      const positions = setup.corruptedIds[0]!.length;
      const before = tf.memory().numTensors;
      const forward = vi.spyOn(model, 'forward');
      let fastResult: PatchResult;
      let calls: unknown[][];
      try {
        fastResult = await sweep(model, corruptedTokens, cleanCache, metric, {
          ...(setup.workers === undefined ? {} : { workers: setup.workers }),
        });
      } finally {
        calls = [...forward.mock.calls];
        forward.mockRestore();
      }
      // All-position patches, and models without `startAtPosition`, never start at a later position.
      const startsLater = (calls: unknown[][]) =>
        calls.some(
          ([, options]) => ((options as ForwardOptions | undefined)?.startAtPosition ?? 0) > 0,
        );
      const expectsLaterStarts =
        model.capabilities.startAtPosition === true && !name.endsWith('_all_pos');
      if (!expectsLaterStarts) expect(startsLater(calls)).toBe(false);
      const referenceResult = await sweep(model, corruptedTokens, cleanCache, metric, {
        engine: 'reference',
      });
      expect(tf.memory().numTensors).toBe(before);
      fast.set(name, fastResult);
      reference.set(name, referenceResult);
      const shape = sweepCase.shape(nLayers, positions, nHeads, nKeyValueHeads);
      expect(fastResult.shape).toEqual(shape);
      expect(fastResult.axes).toEqual(sweepCase.axes);
      expect(referenceResult.shape).toEqual(shape);
      expect(maxDifference(fastResult.values, referenceResult.values)).toBeLessThan(1e-5);
      if (expectsLaterStarts) {
        // One patch per pass: every pass starts at its patch's position (capped at the metric's),
        // reusing the corrupted keys/values before it; same values.
        const single = vi.spyOn(model, 'forward');
        let singleResult: PatchResult;
        let singleCalls: unknown[][];
        try {
          singleResult = await sweep(model, corruptedTokens, cleanCache, metric, {
            batchSize: 1,
          });
        } finally {
          singleCalls = [...single.mock.calls];
          single.mockRestore();
        }
        expect(startsLater(singleCalls)).toBe(true);
        expect(maxDifference(singleResult.values, referenceResult.values)).toBeLessThan(1e-5);
      }
      // a few entries, including the first and the last, against a hand-written patch
      const count = fastResult.values.length;
      for (const flat of [0, Math.floor(count / 3), count - 1]) {
        const index = unravel(flat, shape);
        const expected = handPatchedLogitDiff(
          model,
          corruptedTokens,
          cleanCache,
          sweepCase.hook(index[0]!),
          sweepCase.fixed(index),
          setup.answers,
          setup.wrong,
        );
        expect(fastResult.get(...index)).toBeCloseTo(expected, 4);
        expect(Math.abs(referenceResult.values[flat]! - expected)).toBeLessThan(1e-5);
      }
    });
  }

  it('attn_head_all_pos_every stacks its parts (k/v zero-padded)', async () => {
    const every = await getActPatchAttnHeadAllPosEvery(
      setup.model,
      corruptedTokens,
      cleanCache,
      metric,
    );
    const referenceEvery = await getActPatchAttnHeadAllPosEvery(
      setup.model,
      corruptedTokens,
      cleanCache,
      metric,
      { engine: 'reference' },
    );
    const { nLayers, nHeads } = setup.model.config;
    expect(every.shape).toEqual([5, nLayers, nHeads]);
    expect(every.labels?.['activation']).toEqual(['output', 'query', 'key', 'value', 'pattern']);
    const parts = [
      'attn_head_out_all_pos',
      'attn_head_q_all_pos',
      'attn_head_k_all_pos',
      'attn_head_v_all_pos',
      'attn_head_pattern_all_pos',
    ].map((name) => reference.get(name)!);
    parts.forEach((part, kind) => {
      for (let layer = 0; layer < nLayers; layer++) {
        for (let head = 0; head < nHeads; head++) {
          const expected = head < part.shape[1]! ? part.get(layer, head) : 0;
          expect(Math.abs(every.get(kind, layer, head) - expected)).toBeLessThan(1e-5);
          expect(Math.abs(referenceEvery.get(kind, layer, head) - expected)).toBeLessThan(1e-5);
        }
      }
    });
  });

  it('attn_head_by_pos_every stacks its parts (pattern transposed, k/v zero-padded)', async () => {
    const every = await getActPatchAttnHeadByPosEvery(
      setup.model,
      corruptedTokens,
      cleanCache,
      metric,
    );
    const { nLayers, nHeads } = setup.model.config;
    const positions = setup.corruptedIds[0]!.length;
    expect(every.shape).toEqual([5, nLayers, positions, nHeads]);
    expect(every.axes).toEqual(['activation', 'layer', 'pos', 'head']);
    const names = [
      'attn_head_out_by_pos',
      'attn_head_q_by_pos',
      'attn_head_k_by_pos',
      'attn_head_v_by_pos',
    ];
    for (let layer = 0; layer < nLayers; layer++) {
      for (let pos = 0; pos < positions; pos++) {
        for (let head = 0; head < nHeads; head++) {
          names.forEach((name, kind) => {
            const part = reference.get(name)!;
            const expected = head < part.shape[2]! ? part.get(layer, pos, head) : 0;
            expect(Math.abs(every.get(kind, layer, pos, head) - expected)).toBeLessThan(1e-5);
          });
          const pattern = reference.get('attn_head_pattern_by_pos')!.get(layer, head, pos);
          expect(Math.abs(every.get(4, layer, pos, head) - pattern)).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('block_every stacks resid_pre, attn_out and mlp_out', async () => {
    const every = await getActPatchBlockEvery(setup.model, corruptedTokens, cleanCache, metric);
    expect(every.labels?.['activation']).toEqual(['resid_pre', 'attn_out', 'mlp_out']);
    const stacked = ['resid_pre', 'attn_out', 'mlp_out'].flatMap((name) => [
      ...reference.get(name)!.values,
    ]);
    expect(maxDifference(every.values, stacked)).toBeLessThan(1e-5);
  });

  it('patching with clean == corrupted gives the clean metric everywhere (both engines)', async () => {
    const sameCorrupted = handUnpatchedLogitDiff(
      setup.model,
      corruptedTokens,
      setup.answers,
      setup.wrong,
    );
    for (const name of SWEEP_NAMES) {
      const result = await SWEEP_FUNCTIONS[name](
        setup.model,
        corruptedTokens,
        corruptedCache,
        metric,
      );
      for (const value of result.values) expect(Math.abs(value - sameCorrupted)).toBeLessThan(1e-5);
    }
    const every = await getActPatchAttnHeadByPosEvery(
      setup.model,
      corruptedTokens,
      corruptedCache,
      metric,
      { engine: 'reference' },
    );
    const { nKeyValueHeads, nHeads } = setup.model.config;
    every.values.forEach((value, flat) => {
      const [kind, , , head] = unravel(flat, every.shape);
      const padded = (kind === 2 || kind === 3) && head! >= (nKeyValueHeads ?? nHeads);
      expect(Math.abs(value - (padded ? 0 : sameCorrupted))).toBeLessThan(1e-5);
    });
  });

  it('fast == reference when the metric reads an earlier position, and with a user hook attached', async () => {
    const { model } = setup;
    const positions = setup.corruptedIds[0]!.length;
    const earlier = logitDiff({ answers: setup.answers, wrong: setup.wrong, position: 1 });
    const sweeps = [SWEEP_FUNCTIONS.attn_head_out_by_pos, SWEEP_FUNCTIONS.resid_mid];
    for (const sweep of sweeps) {
      const fastResult = await sweep(model, corruptedTokens, cleanCache, earlier);
      const referenceResult = await sweep(model, corruptedTokens, cleanCache, earlier, {
        engine: 'reference',
      });
      expect(maxDifference(fastResult.values, referenceResult.values)).toBeLessThan(1e-5);
    }
    // a hook that mixes positions (not causal): the fast engine must not start at a later position
    const mixing = model.hooks.add('blocks.0.hook_resid_mid', (resid) =>
      tf.add(resid, tf.mul(tf.mean(resid, 1, true), 0.5)),
    );
    try {
      const forward = vi.spyOn(model, 'forward');
      let fastResult: PatchResult;
      let calls: unknown[][];
      try {
        fastResult = await SWEEP_FUNCTIONS.resid_pre(model, corruptedTokens, cleanCache, metric);
      } finally {
        calls = [...forward.mock.calls];
        forward.mockRestore();
      }
      expect(calls.length).toBeGreaterThan(0);
      for (const [, options] of calls) {
        expect((options as ForwardOptions | undefined)?.startAtPosition).toBeUndefined();
      }
      const referenceResult = await SWEEP_FUNCTIONS.resid_pre(
        model,
        corruptedTokens,
        cleanCache,
        metric,
        {
          engine: 'reference',
        },
      );
      expect(fastResult.shape).toEqual([model.config.nLayers, positions]);
      expect(maxDifference(fastResult.values, referenceResult.values)).toBeLessThan(1e-5);
    } finally {
      mixing.remove();
    }
  });

  it('resid_pre at layer 0: every position restores the clean metric; one position equals a hand patch', async () => {
    for (const engine of ['fast', 'reference'] as const) {
      const everyPosition = await genericActivationPatch(
        setup.model,
        corruptedTokens,
        cleanCache,
        metric,
        {
          patchSetter: (_corrupted, _index, cleanActivation) => tf.clone(cleanActivation),
          activationName: 'resid_pre',
          indexTable: table({ layer: [0] }),
          engine,
        },
      );
      expect(everyPosition.shape).toEqual([1]);
      expect(Math.abs(everyPosition.values[0]! - clean)).toBeLessThan(1e-5);
    }
    const positions = setup.corruptedIds[0]!.length;
    const single = await genericActivationPatch(setup.model, corruptedTokens, cleanCache, metric, {
      patchSetter: layerPosPatchSetter,
      activationName: 'resid_pre',
      indexTable: table({ layer: [0], pos: [positions - 2] }),
    });
    const expected = handPatchedLogitDiff(
      setup.model,
      corruptedTokens,
      cleanCache,
      'blocks.0.hook_resid_pre',
      { 1: positions - 2 },
      setup.answers,
      setup.wrong,
    );
    expect(Math.abs(single.values[0]! - expected)).toBeLessThan(1e-5);
  });
}
