/**
 * The fast engine's executor: runs the passes of a {@link SweepPlan} on one model (the calling
 * thread's or a worker's), with tensors. What to run is decided by the planner (sweep-plan.ts).
 */
import {
  type HookFunction,
  type HookName,
  type HookSpec,
  MetricError,
  type PastKeyValue,
  queryPositionAxis,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  describeJob,
  type EngineContext,
  type PatchJob,
  throwIfAborted,
  yieldToEventLoop,
} from './patch-job.js';
import {
  applyPatch,
  type CoordinatePatchSetter,
  coordinateMask,
  isCoordinatePatchSetter,
} from './patch-setters.js';
import { selectLogits } from './patching-metric.js';
import { replicaMetrics } from './replica-metrics.js';
import type { PlannedPass, SweepPlan } from './sweep-plan.js';

/**
 * `x` repeated `replicas` times along axis 0 (`[B, ...]` -> `[K·B, ...]`): a concat of K views,
 * which the wasm backend copies with memcpy; `tf.tile` indexes element by element and cost 14%
 * of a GPT-2-small resid_pre sweep (profiled with bench/profile-fast.ts).
 */
function repeatRows(x: tf.Tensor, replicas: number): tf.Tensor {
  return replicas === 1 ? tf.clone(x) : tf.concat(new Array<tf.Tensor>(replicas).fill(x), 0);
}

/** What the fast engine keeps from the corrupted run. */
export interface CorruptedRun {
  /** Residual stream entering block L, `[batch, pos, dModel]`, by layer. */
  readonly residuals: Map<number, tf.Tensor>;
  /** Keys and values of block L (`attn.hook_k` / `hook_v` layout, all positions), by layer. */
  readonly keys: Map<number, tf.Tensor>;
  readonly values: Map<number, tf.Tensor>;
}

export function disposeCorruptedRun(run: CorruptedRun): void {
  tf.dispose([...run.residuals.values(), ...run.keys.values(), ...run.values.values()]);
}

/**
 * The corrupted run's residual stream entering each of `layers`, captured before any other hook
 * at `blocks.{L}.hook_resid_pre` runs (so starting there replays those hooks exactly once), and
 * the keys/values of `keyValueLayers` as attention uses them (after any other hook there).
 */
export function captureCorruptedRun(
  context: EngineContext,
  layers: readonly number[],
  keyValueLayers: readonly number[],
): CorruptedRun {
  const { model, corruptedTokens } = context;
  const run: CorruptedRun = { residuals: new Map(), keys: new Map(), values: new Map() };
  if (layers.length === 0) return run;
  const keep = (into: Map<number, tf.Tensor>, layer: number, activation: tf.Tensor) => {
    into.get(layer)?.dispose();
    into.set(layer, tf.keep(tf.clone(activation)));
  };
  const handles = [
    model.hooks.add(
      layers.map((layer): HookName => `blocks.${layer}.hook_resid_pre`),
      (activation, hookContext) => keep(run.residuals, hookContext.layer!, activation),
      { prepend: true },
    ),
  ];
  try {
    if (keyValueLayers.length > 0) {
      handles.push(
        model.hooks.add(
          keyValueLayers.map((layer): HookName => `blocks.${layer}.attn.hook_k`),
          (activation, hookContext) => keep(run.keys, hookContext.layer!, activation),
        ),
        model.hooks.add(
          keyValueLayers.map((layer): HookName => `blocks.${layer}.attn.hook_v`),
          (activation, hookContext) => keep(run.values, hookContext.layer!, activation),
        ),
      );
    }
    const deepest = Math.max(...layers, ...keyValueLayers);
    const options =
      model.capabilities.stopAtLayer && deepest + 1 < model.config.nLayers
        ? { stopAtLayer: deepest + 1 }
        : model.capabilities.selectiveUnembed
          ? { unembed: { positions: [-1], tokens: [0] } }
          : {};
    tf.dispose(model.forward(corruptedTokens, options));
  } catch (error) {
    disposeCorruptedRun(run);
    throw error;
  } finally {
    for (const handle of handles) handle.remove();
  }
  return run;
}

/** The index with its position entry moved `startPosition` back (for a pass from that position). */
function shiftedIndex(job: PatchJob, startPosition: number): readonly number[] {
  if (startPosition === 0 || !isCoordinatePatchSetter(job.setter)) return job.index;
  const entry = job.setter.activationAxes.indexOf(queryPositionAxis(job.hookName));
  if (entry < 0) return job.index;
  const index = [...job.index];
  index[entry + 1] = index[entry + 1]! - startPosition;
  return index;
}

