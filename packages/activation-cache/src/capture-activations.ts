import {
  type HookedModel,
  type HookFilter,
  type HookRegistry,
  InvalidArgumentError,
  layerOfHook,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { ActivationCache } from './activation-cache.js';

/**
 * Run `fn` with caching hooks at the selected hook points and return its result with the captured
 * activations (TransformerLens `run_with_cache`).
 *
 * The caching hooks run after every hook already registered, so they see the activation as the
 * rest of the model does. Each capture is a `tf.clone` (shares memory, no copy) kept alive past
 * `tf.tidy`; nothing else survives. A hook point reached twice keeps the last activation. If `fn`
 * throws, the captures are disposed and the error is rethrown.
 *
 * Limitations: `fn` must be synchronous (a model's forward pass is); a promise-returning `fn` is
 * an error (its captures are disposed and later ones are not made).
 *
 * @param registry - the model's hook registry.
 * @param namesFilter - which hook points to capture (default, `undefined`: all).
 * @param fn - the forward pass.
 * @param options.model - the model the cache keeps a reference to (for its residual-stream analysis).
 * @returns `fn`'s result and an {@link ActivationCache} that owns the captures (caller disposes both).
 * @example
 * ```ts
 * const { result: logits, cache } = captureActivations(model.hooks, /hook_z$/, () => model.forward(tokens));
 * ```
 */
export function captureActivations<T>(
  registry: HookRegistry,
  namesFilter: HookFilter | undefined,
  fn: () => T,
  options: { readonly model?: HookedModel } = {},
): { result: T; cache: ActivationCache } {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(
      `captureActivations: fn must be a function (the forward pass), got ${typeof fn}.`,
    );
  }
  const names = namesFilter === undefined ? registry.hookNames : registry.resolve(namesFilter);
  const captured = new Map<string, tf.Tensor>();
  let open = true;
  const capture = (activation: tf.Tensor, context: { name: string }) => {
    if (!open) return;
    captured.get(context.name)?.dispose();
    captured.set(context.name, tf.keep(tf.clone(activation)));
  };
  const discard = () => {
    open = false;
    tf.dispose([...captured.values()]);
    captured.clear();
  };
  let result: T;
  try {
    result = registry.withHooks([[names, capture]], fn);
  } catch (error) {
    discard();
    throw error;
  }
  if (isPromiseLike(result)) {
    discard();
    // The scoped hook stays until the promise settles; swallow its outcome here (the caller gets the error).
    Promise.resolve(result).catch(() => undefined);
    throw new InvalidArgumentError(
      'captureActivations: fn returned a promise; it must run the forward pass synchronously.',
    );
  }
  open = false;
  // Forward order, whatever order the hook points were reached in.
  const ordered = new Map<string, tf.Tensor>();
  for (const name of registry.hookNames) {
    const tensor = captured.get(name);
    if (tensor) ordered.set(name, tensor);
  }
  let largest = -1;
  for (const name of registry.hookNames) largest = Math.max(largest, layerOfHook(name) ?? -1);
  return {
    result,
    cache: new ActivationCache(ordered, {
      nLayers: largest + 1,
      ...(options.model ? { model: options.model } : {}),
    }),
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
