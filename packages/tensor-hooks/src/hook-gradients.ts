import { InvalidArgumentError, MetricError, ShapeMismatchError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import type { HookName } from './hook-names.js';
import type { HookFilter, HookRegistry, HookSpec } from './hook-registry.js';

/**
 * Result of {@link gradientsAtHooks}: the metric's value and d(metric)/d(activation) per hook point.
 *
 * @example
 * ```ts
 * const { value, gradients } = gradientsAtHooks(model.hooks, 'blocks.0.hook_resid_pre', metric);
 * gradients.get('blocks.0.hook_resid_pre')?.shape; // same shape as the activation
 * tf.dispose([...gradients.values()]);
 * ```
 */
export interface HookGradients {
  /** The metric's value on the unmodified forward pass. */
  readonly value: number;
  /** Gradient of the metric with respect to each selected activation, same shape as the activation. Caller disposes. */
  readonly gradients: Map<HookName, tf.Tensor>;
}

/**
 * Gradient of a scalar metric with respect to activations at chosen hook points (the backward
 * direction that attribution patching needs; TransformerLens gets it from backward hooks).
 *
 * Adds a zero tensor `delta` at each selected hook point and differentiates the metric with respect
 * to the deltas, so the forward values stay exactly those of the plain run. The delta is added after
 * the hooks already registered at that point: the gradient is taken with respect to the activation
 * as the rest of the model sees it. A hook point the metric does not depend on gets a zero gradient.
 * The activation shapes are learnt from one extra forward pass unless given in `options.shapes`.
 *
 * Requires gradient functions to be registered (in Node: `import '@patchlens/backends/node'`, which
 * registers tfjs-core's own, bundled for Node; in bundlers: `@tensorflow/tfjs-core/dist/register_all_gradients`,
 * which `@patchlens/backends/browser` does).
 *
 * Limitations: the metric runs synchronously (tfjs's gradient tape is synchronous); a hook point
 * reached twice in one pass gets the sum of both gradients.
 *
 * @param registry - the model's hook registry (`model.hooks`).
 * @param filter - hook points to differentiate at.
 * @param metric - runs the forward pass (with the registry's hooks active) and returns a scalar
 *   (a tensor of size 1). It runs once more than the gradient pass when `options.shapes` is absent.
 * @param options.shapes - activation shapes by hook name, to skip the shape-finding pass.
 * @throws MetricError when the metric returns something other than one finite number.
 * @throws InvalidArgumentError when the metric's forward pass never reaches a selected hook point.
 * @throws ShapeMismatchError when `options.shapes` disagrees with an activation's shape.
 * @example
 * ```ts
 * const { value, gradients } = gradientsAtHooks(model.hooks, /hook_resid_pre$/, () =>
 *   logitDiff(model.forward(tokens)));
 * ```
 */
export function gradientsAtHooks(
  registry: HookRegistry,
  filter: HookFilter,
  metric: () => tf.Scalar | tf.Tensor,
  options: { shapes?: ReadonlyMap<HookName, readonly number[]> } = {},
): HookGradients {
  if (typeof metric !== 'function') {
    throw new InvalidArgumentError(
      `gradientsAtHooks: metric must be a function returning a scalar tensor, got ${typeof metric}.`,
    );
  }
  const names = registry.resolve(filter);
  if (names.length === 0) {
    throw new InvalidArgumentError(
      'gradientsAtHooks: the filter selects no hook point (an empty list); give at least one hook name.',
    );
  }
  const shapes = options.shapes ?? findShapes(registry, names, metric);
  const deltaShapes = names.map((name) => {
    const shape = shapes.get(name);
    if (!shape) {
      throw new InvalidArgumentError(
        `gradientsAtHooks: no shape known for hook "${name}" (the metric's forward pass never reached it).`,
      );
    }
    return [...shape];
  });
  const reached = new Set<HookName>();
  const deltas = deltaShapes.map((shape) => tf.zeros(shape));
  try {
    const hooks: HookSpec[] = names.map((name, index) => [
      name,
      (activation) => {
        const delta = deltas[index]!;
        if (!tf.util.arraysEqual(activation.shape, delta.shape)) {
          throw new ShapeMismatchError(
            `gradientsAtHooks: the activation at "${name}" has shape [${activation.shape}], but options.shapes gives [${delta.shape}].`,
            { expected: delta.shape, actual: activation.shape },
          );
        }
        reached.add(name);
        return tf.add(activation, delta);
      },
    ]);
    // tfjs frees the tensors its gradient tape saved only when the taped function returns: an
    // error thrown through the tape would leak them. So the error is caught here, the tape
    // finishes on a stand-in value, and the error is rethrown after.
    let failure: { error: unknown } | undefined;
    const { value, grads } = tf.valueAndGrads((...inputs: tf.Tensor[]) => {
      let output: tf.Scalar;
      try {
        output = scalarOf(registry.withHooks(hooks, metric));
      } catch (error) {
        failure = { error };
        output = tf.scalar(0);
      }
      // Tie every delta to the output with weight 0, so that a hook point the metric does not
      // depend on gets a zero gradient instead of tfjs's "cannot compute gradient" error.
      return tf.addN([output, ...inputs.map((delta) => tf.mul(tf.sum(delta), 0))]);
    })(deltas);
    const number = value.dataSync()[0]!;
    value.dispose();
    if (failure) {
      tf.dispose(grads);
      throw failure.error;
    }
    const missed = names.filter((name) => !reached.has(name));
    if (missed.length > 0 || !Number.isFinite(number)) {
      tf.dispose(grads);
      if (missed.length > 0) {
        throw new InvalidArgumentError(
          `gradientsAtHooks: the metric's forward pass never reached ${missed.map((name) => `"${name}"`).join(', ')}.`,
        );
      }
      throw new MetricError(`gradientsAtHooks: the metric returned ${number}; it must be finite.`);
    }
    const gradients = new Map<HookName, tf.Tensor>(
      names.map((name, index) => [name, grads[index]!]),
    );
    return { value: number, gradients };
  } finally {
    tf.dispose(deltas);
  }
}

/** The metric's output as a rank-0 tensor, or a MetricError when it is not one number. */
function scalarOf(output: unknown): tf.Scalar {
  if (!(output instanceof tf.Tensor)) {
    throw new MetricError(
      `gradientsAtHooks: the metric returned ${output === null ? 'null' : typeof output}; it must return a scalar tf.Tensor.`,
    );
  }
  if (output.size !== 1) {
    throw new MetricError(
      `gradientsAtHooks: the metric returned shape [${output.shape}]; it must return a scalar (one number).`,
    );
  }
  return output.rank === 0 ? (output as tf.Scalar) : tf.reshape(output, []);
}

function findShapes(
  registry: HookRegistry,
  names: readonly HookName[],
  metric: () => tf.Tensor,
): Map<HookName, number[]> {
  const shapes = new Map<HookName, number[]>();
  const recorders: HookSpec[] = names.map((name) => [
    name,
    (activation) => void shapes.set(name, activation.shape),
  ]);
  tf.tidy(() => {
    scalarOf(registry.withHooks(recorders, metric));
  });
  return shapes;
}
