import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import {
  type HookName,
  InvalidArgumentError,
  ShapeMismatchError,
  UnknownHookError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActivationCache } from './activation-cache.js';
import {
  capture,
  expectedActivation,
  expectValues,
  N_LAYERS,
  NAMES,
  POS,
  WIDTH,
} from './test-support/fake-forward.js';

describe.each(TEST_BACKENDS)('ActivationCache on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('looks activations up by full name, short name, compact form and negative layer', () => {
    const { result, cache } = capture(1);
    const before = tf.memory().numTensors;
    const byName = (name: HookName) => cache.get(name);
    expect(cache.get('resid_pre', 1)).toBe(byName('blocks.1.hook_resid_pre'));
    expect(cache.get('resid_pre', -1)).toBe(byName('blocks.1.hook_resid_pre'));
    expect(cache.get('resid_pre', -2)).toBe(byName('blocks.0.hook_resid_pre'));
    expect(cache.get('attn', -1)).toBe(byName('blocks.1.attn.hook_pattern'));
    expect(cache.get('k1')).toBe(byName('blocks.1.attn.hook_k'));
    expect(cache.get('scale', 0, 'ln1')).toBe(byName('blocks.0.ln1.hook_scale'));
    expect(cache.get('normalized', -1, 'ln2')).toBe(byName('blocks.1.ln2.hook_normalized'));
    expect(cache.get('scale')).toBe(byName('ln_final.hook_scale'));
    expect(cache.get('embed')).toBe(byName('hook_embed'));
    expect(cache.get('post', 0)).toBe(byName('blocks.0.mlp.hook_post'));
    expectValues(cache.get('z', -1), expectedActivation(NAMES.indexOf('blocks.1.attn.hook_z'), 1));
    expect(cache.has('resid_pre', -1)).toBe(true);
    expect(cache.has('blocks.0.hook_mlp_out')).toBe(true);
    expect(cache.keys()).toHaveLength(cache.size);
    // Lookups make no tensors.
    expect(tf.memory().numTensors).toBe(before);
    result.dispose();
    cache.dispose();
  });

  it('reports missing names and out-of-range layers', () => {
    const { result, cache } = capture(1, /hook_resid_pre$/);
    let caught: unknown;
    try {
      cache.get('blocks.0.hook_resid_post');
    } catch (error) {
      caught = error;
    }
    expect(UnknownHookError.isInstance(caught)).toBe(true);
    expect((caught as UnknownHookError).suggestions[0]).toBe('blocks.0.hook_resid_pre');
    expect((caught as Error).message).toContain('namesFilter');
    expect(() => cache.get('resid_pre', 2)).toThrow(InvalidArgumentError);
    expect(() => cache.get('resid_pre', -3)).toThrow(InvalidArgumentError);
    expect(() => cache.get('resid_pr', 0)).toThrow(UnknownHookError);
    expect(cache.has('blocks.0.hook_resid_post')).toBe(false);
    expect(cache.has('resid_pre', 5)).toBe(false);
    expect(cache.has('nonsense')).toBe(false);
    result.dispose();
    cache.dispose();
  });

  it('iterates [name, activation] pairs in forward order', () => {
    const { result, cache } = capture(1, /resid/);
    const seen = [...cache].map(([name, tensor]) => [name, tensor.shape]);
    expect(seen).toEqual(
      NAMES.filter((name) => name.includes('resid')).map((name) => [name, [1, POS, WIDTH]]),
    );
    result.dispose();
    cache.dispose();
  });

  it('removes a batch axis of size 1 in place, once', () => {
    const { result, cache } = capture(1, /hook_(embed|resid_pre)$/);
    const before = tf.memory().numTensors;
    expect(cache.hasBatchDim).toBe(true);
    expect(cache.removeBatchDim()).toBe(cache);
    expect(cache.hasBatchDim).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    expect(cache.get('blocks.1.hook_resid_pre').shape).toEqual([POS, WIDTH]);
    expectValues(cache.get('embed'), expectedActivation(0, 1));
    expect(() => cache.removeBatchDim()).toThrow(InvalidArgumentError);
    expect(() => cache.sliceBatch(0)).toThrow(InvalidArgumentError);
    result.dispose();
    cache.dispose();
  });

  it('refuses to remove a batch axis larger than 1, leaving the cache unchanged', () => {
    const { result, cache } = capture(2, /hook_embed$/);
    const before = tf.memory().numTensors;
    let caught: unknown;
    try {
      cache.removeBatchDim();
    } catch (error) {
      caught = error;
    }
    expect(ShapeMismatchError.isInstance(caught)).toBe(true);
    expect((caught as ShapeMismatchError).actual).toEqual([2, POS, WIDTH]);
    expect(cache.get('hook_embed').shape).toEqual([2, POS, WIDTH]);
    expect(cache.hasBatchDim).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    result.dispose();
    cache.dispose();
  });

  it('slices batch rows into a new cache that owns its tensors', () => {
    const { result, cache } = capture(3, /resid_pre$/);
    const before = tf.memory().numTensors;
    const middle = cache.sliceBatch(1);
    const tail = cache.sliceBatch(1, 3);
    expect(tf.memory().numTensors).toBe(before + 2 * cache.size);
    const index = NAMES.indexOf('blocks.0.hook_resid_pre');
    expect(middle.get('resid_pre', 0).shape).toEqual([1, POS, WIDTH]);
    expectValues(middle.get('resid_pre', 0), expectedActivation(index, 3, [1]));
    expectValues(tail.get('resid_pre', 0), expectedActivation(index, 3, [1, 2]));
    expect(middle.nLayers).toBe(N_LAYERS);
    expect(middle.keys()).toEqual(cache.keys());
    cache.dispose();
    result.dispose();
    expectValues(middle.get('resid_pre', 0), expectedActivation(index, 3, [1]));
    expect(middle.removeBatchDim().get('resid_pre', 0).shape).toEqual([POS, WIDTH]);
    middle.dispose();
    tail.dispose();
    expect(tf.memory().numTensors).toBe(before - 2 - 1);
  });

  it('rejects batch rows outside the batch without leaking', () => {
    const { result, cache } = capture(2, /resid/);
    const before = tf.memory().numTensors;
    for (const [start, end] of [
      [-1, 1],
      [0, 3],
      [1, 1],
      [2, undefined],
      [0.5, 1],
    ] as const) {
      expect(() => cache.sliceBatch(start, end)).toThrow(InvalidArgumentError);
      expect(tf.memory().numTensors).toBe(before);
    }
    result.dispose();
    cache.dispose();
  });

  it('exports copies as plain arrays, for float32, int32 and bool', async () => {
    const tensors = new Map<string, tf.Tensor>([
      ['blocks.0.hook_resid_pre', tf.tensor2d([1.5, -2, 3, 4], [1, 4])],
      ['hook_embed', tf.tensor1d([7, 8], 'int32')],
      ['hook_pos_embed', tf.tensor1d([1, 0, 1], 'bool')],
    ]);
    const cache = new ActivationCache(tensors);
    const before = tf.memory().numTensors;
    const arrays = await cache.toArrays();
    expect(tf.memory().numTensors).toBe(before);
    const resid = arrays.get('blocks.0.hook_resid_pre')!;
    expect(resid.shape).toEqual([1, 4]);
    expect(resid.dtype).toBe('float32');
    expect(resid.data).toBeInstanceOf(Float32Array);
    expect(Array.from(resid.data)).toEqual([1.5, -2, 3, 4]);
    expect(arrays.get('hook_embed')).toMatchObject({ dtype: 'int32', shape: [2] });
    expect(Array.from(arrays.get('hook_embed')!.data)).toEqual([7, 8]);
    expect(arrays.get('hook_pos_embed')!.dtype).toBe('bool');
    expect(Array.from(arrays.get('hook_pos_embed')!.data)).toEqual([1, 0, 1]);
    // The export is a copy: changing it leaves the cache alone.
    resid.data[0] = 99;
    expect(cache.get('blocks.0.hook_resid_pre').dataSync()[0]).toBe(1.5);
    expect((await cache.toArrays()).get('blocks.0.hook_resid_pre')!.data[0]).toBe(1.5);
    cache.dispose();
  });

  it('disposes once, also through Symbol.dispose, and refuses use after', async () => {
    const before = tf.memory().numTensors;
    const { result, cache } = capture(1);
    result.dispose();
    cache[Symbol.dispose]();
    expect(tf.memory().numTensors).toBe(before);
    cache.dispose();
    expect(cache.size).toBe(0);
    expect(cache.keys()).toEqual([]);
    expect(cache.has('hook_embed')).toBe(false);
    expect(() => cache.get('hook_embed')).toThrow(InvalidArgumentError);
    expect(() => [...cache]).toThrow(InvalidArgumentError);
    expect(() => cache.removeBatchDim()).toThrow(InvalidArgumentError);
    expect(() => cache.sliceBatch(0)).toThrow(InvalidArgumentError);
    await expect(cache.toArrays()).rejects.toThrow(InvalidArgumentError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('works with a using declaration', () => {
    const before = tf.memory().numTensors;
    {
      using cache = new ActivationCache(new Map([['hook_embed', tf.ones([1, 2])]]));
      expect(cache.size).toBe(1);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('infers nLayers from its keys unless given, and checks it', () => {
    const cache = new ActivationCache(
      new Map([
        ['blocks.4.hook_resid_pre', tf.zeros([1])],
        ['hook_embed', tf.zeros([1])],
      ]),
    );
    expect(cache.nLayers).toBe(5);
    expect(cache.get('resid_pre', -1)).toBe(cache.get('blocks.4.hook_resid_pre'));
    cache.dispose();
    const global = new ActivationCache(new Map(), { nLayers: 12 });
    expect(global.nLayers).toBe(12);
    expect(new ActivationCache(new Map()).nLayers).toBe(0);
    expect(() => new ActivationCache(new Map(), { nLayers: -1 })).toThrow(InvalidArgumentError);
  });
});
