import type { HookName, HookRegistry } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

/** Runs the hooks at a hook point; `watched` says whether any is attached (to skip layout work). */
export interface HookRunner {
  run<T extends tf.Tensor>(name: HookName, activation: T): T;
  watched(name: HookName): boolean;
}

/** A runner over a registry, or one that runs nothing. */
export function hookRunner(registry: HookRegistry | undefined): HookRunner {
  if (!registry) return { run: (_name, activation) => activation, watched: () => false };
  return {
    run: <T extends tf.Tensor>(name: HookName, activation: T) =>
      registry.run(name, activation) as T,
    watched: (name) => registry.hasHooks(name),
  };
}

/** `x + b`, or `x` when the bias is absent. */
export function addBias<T extends tf.Tensor>(x: T, bias: tf.Tensor1D | null): T {
  return bias ? tf.add<T>(x, bias) : x;
}
