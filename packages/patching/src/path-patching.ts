/**
 * Full path patching, the algorithm of Wang et al. 2022 ("Interpretability in the Wild", IOI).
 *
 * For a set of sender heads S and a set of receivers R:
 * 1. run the clean and the corrupted prompt once, caching every head's `z` (`attn.hook_z`);
 * 2. run the clean prompt with the senders' `z` taken from the corrupted run and every other
 *    head's `z` frozen to its clean value (MLPs recomputed), and record the receivers' inputs;
 * 3. run the clean prompt again, replacing only the receivers' inputs with the recorded ones, and
 *    evaluate the metric.
 *
 * A receiver head's query (key, value) input enters the model only through that head's `hook_q`
 * (`hook_k`, `hook_v`): `q[:, :, h] = LN1(q_input[h]) @ W_Q[h] + b_Q[h]` is a function of the head's
 * own input alone. So replacing `hook_q[:, :, h]` with its recorded value is exactly replacing the
 * head's query input (TransformerLens's `hook_q_input[:, :, h]`), and works on any model with the
 * standard hook points. The receiver `resid_post` / `logits` is the end of the model: step 3 would
 * re-unembed the recorded final residual stream, which is step 2's own logits.
 *
 * Exact shortcuts (no approximation): a sender set whose heads all sit at or after the last
 * receiver layer, or whose corrupted `z` equals the clean `z` bitwise, leaves every receiver input
 * equal to the clean run's, so its value is the clean metric and no pass runs
 * (guarded by "path-patching.test.ts › senders after every receiver change nothing").
 */
import {
  type HookedModel,
  type HookSpec,
  InvalidArgumentError,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted, yieldToEventLoop } from './patch-job.js';
import { PatchResult } from './patch-result.js';
import {
  checkMetricReads,
  type Metric,
  type PatchingMetric,
  selectLogits,
  toPatchingMetric,
} from './patching-metric.js';
import { metricOfRun, replicaMetrics } from './replica-metrics.js';
import { checkCorruptedTokens } from './run-patch-jobs.js';

/**
 * One attention head.
 *
 * @example
 * ```ts
 * const nameMover: HeadRef = { layer: 9, head: 9 };
 * ```
 */
export interface HeadRef {
  readonly layer: number;
  readonly head: number;
}

/**
 * A receiver head and which of its inputs receives the path: query, key or value. For `k` and `v`
 * on grouped-query models, `head` counts key/value heads (as `attn.hook_k` does).
 *
 * @example
 * ```ts
 * const nameMoverQueries: ReceiverHead = { layer: 9, head: 9, input: 'q' };
 * ```
 */
export interface ReceiverHead extends HeadRef {
  readonly input: 'q' | 'k' | 'v';
}

/**
 * Options of {@link pathPatch}.
 *
 * @example
 * ```ts
 * const options: PathPatchOptions = { clean, corrupted, metric, senders: 'all-heads', receivers: 'logits' };
 * ```
 */
export interface PathPatchOptions {
  /** Clean prompt ids, int32 `[batch, pos]`. */
  readonly clean: tf.Tensor;
  /** Corrupted prompt ids, int32 `[batch, pos]` (same shape). */
  readonly corrupted: tf.Tensor;
  /** The metric on the logits (e.g. `logitDiff`). */
  readonly metric: Metric;
  /**
   * `'all-heads'`: every head on its own as the sender (result `[layer, head]`); or a list of heads
   * patched together as one sender set (result `[1]`, axis `senders`).
   */
  readonly senders: 'all-heads' | readonly HeadRef[];
  /** Receiver heads with their input, or the end of the model (`'resid_post'` = `'logits'`). */
  readonly receivers: 'resid_post' | 'logits' | readonly ReceiverHead[];
  /** Sender sets per forward pass (default 16 on cpu/wasm, 64 on GPU backends). */
  readonly batchSize?: number;
  /** Called after each batch with (done, total) sender sets. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Cancels between batches (rejects with `AbortError`). */
  readonly signal?: AbortSignal;
}

