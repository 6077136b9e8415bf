import type { PatchJob } from './patch-job.js';

/** One finished batch: the flat indices it computed and their values. */
export interface FinishedBatch {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/**
 * Reports the values an engine wrote since the last call, from outside the engine: the jobs'
 * output slots are set to NaN first (an engine never writes NaN: a non-finite metric value is a
 * MetricError), and each call emits the slots that now hold a number. Called from the engine's
 * progress callback (after each batch, once its values are in `output`), it reports each batch
 * exactly once, whatever order, worker or shortcut the engine used. Each call scans the slots still
 * pending: O(pending) per batch, small next to a batch's forward pass.
 *
 * @returns a function to call after each batch; it calls `onBatch` when there are new values.
 */
export function batchReporter(
  output: Float32Array,
  jobs: readonly PatchJob[],
  onBatch: (batch: FinishedBatch) => void,
): () => void {
  let pending = Int32Array.from(jobs, (job) => job.slot);
  for (const slot of pending) output[slot] = Number.NaN;
  return () => {
    const finished: number[] = [];
    let kept = 0;
    for (const slot of pending) {
      if (Number.isNaN(output[slot]!)) pending[kept++] = slot;
      else finished.push(slot);
    }
    pending = pending.subarray(0, kept);
    if (finished.length === 0) return;
    const indices = Int32Array.from(finished);
    onBatch({ indices, values: Float32Array.from(indices, (slot) => output[slot]!) });
  };
}
