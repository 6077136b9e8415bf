import {
  InvalidArgumentError,
  MetricError,
  PatchLensError,
  ShapeMismatchError,
  type UnembedSelection,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Any function from logits to one number (a 0-d tensor or a plain number). It gets the full logits
 * `[batch, pos, dVocab]` of the (patched) corrupted run and runs inside `tf.tidy`.
 *
 * @example
 * ```ts
 * const lastTokenLogit: MetricFunction = (logits) => tf.mean(tf.slice(logits, [0, logits.shape[1]! - 1, 42], [-1, 1, 1]));
 * ```
 */
export type MetricFunction = (logits: tf.Tensor) => tf.Tensor | number;

/**
 * A metric that declares which logits it reads, so the fast engine unembeds only those.
 *
 * `compute` gets logits `[batch, positions, tokens]` in the order `reads` lists them (all positions
 * / the whole vocabulary for a part `reads` leaves out), in both engines. It runs inside `tf.tidy`
 * and returns one number (a 0-d tensor or a plain number).
 *
 * @example
 * ```ts
 * const maryLogit: PatchingMetric = {
 *   name: 'mary-logit',
 *   reads: { positions: [-1], tokens: [5335] },
 *   compute: (logits) => tf.mean(logits), // logits: [batch, 1, 1]
 * };
 * ```
 */
export interface PatchingMetric {
  /** Shown in results and error messages, e.g. `logit-diff`. */
  readonly name: string;
  /** The logits `compute` needs; omitted = every position and token. */
  readonly reads?: UnembedSelection;
  /** The metric's value on those logits. */
  readonly compute: (logits: tf.Tensor) => tf.Tensor | number;
}

/**
 * What sweeps accept as a metric: a {@link PatchingMetric} (fast: reads only what it declares) or
 * any {@link MetricFunction} (opaque: needs the full logits).
 *
 * @example
 * ```ts
 * const metrics: Metric[] = [logitDiff({ answers: 5335, wrong: 1757 }), (logits) => tf.mean(logits)];
 * ```
 */
export type Metric = PatchingMetric | MetricFunction;

/**
 * Options of {@link logitDiff}.
 *
 * @example
 * ```ts
 * const options: LogitDiffOptions = { answers: [5335, 1757], wrong: [1757, 5335], position: -1 };
 * ```
 */
export interface LogitDiffOptions {
  /** Correct answer token id: one for every prompt, or one per prompt (length = batch). */
  readonly answers: number | readonly number[];
  /** Wrong answer token id: one for every prompt, or one per prompt (length = batch). */
  readonly wrong: number | readonly number[];
  /** Position whose logits are compared; negative counts from the end (default -1, the last). */
  readonly position?: number;
}

/**
 * How a built-in metric is rebuilt on a worker thread (closures cannot cross threads): the
 * function that made it and its (structured-cloneable) arguments.
 */
export type MetricRecipe =
  | { readonly kind: 'logit-diff'; readonly options: LogitDiffOptions }
  | {
      readonly kind: 'normalized';
      readonly inner: MetricRecipe;
      readonly baselines: { readonly clean: number; readonly corrupted: number };
    };

const RECIPES = new WeakMap<PatchingMetric, MetricRecipe>();

/** The recipe of a metric made by {@link logitDiff} or {@link normalizedMetric}; else undefined. */
export function metricRecipe(metric: PatchingMetric): MetricRecipe | undefined {
  return RECIPES.get(metric);
}

/** The metric a {@link MetricRecipe} describes. */
export function metricFromRecipe(recipe: MetricRecipe): PatchingMetric {
  if (recipe.kind === 'logit-diff') return logitDiff(recipe.options);
  return normalizedMetric(metricFromRecipe(recipe.inner), recipe.baselines);
}

function checkTokenIds(name: string, value: number | readonly number[]): readonly number[] {
  const ids = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new InvalidArgumentError(
      `logitDiff: ${name} must be a token id or a non-empty array of token ids (one per prompt), got ${JSON.stringify(value)}.`,
    );
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0) {
      throw new InvalidArgumentError(
        `logitDiff: ${name} holds ${JSON.stringify(id)}; token ids are non-negative integers.`,
      );
    }
  }
  return ids;
}