/**
 * What {@link pathPatch} returns. Orientation as in the IOI paper: the clean run is the baseline and
 * the path carries the corruption, so a path that matters gives a negative effect for a metric that
 * is higher on the clean prompt.
 *
 * @example
 * ```ts
 * const { effect, normalized, clean, corrupted } = await pathPatch(model, options);
 * normalized.get(9, 9); // -0.4: the path (9.9 -> receivers) carries 40% of the corruption's effect
 * ```
 */
export interface PathPatchResult {
  /** `metric(path-patched) - metric(clean)`, in metric units; 0 = the path changes nothing. */
  readonly effect: PatchResult;
  /** `effect / (clean - corrupted)`: 0 = no effect, -1 = as much as corrupting the whole prompt. */
  readonly normalized: PatchResult;
  /** The metric on the clean run. */
  readonly clean: number;
  /** The metric on the corrupted run. */
  readonly corrupted: number;
}

const FUNCTION = 'pathPatch';

/**
 * Path patching from sender heads to receivers (the IOI paper's algorithm, see the file header).
 *
 * @param model - any {@link HookedModel} with `attn.hook_z` and `attn.hook_{q,k,v}` hook points.
 * @param options - prompts, metric, senders, receivers; see {@link PathPatchOptions}.
 * @returns the effect of each sender set, raw and normalised, with both baselines.
 * @throws InvalidArgumentError for senders/receivers outside the model, or equal clean/corrupted metrics.
 * @throws ShapeMismatchError when the clean and corrupted prompts differ in shape.
 * @example
 * ```ts
 * const result = await pathPatch(model, {
 *   clean, corrupted, metric: logitDiff({ answers: 5335, wrong: 1757 }),
 *   senders: 'all-heads', receivers: [{ layer: 9, head: 9, input: 'q' }],
 * });
 * result.normalized.shape; // [nLayers, nHeads]
 * ```
 */
export async function pathPatch(
  model: HookedModel,
  options: PathPatchOptions,
): Promise<PathPatchResult> {
  const started = performance.now();
  const { clean, corrupted } = options;
  const cleanShape = checkCorruptedTokens(`${FUNCTION} (clean)`, clean);
  const corruptedShape = checkCorruptedTokens(`${FUNCTION} (corrupted)`, corrupted);
  if (!tf.util.arraysEqual(cleanShape, corruptedShape)) {
    throw new ShapeMismatchError(
      `${FUNCTION}: clean tokens have shape [${cleanShape}] but corrupted tokens have shape [${corruptedShape}]; both prompts need the same batch size and length.`,
      { expected: cleanShape, actual: corruptedShape },
    );
  }
  const metric = toPatchingMetric(options.metric, FUNCTION);
  checkMetricReads(FUNCTION, metric, cleanShape[1], model.config.dVocab);
  const senderSets = senderSetsOf(model, options.senders);
  const receivers = receiversOf(model, options.receivers);
  const batchSize = batchSizeOf(options.batchSize);

  const zNames = layers(model).map((layer) => `blocks.${layer}.attn.hook_z`);
  const firstReceiverLayer =
    receivers === 'end' ? undefined : Math.min(...receivers.map((r) => r.layer));
  const startResidName =
    firstReceiverLayer !== undefined && firstReceiverLayer > 0 && model.capabilities.startAtLayer
      ? `blocks.${firstReceiverLayer}.hook_resid_pre`
      : undefined;
  const cleanRun = model.runWithCache(clean, {
    namesFilter: (name: string) => zNames.includes(name) || name === startResidName,
  });
  const corruptedRun = model.runWithCache(corrupted, {
    namesFilter: (name: string) => zNames.includes(name),
  });
  try {
    const cleanMetric = await metricOfRun(metric, cleanRun.logits, 'on the clean run');
    const corruptedMetric = await metricOfRun(metric, corruptedRun.logits, 'on the corrupted run');
    if (cleanMetric === corruptedMetric) {
      throw new InvalidArgumentError(
        `${FUNCTION}: the metric is ${cleanMetric} on both the clean and the corrupted prompt, so no path can carry a difference; choose prompts (or answer tokens) on which the metric differs.`,
      );
    }
    const values = new Float32Array(senderSets.length).fill(cleanMetric);
    const inert = await inertSenderSets(senderSets, receivers, cleanRun.cache, corruptedRun.cache);
    const todo = senderSets.map((_, index) => index).filter((index) => !inert[index]);
    let done = senderSets.length - todo.length;
    options.onProgress?.(done, senderSets.length);
    const context: PassContext = {
      model,
      metric,
      clean,
      receivers,
      cleanZ: zNames.map((name) => cleanRun.cache.get(name)),
      corruptedZ: zNames.map((name) => corruptedRun.cache.get(name)),
      startResid: startResidName === undefined ? undefined : cleanRun.cache.get(startResidName),
    };
    for (let begin = 0; begin < todo.length; begin += batchSize) {
      throwIfAborted(FUNCTION, options.signal, done, senderSets.length);
      const chunk = todo.slice(begin, begin + batchSize);
      const result = runPathChunk(
        context,
        chunk.map((index) => senderSets[index]!),
      );
      const data = await result.data();
      result.dispose();
      chunk.forEach((index, k) => {
        values[index] = data[k]!;
      });
      done += chunk.length;
      options.onProgress?.(done, senderSets.length);
      await yieldToEventLoop();
    }
    return buildResult(model, options.senders, values, cleanMetric, corruptedMetric, started);
  } finally {
    tf.dispose([cleanRun.logits, corruptedRun.logits]);
    cleanRun.cache.dispose();
    corruptedRun.cache.dispose();
  }
}

