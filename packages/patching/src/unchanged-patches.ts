/**
 * Which patches change nothing: the clean and corrupted activations are bitwise equal over the
 * patch's coordinates, so the patched run is the corrupted run (fact 5 in sweep-plan.ts).
 */
import { layerOfHook, MetricError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { describeJob, type EngineContext, type PatchJob } from './patch-job.js';
import { isCoordinatePatchSetter } from './patch-setters.js';
import { metricScalar, selectLogits } from './patching-metric.js';

/**
 * True when `clean` and `corrupted` (row-major, `shape`) hold the same bits at every entry whose
 * coordinates on `fixedAxes` equal `fixedValues` (every other axis, the batch included, free).
 */
export function equalOverCoordinates(
  clean: Float32Array,
  corrupted: Float32Array,
  shape: readonly number[],
  fixedAxes: readonly number[],
  fixedValues: readonly number[],
): boolean {
  const a = new Uint32Array(clean.buffer, clean.byteOffset, clean.length);
  const b = new Uint32Array(corrupted.buffer, corrupted.byteOffset, corrupted.length);
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--)
    strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  let base = 0;
  fixedAxes.forEach((axis, entry) => {
    base += fixedValues[entry]! * strides[axis]!;
  });
  const free = shape.map((_, axis) => axis).filter((axis) => !fixedAxes.includes(axis));
  // the innermost free axes that are contiguous (no fixed axis after them) compare as one run
  let runLength = 1;
  let outer = free.length;
  while (outer > 0 && free[outer - 1] === shape.length - (free.length - outer) - 1) {
    runLength *= shape[free[outer - 1]!]!;
    outer--;
  }
  const loops = free.slice(0, outer);
  const counters = new Array<number>(loops.length).fill(0);
  for (;;) {
    let offset = base;
    loops.forEach((axis, entry) => {
      offset += counters[entry]! * strides[axis]!;
    });
    for (let i = offset; i < offset + runLength; i++) if (a[i] !== b[i]) return false;
    let entry = loops.length - 1;
    while (entry >= 0) {
      counters[entry]!++;
      if (counters[entry]! < shape[loops[entry]!]!) break;
      counters[entry] = 0;
      entry--;
    }
    if (entry < 0) return true;
  }
}

/**
 * Runs the corrupted prompt once, keeping the activations the jobs patch, and marks every
 * declarative patch whose clean and corrupted activations are bitwise equal over its coordinates.
 * Function setters are never marked (their coordinates are unknown). Only valid when no user hook
 * is attached (the caller checks): the patch hook would see hooked values.
 */
export async function unchangedPatches(
  context: EngineContext,
  jobs: readonly PatchJob[],
): Promise<boolean[]> {
  const { model, corruptedTokens } = context;
  const names = new Set<string>(
    jobs.filter((job) => isCoordinatePatchSetter(job.setter)).map((job) => job.hookName),
  );
  const deepest = Math.max(...jobs.map((job) => layerOfHook(job.hookName) ?? model.config.nLayers));
  const { logits, cache } = model.runWithCache(corruptedTokens, {
    namesFilter: (name: string) => names.has(name),
    ...(model.capabilities.stopAtLayer && deepest + 1 < model.config.nLayers
      ? { stopAtLayer: deepest + 1 }
      : model.capabilities.selectiveUnembed
        ? { unembed: { positions: [-1], tokens: [0] } }
        : {}),
  });
  try {
    const corrupted = new Map<string, Float32Array>();
    const clean = new Map<string, Float32Array>();
    for (const name of names) {
      if (!cache.has(name)) continue;
      // asynchronous reads: a synchronous read stalls (and on webgpu in Node fails)
      corrupted.set(name, (await cache.get(name).data()) as Float32Array);
      clean.set(name, (await context.clean.get(name as never)!.data()) as Float32Array);
    }
    const unchanged = jobs.map((job) => {
      const setter = job.setter;
      const corruptedData = corrupted.get(job.hookName);
      if (!isCoordinatePatchSetter(setter) || corruptedData === undefined) return false;
      const shape = context.clean.get(job.hookName)!.shape;
      return equalOverCoordinates(
        clean.get(job.hookName)!,
        corruptedData,
        shape,
        setter.activationAxes,
        job.index.slice(1),
      );
    });
    return unchanged;
  } finally {
    logits.dispose();
    cache.dispose();
  }
}

/**
 * The metric on the corrupted run: the value of every patch that changes nothing (`job` names
 * the first such patch in error messages).
 *
 * @throws MetricError when the metric throws or returns something other than one finite number.
 */
export async function corruptedMetricValue(context: EngineContext, job: PatchJob): Promise<number> {
  const { model, corruptedTokens, metric, functionName } = context;
  const selective = metric.reads !== undefined && model.capabilities.selectiveUnembed;
  const value = tf.tidy(() => {
    const logits = model.forward(corruptedTokens, selective ? { unembed: metric.reads } : {});
    return metricScalar(
      metric,
      selective ? logits : selectLogits(logits, metric.reads),
      describeJob(job),
    );
  });
  let number: number;
  try {
    number = (await value.data())[0]!;
  } finally {
    value.dispose();
  }
  if (!Number.isFinite(number)) {
    throw new MetricError(
      `${functionName}: metric "${metric.name}" returned ${number} ${describeJob(job)}; a metric must return a finite number.`,
    );
  }
  return number;
}
