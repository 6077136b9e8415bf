import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { readFile, rename, truncate, writeFile } from 'node:fs/promises';
import type { CompletedPatches, SweepShard } from '@patchlens/patching';
import { identityDifference, type RunIdentity } from './run-identity.js';
import { UsageError } from './usage-error.js';

/** First line of a checkpoint file. */
interface CheckpointHeader {
  readonly patchlensCheckpoint: 1;
  readonly run: RunIdentity;
  readonly shard: SweepShard | null;
}

/** Every later line: one finished batch of one sweep. */
interface CheckpointRecord {
  readonly sweep: string;
  readonly indices: number[];
  readonly values: number[];
}

/**
 * A resumable run's checkpoint (`--checkpoint FILE`): JSON lines, a header with the run's identity
 * and shard, then one line per finished batch (`{sweep, indices, values}`). A batch is written as
 * one line with one `write` and `fsync`ed before the run goes on, so a killed run loses at most the
 * batch in flight; a torn last line (no newline) is cut off when the file is opened again. The
 * header is written to a temporary file and renamed, so the file either has it or does not exist.
 *
 * @example
 * ```ts
 * const checkpoint = await CheckpointFile.open('run.ckpt', identity, shard);
 * await sweep(model, tokens, cache, metric, {
 *   completed: checkpoint.completed('resid_pre'),
 *   onBatch: (batch) => checkpoint.append('resid_pre', batch),
 * });
 * checkpoint.close();
 * ```
 */
export class CheckpointFile {
  readonly #path: string;
  readonly #done: Map<string, { indices: number[]; values: number[] }>;
  #descriptor: number | undefined;

  private constructor(path: string, done: Map<string, { indices: number[]; values: number[] }>) {
    this.#path = path;
    this.#done = done;
    this.#descriptor = openSync(path, 'a');
  }

  /**
   * Opens (or creates) the checkpoint of this run.
   *
   * @throws UsageError (exit 2) when FILE is not a PatchLens checkpoint or belongs to another run
   *   or shard, naming what differs.
   */
  static async open(
    path: string,
    run: RunIdentity,
    shard: SweepShard | undefined,
  ): Promise<CheckpointFile> {
    const header: CheckpointHeader = { patchlensCheckpoint: 1, run, shard: shard ?? null };
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new UsageError(
          `patchlens patch: cannot read --checkpoint ${path} (${(error as Error).message}); give a file path (it is created when missing).`,
          { cause: error },
        );
      }
    }
    const done = new Map<string, { indices: number[]; values: number[] }>();
    if (text === undefined || text === '') {
      const temporary = `${path}.${process.pid}.tmp`;
      try {
        await writeFile(temporary, `${JSON.stringify(header)}\n`);
        await rename(temporary, path);
      } catch (error) {
        throw new UsageError(
          `patchlens patch: cannot create --checkpoint ${path} (${(error as Error).message}); its folder must exist and be writable.`,
          { cause: error },
        );
      }
      return new CheckpointFile(path, done);
    }
    const complete = text.lastIndexOf('\n') + 1; // a torn last line has no newline yet
    const lines = text.slice(0, complete).split('\n').slice(0, -1);
    let stored: CheckpointHeader | undefined;
    try {
      stored = JSON.parse(lines[0] ?? '') as CheckpointHeader;
    } catch {
      stored = undefined;
    }
    if (stored?.patchlensCheckpoint !== 1) {
      throw new UsageError(
        `patchlens patch: --checkpoint ${path} is not a PatchLens checkpoint (its first line is not a checkpoint header); give a new file name or delete it.`,
      );
    }
    const field = identityDifference(stored.run, run);
    if (field !== undefined) {
      throw new UsageError(
        `patchlens patch: --checkpoint ${path} belongs to a different run (its ${field} differs); use the same arguments as the run that wrote it, or a new file.`,
      );
    }
    if (JSON.stringify(stored.shard) !== JSON.stringify(header.shard)) {
      const name = (value: SweepShard | null) =>
        value ? `shard ${value.index}/${value.count}` : 'an unsharded run';
      throw new UsageError(
        `patchlens patch: --checkpoint ${path} belongs to ${name(stored.shard)}, not ${name(header.shard)}; give each shard its own checkpoint file.`,
      );
    }
    for (const [number, line] of lines.entries()) {
      if (number === 0) continue;
      let record: CheckpointRecord;
      try {
        record = JSON.parse(line) as CheckpointRecord;
      } catch {
        throw new UsageError(
          `patchlens patch: --checkpoint ${path} line ${number + 1} is not a checkpoint record (the file was edited or written by something else); delete the file to start over.`,
        );
      }
      let entry = done.get(record.sweep);
      if (!entry) {
        entry = { indices: [], values: [] };
        done.set(record.sweep, entry);
      }
      entry.indices.push(...record.indices);
      entry.values.push(...record.values);
    }
    if (complete < Buffer.byteLength(text))
      await truncate(path, Buffer.byteLength(text.slice(0, complete)));
    return new CheckpointFile(path, done);
  }

  /** Where the file is. */
  get path(): string {
    return this.#path;
  }

  /** The values the file holds for a sweep (the `completed` option of the sweep functions). */
  completed(sweep: string): CompletedPatches | undefined {
    return this.#done.get(sweep);
  }

  /** Number of values the file holds over all sweeps. */
  get size(): number {
    let count = 0;
    for (const entry of this.#done.values()) count += entry.indices.length;
    return count;
  }

  /** Appends one finished batch (one line, one write, fsync). */
  append(sweep: string, batch: { readonly indices: Int32Array; readonly values: Float32Array }) {
    if (this.#descriptor === undefined) throw new Error(`checkpoint ${this.#path} is closed`);
    const record: CheckpointRecord = {
      sweep,
      indices: Array.from(batch.indices),
      values: Array.from(batch.values),
    };
    writeSync(this.#descriptor, `${JSON.stringify(record)}\n`);
    fsyncSync(this.#descriptor);
  }

  /** Closes the file (it stays on disk: the run's results are also in the output). */
  close(): void {
    if (this.#descriptor !== undefined) closeSync(this.#descriptor);
    this.#descriptor = undefined;
  }
}