/**
 * The hook for one hook point of a pass: replica r (rows r·B … r·B+B-1) gets patch r's write.
 * Declarative patches become one `where` per setter on the flattened activation `[K, batch, size]`
 * with a `[K, 1, size]` mask built here, once per pass (rank 3: GPU backends' `where` stops at
 * rank 4); function setters run on their replica's rows only (taken with `gather`, which copies
 * only those rows: a `slice` on wasm reads the whole input).
 */
function batchedHook(
  context: EngineContext,
  chunk: readonly PatchJob[],
  hookName: HookName,
  fullClean: tf.Tensor,
  startPosition: number,
): HookFunction {
  // A pass from position p sees positions >= p only: the clean activation's position axis is sliced
  // to match, and the patch coordinates on it move p back.
  let clean = fullClean;
  if (startPosition > 0) {
    const axis = queryPositionAxis(hookName);
    const begin = fullClean.shape.map((_, entry) => (entry === axis ? startPosition : 0));
    const size = fullClean.shape.map((extent, entry) =>
      entry === axis ? extent - startPosition : extent,
    );
    clean = tf.slice(fullClean, begin, size); // [batch, ..., pos - p, ...]
  }
  const replicas = chunk.length;
  const batch = clean.shape[0]!;
  const rest = clean.shape.slice(1);
  const masks: tf.Tensor[] = [];
  const bySetter = new Map<CoordinatePatchSetter, (readonly number[] | null)[]>();
  const functionJobs = new Map<number, PatchJob>();
  chunk.forEach((job, replica) => {
    if (job.hookName !== hookName) return;
    if (isCoordinatePatchSetter(job.setter)) {
      let indices = bySetter.get(job.setter);
      if (!indices) {
        indices = new Array<readonly number[] | null>(replicas).fill(null);
        bySetter.set(job.setter, indices);
      }
      indices[replica] = shiftedIndex(job, startPosition);
    } else {
      functionJobs.set(replica, job);
    }
  });
  for (const [setter, indices] of bySetter)
    masks.push(coordinateMask(setter, clean.shape, indices));
  const size = rest.reduce((product, extent) => product * extent, 1);
  const cleanFlat = tf.reshape(clean, [1, batch, size]); // [1, batch, size]
  return (activation) => {
    if (activation.shape[0] !== replicas * batch) {
      throw new ShapeMismatchError(
        `${context.functionName}: the activation at "${hookName}" has shape [${activation.shape}] in a batched run of ${replicas} patches × ${batch} prompts; expected [${[replicas * batch, ...rest]}].`,
        { expected: [replicas * batch, ...rest], actual: activation.shape },
      );
    }
    let grouped = tf.reshape(activation, [replicas, batch, size]); // [K, batch, size]
    for (const mask of masks) grouped = tf.where(mask, cleanFlat, grouped);
    if (functionJobs.size > 0) {
      const parts: tf.Tensor[] = [];
      for (let replica = 0; replica < replicas; replica++) {
        const rows = tf.gather(grouped, [replica], 0); // [1, batch, size]
        const job = functionJobs.get(replica);
        if (job === undefined) {
          parts.push(rows);
          continue;
        }
        const corrupted = tf.reshape(rows, clean.shape); // [batch, ...rest]
        const patched = applyPatch(job, corrupted, clean, context.functionName);
        if (!tf.util.arraysEqual(patched.shape, clean.shape)) {
          throw new ShapeMismatchError(
            `${context.functionName}: patchSetter returned shape [${patched.shape}] ${describeJob(job)}; expected the activation's shape [${clean.shape}].`,
            { expected: clean.shape, actual: patched.shape },
          );
        }
        parts.push(tf.reshape(patched, [1, batch, size]));
      }
      grouped = tf.concat(parts, 0); // [K, batch, size]
    }
    return tf.reshape(grouped, activation.shape); // [K*batch, ...rest]
  };
}

/**
 * One batched forward pass (all patches starting at `pass.startLayer`, and at
 * `pass.startPosition` when it is > 0, from the corrupted run's residual suffix and earlier
 * keys/values); returns the K metric values.
 */