/**
 * Logit difference: mean over the batch of `logits[b, position, answers[b]] - logits[b, position, wrong[b]]`.
 *
 * Declares what it reads (one position, the answer and wrong token ids), so the fast engine
 * unembeds only those.
 *
 * @param options.answers - correct token id(s): one for all prompts or one per prompt.
 * @param options.wrong - wrong token id(s): one for all prompts or one per prompt.
 * @param options.position - the position compared (default -1).
 * @throws InvalidArgumentError for ids that are not non-negative integers, or arrays of different lengths.
 * @example
 * ```ts
 * const metric = logitDiff({ answers: 5335, wrong: 1757 }); // " Mary" vs " John", last position
 * ```
 */
export function logitDiff(options: LogitDiffOptions): PatchingMetric {
  const answers = checkTokenIds('answers', options.answers);
  const wrong = checkTokenIds('wrong', options.wrong);
  const position = options.position ?? -1;
  if (!Number.isInteger(position)) {
    throw new InvalidArgumentError(
      `logitDiff: position must be an integer (negative counts from the end), got ${position}.`,
    );
  }
  if (answers.length > 1 && wrong.length > 1 && answers.length !== wrong.length) {
    throw new InvalidArgumentError(
      `logitDiff: answers has ${answers.length} ids but wrong has ${wrong.length}; give one per prompt (the same count) or a single id for all.`,
    );
  }
  const tokens = [...new Set([...answers, ...wrong])].sort((a, b) => a - b);
  const column = new Map(tokens.map((token, index) => [token, index]));
  const metric: PatchingMetric = {
    name: 'logit-diff',
    reads: { positions: [position], tokens },
    compute: (logits) => {
      const [batch, rows, width] = logits.shape as [number, number, number];
      for (const [name, ids] of [
        ['answers', answers],
        ['wrong', wrong],
      ] as const) {
        if (ids.length > 1 && ids.length !== batch) {
          throw new ShapeMismatchError(
            `logitDiff: ${name} has ${ids.length} ids (one per prompt) but the batch has ${batch} prompts; give ${batch} ids or one for all.`,
            { expected: [batch], actual: [ids.length] },
          );
        }
      }
      if (rows !== 1 || width !== tokens.length) {
        throw new ShapeMismatchError(
          `logitDiff: expected logits [batch, 1, ${tokens.length}] (the declared position and tokens), got [${logits.shape}].`,
          { expected: [batch, 1, tokens.length], actual: logits.shape },
        );
      }
      // A weighted sum instead of a gather: differentiable on every backend (tfjs's gather
      // gradient needs UnsortedSegmentSum, which wasm lacks), for attribution patching.
      const weights = new Float32Array(batch * width);
      for (let b = 0; b < batch; b++) {
        weights[b * width + column.get(answers[answers.length > 1 ? b : 0]!)!]! += 1 / batch;
        weights[b * width + column.get(wrong[wrong.length > 1 ? b : 0]!)!]! -= 1 / batch;
      }
      const flat = tf.reshape(logits, [batch * width]); // [batch * tokens]
      return tf.sum(tf.mul(flat, tf.tensor1d(weights)));
    },
  };
  RECIPES.set(metric, {
    kind: 'logit-diff',
    options: { answers: [...answers], wrong: [...wrong], position },
  });
  return metric;
}

/**
 * `(metric - corrupted) / (clean - corrupted)`: 0 = the corrupted value, 1 = the clean value restored.
 *
 * Reads what `metric` reads.
 *
 * @param metric - the metric to normalise (a {@link PatchingMetric} or a function).
 * @param baselines.clean - the metric on the clean run.
 * @param baselines.corrupted - the metric on the corrupted run.
 * @throws InvalidArgumentError when a baseline is not finite or the two are equal.
 * @example
 * ```ts
 * const normalized = normalizedMetric(logitDiff({ answers: 5335, wrong: 1757 }), { clean: 3.1, corrupted: -2.4 });
 * ```
 */
