import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { HookRegistry, InvalidArgumentError, UnknownHookError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureActivations } from './capture-activations.js';
import {
  capture,
  expectedActivation,
  expectValues,
  fakeForward,
  N_LAYERS,
  NAMES,
} from './test-support/fake-forward.js';

describe.each(TEST_BACKENDS)('captureActivations on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('captures every hook point in forward order and keeps only the captures alive', () => {
    const before = tf.memory().numTensors;
    const { registry, result, cache } = capture(2);
    expect(cache.keys()).toEqual(NAMES);
    expect(cache.size).toBe(NAMES.length);
    expect(cache.nLayers).toBe(N_LAYERS);
    // Only the captures and the result survive the forward pass.
    expect(tf.memory().numTensors).toBe(before + NAMES.length + 1);
    NAMES.forEach((name, hookIndex) => {
      expectValues(cache.get(name), expectedActivation(hookIndex, 2));
    });
    for (const name of NAMES) expect(registry.count(name)).toBe(0);
    result.dispose();
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('captures only the selected hook points', () => {
    const before = tf.memory().numTensors;
    for (const [filter, expected] of [
      [/hook_resid_pre$/, ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre']],
      ['hook_embed', ['hook_embed']],
      [
        ['blocks.1.attn.hook_z', 'hook_pos_embed'],
        ['hook_pos_embed', 'blocks.1.attn.hook_z'],
      ],
      [
        (name: string) => name.startsWith('ln_final'),
        ['ln_final.hook_scale', 'ln_final.hook_normalized'],
      ],
    ] as const) {
      const { result, cache } = capture(1, filter as Parameters<typeof captureActivations>[1]);
      expect(cache.keys()).toEqual(expected);
      result.dispose();
      cache.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('sees the activation after the registered hooks, and does not change the forward pass', () => {
    const registry = new HookRegistry(NAMES);
    registry.add('blocks.1.hook_resid_post', (x) => tf.mul(x, 2));
    const plain = fakeForward(registry, 1);
    const { result, cache } = captureActivations(registry, undefined, () =>
      fakeForward(registry, 1),
    );
    expect(result.dataSync()[0]).toBeCloseTo(plain.dataSync()[0]!, 3);
    const index = NAMES.indexOf('blocks.1.hook_resid_post');
    expectValues(
      cache.get('blocks.1.hook_resid_post'),
      expectedActivation(index, 1).map((x) => 2 * x),
    );
    tf.dispose([plain, result]);
    cache.dispose();
  });

  it('keeps the last activation of a hook point reached twice, without leaking the first', () => {
    const registry = new HookRegistry(NAMES);
    const before = tf.memory().numTensors;
    const { result, cache } = captureActivations(registry, 'hook_embed', () =>
      tf.tidy(() => {
        registry.run('hook_embed', tf.fill([1, 2], 1));
        registry.run('hook_embed', tf.fill([1, 2], 7));
        return 'done';
      }),
    );
    expect(result).toBe('done');
    expect(Array.from(cache.get('hook_embed').dataSync())).toEqual([7, 7]);
    expect(tf.memory().numTensors).toBe(before + 1);
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('disposes the captures and removes its hook when fn throws', () => {
    const registry = new HookRegistry(NAMES);
    const before = tf.memory().numTensors;
    expect(() =>
      captureActivations(registry, undefined, () => {
        fakeForward(registry, 1).dispose();
        throw new Error('forward failed');
      }),
    ).toThrow('forward failed');
    expect(tf.memory().numTensors).toBe(before);
    expect(registry.count('hook_embed')).toBe(0);
    expect(() => captureActivations(registry, 'hook_embd', () => 1)).toThrow(UnknownHookError);
    expect(() => captureActivations(registry, /nothing/, () => 1)).toThrow(UnknownHookError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an async fn and captures nothing after', async () => {
    const registry = new HookRegistry(NAMES);
    const before = tf.memory().numTensors;
    let finished: Promise<void> = Promise.resolve();
    expect(() =>
      captureActivations(registry, undefined, () => {
        finished = (async () => {
          fakeForward(registry, 1).dispose();
          await Promise.resolve();
          fakeForward(registry, 1).dispose();
        })();
        return finished;
      }),
    ).toThrow(InvalidArgumentError);
    await finished;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(tf.memory().numTensors).toBe(before);
    expect(registry.count('hook_embed')).toBe(0);
  });
});
