import {
  actName,
  closestNames,
  gradientsAtHooks,
  type HookedModel,
  type HookName,
  type HookSpec,
  InvalidArgumentError,
  ShapeMismatchError,
  type UnembedSelection,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { PatchResult } from './patch-result.js';
import {
  checkMetricReads,
  type Metric,
  metricScalar,
  type PatchingMetric,
  selectLogits,
  toPatchingMetric,
} from './patching-metric.js';
import { checkCorruptedTokens } from './run-patch-jobs.js';
import { SWEEP_NAMES, type SweepName, type SweepSpec, sweepSpec } from './sweeps.js';

/**
 * Options of {@link attributionPatch}.
 *
 * @example
 * ```ts
 * const options: AttributionPatchOptions = { kinds: ['resid_pre', 'attn_head_out_all_pos'] };
 * ```
 */
export interface AttributionPatchOptions {
  /**
   * Which sweeps to estimate: `'all'` (default: every {@link SWEEPS} entry), a comma-separated list,
   * or an array of sweep names.
   */
  readonly kinds?: 'all' | string | readonly SweepName[];
}

/**
 * What {@link attributionPatch} returns.
 *
 * @example
 * ```ts
 * const { results, corrupted } = await attributionPatch(model, clean, corrupted, metric);
 * results.get('resid_pre')!.get(layer, pos) + corrupted; // estimate of the exact resid_pre sweep
 * ```
 */
export interface AttributionPatchResult {
  /** One result per kind, in the order asked, with the exact sweep's shape and axes; values are estimates of `exact − corrupted`. */
  readonly results: Map<SweepName, PatchResult>;
  /** The metric on the clean run. */
  readonly clean: number;
  /** The metric on the corrupted run (add it to an estimate to compare with the exact sweep's value). */
  readonly corrupted: number;
}

/**
 * Turns a `--kinds` value into sweep names: `all`, a comma-separated list or an array.
 *
 * @throws InvalidArgumentError naming the unknown kind, the closest names and the full list.
 * @example
 * ```ts
 * resolveAttributionKinds('resid_pre,attn_out'); // ['resid_pre', 'attn_out']
 * ```
 */
export function resolveAttributionKinds(spec: string | readonly string[] = 'all'): SweepName[] {
  const parts = (typeof spec === 'string' ? spec.split(',') : [...spec])
    .map((part) => String(part).trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) {
    throw new InvalidArgumentError(
      `attributionPatch: no kind named; give "all" or a comma-separated list of: ${SWEEP_NAMES.join(', ')}.`,
    );
  }
  const kinds: SweepName[] = [];
  for (const part of parts) {
    const expanded = part === 'all' ? SWEEP_NAMES : [part as SweepName];
    for (const kind of expanded) {
      if (!(SWEEP_NAMES as readonly string[]).includes(kind)) {
        const nearest = closestNames(kind, SWEEP_NAMES);
        throw new InvalidArgumentError(
          `attributionPatch: unknown kind "${kind}"; did you mean ${nearest.map((n) => `"${n}"`).join(', ')}? Valid kinds: all, ${SWEEP_NAMES.join(', ')} (the *_every stacks are not kinds).`,
        );
      }
      if (!kinds.includes(kind)) kinds.push(kind);
    }
  }
  return kinds;
}

/**
 * Attribution patching: a linear estimate of every entry of the exact activation-patching sweeps,
 * from one clean forward pass (the cache), one corrupted forward pass with gradients and one
 * backward pass, whatever the number of entries (Nanda's "attribution patching").
 *
 * Each entry is `Σ_batch Σ_patched coordinates (a_clean − a_corrupted) · ∂metric/∂a`, the gradient
 * taken in the **corrupted** run (denoising, like the `getActPatch*` sweeps): it estimates
 * `exact sweep value − corrupted metric`. The patched coordinates are exactly those the matching
 * sweep replaces (for `_all_pos`, every position and d_head of the head). Results have the exact
 * sweep's shape and axes; masked pattern entries (src > dest) are 0.
 *
 * Requires gradient functions (`@patchlens/backends` registers them).
 * Limitations: a first-order estimate: it matches the exact sweep where the model is close to
 * linear between the two runs (small weights, small differences) and can be far off where it is
 * not (saturated softmax, LayerNorm with a large change of scale) — that is the approximation.
 *
 * @param model - any {@link HookedModel}.
 * @param cleanTokens - int32 `[batch, pos]`.
 * @param corruptedTokens - int32 `[batch, pos]`, same shape.
 * @param metric - a {@link PatchingMetric} (e.g. `logitDiff`) or a function of the logits; it must
 *   be differentiable (tf ops).
 * @param options.kinds - `'all'` (default), a comma-separated list or an array of sweep names.
 * @throws InvalidArgumentError for unknown kinds or bad tokens; ShapeMismatchError when the two
 *   token tensors differ in shape; MetricError for a metric that is not one finite number.
 * @example
 * ```ts
 * const { results, corrupted } = await attributionPatch(model, cleanTokens, corruptedTokens,
 *   logitDiff({ answers: 5335, wrong: 1757 }), { kinds: 'attn_head_out_all_pos' });
 * results.get('attn_head_out_all_pos')!.shape; // [nLayers, nHeads]
 * ```
 */
export async function attributionPatch(
  model: HookedModel,
  cleanTokens: tf.Tensor,
  corruptedTokens: tf.Tensor,
  metric: Metric,
  options: AttributionPatchOptions = {},
): Promise<AttributionPatchResult> {
  const where = 'attributionPatch';
  const started = performance.now();
  const kinds = resolveAttributionKinds(options.kinds ?? 'all');
  const [, positions] = checkCorruptedTokens(where, corruptedTokens);
  checkCorruptedTokens(where, cleanTokens);
  if (!tf.util.arraysEqual(cleanTokens.shape, corruptedTokens.shape)) {
    throw new ShapeMismatchError(
      `${where}: cleanTokens has shape [${cleanTokens.shape}] but corruptedTokens has [${corruptedTokens.shape}]; give prompts of the same batch size and token length.`,
      { expected: corruptedTokens.shape, actual: cleanTokens.shape },
    );
  }
  const patchingMetric = toPatchingMetric(metric, where);
  checkMetricReads(where, patchingMetric, positions, model.config.dVocab);
  const specs = kinds.map(sweepSpec);
  const activationNames = [...new Set(specs.map((spec) => spec.activationName))];
  const hookNames: HookName[] = [];
  for (let layer = 0; layer < model.config.nLayers; layer++) {
    for (const activationName of activationNames) hookNames.push(actName(activationName, layer));
  }

  // 1. clean forward, caching the patched activations
  const cleanRun = model.runWithCache(cleanTokens, { namesFilter: hookNames });
  const corruptedActivations = new Map<string, tf.Tensor>();
  const gradients = new Map<string, tf.Tensor>();
  try {
    const clean = await metricValue(patchingMetric, cleanRun.logits);
    const shapes = new Map(hookNames.map((name) => [name, cleanRun.cache.get(name).shape]));
    // 2. + 3. corrupted forward with gradients (capturing the corrupted activations), one backward
    const capture: HookSpec = [
      hookNames,
      (activation, context) => {
        corruptedActivations.get(context.name)?.dispose();
        corruptedActivations.set(context.name, tf.keep(tf.clone(activation)));
      },
    ];
    const result = gradientsAtHooks(
      model.hooks,
      hookNames,
      () =>
        model.hooks.withHooks([capture], () =>
          metricScalar(
            patchingMetric,
            differentiableLogits(model, corruptedTokens, patchingMetric.reads),
            `in ${where} (corrupted run)`,
          ),
        ),
      { shapes },
    );
    for (const [name, gradient] of result.gradients) gradients.set(name, gradient);
    const results = new Map<SweepName, PatchResult>();
    for (const spec of specs) {
      results.set(
        spec.name as SweepName,
        await estimate(spec, model, cleanRun.cache, corruptedActivations, gradients, started),
      );
    }
    return { results, clean, corrupted: result.value };
  } finally {
    tf.dispose([...corruptedActivations.values(), ...gradients.values(), cleanRun.logits]);
    cleanRun.cache.dispose();
  }
}

/**
 * The logits a metric reads, `[batch, positions, tokens]`, differentiable on every backend: the
 * model's selective unembedding when it has one, else slices (tfjs's gather gradient needs
 * UnsortedSegmentSum, which wasm lacks).
 */
function differentiableLogits(
  model: HookedModel,
  tokens: tf.Tensor,
  reads: UnembedSelection | undefined,
): tf.Tensor {
  if (reads === undefined) return model.forward(tokens); // [batch, pos, dVocab]
  if (model.capabilities.selectiveUnembed) return model.forward(tokens, { unembed: reads });
  const logits = model.forward(tokens); // [batch, pos, dVocab]
  const [batch, positions, vocab] = logits.shape as [number, number, number];
  const rows =
    reads.positions === undefined
      ? logits
      : tf.concat(
          reads.positions.map((p) =>
            tf.slice(logits, [0, p < 0 ? p + positions : p, 0], [batch, 1, vocab]),
          ),
          1,
        ); // [batch, n_positions, dVocab]
  if (reads.tokens === undefined) return rows;
  return tf.concat(
    reads.tokens.map((token) => tf.slice(rows, [0, 0, token], [-1, -1, 1])),
    2,
  ); // [batch, rows, n_tokens]
}

async function metricValue(metric: PatchingMetric, logits: tf.Tensor): Promise<number> {
  const scalar = tf.tidy(() =>
    metricScalar(metric, selectLogits(logits, metric.reads), 'in attributionPatch (clean run)'),
  );
  try {
    return (await scalar.data())[0]!;
  } finally {
    scalar.dispose();
  }
}

/** One kind's estimates: per layer, (clean − corrupted) · gradient summed over the batch and the free axes. */
async function estimate(
  spec: SweepSpec,
  model: HookedModel,
  cleanCache: { get(name: string): tf.Tensor },
  corrupted: ReadonlyMap<string, tf.Tensor>,
  gradients: ReadonlyMap<string, tf.Tensor>,
  started: number,
): Promise<PatchResult> {
  const perLayer: tf.Tensor[] = [];
  try {
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      const name = actName(spec.activationName, layer);
      perLayer.push(
        tf.tidy(() => {
          const clean = cleanCache.get(name); // [batch, ...activation axes]
          const product = tf.mul(tf.sub(clean, corrupted.get(name)!), gradients.get(name)!);
          // Sum the batch and every axis a patch covers whole; keep the axes the index fixes (in
          // increasing order = the index axes after the layer).
          const summed = Array.from({ length: product.rank }, (_, axis) => axis).filter(
            (axis) => !spec.setter.activationAxes.includes(axis),
          );
          return tf.sum(product, summed);
        }),
      );
    }
    const layerShape = perLayer[0]!.shape;
    const stacked = tf.stack(perLayer); // [nLayers, ...index axes after the layer]
    let values: Float32Array;
    try {
      values = new Float32Array(await stacked.data());
    } finally {
      stacked.dispose();
    }
    return new PatchResult({
      values,
      shape: [model.config.nLayers, ...layerShape],
      axes: [...spec.axes],
      ms: performance.now() - started,
    });
  } finally {
    tf.dispose(perLayer);
  }
}
