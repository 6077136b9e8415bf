import {
  type HookFunction,
  type HookName,
  type HookSpec,
  layerOfHook,
  MetricError,
  type ModelConfig,
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
  type CoordinatePatchSetter,
  coordinateMask,
  isCoordinatePatchSetter,
} from './patch-setters.js';
import { metricScalar, selectLogits } from './patching-metric.js';
import { applyPatch } from './reference-engine.js';

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

/**
 * The corrupted run's residual stream entering each of `layers`, captured before any other hook
 * at `blocks.{L}.hook_resid_pre` runs (so starting there replays those hooks exactly once).
 */
function captureResiduals(
  context: EngineContext,
  layers: readonly number[],
): Map<number, tf.Tensor> {
  const { model, corruptedTokens } = context;
  const captured = new Map<number, tf.Tensor>();
  if (layers.length === 0) return captured;
  const names = layers.map((layer): HookName => `blocks.${layer}.hook_resid_pre`);
  const handle = model.hooks.add(
    names,
    (activation, hookContext) => {
      captured.get(hookContext.layer!)?.dispose();
      captured.set(hookContext.layer!, tf.keep(tf.clone(activation)));
    },
    { prepend: true },
  );
  try {
    const deepest = Math.max(...layers);
    const options =
      model.capabilities.stopAtLayer && deepest + 1 < model.config.nLayers
        ? { stopAtLayer: deepest + 1 }
        : model.capabilities.selectiveUnembed
          ? { unembed: { positions: [-1], tokens: [0] } }
          : {};
    tf.dispose(model.forward(corruptedTokens, options));
  } catch (error) {
    tf.dispose([...captured.values()]);
    throw error;
  } finally {
    handle.remove();
  }
  return captured;
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
  clean: tf.Tensor,
): HookFunction {
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
      indices[replica] = job.index;
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

/** One batched forward pass for `chunk` (all starting at `startLayer`); returns the K metric values. */
function runChunk(
  context: EngineContext,
  chunk: readonly PatchJob[],
  startLayer: number | undefined,
  residual: tf.Tensor | undefined,
): tf.Tensor1D {
  return tf.tidy(() => {
    const { model, corruptedTokens, metric } = context;
    const replicas = chunk.length;
    const batch = corruptedTokens.shape[0]!;
    const input =
      residual === undefined
        ? tf.tile(corruptedTokens, [replicas, 1]) // [K*batch, pos]
        : tf.tile(residual, [replicas, 1, 1]); // [K*batch, pos, d_model]
    const hookNames = [...new Set(chunk.map((job) => job.hookName))];
    const hooks: HookSpec[] = hookNames.map((name) => [
      name,
      batchedHook(context, chunk, name, context.clean.get(name)!),
    ]);
    const selective = metric.reads !== undefined && model.capabilities.selectiveUnembed;
    const logits = model.runWithHooks(input, hooks, {
      ...(startLayer === undefined ? {} : { startAtLayer: startLayer }),
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
 * The fast engine: patches grouped by the layer they start at; each group runs in batches of K
 * patches, one forward pass of batch K×B per batch, starting at that layer from the corrupted run's
 * cached residual stream, unembedding only what the metric declares.
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
  const residuals = captureResiduals(
    context,
    order.filter((layer) => layer >= 0),
  );
  try {
    let done = 0;
    for (const layer of order) {
      const group = groups.get(layer)!;
      for (let start = 0; start < group.length; start += perForward) {
        throwIfAborted(functionName, signal, done, jobs.length);
        const chunk = group.slice(start, start + perForward);
        const values = runChunk(
          context,
          chunk,
          layer >= 0 ? layer : undefined,
          layer >= 0 ? residuals.get(layer) : undefined,
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
    tf.dispose([...residuals.values()]);
  }
}
