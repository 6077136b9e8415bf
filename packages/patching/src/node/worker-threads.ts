/**
 * The calling thread's side of the fast engine's worker threads (Node): how many to start, and
 * running a plan's passes on them. Worker 0 is the calling thread itself (one model copy fewer);
 * workers 1… are threads started for this sweep and ended before it returns.
 */
import { createRequire } from 'node:module';
import { availableParallelism, freemem } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as errors from '@patchlens/tensor-hooks';
import {
  AbortError,
  type HookName,
  type ModelWorkerSource,
  PatchLensError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { EngineContext, PatchJob } from '../patch-job.js';
import { throwIfAborted } from '../patch-job.js';
import type { MetricRecipe } from '../patching-metric.js';
import { executePasses } from '../sweep-executor.js';
import type { SweepPlan } from '../sweep-plan.js';
import type { PlainTensor, WorkerReply, WorkerStart } from './worker-messages.js';

/** Cores this process may use. */
export function coreCount(): number {
  return availableParallelism();
}

/** Workers that fit the free memory, each holding `bytesPerWorker` (model copy, budget, clean). */
export function workersThatFit(bytesPerWorker: number): number {
  return Math.max(1, Math.floor(freemem() / bytesPerWorker));
}

/** A worker started from TypeScript source (tests, tsx) needs a loader; a build does not. */
function startWorker(start: WorkerStart): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./sweep-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: start });
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(
    join(dirname(require.resolve('tsx/package.json')), 'dist/esm/api/index.mjs'),
  ).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, {
    eval: true,
    workerData: start,
    execArgv: ['--conditions=source'],
  });
}

const ERROR_CLASSES = errors as unknown as Record<string, new (message: string) => Error>;

/**
 * The worker's error, as the same PatchLens error class (brand included, so `isInstance` and
 * `instanceof` hold) where it is one, with the worker's message and stack.
 */
function rebuildError(reply: Extract<WorkerReply, { type: 'error' }>): Error {
  const Class = ERROR_CLASSES[reply.name];
  if (typeof Class !== 'function' || !(Class.prototype instanceof PatchLensError)) {
    const error = new Error(reply.message);
    if (reply.stack) error.stack = reply.stack;
    return error;
  }
  const error = new PatchLensError(reply.message);
  Object.setPrototypeOf(error, Class.prototype);
  error.name = reply.name;
  Object.defineProperty(error, Symbol.for(`patchlens.error.${reply.name}`), {
    value: true,
    enumerable: false,
  });
  if (reply.stack) error.stack = reply.stack;
  return error;
}

function plain(
  tensor: { shape: number[]; dataSync(): ArrayLike<number> },
  int = false,
): PlainTensor {
  const values = tensor.dataSync();
  return {
    shape: [...tensor.shape],
    data: int ? Int32Array.from(values) : Float32Array.from(values),
  };
}

/**
 * Runs the plan's passes on `plan.workerPasses.length` workers (worker 0 on this thread, the
 * others on worker threads), handing out passes from one queue, costliest first, to whichever
 * worker is free; calls `onPass` with each pass's values as they arrive. The first error — a worker's, this thread's,
 * or the signal's AbortError — ends every worker and rejects; nothing keeps running.
 */
export async function runOnWorkers(
  context: EngineContext,
  jobs: readonly PatchJob[],
  plan: SweepPlan,
  metric: MetricRecipe,
  onPass: (pass: number, values: Float32Array) => void,
  done: () => number,
): Promise<void> {
  const { model, functionName } = context;
  const internal = new AbortController();
  let firstError: unknown;
  const workers: Worker[] = [];
  const fail = (error: unknown) => {
    if (firstError !== undefined) return;
    firstError = error;
    internal.abort(error);
    for (const worker of workers) void worker.terminate();
  };
  const onAbort = () => {
    try {
      throwIfAborted(functionName, context.signal, done(), jobs.length);
    } catch (error) {
      fail(error);
    }
  };
  context.signal?.addEventListener('abort', onAbort);
  try {
    // the weights over shared memory: dropped once every worker has them (see the loop's end)
    let source: ModelWorkerSource | undefined = model.workerSource!();
    const tokens = plain(context.corruptedTokens, true);
    const finished: Promise<void>[] = [];
    // one queue, costliest pass first: whoever is free takes the next, so a worker that starts
    // late (loading its model) takes fewer passes instead of delaying the sweep
    const queue = plan.passes
      .map((_, pass) => pass)
      .sort((a, b) => plan.passes[b]!.cost - plan.passes[a]!.cost || a - b);
    const all = plan.passes.map((_, pass) => pass);
    for (let index = 1; index < plan.workerPasses.length; index++) {
      const passes = all;
      const names = new Set<HookName>(
        passes.flatMap((pass) => plan.passes[pass]!.patches.map((patch) => jobs[patch]!.hookName)),
      );
      const start: WorkerStart = {
        backend: tf.getBackend(),
        model: source!,
        functionName,
        tokens,
        clean: [...names].map((name) => [name, plain(context.clean.get(name)!)]),
        metric,
        jobs: jobs.map(({ hookName, index: patchIndex, setter, slot, sweep }) => ({
          hookName,
          index: patchIndex,
          setter,
          slot,
          sweep,
        })),
        plan,
        passes,
      };
      const worker = startWorker(start);
      workers.push(worker);
      finished.push(
        new Promise<void>((resolve) => {
          let ended = false;
          worker.on('message', (reply: WorkerReply) => {
            if (firstError !== undefined) return;
            if (reply.type === 'pass') onPass(reply.pass, reply.values);
            else if (reply.type === 'next') worker.postMessage({ pass: queue.shift() });
            else if (reply.type === 'error') fail(rebuildError(reply));
            else {
              ended = true;
              void worker.terminate();
            }
          });
          worker.on('error', fail);
          worker.on('exit', () => {
            if (!ended)
              fail(
                new AbortError(
                  `${functionName}: worker ${index} stopped before its passes were done.`,
                ),
              );
            resolve();
          });
        }),
      );
    }
    source = undefined;
    if (context.signal?.aborted) onAbort();
    const local = executePasses(
      { ...context, signal: internal.signal },
      jobs,
      plan,
      all,
      (pass, values) => {
        if (firstError === undefined) onPass(pass, values);
      },
      done,
      () => queue.shift(),
    ).catch(fail);
    await Promise.all([local, ...finished]);
  } finally {
    context.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  if (firstError !== undefined) throw firstError;
}