export function runPass(
  context: EngineContext,
  chunk: readonly PatchJob[],
  pass: PlannedPass,
  corrupted: CorruptedRun,
): tf.Tensor1D {
  const { startLayer, startPosition } = pass;
  return tf.tidy(() => {
    const { model, corruptedTokens, metric } = context;
    const replicas = chunk.length;
    const [batch, positions] = corruptedTokens.shape as [number, number];
    const residual = startLayer === undefined ? undefined : corrupted.residuals.get(startLayer)!;
    let input: tf.Tensor;
    let pastKeyValues: PastKeyValue[] | undefined;
    if (residual === undefined) {
      input = repeatRows(corruptedTokens, replicas); // [K*batch, pos]
    } else if (startPosition === 0) {
      input = repeatRows(residual, replicas); // [K*batch, pos, d_model]
    } else {
      const dModel = residual.shape[2]!;
      const suffix = tf.slice(
        residual,
        [0, startPosition, 0],
        [batch, positions - startPosition, dModel],
      ); // [batch, pos - p, d_model]
      input = repeatRows(suffix, replicas); // [K*batch, pos - p, d_model]
      pastKeyValues = [];
      const prefix = (full: tf.Tensor) => {
        const [, , heads, dHead] = full.shape as [number, number, number, number];
        const earlier = tf.slice(full, [0, 0, 0, 0], [batch, startPosition, heads, dHead]); // [batch, p, heads, d_head]
        return repeatRows(earlier, replicas); // [K*batch, p, heads, d_head]
      };
      for (let layer = startLayer!; layer < model.config.nLayers; layer++) {
        pastKeyValues[layer] = {
          key: prefix(corrupted.keys.get(layer)!),
          value: prefix(corrupted.values.get(layer)!),
        };
      }
    }
    const hookNames = [...new Set(chunk.map((job) => job.hookName))];
    const hooks: HookSpec[] = hookNames.map((name) => [
      name,
      batchedHook(context, chunk, name, context.clean.get(name)!, startPosition),
    ]);
    const selective = metric.reads !== undefined && model.capabilities.selectiveUnembed;
    const logits = model.runWithHooks(input, hooks, {
      ...(startLayer === undefined ? {} : { startAtLayer: startLayer }),
      ...(pastKeyValues === undefined ? {} : { startAtPosition: startPosition, pastKeyValues }),
      ...(selective ? { unembed: metric.reads } : {}),
    });
    const metricLogits = selective ? logits : selectLogits(logits, metric.reads); // [K*batch, rows, tokens]
    return replicaMetrics(metric, metricLogits, replicas, (replica) =>
      describeJob(chunk[replica]!),
    ); // [K]
  });
}

/** Reads a pass's K values, checking each is finite. */
async function passValues(
  context: EngineContext,
  chunk: readonly PatchJob[],
  values: tf.Tensor1D,
): Promise<Float32Array> {
  let data: Float32Array;
  try {
    data = (await values.data()) as Float32Array;
  } finally {
    values.dispose();
  }
  chunk.forEach((job, replica) => {
    const value = data[replica]!;
    if (!Number.isFinite(value)) {
      throw new MetricError(
        `${context.functionName}: metric "${context.metric.name}" returned ${value} ${describeJob(job)}; a metric must return a finite number.`,
      );
    }
  });
  return data;
}

/**
 * Runs passes of `plan` on the context's model, taking each next pass from `next` (undefined: no
 * more) — a fixed list, or a queue shared with other workers. Captures the corrupted run that
 * `mayRun`'s passes start from once, then one forward pass each; `onPass(pass, values)` gets each
 * pass's K values (replica order). Checks the signal between passes; disposes everything it made.
 */
export async function executePasses(
  context: EngineContext,
  jobs: readonly PatchJob[],
  plan: SweepPlan,
  mayRun: readonly number[],
  onPass: (pass: number, values: Float32Array) => void,
  done: () => number = () => 0,
  next?: () => number | undefined | Promise<number | undefined>,
): Promise<void> {
  if (mayRun.length === 0) return;
  const passes = mayRun.map((index) => plan.passes[index]!);
  const residualLayers = [
    ...new Set(passes.flatMap((pass) => (pass.startLayer === undefined ? [] : [pass.startLayer]))),
  ].sort((a, b) => a - b);
  const needsKeyValues = passes.some((pass) => pass.startPosition > 0);
  const corrupted = captureCorruptedRun(
    context,
    residualLayers,
    needsKeyValues ? plan.keyValueLayers : [],
  );
  let position = 0;
  const take = next ?? (() => mayRun[position++]);
  try {
    for (let index = await take(); index !== undefined; index = await take()) {
      throwIfAborted(context.functionName, context.signal, done(), jobs.length);
      const pass = plan.passes[index]!;
      const chunk = pass.patches.map((patch) => jobs[patch]!);
      const values = await passValues(context, chunk, runPass(context, chunk, pass, corrupted));
      onPass(index, values);
      await yieldToEventLoop();
    }
  } finally {
    disposeCorruptedRun(corrupted);
  }
}
