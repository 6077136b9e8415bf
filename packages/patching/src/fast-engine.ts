import {
  type HookFunction,
  type HookName,
  type HookSpec,
  layerOfHook,
  MetricError,
  type ModelConfig,
  type PastKeyValue,
  ShapeMismatchError,
  type UnembedSelection,
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
import { metricScalar, selectLogits } from './patching-metric.js';

/** Default memory budget of one batched forward pass of the fast engine. */
export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;
/**
 * The most patches the fast engine batches into one forward pass by default: 32 on CPU backends
 * (cpu, wasm: larger batches measured no faster), 256 on GPU backends (webgl, webgpu, tensorflow),
 * where the memory budget is the real limit.
 */
export function maxPatchesPerForward(backend: string): number {
  return backend === 'cpu' || backend === 'wasm' ? 32 : 256;
}

/**
 * How many patches (K) fit into one forward pass of batch K×B under a memory budget: the estimate
 * counts the activations one block keeps alive (residual, q/k/v/z, scores and pattern, MLP) plus
 * the logits the metric needs, in float32.
 */
export function choosePatchesPerForward(
  config: ModelConfig,
  batch: number,
  positions: number,
  logitsPerRow: number,
  memoryBudgetBytes: number,
): number {
  const { dModel, dMlp, nHeads, dHead } = config;
  const activationFloats =
    positions * (6 * dModel + 2 * dMlp + 4 * nHeads * dHead + 3 * nHeads * positions);
  const bytesPerReplica = 4 * batch * (activationFloats + 2 * logitsPerRow);
  const fits = Math.floor(memoryBudgetBytes / bytesPerReplica);
  return Math.max(1, Math.min(maxPatchesPerForward(tf.getBackend()), fits));
}

/** Logits per batch row that a forward pass produces for this metric. */
export function logitsPerRow(
  reads: UnembedSelection | undefined,
  selective: boolean,
  positions: number,
  dVocab: number,
): number {
  if (reads === undefined || !selective) return positions * dVocab;
  return (reads.positions?.length ?? positions) * (reads.tokens?.length ?? dVocab);
}

/** What the fast engine keeps from the corrupted run. */
interface CorruptedRun {
  /** Residual stream entering block L, `[batch, pos, dModel]`, by layer. */
  readonly residuals: Map<number, tf.Tensor>;
  /** Keys and values of block L (`attn.hook_k` / `hook_v` layout, all positions), by layer. */
  readonly keys: Map<number, tf.Tensor>;
  readonly values: Map<number, tf.Tensor>;
}

function disposeCorruptedRun(run: CorruptedRun): void {
  tf.dispose([...run.residuals.values(), ...run.keys.values(), ...run.values.values()]);
}

/**
 * The corrupted run's residual stream entering each of `layers`, captured before any other hook
 * at `blocks.{L}.hook_resid_pre` runs (so starting there replays those hooks exactly once), and
 * the keys/values of `keyValueLayers` as attention uses them (after any other hook there).
 */
function captureCorruptedRun(
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

/** The query-position axis of a block hook's activation: 2 for attention scores/pattern, else 1. */
function positionAxisOf(hookName: HookName): number {
  return hookName.endsWith('.hook_attn_scores') || hookName.endsWith('.hook_pattern') ? 2 : 1;
}

/**
 * The first position a declarative patch changes: the index value of the activation's position
 * axis when the setter fixes it (causal attention leaves every earlier position as in the
 * corrupted run), else 0.
 */
export function firstChangedPosition(job: PatchJob): number {
  if (!isCoordinatePatchSetter(job.setter)) return 0;
  const entry = job.setter.activationAxes.indexOf(positionAxisOf(job.hookName));
  return entry < 0 ? 0 : job.index[entry + 1]!;
}

/** The index with its position entry moved `startPosition` back (for a pass from that position). */
function shiftedIndex(job: PatchJob, startPosition: number): readonly number[] {
  if (startPosition === 0 || !isCoordinatePatchSetter(job.setter)) return job.index;
  const entry = job.setter.activationAxes.indexOf(positionAxisOf(job.hookName));
  if (entry < 0) return job.index;
  const index = [...job.index];
  index[entry + 1] = index[entry + 1]! - startPosition;
  return index;
}

/**
 * The hook for one hook point of a batch: replica r (rows r·B … r·B+B-1) gets patch r's write.
 * Declarative patches become one `where` per setter on the flattened activation `[K, batch, size]`
 * with a `[K, 1, size]` mask built here, once per batch (rank 3: GPU backends' `where` stops at rank 4); function setters run on their replica's rows only.
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
    const axis = positionAxisOf(hookName);
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
      const parts = tf.unstack(grouped, 0); // K × [batch, size]
      for (const [replica, job] of functionJobs) {
        const corrupted = tf.reshape(parts[replica]!, clean.shape); // [batch, ...rest]
        const patched = applyPatch(job, corrupted, clean, context.functionName);
        if (!tf.util.arraysEqual(patched.shape, clean.shape)) {
          throw new ShapeMismatchError(
            `${context.functionName}: patchSetter returned shape [${patched.shape}] ${describeJob(job)}; expected the activation's shape [${clean.shape}].`,
            { expected: clean.shape, actual: patched.shape },
          );
        }
        parts[replica] = tf.reshape(patched, [batch, size]);
      }
      grouped = tf.stack(parts, 0); // [K, batch, size]
    }
    return tf.reshape(grouped, activation.shape); // [K*batch, ...rest]
  };
}

/**
 * One batched forward pass for `chunk` (all starting at `startLayer`, and at `startPosition` when
 * it is > 0, from the corrupted run's residual suffix and earlier keys/values); returns the K
 * metric values.
 */
function runChunk(
  context: EngineContext,
  chunk: readonly PatchJob[],
  startLayer: number | undefined,
  startPosition: number,
  corrupted: CorruptedRun,
): tf.Tensor1D {
  return tf.tidy(() => {
    const { model, corruptedTokens, metric } = context;
    const replicas = chunk.length;
    const [batch, positions] = corruptedTokens.shape as [number, number];
    const residual = startLayer === undefined ? undefined : corrupted.residuals.get(startLayer)!;
    let input: tf.Tensor;
    let pastKeyValues: PastKeyValue[] | undefined;
    if (residual === undefined) {
      input = tf.tile(corruptedTokens, [replicas, 1]); // [K*batch, pos]
    } else if (startPosition === 0) {
      input = tf.tile(residual, [replicas, 1, 1]); // [K*batch, pos, d_model]
    } else {
      const dModel = residual.shape[2]!;
      const suffix = tf.slice(
        residual,
        [0, startPosition, 0],
        [batch, positions - startPosition, dModel],
      ); // [batch, pos - p, d_model]
      input = tf.tile(suffix, [replicas, 1, 1]); // [K*batch, pos - p, d_model]
      pastKeyValues = [];
      const prefix = (full: tf.Tensor) => {
        const [, , heads, dHead] = full.shape as [number, number, number, number];
        const earlier = tf.slice(full, [0, 0, 0, 0], [batch, startPosition, heads, dHead]); // [batch, p, heads, d_head]
        return tf.tile(earlier, [replicas, 1, 1, 1]); // [K*batch, p, heads, d_head]
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
    const sliceSize = [batch, ...metricLogits.shape.slice(1)];
    const begin = metricLogits.shape.map(() => 0);
    const values = chunk.map((job, replica) => {
      begin[0] = replica * batch;
      const rows = tf.slice(metricLogits, begin, sliceSize); // [batch, rows, tokens]
      return metricScalar(metric, rows, describeJob(job));
    });
    return tf.stack(values) as tf.Tensor1D; // [K]
  });
}

/**
 * Splits patches sorted by start position (`starts`, ascending) into consecutive batches of at
 * most `perForward`, each starting at its first patch's position. A batch costs about one
 * replica's full pass of fixed overhead plus `replicas × (positions - start)` position-rows, and the
 * split minimises the total (dynamic programming over the sorted list). When every patch starts
 * at 0 it is the plain split into batches of `perForward`.
 *
 * @returns `[begin, end)` ranges into `starts`, in order.
 */
export function planChunks(
  starts: readonly number[],
  perForward: number,
  positions: number,
): [number, number][] {
  const count = starts.length;
  const ranges: [number, number][] = [];
  if (starts.every((start) => start === 0)) {
    for (let begin = 0; begin < count; begin += perForward) {
      ranges.push([begin, Math.min(count, begin + perForward)]);
    }
    return ranges;
  }
  // best[i]: least cost of the first i patches; cut[i]: where its last batch begins
  const best = new Float64Array(count + 1).fill(Number.POSITIVE_INFINITY);
  const cut = new Int32Array(count + 1);
  best[0] = 0;
  for (let end = 1; end <= count; end++) {
    for (let begin = Math.max(0, end - perForward); begin < end; begin++) {
      const cost = best[begin]! + positions + (end - begin) * (positions - starts[begin]!);
      if (cost < best[end]!) {
        best[end] = cost;
        cut[end] = begin;
      }
    }
  }
  for (let end = count; end > 0; end = cut[end]!) ranges.push([cut[end]!, end]);
  return ranges.reverse();
}

/**
 * The first position the metric reads (resolved against `positions`), or -1 when starting at a
 * later position cannot be used: the model lacks `startAtPosition` or selective unembedding, the
 * metric reads every position (or is opaque), or a hook is attached to the model (it would see
 * only the computed positions).
 */
function firstReadPosition(context: EngineContext, positions: number): number {
  const { model, metric } = context;
  const readPositions = metric.reads?.positions;
  if (
    model.capabilities.startAtPosition !== true ||
    !model.capabilities.startAtLayer ||
    !model.capabilities.selectiveUnembed ||
    readPositions === undefined ||
    model.hookNames.some((name) => model.hooks.hasHooks(name))
  ) {
    return -1;
  }
  const names = new Set<string>(model.hookNames);
  for (let layer = 0; layer < model.config.nLayers; layer++) {
    if (!names.has(`blocks.${layer}.attn.hook_k`) || !names.has(`blocks.${layer}.attn.hook_v`)) {
      return -1;
    }
  }
  return Math.min(
    ...readPositions.map((position) => (position < 0 ? position + positions : position)),
  );
}

/**
 * The fast engine: patches grouped by the layer they start at; each group runs in batches of K
 * patches, one forward pass of batch K×B per batch, starting at that layer from the corrupted run's
 * cached residual stream, unembedding only what the metric declares. On a model with
 * `capabilities.startAtPosition`, a group's patches are ordered by the first position they change
 * and each batch starts at the smallest of its patches' positions (capped at the first position
 * the metric reads), reusing the corrupted run's keys/values of the earlier positions.
 */
export async function runFastEngine(
  context: EngineContext,
  jobs: readonly PatchJob[],
  output: Float32Array,
  options: { batchSize: number | undefined; memoryBudgetBytes: number },
): Promise<void> {
  const { functionName, model, corruptedTokens, metric, signal } = context;
  const [batch, positions] = corruptedTokens.shape as [number, number];
  const hookNames = new Set<string>(model.hookNames);
  const startOf = (job: PatchJob) => {
    if (!model.capabilities.startAtLayer) return undefined;
    const layer = layerOfHook(job.hookName);
    return layer !== undefined && hookNames.has(`blocks.${layer}.hook_resid_pre`)
      ? layer
      : undefined;
  };
  const groups = new Map<number, PatchJob[]>(); // -1: from the tokens
  for (const job of jobs) {
    const key = startOf(job) ?? -1;
    const group = groups.get(key);
    if (group) group.push(job);
    else groups.set(key, [job]);
  }
  const order = [...groups.keys()].sort((a, b) => a - b);
  const firstRead = firstReadPosition(context, positions);
  const startPositionOf = (job: PatchJob) =>
    firstRead < 0 ? 0 : Math.min(firstChangedPosition(job), firstRead);
  let keyValueFrom = Number.POSITIVE_INFINITY;
  for (const layer of order) {
    if (layer < 0) continue;
    const group = groups.get(layer)!;
    // stable sort: patches of one position stay in sweep order
    const starts = new Map(group.map((job) => [job, startPositionOf(job)]));
    group.sort((a, b) => starts.get(a)! - starts.get(b)!);
    if (group.some((job) => starts.get(job)! > 0)) keyValueFrom = Math.min(keyValueFrom, layer);
  }
  const perForward =
    options.batchSize ??
    choosePatchesPerForward(
      model.config,
      batch,
      positions,
      logitsPerRow(
        metric.reads,
        model.capabilities.selectiveUnembed,
        positions,
        model.config.dVocab,
      ),
      options.memoryBudgetBytes,
    );
  throwIfAborted(functionName, signal, 0, jobs.length);
  const keyValueLayers: number[] = [];
  for (let layer = keyValueFrom; layer < model.config.nLayers; layer++) keyValueLayers.push(layer);
  const corrupted = captureCorruptedRun(
    context,
    order.filter((layer) => layer >= 0),
    keyValueLayers,
  );
  try {
    let done = 0;
    for (const layer of order) {
      const group = groups.get(layer)!;
      const starts = group.map((job) => (layer >= 0 ? startPositionOf(job) : 0));
      for (const [begin, end] of planChunks(starts, perForward, positions)) {
        throwIfAborted(functionName, signal, done, jobs.length);
        const chunk = group.slice(begin, end);
        // sorted by start position: the chunk's first patch has the smallest
        const startPosition = starts[begin]!;
        const values = runChunk(
          context,
          chunk,
          layer >= 0 ? layer : undefined,
          startPosition,
          corrupted,
        );
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
              `${functionName}: metric "${metric.name}" returned ${value} ${describeJob(job)}; a metric must return a finite number.`,
            );
          }
          output[job.slot] = value;
        });
        done += chunk.length;
        context.progress(done);
        await yieldToEventLoop();
      }
    }
    throwIfAborted(functionName, signal, jobs.length, jobs.length);
  } finally {
    disposeCorruptedRun(corrupted);
  }
}
