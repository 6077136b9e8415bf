/**
 * The fast engine: plans a sweep (sweep-plan.ts), fills in patches that change nothing with the
 * corrupted metric (unchanged-patches.ts), and runs the planned passes (sweep-executor.ts) on the
 * calling thread or on worker threads (sweep-workers.ts).
 */
import {
  layerOfHook,
  type ModelConfig,
  queryPositionAxis,
  type UnembedSelection,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type EngineContext, type PatchJob, throwIfAborted } from './patch-job.js';
import { isCoordinatePatchSetter } from './patch-setters.js';
import { metricRecipe } from './patching-metric.js';
import { executePasses } from './sweep-executor.js';
import { bytesPerReplica, type PatchFacts, planSweep, type SweepPlan } from './sweep-plan.js';
import { corruptedMetricValue, unchangedPatches } from './unchanged-patches.js';

export { planChunks } from './sweep-plan.js';

/** Default memory budget of one worker's passes (captured corrupted run included). */
export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;

/** wasm's heap cannot grow past 4 GiB (32-bit addresses) and never shrinks. */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

/**
 * The most patches the fast engine batches into one forward pass by default: 32 on CPU backends
 * (cpu, wasm: larger batches measured no faster), 256 on GPU backends (webgl, webgpu, tensorflow),
 * where the memory budget is the real limit.
 */
export function maxPatchesPerForward(backend: string): number {
  return backend === 'cpu' || backend === 'wasm' ? 32 : 256;
}

/**
 * How many patches (K) fit into one forward pass of batch K×B under a memory budget (the
 * activations one block keeps alive plus the logits the metric needs, in float32).
 */
