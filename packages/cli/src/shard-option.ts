import type { SweepShard } from '@patchlens/patching';
import { UsageError } from './usage-error.js';

/** The environment variables `--shard auto` reads (a subset of `process.env`). */
export type SchedulerEnvironment = Readonly<Record<string, string | undefined>>;

function nonNegativeInteger(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function checked(shard: SweepShard, from: string): SweepShard {
  if (shard.count < 1 || shard.index >= shard.count) {
    throw new UsageError(
      `patchlens patch: --shard ${from} gives shard ${shard.index} of ${shard.count}; a shard i/n needs 0 <= i < n.`,
    );
  }
  return shard;
}

/** Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`, n from `--shards`. */
function kubernetesShard(env: SchedulerEnvironment, shards: number | undefined): SweepShard {
  const index = nonNegativeInteger(env['JOB_COMPLETION_INDEX']);
  if (index === undefined) {
    throw new UsageError(
      `patchlens patch: --shard auto: JOB_COMPLETION_INDEX is "${env['JOB_COMPLETION_INDEX']}", not a non-negative integer.`,
    );
  }
  if (shards === undefined) {
    throw new UsageError(
      "patchlens patch: --shard auto in a Kubernetes Indexed Job needs --shards N (the job's spec.completions); the pod's environment holds only its JOB_COMPLETION_INDEX.",
    );
  }
  return checked(
    { index, count: shards },
    `auto (JOB_COMPLETION_INDEX=${index}, --shards ${shards})`,
  );
}

/** Slurm job array: `SLURM_ARRAY_TASK_ID` relative to `SLURM_ARRAY_TASK_MIN` (and `_STEP`), n = `SLURM_ARRAY_TASK_COUNT`. */
function slurmShard(env: SchedulerEnvironment, shards: number | undefined): SweepShard {
  const id = nonNegativeInteger(env['SLURM_ARRAY_TASK_ID']);
  const minimum = nonNegativeInteger(env['SLURM_ARRAY_TASK_MIN'] ?? '0');
  const step = nonNegativeInteger(env['SLURM_ARRAY_TASK_STEP'] ?? '1');
  const taskCount = nonNegativeInteger(env['SLURM_ARRAY_TASK_COUNT']);
  const count = shards ?? taskCount;
  if (id === undefined || minimum === undefined || step === undefined || step === 0) {
    throw new UsageError(
      `patchlens patch: --shard auto: SLURM_ARRAY_TASK_ID="${env['SLURM_ARRAY_TASK_ID']}", SLURM_ARRAY_TASK_MIN="${env['SLURM_ARRAY_TASK_MIN']}", SLURM_ARRAY_TASK_STEP="${env['SLURM_ARRAY_TASK_STEP']}" are not all non-negative integers (step >= 1).`,
    );
  }
  if (count === undefined) {
    throw new UsageError(
      'patchlens patch: --shard auto in a Slurm array needs SLURM_ARRAY_TASK_COUNT (Slurm >= 17.11 sets it) or --shards N.',
    );
  }
  if (id < minimum || (id - minimum) % step !== 0) {
    throw new UsageError(
      `patchlens patch: --shard auto: SLURM_ARRAY_TASK_ID=${id} is not SLURM_ARRAY_TASK_MIN=${minimum} plus a multiple of the step ${step}; submit the array as --array=0-${count - 1}.`,
    );
  }
  const index = (id - minimum) / step;
  return checked(
    { index, count },
    `auto (SLURM_ARRAY_TASK_ID=${id}, SLURM_ARRAY_TASK_MIN=${minimum}, ${count} tasks)`,
  );
}

/**
 * The `--shard` value: `i/n` (0 <= i < n), or `auto` from the scheduler's environment — a
 * Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, n from `--shards`) or a Slurm job array
 * (`SLURM_ARRAY_TASK_ID` - `SLURM_ARRAY_TASK_MIN`, divided by `SLURM_ARRAY_TASK_STEP`; n =
 * `SLURM_ARRAY_TASK_COUNT` or `--shards`). Undefined without `--shard`.
 *
 * @throws UsageError (exit 2) for a malformed value, missing variables or a shard out of range.
 * @example
 * ```ts
 * parseShardOption('2/7', undefined, process.env); // { index: 2, count: 7 }
 * parseShardOption('auto', '4', { JOB_COMPLETION_INDEX: '3' }); // { index: 3, count: 4 }
 * ```
 */
export function parseShardOption(
  value: string | undefined,
  shardsValue: string | undefined,
  env: SchedulerEnvironment,
): SweepShard | undefined {
  const shards = shardsValue === undefined ? undefined : nonNegativeInteger(shardsValue);
  if (shardsValue !== undefined && (shards === undefined || shards < 1)) {
    throw new UsageError(
      `patchlens patch: --shards "${shardsValue}" is not a positive integer (the number of shards of --shard auto).`,
    );
  }
  if (value === undefined) {
    if (shardsValue !== undefined) {
      throw new UsageError(
        'patchlens patch: --shards N goes with --shard auto (it gives n when the scheduler does not).',
      );
    }
    return undefined;
  }
  if (value === 'auto') {
    if (env['JOB_COMPLETION_INDEX'] !== undefined) return kubernetesShard(env, shards);
    if (env['SLURM_ARRAY_TASK_ID'] !== undefined) return slurmShard(env, shards);
    throw new UsageError(
      'patchlens patch: --shard auto found no scheduler in the environment (JOB_COMPLETION_INDEX of a Kubernetes Indexed Job, or SLURM_ARRAY_TASK_ID of a Slurm job array); give --shard i/n instead.',
    );
  }
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!match) {
    throw new UsageError(
      `patchlens patch: --shard "${value}" is not i/n (e.g. 0/4, with 0 <= i < n) or auto.`,
    );
  }
  if (shardsValue !== undefined) {
    throw new UsageError(
      'patchlens patch: --shards N goes with --shard auto only; --shard i/n already gives n.',
    );
  }
  return checked({ index: Number(match[1]), count: Number(match[2]) }, value);
}