/** What every batched pass of one {@link pathPatch} call shares. */
interface PassContext {
  readonly model: HookedModel;
  readonly metric: PatchingMetric;
  readonly clean: tf.Tensor;
  readonly receivers: 'end' | readonly ReceiverHead[];
  /** Per layer `[batch, pos, head, d_head]`. */
  readonly cleanZ: readonly tf.Tensor[];
  readonly corruptedZ: readonly tf.Tensor[];
  /** Clean `hook_resid_pre` of the first receiver layer, when step 3 can start there. */
  readonly startResid: tf.Tensor | undefined;
}

/** Steps 2 and 3 for K sender sets at once (batch K×B); returns the K metric values `[K]`. */
function runPathChunk(context: PassContext, sets: readonly (readonly HeadRef[])[]): tf.Tensor1D {
  const { model, metric, clean, receivers } = context;
  const replicas = sets.length;
  const recorded = new Map<string, tf.Tensor>();
  try {
    return tf.tidy(() => {
      const tokens = tf.tile(clean, [replicas, 1]); // [K*batch, pos]
      const selective = metric.reads !== undefined && model.capabilities.selectiveUnembed;
      const unembed = selective ? { unembed: metric.reads } : {};
      // Step 2: senders from the corrupted run, every other head frozen to the clean run.
      const hooks: HookSpec[] = layers(model).map((layer) => [
        `blocks.${layer}.attn.hook_z`,
        senderHook(context, sets, layer),
      ]);
      if (receivers === 'end') {
        const logits = model.runWithHooks(tokens, hooks, unembed);
        return replicaMetrics(
          metric,
          selective ? logits : selectLogits(logits, metric.reads),
          replicas,
          (replica) => `in ${FUNCTION} (replica ${replica})`,
        );
      }
      for (const name of new Set(receivers.map(receiverHookName))) {
        hooks.push([
          name,
          (activation) => {
            recorded.set(name, tf.keep(tf.clone(activation)));
          },
        ]);
      }
      const lastReceiverLayer = Math.max(...receivers.map((receiver) => receiver.layer));
      const stop =
        model.capabilities.stopAtLayer && lastReceiverLayer + 1 < model.config.nLayers
          ? { stopAtLayer: lastReceiverLayer + 1 }
          : {};
      model.runWithHooks(tokens, hooks, stop);
      // Step 3: the clean run again, only the receivers' inputs replaced.
      const receiverHooks: HookSpec[] = [...recorded].map(([name, value]) => [
        name,
        receiverHook(
          receivers.filter((receiver) => receiverHookName(receiver) === name),
          value,
        ),
      ]);
      const start = context.startResid;
      const input = start === undefined ? tokens : tf.tile(start, [replicas, 1, 1]); // [K*batch, pos, d_model]
      const firstLayer = Math.min(...receivers.map((receiver) => receiver.layer));
      const logits = model.runWithHooks(input, receiverHooks, {
        ...(start === undefined ? {} : { startAtLayer: firstLayer }),
        ...unembed,
      });
      return replicaMetrics(
        metric,
        selective ? logits : selectLogits(logits, metric.reads),
        replicas,
        (replica) => `in ${FUNCTION} (replica ${replica})`,
      );
    });
  } finally {
    tf.dispose([...recorded.values()]);
  }
}