export function normalizedMetric(
  metric: Metric,
  baselines: { readonly clean: number; readonly corrupted: number },
): PatchingMetric {
  const inner = toPatchingMetric(metric, 'normalizedMetric');
  const { clean, corrupted } = baselines ?? {};
  if (
    typeof clean !== 'number' ||
    typeof corrupted !== 'number' ||
    !Number.isFinite(clean) ||
    !Number.isFinite(corrupted)
  ) {
    throw new InvalidArgumentError(
      `normalizedMetric: baselines.clean and baselines.corrupted must be finite numbers, got clean=${clean}, corrupted=${corrupted}.`,
    );
  }
  if (clean === corrupted) {
    throw new InvalidArgumentError(
      `normalizedMetric: baselines.clean and baselines.corrupted are both ${clean}; the clean and corrupted runs must differ to normalise.`,
    );
  }
  const normalized: PatchingMetric = {
    name: `normalized-${inner.name}`,
    compute: (logits) => {
      const value = inner.compute(logits);
      const tensor = typeof value === 'number' ? tf.scalar(value) : value;
      return tf.div(tf.sub(tensor, corrupted), clean - corrupted);
    },
  };
  const result = inner.reads === undefined ? normalized : { ...normalized, reads: inner.reads };
  const innerRecipe = RECIPES.get(inner);
  if (innerRecipe) {
    RECIPES.set(result, {
      kind: 'normalized',
      inner: innerRecipe,
      baselines: { clean, corrupted },
    });
  }
  return result;
}

/** A {@link Metric} as a {@link PatchingMetric} (functions read everything). */
export function toPatchingMetric(metric: Metric, functionName: string): PatchingMetric {
  if (typeof metric === 'function') return { name: metric.name || 'custom', compute: metric };
  if (typeof metric === 'object' && metric !== null && typeof metric.compute === 'function') {
    return metric;
  }
  throw new InvalidArgumentError(
    `${functionName}: metric must be a function of the logits or an object { name, reads?, compute }, got ${typeof metric}.`,
  );
}

/**
 * Checks a metric's declared reads against the model and prompt.
 *
 * @throws InvalidArgumentError for a position outside the prompt or a token id outside the vocabulary.
 */
export function checkMetricReads(
  functionName: string,
  metric: PatchingMetric,
  positions: number,
  dVocab: number,
): void {
  const reads = metric.reads;
  if (reads === undefined) return;
  for (const position of reads.positions ?? []) {
    if (!Number.isInteger(position) || position < -positions || position >= positions) {
      throw new InvalidArgumentError(
        `${functionName}: metric "${metric.name}" reads position ${position}, outside a prompt of ${positions} tokens; accepted: -${positions}..${positions - 1}.`,
      );
    }
  }
  for (const token of reads.tokens ?? []) {
    if (!Number.isInteger(token) || token < 0 || token >= dVocab) {
      throw new InvalidArgumentError(
        `${functionName}: metric "${metric.name}" reads token id ${token}, outside the vocabulary; accepted: 0..${dVocab - 1}.`,
      );
    }
  }
}

/** Full logits `[batch, pos, dVocab]` -> the layout a metric declared (`[batch, positions, tokens]`). */
export function selectLogits(logits: tf.Tensor, reads: UnembedSelection | undefined): tf.Tensor {
  if (reads === undefined) return logits;
  return tf.tidy(() => {
    let selected = logits;
    if (reads.positions !== undefined) {
      const positions = logits.shape[1]!;
      const indices = reads.positions.map((p) => (p < 0 ? p + positions : p));
      selected = tf.gather(selected, tf.tensor1d(indices, 'int32'), 1); // [batch, n_positions, vocab]
    }
    if (reads.tokens !== undefined) {
      selected = tf.gather(selected, tf.tensor1d([...reads.tokens], 'int32'), 2); // [batch, rows, n_tokens]
    }
    return selected;
  });
}

/**
 * The metric's value as a 0-d tensor.
 *
 * @throws MetricError when the metric returns something other than one number; the message names `where`.
 */
export function metricScalar(metric: PatchingMetric, logits: tf.Tensor, where: string): tf.Scalar {
  let value: tf.Tensor | number;
  try {
    value = metric.compute(logits);
  } catch (error) {
    if (PatchLensError.isInstance(error)) throw error;
    throw new MetricError(`metric "${metric.name}" threw "${String(error)}" ${where}.`, {
      cause: error,
    });
  }
  if (typeof value === 'number') return tf.scalar(value);
  if (!(value instanceof tf.Tensor)) {
    throw new MetricError(
      `metric "${metric.name}" returned ${typeof value} ${where}; a metric returns one number (a number or a 0-d tensor).`,
    );
  }
  if (value.size !== 1) {
    throw new MetricError(
      `metric "${metric.name}" returned a tensor of shape [${value.shape}] ${where}; a metric returns one number (a number or a 0-d tensor), e.g. take tf.mean over the batch.`,
    );
  }
  return tf.reshape(tf.cast(value, 'float32'), []);
}
