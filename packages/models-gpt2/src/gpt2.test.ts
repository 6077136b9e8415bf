import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import {
  InvalidArgumentError,
  PatchLensError,
  ShapeMismatchError,
  WeightMappingError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from './gpt2.js';
import { loadGPT2FromFolder } from './node.js';
import { writeTinyCheckpoint } from './test-support/tiny-checkpoint.js';

let folder: string;

beforeAll(async () => {
  folder = (await writeTinyCheckpoint()).folder;
});

/** Runs `fn` and checks that it leaves the number of live tensors unchanged (results disposed by `fn`). */
function expectNoLeak(fn: () => void): void {
  const before = tf.memory().numTensors;
  fn();
  expect(tf.memory().numTensors).toBe(before);
}

function expectErrorNoLeak(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  message: RegExp,
): void {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    const result = fn();
    if (result instanceof tf.Tensor) result.dispose();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect(PatchLensError.isInstance(caught)).toBe(true);
  expect((caught as Error).message).toMatch(message);
  expect(tf.memory().numTensors).toBe(before);
}

describe.each(TEST_BACKENDS)('GPT2 model on %s', (backend) => {
  let model: GPT2;
  let tokens: tf.Tensor2D;

  beforeAll(async () => {
    await useBackend(backend);
    model = await loadGPT2FromFolder(folder);
    tokens = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
  });
  afterAll(() => {
    model.dispose();
    tokens.dispose();
  });

  it('exposes config, hook names and capabilities', () => {
    expect(model.config).toMatchObject({
      nLayers: 2,
      nHeads: 4,
      nKeyValueHeads: null,
      dModel: 16,
      dHead: 4,
      dMlp: 64,
      dVocab: 50,
      nCtx: 16,
      eps: 1e-5,
      actFn: 'gelu_new',
      normalizationType: 'LNPre',
    });
    expect(model.hookNames).toHaveLength(2 + 17 * 2 + 4);
    expect(model.hookNames[0]).toBe('hook_embed');
    expect(model.hookNames.slice(-3)).toEqual([
      'ln_final.hook_normalized',
      'unembed.hook_in',
      'unembed.hook_out',
    ]);
    expect(model.capabilities).toEqual({
      startAtLayer: true,
      stopAtLayer: true,
      selectiveUnembed: true,
      startAtPosition: true,
    });
  });

  it('every hook point has the spec shape', () => {
    // Shares the model's weights (not disposed here).
    const withResult = new GPT2(model.config, model.weights, { useAttnResult: true });
    const input = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      'int32',
    );
    const { logits, cache } = withResult.runWithCache(input);
    input.dispose();
    const [B, P, H, D, Dh, M, V] = [2, 3, 4, 16, 4, 64, 50];
    const expected: Record<string, number[]> = {
      hook_embed: [B, P, D],
      hook_pos_embed: [B, P, D],
      hook_resid_pre: [B, P, D],
      hook_scale: [B, P, 1],
      hook_normalized: [B, P, D],
      hook_q: [B, P, H, Dh],
      hook_k: [B, P, H, Dh],
      hook_v: [B, P, H, Dh],
      hook_attn_scores: [B, H, P, P],
      hook_pattern: [B, H, P, P],
      hook_z: [B, P, H, Dh],
      hook_result: [B, P, H, D],
      hook_attn_out: [B, P, D],
      hook_resid_mid: [B, P, D],
      hook_pre: [B, P, M],
      hook_post: [B, P, M],
      hook_mlp_out: [B, P, D],
      hook_resid_post: [B, P, D],
      hook_in: [B, P, D],
      hook_out: [B, P, V],
    };
    for (const name of withResult.hookNames) {
      const suffix = name.split('.').at(-1)!;
      expect(cache.get(name).shape, name).toEqual(expected[suffix]);
    }
    expect(logits.shape).toEqual([B, P, V]);
    // Scores are -inf above the diagonal before the hook; the pattern is 0 there and rows sum to 1.
    const scores = cache.get('blocks.0.attn.hook_attn_scores').dataSync();
    expect(scores[1]).toBe(Number.NEGATIVE_INFINITY);
    const pattern = cache.get('blocks.0.attn.hook_pattern').arraySync() as number[][][][];
    expect(pattern[1]![2]![0]![1]).toBe(0);
    expect(pattern[1]![2]![1]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    cache.dispose();
    logits.dispose();
  });

  it('forward, runWithHooks and runWithCache leak nothing', () => {
    expectNoLeak(() => model.forward(tokens).dispose());
    expectNoLeak(() =>
      model.forward(tokens, { unembed: { positions: [-1], tokens: [1, 2] } }).dispose(),
    );
    expectNoLeak(() =>
      model
        .runWithHooks(tokens, [
          [/hook_z$/, (z) => tf.mul(z, 0.5)],
          [/hook_q$/, () => undefined],
        ])
        .dispose(),
    );
    expectNoLeak(() => {
      const { logits, cache } = model.runWithCache(tokens);
      logits.dispose();
      cache.dispose();
    });
    expectNoLeak(() => {
      const resid = model.forward(tokens, { stopAtLayer: 1 });
      model.forward(resid, { startAtLayer: 1 }).dispose();
      model.forward(resid, { startAtLayer: 1, stopAtLayer: 1 }).dispose();
      resid.dispose();
    });
    expect(model.hooks.hasHooks('blocks.0.attn.hook_z')).toBe(false);
  });

  it('loading and dispose leak nothing', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadGPT2FromFolder(folder, { processWeights: false });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    loaded.dispose();
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const processed = await loadGPT2FromFolder(folder);
    processed[Symbol.dispose]();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad tokens with clear errors and leaks nothing', () => {
    const rejects = (
      input: tf.Tensor,
      type: abstract new (...args: never[]) => Error,
      message: RegExp,
    ) => {
      expectErrorNoLeak(() => model.forward(input), type, message);
      input.dispose();
    };
    rejects(
      tf.tensor2d([[1, 50]], undefined, 'int32'),
      InvalidArgumentError,
      /token id 50 at \[0, 1\] is outside the vocabulary; accepted: 0\.\.49 \(dVocab = 50\)/,
    );
    rejects(tf.tensor2d([[1, -1]], undefined, 'int32'), InvalidArgumentError, /token id -1/);
    rejects(
      tf.zeros([1, 17], 'int32'),
      ShapeMismatchError,
      /17 positions, more than the model's context of nCtx = 16/,
    );
    rejects(tf.zeros([1, 0], 'int32'), ShapeMismatchError, /empty \(shape \[1,0\]\)/);
    rejects(tf.zeros([0, 4], 'int32'), ShapeMismatchError, /empty/);
    rejects(
      tf.tensor1d([1, 2, 3], 'int32'),
      ShapeMismatchError,
      /rank 1.*expected rank 2 \[batch, pos\].*expandDims/,
    );
    rejects(
      tf.tensor2d([[1, 2]]),
      InvalidArgumentError,
      /tokens have dtype float32; expected int32/,
    );
    expectErrorNoLeak(
      () => model.forward([1, 2] as unknown as tf.Tensor),
      InvalidArgumentError,
      /input is an array .*expected a tf\.Tensor/,
    );
  });

  it('rejects bad options with clear errors and leaks nothing', () => {
    expectErrorNoLeak(
      () => model.forward(tokens, { stopAtLayer: 3 }),
      InvalidArgumentError,
      /stopAtLayer is 3; accepted: integers -2\.\.2/,
    );
    expectErrorNoLeak(
      () => model.forward(tokens, { unembed: { positions: [5] } }),
      InvalidArgumentError,
      /unembed\.positions contains 5; accepted: integers -5\.\.4/,
    );
    expectErrorNoLeak(
      () => model.forward(tokens, { unembed: { tokens: [50] } }),
      InvalidArgumentError,
      /unembed\.tokens contains 50; accepted: integers 0\.\.49/,
    );
    expectErrorNoLeak(
      () => model.forward(tokens, { stopAtLayer: 1, unembed: { positions: [0] } }),
      InvalidArgumentError,
      /unembed is given with stopAtLayer/,
    );
    const residual = tf.zeros([1, 5, 8]);
    expectErrorNoLeak(
      () => model.forward(residual, { startAtLayer: 1 }),
      ShapeMismatchError,
      /residual stream \[batch, pos, 16\]; got shape \[1,5,8\]/,
    );
    residual.dispose();
    expectErrorNoLeak(
      () => model.forward(tokens, { startAtLayer: 1 }),
      InvalidArgumentError,
      /got dtype int32, expected float32/,
    );
    expectErrorNoLeak(
      () => model.runWithHooks(tokens, [['blocks.0.hook_z', () => undefined]]),
      PatchLensError,
      /Unknown hook name "blocks\.0\.hook_z"/,
    );
    expectErrorNoLeak(
      () => model.runWithHooks(tokens, [['hook_embed', () => tf.zeros([1, 1, 16])]]),
      ShapeMismatchError,
      /returned shape \[1,1,16\], but the activation has shape \[1,5,16\]/,
    );
    expectErrorNoLeak(
      () => model.runWithCache(tokens, { namesFilter: /nothing here/ }),
      PatchLensError,
      /matches no hook point/,
    );
    expect(model.hooks.hasHooks('hook_embed')).toBe(false);
  });

  it('a hook that throws removes its scoped hooks and leaks nothing', () => {
    expectErrorNoLeak(
      () =>
        model.runWithHooks(tokens, [
          [
            'blocks.1.hook_resid_mid',
            () => {
              throw new InvalidArgumentError('hook failed');
            },
          ],
        ]),
      InvalidArgumentError,
      /hook failed/,
    );
    expect(model.hooks.hasHooks('blocks.1.hook_resid_mid')).toBe(false);
  });

  it('accepts text input, and refuses work after dispose', async () => {
    const small = await loadGPT2FromFolder(folder);
    // Every GPT-2 token of a text is out of this tiny vocabulary: a clear error.
    expectErrorNoLeak(() => small.forward('Hello'), InvalidArgumentError, /token id 50256/);
    small.dispose();
    expectErrorNoLeak(
      () => small.forward(tokens),
      InvalidArgumentError,
      /GPT2\.forward: the model has been disposed/,
    );
  });
});

