import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from './errors.js';
import type { HookName } from './hook-names.js';
import type { HookFilter, HookRegistry, HookSpec } from './hook-registry.js';

/** Result of {@link gradientsAtHooks}: the metric's value and d(metric)/d(activation) per hook point. */
export interface HookGradients {
  /** The metric's value on the unmodified forward pass. */
  readonly value: number;
  /** Gradient of the metric with respect to each selected activation, same shape as the activation. Caller disposes. */
  readonly gradients: Map<HookName, tf.Tensor>;
}

/**
 * Gradient of a scalar metric with respect to activations at chosen hook points.
 *
 * Adds a zero tensor `delta` at each selected hook point and differentiates the metric with respect
 * to the deltas (so the forward values stay exactly those of the plain run). The activation shapes
 * are learnt from one extra forward pass unless given in `options.shapes`.
 *
 * Requires gradient functions to be registered (in Node: `import '@tensorflow/tfjs'`, which
 * `@patchlens/backends/node` does; in bundlers: `@tensorflow/tfjs-core/dist/register_all_gradients`).
 *
 * @param registry - the model's hook registry (`model.hooks`).
 * @param filter - hook points to differentiate at.
 * @param metric - runs the forward pass (with the registry's hooks active) and returns a scalar.
 * @param options.shapes - activation shapes by hook name, to skip the shape-finding pass.
 * @example
 * ```ts
 * const { value, gradients } = gradientsAtHooks(model.hooks, /hook_resid_pre$/, () =>
 *   logitDiff(model.forward(tokens)));
 * ```
 */
export function gradientsAtHooks(
  registry: HookRegistry,
  filter: HookFilter,
  metric: () => tf.Scalar,
  options: { shapes?: ReadonlyMap<HookName, readonly number[]> } = {},
): HookGradients {
  const names = registry.resolve(filter);
  const shapes = options.shapes ?? findShapes(registry, names, metric);
  const deltas = names.map((name) => {
    const shape = shapes.get(name);
    if (!shape) {
      throw new InvalidArgumentError(
        `gradientsAtHooks: no shape known for hook "${name}" (the metric's forward pass never reached it).`,
      );
    }
    return tf.zeros([...shape]);
  });
  try {
    const hooks: HookSpec[] = names.map((name, index) => [
      name,
      (activation) => tf.add(activation, deltas[index]!),
    ]);
    const { value, grads } = tf.valueAndGrads((...inputs: tf.Tensor[]) => {
      void inputs;
      return registry.withHooks(hooks, metric);
    })(deltas);
    const gradients = new Map<HookName, tf.Tensor>(
      names.map((name, index) => [name, grads[index]!]),
    );
    const number = value.dataSync()[0]!;
    value.dispose();
    return { value: number, gradients };
  } finally {
    tf.dispose(deltas);
  }
}

function findShapes(
  registry: HookRegistry,
  names: readonly HookName[],
  metric: () => tf.Scalar,
): Map<HookName, number[]> {
  const shapes = new Map<HookName, number[]>();
  const recorders: HookSpec[] = names.map((name) => [
    name,
    (activation) => void shapes.set(name, activation.shape),
  ]);
  tf.tidy(() => registry.withHooks(recorders, metric));
  return shapes;
}
