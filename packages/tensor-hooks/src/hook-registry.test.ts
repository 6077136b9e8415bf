import { InvalidArgumentError, ShapeMismatchError, UnknownHookError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { listHookNames } from './hook-names.js';
import { type HookFunction, HookRegistry } from './hook-registry.js';
import { referenceForward, toyRegistry, toyValue } from './test-support/toy-model.js';
import { TEST_BACKENDS, useBackend } from './test-support/use-backend.js';

const NAMES = listHookNames(2);

/** A hook that records its tag and returns nothing. */
function recorder(log: string[], tag: string): HookFunction {
  return () => {
    log.push(tag);
  };
}

describe('HookRegistry filters', () => {
  const registry = new HookRegistry(NAMES);

  it('selects an exact name', () => {
    expect(registry.resolve('blocks.1.attn.hook_z')).toEqual(['blocks.1.attn.hook_z']);
  });

  it('selects a list of names in the given order, each once', () => {
    expect(registry.resolve(['hook_pos_embed', 'hook_embed', 'hook_pos_embed'])).toEqual([
      'hook_pos_embed',
      'hook_embed',
    ]);
    expect(registry.resolve([])).toEqual([]);
  });

  it('selects by RegExp in forward order, also with a global flag used twice', () => {
    const expected = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre'];
    expect(registry.resolve(/hook_resid_pre$/)).toEqual(expected);
    const global = /hook_resid_pre$/g;
    expect(registry.resolve(global)).toEqual(expected);
    expect(registry.resolve(global)).toEqual(expected);
  });

  it('selects by predicate', () => {
    expect(registry.resolve((name) => name.startsWith('ln_final'))).toEqual([
      'ln_final.hook_scale',
      'ln_final.hook_normalized',
    ]);
  });

  it('rejects an unknown exact name with the closest valid names', () => {
    let caught: unknown;
    try {
      registry.resolve('blocks.0.hook_resid_pr');
    } catch (error) {
      caught = error;
    }
    expect(UnknownHookError.isInstance(caught)).toBe(true);
    const error = caught as UnknownHookError;
    expect(error.hookName).toBe('blocks.0.hook_resid_pr');
    expect(error.suggestions[0]).toBe('blocks.0.hook_resid_pre');
    expect(error.suggestions.length).toBeGreaterThan(0);
    expect(error.message).toContain('Did you mean "blocks.0.hook_resid_pre"');
  });

  it('rejects a list with one unknown name', () => {
    expect(() => registry.resolve(['hook_embed', 'blocks.9.hook_resid_pre'])).toThrow(
      UnknownHookError,
    );
  });

  it('rejects a RegExp or predicate that selects nothing', () => {
    expect(() => registry.resolve(/hook_nothing/)).toThrow(/RegExp matches no hook point/);
    expect(() => registry.resolve(() => false)).toThrow(UnknownHookError);
  });

  it('rejects a filter of another type and a hook that is not a function', () => {
    expect(() => registry.resolve(3 as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => registry.resolve([3] as unknown as string[])).toThrow(InvalidArgumentError);
    expect(() => registry.add('hook_embed', 'no' as unknown as HookFunction)).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('HookRegistry bookkeeping', () => {
  beforeAll(() => useBackend('cpu'));

  it('adds, counts and removes; remove twice is harmless', () => {
    const registry = new HookRegistry(NAMES);
    const handle = registry.add(/hook_resid_pre$/, () => undefined);
    expect(registry.count('blocks.0.hook_resid_pre')).toBe(1);
    expect(registry.hasHooks('blocks.1.hook_resid_pre')).toBe(true);
    expect(registry.hasHooks('hook_embed')).toBe(false);
    handle.remove();
    handle.remove();
    expect(registry.count('blocks.0.hook_resid_pre')).toBe(0);
    expect(registry.hasHooks('blocks.1.hook_resid_pre')).toBe(false);
  });

  it('reset keeps permanent hooks unless includePermanent', () => {
    const registry = new HookRegistry(NAMES);
    registry.add('hook_embed', () => undefined, { permanent: true });
    registry.add('hook_embed', () => undefined);
    registry.add('hook_pos_embed', () => undefined);
    registry.reset();
    expect(registry.count('hook_embed')).toBe(1);
    expect(registry.count('hook_pos_embed')).toBe(0);
    registry.reset({ includePermanent: true });
    expect(registry.count('hook_embed')).toBe(0);
  });

  it('a permanent hook keeps running after reset', () => {
    const registry = new HookRegistry(NAMES);
    const log: string[] = [];
    registry.add('hook_embed', recorder(log, 'permanent'), { permanent: true });
    registry.add('hook_embed', recorder(log, 'plain'));
    registry.reset();
    const x = tf.scalar(1);
    registry.run('hook_embed', x);
    x.dispose();
    expect(log).toEqual(['permanent']);
  });

  it('withHooks removes its hooks when fn returns, and returns its value', () => {
    const registry = new HookRegistry(NAMES);
    const result = registry.withHooks([['hook_embed', () => undefined]], () => {
      expect(registry.count('hook_embed')).toBe(1);
      return 42;
    });
    expect(result).toBe(42);
    expect(registry.count('hook_embed')).toBe(0);
  });

  it('withHooks removes its hooks when fn throws, and keeps the others', () => {
    const registry = new HookRegistry(NAMES);
    registry.add('hook_embed', () => undefined);
    expect(() =>
      registry.withHooks([['hook_embed', () => undefined]], () => {
        expect(registry.count('hook_embed')).toBe(2);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(registry.count('hook_embed')).toBe(1);
  });

  it('withHooks removes its hooks when an async fn resolves', async () => {
    const registry = new HookRegistry(NAMES);
    const pending = registry.withHooks([[/hook_z$/, () => undefined]], async () => {
      await Promise.resolve();
      return 'done';
    });
    expect(registry.count('blocks.0.attn.hook_z')).toBe(1);
    await expect(pending).resolves.toBe('done');
    expect(registry.count('blocks.0.attn.hook_z')).toBe(0);
  });

  it('withHooks removes its hooks when an async fn rejects', async () => {
    const registry = new HookRegistry(NAMES);
    const pending = registry.withHooks([[/hook_z$/, () => undefined]], async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      throw new Error('async boom');
    });
    expect(registry.count('blocks.1.attn.hook_z')).toBe(1);
    await expect(pending).rejects.toThrow('async boom');
    expect(registry.count('blocks.1.attn.hook_z')).toBe(0);
  });

  it('withHooks adds none of its hooks when one of them is invalid', () => {
    const registry = new HookRegistry(NAMES);
    expect(() =>
      registry.withHooks(
        [
          ['hook_embed', () => undefined],
          ['blocks.0.hook_nope', () => undefined],
        ],
        () => 1,
      ),
    ).toThrow(UnknownHookError);
    expect(registry.count('hook_embed')).toBe(0);
  });

  it('a hook removing itself during run takes effect on the next pass', () => {
    const registry = new HookRegistry(NAMES);
    const log: string[] = [];
    const handle = registry.add('hook_embed', () => {
      log.push('once');
      handle.remove();
    });
    registry.add('hook_embed', recorder(log, 'after'));
    const x = tf.scalar(1);
    registry.run('hook_embed', x);
    registry.run('hook_embed', x);
    x.dispose();
    expect(log).toEqual(['once', 'after', 'after']);
  });
});

describe.each(TEST_BACKENDS)('HookRegistry.run on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('runs hooks in order added, each on the previous output; prepend goes first', () => {
    const registry = new HookRegistry(NAMES);
    const log: string[] = [];
    registry.add('blocks.0.hook_resid_pre', (x) => {
      log.push('add 1');
      return tf.add(x, 1);
    });
    registry.add('blocks.0.hook_resid_pre', (x) => {
      log.push('times 10');
      return tf.mul(x, 10);
    });
    registry.add(
      'blocks.0.hook_resid_pre',
      (x) => {
        log.push('minus 2 (prepended)');
        return tf.sub(x, 2);
      },
      { prepend: true },
    );
    const before = tf.memory().numTensors;
    const output = tf.tidy(() => registry.run('blocks.0.hook_resid_pre', tf.tensor1d([3, 5])));
    // ((x - 2) + 1) * 10
    expect(Array.from(output.dataSync())).toEqual([20, 40]);
    output.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(log).toEqual(['minus 2 (prepended)', 'add 1', 'times 10']);
  });

  it('passes the name and layer; returning nothing keeps the activation', () => {
    const registry = new HookRegistry(NAMES);
    const contexts: unknown[] = [];
    registry.add(['blocks.1.mlp.hook_post', 'hook_embed'], (_x, context) => {
      contexts.push({ ...context });
    });
    const x = tf.tensor1d([1, 2]);
    expect(registry.run('blocks.1.mlp.hook_post', x)).toBe(x);
    expect(registry.run('hook_embed', x)).toBe(x);
    expect(registry.run('hook_pos_embed', x)).toBe(x);
    x.dispose();
    expect(contexts).toEqual([
      { name: 'blocks.1.mlp.hook_post', layer: 1 },
      { name: 'hook_embed', layer: undefined },
    ]);
  });

  it('throws ShapeMismatchError for a hook returning another shape, without leaking', () => {
    const registry = new HookRegistry(NAMES);
    registry.add('hook_embed', (x) => tf.concat([x, x]));
    const before = tf.memory().numTensors;
    let caught: unknown;
    try {
      tf.tidy(() => registry.run('hook_embed', tf.ones([2, 3])));
    } catch (error) {
      caught = error;
    }
    expect(ShapeMismatchError.isInstance(caught)).toBe(true);
    expect((caught as ShapeMismatchError).expected).toEqual([2, 3]);
    expect((caught as ShapeMismatchError).actual).toEqual([4, 3]);
    expect((caught as Error).message).toContain('hook_embed');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('throws InvalidArgumentError for a hook returning a non-tensor', () => {
    const registry = new HookRegistry(NAMES);
    registry.add('hook_embed', (() => 3) as unknown as HookFunction);
    const before = tf.memory().numTensors;
    expect(() => tf.tidy(() => registry.run('hook_embed', tf.ones([2])))).toThrow(
      InvalidArgumentError,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('scoped hooks change a toy forward pass only inside the scope, also after a throw', () => {
    const registry = toyRegistry();
    const reference = referenceForward().metric;
    const before = tf.memory().numTensors;
    expect(toyValue(registry)).toBeCloseTo(reference, 4);
    const zeroed = registry.withHooks([['blocks.0.hook_mlp_out', (h) => tf.zerosLike(h)]], () =>
      toyValue(registry),
    );
    expect(zeroed).toBe(0);
    // Doubling h2 multiplies sum(h2^2) by 4.
    const doubled = registry.withHooks([[/mlp_out$/, (h) => tf.mul(h, 2)]], () =>
      toyValue(registry),
    );
    expect(doubled).toBeCloseTo(4 * reference, 3);
    expect(() =>
      registry.withHooks([['blocks.0.hook_mlp_out', (h) => tf.zerosLike(h)]], () => {
        toyValue(registry);
        throw new Error('after the forward pass');
      }),
    ).toThrow('after the forward pass');
    expect(toyValue(registry)).toBeCloseTo(reference, 4);
    expect(tf.memory().numTensors).toBe(before);
  });
});