/** `hook_z` of `layer`: replica k takes the corrupted `z` of its senders there, the clean `z` elsewhere. */
function senderHook(context: PassContext, sets: readonly (readonly HeadRef[])[], layer: number) {
  const cleanZ = context.cleanZ[layer]!;
  const [batch, positions, heads, dHead] = cleanZ.shape as [number, number, number, number];
  const replicas = sets.length;
  const mask = new Uint8Array(replicas * heads);
  sets.forEach((set, k) => {
    for (const sender of set) if (sender.layer === layer) mask[k * heads + sender.head] = 1;
  });
  return (activation: tf.Tensor) => {
    checkShape(
      activation,
      [replicas * batch, positions, heads, dHead],
      `blocks.${layer}.attn.hook_z`,
    );
    const condition = tf.tensor(mask, [replicas, 1, 1, heads, 1], 'bool'); // [K, 1, 1, head, 1]
    const corrupted5 = tf.reshape(context.corruptedZ[layer]!, [1, batch, positions, heads, dHead]);
    const clean5 = tf.reshape(cleanZ, [1, batch, positions, heads, dHead]);
    const patched = tf.where(condition, corrupted5, clean5); // [K, batch, pos, head, d_head]
    return tf.reshape(patched, activation.shape); // [K*batch, pos, head, d_head]
  };
}

/** A receiver hook (`hook_q|k|v`): the receiver heads take the value recorded in step 2. */
function receiverHook(receivers: readonly ReceiverHead[], recorded: tf.Tensor) {
  const heads = recorded.shape[2]!;
  const mask = new Uint8Array(heads);
  for (const receiver of receivers) mask[receiver.head] = 1;
  return (activation: tf.Tensor) => {
    checkShape(activation, recorded.shape, receiverHookName(receivers[0]!));
    const condition = tf.tensor(mask, [1, 1, heads, 1], 'bool'); // [1, 1, head, 1]
    return tf.where(condition, recorded, activation); // [K*batch, pos, head, d_head]
  };
}

/**
 * Sender sets that cannot change any receiver input: every sender at or after the last receiver
 * layer, or corrupted `z` equal to clean `z` bitwise at every sender head.
 */
async function inertSenderSets(
  sets: readonly (readonly HeadRef[])[],
  receivers: 'end' | readonly ReceiverHead[],
  cleanCache: { get(name: string): tf.Tensor },
  corruptedCache: { get(name: string): tf.Tensor },
): Promise<boolean[]> {
  const lastReceiverLayer =
    receivers === 'end' ? Number.POSITIVE_INFINITY : Math.max(...receivers.map((r) => r.layer));
  const equalHeads = new Map<number, boolean[]>(); // layer -> per head: clean z == corrupted z
  const headsEqualAt = async (layer: number): Promise<boolean[]> => {
    const known = equalHeads.get(layer);
    if (known) return known;
    const name = `blocks.${layer}.attn.hook_z`;
    const cleanZ = cleanCache.get(name);
    const [batch, positions, heads, dHead] = cleanZ.shape as [number, number, number, number];
    const [a, b] = await Promise.all([cleanZ.data(), corruptedCache.get(name).data()]);
    const equal = new Array<boolean>(heads).fill(true);
    for (let row = 0; row < batch * positions; row++) {
      for (let head = 0; head < heads; head++) {
        const offset = (row * heads + head) * dHead;
        for (let d = 0; d < dHead && equal[head]; d++) {
          if (!Object.is(a[offset + d], b[offset + d])) equal[head] = false;
        }
      }
    }
    equalHeads.set(layer, equal);
    return equal;
  };
  const inert: boolean[] = [];
  for (const set of sets) {
    let changes = false;
    for (const sender of set) {
      if (sender.layer >= lastReceiverLayer) continue;
      if (!(await headsEqualAt(sender.layer))[sender.head]) changes = true;
    }
    inert.push(!changes);
  }
  return inert;
}

