import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { firstChangedPosition } from './fast-engine.js';
import type { PatchJob } from './patch-job.js';
import { checkSweepShard, patchCost, type SweepShard, shardIndices } from './sweep-shards.js';

/**
 * Values a sweep already has (e.g. read back from a checkpoint): flat indices and their values.
 *
 * @example
 * ```ts
 * const completed: CompletedPatches = { indices: [0, 1], values: [0.25, -0.5] };
 * ```
 */
export interface CompletedPatches {
  readonly indices: ArrayLike<number>;
  readonly values: ArrayLike<number>;
}

/** A shard of a sweep's result: which part it is and which flat indices it holds. */
export interface PatchResultShard extends SweepShard {
  /** Flat (row-major) indices of the result this part holds, ascending. */
  readonly indices: Int32Array;
}

/** The jobs left to run, the output array they write into, and the shard the result holds. */
export interface SweepSelection {
  readonly jobs: PatchJob[];
  /** Output values: completed values filled in, NaN outside the shard, 0 elsewhere. */
  readonly values: Float32Array;
  readonly shard: PatchResultShard | undefined;
}

/**
 * The estimated cost of each flat index of a sweep (0 for indices no job writes, e.g. the zero
 * padding of narrower key/value heads in `*_every` results).
 */
export function sweepCosts(
  jobs: readonly PatchJob[],
  size: number,
  nLayers: number,
  positions: number,
): Int32Array {
  const costs = new Int32Array(size);
  for (const job of jobs) {
    costs[job.slot] = patchCost(job.index[0]!, firstChangedPosition(job), nLayers, positions);
  }
  return costs;
}

/**
 * Applies the `shard` and `completed` options to a sweep's jobs: keeps the jobs of the shard's
 * indices that are not completed, and prepares the output (completed values filled in; NaN at
 * indices outside the shard).
 *
 * @throws InvalidArgumentError for a bad shard or completed indices/values.
 */
export function selectSweepJobs(
  functionName: string,
  jobs: readonly PatchJob[],
  size: number,
  options: { readonly shard?: SweepShard; readonly completed?: CompletedPatches },
  nLayers: number,
  positions: number,
): SweepSelection {
  const values = new Float32Array(size);
  let shard: PatchResultShard | undefined;
  let held: Uint8Array | undefined;
  if (options.shard !== undefined) {
    const { index, count } = checkSweepShard(functionName, options.shard);
    const indices = shardIndices(sweepCosts(jobs, size, nLayers, positions), { index, count });
    shard = { index, count, indices };
    held = new Uint8Array(size);
    for (const flat of indices) held[flat] = 1;
    for (let flat = 0; flat < size; flat++) if (held[flat] === 0) values[flat] = Number.NaN;
  }
  const done = new Uint8Array(size);
  const { completed } = options;
  if (completed !== undefined) {
    const { indices, values: completedValues } = completed;
    if (indices?.length !== completedValues?.length) {
      throw new InvalidArgumentError(
        `${functionName}: completed must be { indices, values } of equal length, got ${indices?.length} indices and ${completedValues?.length} values.`,
      );
    }
    for (let entry = 0; entry < indices.length; entry++) {
      const flat = indices[entry]!;
      const value = completedValues[entry]!;
      if (!Number.isInteger(flat) || flat < 0 || flat >= size || (held && held[flat] === 0)) {
        throw new InvalidArgumentError(
          `${functionName}: completed.indices holds ${flat}, which is not a flat index of this sweep${held ? "'s shard" : ''} (0..${size - 1}).`,
        );
      }
      if (!Number.isFinite(value)) {
        throw new InvalidArgumentError(
          `${functionName}: completed.values holds ${value} for index ${flat}; completed values must be finite numbers.`,
        );
      }
      values[flat] = value;
      done[flat] = 1;
    }
  }
  const selected = jobs.filter(
    (job) => done[job.slot] === 0 && (held === undefined || held[job.slot] === 1),
  );
  return { jobs: selected, values, shard };
}
