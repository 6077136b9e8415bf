import { AbortError, type HookedModel, type HookName } from '@patchlens/tensor-hooks';
import type * as tf from '@tensorflow/tfjs-core';
import type { PatchSetter } from './patch-setters.js';
import type { PatchingMetric } from './patching-metric.js';

/** The sweep a patch belongs to, for error messages. */
export interface SweepLabel {
  readonly activationName: string;
  readonly axisNames: readonly string[];
}

/** One patch: where it writes, what it writes, and where its metric value goes. */
export interface PatchJob {
  /** Full hook name (`blocks.{layer}.attn.hook_z`). */
  readonly hookName: HookName;
  /** The index row, layer first. */
  readonly index: readonly number[];
  readonly setter: PatchSetter;
  /** Position of this patch's value in the output array. */
  readonly slot: number;
  readonly sweep: SweepLabel;
}

/** Everything an engine needs, validated. */
export interface EngineContext {
  readonly functionName: string;
  readonly model: HookedModel;
  /** `[batch, pos]` int32. */
  readonly corruptedTokens: tf.Tensor;
  readonly metric: PatchingMetric;
  /** Clean activation per hook name the jobs patch (owned by the caller's cache). */
  readonly clean: ReadonlyMap<HookName, tf.Tensor>;
  readonly signal: AbortSignal | undefined;
  /** Called with the number of patches done so far. */
  readonly progress: (done: number) => void;
}

/** "at z index {layer: 0, pos: 2, head: 1}" — where a patch sits, for messages. */
export function describeJob(job: PatchJob): string {
  const parts = job.index.map((value, entry) => `${job.sweep.axisNames[entry] ?? entry}: ${value}`);
  return `at ${job.sweep.activationName} index {${parts.join(', ')}} (hook "${job.hookName}")`;
}

/**
 * Throws AbortError when the signal has fired.
 *
 * @throws AbortError with the signal's reason as `cause`.
 */
export function throwIfAborted(
  functionName: string,
  signal: AbortSignal | undefined,
  done: number,
  total: number,
): void {
  if (signal?.aborted) {
    throw new AbortError(
      `${functionName}: cancelled after ${done} of ${total} patches; every tensor it made has been disposed.`,
      { cause: signal.reason },
    );
  }
}

/** Let timers, I/O and abort events run between batches (setImmediate in Node, a message elsewhere). */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown })
    .setImmediate;
  if (typeof immediate === 'function') return new Promise((resolve) => immediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(undefined);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