function buildResult(
  model: HookedModel,
  senders: PathPatchOptions['senders'],
  metricValues: Float32Array,
  clean: number,
  corrupted: number,
  started: number,
): PathPatchResult {
  const effect = metricValues.map((value) => value - clean);
  const normalized = effect.map((value) => value / (clean - corrupted));
  const ms = performance.now() - started;
  const layout =
    senders === 'all-heads'
      ? { shape: [model.config.nLayers, model.config.nHeads], axes: ['layer', 'head'] }
      : {
          shape: [1],
          axes: ['senders'],
          labels: { senders: [senders.map((s) => `${s.layer}.${s.head}`).join('+')] },
        };
  return {
    effect: new PatchResult({ values: effect, ms, ...layout }),
    normalized: new PatchResult({ values: normalized, ms, ...layout }),
    clean,
    corrupted,
  };
}

function receiverHookName(receiver: ReceiverHead): string {
  return `blocks.${receiver.layer}.attn.hook_${receiver.input}`;
}

function layers(model: HookedModel): number[] {
  return Array.from({ length: model.config.nLayers }, (_, layer) => layer);
}

function checkShape(activation: tf.Tensor, expected: readonly number[], hookName: string): void {
  if (!tf.util.arraysEqual(activation.shape, [...expected])) {
    throw new ShapeMismatchError(
      `${FUNCTION}: the activation at "${hookName}" has shape [${activation.shape}]; expected [${expected}] (replicas × batch first).`,
      { expected: [...expected], actual: activation.shape },
    );
  }
}

function batchSizeOf(batchSize: number | undefined): number {
  if (batchSize === undefined) {
    const backend = tf.getBackend();
    return backend === 'cpu' || backend === 'wasm' ? 16 : 64;
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError(
      `${FUNCTION}: batchSize must be a positive integer (sender sets per forward pass), got ${batchSize}.`,
    );
  }
  return batchSize;
}

function checkHead(model: HookedModel, ref: HeadRef, what: string, heads: number): void {
  const { nLayers } = model.config;
  const ok =
    typeof ref === 'object' &&
    ref !== null &&
    Number.isInteger(ref.layer) &&
    Number.isInteger(ref.head) &&
    ref.layer >= 0 &&
    ref.layer < nLayers &&
    ref.head >= 0 &&
    ref.head < heads;
  if (!ok) {
    throw new InvalidArgumentError(
      `${FUNCTION}: ${what} ${JSON.stringify(ref)} is not a head of this model; accepted: { layer: 0..${nLayers - 1}, head: 0..${heads - 1} }.`,
    );
  }
}

function senderSetsOf(model: HookedModel, senders: PathPatchOptions['senders']): HeadRef[][] {
  const { nHeads } = model.config;
  if (senders === 'all-heads') {
    return layers(model).flatMap((layer) =>
      Array.from({ length: nHeads }, (_, head) => [{ layer, head }]),
    );
  }
  if (!Array.isArray(senders) || senders.length === 0) {
    throw new InvalidArgumentError(
      `${FUNCTION}: senders must be 'all-heads' or a non-empty list of heads ({ layer, head }), got ${JSON.stringify(senders)}.`,
    );
  }
  for (const sender of senders) checkHead(model, sender, 'sender', nHeads);
  return [senders];
}

function receiversOf(
  model: HookedModel,
  receivers: PathPatchOptions['receivers'],
): 'end' | readonly ReceiverHead[] {
  if (receivers === 'resid_post' || receivers === 'logits') return 'end';
  if (!Array.isArray(receivers) || receivers.length === 0) {
    throw new InvalidArgumentError(
      `${FUNCTION}: receivers must be 'resid_post', 'logits' or a non-empty list of { layer, head, input: 'q'|'k'|'v' }, got ${JSON.stringify(receivers)}.`,
    );
  }
  const { nHeads, nKeyValueHeads } = model.config;
  for (const receiver of receivers) {
    if (!['q', 'k', 'v'].includes(receiver?.input)) {
      throw new InvalidArgumentError(
        `${FUNCTION}: receiver ${JSON.stringify(receiver)} needs input 'q', 'k' or 'v' (which input of the head receives the path).`,
      );
    }
    const heads = receiver.input === 'q' ? nHeads : (nKeyValueHeads ?? nHeads);
    checkHead(model, receiver, 'receiver', heads);
  }
  return receivers;
}
