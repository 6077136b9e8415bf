import { type HookFilter, type HookRegistry, layerOfHook } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { ActivationCache } from './activation-cache.js';

/**
 * Run `fn` with caching hooks at the selected hook points and return its result with the captured
 * activations (TransformerLens `run_with_cache`).
 *
 * The caching hooks run after every hook already registered, so they see the activation as the
 * rest of the model does. Each capture is a `tf.clone` (shares memory, no copy) kept alive past
 * `tf.tidy`; nothing else survives. If `fn` throws, the captures are disposed.
 *
 * @param registry - the model's hook registry.
 * @param namesFilter - which hook points to capture (default: all).
 * @param fn - the forward pass.
 * @example
 * ```ts
 * const { result: logits, cache } = captureActivations(model.hooks, /hook_z$/, () => model.forward(tokens));
 * ```
 */
export function captureActivations<T>(
  registry: HookRegistry,
  namesFilter: HookFilter | undefined,
  fn: () => T,
): { result: T; cache: ActivationCache } {
  const names = namesFilter === undefined ? registry.hookNames : registry.resolve(namesFilter);
  const captured = new Map<string, tf.Tensor>();
  const capture = (activation: tf.Tensor, context: { name: string }) => {
    captured.get(context.name)?.dispose();
    captured.set(context.name, tf.keep(tf.clone(activation)));
  };
  let result: T;
  try {
    result = registry.withHooks([[names, capture]], fn);
  } catch (error) {
    tf.dispose([...captured.values()]);
    throw error;
  }
  const largest = Math.max(-1, ...registry.hookNames.map((name) => layerOfHook(name) ?? -1));
  return { result, cache: new ActivationCache(captured, { nLayers: largest + 1 }) };
}