export function choosePatchesPerForward(
  config: ModelConfig,
  batch: number,
  positions: number,
  logitsPerRow: number,
  memoryBudgetBytes: number,
): number {
  const replica = bytesPerReplica({ config, batch, positions, logitsPerRow } as never);
  const fits = Math.floor(memoryBudgetBytes / replica);
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
 * The first position a declarative patch changes: the index value of the activation's position
 * axis when the setter fixes it (causal attention leaves every earlier position as in the
 * corrupted run), else 0.
 */
export function firstChangedPosition(job: PatchJob): number {
  if (!isCoordinatePatchSetter(job.setter)) return 0;
  const entry = job.setter.activationAxes.indexOf(queryPositionAxis(job.hookName));
  return entry < 0 ? 0 : job.index[entry + 1]!;
}

/** True when any hook is attached to the model (the shortcuts that assume none are off). */
function hasUserHooks(context: EngineContext): boolean {
  return context.model.hookNames.some((name) => context.model.hooks.hasHooks(name));
}

/**
 * The first position the metric reads (resolved against `positions`), or undefined when starting
 * at a later position cannot be used: the model lacks `startAtPosition` or selective unembedding,
 * the metric reads every position (or is opaque), or a hook is attached to the model (it would
 * see only the computed positions).
 */
function firstReadPosition(context: EngineContext, positions: number): number | undefined {
  const { model, metric } = context;
  const readPositions = metric.reads?.positions;
  if (
    model.capabilities.startAtPosition !== true ||
    !model.capabilities.startAtLayer ||
    !model.capabilities.selectiveUnembed ||
    readPositions === undefined ||
    hasUserHooks(context)
  ) {
    return undefined;
  }
  const names = new Set<string>(model.hookNames);
  for (let layer = 0; layer < model.config.nLayers; layer++) {
    if (!names.has(`blocks.${layer}.attn.hook_k`) || !names.has(`blocks.${layer}.attn.hook_v`)) {
      return undefined;
    }
  }
  return Math.min(
    ...readPositions.map((position) => (position < 0 ? position + positions : position)),
  );
}

type WorkerThreads = typeof import('./node/worker-threads.js');

/** The Node worker-thread module, or undefined outside Node (browsers run on the calling thread). */
async function loadWorkerThreads(): Promise<WorkerThreads | undefined> {
  const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
    ?.node;
  if (node === undefined) return undefined;
  const specifier = './node/worker-threads.js'; // not a literal: browser bundles leave it out
  return (await import(/* @vite-ignore */ specifier)) as WorkerThreads;
}

/**
 * True when worker threads can build the same sweep: the model can be copied, every setter is
 * data, no hook is attached (hooks cannot be copied), and the backend runs in a worker.
 */
function canCopy(context: EngineContext, jobs: readonly PatchJob[]): boolean {
  return (
    typeof context.model.workerSource === 'function' &&
    jobs.every((job) => isCoordinatePatchSetter(job.setter)) &&
    !hasUserHooks(context) &&
    ['wasm', 'cpu'].includes(tf.getBackend())
  );
}

/** Workers to plan for: the option, or one per core limited by the free memory. */
function workerCount(
  context: EngineContext,
  options: FastEngineOptions,
  threads: WorkerThreads,
): number {
  if (typeof options.workers === 'number') return options.workers;
  let cleanBytes = 0;
  for (const tensor of context.clean.values()) cleanBytes += 4 * tensor.size;
  const perWorker = modelBytes(context.model.config) + cleanBytes + options.memoryBudgetBytes;
  return Math.min(threads.coreCount(), threads.workersThatFit(perWorker));
}

/**
 * `workers: 'auto'` starts threads only for plans estimated above this many seconds of one
 * thread's work: a worker needs seconds to start (load tfjs and its wasm, build the model from
 * the shared weights, capture the corrupted run), and meanwhile it competes for the cores.
 * Measured on the shared 2-core machine: GPT-2-small resid_pre at P = 16 (estimate ≈ 13 s) took
 * 5–8 s on one thread and 6–9 s on two.
 */
const AUTO_WORKERS_MIN_SECONDS = 20;

/** Seconds one thread needs for the plan's passes at about 10 GFLOP/s (weights' multiply-adds). */
function estimatedSeconds(context: EngineContext, plan: SweepPlan): number {
  const { dModel, dMlp } = context.model.config;
  const batch = context.corruptedTokens.shape[0]!;
  const flopsPerRow = 2 * (4 * dModel * dModel + 2 * dModel * dMlp);
  const rows = plan.passes.reduce((sum, pass) => sum + pass.cost, 0) * batch;
  return (rows * flopsPerRow) / 1e10;
}

/** Options of {@link runFastEngine}. */
export interface FastEngineOptions {
  readonly batchSize: number | undefined;
  readonly memoryBudgetBytes: number;
  /** Worker threads (1: the calling thread; 'auto': one per core, limited by memory). */
  readonly workers: number | 'auto';
}

/** The facts the planner needs about each job. */
function patchFacts(
  context: EngineContext,
  jobs: readonly PatchJob[],
  unchanged: readonly boolean[],
): PatchFacts[] {
  const { model } = context;
  const hookNames = new Set<string>(model.hookNames);
  return jobs.map((job, index) => {
    const layer = layerOfHook(job.hookName);
    const startLayer =
      model.capabilities.startAtLayer &&
      layer !== undefined &&
      hookNames.has(`blocks.${layer}.hook_resid_pre`)
        ? layer
        : undefined;
    return {
      startLayer,
      firstChangedPosition: firstChangedPosition(job),
      unchanged: unchanged[index] ?? false,
    };
  });
}

/** Bytes of a model's weights, estimated from its config (GPT-2 layout, float32). */
function modelBytes(config: ModelConfig): number {
  const { nLayers, dModel, dMlp, dVocab, nCtx } = config;
  return (
    4 *
    (nLayers * (4 * dModel * dModel + 2 * dModel * dMlp + 13 * dModel) + (dVocab + nCtx) * dModel)
  );
}

/** Plans the sweep (no tensors made); exported for the CLI's dry checks and the tests. */
export function planFastSweep(
  context: EngineContext,
  jobs: readonly PatchJob[],
  unchanged: readonly boolean[],
  options: FastEngineOptions,
): SweepPlan {
  const { model, corruptedTokens, metric } = context;
  const [batch, positions] = corruptedTokens.shape as [number, number];
  const backend = tf.getBackend();
  let cleanBytes = 0;
  for (const tensor of context.clean.values()) cleanBytes += 4 * tensor.size;
  return planSweep({
    patches: patchFacts(context, jobs, unchanged),
    config: model.config,
    batch,
    positions,
    firstReadPosition: firstReadPosition(context, positions),
    logitsPerRow: logitsPerRow(
      metric.reads,
      model.capabilities.selectiveUnembed,
      positions,
      model.config.dVocab,
    ),
    memoryBudgetBytes: options.memoryBudgetBytes,
    batchSize: options.batchSize,
    maxPatchesPerForward: maxPatchesPerForward(backend),
    workers: typeof options.workers === 'number' ? options.workers : 1,
    ...(backend === 'wasm'
      ? {
          heap: {
            name: 'wasm',
            limitBytes: WASM_HEAP_LIMIT_BYTES,
            fixedBytes: modelBytes(model.config) + cleanBytes,
          },
        }
      : {}),
  });
}

/**
 * The fast engine: patches that change nothing get the corrupted metric; the rest run in the
 * planned passes, each a forward pass of batch K×B that starts at the patched layer (and
 * position) from the corrupted run and unembeds only what the metric declares.
 */
export async function runFastEngine(
  context: EngineContext,
  jobs: readonly PatchJob[],
  output: Float32Array,
  options: FastEngineOptions,
): Promise<void> {
  const { functionName, signal } = context;
  throwIfAborted(functionName, signal, 0, jobs.length);
  // skipping needs the corrupted activations as the patch hook sees them: no other hook attached
  const canSkip = !hasUserHooks(context) && jobs.some((job) => isCoordinatePatchSetter(job.setter));
  const unchanged = canSkip ? await unchangedPatches(context, jobs) : [];
  const recipe = metricRecipe(context.metric);
  const threads =
    options.workers !== 1 && recipe !== undefined && canCopy(context, jobs)
      ? await loadWorkerThreads()
      : undefined;
  let plan = planFastSweep(context, jobs, unchanged, {
    ...options,
    workers: threads ? workerCount(context, options, threads) : 1,
  });
  if (
    options.workers === 'auto' &&
    plan.workerPasses.length > 1 &&
    estimatedSeconds(context, plan) < AUTO_WORKERS_MIN_SECONDS
  ) {
    // too little work to pay for starting threads and building model copies
    plan = planFastSweep(context, jobs, unchanged, { ...options, workers: 1 });
  }
  context.progress(0); // planned: the sweep fits and starts
  let done = 0;
  if (plan.skipped.length > 0) {
    const value = await corruptedMetricValue(context, jobs[plan.skipped[0]!.patch]!);
    for (const { patch } of plan.skipped) output[jobs[patch]!.slot] = value;
    done += plan.skipped.length;
    context.progress(done);
  }
  const onPass = (pass: number, values: Float32Array) => {
    const patches = plan.passes[pass]!.patches;
    patches.forEach((patch, replica) => {
      output[jobs[patch]!.slot] = values[replica]!;
    });
    done += patches.length;
    context.progress(done);
  };
  if (plan.workerPasses.length > 1) {
    await threads!.runOnWorkers(context, jobs, plan, recipe!, onPass, () => done);
  } else {
    await executePasses(context, jobs, plan, plan.workerPasses[0] ?? [], onPass, () => done);
  }
  throwIfAborted(functionName, signal, jobs.length, jobs.length);
}