describe('GPT2.fromWeights and config errors', () => {
  beforeAll(() => useBackend('cpu'));

  it('reports missing and mis-shaped tensors and leaks nothing', async () => {
    const { tensors, config: referenceConfig } = await writeTinyCheckpoint();
    const { createGPT2Config } = await import('./gpt2-config.js');
    const config = createGPT2Config(referenceConfig);
    const before = tf.memory().numTensors;
    const missing = new Map(tensors);
    missing.delete('h.1.mlp.c_fc.bias');
    expect(() => GPT2.fromWeights(config, missing)).toThrow(
      /no tensor "h\.1\.mlp\.c_fc\.bias" \(expected shape \[64\], found absent\)/,
    );
    const misshaped = new Map(tensors);
    misshaped.set('h.0.attn.c_attn.weight', { shape: [16, 47], data: new Float32Array(16 * 47) });
    expect(() => GPT2.fromWeights(config, misshaped)).toThrow(WeightMappingError);
    expect(() => GPT2.fromWeights(config, misshaped)).toThrow(
      /"h\.0\.attn\.c_attn\.weight" has shape \[16, 47\], expected \[16, 48\]/,
    );
    const integer = new Map(tensors);
    integer.set('wpe.weight', {
      shape: [16, 16],
      data: new Int32Array(256) as unknown as Float32Array,
    });
    expect(() => GPT2.fromWeights(config, integer)).toThrow(/integer data/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => createGPT2Config({ nLayers: 1, nHeads: 5, dModel: 16 })).toThrow(
      /dModel \(16\) must be divisible by nHeads \(5\)/,
    );
  });
});
