/**
 * A worker thread of the fast engine (Node): builds its own backend and model copy from the
 * message it is started with, then runs the passes the calling thread hands it one at a time
 * (a shared queue) and posts each pass's values.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initNodeBackend } from '@patchlens/backends/node';
import type { HookedModel, HookName } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { EngineContext, PatchJob } from '../patch-job.js';
import { metricFromRecipe } from '../patching-metric.js';
import { executePasses } from '../sweep-executor.js';
import type { WorkerStart } from './worker-messages.js';

async function main(start: WorkerStart): Promise<void> {
  await initNodeBackend(start.backend as 'wasm');
  const module = (await import(start.model.module)) as Record<
    string,
    (argument: unknown) => unknown
  >;
  const model = (await module[start.model.exportName]!(start.model.argument)) as HookedModel;
  // the weights now live in this worker's backend: drop the shared bytes so they can be freed
  (start as { model: unknown }).model = undefined;
  const corruptedTokens = tf.tensor(start.tokens.data, start.tokens.shape, 'int32');
  const clean = new Map<HookName, tf.Tensor>(
    start.clean.map(([name, tensor]) => [name, tf.tensor(tensor.data, tensor.shape, 'float32')]),
  );
  // setters arrive as copies: one object per distinct setter again, so a pass masks once per setter
  const setters = new Map<string, PatchJob['setter']>();
  const jobs: PatchJob[] = start.jobs.map((job) => {
    const key = JSON.stringify(job.setter);
    if (!setters.has(key)) setters.set(key, job.setter);
    return { ...job, setter: setters.get(key)! };
  });
  const context: EngineContext = {
    functionName: start.functionName,
    model,
    corruptedTokens,
    metric: metricFromRecipe(start.metric),
    clean,
    signal: undefined,
    progress: () => {},
  };
  // passes come one at a time from the calling thread's shared queue
  const waiting: ((pass: number | undefined) => void)[] = [];
  parentPort!.on('message', (message: { pass?: number }) => waiting.shift()?.(message.pass));
  const next = () =>
    new Promise<number | undefined>((resolve) => {
      waiting.push(resolve);
      parentPort!.postMessage({ type: 'next' });
    });
  await executePasses(
    context,
    jobs,
    start.plan,
    start.passes,
    (pass, values) => parentPort!.postMessage({ type: 'pass', pass, values }),
    () => 0,
    next,
  );
  parentPort!.postMessage({ type: 'done' });
}

main(workerData as WorkerStart).catch((error: unknown) => {
  const { name, message, stack } =
    error instanceof Error ? error : { name: 'Error', message: String(error), stack: undefined };
  parentPort!.postMessage({ type: 'error', name, message, stack });
});
