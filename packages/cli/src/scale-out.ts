import type { CompletedPatches, PatchResult, PatchRunJson, SweepShard } from '@patchlens/patching';
import { CheckpointFile } from './checkpoint-file.js';
import type { OptionTable } from './command-line.js';
import { checkpointIdentity, PATCHLENS_VERSION, type RunIdentity } from './run-identity.js';
import { parseShardOption, type SchedulerEnvironment } from './shard-option.js';
import { UsageError } from './usage-error.js';

/** The flags of `patchlens patch` for sharded and resumable runs. */
export const SCALE_OUT_OPTIONS = {
  shard: { type: 'string' },
  shards: { type: 'string' },
  checkpoint: { type: 'string' },
} as const satisfies OptionTable;

/** Their usage line. */
export const SCALE_OUT_USAGE =
  '  [--shard i/n|auto [--shards N]] [--checkpoint FILE]   one part of a sweep (patchlens merge joins them); resumable';

/** The JSON of one shard of a run: the full run's layout plus `run` and `shard`. */
export interface ShardRunJson extends PatchRunJson {
  readonly run: RunIdentity;
  readonly shard: {
    readonly index: number;
    readonly count: number;
    /** Flat indices of each sweep's `values` this part holds (the others are null). */
    readonly indices: Record<string, number[]>;
  };
}

/** The flag values this file reads. */
export interface ScaleOutFlags {
  readonly shard?: string | undefined;
  readonly shards?: string | undefined;
  readonly checkpoint?: string | undefined;
  readonly svg?: string | undefined;
}

/**
 * Checks the sharding flags before anything is loaded.
 *
 * @param format - the output file's extension (`.json`, `.csv`, `.arrow`).
 * @throws UsageError for a malformed `--shard`, or a shard written as CSV/Arrow or drawn with `--svg`.
 */
export function checkScaleOutFlags(
  flags: ScaleOutFlags,
  format: string,
  env: SchedulerEnvironment,
): SweepShard | undefined {
  const shard = parseShardOption(flags.shard, flags.shards, env);
  if (shard !== undefined && format !== '.json') {
    throw new UsageError(
      `patchlens patch: --shard writes a partial result as JSON (patchlens merge reads it); use --out FILE.json, then patchlens merge ... --out FILE${format}.`,
    );
  }
  if (shard !== undefined && flags.svg !== undefined) {
    throw new UsageError(
      'patchlens patch: --svg draws complete results; draw them from the merged shards (patchlens merge PART... --svg DIR).',
    );
  }
  return shard;
}

/** What a sharded or resumable run adds to each sweep and to the output. */
export interface ScaleOut {
  /** The options of one sweep: its shard, what the checkpoint holds, and appending each batch. */
  sweepOptions(name: string): {
    shard?: SweepShard;
    completed?: CompletedPatches;
    onBatch?: (batch: { readonly indices: Int32Array; readonly values: Float32Array }) => void;
  };
  /** The output document: the run's JSON, plus `run` and `shard` for a shard. */
  document(json: PatchRunJson, results: Readonly<Record<string, PatchResult>>): PatchRunJson;
  /** Closes the checkpoint file. */
  close(): void;
}

/**
 * Starts the sharded/resumable part of a run: identifies the run (hashing a local checkpoint
 * folder) when `--shard` or `--checkpoint` is given, and opens the checkpoint.
 *
 * @throws UsageError when the checkpoint file belongs to another run or shard.
 */
export async function startScaleOut(
  io: { stderr: { write(chunk: string): unknown } },
  checkpointPath: string | undefined,
  shard: SweepShard | undefined,
  run: { source: string } & Omit<RunIdentity, 'checkpoint' | 'patchlens'>,
): Promise<ScaleOut> {
  if (shard === undefined && checkpointPath === undefined) {
    return { sweepOptions: () => ({}), document: (json) => json, close: () => {} };
  }
  const { source, ...rest } = run;
  const identity: RunIdentity = {
    checkpoint: await checkpointIdentity(source),
    ...rest,
    patchlens: PATCHLENS_VERSION,
  };
  const checkpoint =
    checkpointPath === undefined
      ? undefined
      : await CheckpointFile.open(checkpointPath, identity, shard);
  if (checkpoint && checkpoint.size > 0) {
    io.stderr.write(`checkpoint: ${checkpoint.path} holds ${checkpoint.size} values; resuming\n`);
  }
  if (shard) io.stderr.write(`shard: ${shard.index}/${shard.count}\n`);
  return {
    sweepOptions: (name) => {
      const completed = checkpoint?.completed(name);
      return {
        ...(shard ? { shard } : {}),
        ...(completed ? { completed } : {}),
        ...(checkpoint ? { onBatch: (batch) => checkpoint.append(name, batch) } : {}),
      };
    },
    document: (json, results) => {
      if (!shard) return json;
      const indices: Record<string, number[]> = {};
      for (const [name, result] of Object.entries(results)) {
        indices[name] = Array.from(result.shard?.indices ?? []);
      }
      const document: ShardRunJson = {
        ...json,
        run: identity,
        shard: { index: shard.index, count: shard.count, indices },
      };
      return document;
    },
    close: () => checkpoint?.close(),
  };
}
